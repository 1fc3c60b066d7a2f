"""Read a source's update timestamps as UTC instants.

Sources write their last-modified times in every shape: ISO 8601 with ``T`` or a space, with
``Z``, an offset or nothing, with or without fractions, sometimes a plain date, sometimes Unix
seconds. A value with an offset is converted to UTC; one without is taken as local time in the
source's ``timezone``. Configured formats are tried first, then ISO 8601. What none of them reads
is reported per row, so the caller can reject exactly those rows with the reason.
"""

from __future__ import annotations

import polars as pl

_UTC = "UTC"
_ISO_AWARE = ("%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M%#z")
_ISO_LOCAL = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d")
_OFFSET_CODES = ("%z", "%:z", "%#z", "%::z")


def parse_updated_at(
    values: pl.Series, timezone: str, formats: list[str] | None = None
) -> tuple[pl.Series, pl.Series]:
    """Parse text timestamps.

    Returns ``(parsed, problem)``: ``parsed`` as ``Datetime("us", "UTC")`` (null where the
    value is missing or unreadable) and ``problem``, a reason for every present value that could
    not be read (null elsewhere).

    Each reading is tried only on the values the ones before it left unread, so a column
    written in one format (the usual case) costs one parse.
    """
    text = values.cast(pl.String).alias("text")
    rows = len(text)
    parsed = pl.repeat(None, rows, dtype=pl.Datetime("us", _UTC), eager=True)
    problem = pl.repeat(None, rows, dtype=pl.String, eager=True)
    todo: pl.Series | None = None  # positions still unread; None: all of them (first pass)
    for reading in _readings(formats or [], timezone):
        subset = text if todo is None else text.gather(todo)
        got, local = (
            pl.DataFrame({"text": subset})
            .select(reading.instant.alias("instant"), reading.local.alias("local"))
            .get_columns()
        )
        done = got.is_not_null()
        if todo is None:
            parsed = got
            todo = pl.arange(0, rows, eager=True)
        else:
            parsed.scatter(todo.filter(done), got.filter(done))
        gap = ~done & local.is_not_null()
        if gap.any():
            # A local time that never happened (clocks going forward): read, but not an instant.
            problem.scatter(
                todo.filter(gap),
                [
                    f"update time {t!r} does not exist in time zone {timezone} "
                    "(skipped by a daylight-saving change)"
                    for t in subset.filter(gap)
                ],
            )
        todo = todo.filter(~done & ~gap & subset.is_not_null())
        if todo.len() == 0:
            break
    assert todo is not None
    unread = text.gather(todo)
    todo = todo.filter(unread.str.strip_chars() != "")  # blank is missing, not unreadable
    if todo.len():
        tried = ", ".join([*(formats or []), "ISO 8601"])
        problem.scatter(
            todo,
            [
                f"cannot read update time {t.strip()!r} as a timestamp (tried {tried}; set "
                "updated_at_formats for this source)"
                for t in text.gather(todo)
            ],
        )
    return parsed.alias(values.name), problem


class _Reading:
    """One way to read the text: the UTC instant, and (for zone-less formats) the local time
    before it is placed in the zone, to tell a daylight-saving gap from an unreadable value."""

    def __init__(self, instant: pl.Expr, local: pl.Expr | None = None) -> None:
        self.instant = instant
        self.local = local if local is not None else pl.lit(None, dtype=pl.Datetime("us"))


def _readings(formats: list[str], timezone: str) -> list[_Reading]:
    """Configured formats first, then ISO 8601 as written, then ISO 8601 respelled."""
    readings = []
    stripped = pl.col("text").str.strip_chars()
    for fmt in formats:
        if fmt in ("epoch_s", "epoch_ms"):
            readings.append(_Reading(_epoch(stripped, fmt)))
        elif any(code in fmt for code in _OFFSET_CODES):
            readings.append(_Reading(_aware(stripped, fmt)))
        else:
            readings.append(_local(stripped, fmt, timezone))
    for separator in ("T", " "):  # the usual spellings, read without respelling
        readings.append(_Reading(_aware(pl.col("text"), _ISO_AWARE[0].replace("T", separator))))
        readings.append(_local(pl.col("text"), _ISO_LOCAL[0].replace("T", separator), timezone))
    iso = _iso_normalised(pl.col("text"))
    readings += [_Reading(_aware(iso, fmt)) for fmt in _ISO_AWARE]
    readings += [_local(iso, fmt, timezone) for fmt in _ISO_LOCAL]
    return readings


def _iso_normalised(text: pl.Expr) -> pl.Expr:
    """ISO 8601 spelled the one way the parsers expect: ``T`` between date and time, ``Z`` and
    zone names as ``+00:00``, no space before an offset."""
    return (
        text.str.strip_chars()
        .str.to_uppercase()
        .str.replace(r"^(\d{4}-\d{2}-\d{2})[ T]", "${1}T")
        .str.replace(r"\s*(Z|UTC|GMT)$", "+00:00")
        .str.replace(r"\s+([+-]\d{2}(:?\d{2})?)$", "${1}")
    )


def _aware(text: pl.Expr, fmt: str) -> pl.Expr:
    return text.str.to_datetime(fmt, strict=False, time_unit="us").dt.convert_time_zone(_UTC)


def _local(text: pl.Expr, fmt: str, timezone: str) -> _Reading:
    # An hour that happens twice (clocks going back) is read as its first occurrence; one that
    # never happens (clocks going forward) is left null and reported.
    naive = text.str.to_datetime(fmt, strict=False, time_unit="us")
    instant = naive.dt.replace_time_zone(
        timezone, ambiguous="earliest", non_existent="null"
    ).dt.convert_time_zone(_UTC)
    return _Reading(instant, naive)


def _epoch(text: pl.Expr, fmt: str) -> pl.Expr:
    scale = 1_000_000 if fmt == "epoch_s" else 1_000
    micros = (text.cast(pl.Float64, strict=False) * scale).round(0).cast(pl.Int64, strict=False)
    return pl.from_epoch(micros, time_unit="us").dt.replace_time_zone(_UTC)
