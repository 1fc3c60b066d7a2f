"""Which rows a suite rejects, and the quarantine rows that say why.

A row is rejected when it fails at least one ``critical`` expectation; it then appears in
``quarantine/<suite>.parquet`` once per critical expectation it failed, with the offending
value as text and a sentence for the steward. Rows failing only ``warning`` expectations pass
and are counted as warned. Nothing else leaves the batch: rows in = accepted + quarantined.
A critical expectation with ``mostly`` below 1 still quarantines every row it flags: ``mostly``
decides whether the expectation (and so the suite) succeeds, not whether a bad row is safe.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from pipelines.validate.outcome import Outcome

QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "run_id": pl.String(),
    "suite": pl.String(),
    "record_key": pl.String(),
    "source_system": pl.String(),
    "source_record_id": pl.String(),
    "expectation": pl.String(),
    "column": pl.String(),
    "value": pl.String(),
    "severity": pl.String(),
    "reason": pl.String(),
}
"""Columns of ``quarantine/<suite>.parquet`` (``docs/architecture.md``)."""

_ORDER = "__golden_order__"

QUARANTINE_LINEAGE = ("record_key", "source_system", "source_record_id")
"""The lineage columns every quarantine row carries."""


def failure_masks(outcomes: list[Outcome], height: int) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks over the rows: failed a critical rule; failed a warning rule."""
    critical = np.zeros(height, dtype=bool)
    warning = np.zeros(height, dtype=bool)
    for outcome in outcomes:
        if len(outcome.rows):
            target = critical if outcome.rule.severity == "critical" else warning
            target[outcome.rows] = True
    return critical, warning


def quarantine_frame(
    frame: pl.DataFrame, outcomes: list[Outcome], *, run_id: str, suite: str
) -> pl.DataFrame:
    """One row per rejected record and failed critical expectation, ordered by record."""
    parts = []
    for outcome in outcomes:
        if outcome.rule.severity != "critical" or not len(outcome.rows):
            continue
        rule = outcome.rule
        rows = pl.Series(_ORDER, outcome.rows, dtype=pl.Int64)
        lineage = list(QUARANTINE_LINEAGE)
        needed = list(dict.fromkeys([*lineage, *(c for c in rule.columns if c in frame.columns)]))
        failing = frame.select(needed)[rows.to_numpy()]  # only the failing rows, then text
        picked = failing.select(
            *(pl.col(c).cast(pl.String) for c in lineage),
            _value_text(failing, rule.columns).alias("value"),
        )
        parts.append(
            picked.with_columns(
                rows,
                pl.lit(rule.index, dtype=pl.Int64).alias("__golden_rule__"),
                pl.lit(run_id).alias("run_id"),
                pl.lit(suite).alias("suite"),
                pl.lit(rule.type).alias("expectation"),
                pl.lit(rule.column_label, dtype=pl.String).alias("column"),
                pl.lit("critical").alias("severity"),
                pl.lit(rule.reason).alias("reason"),
            )
        )
    if not parts:
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)
    return (
        pl.concat(parts, how="vertical")
        .sort(_ORDER, "__golden_rule__")
        .select(list(QUARANTINE_SCHEMA))
        .cast(QUARANTINE_SCHEMA)
    )


def failing_record_keys(frame: pl.DataFrame, outcomes: list[Outcome]) -> list[list[str]]:
    """Per outcome, the record keys of its first failing rows (what a report lists)."""
    from pipelines.validate.report_pages import KEYS_SHOWN

    if "record_key" not in frame.columns:
        return [[] for _ in outcomes]
    keys = frame.get_column("record_key").cast(pl.String)
    return [
        [k for k in keys.gather(o.rows[:KEYS_SHOWN]).to_list() if k is not None]
        if len(o.rows)
        else []
        for o in outcomes
    ]


def ingest_reject_rows(path: Path | None, *, run_id: str, suite: str) -> pl.DataFrame:
    """Quarantine rows for the rows ingest rejected (``ingest/<source>/rejects.parquet``):
    expectation ``rejected_at_ingest``, file, line and reason in the reason. The raw text stays
    in ``rejects.parquet`` only: it has no record key, so erasure finds it there by content,
    and one copy is easier to keep erased than two."""
    from pipelines.validate.report_pages import REJECTED_AT_INGEST

    if path is None or not path.is_file():
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)
    rejects = pl.read_parquet(path)
    if not rejects.height:
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)
    return rejects.select(
        pl.lit(run_id).alias("run_id"),
        pl.lit(suite).alias("suite"),
        pl.lit(None, dtype=pl.String).alias("record_key"),
        pl.col("source_system").cast(pl.String),
        pl.lit(None, dtype=pl.String).alias("source_record_id"),
        pl.lit(REJECTED_AT_INGEST).alias("expectation"),
        pl.lit(None, dtype=pl.String).alias("column"),
        pl.lit(None, dtype=pl.String).alias("value"),
        pl.lit("critical").alias("severity"),
        pl.format(
            "{}, line {}: {}",
            pl.col("file").fill_null("(unknown file)"),
            pl.col("line").cast(pl.String).fill_null("?"),
            pl.col("reason").fill_null("rejected"),
        ).alias("reason"),
    ).cast(QUARANTINE_SCHEMA)


def _value_text(frame: pl.DataFrame, columns: tuple[str, ...]) -> pl.Expr:
    """The offending value as text; ``column=value`` pairs when a rule spans several columns."""
    present = [c for c in columns if c in frame.columns]
    if not present:
        return pl.lit(None, dtype=pl.String)
    if len(present) == 1:
        return _as_text(frame, present[0])
    return pl.concat_str(
        [pl.lit(f"{c}=") + _as_text(frame, c).fill_null("<null>") for c in present],
        separator="; ",
    )


def _as_text(frame: pl.DataFrame, column: str) -> pl.Expr:
    dtype = frame.schema[column]
    expr = pl.col(column)
    if isinstance(dtype, pl.List):
        return expr.cast(pl.List(pl.String)).list.join(", ")
    if dtype.is_nested():
        return (
            expr.struct.json_encode() if isinstance(dtype, pl.Struct) else pl.lit(None, pl.String)
        )
    if isinstance(dtype, pl.Datetime):
        return expr.dt.to_string(
            "%Y-%m-%dT%H:%M:%S%.f%:z" if dtype.time_zone else "%Y-%m-%dT%H:%M:%S%.f"
        )
    return expr.cast(pl.String)
