"""Placeholder values read as missing (never invalid, never the customer's), and values over
sane limits or carrying markup held back by the canonical suite with a reason."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from pipelines.standardise.frame import standardise_frame, standardise_with_report
from pipelines.standardise.placeholders import PlaceholderConfig
from pipelines.validate import validate_staged
from pipelines.validate.synthetic import RUN_ID, staged_frame
from pipelines.warehouse import Warehouse
from tests.test_validate_stage import REPO, write_config


def standardised(**raw: list[str | None]) -> pl.DataFrame:
    rows = len(next(iter(raw.values())))
    frame = pl.DataFrame({"record_key": [f"r{i}" for i in range(rows)], **raw})
    return standardise_frame(frame)


@pytest.mark.parametrize(
    "raw", ["1900-01-01", "01/01/1900", "1753-01-01", "9999-12-31"], ids=lambda r: r
)
def test_a_placeholder_birth_date_is_missing_not_a_birth_date(raw: str) -> None:
    out = standardised(raw_date_of_birth=[raw, "1980-02-03"])
    assert out["date_of_birth"].to_list()[0] is None
    assert out["mk_dob"].to_list()[0] is None
    assert out["invalid_fields"].to_list()[0] == []
    assert str(out["date_of_birth"].to_list()[1]) == "1980-02-03"


@pytest.mark.parametrize(
    "raw",
    ["test@test.com", "TEST@Test.com ", "noemail@acme.com", "nobody@noemail.com", "n/a"],
)
def test_a_placeholder_email_is_missing_and_links_nobody(raw: str) -> None:
    out = standardised(raw_email=[raw])
    assert out.row(0, named=True)["email"] is None
    assert out.row(0, named=True)["mk_email"] is None
    assert out.row(0, named=True)["invalid_fields"] == []


@pytest.mark.parametrize("raw", ["000-000-0000", "+1 999 999 9999", "123-456-7890 x12", "0000000"])
def test_a_placeholder_phone_is_missing_and_links_nobody(raw: str) -> None:
    row = standardised(raw_phone=[raw]).row(0, named=True)
    assert row["phone"] is None and row["mk_phone"] is None and row["phone_extension"] is None
    assert row["invalid_fields"] == []


def test_a_real_value_beside_a_placeholder_is_kept() -> None:
    out = standardised(
        raw_phone=["(212) 555-0100", "000-000-0000"],
        raw_email=["ann@example.org", "unknown"],
        raw_first_name=["Ann", "xxx"],
    )
    assert out["phone"].to_list() == ["+12125550100", None]
    assert out["email"].to_list() == ["ann@example.org", None]
    assert out["first_name"].to_list() == ["Ann", None]


def test_the_placeholder_lists_are_configurable() -> None:
    frame = pl.DataFrame(
        {"record_key": ["a", "b"], "raw_email": ["ann@dummy.org", "test@test.com"]}
    )
    config = PlaceholderConfig(emails=[], email_domains=["dummy.org"])
    out, _ = standardise_with_report(frame, placeholders=config)
    assert out["email"].to_list() == [None, "test@test.com"]


def test_an_over_long_or_marked_up_value_is_quarantined_with_its_reason(tmp_path: Path) -> None:
    config = write_config(tmp_path, REPO / "expectations")
    frame = staged_frame(200, seed=3, bad_share=0.0)
    keys = frame["record_key"].to_list()
    long_email = "a" * 1_000_000 + "@example.com"
    key = pl.col("record_key")
    frame = frame.with_columns(
        # Standardisation keeps an invalid email's text (flagged) and drops angle brackets.
        pl.when(key == keys[0])
        .then(pl.lit(long_email))
        .when(key == keys[1])
        .then(pl.lit("/script"))
        .otherwise(pl.col("email"))
        .alias("email"),
        pl.when(key == keys[0])
        .then(pl.lit(long_email))
        .when(key == keys[1])
        .then(pl.lit("<script>alert(1)</script>@x.com"))
        .when(key == keys[3])
        .then(pl.lit("Ann Lee <ann@example.org>"))
        .otherwise(pl.col("raw_email"))
        .alias("raw_email"),
        pl.when(key == keys[2])
        .then(pl.lit('Ann <img src=x onerror="alert(1)">'))
        .otherwise(pl.col("address_line1"))
        .alias("address_line1"),
    )
    path = Warehouse(config.warehouse.path).staged(RUN_ID)
    path.parent.mkdir(parents=True)
    frame.write_parquet(path)

    result = validate_staged(config, RUN_ID)

    quarantine = pl.read_parquet(result.quarantine_path)
    held = quarantine.filter(pl.col("record_key").is_in(keys[:4]))
    by_key = {k: set(held.filter(pl.col("record_key") == k)["column"]) for k in keys[:4]}
    assert "email" in by_key[keys[0]]
    assert "raw_email" in by_key[keys[1]]
    assert "address_line1" in by_key[keys[2]]
    assert by_key[keys[3]] == set(), "a mail program's 'Name <address>' is not markup"
    reasons = " ".join(held["reason"].to_list())
    assert "254" in reasons
    accepted = pl.read_parquet(result.accepted_path)
    assert not set(keys[:3]) & set(accepted["record_key"].to_list())
    assert result.rows_in == result.accepted + result.quarantined
