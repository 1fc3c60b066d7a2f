"""A multi-worker Airflow stack on this machine's PostgreSQL and Redis: what ``make stack`` runs
and what ``tests/test_airflow_celery_stack.py`` runs the DAG on.

Airflow 3 with the CeleryExecutor, as separate processes: an api-server (UI, REST API and the
execution API the task runners talk to), a scheduler, a dag-processor, optionally a triggerer,
and Celery workers (two by default). The metadata database is a fresh database on the
PostgreSQL server at 127.0.0.1:5432 (trust auth), the broker the Redis server at
127.0.0.1:6379 under a key prefix of its own, so a stack never sees another stack's tasks. The
environment names are those of ``docker/docker-compose.yaml``.

A run still going ``GOLDEN_RUN_DEADLINE_MINUTES`` (default 480, as in ``docker/.env.example``)
after it was queued raises an overdue alert; export the variable to change it.

Each worker records its own name (``GOLDEN_WORKER_NAME``, through
``pipelines.worker_name.worker_hostname``) as the task instances' host, so the UI and the API
show which worker ran what even though both run on one machine.

    .venv/bin/python -m scripts.airflow_stack --config examples/config.yaml

runs until Ctrl-C, then stops every process it started and drops its database and broker keys
(``--keep`` keeps them).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger("golden.airflow_stack")

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "dags"
BIN = Path(sys.executable).parent

RUN_DEADLINE_MINUTES = 480
"""The run deadline when ``GOLDEN_RUN_DEADLINE_MINUTES`` is not in the environment: the value of
``docker/.env.example`` and the compose file's default, so both stacks alert on the same
overrun (tests/test_docker_stack.py keeps the three in step)."""


class StackError(Exception):
    """The stack did not come up, or a process of it died; the message says which and why."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class StackSettings:
    """Where the stack keeps its state and which services it uses."""

    home: Path
    """AIRFLOW_HOME: logs, the auth manager's password file, the processes' output."""
    token: str = field(default_factory=lambda: secrets.token_hex(4))
    """Names this stack's database and broker key prefix."""
    api_port: int = field(default_factory=free_port)
    workers: tuple[str, ...] = ("worker1", "worker2")
    worker_concurrency: int = 1
    triggerer: bool = False
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    postgres: str = "postgres@127.0.0.1:5432"
    """``user@host:port`` of the PostgreSQL server (trust auth)."""
    redis_url: str = "redis://127.0.0.1:6379/0"
    extra_env: dict[str, str] = field(default_factory=dict)
    """The pipeline's environment: GOLDEN_CONFIG, GOLDEN_SCHEDULE, S3 endpoint and keys."""

    @property
    def database(self) -> str:
        return f"golden_stack_{self.token}"

    @property
    def key_prefix(self) -> str:
        return f"golden-stack-{self.token}:"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def sql_alchemy_conn(self) -> str:
        return f"postgresql+psycopg://{self.postgres}/{self.database}"


def stack_env(settings: StackSettings) -> dict[str, str]:
    """The environment every process of the stack shares (secrets generated per stack)."""
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        AIRFLOW_HOME=str(settings.home),
        AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=settings.sql_alchemy_conn,
        # Airflow derives its async URL as postgresql+asyncpg, a driver not installed here:
        # psycopg 3 is async too.
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC=settings.sql_alchemy_conn.replace(
            "+psycopg:", "+psycopg_async:"
        ),
        AIRFLOW__CELERY__BROKER_URL=settings.redis_url,
        AIRFLOW__CELERY__RESULT_BACKEND=f"db+{settings.sql_alchemy_conn}",
        # Every broker key of this stack starts with its own prefix: two stacks (or test runs)
        # on one Redis server never take each other's tasks.
        AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX=settings.key_prefix,
        AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT="86400",
        AIRFLOW__CORE__FERNET_KEY=Fernet.generate_key().decode(),
        AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_urlsafe(32),
        AIRFLOW__API__SECRET_KEY=secrets.token_urlsafe(32),
        AIRFLOW__API__BASE_URL=settings.api_url,
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(settings.api_port),
        AIRFLOW__API__WORKERS="1",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{settings.api_url}/execution/",
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="True",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(settings.home / "passwords.json"),
        AIRFLOW__CORE__HOSTNAME_CALLABLE="pipelines.worker_name.worker_hostname",
    )
    # A scheduler-run deployment has a run deadline (the DAG has none without the variable).
    if not env.get("GOLDEN_RUN_DEADLINE_MINUTES", "").strip():
        env["GOLDEN_RUN_DEADLINE_MINUTES"] = str(RUN_DEADLINE_MINUTES)
    env.update(settings.extra_env)
    return env


def stack_commands(settings: StackSettings) -> dict[str, list[str]]:
    """Process name -> command line, for every long-running process of the stack."""
    airflow = str(BIN / "airflow")
    commands = {
        "api-server": [
            airflow,
            "api-server",
            "--host",
            "127.0.0.1",
            "--port",
            str(settings.api_port),
        ],
        "scheduler": [airflow, "scheduler"],
        "dag-processor": [airflow, "dag-processor"],
    }
    if settings.triggerer:
        commands["triggerer"] = [airflow, "triggerer"]
    for name in settings.workers:
        commands[name] = [
            airflow,
            "celery",
            "worker",
            "--celery-hostname",
            f"{name}@%h",
            "--concurrency",
            str(settings.worker_concurrency),
        ]
    return commands


def wait_for(
    condition: Callable[[], Any],
    what: str,
    timeout: float,
    alive: Callable[[], None] = lambda: None,
    interval: float = 0.5,
) -> Any:
    """Poll ``condition`` until it returns something truthy; ``alive`` raises when the stack
    died meanwhile, so a crash is reported at once instead of after the whole timeout."""
    deadline = time.monotonic() + timeout
    stop = threading.Event()
    while True:
        alive()
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise StackError(f"timed out after {timeout:.0f} s waiting for {what}")
        stop.wait(interval)


class ApiClient:
    """The Airflow 3 REST API (``/api/v2``) as the admin user of the simple auth manager."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url
        self._login = {"username": username, "password": password}
        self._token: str | None = None

    def _request(self, method: str, path: str, body: Any = None, auth: bool = True) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token()}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.base_url}{path}", data=data, headers=headers, method=method
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def token(self) -> str:
        if self._token is None:
            answer = self._request("POST", "/auth/token", self._login, auth=False)
            self._token = str(answer["access_token"])
        return self._token

    def get(self, path: str) -> Any:
        return self._request("GET", f"/api/v2{path}")

    def health(self) -> dict[str, Any] | None:
        """``/api/v2/monitor/health`` (no login), or None while the server is not up."""
        try:
            return self._request("GET", "/api/v2/monitor/health", auth=False)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None

    def dag(self, dag_id: str) -> dict[str, Any] | None:
        """The DAG as the API knows it, or None until the dag-processor has stored it."""
        try:
            return self.get(f"/dags/{dag_id}")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise

    def unpause(self, dag_id: str) -> None:
        self._request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        """Create a manual DAG run; returns its Airflow run id."""
        run = self._request(
            "POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf}
        )
        return str(run["dag_run_id"])

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.get(f"/dags/{dag_id}/dagRuns/{run_id}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        answer = self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=1000")
        return list(answer["task_instances"])


def healthy(health: dict[str, Any] | None, components: tuple[str, ...]) -> bool:
    return bool(health) and all(
        (health.get(name) or {}).get("status") == "healthy" for name in components
    )


class LocalStack:
    """Start the stack; stop every process of it and drop its database and keys on exit."""

    def __init__(self, settings: StackSettings, keep: bool = False) -> None:
        self.settings = settings
        self.keep = keep
        self.env = stack_env(settings)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs = settings.home / "processes"
        self.api = ApiClient(settings.api_url, "admin", settings.admin_password)

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 600) -> None:
        settings = self.settings
        settings.home.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        self._write_password_file()
        self._create_database()
        migrate = self.logs / "db-migrate.log"
        with migrate.open("wb") as out:
            done = subprocess.run(
                [str(BIN / "airflow"), "db", "migrate"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        if done.returncode != 0:
            raise StackError(f"airflow db migrate failed:\n{tail(migrate)}")
        for name, command in stack_commands(settings).items():
            env = dict(self.env)
            if name in settings.workers:
                env["GOLDEN_WORKER_NAME"] = name
                # Each worker serves its task logs on a port of its own.
                env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(free_port())
            if name == "triggerer":
                env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(free_port())
            with (self.logs / f"{name}.log").open("wb") as out:
                # A session of its own: stop() ends the process with all its children.
                self.processes[name] = subprocess.Popen(
                    command,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    cwd=settings.home,
                )
        components = ("metadatabase", "scheduler", "dag_processor")
        if settings.triggerer:
            components += ("triggerer",)
        wait_for(
            lambda: healthy(self.api.health(), components),
            "the api-server to report " + ", ".join(components) + " healthy",
            timeout,
            self.check_alive,
        )
        for name in settings.workers:
            wait_for(
                lambda name=name: (
                    f"{name}@" in (text := read(self.logs / f"{name}.log")) and " ready." in text
                ),
                f"Celery worker {name} to be ready",
                timeout,
                self.check_alive,
            )
        logger.info("stack up: %s (processes logs in %s)", settings.api_url, self.logs)

    def check_alive(self) -> None:
        """Raise, with the end of its output, when a process of the stack has exited."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise StackError(
                    f"{name} exited with {process.returncode}:\n{tail(self.logs / f'{name}.log')}"
                )

    def stop(self) -> None:
        """Terminate every process group started, then kill what is left; drop the state."""
        for process in self.processes.values():
            _signal_group(process, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                logger.warning("process %s did not stop on SIGTERM: killing it", process.args)
            # Children (task runners, uvicorn and Celery pool processes) may outlive the leader.
            _signal_group(process, signal.SIGKILL)
            if process.poll() is None:
                process.wait(timeout=30)
        self.processes.clear()
        if not self.keep:
            self._drop_database()
            self._delete_broker_keys()

    # -- state -----------------------------------------------------------------------------

    def _write_password_file(self) -> None:
        path = self.settings.home / "passwords.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"admin": self.settings.admin_password}, handle)

    def _admin_connection(self) -> Any:
        import psycopg

        user, _, address = self.settings.postgres.partition("@")
        host, _, port = address.partition(":")
        return psycopg.connect(
            host=host, port=int(port or 5432), user=user, dbname="postgres", autocommit=True
        )

    def _create_database(self) -> None:
        from psycopg import sql

        with self._admin_connection() as conn:
            name = sql.Identifier(self.settings.database)
            conn.execute(sql.SQL("CREATE DATABASE {}").format(name))

    def _drop_database(self) -> None:
        from psycopg import sql

        with self._admin_connection() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(self.settings.database)
                )
            )

    def _delete_broker_keys(self) -> None:
        import redis

        client = redis.Redis.from_url(self.settings.redis_url)
        try:
            keys = list(client.scan_iter(match=f"{self.settings.key_prefix}*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def tail(path: Path, lines: int = 60) -> str:
    return "\n".join(read(path).splitlines()[-lines:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=ROOT / "examples" / "config.yaml")
    parser.add_argument("--home", type=Path, default=ROOT / ".airflow" / "stack")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the database and broker keys")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = StackSettings(
        home=args.home.resolve(),
        api_port=args.port,
        workers=tuple(f"worker{i}" for i in range(1, args.workers + 1)),
        worker_concurrency=2,
        triggerer=True,
        extra_env={
            "GOLDEN_CONFIG": str(args.config.resolve()),
            "GOLDEN_SCHEDULE": os.environ.get("GOLDEN_SCHEDULE", "none"),
            "GOLDEN_MAINTENANCE_SCHEDULE": os.environ.get("GOLDEN_MAINTENANCE_SCHEDULE", "none"),
        },
    )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        with LocalStack(settings, keep=args.keep) as stack:
            sys.stdout.write(
                f"Airflow UI and API: {settings.api_url}  (user admin, password "
                f"{settings.admin_password})\nmetadata database {settings.database}, broker "
                f"keys {settings.key_prefix}*, logs in {stack.logs}\nCtrl-C stops the stack.\n"
            )
            sys.stdout.flush()
            while not stopped.wait(2):
                stack.check_alive()
    except KeyboardInterrupt:
        pass
    except StackError as exc:
        logger.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
