"""Build ``customer_profile`` from a run's golden rows (vectorised, one pass).

Contactability counts values survivorship did not judge invalid; completeness is the golden
record's own column, so the two tables never disagree.

Every attribute is derived from values the golden record already holds, so the table adds no
personal data; ``age_band`` generalises the date of birth and is masked for every role that is
not granted ``date_of_birth`` (``pipelines.privacy.masking``). Times are measured at the run's
start (``pipelines.history.run_time``), so a rerun gives the same profile.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from pipelines.profile.schema import AGE_BANDS, customer_profile_schema


def _filled(name: str) -> pl.Expr:
    """A value is there: not null, and not an empty string (golden values are trimmed)."""
    column = pl.col(name)
    if name == "date_of_birth":
        return column.is_not_null()
    return column.is_not_null() & (column.cast(pl.String).str.len_bytes() > 0)


def _usable(name: str, status: str) -> pl.Expr:
    """A contact value there and not judged invalid by survivorship (valid or unverified)."""
    return _filled(name) & (pl.col(status).fill_null("") != "invalid")


def _age_band(at: datetime) -> pl.Expr:
    dob = pl.col("date_of_birth")
    had_birthday = (dob.dt.month() < at.month) | (
        (dob.dt.month() == at.month) & (dob.dt.day() <= at.day)
    )
    age = pl.lit(at.year) - dob.dt.year() - pl.when(had_birthday).then(0).otherwise(1)
    bounds = [(18, AGE_BANDS[0]), (25, AGE_BANDS[1]), (35, AGE_BANDS[2]), (45, AGE_BANDS[3])]
    bounds += [(55, AGE_BANDS[4]), (65, AGE_BANDS[5])]
    expr = pl.when(dob.is_null() | (age < 0) | (age > 120)).then(pl.lit(None, pl.String))
    for upper, band in bounds:
        expr = expr.when(age < upper).then(pl.lit(band))
    return expr.otherwise(pl.lit(AGE_BANDS[-1]))


def build_profile(golden: pl.DataFrame, run_id: str, at: datetime) -> pl.DataFrame:
    """``customer_profile`` rows for ``golden`` (``golden_customers`` rows of run ``run_id``)."""
    moment = pl.lit(at).cast(pl.Datetime("us", "UTC"))
    postal = _filled("address_line1") & (_filled("postcode") | _filled("city")) & _filled("country")
    postal = postal & (pl.col("address_status").fill_null("") != "invalid")
    email, phone = _usable("email", "email_status"), _usable("phone", "phone_status")
    profile = golden.select(
        "golden_id",
        "first_seen_at",
        ((moment - pl.col("first_seen_at")).dt.total_days())
        .clip(lower_bound=0)
        .alias("tenure_days"),
        pl.col("source_systems").list.len().cast(pl.Int64).alias("source_count"),
        "source_systems",
        email.alias("has_email"),
        phone.alias("has_phone"),
        postal.alias("has_postal_address"),
        (email | phone | postal).alias("contactable"),
        "country",
        "region",
        _age_band(at).alias("age_band"),
        # One definition of completeness: the golden record's own (pipelines.golden).
        pl.col("completeness").round(4),
        pl.col("source_updated_at").alias("last_activity_at"),
        pl.lit(run_id).alias("run_id"),
    )
    schema = customer_profile_schema()
    return profile.select(schema.names).sort("golden_id")
