"""Schema drift: what a source sends compared with what the pipeline relies on.

Columns the pipeline needs (the id, the update timestamp and every mapped column) must be there:
their absence is a :class:`SchemaDriftError` naming the source, the file and the column, because
going on would quietly null a field for every record. JSON Lines is the exception for mapped
keys (not the id or the update time): a record leaves out a key it has no value for, so a key no
record of a batch carries is null in that batch, and reported (:func:`absent_keys`). Columns
nobody expected are only reported: sources grow columns all the time and the raw layer keeps
them anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from pipelines.errors import SchemaDriftError, SourceError
from pipelines.ingest.config import SourceConfig
from pipelines.ingest.mapping import column_reference, unresolved_references
from pipelines.schema import LINEAGE_COLUMNS

logger = logging.getLogger(__name__)


def required_columns(source: SourceConfig) -> dict[str, str]:
    """Column -> why the pipeline needs it."""
    needed = {
        column: f"mapped to {field}"
        for field in source.mapping
        for column in source.columns_of(field)
    }
    if source.updated_at_column:
        needed[source.updated_at_column] = "its updated_at_column"
    needed[source.id_column] = "its id_column"
    return needed


def check_columns(source: SourceConfig, origin: str, columns: Iterable[str]) -> None:
    """Fail on a missing required column or a column that would overwrite lineage."""
    present = list(columns)
    clash = sorted(set(present) & set(LINEAGE_COLUMNS))
    if clash:
        fix = (
            "read it through a query that renames them"
            if source.kind in ("postgres", "mysql")
            else "rename them in the file"
        )
        raise SourceError(
            f"source {source.name!r}: {origin} has column(s) {clash} whose names are reserved "
            f"for lineage; {fix}"
        )
    # Only a mapping may read inside a nested column; ids and update times are whole columns.
    whole = {source.id_column, source.updated_at_column}
    optional = set(source.mapped_columns) - whole if source.omits_empty_keys else set()
    missing = [
        (c, why)
        for c, why in required_columns(source).items()
        if c not in optional
        and (c not in present if c in whole else column_reference(c, present) is None)
    ]
    if missing:
        described = "; ".join(f"column {c!r} ({why})" for c, why in missing)
        raise SchemaDriftError(
            f"source {source.name!r}: {origin} has no {described}. "
            f"Its columns are {present}.{_delimiter_hint(source, present)} "
            "Fix the source or the source's config."
        )


def absent_keys(source: SourceConfig, columns: Iterable[str]) -> list[str]:
    """Mapped keys of a JSON Lines source that no record of the batch carries, read as null
    (empty for other formats, whose missing mapped columns :func:`check_columns` fails)."""
    if not source.omits_empty_keys:
        return []
    return unresolved_references(source, list(columns))


def _delimiter_hint(source: SourceConfig, present: list[str]) -> str:
    """A whole header read as one column: the file is delimited by something else."""
    if source.format != "csv" or len(present) != 1:
        return ""
    for delimiter, name in ((";", "';'"), ("\t", "a tab ('\\t')"), ("|", "'|'"), (",", "','")):
        if delimiter != source.csv.delimiter and delimiter in present[0]:
            return f" The header looks delimited by {name}: set csv.delimiter for this source."
    return ""


def new_columns(seen: Iterable[str], expected: Iterable[str] | None) -> list[str]:
    """Columns in ``seen`` that ``expected`` does not list (none when nothing is expected yet)."""
    if expected is None:
        return []
    known = set(expected)
    return [c for c in dict.fromkeys(seen) if c not in known]


def dropped_columns(seen: Iterable[str], expected: Iterable[str] | None) -> list[str]:
    """Expected columns the source stopped sending (the required ones fail earlier)."""
    if expected is None:
        return []
    present = set(seen)
    return [c for c in expected if c not in present]
