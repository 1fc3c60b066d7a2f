"""Email addresses: trimmed, lower-cased, syntax-checked with email-validator (no DNS).

The canonical ``email`` keeps the trimmed lower-cased text even when it is invalid (a steward
needs to see what was typed); the record then lists ``email`` in ``invalid_fields`` so the value
never wins survivorship, and its matching keys are null so it never links two records.

email-validator costs ~25 microseconds per address, and addresses are nearly unique per
customer, so calling it for a million rows would take most of the time budget on its own. The
common shape (an ASCII dot-atom local part at an ordinary host name) is therefore recognised by
one vectorised pattern whose every match email-validator also accepts, unchanged: the pattern is
a strict subset of the library's rules (RFC 5322 dot-atom, RFC 952/1123 labels, length limits,
letters-only top-level domain, no special-use domain, no ``--`` label forms). Everything else
(internationalised addresses, odd characters, suspected errors) goes to email-validator, once
per distinct value. ``tests/test_standardise_emails.py`` checks the subset property.
"""

from __future__ import annotations

import polars as pl
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from pipelines.standardise.placeholders import DEFAULT_EMAIL_LOCAL_PARTS
from pipelines.standardise.text import clean_text, on_distinct

_ATEXT = r"a-z0-9_!#$%&'*+/=?^`{|}~\-"
_LABEL = r"[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?"
FAST_PATTERN = rf"^[{_ATEXT}]+(?:\.[{_ATEXT}]+)*@(?:{_LABEL}\.)+[a-z]{{2,63}}$"
_SPECIAL_USE = "|".join(SPECIAL_USE_DOMAIN_NAMES)

# Local parts that stand for "no email" in CRM exports: such an address identifies nobody (it
# never makes a matching key; :mod:`~pipelines.standardise.placeholders` reads it as missing).
PLACEHOLDER_LOCAL_PARTS = DEFAULT_EMAIL_LOCAL_PARTS

GMAIL_DOMAINS = ("gmail.com", "googlemail.com")


def _prepare(expr: pl.Expr) -> pl.Expr:
    """Trim, lower-case, and unwrap the forms mail programs export: ``mailto:``, angle brackets,
    ``Name <addr>``, surrounding quotes, and lists (``a@x.com; b@y.com``: the first address,
    the one a mail program would use; stray separators around one address are dropped)."""
    text = clean_text(expr).str.to_lowercase()
    listed = text.str.extract(
        r"^[\s;,]*([^\s;,]+@[^\s;,]+)\s*(?:[;,]\s*[^\s;,]+@[^\s;,]+\s*)+[;,]?\s*$", 1
    )
    text = pl.coalesce(listed, text).str.strip_chars(" ;,")
    inside_brackets = text.str.extract(r"<\s*([^<>\s]+)\s*>\s*$", 1)
    text = pl.coalesce(inside_brackets, text)
    text = text.str.replace(r"^mailto:\s*", "").str.replace(r"^[\"'](.*)[\"']$", "$1")
    return text.replace("", None)


def is_fast_valid(expr: pl.Expr) -> pl.Expr:
    """True where the vectorised pattern proves the prepared address valid (see module doc)."""
    parts = expr.str.split_exact("@", 1)
    local_len = parts.struct.field("field_0").str.len_bytes()
    domain = parts.struct.field("field_1")
    return (
        expr.str.contains(FAST_PATTERN)
        & (local_len <= 64)
        & (expr.str.len_bytes() <= 254)
        & (domain.str.len_bytes() <= 253)
        & ~domain.str.contains("--")
        & ~domain.str.contains(rf"(?:^|\.)(?:{_SPECIAL_USE})$")
    )


def validate_one(address: str) -> str | None:
    """email-validator's normalised, lower-cased form of one address, or None if invalid."""
    try:
        result = validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return None
    return result.normalized.lower()


def _keys() -> list[pl.Expr]:
    """Canonical email, invalid flag and matching keys from ``_email_text`` (prepared text) and
    ``_email_valid`` (the validated address, null when invalid)."""
    parts = pl.col("_email_valid").str.split_exact("@", 1)
    local, domain = parts.struct.field("field_0"), parts.struct.field("field_1")
    placeholder = local.is_in(list(PLACEHOLDER_LOCAL_PARTS))
    valid = pl.col("_email_valid").is_not_null() & ~placeholder.fill_null(False)
    is_gmail = domain.is_in(list(GMAIL_DOMAINS))
    key_local = local.str.replace(r"\+.*$", "")
    key_local = (
        pl.when(is_gmail)
        .then(key_local.str.replace_all(".", "", literal=True))
        .otherwise(key_local)
    )
    key_domain = pl.when(is_gmail).then(pl.lit("gmail.com")).otherwise(domain)
    usable_key = valid & (key_local.str.len_chars() > 0)
    return [
        pl.coalesce("_email_valid", "_email_text").alias("email"),
        (pl.col("_email_text").is_not_null() & ~valid).alias("invalid_email"),
        pl.when(usable_key)
        .then(pl.concat_str(key_local, pl.lit("@"), key_domain))
        .alias("mk_email"),
        pl.when(usable_key).then(key_local).alias("mk_email_user"),
    ]


def standardise_emails(df: pl.DataFrame) -> pl.DataFrame:
    """Frame in, frame out: ``raw_email`` -> ``email``, ``invalid_email``, ``mk_email`` (plus
    tags removed everywhere, dots removed and googlemail.com read as gmail.com for Gmail) and
    ``mk_email_user`` (the local part of ``mk_email``)."""

    def check(distinct: pl.DataFrame) -> pl.DataFrame:
        distinct = distinct.with_columns(_prepare(pl.col("raw_email")).alias("_email_text"))
        fast = distinct.with_columns(is_fast_valid(pl.col("_email_text")).alias("_fast"))
        slow_values = fast.filter(~pl.col("_fast") & pl.col("_email_text").is_not_null())
        checked = [validate_one(v) for v in slow_values["_email_text"].to_list()]
        slow = slow_values.select("_email_text").with_columns(
            pl.Series("_slow_valid", checked, dtype=pl.String)
        )
        out = fast.join(
            slow.unique("_email_text"), on="_email_text", how="left", maintain_order="left"
        )
        out = out.with_columns(
            pl.when(pl.col("_fast"))
            .then(pl.col("_email_text"))
            .otherwise(pl.col("_slow_valid"))
            .alias("_email_valid"),
        )
        return out.with_columns(*_keys()).select(
            "raw_email", "email", "invalid_email", "mk_email", "mk_email_user"
        )

    return on_distinct(df, ["raw_email"], check)
