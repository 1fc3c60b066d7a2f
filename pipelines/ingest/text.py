"""Render typed source values as the text the raw layer keeps.

Raw landing stores every source column as a string so that nothing is lost or reinterpreted
before validation sees it. Typed sources (Parquet, databases) are rendered the same way whatever
sent them: ISO 8601 for dates, times and durations (``T`` separator, offset when a value has one),
``true``/``false`` for booleans, JSON for nested values, hex for bytes that are not UTF-8.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

import polars as pl

_DATETIME = "%Y-%m-%dT%H:%M:%S%.f"


def value_as_text(value: Any) -> str | None:
    """One Python value (a database driver's) as raw text."""
    if value is None or type(value) is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime | dt.time):
        # Fractions as Polars writes them for Parquet values: none, milliseconds or microseconds.
        exact_ms = value.microsecond % 1000 == 0 and value.microsecond
        return value.isoformat(timespec="milliseconds") if exact_ms else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return pl.Series([value]).dt.to_string("iso")[0]
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.hex()
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def frame_as_text(df: pl.DataFrame) -> pl.DataFrame:
    """Every column of a typed frame (e.g. read from Parquet) cast to ``pl.String``."""
    return df.select([_column_as_text(name, dtype) for name, dtype in df.schema.items()])


def _column_as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(name)
    if dtype == pl.String:
        return col
    if isinstance(dtype, pl.Datetime):
        fmt = _DATETIME + ("%:z" if dtype.time_zone else "")
        return col.dt.to_string(fmt).alias(name)
    if dtype == pl.Date:
        return col.dt.to_string("%Y-%m-%d").alias(name)
    if dtype == pl.Time:
        return col.dt.to_string("%H:%M:%S%.f").alias(name)
    if isinstance(dtype, pl.Duration):
        return col.dt.to_string("iso").alias(name)
    if dtype == pl.Binary:
        return col.map_elements(value_as_text, return_dtype=pl.String).alias(name)
    if dtype.is_nested() or isinstance(dtype, pl.Object):
        return col.map_elements(
            lambda v: value_as_text(v.to_list() if isinstance(v, pl.Series) else v),
            return_dtype=pl.String,
        ).alias(name)
    if dtype == pl.Null:
        return col.cast(pl.String)
    return col.cast(pl.String).alias(name)
