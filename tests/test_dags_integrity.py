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
        "execution_timeout": t.execution_timeout.total_seconds() if t.execution_timeout else None,
        "retry_delay": t.retry_delay.total_seconds(),
        "max_retry_delay": t.max_retry_delay.total_seconds() if t.max_retry_delay else None,
        "doc": (t.doc_md or getattr(t, "doc", None) or "").strip(),
        "map_index_template": getattr(t, "map_index_template", None),
    }

def deadline_info(dag):
    alerts = dag.deadline or []
    alerts = alerts if isinstance(alerts, list) else [alerts]
    return [
        {"interval": a.interval.total_seconds(), "callback": a.callback.path,
         "kwargs": a.callback.kwargs, "reference": type(a.reference).__name__}
        for a in alerts
    ]

HEAVY = ("polars", "splink", "great_expectations", "duckdb", "pyspark", "pandas")
# The retry policy names pipeline exceptions, which Airflow imports: that module is tiny.
LIGHT = ("pipelines", "pipelines.errors")
out = {
    "heavy_modules": sorted(
        m for m in sys.modules
        if m.split(".")[0] in HEAVY or (m.startswith("pipelines") and m not in LIGHT)
    ),
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
            "deadline": deadline_info(dag),
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
    """The DAGs as a deployment with its config file in place sees them."""
    home = tmp_path_factory.mktemp("dagbag")
    (home / "config.yaml").write_text("sources: []\n")
    return load_dagbag(home, GOLDEN_CONFIG=str(home / "config.yaml"))


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
    # Parsing stays cheap because the DAG files import no pipeline code or data library at the
    # top (tasks import them when they run); checked by what parsing imported, not by a clock.
    assert dagbag["heavy_modules"] == []


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
    assert set(tasks["data_docs"]["upstream"]) == {"validate_staged"}
    assert tasks["ingest_and_validate"]["mapped"]
    assert not any(tasks[t]["mapped"] for t in tasks if t != "ingest_and_validate")


def test_the_graph_shows_the_pipeline_without_bookkeeping_edges_to_every_task(
    dagbag: dict[str, Any],
) -> None:
    tasks = dagbag["dags"]["customer_golden_records"]["tasks"]
    # Each task derives the run id itself: start_run feeds the sources only.
    assert tasks["start_run"]["downstream"] == ["ingest_and_validate"]
    edges = sum(len(info["downstream"]) for info in tasks.values())
    assert edges == len(MAIN_CHAIN) - 1 + 1 + 3  # the chain, data_docs, finish_run's three


def test_finish_task_runs_whatever_happened_upstream(dagbag: dict[str, Any]) -> None:
    tasks = dagbag["dags"]["customer_golden_records"]["tasks"]
    finish = tasks["finish_run"]
    assert finish["trigger_rule"] == "all_done"
    # The last task of each branch and every source: all others have finished by then.
    assert set(finish["upstream"]) == {"ingest_and_validate", "data_docs", "backup"}
    assert finish["retries"] == 0
    assert finish["downstream"] == []


def test_one_alert_per_failed_run_comes_from_the_final_task(dagbag: dict[str, Any]) -> None:
    main = dagbag["dags"]["customer_golden_records"]["tasks"]
    assert [name for name, info in main.items() if info["has_failure_callback"]] == ["finish_run"]
    maintenance = dagbag["dags"]["golden_maintenance"]["tasks"]
    assert all(info["has_failure_callback"] for info in maintenance.values())


def test_every_task_has_a_timeout_and_documentation(dagbag: dict[str, Any]) -> None:
    for dag_id, dag in dagbag["dags"].items():
        for name, info in dag["tasks"].items():
            assert info["execution_timeout"], f"{dag_id}.{name} has no execution_timeout"
            assert len(info["doc"]) > 40, f"{dag_id}.{name} has no task documentation"
    main = dagbag["dags"]["customer_golden_records"]["tasks"]
    assert main["match"]["execution_timeout"] > main["gate"]["execution_timeout"]


def test_a_mapped_source_task_is_labelled_from_its_argument(dagbag: dict[str, Any]) -> None:
    # Rendered before the task runs, so a waiting or retrying instance shows its source too.
    task = dagbag["dags"]["customer_golden_records"]["tasks"]["ingest_and_validate"]
    assert task["map_index_template"] == "{{ task.op_kwargs['source'] }}"


def test_a_run_deadline_is_opt_in(dagbag: dict[str, Any]) -> None:
    # Without GOLDEN_RUN_DEADLINE_MINUTES there is none (airflow dags test cannot run one).
    assert dagbag["dags"]["customer_golden_records"]["deadline"] == []


def test_retries_of_an_unreachable_source_end_within_minutes(dagbag: dict[str, Any]) -> None:
    task = dagbag["dags"]["customer_golden_records"]["tasks"]["ingest_and_validate"]
    delays = [
        min(task["retry_delay"] * task["retry_exponential_backoff"] ** n, task["max_retry_delay"])
        for n in range(task["retries"])
    ]
    assert sum(delays) <= 5 * 60


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


def test_without_a_config_file_the_dags_have_no_schedule(tmp_path: Path) -> None:
    # Unpausing must not create a run that can only fail on a missing config file.
    dags = load_dagbag(tmp_path)["dags"]
    assert dags["customer_golden_records"]["schedule"] is None
    assert dags["golden_maintenance"]["schedule"] is None


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
    assert params["config_path"]["default"].endswith("config.yaml")
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


def test_schedule_deadline_and_config_default_come_from_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "prod.yaml"
    config.write_text("sources: []\n")
    bag = load_dagbag(
        tmp_path,
        GOLDEN_SCHEDULE="30 2 * * 1-5",
        GOLDEN_MAINTENANCE_SCHEDULE="none",
        GOLDEN_CONFIG=str(config),
        GOLDEN_RUN_DEADLINE_MINUTES="90",
    )
    main, maintenance = bag["dags"]["customer_golden_records"], bag["dags"]["golden_maintenance"]
    assert main["schedule"] == "30 2 * * 1-5"
    assert maintenance["schedule"] is None
    assert main["params"]["config_path"]["default"] == str(config)
    assert maintenance["params"]["config_path"]["default"] == str(config)
    [deadline] = main["deadline"]  # an overdue run raises an alert through the config's channels
    assert deadline["interval"] == 90 * 60 and deadline["kwargs"]["deadline_minutes"] == 90
    assert deadline["reference"] == "DagRunQueuedAtDeadline"
    assert deadline["callback"] == "pipelines.alerts.run_overdue"
    assert deadline["kwargs"]["config_path"] == str(config)


APPLY_TIMEOUT = r"""
import json, sys
from datetime import timedelta
from types import SimpleNamespace
sys.path.insert(0, sys.argv[1])
from golden_dag_support import TASK_TIMEOUTS, apply_configured_timeout
out = {}
for task_id in ("match", "gate"):
    task = SimpleNamespace(task_id=task_id, execution_timeout=TASK_TIMEOUTS[task_id])
    apply_configured_timeout({"task": task, "params": {"config_path": sys.argv[2]}})
    out[task_id] = task.execution_timeout.total_seconds()
print("TIMEOUTS " + json.dumps(out))
"""


def test_the_config_sets_a_task_timeout_before_the_task_runs(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "sources:\n- {name: crm, kind: file, path: crm.csv, id_column: id, "
        "mapping: {email: email}}\norchestration:\n  task_timeout_minutes: {match: 45}\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", APPLY_TIMEOUT, str(DAGS), str(config)],
        env={**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__UNIT_TEST_MODE": "True"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("TIMEOUTS "))
    timeouts = json.loads(line.removeprefix("TIMEOUTS "))
    assert timeouts == {"match": 45 * 60, "gate": 15 * 60}  # gate keeps the DAG's default
