"""Look-alike Han characters (形近字): a name mistyped by one look-alike character lands at the
close name level, not at a contradiction, while different people who share a character do not;
the relation comes from the decomposition and four-corner tables, and keys need one position."""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl
import pytest
from splink.internals.comparison_creator import ComparisonCreator

from matching.features import matching_frame
from matching.settings import first_name, last_name
from pipelines.schema import MAPPABLE_FIELDS
from pipelines.standardise import standardise_frame
from pipelines.standardise.han_glyphs import glyph_keys, look_alikes, looks_alike

CLOSE = "Jaro-Winkler >= 0.92, or one look-alike Han character"
DIFFERENT_FIRST = "contradiction: different first names"


def features(*full_names: str) -> pl.DataFrame:
    rows = [{f"raw_{f}": None for f in MAPPABLE_FIELDS} for _ in full_names]
    for row, name in zip(rows, full_names, strict=True):
        row["raw_full_name"] = name
    raw = pl.DataFrame(rows, schema={f"raw_{f}": pl.String for f in MAPPABLE_FIELDS})
    staged = standardise_frame(raw, as_of=date(2026, 1, 1)).with_columns(
        pl.Series("record_key", [f"s:{i}" for i in range(len(full_names))]),
        pl.lit("s").alias("source_system"),
    )
    return matching_frame(staged, max_key_frequency=100)


def level(creator: ComparisonCreator, left: str, right: str) -> str:
    """The label of the level a pair of full names falls in, with the SQL Splink runs."""
    frame = features(left, right)
    comparison = creator.get_comparison("duckdb")
    columns = ", ".join(f'l."{c}" AS "{c}_l", r."{c}" AS "{c}_r"' for c in frame.columns)
    with duckdb.connect() as db:
        db.register("f", frame.to_arrow())
        pair = f"SELECT {columns} FROM f l, f r WHERE l.record_key = 's:0' AND r.record_key = 's:1'"
        for lv in comparison.comparison_levels:
            if lv.sql_condition.strip().upper() == "ELSE":
                return lv.label_for_charts
            hit = db.execute(f"SELECT coalesce(({lv.sql_condition}), false) FROM ({pair})")
            if hit.fetchone()[0]:
                return lv.label_for_charts
    raise AssertionError("no level matched")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param("王", "玉", id="wang-yu-a-dot"),
        pytest.param("明", "朋", id="ming-peng"),
        pytest.param("晴", "睛", id="qing-jing-sun-eye"),
        pytest.param("李", "季", id="li-ji"),
        pytest.param("己", "已", id="ji-yi"),
        pytest.param("未", "末", id="wei-mo"),
        pytest.param("土", "士", id="tu-shi"),
        pytest.param("大", "太", id="da-tai"),
        pytest.param("问", "间", id="wen-jian"),
        pytest.param("住", "往", id="zhu-wang"),
        pytest.param("清", "情", id="qing-qing-radical-swapped"),
        pytest.param("晴", "请", id="qing-qing-sun-speech"),
        pytest.param("唐", "塘", id="tang-tang-radical-added"),
    ],
)
def test_classic_look_alike_characters_are_found_both_ways(a: str, b: str) -> None:
    assert looks_alike(a, b) and looks_alike(b, a)
    assert b in look_alikes(a) and a in look_alikes(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param("明", "红", id="ming-hong"),
        pytest.param("王", "李", id="wang-li"),
        pytest.param("伟", "芳", id="wei-fang"),
        pytest.param("吴", "果", id="wu-guo-same-strokes-other-layout"),
        pytest.param("明", "时", id="ming-shi-share-only-the-small-radical"),
        pytest.param("木", "林", id="mu-lin-a-whole-character-added"),
        pytest.param("明", "明", id="itself"),
    ],
)
def test_characters_that_do_not_look_alike_are_not_paired(a: str, b: str) -> None:
    assert not looks_alike(a, b)


def test_two_names_share_a_key_only_when_one_position_holds_a_look_alike_pair() -> None:
    def share(x: str, y: str) -> bool:
        return bool(set(glyph_keys(x) or []) & set(glyph_keys(y) or []))

    assert share("王小明", "王小朋") and share("王小明", "玉小明")
    assert share("高雷建", "高雪健"), "a look-alike and a same-sound character together"
    assert not share("王小明", "玉小朋"), "two look-alike changes are not one"
    assert not share("王小明", "王小红") and not share("小明", "明")
    assert glyph_keys("Wang") is None and glyph_keys(None) is None
    assert glyph_keys("陳") == glyph_keys("陈"), "keys are built on simplified characters"


@pytest.mark.parametrize(
    ("left", "right"),
    [
        pytest.param("王小明", "王小朋", id="given-name-ming-peng"),
        pytest.param("张晴", "张睛", id="given-name-qing-jing"),
    ],
)
def test_a_look_alike_typo_in_the_given_name_is_close_not_a_contradiction(
    left: str, right: str
) -> None:
    assert level(first_name(), left, right) == CLOSE


def test_a_look_alike_typo_in_the_family_name_is_close() -> None:
    assert level(last_name(), "王小明", "玉小明") == CLOSE
    assert level(last_name(), "王小明", "李小明") != CLOSE


FUZZY = "Jaro-Winkler >= 0.88, one edit, or two in long names"


@pytest.mark.parametrize(
    ("left", "right", "label"),
    [
        # xiaoming / xiaohong: the pinyin keys alone are alike, never the look-alike level
        pytest.param("王小明", "王小红", FUZZY, id="share-family-and-one-given-character"),
        pytest.param("王明", "王红", DIFFERENT_FIRST, id="share-family-name"),
        pytest.param("王小明", "王大伟", DIFFERENT_FIRST, id="share-family-name-long"),
        pytest.param("李明", "李芳", DIFFERENT_FIRST, id="share-family-name-short"),
    ],
)
def test_different_people_sharing_a_character_are_not_look_alikes(
    left: str, right: str, label: str
) -> None:
    assert level(first_name(), left, right) == label
