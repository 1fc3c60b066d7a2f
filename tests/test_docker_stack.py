"""The docker stack is wired as documented: there is no Docker engine here, so the compose file,
the Dockerfile and the init script are checked as data and, for the init script, run for real
against a SQLite metadata DB and the local SeaweedFS server."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import posixpath
import re
import shlex
import subprocess
import sys
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any

import pytest
import yaml

from pipelines.s3server import S3Endpoint

ROOT = Path(__file__).parents[1]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "docker-compose.yaml"
DOCKERFILE = DOCKER / "Dockerfile"
ENV_EXAMPLE = DOCKER / ".env.example"

AIRFLOW_SERVICES = {
    "airflow-api-server": ["api-server"],
    "airflow-scheduler": ["scheduler"],
    "airflow-dag-processor": ["dag-processor"],
    "airflow-triggerer": ["triggerer"],
    "airflow-worker-1": ["celery", "worker", "--celery-hostname", "worker1@%h"],
    "airflow-worker-2": ["celery", "worker", "--celery-hostname", "worker2@%h"],
}
WORKERS = ("airflow-worker-1", "airflow-worker-2")
ONE_OFF = ("check-secrets", "airflow-init", "golden-cli")
"""Jobs that run and exit: "completed successfully" is their health, they are not restarted."""


@functools.cache
def load_init_stack() -> ModuleType:
    """docker/init_stack.py as a module (it is a script copied into the image, not a package)."""
    name = "docker_init_stack"
    spec = importlib.util.spec_from_file_location(name, DOCKER / "init_stack.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # its dataclasses resolve their annotations through it
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def env_example() -> dict[str, str]:
    pairs = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def test_compose_has_the_airflow_services_a_database_and_object_storage(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert set(services) == {
        *AIRFLOW_SERVICES,
        *ONE_OFF,
        "postgres",
        "redis",
        "seaweedfs",
        "golden-workspace",
    }
    for name, command in AIRFLOW_SERVICES.items():
        assert services[name]["command"] == command, name
    assert services["redis"]["image"].startswith("redis:")
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["seaweedfs"]["image"].startswith("chrislusf/seaweedfs:")
    seaweed = services["seaweedfs"]["command"]
    assert seaweed[0] == "server" and "-s3" in seaweed


def test_airflow_runs_the_celery_executor_on_postgres_and_redis(compose: dict[str, Any]) -> None:
    for name in [*AIRFLOW_SERVICES, "airflow-init"]:
        env = compose["services"][name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        conn = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert conn.startswith("postgresql+psycopg://") and "@postgres:5432/" in conn
        # Not derived: Airflow would make it postgresql+asyncpg, which is not installed.
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] == conn.replace(
            "+psycopg:", "+psycopg_async:"
        )
        assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://redis:6379/0"
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == f"db+{conn}"
        # Task runners reach the execution API of the api-server service by its service name.
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith(
            "http://airflow-api-server:8080/"
        )
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/golden/dags"
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
        assert env["GOLDEN_S3_ENDPOINT"] == "http://seaweedfs:8333"


def test_services_start_in_order_and_have_healthchecks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in AIRFLOW_SERVICES:
        assert services[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
            "seaweedfs": {"condition": "service_healthy"},
            "airflow-init": {"condition": "service_completed_successfully"},
        }, name
    assert services["airflow-init"]["depends_on"] == {
        "check-secrets": {"condition": "service_completed_successfully"},
        "postgres": {"condition": "service_healthy"},
        "seaweedfs": {"condition": "service_healthy"},
    }
    for name, service in services.items():
        if name in ONE_OFF:  # "completed successfully" is its health; never restarted
            assert "healthcheck" not in service and "restart" not in service, name
            continue
        check = service["healthcheck"]["test"]
        assert check[0] in ("CMD", "CMD-SHELL") and len(check) > 1, name
        assert service.get("restart") == "unless-stopped", name
    assert "8974/health" in " ".join(services["airflow-scheduler"]["healthcheck"]["test"])
    assert "/api/v2/monitor/health" in " ".join(
        services["airflow-api-server"]["healthcheck"]["test"]
    )


def test_workers_record_their_own_resolvable_name_as_task_host(compose: dict[str, Any]) -> None:
    for worker in WORKERS:
        service = compose["services"][worker]
        env = service["environment"]
        assert env["AIRFLOW__CORE__HOSTNAME_CALLABLE"] == "pipelines.worker_name.worker_hostname"
        assert env["GOLDEN_WORKER_NAME"] == service["hostname"] == worker
        assert "inspect ping" in " ".join(service["healthcheck"]["test"])


def test_make_stack_runs_the_same_processes_with_the_same_settings(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    from scripts.airflow_stack import StackSettings, stack_commands, stack_env

    settings = StackSettings(home=tmp_path, triggerer=True)
    local = {k for k in stack_env(settings) if k.startswith("AIRFLOW__")}
    # Only where the processes listen and how the stack shares a Redis server with others.
    host_only = {
        "AIRFLOW__API__HOST",
        "AIRFLOW__API__PORT",
        "AIRFLOW__API__WORKERS",
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX",
    }
    docker = set(compose["services"]["airflow-scheduler"]["environment"])
    assert local - host_only <= docker, sorted(local - host_only - docker)
    commands = {name: command[1:] for name, command in stack_commands(settings).items()}
    for name, command in AIRFLOW_SERVICES.items():
        process = name.removeprefix("airflow-").replace("worker-", "worker")
        assert commands[process][: len(command)] == command, name


def test_named_volumes_are_declared_and_the_warehouse_is_shared(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    used: dict[str, set[str]] = {}
    for name, service in compose["services"].items():
        for mount in service.get("volumes", []):
            source, target = mount.split(":")[:2]
            assert not source.startswith((".", "/")), f"{name} bind-mounts {source}"
            assert source in declared, f"{name} uses undeclared volume {source}"
            used.setdefault(source, set()).add(f"{name}:{target}")
    assert declared == set(used), f"declared but unused: {declared - set(used)}"
    warehouse = used["golden-warehouse"]
    # The Celery workers run the tasks; init checks the volume is writable.
    for worker in WORKERS:
        assert f"{worker}:/var/lib/golden/warehouse" in warehouse
    assert "airflow-init:/var/lib/golden/warehouse" in warehouse
    assert used["postgres-data"] == {"postgres:/var/lib/postgresql/data"}
    assert used["seaweedfs-data"] == {"seaweedfs:/data"}


def test_every_variable_the_compose_file_uses_is_documented_in_env_example(
    compose: dict[str, Any],
) -> None:
    text = COMPOSE.read_text()
    referenced = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))
    required = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*):\?", text))
    documented = env_example()
    assert referenced - set(documented) == set(), "add these to docker/.env.example"
    assert required, "secrets must be required variables"
    for name in required:
        assert documented[name], f"{name} needs a placeholder value in .env.example"
    assert set(documented) - referenced == set(), "unused entries in .env.example"


def test_no_secret_is_written_into_the_compose_file(compose: dict[str, Any]) -> None:
    secretish = re.compile(r"PASSWORD|SECRET|FERNET|ACCESS_KEY|SALT|WEBHOOK")
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if secretish.search(key) and not key.endswith("_FILE"):  # a path, not a secret
                assert str(value).startswith("${"), f"{name}: {key} must come from docker/.env"
    conn = compose["services"]["airflow-scheduler"]["environment"][
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"
    ]
    assert "${POSTGRES_PASSWORD" in conn


def test_images_are_built_from_the_repository_with_the_project_dockerfile(
    compose: dict[str, Any],
) -> None:
    for name in [*AIRFLOW_SERVICES, *ONE_OFF, "golden-workspace"]:
        build = compose["services"][name]["build"]
        context = (COMPOSE.parent / build["context"]).resolve()
        assert context == ROOT, name
        assert (context / build["dockerfile"]).resolve() == DOCKERFILE
        assert build["args"]["EXTRAS"].startswith("${GOLDEN_EXTRAS")


# --- Dockerfile ------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(instruction, arguments) with line continuations joined and comments dropped."""
    joined, current = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#") and not current:
            continue
        current += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            joined.append(current.strip())
            current = ""
    return [(j.split(" ", 1)[0].upper(), j.split(" ", 1)[1]) for j in joined if j]


def pip_installs(commands: list[str]) -> list[list[str]]:
    """Every ``pip install`` command line among shell commands, as argument lists."""
    found = []
    for command in commands:
        for part in re.split(r"&&|;", command):
            words = shlex.split(part.replace("$(BIN)/", "").replace("${EXTRAS}", "EXTRAS"))
            if len(words) >= 2 and words[0] == "pip" and words[1] == "install":
                found.append([w for w in words[2:] if w != "--quiet"])
    return found


def makefile_recipe_commands() -> list[str]:
    """Recipe lines of the Makefile, with shell line continuations dropped."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    return [line.strip().removesuffix("\\").strip() for line in lines if "\t" in line]


def extras_of(args: list[str]) -> tuple[str, set[str]]:
    [target] = [a for a in args if a.startswith(".[") or a.startswith("'.[")]
    inner = target.strip("'").removeprefix(".[").removesuffix("]")
    return target, {e for e in inner.split(",") if e}


def test_dockerfile_installs_like_make_install() -> None:
    instructions = dockerfile_instructions()
    assert ("FROM", "${PYTHON_IMAGE}") in instructions
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim-bookworm") in instructions
    assert ("ARG", "EXTRAS=spark,celery") in instructions
    docker = pip_installs([args for op, args in instructions if op == "RUN"])
    make = pip_installs(makefile_recipe_commands())
    assert ["--upgrade", "pip"] in docker and ["--upgrade", "pip"] in make

    def project(installs: list[list[str]]) -> list[list[str]]:  # not `make bench`'s extra pin
        return [a for a in installs if "-c" in a and any(w.lstrip("'").startswith(".[") for w in a)]

    [docker_project] = project(docker)
    [make_project] = project(make)
    # Same constraints file, same extras except the dev tools, no editable install in an image.
    assert docker_project[docker_project.index("-c") + 1] == "constraints.txt"
    assert make_project[make_project.index("-c") + 1] == "constraints.txt"
    _, make_extras = extras_of(make_project)
    assert "-e" not in docker_project
    assert docker_project[-1] == ".[EXTRAS]"
    assert make_extras - {"dev"} == {"spark", "celery"}


def test_java_is_installed_only_with_the_spark_extra() -> None:
    runs = " ".join(args for op, args in dockerfile_instructions() if op == "RUN")
    match = re.search(r'case ",\$\{EXTRAS\}," in (.*?) esac', runs)
    assert match, "the JRE install must be conditional on EXTRAS"
    assert re.search(r"\*,spark,\*\) apt-get install .*openjdk-\d+-jre-headless", match.group(1))
    assert runs.count("openjdk") == 1


def test_everything_the_dockerfile_copies_exists_and_passes_the_ignore_file() -> None:
    copies = [args.split() for op, args in dockerfile_instructions() if op == "COPY"]
    sources = [src for *srcs, _dest in copies for src in srcs]
    assert {"pyproject.toml", "constraints.txt", "pipelines", "matching", "dags"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: missing from the repository"
    allowed = {
        line.removeprefix("!").rstrip("/")
        for line in (DOCKER / "Dockerfile.dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    assert set(sources) <= allowed, f"not in Dockerfile.dockerignore: {set(sources) - allowed}"


def test_image_entrypoint_runs_airflow_as_an_unprivileged_user() -> None:
    instructions = dict(dockerfile_instructions())
    assert instructions["USER"] == "50000:0"
    assert json.loads(instructions["ENTRYPOINT"]) == ["/usr/bin/tini", "--", "airflow"]


# --- the stack's pipeline config ------------------------------------------------------------


def test_stack_config_loads_and_puts_the_warehouse_on_the_volume(compose: dict[str, Any]) -> None:
    from pipelines.config import load_config

    config = load_config(DOCKER / "config.yaml")
    assert config.warehouse.path == Path("/var/lib/golden/warehouse")
    env = compose["services"]["airflow-scheduler"]["environment"]
    assert env["GOLDEN_CONFIG"] == "/opt/golden/config.yaml"
    assert config.backup.access_key_env in env and config.backup.secret_key_env in env
    if config.alerts.slack_webhook_env:
        assert config.alerts.slack_webhook_env in env
    assert config.privacy.suppression_salt_env in env


def test_stack_config_reads_the_bundled_sample_as_the_example_does() -> None:
    """docker/config.yaml is /opt/golden/config.yaml in the image, examples/ is beside it."""
    image_root = PurePosixPath("/opt/golden")

    def in_image(base: PurePosixPath, path: str) -> str:
        return posixpath.normpath(str(base / path))

    stack = yaml.safe_load((DOCKER / "config.yaml").read_text())
    example = yaml.safe_load((ROOT / "examples" / "config.yaml").read_text())
    assert [s["name"] for s in stack["sources"]] == [s["name"] for s in example["sources"]]
    for ours, theirs in zip(stack["sources"], example["sources"], strict=True):
        assert in_image(image_root, ours.pop("path")) == in_image(
            image_root / "examples", theirs.pop("path")
        )
        assert ours == theirs, f"source {ours['name']} differs from examples/config.yaml"
    assert in_image(image_root, stack["validation"]["expectations_dir"]) == in_image(
        image_root / "examples", example["validation"]["expectations_dir"]
    )


# --- the init script, for real ---------------------------------------------------------------


def run_init(
    tmp_path: Path, s3: S3Endpoint | None, config: Path, *args: str, **env: str
) -> subprocess.CompletedProcess:
    home = tmp_path / "airflow-home"
    home.mkdir(exist_ok=True)
    child_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "GOLDEN_"))},
        **(s3.env() if s3 else {}),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(tmp_path / "auth" / "pw.json"),
        "GOLDEN_CONFIG": str(config),
        **env,
    }
    return subprocess.run(
        [sys.executable, str(DOCKER / "init_stack.py"), *args],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.s3
def test_init_script_migrates_creates_the_admin_and_the_bucket(
    tmp_path: Path, s3_server: S3Endpoint
) -> None:
    bucket = f"init-{tmp_path.name[-12:].lower().replace('_', '-')}"
    config = minimal_config(tmp_path, backup={"bucket": bucket})
    first = run_init(tmp_path, s3_server, config, AIRFLOW_ADMIN_PASSWORD="s3cret-Admin")
    assert first.returncode == 0, first.stderr[-3000:]
    assert (tmp_path / "airflow-home" / "airflow.db").exists()
    passwords = json.loads((tmp_path / "auth" / "pw.json").read_text())
    assert passwords == {"admin": "s3cret-Admin"}
    assert oct((tmp_path / "auth" / "pw.json").stat().st_mode & 0o777) == "0o600"
    names = [b["Name"] for b in s3_server.client().list_buckets()["Buckets"]]
    assert bucket in names
    assert (tmp_path / "warehouse").is_dir()

    # Idempotent: every `docker compose up` runs it again; a changed password is applied.
    again = run_init(tmp_path, s3_server, config, AIRFLOW_ADMIN_PASSWORD="rotated-Pass")
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((tmp_path / "auth" / "pw.json").read_text()) == {"admin": "rotated-Pass"}


@pytest.mark.s3
def test_init_script_names_a_missing_secret(tmp_path: Path, s3_server: S3Endpoint) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "warehouse": {"path": str(tmp_path / "warehouse")},
                "sources": [
                    {
                        "name": "crm",
                        "kind": "file",
                        "path": "crm.csv",
                        "id_column": "id",
                        "mapping": {"email": "email"},
                    }
                ],
            }
        )
    )
    result = run_init(tmp_path, s3_server, config, AIRFLOW_ADMIN_PASSWORD="")
    assert result.returncode == 1
    assert "AIRFLOW_ADMIN_PASSWORD is not set" in result.stderr
    assert not (tmp_path / "auth" / "pw.json").exists()


def test_stewards_reach_the_workspace_on_the_warehouse_volume(compose: dict[str, Any]) -> None:
    workspace = compose["services"]["golden-workspace"]
    assert workspace["entrypoint"][-1] == "golden"
    command = workspace["command"]
    assert command[:3] == ["serve", "--config", "/opt/golden/config.yaml"]
    assert "golden-warehouse:/var/lib/golden/warehouse" in workspace["volumes"]
    # Published on loopback only: a reverse proxy with TLS is the way in from outside.
    assert all(port.startswith("127.0.0.1:") for port in workspace["ports"])
    assert "COPY workspace ./workspace" in (DOCKER / "Dockerfile").read_text()


# --- secrets: placeholders never reach a service ---------------------------------------------


def minimal_config(tmp_path: Path, **extra: object) -> Path:
    """A pipeline config of one CSV source, backups off unless ``extra`` configures them (the
    init script then needs no object store)."""
    config = tmp_path / "config.yaml"
    source = {
        "name": "crm",
        "kind": "file",
        "path": "crm.csv",
        "id_column": "id",
        "mapping": {"email": "email"},
    }
    body = {"warehouse": {"path": str(tmp_path / "warehouse")}, "sources": [source], **extra}
    config.write_text(yaml.safe_dump(body))
    return config


def generated_secrets() -> dict[str, str]:
    """Values made the way docker/.env.example says to make them."""
    import secrets

    from cryptography.fernet import Fernet

    values = {s.name: secrets.token_urlsafe(32) for s in load_init_stack().SECRETS}
    values["AIRFLOW_FERNET_KEY"] = Fernet.generate_key().decode()
    return values


def test_the_secret_check_covers_every_change_me_entry_of_env_example(
    compose: dict[str, Any],
) -> None:
    names = {s.name for s in load_init_stack().SECRETS}
    assert names == {k for k, v in env_example().items() if v == "CHANGE-ME"}
    env = compose["services"]["check-secrets"]["environment"]
    assert env == {name: f"${{{name}:?set {name} in docker/.env}}" for name in names}
    assert compose["services"]["check-secrets"]["command"] == [
        "python",
        "/opt/golden/init_stack.py",
        "--check-secrets",
    ]


def test_placeholder_secrets_from_env_example_stop_the_stack_with_each_variable_named(
    tmp_path: Path,
) -> None:
    """docker/.env copied from the example and not edited: every secret is refused."""
    placeholders = {k: v for k, v in env_example().items() if v == "CHANGE-ME"}
    result = run_init(tmp_path, None, minimal_config(tmp_path), "--check-secrets", **placeholders)
    assert result.returncode == 1, result.stderr[-3000:]
    for name in placeholders:
        [line] = [x for x in result.stderr.splitlines() if f" {name} in docker/.env" in x]
        assert "must be replaced: it is the placeholder 'CHANGE-ME'" in line
        assert "generate one with: python -c" in line
    fernet_line = next(x for x in result.stderr.splitlines() if "AIRFLOW_FERNET_KEY" in x)
    assert "Fernet.generate_key()" in fernet_line
    assert not (tmp_path / "airflow-home" / "airflow.db").exists()


def test_generated_secrets_pass_the_check(tmp_path: Path) -> None:
    values = generated_secrets()
    result = run_init(tmp_path, None, minimal_config(tmp_path), "--check-secrets", **values)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"the {len(values)} secrets of docker/.env are set" in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("POSTGRES_PASSWORD", "changeme", "it is the placeholder 'changeme'"),
        ("AIRFLOW_JWT_SECRET", "Change_Me", "it is the placeholder 'Change_Me'"),
        ("AIRFLOW_API_SECRET_KEY", "<change me>", "it is the placeholder '<change me>'"),
        ("S3_SECRET_KEY", "CHANGE-ME-to-something-random-please", "placeholder"),
        ("AIRFLOW_ADMIN_PASSWORD", "password", "it is the placeholder 'password'"),
        ("S3_ACCESS_KEY", "admin", "it is the placeholder 'admin'"),
        ("GOLDEN_SUPPRESSION_SALT", "x" * 40, "one character repeated"),
        ("GOLDEN_SUPPRESSION_SALT", "salty-but-short", "too short (15 characters; at least 32)"),
        ("AIRFLOW_FERNET_KEY", "a-long-random-looking-string-that-is-no-key!", "not a Fernet key"),
        ("AIRFLOW_FERNET_KEY", "c2hvcnQ=", "not a Fernet key"),
        ("POSTGRES_PASSWORD", "", "is not set"),
    ],
)
def test_placeholder_short_and_malformed_secrets_are_refused(
    name: str, value: str, expected: str
) -> None:
    init_stack = load_init_stack()
    problems = init_stack.check_secrets({**generated_secrets(), name: value})
    [problem] = problems
    assert problem.startswith(f"{name} in docker/.env ") and expected in problem
    assert "generate one with:" in problem


def test_init_refuses_a_placeholder_admin_password_before_migrating(tmp_path: Path) -> None:
    """Even run on its own (without check-secrets first), init writes no CHANGE-ME password."""
    result = run_init(tmp_path, None, minimal_config(tmp_path), AIRFLOW_ADMIN_PASSWORD="CHANGE-ME")
    assert result.returncode == 1
    assert "AIRFLOW_ADMIN_PASSWORD must be replaced in docker/.env" in result.stderr
    assert "placeholder 'CHANGE-ME'" in result.stderr
    assert not (tmp_path / "auth" / "pw.json").exists()
    assert not (tmp_path / "airflow-home" / "airflow.db").exists()


def depends_on_closure(services: dict[str, Any], name: str) -> set[str]:
    seen: set[str] = set()
    todo = [name]
    while todo:
        for dependency in services[todo.pop()].get("depends_on") or {}:
            if dependency not in seen:
                seen.add(dependency)
                todo.append(dependency)
    return seen


def test_every_service_that_reads_a_secret_waits_for_the_secret_check(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    secret_refs = [f"${{{s.name}" for s in load_init_stack().SECRETS]
    readers = {
        name
        for name, service in services.items()
        if name != "check-secrets" and any(ref in json.dumps(service) for ref in secret_refs)
    }
    # The database and the object store start with secrets too, before airflow-init can run.
    assert {"postgres", "seaweedfs", "airflow-init", "golden-workspace", "golden-cli"} <= readers
    assert set(AIRFLOW_SERVICES) <= readers
    for name in readers:
        assert "check-secrets" in depends_on_closure(services, name), name
    for name, service in services.items():
        edge = (service.get("depends_on") or {}).get("check-secrets")
        if edge is not None:
            assert edge == {"condition": "service_completed_successfully"}, name
    assert not services["check-secrets"].get("depends_on")


# --- golden commands in the stack, as docs/airflow.md gives them -----------------------------


def documented_compose_commands() -> list[list[str]]:
    """Every ``docker compose ... exec|run ...`` command in docs/airflow.md's code blocks, as
    argument lists (continuation lines joined, comments dropped)."""
    text = (ROOT / "docs" / "airflow.md").read_text()
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words[:2] == ["docker", "compose"] and {"exec", "run"} & set(words):
                commands.append(words)
    return commands


def split_compose_command(words: list[str]) -> tuple[str, dict[str, str | None], str, list[str]]:
    """(verb, its options, service, the command run in the container)."""
    rest = words[2:]
    while rest[0] not in ("exec", "run"):  # global options: -f FILE, --env-file FILE
        rest = rest[2:] if rest[0] in ("-f", "--file", "--env-file") else rest[1:]
    verb, rest = rest[0], rest[1:]
    options: dict[str, str | None] = {}
    while rest[0].startswith("-"):
        if rest[0] in ("-u", "--user", "-e", "--env", "-w", "--workdir", "--entrypoint"):
            options[rest[0]], rest = rest[1], rest[2:]
        else:
            options[rest[0]], rest = None, rest[1:]
    return verb, options, rest[0], rest[1:]


def golden_command_path(argv: list[str]) -> list[str]:
    """The (sub)command names of a golden command line, checked against the real CLI."""
    import typer

    from pipelines.cli import app

    command: Any = typer.main.get_command(app)  # a group: it has subcommands
    path: list[str] = []
    for word in argv:
        if not hasattr(command, "commands"):
            break
        sub = command.commands.get(word)
        assert sub is not None, f"golden {' '.join(path)} has no command {word!r}"
        command, path = sub, [*path, word]
    assert path and not hasattr(command, "commands"), f"golden {argv}: not a complete command"
    return path


def test_documented_golden_commands_use_stack_services_with_the_config_and_warehouse(
    compose: dict[str, Any],
) -> None:
    commands = documented_compose_commands()
    assert commands, "docs/airflow.md shows no docker compose exec/run command"
    services = compose["services"]
    warehouse = str(yaml.safe_load((DOCKER / "config.yaml").read_text())["warehouse"]["path"])
    image_config = re.search(r"GOLDEN_CONFIG=(\S+)", DOCKERFILE.read_text())
    assert image_config
    covered = set()
    for words in commands:
        verb, options, service_name, argv = split_compose_command(words)
        line = " ".join(words)
        assert service_name in services, f"{line}: no service {service_name!r}"
        service = services[service_name]
        if verb == "exec":
            assert argv[0] == "golden", line
            argv = argv[1:]
        else:
            assert service["entrypoint"][-1] == "golden", line
            assert "--rm" in options, f"{line}: a one-off container must be removed"
        # The config the service is given, the one the image carries, and the documented one.
        assert service["environment"]["GOLDEN_CONFIG"] == image_config.group(1), service_name
        if "--config" in argv:
            assert argv[argv.index("--config") + 1] == service["environment"]["GOLDEN_CONFIG"]
        assert f"golden-warehouse:{warehouse}" in service["volumes"], line
        # The workers' user: never root, which would leave files the workers cannot rewrite.
        user = options.get("-u") or options.get("--user") or service.get("user") or "50000:0"
        assert user == "50000:0", line
        path = golden_command_path(argv)
        if path[0] in ("backup", "restore", "forget"):  # these reach the object store
            assert service["environment"]["GOLDEN_S3_ENDPOINT"] == "http://seaweedfs:8333", line
        covered.add(path[0])
    assert {"review", "run", "backup", "restore", "forget", "users"} <= covered


def test_the_golden_cli_service_runs_as_the_workers_with_their_pipeline_environment(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    cli = services["golden-cli"]
    worker = services["airflow-worker-1"]
    pipeline_env = {k: v for k, v in worker["environment"].items() if not k.startswith("AIRFLOW")}
    pipeline_env.pop("GOLDEN_WORKER_NAME")
    assert cli["environment"] == pipeline_env
    assert not any(k.startswith("AIRFLOW") for k in cli["environment"])  # no database password
    assert cli["profiles"] == ["cli"]  # `up` does not start it; `run` does
    assert cli["user"] == dict(dockerfile_instructions())["USER"] == "50000:0"


# --- the run deadline: the same default in both stacks ----------------------------------------


def test_both_stacks_have_the_same_default_run_deadline(
    compose: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scripts.airflow_stack import RUN_DEADLINE_MINUTES, StackSettings, stack_env

    assert env_example()["GOLDEN_RUN_DEADLINE_MINUTES"] == str(RUN_DEADLINE_MINUTES)
    for name in [*AIRFLOW_SERVICES, "airflow-init"]:
        env = compose["services"][name]["environment"]
        assert env["GOLDEN_RUN_DEADLINE_MINUTES"] == (
            f"${{GOLDEN_RUN_DEADLINE_MINUTES:-{RUN_DEADLINE_MINUTES}}}"
        ), name
    monkeypatch.delenv("GOLDEN_RUN_DEADLINE_MINUTES", raising=False)
    assert stack_env(StackSettings(home=tmp_path))["GOLDEN_RUN_DEADLINE_MINUTES"] == "480"
    # An exported value wins, as a value in docker/.env does.
    monkeypatch.setenv("GOLDEN_RUN_DEADLINE_MINUTES", "90")
    assert stack_env(StackSettings(home=tmp_path))["GOLDEN_RUN_DEADLINE_MINUTES"] == "90"
