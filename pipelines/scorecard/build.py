"""One run's rows of ``dq_scorecard``, added to the rows of every earlier run.

Per source and canonical field the source supplies (a value, or one that failed
standardisation), over the run's accepted records of that source:

* ``completeness``: records with a value / records;
* ``validity``: values / (values + values that failed standardisation);
* ``uniqueness``: 1 - share of the values on records that the match put in one customer with
  another record of the same source (duplicates inside the source);
* ``agreement``: share of the values equal to their golden record's value;
* ``freshness``: share of the values whose record the source updated (else first landed)
  within ``scorecard.freshness_days`` of the run's start.

``score = 100 * (0.25 completeness + 0.25 validity + 0.20 uniqueness + 0.20 agreement + 0.10
freshness)`` (a measure with no values counts 0); the source's overall row (``field = '*'``)
holds the mean of its fields' measures and scores. One grouped pass over the records,
vectorised.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pyarrow as pa

from pipelines.schema import GOLDEN_FIELDS
from pipelines.scorecard.schema import OVERALL, WEIGHTS, dq_scorecard_schema

_MEASURES = tuple(WEIGHTS)


def empty() -> pl.DataFrame:
    frame = pl.from_arrow(dq_scorecard_schema().empty_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def _filled(name: str, dtype: pl.DataType) -> pl.Expr:
    """A value is there: not null, and not an empty string (staged values are trimmed)."""
    column = pl.col(name)
    if dtype == pl.String:
        return column.is_not_null() & (column.str.len_bytes() > 0)
    return column.is_not_null()


def run_scorecard(
    records: pl.DataFrame,
    golden: pl.DataFrame,
    run_id: str,
    at: datetime,
    freshness_days: int,
) -> pl.DataFrame:
    """This run's rows: ``records`` are its accepted records with their golden id,
    ``source_updated_at``, ``ingested_at`` and ``invalid_fields``; ``golden`` its golden rows."""
    candidates = [f for f in GOLDEN_FIELDS if f in records.columns and f in golden.columns]
    # Invalid values per source and field, from the (mostly empty) lists exploded once.
    invalid = (
        records.select("source_system", pl.col("invalid_fields").alias("field"))
        .explode("field")
        .drop_nulls("field")
        .group_by("source_system", "field")
        .agg(pl.len().cast(pl.Int64).alias("invalid"))
    )
    # Only fields some source supplies are aggregated: the rest would be all-zero rows.
    supplied = records.select(pl.col(f).is_not_null().any() for f in candidates).row(0)
    invalid_fields = set(invalid["field"].to_list())
    fields = [
        f
        for f, any_value in zip(candidates, supplied, strict=True)
        if any_value or f in invalid_fields
    ]
    horizon = pl.lit(at - timedelta(days=freshness_days)).cast(pl.Datetime("us", "UTC"))
    joined = records.join(
        golden.select("golden_id", *(pl.col(f).alias(f"{f}__g") for f in fields)),
        on="golden_id",
        how="left",
    ).with_columns(
        (pl.len().over("golden_id", "source_system") > 1).alias("_dup"),
        (pl.coalesce("source_updated_at", "ingested_at") >= horizon)
        .fill_null(False)
        .alias("_fresh"),
    )
    aggregates = [pl.len().alias("records")]
    for f in fields:
        present = _filled(f, records.schema[f])
        aggregates += [
            present.sum().alias(f"{f}|filled"),
            (present & pl.col("_dup")).sum().alias(f"{f}|dup"),
            (present & pl.col(f).eq_missing(pl.col(f"{f}__g"))).sum().alias(f"{f}|agree"),
            (present & pl.col("_fresh")).sum().alias(f"{f}|fresh"),
        ]
    sums = joined.group_by("source_system").agg(aggregates)
    parts = [
        sums.select(
            "source_system",
            pl.lit(f).alias("field"),
            pl.col("records").cast(pl.Int64),
            *(
                pl.col(f"{f}|{m}").cast(pl.Int64).alias(m)
                for m in ("filled", "dup", "agree", "fresh")
            ),
        )
        for f in fields
    ]
    if not parts:
        return empty()
    long = (
        pl.concat(parts)
        .join(invalid, on=["source_system", "field"], how="left")
        .with_columns(pl.col("invalid").fill_null(0))
    )
    share = lambda part, whole: pl.when(whole > 0).then(part / whole)  # noqa: E731
    long = long.filter((pl.col("filled") + pl.col("invalid")) > 0).with_columns(
        share(pl.col("filled"), pl.col("records")).alias("completeness"),
        share(pl.col("filled"), pl.col("filled") + pl.col("invalid")).alias("validity"),
        share(pl.col("filled") - pl.col("dup"), pl.col("filled")).alias("uniqueness"),
        share(pl.col("agree"), pl.col("filled")).alias("agreement"),
        share(pl.col("fresh"), pl.col("filled")).alias("freshness"),
    )
    long = long.with_columns(_score())
    overall = (
        long.group_by("source_system")
        .agg(
            pl.col("records").first(),
            pl.col("filled").sum(),
            pl.col("invalid").sum(),
            *(pl.col(m).fill_null(0).mean() for m in _MEASURES),
            pl.col("score").mean(),
        )
        .with_columns(pl.lit(OVERALL).alias("field"))
    )
    rows = pl.concat([long.drop("dup", "agree", "fresh"), overall], how="diagonal")
    rows = rows.with_columns(
        pl.lit(run_id).alias("run_id"),
        pl.lit(at).cast(pl.Datetime("us", "UTC")).alias("at"),
        *(pl.col(m).round(4) for m in _MEASURES),
        pl.col("score").round(2),
    )
    schema = dq_scorecard_schema()
    return rows.select(
        pl.col(n).cast(t) for n, t in zip(schema.names, empty().dtypes, strict=True)
    ).sort("run_id", "source_system", "field")


def _score() -> pl.Expr:
    total = sum(
        (pl.col(m).fill_null(0) * weight for m, weight in WEIGHTS.items()), start=pl.lit(0.0)
    )
    return (total * 100).alias("score")


def with_history(previous: pl.DataFrame, run: pl.DataFrame, run_id: str) -> pl.DataFrame:
    """Earlier runs' rows (a rebuilt run's own rows replaced) and this run's, in key order."""
    kept = previous.filter(pl.col("run_id") < run_id)
    return pl.concat([kept.select(run.columns), run]).sort("run_id", "source_system", "field")


def to_arrow(frame: pl.DataFrame) -> pa.Table:
    return frame.to_arrow().cast(dq_scorecard_schema())
