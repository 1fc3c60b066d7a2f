"""The steward's view of records deleted at the source and queued for review.

A source with ``deletions.action: review`` keeps a deleted record in its current set until a
steward confirms the deletion; the queue after each batch is ``pending_deletions.parquet`` in
that run's ingest folder, carried from batch to batch. ``golden deletions`` lists the queue of
every source's latest batch; ``golden ingest --confirm-deletions`` retires it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from pipelines.ingest.changes import pending_schema_frame
from pipelines.ingest.state import load_state
from pipelines.warehouse import Warehouse

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig

PENDING = "pending_deletions.parquet"


def pending_deletions(config: PipelineConfig, sources: list[str] | None = None) -> pl.DataFrame:
    """``source_system``, ``record_key``, ``source_record_id``, ``detected_run_id`` of every
    record waiting for a steward, as of each source's latest batch."""
    warehouse = Warehouse(config.warehouse.path)
    frames = []
    for name in sources or config.source_names:
        src = config.source(name)
        last = load_state(warehouse.source_state(src.name)).last_run_id
        path = warehouse.ingest_dir(last, src.name) / PENDING if last else None
        frame = pl.read_parquet(path) if path is not None and path.is_file() else None
        if frame is None:
            frame = pending_schema_frame()
        frames.append(frame.select(pl.lit(src.name).alias("source_system"), pl.all()))
    if not frames:
        return pending_schema_frame().select(pl.lit("").alias("source_system"), pl.all())
    return pl.concat(frames).sort("source_system", "source_record_id")
