"""Consensus survivorship: each case seen in published golden records (issue 18), pinned.

Every test builds a customer's records as the standardiser leaves them and checks the golden
value, its status and the provenance rule that decided it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import polars as pl

from pipelines.golden.config import SurvivorshipConfig
from pipelines.golden.survivorship import RECORD_COLUMNS, survive
from tests.test_golden_survivorship import SCHEMA


def on(year: int, month: int = 1) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def customer(*rows: dict[str, Any], golden_id: str = "G-1") -> pl.DataFrame:
    filled = []
    for row in rows:
        source, record_id = row["record_key"].split(":")
        base = dict.fromkeys(RECORD_COLUMNS)
        base.update(
            golden_id=golden_id,
            source_system=source,
            source_record_id=record_id,
            trust_rank=2,
            invalid_fields=[],
        )
        base.update(row)
        filled.append(base)
    return pl.DataFrame(filled, schema=SCHEMA)


def golden(frame: pl.DataFrame) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    result = survive(frame, SurvivorshipConfig().units())
    row = result.values.to_dicts()[0]
    provenance = {r["field"]: r for r in result.provenance.to_dicts()}
    return row, provenance


ADDRESS = {"city": "Leeds", "postcode": "LS1 4AP", "country": "GB"}


def test_the_newest_record_with_a_blank_street_does_not_blank_the_address() -> None:
    row, prov = golden(
        customer(
            {"record_key": "crm:1", "address_line1": "12 Park Lane", **ADDRESS,
             "source_updated_at": on(2021)},
            {"record_key": "shop:1", "address_line1": None, **ADDRESS,
             "source_updated_at": on(2024)},
        )
    )  # fmt: skip
    assert row["address_line1"] == "12 Park Lane"
    assert prov["address_line1"]["rule"] == "filled_first"
    assert row["address_status"] == "valid"


def test_a_nickname_in_the_newest_record_loses_to_the_full_name() -> None:
    row, prov = golden(
        customer(
            {"record_key": "crm:1", "first_name": "Robert", "last_name": "Smith",
             "mk_first_name_canonical": "robert", "source_updated_at": on(2020)},
            {"record_key": "shop:1", "first_name": "Bob", "last_name": "Smith",
             "mk_first_name_canonical": "robert", "source_updated_at": on(2024), "trust_rank": 1},
        )
    )  # fmt: skip
    assert row["first_name"] == "Robert"
    assert prov["first_name"]["source_system"] == "crm"
    assert prov["first_name"]["rule"] == "full_form"


def test_a_one_off_typo_loses_to_the_name_the_other_records_agree_on() -> None:
    records = [
        {"record_key": "crm:1", "first_name": "Brenda", "last_name": "Lee",
         "source_updated_at": on(2020)},
        {"record_key": "web:1", "first_name": "Brenda", "last_name": "Lee",
         "source_updated_at": on(2021)},
        {"record_key": "shop:1", "first_name": "Bfenda", "last_name": "Lee",
         "source_updated_at": on(2024), "trust_rank": 1},
    ]  # fmt: skip
    row, prov = golden(customer(*records))
    assert row["first_name"] == "Brenda"
    assert prov["first_name"]["rule"] == "agreement"
    # With one record each, the name the lexicon knows wins over the typo.
    row, prov = golden(customer(records[0], records[2]))
    assert row["first_name"] == "Brenda"
    assert prov["first_name"]["rule"] == "full_form"


def test_an_initial_never_beats_the_full_given_name() -> None:
    row, _ = golden(
        customer(
            {"record_key": "crm:1", "first_name": "R", "last_name": "Smith",
             "source_updated_at": on(2024), "trust_rank": 1},
            {"record_key": "web:1", "first_name": "Rosalind", "last_name": "Smith",
             "source_updated_at": on(2019)},
        )
    )  # fmt: skip
    assert row["first_name"] == "Rosalind"


def test_accents_and_full_city_names_win_and_abbreviations_are_spelled_out() -> None:
    koeln = {"postcode": "50667", "country": "DE", "address_line1": "Prager Straße 5"}
    row, prov = golden(
        customer(
            {"record_key": "crm:1", **koeln, "city": "Köln", "source_updated_at": on(2020)},
            {"record_key": "shop:1", **koeln, "city": "Koeln", "address_line1": "Prager Strasse 5",
             "source_updated_at": on(2024)},
        )
    )  # fmt: skip
    assert (row["city"], row["address_line1"]) == ("Köln", "Prager Straße 5")
    assert prov["city"]["source_system"] == "crm"

    ny = {"postcode": "10001", "country": "US", "address_line1": "5 Main Street"}
    row, _ = golden(
        customer(
            {"record_key": "crm:1", **ny, "city": "New York", "source_updated_at": on(2020)},
            {"record_key": "shop:1", **ny, "city": "Nyc", "source_updated_at": on(2024)},
        )
    )
    assert row["city"] == "New York"
    row, _ = golden(customer({"record_key": "shop:1", **ny, "city": "NYC"}))
    assert row["city"] == "New York"  # spelled out even alone; raw_city keeps "NYC"


def test_street_types_and_unit_designators_are_written_one_way() -> None:
    base = {"postcode": "10001", "country": "US", "city": "New York"}
    row, _ = golden(
        customer(
            {"record_key": "crm:1", **base, "address_line1": "12 Mountain Street",
             "address_line2": "Apt. 35", "source_updated_at": on(2020)},
            {"record_key": "shop:1", **base, "address_line1": "12 Mountain Str",
             "source_updated_at": on(2024)},
        )
    )  # fmt: skip
    assert (row["address_line1"], row["address_line2"]) == ("12 Mountain Street", "Apt 35")
    row, _ = golden(customer({"record_key": "crm:1", **base, "address_line1": "9 Elm St Apt 13"}))
    assert (row["address_line1"], row["address_line2"]) == ("9 Elm St", "Apt 13")


def test_a_record_with_swapped_names_is_read_the_right_way_round() -> None:
    row, prov = golden(
        customer(
            {"record_key": "crm:1", "first_name": "Müller", "last_name": "Monika",
             "trust_rank": 1, "source_updated_at": on(2024)},
            {"record_key": "web:1", "first_name": "Monika", "last_name": "Müller",
             "trust_rank": 5, "source_updated_at": on(2020)},
        )
    )  # fmt: skip
    assert (row["first_name"], row["last_name"]) == ("Monika", "Müller")
    assert prov["first_name"]["source_system"] == "web"  # read right, all records agree
    # Alone against a record of its own orientation, the swapped one still reads right.
    row, prov = golden(
        customer(
            {"record_key": "crm:1", "first_name": "Müller", "last_name": "Monika",
             "trust_rank": 1, "source_updated_at": on(2024)},
            {"record_key": "crm:2", "first_name": "Müller", "last_name": "Monika",
             "trust_rank": 1, "source_updated_at": on(2023)},
            {"record_key": "web:1", "first_name": "Monika", "last_name": "Müller",
             "trust_rank": 5, "source_updated_at": on(2020)},
        )
    )  # fmt: skip
    assert (row["first_name"], row["last_name"]) == ("Monika", "Müller")
    assert prov["first_name"]["rule"] == "unanimous"
    # A swapped record that alone holds a part is credited as read the right way round.
    row, prov = golden(
        customer(
            {"record_key": "crm:1", "first_name": "Müller", "last_name": "Monika",
             "middle_name": "Anna", "trust_rank": 1},
            {"record_key": "web:1", "first_name": "Monika", "last_name": "Müller", "trust_rank": 5},
        )
    )  # fmt: skip
    assert (row["first_name"], row["middle_name"], row["last_name"]) == ("Monika", "Anna", "Müller")


def test_an_invalid_email_is_published_only_without_a_valid_one_and_then_flagged() -> None:
    bad = {"record_key": "crm:1", "email": "monika@hoffmann", "invalid_fields": ["email"],
           "source_updated_at": on(2024), "trust_rank": 1}  # fmt: skip
    row, _ = golden(customer(bad))
    assert (row["email"], row["email_status"]) == ("monika@hoffmann", "invalid")
    row, prov = golden(
        customer(bad, {"record_key": "web:1", "email": "monika@hoffmann.de",
                       "source_updated_at": on(2019)})
    )  # fmt: skip
    assert (row["email"], row["email_status"]) == ("monika@hoffmann.de", "valid")
    assert prov["email"]["rule"] == "valid_first"


def test_a_possible_but_unassigned_phone_is_kept_as_unverified() -> None:
    unassigned = {"phone": None, "mk_phone": "15550100123", "invalid_fields": ["phone"]}
    row, prov = golden(
        customer(
            {"record_key": "crm:1", **unassigned},
            {"record_key": "web:1", **unassigned},
        )
    )
    assert (row["phone"], row["phone_status"]) == ("+15550100123", "unverified")
    assert prov["phone"]["rule"] == "unanimous"
    row, _ = golden(
        customer(
            {"record_key": "crm:1", **unassigned}, {"record_key": "web:1", "phone": "+442079460958"}
        )
    )
    assert (row["phone"], row["phone_status"]) == ("+442079460958", "valid")


def test_statuses_and_completeness_describe_the_golden_row() -> None:
    row, _ = golden(
        customer(
            {"record_key": "crm:1", "first_name": "Ann", "last_name": "Lee",
             "email": "ann@example.org", "date_of_birth": date(1980, 2, 3),
             "city": "Leeds", "country": "GB"},
            {"record_key": "web:1", "first_name": "Ann", "last_name": "Lee",
             "date_of_birth": date(1980, 3, 2)},
        )
    )  # fmt: skip
    assert row["email_status"] == "valid"
    assert row["phone_status"] is None
    assert row["address_status"] == "unverified"  # no street line or postcode
    assert row["date_of_birth_status"] == "unverified"  # the records disagree
    assert row["completeness"] == round(6 / 9, 3)  # names, email, city, country, birth date


def test_an_older_records_umlaut_beats_the_newest_records_transcription() -> None:
    # Muenchen, Zuerich, Koeln: the newest record wins the address (latest_value) and every
    # record of that address agrees on it, but its city is shown as the record spelling it
    # with the umlaut spells it; an older address in another country stays out of it.
    cases = [
        ("DE", "80331", "München", "Muenchen", "Marienplatz 8"),
        ("CH", "8001", "Zürich", "Zuerich", "Bahnhofstrasse 3"),
        ("DE", "50667", "Köln", "Koeln", "Hohe Str 1"),
        ("AT", "2340", "Mödling", "Moedling", "Hauptstraße 2"),
    ]
    for country, postcode, umlaut, ascii_form, street in cases:
        address = {"postcode": postcode, "country": country, "address_line1": street}
        row, prov = golden(
            customer(
                {"record_key": "crm:1", **address, "city": umlaut, "source_updated_at": on(2020)},
                {"record_key": "shop:1", **address, "city": ascii_form,
                 "source_updated_at": on(2024)},
                {"record_key": "web:1", "address_line1": "1 Main St", "city": "Boston",
                 "postcode": "02101", "country": "US", "source_updated_at": on(2019)},
            )
        )  # fmt: skip
        assert (row["city"], row["country"], row["postcode"]) == (umlaut, country, postcode)
        assert prov["city"]["source_system"] == "crm", country
        assert prov["postcode"]["source_system"] in {"crm", "shop"}, country


def test_the_transcription_alone_is_published_as_typed_not_guessed() -> None:
    # Without a record spelling it with the umlaut there is no evidence: nothing is invented.
    row, prov = golden(
        customer(
            {"record_key": "shop:1", "city": "Muenchen", "postcode": "80331", "country": "DE",
             "address_line1": "Marienplatz 8"},
        )
    )  # fmt: skip
    assert row["city"] == "Muenchen"
    assert prov["city"]["rule"] == "only_value"


def test_a_lone_abbreviated_street_is_kept_as_typed_with_its_unit_written_one_way() -> None:
    # Street types are only chosen among the customer's spellings (``_display_score``), never
    # expanded on their own; unit designators are always written one way. So "Mountain Str"
    # with no better-spelled record comes out the same in every country.
    for country, postcode, city in [("US", "80202", "Denver"), ("DE", "80331", "München"),
                                    ("GB", "LS1 4AP", "Leeds")]:  # fmt: skip
        place = {"postcode": postcode, "country": country, "city": city}
        row, prov = golden(
            customer(
                {"record_key": "shop:1", **place, "address_line1": "12 Mountain Str",
                 "address_line2": "apt. 5"},
            )
        )  # fmt: skip
        assert (row["address_line1"], row["address_line2"]) == ("12 Mountain Str", "Apt 5")
        assert prov["address_line1"]["rule"] == "only_value"
        assert row["address_status"] == "valid"
        # The unit typed at the end of the street line, in another record: the same form.
        row, _ = golden(
            customer(
                {"record_key": "crm:1", **place, "address_line1": "12 Mountain Str Apt. 5"},
                {"record_key": "shop:1", **place, "address_line1": "12 Mountain Str"},
            )
        )
        assert (row["address_line1"], row["address_line2"]) == ("12 Mountain Str", "Apt 5")
