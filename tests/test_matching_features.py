"""The matching columns derived from staged keys, and the errors for staged records that
cannot be matched."""

from __future__ import annotations

import polars as pl
import pytest

from matching.config import AttributeConfig
from matching.errors import MatchingInputError
from matching.features import KEY_COLUMNS, matching_frame


def staged(n: int, **columns: list[str | None]) -> pl.DataFrame:
    base: dict[str, list[str | None]] = {
        "record_key": [f"crm:{i}" for i in range(n)],
        "source_system": ["crm"] * n,
        **{c: [None] * n for c in KEY_COLUMNS},
    }
    base.update(columns)
    return pl.DataFrame(base, schema=dict.fromkeys(base, pl.String))


def test_a_birth_date_shared_far_beyond_chance_is_a_placeholder_not_a_birthday() -> None:
    spread = [f"19{60 + i % 40}-0{1 + i % 9}-1{i % 10}" for i in range(400)]
    dates = spread + ["1900-01-01"] * 60
    frame = matching_frame(staged(len(dates), mk_dob=dates), max_key_frequency=50)
    assert frame["mk_dob"].null_count() == 60
    assert "1900-01-01" not in frame["mk_dob"].to_list()
    assert frame["dob_year"].null_count() == 60


def test_date_parts_and_the_transposed_date_are_derived() -> None:
    frame = matching_frame(
        staged(3, mk_dob=["1984-03-07", "1984-03-25", "not a date"]), max_key_frequency=50
    )
    row = frame.row(0, named=True)
    assert row["dob_transposed"] == "1984-07-03"
    assert (row["dob_year_month"], row["dob_month_day"], row["dob_year_day"]) == (
        "1984-03",
        "03-07",
        "1984-07",
    )
    assert frame["dob_transposed"][1] is None  # day 25 cannot be a month
    assert frame["mk_dob"][2] is None  # malformed keys are treated as missing


def test_names_in_other_scripts_are_marked_so_they_are_not_compared_letter_by_letter() -> None:
    frame = matching_frame(
        staged(3, mk_first_name=["wei", "伟", None], mk_last_name=["zhang", "张", "smith"]),
        max_key_frequency=50,
    )
    assert frame["first_name_script"].to_list() == ["latin", "other", None]
    assert frame["last_name_script"].to_list() == ["latin", "other", "latin"]


def test_crowded_contact_keys_are_left_out_of_blocking_but_kept_for_scoring() -> None:
    phones = ["18005550100"] * 60 + ["15551230000", "15551230000"]
    frame = matching_frame(staged(len(phones), mk_phone=phones), max_key_frequency=50)
    assert frame["bk_phone"].null_count() == 60
    assert frame["bk_phone"].drop_nulls().to_list() == ["15551230000", "15551230000"]
    assert frame["mk_phone"].null_count() == 0


def test_swapped_names_share_the_order_free_name_key() -> None:
    frame = matching_frame(
        staged(2, mk_first_name=["mary", "black"], mk_last_name=["black", "mary"]),
        max_key_frequency=50,
    )
    assert frame["bk_name_pair"][0] == frame["bk_name_pair"][1]


def test_blank_keys_become_missing_so_two_blanks_never_agree() -> None:
    frame = matching_frame(staged(2, mk_email=["", "  "]), max_key_frequency=50)
    assert frame["mk_email"].null_count() == 2


def test_generational_suffix_spellings_are_one_value() -> None:
    frame = matching_frame(
        staged(3).with_columns(name_suffix=pl.Series(["Jr.", "junior", "Sr"])),
        max_key_frequency=50,
    )
    assert frame["name_suffix"].to_list() == ["jr", "jr", "sr"]


def test_missing_matching_keys_are_named() -> None:
    with pytest.raises(MatchingInputError, match=r"mk_dob.*standardise stage"):
        matching_frame(staged(2).drop("mk_dob"), max_key_frequency=50)


def test_repeated_record_keys_are_named() -> None:
    frame = staged(3).with_columns(record_key=pl.Series(["crm:1", "crm:1", "crm:2"]))
    with pytest.raises(MatchingInputError, match=r"crm:1"):
        matching_frame(frame, max_key_frequency=50)


def test_records_without_a_key_are_located_by_row() -> None:
    frame = staged(3).with_columns(record_key=pl.Series(["crm:1", None, "crm:2"]))
    with pytest.raises(MatchingInputError, match=r"row 1"):
        matching_frame(frame, max_key_frequency=50)


def test_a_home_with_a_mistyped_postcode_is_still_found_through_its_town() -> None:
    frame = matching_frame(
        staged(
            4,
            mk_postcode=["6448", "6484", "6448", "6448"],
            mk_city=["hoppers crossing"] * 4,
            mk_house_number=["309"] * 4,
            mk_address=["309 pinkerton cir", "309 pinkertn cir", "309 stanley st", "309 pink st"],
        ),
        max_key_frequency=50,
    )
    assert frame["bk_address"][0] != frame["bk_address"][1]
    assert frame["bk_address_town"][0] == frame["bk_address_town"][1]
    # Another street of the town with the same house number is another home, also when its
    # name starts with the same letters (Pink Street is not Pinkerton Circle).
    assert frame["bk_address_town"][2] != frame["bk_address_town"][0]
    assert frame["bk_address_town"][3] != frame["bk_address_town"][0]


def test_a_scan_of_staged_records_gives_the_frame_with_each_attribute_last(tmp_path) -> None:
    records = staged(
        4,
        mk_last_name=["smith", "smith", "jones", None],
        attr_ssid=["123-45", "12345", None, " "],
        attr_club=["Chess", "chess", None, None],
    )
    path = tmp_path / "accepted.parquet"
    records.write_parquet(path)
    attributes = {
        "ssid": AttributeConfig(kind="identifier"),
        "club": AttributeConfig(kind="text"),
    }
    frame = matching_frame(pl.scan_parquet(path), 50, attributes)
    assert frame.columns[-3:] == ["attr_ssid", "bk_attr_ssid", "attr_club"]
    assert frame["attr_ssid"].to_list() == ["12345", "12345", None, None]
    assert frame["attr_club"].to_list() == ["chess", "chess", None, None]
    assert frame.equals(matching_frame(records, 50, attributes))
