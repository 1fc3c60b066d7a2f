"""One writer at a time per warehouse: the run lock.

A pipeline run reads and advances shared state (watermarks, the id registry, the published
version); two at once landed duplicate raw batches and gave fresh golden ids to records the
other had just published. So every writer of that state holds the run lock for its whole
duration: ``golden run``, a restore, an erasure (``golden forget``, retention, re-applying
erasures) and a steward's decision. A second one waits (``--wait SECONDS``) or is refused with
:class:`RunLockedError`, whose message names the holder.

The lock is an OS lock (``fcntl.flock``) on ``state/.run.lock``: the kernel releases it when the
holding process ends, however it ends, so a crash never leaves the warehouse locked. Who holds
it (pid, host, command, since when) is written to ``state/.run.lock.json`` while it is held and
removed on release; finding that file when the lock is free means the last holder died
(``kill -9``, power cut): the new holder takes over, logs a warning and records a
``lock.takeover`` audit event. The lock is reentrant within a thread, so an erasure that takes a
backup, or a restore that erases again, holds it once.

Airflow runs each task in its own process (and on several workers), so no process can hold the
lock for a whole DAG run. The DAG takes a *lease* instead: ``start_run`` writes
``state/.run.lease`` (the pipeline run id) under the lock, every stage task checks that the lease
is its run's, and ``finish_run`` removes it. Anyone taking the lock while a lease of another run
exists waits or is refused just as if that run held the lock. A lease left by a DAG run that
never reached ``finish_run`` is taken over by the DAG's next run (the DAG allows one active
run, so the earlier one has ended), or removed by hand with ``golden lock break``.

The warehouse must be on a file system where ``flock`` works across the processes that share it
(a local disk, or one volume mounted into several containers of one host).
"""

from __future__ import annotations

import contextvars
import fcntl
import functools
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from pipelines.errors import GoldenError
from pipelines.i18n import Explained
from pipelines.warehouse import dir_mode
from pipelines.warehouse_root import claim_root

logger = logging.getLogger(__name__)

LOCK_FILE = ".run.lock"
HOLDER_FILE = ".run.lock.json"
LEASE_FILE = ".run.lease"
_POLL_SECONDS = 0.2
# A holder records itself just after it takes the lock and removes the record just before it
# lets go; a blocked caller that finds no record is between those steps, so it looks again for
# this long before it reports an unnamed holder (a message without a holder helps nobody).
_UNRECORDED_GRACE_SECONDS = 5.0
_ANY_RUN = "\x00any"  # a run id no lease has: passed to skip the lease check

_wait_seconds: contextvars.ContextVar[float] = contextvars.ContextVar(
    "golden_lock_wait_seconds", default=0.0
)


class RunLockedError(Explained, GoldenError):
    """Another run (or restore, erasure, steward write) holds the warehouse's run lock. Said by
    message ids: ``str()`` is the English text (logs, the JSON API), the CLI and the workspace
    show it in their reader's language (:func:`pipelines.i18n.explain`)."""

    exit_code = 5


@dataclass(frozen=True)
class LockHolder:
    """Who holds (or last held) the lock; never the command's arguments (they may be personal)."""

    pid: int
    host: str
    command: str
    started: str
    run_id: str | None = None

    def describe(self) -> str:
        run = f", run {self.run_id}" if self.run_id else ""
        return f"{self.command} (pid {self.pid} on {self.host}{run}, since {self.started})"

    def alive(self) -> bool | None:
        """Whether the holding process still exists; None when it runs on another host."""
        if self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


@dataclass(frozen=True)
class Lease:
    """An Airflow DAG run's claim on the warehouse, from ``start_run`` to ``finish_run``."""

    run_id: str
    owner: str
    host: str
    started: str
    dag_id: str | None = None

    def describe(self) -> str:
        return f"{self.owner} (pipeline run {self.run_id}, leased on {self.host} at {self.started})"


@dataclass
class _Held:
    fd: int
    depth: int
    run_id: str | None


_held: dict[tuple[str, int], _Held] = {}
_held_guard = threading.Lock()


def paths(root: str | os.PathLike[str]) -> tuple[Path, Path, Path]:
    """The lock, holder and lease files of the warehouse at ``root``."""
    state = Path(root) / "state"
    return state / LOCK_FILE, state / HOLDER_FILE, state / LEASE_FILE


def default_wait(seconds: float) -> None:
    """Set how long lock takers in this context wait by default (the CLI's ``--wait``)."""
    if seconds < 0:
        raise GoldenError(f"--wait must be 0 or more seconds, not {seconds}")
    _wait_seconds.set(float(seconds))


def read_holder(root: str | os.PathLike[str]) -> LockHolder | None:
    """The recorded holder, or None when nobody recorded one (or the file is unreadable)."""
    data = _read(paths(root)[1])
    if data is None:
        return None
    try:
        return LockHolder(**data)
    except TypeError:
        return None


def read_lease(root: str | os.PathLike[str]) -> Lease | None:
    """The current Airflow lease, or None."""
    data = _read(paths(root)[2])
    if data is None:
        return None
    try:
        return Lease(**data)
    except TypeError:
        return Lease(run_id=str(data.get("run_id")), owner="unknown", host="?", started="?")


@contextmanager
def run_lock(
    root: str | os.PathLike[str],
    command: str,
    *,
    wait: float | None = None,
    run_id: str | None = None,
    honour_lease: bool = True,
) -> Iterator[LockHolder | None]:
    """Hold the warehouse's run lock for the ``with`` block.

    ``command`` names the holder for others' messages (``"golden run"``); pass a label, never
    arguments that may hold personal data. ``wait`` is how many seconds to wait for the current
    holder to finish (default: :func:`default_wait`, else 0: refuse at once). ``run_id`` is the
    pipeline run this holder works for: an Airflow lease of that run does not block it.
    Reentrant within a thread: a nested ``run_lock`` on the same warehouse is a no-op.
    ``honour_lease=False`` is for ``golden lock break`` only, which removes a lease.
    """
    lock_path, holder_path, _ = paths(root)
    key = (str(lock_path.resolve()), threading.get_ident())
    with _held_guard:
        held = _held.get(key)
        if held is not None:
            held.depth += 1
    if held is not None:
        try:
            yield None
        finally:
            with _held_guard:
                held.depth -= 1
        return
    wait = _wait_seconds.get() if wait is None else wait
    fd = _acquire(Path(root), lock_path, command, wait, run_id if honour_lease else _ANY_RUN)
    try:
        stale = read_holder(root)
        holder = LockHolder(
            pid=os.getpid(),
            host=socket.gethostname(),
            command=command,
            started=datetime.now(UTC).isoformat(timespec="seconds"),
            run_id=run_id,
        )
        if stale is not None:
            _take_over(Path(root), stale, holder)
        _write(holder_path, holder.__dict__)
        with _held_guard:
            _held[key] = _Held(fd=fd, depth=1, run_id=run_id)
        try:
            yield holder
        finally:
            with _held_guard:
                _held.pop(key, None)
            holder_path.unlink(missing_ok=True)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


P = ParamSpec("P")
R = TypeVar("R")


def holds_run_lock(command: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a library entry point whose first argument is the pipeline config.

    The call holds the run lock of ``config.warehouse.path`` (reentrantly, so a CLI command that
    already holds it for a longer span is not blocked by its own library call).
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            config: Any = args[0] if args else kwargs["config"]
            with run_lock(config.warehouse.path, command):
                return func(*args, **kwargs)

        return wrapper

    return decorate


def take_lease(
    root: str | os.PathLike[str],
    run_id: str,
    owner: str,
    *,
    wait: float = 0.0,
    dag_id: str | None = None,
) -> Lease:
    """Claim the warehouse for a pipeline run driven from several processes (Airflow).

    Waits up to ``wait`` seconds for the lock and for another run's lease; taking the lease again
    for the same run (a retried ``start_run``) keeps it. A lease left by another run of the same
    DAG (``dag_id``) is stale: the DAG allows one active run, so that run has ended without its
    ``finish_run`` (a killed worker or scheduler). It is taken over, logged and audited as
    ``lock.takeover``, the way a dead process's lock is.
    """
    current = read_lease(root)
    stale = current is not None and current.dag_id == dag_id and current.run_id != run_id
    if dag_id is not None and stale:
        with run_lock(root, owner, wait=wait, honour_lease=False):
            _take_over_lease(Path(root), dag_id, run_id, owner)
    with run_lock(root, owner, wait=wait, run_id=run_id):
        lease = Lease(
            run_id=run_id,
            owner=owner,
            host=socket.gethostname(),
            started=datetime.now(UTC).isoformat(timespec="seconds"),
            dag_id=dag_id,
        )
        current = read_lease(root)
        if current is not None and current.run_id == run_id:
            return current
        _write(paths(root)[2], lease.__dict__)
        logger.info("run %s leased %s", run_id, root)
        return lease


def _take_over_lease(root: Path, dag_id: str, run_id: str, owner: str) -> None:
    from pipelines import audit

    stale = read_lease(root)  # again, under the lock
    if stale is None or stale.dag_id != dag_id or stale.run_id == run_id:
        return
    logger.warning(
        "the warehouse %s was still leased by %s, an earlier run of DAG %s that ended without "
        "finish_run; taken over by %s",
        root,
        stale.describe(),
        dag_id,
        owner,
    )
    audit.record(
        root, None, "lock.takeover", stale.run_id, {"stale_lease": stale.__dict__, "by": owner}
    )
    paths(root)[2].unlink(missing_ok=True)


def check_lease(root: str | os.PathLike[str], run_id: str) -> None:
    """Fail unless the warehouse's lease belongs to ``run_id`` (a stage task's check)."""
    lease = read_lease(root)
    if lease is None:
        raise RunLockedError(("lock.no_lease", {"run": run_id, "root": root}))
    if lease.run_id != run_id:
        raise RunLockedError(
            ("lock.leased", {"root": root, "holder": lease.describe(), "run": run_id})
        )


def release_lease(root: str | os.PathLike[str], run_id: str, *, wait: float = 60.0) -> bool:
    """Give up ``run_id``'s lease (``finish_run``); False when it held none."""
    with run_lock(root, "airflow finish_run", wait=wait, honour_lease=False):
        lease = read_lease(root)
        if lease is None or lease.run_id != run_id:
            return False
        paths(root)[2].unlink(missing_ok=True)
        logger.info("run %s released its lease on %s", run_id, root)
        return True


@dataclass(frozen=True)
class LockStatus:
    """What ``golden lock status`` shows."""

    held: bool
    holder: LockHolder | None
    lease: Lease | None

    @property
    def stale_holder(self) -> bool:
        """A holder is recorded although nobody holds the lock: it died while holding it."""
        return not self.held and self.holder is not None


def status(root: str | os.PathLike[str]) -> LockStatus:
    """Whether the lock is held right now, by whom, and any Airflow lease (changes nothing).

    Judged from the holder record and whether its process lives, never by trying the lock:
    a probe would make a concurrent ``--wait 0`` taker fail for nothing.
    """
    holder = read_holder(root)
    held = holder is not None and holder.alive() is not False
    return LockStatus(held=held, holder=holder, lease=read_lease(root))


def break_lock(root: str | os.PathLike[str], actor: str | None = None) -> list[str]:
    """Remove a dead run's leftovers: an Airflow lease and a stale holder record.

    Refuses while a live process holds the OS lock (stop that process instead: the lock goes
    with it). Returns what was removed; each removal is audited as ``lock.break``.
    """
    from pipelines import audit

    removed: list[str] = []
    with run_lock(root, "golden lock break", wait=0, honour_lease=False):
        lease = read_lease(root)
        if lease is not None:
            paths(root)[2].unlink(missing_ok=True)
            removed.append(f"lease of {lease.describe()}")
            audit.record(root, actor, "lock.break", lease.run_id, {"lease": lease.__dict__})
    return removed


def _acquire(root: Path, lock_path: Path, command: str, wait: float, run_id: str | None) -> int:
    claim_root(root)  # every writer comes through here: refuse a bad root, mark a good one
    lock_path.parent.mkdir(parents=True, exist_ok=True, mode=dir_mode())  # state/, private
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + max(wait, 0.0)
    unrecorded_until: float | None = None
    try:
        while True:
            blocker: str | None = None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = read_holder(root)
                if holder is not None:
                    blocker = holder.describe()
                    unrecorded_until = None
                else:
                    blocker = "another process (not yet recorded)"
                    if unrecorded_until is None:
                        unrecorded_until = time.monotonic() + _UNRECORDED_GRACE_SECONDS
                    if time.monotonic() < unrecorded_until:
                        time.sleep(_POLL_SECONDS / 4)
                        continue
            else:
                lease = read_lease(root)
                if lease is None or run_id in (lease.run_id, _ANY_RUN):
                    return fd
                fcntl.flock(fd, fcntl.LOCK_UN)
                blocker = f"the Airflow DAG run {lease.describe()}"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                values = {"command": command, "root": root, "holder": blocker, "wait": wait}
                raise RunLockedError(
                    ("lock.in_use_after_wait" if wait > 0 else "lock.in_use", values)
                )
            time.sleep(min(_POLL_SECONDS, remaining))
    except BaseException:
        os.close(fd)
        raise


def _take_over(root: Path, stale: LockHolder, holder: LockHolder) -> None:
    from pipelines import audit

    logger.warning(
        "the run lock of %s was left by %s, which ended without releasing it; taken over by %s",
        root,
        stale.describe(),
        holder.command,
    )
    audit.record(
        root,
        None,
        "lock.takeover",
        stale.run_id or stale.command,
        {"stale": stale.__dict__, "by": holder.command},
    )


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write(path: Path, payload: dict[str, Any]) -> None:
    """Write a small JSON file atomically, owner-only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(payload) + "\n")
    os.replace(tmp, path)
