"""Text clean-up and folding that every field shares.

Two different jobs live here and must not be confused:

* :func:`clean_text` makes a value fit to *show* (canonical columns): Unicode NFKC, invisible
  characters removed, whitespace collapsed, placeholder tokens such as ``N/A`` read as empty.
  It never changes letters, so a Chinese or Cyrillic name survives exactly.
* :func:`fold` makes a value fit to *compare* (``mk_*`` keys): lower case, accents folded and
  Greek/Cyrillic transliterated (ICAO Doc 9303, the passport scheme, so a key agrees with the
  Latin spelling in a person's travel documents). Scripts without a safe one-to-one
  transliteration (Han, Kana, Hangul, Arabic, Devanagari, ...) stay in their own script: a wrong
  romanisation would make different people agree.

Everything is a Polars expression, so it runs vectorised over a whole column.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import polars as pl

# Values sources write when they mean "no value". Compared case-insensitively after clean-up.
# "na" and "nil" are deliberately absent: both are real given names or surnames.
NULL_TOKENS: tuple[str, ...] = (
    "null",
    "(null)",
    "<null>",
    "none",
    "n/a",
    "#n/a",
    "nan",
    "-",
    "--",
    "---",
    "?",
    "??",
    "unknown",
    "not known",
    "not available",
    "undefined",
)

# Characters that carry no meaning but break equality: zero-width space, BOM, soft hyphen,
# word joiner. (ZWJ/ZWNJ are kept: they change how Arabic and Indic names are written.)
_INVISIBLE = ["\u200b", "\u2060", "\ufeff", "\u00ad"]
# Control characters and the whitespace NFKC leaves alone read as a space. (NFKC already turns
# no-break, ideographic and typographic spaces into a plain space.)
_AS_SPACE = [chr(c) for c in (*range(0, 32), *range(127, 160))] + ["\u1680", "\u2028", "\u2029"]
_SPACE_FROM = _INVISIBLE + _AS_SPACE
_SPACE_TO = [""] * len(_INVISIBLE) + [" "] * len(_AS_SPACE)
_NULL_MARK = "\x00"  # control characters are already gone, so this cannot be data

# Letters NFKD does not decompose, mapped to the Latin spelling used by ICAO Doc 9303.
_SPECIAL_LATIN: dict[str, str] = {
    "ß": "ss",
    "æ": "ae",
    "œ": "oe",
    "ø": "o",
    "đ": "d",
    "ð": "d",
    "þ": "th",
    "ł": "l",
    "ı": "i",
    "ŋ": "n",
    "ħ": "h",
    "ŧ": "t",
    "ſ": "s",
    "ĸ": "k",
}

# ICAO Doc 9303 transliteration of Cyrillic (Russian, Ukrainian, Belarusian, Bulgarian, Serbian).
# Applied after NFKD has split off diacritics, so й -> и -> i and ё -> е -> e as ICAO does.
_CYRILLIC: dict[str, str] = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "ґ": "g",
    "д": "d",
    "ђ": "d",
    "ѓ": "g",
    "е": "e",
    "є": "ie",
    "ж": "zh",
    "з": "z",
    "ѕ": "dz",
    "и": "i",
    "і": "i",
    "ј": "j",
    "к": "k",
    "ќ": "k",
    "л": "l",
    "љ": "lj",
    "м": "m",
    "н": "n",
    "њ": "nj",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "ћ": "c",
    "у": "u",
    "ў": "u",
    "ф": "f",
    "х": "kh",
    "ц": "ts",
    "ч": "ch",
    "џ": "dz",
    "ш": "sh",
    "щ": "shch",
    "ъ": "ie",
    "ы": "y",
    "ь": "",
    "э": "e",
    "ю": "iu",
    "я": "ia",
}

# ICAO Doc 9303 / ELOT 743 transliteration of Greek; digraphs first so they win.
_GREEK: dict[str, str] = {
    "ου": "ou",
    "αι": "ai",
    "ει": "ei",
    "οι": "oi",
    "μπ": "mp",
    "ντ": "nt",
    "γκ": "gk",
    "α": "a",
    "β": "v",
    "γ": "g",
    "δ": "d",
    "ε": "e",
    "ζ": "z",
    "η": "i",
    "θ": "th",
    "ι": "i",
    "κ": "k",
    "λ": "l",
    "μ": "m",
    "ν": "n",
    "ξ": "x",
    "ο": "o",
    "π": "p",
    "ρ": "r",
    "σ": "s",
    "ς": "s",
    "τ": "t",
    "υ": "y",
    "φ": "f",
    "χ": "ch",
    "ψ": "ps",
    "ω": "o",
}

_FOLD_TABLE: dict[str, str] = {**_SPECIAL_LATIN, **_GREEK, **_CYRILLIC}

# Diacritics are optional only in these scripts (accents, tonos, niqqud, harakat). In Indic and
# South-East Asian scripts combining marks are vowels, so they are kept.
_OPTIONAL_MARK_SCRIPTS = (
    (0x0300, 0x036F),  # combining diacritical marks (Latin, Greek, Cyrillic)
    (0x0483, 0x0489),  # Cyrillic combining marks
    (0x0591, 0x05C7),  # Hebrew points
    (0x0610, 0x061A),  # Arabic marks
    (0x064B, 0x065F),  # Arabic harakat
    (0x0670, 0x0670),
    (0x06D6, 0x06ED),
)
_FOLDED_BLOCKS = (
    (0x00C0, 0x024F),  # Latin-1 Supplement, Latin Extended-A and -B
    (0x1E00, 0x1EFF),  # Latin Extended Additional (Vietnamese)
    (0x0370, 0x03FF),  # Greek
    (0x1F00, 0x1FFF),  # Greek Extended (polytonic)
    (0x0400, 0x04FF),  # Cyrillic
)


def _fold_char(char: str) -> str:
    """The folded form of one lower-case character: base letter without optional marks, then
    transliterated; the reference definition the lookup table below is built from."""
    base = "".join(
        c
        for c in unicodedata.normalize("NFKD", char)
        if not any(lo <= ord(c) <= hi for lo, hi in _OPTIONAL_MARK_SCRIPTS)
    )
    return "".join(_FOLD_TABLE.get(c, c) for c in base)


def _build_fold_lookup() -> dict[str, str]:
    """Every character (and Greek digraph) whose folded form differs from itself.

    Folding is a per-character table applied in one Aho-Corasick pass: several Unicode
    normalisations and a regular expression per value would cost more than the rest of
    standardisation together.
    """
    lookup: dict[str, str] = {}
    for lo, hi in _FOLDED_BLOCKS:
        for code in range(lo, hi + 1):
            char = chr(code)
            if char.lower() != char or not unicodedata.category(char).startswith("L"):
                continue  # values are lower-cased first; only letters fold
            folded = _fold_char(char)
            if folded != char:
                lookup[char] = folded
    for lo, hi in _OPTIONAL_MARK_SCRIPTS:
        for code in range(lo, hi + 1):
            lookup[chr(code)] = ""
    for key, value in {**_SPECIAL_LATIN, **_CYRILLIC}.items():
        lookup.setdefault(key, value)
    greek_variants: dict[str, list[str]] = {}
    for lo, hi in ((0x0370, 0x03FF), (0x1F00, 0x1FFF)):
        for code in range(lo, hi + 1):
            char = chr(code)
            base = "".join(
                c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
            )
            if len(base) == 1 and char.lower() == char:
                greek_variants.setdefault(base, []).append(char)
    for digraph, value in _GREEK.items():
        if len(digraph) != 2:
            continue
        for first in greek_variants.get(digraph[0], [digraph[0]]):
            for second in greek_variants.get(digraph[1], [digraph[1]]):
                lookup[first + second] = value
    for char, value in _GREEK.items():
        lookup.setdefault(char, value)
    return lookup


_FOLD_LOOKUP = _build_fold_lookup()
# Longer patterns first: with leftmost matching the earlier pattern wins a tie (digraphs).
_FOLD_FROM = sorted(_FOLD_LOOKUP, key=len, reverse=True)
_FOLD_TO = [_FOLD_LOOKUP[k] for k in _FOLD_FROM]


_FOLD_TRANSLATION = str.maketrans({k: v for k, v in _FOLD_LOOKUP.items() if len(k) == 1})


def fold_word(text: str) -> str:
    """:func:`fold` of one Python string (lower case, optional diacritics removed), for code
    that works on single values: ``Nguyễn`` -> ``nguyen``, ``Đặng`` -> ``dang``."""
    return text.lower().translate(_FOLD_TRANSLATION)


def clean_text(expr: pl.Expr, null_tokens: tuple[str, ...] = NULL_TOKENS) -> pl.Expr:
    """Fit a raw value to show: NFKC, invisible characters out, whitespace collapsed, trimmed;
    empty strings and placeholder tokens become null. Letters are never altered."""
    cleaned = (
        expr.cast(pl.String)
        .str.normalize("NFKC")
        .str.replace_many(_SPACE_FROM, _SPACE_TO)
        .str.replace_all(r" {2,}", " ")
        .str.strip_chars(" ")
    )
    # One pass marks empty and placeholder values, then they become null (a when/then would
    # evaluate the chain above three times).
    placeholder = "(?i)^(?:" + "|".join(re.escape(t) for t in null_tokens) + ")?$"
    return cleaned.str.replace(placeholder, _NULL_MARK).replace(_NULL_MARK, None)


def fold(expr: pl.Expr) -> pl.Expr:
    """Fit a cleaned value (see :func:`clean_text`) to compare: lower case, optional
    diacritics removed, Greek and Cyrillic transliterated (ICAO 9303), special Latin letters
    spelled out (ß -> ss). Other scripts keep their letters."""
    return expr.str.to_lowercase().str.replace_many(_FOLD_FROM, _FOLD_TO, leftmost=True)


def letters_key(expr: pl.Expr) -> pl.Expr:
    """Folded letters only (digits, spaces and punctuation removed); null when nothing is left.
    ``O'Brien``, ``OBRIEN`` and ``O Brien`` all give ``obrien``."""
    key = fold(expr).str.replace_all(r"[^\p{L}]+", "")
    return key.replace("", None)


def words_key(expr: pl.Expr) -> pl.Expr:
    """Folded words (letters and digits) separated by single spaces; null when empty."""
    key = (
        fold(expr)
        .str.replace_all(r"['’`]", "")
        .str.replace_all(r"[^\p{L}\p{N}]+", " ")
        .str.strip_chars()
    )
    return key.replace("", None)


def with_distinct(df: pl.DataFrame, column: str, exprs: list[pl.Expr]) -> pl.DataFrame:
    """Evaluate ``exprs`` (expressions of ``column``) once per distinct value of ``column`` and
    attach the results to every row: costly text work on a column with repeated values."""
    return on_distinct(df, [column], lambda distinct: distinct.with_columns(exprs))


def on_distinct(
    df: pl.DataFrame,
    columns: list[str],
    transform: Callable[[pl.DataFrame], pl.DataFrame],
) -> pl.DataFrame:
    """Run ``transform`` once per distinct combination of ``columns`` and join the new columns
    back onto every row, keeping the row order.

    Customer data repeats itself (the same city, first name or formatted phone across many rows),
    so work done per distinct value is a fraction of the work done per row; it is the only
    acceptable way to call a per-value Python library here.
    """
    distinct = df.select(columns).unique()
    out = transform(distinct)
    added = [c for c in out.columns if c not in columns]
    return df.join(
        out.select(*columns, *added),
        on=columns,
        how="left",
        nulls_equal=True,
        maintain_order="left",
    )
