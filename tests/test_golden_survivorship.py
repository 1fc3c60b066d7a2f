"""Survivorship: each rule, rule order, groups, invalid values, provenance and pins."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import pytest

from pipelines.golden.config import SurvivalUnit, SurvivorshipConfig
from pipelines.golden.survivorship import RECORD_COLUMNS, survive
from pipelines.schema import GOLDEN_FIELDS

TS = pl.Datetime("us", "UTC")
SCHEMA: dict[str, Any] = {c: pl.String for c in RECORD_COLUMNS}
SCHEMA.update(
    trust_rank=pl.Int32,
    source_updated_at=TS,
    invalid_fields=pl.List(pl.String),
    date_of_birth=pl.Date,
)


def records(*rows: dict[str, Any], golden_id: str = "G-1") -> pl.DataFrame:
    filled = []
    for row in rows:
        source, record_id = row["record_key"].split(":")
        base = dict.fromkeys(RECORD_COLUMNS)
        base.update(
            golden_id=golden_id,
            source_system=source,
            source_record_id=record_id,
            trust_rank=100,
            invalid_fields=[],
        )
        base.update(row)
        filled.append(base)
    return pl.DataFrame(filled, schema=SCHEMA)


def on(year: int) -> datetime:
    return datetime(year, 1, 1, tzinfo=UTC)


def email_unit(*rules: str) -> list[SurvivalUnit]:
    return [SurvivalUnit("email", ("email",), tuple(rules))]  # type: ignore[arg-type]


def winner(
    frame: pl.DataFrame, units: list[SurvivalUnit], field: str = "email"
) -> tuple[Any, str, str]:
    result = survive(frame, units)
    value = result.values[field].item()
    prov = result.provenance.filter(pl.col("field") == field).to_dicts()
    assert len(prov) == 1
    return value, f"{prov[0]['source_system']}:{prov[0]['source_record_id']}", prov[0]["rule"]


RULE_CASES = [
    pytest.param(
        ["trust_rank"],
        [
            {"record_key": "b:1", "email": "x@a.com", "trust_rank": 5},
            {"record_key": "c:1", "email": "y@a.com", "trust_rank": 1},
        ],
        ("y@a.com", "c:1", "trust_rank"),
        id="trust_rank-lower-rank-wins",
    ),
    pytest.param(
        ["most_recent"],
        [
            {"record_key": "a:1", "email": "old@a.com", "source_updated_at": on(2020)},
            {"record_key": "a:2", "email": "new@a.com", "source_updated_at": on(2024)},
            {"record_key": "a:3", "email": "unknown@a.com"},
        ],
        ("new@a.com", "a:2", "most_recent"),
        id="most_recent-latest-update-wins",
    ),
    pytest.param(
        ["most_recent"],
        [
            {"record_key": "a:1", "email": "undated@a.com"},
            {"record_key": "a:2", "email": "dated@a.com", "source_updated_at": on(2001)},
        ],
        ("dated@a.com", "a:2", "most_recent"),
        id="most_recent-undated-loses",
    ),
    pytest.param(
        ["most_complete"],
        [
            {"record_key": "a:1", "email": "thin@a.com"},
            {"record_key": "a:2", "email": "rich@a.com", "city": "Leeds", "first_name": "Kim"},
        ],
        ("rich@a.com", "a:2", "most_complete"),
        id="most_complete-fullest-record-wins",
    ),
    pytest.param(
        ["most_frequent", "trust_rank"],
        [
            {"record_key": "a:1", "email": "common@a.com", "trust_rank": 9},
            {"record_key": "a:2", "email": "rare@a.com", "trust_rank": 1},
            {"record_key": "a:3", "email": "common@a.com", "trust_rank": 9},
        ],
        ("common@a.com", "a:1", "most_frequent"),
        id="most_frequent-majority-wins",
    ),
    pytest.param(
        ["trust_rank", "most_frequent"],
        [
            {"record_key": "a:1", "email": "common@a.com", "trust_rank": 9},
            {"record_key": "a:2", "email": "rare@a.com", "trust_rank": 1},
            {"record_key": "a:3", "email": "common@a.com", "trust_rank": 9},
        ],
        ("rare@a.com", "a:2", "trust_rank"),
        id="rule-order-decides",
    ),
    pytest.param(
        ["longest"],
        [
            {"record_key": "a:1", "email": "k@a.com"},
            {"record_key": "a:2", "email": "kimberley@a.com"},
        ],
        ("kimberley@a.com", "a:2", "longest"),
        id="longest-wins",
    ),
    pytest.param(
        ["trust_rank"],
        [
            {"record_key": "a:1", "email": "bad@", "trust_rank": 1, "invalid_fields": ["email"]},
            {"record_key": "a:2", "email": "ok@a.com", "trust_rank": 9},
        ],
        ("ok@a.com", "a:2", "valid_first"),
        id="invalid-never-wins-even-unlisted",
    ),
    pytest.param(
        ["valid_first", "most_frequent"],
        [
            {"record_key": "a:1", "email": "bad@", "invalid_fields": ["email"]},
            {"record_key": "a:2", "email": "bad@", "invalid_fields": ["email"]},
            {"record_key": "a:3", "email": "ok@a.com", "invalid_fields": ["phone"]},
        ],
        ("ok@a.com", "a:3", "valid_first"),
        id="valid_first-beats-frequency",
    ),
    pytest.param(
        ["trust_rank", "most_recent"],
        [{"record_key": "z:9", "email": "z@a.com"}, {"record_key": "a:5", "email": "a@a.com"}],
        ("a@a.com", "a:5", "record_key"),
        id="full-tie-lowest-record-key",
    ),
    pytest.param(
        ["trust_rank"],
        [
            {"record_key": "a:1", "email": "same@a.com", "trust_rank": 3},
            {"record_key": "a:2", "email": "same@a.com", "trust_rank": 1},
        ],
        ("same@a.com", "a:2", "unanimous"),
        id="unanimous-best-record-credited",
    ),
    pytest.param(
        ["trust_rank"],
        [
            {"record_key": "a:1", "email": None, "trust_rank": 1},
            {"record_key": "a:2", "email": "only@a.com", "trust_rank": 9},
        ],
        ("only@a.com", "a:2", "only_value"),
        id="null-never-wins",
    ),
]


@pytest.mark.parametrize(("rules", "rows", "expected"), RULE_CASES)
def test_each_rule_picks_the_value_and_names_itself(
    rules: list[str], rows: list[dict[str, Any]], expected: tuple[str, str, str]
) -> None:
    assert winner(records(*rows), email_unit(*rules)) == expected


def test_a_group_comes_from_one_record_and_is_never_mixed() -> None:
    frame = records(
        {
            "record_key": "crm:1",
            "trust_rank": 1,
            "address_line1": "1 New Road",
            "city": "Leeds",
            "country": "GB",
        },
        {
            "record_key": "web:1",
            "trust_rank": 5,
            "address_line1": "9 Old Lane",
            "address_line2": "Flat 2",
            "city": "York",
            "postcode": "YO1 7HH",
            "country": "GB",
        },
    )
    units = SurvivorshipConfig(default=["trust_rank"]).units()
    result = survive(frame, units)
    row = result.values.to_dicts()[0]
    assert (row["address_line1"], row["city"]) == ("1 New Road", "Leeds")
    assert row["address_line2"] is None and row["postcode"] is None  # not borrowed from web:1
    prov = result.provenance.filter(pl.col("field").is_in(["address_line1", "city", "country"]))
    assert set(prov["source_record_id"]) == {"1"} and set(prov["source_system"]) == {"crm"}
    assert set(prov["rule"]) == {"trust_rank"}


def test_a_group_with_one_invalid_part_loses_to_a_valid_group() -> None:
    frame = records(
        {
            "record_key": "a:1",
            "trust_rank": 1,
            "phone": "+1555",
            "phone_extension": "12",
            "invalid_fields": ["phone"],
        },
        {"record_key": "a:2", "trust_rank": 9, "phone": "+442079460000"},
    )
    result = survive(frame, SurvivorshipConfig(default=["trust_rank"]).units())
    assert result.values.select("phone", "phone_extension").row(0) == ("+442079460000", None)
    assert result.provenance.filter(pl.col("field") == "phone")["rule"].item() == "valid_first"


def test_most_complete_for_a_group_counts_the_group_fields_first() -> None:
    frame = records(
        {
            "record_key": "a:1",
            "first_name": "Kim",
            "email": "k@a.com",
            "city": "Leeds",
            "phone": "+447700900001",
        },
        {"record_key": "a:2", "first_name": "Kim", "middle_name": "Jo", "last_name": "Park"},
    )
    result = survive(frame, SurvivorshipConfig(default=["most_complete"]).units())
    assert result.values.select("first_name", "middle_name", "last_name").row(0) == (
        "Kim",
        "Jo",
        "Park",
    )


def test_every_golden_field_with_a_value_has_exactly_one_provenance_row() -> None:
    frame = pl.concat(
        [
            records(
                {
                    "record_key": "a:1",
                    "first_name": "Ann",
                    "email": "ann@a.com",
                    "date_of_birth": date(1990, 5, 1),
                },
                {"record_key": "b:1", "first_name": "Anne", "city": "Paris", "country": "FR"},
                golden_id="G-1",
            ),
            records({"record_key": "a:2", "email": "bo@b.com"}, golden_id="G-2"),
            records({"record_key": "a:3"}, golden_id="G-3"),
        ]
    )
    result = survive(frame, SurvivorshipConfig().units())
    assert result.values["golden_id"].to_list() == ["G-1", "G-2", "G-3"]
    filled = (
        result.values.unpivot(index="golden_id", on=list(GOLDEN_FIELDS), variable_name="field")
        .filter(pl.col("value").is_not_null())
        .select("golden_id", "field")
        .sort("golden_id", "field")
    )
    assert result.provenance.select("golden_id", "field").equals(filled)
    assert result.values.filter(pl.col("golden_id") == "G-1")["date_of_birth"].item() == date(
        1990, 5, 1
    )


def test_pins_override_the_rules_and_say_so_in_provenance() -> None:
    frame = records(
        {
            "record_key": "a:1",
            "email": "x@a.com",
            "city": "Leeds",
            "date_of_birth": date(1990, 1, 1),
        },
        {"record_key": "a:2", "email": "x@a.com"},
    )
    pins = pl.DataFrame(
        {
            "golden_id": ["G-1", "G-1", "G-unknown"],
            "field": ["email", "date_of_birth", "email"],
            "value": ["right@a.com", "1991-02-03", "nobody@a.com"],
            "decision_id": ["D-1", "D-2", "D-3"],
        }
    )
    result = survive(frame, SurvivorshipConfig().units(), pins)
    row = result.values.to_dicts()[0]
    assert (row["email"], row["date_of_birth"], row["city"]) == (
        "right@a.com",
        date(1991, 2, 3),
        "Leeds",
    )
    prov = {r["field"]: r for r in result.provenance.to_dicts()}
    assert prov["email"] | {"golden_id": None} == {
        "golden_id": None,
        "field": "email",
        "source_system": "steward",
        "source_record_id": "D-1",
        "rule": "steward_pin",
    }
    assert prov["date_of_birth"]["rule"] == "steward_pin"
    assert prov["city"]["rule"] == "only_value"
    assert result.values.height == 1  # a pin on an id not in this run adds nothing


def test_survivorship_is_deterministic_whatever_the_input_order() -> None:
    rows = [
        {
            "record_key": f"s:{i}",
            "email": f"e{i % 3}@a.com",
            "first_name": f"N{i % 2}",
            "trust_rank": i % 2,
            "source_updated_at": on(2000 + i % 4),
        }
        for i in range(12)
    ]
    frame = records(*rows)
    expected = survive(frame, SurvivorshipConfig().units())
    for seed in range(3):
        shuffled = survive(
            frame.sample(fraction=1.0, shuffle=True, seed=seed), SurvivorshipConfig().units()
        )
        assert shuffled.values.equals(expected.values)
        assert shuffled.provenance.equals(expected.provenance)


def test_provenance_credits_a_record_that_holds_the_golden_value() -> None:
    rng = random.Random(3)
    rows = []
    for i in range(400):
        rows.append(
            {
                "golden_id": f"G-{rng.randrange(120):03d}",
                "record_key": f"{rng.choice('abc')}:{i}",
                "first_name": rng.choice(["Ann", "Bo", None]),
                "email": rng.choice(["a@x.com", "b@x.com", None]),
                "city": rng.choice(["Leeds", "York", None]),
                "trust_rank": rng.randrange(3),
                "source_updated_at": rng.choice([on(2020), on(2022), None]),
                "invalid_fields": rng.choice([[], ["email"]]),
            }
        )
    frame = pl.concat([records(row, golden_id=row["golden_id"]) for row in rows])
    result = survive(frame, SurvivorshipConfig().units())
    fields = ("first_name", "email", "city")
    credited = result.provenance.join(
        frame.select(
            "golden_id", "source_system", "source_record_id", *fields, pl.lit(True).alias("found")
        ),
        on=["golden_id", "source_system", "source_record_id"],
        how="left",
    ).join(result.values, on="golden_id", suffix="_golden")
    assert credited.height == result.provenance.height
    assert credited["found"].is_not_null().all()  # the credited record is one of the customer's
    for field in fields:
        rows_of_field = credited.filter(pl.col("field") == field)
        assert rows_of_field.height > 50
        assert rows_of_field[field].eq_missing(rows_of_field[f"{field}_golden"]).all(), field
