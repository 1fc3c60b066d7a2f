"""Turn a reader's chunk into raw-layer rows: lineage added, unusable rows rejected.

A row is rejected here, with its line and reason, when it has no id (it could never be told
apart from other records) or when its update timestamp is present but unreadable (it could
never be ordered against later versions). A row flagged deleted (``deletions.flag_column``) is
a deletion, not a record. The rest go through :class:`~pipelines.ingest.changes.Changes`, which
leaves out rows the current set already holds unchanged (whatever their timestamps).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from pipelines.ingest.changes import HASH, Changes
from pipelines.ingest.chunks import RawChunk, Reject
from pipelines.ingest.config import SourceConfig
from pipelines.ingest.drift import check_columns
from pipelines.ingest.timestamps import parse_updated_at
from pipelines.schema import LINEAGE_COLUMNS

_POS = "__golden_position"
_UPDATED = "__golden_updated_at"
_PROBLEM = "__golden_problem"
TIMESTAMP = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class BatchContext:
    source: SourceConfig
    batch_id: str
    ingested_at: datetime
    watermark: datetime | None
    """The watermark the batch starts from (None: a full load)."""
    changes: Changes
    """Decides which rows are new or changed, and remembers the ids delivered."""


@dataclass
class LandedChunk:
    origin: str
    frame: pl.DataFrame
    """Lineage columns, then the source's columns as text."""
    rows_read: int
    rejects: list[Reject] = field(default_factory=list)
    rows_unchanged: int = 0
    rows_flagged: int = 0
    """Rows flagged deleted at the source (``deletions.flag_column``)."""
    unidentified: int = 0
    """Rejected rows whose id could not be read (so they might be any record)."""

    @property
    def source_columns(self) -> list[str]:
        return [c for c in self.frame.columns if c not in LINEAGE_COLUMNS and c != HASH]


def land_chunk(chunk: RawChunk, ctx: BatchContext) -> LandedChunk:
    """Lineage for the good rows, rejects for the rest."""
    source = ctx.source
    frame = chunk.frame
    if frame.width == 0 and frame.height == 0:  # an empty file: nothing to check or land
        return LandedChunk(
            chunk.origin,
            _with_lineage(frame, ctx),
            chunk.rows_read,
            chunk.rejects,
            unidentified=len(chunk.rejects),
        )
    check_columns(source, chunk.origin, frame.columns)

    id_value = pl.col(source.id_column)
    problem = (
        pl.when(id_value.is_null() | (id_value.str.strip_chars() == ""))
        .then(pl.lit(f"no value in id column {source.id_column!r}"))
        .otherwise(None)
    )
    extra: dict[str, pl.Series] = {}
    if source.updated_at_column:
        parsed, unreadable = parse_updated_at(
            frame[source.updated_at_column], source.timezone, source.updated_at_formats
        )
        extra[_UPDATED] = parsed.alias(_UPDATED)
        extra["__ts_problem"] = unreadable.alias("__ts_problem")
        problem = pl.coalesce(problem, pl.col("__ts_problem"))
    else:
        extra[_UPDATED] = pl.Series(_UPDATED, [None] * frame.height, dtype=TIMESTAMP)
    work = (
        frame.with_columns(list(extra.values()))
        .with_row_index(_POS)
        .with_columns(problem.alias(_PROBLEM))
    )

    rejects = list(chunk.rejects)
    unidentified = len(chunk.rejects)
    bad = work.filter(pl.col(_PROBLEM).is_not_null())
    if bad.height:
        ids = bad[source.id_column]
        known = ids.filter(ids.is_not_null() & (ids.str.strip_chars() != ""))
        unidentified += bad.height - known.len()
        ctx.changes.seen(known)  # delivered, so not deleted, though not loadable this time
        positions = bad[_POS].to_list()
        located = chunk.locate(positions)
        for (line, raw), reason, row in zip(
            located,
            bad[_PROBLEM].to_list(),
            bad.select(frame.columns).iter_rows(named=True),
            strict=True,
        ):
            rejects.append(
                Reject(chunk.origin, line, reason, raw if raw is not None else _row_text(row))
            )
        work = work.filter(pl.col(_PROBLEM).is_null())

    flagged = 0
    flag_column = source.deletions.flag_column
    if flag_column is not None and flag_column in work.columns:
        values = [v.lower() for v in source.deletions.flag_values]
        is_deleted = pl.col(flag_column).str.strip_chars().str.to_lowercase().is_in(values)
        deleted = work.filter(is_deleted.fill_null(False))
        if deleted.height:
            ctx.changes.flagged(deleted[source.id_column])
            work = work.filter(~is_deleted.fill_null(False))
            flagged = deleted.height

    before = work.height
    work = ctx.changes.split(work, source.id_column, frame.columns)
    unchanged = before - work.height

    landed = _with_lineage(work.select(*frame.columns, _UPDATED, HASH), ctx)
    return LandedChunk(
        chunk.origin, landed, chunk.rows_read, rejects, unchanged, flagged, unidentified
    )


def reland_chunk(chunk: RawChunk, ctx: BatchContext, ids: pl.DataFrame) -> pl.DataFrame:
    """Rows of ``ids`` in ``chunk`` that were unchanged, with lineage (a second pass over a
    delivery, see :meth:`Changes.second_pass_ids`). Rejected and flagged rows stay out."""
    source = ctx.source
    frame = chunk.frame
    if frame.height == 0:
        return pl.DataFrame(schema=lineage_schema())
    if source.updated_at_column:
        parsed, unreadable = parse_updated_at(
            frame[source.updated_at_column], source.timezone, source.updated_at_formats
        )
        work = frame.with_columns(parsed.alias(_UPDATED)).filter(unreadable.is_null())
    else:
        work = frame.with_columns(pl.lit(None, dtype=TIMESTAMP).alias(_UPDATED))
    flag_column = source.deletions.flag_column
    if flag_column is not None and flag_column in work.columns:
        values = [v.lower() for v in source.deletions.flag_values]
        is_deleted = pl.col(flag_column).str.strip_chars().str.to_lowercase().is_in(values)
        work = work.filter(~is_deleted.fill_null(False))
    again = ctx.changes.second_pass(work, source.id_column, frame.columns, ids)
    return _with_lineage(again.select(*frame.columns, _UPDATED, HASH), ctx)


def _with_lineage(frame: pl.DataFrame, ctx: BatchContext) -> pl.DataFrame:
    source = ctx.source
    source_columns = [c for c in frame.columns if c not in (_UPDATED, HASH)]
    if not source_columns:
        return pl.DataFrame(schema=lineage_schema())
    updated = pl.col(_UPDATED) if _UPDATED in frame.columns else pl.lit(None, dtype=TIMESTAMP)
    hashed = [pl.col(HASH)] if HASH in frame.columns else []
    return frame.select(
        (pl.lit(f"{source.name}:") + pl.col(source.id_column)).alias("record_key"),
        pl.lit(source.name).alias("source_system"),
        pl.col(source.id_column).alias("source_record_id"),
        pl.lit(ctx.batch_id).alias("batch_id"),
        pl.lit(ctx.ingested_at, dtype=TIMESTAMP).alias("ingested_at"),
        updated.cast(TIMESTAMP).alias("source_updated_at"),
        *[pl.col(c) for c in source_columns],
        *hashed,
    )


def lineage_schema() -> dict[str, pl.DataType]:
    """Polars types of the lineage columns, in contract order."""
    types: dict[str, pl.DataType] = {c: pl.String() for c in LINEAGE_COLUMNS}
    types["ingested_at"] = TIMESTAMP
    types["source_updated_at"] = TIMESTAMP
    return types


def _row_text(row: dict[str, str | None]) -> str:
    """A row of a typed source, as JSON text, for the ``raw`` column of a reject."""
    return json.dumps(row, ensure_ascii=False)
