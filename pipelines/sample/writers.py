"""Write each source in its own format, chunk by chunk, byte-for-byte reproducibly.

The writers are the only code that knows the three file formats, so the generator (day one) and
the mutator (day two) produce identical bytes for identical records. Files are written to a
temporary name and renamed into place, so a crash never leaves a half-written source behind.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.sample.render import BILLING_COLUMNS, COLUMNS, SHOP_COLUMNS
from pipelines.warehouse import atomic_path

FILE_NAMES = {"crm": "crm.csv", "shop": "shop.jsonl", "billing": "billing.parquet"}
GROUND_TRUTH = "ground_truth.csv"
TRUE_CUSTOMERS = "true_customers.parquet"
MANIFEST = "sample.json"
CHUNK_ROWS = 50_000
"""Rows rendered and written at a time (also the Parquet row-group size)."""

BILLING_SCHEMA = pa.schema(
    [("account_no", pa.int64())]
    + [(c, pa.string()) for c in BILLING_COLUMNS[1:-1]]
    + [("modified", pa.timestamp("us", tz="UTC"))]
)


def crm_timestamps(seconds: np.ndarray) -> list[str]:
    """Local New York wall-clock time without an offset, as the CRM exports it."""
    return _format_local(seconds, "America/New_York", "%Y-%m-%d %H:%M:%S")


def shop_timestamps(seconds: np.ndarray) -> list[str]:
    """ISO 8601 with the shop server's (Pacific) offset."""
    return _format_local(seconds, "America/Los_Angeles", "%Y-%m-%dT%H:%M:%S%:z")


def _format_local(seconds: np.ndarray, zone: str, fmt: str) -> list[str]:
    series = pl.Series("t", np.asarray(seconds, dtype=np.int64))
    local = pl.from_epoch(series, time_unit="s").dt.replace_time_zone("UTC")
    return local.dt.convert_time_zone(zone).dt.strftime(fmt).to_list()


def to_frame(source: str, columns: dict[str, Sequence[Any]]) -> pl.DataFrame:
    """Rendered columns as a frame with the source's column types. Billing's ``modified`` comes
    as epoch microseconds (numbers) or as aware datetimes."""
    if source != "billing":
        return pl.DataFrame({c: pl.Series(c, columns[c], dtype=pl.String) for c in COLUMNS[source]})
    series = {c: pl.Series(c, columns[c], dtype=pl.String) for c in BILLING_COLUMNS[1:-1]}
    modified = columns["modified"]
    if len(modified) and isinstance(modified[0], datetime):
        stamps = pl.Series("modified", modified, dtype=pl.Datetime("us", "UTC"))
    else:
        micros = pl.Series("modified", modified, dtype=pl.Int64)
        stamps = micros.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    return pl.DataFrame(
        [pl.Series("account_no", columns["account_no"], dtype=pl.Int64), *series.values(), stamps]
    )


class SourceWriter:
    """Appends chunks of rows to one source file in its format."""

    def __init__(self, source: str, handle: IO[bytes]):
        self.source = source
        self.handle = handle
        self.rows = 0
        self._parquet: pq.ParquetWriter | None = None

    def write(self, frame: pl.DataFrame) -> None:
        if self.source == "crm":
            frame.write_csv(self.handle, include_header=self.rows == 0)
        elif self.source == "shop":
            self.write_lines([_json_line(row) for row in frame.iter_rows()])
        else:
            table = frame.to_arrow().cast(BILLING_SCHEMA)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.handle, BILLING_SCHEMA, compression="zstd")
            self._parquet.write_table(table, row_group_size=CHUNK_ROWS)
        self.rows += frame.height

    def write_lines(self, lines: list[str]) -> None:
        """JSON Lines exactly as given (a day-two file keeps its unchanged lines verbatim)."""
        if lines:
            self.handle.write(("\n".join(lines) + "\n").encode("utf-8"))
        if self.source == "shop":
            self.rows += len(lines)

    def close(self) -> None:
        if self.source == "billing" and self._parquet is None:
            self._parquet = pq.ParquetWriter(self.handle, BILLING_SCHEMA, compression="zstd")
        if self._parquet is not None:
            self._parquet.close()


def _json_line(values: tuple[Any, ...]) -> str:
    """One shop record; an unknown birthday is left out (the shop's API omits it)."""
    record = {k: v for k, v in zip(SHOP_COLUMNS, values, strict=True) if k != "birthday" or v}
    return json.dumps(record, ensure_ascii=False)


@contextmanager
def published(path: Path) -> Iterator[Path]:
    """A temporary path that replaces ``path`` on success, readable by everyone like any
    data file (the temporary file starts private)."""
    with atomic_path(path) as tmp:
        yield tmp
        tmp.chmod(0o644)


@contextmanager
def source_writer(source: str, path: Path) -> Iterator[SourceWriter]:
    """A writer whose file appears at ``path`` only once it is complete."""
    with published(path) as tmp, tmp.open("wb") as handle:
        writer = SourceWriter(source, handle)
        yield writer
        writer.close()


class SourceTable:
    """A generated source held for the next day: rows exactly as written, edits applied when
    written back, so unchanged records come out byte for byte.

    The CSV and Parquet sources are frames; the JSON Lines source stays as its text lines (only
    edited lines are serialised again).
    """

    def __init__(self, source: str, frame: pl.DataFrame, lines: list[str] | None = None):
        self.source = source
        self.frame = frame
        self.lines = lines
        self._edits: dict[int, dict[str, Any]] = {}

    @classmethod
    def read(cls, source: str, path: Path) -> SourceTable:
        if source == "crm":
            return cls(source, pl.read_csv(path, infer_schema=False))
        if source == "billing":
            return cls(source, pl.read_parquet(path))
        schema = dict.fromkeys(SHOP_COLUMNS, pl.String)
        frame = (
            pl.read_ndjson(path, schema=schema)
            if path.stat().st_size
            else pl.DataFrame(schema=schema)
        )
        lines = path.read_text(encoding="utf-8").splitlines()
        return cls(source, frame, lines)

    @property
    def height(self) -> int:
        return self.frame.height

    def ids(self) -> pl.Series:
        """Record ids as text, in file order."""
        return self.frame[COLUMNS[self.source][0]].cast(pl.String)

    def row(self, index: int) -> dict[str, Any]:
        """The record's current values (edits included)."""
        values = self.frame.row(index, named=True)
        values.update(self._edits.get(index, {}))
        return values

    def update(self, index: int, values: dict[str, Any]) -> None:
        self._edits.setdefault(index, {}).update(values)

    def append(self, rows: pl.DataFrame) -> None:
        self._apply()
        if self.lines is not None:
            self.lines.extend(_json_line(row) for row in rows.iter_rows())
        self.frame = pl.concat([self.frame, rows.select(self.frame.columns)], how="vertical")

    def columns(self) -> dict[str, list[Any]]:
        self._apply()
        return self.frame.to_dict(as_series=False)

    def write(self, path: Path) -> None:
        """Write in the same chunks as day one (so Parquet row groups match too)."""
        self._apply()
        with source_writer(self.source, path) as writer:
            for start in range(0, self.height, CHUNK_ROWS):
                if self.lines is not None:
                    writer.write_lines(self.lines[start : start + CHUNK_ROWS])
                else:
                    writer.write(self.frame.slice(start, CHUNK_ROWS))

    def _apply(self) -> None:
        if not self._edits:
            return
        rows = sorted(self._edits)
        updated = []
        for column in self.frame.columns:
            touched = [r for r in rows if column in self._edits[r]]
            if not touched:
                continue
            series = self.frame[column].clone()
            values = [self._edits[r][column] for r in touched]
            series.scatter(touched, pl.Series(values, dtype=series.dtype))
            updated.append(series)
        if self.lines is not None:
            for r in rows:
                self.lines[r] = _json_line(tuple(self.row(r)[c] for c in SHOP_COLUMNS))
        self.frame = self.frame.with_columns(updated)
        self._edits.clear()


def read_source(source: str, path: Path) -> dict[str, list[Any]]:
    """A generated source as column lists, values exactly as written."""
    return SourceTable.read(source, path).columns()


def write_frame_csv(frame: pl.DataFrame, path: Path) -> None:
    with published(path) as tmp:
        frame.write_csv(tmp)


def write_frame_parquet(frame: pl.DataFrame, path: Path) -> None:
    with published(path) as tmp:
        frame.write_parquet(tmp, compression="zstd", statistics=False)


def write_text(path: Path, text: str) -> None:
    with published(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
