"""Masks as SQL: what each role sees of each published column.

One definition serves both places a role's data appears (the masked views in ``golden.duckdb``
and the role's own DuckDB and Parquet copies), so the two can never disagree. Masks are DuckDB
expressions over the published column; a column a role is not granted is not selected at all.
Review-queue columns (``email_l`` / ``email_r``) follow the mask of their field (``email``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from pipelines.privacy.config import Mask, RoleConfig

_TEXT_MASKS = ("initial", "email_domain", "last_digits")
_TIME_MASKS = ("year_only",)


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def base_column(column: str) -> str:
    """The field a side-by-side column stands for: ``email_l`` -> ``email``."""
    return column[:-2] if column.endswith(("_l", "_r")) and len(column) > 2 else column


def mask_sql(mask: Mask, column: str) -> str:
    """The SQL expression showing ``column`` through ``mask`` (``drop`` has none)."""
    c = quote(column)
    digits = f"regexp_replace({c}, '[^0-9]', '', 'g')"
    expressions: dict[str, str] = {
        "none": c,
        "initial": (
            f"CASE WHEN {c} IS NULL OR trim({c}) = '' THEN NULL "
            f"ELSE upper(left(trim({c}), 1)) || '.' END"
        ),
        "email_domain": (
            f"CASE WHEN {c} IS NULL THEN NULL WHEN strpos({c}, '@') > 0 "
            f"THEN '***@' || lower(regexp_extract({c}, '@([^@]*)$', 1)) ELSE '***' END"
        ),
        "last_digits": (
            f"CASE WHEN {c} IS NULL THEN NULL "
            f"ELSE repeat('*', greatest(length({digits}) - 2, 0)) || right({digits}, 2) END"
        ),
        "year_only": f"CAST(year({c}) AS SMALLINT)",
        "redact": f"CASE WHEN {c} IS NULL THEN NULL ELSE '[redacted]' END",
    }
    if mask not in expressions:
        raise ValueError(f"mask {mask!r} selects nothing")
    return expressions[mask]


@dataclass(frozen=True)
class MaskedColumn:
    name: str
    mask: Mask
    sql: str
    """``<expression> AS "<name>"``."""


DERIVED_FROM: dict[str, str] = {"age_band": "date_of_birth"}
"""Columns computed from a personal column: a role not granted that column never sees them."""


def mask_for(role: RoleConfig, column: str) -> Mask:
    """The mask of one column for ``role`` (``drop`` when the role is not granted it, or not
    granted the column it derives from)."""
    if role.columns is None:
        return "none"
    source = DERIVED_FROM.get(column)
    if source is not None and source not in role.columns:
        return "drop"
    return role.columns.get(column, role.columns.get(base_column(column), "drop"))


def masked_columns(role: RoleConfig, schema: pa.Schema) -> list[MaskedColumn]:
    """The columns of a table with ``schema`` that ``role`` sees, in table order."""
    out = []
    for field in schema:
        mask = mask_for(role, field.name)
        if mask == "drop":
            continue
        out.append(
            MaskedColumn(field.name, mask, f"{mask_sql(mask, field.name)} AS {quote(field.name)}")
        )
    return out


def role_tables(role: RoleConfig) -> dict[str, list[MaskedColumn]]:
    """Published table -> the masked columns ``role`` gets; tables it sees nothing of are left
    out (checked against the configuration by :func:`check_role`)."""
    from pipelines.publish.tables import TABLES

    names = role.tables if role.tables is not None else list(TABLES)
    plan = {name: masked_columns(role, TABLES[name].schema) for name in names}
    return {name: columns for name, columns in plan.items() if columns}


def _fits(mask: Mask, kind: pa.DataType) -> bool:
    if mask in _TEXT_MASKS:
        return pa.types.is_string(kind) or pa.types.is_large_string(kind)
    if mask in _TIME_MASKS:
        return pa.types.is_date(kind) or pa.types.is_timestamp(kind)
    return True


def check_role(name: str, role: RoleConfig) -> None:
    """Fail (``ValueError`` naming the config key) on an unknown table or column, a mask that
    cannot apply to its column's type, or a listed table the role would see nothing of."""
    from pipelines.publish.tables import TABLES

    key = f"privacy.roles.{name}"
    unknown = [t for t in role.tables or [] if t not in TABLES]
    if unknown:
        raise ValueError(f"{key}.tables: unknown table(s) {unknown}; tables are {list(TABLES)}")
    names = role.tables if role.tables is not None else list(TABLES)
    if role.columns is None:
        return
    columns: dict[str, list[tuple[str, pa.DataType]]] = {}
    for table in names:
        for field in TABLES[table].schema:
            for candidate in {field.name, base_column(field.name)}:
                columns.setdefault(candidate, []).append((table, field.type))
    for column, mask in role.columns.items():
        source = DERIVED_FROM.get(column)
        if source is not None and source not in role.columns:
            raise ValueError(
                f"{key}.columns.{column}: {column} derives from {source}, which the role is not "
                f"granted; grant {source} (any mask) or remove {column}"
            )
        if column not in columns:
            raise ValueError(
                f"{key}.columns.{column}: no table of this role has a column {column!r} "
                f"(its tables: {names})"
            )
        for table, kind in columns[column]:
            if not _fits(mask, kind):
                raise ValueError(
                    f"{key}.columns.{column}: mask {mask!r} cannot apply to {table}.{column}, "
                    f"which holds {kind} values"
                )
    if role.tables is not None:
        plan = role_tables(role)
        empty = [t for t in role.tables if t not in plan]
        if empty:
            raise ValueError(
                f"{key}: the role lists table(s) {empty} but is granted none of their columns"
            )
