"""Dates of birth to ``date``, lineage timestamps to UTC.

A date is read with the source's configured formats first, tried in order (the source owner
knows whether 03/04/1980 means March or April). ISO forms (1980-04-03, 19800403, an ISO timestamp
whose date part is taken as written) are read for every source, because a typed date from a
database or Parquet file arrives as ISO text.

Without a configured format, unambiguous shapes are read as they stand: day > 12 means day first,
a month name says which number is the day. Numeric dates whose first two numbers could both be
months (03/04/1980) are *ambiguous*: they are counted and reported, and resolved only if the same
source writes its unambiguous dates one way (at least 3 values, 95% agreeing); otherwise they
stay null and are flagged. Impossible dates (30 February, month 13), dates after the run and
years before ``min_birth_year`` are flagged, never guessed.

Two-digit years take the century that puts the date on or before the run's date (a birth date is
never in the future). "The run's date" comes from the run id, so reruns give the same answer.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

import polars as pl

from pipelines.errors import SourceError
from pipelines.standardise.text import clean_text, on_distinct

log = logging.getLogger(__name__)

MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        "january jan januar janvier enero gennaio januari janeiro jän jänner ene gen janv",
        "february feb februar février fevrier febrero febbraio februari fevereiro fév fev févr",
        "march mar märz maerz mars marzo maart março marco mär mrz",
        "april apr avril abril aprile abr avr",
        "may mai mayo maggio mei maio mag",
        "june jun juni juin junio giugno junho giu",
        "july jul juli juillet julio luglio julho lug juil",
        "august aug août aout agosto augustus ago",
        "september sep sept septembre septiembre settembre setembro set",
        "october oct oktober octobre octubre ottobre outubro okt ott out",
        "november nov novembre noviembre novembro",
        "december dec dezember décembre decembre diciembre dicembre dezembro dez dic déc",
    ),
    start=1,
):
    for _name in _names.split():
        MONTHS.setdefault(_name, _number)

_TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%p", "%z", "%Z", "%f", "%T", "%R", "%c")
_NUMERIC = r"^(\d{1,2})[/.\-\s](\d{1,2})[/.\-\s](\d{2}|\d{4})$"
_DAY_MONTH_NAME = r"^(\d{1,2})(?:st|nd|rd|th)?[\s\-/.]*(\p{L}+)\.?[\s\-/.,]*(\d{2}|\d{4})$"
_MONTH_NAME_DAY = r"^(\p{L}+)\.?[\s\-/.]*(\d{1,2})(?:st|nd|rd|th)?[\s,\-/.]*(\d{4})$"
_ISO = r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ]\d{1,2}:\d{2}.*)?$"
_COMPACT = r"^((?:19|20)\d{2})(\d{2})(\d{2})$"

MIN_EVIDENCE = 3
AGREEMENT = 0.95


@dataclass(frozen=True)
class DateOrder:
    """What a source's unambiguous numeric dates say about its day/month order."""

    day_first: int
    month_first: int

    @property
    def resolved(self) -> str | None:
        total = self.day_first + self.month_first
        if total < MIN_EVIDENCE:
            return None
        if self.day_first >= AGREEMENT * total:
            return "day_first"
        if self.month_first >= AGREEMENT * total:
            return "month_first"
        return None


def _ymd(year: pl.Expr, month: pl.Expr, day: pl.Expr) -> pl.Expr:
    """A date from integer parts, null when the parts do not make a real date."""
    text = pl.format(
        "{}-{}-{}",
        year.cast(pl.String).str.zfill(4),
        month.cast(pl.String).str.zfill(2),
        day.cast(pl.String).str.zfill(2),
    )
    return text.str.strptime(pl.Date, "%Y-%m-%d", strict=False)


def _full_year(year: pl.Expr, as_of: date) -> pl.Expr:
    """Four-digit year; two-digit years take the latest century not after ``as_of``."""
    pivot = as_of.year % 100
    century = as_of.year - pivot
    return (
        pl.when(year < 100)
        .then(pl.when(year <= pivot).then(year + century).otherwise(year + century - 100))
        .otherwise(year)
    )


def _with_format(text: pl.Expr, fmt: str) -> pl.Expr:
    if any(d in fmt for d in _TIME_DIRECTIVES):
        return text.str.strptime(pl.Datetime("us"), fmt, strict=False).dt.date()
    return text.str.strptime(pl.Date, fmt, strict=False)


def parse_dates(
    text: pl.Series, formats: list[str], as_of: date, order: DateOrder | None = None
) -> tuple[pl.DataFrame, DateOrder]:
    """Parse cleaned date texts. Returns a frame with ``parsed`` (date), ``ambiguous`` and
    ``resolved`` (ambiguous but settled by the source's own convention), and the evidence.

    ``order`` is the evidence of the whole source when ``text`` is only part of it (an
    incremental run standardises only the changed records, but the day/month convention is a
    property of the source); without it the evidence is read from ``text`` itself."""
    df = pl.DataFrame({"t": text})
    t = pl.col("t")
    configured = pl.coalesce(*[_with_format(t, f) for f in formats]) if formats else None

    iso = t.str.extract_groups(_ISO)
    compact = t.str.extract_groups(_COMPACT)
    iso_date = pl.coalesce(
        _ymd(
            iso.struct.field("1").cast(pl.Int32),
            iso.struct.field("2").cast(pl.Int32),
            iso.struct.field("3").cast(pl.Int32),
        ),
        _ymd(
            compact.struct.field("1").cast(pl.Int32),
            compact.struct.field("2").cast(pl.Int32),
            compact.struct.field("3").cast(pl.Int32),
        ),
    )

    num = t.str.extract_groups(_NUMERIC)
    a = num.struct.field("1").cast(pl.Int32)
    b = num.struct.field("2").cast(pl.Int32)
    y = _full_year(num.struct.field("3").cast(pl.Int32), as_of)
    day_first_only = (a > 12) & (b <= 12)
    month_first_only = (b > 12) & (a <= 12)
    ambiguous = (a <= 12) & (b <= 12) & (a != b) & (a >= 1) & (b >= 1)
    df = df.with_columns(
        day_first_only.fill_null(False).alias("_dmy"),
        month_first_only.fill_null(False).alias("_mdy"),
        ambiguous.fill_null(False).alias("_amb"),
        _ymd(y, b, a).alias("_as_dmy"),
        _ymd(y, a, b).alias("_as_mdy"),
    )
    if order is None:
        order = DateOrder(
            day_first=int(df["_dmy"].sum()),
            month_first=int(df["_mdy"].sum()),
        )
    settled = order.resolved if not formats else None

    dm = t.str.extract_groups(_DAY_MONTH_NAME)
    md = t.str.extract_groups(_MONTH_NAME_DAY)
    month_of = {k: v for k, v in MONTHS.items()}

    def month(expr: pl.Expr) -> pl.Expr:
        return expr.str.to_lowercase().replace_strict(month_of, default=None, return_dtype=pl.Int32)

    named = pl.coalesce(
        _ymd(
            _full_year(dm.struct.field("3").cast(pl.Int32), as_of),
            month(dm.struct.field("2")),
            dm.struct.field("1").cast(pl.Int32),
        ),
        _ymd(
            md.struct.field("3").cast(pl.Int32),
            month(md.struct.field("1")),
            md.struct.field("2").cast(pl.Int32),
        ),
    )
    numeric = (
        pl.when(pl.col("_dmy") | (a == b))
        .then(pl.col("_as_dmy"))
        .when(pl.col("_mdy"))
        .then(pl.col("_as_mdy"))
        .when(pl.col("_amb") & pl.lit(settled == "day_first"))
        .then(pl.col("_as_dmy"))
        .when(pl.col("_amb") & pl.lit(settled == "month_first"))
        .then(pl.col("_as_mdy"))
    )
    candidates = [iso_date, named, numeric] if configured is None else [configured, iso_date]
    is_ambiguous = pl.col("_amb") if configured is None else pl.lit(False)
    out = df.select(
        "t",
        pl.coalesce(*candidates).alias("parsed"),
        is_ambiguous.alias("ambiguous"),
        (is_ambiguous & pl.lit(settled is not None)).alias("resolved"),
    )
    return out, order


@dataclass(frozen=True)
class DateReport:
    ambiguous: int
    ambiguous_resolved: int
    date_order: str | None
    evidence_day_first: int
    evidence_month_first: int


def standardise_dates(
    df: pl.DataFrame,
    formats: list[str],
    as_of: date,
    min_birth_year: int = 1900,
    date_order: DateOrder | None = None,
    placeholders: Collection[date] = (),
) -> tuple[pl.DataFrame, DateReport]:
    """Frame in, frame out: ``raw_date_of_birth`` -> ``date_of_birth`` (date), ``mk_dob``
    (yyyy-mm-dd) and ``invalid_date_of_birth``; plus the ambiguity report for this frame (one
    source: the day/month convention is a property of a source). ``date_order`` is the
    source's evidence when the frame holds only some of its records (see :func:`parse_dates`).
    A date in ``placeholders`` (1900-01-01: "unknown") is missing, neither a birth date nor
    invalid (:mod:`pipelines.standardise.placeholders`)."""
    df = df.with_columns(clean_text(pl.col("raw_date_of_birth")).alias("_dob_text"))
    evidence: list[DateOrder] = []

    def parse(distinct: pl.DataFrame) -> pl.DataFrame:
        parsed, order = parse_dates(distinct["_dob_text"], formats, as_of, date_order)
        evidence.append(order)
        return (
            parsed.rename({"t": "_dob_text"})
            .with_columns(
                pl.col("parsed").alias("_dob"),
                pl.col("ambiguous").alias("_dob_ambiguous"),
                pl.col("resolved").alias("_dob_resolved"),
            )
            .select("_dob_text", "_dob", "_dob_ambiguous", "_dob_resolved")
        )

    df = on_distinct(df, ["_dob_text"], parse)
    in_range = (pl.col("_dob") <= pl.lit(as_of)) & (pl.col("_dob").dt.year() >= min_birth_year)
    usable = pl.col("_dob").is_not_null() & in_range
    placeholder = (
        pl.col("_dob").is_in(list(placeholders)).fill_null(False) if placeholders else pl.lit(False)
    )
    df = df.with_columns(
        pl.when(usable & ~placeholder).then(pl.col("_dob")).alias("date_of_birth"),
        (pl.col("_dob_text").is_not_null() & ~usable.fill_null(False) & ~placeholder).alias(
            "invalid_date_of_birth"
        ),
    ).with_columns(pl.col("date_of_birth").dt.strftime("%Y-%m-%d").alias("mk_dob"))
    order = evidence[0] if evidence else DateOrder(0, 0)
    report = DateReport(
        ambiguous=int(df["_dob_ambiguous"].fill_null(False).sum()),
        ambiguous_resolved=int(df["_dob_resolved"].fill_null(False).sum()),
        date_order=order.resolved if not formats else None,
        evidence_day_first=order.day_first,
        evidence_month_first=order.month_first,
    )
    if report.ambiguous > report.ambiguous_resolved:
        log.warning(
            "%d dates of birth could be day/month or month/day and were left null; set the "
            "source's date_formats to read them",
            report.ambiguous - report.ambiguous_resolved,
        )
    return df.drop("_dob_text", "_dob", "_dob_ambiguous", "_dob_resolved"), report


def source_date_report(
    raw: pl.Series, formats: list[str], as_of: date
) -> tuple[DateReport, DateOrder]:
    """The date report of a whole source without standardising it: the same evidence and
    ambiguity counts :func:`standardise_dates` reports for the source's raw dates of birth.

    An incremental run needs the source-wide day/month convention before it standardises the
    changed records (they alone would be a different, smaller body of evidence), and the
    report's counts for every record. It parses each distinct cleaned text once, as
    :func:`standardise_dates` does, and weighs the per-text flags by how many records hold them.
    """
    counts = raw.rename("_raw").value_counts(name="_n")
    cleaned = counts.with_columns(clean_text(pl.col("_raw")).alias("_dob_text"))
    texts = cleaned.group_by("_dob_text").agg(pl.col("_n").sum())
    parsed, order = parse_dates(texts["_dob_text"], formats, as_of)
    flags = texts.hstack(parsed.select("ambiguous", "resolved"))
    weighted = flags.select(
        (pl.col("_n") * pl.col("ambiguous").fill_null(False)).sum().alias("ambiguous"),
        (pl.col("_n") * pl.col("resolved").fill_null(False)).sum().alias("resolved"),
    ).row(0, named=True)
    report = DateReport(
        ambiguous=int(weighted["ambiguous"] or 0),
        ambiguous_resolved=int(weighted["resolved"] or 0),
        date_order=order.resolved if not formats else None,
        evidence_day_first=order.day_first,
        evidence_month_first=order.month_first,
    )
    return report, order


_NAIVE_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
)


def _parse_timestamp_text(col: pl.Expr, timezone: str) -> pl.Expr:
    """ISO text with an offset is an instant; without one it is wall time in ``timezone``."""
    aware = col.str.strptime(pl.Datetime("us", "UTC"), "%+", strict=False)
    naive = pl.coalesce(
        *[col.str.strptime(pl.Datetime("us"), f, strict=False) for f in _NAIVE_FORMATS],
        col.str.strptime(pl.Date, "%Y-%m-%d", strict=False).cast(pl.Datetime("us")),
    ).dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
    return pl.coalesce(aware, naive.dt.convert_time_zone("UTC"))


def to_utc(df: pl.DataFrame, columns: list[str], timezone: str) -> pl.DataFrame:
    """Timestamp columns to ``Datetime(us, UTC)``. Naive values are read in ``timezone`` (the
    source's zone); aware values are converted; ISO text is parsed first, and text that is not
    a timestamp is an error naming the column and the value (a lineage time is never dropped)."""
    exprs = []
    for name in columns:
        dtype = df.schema[name]
        col = pl.col(name)
        if dtype == pl.Null:
            exprs.append(pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias(name))
            continue
        if dtype == pl.String:
            parsed = _parse_timestamp_text(col, timezone)
            bad = df.filter(col.is_not_null() & parsed.is_null()).select(name)
            if bad.height:
                from pipelines.errors import StageInputError

                raise StageInputError(
                    f"column {name!r} holds {bad.height} value(s) that are not ISO timestamps, "
                    f"e.g. {bad.item(0, 0)!r}"
                )
            exprs.append(parsed.alias(name))
            continue
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
            col = col.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
        exprs.append(col.dt.convert_time_zone("UTC").dt.cast_time_unit("us").alias(name))
    return df.with_columns(exprs)


_MIN_UNPARSED = 10
"""Below this many unparsed values a source is judged on its values one by one (each is flagged
invalid): a handful of bad dates in a tiny source says nothing about its format."""


def check_date_formats(
    raw: pl.Series, formats: list[str], as_of: date, *, source: str, max_unparsed_share: float
) -> None:
    """Refuse a source whose dates of birth mostly do not parse.

    A wrong ``date_formats`` entry does not fail loudly on its own: every value it cannot read
    becomes null and the run succeeds. Above ``max_unparsed_share`` of the non-empty values
    (dates left null only because day and month are ambiguous do not count) this raises a
    :class:`SourceError` naming the source, the field, the formats and an example value.
    """
    counts = raw.rename("_raw").value_counts(name="_n")
    texts = (
        counts.with_columns(clean_text(pl.col("_raw")).alias("t"))
        .filter(pl.col("t").is_not_null())
        .group_by("t")
        .agg(pl.col("_n").sum(), pl.col("_raw").first())
        .sort("_n", "t", descending=[True, False])
    )
    filled = int(texts["_n"].sum()) if texts.height else 0
    if not filled:
        return
    parsed, _ = parse_dates(texts["t"], formats, as_of)
    failed = texts.hstack(parsed.select("parsed", "ambiguous")).filter(
        pl.col("parsed").is_null() & ~pl.col("ambiguous").fill_null(False)
    )
    unparsed = int(failed["_n"].sum()) if failed.height else 0
    if unparsed < _MIN_UNPARSED or unparsed / filled <= max_unparsed_share:
        return
    example = str(failed["_raw"][0])
    example = example if len(example) <= 40 else example[:40] + "…"
    how = f"with date_formats.date_of_birth {formats}" if formats else "in any known date form"
    raise SourceError(
        f"source {source!r}: {unparsed} of {filled} dates of birth ({unparsed / filled:.0%}) do "
        f"not parse {how}, for example {example!r}; fix the source's "
        "date_formats.date_of_birth (strftime codes, e.g. '%d.%m.%Y'), or raise "
        "standardise.max_unparsed_date_share to accept them as missing"
    )
