"""Restore a backup into the warehouse: its published version becomes current, its state returns.

Everything is downloaded and checked (as verify does) before anything in the warehouse changes;
a damaged backup is refused whole. The version (tables, a rebuilt ``golden.duckdb``, the id
registry, role folders) is then prepared and committed exactly as publish commits one: one
switch of the ``current`` pointer (:func:`~pipelines.publish.versions.commit_version`).

Refusing to go back in time: when the warehouse already holds a newer state (a newer current
version or id registry) than the backup, restore stops unless ``force`` is given, because
restoring would roll back golden ids that downstream systems may already use.

Append-only logs (``*.jsonl``: steward decisions, audit trail, suppression list) are never
shortened by a restore, even with ``force``: lines the warehouse has and the backup lacks are
kept, and backup lines the warehouse lacks are added. Losing a suppression entry would let an
erased person back in; losing a steward decision would undo their work.

Erasures survive a restore, also into an empty warehouse: the suppression list is merged from
the warehouse, the backup and the copy kept in the bucket (:mod:`pipelines.backup.suppression_copy`)
before anything is installed, and every listed record the backup still holds is erased from
the prepared version (tables, id registry; its database and role folders are built from the
erased tables) before it is committed. The result says how many (``reapplied``) and the audit
trail records ``erasure.reapplied``.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel

from pipelines import audit
from pipelines.backup import suppression_copy
from pipelines.backup.catalog import load_header
from pipelines.backup.check import fetch_and_check
from pipelines.backup.keys import data_key_for
from pipelines.backup.manifest import check_run_id, safe_restore_path
from pipelines.backup.store import ObjectStore
from pipelines.backup.verify import open_complete, stored_sizes
from pipelines.errors import BackupError, GoldenError
from pipelines.lock import holds_run_lock
from pipelines.privacy.republish import Reerased, record_reerased, reerase_staged_version
from pipelines.privacy.roles import RoleArtefacts
from pipelines.publish.duckdb_build import build_duckdb
from pipelines.publish.versions import (
    VERSION_DUCKDB,
    VERSION_REGISTRY,
    VERSION_ROLES,
    commit_version,
    current_run_id,
    fsync_path,
    new_staging,
    prune,
    publish_lock,
    read_manifest,
    work_file,
)
from pipelines.warehouse import Warehouse, atomic_path, protect_warehouse

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig

logger = logging.getLogger(__name__)


class RestoreResult(BaseModel):
    run_id: str
    uri: str
    version_dir: Path
    previous_run_id: str | None
    """The state the warehouse held before (current version, else id registry run)."""
    files: list[str]
    """Warehouse-relative paths written."""
    merged_logs: list[str]
    """Append-only logs whose local lines were kept beside the backup's."""
    reapplied: int = 0
    """Records of erased subjects the backup still held, erased again before the restored
    version became readable (audit event ``erasure.reapplied``)."""
    reapplied_golden_ids: list[str] = []
    bytes: int
    download_seconds: float
    """Downloading, decrypting and checking every object (the rest is installing + DuckDB)."""
    seconds: float


def state_run_id(warehouse: Warehouse) -> str | None:
    """The run the warehouse's state belongs to: current version, else newest registry run."""
    current = current_run_id(warehouse)
    if current is not None:
        return current
    if warehouse.id_registry.exists():
        try:
            table = pq.read_table(warehouse.id_registry, columns=["run_id"])
        except (OSError, KeyError, pa.ArrowException) as exc:
            raise BackupError(
                f"cannot tell which run the state in {warehouse.id_registry} belongs to ({exc}); "
                "move the file away or restore with --force"
            ) from None
        newest = pc.max(table["run_id"]).as_py() if table.num_rows else None
        return str(newest) if newest else None
    return None


def _check_not_newer(warehouse: Warehouse, run_id: str, force: bool) -> str | None:
    try:
        state = state_run_id(warehouse)
    except BackupError:
        if not force:
            raise
        state = None
    if state is not None and state > run_id and not force:
        raise BackupError(
            f"the warehouse {warehouse.root} holds state of run {state}, newer than backup "
            f"{run_id}: restoring would roll golden ids back. Use --force (force=True) to "
            "restore anyway"
        )
    return state


@holds_run_lock("golden restore")
def restore(
    config: PipelineConfig, run_id: str, force: bool = False, *, actor: str | None = None
) -> RestoreResult:
    """Restore backup ``run_id``: published tables (made current) and state into the warehouse.

    The audit trail gets ``restore`` (by ``actor``) and, when erased subjects were erased
    again from the restored version, ``erasure.reapplied`` after it.
    """
    clock = time.perf_counter()
    check_run_id(run_id)
    warehouse = Warehouse(config.warehouse.path)
    store = ObjectStore(config.backup)
    protect_warehouse(warehouse.root, config.warehouse.access)
    _check_not_newer(warehouse, run_id, force)
    try:
        run_id, manifest = open_complete(store, run_id)
        key = data_key_for(config.backup, run_id, load_header(store, run_id), manifest)
        sizes = stored_sizes(store, run_id)
        with tempfile.TemporaryDirectory(prefix=".restore-", dir=warehouse.root) as tmp:
            workdir = Path(tmp)
            fetched: list[tuple[Path, Path]] = []
            for entry in manifest.objects:
                target = safe_restore_path(run_id, entry)
                check, plain = fetch_and_check(store, run_id, entry, sizes, key, workdir)
                if plain is None:
                    raise BackupError(
                        f"backup {run_id} is damaged, nothing was restored: {entry.name} "
                        f"{check.status}: {check.detail} (run `golden backup verify {run_id}`)"
                    )
                fetched.append((Path(target), plain))
            listed = suppression_copy.fetch(store, workdir)
            downloaded = time.perf_counter() - clock
            with publish_lock(warehouse):
                previous = _check_not_newer(warehouse, run_id, force)
                written, merged, reerased = _install(config, warehouse, run_id, fetched, listed)
                prune(warehouse, config.publish.keep_versions)
    except GoldenError:
        raise
    except Exception as exc:
        raise store.failure(f"restoring backup {run_id}", exc) from exc
    result = RestoreResult(
        run_id=run_id,
        uri=store.uri(run_id),
        version_dir=warehouse.published_version(run_id),
        previous_run_id=previous,
        files=written,
        merged_logs=merged,
        reapplied=reerased.records,
        reapplied_golden_ids=reerased.golden_ids,
        bytes=manifest.bytes,
        download_seconds=round(downloaded, 3),
        seconds=round(time.perf_counter() - clock, 3),
    )
    logger.info(
        "restored backup %s into %s (%d files, previous state %s) in %.1fs",
        run_id,
        warehouse.root,
        len(written),
        previous or "none",
        result.seconds,
    )
    audit.record(
        warehouse.root,
        actor,
        "restore",
        run_id,
        {"uri": result.uri, "previous": previous, "force": force},
    )
    if reerased.records:
        record_reerased(warehouse, run_id, reerased, actor)
    return result


def _merge_suppression(
    warehouse: Warehouse, state_files: list[tuple[Path, Path]], listed: bytes
) -> bool:
    """The warehouse's, the backup's and the bucket's suppression lists merged into the
    warehouse's, before anything is restored; True when it keeps lines the backup lacks."""
    relative = warehouse.suppression.relative_to(warehouse.root)
    from_backup = next((plain for rel, plain in state_files if rel == relative), None)
    state_files[:] = [(rel, plain) for rel, plain in state_files if rel != relative]
    local = warehouse.suppression.read_bytes() if warehouse.suppression.exists() else b""
    theirs = from_backup.read_bytes() if from_backup is not None else b""
    if local.startswith(theirs) and not listed:
        merged = local
    else:
        merged = suppression_copy.merge_lines(local, theirs, listed)
    if merged != local:
        with atomic_path(warehouse.suppression) as tmp:
            tmp.write_bytes(merged)
        fsync_path(warehouse.state)
    return suppression_copy.merge_lines(merged) != suppression_copy.merge_lines(theirs)


def _install(
    config: PipelineConfig,
    warehouse: Warehouse,
    run_id: str,
    fetched: list[tuple[Path, Path]],
    listed: bytes,
) -> tuple[list[str], list[str], Reerased]:
    version_prefix = Path("published/versions") / run_id
    staging = new_staging(warehouse)
    state_files: list[tuple[Path, Path]] = []
    written: list[str] = []
    try:
        for relative, plain in fetched:
            if relative.is_relative_to(version_prefix):
                os.replace(plain, staging / relative.relative_to(version_prefix))
            elif warehouse.root / relative == warehouse.id_registry:
                (staging / VERSION_REGISTRY).parent.mkdir(parents=True, exist_ok=True)
                os.replace(plain, staging / VERSION_REGISTRY)
            else:
                state_files.append((relative, plain))
            written.append(relative.as_posix())
        if not (staging / VERSION_REGISTRY).exists():
            raise BackupError(f"backup {run_id} holds no id registry: nothing was restored")
        # Erased people the backup still holds are erased again before anything is readable.
        kept_local = _merge_suppression(warehouse, state_files, listed)
        reerased = reerase_staged_version(config, staging, warehouse.suppression)
        published_at = str(read_manifest(staging).get("published_at") or "")
        database = staging / VERSION_DUCKDB
        build_duckdb(
            staging,
            database,
            run_id=run_id,
            published_at=published_at or "1970-01-01T00:00:00+00:00",
            memory_limit=config.warehouse.duckdb_memory_limit,
        )
        RoleArtefacts(config, staging / VERSION_ROLES).build(staging, database, run_id)
        commit_version(warehouse, staging, run_id)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    merged = [warehouse.suppression.relative_to(warehouse.root).as_posix()] if kept_local else []
    for relative, plain in state_files:
        target = warehouse.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.suffix == ".jsonl" and target.exists() and _merge_log(target, plain):
            merged.append(relative.as_posix())
            continue
        os.replace(plain, target)
        fsync_path(target.parent)
    return written, merged, reerased


def _merge_log(local: Path, restored: Path) -> bool:
    """Merge an append-only log; returns True when the local file was kept (with additions).

    When one file is a prefix of the other, the longer one wins unchanged. Otherwise the local
    lines stay in order and the backup's lines the local file lacks are appended.
    """
    mine = local.read_bytes()
    theirs = restored.read_bytes()
    if theirs.startswith(mine):
        return False  # the backup is the same log, further along: take it as is
    if mine.startswith(theirs):
        logger.info("%s is ahead of the backup; kept as is", local)
        return True
    have = set(mine.splitlines())
    missing = [line for line in theirs.splitlines() if line not in have]
    tmp = work_file(local)
    body = mine if mine.endswith(b"\n") or not mine else mine + b"\n"
    tmp.write_bytes(body + b"".join(line + b"\n" for line in missing))
    os.replace(tmp, local)
    logger.warning(
        "%s differs from the backup's copy: kept its %d line(s) and added %d from the backup",
        local,
        len(mine.splitlines()),
        len(missing),
    )
    return True
