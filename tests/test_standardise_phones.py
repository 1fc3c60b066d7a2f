"""Phones: E.164 in the record's region, extensions split, impossible numbers flagged."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from pipelines.schema import MAPPABLE_FIELDS
from pipelines.standardise import SourceHints, standardise_frame, standardise_phones


def run(raw: str | None, region: str = "US") -> dict[str, object]:
    df = pl.DataFrame(
        {"raw_phone": [raw], "region": [region]},
        schema={"raw_phone": pl.String, "region": pl.String},
    )
    row = standardise_phones(df, "region").row(0, named=True)
    assert row["raw_phone"] == raw
    return row


@pytest.mark.parametrize(
    ("raw", "region", "phone", "extension", "invalid"),
    [
        pytest.param("(212) 555-0100", "US", "+12125550100", None, False, id="us-national"),
        pytest.param("212.555.0100", "US", "+12125550100", None, False, id="us-dots"),
        pytest.param("1-212-555-0100", "US", "+12125550100", None, False, id="us-trunk-1"),
        pytest.param(
            "+1 212 555 0100", "GB", "+12125550100", None, False, id="intl-ignores-region"
        ),
        pytest.param("212-555-0100 ext. 42", "US", "+12125550100", "42", False, id="ext-dot"),
        pytest.param("212 555 0100 x7", "US", "+12125550100", "7", False, id="ext-x"),
        pytest.param("+1 212 555 0100 #123", "US", "+12125550100", "123", False, id="ext-hash"),
        pytest.param("tel:+1-212-555-0100;ext=9", "US", "+12125550100", "9", False, id="rfc3966"),
        pytest.param("020 7946 0958", "GB", "+442079460958", None, False, id="uk-national"),
        pytest.param("+44 (0)20 7946 0958", "US", "+442079460958", None, False, id="uk-bracket-0"),
        pytest.param("0044 20 7946 0958", "GB", "+442079460958", None, False, id="uk-idd-00"),
        pytest.param("011 44 20 7946 0958", "US", "+442079460958", None, False, id="us-idd-011"),
        pytest.param("001-212-555-0100x39", "US", "+12125550100", "39", False, id="us-idd-00"),
        pytest.param("030 1234567", "DE", "+49301234567", None, False, id="de-national"),
        pytest.param("06 12 34 56 78", "FR", "+33612345678", None, False, id="fr-mobile"),
        pytest.param("0412 345 678", "AU", "+61412345678", None, False, id="au-mobile"),
        pytest.param("13800138000", "CN", "+8613800138000", None, False, id="cn-mobile"),
        pytest.param("06 1234 5678", "IT", "+390612345678", None, False, id="it-leading-zero"),
        pytest.param("555-0100", "US", None, None, True, id="too-short"),
        pytest.param("(555) 123-4567", "US", None, None, True, id="unassigned-area-code"),
        pytest.param("12345", "US", None, None, True, id="garbage-digits"),
        pytest.param("+999 123 456", "US", None, None, True, id="no-such-country-code"),
        pytest.param("call me", "US", None, None, True, id="words"),
        pytest.param("N/A", "US", None, None, False, id="placeholder-is-empty"),
        pytest.param(None, "US", None, None, False, id="null"),
    ],
)
def test_phone_rules(
    raw: str | None, region: str, phone: str | None, extension: str | None, invalid: bool
) -> None:
    row = run(raw, region)
    assert row["phone"] == phone
    assert row["phone_extension"] == extension
    assert row["invalid_phone"] is invalid
    assert row["mk_phone"] == (phone[1:] if phone else POSSIBLE.get(raw or ""))


POSSIBLE = {"(555) 123-4567": "15551234567"}
"""Invalid numbers of a possible length: flagged, no E.164, but their digits are a match key."""


def test_a_possible_but_unassigned_number_is_flagged_yet_still_matches_its_twin() -> None:
    df = pl.DataFrame(
        {
            "raw_phone": ["(555) 123-4567", "555.123.4567 x9", "+1 555 123 4567", "555-0100"],
            "region": ["US"] * 4,
        }
    )
    out = standardise_phones(df, "region")
    assert out["phone"].to_list() == [None] * 4
    assert out["invalid_phone"].to_list() == [True] * 4
    assert out["mk_phone"].to_list() == ["15551234567"] * 3 + [None]  # too short: no key


def _record(**raw: str) -> pl.DataFrame:
    row = {f"raw_{f}": raw.get(f) for f in MAPPABLE_FIELDS}
    return pl.DataFrame([row], schema={f"raw_{f}": pl.String for f in MAPPABLE_FIELDS})


def test_country_of_the_address_picks_the_phone_region() -> None:
    df = _record(phone="020 7946 0958", city="London", postcode="SW1A 2AA", country="UK")
    out = standardise_frame(df, SourceHints(default_phone_region="US"), as_of=date(2026, 1, 1))
    assert out["phone"].item() == "+442079460958"


def test_source_default_region_reads_numbers_without_address() -> None:
    df = _record(phone="020 7946 0958")
    out = standardise_frame(df, SourceHints(default_phone_region="GB"), as_of=date(2026, 1, 1))
    assert out["phone"].item() == "+442079460958"
    us = standardise_frame(df, SourceHints(default_phone_region="US"), as_of=date(2026, 1, 1))
    assert us["phone"].item() is None
    assert us["invalid_fields"].item().to_list() == ["phone"]


def _variants(seed: int = 3) -> list[tuple[str, str]]:
    """Numbers near phonenumbers' example numbers, written every way sources write them, with
    digits changed, dropped and added so that many are invalid."""
    import random

    import phonenumbers as pn

    rng = random.Random(seed)
    regions = ["US", "CA", "GB", "DE", "FR", "IT", "NL", "AU", "IN", "CN", "RU", "JP", "BR",
               "MX", "IE", "CH", "SE", "ZA", "AR", "JM", "GG"]  # fmt: skip
    rows: set[tuple[str, str]] = set()
    for region in regions:
        prefix = pn.PhoneMetadata.metadata_for_region(region).national_prefix or ""
        for kind in (pn.PhoneNumberType.FIXED_LINE, pn.PhoneNumberType.MOBILE):
            example = pn.example_number_for_type(region, kind)
            if example is None:
                continue
            national, cc = pn.national_significant_number(example), example.country_code
            for _ in range(12):
                digits = list(national)
                for _ in range(rng.randint(0, 3)):
                    digits[rng.randrange(len(digits))] = str(rng.randint(0, 9))
                if rng.random() < 0.2:
                    digits = digits[:-1]
                n = "".join(digits)
                for form in (
                    f"+{cc}{n}",
                    f"{prefix}{n}",
                    n,
                    f"{cc}{n}",
                    f"+{cc}0{n}",
                    f"00{cc}{n}",
                ):
                    for read_in in (region, "US", "GB"):
                        rows.add((form, read_in))
    return sorted(rows)


def test_vectorised_fast_path_agrees_with_phonenumbers() -> None:
    from pipelines.standardise.phone_fastpath import fast_e164
    from pipelines.standardise.phones import to_e164

    rows = _variants()
    frame = pl.DataFrame(rows, schema=["number", "region"], orient="row")
    out = fast_e164(frame, "number", "region")
    proven = out.filter(pl.col("_fast_e164").is_not_null())
    assert proven.height > len(rows) / 10, "the fast path must cover the ordinary shapes"
    for number, region, e164 in proven.iter_rows():
        assert to_e164(number, region)[0] == e164, (number, region)
    assert out.height == frame.height
    assert out.select("number", "region").equals(frame)
