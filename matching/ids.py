"""Stable golden ids: the previous registry and this run's clusters in, the new registry out.

Downstream systems store golden ids, so an id must keep meaning the same customer from run to
run even though clusters are rebuilt from scratch each time and their ``cluster_id`` is only
run-local. The rules (``docs/design.md``, Golden ids):

* A new cluster that holds records of one previous id keeps that id, grown or shrunk.
* Every previous id has one *heir*: the new cluster holding most of its records (ties: the larger
  cluster, then the cluster whose smallest record key sorts first). That is the split rule: the
  part with most of the old records keeps the id; other parts get new ids and a ``split`` row
  naming the origin.
* A cluster that is heir to several previous ids is a merge: it keeps the id of the larger previous
  cluster (ties: the older id, i.e. the smaller first-assigned run id, then the id that sorts first)
  and the others are ``absorbed``; the survivor's ``merged`` row lists them.
* A previous id none of whose records is present any more is ``retired``.
* Ids are opaque random tokens (``G-`` + 13 Crockford base32 characters, 65 bits), never derived
  from personal data; tests inject a seeded :class:`random.Random` to make them deterministic.

Everything is a few joins and sorts on Polars frames, so a million records take seconds.
"""

from __future__ import annotations

import logging
import random
import re
import secrets
from collections.abc import Collection
from typing import Final, NamedTuple

import numpy as np
import polars as pl

logger = logging.getLogger(__name__)

REGISTRY_COLUMNS: Final = ("record_key", "golden_id", "run_id", "first_run_id", "absorbed_ids")
"""Columns of the id registry this module writes.

``run_id`` is the run whose publish last assigned the record its id (every row of a registry
carries the run that produced it); ``first_run_id`` is the run that created the golden id (the
"older" tie-break of merges); ``absorbed_ids`` lists every id the golden id has absorbed over time,
so that references to an absorbed id (a steward's pin, a downstream key) can still be resolved.
"""

REGISTRY_SCHEMA: Final = {
    "record_key": pl.String,
    "golden_id": pl.String,
    "run_id": pl.String,
    "first_run_id": pl.String,
    "absorbed_ids": pl.List(pl.String),
}

CHANGES_SCHEMA: Final = {
    "run_id": pl.String,
    "golden_id": pl.String,
    "change": pl.String,
    "related_golden_ids": pl.List(pl.String),
    "record_count": pl.Int64,
}

CHANGE_KINDS: Final = ("created", "kept", "merged", "split", "absorbed", "retired")
"""``created``: a new customer. ``kept``: the id continues (grown, shrunk or unchanged).
``merged``: the id continues and absorbed the ids in ``related_golden_ids``. ``split``: a new id
for a part split off the ids in ``related_golden_ids``. ``absorbed``: the id ended by merging into
``related_golden_ids[0]``. ``retired``: every record of the id vanished."""

_CROCKFORD: Final = np.frombuffer(b"0123456789ABCDEFGHJKMNPQRSTVWXYZ", dtype=np.uint8)
_TOKEN_LENGTH: Final = 13  # 13 x 5 bits >= 64 random bits


class IdAssignmentError(ValueError):
    """The clusters or the previous registry break the contract (duplicate or missing keys)."""


class IdAssignment(NamedTuple):
    """The outcome of one run's id assignment."""

    registry: pl.DataFrame
    """The proposed registry: one row per clustered record (:data:`REGISTRY_COLUMNS`)."""
    changes: pl.DataFrame
    """One row per golden id event (:data:`CHANGES_SCHEMA`); ``kept`` rows included."""

    def count(self, change: str) -> int:
        return int(self.changes.filter(pl.col("change") == change).height)


class GoldenIdFactory:
    """Mints opaque golden ids in bulk.

    Ids come from the operating system's CSPRNG unless a seeded :class:`random.Random` is given
    (tests), and never from record content, so an id says nothing about the person behind it.
    """

    def __init__(self, prefix: str = "G", rng: random.Random | None = None) -> None:
        if not re.fullmatch(r"[A-Z]{1,4}", prefix):
            raise IdAssignmentError(f"golden id prefix {prefix!r} must be 1-4 capital letters")
        self.prefix = prefix
        self._rng = rng

    def _random_bytes(self, n: int) -> bytes:
        return self._rng.randbytes(n) if self._rng is not None else secrets.token_bytes(n)

    def _ids(self, n: int) -> pl.Series:
        words = np.frombuffer(self._random_bytes(8 * n), dtype=np.uint64)
        shifts = np.arange(_TOKEN_LENGTH, dtype=np.uint64) * np.uint64(5)
        digits = ((words[:, None] >> shifts[None, :]) & np.uint64(31)).astype(np.uint8)
        head = np.frombuffer(f"{self.prefix}-".encode(), dtype=np.uint8)
        chars = np.empty((n, head.size + _TOKEN_LENGTH), dtype=np.uint8)
        chars[:, : head.size] = head
        chars[:, head.size :] = _CROCKFORD[digits]
        fixed = np.frombuffer(chars.tobytes(), dtype=f"S{chars.shape[1]}")
        return pl.Series("golden_id", fixed).cast(pl.String)

    def mint(self, n: int, taken: Collection[str] | pl.Series = ()) -> pl.Series:
        """``n`` new distinct ids, none of them in ``taken`` (ids in use or retired).

        ``taken`` may repeat ids (a registry's column as it is): it is scanned for the few new
        ids, never made unique or hashed whole.
        """
        taken_ids = taken if isinstance(taken, pl.Series) else pl.Series(list(taken))
        taken_ids = taken_ids.cast(pl.String)
        minted = pl.Series("golden_id", [], dtype=pl.String)
        while minted.len() < n:
            if minted.len():
                logger.warning("golden id collision while minting; drawing again")
            minted = pl.concat([minted, self._ids(n - minted.len())]).unique(maintain_order=True)
            clashes = taken_ids.filter(taken_ids.is_in(minted.implode()))
            minted = minted.filter(~minted.is_in(clashes.implode()))
        return minted


def empty_registry() -> pl.DataFrame:
    return pl.DataFrame(schema=REGISTRY_SCHEMA)


def empty_changes() -> pl.DataFrame:
    return pl.DataFrame(schema=CHANGES_SCHEMA)


def normalise_registry(registry: pl.DataFrame | None) -> pl.DataFrame:
    """Check a previous registry and fill the columns an older registry may lack."""
    if registry is None:
        return empty_registry()
    missing = {"record_key", "golden_id"} - set(registry.columns)
    if missing:
        raise IdAssignmentError(
            f"id registry lacks column(s) {sorted(missing)}; it has {registry.columns}"
        )
    frame = registry.with_columns(pl.col("record_key", "golden_id").cast(pl.String))
    if "run_id" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("run_id"))
    if "first_run_id" not in frame.columns:
        frame = frame.with_columns(pl.col("run_id").min().over("golden_id").alias("first_run_id"))
    if "absorbed_ids" not in frame.columns:
        frame = frame.with_columns(pl.lit([], dtype=pl.List(pl.String)).alias("absorbed_ids"))
    frame = frame.select([pl.col(c).cast(t) for c, t in REGISTRY_SCHEMA.items()]).with_columns(
        pl.col("absorbed_ids").fill_null([])
    )
    nulls = frame.filter(pl.col("record_key").is_null() | pl.col("golden_id").is_null())
    if nulls.height:
        raise IdAssignmentError(
            f"id registry has {nulls.height} row(s) with an empty record_key or golden_id"
        )
    _require_unique(frame, "id registry")
    return frame


def keys_distinct(keys: pl.Series) -> bool:
    """True when ``keys`` certainly repeat no value. Distinct 64-bit hashes prove distinct keys
    at a tenth of the cost of finding duplicates; False only means hashes repeat (a duplicate,
    or a collision), and the caller then compares the keys themselves."""
    return keys.hash().n_unique() == keys.len()


def _require_unique(frame: pl.DataFrame, what: str) -> None:
    if keys_distinct(frame["record_key"]):
        return
    duplicated = frame.filter(pl.col("record_key").is_duplicated())["record_key"].unique().sort()
    if duplicated.len():
        sample = ", ".join(duplicated.head(5).to_list())
        raise IdAssignmentError(
            f"{what} has {duplicated.len()} record key(s) on more than one row (e.g. {sample}); "
            "every record must belong to exactly one cluster"
        )


def _check_clusters(clusters: pl.DataFrame) -> pl.DataFrame:
    missing = {"record_key", "cluster_id"} - set(clusters.columns)
    if missing:
        raise IdAssignmentError(
            f"clusters lack column(s) {sorted(missing)}; they have {clusters.columns}"
        )
    frame = clusters.select(pl.col("record_key", "cluster_id").cast(pl.String))
    nulls = frame.filter(pl.col("record_key").is_null() | pl.col("cluster_id").is_null())
    if nulls.height:
        sample = ", ".join(str(k) for k in nulls["record_key"].head(5).to_list())
        raise IdAssignmentError(
            f"clusters have {nulls.height} row(s) with an empty record_key or cluster_id "
            f"(e.g. {sample})"
        )
    _require_unique(frame, "clusters")
    return frame


def _split_contested(frame: pl.DataFrame, key: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows whose ``key`` occurs once, and the rest: only the rest need ranking by a sort."""
    shared = pl.len().over(key) > 1
    return frame.filter(~shared), frame.filter(shared)


def assign_golden_ids(
    clusters: pl.DataFrame,
    registry: pl.DataFrame | None,
    run_id: str,
    *,
    factory: GoldenIdFactory | None = None,
) -> IdAssignment:
    """Give every cluster a golden id, reusing the previous registry's ids by the rules above.

    ``clusters`` has ``record_key`` and ``cluster_id`` (one row per record); ``registry`` is the
    previous registry (None or empty on the first run). Returns the new registry (every
    clustered record exactly once) and the change rows for ``golden_changes``.
    """
    factory = factory or GoldenIdFactory()
    current = _check_clusters(clusters)
    previous = normalise_registry(registry)

    # A deterministic handle on each run-local cluster: its smallest record key.
    cluster_facts = current.group_by("cluster_id").agg(
        pl.col("record_key").min().alias("anchor"), pl.len().alias("size")
    )
    previous_facts = previous.group_by("golden_id").agg(
        pl.len().alias("previous_size"), pl.col("first_run_id").min()
    )
    # Few ids ever absorbed another: the lists are gathered from those rows only.
    absorbed_before = (
        previous.filter(pl.col("absorbed_ids").list.len() > 0)
        .group_by("golden_id")
        .agg(pl.col("absorbed_ids").explode().drop_nulls().unique().sort().alias("absorbed_before"))
        .filter(pl.col("absorbed_before").list.len() > 0)
    )
    overlap = (
        current.join(previous.select("record_key", "golden_id"), on="record_key", how="inner")
        .group_by("cluster_id", "golden_id")
        .agg(pl.len().alias("shared"))
        .join(cluster_facts, on="cluster_id")
        .join(previous_facts, on="golden_id")
    )

    # Each previous id's heir: the cluster with most of its records. Most ids lie in one
    # cluster only, and most clusters inherit one id: only the contested rows are sorted.
    alone, contested = _split_contested(overlap, "golden_id")
    heirs = pl.concat(
        [
            alone,
            contested.sort(
                ["golden_id", "shared", "size", "anchor"],
                descending=[False, True, True, False],
            ).unique(subset="golden_id", keep="first", maintain_order=True),
        ]
    )
    # Each heir cluster keeps the largest (then oldest, then first-sorting) id it inherits.
    alone, contested = _split_contested(heirs, "cluster_id")
    ranked = pl.concat(
        [
            alone.with_columns(
                pl.lit(True).alias("survives"), pl.col("golden_id").alias("survivor")
            ),
            contested.sort(
                ["cluster_id", "previous_size", "first_run_id", "golden_id"],
                descending=[False, True, False, False],
                nulls_last=True,
            ).with_columns(
                (pl.int_range(pl.len()).over("cluster_id") == 0).alias("survives"),
                pl.col("golden_id").first().over("cluster_id").alias("survivor"),
            ),
        ]
    )
    survivors = ranked.filter("survives")
    absorbed = ranked.filter(~pl.col("survives")).join(
        absorbed_before, on="golden_id", how="left", maintain_order="left"
    )

    absorbed_by_survivor = absorbed.group_by("survivor").agg(
        pl.col("golden_id").sort().alias("newly_absorbed"),
        pl.concat_list(pl.col("golden_id"), pl.col("absorbed_before").fill_null([]))
        .explode(keep_nulls=False)
        .unique()
        .sort()
        .alias("absorbed_chain"),
    )
    kept = (
        survivors.select("cluster_id", "golden_id", "first_run_id")
        .join(absorbed_before, on="golden_id", how="left")
        .join(absorbed_by_survivor.rename({"survivor": "golden_id"}), on="golden_id", how="left")
    )
    # List work only on the few ids that ever absorbed another; the rest get an empty list.
    chains = kept.filter(
        pl.col("absorbed_before").is_not_null() | pl.col("absorbed_chain").is_not_null()
    ).select(
        "golden_id",
        pl.concat_list(
            pl.col("absorbed_before").fill_null([]), pl.col("absorbed_chain").fill_null([])
        )
        .list.unique()
        .list.sort()
        .alias("absorbed_ids"),
    )
    kept = kept.join(chains, on="golden_id", how="left", maintain_order="left").with_columns(
        pl.col("absorbed_ids").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        pl.when(pl.col("newly_absorbed").is_not_null())
        .then(pl.lit("merged"))
        .otherwise(pl.lit("kept"))
        .alias("change"),
        pl.col("newly_absorbed").fill_null([]).alias("related_golden_ids"),
    )

    # Clusters that inherit nothing get fresh ids, in anchor order so seeded tests are stable.
    fresh = cluster_facts.join(kept.select("cluster_id"), on="cluster_id", how="anti").sort(
        "anchor"
    )
    # Origins of the fresh clusters only: a list per group is costly, and most clusters kept.
    fresh = fresh.join(
        overlap.join(fresh.select("cluster_id"), on="cluster_id", how="semi")
        .group_by("cluster_id")
        .agg(pl.col("golden_id").unique().sort().alias("origins")),
        on="cluster_id",
        how="left",
        maintain_order="left",
    )
    taken = pl.concat([previous["golden_id"], previous["absorbed_ids"].explode().drop_nulls()])
    fresh = fresh.with_columns(
        factory.mint(fresh.height, taken),
        pl.lit(run_id).alias("first_run_id"),
        pl.lit([], dtype=pl.List(pl.String)).alias("absorbed_ids"),
        pl.when(pl.col("origins").is_not_null())
        .then(pl.lit("split"))
        .otherwise(pl.lit("created"))
        .alias("change"),
        pl.col("origins").fill_null([]).alias("related_golden_ids"),
    )

    assigned = pl.concat(
        [
            kept.select(
                "cluster_id",
                "golden_id",
                "first_run_id",
                "absorbed_ids",
                "change",
                "related_golden_ids",
            ),
            fresh.select(
                "cluster_id",
                "golden_id",
                "first_run_id",
                "absorbed_ids",
                "change",
                "related_golden_ids",
            ),
        ]
    ).join(cluster_facts, on="cluster_id")

    new_registry = (
        current.join(assigned, on="cluster_id", maintain_order="left")  # the clusters' order
        .with_columns(pl.lit(run_id).alias("run_id"))
        .select([pl.col(c).cast(t) for c, t in REGISTRY_SCHEMA.items()])
    )

    present = overlap.select("golden_id").unique()
    retired = previous_facts.join(present, on="golden_id", how="anti").select(
        "golden_id",
        pl.lit("retired").alias("change"),
        pl.lit([], dtype=pl.List(pl.String)).alias("related_golden_ids"),
        pl.col("previous_size").alias("record_count"),
    )
    absorbed_rows = absorbed.select(
        "golden_id",
        pl.lit("absorbed").alias("change"),
        pl.concat_list(pl.col("survivor")).alias("related_golden_ids"),
        pl.col("previous_size").alias("record_count"),
    )
    live_rows = assigned.select(
        "golden_id", "change", "related_golden_ids", pl.col("size").alias("record_count")
    )
    changes = (
        pl.concat(
            [
                frame.select(
                    pl.lit(run_id).alias("run_id"),
                    pl.col("golden_id"),
                    pl.col("change"),
                    pl.col("related_golden_ids").cast(pl.List(pl.String)),
                    pl.col("record_count").cast(pl.Int64),
                )
                for frame in (live_rows, absorbed_rows, retired)
            ]
        )
        .select([pl.col(c).cast(t) for c, t in CHANGES_SCHEMA.items()])
        .sort("golden_id")
    )
    result = IdAssignment(new_registry, changes)
    logger.info(
        "golden ids for run %s: %s",
        run_id,
        ", ".join(f"{kind} {result.count(kind)}" for kind in CHANGE_KINDS),
    )
    return result


def resolve_ids(ids: Collection[str], registry: pl.DataFrame) -> dict[str, str]:
    """Map golden ids (current or absorbed) to the id that carries them in ``registry``.

    Ids that are current map to themselves; absorbed ids map to their survivor; ids that are
    neither (retired, or never existed) are left out.
    """
    wanted = pl.Series("golden_id", list(ids), dtype=pl.String).unique()
    frame = normalise_registry(registry)
    current = frame.select("golden_id").unique().filter(pl.col("golden_id").is_in(wanted.implode()))
    mapping = {gid: gid for gid in current["golden_id"].to_list()}
    inherited = (
        frame.select("golden_id", "absorbed_ids")
        .unique(subset="golden_id")
        .explode("absorbed_ids")
        .filter(pl.col("absorbed_ids").is_in(wanted.implode()))
    )
    for survivor, absorbed_id in inherited.select("golden_id", "absorbed_ids").iter_rows():
        mapping.setdefault(absorbed_id, survivor)
    return mapping
