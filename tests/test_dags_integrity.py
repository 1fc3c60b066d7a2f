"""The DAG files load through Airflow's own DagBag, fast and without errors, and are wired as
designed: tasks, dependencies, retries, params, schedule, assets.

Airflow is loaded in a child process under a temporary AIRFLOW_HOME: importing it configures
global settings and logging, which must not leak into (or be decided by) the rest of the session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[1]
DAGS = ROOT / "dags"

DUMP_DAGBAG = r"""
import json, sys, time
started = time.perf_counter()
from airflow.dag_processing.dagbag import BundleDagBag
imported = time.perf_counter()
bag = BundleDagBag(dag_folder=sys.argv[1], bundle_path=sys.argv[1], bundle_name="dags-folder")
parsed = time.perf_counter()

def task_info(t):
    policy = t.retry_policy.serialize() if t.retry_policy else None
    return {
        "upstream": sorted(t.upstream_task_ids),
        "downstream": sorted(t.downstream_task_ids),
        "retries": t.retries,
        "retry_exponential_backoff": t.retry_exponential_backoff,
        "retry_policy": policy,
        "trigger_rule": str(getattr(t.trigger_rule, "value", t.trigger_rule)),
        "mapped": type(t).__name__ == "MappedOperator" or getattr(t, "is_mapped", False),
        "outlets": [{"name": a.name, "uri": a.uri} for a in t.outlets],
        "has_failure_callback": bool(t.on_failure_callback),
    }

out = {
    "import_errors": bag.import_errors,
    "airflow_import_seconds": imported - started,
    "parse_seconds": parsed - imported,
    "file_seconds": {s.file: s.duration.total_seconds() for s in bag.dagbag_stats},
    "dags": {
        dag_id: {
            "schedule": None if dag.schedule is None else str(dag.schedule),
            "catchup": dag.catchup,
            "max_active_runs": dag.max_active_runs,
            "tags": sorted(dag.tags),
            "doc_md": dag.doc_md or "",
            "params": {
                k: {"default": p.value if p.has_value else None,
                    "description": p.description, "schema": p.schema}
                for k, p in dag.params.items()
            },
            "tasks": {t.task_id: task_info(t) for t in dag.tasks},
        }
        for dag_id, dag in bag.dags.items()
    },
}
print("DAGBAG-JSON " + json.dumps(out, default=str))
"""


def load_dagbag(tmp_path: Path, **env: str) -> dict[str, Any]:
    """Parse dags/ with Airflow's DagBag in a child process; return what it found."""
    home = tmp_path / "airflow-home"
    home.mkdir(exist_ok=True)
    child_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "GOLDEN_"))},
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        **env,
    }
    proc = subprocess.run(
        [sys.executable, "-c", DUMP_DAGBAG, str(DAGS)],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("DAGBAG-JSON "))
    return json.loads(line.removeprefix("DAGBAG-JSON "))


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return load_dagbag(tmp_path_factory.mktemp("dagbag"))


def test_dags_load_without_import_errors_and_parse_fast(dagbag: dict[str, Any]) -> None:
    print(
        f"\nAirflow import {dagbag['airflow_import_seconds']:.2f}s; DagBag fill "
        f"{dagbag['parse_seconds']:.2f}s; per file: "
        + ", ".join(f"{f} {s * 1000:.0f} ms" for f, s in dagbag["file_seconds"].items())
    )
    assert dagbag["import_errors"] == {}
    assert set(dagbag["dags"]) == {"customer_golden_records", "golden_maintenance"}
    # Only DAG files are parsed: the shared helper module is listed in .airflowignore.
    assert set(dagbag["file_seconds"]) == {"customer_golden_records.py", "golden_maintenance.py"}
    # Loose bound (2 shared cores): the default dagbag_import_timeout is 30 s; a DAG file that
    # imported Polars/Splink/GX at the top would take seconds, not milliseconds.
    for file, seconds in dagbag["file_seconds"].items():
        assert seconds < 5.0, f"{file} took {seconds:.1f}s to parse"


MAIN_CHAIN = [
    "start_run",
    "ingest_and_validate",
    "standardise",
    "validate_staged",
    "gate",
    "match",
    "golden",
    "publish",
    "backup",
]


def test_main_dag_runs_the_stages_in_order_with_one_mapped_task_per_source(
    dagbag: dict[str, Any],
) -> None:
    tasks = dagbag["dags"]["customer_golden_records"]["tasks"]
    assert set(tasks) == {*MAIN_CHAIN, "data_docs", "finish_run"}
    for before, after in pairwise(MAIN_CHAIN):
        assert before in tasks[after]["upstream"], f"{before} must run before {after}"
    # The stewards' report needs only the validation results: a tripped gate still gets one,
    # and matching does not wait for it.
    assert set(tasks["data_docs"]["upstream"]) == {"start_run", "validate_staged"}
    assert tasks["ingest_and_validate"]["mapped"]
    assert not any(tasks[t]["mapped"] for t in tasks if t != "ingest_and_validate")
    # Every stage hands its run id on from start_run's XCom, so every stage depends on it.
    assert all("start_run" in tasks[t]["upstream"] for t in [*MAIN_CHAIN[1:], "data_docs"])


def test_finish_task_runs_whatever_happened_upstream(dagbag: dict[str, Any]) -> None:
    tasks = dagbag["dags"]["customer_golden_records"]["tasks"]
    finish = tasks["finish_run"]
    assert finish["trigger_rule"] == "all_done"
    assert set(finish["upstream"]) == {*MAIN_CHAIN, "data_docs"}
    assert finish["retries"] == 0
    assert finish["downstream"] == []


def test_io_tasks_retry_with_backoff_and_the_gate_never_retries(dagbag: dict[str, Any]) -> None:
    tasks = dagbag["dags"]["customer_golden_records"]["tasks"]
    for name in ("ingest_and_validate", "publish", "backup"):
        assert tasks[name]["retries"] >= 2, name
        assert tasks[name]["retry_exponential_backoff"] > 1, name
    assert tasks["gate"]["retries"] == 0
    # Errors a retry cannot fix fail at once, on every task that retries.
    for name, info in tasks.items():
        if info["retries"]:
            [rule] = info["retry_policy"]["rules"]
            assert rule["action"] == "fail", name
            assert "pipelines.errors.ValidationGateError" in rule["exception"], name
            assert "pipelines.errors.ConfigError" in rule["exception"], name
    assert all(info["has_failure_callback"] for info in tasks.values())


def test_publish_declares_the_golden_tables_as_assets(dagbag: dict[str, Any]) -> None:
    tasks = dagbag["dags"]["customer_golden_records"]["tasks"]
    names = {a["name"] for a in tasks["publish"]["outlets"]}
    assert names == {
        "golden_customers",
        "customer_xref",
        "golden_field_provenance",
        "golden_changes",
    }
    assert all(not info["outlets"] for name, info in tasks.items() if name != "publish")


def test_main_dag_schedule_params_and_docs(dagbag: dict[str, Any]) -> None:
    dag = dagbag["dags"]["customer_golden_records"]
    assert dag["schedule"] == "@daily"
    assert dag["catchup"] is False
    assert dag["max_active_runs"] == 1
    assert "golden-records" in dag["tags"]
    assert "customer_golden_records" in dag["doc_md"] and "docs/airflow.md" in dag["doc_md"]
    params = dag["params"]
    assert set(params) == {
        "config_path",
        "full_reload",
        "skip_backup",
        "model_path",
        "full_rebuild",
        "lock_wait_seconds",
    }
    assert params["lock_wait_seconds"]["default"] == 600
    assert params["config_path"]["default"] == "/opt/golden/config.yaml"
    assert params["full_reload"]["default"] is False
    assert params["skip_backup"]["default"] is False
    assert params["model_path"]["default"] is None
    assert params["full_rebuild"]["default"] is False
    assert all(p["description"] for p in params.values())


def test_maintenance_dag_verifies_before_deleting_backups(dagbag: dict[str, Any]) -> None:
    dag = dagbag["dags"]["golden_maintenance"]
    assert dag["schedule"] == "@weekly"
    assert dag["catchup"] is False and dag["max_active_runs"] == 1
    tasks = dag["tasks"]
    assert set(tasks) == {
        "verify_latest_backup",
        "apply_backup_retention",
        "rebuild_data_docs",
        "apply_record_retention",
        "refresh_review_due",
        "reconcile_database_sources",
    }
    assert tasks["apply_backup_retention"]["upstream"] == ["verify_latest_backup"]
    assert set(dag["params"]) == {"config_path"}
    assert dag["doc_md"]


def test_schedule_and_config_default_come_from_the_environment(tmp_path: Path) -> None:
    bag = load_dagbag(
        tmp_path,
        GOLDEN_SCHEDULE="30 2 * * 1-5",
        GOLDEN_MAINTENANCE_SCHEDULE="none",
        GOLDEN_CONFIG="/srv/golden/prod.yaml",
    )
    main, maintenance = bag["dags"]["customer_golden_records"], bag["dags"]["golden_maintenance"]
    assert main["schedule"] == "30 2 * * 1-5"
    assert maintenance["schedule"] is None
    assert main["params"]["config_path"]["default"] == "/srv/golden/prod.yaml"
    assert maintenance["params"]["config_path"]["default"] == "/srv/golden/prod.yaml"
