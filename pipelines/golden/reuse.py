"""Incremental survivorship: keep the previous run's survivors of customers that did not change.

Survivorship decides each customer from its own records only, so a golden id whose records are
the same records with the same values as when the previous run built it gets the same golden row
and provenance again. On a 1% incremental run that is ~99% of the customers: only the others go
through :func:`pipelines.golden.survivorship.survive`; the rest are copied from the previous run's
``golden/`` outputs (with this run's ``run_id``), which makes the outputs equal to a full build.

"The previous run" is the run that published the current id registry: its ids are the ones this
run's assignment continues, and its ``golden/`` tables are the last ones built on them.

What decides reuse is kept in ``runs/<run>/golden_state/`` (:data:`STATE_FILE`), one row per
golden id: ``golden_id``, ``members`` (how many records) and ``digest``, a 64-bit digest of the
customer's members: each record's key and every column survivorship and the golden row read
(:data:`DIGEST_COLUMNS` of the build), hashed per record and summed per customer. It holds no
record key, so erasing a record leaves the file as it is, and the customer the record belonged
to no longer has the same digest (its record is gone): it is rebuilt. The digest is a hash of
personal values, though, so erasure should delete the folder whole, like the other derived
caches without a record key (``match/tf``, ``row_verdicts``); the next run then takes the full
path. Customers with a steward pin (in that run) are left out of the state: they are always
rebuilt, and so are customers pinned now.

The file's Parquet metadata carries a fingerprint of what else decides the outcome (the
survivorship units, the code of this stage, the Polars version that computes the hashes) and the
size and row count of the ``golden/`` tables it describes: a different fingerprint, or tables
rewritten since (erasure), and the run takes the full path. The state is removed before the
golden outputs are replaced and written after them, so a crash never leaves a state that
describes other tables.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final, NamedTuple

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.golden.config import SurvivalUnit
from pipelines.warehouse import Warehouse, atomic_path

logger = logging.getLogger(__name__)

STATE_FILE: Final = "survivors.parquet"
"""File of ``Warehouse.golden_state(run_id)``: ``golden_id``, ``members``, ``digest``."""

STATE_VERSION: Final = 1
"""Bump when the meaning of the state changes; older states are then ignored."""

REUSED_TABLES: Final = ("golden_customers", "golden_field_provenance")
"""The ``golden/`` tables whose rows are reused (and whose size the state records)."""

_CODE_FILES: Final = ("survivorship.py", "consensus.py", "build.py", "reuse.py", "pins.py")
_META_KEY: Final = b"golden_state"


class Reuse(NamedTuple):
    """What the incremental path needs from the previous run."""

    run_id: str
    """The run whose outputs are reused."""
    golden_ids: pl.Series
    """Golden ids (of this run) whose previous rows are kept as they are."""
    golden_dir: Path


def fingerprint(units: Sequence[SurvivalUnit], columns: Sequence[str]) -> str:
    """Digest of everything besides the records that decides the survivors and their hashes."""
    here = Path(__file__).parent
    digest = hashlib.sha256()
    payload = {
        "version": STATE_VERSION,
        "polars": pl.__version__,
        "units": [[u.name, list(u.fields), list(u.rules)] for u in units],
        "columns": list(columns),
    }
    digest.update(json.dumps(payload, sort_keys=True).encode())
    for name in (*_CODE_FILES, "data/given_names.txt"):
        digest.update((here / name).read_bytes())
    digest.update((here.parent / "schema.py").read_bytes())
    return digest.hexdigest()


def member_digests(records: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """``golden_id``, ``members``, ``digest``: one row per golden id of ``records``.

    Each column is hashed with its own seed (null-aware) and the hashes xor-ed into one 64-bit
    value per record; per customer the record values are summed (wrapping), which does not
    depend on the records' order. A changed value, a record more or less all change the digest
    except with probability ~2^-64.
    """
    record_hash = functools.reduce(
        lambda acc, h: acc.xor(h), [pl.col(c).hash(seed=1 + i) for i, c in enumerate(columns)]
    )
    return (
        records.select("golden_id", record_hash.alias("_h"))
        .group_by("golden_id")
        .agg(pl.len().cast(pl.UInt32).alias("members"), pl.col("_h").sum().alias("digest"))
    )


def _table_facts(golden_dir: Path) -> dict[str, list[int]]:
    """Size in bytes and row count of each reused table, to notice a rewrite."""
    return {
        name: [
            (golden_dir / f"{name}.parquet").stat().st_size,
            pq.read_metadata(golden_dir / f"{name}.parquet").num_rows,
        ]
        for name in REUSED_TABLES
    }


def clear_state(warehouse: Warehouse, run_id: str) -> None:
    """Remove a run's state before its golden outputs are replaced."""
    shutil.rmtree(warehouse.golden_state(run_id), ignore_errors=True)


def write_state(
    warehouse: Warehouse,
    run_id: str,
    digests: pl.DataFrame,
    pinned: pl.Series,
    fingerprint_: str,
) -> None:
    """Write the state describing the golden outputs just written for ``run_id``."""
    rows = digests.filter(~pl.col("golden_id").is_in(pinned.implode()))
    meta = {
        "fingerprint": fingerprint_,
        "run_id": run_id,
        "tables": _table_facts(warehouse.golden_dir(run_id)),
    }
    table = rows.select("golden_id", "members", "digest").to_arrow()
    table = table.replace_schema_metadata({_META_KEY: json.dumps(meta).encode()})
    with atomic_path(warehouse.golden_state(run_id) / STATE_FILE) as tmp:
        # Ids and hashes are near-random bytes: no dictionary, and lz4 spends little on them.
        pq.write_table(table, tmp, compression="lz4", use_dictionary=False)


def plan_reuse(
    warehouse: Warehouse,
    previous_run: str | None,
    fingerprint_: str,
    digests: pl.DataFrame,
    pinned: pl.Series,
) -> tuple[Reuse | None, str]:
    """The golden ids whose previous survivors can be kept, or None and why not."""
    if previous_run is None:
        return None, "no published id registry to continue"
    path = warehouse.golden_state(previous_run) / STATE_FILE
    golden_dir = warehouse.golden_dir(previous_run)
    if not path.is_file():
        return None, f"run {previous_run} left no golden state ({path})"
    try:
        file = pq.ParquetFile(path)
        raw = (file.schema_arrow.metadata or {}).get(_META_KEY)
        meta = json.loads(raw) if raw else {}
        if meta.get("fingerprint") != fingerprint_ or meta.get("run_id") != previous_run:
            return None, (
                f"run {previous_run}'s golden state was built by other survivorship settings or "
                "code"
            )
        if meta.get("tables") != _table_facts(golden_dir):
            return None, f"run {previous_run}'s golden tables changed since its state was written"
        state = pl.from_arrow(file.read(columns=["golden_id", "members", "digest"]))
    except (OSError, ValueError, KeyError, pa.ArrowException, pl.exceptions.PolarsError) as exc:
        return None, f"run {previous_run}'s golden state is unreadable ({exc})"
    if not isinstance(state, pl.DataFrame) or state.schema != pl.Schema(
        {"golden_id": pl.String, "members": pl.UInt32, "digest": pl.UInt64}
    ):
        return None, f"run {previous_run}'s golden state has an unexpected schema"
    same = digests.join(state, on=["golden_id", "members", "digest"], how="semi")
    ids = same.filter(~pl.col("golden_id").is_in(pinned.implode()))["golden_id"]
    return Reuse(previous_run, ids, golden_dir), ""


def reused_golden(reuse: Reuse, run_id: str, like: pl.DataFrame) -> pl.DataFrame | None:
    """The previous ``golden_customers`` rows of the reused ids, as this run's.

    Returned in the column order and types of ``like`` and sorted by golden id, as the table
    is. None when the previous table does not hold every reused id (it was rewritten behind
    the state's back).
    """
    golden = (
        pl.scan_parquet(reuse.golden_dir / "golden_customers.parquet")
        .filter(pl.col("golden_id").is_in(reuse.golden_ids.implode()))
        .with_columns(pl.lit(run_id).alias("run_id"))
        .select([pl.col(c).cast(t) for c, t in like.schema.items()])
        .collect()
    )
    return golden if golden.height == reuse.golden_ids.len() else None


def reused_provenance(reuse: Reuse, run_id: str, rebuilt: pl.DataFrame) -> Iterator[pl.DataFrame]:
    """The previous provenance rows of the reused ids merged with ``rebuilt`` (this run's rows
    of the other ids, sorted as the table is), in golden id order, a row group at a time.

    Provenance has a row per customer and field, the largest golden table: it is streamed
    from the previous file, never read whole. The file's row groups follow each other in
    golden id order (this stage writes them so; their statistics tell), so the rebuilt rows
    up to a group's last golden id go with that group. A file whose statistics do not show
    that order is read whole and sorted instead.
    """
    file = pq.ParquetFile(reuse.golden_dir / "golden_field_provenance.parquet")
    keep = reuse.golden_ids.sort()

    def as_this_run(table: pa.Table) -> pl.DataFrame:
        rows = pl.from_arrow(table)
        assert isinstance(rows, pl.DataFrame)
        return (
            rows.filter(_members(rows["golden_id"], keep))
            .with_columns(pl.lit(run_id).alias("run_id"))
            .select([pl.col(c).cast(t) for c, t in rebuilt.schema.items()])
        )

    groups = _group_maxima(file, "golden_id")
    if groups is None or not rebuilt["golden_id"].is_sorted():
        logger.warning(
            "run %s's provenance row groups are not in golden id order: reading it whole",
            reuse.run_id,
        )
        yield merge_by_golden_id(as_this_run(file.read()), rebuilt, ("golden_id", "field"))
        return
    rest = rebuilt
    for group, last in groups:
        rows = as_this_run(file.read_row_group(group))
        if not rows["golden_id"].is_sorted():
            rows = rows.sort("golden_id", maintain_order=True)
        ahead = int(rest["golden_id"].search_sorted(last, side="right"))
        yield merge_by_golden_id(rows, rest.head(ahead))
        rest = rest.slice(ahead)
    yield rest


def _members(values: pl.Series, sorted_set: pl.Series) -> pl.Series:
    """Whether each of ``values`` is in ``sorted_set``, by binary search.

    ``is_in`` would build a hash set of the millions of kept ids again for every row group
    (10M records: ten minutes for the provenance of a 1% run); a search in the sorted ids
    costs a few milliseconds a group."""
    if sorted_set.is_empty():
        return pl.Series(values.name, [False] * values.len(), dtype=pl.Boolean)
    found = sorted_set.search_sorted(values, side="left").clip(0, sorted_set.len() - 1)
    return sorted_set.gather(found).eq_missing(values)


def _group_maxima(file: pq.ParquetFile, column: str) -> list[tuple[int, str]] | None:
    """Each row group with rows and its largest ``column`` value, when the statistics show
    the groups follow each other in that column's order (each group starts at or after the
    last one's end); else None."""
    index = file.schema_arrow.get_field_index(column)
    maxima: list[tuple[int, str]] = []
    end: str | None = None
    for group in range(file.metadata.num_row_groups):
        meta = file.metadata.row_group(group)
        if meta.num_rows == 0:
            continue
        stats = meta.column(index).statistics
        if stats is None or not stats.has_min_max:
            return None
        if end is not None and stats.min < end:
            return None
        end = stats.max
        maxima.append((group, end))
    return maxima


def merge_by_golden_id(
    reused: pl.DataFrame, rebuilt: pl.DataFrame, order: Sequence[str] = ("golden_id",)
) -> pl.DataFrame:
    """The rows of both tables (disjoint golden ids) sorted by ``order`` (golden id first).

    Each side comes sorted by ``order``, and no golden id is on both sides, so merging on the
    golden id alone gives the full order without sorting millions of rows again; a side that is
    not sorted (never written by this stage) is sorted instead.
    """
    if reused.is_empty():
        return rebuilt
    if rebuilt.is_empty():
        return reused
    if reused["golden_id"].is_sorted() and rebuilt["golden_id"].is_sorted():
        return reused.set_sorted("golden_id").merge_sorted(
            rebuilt.set_sorted("golden_id"), key="golden_id"
        )
    logger.warning("previous golden rows are not sorted by golden id: sorting the merged rows")
    return pl.concat([reused, rebuilt]).sort(list(order), maintain_order=True)
