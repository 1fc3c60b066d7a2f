"""Update timestamps in the shapes real sources write them, read as UTC instants."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from pipelines.ingest.timestamps import parse_updated_at

CASES = [
    ("2024-03-10T10:00:00Z", "UTC", [], datetime(2024, 3, 10, 10, tzinfo=UTC)),
    ("2024-03-10t10:00:00z", "UTC", [], datetime(2024, 3, 10, 10, tzinfo=UTC)),
    ("2024-03-10T10:00:00+01:00", "UTC", [], datetime(2024, 3, 10, 9, tzinfo=UTC)),
    ("2024-03-10T10:00:00.5-0500", "UTC", [], datetime(2024, 3, 10, 15, 0, 0, 500000, tzinfo=UTC)),
    ("2024-03-10 10:00:00 +05:30", "UTC", [], datetime(2024, 3, 10, 4, 30, tzinfo=UTC)),
    ("2024-03-10 10:00:00 UTC", "Europe/Paris", [], datetime(2024, 3, 10, 10, tzinfo=UTC)),
    ("2024-03-10 10:00:00", "Europe/Paris", [], datetime(2024, 3, 10, 9, tzinfo=UTC)),
    ("2024-07-10 10:00", "Europe/Paris", [], datetime(2024, 7, 10, 8, tzinfo=UTC)),
    (
        "  2024-07-10T10:00:00.123456  ",
        "UTC",
        [],
        datetime(2024, 7, 10, 10, 0, 0, 123456, tzinfo=UTC),
    ),
    ("2024-07-10", "Asia/Tokyo", [], datetime(2024, 7, 9, 15, tzinfo=UTC)),
    ("2024-10-27 02:30:00", "Europe/Paris", [], datetime(2024, 10, 27, 0, 30, tzinfo=UTC)),
    ("10/07/2024 10:00", "Europe/Paris", ["%d/%m/%Y %H:%M"], datetime(2024, 7, 10, 8, tzinfo=UTC)),
    ("07/10/2024 10:00 +0000", "UTC", ["%m/%d/%Y %H:%M %z"], datetime(2024, 7, 10, 10, tzinfo=UTC)),
    ("1700000000", "Europe/Paris", ["epoch_s"], datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
    ("1700000000250", "UTC", ["epoch_ms"], datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=UTC)),
]


@pytest.mark.parametrize(("text", "zone", "formats", "expected"), CASES, ids=[c[0] for c in CASES])
def test_timestamps_are_read_as_utc(
    text: str, zone: str, formats: list[str], expected: datetime
) -> None:
    parsed, problem = parse_updated_at(pl.Series("u", [text]), zone, formats)
    assert parsed.to_list() == [expected]
    assert problem.to_list() == [None]
    assert parsed.dtype == pl.Datetime("us", "UTC")


@pytest.mark.parametrize(
    ("text", "zone", "reason"),
    [
        ("yesterday", "UTC", "cannot read update time 'yesterday'"),
        ("2024-02-30 10:00", "UTC", "cannot read update time '2024-02-30 10:00'"),
        ("31/12/2024", "UTC", "tried ISO 8601; set updated_at_formats"),
        ("2024-03-31 02:30", "Europe/Paris", "does not exist in time zone Europe/Paris"),
    ],
)
def test_unreadable_timestamps_get_a_reason(text: str, zone: str, reason: str) -> None:
    parsed, problem = parse_updated_at(pl.Series("u", [text]), zone)
    assert parsed.to_list() == [None]
    assert reason in problem[0]


def test_missing_values_are_null_without_a_problem() -> None:
    parsed, problem = parse_updated_at(pl.Series("u", [None, "", "  "]), "UTC")
    assert parsed.to_list() == [None, None, None]
    assert problem.to_list() == [None, None, None]


def test_a_column_mixing_shapes_is_read_row_by_row() -> None:
    values = ["2024-01-01T00:00:00Z", "2024-01-01 01:00:00", "junk", "2024-01-01", None]
    parsed, problem = parse_updated_at(pl.Series("u", values), "UTC")
    assert parsed.to_list() == [
        datetime(2024, 1, 1, 0, tzinfo=UTC),
        datetime(2024, 1, 1, 1, tzinfo=UTC),
        None,
        datetime(2024, 1, 1, 0, tzinfo=UTC),
        None,
    ]
    assert [p is not None for p in problem] == [False, False, True, False, False]
