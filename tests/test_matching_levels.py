"""Which comparison level a pair of values falls in, evaluated with the SQL Splink runs."""

from __future__ import annotations

import random

import duckdb
import pytest
from splink.internals.comparison_creator import ComparisonCreator

from matching.settings import address, first_name, last_name, within_edits


def level_of(creator: ComparisonCreator, left: dict[str, str], right: dict[str, str]) -> str:
    """The label of the first level whose condition the pair meets (Splink's order)."""
    comparison = creator.get_comparison("duckdb")
    columns = [f"? AS {c}_l" for c in left] + [f"? AS {c}_r" for c in right]
    with duckdb.connect() as db:
        for level in comparison.comparison_levels:
            if level.sql_condition.strip().upper() == "ELSE":
                return level.label_for_charts
            sql = f"SELECT ({level.sql_condition}) FROM (SELECT {', '.join(columns)})"
            if db.execute(sql, [*left.values(), *right.values()]).fetchone()[0]:
                return level.label_for_charts
    raise AssertionError("no level matched")


@pytest.mark.parametrize(
    ("left", "right", "label"),
    [
        ("12 manor rd", "12 manor rd", "exact address line"),
        ("12 manor rd", "12 manor rd flat 3", "same street line, a unit on one side only"),
        ("88 victoria rd apt 8", "88 victoria rd", "same street line, a unit on one side only"),
        ("12 manor rd", "120 manor rd", "Jaro-Winkler >= 0.95"),
        ("12 manor rd flat 3", "12 manor rd flat 4", "Jaro-Winkler >= 0.95"),
        # A line holding only a house number names no street: it starts every line of that
        # number, and the number is weighed by the house-number comparison.
        ("13", "13 durham pl hamilton", "All other comparisons"),
        ("13 durham pl hamilton", "13", "All other comparisons"),
    ],
)
def test_a_unit_kept_by_one_source_only_is_its_own_address_level(
    left: str, right: str, label: str
) -> None:
    number = {line: line.split(" ")[0] for line in (left, right)}
    assert level_of(address(), _line(left, number[left]), _line(right, number[right])) == label


def _name(value: str) -> dict[str, str]:
    return {
        "mk_first_name": value,
        "mk_first_name_canonical": value,
        "first_name_script": "latin",
        "name_start": value[:3] + "|smi",
        "name_start_swapped": "smi|" + value[:3],
        "mk_first_name_glyphs": None,
        "first_name_written": None,
    }


FUZZY = "Jaro-Winkler >= 0.88, one edit, or two in long names"
DIFFERENT = "contradiction: different first names"
CLOSE = "Jaro-Winkler >= 0.92, or one look-alike Han character"


@pytest.mark.parametrize(
    ("left", "right", "label"),
    [
        pytest.param("nathan", "nahan", CLOSE, id="one-deletion"),
        pytest.param("patrick", "pawricq", FUZZY, id="two-typos-in-a-long-name"),
        pytest.param("lucy", "lucas", DIFFERENT, id="two-edits-in-a-short-name-is-another-name"),
        pytest.param("john", "jane", DIFFERENT, id="different-names"),
    ],
)
def test_two_typos_in_a_long_first_name_are_still_the_same_name(
    left: str, right: str, label: str
) -> None:
    assert level_of(first_name(), _name(left), _name(right)) == label


def _full_name(first: str, last: str) -> dict[str, str | None]:
    return {
        "mk_first_name": first,
        "mk_first_name_canonical": first,
        "first_name_script": "latin",
        "mk_last_name": last,
        "last_name_script": "latin",
        "name_start": f"{first[:3]}|{last[:3]}",
        "name_start_swapped": f"{last[:3]}|{first[:3]}",
        "mk_first_name_glyphs": None,
        "mk_last_name_glyphs": None,
        "first_name_written": None,
        "last_name_written": None,
    }


def test_swapped_names_are_weighed_once_by_the_first_name_and_not_again_by_the_last() -> None:
    left, right = _full_name("lachlan", "nguyen"), _full_name("nguyen", "lachlan")
    assert level_of(first_name(), left, right) == "first and last name swapped"
    swapped = level_of(last_name(), left, right)
    assert swapped == "missing, other scripts, or swapped (weighed by first name)"
    levels = last_name().get_comparison("duckdb").comparison_levels
    assert next(lv for lv in levels if lv.label_for_charts == swapped).is_null_level
    # Not a swap: the same last name is still an exact agreement.
    same = level_of(last_name(), _full_name("lachlan", "nguyen"), _full_name("lachie", "nguyen"))
    assert same == "exact last name"


def _han(family: str, given: str, family_key: str, given_key: str) -> dict[str, str | None]:
    """A name in characters as the matching frame has it: keyed on its pinyin reading."""
    return {
        **_full_name(given_key, family_key),
        "first_name_written": given,
        "last_name_written": family,
    }


def test_the_same_sound_written_with_another_character_is_close_not_the_same_name() -> None:
    written = _han("王", "小明", "wang", "xiaoming")
    same_sound = _han("王", "小鸣", "wang", "xiaoming")
    reading = "same reading, written with other characters"
    assert level_of(first_name(written=True), written, same_sound) == reading
    assert level_of(first_name(written=True), written, _han("王", "小明", "wang", "xiaoming")) == (
        "exact first name"
    )
    other_family = _han("汪", "小明", "wang", "xiaoming")
    assert level_of(last_name(written=True), written, other_family) == reading
    # Against its romanisation (no characters on one side) the reading is all there is.
    pinyin = _full_name("xiaoming", "wang")
    assert level_of(first_name(written=True), written, pinyin) == "exact first name"
    assert level_of(last_name(written=True), written, pinyin) == "exact last name"
    levels = [lv.label_for_charts for lv in _levels(first_name(written=True))]
    assert levels.index(reading) < levels.index(DIFFERENT)
    # Only a model of names written that way has the level (Latin data could not train it).
    plain = [lv.label_for_charts for lv in _levels(first_name())]
    assert reading not in plain


def _levels(creator: ComparisonCreator) -> list:
    return list(creator.get_comparison("duckdb").comparison_levels)


def _line(line: str, number: str) -> dict[str, object]:
    return {"mk_address": line, "address_words": line.split(" "), "mk_house_number": number}


WORDS = "same house number, 3 or more words shared in any order"


@pytest.mark.parametrize(
    ("left", "right", "label"),
    [
        # A building name kept before the street by one source, after it by the other, with a
        # typo that splits a word.
        (
            _line("30 learmonth dr wallace heights", "30"),
            _line("30 wallace h eights learmonth dr", "30"),
            WORDS,
        ),
        # Four words shared, but another house number: two homes in one street.
        (
            _line("255 stanley st apt 27", "255"),
            _line("27 apt stanley st 12", "12"),
            "All other comparisons",
        ),
        (
            _line("30 learmonth dr", "30"),
            _line("30 wallace heights", "30"),
            "All other comparisons",
        ),
    ],
)
def test_an_address_line_in_another_order_shares_its_words_and_house_number(
    left: dict[str, object], right: dict[str, object], label: str
) -> None:
    assert level_of(address(), left, right) == label


def _typed(rng: random.Random, word: str, typos: int) -> str:
    """``word`` with ``typos`` random deletions, insertions, substitutions or swaps."""
    letters = list(word)
    for _ in range(typos):
        at = rng.randrange(max(1, len(letters)))
        kind = rng.choice(("delete", "insert", "substitute", "swap"))
        if kind == "delete" and len(letters) > 1:
            del letters[at]
        elif kind == "insert":
            letters.insert(at, rng.choice("abcdefgh"))
        elif kind == "swap" and at + 1 < len(letters):
            letters[at], letters[at + 1] = letters[at + 1], letters[at]
        else:
            letters[at] = rng.choice("abcdefgh")
    return "".join(letters)


@pytest.mark.parametrize("edits", [1, 2])
def test_within_edits_holds_for_exactly_the_pairs_damerau_levenshtein_allows(edits: int) -> None:
    rng = random.Random(edits)
    words = ["".join(rng.choice("abcdefgh") for _ in range(rng.randint(1, 9))) for _ in range(400)]
    pairs = [(w, _typed(rng, w, rng.randint(0, 5))) for w in words for _ in range(5)]
    pairs += [("", "ab"), ("abc", ""), ("ab", "ba"), ("abcd", "badc"), ("ca", "abc")]
    condition = within_edits("name", edits).get_comparison_level("duckdb").sql_condition
    with duckdb.connect() as db:
        db.execute("CREATE TABLE p (name_l VARCHAR, name_r VARCHAR)")
        db.executemany("INSERT INTO p VALUES (?, ?)", [*pairs, (None, "ab"), ("ab", None)])
        rows = db.execute(
            f"SELECT name_l, name_r, coalesce({condition}, false), "
            f"coalesce(damerau_levenshtein(name_l, name_r) <= {edits}, false) FROM p"
        ).fetchall()
    differing = [(left, right) for left, right, fast, plain in rows if fast != plain]
    assert differing == []
    assert sum(plain for *_, plain in rows) > 200  # both sides of the bound are exercised
    assert sum(not plain for *_, plain in rows) > 200
