"""The right to be forgotten: ``golden forget`` and re-applying erasures after a restore.

An erasure, in order, so that a crash at any point errs on the side of the subject:

1. the subject is resolved to all their records (:mod:`pipelines.privacy.subject`);
2. the suppression entry is written first (salted hashes of their record keys, and of the
   emails and phones no one else holds), so from then on no ingest brings them back;
3. the records are erased from every layer (:mod:`pipelines.privacy.erase`), the current
   published version included;
4. the ledger and the audit trail record it (the subject as a salted hash);
5. a fresh backup of the cleaned current version is taken, and the backups that may hold the
   subject are scheduled for key destruction (or dealt with at once: ``purge_backups``).

Run again after a crash, it finds what is left (by record key, through the suppression list if
the identifier itself is already gone) and finishes. After a restore, :func:`reapply_erasures`
erases again every suppressed record the restored version brought back.
"""

from __future__ import annotations

import logging
import secrets
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
from pydantic import BaseModel

from pipelines import audit
from pipelines.backup import suppression_copy
from pipelines.backup.store import ObjectStore
from pipelines.errors import GoldenError, PrivacyError
from pipelines.lock import holds_run_lock
from pipelines.privacy.backups import BackupErasureResult, enforce_backup_erasures
from pipelines.privacy.erase import ErasurePlan, LayerCounts, erase_records
from pipelines.privacy.identifiers import (
    IdentifierKind,
    SubjectKind,
    hash_values,
    parse_subject,
    salt_id,
)
from pipelines.privacy.ledger import ErasureEntry, record_erasure
from pipelines.privacy.subject import (
    collect,
    load_registry,
    raw_parts,
    resolve_subject,
    shared_identifiers,
    staged_files,
)
from pipelines.privacy.suppression import SuppressionEntry, add_entry, checked_salt, load_index
from pipelines.publish.versions import version_folders
from pipelines.warehouse import Warehouse, protect_process, read_json

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig

logger = logging.getLogger(__name__)


class ErasureResult(BaseModel):
    """What ``golden forget`` did."""

    erasure_id: str
    subject: str
    """The subject's salted hash (as the audit trail names it)."""
    records: int
    golden_ids: list[str]
    suppressed: dict[str, int]
    """Identifier kind -> hashes added to the suppression list."""
    shared_not_suppressed: int
    """Emails/phones other customers also hold: not suppressed (it would suppress them)."""
    layers: LayerCounts
    backup_run_id: str | None = None
    """The fresh backup of the cleaned current version, when one was taken."""
    backups: BackupErasureResult | None = None
    backups_due_at: datetime | None = None
    problems: list[str] = []
    """What could not be done (the local erasure is complete even then)."""
    warnings: list[str] = []
    """What the operator should know (runs in flight that may publish the subject again)."""


def new_erasure_id() -> str:
    return f"E-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


@holds_run_lock("golden forget")
def forget(
    config: PipelineConfig,
    subject: str,
    *,
    reason: str,
    requester: str,
    actor: str | None = None,
    kind: SubjectKind | None = None,
    all_matches: bool = False,
    purge_backups: bool = False,
    backup_after: bool = True,
) -> ErasureResult:
    """Erase one subject from every layer, suppress them, and deal with backups (see above)."""
    if not reason.strip() or not requester.strip():
        raise PrivacyError("an erasure needs a reason and a requester (who asked for it)")
    protect_process(config.warehouse.access)
    warehouse = Warehouse(config.warehouse.path)
    salt = checked_salt(config, load_index(warehouse))
    named = parse_subject(config, subject, kind)
    records = resolve_subject(config, named, all_matches=all_matches)
    data = collect(config, records.record_keys)
    identifiers = data.identifiers()
    shared = shared_identifiers(warehouse, records.record_keys, identifiers)
    erasure_id = new_erasure_id()

    hashes: dict[IdentifierKind, list[str]] = {
        "record_key": _hashes(salt, "record_key", records.record_keys)
    }
    for name in ("email", "email_key", "phone"):
        exclusive = identifiers[name] - shared[name]
        hashes[name] = _hashes(salt, name, exclusive)  # type: ignore[arg-type]
    add_entry(
        warehouse,
        SuppressionEntry(
            erasure_id=erasure_id, at=datetime.now(UTC), salt_id=salt_id(salt), hashes=hashes
        ),
    )
    plan = ErasurePlan(frozenset(records.record_keys), frozenset(data.values(config)))
    layers = erase_records(config, plan)

    at = datetime.now(UTC)
    digest = named.digest(salt)
    due = at + timedelta(days=config.privacy.erased_backup_grace_days)
    golden_ids = sorted(set(layers.golden_ids) | records.golden_ids)
    record_erasure(
        warehouse,
        ErasureEntry(
            erasure_id=erasure_id,
            kind="request",
            at=at,
            subject=digest,
            golden_ids=golden_ids,
            records=len(records.record_keys),
            first_batch=data.first_batch,
            backups_due_at=at if purge_backups else due,
        ),
    )
    shared_count = sum(len(v) for v in shared.values())
    audit.record(
        warehouse.root,
        actor,
        "erasure",
        f"subject:{digest}",
        {
            "erasure_id": erasure_id,
            "requester": requester,
            "subject_kind": named.kind,
            "records": len(records.record_keys),
            "golden_ids": golden_ids,
            "suppressed": {k: len(v) for k, v in hashes.items()},
            "shared_not_suppressed": shared_count,
            "layers": layers.model_dump(exclude={"golden_ids"}),
            "backups": "purge now" if purge_backups else f"keys destroyed after {due:%Y-%m-%d}",
        },
        reason,
    )
    result = ErasureResult(
        erasure_id=erasure_id,
        subject=digest,
        records=len(records.record_keys),
        golden_ids=golden_ids,
        suppressed={k: len(v) for k, v in hashes.items()},
        shared_not_suppressed=shared_count,
        layers=layers,
        backups_due_at=at if purge_backups else due,
    )
    for run_id in runs_in_flight(warehouse):
        result.warnings.append(
            f"run {run_id} is in progress and may have ingested the subject before the erasure; "
            "if it publishes, run `golden privacy reapply` (the maintenance DAG also does)"
        )
    if config.backup.enabled and config.backup.bucket:
        _copy_suppression_list(config, warehouse, result)
        _after_erasure_backups(config, warehouse, result, actor, backup_after, purge_backups)
    return result


def _copy_suppression_list(
    config: PipelineConfig, warehouse: Warehouse, result: ErasureResult
) -> None:
    """The list in the bucket, so that restoring an older backup anywhere erases again."""
    try:
        store = ObjectStore(config.backup)
        with tempfile.TemporaryDirectory(prefix=".suppression-", dir=warehouse.root) as tmp:
            suppression_copy.push(store, warehouse.suppression, Path(tmp))
    except Exception as exc:  # noqa: BLE001 - the erasure itself is done; say what is left
        result.warnings.append(
            f"the suppression list could not be copied to the backup bucket ({exc}); a restore "
            "into an empty warehouse would not know this erasure until the next backup"
        )


def runs_in_flight(warehouse: Warehouse) -> list[str]:
    """Runs newer than the published version that have started and not finished."""
    from pipelines.publish import current_run_id

    current = current_run_id(warehouse.root) or ""
    found = []
    for run_id in warehouse.run_ids():
        if run_id <= current or not (warehouse.run(run_id) / "stages").is_dir():
            continue
        manifest = warehouse.run_manifest(run_id)
        status = read_json(manifest).get("status") if manifest.exists() else None
        if status in (None, "running"):
            found.append(run_id)
    return found


def _after_erasure_backups(
    config: PipelineConfig,
    warehouse: Warehouse,
    result: ErasureResult,
    actor: str | None,
    backup_after: bool,
    purge: bool,
) -> None:
    from pipelines.publish import current_run_id

    run_id = current_run_id(warehouse.root)
    if backup_after and run_id is not None:
        from pipelines.backup import backup

        try:
            taken = backup(config, run_id)
        except GoldenError as exc:
            result.problems.append(
                f"the fresh backup of run {run_id} after the erasure failed: {exc}; "
                "run `golden backup run` once the store is reachable"
            )
        else:
            result.backup_run_id = run_id
            audit.record(
                warehouse.root,
                actor,
                "backup",
                run_id,
                {"uri": taken.uri, "objects": taken.objects, "after_erasure": result.erasure_id},
                "fresh backup without the erased subject",
            )
    try:
        result.backups = enforce_backup_erasures(
            config, actor=actor, purge=[result.erasure_id] if purge else ()
        )
    except GoldenError as exc:
        result.problems.append(
            f"old backups could not be dealt with now ({exc}); `golden privacy enforce-backups` "
            "retries (the erasure stays pending in the ledger until then)"
        )


def _hashes(salt: bytes, kind: IdentifierKind, values: set[str]) -> list[str]:
    return sorted(h for h in hash_values(salt, kind, sorted(values)) if h is not None)


# --- re-applying erasures ------------------------------------------------------------------


def erase_and_log(
    config: PipelineConfig,
    keys: set[str],
    *,
    kind: str,
    action: str,
    actor: str | None,
    reason: str,
    details: dict[str, object] | None = None,
) -> LayerCounts:
    """Erase records the warehouse decided to let go of (not a subject's request, so no
    suppression entry), and leave the same two traces every erasure leaves: an entry in the
    erasure ledger (backups are shredded from it) and an audit event."""
    warehouse = Warehouse(config.warehouse.path)
    data = collect(config, keys)
    layers = erase_records(config, ErasurePlan(frozenset(keys), frozenset(data.values(config))))
    erasure_id = new_erasure_id()
    record_erasure(
        warehouse,
        ErasureEntry(
            erasure_id=erasure_id,
            kind=kind,
            at=datetime.now(UTC),
            golden_ids=layers.golden_ids,
            records=len(keys),
            first_batch=data.first_batch,
        ),
    )
    audit.record(
        warehouse.root,
        actor,
        action,
        erasure_id,
        {
            **(details or {}),
            "records": len(keys),
            "golden_ids": layers.golden_ids,
            "layers": layers.model_dump(exclude={"golden_ids"}),
        },
        reason,
    )
    return layers


class ReapplyResult(BaseModel):
    records: int
    layers: LayerCounts | None = None


def held_record_keys(warehouse: Warehouse) -> set[str]:
    """Every record key the warehouse holds anywhere a restore or a crash could leave one."""
    keys: set[str] = set()
    for parts in raw_parts(warehouse).values():
        for part in parts:
            keys |= set(
                pl.read_parquet(part, columns=["record_key"], hive_partitioning=False)[
                    "record_key"
                ].to_list()
            )
    for path in staged_files(warehouse):
        keys |= set(pl.read_parquet(path, columns=["record_key"])["record_key"].to_list())
    registry = load_registry(warehouse)
    if registry is not None:
        keys |= set(registry["record_key"].to_list())
    for folder in version_folders(warehouse):
        path = folder / "customer_xref.parquet"
        if path.exists():
            keys |= set(pl.read_parquet(path, columns=["record_key"])["record_key"].to_list())
    keys.discard(None)  # type: ignore[arg-type]
    return keys


@holds_run_lock("golden privacy reapply")
def reapply_erasures(config: PipelineConfig, *, actor: str | None = None) -> ReapplyResult:
    """Erase again every record whose key is on the suppression list (after a restore of a
    backup taken before an erasure, or to finish an interrupted erasure)."""
    warehouse = Warehouse(config.warehouse.path)
    index = load_index(warehouse)
    if not index.has("record_key"):
        return ReapplyResult(records=0)
    salt = checked_salt(config, index)
    held = sorted(held_record_keys(warehouse))
    listed = index.hashes["record_key"]
    keys = {
        k for k, h in zip(held, hash_values(salt, "record_key", held), strict=True) if h in listed
    }
    if not keys:
        return ReapplyResult(records=0)
    layers = erase_and_log(
        config,
        keys,
        kind="reapplied",
        action="erasure.reapplied",
        actor=actor,
        reason="suppressed records found in the warehouse again (restore or interrupted erasure)",
    )
    return ReapplyResult(records=len(keys), layers=layers)
