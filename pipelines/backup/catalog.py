"""Which backups exist in the bucket, and which of them are complete."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ValidationError

from pipelines.backup.manifest import HEADER_NAME, MANIFEST_NAME, BackupHeader, BackupManifest
from pipelines.backup.store import ObjectStore, StoredObject
from pipelines.errors import BackupError

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig

logger = logging.getLogger(__name__)


class BackupInfo(BaseModel):
    """One backup as found in the bucket."""

    run_id: str
    uri: str
    complete: bool
    """True exactly when its manifest exists and parses."""
    created_at: datetime | None
    """The manifest's ``created_at``; for an incomplete backup the header's start time."""
    last_modified: datetime | None
    """Newest object of the backup as the store reports it (for incomplete ones)."""
    objects: int
    stored_bytes: int
    encrypted: bool = False
    key_destroyed: bool = False
    problem: str | None = None
    """Why a backup with objects is not complete (no manifest, damaged manifest...)."""


def load_header(store: ObjectStore, run_id: str) -> BackupHeader | None:
    raw = store.get_bytes(store.key(run_id, HEADER_NAME))
    if raw is None:
        return None
    try:
        return BackupHeader.model_validate_json(raw)
    except ValidationError as exc:
        raise BackupError(f"{store.uri(run_id)}{HEADER_NAME} is damaged: {exc}") from None


def load_manifest(store: ObjectStore, run_id: str) -> BackupManifest | None:
    """The manifest of a backup, None when there is none (incomplete); damaged is an error."""
    raw = store.get_bytes(store.key(run_id, MANIFEST_NAME))
    if raw is None:
        return None
    try:
        return BackupManifest.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as exc:
        raise BackupError(f"{store.uri(run_id)}{MANIFEST_NAME} is damaged: {exc}") from None


def _group_by_run(store: ObjectStore) -> dict[str, list[StoredObject]]:
    base = store.base_prefix
    runs: dict[str, list[StoredObject]] = {}
    for item in store.list_objects():
        run_id, sep, _ = item.key[len(base) :].partition("/")
        if sep and run_id:
            runs.setdefault(run_id, []).append(item)
    return runs


def scan(store: ObjectStore) -> list[BackupInfo]:
    """Every backup under the store's prefix, oldest first."""
    found: list[BackupInfo] = []
    for run_id, items in _group_by_run(store).items():
        names = {item.key for item in items}
        if not names & {store.key(run_id, HEADER_NAME), store.key(run_id, MANIFEST_NAME)}:
            # Not written by a backup (each starts with its header): never list it, so that
            # retention can never delete someone else's objects sharing the prefix.
            logger.debug("ignoring %s: neither a header nor a manifest", store.run_prefix(run_id))
            continue
        info = BackupInfo(
            run_id=run_id,
            uri=store.uri(run_id),
            complete=False,
            created_at=None,
            last_modified=max(item.last_modified for item in items),
            objects=len(items),
            stored_bytes=sum(item.size for item in items),
        )
        try:
            header = load_header(store, run_id) if store.key(run_id, HEADER_NAME) in names else None
            if header is not None:
                info.created_at = header.started_at
                info.encrypted = header.encryption is not None
                info.key_destroyed = bool(
                    header.encryption and header.encryption.wrapped_key is None
                )
            manifest = (
                load_manifest(store, run_id) if store.key(run_id, MANIFEST_NAME) in names else None
            )
        except BackupError as exc:
            info.problem = str(exc)
            found.append(info)
            continue
        if manifest is None:
            info.problem = "no manifest: interrupted, or still running"
        else:
            info.complete = True
            info.created_at = manifest.created_at
        found.append(info)
    return sorted(found, key=lambda b: (b.created_at or b.last_modified, b.run_id))


def list_backups(config: PipelineConfig) -> list[BackupInfo]:
    """Every backup of the configured bucket and prefix, complete or not, oldest first."""
    store = ObjectStore(config.backup)
    try:
        return scan(store)
    except BackupError:
        raise
    except Exception as exc:
        raise store.failure("listing backups", exc) from exc


def latest_complete(store: ObjectStore) -> BackupInfo:
    complete = [b for b in scan(store) if b.complete]
    if not complete:
        raise BackupError(f"there is no complete backup under s3://{store.bucket}/{store.prefix}")
    return complete[-1]
