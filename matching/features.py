"""The columns Splink compares, derived from the staged records' matching keys.

Standardisation writes the ``mk_*`` keys; this module adds the few derived columns the
comparisons and blocking rules need (parts of the date of birth, a phone number's national
tail, the script a name is written in, frequency-capped blocking keys, ...). Deriving them
here, in Polars, keeps the comparison SQL plain column equality, which reads the same in every
Splink backend.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Final

import polars as pl

from matching.config import AttributeConfig
from matching.errors import MatchingInputError

logger = logging.getLogger(__name__)

KEY_COLUMNS: Final = (
    "mk_first_name",
    "mk_first_name_canonical",
    "mk_middle_initial",
    "mk_last_name",
    "mk_email",
    "mk_email_user",
    "mk_phone",
    "mk_address",
    "mk_house_number",
    "mk_postcode",
    "mk_city",
    "mk_dob",
)
"""Matching keys (written by standardisation) that the model reads."""

REQUIRED_COLUMNS: Final = ("record_key", "source_system", *KEY_COLUMNS)

OPTIONAL_COLUMNS: Final = ("email", "name_suffix")
"""Canonical fields the model uses when present (a null column when absent)."""

GLYPH_COLUMNS: Final = ("mk_first_name_glyphs", "mk_last_name_glyphs")
"""Lists of look-alike keys of names in Han characters (``pipelines.standardise.han_glyphs``):
two names share one exactly when they differ by one look-alike character. Optional (a null
list when absent, as in records staged before they existed)."""

WRITTEN_NAME_COLUMNS: Final = ("first_name", "last_name")
"""Names whose written form the model compares beside their key (``<name>_written``)."""

FEATURES_VERSION: Final = 5
"""Version of what :func:`matching_frame` derives. Bump it whenever a derived value changes
for the same input (a new cleaning rule, another cap): incremental matching compares feature
rows with the previous run's, and a run on another version must rescore everything."""

_SUFFIXES: Final = {
    "junior": "jr",
    "senior": "sr",
    "2": "ii",
    "2nd": "ii",
    "3": "iii",
    "3rd": "iii",
    "4": "iv",
    "4th": "iv",
}
"""Spellings of the same generational suffix: ``Jr.``/``junior`` are one value, so that only a
real difference (Jr against Sr) counts as a contradiction."""

PHONE_TAIL_DIGITS: Final = 8
"""Digits kept from the end of a phone number for the 'same number, other prefix' level: a
number read with the wrong default region differs only in its country or trunk prefix."""

POSTCODE_PREFIX_CHARS: Final = 3
"""Leading postcode characters compared as 'same area' (a UK outward code, a US 3-digit ZIP)."""

PLACEHOLDER_FACTOR: Final = 10
PLACEHOLDER_MIN_COUNT: Final = 20
"""A date of birth held by more than ``PLACEHOLDER_FACTOR`` times as many records as the
average date (and by at least ``PLACEHOLDER_MIN_COUNT``) is a placeholder such as 1900-01-01,
not a birthday: real birthdays spread over tens of thousands of days. Placeholders are treated
as missing, so that they neither link strangers nor contradict a record's real birthday."""


ATTRIBUTE_PREFIX: Final = "attr_"
"""Staged records carry an extra matching attribute ``x`` as ``attr_x`` (raw text, added by
the match stage from the source's columns); the frame holds it normalised under the same
name, and ``bk_attr_x`` (frequency-capped) when it blocks."""


def feature_inputs(columns: Sequence[str]) -> list[str]:
    """Those of ``columns`` (a staged frame's) that :func:`matching_frame` reads: a caller
    scanning a file reads these alone, not every field of every record."""
    read = {
        "record_key",
        "source_system",
        *KEY_COLUMNS,
        *OPTIONAL_COLUMNS,
        *GLYPH_COLUMNS,
        *WRITTEN_NAME_COLUMNS,
    }
    return [c for c in columns if c in read or c.startswith(ATTRIBUTE_PREFIX)]


def matching_frame(
    records: pl.DataFrame | pl.LazyFrame,
    max_key_frequency: int,
    attributes: Mapping[str, AttributeConfig] | None = None,
) -> pl.DataFrame:
    """One row per record with exactly the columns the Splink model compares and blocks on.

    ``records`` follows the staged schema (at least ``record_key``, ``source_system`` and the
    ``mk_*`` keys), plus ``attr_<name>`` for each of ``attributes`` (missing: all null).
    Blank keys become nulls, so that two empty strings never count as an agreement. Raises
    :class:`MatchingInputError` naming missing columns or duplicate keys.

    ``records`` may be a scan: the key columns are then derived as the file is read, and the
    raw records are never held whole beside the frame (at ten million records they are
    gigabytes).
    """
    records = records.lazy()
    present = records.collect_schema().names()
    _check_columns(present)
    attribute_columns = [ATTRIBUTE_PREFIX + name for name in attributes or {}]

    def key(name: str) -> pl.Expr:
        # ``replace`` rather than ``when/then``: the same values at half the cost over a
        # million rows (no second pass to compare every string with "").
        return pl.col(name).cast(pl.String).str.strip_chars().replace("", None)

    frame = records.select(
        pl.col("record_key").cast(pl.String),
        pl.col("source_system").cast(pl.String),
        *(key(c).alias(c) for c in KEY_COLUMNS),
        *(
            key(c).alias(c) if c in present else pl.lit(None, pl.String).alias(c)
            for c in OPTIONAL_COLUMNS
        ),
        *(
            pl.col(c).cast(pl.List(pl.String))
            if c in present
            else pl.lit(None, pl.List(pl.String)).alias(c)
            for c in GLYPH_COLUMNS
        ),
        *(
            _written(key(c)).alias(f"{c}_written")
            if c in present
            else pl.lit(None, pl.String).alias(f"{c}_written")
            for c in WRITTEN_NAME_COLUMNS
        ),
        # Raw until normalised below, by each attribute's kind.
        *(
            pl.col(c).cast(pl.String) if c in present else pl.lit(None, pl.String).alias(c)
            for c in attribute_columns
        ),
    ).collect()
    _check_keys(frame)
    frame = frame.with_columns(mk_dob=_real_dates_of_birth(frame["mk_dob"]))
    dob = pl.col("mk_dob")
    year, month, day = dob.str.slice(0, 4), dob.str.slice(5, 2), dob.str.slice(8, 2)
    suffix = pl.col("name_suffix").str.to_lowercase().str.replace_all(r"[^a-z0-9]", "")
    first3, last3 = pl.col("mk_first_name").str.slice(0, 3), pl.col("mk_last_name").str.slice(0, 3)
    frame = frame.with_columns(
        pl.when((day.cast(pl.Int32, strict=False) <= 12) & (day != month))
        .then(pl.concat_str([year, day, month], separator="-"))
        .alias("dob_transposed"),
        pl.concat_str([year, month], separator="-").alias("dob_year_month"),
        pl.concat_str([month, day], separator="-").alias("dob_month_day"),
        pl.concat_str([year, day], separator="-").alias("dob_year_day"),
        year.alias("dob_year"),
        pl.when(suffix != "").then(suffix.replace(_SUFFIXES)).alias("name_suffix"),
        _script("mk_first_name").alias("first_name_script"),
        _script("mk_last_name").alias("last_name_script"),
        pl.col("mk_phone").str.slice(-PHONE_TAIL_DIGITS).alias("phone_tail"),
        pl.col("mk_postcode").str.slice(0, POSTCODE_PREFIX_CHARS).alias("postcode_prefix"),
        # Order-free, so first and last names swapped between two records agree on it.
        pl.when(pl.col("mk_first_name") <= pl.col("mk_last_name"))
        .then(pl.concat_str(["mk_first_name", "mk_last_name"], separator="|"))
        .otherwise(pl.concat_str(["mk_last_name", "mk_first_name"], separator="|"))
        .alias("name_pair"),
        # The starts of both names, in order and swapped, for the "swapped names" level.
        pl.concat_str([first3, last3], separator="|").alias("name_start"),
        pl.concat_str([last3, first3], separator="|").alias("name_start_swapped"),
        # The words of the address line in any order, for lines whose parts two sources keep
        # in another order (a building or estate name before or after the street).
        pl.col("mk_address").str.split(" ").list.unique(maintain_order=True).alias("address_words"),
    )
    keys = {
        "bk_email": pl.col("mk_email"),
        "bk_phone": pl.col("mk_phone"),
        # A home: postcode, house number and the street's first letter (the same number on
        # another street of the postcode is another home).
        "bk_address": _home_key("mk_postcode", street_letters=1),
        # The same home found through its town, for a postcode mistyped or left out. A town is
        # larger than a postcode, so more of the street pins the home: the first three letters
        # of its name (a typo further on still agrees) and the word after it, its type. Three
        # letters alone gathered a big town's 12 Main St, Main Ave and Maidstone Rd: 53% of
        # the pairs scored on a 1M-record sample, with one true match no other rule found.
        "bk_address_town": _home_key("mk_city", street_letters=3, with_type=True),
        "bk_name": pl.concat_str(["mk_first_name_canonical", "mk_last_name"], separator="|"),
        "bk_name_pair": pl.col("name_pair"),
    }
    frame = frame.with_columns(
        pl.when(pl.all_horizontal(_parts_present(name))).then(expression).alias(name)
        for name, expression in keys.items()
    )
    capped = list(keys)
    for name, attribute in (attributes or {}).items():
        column = ATTRIBUTE_PREFIX + name
        # Dropped and added back: each attribute's columns come last, in the attributes' order.
        normalised = _normalised(frame[column], attribute.kind).alias(column)
        frame = frame.drop(column).with_columns(normalised)
        if attribute.blocks:
            frame = frame.with_columns(pl.col(column).alias(f"bk_{column}"))
            capped.append(f"bk_{column}")
    return _capped(frame, capped, max_key_frequency)


def _normalised(raw: pl.Series, kind: str) -> pl.Series:
    """An attribute's values made comparable: identifiers as letters and digits in upper case
    (``123-45 678`` and ``12345678`` agree), text folded, dates as ISO text, numbers as
    numbers; blanks and unreadable values null."""
    value = raw.str.strip_chars()
    if kind == "identifier":
        value = value.str.to_uppercase().str.replace_all(r"[^\p{L}\p{N}]", "")
    elif kind == "text":
        value = value.str.to_lowercase().str.replace_all(r"\s+", " ")
    elif kind == "date":
        value = pl.select(
            pl.coalesce(
                value.str.strptime(pl.Date, fmt, strict=False)
                for fmt in ("%Y-%m-%d", "%Y%m%d", "%d/%m/%Y", "%d.%m.%Y")
            ).cast(pl.String)
        ).to_series()
    elif kind == "number":
        value = value.str.replace_all(r"[\s,]", "").cast(pl.Float64, strict=False).cast(pl.String)
    return value.replace("", None)


def _home_key(place: str, street_letters: int, with_type: bool = False) -> pl.Expr:
    """Place, house number and the first letters of the street (and, ``with_type``, the
    street's second word, its type: ``mai st``): one home's blocking key."""
    street = pl.col("mk_address").str.extract(rf"([^\W\d_]{{1,{street_letters}}})", 1)
    if with_type:
        kind = pl.col("mk_address").str.extract_all(r"[^\W\d_]+").list.get(1, null_on_oob=True)
        street = pl.concat_str([street, kind], separator=" ", ignore_nulls=True)
    return pl.concat_str([place, "mk_house_number", street], separator="|")


def _check_columns(columns: Sequence[str]) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise MatchingInputError(
            f"the staged records lack the column(s) {missing} that matching reads; "
            "they are written by the standardise stage (see pipelines/schema.py)"
        )


def _check_keys(records: pl.DataFrame) -> None:
    """Every record named, and named once (``records``: the derived frame, in input order)."""
    if not (records["record_key"].null_count() or records["source_system"].null_count()):
        unnamed = records.clear()
    else:
        unnamed = records.with_row_index("row").filter(
            pl.col("record_key").is_null() | pl.col("source_system").is_null()
        )
    if unnamed.height:
        raise MatchingInputError(
            f"{unnamed.height} staged record(s) have no record_key or source_system "
            f"(first at row {unnamed['row'][0]})"
        )
    if records["record_key"].n_unique() == records.height:
        return
    duplicated = records.filter(pl.col("record_key").is_duplicated())["record_key"]
    if duplicated.len():
        sample = sorted(set(duplicated.to_list()))[:5]
        raise MatchingInputError(
            f"record_key must be unique, but {duplicated.n_unique()} key(s) repeat, e.g. {sample}"
        )


def _parts_present(name: str) -> list[pl.Expr]:
    parts = {
        "bk_email": ["mk_email"],
        "bk_phone": ["mk_phone"],
        "bk_address": ["mk_postcode", "mk_house_number", "mk_address"],
        "bk_address_town": ["mk_city", "mk_house_number", "mk_address"],
        "bk_name": ["mk_first_name_canonical", "mk_last_name"],
        "bk_name_pair": ["mk_first_name", "mk_last_name"],
    }[name]
    return [pl.col(p).is_not_null() for p in parts]


def _capped(frame: pl.DataFrame, keys: list[str], max_key_frequency: int) -> pl.DataFrame:
    """Null each blocking key where its value is shared by more than ``max_key_frequency``
    records: such a value identifies nobody, and blocking on it alone would compare every pair
    of a crowd. The records are still found through the other rules."""
    crowded = {}
    # Counted together, so that Polars runs the keys' group-bys side by side.
    every_count = pl.collect_all(
        frame.lazy()
        .group_by(key)
        .len()
        .filter(pl.col(key).is_not_null() & (pl.col("len") > max_key_frequency))
        for key in keys
    )
    for key, counts in zip(keys, every_count, strict=True):
        crowded[key] = counts[key]
        if counts.height:
            logger.info(
                "blocking on %s skips %d record(s) whose value more than %d records share",
                key,
                int(counts["len"].sum()),
                max_key_frequency,
            )
    return frame.with_columns(
        pl.when(pl.col(k).is_in(values.implode())).then(None).otherwise(pl.col(k)).alias(k)
        for k, values in crowded.items()
        if values.len()
    )


def _written(name: pl.Expr) -> pl.Expr:
    """A name as written, where its matching key is a reading of it rather than its own
    letters folded: a name with letters of a script other than Latin (王小明 keyed
    ``xiaoming``, Андрей keyed ``andrei``). Two such names with one key but other characters
    (小明 / 小鸣: the same sound) are close, not the same; null for Latin names, whose key
    is their spelling."""
    return pl.when(name.str.contains(r"[\p{L}--\p{Latin}]").fill_null(False)).then(name)


def _script(column: str) -> pl.Expr:
    """``latin`` for a folded Latin-letter name, ``other`` for any other script: names in two
    different scripts cannot be compared letter by letter, so they count as not comparable
    rather than as different."""
    value = pl.col(column)
    return (
        pl.when(value.is_null())
        .then(None)
        .when(value.str.contains(r"^[a-z][a-z '\-]*$"))
        .then(pl.lit("latin"))
        .otherwise(pl.lit("other"))
    )


def _real_dates_of_birth(dob: pl.Series) -> pl.Series:
    """ISO dates of birth with malformed values and placeholders (see ``PLACEHOLDER_FACTOR``)
    set to null."""
    valid = dob.str.contains(r"^\d{4}-\d{2}-\d{2}$").fill_null(False)
    malformed = int((dob.is_not_null() & ~valid).sum())
    if malformed:
        logger.warning("%d mk_dob value(s) are not yyyy-mm-dd dates; treated as missing", malformed)
    dob = dob.set(~valid, None) if malformed else dob
    counts = dob.drop_nulls().value_counts(name="n")
    if counts.height == 0:
        return dob
    limit = max(PLACEHOLDER_FACTOR * counts["n"].mean(), PLACEHOLDER_MIN_COUNT)  # type: ignore[operator]
    placeholders = counts.filter(pl.col("n") > limit)
    if placeholders.height:
        logger.warning(
            "date(s) of birth %s are held by %s records each (an average date by %.1f): "
            "treated as placeholders, not birthdays",
            placeholders[dob.name].to_list(),
            placeholders["n"].to_list(),
            counts["n"].mean(),
        )
        dob = dob.set(dob.is_in(placeholders[dob.name].implode()).fill_null(False), None)
    return dob
