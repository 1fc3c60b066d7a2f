"""Workspace sessions outlive one server process: every process on a warehouse shares them.

A session made by one application instance is accepted by another on the same warehouse (and
by a real second ``golden serve`` process); logging out or removing the user in one ends it in
all; an expired session is refused and its rows deleted; the SQLite file (and its WAL files)
are owner-only and hold no session id, only its digest. The same store on PostgreSQL.
"""

from __future__ import annotations

import html
import json
import os
import re
import secrets
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from pipelines.config import PipelineConfig, load_config
from workspace import UserStore, create_app
from workspace.security import (
    SESSION_COOKIE,
    LoginThrottle,
    SessionStore,
    SessionStoreError,
    open_session_store,
    sessions_path,
)

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def sample_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A config file for a small sample; each test gives it a warehouse of its own."""
    from pipelines.sample import generate_sample

    out = tmp_path_factory.mktemp("sessions_sample")
    generate_sample(out, customers=5, seed=3)
    return out / "config.yaml"


@pytest.fixture
def config(sample_config: Path, tmp_path: Path) -> PipelineConfig:
    loaded = load_config(sample_config, {"warehouse.path": str(tmp_path / "warehouse")})
    store = UserStore(loaded.warehouse.path)
    store.add("ana", "steward", PASSWORD)
    store.add("vi", "viewer", PASSWORD)
    return loaded


def log_in(client: TestClient, name: str) -> str:
    """Logs in through the form; returns the session cookie."""
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    done = client.post(
        "/login",
        data={"username": name, "password": PASSWORD, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    return done.cookies[SESSION_COOKIE]


def session_rows(config: PipelineConfig) -> int:
    with sqlite3.connect(sessions_path(config.warehouse.path)) as con:
        return con.execute("SELECT count(*) FROM golden_workspace_sessions").fetchone()[0]


def test_a_session_from_one_app_is_accepted_by_another_and_logout_ends_it_in_both(
    config: PipelineConfig,
) -> None:
    one, two = TestClient(create_app(config)), TestClient(create_app(config))
    cookie = log_in(one, "ana")
    two.cookies.set(SESSION_COOKIE, cookie)
    assert two.get("/api/me").json() == {"name": "ana", "role": "steward", "can_decide": True}

    csrf = two.app.state.workspace.sessions.get(cookie).csrf
    forged = two.post("/logout", follow_redirects=False)
    assert forged.status_code == 403  # the other process checks the same CSRF token
    assert two.post("/logout", headers={"X-CSRF-Token": csrf}, follow_redirects=False).is_redirect
    assert one.get("/api/me").status_code == 401
    assert session_rows(config) == 0


def test_an_expired_session_is_refused_everywhere_and_its_rows_deleted(
    config: PipelineConfig,
) -> None:
    one, two = TestClient(create_app(config)), TestClient(create_app(config))
    cookie = log_in(one, "ana")
    store: SessionStore = two.app.state.workspace.sessions
    store.push_undo(store.get(cookie), ["D-1"])
    two.cookies.set(SESSION_COOKIE, cookie)
    assert two.get("/api/me").status_code == 200
    store.clock = lambda: time.time() + store.lifetime_s + 1  # eight hours later
    assert two.get("/api/me").status_code == 401
    assert session_rows(config) == 0
    with sqlite3.connect(sessions_path(config.warehouse.path)) as con:
        assert con.execute("SELECT count(*) FROM golden_workspace_session_undo").fetchone() == (0,)
    one.cookies.set(SESSION_COOKIE, cookie)
    assert one.get("/api/me").status_code == 401


def test_removing_a_user_ends_their_sessions_in_every_process(
    config: PipelineConfig, sample_config: Path
) -> None:
    from pipelines.cli import app as cli

    one = TestClient(create_app(config))
    ana, vi = log_in(one, "ana"), log_in(TestClient(one.app), "vi")
    result = CliRunner().invoke(
        cli,
        [
            "users",
            "remove",
            "ana",
            "--config",
            str(sample_config),
            "--warehouse",
            str(config.warehouse.path),
        ],
        env={"GOLDEN_WORKSPACE_SESSIONS": ""},
    )
    assert result.exit_code == 0, result.output
    assert "ended 1 session(s)" in result.output
    store = open_session_store(config.warehouse.path)
    assert store.get(ana) is None and store.get(vi).user == "vi"
    one.cookies.set(SESSION_COOKIE, ana)
    assert one.get("/api/me").status_code == 401


def test_the_session_file_is_owner_only_and_holds_digests_not_ids(tmp_path: Path) -> None:
    before = os.umask(0o022)  # the usual umask: SQLite would make its files 0644
    try:
        store = open_session_store(tmp_path)
        session = store.create("ana")
        store.push_undo(session, ["D-1"])
        assert store.get(session.id).csrf == session.csrf
    finally:
        os.umask(before)
    path = sessions_path(tmp_path)
    files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
    assert path in files and len(files) >= 2  # the database and its WAL files
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {"0o600"}
    assert all(session.id.encode() not in p.read_bytes() for p in files)
    assert oct(stat.S_IMODE(path.parent.stat().st_mode)) == "0o700"


def test_login_throttle_counts_failures_of_every_process(tmp_path: Path) -> None:
    now = [1000.0]
    stores = [open_session_store(tmp_path, clock=lambda: now[0]) for _ in range(2)]
    one, two = (LoginThrottle(s, max_failures=3, window_s=60) for s in stores)
    one.failed("user:ana", "addr:1")
    two.failed("user:ana", "addr:2")
    assert not one.blocked("user:ana")
    one.failed("user:ana", "addr:3")
    assert two.blocked("user:ana", "addr:9")  # three failures, in two processes
    assert not two.blocked("user:bo", "addr:1")
    now[0] += 61
    assert not two.blocked("user:ana")


def test_expired_sessions_are_pruned_at_the_next_login(tmp_path: Path) -> None:
    now = [1000.0]
    store = open_session_store(tmp_path, lifetime_s=10, clock=lambda: now[0])
    old = store.create("ana")
    now[0] += 11
    store.create("vi")
    with sqlite3.connect(sessions_path(tmp_path)) as con:
        users = con.execute("SELECT user_name FROM golden_workspace_sessions").fetchall()
    assert users == [("vi",)] and store.get(old.id) is None


def test_a_session_url_that_is_not_postgresql_is_refused_with_the_option(tmp_path: Path) -> None:
    with pytest.raises(SessionStoreError, match="--sessions / GOLDEN_WORKSPACE_SESSIONS"):
        open_session_store(tmp_path, "redis://:secret@127.0.0.1:6379/0")


# --- the same store on SQLite and PostgreSQL ---------------------------------------------------
@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def two_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[SessionStore]]:
    """Two stores on one database, as two server processes hold them."""
    if request.param == "sqlite":
        stores = [open_session_store(tmp_path) for _ in range(2)]
        yield stores
        for s in stores:
            s.close()
        return
    import psycopg

    dsn = request.getfixturevalue("postgres_dsn")
    schema = f"golden_sessions_{secrets.token_hex(4)}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = f"postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
    stores = [open_session_store(tmp_path, url) for _ in range(2)]
    try:
        yield stores
    finally:
        for s in stores:
            s.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def test_two_stores_share_sessions_undo_lists_and_skips(two_stores: list[SessionStore]) -> None:
    one, two = two_stores
    session = one.create("ana")
    one.push_undo(session, ["D-1", "D-2"])
    one.skip(session, ("crm:1", "web:2"))
    seen = two.get(session.id)
    assert (seen.user, seen.csrf, seen.undo) == ("ana", session.csrf, ("D-1", "D-2"))
    assert seen.skipped == {("crm:1", "web:2")}
    two.pop_undo(seen, "D-2")
    two.skip(seen, ("crm:1", "web:2"))  # twice is once
    assert one.get(session.id).undo == ("D-1",) == seen.undo
    other = two.create("ana")
    assert one.end_user("ana") == 2
    assert two.get(session.id) is None and two.get(other.id) is None
    assert one.get(secrets.token_urlsafe(32)) is None and one.get(None) is None
    two.clock = lambda: time.time() + two.lifetime_s + 1
    late = one.create("vi")
    assert two.get(late.id) is None and one.get(late.id) is None  # expired, and deleted


# --- real server processes ------------------------------------------------------------------------
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(sample_config: Path, warehouse: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    golden = Path(sys.executable).with_name("golden")
    process = subprocess.Popen(
        [
            str(golden),
            "-q",
            "serve",
            "--config",
            str(sample_config),
            "--warehouse",
            str(warehouse),
            "--port",
            str(port),
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "GOLDEN_CONFIG": "", "GOLDEN_WORKSPACE_SESSIONS": ""},
    )
    return process, f"http://127.0.0.1:{port}"


def _wait_until_answering(process: subprocess.Popen, url: str) -> None:
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            raise AssertionError(process.stderr.read().decode()[-3000:])
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"golden serve at {url} did not answer in 120 s"
        time.sleep(0.2)  # polling a condition, not waiting for time to pass


@pytest.mark.slow
def test_a_session_from_one_server_process_works_on_another_with_workers(
    config: PipelineConfig, sample_config: Path
) -> None:
    warehouse = Path(config.warehouse.path)
    servers = [
        _start(sample_config, warehouse),
        _start(sample_config, warehouse, "--workers", "2"),
    ]
    try:
        for process, url in servers:
            _wait_until_answering(process, url)
        (_, first), (_, second) = servers
        with httpx.Client(base_url=first) as browser:
            form = browser.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
            done = browser.post(
                "/login", data={"username": "ana", "password": PASSWORD, "csrf_token": token}
            )
            assert done.status_code == 303, done.text
            cookie = done.cookies[SESSION_COOKIE]
        for _ in range(4):  # whichever worker answers
            me = httpx.get(f"{second}/api/me", cookies={SESSION_COOKIE: cookie})
            assert me.status_code == 200 and me.json()["name"] == "ana"
        csrf = open_session_store(warehouse).get(cookie).csrf
        out = httpx.post(
            f"{second}/logout", cookies={SESSION_COOKIE: cookie}, headers={"X-CSRF-Token": csrf}
        )
        assert out.status_code == 303
        assert httpx.get(f"{first}/api/me", cookies={SESSION_COOKIE: cookie}).status_code == 401
    finally:
        for process, _ in servers:
            process.terminate()
        for process, _ in servers:
            process.wait(timeout=30)


# --- undo and skip across processes, on a published warehouse ----------------------------------
@pytest.mark.slow
def test_undo_and_skips_made_in_one_process_are_seen_and_used_by_another(
    copy_workspace: Callable[[Path], Path], tmp_path: Path
) -> None:
    from matching.decisions import DecisionStore
    from pipelines.warehouse import Warehouse

    config = load_config(copy_workspace(tmp_path / "copy"))
    UserStore(config.warehouse.path).add("ana", "steward", PASSWORD)
    one, two = TestClient(create_app(config)), TestClient(create_app(config))
    cookie = log_in(one, "ana")
    two.cookies.set(SESSION_COOKIE, cookie)
    csrf = open_session_store(config.warehouse.path).get(cookie).csrf
    token = UserStore(config.warehouse.path).new_token("ana")
    pairs = two.get("/api/review/pairs", headers={"Authorization": f"Bearer {token}"})
    first, second = pairs.json()["pairs"][:2]

    def form(pair: dict[str, str], decision: str) -> dict[str, str]:
        return {
            "left": pair["record_key_l"], "right": pair["record_key_r"],
            "decision": decision, "reason": "checked", "csrf_token": csrf,
        }  # fmt: skip

    def offered(client: TestClient) -> set[tuple[str, ...]]:
        values = re.findall(r'name="pair" value="([^"]+)"', client.get("/review").text)
        return {tuple(sorted(json.loads(html.unescape(v)))) for v in values}

    skipped = tuple(sorted((second["record_key_l"], second["record_key_r"])))
    assert skipped in offered(two)
    assert one.post("/review/decide", data=form(first, "no_link")).status_code == 200
    assert one.post("/review/decide", data=form(second, "skip")).status_code == 200
    decisions = DecisionStore(Warehouse(config.warehouse.path).decisions)
    (made,) = decisions.active()
    assert skipped not in offered(two)  # the other process hides the pair this session skipped
    undone = two.post("/review/undo", data={"csrf_token": csrf})
    assert undone.status_code == 200 and f"Revoked {made.decision_id}" in undone.text
    assert decisions.active() == []
    nothing = one.post("/review/undo", data={"csrf_token": csrf})
    assert "Nothing to undo." in nothing.text  # the first process sees the list emptied


class _LockedFor:
    """A connection whose journal-mode switch finds the file locked ``times`` times."""

    def __init__(self, times: int, error: str = "database is locked") -> None:
        self.times, self.error, self.calls = times, error, 0

    def execute(self, sql: str) -> None:
        self.calls += 1
        if self.calls <= self.times:
            raise sqlite3.OperationalError(self.error)


def test_the_switch_to_wal_waits_for_another_process_holding_the_database() -> None:
    from workspace.security import _write_ahead_log

    held = _LockedFor(3)
    _write_ahead_log(held)  # type: ignore[arg-type]
    assert held.calls == 4
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _write_ahead_log(_LockedFor(10**6), wait=0.0)  # type: ignore[arg-type]
    broken = _LockedFor(1, "file is not a database")
    with pytest.raises(sqlite3.OperationalError, match="not a database"):
        _write_ahead_log(broken)  # type: ignore[arg-type]
    assert broken.calls == 1
