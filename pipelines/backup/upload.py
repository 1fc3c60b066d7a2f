"""Take a backup of one published run: its published version plus the state a restore needs.

Order is what makes a backup trustworthy: a previous manifest of the same run is deleted first
(so a rerun is incomplete until it finishes), ``header.json`` goes up first, every object is
uploaded and its stored size checked, objects of an earlier attempt that are no longer part of
the backup are removed, and ``manifest.json`` goes up last. A backup interrupted at any point
has no manifest and is never listed as complete.

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

from pipelines.backup import crypto
from pipelines.backup.check import count_rows, sha256_of
from pipelines.backup.manifest import (
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
            manifest = _upload(store, run_id, items, master, started, workdir, progress)
            manifest.warehouse = str(warehouse.root)
            manifest_key = store.key(run_id, MANIFEST_NAME)
            store.put_bytes(manifest_key, manifest.model_dump_json(indent=2).encode())
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
) -> BackupManifest:
    store.ensure_bucket()
    existing = {o.key for o in store.list_objects(store.run_prefix(run_id))}
    manifest_key = store.key(run_id, MANIFEST_NAME)
    if manifest_key in existing:  # a rerun: not complete again until this attempt finishes
        store.delete_keys([manifest_key])
        logger.info("replacing the earlier backup of run %s", run_id)

    data_key = crypto.new_data_key() if master is not None else None
    encryption = None
    if master is not None and data_key is not None:
        wrapped = crypto.wrap_key(master, data_key, run_id)
        encryption = EncryptionInfo(
            scheme=crypto.SCHEME,
            key_fingerprint=crypto.key_fingerprint(master),
            wrapped_key=wrapped.ciphertext,
            wrap_nonce=wrapped.nonce,
        )
    header = BackupHeader(run_id=run_id, started_at=started, encryption=encryption)
    header_key = store.key(run_id, HEADER_NAME)
    store.put_bytes(header_key, header.model_dump_json(indent=2).encode())
    if encryption is not None:
        store.purge_old_versions(header_key)  # no earlier data key outlives this attempt

    objects: list[ManifestObject] = []
    for item in items:
        size, digest = item.local.stat().st_size, sha256_of(item.local)
        rows = count_rows(item.local, item.name)
        upload = item.local
        stored_size, stored_digest = size, digest
        if data_key is not None:
            upload = workdir / "sealed"
            stored_size, stored_digest = crypto.encrypt_file(
                item.local, upload, data_key, item.name
            )
        store.upload_file(
            upload,
            store.key(run_id, item.name),
            metadata={"sha256": digest, "encrypted": "true" if data_key else "false"},
        )
        if upload != item.local:
            upload.unlink()
        objects.append(
            ManifestObject(
                name=item.name,
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

    wanted = {store.key(run_id, o.name) for o in objects} | {header_key}
    stale = sorted(existing - wanted - {manifest_key})
    if stale:
        store.delete_keys(stale)
        logger.info("removed %d object(s) of an earlier attempt of run %s", len(stale), run_id)

    tables = {
        o.name.removeprefix(f"{PUBLISHED_DIR}/").removesuffix(".parquet"): o.rows or 0
        for o in objects
        if o.kind == "table"
    }
    return BackupManifest(
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
