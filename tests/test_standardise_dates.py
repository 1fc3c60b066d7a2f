"""Dates: configured formats in order, ISO always, ambiguity detected and reported, impossible
dates flagged, two-digit years resolved against the run's date, timestamps to UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest

from pipelines.standardise import standardise_dates, to_utc

AS_OF = date(2026, 1, 1)


def run(values: list[str | None], formats: list[str] | None = None):
    df = pl.DataFrame({"raw_date_of_birth": values}, schema={"raw_date_of_birth": pl.String})
    out, report = standardise_dates(df, formats or [], as_of=AS_OF, min_birth_year=1900)
    assert out["raw_date_of_birth"].to_list() == values
    return out, report


@pytest.mark.parametrize(
    ("raw", "expected", "invalid"),
    [
        pytest.param("1980-04-03", date(1980, 4, 3), False, id="iso"),
        pytest.param("1980/4/3", date(1980, 4, 3), False, id="iso-slashes-no-padding"),
        pytest.param("19800403", date(1980, 4, 3), False, id="compact"),
        pytest.param(
            "1980-04-03T23:30:00-05:00", date(1980, 4, 3), False, id="timestamp-date-as-written"
        ),
        pytest.param("25/12/1980", date(1980, 12, 25), False, id="day-first-by-value"),
        pytest.param("12/25/1980", date(1980, 12, 25), False, id="month-first-by-value"),
        pytest.param("05.05.1990", date(1990, 5, 5), False, id="same-day-and-month"),
        pytest.param("4 March 1980", date(1980, 3, 4), False, id="day-month-name"),
        pytest.param("March 4th, 1980", date(1980, 3, 4), False, id="month-name-day"),
        pytest.param("04-MAR-80", date(1980, 3, 4), False, id="oracle-style-two-digit-year"),
        pytest.param("1 mars 1975", date(1975, 3, 1), False, id="french-month"),
        pytest.param("3. März 1975", date(1975, 3, 3), False, id="german-month"),
        pytest.param("25/02/05", date(2005, 2, 25), False, id="two-digit-year-this-century"),
        pytest.param("1980-02-30", None, True, id="impossible-feb-30"),
        pytest.param("13/13/1980", None, True, id="impossible-month"),
        pytest.param("2099-01-01", None, True, id="future"),
        pytest.param("1850-06-01", None, True, id="before-min-birth-year"),
        pytest.param("not a date", None, True, id="words"),
        pytest.param("03/04/1980", None, True, id="ambiguous-unresolved"),
        pytest.param("N/A", None, False, id="placeholder"),
    ],
)
def test_date_rules_without_configured_format(
    raw: str, expected: date | None, invalid: bool
) -> None:
    out, _ = run([raw])
    assert out["date_of_birth"].item() == expected
    assert out["invalid_date_of_birth"].item() is invalid
    assert out["mk_dob"].item() == (expected.isoformat() if expected else None)


def test_two_digit_year_after_the_run_year_is_last_century() -> None:
    out, _ = run(["25/02/99"])
    assert out["date_of_birth"].item() == date(1999, 2, 25)


def test_ambiguous_dates_are_counted_and_left_null() -> None:
    out, report = run(["03/04/1980", "04/03/1980", "25/12/1980", "12/25/1980"])
    assert report.ambiguous == 2
    assert report.ambiguous_resolved == 0
    assert report.date_order is None
    assert out["date_of_birth"].to_list()[:2] == [None, None]


def test_source_convention_resolves_ambiguous_dates() -> None:
    values = ["03/04/1980", "25/12/1980", "13/01/1990", "31/05/1970", "20.02.2000"]
    out, report = run(values)
    assert report.date_order == "day_first"
    assert report.ambiguous == 1 and report.ambiguous_resolved == 1
    assert out["date_of_birth"].to_list()[0] == date(1980, 4, 3)


def test_configured_formats_are_tried_in_order() -> None:
    values = ["03/04/1980", "1980-04-03", "04031980", "3 April 1980"]
    out, report = run(values, ["%m/%d/%Y", "%d%m%Y"])
    assert out["date_of_birth"].to_list() == [
        date(1980, 3, 4),
        date(1980, 4, 3),
        date(1980, 3, 4),
        None,
    ]
    assert out["invalid_date_of_birth"].to_list() == [False, False, False, True]
    assert report.ambiguous == 0


def test_configured_format_with_time_part() -> None:
    out, _ = run(["03/04/1980 00:00"], ["%d/%m/%Y %H:%M"])
    assert out["date_of_birth"].item() == date(1980, 4, 3)


def test_naive_timestamps_are_read_in_the_source_zone_and_stored_in_utc() -> None:
    df = pl.DataFrame(
        {
            "naive": [datetime(2024, 7, 1, 12, 0)],
            "text": ["2024-07-01T12:00:00+02:00"],
            "text_naive": ["2024-07-01 12:00:00"],
            "aware": [datetime(2024, 7, 1, 12, 0, tzinfo=UTC)],
        }
    )
    out = to_utc(df, ["naive", "text", "text_naive", "aware"], "America/New_York")
    assert out["text_naive"].item() == datetime(2024, 7, 1, 16, 0, tzinfo=UTC)
    assert out["naive"].item() == datetime(2024, 7, 1, 16, 0, tzinfo=UTC)
    assert out["text"].item() == datetime(2024, 7, 1, 10, 0, tzinfo=UTC)
    assert out["aware"].item() == datetime(2024, 7, 1, 12, 0, tzinfo=UTC)
    for name in out.columns:
        assert out.schema[name] == pl.Datetime("us", "UTC")


def test_timestamp_text_that_is_not_a_timestamp_is_an_error_naming_the_column() -> None:
    from pipelines.errors import StageInputError

    df = pl.DataFrame({"source_updated_at": ["yesterday"]})
    with pytest.raises(StageInputError, match=r"source_updated_at.*yesterday"):
        to_utc(df, ["source_updated_at"], "UTC")
