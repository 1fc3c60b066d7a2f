"""Vectorised proof that a phone number is valid, equal to what phonenumbers would answer.

phonenumbers costs ~25 microseconds per call and customer phone numbers are nearly unique, so a
million records would spend most of the time budget in it. phonenumbers' ``parse`` and
``is_valid_number`` are, for a number made only of digits (optionally after a ``+``), a fixed
sequence of regular-expression tests against the region metadata it ships: country-code
extraction, national-prefix stripping (``national_prefix_for_parsing``), length tests
(``possible_length``) and the number-type patterns. This module replays that sequence as Polars
expressions built from the same metadata, so the patterns are phonenumbers' own.

It only ever *accepts*: a number it proves valid gets the E.164 form phonenumbers would give;
every other number (letters, extensions, IDD prefixes, regions whose metadata needs a transform
rule, non-geographic codes, anything it cannot prove) is left undecided and goes to
phonenumbers itself. ``tests/test_standardise_phones.py`` compares both on generated numbers.
"""

from __future__ import annotations

from functools import cache

import phonenumbers
import polars as pl
from phonenumbers import PhoneMetadata
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

# phonenumbers' ValidationResult values for the length test.
IS_POSSIBLE, TOO_SHORT, TOO_LONG, INVALID_LENGTH, IS_POSSIBLE_LOCAL_ONLY = 0, 2, 3, 5, 4
_TYPE_DESCS = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
)
_MIN_NSN, _MAX_NSN = 2, 17


@cache
def _metadata(region: str) -> PhoneMetadata | None:
    return PhoneMetadata.metadata_for_region(region, None)


def _main_region(cc: int) -> str | None:
    regions = COUNTRY_CODE_TO_REGION_CODE.get(cc)
    return regions[0] if regions else None


_MAIN_REGION_OF_CODE = {str(cc): regions[0] for cc, regions in COUNTRY_CODE_TO_REGION_CODE.items()}


def _supported(md: PhoneMetadata | None) -> bool:
    """Metadata this module replays exactly: no national-prefix transform rule."""
    return md is not None and not md.national_prefix_transform_rule


def _matches(x: pl.Expr, desc: object) -> pl.Expr:
    """phonenumbers' ``_match_national_number`` (full match of the pattern, lengths ignored)."""
    pattern = getattr(desc, "national_number_pattern", None) if desc is not None else None
    if not pattern:
        return pl.lit(False)
    return x.str.contains(f"^(?:{pattern})$")


def _matches_desc(x: pl.Expr, desc: object) -> pl.Expr:
    """phonenumbers' ``_is_number_matching_desc`` (possible lengths, then the pattern)."""
    if desc is None:
        return pl.lit(False)
    lengths = list(desc.possible_length or ())
    length_ok = x.str.len_chars().is_in(lengths) if lengths else pl.lit(True)
    return length_ok & _matches(x, desc)


def _length_result(x: pl.Expr, md: PhoneMetadata) -> pl.Expr:
    """phonenumbers' ``_test_number_length`` for the unknown type (the general description)."""
    desc = md.general_desc
    possible = list(desc.possible_length or ())
    local = list(desc.possible_length_local_only or ())
    n = x.str.len_chars()
    if not possible:  # never the case in shipped metadata; undecidable here
        return pl.lit(None, dtype=pl.Int8)
    return (
        pl.when(n.is_in(local) if local else pl.lit(False))
        .then(pl.lit(IS_POSSIBLE_LOCAL_ONLY))
        .when(n == possible[0])
        .then(pl.lit(IS_POSSIBLE))
        .when(n < possible[0])
        .then(pl.lit(TOO_SHORT))
        .when(n > possible[-1])
        .then(pl.lit(TOO_LONG))
        .when(n.is_in(possible[1:]) if len(possible) > 1 else pl.lit(False))
        .then(pl.lit(IS_POSSIBLE))
        .otherwise(pl.lit(INVALID_LENGTH))
        .cast(pl.Int8)
    )


def _strip_national_prefix(x: pl.Expr, md: PhoneMetadata) -> pl.Expr:
    """phonenumbers' ``_maybe_strip_national_prefix_carrier_code`` without a transform rule."""
    prefix = md.national_prefix_for_parsing
    if not prefix:
        return x
    matched = x.str.extract(f"^({prefix})", 1)
    rest = x.str.slice(matched.str.len_chars())
    keep = _matches(x, md.general_desc) & ~_matches(rest, md.general_desc)
    return (
        pl.when(x.str.len_chars() == 0)
        .then(x)
        .when(matched.is_null())
        .then(x)
        .when(keep)
        .then(x)
        .otherwise(rest)
    )


def _known_rows(frame: pl.DataFrame, md: PhoneMetadata) -> pl.Series:
    """Row indexes (``_fp_i``) of ``frame`` whose ``_national`` phonenumbers would give a known
    type in ``md`` (``_number_type_helper(...) != UNKNOWN``).

    That is "matches the general description and any type description"; an OR does not depend
    on order, so the common types are tried first and each later pattern only runs on the rows
    still unknown.
    """
    x = pl.col("_national")
    pending = frame.select("_fp_i", "_national").filter(_matches_desc(x, md.general_desc))
    descs = [md.fixed_line]
    if not md.same_mobile_and_fixed_line_pattern:
        descs.append(md.mobile)
    descs += [getattr(md, name) for name in _TYPE_DESCS]
    known = []
    for desc in descs:
        if pending.height == 0:
            break
        if desc is None or not getattr(desc, "national_number_pattern", None):
            continue
        hit = pending.select(_matches_desc(x, desc)).to_series()
        known.append(pending["_fp_i"].filter(hit))
        pending = pending.filter(~hit)
    return pl.concat(known) if known else pl.Series("_fp_i", [], dtype=pl.UInt32)


def _extract_country_code(full: pl.Expr) -> pl.Expr:
    """phonenumbers' ``_extract_country_code``: the first 1-3 digit prefix that is a code."""
    codes = [str(c) for c in COUNTRY_CODE_TO_REGION_CODE]
    out = pl.lit(None, dtype=pl.String)
    for size in (3, 2, 1):  # built inside out so the shortest prefix wins
        candidate = full.str.slice(0, size)
        out = (
            pl.when(candidate.is_in(codes) & (full.str.len_chars() >= size))
            .then(candidate)
            .otherwise(out)
        )
    return pl.when(full.str.starts_with("0")).then(None).otherwise(out)


def _national_for(frame: pl.DataFrame) -> pl.DataFrame:
    """Strip the national prefix in the metadata of ``_meta`` and keep it when the length test
    allows, as ``parse`` does; rows whose metadata is not replayable get ``_ok`` false."""
    parts = []
    for (meta_region,), part in frame.group_by("_meta", maintain_order=True):
        md = _metadata(meta_region) if meta_region else None
        if not _supported(md):
            parts.append(part.with_columns(pl.lit(False).alias("_ok")))
            continue
        national = pl.col("_national")
        stripped = _strip_national_prefix(national, md)
        result = _length_result(stripped, md)
        use = ~result.is_in([TOO_SHORT, IS_POSSIBLE_LOCAL_ONLY, INVALID_LENGTH])
        parts.append(
            part.with_columns(
                pl.when(use).then(stripped).otherwise(national).alias("_national"),
                pl.lit(True).alias("_ok"),
            )
        )
    return pl.concat(parts, how="vertical") if parts else frame.with_columns(_ok=pl.lit(False))


def _validate(frame: pl.DataFrame) -> pl.DataFrame:
    """``_valid``: the number (``_cc``, ``_national``) is valid for the region phonenumbers
    would pick for it (``region_code_for_number`` then ``is_valid_number_for_region``)."""
    parts = []
    for (cc,), part in frame.group_by("_cc", maintain_order=True):
        part = part.with_row_index("_fp_i")
        regions = [r for r in COUNTRY_CODE_TO_REGION_CODE.get(int(cc), ()) if r != "001"]
        valid_rows: list[pl.Series] = []
        # The number's region: the first whose leading digits match or, for a region without
        # leading digits, whose patterns know the number. Valid: its type in that region is
        # known (already proven for regions chosen by their patterns).
        pending = part
        for region in regions:
            md = _metadata(region)
            if md is None or pending.height == 0:
                continue
            if len(regions) > 1 and md.leading_digits is not None:
                chosen = pending.filter(
                    pl.col("_national").str.contains(f"^(?:{md.leading_digits})")
                )
                valid_rows.append(_known_rows(chosen, md))
            else:
                chosen_idx = _known_rows(pending, md)
                chosen = pending.filter(pl.col("_fp_i").is_in(chosen_idx.implode()))
                valid_rows.append(chosen_idx)
            pending = pending.filter(~pl.col("_fp_i").is_in(chosen["_fp_i"].implode()))
        valid = pl.concat(valid_rows) if valid_rows else pl.Series([], dtype=pl.UInt32)
        parts.append(
            part.with_columns(pl.col("_fp_i").is_in(valid.implode()).alias("_valid")).drop("_fp_i")
        )
    return pl.concat(parts, how="vertical") if parts else frame.with_columns(_valid=pl.lit(False))


def fast_e164(numbers: pl.DataFrame, number: str, region: str) -> pl.DataFrame:
    """Add ``_fast_e164``: the E.164 form of numbers proven valid, null for every other number
    (which the caller must give to phonenumbers). ``number`` holds the number without
    formatting characters, ``region`` the ISO region it is read in."""
    work = numbers.with_row_index("_fp_row")
    eligible = pl.col(number).str.contains(r"^\+?[0-9]{3,20}$") & pl.col(region).is_in(
        list(phonenumbers.SUPPORTED_REGIONS)
    )
    cand = work.filter(eligible.fill_null(False)).select("_fp_row", number, region)
    if cand.height == 0:
        return numbers.with_columns(pl.lit(None, dtype=pl.String).alias("_fast_e164"))

    with_plus = cand.filter(pl.col(number).str.starts_with("+"))
    without = cand.filter(~pl.col(number).str.starts_with("+"))
    staged: list[pl.DataFrame] = []

    # "+<cc><national>": the country code is read from the number; metadata of its main region.
    full = pl.col(number).str.slice(1)
    plus = with_plus.with_columns(_extract_country_code(full).alias("_cc")).filter(
        pl.col("_cc").is_not_null() & (full.str.len_chars() > 2)
    )
    plus = plus.with_columns(
        full.str.slice(pl.col("_cc").str.len_chars()).alias("_national"),
        pl.col("_cc")
        .replace_strict(_MAIN_REGION_OF_CODE, default=None, return_dtype=pl.String)
        .alias("_meta"),
    )
    staged.append(plus)

    # National numbers, read in the row's region.
    for (reg,), part in without.group_by(region, maintain_order=True):
        md = _metadata(reg)
        if not _supported(md):
            continue
        digits = pl.col(number)
        if md.international_prefix:
            # A number that starts with the region's IDD prefix is left to phonenumbers.
            part = part.filter(~digits.str.contains(f"^(?:{md.international_prefix})"))
        cc = str(md.country_code)
        main = _main_region(md.country_code)
        potential = _strip_national_prefix(digits.str.slice(len(cc)), md)
        has_cc = digits.str.starts_with(cc) & (
            (~_matches(digits, md.general_desc) & _matches(potential, md.general_desc))
            | (_length_result(digits, md) == TOO_LONG)
        )
        staged.append(
            part.with_columns(
                pl.lit(cc).alias("_cc"),
                pl.when(has_cc).then(potential).otherwise(digits).alias("_national"),
                pl.when(has_cc & pl.lit(main != reg))
                .then(pl.lit(main))
                .otherwise(pl.lit(reg))
                .alias("_meta"),
            )
        )

    frame = pl.concat([s.select("_fp_row", "_cc", "_national", "_meta") for s in staged])
    frame = frame.filter(pl.col("_national").str.len_chars() >= _MIN_NSN)
    frame = _national_for(frame).filter(
        pl.col("_ok") & pl.col("_national").str.len_chars().is_between(_MIN_NSN, _MAX_NSN)
    )
    frame = _validate(frame).filter(pl.col("_valid"))
    proven = frame.select(
        "_fp_row", pl.concat_str(pl.lit("+"), "_cc", "_national").alias("_fast_e164")
    )
    return work.join(proven, on="_fp_row", how="left", maintain_order="left").drop("_fp_row")
