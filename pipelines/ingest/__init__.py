"""Ingestion: land every source's records in the raw layer with lineage, and keep each source's
current record set for validation.

The stage's front door; the code lives in the modules behind it:
``readers`` (one interface over ``csv_reader``, ``jsonl_reader``, ``parquet_reader``,
``objects`` for files and S3, ``database``), ``lineage`` (lineage columns, row rejects,
soft-delete flags), ``changes`` (new, changed and deleted records by id and row hash),
``reconcile`` (a database's full id pass), ``deletions`` (the stewards' review queue),
``landing`` (immutable raw batches), ``current`` (current record set), ``state``
(watermarks), ``drift``, ``suppression`` (the privacy stage's seam), ``batch`` (the entry point
tying them together) and ``mapping`` (used by validation).

The names below load on first use: ``pipelines.config`` imports ``pipelines.ingest.config``,
and importing the whole stage at that point would be both slow and circular.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.ingest.batch import ingest_source
    from pipelines.ingest.result import IngestResult

__all__ = ["IngestResult", "ingest_source"]


def __getattr__(name: str) -> Any:
    if name == "ingest_source":
        from pipelines.ingest.batch import ingest_source

        return ingest_source
    if name == "IngestResult":
        from pipelines.ingest.result import IngestResult

        return IngestResult
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
