"""customer_profile and dq_scorecard: attributes and measures on small frames, both tables from
the golden stage across runs, and the scorecard report rendered offline in headless Chromium."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from pipelines.privacy.config import RoleConfig
from pipelines.privacy.masking import check_role, mask_for
from pipelines.profile.build import build_profile
from pipelines.scorecard.build import run_scorecard, with_history
from pipelines.scorecard.report import render, write_report

AT = datetime(2025, 6, 15, tzinfo=UTC)
TS = pl.Datetime("us", "UTC")


def golden_rows() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "golden_id": ["g1", "g2", "g3"],
            "first_name": ["Ann", None, "Cy"],
            "last_name": ["Lee", "Bo", None],
            "email": ["ann@x.com", None, None],
            "phone": [None, None, "+441234567890"],
            "address_line1": ["1 High St", "2 Low Rd", None],
            "city": ["Leeds", None, None],
            "postcode": [None, "LS1 1AA", None],
            "country": ["GB", "GB", None],
            "region": ["Yorkshire", None, None],
            # 18 on the day; 17 the day before the birthday; none
            "date_of_birth": [date(2007, 6, 15), date(2007, 6, 16), None],
            "source_systems": [["crm", "web"], ["crm"], ["web"]],
            "first_seen_at": [datetime(2025, 6, 5, tzinfo=UTC)] * 3,
            "source_updated_at": [datetime(2025, 1, 1, tzinfo=UTC), None, None],
            "email_status": ["valid", None, None],
            "phone_status": [None, None, "valid"],
            "address_status": ["valid", "unverified", None],
            "completeness": [7 / 9, 5 / 9, 2 / 9],
        },
        schema_overrides={"first_seen_at": TS, "source_updated_at": TS},
    )


def test_profile_attributes_are_derived_from_the_golden_row() -> None:
    profile = build_profile(golden_rows(), "r1", AT)
    rows = {r["golden_id"]: r for r in profile.iter_rows(named=True)}
    assert [rows[g]["age_band"] for g in ("g1", "g2", "g3")] == ["18-24", "under 18", None]
    assert rows["g1"]["tenure_days"] == 10 and rows["g1"]["source_count"] == 2
    assert (rows["g1"]["has_email"], rows["g1"]["has_postal_address"]) == (True, True)
    assert (rows["g2"]["has_postal_address"], rows["g2"]["contactable"]) == (True, True)
    assert (rows["g3"]["has_phone"], rows["g3"]["has_postal_address"]) == (True, False)
    assert rows["g1"]["completeness"] == pytest.approx(7 / 9, abs=1e-4)
    assert rows["g2"]["last_activity_at"] is None  # no source said: nothing made up
    assert profile["golden_id"].is_unique().all()


def test_profile_counts_only_contact_values_survivorship_did_not_judge_invalid() -> None:
    golden = golden_rows().with_columns(
        pl.Series("email_status", ["invalid", None, None]),
        pl.Series("phone_status", [None, None, "unverified"]),
        pl.Series("address_status", ["invalid", "valid", None]),
    )
    rows = {r["golden_id"]: r for r in build_profile(golden, "r1", AT).iter_rows(named=True)}
    assert (rows["g1"]["has_email"], rows["g1"]["has_postal_address"]) == (False, False)
    assert rows["g1"]["contactable"] is False
    assert rows["g3"]["has_phone"] is True  # unverified is still a number to try
    assert rows["g1"]["completeness"] == pytest.approx(7 / 9, abs=1e-4)  # the golden row's own


def test_age_band_is_masked_for_roles_without_date_of_birth() -> None:
    analyst = RoleConfig(
        columns={"golden_id": "none", "age_band": "none", "date_of_birth": "year_only"}
    )
    assert mask_for(analyst, "age_band") == "none"
    service = RoleConfig(columns={"golden_id": "none", "country": "none"})
    assert mask_for(service, "age_band") == "drop"
    with pytest.raises(ValueError, match="date_of_birth"):
        check_role("service", RoleConfig(columns={"golden_id": "none", "age_band": "none"}))


def records() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "record_key": ["crm:1", "crm:2", "crm:3", "web:1"],
            "golden_id": ["g1", "g1", "g2", "g1"],
            "source_system": ["crm", "crm", "crm", "web"],
            "email": ["ann@x.com", "ann@old.com", None, "ann@x.com"],
            "phone": [None, None, None, None],
            "invalid_fields": [[], [], ["email"], []],
            "source_updated_at": [datetime(2025, 6, 1, tzinfo=UTC), None, None, None],
            "ingested_at": [datetime(2020, 1, 1, tzinfo=UTC)] * 4,
        },
        schema_overrides={"source_updated_at": TS, "ingested_at": TS},
    )


def test_scorecard_measures_each_source_and_field() -> None:
    golden = pl.DataFrame(
        {"golden_id": ["g1", "g2"], "email": ["ann@x.com", None], "phone": [None, None]}
    )
    card = run_scorecard(records(), golden, "r1", AT, freshness_days=365)
    assert card.select("run_id", "source_system", "field").is_unique().all()
    crm = {
        r["field"]: r for r in card.filter(pl.col("source_system") == "crm").iter_rows(named=True)
    }
    email = crm["email"]
    assert (email["records"], email["filled"], email["invalid"]) == (3, 2, 1)
    assert email["completeness"] == pytest.approx(2 / 3, abs=1e-4)
    assert email["validity"] == pytest.approx(2 / 3, abs=1e-4)
    assert email["uniqueness"] == 0.0  # both crm emails sit on g1 with another crm record
    assert email["agreement"] == 0.5 and email["freshness"] == 0.5
    assert "phone" not in crm  # a field the source never supplies is not scored
    expected = 100 * (0.25 * 2 / 3 + 0.25 * 2 / 3 + 0.2 * 0 + 0.2 * 0.5 + 0.1 * 0.5)
    assert email["score"] == pytest.approx(expected, abs=0.01)
    assert crm["*"]["score"] == pytest.approx(email["score"], abs=0.01)
    web = card.filter((pl.col("source_system") == "web") & (pl.col("field") == "email")).row(
        0, named=True
    )
    assert (web["uniqueness"], web["agreement"], web["freshness"]) == (1.0, 1.0, 0.0)
    # Earlier runs stay; a rebuilt run replaces its own rows.
    again = with_history(
        with_history(card, card, "r1"), card.with_columns(pl.lit("r2").alias("run_id")), "r2"
    )
    assert sorted(set(again["run_id"])) == ["r1", "r2"] and again.height == 2 * card.height


def test_hostile_source_names_are_escaped_in_the_report() -> None:
    card = run_scorecard(
        records().with_columns(pl.lit("<script>alert(1)</script>").alias("source_system")),
        pl.DataFrame({"golden_id": ["g1"], "email": ["ann@x.com"], "phone": [None]}),
        "r1",
        AT,
        365,
    )
    page = render(card)
    assert "<script>" not in page and "&lt;script&gt;" in page


@pytest.mark.browser
def test_the_scorecard_report_renders_offline_in_headless_chromium(
    chromium: str, tmp_path: Path
) -> None:
    golden = pl.DataFrame(
        {"golden_id": ["g1", "g2"], "email": ["ann@x.com", None], "phone": [None, None]}
    )
    first = run_scorecard(records(), golden, "20250601T000000Z-a", AT, 365)
    second = run_scorecard(records(), golden, "20250602T000000Z-b", AT, 365)
    page = write_report(tmp_path / "wh", with_history(first, second, "20250602T000000Z-b"))
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", f"--user-data-dir={tmp_path / 'profile'}",
        "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
        "--dump-dom", page.as_uri(),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert dom.count("<polyline") == 2  # one line per source across the two runs
    assert "<svg" in dom and "Latest run 20250602T000000Z-b" in dom
    assert "<script" not in dom
    assert not re.search(r"\b(src|href)\s*=", page.read_text()), "no asset outside the file"
