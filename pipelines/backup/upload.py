"""Take a backup of one published run: its published version plus the state a restore needs.

Order is what makes a backup trustworthy: ``header.json`` goes up first, every object is
uploaded and its stored size checked, and ``manifest.json`` goes up last (one PUT). A first
backup interrupted at any point has no manifest and is never listed as complete.

A rerun of an already backed-up run never takes the complete backup away first: its objects go
to ``attempts/<id>/`` beside the old ones, sealed with the same data key (so the header both
need never changes), the new manifest replaces the old one in one PUT, and only then are the
old objects removed. A crash at any point leaves the previous complete backup or the new one.
Only when the data key cannot be shared (another master key, a destroyed key, encryption
switched off) is the old manifest removed first, as that backup is unreadable under the new
settings anyway.

The files are snapshotted under the publish lock before anything is uploaded: published files
and the id registry by hard link (they are only ever replaced, never changed in place), the
append-only logs by copy. The backup is then one consistent moment of the warehouse, and the
checksums in the manifest are of exactly the bytes uploaded.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from pipelines.backup import crypto, suppression_copy
from pipelines.backup.catalog import load_header, load_manifest
from pipelines.backup.check import count_rows, sha256_of
from pipelines.backup.manifest import (
    ATTEMPTS_DIR,
    HEADER_NAME,
    MANIFEST_NAME,
    PUBLISHED_DIR,
    BackupHeader,
    BackupManifest,
    EncryptionInfo,
    ManifestObject,
    check_run_id,
    version_path,
)
from pipelines.backup.store import ObjectStore
from pipelines.errors import BackupError, GoldenError, StageInputError
from pipelines.publish.versions import current_run_id, publish_lock, read_manifest
from pipelines.warehouse import Warehouse

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig

logger = logging.getLogger(__name__)

Progress = Callable[[str, int], None]
"""Called after each object is stored, with its name and plaintext size."""


class BackupResult(BaseModel):
    """What a backup stored; kept in the run record and shown in the run summary."""

    run_id: str
    uri: str
    objects: int
    """Data objects listed in the manifest (header and manifest not counted)."""
    bytes: int
    """Plaintext bytes of those objects."""
    stored_bytes: int
    seconds: float
    manifest_key: str
    encrypted: bool


@dataclass(frozen=True)
class _Item:
    name: str
    """Key below the backup's prefix."""
    path: str
    """Warehouse-relative path, where restore puts it back."""
    kind: Literal["table", "version_manifest", "state"]
    local: Path
    """The snapshot to upload."""


def _snapshot(warehouse: Warehouse, run_id: str, workdir: Path) -> list[_Item]:
    """Freeze the run's published version and the state, under the publish lock."""
    items: list[_Item] = []
    snap = workdir / "snapshot"
    with publish_lock(warehouse):
        version = warehouse.published_version(run_id)
        if not version.is_dir():
            raise StageInputError(
                f"{version} does not exist: publish run {run_id} before backing it up"
            )
        current = current_run_id(warehouse)
        if current != run_id:
            raise BackupError(
                f"run {run_id} is not the current published version ({current}): the state "
                "in the warehouse belongs to the current one, so a backup of this run would not "
                "restore consistently; back up right after publishing"
            )
        tables = read_manifest(version)["tables"]
        for index, entry in enumerate(sorted(tables.values(), key=lambda e: e["file"])):
            source = version / entry["file"]
            local = snap / f"table-{index}"
            _freeze(source, local, link=True)
            items.append(
                _Item(
                    f"{PUBLISHED_DIR}/{entry['file']}",
                    version_path(run_id, entry["file"]),
                    "table",
                    local,
                )
            )
        local = snap / "version-manifest"
        _freeze(version / "manifest.json", local, link=False)
        items.append(
            _Item(
                f"{PUBLISHED_DIR}/manifest.json",
                version_path(run_id, "manifest.json"),
                "version_manifest",
                local,
            )
        )
        if not warehouse.id_registry.exists():
            raise StageInputError(
                f"{warehouse.id_registry} does not exist: a backup without the id registry "
                "could not restore stable golden ids"
            )
        state_files = sorted(
            p
            for p in warehouse.state.rglob("*")
            if p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(warehouse.state).parts)
        )
        for index, source in enumerate(state_files):
            relative = source.relative_to(warehouse.root).as_posix()
            local = snap / f"state-{index}"
            _freeze(source, local, link=source.suffix == ".parquet")
            items.append(_Item(relative, relative, "state", local))
    return items


def _freeze(source: Path, target: Path, *, link: bool) -> None:
    source = source.resolve()  # the id registry is a link into the current version
    target.parent.mkdir(parents=True, exist_ok=True)
    if link:
        try:
            os.link(source, target)
            return
        except OSError:  # another file system, or links not allowed: copy instead
            pass
    shutil.copyfile(source, target)


def backup(
    config: PipelineConfig,
    run_id: str,
    *,
    created_at: datetime | None = None,
    progress: Progress | None = None,
) -> BackupResult:
    """Back up published run ``run_id`` and the warehouse state to ``config.backup``'s store.

    ``created_at`` is the time recorded for retention (default: now); ``progress`` is called
    after each stored object (the CLI's progress bar).
    """
    clock = time.perf_counter()
    check_run_id(run_id)
    settings = config.backup
    warehouse = Warehouse(config.warehouse.path)
    store = ObjectStore(settings)
    master = (
        crypto.load_master_key(settings.client_side_key_env)
        if settings.client_side_key_env
        else None
    )
    started = (created_at or datetime.now(UTC)).astimezone(UTC)
    warehouse.root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".backup-", dir=warehouse.root) as tmp:
        workdir = Path(tmp)
        items = _snapshot(warehouse, run_id, workdir)
        try:
            manifest, stale = _upload(store, run_id, items, master, started, workdir, progress)
            manifest.warehouse = str(warehouse.root)
            # Where a restore into any warehouse finds every erasure, this backup's included.
            suppression_copy.push(store, warehouse.suppression, workdir)
            manifest_key = store.key(run_id, MANIFEST_NAME)
            store.put_bytes(manifest_key, manifest.model_dump_json(indent=2).encode())
            _remove_stale(store, run_id, stale)
        except GoldenError:
            raise
        except Exception as exc:
            raise store.failure(
                f"backup of run {run_id} (incomplete: no manifest was written)", exc
            ) from exc
    result = BackupResult(
        run_id=run_id,
        uri=store.uri(run_id),
        objects=len(manifest.objects),
        bytes=manifest.bytes,
        stored_bytes=manifest.stored_bytes,
        seconds=round(time.perf_counter() - clock, 3),
        manifest_key=manifest_key,
        encrypted=master is not None,
    )
    logger.info(
        "backed up run %s to %s: %d objects, %.1f MB in %.1fs",
        run_id,
        result.uri,
        result.objects,
        result.bytes / 1e6,
        result.seconds,
    )
    return result


def _upload(
    store: ObjectStore,
    run_id: str,
    items: list[_Item],
    master: bytes | None,
    started: datetime,
    workdir: Path,
    progress: Progress | None,
) -> tuple[BackupManifest, set[str]]:
    store.ensure_bucket()
    existing = {o.key for o in store.list_objects(store.run_prefix(run_id))}
    manifest_key = store.key(run_id, MANIFEST_NAME)
    header_key = store.key(run_id, HEADER_NAME)
    rerun = manifest_key in existing
    reused = _reusable_key(store, run_id, master) if rerun else None
    if rerun and reused is None and not _header_change_is_safe(store, run_id, master):
        # The earlier backup's key cannot stay (another master key, destroyed, or encryption
        # switched off): it is unreadable under these settings anyway.
        store.delete_keys([manifest_key])
        logger.warning("replacing the earlier backup of run %s (its data key changes)", run_id)
    elif rerun:
        logger.info("replacing the earlier backup of run %s once this one is complete", run_id)

    encryption: EncryptionInfo | None = None
    data_key: bytes | None = None
    if reused is not None:
        encryption, data_key = reused  # the header stays as it is: both backups read with it
    else:
        if master is not None:
            data_key = crypto.new_data_key()
            wrapped = crypto.wrap_key(master, data_key, run_id)
            encryption = EncryptionInfo(
                scheme=crypto.SCHEME,
                key_fingerprint=crypto.key_fingerprint(master),
                wrapped_key=wrapped.ciphertext,
                wrap_nonce=wrapped.nonce,
            )
        header = BackupHeader(run_id=run_id, started_at=started, encryption=encryption)
        store.put_bytes(header_key, header.model_dump_json(indent=2).encode())
        if encryption is not None:
            store.purge_old_versions(header_key)  # no earlier data key outlives this attempt
    # A rerun uploads beside the complete backup it replaces, which stays whole (and listed)
    # until the new manifest replaces the old one in a single PUT.
    folder = f"{ATTEMPTS_DIR}/{crypto.new_attempt_id()}/" if rerun else ""

    objects: list[ManifestObject] = []
    for item in items:
        size, digest = item.local.stat().st_size, sha256_of(item.local)
        rows = count_rows(item.local, item.name)
        name = folder + item.name
        upload = item.local
        stored_size, stored_digest = size, digest
        if data_key is not None:
            upload = workdir / "sealed"
            stored_size, stored_digest = crypto.encrypt_file(item.local, upload, data_key, name)
        store.upload_file(
            upload,
            store.key(run_id, name),
            metadata={"sha256": digest, "encrypted": "true" if data_key else "false"},
        )
        if upload != item.local:
            upload.unlink()
        objects.append(
            ManifestObject(
                name=name,
                path=item.path,
                kind=item.kind,
                size=size,
                sha256=digest,
                rows=rows,
                stored_size=stored_size,
                stored_sha256=stored_digest,
            )
        )
        logger.debug("stored %s (%d bytes)", item.name, size)
        if progress is not None:
            progress(item.name, size)

    tables = {
        item.name.removeprefix(f"{PUBLISHED_DIR}/").removesuffix(".parquet"): o.rows or 0
        for item, o in zip(items, objects, strict=True)
        if o.kind == "table"
    }
    manifest = BackupManifest(
        run_id=run_id,
        created_at=started,
        completed_at=datetime.now(UTC),
        tables=tables,
        objects=objects,
        bytes=sum(o.size for o in objects),
        stored_bytes=sum(o.stored_size for o in objects),
        encryption=encryption.scheme if encryption else None,
        key_fingerprint=encryption.key_fingerprint if encryption else None,
        server_side_encryption=store.config.server_side_encryption,
    )
    return manifest, existing - {store.key(run_id, o.name) for o in objects}


def _remove_stale(store: ObjectStore, run_id: str, stale: set[str]) -> None:
    """After the new manifest: objects of the replaced backup or of interrupted attempts."""
    stale = stale - {store.key(run_id, MANIFEST_NAME), store.key(run_id, HEADER_NAME)}
    if stale:
        store.delete_keys(sorted(stale))
        logger.info("removed %d object(s) of an earlier attempt of run %s", len(stale), run_id)


def _reusable_key(
    store: ObjectStore, run_id: str, master: bytes | None
) -> tuple[EncryptionInfo | None, bytes | None] | None:
    """The earlier complete backup's encryption, when this attempt can share its header.

    Unencrypted before and now: nothing to share. Encrypted under the same master key with its
    data key intact: the new objects are sealed with that same data key, so the header (which
    the earlier backup needs until the new manifest replaces it) never changes. Otherwise None.
    """
    try:
        manifest = load_manifest(store, run_id)
        header = load_header(store, run_id)
    except BackupError:
        return None
    if manifest is None:
        return None
    if master is None:
        return (None, None) if manifest.encryption is None else None
    info = header.encryption if header is not None else None
    if (
        manifest.encryption is None
        or info is None
        or info.wrapped_key is None
        or info.wrap_nonce is None
        or info.key_fingerprint != crypto.key_fingerprint(master)
    ):
        return None
    wrapped = crypto.WrappedKey(info.wrap_nonce, info.wrapped_key)
    return info, crypto.unwrap_key(master, wrapped, run_id)


def _header_change_is_safe(store: ObjectStore, run_id: str, master: bytes | None) -> bool:
    """A new header leaves an unencrypted earlier backup readable (it never reads the key)."""
    try:
        manifest = load_manifest(store, run_id)
    except BackupError:
        return False
    return manifest is not None and manifest.encryption is None
