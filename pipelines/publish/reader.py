"""Reading the published tables, for downstream code and for the pipeline's own tools.

Readers never need a lock. :func:`read_tables` gives a consistent snapshot of several tables:
it resolves ``current`` once and opens every file of that version before reading any, and an
open file stays readable even if a later publish prunes its version. Readers who prefer DuckDB
open ``golden.duckdb`` read-only: a link through ``current`` to one version's own database file,
so a connection keeps the version it opened.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.errors import StageInputError
from pipelines.publish.tables import TABLES, table_spec
from pipelines.publish.versions import current_run_id as _current_run_id
from pipelines.publish.versions import kept_versions, resolve_version
from pipelines.warehouse import Warehouse

_ATTEMPTS = 3
"""A version can be pruned between resolving ``current`` and opening its files; retry then."""


def read_tables(
    warehouse_root: str | os.PathLike[str],
    tables: Iterable[str] | None = None,
    run_id: str | None = None,
) -> dict[str, pa.Table]:
    """Several published tables from one version: the current one, or the kept ``run_id``."""
    warehouse = Warehouse(Path(warehouse_root))
    names = list(tables) if tables is not None else list(TABLES)
    specs = [table_spec(name) for name in names]
    for attempt in range(_ATTEMPTS):
        folder = resolve_version(warehouse, run_id)
        handles: list[pa.OSFile] = []
        try:
            try:
                for spec in specs:
                    handles.append(pa.OSFile(str(folder / f"{spec.name}.parquet")))
            except FileNotFoundError:
                if run_id is None and attempt + 1 < _ATTEMPTS:
                    continue  # pruned under us: resolve current again
                raise StageInputError(
                    f"the published version in {folder} is incomplete or was removed while "
                    "being read"
                ) from None
            return {
                spec.name: pq.read_table(handle).cast(spec.documented_schema())
                for spec, handle in zip(specs, handles, strict=True)
            }
        finally:
            for handle in handles:
                handle.close()
    raise AssertionError("unreachable")  # pragma: no cover


def read_table(
    warehouse_root: str | os.PathLike[str],
    table: str,
    run_id: str | None = None,
    *,
    as_of: datetime | None = None,
) -> pa.Table:
    """One published table, with its documented schema (see :mod:`pipelines.publish.tables`).

    ``run_id`` None reads the current version; a run id reads that kept version. ``as_of`` (a
    time with a time zone) answers "what did we know then" from the history the version
    carries, whichever versions are still kept: ``golden_customers_history`` gives the version
    of each customer in force at that time, ``golden_events`` the events up to it,
    ``golden_id_aliases`` where each id then known pointed at that time.
    """
    if as_of is None:
        return read_tables(warehouse_root, [table], run_id)[table]
    if as_of.tzinfo is None:
        raise ValueError(f"as_of={as_of.isoformat()} has no time zone; give one (e.g. UTC)")
    if table not in AS_OF_TABLES:
        raise ValueError(
            f"table {table!r} has no history to read as of a time; tables with one: "
            f"{', '.join(AS_OF_TABLES)}"
        )
    from pipelines.history.as_of import as_of_table

    needed = (
        ["golden_customers_history", "golden_events"] if table == "golden_id_aliases" else [table]
    )
    tables = read_tables(warehouse_root, needed, run_id)
    return as_of_table(table, tables, as_of).cast(table_spec(table).documented_schema())


AS_OF_TABLES = ("golden_customers_history", "golden_events", "golden_id_aliases")
"""Tables :func:`read_table` can read ``as_of`` a time."""


def current_run_id(warehouse_root: str | os.PathLike[str]) -> str | None:
    """Run id of the version readers currently get, or None when nothing is published."""
    return _current_run_id(Warehouse(Path(warehouse_root)))


def published_versions(warehouse_root: str | os.PathLike[str]) -> list[str]:
    """Run ids of the versions kept on disk (readable by run id), oldest first."""
    return kept_versions(Warehouse(Path(warehouse_root)))
