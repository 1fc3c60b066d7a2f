"""Shared fixtures: real services on loopback, never mocks.

Tests that need PostgreSQL, MariaDB or Chromium skip with a reason where the service is absent,
except in CI (``CI=true``), where an absent service is a failure: CI must prove those paths.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.s3server import LocalS3Server, S3Endpoint

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def skip_or_fail(reason: str) -> None:
    """Skip locally, fail in CI, where every integration path must run."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true, so this is a failure, not a skip)")
    pytest.skip(reason)


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex((host, port)) == 0


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Endpoint]:
    """A real SeaweedFS S3 server on free loopback ports for the whole test session."""
    with LocalS3Server(tmp_path_factory.mktemp("seaweedfs")) as endpoint:
        yield endpoint


@pytest.fixture
def s3_bucket(s3_server: S3Endpoint) -> str:
    """A fresh, empty bucket on the local S3 server."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3_server.client().create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_env(s3_server: S3Endpoint, monkeypatch: pytest.MonkeyPatch) -> S3Endpoint:
    """Point the pipeline's S3 clients at the local server through the environment."""
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    return s3_server


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """DSN of the PostgreSQL server on 127.0.0.1:5432 (database ``test``, trust auth)."""
    if not _port_open(5432):
        skip_or_fail("PostgreSQL is not listening on 127.0.0.1:5432")
    import psycopg

    dsn = "host=127.0.0.1 port=5432 dbname=test user=postgres"
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            conn.execute("select 1")
    except psycopg.Error as exc:
        skip_or_fail(f"cannot connect to PostgreSQL at 127.0.0.1:5432: {exc}")
    return dsn


@pytest.fixture(scope="session")
def mariadb_params() -> dict[str, object]:
    """Connection parameters for the MariaDB server on 127.0.0.1:3306 (database ``test``)."""
    if not _port_open(3306):
        skip_or_fail("MariaDB is not listening on 127.0.0.1:3306")
    import pymysql

    params: dict[str, object] = {
        "host": "127.0.0.1",
        "port": 3306,
        "user": "root",
        "password": "",
        "database": "test",
    }
    try:
        pymysql.connect(**params, connect_timeout=5).close()
    except pymysql.MySQLError as exc:
        skip_or_fail(f"cannot connect to MariaDB at 127.0.0.1:3306: {exc}")
    return params


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of a headless-capable Chromium (Debian package ``chromium``)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        skip_or_fail("Chromium is not installed (apt-get install chromium)")
    return str(path)


def chromium_dom(chromium: str, page: Path, profile: Path, budget_ms: int = 15000) -> str:
    """The DOM of ``page`` after its scripts ran, with every network path closed."""
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND",  # no name resolves: nothing can be fetched
        "--proxy-server=127.0.0.1:9",
        f"--virtual-time-budget={budget_ms}",
        "--dump-dom",
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(autouse=True)
def _restore_umask() -> Iterator[None]:
    """Entry points set the process umask (``warehouse.protect_process``): undo it per test."""
    from pipelines import warehouse

    before = os.umask(0o022)
    os.umask(before)
    access = warehouse._access
    yield
    os.umask(before)
    warehouse._access = access


@pytest.fixture
def warehouse_dir(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def workspace_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse after one real run on a small generated sample (no backup), for the
    stewards' workspace tests; they copy it (:func:`copy_workspace`) and change only the copy.

    One CRM record's second street line is a ``<script>`` element, as a hostile source sends it.
    """
    import csv

    import yaml

    from pipelines.config import load_config
    from pipelines.orchestrate import run_pipeline
    from pipelines.sample import generate_sample

    root = tmp_path_factory.mktemp("workspace_template")
    generate_sample(root, customers=120, seed=5)
    crm = root / "crm.csv"
    with crm.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rows[0]["street2"] = WORKSPACE_SCRIPT
    with crm.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    text = yaml.safe_load((root / "config.yaml").read_text())
    text["warehouse"] = {"path": "warehouse"}
    text["backup"] = {"enabled": False}
    text["validation"] = {
        **text.get("validation", {}),
        "expectations_dir": str(Path(__file__).parents[1] / "expectations"),
        "data_docs": False,  # half a run's time, and nothing here reads them
    }
    (root / "config.yaml").write_text(yaml.safe_dump(text, sort_keys=False))
    run_pipeline(load_config(root / "config.yaml"))
    return root


WORKSPACE_SCRIPT = "<script>window.__pwned=1</script>"


@pytest.fixture(scope="session")
def copy_workspace(workspace_template: Path):
    """A function making a private copy of :func:`workspace_template` in a folder (symlinks
    kept, so ``published/current`` still points inside the copy); returns its config."""

    def copy(target: Path) -> Path:
        shutil.copytree(workspace_template, target, symlinks=True)
        return target / "config.yaml"

    return copy
