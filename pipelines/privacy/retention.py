"""Retention of personal data: source records not seen for a configured period are erased.

A record is *seen* when a batch delivers it; its last sighting is the newest landing time
(``ingested_at``) among the raw batches that hold it. Records whose last sighting is older than
``privacy.record_retention_days`` are retired and erased from every layer, as an erasure request
would (:mod:`pipelines.privacy.erase`), but without a suppression entry: if the source sends the
record again, the customer is active again and is welcome back.

What "not seen" means depends on the source: a full-load source delivers every record it still
has in every batch, so a record is stale once the source stopped sending it; an incremental
source only delivers changed records, so an unchanged record stops being "seen" even though the
source still holds it. For incremental sources set the period long enough, or run a periodic
``--full-reload``, which delivers (and so re-sights) everything.

Customers all of whose records are retired disappear from the published tables; customers who
keep other records lose the field values the retired records supplied until the next run
rebuilds them. The maintenance DAG calls :func:`apply_record_retention` weekly; it also
re-applies earlier erasures (a run in flight during one may have published the subject again)
and enforces their backup policy (:mod:`pipelines.privacy.backups`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import polars as pl
from pydantic import BaseModel

from pipelines.lock import holds_run_lock
from pipelines.privacy.backups import BackupErasureResult, enforce_backup_erasures
from pipelines.privacy.erase import LayerCounts
from pipelines.privacy.forgetting import erase_and_log, reapply_erasures
from pipelines.privacy.subject import raw_parts
from pipelines.warehouse import Warehouse

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig

logger = logging.getLogger(__name__)


class RecordRetentionResult(BaseModel):
    cutoff: datetime | None
    """Records last seen before this are erased (None: retention is not configured)."""
    records: int
    """Records erased."""
    golden_ids: list[str]
    """Customers retired whole."""
    layers: LayerCounts | None = None
    reapplied: int = 0
    """Suppressed records found again and erased (a run in flight during an erasure)."""
    backups: BackupErasureResult | None = None


def stale_records(warehouse: Warehouse, cutoff: datetime) -> set[str]:
    """Record keys whose newest landing in any raw batch is before ``cutoff``."""
    stale: set[str] = set()
    for parts in raw_parts(warehouse).values():
        frame = pl.concat(
            [
                pl.scan_parquet(p, hive_partitioning=False).select("record_key", "ingested_at")
                for p in parts
            ]
        )
        last = frame.group_by("record_key").agg(pl.col("ingested_at").max().alias("last_seen"))
        old = last.filter(pl.col("last_seen") < cutoff).select("record_key").collect()
        stale |= set(old["record_key"].to_list())
    return stale


@holds_run_lock("golden privacy retention")
def apply_record_retention(
    config: PipelineConfig, now: datetime | None = None, *, actor: str | None = None
) -> RecordRetentionResult:
    """Erase source records not seen for ``privacy.record_retention_days``; enforce the backup
    policy of earlier erasures. Safe to run as often as wanted."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    warehouse = Warehouse(config.warehouse.path)
    result = RecordRetentionResult(cutoff=None, records=0, golden_ids=[])
    days = config.privacy.record_retention_days
    if days is not None:
        cutoff = now - timedelta(days=days)
        result.cutoff = cutoff
        keys = stale_records(warehouse, cutoff)
        if keys:
            layers = erase_and_log(
                config,
                keys,
                kind="retention",
                action="retention",
                actor=actor,
                reason=f"not seen for {days} days (privacy.record_retention_days)",
                details={"cutoff": cutoff.isoformat()},
            )
            result.records = len(keys)
            result.golden_ids = layers.golden_ids
            result.layers = layers
            logger.info("retention: erased %d record(s) last seen before %s", len(keys), cutoff)
    # A run in flight during an erasure may have published the subject again: a weekly net.
    result.reapplied = reapply_erasures(config, actor=actor).records
    result.backups = enforce_backup_erasures(config, now, actor=actor)
    return result
