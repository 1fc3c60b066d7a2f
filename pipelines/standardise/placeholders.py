"""Placeholder values: what sources type when they mean "no value", read as missing.

A CRM that requires a birth date gets 1900-01-01; a checkout that requires an email gets
``noemail@shop.com`` or ``test@test.com``; a form that requires a phone gets 000-000-0000.
Such a value identifies nobody and must never survive over a real one, nor be published as if
it were the customer's, nor be flagged *invalid* (an invalid value is still published when no
valid one exists): it is the absence of a value, so it becomes null and its matching keys with
it. The lists are configurable (``standardise.placeholders``); the defaults are documented in
``docs/configuration.md``.

Text placeholders of every field (``n/a``, ``unknown``, ...) are the ``null_tokens`` of
:func:`pipelines.standardise.text.clean_text`; the list here adds to those for names and
address parts. Everything is a vectorised Polars expression.
"""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING, Final

from pydantic import Field, field_validator

from pipelines.config_base import StrictModel

if TYPE_CHECKING:  # the config model is loaded with every config file: Polars only when used
    import polars as pl

DEFAULT_DATES: Final = (
    date(1900, 1, 1),
    date(1901, 1, 1),
    date(1899, 12, 31),
    date(1800, 1, 1),
    date(1753, 1, 1),
    date(1111, 11, 11),
    date(1, 1, 1),
    date(2099, 12, 31),
    date(9999, 12, 31),
)
"""Dates systems fill in for an unknown birth date: the first day of 1900 (and its neighbours),
database minimums (SQL Server's 1753-01-01, 0001-01-01) and "far future" sentinels."""

DEFAULT_EMAILS: Final = (
    "test@test.com",
    "test@example.com",
    "email@email.com",
    "a@a.com",
    "x@x.com",
    "abc@abc.com",
    "none@none.com",
    "no@email.com",
    "noemail@noemail.com",
    "na@na.com",
)
"""Whole addresses that stand for "no email"."""

DEFAULT_EMAIL_LOCAL_PARTS: Final = (
    "noemail",
    "no.email",
    "no_email",
    "no-email",
    "nomail",
    "no.mail",
    "none",
    "null",
    "na",
    "n.a",
    "unknown",
    "noreply",
    "no-reply",
    "no.reply",
    "donotreply",
    "do-not-reply",
    "do.not.reply",
    "dontemail",
    "notprovided",
    "not.provided",
)
"""Local parts that stand for "no email" at any domain (``noemail@…``)."""

DEFAULT_EMAIL_DOMAINS: Final = ("noemail.com", "nomail.com", "no-email.com", "none.com")
"""Domains that stand for "no email" whatever the local part."""

DEFAULT_PHONE_PATTERNS: Final = (
    r"^\d{0,4}?(?:0{7,}|1{7,}|2{7,}|3{7,}|4{7,}|5{7,}|6{7,}|7{7,}|8{7,}|9{7,})$",
    r"^\d{0,3}?(?:0123456789|1234567890|9876543210)$",
)
"""Regular expressions over a phone's digits (formatting, ``+`` and extension removed): one
digit repeated (000-000-0000, +1 999 999 9999) or ten digits counting up or down
(123-456-7890), after a few leading digits of a country or trunk code. (A shorter run is a real
number's tail often enough: +7 495 123-45-67.)"""

DEFAULT_TEXT: Final = (
    "xxx",
    "xx",
    "n.a.",
    "n/k",
    "not provided",
    "not given",
    "no name",
    "noname",
    "tbd",
    "tba",
    "dummy",
)
"""Values of name and address fields that stand for "no value", besides the ``null_tokens``
every field already reads as empty (``n/a``, ``unknown``, ``none``, ``-``, ...)."""

TEXT_FIELDS: Final = (
    "name_prefix",
    "first_name",
    "middle_name",
    "last_name",
    "name_suffix",
    "full_name",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postcode",
)
"""Canonical text fields :attr:`PlaceholderConfig.text` applies to."""

_KEYS: Final = {
    "first_name": ("mk_first_name", "mk_first_name_canonical"),
    "middle_name": ("mk_middle_initial",),
    "last_name": ("mk_last_name",),
    "full_name": ("mk_full_name",),
    "address_line1": ("mk_address", "mk_house_number"),
    "city": ("mk_city",),
    "postcode": ("mk_postcode",),
}
"""Matching keys derived from a text field: a placeholder's keys go with it."""


class PlaceholderConfig(StrictModel):
    """Values read as missing (null, not invalid): a placeholder never survives over a real
    value and is never published. Replace a list to change it; ``[]`` turns a kind off."""

    dates: list[date] = Field(default_factory=lambda: list(DEFAULT_DATES))
    """Birth dates that mean "unknown" (e.g. ``1900-01-01``)."""
    emails: list[str] = Field(default_factory=lambda: list(DEFAULT_EMAILS))
    """Whole email addresses that mean "no email" (compared lower-cased)."""
    email_local_parts: list[str] = Field(default_factory=lambda: list(DEFAULT_EMAIL_LOCAL_PARTS))
    """Local parts that mean "no email" at any domain (``noemail@…``)."""
    email_domains: list[str] = Field(default_factory=lambda: list(DEFAULT_EMAIL_DOMAINS))
    """Domains that mean "no email" whatever the local part."""
    phone_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_PHONE_PATTERNS))
    """Regular expressions over a phone's digits (``000-000-0000``, ``123-456-7890``)."""
    text: list[str] = Field(default_factory=lambda: list(DEFAULT_TEXT))
    """Name and address values that mean "no value" (compared case-insensitively), besides
    ``n/a``, ``unknown``, ``none`` and the other tokens every field reads as empty."""

    @field_validator("emails", "email_local_parts", "email_domains", "text")
    @classmethod
    def _lower(cls, values: list[str]) -> list[str]:
        return sorted({v.strip().lower() for v in values if v.strip()})

    @field_validator("phone_patterns")
    @classmethod
    def _compiles(cls, values: list[str]) -> list[str]:
        for pattern in values:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from None
        return values


def _any_pattern(expr: pl.Expr, patterns: list[str]) -> pl.Expr:
    import polars as pl

    if not patterns:
        return pl.lit(False)
    return pl.any_horizontal([expr.str.contains(p) for p in patterns]).fill_null(False)


def placeholder_email(expr: pl.Expr, config: PlaceholderConfig) -> pl.Expr:
    """True where the (lower-cased) address is a placeholder."""
    parts = expr.str.split_exact("@", 1)
    local, domain = parts.struct.field("field_0"), parts.struct.field("field_1")
    return (
        expr.is_in(config.emails)
        | (expr.str.contains("@") & local.is_in(config.email_local_parts))
        | domain.is_in(config.email_domains)
    ).fill_null(False)


def placeholder_phone(raw: pl.Expr, config: PlaceholderConfig) -> pl.Expr:
    """True where a raw phone's digits (extension dropped) are a placeholder."""
    import polars as pl

    number = raw.cast(pl.String).str.replace(r"(?i)\s*(?:ext\.?|x|#|extension)\s*\d{1,7}\s*$", "")
    digits = number.str.replace_all(r"\D", "")
    return _any_pattern(digits, config.phone_patterns)


def apply_placeholders(df: pl.DataFrame, config: PlaceholderConfig) -> pl.DataFrame:
    """Placeholders of a standardised frame (canonical columns, ``invalid_<field>`` flags,
    ``mk_*`` keys) become null, unflagged, with their matching keys null too. (Placeholder
    dates are read in :func:`pipelines.standardise.dates.standardise_dates`, which still sees
    the parsed date before its range check.)"""
    import polars as pl

    rules: dict[str, pl.Expr] = {}
    if "email" in df.columns:
        rules["email"] = placeholder_email(pl.col("email"), config)
    if "raw_phone" in df.columns and "phone" in df.columns:
        rules["phone"] = placeholder_phone(pl.col("raw_phone"), config)
    if config.text:
        for field in TEXT_FIELDS:
            if field in df.columns:
                value = pl.col(field).str.strip_chars().str.to_lowercase()
                rules[field] = value.is_in(config.text).fill_null(False)
    if not rules:
        return df
    df = df.with_columns(expr.alias(f"_ph_{f}") for f, expr in rules.items())
    keys = {
        "email": ("mk_email", "mk_email_user"),
        "phone": ("phone_extension", "mk_phone"),
        **_KEYS,
    }
    updates = []
    for field in rules:
        hit = pl.col(f"_ph_{field}")
        updates.append(pl.when(hit).then(None).otherwise(pl.col(field)).alias(field))
        flag = f"invalid_{field}"
        if flag in df.columns:
            updates.append((pl.col(flag) & ~hit).alias(flag))
        updates += [
            pl.when(hit).then(None).otherwise(pl.col(k)).alias(k)
            for k in keys.get(field, ())
            if k in df.columns
        ]
    return df.with_columns(updates).drop(f"_ph_{f}" for f in rules)
