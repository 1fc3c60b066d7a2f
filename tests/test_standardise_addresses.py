"""Addresses: single lines split, parts tidied, countries to ISO alpha-2, postcodes per country,
matching keys with USPS-style abbreviations; the raw value is always kept."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.schema import MAPPABLE_FIELDS
from pipelines.standardise import standardise_addresses, to_alpha2


def run(default_country: str | None = None, **raw: str | None) -> dict[str, object]:
    row = {f"raw_{f}": raw.get(f) for f in MAPPABLE_FIELDS}
    df = pl.DataFrame([row], schema={f"raw_{f}": pl.String for f in MAPPABLE_FIELDS})
    out = standardise_addresses(df, default_country=default_country).row(0, named=True)
    for f in MAPPABLE_FIELDS:
        assert out[f"raw_{f}"] == raw.get(f)
    return out


PARTS = ("address_line1", "address_line2", "city", "region", "postcode", "country")


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        pytest.param(
            "12 North Main Street Apt 4, Springfield, IL 62704-1234, USA",
            ("12 North Main Street Apt 4", None, "Springfield", "IL", "62704-1234", "US"),
            id="us-zip4-country",
        ),
        pytest.param(
            "1600 PENNSYLVANIA AVE NW, WASHINGTON, DC 20500",
            ("1600 Pennsylvania Ave NW", None, "Washington", "DC", "20500", "US"),
            id="us-shouted-no-country",
        ),
        pytest.param(
            "350 Fifth Avenue, Suite 300, New York, New York 10118",
            ("350 Fifth Avenue", "Suite 300", "New York", "NY", "10118", "US"),
            id="us-line2-state-name",
        ),
        pytest.param(
            "5 Main St, Boston, MA 2134",
            ("5 Main St", None, "Boston", "MA", "02134", "US"),
            id="us-zip-lost-leading-zero",
        ),
        pytest.param(
            "Flat 3, 12 High Street, Oxford OX1 4AB, United Kingdom",
            ("12 High Street", "Flat 3", "Oxford", None, "OX1 4AB", "GB"),
            id="uk-flat-first",
        ),
        pytest.param(
            "10 Downing St\nLondon\nsw1a2aa",
            ("10 Downing St", None, "London", None, "SW1A 2AA", "GB"),
            id="uk-multiline-postcode-implies-country",
        ),
        pytest.param(
            "Hauptstraße 5, 10115 Berlin, Deutschland",
            ("Hauptstraße 5", None, "Berlin", None, "10115", "DE"),
            id="de-local-country-name",
        ),
        pytest.param(
            "12 rue de la Paix, 75002 PARIS, France",
            ("12 rue de la Paix", None, "Paris", None, "75002", "FR"),
            id="fr",
        ),
        pytest.param(
            "Damrak 1, 1012LM Amsterdam, NL",
            ("Damrak 1", None, "Amsterdam", None, "1012 LM", "NL"),
            id="nl-postcode-letters",
        ),
        pytest.param(
            "100 Queen St W, Toronto, ON M5H2N2, Canada",
            ("100 Queen St W", None, "Toronto", "ON", "M5H 2N2", "CA"),
            id="ca",
        ),
        pytest.param(
            "ul. Marszałkowska 10, 00-590 Warszawa, Polska",
            ("ul. Marszałkowska 10", None, "Warszawa", None, "00-590", "PL"),
            id="pl",
        ),
        pytest.param(
            "Level 2, 1 Martin Place, Sydney NSW 2000, Australia",
            ("Level 2", "1 Martin Place", "Sydney", "NSW", "2000", "AU"),
            id="au-state-before-postcode",
        ),
        pytest.param(
            "6 Church Rd Leeds LS61LP England",
            ("6 Church Rd", None, "Leeds", None, "LS6 1LP", "GB"),
            id="no-commas-uk-country-words",
        ),
        pytest.param(
            "Flat 26 4 High St. London W1D 8BE United Kingdom",
            ("Flat 26 4 High St.", None, "London", None, "W1D 8BE", "GB"),
            id="no-commas-two-word-country",
        ),
        pytest.param(
            "123 Main St Apt 4 Springfield IL 62704",
            ("123 Main St Apt 4", None, "Springfield", "IL", "62704", "US"),
            id="no-commas-us",
        ),
        pytest.param(
            "4 ch. des Lilas 75005 Paris France",
            ("4 ch. des Lilas", None, "Paris", None, "75005", "FR"),
            id="no-commas-continental",
        ),
        pytest.param(
            "12 Main Street Jersey City NJ 07302",
            ("12 Main Street", None, "Jersey City", "NJ", "07302", "US"),
            id="town-named-like-a-country-stays-a-town",
        ),
    ],
)
def test_single_line_addresses_are_split(address: str, expected: tuple) -> None:
    out = run(address=address)
    assert tuple(out[p] for p in PARTS) == expected


def test_own_columns_win_over_the_single_line() -> None:
    out = run(address="1 Old Rd, Oldtown, CA 90001", address_line1="2 New Rd", city="Newtown")
    assert (out["address_line1"], out["city"]) == ("2 New Rd", "Newtown")


def test_continental_layout_does_not_take_a_postcode_last_default_country() -> None:
    out = run(default_country="US", address="7 rue de la Paix, 75003 Paris")
    assert (out["city"], out["postcode"], out["country"]) == ("Paris", "75003", None)


def test_a_short_postcode_beside_a_us_looking_region_keeps_the_declared_country() -> None:
    # "VI" is a typo of Victoria here, not the Virgin Islands: a four-digit postcode is only
    # a ZIP that lost its leading zero when nothing declares another country.
    out = run(default_country="AU", city="Hoppers Crossing", region="vi", postcode="6448")
    assert (out["country"], out["postcode"]) == ("AU", "6448")
    out = run(city="Hartford", region="CT", postcode="6103")
    assert (out["country"], out["postcode"]) == ("US", "06103")
    out = run(default_country="AU", city="Boston", region="MA", postcode="02134")
    assert out["country"] == "US"


@pytest.mark.parametrize(
    ("region", "expected"),
    [("nsw", "NSW"), ("Vic", "VIC"), ("queensland", "QLD"), ("Western Australia", "WA")],
)
def test_australian_states_become_their_codes(region: str, expected: str) -> None:
    out = run(default_country="AU", city="Sydney", region=region, postcode="2000")
    assert (out["region"], out["country"]) == (expected, "AU")


def test_default_country_applies_only_to_records_with_an_address() -> None:
    assert run(default_country="DE", city="Köln", postcode="50667")["country"] == "DE"
    assert run(default_country="DE", phone="123")["country"] is None


@pytest.mark.parametrize(
    ("text", "code"),
    [
        pytest.param("UK", "GB", id="uk"),
        pytest.param("U.S.A.", "US", id="usa-dots"),
        pytest.param("united states of america", "US", id="long-us"),
        pytest.param("GBR", "GB", id="alpha3"),
        pytest.param("Deutschland", "DE", id="german-name"),
        pytest.param("Allemagne", "DE", id="french-name"),
        pytest.param("Россия", "RU", id="cyrillic"),
        pytest.param("中国", "CN", id="chinese"),
        pytest.param("Holland", "NL", id="alias"),
        pytest.param("Korea, Republic of", "KR", id="iso-comma-form"),
        pytest.param("Côte d’Ivoire", "CI", id="accents-and-curly-apostrophe"),
        pytest.param("Narnia", None, id="unknown"),
    ],
)
def test_countries_to_alpha2(text: str, code: str | None) -> None:
    out = to_alpha2(pl.DataFrame({"c": [text]}), "c", "code")
    assert out["code"].item() == code


def test_unknown_country_is_flagged_not_guessed() -> None:
    out = run(city="Paris", country="Narnia", default_country="FR")
    assert out["country"] is None
    assert out["invalid_country"] is True


@pytest.mark.parametrize(
    ("postcode", "country", "canonical", "key", "invalid"),
    [
        pytest.param("02134", "US", "02134", "02134", False, id="us-leading-zero-kept"),
        pytest.param("2134", "US", "02134", "02134", False, id="us-leading-zero-restored"),
        pytest.param("02134-1234", "US", "02134-1234", "02134", False, id="us-zip4-key-zip5"),
        pytest.param("021341234", "US", "02134-1234", "02134", False, id="us-zip4-no-hyphen"),
        pytest.param("ABCDE", "US", None, None, True, id="us-invalid"),
        pytest.param("sw1a2aa", "GB", "SW1A 2AA", "SW1A2AA", False, id="uk-spacing"),
        pytest.param("EC1A  1BB", "GB", "EC1A 1BB", "EC1A1BB", False, id="uk-double-space"),
        pytest.param("M1 1AE", "GB", "M1 1AE", "M11AE", False, id="uk-short-outward"),
        pytest.param("12345", "GB", None, None, True, id="uk-invalid"),
        pytest.param("k1a0b1", "CA", "K1A 0B1", "K1A0B1", False, id="ca"),
        pytest.param("01067", "DE", "01067", "01067", False, id="de-leading-zero"),
        pytest.param("1067", "DE", "01067", "01067", False, id="de-leading-zero-restored"),
        pytest.param("800", "AU", "0800", "0800", False, id="au-leading-zero-restored"),
        pytest.param("123", "AT", None, None, True, id="at-never-starts-with-zero"),
        pytest.param("12", "DE", None, None, True, id="de-too-short"),
        pytest.param("00590", "PL", "00-590", "00590", False, id="pl-hyphen"),
        pytest.param("1000 001", "PT", "1000-001", "1000001", False, id="pt"),
        pytest.param("11455", "SE", "114 55", "11455", False, id="se"),
        pytest.param("d02 x285", "IE", "D02 X285", "D02X285", False, id="ie-eircode"),
        pytest.param("100-0001", "JP", "100-0001", "1000001", False, id="jp"),
        pytest.param("ab 12", None, "AB 12", "AB12", False, id="no-country-kept-tidy"),
    ],
)
def test_postcodes_per_country(
    postcode: str, country: str | None, canonical: str | None, key: str | None, invalid: bool
) -> None:
    out = run(postcode=postcode, country=country, city="X")
    assert out["postcode"] == canonical
    assert out["mk_postcode"] == key
    assert out["invalid_postcode"] is invalid


@pytest.mark.parametrize(
    ("a", "b", "same_order"),
    [
        pytest.param(
            {"address_line1": "12 North Main Street Apartment 4"},
            {"address_line1": "12 N. Main St.", "address_line2": "#4"},
            True,
            id="street-direction-unit",
        ),
        pytest.param(
            {"address_line1": "Flat 2, 7 Church Road"},
            {"address_line1": "7 church rd flat 2"},
            False,
            id="uk-flat-order-differs-words-agree",
        ),
        pytest.param(
            {"address_line1": "Hauptstraße 5"},
            {"address_line1": "HAUPTSTRASSE 5"},
            True,
            id="german-eszett",
        ),
        pytest.param(
            {"address_line1": "500 Oak Boulevard Suite 10"},
            {"address_line1": "500 OAK BLVD STE 10"},
            True,
            id="boulevard-suite",
        ),
    ],
)
def test_address_keys_agree_across_spellings(a: dict, b: dict, same_order: bool) -> None:
    ka, kb = run(**a)["mk_address"], run(**b)["mk_address"]
    assert sorted(ka.split()) == sorted(kb.split())
    if same_order:
        assert ka == kb


def test_house_number_and_city_keys() -> None:
    out = run(address_line1="221B Baker Street", city="SAINT LOUIS")
    assert out["mk_house_number"] == "221b"
    assert out["mk_city"] == "st louis"
    assert run(address_line1="Hauptstraße 5")["mk_house_number"] == "5"


def test_city_without_letters_is_flagged() -> None:
    out = run(address_line1="1 Main St", city="12345")
    assert out["city"] is None and out["invalid_city"] is True
