"""A source's current record set: what validation reads each run.

An incremental batch only holds what changed, so the current set is the previous run's set with
every record the batch delivers again replaced by the batch's version (matched on the source's
id; duplicates inside one batch are all kept for validation to judge), less the records retired
as deleted at the source. A full load replaces the set (keeping only records whose deletion
waits for a steward). Columns are the union of both sides, so a new source column appears with
nulls for records not delivered since it was added.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from pipelines.warehouse import atomic_path

logger = logging.getLogger(__name__)


def build_current(target: Path, batch_parts: list[Path], previous: pl.LazyFrame | None) -> int:
    """Write ``target`` from the batch and the previous set's rows to keep (those the batch
    does not deliver again are kept); returns its row count."""
    with atomic_path(target) as tmp:
        if previous is None and len(batch_parts) == 1:
            # The common full load: the current set is the batch, already written once.
            shutil.copyfile(batch_parts[0], tmp)
        else:
            batch = pl.concat(
                [pl.scan_parquet(p, hive_partitioning=False) for p in batch_parts],
                how="diagonal_relaxed",
            )
            frames = [batch]
            if previous is not None:
                kept = previous.join(
                    batch.select("source_record_id").unique(), on="source_record_id", how="anti"
                )
                frames.insert(0, kept)
            pl.concat(frames, how="diagonal_relaxed").sink_parquet(
                tmp, compression="zstd", compression_level=1
            )
    rows = pq.read_metadata(target).num_rows
    logger.info("current record set %s: %d records", target, rows)
    return rows
