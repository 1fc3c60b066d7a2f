"""A real multi-worker deployment: Airflow 3 with the CeleryExecutor on the PostgreSQL and Redis
servers at 127.0.0.1, an api-server, a scheduler, a dag-processor and two Celery workers as
separate processes (``scripts/airflow_stack.py``, what ``make stack`` starts). The DAG is
triggered through the REST API; the run must succeed, its mapped source tasks must have run on
both workers, and the golden tables must be published and backed up.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import skip_or_fail

from pipelines.s3server import S3Endpoint
from scripts.airflow_stack import LocalStack, StackSettings, tail, wait_for

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.s3, pytest.mark.postgres]

ROOT = Path(__file__).parents[1]
DAG_ID = "customer_golden_records"
GOLDEN_TABLES = ("golden_customers", "customer_xref", "golden_field_provenance", "golden_changes")
WORKERS = ("worker1", "worker2")
# Generous: on a busy 2-core machine every task is a fresh process importing the pipeline.
STARTUP_TIMEOUT = 900
RUN_TIMEOUT = 2400


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def services(postgres_dsn: str) -> None:
    """PostgreSQL (from conftest) and Redis on 127.0.0.1, or skip (fail under CI=true)."""
    if not _listening(6379):
        skip_or_fail("Redis is not listening on 127.0.0.1:6379")
    try:
        import celery  # noqa: F401
        import redis

        redis.Redis(host="127.0.0.1", port=6379, socket_timeout=5).ping()
    except ImportError as exc:
        skip_or_fail(f"the celery extra is not installed (make install): {exc}")
    except redis.RedisError as exc:
        skip_or_fail(f"cannot reach Redis at 127.0.0.1:6379: {exc}")


@pytest.fixture
def example(tmp_path: Path, s3_env: S3Endpoint, s3_bucket: str) -> dict[str, Any]:
    """The bundled example copied to a temp dir; its warehouse ours, its backup on the test
    S3 server (through GOLDEN_S3_ENDPOINT, as in the docker stack)."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    shutil.copytree(ROOT / "expectations", tmp_path / "expectations")
    config_path = tmp_path / "examples" / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config.setdefault("warehouse", {})["path"] = str(tmp_path / "warehouse")
    backup = config.setdefault("backup", {})
    backup.pop("local_server_dir", None)
    backup.update(enabled=True, bucket=s3_bucket, endpoint_url=None)
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    env = dict(s3_env.env())
    if key_env := backup.get("client_side_key_env"):  # the example encrypts its backups
        env[key_env] = base64.b64encode(os.urandom(32)).decode()
    env.update(GOLDEN_CONFIG=str(config_path), GOLDEN_SCHEDULE="none")
    env["GOLDEN_MAINTENANCE_SCHEDULE"] = "none"
    return {"config_path": config_path, "config": config, "env": env, "tmp": tmp_path}


def test_dag_runs_on_two_celery_workers_and_publishes(
    services: None, example: dict[str, Any]
) -> None:
    settings = StackSettings(
        home=example["tmp"] / "airflow-home", workers=WORKERS, extra_env=example["env"]
    )
    with LocalStack(settings) as stack:
        api = stack.api
        logs = stack.logs

        def explain(message: str) -> str:
            names = ["scheduler", *WORKERS]
            return message + "".join(
                f"\n--- {name}.log ---\n{tail(logs / f'{name}.log', 40)}" for name in names
            )

        wait_for(lambda: api.dag(DAG_ID), f"the DAG {DAG_ID}", STARTUP_TIMEOUT, stack.check_alive)
        assert api.get("/importErrors")["total_entries"] == 0
        api.unpause(DAG_ID)
        run_id = api.trigger(DAG_ID, {"config_path": str(example["config_path"])})

        run = wait_for(
            lambda: (r := api.dag_run(DAG_ID, run_id))["state"] in ("success", "failed") and r,
            f"DAG run {run_id} to finish",
            RUN_TIMEOUT,
            stack.check_alive,
            interval=2,
        )
        tis = api.task_instances(DAG_ID, run_id)
        states = {(t["task_id"], t["map_index"]): t["state"] for t in tis}
        assert run["state"] == "success", explain(f"run failed: {json.dumps(states, default=str)}")

        # Every task ran on a Celery worker, and the sources were spread over both of them.
        sources = [s["name"] for s in example["config"]["sources"]]
        mapped = [t for t in tis if t["task_id"] == "ingest_and_validate"]
        assert sorted(t["map_index"] for t in mapped) == list(range(len(sources)))
        assert all(t["state"] == "success" for t in tis), states
        assert {t["hostname"] for t in tis} <= set(WORKERS), {t["hostname"] for t in tis}
        assert {t["hostname"] for t in mapped} == set(WORKERS), [
            (t["map_index"], t["hostname"]) for t in mapped
        ]

    # The stack is gone: no process left, its metadata database dropped.
    assert not stack.processes
    import psycopg

    with psycopg.connect("host=127.0.0.1 port=5432 dbname=postgres user=postgres") as conn:
        left = conn.execute(
            "select 1 from pg_database where datname = %s", (settings.database,)
        ).fetchall()
    assert left == []

    # The golden tables were published (Parquet and DuckDB) and backed up.
    warehouse = Path(example["config"]["warehouse"]["path"])
    (run_folder,) = (warehouse / "runs").iterdir()
    manifest = json.loads((run_folder / "run.json").read_text())
    assert manifest["status"] == "succeeded", manifest.get("error")
    for table in GOLDEN_TABLES:
        assert (warehouse / "published" / "current" / f"{table}.parquet").is_file(), table
    import duckdb

    with duckdb.connect(str(warehouse / "golden.duckdb"), read_only=True) as db:
        golden = db.execute("select count(*) from golden_customers").fetchone()[0]
        xref = db.execute("select count(*) from customer_xref").fetchone()[0]
    assert 0 < golden <= xref
    assert manifest["golden_records"] == golden
    assert manifest["run_id"] in manifest["backup_uri"]
