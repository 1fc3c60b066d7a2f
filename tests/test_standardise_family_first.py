"""Korean, Japanese (kana) and Vietnamese names written family name first: split and shown in
the script's order, keyed on romanised letters that meet the Latin forms in either order."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from pipelines.schema import MAPPABLE_FIELDS
from pipelines.standardise import standardise_frame
from pipelines.standardise.family_first import kana_key, korean_key, split_korean_name


def run(**raw: str | None) -> dict[str, object]:
    row = {f"raw_{f}": raw.get(f) for f in MAPPABLE_FIELDS}
    df = pl.DataFrame([row], schema={f"raw_{f}": pl.String for f in MAPPABLE_FIELDS})
    return standardise_frame(df, as_of=date(2026, 1, 1)).to_dicts()[0]


def keys(out: dict[str, object]) -> tuple[object, object]:
    return out["mk_first_name"], out["mk_last_name"]


@pytest.mark.parametrize(
    ("full", "family", "given", "mk_last", "mk_first"),
    [
        pytest.param("김민준", "김", "민준", "kim", "minjun", id="kim-customary-spelling"),
        pytest.param("박서연", "박", "서연", "park", "seoyeon", id="park"),
        pytest.param("남궁민수", "남궁", "민수", "namgung", "minsu", id="compound-namgung"),
        pytest.param("한석민", "한", "석민", "han", "seokmin", id="no-sound-change-in-names"),
    ],
)
def test_a_hangul_full_name_is_split_after_the_family_name_and_romanised(
    full: str, family: str, given: str, mk_last: str, mk_first: str
) -> None:
    out = run(full_name=full)
    assert (out["last_name"], out["first_name"], out["full_name"]) == (family, given, full)
    assert keys(out) == (mk_first, mk_last)


def test_hangul_and_its_romanised_forms_meet_in_either_order() -> None:
    hangul = run(full_name="김민준")
    given_first = run(full_name="Minjun Kim")
    hyphenated = run(first_name="Min-jun", last_name="KIM")
    family_first = run(full_name="Kim Minjun")
    assert keys(hangul) == keys(given_first) == keys(hyphenated) == ("minjun", "kim")
    # Family name first in Latin letters: the parts come out swapped, the order-free key meets.
    assert hangul["mk_full_name"] == family_first["mk_full_name"] == "kim minjun"
    assert run(first_name="민준", last_name="김")["full_name"] == "김민준"


def test_korean_keys_and_split_helpers() -> None:
    assert korean_key("이", surname=True) == "lee" and korean_key("이") == "i"
    assert korean_key("Kim") is None and split_korean_name("김") is None
    assert split_korean_name("황보영수") == ("황보", "영수")


@pytest.mark.parametrize(
    ("raw", "family", "given", "display"),
    [
        pytest.param({"full_name": "やまだ たろう"}, "やまだ", "たろう", "やまだ たろう", id="h"),
        pytest.param({"full_name": "ヤマダ タロウ"}, "ヤマダ", "タロウ", "ヤマダ タロウ", id="k"),
        pytest.param(
            {"first_name": "たろう", "last_name": "やまだ"},
            "やまだ",
            "たろう",
            "やまだ たろう",
            id="parts",
        ),
    ],
)
def test_a_kana_name_keeps_family_first_and_meets_its_hepburn_spelling(
    raw: dict[str, str], family: str, given: str, display: str
) -> None:
    out = run(**raw)
    assert (out["last_name"], out["first_name"], out["full_name"]) == (family, given, display)
    assert keys(out) == keys(run(full_name="Taro Yamada")) == ("taro", "yamada")


def test_kana_romanisation_writes_long_vowels_short_as_passports_do() -> None:
    assert kana_key("きょうこ") == "kyoko" and kana_key("おおたに") == "otani"
    assert kana_key("ゆうこ") == "yuko" and kana_key("はっとり") == "hattori"
    assert kana_key("山田") is None


def test_a_kanji_name_is_not_given_a_japanese_reading() -> None:
    # 山田 may be read several ways; a kanji name keeps the Mandarin key of its characters,
    # which still meets the same characters elsewhere, and no guessed romaji.
    out = run(full_name="山田 太郎")
    assert (out["last_name"], out["first_name"]) == ("山田", "太郎")
    assert keys(out) == ("tailang", "shantian")


@pytest.mark.parametrize(
    ("full", "first", "middle", "last"),
    [
        pytest.param("Nguyễn Văn An", "An", "Văn", "Nguyễn", id="diacritics"),
        pytest.param("Nguyen Van An", "An", "Van", "Nguyen", id="folded"),
        pytest.param("Trần Thị Mai Lan", "Lan", "Thị Mai", "Trần", id="two-middle-names"),
        pytest.param("Phạm Minh", "Minh", None, "Phạm", id="no-middle-name"),
    ],
)
def test_a_vietnamese_name_is_read_family_first_and_shown_as_written(
    full: str, first: str, middle: str | None, last: str
) -> None:
    out = run(full_name=full)
    assert (out["first_name"], out["middle_name"], out["last_name"]) == (first, middle, last)
    assert out["full_name"] == full


def test_vietnamese_forms_in_either_order_meet_on_folded_keys() -> None:
    forms = ["Nguyễn Văn An", "Nguyen Van An", "An Nguyen", "Văn An Nguyễn"]
    assert {keys(run(full_name=f)) for f in forms} == {("an", "nguyen")}


@pytest.mark.parametrize(
    ("full", "first", "last"),
    [
        pytest.param("Mai Smith", "Mai", "Smith", id="vietnamese-surname-as-given-name"),
        pytest.param("Linh Tran", "Linh", "Tran", id="given-name-first"),
        pytest.param("Do Smith", "Do", "Smith", id="no-sign-of-vietnamese"),
    ],
)
def test_other_latin_names_keep_the_usual_split(full: str, first: str, last: str) -> None:
    out = run(full_name=full)
    assert (out["first_name"], out["last_name"]) == (first, last)
