"""Map a source's raw columns onto the canonical field names (``raw_<field>``).

Ingestion keeps each source's own column names; everything after it speaks the canonical
vocabulary. This is the one place where a source's ``mapping`` is applied, and where its
column references are resolved (:func:`column_reference`).
"""

from __future__ import annotations

import re
from collections.abc import Collection

import polars as pl

from pipelines.ingest.config import SourceConfig
from pipelines.schema import LINEAGE_COLUMNS, MAPPABLE_FIELDS

_NESTED = re.compile(r"^([^.\[]+)((?:\.[^.\[]+|\[\d+\])+)$")


def column_reference(reference: str, columns: Collection[str]) -> tuple[str, str | None] | None:
    """The column a mapping reference names among ``columns``, and the JSON path inside it.

    A reference is first looked up whole (a column may be called ``addr.line1``). Otherwise
    ``name.first`` or ``contact.phones[0]`` reads inside the column before the first dot or
    bracket: a nested object or list of a JSON Lines record (or a Parquet struct), which
    ingestion lands as JSON text. None when neither exists."""
    if reference in columns:
        return reference, None
    nested = _NESTED.match(reference)
    if nested and nested.group(1) in columns:
        return nested.group(1), "$" + nested.group(2)
    return None


def unresolved_references(source: SourceConfig, columns: Collection[str]) -> list[str]:
    """The source's mapped references that name no column of ``columns``."""
    return [c for c in source.mapped_columns if column_reference(c, columns) is None]


def mapped_frame(
    df: pl.DataFrame, source: SourceConfig, *, missing_as_null: bool = False
) -> pl.DataFrame:
    """Lineage columns, ``raw_<field>`` for every mappable field (null when unmapped) and
    ``trust_rank``. Raw values are cast to text and otherwise untouched.

    A mapped column the frame lacks is an error, unless ``missing_as_null`` (privacy's
    readers of older batches, where drift was reported when they were ingested) or the source
    is JSON Lines, whose records leave out keys they have no value for
    (``SourceConfig.omits_empty_keys``)."""
    missing = unresolved_references(source, df.columns)
    if missing and not (missing_as_null or source.omits_empty_keys):
        from pipelines.errors import SchemaDriftError

        raise SchemaDriftError(
            f"source {source.name!r} has no column(s) {sorted(missing)} named in its mapping; "
            f"its columns are {sorted(c for c in df.columns if c not in LINEAGE_COLUMNS)}"
        )
    raw = [
        _raw_value([_value(r, df.columns) for r in source.columns_of(f)]).alias(f"raw_{f}")
        for f in MAPPABLE_FIELDS
    ]
    return df.select(
        *[pl.col(c) for c in LINEAGE_COLUMNS],
        *raw,
        pl.lit(source.trust_rank, dtype=pl.Int32).alias("trust_rank"),
    )


def _value(reference: str, columns: Collection[str]) -> pl.Expr:
    """One reference as text: a column, a value inside a JSON column, or null if absent."""
    resolved = column_reference(reference, columns)
    if resolved is None:
        return pl.lit(None, dtype=pl.String)
    column, path = resolved
    text = pl.col(column).cast(pl.String)
    return text if path is None else text.str.json_path_match(path)


def _raw_value(parts: list[pl.Expr]) -> pl.Expr:
    """One value as sent; several joined with a space, blank parts skipped (null if all are)."""
    if not parts:
        return pl.lit(None, dtype=pl.String)
    if len(parts) == 1:
        return parts[0]
    cleaned = [part.str.strip_chars().replace("", None) for part in parts]
    joined = pl.concat_str(cleaned, separator=" ", ignore_nulls=True)
    return pl.when(joined != "").then(joined)
