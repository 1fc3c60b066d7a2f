"""Published versions on disk: the ``current`` pointer, the kept versions and their manifests.

``published/versions/<run_id>/`` holds one complete version (every table and ``manifest.json``);
``published/current`` is a relative symlink to one of them. Switching versions is one
``rename(2)`` of a new symlink over the old, which is atomic on POSIX file systems: a reader
resolving ``current`` gets the old directory or the new one, never a mix. Folders whose name
starts with a dot are work in progress or leftovers of an interrupted publish; readers never see
them under a run id and the next publish removes them.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipelines.errors import PublishError, StageInputError
from pipelines.warehouse import Warehouse, read_json

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
WORK_MARK = "publish-"
"""Marks publish's own temporary files, so cleaning up never touches another writer's."""
FORMAT_VERSION = 1


def versions_root(warehouse: Warehouse) -> Path:
    return warehouse.published / "versions"


def token() -> str:
    """A short random suffix for work-in-progress names."""
    return secrets.token_hex(4)


def work_file(target: Path) -> Path:
    """A hidden temporary path beside ``target`` that :func:`prune` may clean up."""
    return target.with_name(f".{target.name}.{WORK_MARK}{token()}")


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def fsync_path(path: Path) -> None:
    """Flush a file or a directory entry to disk, so a rename after it survives a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def publish_lock(warehouse: Warehouse) -> Iterator[None]:
    """Serialise publishes and restores of one warehouse (an advisory ``flock``).

    Two publishers interleaving their renames could leave ``current`` and ``golden.duckdb`` on
    different versions; readers never take this lock.
    """
    warehouse.published.mkdir(parents=True, exist_ok=True)
    with (warehouse.published / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- resolving versions -----------------------------------------------------------------------


def current_target(warehouse: Warehouse) -> str | None:
    """The folder name ``current`` points at (inside ``versions/``), or None."""
    link = warehouse.published_current
    if not link.is_symlink():
        if link.exists():
            raise PublishError(
                f"{link} is not a symlink; it must be the pointer publish manages (move it away)"
            )
        return None
    return Path(os.readlink(link)).name


def resolve_version(warehouse: Warehouse, run_id: str | None = None) -> Path:
    """The folder of a published version: the current one, or the kept one of ``run_id``."""
    if run_id is None:
        target = current_target(warehouse)
        if target is None:
            raise StageInputError(
                f"nothing has been published in {warehouse.root} yet: run the 'publish' stage"
            )
        return versions_root(warehouse) / target
    if run_id.startswith(".") or "/" in run_id or not run_id:
        raise StageInputError(f"{run_id!r} is not a run id")
    folder = versions_root(warehouse) / run_id
    if not folder.is_dir():
        kept = ", ".join(kept_versions(warehouse)) or "none"
        raise StageInputError(
            f"run {run_id} is not a published version kept in {warehouse.published}; "
            f"kept versions: {kept}"
        )
    return folder


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST_NAME
    try:
        return read_json(path)
    except (OSError, ValueError) as exc:
        raise StageInputError(f"{path} is missing or unreadable: {exc}") from None


def current_run_id(warehouse: Warehouse) -> str | None:
    """Run id of the current published version, or None when nothing is published."""
    if current_target(warehouse) is None:
        return None
    return str(read_manifest(resolve_version(warehouse))["run_id"])


def kept_versions(warehouse: Warehouse) -> list[str]:
    """Run ids of the published versions kept on disk, oldest first."""
    root = versions_root(warehouse)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


# --- switching and pruning ---------------------------------------------------------------------


def point_current(warehouse: Warehouse, folder_name: str | None) -> None:
    """Atomically make ``current`` point at ``versions/<folder_name>`` (None: remove it)."""
    link = warehouse.published_current
    if folder_name is None:
        link.unlink(missing_ok=True)
        return
    tmp = warehouse.published / f".current.{token()}"
    os.symlink(f"versions/{folder_name}", tmp)
    try:
        os.replace(tmp, link)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    fsync_path(warehouse.published)


def remove_tree(path: Path) -> None:
    """Delete a folder so that it never looks like a complete version while going away."""
    if not path.exists():
        return
    if not path.name.startswith("."):
        hidden = path.with_name(f".trash.{token()}.{path.name}")
        os.rename(path, hidden)
        path = hidden
    shutil.rmtree(path, ignore_errors=True)


def prune(warehouse: Warehouse, keep: int) -> list[str]:
    """Delete versions beyond the newest ``keep`` (never the current one) and leftovers.

    Run under :func:`publish_lock`: hidden folders are only ever another publish's work.
    """
    root = versions_root(warehouse)
    if not root.is_dir():
        return []
    current = current_target(warehouse)
    kept = kept_versions(warehouse)
    doomed = [name for name in kept[: max(len(kept) - keep, 0)] if name != current]
    for name in doomed:
        remove_tree(root / name)
        logger.info("removed published version %s (keeping the last %d)", name, keep)
    for leftover in root.iterdir():
        if leftover.name.startswith(".") and leftover.name != current:
            shutil.rmtree(leftover, ignore_errors=True)
    for stale in warehouse.root.glob(f".{warehouse.duckdb_path.name}.{WORK_MARK}*"):
        stale.unlink(missing_ok=True)
    for stale in warehouse.state.glob(f".{warehouse.id_registry.name}.{WORK_MARK}*"):
        stale.unlink(missing_ok=True)
    return doomed
