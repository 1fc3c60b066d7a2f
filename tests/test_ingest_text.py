"""Typed values (Parquet columns, database values) become the same raw text from every source."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import polars as pl
import pytest

from pipelines.ingest.text import frame_as_text, value_as_text

UTC = dt.UTC
CASES: list[tuple[str, Any, str]] = [
    ("text", "  Zoë  ", "  Zoë  "),
    ("int", 42, "42"),
    ("bool", True, "true"),
    ("decimal", Decimal("10.50"), "10.50"),
    ("date", dt.date(1980, 2, 29), "1980-02-29"),
    ("naive datetime", dt.datetime(2024, 1, 5, 10, 0), "2024-01-05T10:00:00"),
    ("aware datetime", dt.datetime(2024, 1, 5, 10, 0, tzinfo=UTC), "2024-01-05T10:00:00+00:00"),
    ("fraction", dt.datetime(2024, 1, 5, 10, 0, 0, 250000), "2024-01-05T10:00:00.250"),
    ("micros", dt.datetime(2024, 1, 5, 10, 0, 0, 250001), "2024-01-05T10:00:00.250001"),
    ("time", dt.time(7, 5, 3), "07:05:03"),
    ("duration", dt.timedelta(days=1, seconds=90), "P1DT1M30S"),
    ("utf-8 bytes", b"caf\xc3\xa9", "café"),
    ("other bytes", b"\xff\xd8", "ffd8"),
]


@pytest.mark.parametrize(("kind", "value", "text"), CASES, ids=[c[0] for c in CASES])
def test_database_values_render_as_raw_text(kind: str, value: Any, text: str) -> None:
    assert value_as_text(value) == text


@pytest.mark.parametrize(
    ("kind", "value", "text"),
    [c for c in CASES if c[0] != "utf-8 bytes"],
    ids=[c[0] for c in CASES if c[0] != "utf-8 bytes"],
)
def test_parquet_columns_render_as_raw_text(kind: str, value: Any, text: str) -> None:
    column = pl.DataFrame({"c": [value, None]})
    rendered = frame_as_text(column)["c"].to_list()
    assert rendered == [text if kind != "other bytes" else "ffd8", None]


def test_nested_and_odd_values_render_as_json_or_text() -> None:
    assert value_as_text({"news": False, "n": 1}) == '{"news": false, "n": 1}'
    assert value_as_text([1, "a"]) == '[1, "a"]'
    assert value_as_text(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert value_as_text(None) is None
    frame = pl.DataFrame({"s": [{"a": 1, "b": "x"}], "l": [[1, 2]]})
    assert frame_as_text(frame).row(0) == ('{"a": 1, "b": "x"}', "[1, 2]")
