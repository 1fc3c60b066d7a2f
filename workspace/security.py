"""Sessions, CSRF tokens and login throttling for the workspace, shared by every server process.

A session is a 256-bit random id in an ``HttpOnly``, ``SameSite=Strict`` cookie (``Secure``
whenever the request came over HTTPS, or always with ``--secure-cookies``); nothing about the
user is in the cookie. The server keeps the session in a small database so that several server
processes (``golden serve --workers N``, or several servers on one warehouse) accept each
other's sessions and a restart logs nobody out:

- by default a SQLite file in the warehouse's private state folder,
  ``state/.workspace_sessions.sqlite3``, owner-only (``0600``, as are SQLite's ``-wal`` and
  ``-shm`` files beside it). The leading dot keeps it out of backups: a restore must never
  bring back sessions that were ended since.
- with ``--sessions postgresql://...`` (or ``GOLDEN_WORKSPACE_SESSIONS``) tables in that
  PostgreSQL database, for servers on several machines (SQLite's locks are not to be trusted on
  a network file system). One database or schema per deployment.

The database holds only the SHA-256 of each session id (the id is 256 random bits, so a fast
digest is as good as a slow hash): a copy of it lets nobody in. Beside the digest: the user,
the expiry, the session's CSRF token, the decisions it recorded (what "undo" revokes) and the
review pairs it skipped. Logging out or removing the user deletes the rows, so the session ends
in every process at its next request; expired rows are deleted as they are met and at every
login.

Each session has its own CSRF token; every form carries it and every state-changing request
must send it back (form field or ``X-CSRF-Token`` header), compared in constant time. The login
form, before a session exists, uses a double-submit token (a cookie and a form field that must
match).

Login throttling counts failures per user name and per client address in a sliding window, in
the same database (so N processes do not allow N times the guesses): after ``max_failures`` the
name (or address) is refused for the rest of the window, whatever the password, so guessing is
slow and a locked-out steward only waits.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pipelines.errors import GoldenError

logger = logging.getLogger(__name__)

SESSION_COOKIE = "golden_session"
LOGIN_CSRF_COOKIE = "golden_login_csrf"
SESSIONS_FILE = ".workspace_sessions.sqlite3"
SESSIONS_ENV = "GOLDEN_WORKSPACE_SESSIONS"
"""Environment variable naming the session database (the ``--sessions`` option's default)."""
DEFAULT_LIFETIME_S = 8 * 3600

T = TypeVar("T")
Query = Callable[..., list[tuple[Any, ...]]]
"""Runs one statement (``?`` placeholders) inside a transaction, returning its rows."""


class SessionStoreError(GoldenError):
    """The session database cannot be opened or used."""


@dataclass
class Session:
    """One session as read at the start of a request. ``undo`` and ``skipped`` change only
    through the store (:meth:`SessionStore.push_undo` and friends), which updates this copy
    too, so every process sees the same list."""

    id: str
    user: str
    csrf: str
    expires: float
    """Seconds since the epoch (a wall clock, the same in every process)."""
    undo: tuple[str, ...] = ()
    """Decision ids this session recorded, newest last: what "undo" revokes."""
    skipped: frozenset[tuple[str, str]] = field(default_factory=frozenset)


def sessions_path(warehouse_root: str | os.PathLike[str]) -> Path:
    return Path(warehouse_root) / "state" / SESSIONS_FILE


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


# --- backends ------------------------------------------------------------------------------------
class _Backend(Protocol):
    def run(self, work: Callable[[Query], T], *, write: bool) -> T: ...

    def close(self) -> None: ...


_TABLES = """
CREATE TABLE IF NOT EXISTS golden_workspace_sessions (
    id_sha256 TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS golden_workspace_sessions_user
    ON golden_workspace_sessions (user_name);
CREATE INDEX IF NOT EXISTS golden_workspace_sessions_expiry
    ON golden_workspace_sessions (expires_at);
CREATE TABLE IF NOT EXISTS golden_workspace_session_undo (
    seq {serial},
    id_sha256 TEXT NOT NULL,
    decision_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS golden_workspace_session_undo_session
    ON golden_workspace_session_undo (id_sha256, seq);
CREATE TABLE IF NOT EXISTS golden_workspace_session_skips (
    id_sha256 TEXT NOT NULL,
    record_key_l TEXT NOT NULL,
    record_key_r TEXT NOT NULL,
    PRIMARY KEY (id_sha256, record_key_l, record_key_r)
);
CREATE TABLE IF NOT EXISTS golden_workspace_login_failures (
    key_sha256 TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS golden_workspace_login_failures_key
    ON golden_workspace_login_failures (key_sha256, at);
"""


def _statements(serial: str) -> list[str]:
    return [s.strip() for s in _TABLES.format(serial=serial).split(";") if s.strip()]


def _write_ahead_log(conn: sqlite3.Connection, wait: float = 30.0) -> None:
    """Switch the database to WAL, waiting for other processes that hold it.

    SQLite answers "database is locked" at once, without its busy handler, when another
    connection holds the file while this one changes the journal mode (two server processes
    starting together on a new session database), so the switch is retried until ``wait``
    seconds have passed."""
    deadline = time.monotonic() + wait
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class _SqliteBackend:
    """One connection per process, used under a lock (requests run in a thread pool); WAL so
    readers in other processes are not blocked by a writer; every process waits for the
    others' short transactions instead of failing."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        _create_private(path)
        try:
            self._conn = sqlite3.connect(
                str(path), timeout=30, isolation_level=None, check_same_thread=False
            )
            self._conn.execute("PRAGMA busy_timeout = 30000")
            _write_ahead_log(self._conn)
            self._conn.execute("PRAGMA synchronous = NORMAL")
            with self._transaction(write=True) as query:
                for statement in _statements("INTEGER PRIMARY KEY AUTOINCREMENT"):
                    query(statement)
        except sqlite3.DatabaseError as exc:
            raise SessionStoreError(
                f"cannot use the workspace session database {path} ({exc}); it holds only "
                "sessions: delete it (everybody logs in again) and restart the server"
            ) from None

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Query]:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield lambda sql, params=(): conn.execute(sql, params).fetchall()
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def run(self, work: Callable[[Query], T], *, write: bool) -> T:
        with self._lock, self._transaction(write=write) as query:
            return work(query)

    def close(self) -> None:
        self._conn.close()


def _create_private(path: Path) -> None:
    """Create the database file owner-only before SQLite opens it: SQLite gives its ``-wal``
    and ``-shm`` files the database file's mode, so all three are ``0600`` whatever the umask."""
    from pipelines.warehouse import dir_mode

    path.parent.mkdir(parents=True, exist_ok=True, mode=dir_mode())
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        info = os.fstat(fd)
        if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) != 0o600:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


class _PostgresBackend:
    """One autocommit connection per process, used under a lock; a connection that broke
    (the server restarted) is replaced and the work tried once more."""

    def __init__(self, url: str):
        import psycopg

        self._psycopg = psycopg
        self.url = url
        self._conn: Any = None
        self._lock = threading.Lock()
        try:
            self.run(self._create_tables, write=True)
        except psycopg.Error as exc:
            raise SessionStoreError(
                f"cannot use the workspace session database at {_redacted(url)} ({exc}); "
                "check --sessions / GOLDEN_WORKSPACE_SESSIONS"
            ) from None

    @staticmethod
    def _create_tables(query: Query) -> None:
        # Two servers starting together must not both create the tables.
        query("SELECT pg_advisory_xact_lock(hashtext('golden_workspace_sessions'))")
        for statement in _statements("BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"):
            query(statement)

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed:
            self._conn = self._psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        return self._conn

    def run(self, work: Callable[[Query], T], *, write: bool) -> T:
        with self._lock:
            for attempt in (1, 2):
                reused = self._conn is not None and not self._conn.closed
                conn = self._connection()
                try:
                    with conn.transaction(), conn.cursor() as cursor:

                        def query(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
                            cursor.execute(sql.replace("?", "%s"), params)
                            return cursor.fetchall() if cursor.description else []

                        return work(query)
                except self._psycopg.OperationalError:
                    conn.close()
                    self._conn = None
                    if attempt == 2 or not reused:
                        raise
                    logger.info("workspace: session database connection lost; reconnecting")
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


def _redacted(url: str) -> str:
    """The URL without its password, for messages."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


# --- the store -----------------------------------------------------------------------------------
class SessionStore:
    """The sessions of one deployment, in the database every server process shares."""

    def __init__(
        self,
        backend: _Backend,
        lifetime_s: float = DEFAULT_LIFETIME_S,
        clock: Callable[[], float] = time.time,
    ):
        self.backend = backend
        self.lifetime_s = lifetime_s
        self.clock = clock
        """Wall-clock seconds: expiry times are compared across processes (tests move it)."""

    def create(self, user: str) -> Session:
        session = Session(
            id=secrets.token_urlsafe(32),
            user=user,
            csrf=secrets.token_urlsafe(32),
            expires=self.clock() + self.lifetime_s,
        )

        def work(query: Query) -> None:
            query(
                "INSERT INTO golden_workspace_sessions "
                "(id_sha256, user_name, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                (_digest(session.id), user, session.csrf, self.clock(), session.expires),
            )

        self.prune()
        self.backend.run(work, write=True)
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id; None for an unknown, ended or expired one."""
        if not session_id:
            return None
        key = _digest(session_id)

        def work(query: Query) -> Session | bool | None:
            rows = query(
                "SELECT user_name, csrf, expires_at FROM golden_workspace_sessions "
                "WHERE id_sha256 = ?",
                (key,),
            )
            if not rows:
                return None
            user, csrf, expires = rows[0]
            if expires <= self.clock():
                return False
            undo = query(
                "SELECT decision_id FROM golden_workspace_session_undo WHERE id_sha256 = ? "
                "ORDER BY seq",
                (key,),
            )
            skips = query(
                "SELECT record_key_l, record_key_r FROM golden_workspace_session_skips "
                "WHERE id_sha256 = ?",
                (key,),
            )
            return Session(
                id=session_id,
                user=user,
                csrf=csrf,
                expires=float(expires),
                undo=tuple(r[0] for r in undo),
                skipped=frozenset((r[0], r[1]) for r in skips),
            )

        found = self.backend.run(work, write=False)
        if found is False:
            self.end(session_id)
            return None
        return found  # type: ignore[return-value]

    def end(self, session_id: str | None) -> None:
        if session_id:
            self._delete("id_sha256 = ?", (_digest(session_id),))

    def end_user(self, user: str) -> int:
        """End every session of ``user``, in every process; how many there were."""
        return self._delete("user_name = ?", (user,))

    def prune(self) -> int:
        """Delete expired sessions; how many."""
        removed = self._delete("expires_at <= ?", (self.clock(),))
        if removed:
            logger.debug("workspace: pruned %d expired session(s)", removed)
        return removed

    def _delete(self, where: str, params: tuple[Any, ...]) -> int:
        def work(query: Query) -> int:
            keys = [
                r[0]
                for r in query(
                    f"SELECT id_sha256 FROM golden_workspace_sessions WHERE {where}", params
                )
            ]
            for key in keys:
                for table in (
                    "golden_workspace_session_undo",
                    "golden_workspace_session_skips",
                    "golden_workspace_sessions",
                ):
                    query(f"DELETE FROM {table} WHERE id_sha256 = ?", (key,))
            return len(keys)

        return self.backend.run(work, write=True)

    def push_undo(self, session: Session, decision_ids: Iterable[str]) -> None:
        """Remember decisions this session recorded, newest last."""
        ids = list(decision_ids)
        key = _digest(session.id)

        def work(query: Query) -> None:
            for decision_id in ids:
                query(
                    "INSERT INTO golden_workspace_session_undo (id_sha256, decision_id) "
                    "VALUES (?, ?)",
                    (key, decision_id),
                )

        self.backend.run(work, write=True)
        session.undo = (*session.undo, *ids)

    def pop_undo(self, session: Session, decision_id: str) -> None:
        """Forget ``decision_id`` (it was revoked), whichever process recorded it."""
        key = _digest(session.id)
        self.backend.run(
            lambda query: query(
                "DELETE FROM golden_workspace_session_undo WHERE id_sha256 = ? AND decision_id = ?",
                (key, decision_id),
            ),
            write=True,
        )
        session.undo = tuple(d for d in session.undo if d != decision_id)

    def skip(self, session: Session, pair: tuple[str, str]) -> None:
        """Hide a review pair from this session's queue."""
        key = _digest(session.id)

        def work(query: Query) -> None:
            if not query(
                "SELECT 1 FROM golden_workspace_session_skips "
                "WHERE id_sha256 = ? AND record_key_l = ? AND record_key_r = ?",
                (key, *pair),
            ):
                query(
                    "INSERT INTO golden_workspace_session_skips "
                    "(id_sha256, record_key_l, record_key_r) VALUES (?, ?, ?)",
                    (key, *pair),
                )

        self.backend.run(work, write=True)
        session.skipped = session.skipped | {pair}

    def close(self) -> None:
        self.backend.close()


def open_session_store(
    warehouse_root: str | os.PathLike[str],
    url: str | None = None,
    *,
    lifetime_s: float = DEFAULT_LIFETIME_S,
    clock: Callable[[], float] = time.time,
) -> SessionStore:
    """The deployment's session store: ``url`` a ``postgresql://`` URL, or None for the SQLite
    file in the warehouse's state folder."""
    if not url:
        backend: _Backend = _SqliteBackend(sessions_path(warehouse_root))
    elif url.startswith(("postgresql://", "postgres://")):
        backend = _PostgresBackend(url)
    else:
        raise SessionStoreError(
            f"--sessions / {SESSIONS_ENV} must be a postgresql:// URL (or unset for the SQLite "
            f"file in the warehouse), not {_redacted(url)!r}"
        )
    return SessionStore(backend, lifetime_s=lifetime_s, clock=clock)


def end_user_sessions(warehouse_root: str | os.PathLike[str], user: str, url: str | None) -> int:
    """End ``user``'s sessions in the deployment's store (``golden users remove``), without
    creating a SQLite file where no server ever ran."""
    if not url and not sessions_path(warehouse_root).exists():
        return 0
    store = open_session_store(warehouse_root, url)
    try:
        return store.end_user(user)
    finally:
        store.close()


def same_token(given: str | None, expected: str | None) -> bool:
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


class LoginThrottle:
    """Failed logins per key (a user name, a client address) in a sliding window, kept in the
    session database (as digests) so every server process counts the same failures."""

    def __init__(
        self,
        store: SessionStore,
        max_failures: int = 5,
        window_s: float = 15 * 60,
    ):
        self.store = store
        self.max_failures = max_failures
        self.window_s = window_s

    def blocked(self, *keys: str) -> bool:
        since = self.store.clock() - self.window_s

        def work(query: Query) -> bool:
            for key in keys:
                ((count,),) = query(
                    "SELECT count(*) FROM golden_workspace_login_failures "
                    "WHERE key_sha256 = ? AND at > ?",
                    (_digest(key), since),
                )
                if count >= self.max_failures:
                    return True
            return False

        return self.store.backend.run(work, write=False)

    def failed(self, *keys: str) -> None:
        now = self.store.clock()

        def work(query: Query) -> None:
            query(
                "DELETE FROM golden_workspace_login_failures WHERE at <= ?", (now - self.window_s,)
            )
            for key in keys:
                query(
                    "INSERT INTO golden_workspace_login_failures (key_sha256, at) VALUES (?, ?)",
                    (_digest(key), now),
                )

        self.store.backend.run(work, write=True)

    def succeeded(self, name_key: str) -> None:
        self.store.backend.run(
            lambda query: query(
                "DELETE FROM golden_workspace_login_failures WHERE key_sha256 = ?",
                (_digest(name_key),),
            ),
            write=True,
        )
