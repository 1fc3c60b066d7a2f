"""Parquet: typed columns rendered as text, read one row group batch at a time."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.errors import SourceError
from pipelines.ingest.chunks import RawChunk, positional_locator
from pipelines.ingest.text import frame_as_text

logger = logging.getLogger(__name__)

_BATCH_ROWS = 500_000


def read_parquet(origin: str, data: bytes) -> Iterator[RawChunk]:
    """One chunk per batch of rows; row numbers (1-based) stand in for line numbers."""
    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
        batches = parquet.iter_batches(batch_size=_BATCH_ROWS)
        first_row = 1
        emitted = False
        for batch in batches:
            frame = frame_as_text(pl.from_arrow(batch))  # type: ignore[arg-type]
            yield RawChunk(origin, frame, positional_locator(first_row))
            first_row += batch.num_rows
            emitted = True
        if not emitted:
            empty = pl.from_arrow(parquet.schema_arrow.empty_table())
            yield RawChunk(origin, frame_as_text(empty), positional_locator(1))  # type: ignore[arg-type]
    except (pa.ArrowException, OSError) as exc:
        raise SourceError(f"{origin}: not a readable Parquet file: {exc}") from exc
