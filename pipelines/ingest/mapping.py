"""Map a source's raw columns onto the canonical field names (``raw_<field>``).

Ingestion keeps each source's own column names; everything after it speaks the canonical
vocabulary. This is the one place where a source's ``mapping`` is applied.
"""

from __future__ import annotations

import polars as pl

from pipelines.ingest.config import SourceConfig
from pipelines.schema import LINEAGE_COLUMNS, MAPPABLE_FIELDS


def mapped_frame(df: pl.DataFrame, source: SourceConfig) -> pl.DataFrame:
    """Lineage columns, ``raw_<field>`` for every mappable field (null when unmapped) and
    ``trust_rank``. Raw values are cast to text and otherwise untouched."""
    missing = sorted({c for c in source.mapped_columns if c not in df.columns})
    if missing:
        from pipelines.errors import SchemaDriftError

        raise SchemaDriftError(
            f"source {source.name!r} has no column(s) {missing} named in its mapping; "
            f"its columns are {sorted(c for c in df.columns if c not in LINEAGE_COLUMNS)}"
        )
    raw = [_raw_value(source.columns_of(f)).alias(f"raw_{f}") for f in MAPPABLE_FIELDS]
    return df.select(
        *[pl.col(c) for c in LINEAGE_COLUMNS],
        *raw,
        pl.lit(source.trust_rank, dtype=pl.Int32).alias("trust_rank"),
    )


def _raw_value(columns: list[str]) -> pl.Expr:
    """One column as text; several joined with a space, blank parts skipped (null if all are)."""
    if not columns:
        return pl.lit(None, dtype=pl.String)
    if len(columns) == 1:
        return pl.col(columns[0]).cast(pl.String)
    parts = [
        pl.col(c).cast(pl.String).str.strip_chars().replace("", None).str.strip_chars()
        for c in columns
    ]
    joined = pl.concat_str(parts, separator=" ", ignore_nulls=True)
    return pl.when(joined != "").then(joined)
