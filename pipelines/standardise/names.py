"""Person names: honorifics and suffixes apart, full names split, proper case, matching keys.

What a source gives us varies: separate first/middle/last columns, one ``full_name`` column
("Smith, John A." or "Dr. John A. Smith Jr."), or both. The canonical parts come from the
separate columns when the source has them and from the split full name otherwise; ``full_name``
is then rebuilt from the parts so that every record spells it the same way.

Case is only changed where the source shouted or whispered (ALL CAPS or all lower): a value the
source wrote in mixed case ("McDonald", "DeVries", "van Dyke") is the person's own spelling and is
kept. Names in scripts without case (Chinese, Arabic, ...) pass through untouched. A full name in
Han characters is split into family and given name by :mod:`pipelines.standardise.han` (surname
tables, compound surnames), Chinese names are keyed on their pinyin and romanised pinyin names are
put in family/given order whichever order they were written in; Japanese and Korean full names
with kana or hangul written without a space are not split, they stay whole in ``full_name``.

The split uses vectorised regular expressions; only proper-casing, which needs per-word rules,
runs in Python, once per distinct name part.
"""

from __future__ import annotations

import functools
import re

import polars as pl

from pipelines.standardise.family_first import VIETNAMESE_SURNAMES, family_first_name
from pipelines.standardise.han import east_asian_name, pinyin_syllables
from pipelines.standardise.han_glyphs import glyph_keys
from pipelines.standardise.nicknames import canonical_first_name
from pipelines.standardise.text import (
    clean_text,
    fold_word,
    letters_key,
    on_distinct,
    with_distinct,
)

NAME_FIELDS = ("name_prefix", "first_name", "middle_name", "last_name", "name_suffix", "full_name")

# Honorifics: written form (lower case, no dot) -> canonical form. Words that are also given
# names in their own right (Major, General, Pastor) are left out on purpose.
PREFIXES: dict[str, str] = {
    "mr": "Mr",
    "mister": "Mr",
    "mrs": "Mrs",
    "missus": "Mrs",
    "ms": "Ms",
    "miss": "Miss",
    "mx": "Mx",
    "dr": "Dr",
    "doctor": "Dr",
    "prof": "Prof",
    "professor": "Prof",
    "rev": "Rev",
    "revd": "Rev",
    "reverend": "Rev",
    "fr": "Fr",
    "father": "Fr",
    "sir": "Sir",
    "dame": "Dame",
    "lady": "Lady",
    "lord": "Lord",
    "hon": "Hon",
    "honourable": "Hon",
    "honorable": "Hon",
    "capt": "Capt",
    "cpt": "Capt",
    "captain": "Capt",
    "col": "Col",
    "colonel": "Col",
    "lt": "Lt",
    "lieutenant": "Lt",
    "maj": "Maj",
    "sgt": "Sgt",
    "sergeant": "Sgt",
    "rabbi": "Rabbi",
    "herr": "Herr",
    "frau": "Frau",
    "frl": "Frl",
    "fräulein": "Frl",
    "mme": "Mme",
    "madame": "Mme",
    "mlle": "Mlle",
    "mademoiselle": "Mlle",
    "monsieur": "M",
    "sra": "Sra",
    "srta": "Srta",
    "señor": "Sr",
    "señora": "Sra",
}

# Generational and professional suffixes: written form -> canonical form. A lone "V" or "I" is
# not read as a numeral: it is far more often a middle initial.
SUFFIXES: dict[str, str] = {
    "jr": "Jr",
    "jnr": "Jr",
    "junior": "Jr",
    "sr": "Sr",
    "snr": "Sr",
    "senior": "Sr",
    "ii": "II",
    "iii": "III",
    "iv": "IV",
    "2nd": "II",
    "3rd": "III",
    "phd": "PhD",
    "ph.d": "PhD",
    "md": "MD",
    "m.d": "MD",
    "dds": "DDS",
    "dmd": "DMD",
    "dvm": "DVM",
    "esq": "Esq",
    "esquire": "Esq",
    "cpa": "CPA",
    "rn": "RN",
    "jd": "JD",
    "mba": "MBA",
    "obe": "OBE",
    "mbe": "MBE",
    "cbe": "CBE",
    "kbe": "KBE",
    "qc": "QC",
    "kc": "KC",
    "frcs": "FRCS",
}


# Surname particles written in lower case inside a name ("Ludwig van Beethoven", "de la Cruz").
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


PARTICLES = _words(
    "van von der den de del della delle dei degli di da das dos do du la le les lo ter ten "
    "zu zum zur af av bin ibn al el y st"
)

# "Mac" + capital is right for MacDonald, wrong for these.
_MAC_EXCEPTIONS = _words(
    "macaulay machado machin machlin macias maciel macedo macek macey mackey mackie mackle "
    "macklin macomber macon macquarie macri macy mace mack macha machel mackintosh macarthy "
    "macario macaluso macchi macchia maccio macdougal macrae"
)


def _alternation(words: list[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


# German and Austrian doctorates name their faculty after the title ("Dr. med.", "Dr. rer.
# nat."): always abbreviated with a dot, which keeps "Dr Phil Smith" a man called Phil.
_FACULTY = r"(?:(?:med|rer|nat|phil|jur|dent|vet|habil|oec|pol|ing|theol|sc|h\.\s*c)\.\s*)*"
_PREFIX_WORD = rf"(?:{_alternation(list(PREFIXES))})"
_PREFIX_RE = rf"(?i)^((?:{_PREFIX_WORD}(?:\.\s*|\s+){_FACULTY})+)(\S.*)$"
_ONLY_PREFIX_RE = rf"(?i)^(?:{_PREFIX_WORD}\.?\s*{_FACULTY})+$"
_SUFFIX_RE = rf"(?i)^(.*?\S)((?:(?:\s*,\s*|\s+)(?:{_alternation(list(SUFFIXES))})\.?)+)\s*,?\s*$"
_PARTICLE_RE = _alternation(sorted(PARTICLES))
_WESTERN_SPLIT_RE = rf"(?i)^(.+?)\s+((?:(?:{_PARTICLE_RE})\.?\s+)*\S+)$"
_CJK = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}"
_CJK_ONLY_RE = rf"^[{_CJK}・·]+$"
_CJK_SPACED_RE = rf"^([{_CJK}]+) ([{_CJK} ]+)$"
_TRAILING_INITIALS_RE = r"^(.*?\p{L}\S*)((?:\s+\p{L}\.?)+)$"
# A value with any of these is not a person's name (a phone number, an email, a code).
_NOT_A_NAME_RE = r"[\p{N}@_#$%^*=<>{}\[\]|\\/+]"


def _tidy(expr: pl.Expr) -> pl.Expr:
    """Clean, space out run-together initials (J.R.R. -> J. R. R.), tidy spaces around commas,
    strip stray leading/trailing punctuation."""
    spaced = clean_text(expr)
    for _ in range(2):  # non-overlapping matches: twice covers J.R.R.
        spaced = spaced.str.replace_all(r"(^|[\s.])(\p{L})\.(\p{L})([.\s]|$)", "$1$2. $3$4")
    spaced = (
        spaced.str.replace_all(r"\s*,\s*", ", ")
        .str.replace_all(r"^[\s,;:.\-'\"]+|[\s,;:\-\"]+$", "")
        .str.replace_all(r" {2,}", " ")
    )
    return spaced.replace("", None)


def _is_valid(expr: pl.Expr) -> pl.Expr:
    return expr.str.contains(r"\p{L}") & ~expr.str.contains(_NOT_A_NAME_RE)


def _canon_tokens(text: str | None, table: dict[str, str]) -> str | None:
    if text is None:
        return None
    words = [w for w in re.split(r"[\s,]+", text.strip()) if w]
    out = [table.get(w.lower().rstrip("."), w.rstrip(".")) for w in words]
    return " ".join(out) or None


def _canon_column(df: pl.DataFrame, column: str, table: dict[str, str]) -> pl.DataFrame:
    """Canonical spelling of prefix/suffix text, once per distinct value."""

    def canon(distinct: pl.DataFrame) -> pl.DataFrame:
        values = [_canon_tokens(v, table) for v in distinct[column].to_list()]
        return distinct.with_columns(pl.Series(f"{column}_canon", values, dtype=pl.String))

    return on_distinct(df, [column], canon)


def _case_word(word: str) -> str:
    """Proper case of one lower-case word: hyphen parts, O'/D' and Mc/Mac rules."""
    if re.fullmatch(r"\w\.?", word):
        return word[0].upper()
    parts = re.split(r"([-'’])", word)
    out: list[str] = []
    for i, part in enumerate(parts):
        if not part or part in "-'’":
            out.append(part)
            continue
        after_apostrophe = i >= 2 and parts[i - 1] in "'’"
        if after_apostrophe and len(parts[i - 2]) > 1:
            out.append(part)  # Ma'ayan, Ni'ihau: the apostrophe is inside the word
            continue
        cased = part[0].upper() + part[1:]
        if part.startswith("mc") and len(part) > 3:
            cased = "Mc" + part[2].upper() + part[3:]
        elif part.startswith("mac") and len(part) > 5 and part not in _MAC_EXCEPTIONS:
            cased = "Mac" + part[3].upper() + part[4:]
        out.append(cased)
    return "".join(out)


def proper_case(value: str | None, surname: bool = False) -> str | None:
    """Proper case of a name part, changing only words written all upper or all lower case.

    Particles stay lower case inside a surname ("DE LA CRUZ" -> "de la Cruz") and inside a
    longer name, never as the first word of a given name ("Da" stays a first name).
    """
    if value is None:
        return None
    words = value.split(" ")
    out = []
    for i, word in enumerate(words):
        has_case = word.lower() != word.upper()
        if not has_case or (word != word.lower() and word != word.upper()):
            out.append(word)
            continue
        low = word.lower()
        is_particle = low.rstrip(".") in PARTICLES and i < len(words) - 1 and (surname or i > 0)
        out.append(low if is_particle else _case_word(low))
    return " ".join(out)


def _proper_case_column(df: pl.DataFrame, column: str, surname: bool) -> pl.DataFrame:
    def case(distinct: pl.DataFrame) -> pl.DataFrame:
        values = [proper_case(v, surname) for v in distinct[column].to_list()]
        return distinct.with_columns(pl.Series(f"{column}_cased", values, dtype=pl.String))

    out = on_distinct(df, [column], case)
    return out.with_columns(pl.col(f"{column}_cased").alias(column)).drop(f"{column}_cased")


def _split_prefix(frame: pl.DataFrame, column: str, prefix: str, rest: str) -> pl.DataFrame:
    """Add ``prefix`` (honorifics at the start of ``column``) and ``rest`` (the name after
    them). A value that is nothing but honorifics ("Mr.") leaves no name."""
    value = pl.col(column)
    frame = frame.with_columns(
        value.str.extract_groups(_PREFIX_RE).alias("_pfx"),
        value.str.contains(_ONLY_PREFIX_RE).alias("_pfx_only"),
    )
    found = pl.col("_pfx").struct.field("1")
    only = pl.col("_pfx_only")
    return frame.with_columns(
        pl.when(only).then(value).otherwise(found).alias(prefix),
        pl.when(only)
        .then(None)
        .when(found.is_not_null())
        .then(pl.col("_pfx").struct.field("2"))
        .otherwise(value)
        .alias(rest),
    ).drop("_pfx", "_pfx_only")


def _split_suffix(frame: pl.DataFrame, column: str, suffix: str, rest: str) -> pl.DataFrame:
    """Add ``suffix`` (generational/professional suffixes at the end of ``column``) and
    ``rest`` (the name before them)."""
    frame = frame.with_columns(pl.col(column).str.extract_groups(_SUFFIX_RE).alias("_sfx"))
    found = pl.col("_sfx").struct.field("2")
    return frame.with_columns(
        found.alias(suffix),
        pl.when(found.is_not_null())
        .then(pl.col("_sfx").struct.field("1"))
        .otherwise(pl.col(column))
        .alias(rest),
    ).drop("_sfx")


def split_full_name(frame: pl.DataFrame, column: str, prefix: str = "full") -> pl.DataFrame:
    """Add ``<prefix>_first``, ``<prefix>_middle`` and ``<prefix>_last``: the parts of the full
    names in ``column`` (which have no honorific or suffix left).

    "Last, First Middle" by the comma; CJK "姓 名" written with a space family name first;
    otherwise the last word with any particles before it is the surname ("Maria de la Cruz").
    CJK names without a space and single words are not split (single words become the first
    name: the one thing a mononym is).
    """
    full = pl.col(column)
    frame = frame.with_columns(
        full.str.contains(_CJK_ONLY_RE).alias("_cjk_solid"),
        full.str.contains(",").alias("_comma"),
        full.str.extract_groups(r"^([^,]+),\s*(.*)$").alias("_by_comma"),
        full.str.extract_groups(_CJK_SPACED_RE).alias("_cjk"),
        full.str.extract_groups(_WESTERN_SPLIT_RE).alias("_western"),
    )
    cjk, western, by_comma = pl.col("_cjk"), pl.col("_western"), pl.col("_by_comma")
    given = (
        pl.when(pl.col("_cjk_solid"))
        .then(None)
        .when(pl.col("_comma"))
        .then(by_comma.struct.field("2").str.replace_all(r"\s*,\s*", " "))
        .when(cjk.struct.field("1").is_not_null())
        .then(cjk.struct.field("2"))
        .when(western.struct.field("1").is_not_null())
        .then(western.struct.field("1"))
        .otherwise(full)
    )
    last = (
        pl.when(pl.col("_cjk_solid"))
        .then(None)
        .when(pl.col("_comma"))
        .then(by_comma.struct.field("1").str.strip_chars())
        .when(cjk.struct.field("1").is_not_null())
        .then(cjk.struct.field("1"))
        .otherwise(western.struct.field("2"))
    )
    frame = frame.with_columns(
        given.str.strip_chars().replace("", None).alias("_given"), last.alias(f"{prefix}_last")
    )
    return frame.with_columns(
        pl.col("_given").str.extract(r"^(\S+)", 1).alias(f"{prefix}_first"),
        pl.col("_given").str.extract(r"^\S+\s+(.+)$", 1).alias(f"{prefix}_middle"),
    ).drop("_cjk_solid", "_comma", "_by_comma", "_cjk", "_western", "_given")


_ZH_SCHEMA = {
    "_zh_first": pl.String,
    "_zh_middle": pl.String,
    "_zh_last": pl.String,
    "_zh_mk_first": pl.String,
    "_zh_mk_last": pl.String,
    "_zh_display": pl.String,
}


@functools.cache
def _pinyin_word() -> str:
    """A regex of one word that is pinyin syllables run together (``xiaoming``), after
    :func:`~pipelines.standardise.han.is_pinyin_word`'s folding (lower case, ü and v as u)."""
    syllables = sorted(pinyin_syllables(), key=len, reverse=True)
    return rf"^(?:{'|'.join(syllables)})+$"


def _may_be_east_asian(distinct: pl.DataFrame, keys: list[str]) -> pl.Series:
    """False only for name rows that :func:`east_asian_name` and :func:`family_first_name`
    would both leave alone: no Han, Hangul or kana character; not two or more words that are
    all pinyin; no Vietnamese family name at either end of the full name."""
    first, middle, last, full = (pl.col(k) for k in keys)
    script = pl.any_horizontal(pl.col(k).str.contains(f"[{_CJK}]").fill_null(False) for k in keys)
    words = (
        pl.concat_str([first, middle, last], separator=" ", ignore_nulls=True)
        .str.to_lowercase()
        .str.replace_all(r"[üv]", "u")
        .str.replace_all(r"[\s\-'’]+", " ")
        .str.strip_chars()
        .str.split(" ")
        .list.eval(pl.element().filter(pl.element() != ""))
    )
    pinyin = (words.list.len() >= 2) & words.list.eval(
        pl.element().str.contains(_pinyin_word())
    ).list.all()
    ends = full.str.replace_all(r"\s+", " ").str.strip_chars().str.split(" ")
    heads = distinct.select(ends.list.first().alias("w"), ends.list.last().alias("w2"))
    surnames = pl.Series(
        [
            w
            for w in pl.concat([heads["w"], heads["w2"]]).drop_nulls().unique()
            if fold_word(w) in VIETNAMESE_SURNAMES
        ],
        dtype=pl.String,
    )
    vietnamese = ends.list.first().is_in(surnames.implode()) | ends.list.last().is_in(
        surnames.implode()
    )
    return distinct.select(
        (script | pinyin.fill_null(False) | vietnamese.fill_null(False)).alias("maybe")
    ).to_series()


def _chinese_names(work: pl.DataFrame) -> pl.DataFrame:
    """Split Han and Hangul full names, order romanised pinyin and Vietnamese names
    family/given, and add their romanised keys (``_zh_*`` columns, ``_zh_applies``; a null key
    means the usual folded letters, a null ``_zh_display`` the usual full name); once per
    distinct combination of the parts."""
    keys = ["_first_name", "_middle_name", "_last_name", "_full_name"]

    def one(row: tuple[str | None, ...]) -> tuple[str | None, ...] | None:
        chinese = east_asian_name(*row)
        if chinese is not None:
            return (*chinese, None)
        other = family_first_name(*row)
        return tuple(other) if other is not None else None

    def per_distinct(distinct: pl.DataFrame) -> pl.DataFrame:
        # Most names of most sources are none of these: a vectorised test that never says no
        # to a name the rules below would take keeps them out of the Python loop.
        maybe = _may_be_east_asian(distinct, keys)
        rows = [
            one(row) if candidate else None
            for row, candidate in zip(distinct.select(keys).iter_rows(), maybe, strict=True)
        ]
        found = [r is not None for r in rows]
        values = [r if r is not None else (None,) * len(_ZH_SCHEMA) for r in rows]
        columns = {
            name: pl.Series(name, [v[i] for v in values], dtype=dtype)
            for i, (name, dtype) in enumerate(_ZH_SCHEMA.items())
        }
        return distinct.with_columns(
            *columns.values(), pl.Series("_zh_applies", found, dtype=pl.Boolean)
        )

    work = on_distinct(work, keys, per_distinct)
    chinese = pl.col("_zh_applies")
    return work.with_columns(
        pl.when(chinese)
        .then(pl.col(f"_zh_{part}"))
        .otherwise(f"_{part}_name")
        .alias(f"_{part}_name")
        for part in ("first", "middle", "last")
    )


def standardise_names(df: pl.DataFrame, nicknames: pl.DataFrame) -> pl.DataFrame:
    """Frame in, frame out.

    Reads ``raw_name_prefix``, ``raw_first_name``, ``raw_middle_name``, ``raw_last_name``,
    ``raw_name_suffix`` and ``raw_full_name``; adds the canonical ``name_prefix``,
    ``first_name``, ``middle_name``, ``last_name``, ``name_suffix``, ``full_name``, the name
    ``mk_*`` keys and ``invalid_<field>`` flags (raw value present but not a name).
    ``nicknames`` is :func:`~pipelines.standardise.nicknames.nickname_table`.
    Runs once per distinct combination of the raw name columns.
    """
    raw = [f"raw_{f}" for f in NAME_FIELDS]
    return on_distinct(df, raw, lambda distinct: _names(distinct.select(raw), nicknames))


def _names(df: pl.DataFrame, nicknames: pl.DataFrame) -> pl.DataFrame:
    given = set(df.columns)
    work = df

    # Clean-up and validity once per distinct value of each part column (names repeat a lot);
    # full names are nearly unique per record, so they are worked on directly.
    def tidy_and_check(frame: pl.DataFrame, field: str) -> pl.DataFrame:
        frame = frame.with_columns(_tidy(pl.col(f"raw_{field}")).alias(f"_{field}"))
        valid = _is_valid(pl.col(f"_{field}"))
        return frame.with_columns(
            pl.when(valid).then(pl.col(f"_{field}")).alias(f"_{field}"),
            (pl.col(f"_{field}").is_not_null() & ~valid).fill_null(False).alias(f"invalid_{field}"),
        )

    for f in NAME_FIELDS:
        if f == "full_name":
            work = tidy_and_check(work, f)
        else:
            work = on_distinct(work, [f"raw_{f}"], lambda d, f=f: tidy_and_check(d, f))

    # Honorifics in front of a first name; "John Q." carries a middle initial.
    def first_parts(frame: pl.DataFrame) -> pl.DataFrame:
        frame = _split_prefix(frame, "_first_name", "_prefix_first", "_first_rest")
        trailing = pl.col("_first_rest").str.extract_groups(_TRAILING_INITIALS_RE)
        frame = frame.with_columns(trailing.alias("_trailing"))
        return frame.with_columns(
            pl.col("_trailing").struct.field("1").alias("_first_before_initials"),
            pl.col("_trailing").struct.field("2").str.strip_chars().alias("_first_initials"),
        ).drop("_trailing")

    work = on_distinct(work, ["_first_name"], first_parts)
    take_initials = pl.col("_middle_name").is_null() & pl.col("_first_initials").is_not_null()
    work = work.with_columns(
        pl.when(take_initials)
        .then(pl.col("_first_before_initials"))
        .otherwise(pl.col("_first_rest"))
        .alias("_first_name"),
        pl.when(take_initials)
        .then(pl.col("_first_initials"))
        .otherwise(pl.col("_middle_name"))
        .alias("_middle_name"),
    )
    # Suffixes behind a last name.
    work = on_distinct(
        work, ["_last_name"], lambda d: _split_suffix(d, "_last_name", "_suffix_last", "_last_rest")
    )
    work = work.with_columns(pl.col("_last_rest").alias("_last_name"))
    # A full name: honorifics, suffixes, then the split (full names are nearly unique here).
    work = _split_prefix(work, "_full_name", "_prefix_full", "_full_rest")
    work = _split_suffix(work, "_full_rest", "_suffix_full", "_full_core")
    work = split_full_name(work, "_full_core", prefix="_full")
    work = work.with_columns(pl.col("_full_core").alias("_full_name"))

    # Parts from the full name only where the source gave no parts of its own.
    has_parts = pl.col("_first_name").is_not_null() | pl.col("_last_name").is_not_null()
    work = work.with_columns(
        pl.when(has_parts)
        .then(pl.col("_first_name"))
        .otherwise(pl.col("_full_first"))
        .alias("_first_name"),
        pl.when(has_parts)
        .then(pl.col("_middle_name"))
        .otherwise(pl.col("_full_middle"))
        .alias("_middle_name"),
        pl.when(has_parts)
        .then(pl.col("_last_name"))
        .otherwise(pl.col("_full_last"))
        .alias("_last_name"),
    )
    # Initials lose their dots: "A." and "A" are the same middle initial.
    work = with_distinct(
        work,
        "_middle_name",
        [
            pl.col("_middle_name")
            .str.replace_all(r"(^|\s)(\p{L})\.", "$1$2")
            .str.replace_all(r" {2,}", " ")
            .alias("_middle_clean")
        ],
    )
    work = work.with_columns(
        pl.col("_middle_clean").alias("_middle_name"),
        pl.col("_first_name").str.replace(r"^(\p{L})\.$", "$1"),
    )
    work = _chinese_names(work)

    work = work.with_columns(
        pl.coalesce("_name_prefix", "_prefix_first", "_prefix_full").alias("_prefix_all"),
        pl.coalesce("_name_suffix", "_suffix_last", "_suffix_full").alias("_suffix_all"),
    )
    work = _canon_column(work, "_prefix_all", PREFIXES)
    work = _canon_column(work, "_suffix_all", SUFFIXES)
    for column, surname in (("_first_name", False), ("_middle_name", False), ("_last_name", True)):
        work = _proper_case_column(work, column, surname)

    cjk_parts = pl.col("_last_name").str.contains(_CJK_ONLY_RE) & pl.col(
        "_first_name"
    ).str.contains(_CJK_ONLY_RE)
    any_part = pl.any_horizontal(
        pl.col(c).is_not_null() for c in ("_first_name", "_middle_name", "_last_name")
    )
    full_name = (
        pl.when(pl.col("_zh_display").is_not_null())
        .then(pl.col("_zh_display"))
        .when(cjk_parts.fill_null(False))
        .then(pl.concat_str("_last_name", "_first_name"))
        .when(any_part)
        .then(
            pl.concat_str(
                "_first_name", "_middle_name", "_last_name", separator=" ", ignore_nulls=True
            )
        )
        .otherwise(pl.col("_full_name"))
    )
    work = work.with_columns(
        pl.col("_prefix_all_canon").alias("name_prefix"),
        pl.col("_first_name").alias("first_name"),
        pl.col("_middle_name").alias("middle_name"),
        pl.col("_last_name").alias("last_name"),
        pl.col("_suffix_all_canon").alias("name_suffix"),
        full_name.alias("full_name"),
    )
    # A full name that was nothing but an honorific ("Mr.") is present but unusable.
    work = work.with_columns(
        (
            pl.col("invalid_full_name")
            | (
                pl.col("_full_name").is_null()
                & pl.col("full_name").is_null()
                & pl.col("_prefix_full").is_not_null()
            )
        ).alias("invalid_full_name")
    )

    work = with_distinct(
        work, "first_name", [letters_key(pl.col("first_name")).alias("mk_first_name")]
    )
    work = with_distinct(
        work, "last_name", [letters_key(pl.col("last_name")).alias("mk_last_name")]
    )
    work = with_distinct(
        work,
        "middle_name",
        [letters_key(pl.col("middle_name")).str.slice(0, 1).alias("mk_middle_initial")],
    )
    # Chinese names (characters or pinyin) are keyed on tone-less pinyin, Korean and Japanese
    # ones on their romanisation; a family-first name without a key of its own (Vietnamese)
    # keeps the folded letters of its reordered parts.
    chinese = pl.col("_zh_applies")
    work = work.with_columns(
        pl.when(chinese)
        .then(pl.coalesce("_zh_mk_first", "mk_first_name"))
        .otherwise("mk_first_name")
        .alias("mk_first_name"),
        pl.when(chinese)
        .then(pl.coalesce("_zh_mk_last", "mk_last_name"))
        .otherwise("mk_last_name")
        .alias("mk_last_name"),
        pl.when(chinese).then(None).otherwise("mk_middle_initial").alias("mk_middle_initial"),
    )
    work = work.with_columns(letters_key(pl.col("full_name")).alias("_mk_full_all"))
    # First and last keys in sorted order, so a record with the two fields swapped still agrees;
    # an unsplit full name (CJK without a space) keys on all its letters.
    a, b = pl.col("mk_first_name"), pl.col("mk_last_name")
    work = work.with_columns(
        pl.when(a.is_not_null() & b.is_not_null())
        .then(
            pl.when(a <= b)
            .then(pl.concat_str(a, pl.lit(" "), b))
            .otherwise(pl.concat_str(b, pl.lit(" "), a))
        )
        .otherwise(pl.coalesce(a, b, pl.col("_mk_full_all")))
        .alias("mk_full_name")
    )
    work = canonical_first_name(work, "mk_first_name", "mk_first_name_canonical", nicknames)
    # A pinyin given name is no English nickname ("dan" is not Daniel here), nor is a Korean,
    # Japanese or Vietnamese one.
    work = work.with_columns(
        pl.when(chinese)
        .then(pl.col("mk_first_name"))
        .otherwise("mk_first_name_canonical")
        .alias("mk_first_name_canonical")
    )
    # Names in Han characters: keys for one look-alike character (玉小明 / 王小明).
    work = with_distinct(
        work,
        "first_name",
        [_glyph_keys(pl.col("first_name")).alias("mk_first_name_glyphs")],
    )
    work = with_distinct(
        work, "last_name", [_glyph_keys(pl.col("last_name")).alias("mk_last_name_glyphs")]
    )
    return work.drop([c for c in work.columns if c.startswith("_") and c not in given])


def _glyph_keys(expr: pl.Expr) -> pl.Expr:
    return expr.map_batches(_han_glyph_keys, return_dtype=pl.List(pl.String))


def _han_glyph_keys(names: pl.Series) -> pl.Series:
    """:func:`glyph_keys` of each name with a Han character; null for the rest, which a
    vectorised test keeps from a Python call each."""
    han = names.str.contains(r"\p{Han}").fill_null(False)
    return pl.Series(
        names.name,
        [glyph_keys(v) if h else None for v, h in zip(names, han, strict=True)],
        dtype=pl.List(pl.String),
    )
