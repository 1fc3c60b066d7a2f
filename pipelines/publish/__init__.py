"""Atomic publish of the golden tables (Parquet versions + a DuckDB database) and their readers.

Entry point :func:`publish`; readers use :func:`read_table` / :func:`read_tables` and the
schemas of :mod:`pipelines.publish.tables`. See :mod:`pipelines.publish.stage` for how a
version becomes current without readers ever seeing a mix.

The names below are imported on first use: :mod:`pipelines.config` imports this package's
``config`` module, and loading a config (an Airflow DAG file does) must not pull in DuckDB and
Arrow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.publish.reader import (
        current_run_id,
        published_versions,
        read_table,
        read_tables,
    )
    from pipelines.publish.stage import PublishResult, publish
    from pipelines.publish.tables import TABLES, TableSpec, table_schema
    from pipelines.publish.versions import commit_version

_EXPORTS = {
    "PublishResult": "pipelines.publish.stage",
    "commit_version": "pipelines.publish.versions",
    "publish": "pipelines.publish.stage",
    "current_run_id": "pipelines.publish.reader",
    "published_versions": "pipelines.publish.reader",
    "read_table": "pipelines.publish.reader",
    "read_tables": "pipelines.publish.reader",
    "TABLES": "pipelines.publish.tables",
    "TableSpec": "pipelines.publish.tables",
    "table_schema": "pipelines.publish.tables",
}

__all__ = [
    "TABLES",
    "PublishResult",
    "TableSpec",
    "commit_version",
    "current_run_id",
    "publish",
    "published_versions",
    "read_table",
    "read_tables",
    "table_schema",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
