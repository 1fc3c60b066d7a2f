"""What a delivery changes in a source's current record set: new, changed and deleted records.

Each row is hashed (every source column, as text, in name order) and compared with the hashes
of the current set by id and hash: a row whose (id, hash) is already there is unchanged and is
not landed again; anything else is landed, whatever its timestamp. The watermark only counts
(``new_behind_watermark``: new ids older than it, which a timestamp filter would have dropped);
it never decides. For a snapshot delivery (every record the source holds) the ids of the
current set that the delivery lacks are deleted at the source.

The hashes of each run's current set are kept beside it (``row_hashes.parquet``: source, id,
hash, and whether every id is unique), so an incremental run reads one file of ids and hashes
and hashes the delivery once, in Polars, with anti-joins only.
Polars does not promise the same hash across versions, so the file records the version that
wrote it; after an upgrade the next run treats every row as changed (a one-off full load).

Duplicate ids (validation judges them) need the whole delivery: when an id's set of row hashes
differs from the current set's and some of its rows were unchanged, the caller reads the
delivery again and lands those rows too (:meth:`Changes.second_pass_ids`), so the current set
always holds exactly what the source sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from pipelines.warehouse import atomic_path

logger = logging.getLogger(__name__)

HASH = "__golden_row_hash"
ID = "source_record_id"
KEY = "record_key"
SOURCE = "source_system"
_VERSION_KEY = b"golden_row_hash"
_VERSION = f"polars-{pl.__version__}".encode()
_UNIQUE_KEY = b"golden_unique_ids"


def row_hash(frame: pl.DataFrame, columns: list[str]) -> pl.Series:
    """One 64-bit hash per row over ``columns`` (source columns as text), independent of
    their order in the file; a null and an empty string hash differently."""
    return frame.select(sorted(columns)).hash_rows(seed=0x5EED)


@dataclass(frozen=True)
class Hashes:
    """A current set's ids and row hashes."""

    frame: pl.DataFrame
    """``source_system``, ``source_record_id``, :data:`HASH`."""
    unique_ids: bool
    """No id has two rows (the usual case, which allows the cheap duplicate check)."""


def read_hashes(path: Path) -> Hashes | None:
    """A run's ``row_hashes.parquet``, or None when it is missing or another Polars wrote it."""
    if not path.is_file():
        return None
    metadata = pq.read_schema(path).metadata or {}
    if metadata.get(_VERSION_KEY) != _VERSION:
        logger.info("%s was hashed by another Polars version: every row counts as changed", path)
        return None
    frame = pl.read_parquet(path, hive_partitioning=False)
    return Hashes(frame, metadata.get(_UNIQUE_KEY) == b"1")


def write_hashes(path: Path, frame: pl.DataFrame, unique_ids: bool | None = None) -> None:
    """Write ``frame`` (source, id, hash); ``unique_ids`` None: find out."""
    if unique_ids is None:
        unique_ids = frame[ID].n_unique() == frame.height
    table = frame.select(SOURCE, ID, HASH).to_arrow()
    table = table.replace_schema_metadata(
        {
            **(table.schema.metadata or {}),
            _VERSION_KEY: _VERSION,
            _UNIQUE_KEY: b"1" if unique_ids else b"0",
        }
    )
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", compression_level=1)


def empty_hashes() -> pl.DataFrame:
    return pl.DataFrame(schema={SOURCE: pl.String, ID: pl.String, HASH: pl.UInt64})


@dataclass
class Changes:
    """Compares the chunks of one delivery with the current set, and remembers what it saw."""

    source: str
    previous: Hashes | None
    """Hashes of the current set being built on (None: land every row)."""
    watermark: datetime | None
    compare: bool = True
    """False for a full load: every row is landed, only hashes and ids are kept."""
    counted_against: Hashes | None = None
    """A full load's previous current set: every row still lands, but ``new`` and ``changed``
    count against it (an unchanged snapshot reloaded in full is not 394 new records)."""
    new_behind_watermark: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    _seen: list[pl.Series] = field(default_factory=list)
    _pairs: list[pl.DataFrame] = field(default_factory=list)
    """(id, hash) of every row delivered."""
    _landed: list[pl.DataFrame] = field(default_factory=list)
    """(source, id, hash) of every row landed."""
    _flagged: list[pl.Series] = field(default_factory=list)
    """Ids of rows the source flagged deleted."""
    _new_ids: list[pl.Series] = field(default_factory=list)
    _seen_rejected: int = 0
    _missing: pl.DataFrame | None = None

    def __post_init__(self) -> None:
        if self.previous is not None:
            self._previous_pairs = self.previous.frame.select(ID, HASH)

    def split(self, rows: pl.DataFrame, id_column: str, columns: list[str]) -> pl.DataFrame:
        """The rows of one chunk to land (with a :data:`HASH` column); counts the rest."""
        hashed = rows.with_columns(row_hash(rows, columns).alias(HASH))
        pairs = hashed.select(pl.col(id_column).alias(ID), HASH)
        self._pairs.append(pairs)
        self._seen.append(pairs[ID])
        if not self.compare or self.previous is None:
            if self.counted_against is None:
                self.new += hashed.height
            else:
                before = self.counted_against.frame.select(ID, HASH)
                fresh = pairs.join(before, on=ID, how="anti", nulls_equal=True).height
                differ = pairs.join(before, on=[ID, HASH], how="anti", nulls_equal=True).height
                self.new += fresh
                self.changed += differ - fresh
            return hashed
        landed = hashed.join(
            self._previous_pairs,
            left_on=[id_column, HASH],
            right_on=[ID, HASH],
            how="anti",
            nulls_equal=True,
            maintain_order="left",
        )
        if landed.height == 0:
            self.unchanged += hashed.height
            return landed
        new_ids = landed.join(
            self._previous_pairs, left_on=id_column, right_on=ID, how="anti", nulls_equal=True
        )
        self._new_ids.append(new_ids[id_column])
        self.new += new_ids.height
        self.changed += landed.height - new_ids.height
        self.unchanged += hashed.height - landed.height
        if self.watermark is not None and new_ids.height and "__golden_updated_at" in new_ids:
            behind = new_ids.filter(
                pl.col("__golden_updated_at").is_null()
                | (pl.col("__golden_updated_at") <= self.watermark)
            )
            self.new_behind_watermark += behind.height
        return landed

    def seen(self, ids: pl.Series) -> None:
        """Ids delivered but not landed (a row rejected for its timestamp): not deleted."""
        if ids.len():
            self._seen.append(ids.cast(pl.String).rename(ID))
            self._seen_rejected += ids.len()

    def flagged(self, ids: pl.Series) -> None:
        """Ids of rows delivered with the source's soft-delete flag set."""
        self._flagged.append(ids.cast(pl.String).rename(ID))

    def flagged_ids(self) -> pl.DataFrame:
        if not self._flagged:
            return pl.DataFrame(schema={ID: pl.String})
        return pl.concat(self._flagged).unique().to_frame(ID)

    def landed(self, frame: pl.DataFrame) -> None:
        """Rows written to the batch (after suppression), with their hash."""
        if frame.height:
            self._landed.append(frame.select(SOURCE, ID, HASH))

    def seen_ids(self) -> pl.DataFrame:
        """Every id delivered (repeated when delivered more than once)."""
        if not self._seen:
            return pl.DataFrame(schema={ID: pl.String})
        return pl.concat(self._seen).to_frame(ID)

    def missing(self) -> pl.DataFrame:
        """Ids of the previous hashes that the delivery lacks (computed once)."""
        assert self.previous is not None
        if self._missing is None:
            self._missing = self.previous.frame.select(ID).join(self.seen_ids(), on=ID, how="anti")
        return self._missing

    def landed_hashes(self) -> pl.DataFrame:
        return pl.concat(self._landed) if self._landed else empty_hashes()

    def second_pass_ids(self) -> pl.DataFrame:
        """Ids with duplicate rows whose rows changed only in part: the unchanged rows of each
        must be landed too, or the current set would lose them (see the module docstring)."""
        none = pl.DataFrame(schema={ID: pl.String})
        if not self.compare or self.previous is None or not self._pairs:
            return none
        if self._no_duplicates():
            return none
        delivered = pl.concat(self._pairs)
        dup = pl.concat(
            [
                delivered.filter(pl.col(ID).is_duplicated()).select(ID),
                self._previous_pairs.filter(pl.col(ID).is_duplicated()).select(ID),
            ]
        ).unique()
        if dup.height == 0:
            return dup

        def hash_sets(frame: pl.DataFrame) -> pl.DataFrame:
            return (
                frame.join(dup, on=ID, how="semi")
                .group_by(ID)
                .agg(pl.col(HASH).sort().alias("hashes"))
            )

        sent, had = hash_sets(delivered), hash_sets(self._previous_pairs)
        differ = sent.join(had, on=ID, suffix="_before").filter(
            pl.col("hashes") != pl.col("hashes_before")
        )
        return differ.select(ID)

    def _no_duplicates(self) -> bool:
        """The cheap proof, by counting, that neither side has an id twice: the previous
        hashes have unique ids, and the rows delivered for previous ids are exactly as many as
        the previous ids delivered, and the new ids are unique."""
        assert self.previous is not None
        if not self.previous.unique_ids or self._seen_rejected:
            return False
        new_ids = pl.concat(self._new_ids) if self._new_ids else pl.Series(ID, [], pl.String)
        if new_ids.n_unique() != new_ids.len():
            return False
        previous_seen = self.previous.frame.height - self.missing().height
        return self.unchanged + self.changed == previous_seen

    def second_pass(
        self, rows: pl.DataFrame, id_column: str, columns: list[str], ids: pl.DataFrame
    ) -> pl.DataFrame:
        """Rows of ``ids`` that :meth:`split` counted as unchanged, now to be landed."""
        assert self.previous is not None
        wanted = rows.join(ids, left_on=id_column, right_on=ID, how="semi")
        if wanted.height == 0:
            return wanted.with_columns(pl.lit(None, dtype=pl.UInt64).alias(HASH))
        hashed = wanted.with_columns(row_hash(wanted, columns).alias(HASH))
        again = hashed.join(
            self._previous_pairs,
            left_on=[id_column, HASH],
            right_on=[ID, HASH],
            how="semi",
            nulls_equal=True,
        )
        self.unchanged -= again.height
        self.changed += again.height
        return again


@dataclass(frozen=True)
class Deletions:
    """Records deleted at the source, decided for one batch."""

    retired: pl.DataFrame
    """(key, id) leaving the current set now."""
    queued: pl.DataFrame
    """(key, id) newly queued for steward review."""
    pending: pl.DataFrame
    """The review queue after this batch (key, id, detected_run_id): kept in the current set."""
    restored: int
    """Queued ids the source delivered again (no longer deleted)."""
    detected: int
    """Ids found deleted at the source in this batch (retired + queued)."""
    held: bool = False
    """True when the batch's deletions were queued although the action is ``retire``, because
    rejected rows without a readable id might be the missing records."""


def decide_deletions(
    missing: pl.DataFrame,
    previous_pending: pl.DataFrame,
    seen: pl.DataFrame,
    *,
    review: bool,
    confirm: bool,
    run_id: str,
    held: bool = False,
) -> Deletions:
    """Split the ids of the current set that the source no longer holds (``missing``: key,
    id) into retired now and queued for review, carrying the earlier queue forward.

    Queued ids delivered again leave the queue; ``confirm`` retires the queue as it stood
    before this batch (what the steward saw), minus ids that came back.
    """
    still_pending = (
        previous_pending.join(seen, on=ID, how="anti")
        if previous_pending.height
        else previous_pending
    )
    restored = previous_pending.height - still_pending.height
    fresh = (
        missing.join(previous_pending.select(ID), on=ID, how="anti")
        if previous_pending.height
        else missing
    ).select(KEY, ID)
    retired_parts: list[pl.DataFrame] = []
    pending_parts: list[pl.DataFrame] = []
    if confirm:
        retired_parts.append(still_pending.select(KEY, ID))
    else:
        pending_parts.append(still_pending)
    if review:
        queued = fresh
        pending_parts.append(fresh.with_columns(pl.lit(run_id).alias("detected_run_id")))
    else:
        queued = fresh.clear()
        retired_parts.append(fresh)
    retired = pl.concat(retired_parts) if retired_parts else fresh.clear()
    pending = (
        pl.concat(pending_parts, how="vertical_relaxed")
        if pending_parts
        else pending_schema_frame()
    )
    return Deletions(
        retired=retired,
        queued=queued,
        pending=pending.select(KEY, ID, "detected_run_id").sort(ID),
        restored=restored,
        detected=fresh.height,
        held=held,
    )


def pending_schema_frame() -> pl.DataFrame:
    return pl.DataFrame(schema={KEY: pl.String, ID: pl.String, "detected_run_id": pl.String})
