"""``rejects.parquet``: every row a source sent that could not be landed, and why."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from pipelines.ingest.chunks import Reject
from pipelines.warehouse import atomic_path

REJECT_SCHEMA: dict[str, pl.DataType] = {
    "source_system": pl.String(),
    "file": pl.String(),
    "line": pl.Int64(),
    "reason": pl.String(),
    "raw": pl.String(),
    "run_id": pl.String(),
}


def write_rejects(target: Path, source: str, run_id: str, rejects: Sequence[Reject]) -> None:
    """Written even when empty, so the next stage can count on the file."""
    frame = pl.DataFrame(
        {
            "source_system": [source] * len(rejects),
            "file": [r.origin for r in rejects],
            "line": [r.line for r in rejects],
            "reason": [r.reason for r in rejects],
            "raw": [r.raw for r in rejects],
            "run_id": [run_id] * len(rejects),
        },
        schema=REJECT_SCHEMA,
    )
    with atomic_path(target) as tmp:
        frame.write_parquet(tmp)
