"""Chinese names: Han full names split by the surname tables, every Chinese name keyed on
tone-less pinyin so characters, pinyin in either order, traditional characters and same-sound
typos meet; display values keep the characters as delivered."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from pipelines.schema import MAPPABLE_FIELDS
from pipelines.standardise import standardise_frame
from pipelines.standardise.han import is_pinyin_word, pinyin_key, split_han_name

AS_OF = date(2026, 1, 1)


def run_many(records: list[dict[str, str | None]]) -> list[dict[str, object]]:
    rows = [{f"raw_{f}": r.get(f) for f in MAPPABLE_FIELDS} for r in records]
    df = pl.DataFrame(rows, schema={f"raw_{f}": pl.String for f in MAPPABLE_FIELDS})
    return standardise_frame(df, as_of=AS_OF).to_dicts()


def run(**raw: str | None) -> dict[str, object]:
    return run_many([raw])[0]


def keys(out: dict[str, object]) -> tuple[object, object, object]:
    return out["mk_first_name"], out["mk_last_name"], out["mk_full_name"]


@pytest.mark.parametrize(
    ("full", "family", "given", "mk_last", "mk_first"),
    [
        pytest.param("王小明", "王", "小明", "wang", "xiaoming", id="single-surname"),
        pytest.param("李娜", "李", "娜", "li", "na", id="two-characters"),
        pytest.param("欧阳修", "欧阳", "修", "ouyang", "xiu", id="compound-ouyang"),
        pytest.param("司马相如", "司马", "相如", "sima", "xiangru", id="compound-sima"),
        pytest.param("诸葛亮", "诸葛", "亮", "zhuge", "liang", id="compound-zhuge"),
        pytest.param("上官婉儿", "上官", "婉儿", "shangguan", "waner", id="compound-shangguan"),
        pytest.param("歐陽娜娜", "歐陽", "娜娜", "ouyang", "nana", id="compound-traditional"),
        pytest.param("陈李美玲", "陈李", "美玲", "chenli", "meiling", id="two-surname-form"),
        pytest.param("单雄信", "单", "雄信", "shan", "xiongxin", id="surname-reading-shan"),
        pytest.param("曾国藩", "曾", "国藩", "zeng", "guofan", id="surname-reading-zeng"),
        pytest.param("吕布", "吕", "布", "lu", "bu", id="u-umlaut-as-u"),
    ],
)
def test_han_full_name_is_split_by_the_surname_tables_and_keyed_on_pinyin(
    full: str, family: str, given: str, mk_last: str, mk_first: str
) -> None:
    out = run(full_name=full)
    assert (out["last_name"], out["first_name"]) == (family, given)
    assert out["full_name"] == full, "display keeps the characters, family name first"
    assert (out["mk_last_name"], out["mk_first_name"]) == (mk_last, mk_first)
    assert out["mk_first_name_canonical"] == mk_first


def test_characters_and_romanised_forms_in_either_order_meet_on_one_key() -> None:
    forms = [
        {"full_name": "王小明"},
        {"first_name": "小明", "last_name": "王"},
        {"full_name": "Xiaoming Wang"},
        {"full_name": "WANG Xiaoming"},
        {"full_name": "wang xiao ming"},
        {"full_name": "Wang Xiaoming"},
        {"full_name": "Xiao-Ming Wang"},
        {"full_name": "Xiao Ming Wang"},
        {"first_name": "Xiaoming", "last_name": "WANG"},
        {"first_name": "Wang", "last_name": "Xiaoming"},  # typed into the wrong boxes
    ]
    outs = run_many(forms)
    assert {keys(o) for o in outs} == {("xiaoming", "wang", "wang xiaoming")}, [
        (f, keys(o)) for f, o in zip(forms, outs, strict=True)
    ]
    romanised = outs[3]
    assert (romanised["first_name"], romanised["last_name"]) == ("Xiaoming", "Wang")
    assert outs[4]["first_name"] == "Xiao Ming" and outs[4]["middle_name"] is None


def test_traditional_and_simplified_characters_meet() -> None:
    simplified, traditional = run_many([{"full_name": "陈大文"}, {"full_name": "陳大文"}])
    assert keys(simplified) == keys(traditional) == ("dawen", "chen", "chen dawen")
    assert traditional["full_name"] == "陳大文", "the source's characters are displayed"


def test_a_same_sound_typo_gives_the_same_key_and_a_different_name_does_not() -> None:
    right, typo, other = run_many(
        [{"full_name": "王小明"}, {"full_name": "王小鸣"}, {"full_name": "王小红"}]
    )
    assert keys(right) == keys(typo)
    assert typo["first_name"] == "小鸣", "the typo is kept as delivered"
    assert keys(other) != keys(right)


@pytest.mark.parametrize(
    ("raw", "first", "last"),
    [
        pytest.param({"full_name": "John Smith"}, "John", "Smith", id="western"),
        pytest.param({"full_name": "Ana Li"}, "Ana", "Li", id="western-given-pinyin-surname"),
        pytest.param({"full_name": "Maria Chen"}, "Maria", "Chen", id="western-given-first"),
        pytest.param({"full_name": "Li Ming"}, "Ming", "Li", id="both-surnames-commoner-wins"),
        pytest.param({"full_name": "Ming Li"}, "Ming", "Li", id="already-given-first"),
        pytest.param(
            {"full_name": "wu feng chen"}, "Feng Chen", "Wu", id="lower-case-family-first"
        ),
    ],
)
def test_romanised_order_is_only_changed_when_the_family_name_is_written_first(
    raw: dict[str, str], first: str, last: str
) -> None:
    out = run(**raw)
    assert (out["first_name"], out["last_name"]) == (first, last)


def test_a_pinyin_given_name_is_not_read_as_an_english_nickname() -> None:
    out = run(full_name="WANG Dan")
    assert (out["first_name"], out["last_name"]) == ("Dan", "Wang")
    assert out["mk_first_name_canonical"] == "dan"


def test_kana_and_hangul_names_are_not_read_as_chinese() -> None:
    assert split_han_name("やまだ") is None and split_han_name("김민준") is None
    out = run(full_name="김민준")
    # Split by the Korean rules (pipelines.standardise.family_first), keyed on its
    # romanisation, never on a Mandarin reading.
    assert (out["last_name"], out["first_name"], out["full_name"]) == ("김", "민준", "김민준")
    assert (out["mk_last_name"], out["mk_first_name"]) == ("kim", "minjun")


def test_pinyin_words_are_recognised_syllable_by_syllable() -> None:
    assert is_pinyin_word("Xiaoming") and is_pinyin_word("zhuangguang") and is_pinyin_word("lv")
    assert not is_pinyin_word("Smith") and not is_pinyin_word("Brown")
    assert pinyin_key("重庆") == "chongqing" and pinyin_key("单", surname=True) == "shan"
    assert pinyin_key("单") == "dan"
