"""A database source's full id reconciliation: the one pass a watermark cannot replace.

An incremental read asks for rows changed after the watermark (minus the look-back window),
so it never sees a row that appeared with an older update time (a restore, a migration that
kept original timestamps, a commit that took longer than the window) nor a row that was
deleted. Reconciliation reads only the id column (and the soft-delete flag, when the source
has one) of the whole table, which is cheap, and compares it with the current set:

* ids the table has and the current set lacks are read in full by id and landed (``behind``);
* ids the current set has and the table lacks (or flags deleted) are deleted at the source
  (``deleted``), and go as ``deletions.action`` says.

It runs on demand (``golden ingest --reconcile``) and, by default weekly, from the maintenance
DAG, which asks the next run's ingest to reconcile (:func:`request_reconcile`); the run summary
then counts what it found like any other change.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from pipelines.ingest.changes import ID
from pipelines.ingest.config import SourceConfig
from pipelines.ingest.state import load_state
from pipelines.warehouse import Warehouse

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IdReconciliation:
    behind: pl.DataFrame
    """Ids in the table that the current set lacks: rows behind the watermark."""
    deleted: pl.DataFrame
    """Ids of the current set that the table lacks or flags deleted."""


def table_ids(source: SourceConfig) -> pl.DataFrame:
    """The ids the source holds now (as text), less rows flagged deleted."""
    from pipelines.ingest.database import select_column

    flag = source.deletions.flag_column
    columns = [source.id_column] + ([flag] if flag else [])
    values = select_column(source, columns)
    frame = pl.DataFrame(
        {ID: values[0], **({"flag": values[1]} if flag else {})},
        schema={ID: pl.String, **({"flag": pl.String} if flag else {})},
    )
    if flag:
        flagged = [v.lower() for v in source.deletions.flag_values]
        is_deleted = pl.col("flag").str.strip_chars().str.to_lowercase().is_in(flagged)
        frame = frame.filter(~is_deleted.fill_null(False))
    return frame.select(ID).filter(pl.col(ID).is_not_null()).unique()


def reconcile_ids(source: SourceConfig, current: Path) -> IdReconciliation:
    """Compare the table's ids with the current set at ``current``."""
    held = table_ids(source)
    have = pl.read_parquet(current, columns=[ID], hive_partitioning=False).unique()
    found = IdReconciliation(
        behind=held.join(have, on=ID, how="anti").sort(ID),
        deleted=have.join(held, on=ID, how="anti").sort(ID),
    )
    logger.info(
        "%s: reconciled %d id(s): %d behind the watermark, %d deleted at the source",
        source.name,
        held.height,
        found.behind.height,
        found.deleted.height,
    )
    return found


def _request(warehouse: Warehouse, source: str) -> Path:
    """One marker file per source, so that sources ingested in parallel (the DAG's mapped
    tasks) each clear their own request without a shared file to race on."""
    return warehouse.state / "reconcile" / f"{source}.requested"


def reconcile_due(
    config: PipelineConfig, every_days: float | None = None, now: datetime | None = None
) -> list[str]:
    """Database sources whose ids were last reconciled more than ``every_days`` (default:
    each source's ``database.reconcile_every_days``) ago, or never once they have a current
    set."""
    now = now or datetime.now(UTC)
    warehouse = Warehouse(config.warehouse.path)
    due = []
    for src in config.sources:
        if src.database is None or not src.incremental:
            continue  # a source read in full every run is reconciled every run
        state = load_state(warehouse.source_state(src.name))
        if state.last_run_id is None:
            continue  # its first ingest reads everything anyway
        days = every_days if every_days is not None else src.database.reconcile_every_days
        if state.reconciled_at is None or now - state.reconciled_at >= timedelta(days=days):
            due.append(src.name)
    return due


def reconcile_database_sources(
    config: PipelineConfig, now: datetime | None = None
) -> dict[str, dict[str, int]]:
    """The maintenance task: for each database source due, compare its table's ids with its
    latest current set now (what is behind the watermark, what is deleted) and have the next
    run's ingest apply it (:func:`request_reconcile`), so what it loads and retires goes
    through validation, the gate and publish like any other change. Returns the counts found."""
    warehouse = Warehouse(config.warehouse.path)
    found: dict[str, dict[str, int]] = {}
    for name in reconcile_due(config, now=now):
        last = load_state(warehouse.source_state(name)).last_run_id
        current = warehouse.current_records(last, name) if last else None
        if current is None or not current.is_file():
            continue
        result = reconcile_ids(config.source(name), current)
        found[name] = {"behind": result.behind.height, "deleted": result.deleted.height}
    request_reconcile(config, sorted(found))
    return found


def request_reconcile(config: PipelineConfig, sources: list[str]) -> list[str]:
    """Ask the next ingest of each source to reconcile its ids; returns the sources asked."""
    warehouse = Warehouse(config.warehouse.path)
    for source in sources:
        marker = _request(warehouse, source)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    return sorted(sources)


def reconcile_requested(config: PipelineConfig, source: str) -> bool:
    return _request(Warehouse(config.warehouse.path), source).is_file()


def clear_request(config: PipelineConfig, source: str) -> None:
    _request(Warehouse(config.warehouse.path), source).unlink(missing_ok=True)
