"""Published versions on disk: one pointer, complete version folders, and the fixed links.

::

    published/commits/<seq>-<run_id>/     one complete version, never changed once committed:
        <table>.parquet, manifest.json      the tables and their manifest
        golden.duckdb                       the database of exactly these tables
        state/id_registry.parquet           the id registry this version was published with
        roles/<role>/                       each role's masked copy
    published/current -> commits/<seq>-<run_id>    THE pointer: switching it commits a version
    published/versions/<run_id> -> ../commits/...  the newest commit of each kept run
    golden.duckdb -> published/current/golden.duckdb                   fixed links, created once,
    state/id_registry.parquet -> ../published/current/state/...        resolving through the
    published/roles/<role> -> ../current/roles/<role>                  pointer

Committing a version (:func:`commit_version`: publish, restore and erasure all use it) is one
``rename(2)`` of a new symlink over ``current``, atomic on POSIX file systems: a reader, and a
crash at any instant, sees every table, the database, the id registry and every role folder of
one version, never a mix. Everything else (the version folder itself, ``versions/<run_id>``,
new role links) happens before the switch or only adds a name after it.

A version folder stays on disk, role folders included, until ``publish.keep_versions`` newer
commits have been made (:func:`prune`), so a reader that resolved ``current`` or
``roles/<role>`` once keeps reading whole files of that version meanwhile. Names starting with
a dot are work in progress or leftovers of an interrupted commit; readers never see them and
the next commit removes them.

A warehouse of the earlier layout (``current -> versions/<run_id>`` folders, ``golden.duckdb``
and the id registry as files, role links to hidden folders) is taken over by the first commit:
its current version is adopted as a commit of hard links, so no reader ever sees a gap.
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
VERSION_DUCKDB = "golden.duckdb"
VERSION_REGISTRY = "state/id_registry.parquet"
VERSION_ROLES = "roles"
_COMMITS = "commits"


def versions_root(warehouse: Warehouse) -> Path:
    """``published/versions``: one name per kept run (links to commits; older layout: folders)."""
    return warehouse.published / "versions"


def commits_root(warehouse: Warehouse) -> Path:
    return warehouse.published / _COMMITS


def new_staging(warehouse: Warehouse) -> Path:
    """A fresh hidden folder where a version is prepared (beside the commits, same disk)."""
    root = commits_root(warehouse)
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".staging.{token()}"
    staging.mkdir()
    return staging


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
    """Where ``current`` points, relative to ``published/`` (``commits/<name>``), or None."""
    link = warehouse.published_current
    if not link.is_symlink():
        if link.exists():
            raise PublishError(
                f"{link} is not a symlink; it must be the pointer publish manages (move it away)"
            )
        return None
    return os.readlink(link)


def current_dir(warehouse: Warehouse) -> Path | None:
    """The folder of the current version (the real folder, not through the pointer), or None."""
    target = current_target(warehouse)
    return warehouse.published / target if target else None


def resolve_version(warehouse: Warehouse, run_id: str | None = None) -> Path:
    """The folder of a published version: the current one, or the kept one of ``run_id``.

    The real folder is returned, so a caller holding it keeps one version even if ``current``
    switches meanwhile.
    """
    if run_id is None:
        folder = current_dir(warehouse)
        if folder is None:
            raise StageInputError(
                f"nothing has been published in {warehouse.root} yet: run the 'publish' stage"
            )
        return folder
    if run_id.startswith(".") or "/" in run_id or not run_id:
        raise StageInputError(f"{run_id!r} is not a run id")
    folder = versions_root(warehouse) / run_id
    if not folder.is_dir():
        kept = ", ".join(kept_versions(warehouse)) or "none"
        raise StageInputError(
            f"run {run_id} is not a published version kept in {warehouse.published}; "
            f"kept versions: {kept}"
        )
    return folder.resolve()


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


def _seq(name: str) -> int:
    head = name.split("-", 1)[0]
    return int(head) if head.isdigit() else 0


def commit_names(warehouse: Warehouse) -> list[str]:
    """Committed version folders in ``commits/``, oldest first."""
    root = commits_root(warehouse)
    if not root.is_dir():
        return []
    names = [p.name for p in root.iterdir() if not p.name.startswith(".") and p.is_dir()]
    return sorted(names, key=_seq)


def version_folders(warehouse: Warehouse) -> list[Path]:
    """Every version folder on disk, oldest first: older-layout folders in ``versions/``
    (not links), then the commits. Erasure must reach all of them."""
    root = versions_root(warehouse)
    legacy = (
        sorted(
            p
            for p in root.iterdir()
            if not p.name.startswith(".") and p.is_dir() and not p.is_symlink()
        )
        if root.is_dir()
        else []
    )
    return [*legacy, *(commits_root(warehouse) / n for n in commit_names(warehouse))]


# --- committing --------------------------------------------------------------------------------


def _link(path: Path, target: str) -> None:
    """Atomically make ``path`` a symlink to ``target`` (a new link renamed over the old)."""
    if path.is_symlink() and os.readlink(path) == target:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.link.{token()}")
    os.symlink(target, tmp)
    try:
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def _fixed_links(warehouse: Warehouse) -> list[tuple[Path, str]]:
    return [
        (warehouse.duckdb_path, f"published/current/{VERSION_DUCKDB}"),
        (warehouse.id_registry, f"../published/current/{VERSION_REGISTRY}"),
    ]


def _ensure_fixed_links(warehouse: Warehouse) -> None:
    """``golden.duckdb`` and the id registry as links through ``current`` (made once).

    Runs before a switch: when something else sits there (a folder) the commit fails before
    readers see anything new.
    """
    for path, target in _fixed_links(warehouse):
        if path.is_dir() and not path.is_symlink():
            raise IsADirectoryError(
                f"{path} is a folder; it must be the link publish manages (move it away)"
            )
        _link(path, target)
    fsync_path(warehouse.root)
    fsync_path(warehouse.state)


def _sync_role_links(warehouse: Warehouse, commit: Path) -> None:
    """``published/roles/<role>`` for every role of ``commit``; links of other roles go."""
    roles = warehouse.published / VERSION_ROLES
    roles.mkdir(parents=True, exist_ok=True)
    have = commit / VERSION_ROLES
    names = {p.name for p in have.iterdir() if p.is_dir()} if have.is_dir() else set()
    for name in sorted(names):
        _link(roles / name, f"../current/{VERSION_ROLES}/{name}")
    for entry in roles.iterdir():
        if entry.is_symlink() and not entry.name.startswith(".") and entry.name not in names:
            entry.unlink()
            logger.warning("removed role %s's link (no longer configured)", entry.name)


def _next_name(warehouse: Warehouse, run_id: str) -> str:
    seqs = [_seq(n) for n in commit_names(warehouse)]
    return f"{max(seqs, default=0) + 1:06d}-{run_id}"


def commit_version(warehouse: Warehouse, staging: Path, run_id: str) -> Path:
    """Make a fully prepared version folder the current one; returns its committed folder.

    ``staging`` (from :func:`new_staging`) holds every table, ``manifest.json``,
    ``golden.duckdb``, ``state/id_registry.parquet`` and ``roles/<role>/``. It is renamed into
    ``commits/`` and then ``current`` is switched to it: the one step readers notice. A failure
    (or a crash) before the switch leaves the previous version current; after it, only names
    are added. Must run under :func:`publish_lock`. Used by publish, restore and erasure.
    """
    missing = [
        name
        for name in (MANIFEST_NAME, VERSION_DUCKDB, VERSION_REGISTRY)
        if not (staging / name).exists()
    ]
    if missing:
        raise PublishError(f"the version prepared in {staging} is incomplete: no {missing}")
    adopt_older_layout(warehouse)
    _ensure_fixed_links(warehouse)
    for path in staging.rglob("*"):
        if path.is_file():
            fsync_path(path)
    name = _next_name(warehouse, run_id)
    committed = commits_root(warehouse) / name
    os.rename(staging, committed)
    fsync_path(committed.parent)
    try:
        switch_current(warehouse, f"{_COMMITS}/{name}")
    except BaseException:
        os.rename(committed, staging)
        raise
    try:
        _after_switch(warehouse, committed, run_id)
    except OSError as exc:
        raise PublishError(
            f"run {run_id} is published (readers get it whole), but naming it in "
            f"{versions_root(warehouse)} or linking its roles failed ({exc}); publish again "
            "to repair the names"
        ) from exc
    logger.debug("committed %s", committed)
    return committed


def switch_current(warehouse: Warehouse, target: str) -> None:
    """The commit itself: ``current`` renamed to point at ``target`` (relative to published/)."""
    _link(warehouse.published_current, target)
    fsync_path(warehouse.published)


def _after_switch(warehouse: Warehouse, committed: Path, run_id: str) -> None:
    """Names that follow the switch: the run's name in ``versions/`` and the role links."""
    versions = versions_root(warehouse)
    versions.mkdir(parents=True, exist_ok=True)
    name = versions / run_id
    target = f"../{_COMMITS}/{committed.name}"
    if name.is_dir() and not name.is_symlink():  # an older-layout folder of the same run
        aside = versions / f".replaced.{token()}.{run_id}"
        tmp = versions / f".{run_id}.link.{token()}"
        os.symlink(target, tmp)
        os.rename(name, aside)
        os.rename(tmp, name)
    else:
        _link(name, target)
    fsync_path(versions)
    _sync_role_links(warehouse, committed)


def adopt_older_layout(warehouse: Warehouse) -> None:
    """Take over a warehouse of the earlier layout without a moment of mixed or missing data.

    Its current version, database, registry and role folders are hard-linked into a commit
    (the same files), ``current`` is switched to it, and only then do ``golden.duckdb``, the
    registry and the role names become links, each resolving to the very file it was.
    """
    target = current_target(warehouse)
    if target is None or target.startswith(f"{_COMMITS}/"):
        return
    old = warehouse.published / target
    run_id = str(read_manifest(old)["run_id"])
    staging = new_staging(warehouse)
    try:
        for item in old.iterdir():
            if item.is_file():
                os.link(item, staging / item.name)
        database = warehouse.duckdb_path
        if database.is_file() and not database.is_symlink():
            os.link(database, staging / VERSION_DUCKDB)
        registry = warehouse.id_registry
        if registry.is_file() and not registry.is_symlink():
            (staging / VERSION_REGISTRY).parent.mkdir()
            os.link(registry, staging / VERSION_REGISTRY)
        roles = warehouse.published / VERSION_ROLES
        for link in sorted(roles.iterdir()) if roles.is_dir() else []:
            if link.is_symlink() and link.resolve().is_dir():
                folder = staging / VERSION_ROLES / link.name
                folder.mkdir(parents=True)
                for item in link.resolve().iterdir():
                    os.link(item, folder / item.name)
        name = _next_name(warehouse, run_id)
        committed = commits_root(warehouse) / name
        os.rename(staging, committed)
        fsync_path(committed.parent)
        switch_current(warehouse, f"{_COMMITS}/{name}")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _ensure_fixed_links(warehouse)
    _after_switch(warehouse, committed, run_id)
    logger.info("took over the published layout of %s (version %s)", warehouse.root, run_id)


def hard_link_copy(folder: Path, staging: Path) -> None:
    """Fill ``staging`` with hard links to every file below ``folder`` (copies where links fail).

    A version is never changed in place: a file to change in the copy is replaced (unlinked and
    written anew), never written through the link.
    """
    for item in folder.rglob("*"):
        target = staging / item.relative_to(folder)
        if item.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif item.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(item, target)
            except OSError:
                shutil.copyfile(item, target)


# --- pruning -------------------------------------------------------------------------------------


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
    """Delete version folders older than the newest ``keep`` (never the current one) and
    leftovers; returns the run ids no longer readable by run id.

    Counted in commits, oldest first (older-layout folders count as older than any commit), so
    a folder a reader resolved stays for ``keep`` more commits, a rerun's or erasure's
    included. Run under :func:`publish_lock`: hidden entries are only ever another commit's work.
    """
    before = set(kept_versions(warehouse))
    current = current_dir(warehouse)
    folders = version_folders(warehouse)
    doomed = [f for f in folders[: max(len(folders) - keep, 0)] if f != current]
    for folder in doomed:
        remove_tree(folder)
        logger.info("removed published version %s (keeping the last %d)", folder.name, keep)
    versions = versions_root(warehouse)
    for entry in versions.iterdir() if versions.is_dir() else []:
        if entry.is_symlink() and not entry.exists():
            entry.unlink()
    _remove_leftovers(warehouse, current)
    return sorted(before - set(kept_versions(warehouse)))


def _remove_leftovers(warehouse: Warehouse, current: Path | None) -> None:
    """Hidden work folders and files of interrupted commits (and the older layout's)."""
    for root in (commits_root(warehouse), versions_root(warehouse), warehouse.published):
        for entry in root.iterdir() if root.is_dir() else []:
            if not entry.name.startswith(".") or entry.name == ".lock" or entry == current:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
    roles = warehouse.published / VERSION_ROLES
    if roles.is_dir():
        live = {p.resolve() for p in roles.iterdir() if p.is_symlink()}
        for entry in roles.iterdir():
            if entry.name.startswith(".") and entry.resolve() not in live:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
    for stale in warehouse.root.glob(f".{warehouse.duckdb_path.name}.*"):
        stale.unlink(missing_ok=True)
    for stale in warehouse.state.glob(f".{warehouse.id_registry.name}.*"):
        stale.unlink(missing_ok=True)
