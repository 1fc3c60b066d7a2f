"""Phone numbers to E.164 with phonenumbers, extensions split off, impossible numbers flagged.

A number written without a country code is read in the region of the record: the country of
its address when the address names one, else the source's ``default_phone_region``. A number
that phonenumbers does not consider *valid* for its region (wrong length, unassigned range) is
flagged, never repaired: a guessed digit would link a customer to a stranger. One that is
still *possible* (the right length) keeps its digits as the matching key ``mk_phone``.

Formatting characters are stripped with vectorised expressions first, so "(212) 555-0100",
"212.555.0100" and "212 555 0100" become one distinct value; phonenumbers then runs once per
distinct (number, region) pair, and only for the numbers that
:mod:`~pipelines.standardise.phone_fastpath` (phonenumbers' own metadata replayed as vectorised
expressions) could not prove valid.
"""

from __future__ import annotations

import logging

import phonenumbers
import polars as pl

from pipelines.standardise.phone_fastpath import fast_e164
from pipelines.standardise.text import clean_text, on_distinct

log = logging.getLogger(__name__)

# Extension markers: "ext. 12", "x12", "#12", "extension 12", RFC 3966 ";ext=12", and the
# French/German/Spanish words used in exports from those countries.
_EXTENSION_RE = (
    r"(?i)^(.*?\d[^a-z]*?)[\s,;]*(?:;ext=|ext\.?|extn\.?|extension|ex\.|x|#|poste|durchwahl|"
    r"dw\.?|anexo|int\.?)\s*[:.]?\s*(\d{1,7})\s*$"
)
_FORMATTING = r"[\s().\-/\[\]\u2010-\u2015\u2212]"


def split_extension(expr: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(number part, extension digits) of a cleaned phone text."""
    groups = expr.str.extract_groups(_EXTENSION_RE)
    number = pl.coalesce(groups.struct.field("1"), expr)
    return number, groups.struct.field("2")


def compact(expr: pl.Expr) -> pl.Expr:
    """The number without formatting characters or a ``tel:`` scheme."""
    out = expr.str.replace(r"(?i)^tel:", "").str.replace_all(_FORMATTING, "")
    return out.replace("", None)


def to_e164(number: str, region: str | None) -> tuple[str | None, str | None, str | None]:
    """(E.164, extension found by phonenumbers, matching key) of one number.

    E.164 and extension are None unless the number is valid for its region. The matching key
    is the number's E.164 form also when it is merely *possible* (the right length, in a range
    not known to be assigned): test data, new ranges and numbers from generators are often
    such, and their digits still tell two records of one customer apart from others. Nothing
    is repaired: the digits are the ones written."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None, None, None
    if not phonenumbers.is_valid_number(parsed) and number.startswith("00"):
        # "00" is the international prefix of most of the world, also in exports from a
        # region whose own prefix differs ("001-212-555-0100" written for a US number).
        try:
            parsed = phonenumbers.parse("+" + number[2:], region)
        except phonenumbers.NumberParseException:
            return None, None, None
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if not phonenumbers.is_valid_number(parsed):
        # A local-only number (no area code) is "possible" too, but names no one line.
        reason = phonenumbers.is_possible_number_with_reason(parsed)
        return None, None, e164 if reason == phonenumbers.ValidationResult.IS_POSSIBLE else None
    return e164, parsed.extension or None, e164


def standardise_phones(df: pl.DataFrame, region_column: str) -> pl.DataFrame:
    """Frame in, frame out: ``raw_phone`` read in the region of ``region_column`` (ISO alpha-2)
    -> ``phone`` (E.164), ``phone_extension``, ``invalid_phone``, ``mk_phone`` (digits only)."""

    def parse(distinct: pl.DataFrame) -> pl.DataFrame:
        text = clean_text(pl.col("raw_phone"))
        number, extension = split_extension(text)
        distinct = distinct.with_columns(
            compact(number).alias("_phone_compact"),
            extension.alias("_phone_ext"),
            text.is_not_null().alias("_phone_present"),
        )
        # Numbers the vectorised replay proves valid skip phonenumbers; the rest call it once.
        distinct = fast_e164(distinct, "_phone_compact", region_column)
        todo = (
            distinct.filter(pl.col("_fast_e164").is_null() & pl.col("_phone_compact").is_not_null())
            .select("_phone_compact", region_column)
            .unique()
        )
        results = [to_e164(n, r) for n, r in todo.iter_rows()]
        slow = todo.with_columns(
            pl.Series("_slow_e164", [r[0] for r in results], dtype=pl.String),
            pl.Series("_phone_ext_lib", [r[1] for r in results], dtype=pl.String),
            pl.Series("_phone_key", [r[2] for r in results], dtype=pl.String),
        )
        log.debug("phones: %d distinct, %d left to phonenumbers", distinct.height, todo.height)
        out = distinct.join(
            slow,
            on=["_phone_compact", region_column],
            how="left",
            nulls_equal=True,
            maintain_order="left",
        )
        out = out.with_columns(pl.coalesce("_fast_e164", "_slow_e164").alias("_e164"))
        valid = pl.col("_e164").is_not_null()
        return out.select(
            "raw_phone",
            region_column,
            pl.col("_e164").alias("phone"),
            pl.when(valid)
            .then(pl.coalesce("_phone_ext", "_phone_ext_lib"))
            .alias("phone_extension"),
            (pl.col("_phone_present") & ~valid).alias("invalid_phone"),
            pl.coalesce("_e164", "_phone_key").str.strip_prefix("+").alias("mk_phone"),
        )

    return on_distinct(df, ["raw_phone", region_column], parse)
