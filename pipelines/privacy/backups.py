"""Erasure in backups: old backups that may hold an erased subject are made unreadable.

The policy (``docs/privacy.md``): a backup taken before an erasure, of a run at or after the
first batch that delivered the subject, may hold the subject. It stays restorable for
``privacy.erased_backup_grace_days`` after the erasure (so a disaster in that window can still be
recovered from), then:

* a client-side encrypted backup has its data key destroyed
  (:func:`pipelines.backup.destroy_backup_key`): every object of it becomes unreadable for good,
  even to someone holding the master key, and a restore of it fails with a clear error;
* an unencrypted backup cannot be made unreadable, so it is deleted.

``golden forget --purge-backups`` (``purge``) skips the wait for one erasure. Backups taken after
the erasure never hold the subject: the warehouse no longer does, and ingestion suppresses it.
Enforcement runs after each erasure and from :func:`pipelines.privacy.apply_record_retention`
(the maintenance DAG) and ``golden privacy enforce-backups``; it is idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel

from pipelines import audit
from pipelines.lock import holds_run_lock
from pipelines.privacy.ledger import BackupsDone, ErasureEntry, pending_backups, record_backups_done
from pipelines.warehouse import Warehouse

if TYPE_CHECKING:
    from pipelines.backup.catalog import BackupInfo
    from pipelines.config import PipelineConfig

logger = logging.getLogger(__name__)


class BackupErasureResult(BaseModel):
    """What enforcing the backup policy did."""

    done: dict[str, dict[str, str]] = {}
    """Erasure id -> backup run id -> what was done."""
    waiting: dict[str, datetime] = {}
    """Erasure id -> when its backups are due (not yet)."""
    skipped: str | None = None
    """Why nothing was looked at (backups disabled)."""


def holds(entry: ErasureEntry, info: BackupInfo) -> bool:
    """Whether backup ``info`` may hold the records ``entry`` erased."""
    taken = info.created_at or info.last_modified
    if taken is None or taken.astimezone(UTC) >= entry.at.astimezone(UTC):
        return False
    return entry.first_batch is None or info.run_id >= entry.first_batch


@holds_run_lock("golden privacy enforce-backups")
def enforce_backup_erasures(
    config: PipelineConfig,
    now: datetime | None = None,
    *,
    actor: str | None = None,
    purge: Collection[str] = (),
) -> BackupErasureResult:
    """Make unreadable the backups of every erasure that is due (or listed in ``purge``)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    warehouse = Warehouse(config.warehouse.path)
    pending = pending_backups(warehouse)
    result = BackupErasureResult()
    due = []
    for entry in pending:
        assert entry.backups_due_at is not None
        if entry.erasure_id in purge or entry.backups_due_at.astimezone(UTC) <= now:
            due.append(entry)
        else:
            result.waiting[entry.erasure_id] = entry.backups_due_at
    if not due:
        return result
    if not config.backup.enabled:
        result.skipped = (
            "backups are off (no backup.bucket, or backup.enabled is false): none to reach"
        )
        for entry in due:
            record_backups_done(
                warehouse, BackupsDone(erasure_id=entry.erasure_id, at=now, backups={})
            )
            result.done[entry.erasure_id] = {}
        return result

    from pipelines.backup import destroy_backup_key, list_backups
    from pipelines.backup.retention import delete_backup
    from pipelines.backup.store import ObjectStore

    backups = list_backups(config)
    handled: dict[str, str] = {}  # a backup holding several erased subjects is handled once
    for entry in due:
        outcome: dict[str, str] = {}
        for info in backups:
            if not holds(entry, info):
                continue
            if info.run_id in handled:
                outcome[info.run_id] = handled[info.run_id]
                continue
            reason = f"erasure {entry.erasure_id}"
            if info.encrypted and info.key_destroyed:
                done = "key already destroyed"
            elif info.encrypted:
                destroy_backup_key(config, info.run_id, reason)
                done = "key destroyed"
                audit.record(
                    warehouse.root,
                    actor,
                    "backup_key.destroyed",
                    info.run_id,
                    {"erasure_id": entry.erasure_id, "uri": info.uri},
                    reason,
                )
            else:
                count = delete_backup(ObjectStore(config.backup), info.run_id)
                done = "deleted"
                audit.record(
                    warehouse.root,
                    actor,
                    "backup.deleted",
                    info.run_id,
                    {"erasure_id": entry.erasure_id, "uri": info.uri, "objects": count},
                    f"{reason}: an unencrypted backup cannot be made unreadable",
                )
            handled[info.run_id] = outcome[info.run_id] = done
            logger.warning("backup %s: %s (%s)", info.run_id, done, reason)
        record_backups_done(
            warehouse, BackupsDone(erasure_id=entry.erasure_id, at=now, backups=outcome)
        )
        result.done[entry.erasure_id] = outcome
    return result
