"""One source's accepted records to the staged (canonical) shape, frame in and frame out.

The per-concern modules each add their canonical columns, ``mk_*`` keys and ``invalid_<field>``
flags; this module runs them in the order their inputs need (the address gives the country,
the country picks the phone region), folds the flags into ``invalid_fields`` and returns the
columns of :func:`pipelines.schema.staged_schema`. No I/O: the stage entry point reads and writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import polars as pl

from pipelines.errors import ConfigError
from pipelines.schema import CANONICAL_FIELDS, LINEAGE_COLUMNS, MAPPABLE_FIELDS, STAGED_COLUMNS
from pipelines.standardise.addresses import standardise_addresses
from pipelines.standardise.countries import country_code
from pipelines.standardise.dates import DateOrder, DateReport, standardise_dates, to_utc
from pipelines.standardise.emails import standardise_emails
from pipelines.standardise.names import standardise_names
from pipelines.standardise.nicknames import nickname_table
from pipelines.standardise.phones import standardise_phones
from pipelines.standardise.placeholders import PlaceholderConfig, apply_placeholders

if TYPE_CHECKING:
    from pipelines.ingest.config import SourceConfig

# Canonical fields that can be flagged (phone_extension is only ever split from a valid phone).
FLAGGED_FIELDS = tuple(f for f in CANONICAL_FIELDS if f != "phone_extension")
_PHONE_REGIONS = frozenset(phonenumbers.SUPPORTED_REGIONS)


@dataclass(frozen=True)
class SourceHints:
    """How to read one source: its half of ``SourceConfig`` that standardisation uses."""

    date_formats: list[str] = field(default_factory=list)
    """Formats of ``date_of_birth``, tried in order."""
    timezone: str = "UTC"
    default_phone_region: str = "US"
    default_country: str | None = None

    @classmethod
    def from_source(cls, source: SourceConfig) -> SourceHints:
        """The hints of one configured source, checked: a bad hint would otherwise silently
        flag every value of the source, so it is a :class:`ConfigError` naming the key."""
        key = f"sources[{source.name}]"
        formats = list(source.date_formats.get("date_of_birth", []))
        for fmt in formats:
            _check_date_format(fmt, f"{key}.date_formats.date_of_birth")
        try:
            ZoneInfo(source.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(
                f"{key}.timezone: {source.timezone!r} is not an IANA time zone such as "
                "'Europe/London'"
            ) from exc
        country = None
        if source.default_country:
            country = country_code(source.default_country)
            if country is None:
                raise ConfigError(
                    f"{key}.default_country: {source.default_country!r} is not a country "
                    "(use an ISO code such as 'GB' or a country name)"
                )
        return cls(
            date_formats=formats,
            timezone=source.timezone,
            default_phone_region=source.default_phone_region,
            default_country=country,
        )


def _check_date_format(fmt: str, key: str) -> None:
    """A date format must name day, month and year and use only known directives."""
    has_day = "%d" in fmt or "%e" in fmt or "%j" in fmt
    has_month = any(d in fmt for d in ("%m", "%b", "%B", "%h", "%j"))
    has_year = "%Y" in fmt or "%y" in fmt
    try:
        sample = datetime(1987, 11, 23, 4, 5, 6)
        datetime.strptime(sample.strftime(fmt), fmt)
    except ValueError as exc:
        raise ConfigError(f"{key}: {fmt!r} is not a valid date format ({exc})") from exc
    if not (has_day and has_month and has_year):
        raise ConfigError(f"{key}: {fmt!r} must name the day, month and year (e.g. '%d/%m/%Y')")


def _ensure_input_columns(df: pl.DataFrame) -> pl.DataFrame:
    """Missing raw columns read as null text (a frame built by hand may carry only some)."""
    missing = [
        pl.lit(None, dtype=pl.String).alias(f"raw_{f}")
        for f in MAPPABLE_FIELDS
        if f"raw_{f}" not in df.columns
    ]
    lineage = [
        pl.lit(None, dtype=pl.String).alias(c) for c in LINEAGE_COLUMNS if c not in df.columns
    ]
    extra = [] if "trust_rank" in df.columns else [pl.lit(None, dtype=pl.Int32).alias("trust_rank")]
    df = df.with_columns(*missing, *lineage, *extra)
    return df.with_columns(pl.col(f"raw_{f}").cast(pl.String) for f in MAPPABLE_FIELDS)


def standardise_with_report(
    df: pl.DataFrame,
    hints: SourceHints | None = None,
    *,
    as_of: date | None = None,
    nicknames: pl.DataFrame | None = None,
    min_birth_year: int = 1900,
    date_order: DateOrder | None = None,
    placeholders: PlaceholderConfig | None = None,
) -> tuple[pl.DataFrame, DateReport]:
    """:func:`standardise_frame` plus the date-ambiguity report of the frame. ``date_order``
    is the whole source's day/month evidence when ``df`` holds only some of its records
    (:func:`pipelines.standardise.dates.parse_dates`); by default the frame's own.
    ``placeholders`` lists the values read as missing (default: the documented defaults)."""
    hints = hints or SourceHints()
    placeholders = placeholders or PlaceholderConfig()
    as_of = as_of or date.today()
    nicknames = nickname_table() if nicknames is None else nicknames
    df = _ensure_input_columns(df)

    df = standardise_names(df, nicknames)
    df = standardise_emails(df)
    df = standardise_addresses(df, default_country=hints.default_country)
    df = df.with_columns(
        pl.when(pl.col("country").is_in(list(_PHONE_REGIONS)))
        .then(pl.col("country"))
        .otherwise(pl.lit(hints.default_phone_region))
        .alias("_phone_region")
    )
    df = standardise_phones(df, "_phone_region")
    df, report = standardise_dates(
        df,
        hints.date_formats,
        as_of=as_of,
        min_birth_year=min_birth_year,
        date_order=date_order,
        placeholders=placeholders.dates,
    )
    df = to_utc(df, ["ingested_at", "source_updated_at"], hints.timezone)
    df = apply_placeholders(df, placeholders)

    flags = [pl.when(pl.col(f"invalid_{f}")).then(pl.lit(f)) for f in FLAGGED_FIELDS]
    df = df.with_columns(
        pl.concat_list(flags).list.drop_nulls().alias("invalid_fields"),
        pl.col("trust_rank").cast(pl.Int32),
    )
    return df.select(STAGED_COLUMNS), report


def standardise_frame(
    df: pl.DataFrame,
    hints: SourceHints | None = None,
    *,
    as_of: date | None = None,
    nicknames: pl.DataFrame | None = None,
    min_birth_year: int = 1900,
) -> pl.DataFrame:
    """Accepted records of one source (lineage, ``raw_<field>``, ``trust_rank``) to the staged
    columns, in the same row order. ``as_of`` is the run's date (dates of birth after it are
    impossible); ``nicknames`` defaults to the bundled table."""
    out, _ = standardise_with_report(
        df, hints, as_of=as_of, nicknames=nicknames, min_birth_year=min_birth_year
    )
    return out
