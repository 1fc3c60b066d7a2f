"""Ingest one batch of one source: read, land, merge, report, and only then move the watermark.

Each source is ingested on its own (the DAG fans out one task per source), and every output is
written so that a failure part-way leaves the previous state untouched: the raw batch appears
whole or not at all, the run's files are replaced atomically, and the source state moves last.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import polars as pl

from pipelines.errors import ConfigError, SourceError
from pipelines.ingest.chunks import RawChunk, Reject
from pipelines.ingest.current import build_current
from pipelines.ingest.drift import dropped_columns, new_columns
from pipelines.ingest.landing import RawBatchWriter
from pipelines.ingest.lineage import BatchContext, land_chunk, lineage_schema
from pipelines.ingest.readers import read_source
from pipelines.ingest.rejects import write_rejects
from pipelines.ingest.result import IngestResult
from pipelines.ingest.state import BatchRecord, baseline, load_state, save_state
from pipelines.ingest.suppression import Suppressor
from pipelines.warehouse import Warehouse, write_json

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig

logger = logging.getLogger(__name__)

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:+=-]{0,199}$")


def ingest_source(
    config: PipelineConfig, run_id: str, source: str, full_reload: bool = False
) -> IngestResult:
    """Land what ``source`` delivers as batch ``run_id`` and rebuild its current record set.

    An incremental source loads rows changed since its watermark; ``full_reload`` (or a source
    without an update column) loads everything and replaces the current set. Rerunning the
    latest run id of a source starts from the same watermark and is idempotent.
    """
    if not _RUN_ID.match(run_id) or ".." in run_id:
        raise ConfigError(
            f"run id {run_id!r} cannot name folders: use letters, digits and _ . : + = - "
            "(for example one made by new_run_id())"
        )
    src = config.source(source)
    warehouse = Warehouse(config.warehouse.path)
    state_path = warehouse.source_state(src.name)
    state = load_state(state_path)
    base = baseline(state, run_id, src.name)
    incremental = src.incremental and not full_reload
    since = base.watermark if incremental else None
    previous = None
    if incremental and base.previous_run_id is not None:
        previous = warehouse.current_records(base.previous_run_id, src.name)
        if not previous.exists():
            raise SourceError(
                f"source {src.name!r}: the current record set of its last run "
                f"({previous}) is missing, so an incremental batch has nothing to merge into; "
                "run with --full-reload"
            )

    writer = RawBatchWriter(warehouse, src.name, run_id)
    ingested_at = writer.existing_ingested_at() or datetime.now(UTC)
    ctx = BatchContext(src, run_id, ingested_at, since)
    suppressor = Suppressor(config, src)
    logger.info(
        "%s: ingesting batch %s (%s)",
        src.name,
        run_id,
        f"changes after {since.isoformat()}" if since else "full load",
    )

    try:
        tally = _land_batch(read_source(src, since), ctx, suppressor, writer)
        landed_batch = writer.commit(
            {
                "source": src.name,
                "batch_id": run_id,
                "ingested_at": ingested_at.isoformat(),
                "watermark_before": since.isoformat() if since else None,
                "columns": tally.columns,
                "origins": tally.origins,
            },
            committed_before=base.rerun_of_committed,
        )
    except BaseException:
        writer.abort()
        raise

    if tally.rows_unchanged:
        logger.info("%s: %d row(s) unchanged since the watermark", src.name, tally.rows_unchanged)
    watermark_after = _later(since, tally.latest) if incremental else tally.latest
    rows_current = build_current(
        warehouse.current_records(run_id, src.name), landed_batch.parts, previous
    )
    rejects_path = warehouse.ingest_rejects(run_id, src.name)
    write_rejects(rejects_path, src.name, run_id, tally.rejects)

    expected = src.columns if src.columns is not None else base.columns
    batch_columns = tally.columns
    added = new_columns(batch_columns, expected) if batch_columns else []
    dropped = dropped_columns(batch_columns, expected) if batch_columns else []
    if added:
        logger.warning("%s: new column(s) %s (schema drift; landed as sent)", src.name, added)
    if dropped:
        logger.warning("%s: column(s) %s are no longer sent", src.name, dropped)
    if tally.rejects:
        logger.warning("%s: %d row(s) rejected, see %s", src.name, len(tally.rejects), rejects_path)

    result = IngestResult(
        source=src.name,
        run_id=run_id,
        batch_id=run_id,
        kind=src.kind,
        incremental=since is not None,
        full_reload=full_reload,
        rows_read=tally.rows_read,
        rows_landed=landed_batch.rows,
        rows_rejected=len(tally.rejects),
        rows_suppressed=tally.rows_suppressed,
        rows_unchanged=tally.rows_unchanged,
        rows_current=rows_current,
        columns=batch_columns,
        new_columns=added,
        dropped_columns=dropped,
        watermark_before=since,
        watermark_after=watermark_after,
        origins=tally.origins,
        ingested_at=ingested_at,
        reused_batch=landed_batch.reused,
        raw_path=str(landed_batch.path),
        current_path=str(warehouse.current_records(run_id, src.name)),
        rejects_path=str(rejects_path),
    )
    write_json(
        warehouse.ingest_dir(run_id, src.name) / "result.json", result.model_dump(mode="json")
    )
    save_state(
        state_path,
        state,
        BatchRecord(
            run_id=run_id,
            batch_id=run_id,
            full_reload=full_reload,
            watermark_before=since,
            watermark_after=watermark_after,
            previous_run_id=base.previous_run_id if previous is not None else None,
            columns_before=base.columns,
            rows_read=tally.rows_read,
            rows_landed=landed_batch.rows,
            rows_rejected=len(tally.rejects),
            rows_current=rows_current,
        ),
        batch_columns or (base.columns or []),
    )
    logger.info(
        "%s: %d read, %d landed, %d rejected; %d current records",
        src.name,
        tally.rows_read,
        landed_batch.rows,
        len(tally.rejects),
        rows_current,
    )
    return result


@dataclass
class _Tally:
    """What the source delivered in one batch, counted while it was landed."""

    rows_read: int = 0
    rows_unchanged: int = 0
    rows_suppressed: int = 0
    rejects: list[Reject] = field(default_factory=list)
    seen_columns: dict[str, None] = field(default_factory=dict)
    seen_origins: dict[str, None] = field(default_factory=dict)
    latest: datetime | None = None
    """Latest update time among the rows landed."""

    @property
    def columns(self) -> list[str]:
        """Source columns of the batch, in the order they were first seen."""
        return list(self.seen_columns)

    @property
    def origins(self) -> list[str]:
        return list(self.seen_origins)


def _land_batch(
    chunks: Iterator[RawChunk], ctx: BatchContext, suppressor: Suppressor, writer: RawBatchWriter
) -> _Tally:
    """Write every chunk's good rows as a part of the batch; count and keep the rest."""
    tally = _Tally()
    empty_shape = _empty_batch()  # lands when nothing else does, keeping the columns seen
    for chunk in chunks:
        landed = land_chunk(chunk, ctx)
        tally.seen_origins.setdefault(chunk.origin)
        tally.rows_read += landed.rows_read - landed.rows_unchanged
        tally.rows_unchanged += landed.rows_unchanged
        tally.rejects.extend(landed.rejects)
        tally.seen_columns.update(dict.fromkeys(landed.source_columns))
        if landed.frame.height:
            latest = landed.frame["source_updated_at"].max()
            if latest is not None and (tally.latest is None or latest > tally.latest):  # type: ignore[operator]
                tally.latest = latest  # type: ignore[assignment]
        rows, suppressed = suppressor.apply(landed.frame)
        tally.rows_suppressed += suppressed
        if rows.height:
            writer.write(rows)
        elif rows.width > empty_shape.width:
            empty_shape = rows
    if not writer.part_rows:
        writer.write(empty_shape)
    return tally


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


def _empty_batch() -> pl.DataFrame:
    return pl.DataFrame(schema=lineage_schema())
