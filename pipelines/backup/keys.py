"""Backup data keys: unwrapping one to read a backup, destroying one to make it unreadable."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pipelines.backup import crypto
from pipelines.backup.catalog import load_header
from pipelines.backup.config import BackupConfig
from pipelines.backup.manifest import HEADER_NAME, BackupHeader, BackupManifest, check_run_id
from pipelines.backup.store import ObjectStore
from pipelines.errors import BackupError, GoldenError

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig

logger = logging.getLogger(__name__)


def data_key_for(
    config: BackupConfig, run_id: str, header: BackupHeader | None, manifest: BackupManifest
) -> bytes | None:
    """The data key a backup's objects are encrypted with; None for an unencrypted backup."""
    if manifest.encryption is None:
        return None
    if header is None or header.encryption is None:
        raise BackupError(
            f"backup {run_id} is encrypted ({manifest.encryption}) but its {HEADER_NAME} with "
            "the wrapped data key is missing or damaged: it cannot be decrypted"
        )
    info = header.encryption
    if info.wrapped_key is None or info.wrap_nonce is None:
        raise BackupError(
            f"the data key of backup {run_id} was destroyed at {info.destroyed_at} "
            f"({info.destroyed_reason or 'no reason recorded'}): the backup is unreadable"
        )
    if not config.client_side_key_env:
        raise BackupError(
            f"backup {run_id} is client-side encrypted with master key {info.key_fingerprint}: "
            "set backup.client_side_key_env to the environment variable holding that key"
        )
    master = crypto.load_master_key(config.client_side_key_env)
    fingerprint = crypto.key_fingerprint(master)
    if fingerprint != info.key_fingerprint:
        raise BackupError(
            f"backup {run_id} was encrypted under master key {info.key_fingerprint}, but "
            f"{config.client_side_key_env} holds key {fingerprint}"
        )
    return crypto.unwrap_key(master, crypto.WrappedKey(info.wrap_nonce, info.wrapped_key), run_id)


def destroy_backup_key(config: PipelineConfig, run_id: str, reason: str) -> BackupHeader:
    """Destroy the data key of one encrypted backup, making every object of it unreadable.

    The header is rewritten without the wrapped key (recording when and why) and, in a
    versioned bucket, its older versions are purged, so no copy of the wrapped key survives in
    the store. This cannot be undone; it is how an erasure reaches a backup. Other backups are
    not affected.
    """
    check_run_id(run_id)
    store = ObjectStore(config.backup)
    try:
        header = load_header(store, run_id)
        if header is None:
            raise BackupError(f"there is no backup {run_id} under {store.uri(run_id)}")
        if header.encryption is None:
            raise BackupError(
                f"backup {run_id} is not client-side encrypted, so it has no key to destroy: "
                "delete the backup instead"
            )
        if header.encryption.wrapped_key is not None:
            header.encryption.wrapped_key = None
            header.encryption.wrap_nonce = None
            header.encryption.destroyed_at = datetime.now(UTC)
            header.encryption.destroyed_reason = reason
            key = store.key(run_id, HEADER_NAME)
            store.put_bytes(key, header.model_dump_json(indent=2).encode())
        purged = store.purge_old_versions(store.key(run_id, HEADER_NAME))
    except GoldenError:
        raise
    except Exception as exc:
        raise store.failure(f"destroying the key of backup {run_id}", exc) from exc
    logger.warning(
        "destroyed the data key of backup %s (%s); %d old header version(s) purged",
        run_id,
        reason,
        purged,
    )
    return header
