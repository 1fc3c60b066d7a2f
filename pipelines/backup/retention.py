"""Retention: which backups to keep, and deleting the others.

The rule (``backup.retention``): keep the newest complete backup of each of the last ``daily``
days that have one, and of each of the last ``weekly`` ISO weeks that have one; never delete the
newest complete backup; delete every other complete backup, and incomplete ones (interrupted
attempts) that are older than the newest complete backup. "Days that have one" rather than
calendar days, so a pause in backups never lets retention delete the last good copies.

An incomplete backup touched less than ``incomplete_grace_minutes`` before ``now`` is spared: it
may be a backup still running in another process. Times are UTC; a backup's time is the
``created_at`` of its manifest (the start time in its header for an incomplete one).

Deleting removes the manifest first, so a backup half-deleted by a crash is incomplete, never a
damaged "complete" one. In a versioned bucket deleted objects stay as old versions until the
bucket's lifecycle rules expire them; configure a noncurrent-version expiration there.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel

from pipelines.backup.catalog import BackupInfo, scan
from pipelines.backup.config import RetentionConfig
from pipelines.backup.manifest import HEADER_NAME, MANIFEST_NAME
from pipelines.backup.store import ObjectStore
from pipelines.errors import GoldenError

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig

logger = logging.getLogger(__name__)


class RetentionResult(BaseModel):
    kept: list[str]
    deleted: list[str]
    reasons: dict[str, str]
    """Run id -> why it was kept or deleted."""
    dry_run: bool


def _when(info: BackupInfo) -> datetime:
    return (info.created_at or info.last_modified or datetime.min.replace(tzinfo=UTC)).astimezone(
        UTC
    )


def plan_retention(
    backups: list[BackupInfo], rules: RetentionConfig, now: datetime
) -> dict[str, tuple[bool, str]]:
    """Decide every backup: run id -> (keep, reason). Pure, so it is tested on its own."""
    decisions: dict[str, tuple[bool, str]] = {}
    complete = sorted(
        (b for b in backups if b.complete), key=lambda b: (_when(b), b.run_id), reverse=True
    )
    days: dict[date, str] = {}
    weeks: dict[tuple[int, int], str] = {}
    for info in complete:
        moment = _when(info)
        day = moment.date()
        week = moment.isocalendar()[:2]
        reasons = []
        if info is complete[0]:
            reasons.append("newest complete backup")
        if day not in days and len(days) < rules.daily:
            days[day] = info.run_id
            reasons.append(f"newest of day {day}")
        if week not in weeks and len(weeks) < rules.weekly:
            weeks[week] = info.run_id
            reasons.append(f"newest of ISO week {week[0]}-W{week[1]:02d}")
        if reasons:
            decisions[info.run_id] = (True, "; ".join(reasons))
        else:
            decisions[info.run_id] = (False, "beyond the daily and weekly retention")
    newest = _when(complete[0]) if complete else None
    grace = timedelta(minutes=rules.incomplete_grace_minutes)
    for info in backups:
        if info.complete:
            continue
        touched = max(
            (t.astimezone(UTC) for t in (info.last_modified, info.created_at) if t),
            default=_when(info),
        )
        if newest is None:
            decisions[info.run_id] = (True, "incomplete, but there is no complete backup yet")
        elif _when(info) >= newest:
            decisions[info.run_id] = (True, "incomplete and newer than the newest complete one")
        elif now - touched < grace:
            decisions[info.run_id] = (True, "incomplete but recently active (may be running)")
        else:
            decisions[info.run_id] = (False, "stale incomplete backup")
    return decisions


def delete_backup(store: ObjectStore, run_id: str) -> int:
    """Delete every object of a backup, manifest first and header last; returns the count."""
    keys = sorted(o.key for o in store.list_objects(store.run_prefix(run_id)))
    manifest, header = store.key(run_id, MANIFEST_NAME), store.key(run_id, HEADER_NAME)
    groups = (
        [k for k in keys if k == manifest],
        [k for k in keys if k not in (manifest, header)],
        [k for k in keys if k == header],
    )
    for group in groups:
        if group:
            store.delete_keys(group)
    return len(keys)


def apply_retention(
    config: PipelineConfig, now: datetime | None = None, dry_run: bool = False
) -> RetentionResult:
    """Delete the backups retention does not keep (none with ``dry_run``)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    store = ObjectStore(config.backup)
    try:
        backups = scan(store)
        plan = plan_retention(backups, config.backup.retention, now)
        deleted = []
        for info in backups:
            keep, reason = plan[info.run_id]
            if keep:
                continue
            if not dry_run:
                count = delete_backup(store, info.run_id)
                logger.info("deleted backup %s (%d objects): %s", info.run_id, count, reason)
            deleted.append(info.run_id)
    except GoldenError:
        raise
    except Exception as exc:
        raise store.failure("applying backup retention", exc) from exc
    return RetentionResult(
        kept=[b.run_id for b in backups if plan[b.run_id][0]],
        deleted=deleted,
        reasons={run: reason for run, (_, reason) in plan.items()},
        dry_run=dry_run,
    )
