"""The raw layer: one immutable folder per source and batch.

A batch is written into a hidden temporary folder and renamed into place when complete, so a
reader never sees half a batch. Once a run has committed a batch it is never changed: rerunning
the run re-reads the source and keeps the stored batch if the rows are the same, and refuses if
they differ (a different batch needs a new run id). A folder left by an attempt that failed
before it was committed (not in the source's state) was never built upon, and is replaced.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from pipelines.errors import SourceError
from pipelines.warehouse import Warehouse

logger = logging.getLogger(__name__)

MANIFEST = "_batch.json"


@dataclass(frozen=True)
class LandedBatch:
    path: Path
    parts: list[Path]
    rows: int
    reused: bool
    """True when an identical committed batch was already in place (an idempotent rerun)."""


class RawBatchWriter:
    """Writes the part files of one batch, then commits them as a whole."""

    def __init__(self, warehouse: Warehouse, source: str, batch_id: str) -> None:
        self.source = source
        self.batch_id = batch_id
        self.final = warehouse.raw_batch(source, batch_id)
        self.staging = self.final.parent / f".{self.final.name}.{secrets.token_hex(4)}.tmp"
        self.part_rows: list[int] = []

    def existing_ingested_at(self) -> datetime | None:
        """The landing time of a batch already stored under this id, reused on a rerun so
        that the same rows land byte for byte the same."""
        manifest = self.final / MANIFEST
        if not manifest.is_file():
            return None
        return datetime.fromisoformat(json.loads(manifest.read_text())["ingested_at"])

    def write(self, frame: pl.DataFrame) -> None:
        self.staging.mkdir(parents=True, exist_ok=True)
        part = self.staging / f"part-{len(self.part_rows):05d}.parquet"
        frame.write_parquet(part, compression="zstd", compression_level=1, statistics=True)
        self.part_rows.append(frame.height)

    @property
    def rows(self) -> int:
        return sum(self.part_rows)

    def commit(self, manifest: dict[str, object], committed_before: bool) -> LandedBatch:
        """Move the batch into place (see the module docstring for an existing one)."""
        (self.staging / MANIFEST).write_text(
            json.dumps({**manifest, "rows": self.rows, "parts": self._part_rows()}, indent=2) + "\n"
        )
        if self.final.exists():
            if _same_rows(self.final, self.staging):
                logger.info("raw batch %s already holds these rows; keeping it", self.final)
                self.abort()
                return LandedBatch(self.final, _parts(self.final), self.rows, reused=True)
            if committed_before:
                self.abort()
                raise SourceError(
                    f"source {self.source!r}: raw batch {self.final} is already committed with "
                    "different rows, and raw batches are immutable; the source changed since "
                    "that run. Start a new run (a new run id) to land the new rows."
                )
            logger.warning(
                "replacing %s, left by an attempt of this run that failed before committing",
                self.final,
            )
            discarded = self.final.with_name(f".{self.final.name}.{secrets.token_hex(4)}.old")
            os.replace(self.final, discarded)
            os.replace(self.staging, self.final)
            shutil.rmtree(discarded, ignore_errors=True)
        else:
            os.replace(self.staging, self.final)
        return LandedBatch(self.final, _parts(self.final), self.rows, reused=False)

    def abort(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)

    def _part_rows(self) -> list[dict[str, object]]:
        return [
            {"file": f"part-{i:05d}.parquet", "rows": rows} for i, rows in enumerate(self.part_rows)
        ]


def _parts(folder: Path) -> list[Path]:
    return sorted(folder.glob("part-*.parquet"))


def _same_rows(a: Path, b: Path) -> bool:
    """Whether two batches hold the same rows, in whatever order and parts (a database may
    return unchanged rows in another order when asked again)."""
    rows_a, rows_b = _all_rows(a), _all_rows(b)
    if set(rows_a.columns) != set(rows_b.columns) or rows_a.height != rows_b.height:
        return False
    rows_b = rows_b.select(rows_a.columns)
    return rows_a.sort(rows_a.columns, nulls_last=True).equals(
        rows_b.sort(rows_a.columns, nulls_last=True)
    )


def _all_rows(folder: Path) -> pl.DataFrame:
    frames = [pl.read_parquet(p, hive_partitioning=False) for p in _parts(folder)]
    return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
