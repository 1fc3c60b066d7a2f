"""Postcodes normalised per country, kept as text so leading zeros survive.

Each country with a fixed format has one rule: the pattern of the compact form (upper case, no
spaces or hyphens) and how to write it (UK ``SW1A 2AA``, Canada ``K1A 0B1``, Netherlands
``1012 AB``, Poland ``00-950``, US ``02134`` or ``02134-1234``). A postcode that breaks its
country's rule is flagged invalid. In countries whose postcodes are a fixed number of digits
and may start with zero (US, Germany, France, Italy, Spain, ...), a code one or two digits short
is that code with its leading zeros dropped by a spreadsheet or a numeric database column (the
only code it can be), so the zeros are restored: Dresden's ``1067`` is ``01067``. Countries whose
codes never start with zero have patterns that say so, so a short code there stays invalid.
Nothing else is repaired. Countries without a rule keep the upper-cased text with single spaces.

``mk_postcode`` is the compact form, and for the US the five-digit ZIP alone, so ZIP and
ZIP+4 records agree.
"""

from __future__ import annotations

import re

import polars as pl

# country -> (pattern of the compact form, replacement that writes it)
RULES: dict[str, tuple[str, str]] = {
    "US": (r"^(\d{5})(\d{4})?$", "$1-$2"),
    "GB": (r"^([A-Z]{1,2}\d[A-Z\d]?)(\d[A-Z]{2})$", "$1 $2"),
    "CA": (r"^([ABCEGHJ-NPRSTVXY]\d[A-Z])(\d[A-Z]\d)$", "$1 $2"),
    "NL": (r"^([1-9]\d{3})([A-Z]{2})$", "$1 $2"),
    "IE": (r"^([AC-FHKNPRTV-Y]\d{2}|D6W)([0-9AC-FHKNPRTV-Y]{4})$", "$1 $2"),
    "SE": (r"^(\d{3})(\d{2})$", "$1 $2"),
    "CZ": (r"^(\d{3})(\d{2})$", "$1 $2"),
    "SK": (r"^(\d{3})(\d{2})$", "$1 $2"),
    "GR": (r"^(\d{3})(\d{2})$", "$1 $2"),
    "PL": (r"^(\d{2})(\d{3})$", "$1-$2"),
    "PT": (r"^(\d{4})(\d{3})$", "$1-$2"),
    "JP": (r"^(\d{3})(\d{4})$", "$1-$2"),
    "BR": (r"^(\d{5})(\d{3})$", "$1-$2"),
    "DE": (r"^(\d{5})$", "$1"),
    "FR": (r"^(\d{5})$", "$1"),
    "IT": (r"^(\d{5})$", "$1"),
    "ES": (r"^(\d{5})$", "$1"),
    "FI": (r"^(\d{5})$", "$1"),
    "EE": (r"^([1-9]\d{4})$", "$1"),
    "HR": (r"^([1-5]\d{4})$", "$1"),
    "LT": (r"^(?:LT)?(\d{5})$", "$1"),
    "MX": (r"^(\d{5})$", "$1"),
    "TR": (r"^(\d{5})$", "$1"),
    "UA": (r"^(\d{5})$", "$1"),
    "KR": (r"^(\d{5})$", "$1"),
    "AT": (r"^([1-9]\d{3})$", "$1"),
    "BE": (r"^([1-9]\d{3})$", "$1"),
    "CH": (r"^([1-9]\d{3})$", "$1"),
    "DK": (r"^(\d{4})$", "$1"),
    "NO": (r"^(\d{4})$", "$1"),
    "HU": (r"^([1-9]\d{3})$", "$1"),
    "SI": (r"^([1-9]\d{3})$", "$1"),
    "BG": (r"^([1-9]\d{3})$", "$1"),
    "LU": (r"^(?:L)?(\d{4})$", "$1"),
    "AU": (r"^(\d{4})$", "$1"),
    "NZ": (r"^(\d{4})$", "$1"),
    "ZA": (r"^(\d{4})$", "$1"),
    "LV": (r"^(?:LV)?(\d{4})$", "LV-$1"),
    "RO": (r"^(\d{6})$", "$1"),
    "RU": (r"^([1-6]\d{5})$", "$1"),
    "BY": (r"^(2\d{5})$", "$1"),
    "KZ": (r"^(\d{6})$", "$1"),
    "IN": (r"^([1-9]\d{5})$", "$1"),
    "CN": (r"^(\d{6})$", "$1"),
    "SG": (r"^(\d{6})$", "$1"),
}


def _compact(expr: pl.Expr) -> pl.Expr:
    return expr.str.to_uppercase().str.replace_all(r"[\s\-.]", "")


def _digits_only_length(pattern: str) -> int | None:
    """N when a rule's code is N digits of which the first may be 0 (``^(\\d{N})$`` and the US
    ZIP), else None: the countries where dropped leading zeros can be restored."""
    match = re.fullmatch(r"\^\(\\d\{(\d+)\}\)(?:\(\\d\{\d+\}\)\?)?\$", pattern)
    return int(match.group(1)) if match else None


def _normalise(text: pl.Expr, country: str | None) -> tuple[pl.Expr, pl.Expr]:
    """(canonical, matching key) of cleaned postcode text in one country; null when invalid."""
    compact = _compact(text)
    rule = RULES.get(country or "")
    size = _digits_only_length(rule[0]) if rule else None
    if size is not None:
        short = compact.str.contains(rf"^\d{{{max(size - 2, 1)},{size - 1}}}$")
        compact = pl.when(short).then(compact.str.zfill(size)).otherwise(compact)
    if country == "US":  # ZIP+4 written as 8 digits lost the ZIP's leading zero
        compact = (
            pl.when(compact.str.contains(r"^\d{7,8}$"))
            .then(compact.str.zfill(9))
            .otherwise(compact)
        )
    if rule is None:
        ok = compact.str.contains(r"^[A-Z0-9]{2,10}$")
        canonical = text.str.to_uppercase().str.replace_all(r"\s+", " ")
    else:
        pattern, fmt = rule
        ok = compact.str.contains(pattern)
        canonical = compact.str.replace(pattern, fmt).str.strip_chars("- ")
    key = canonical.str.slice(0, 5) if country == "US" else canonical.str.replace_all(r"[\s\-]", "")
    return pl.when(ok).then(canonical), pl.when(ok).then(key)


def normalise_postcodes(df: pl.DataFrame, text: str, country: str) -> pl.DataFrame:
    """Add ``postcode``, ``mk_postcode`` and ``invalid_postcode`` for the cleaned postcode text in
    column ``text`` read in the alpha-2 country of column ``country`` (may be null)."""
    parts = []
    for (code,), part in df.with_row_index("_pc_row").group_by(country, maintain_order=True):
        canonical, key = _normalise(pl.col(text), code)
        parts.append(part.with_columns(canonical.alias("postcode"), key.alias("mk_postcode")))
    if not parts:
        empty = pl.lit(None, dtype=pl.String)
        return df.with_columns(
            empty.alias("postcode"),
            empty.alias("mk_postcode"),
            pl.lit(False).alias("invalid_postcode"),
        )
    out = pl.concat(parts).sort("_pc_row").drop("_pc_row")
    return out.with_columns(
        (pl.col(text).is_not_null() & pl.col("postcode").is_null()).alias("invalid_postcode")
    )
