"""The real DAG, end to end, on the bundled sample with the local SeaweedFS server: a good run
publishes and backs up the golden tables; a run with one broken source keeps the other sources'
work and fails with a message naming the source.

Airflow runs in a child process under a temporary AIRFLOW_HOME with a SQLite metadata database,
exactly as docs/airflow.md tells a user to run it locally.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipelines.s3server import S3Endpoint

pytestmark = [pytest.mark.airflow, pytest.mark.slow, pytest.mark.s3]

ROOT = Path(__file__).parents[1]
DAGS = ROOT / "dags"
DAG_ID = "customer_golden_records"
GOLDEN_TABLES = ("golden_customers", "customer_xref", "golden_field_provenance", "golden_changes")
RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")

# dag.test() in a child process, with the retry delays shortened (the retries themselves stay:
# a failing source is retried for real, and every try must reuse the same pipeline run id).
DAG_TEST = r"""
import json, sys
from datetime import datetime, timedelta
from airflow.dag_processing.dagbag import BundleDagBag
bag = BundleDagBag(dag_folder=sys.argv[1], bundle_path=sys.argv[1], bundle_name="dags-folder")
assert not bag.import_errors, bag.import_errors
dag = bag.dags[sys.argv[2]]
for task in dag.tasks:
    task.retry_delay = timedelta(seconds=1)
    task.max_retry_delay = timedelta(seconds=2)
# An optional fixed logical date: dag.test() then replaces the DAG run of that date with one of
# the same Airflow run id, which is what a clear-and-rerun of the whole run amounts to.
at = datetime.fromisoformat(sys.argv[4]) if len(sys.argv) > 4 else None
kwargs = {"logical_date": at, "run_after": at} if at else {}
run = dag.test(run_conf=json.loads(sys.argv[3]), **kwargs)
tis = [
    {"task_id": ti.task_id, "map_index": ti.map_index, "state": str(ti.state),
     "try_number": ti.try_number, "label": ti.rendered_map_index}
    for ti in run.get_task_instances()
]
print("DAG-TEST-JSON " + json.dumps({"state": str(run.state), "tis": tis}))
"""


def airflow_env(home: Path, s3: S3Endpoint) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "GOLDEN_"))}
    env.update(s3.env())
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
        AIRFLOW__CORE__UNIT_TEST_MODE="True",
    )
    return env


def run(args: list[str], env: dict[str, str], log: Path) -> subprocess.CompletedProcess:
    with log.open("w") as out:
        proc = subprocess.run(
            args, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=1500, check=False
        )
    return subprocess.CompletedProcess(proc.args, proc.returncode, log.read_text(), "")


@pytest.fixture
def deployment(tmp_path: Path, s3_env: S3Endpoint, s3_bucket: str) -> dict[str, Any]:
    """The bundled example copied to a temp dir, its warehouse and backup bucket ours."""
    example = ROOT / "examples" / "config.yaml"
    if not example.exists():
        pytest.fail("examples/config.yaml is missing: the bundled sample is part of the product")
    # Keep the repository's relative layout so paths such as ../expectations still resolve.
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    if (ROOT / "expectations").is_dir():
        shutil.copytree(ROOT / "expectations", tmp_path / "expectations")
    config_path = tmp_path / "examples" / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config.setdefault("warehouse", {})["path"] = str(tmp_path / "warehouse")
    backup = config.setdefault("backup", {})
    backup.update(enabled=True, bucket=s3_bucket, endpoint_url=None)
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    home = tmp_path / "airflow-home"
    home.mkdir()
    env = airflow_env(home, s3_env)
    if key_env := backup.get("client_side_key_env"):  # the example encrypts its backups
        import base64

        env[key_env] = base64.b64encode(os.urandom(32)).decode()
    migrated = run(["airflow", "db", "migrate"], env, tmp_path / "migrate.log")
    assert migrated.returncode == 0, migrated.stdout[-3000:]
    return {
        "config_path": config_path,
        "config": config,
        "warehouse": tmp_path / "warehouse",
        "env": env,
        "home": home,
        "tmp": tmp_path,
        "s3": s3_env,
        "bucket": s3_bucket,
    }


def dag_test(
    deployment: dict[str, Any], logical_date: str | None = None, log_name: str = "dag.log"
) -> tuple[subprocess.CompletedProcess, dict[str, Any]]:
    """Run the DAG once with dag.test(); returns the output and the run's task states."""
    conf = json.dumps({"config_path": str(deployment["config_path"])})
    # A script file, not ``python -c``: PySpark (imported by GX) exits a process whose
    # ``__main__`` has no file, taking it for a doctest run.
    script = deployment["tmp"] / "dag_test.py"
    script.write_text(DAG_TEST)
    args = [sys.executable, str(script), str(DAGS), DAG_ID, conf]
    result = run(
        args + ([logical_date] if logical_date else []),
        deployment["env"],
        deployment["tmp"] / log_name,
    )
    assert result.returncode == 0, result.stdout[-6000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("DAG-TEST-JSON "))
    return result, json.loads(line.removeprefix("DAG-TEST-JSON "))


def _keys(deployment: dict[str, Any]) -> list[str]:
    """Every object key in the deployment's backup bucket."""
    pages = (
        deployment["s3"]
        .client()
        .get_paginator("list_objects_v2")
        .paginate(Bucket=deployment["bucket"])
    )
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def run_manifest(warehouse: Path) -> dict[str, Any]:
    runs = sorted((warehouse / "runs").iterdir())
    assert len(runs) == 1, f"one DAG run must use one run folder, found {[r.name for r in runs]}"
    return json.loads((runs[0] / "run.json").read_text())


def stage_records(warehouse: Path, run_id: str) -> dict[str, dict[str, Any]]:
    folder = warehouse / "runs" / run_id / "stages"
    return {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}


def test_dag_publishes_and_backs_up_the_golden_tables(deployment: dict[str, Any]) -> None:
    env, warehouse = deployment["env"], deployment["warehouse"]
    conf = json.dumps({"config_path": str(deployment["config_path"])})
    result = run(
        ["airflow", "dags", "test", DAG_ID, "-c", conf], env, deployment["tmp"] / "dag.log"
    )
    assert result.returncode == 0, result.stdout[-6000:]

    manifest = run_manifest(warehouse)
    run_id = manifest["run_id"]
    assert RUN_ID.match(run_id)
    assert manifest["status"] == "succeeded", manifest.get("error")
    records = stage_records(warehouse, run_id)
    sources = [s["name"] for s in deployment["config"]["sources"]]
    expected = {f"{stage}.{s}" for s in sources for stage in ("ingest", "validate_source")}
    expected |= {"standardise", "validate_staged", "data_docs", "gate", "match", "golden"}
    expected |= {"publish", "backup"}
    assert set(records) == expected
    assert all(r["status"] == "succeeded" for r in records.values())

    # The golden tables, as Parquet and in the DuckDB database.
    current = warehouse / "published" / "current"
    for table in GOLDEN_TABLES:
        assert (current / f"{table}.parquet").is_file(), table
    import duckdb

    with duckdb.connect(str(warehouse / "golden.duckdb"), read_only=True) as db:
        golden = db.execute("select count(*) from golden_customers").fetchone()[0]
        xref = db.execute("select count(*) from customer_xref").fetchone()[0]
    assert 0 < golden <= xref
    assert manifest["golden_records"] == golden

    # The backup, with its manifest (written last, so its presence means complete).
    keys = _keys(deployment)
    assert any(k.endswith(f"{run_id}/manifest.json") for k in keys), keys[:20]
    assert run_id in manifest["backup_uri"]

    # publish emitted the golden table assets, naming the run for downstream DAGs.
    with sqlite3.connect(deployment["home"] / "airflow.db") as db:
        events = db.execute(
            "select a.name, e.extra from asset_event e join asset a on a.id = e.asset_id"
        ).fetchall()
    assert {name for name, _ in events} == set(GOLDEN_TABLES)
    assert all(json.loads(extra)["run_id"] == run_id for _, extra in events)

    # The summary went to finish_run's log, and the DAG folder has no import errors.
    assert f"Run {run_id}" in result.stdout and "golden records:" in result.stdout
    errors = run(["airflow", "dags", "list-import-errors"], env, deployment["tmp"] / "errors.log")
    assert errors.returncode == 0 and "customer_golden_records" not in errors.stdout

    # The weekly maintenance on what this run left: the backup verifies, retention keeps it,
    # the Data Docs are rebuilt, the privacy task runs (the example sets no retention period,
    # so it erases nothing).
    maintenance = run(
        ["airflow", "dags", "test", "golden_maintenance", "-c", conf],
        env,
        deployment["tmp"] / "maintenance.log",
    )
    assert maintenance.returncode == 0, maintenance.stdout[-6000:]
    with sqlite3.connect(deployment["home"] / "airflow.db") as db:
        states = dict(
            db.execute(
                "select task_id, state from task_instance where dag_id = 'golden_maintenance'"
            ).fetchall()
        )
    assert states == {
        "verify_latest_backup": "success",
        "apply_backup_retention": "success",
        "rebuild_data_docs": "success",
        "apply_record_retention": "success",
        "refresh_review_due": "success",
        "reconcile_database_sources": "skipped",  # the example has no database source
    }
    assert f"verified backup {run_id}: ok" in maintenance.stdout
    assert (warehouse / "reports" / "data_docs" / "index.html").is_file()
    assert any(k.endswith(f"{run_id}/manifest.json") for k in _keys(deployment))


def test_one_broken_source_keeps_the_others_and_fails_the_run_clearly(
    deployment: dict[str, Any],
) -> None:
    config, warehouse = deployment["config"], deployment["warehouse"]
    sources = {s["name"]: s for s in config["sources"]}
    # A Parquet file that is not Parquet cannot be read at all (a bad CSV or JSON line would
    # only be rejected row by row, which is not a failure of the source).
    broken = next(
        (
            n
            for n, s in sources.items()
            if s.get("kind") == "file"
            and (s.get("format") == "parquet" or str(s.get("path", "")).endswith(".parquet"))
        ),
        None,
    )
    assert broken, "the example needs a Parquet file source to break"
    target = Path(sources[broken]["path"])
    if not target.is_absolute():
        target = deployment["config_path"].parent / target
    files = [target] if target.is_file() else sorted(p for p in target.rglob("*") if p.is_file())
    assert files, f"no files for source {broken} at {target}"
    for path in files:  # readable bytes, but not the format the source declares
        path.write_bytes(b"\x00\x01 this is not customer data \xff\xfe\n" * 3)

    result, outcome = dag_test(deployment)
    assert outcome["state"] == "failed"
    states = {(t["task_id"], t["label"] or t["map_index"]): t for t in outcome["tis"]}

    # The broken source failed after its retries; the others landed and validated.
    failed = states[("ingest_and_validate", broken)]
    assert failed["state"] == "failed" and failed["try_number"] > 1
    for name in sources.keys() - {broken}:
        assert states[("ingest_and_validate", name)]["state"] == "success", name
    for task in ("standardise", "validate_staged", "data_docs", "gate", "match", "golden"):
        assert states[(task, -1)]["state"] == "upstream_failed", task
    assert states[("publish", -1)]["state"] == "upstream_failed"
    assert states[("finish_run", -1)]["state"] == "failed"

    # Every try used the same run folder; the other sources' records and raw batches are kept.
    manifest = run_manifest(warehouse)
    run_id = manifest["run_id"]
    assert manifest["status"] == "failed"
    assert f"ingest[{broken}]" in manifest["error"] and "SourceError" in manifest["error"]
    records = stage_records(warehouse, run_id)
    assert records[f"ingest.{broken}"]["status"] == "failed"
    assert broken in records[f"ingest.{broken}"]["error"]
    for name in sources.keys() - {broken}:
        assert records[f"ingest.{name}"]["status"] == "succeeded", name
        assert records[f"validate_source.{name}"]["status"] == "succeeded", name
        batch = warehouse / "raw" / name / f"batch_id={run_id}"
        assert any(batch.rglob("*.parquet")), f"raw batch of {name} was not kept"
    assert not (warehouse / "published" / "current").exists()
    assert not (warehouse / "golden.duckdb").exists()

    # The operator reads which source failed and why in the run's final task and in the one
    # alert of the run (not one per failed task plus one for the run).
    assert f"run {run_id} failed" in result.stdout
    assert result.stdout.count("ALERT [") == 1, result.stdout.count("ALERT [")
    alert = result.stdout[result.stdout.index("ALERT [") :]
    assert re.match(r"ALERT \[[^\]]+\] customer_golden_records run \S+ failed", alert)
    assert f"ingest[{broken}]" in alert.split("error:", 1)[1]


def test_rerunning_a_dag_run_reuses_its_run_id_and_keeps_the_result(
    deployment: dict[str, Any],
) -> None:
    import duckdb

    warehouse = deployment["warehouse"]
    at = "2026-03-02T02:00:00+00:00"

    def golden_rows() -> list[tuple[Any, ...]]:
        query = (
            "select cast(columns(* exclude (run_id)) as varchar) "
            "from golden_customers order by golden_id"
        )
        with duckdb.connect(str(warehouse / "golden.duckdb"), read_only=True) as db:
            return db.execute(query).fetchall()

    _, first = dag_test(deployment, at, "first.log")
    assert first["state"] == "success", first
    run_id = run_manifest(warehouse)["run_id"]
    assert run_id.startswith("20260302T020000Z-")  # the logical date, not the wall clock
    before = golden_rows()

    result, second = dag_test(deployment, at, "second.log")
    assert second["state"] == "success", result.stdout[-6000:]
    manifest = run_manifest(warehouse)  # still exactly one run folder
    assert manifest["run_id"] == run_id and manifest["status"] == "succeeded"
    after = golden_rows()
    changed = sorted(set(before) ^ set(after))
    assert after == before, f"{len(changed)} golden rows differ after the rerun: {changed[:6]}"
    assert sorted(p.name for p in (warehouse / "published" / "versions").iterdir()) == [run_id]
    assert [p.name for p in (warehouse / "raw" / "crm").iterdir()] == [f"batch_id={run_id}"]
