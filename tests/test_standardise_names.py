"""Names: honorifics and suffixes apart, full names split, proper case, non-Latin names intact,
matching keys folded and nickname-resolved; the raw value is always kept beside."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from pipelines.schema import MAPPABLE_FIELDS
from pipelines.standardise import nickname_table, proper_case, standardise_frame

AS_OF = date(2026, 1, 1)


def run(**raw: str | None) -> dict[str, object]:
    """Standardise one record given as raw field values; returns the staged row."""
    row = {f"raw_{f}": raw.get(f) for f in MAPPABLE_FIELDS}
    df = pl.DataFrame([row], schema={f"raw_{f}": pl.String for f in MAPPABLE_FIELDS})
    out = standardise_frame(df, as_of=AS_OF).row(0, named=True)
    for f in MAPPABLE_FIELDS:
        assert out[f"raw_{f}"] == raw.get(f), f"raw_{f} must be kept as sent"
    return out


PARTS = ("name_prefix", "first_name", "middle_name", "last_name", "name_suffix", "full_name")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            {"full_name": "Smith, John A."},
            (None, "John", "A", "Smith", None, "John A Smith"),
            id="last-comma-first-middle-initial",
        ),
        pytest.param(
            {"full_name": "Dr. John A. Smith Jr."},
            ("Dr", "John", "A", "Smith", "Jr", "John A Smith"),
            id="prefix-first-initial-last-suffix",
        ),
        pytest.param(
            {"full_name": "MRS. MARY-ANN O'CONNOR-SMITH"},
            ("Mrs", "Mary-Ann", None, "O'Connor-Smith", None, "Mary-Ann O'Connor-Smith"),
            id="shouted-hyphen-apostrophe",
        ),
        pytest.param(
            {"full_name": "maria de la cruz"},
            (None, "Maria", None, "de la Cruz", None, "Maria de la Cruz"),
            id="particles-de-la",
        ),
        pytest.param(
            {"full_name": "Ludwig VAN DER Berg"},
            (None, "Ludwig", None, "van der Berg", None, "Ludwig van der Berg"),
            id="particles-van-der",
        ),
        pytest.param(
            {"full_name": "  angus   macdonald  iii "},
            (None, "Angus", None, "MacDonald", "III", "Angus MacDonald"),
            id="mac-and-roman-suffix",
        ),
        pytest.param(
            {"full_name": "RONALD MCDONALD"},
            (None, "Ronald", None, "McDonald", None, "Ronald McDonald"),
            id="mc",
        ),
        pytest.param(
            {"full_name": "Prof. Dr. Hans Müller, PhD"},
            ("Prof Dr", "Hans", None, "Müller", "PhD", "Hans Müller"),
            id="two-prefixes-comma-suffix",
        ),
        pytest.param(
            {"full_name": "Dr. med. Hans-Peter Müller"},
            ("Dr med", "Hans-Peter", None, "Müller", None, "Hans-Peter Müller"),
            id="german-doctorate-with-faculty",
        ),
        pytest.param(
            {"full_name": "Dr Phil Smith"},
            ("Dr", "Phil", None, "Smith", None, "Phil Smith"),
            id="a-faculty-word-without-its-dot-is-a-name",
        ),
        pytest.param(
            {"full_name": "Smith, John, Jr."},
            (None, "John", None, "Smith", "Jr", "John Smith"),
            id="comma-form-with-suffix",
        ),
        pytest.param(
            {"full_name": "J.R.R. Tolkien"},
            (None, "J", "R R", "Tolkien", None, "J R R Tolkien"),
            id="run-together-initials",
        ),
        pytest.param(
            {"full_name": "Madonna"},
            (None, "Madonna", None, None, None, "Madonna"),
            id="mononym",
        ),
        pytest.param(
            {"full_name": "Machado, Ana"},
            (None, "Ana", None, "Machado", None, "Ana Machado"),
            id="mac-exception-mixed-case-kept",
        ),
        pytest.param(
            {"first_name": "JOHN Q.", "last_name": "SMITH JR"},
            (None, "John", "Q", "Smith", "Jr", "John Q Smith"),
            id="parts-initial-in-first-suffix-in-last",
        ),
        pytest.param(
            {"first_name": "Dr. Jane", "last_name": "DeVries", "name_suffix": "phd"},
            ("Dr", "Jane", None, "DeVries", "PhD", "Jane DeVries"),
            id="parts-prefix-in-first-mixed-case-kept",
        ),
        pytest.param(
            {"name_prefix": "mister", "first_name": "seán", "last_name": "o'brien"},
            ("Mr", "Seán", None, "O'Brien", None, "Seán O'Brien"),
            id="parts-lower-case-accent-kept",
        ),
        pytest.param(
            {"full_name": "Mr."},
            ("Mr", None, None, None, None, None),
            id="honorific-only",
        ),
    ],
)
def test_names_are_split_and_cased(raw: dict[str, str], expected: tuple) -> None:
    out = run(**raw)
    assert tuple(out[p] for p in PARTS) == expected


@pytest.mark.parametrize(
    ("raw", "first", "last", "full", "mk_full"),
    [
        pytest.param(
            {"full_name": "王小明"}, "小明", "王", "王小明", "wang xiaoming", id="chinese-solid"
        ),
        pytest.param(
            {"full_name": "王 小明"}, "小明", "王", "王小明", "wang xiaoming", id="chinese-spaced"
        ),
        pytest.param(
            {"first_name": "小明", "last_name": "王"},
            "小明",
            "王",
            "王小明",
            "wang xiaoming",
            id="chinese-parts",
        ),
        pytest.param(
            {"full_name": "山田 太郎"},
            "太郎",
            "山田",
            "山田太郎",
            "shantian tailang",  # kanji alone cannot be told from Chinese: Mandarin reading
            id="japanese-spaced",
        ),
        pytest.param(
            {"full_name": "김민준"}, "민준", "김", "김민준", "kim minjun", id="korean-romanised"
        ),
        pytest.param(
            {"full_name": "Иван ПЕТРОВ"},
            "Иван",
            "Петров",
            "Иван Петров",
            "ivan petrov",
            id="russian",
        ),
        pytest.param(
            {"full_name": "Γιώργος Παπαδόπουλος"},
            "Γιώργος",
            "Παπαδόπουλος",
            "Γιώργος Παπαδόπουλος",
            "giorgos papadopoulos",
            id="greek",
        ),
        pytest.param({"full_name": "محمد علي"}, "محمد", "علي", "محمد علي", "علي محمد", id="arabic"),
        pytest.param(
            {"full_name": "François Lefèvre"},
            "François",
            "Lefèvre",
            "François Lefèvre",
            "francois lefevre",
            id="french-accents",
        ),
        pytest.param(
            {"full_name": "Jürgen Groß"},
            "Jürgen",
            "Groß",
            "Jürgen Groß",
            "gross jurgen",
            id="eszett",
        ),
    ],
)
def test_non_latin_and_accented_names_survive_intact(
    raw: dict[str, str], first: str | None, last: str | None, full: str, mk_full: str
) -> None:
    out = run(**raw)
    assert (out["first_name"], out["last_name"], out["full_name"]) == (first, last, full)
    assert out["mk_full_name"] == mk_full
    assert out["invalid_fields"] == []


def test_fullwidth_and_invisible_characters_are_normalised() -> None:
    out = run(first_name="Ｊｏｈｎ\u200b", last_name="Smith\u00a0")
    assert (out["first_name"], out["last_name"]) == ("John", "Smith")


@pytest.mark.parametrize(
    ("first", "mk_first", "canonical"),
    [
        pytest.param("Bob", "bob", "robert", id="bob"),
        pytest.param("BILL", "bill", "william", id="bill-not-robert"),
        pytest.param("Liz", "liz", "elizabeth", id="liz"),
        pytest.param("Peggy", "peggy", "margaret", id="peggy"),
        pytest.param("Robert", "robert", "robert", id="formal-stays"),
        pytest.param("Jane", "jane", "jane", id="formal-with-own-nicknames-stays"),
        pytest.param("Erin", "erin", "erin", id="standalone-name-not-rewritten"),
        pytest.param("Pepe", "pepe", "jose", id="spanish"),
        pytest.param("Sepp", "sepp", "josef", id="german"),
        pytest.param("Саша", "sasha", "aleksandr", id="russian-cyrillic"),
        pytest.param("Sasha", "sasha", "aleksandr", id="russian-latin"),
        pytest.param("Zoë", "zoe", "zoe", id="unknown-name-is-its-own-canonical"),
    ],
)
def test_nicknames_resolve_to_a_canonical_first_name(
    first: str, mk_first: str, canonical: str
) -> None:
    out = run(first_name=first, last_name="Smith")
    assert out["first_name"] == first[0] + first[1:].lower() if first.isupper() else first
    assert out["mk_first_name"] == mk_first
    assert out["mk_first_name_canonical"] == canonical


def test_nickname_table_is_substantial() -> None:
    table = nickname_table()
    assert table.height > 1000
    assert table["nickname"].is_unique().all()


def test_user_nickname_file_overrides_the_bundled_table(tmp_path) -> None:
    extra = tmp_path / "nick.csv"
    extra.write_text("nickname,canonical\nbob,bobby\nTrey,Thomas\n")
    table = dict(nickname_table(extra).iter_rows())
    assert table["bob"] == "bobby"
    assert table["trey"] == "thomas"


def test_malformed_nickname_file_names_the_file_and_line(tmp_path) -> None:
    from pipelines.errors import ConfigError

    extra = tmp_path / "nick.csv"
    extra.write_text("nickname,canonical\nbob,\n")
    with pytest.raises(ConfigError, match=r"nick\.csv, line 2"):
        nickname_table(extra)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        pytest.param({"first_name": "John123", "last_name": "Smith"}, "first_name", id="digits"),
        pytest.param({"first_name": "Ann", "last_name": "a@b.com"}, "last_name", id="email"),
        pytest.param({"full_name": "555-0100"}, "full_name", id="phone-in-name"),
        pytest.param({"full_name": "Mr."}, "full_name", id="only-honorific"),
        pytest.param({"first_name": "!!!", "last_name": "Lee"}, "first_name", id="punctuation"),
    ],
)
def test_values_that_are_not_names_are_flagged(raw: dict[str, str], field: str) -> None:
    out = run(**raw)
    assert field in out["invalid_fields"]
    assert out[field] is None


def test_placeholders_are_empty_not_invalid() -> None:
    out = run(first_name="N/A", last_name="NULL", full_name="unknown")
    assert out["first_name"] is None and out["last_name"] is None
    assert out["invalid_fields"] == []


def test_swapped_first_and_last_share_the_full_name_key() -> None:
    a = run(first_name="John", last_name="Smith")
    b = run(first_name="SMITH", last_name="JOHN")
    assert a["mk_full_name"] == b["mk_full_name"] == "john smith"


def test_middle_initial_key() -> None:
    assert run(full_name="John Quincy Adams")["mk_middle_initial"] == "q"


@pytest.mark.parametrize(
    ("value", "surname", "expected"),
    [
        pytest.param("DE LA CRUZ", True, "de la Cruz", id="surname-particles"),
        pytest.param("DA", False, "Da", id="particle-word-alone-is-a-name"),
        pytest.param("d'angelo", True, "D'Angelo", id="d-apostrophe"),
        pytest.param("ma'ayan", False, "Ma'ayan", id="inner-apostrophe"),
        pytest.param("McDONALD", True, "McDONALD", id="mixed-case-kept"),
        pytest.param("macy", True, "Macy", id="mac-exception"),
        pytest.param("ΠΑΠΑΔΟΠΟΥΛΟΣ", True, "Παπαδοπουλος", id="greek-final-sigma"),
    ],
)
def test_proper_case(value: str, surname: bool, expected: str) -> None:
    assert proper_case(value, surname) == expected
