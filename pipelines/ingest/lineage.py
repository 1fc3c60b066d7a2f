"""Turn a reader's chunk into raw-layer rows: lineage added, unusable rows rejected.

A row is rejected here, with its line and reason, when it has no id (it could never be told
apart from other records) or when its update timestamp is present but unreadable (it could
never be ordered against later versions). On an incremental load of a file source, rows not
changed since the watermark are counted and left out; database readers filter in SQL instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

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
    """Rows updated at or before this are unchanged (None: every row is loaded)."""


@dataclass
class LandedChunk:
    origin: str
    frame: pl.DataFrame
    """Lineage columns, then the source's columns as text."""
    rows_read: int
    rejects: list[Reject] = field(default_factory=list)
    rows_unchanged: int = 0

    @property
    def source_columns(self) -> list[str]:
        return [c for c in self.frame.columns if c not in LINEAGE_COLUMNS]


def land_chunk(chunk: RawChunk, ctx: BatchContext) -> LandedChunk:
    """Lineage for the good rows, rejects for the rest."""
    source = ctx.source
    frame = chunk.frame
    if frame.width == 0 and frame.height == 0:  # an empty file: nothing to check or land
        return LandedChunk(chunk.origin, _with_lineage(frame, ctx), chunk.rows_read, chunk.rejects)
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
    bad = work.filter(pl.col(_PROBLEM).is_not_null())
    if bad.height:
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

    unchanged = 0
    if ctx.watermark is not None and not chunk.filtered_at_source:
        # The same rule as a database's WHERE updated_at > watermark: a row without an update
        # time is not known to have changed.
        changed = pl.col(_UPDATED).is_not_null() & (pl.col(_UPDATED) > ctx.watermark)
        before = work.height
        work = work.filter(changed)
        unchanged = before - work.height

    landed = _with_lineage(work.select(*frame.columns, _UPDATED), ctx)
    return LandedChunk(chunk.origin, landed, chunk.rows_read, rejects, unchanged)


def _with_lineage(frame: pl.DataFrame, ctx: BatchContext) -> pl.DataFrame:
    source = ctx.source
    source_columns = [c for c in frame.columns if c != _UPDATED]
    if not source_columns:
        return pl.DataFrame(schema=lineage_schema())
    updated = pl.col(_UPDATED) if _UPDATED in frame.columns else pl.lit(None, dtype=TIMESTAMP)
    return frame.select(
        (pl.lit(f"{source.name}:") + pl.col(source.id_column)).alias("record_key"),
        pl.lit(source.name).alias("source_system"),
        pl.col(source.id_column).alias("source_record_id"),
        pl.lit(ctx.batch_id).alias("batch_id"),
        pl.lit(ctx.ingested_at, dtype=TIMESTAMP).alias("ingested_at"),
        updated.cast(TIMESTAMP).alias("source_updated_at"),
        *[pl.col(c) for c in source_columns],
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
