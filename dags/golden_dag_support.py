"""What the golden-records DAGs share: params, retry settings, the run id, the failure alert.

Not a DAG file (``.airflowignore`` keeps the DAG processor from parsing it); the DAG files import
it as a sibling module, which works because Airflow puts the DAG bundle's folder on ``sys.path``.
Only Airflow's light SDK and the standard library are imported at module level: pipeline code is
imported inside functions, which run in tasks, so parsing a DAG file stays fast and does no I/O.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import (
    DeadlineAlert,
    DeadlineReference,
    ExceptionRetryPolicy,
    RetryAction,
    RetryRule,
    SyncCallback,
    get_current_context,
)

logger = logging.getLogger("dags.golden_dag_support")

CONFIG_ENV = "GOLDEN_CONFIG"
"""Environment variable with the default config path of every DAG run."""
DEFAULT_CONFIG_PATH = "/opt/golden/config.yaml"
"""Where the docker image expects the deployment's config when ``GOLDEN_CONFIG`` is unset."""
START_DATE = datetime(2025, 1, 1, tzinfo=UTC)
"""The DAGs' start date; with ``catchup=False`` it only bounds manual backfills."""
TAGS = ["golden-records", "data-quality", "customer"]
MAP_LABEL_KEY = "map_label"
"""Context key a mapped task sets to name its instance (its source) in the UI and in alerts."""

# Errors that a retry cannot fix: a bad config, a source that dropped a mapped column, a stage
# started without its input, a tripped quality gate. Failing at once saves an hour of backoff and
# puts the message in front of a person sooner. Everything else (network, storage, a worker that
# died) is retried. Strings, so that parsing does not import the pipeline.
FAIL_FAST = ExceptionRetryPolicy(
    rules=[
        RetryRule(
            exception=[
                "pipelines.errors.ConfigError",
                "pipelines.errors.SchemaDriftError",
                "pipelines.errors.StageInputError",
                "pipelines.errors.ValidationGateError",
            ],
            action=RetryAction.FAIL,
            reason="a retry cannot fix this: fix the config, the source or the data, then rerun",
        )
    ]
)

IO_RETRIES: dict[str, Any] = {
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=2),
    "retry_policy": FAIL_FAST,
}
"""Tasks that talk to sources, the warehouse volume or object storage: retry with backoff. The
waits add up to at most 30 s + 60 s + 2 min (3.5 min), so an unreachable source is alerted on
within about five minutes, not after half an hour of backoff."""

COMPUTE_RETRIES: dict[str, Any] = {
    "retries": 1,
    "retry_delay": timedelta(minutes=2),
    "retry_policy": FAIL_FAST,
}
"""CPU-bound stages: one retry covers a lost worker; their errors are otherwise deterministic."""

NO_RETRIES: dict[str, Any] = {"retries": 0}
"""The quality gate and the final report: a tripped gate must never be retried into passing."""


TASK_TIMEOUTS: dict[str, timedelta] = {
    "start_run": timedelta(minutes=10),
    "ingest_and_validate": timedelta(hours=2),
    "standardise": timedelta(hours=2),
    "validate_staged": timedelta(hours=2),
    "data_docs": timedelta(hours=1),
    "gate": timedelta(minutes=15),
    "match": timedelta(hours=6),
    "golden": timedelta(hours=2),
    "publish": timedelta(hours=1),
    "backup": timedelta(hours=2),
    "finish_run": timedelta(minutes=15),
}
"""Each task's ``execution_timeout`` unless the config's ``orchestration.task_timeout_minutes``
names it: a hung stage fails (and alerts) instead of running forever. Sized for about ten
million records on two cores (docs/scaling.md), with room to spare."""

DEADLINE_ENV = "GOLDEN_RUN_DEADLINE_MINUTES"
"""Minutes after a run is queued at which it is reported overdue; unset means no deadline.
Both scheduler-run deployments set 480 unless told otherwise: ``make stack``
(``scripts/airflow_stack.RUN_DEADLINE_MINUTES``) and the docker stack (``docker/.env.example``).
The DAG itself has none without the variable because ``airflow dags test`` in Airflow 3.3.2
fails any successful run of a DAG with a deadline."""


def timeout(task_id: str) -> dict[str, Any]:
    """A task's timeout arguments: the DAG default, and the hook that applies the config's."""
    return {"execution_timeout": TASK_TIMEOUTS[task_id], "pre_execute": apply_configured_timeout}


def apply_configured_timeout(context: Mapping[str, Any]) -> None:
    """Pre-execute hook: the run's config may set this task's timeout.

    The task's ``execution_timeout`` is read after this hook runs, so setting it on the task
    being executed (a per-try copy) applies the config's value to this try. A config that does
    not load is left to the task itself, which reports it properly.
    """
    from pipelines.config import load_config
    from pipelines.errors import GoldenError

    task = context["task"]
    try:
        config = load_config(config_path(context["params"]))
        minutes = config.orchestration.task_timeout_minutes.get(task.task_id)
    except GoldenError:
        return
    if minutes:
        task.execution_timeout = timedelta(minutes=minutes)


def run_deadline(dag_id: str) -> DeadlineAlert | None:
    """An alert when a run is still going ``$GOLDEN_RUN_DEADLINE_MINUTES`` after it was queued
    (none when the variable is unset or not a positive number of minutes)."""
    raw = os.environ.get(DEADLINE_ENV, "").strip()
    if not raw.isdigit() or int(raw) <= 0:
        return None
    minutes = int(raw)
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(minutes=minutes),
        callback=SyncCallback(
            "pipelines.alerts.run_overdue",
            kwargs={
                "dag_id": dag_id,
                "config_path": default_config_path(),
                "deadline_minutes": minutes,
            },
        ),
    )


def default_config_path() -> str:
    """The ``config_path`` param's default: ``$GOLDEN_CONFIG``, else the image's path."""
    return os.environ.get(CONFIG_ENV, "").strip() or DEFAULT_CONFIG_PATH


def schedule_from_env(variable: str, default: str) -> str | None:
    """A schedule (cron expression or preset) from the environment; ``none`` means manual only.

    Without a config file at the default config path there is no schedule either: unpausing
    the DAG must not create a run that can only fail on a missing file. (Checking that one path
    exists is the only I/O at parse time.)
    """
    if not os.path.isfile(default_config_path()):
        return None
    value = os.environ.get(variable, "").strip()
    if not value:
        return default
    return None if value.lower() in ("none", "manual", "off") else value


def params() -> Mapping[str, Any]:
    """The running DAG run's params (defaults merged with the trigger's conf)."""
    return get_current_context()["params"]


def full_rebuild() -> bool:
    """The run's ``full_rebuild`` param: every stage takes its full path."""
    return bool(params().get("full_rebuild", False))


def backup_config_or_skip() -> Any:
    """The run's pipeline config, or skip the task when it turns backups off."""
    from airflow.sdk.exceptions import AirflowSkipException

    from pipelines.config import load_config

    config = load_config(config_path())
    if not config.backup.enabled:
        raise AirflowSkipException("backups are off: no backup.bucket, or backup.enabled is false")
    return config


def config_path(run_params: Mapping[str, Any] | None = None) -> str:
    """The config path this DAG run was given, with a clear error when it is blank or absent."""
    from pipelines.errors import ConfigError

    path = str((params() if run_params is None else run_params).get("config_path") or "").strip()
    if not path:
        raise ConfigError(
            f"the DAG param 'config_path' is empty: pass it in the run's conf or set ${CONFIG_ENV}"
        )
    if not os.path.isfile(path):
        raise ConfigError(
            f"config file {path} does not exist on this worker: set ${CONFIG_ENV} for the "
            "scheduler and workers (or mount the config there), or pass config_path in the "
            "run's conf"
        )
    return path


def golden_run_id(context: Mapping[str, Any]) -> str:
    """The pipeline run id of this DAG run, the same on every try and after a clear-and-rerun.

    The time part is the run's logical date (its run-after time for manual runs, which have
    none); the suffix hashes the DAG id and Airflow's run id, so two runs at the same second
    still differ.
    """
    from pipelines.warehouse import new_run_id

    dag_run = context["dag_run"]
    at = dag_run.logical_date or dag_run.run_after
    return new_run_id(at, key=f"{dag_run.dag_id}/{dag_run.run_id}")


def small(result: Any) -> dict[str, Any]:
    """The scalar fields of a stage result (counts, paths, ids): what goes through XCom."""
    if hasattr(result, "model_dump"):  # a pydantic result model
        result = result.model_dump(mode="json")
    if not isinstance(result, Mapping):
        return {"result": str(result)} if result is not None else {}
    return {k: v for k, v in result.items() if v is None or isinstance(v, str | int | float | bool)}


def run_golden_stage(stage: str, run_id: str, **kwargs: Any) -> dict[str, Any]:
    """Run one pipeline stage for this DAG run through the orchestrator, which records it.

    The stage first checks that the warehouse's lease (taken by ``start_run``) is this run's.
    """
    from pipelines.orchestrate import run_leased_stage

    return small(run_leased_stage(stage, config_path(), run_id, **kwargs))


def on_run_failure(context: Mapping[str, Any]) -> None:
    """Failure callback of a run's final task: one alert per failed run, listing every failure
    (the final task's error names each failed task and the pipeline's message)."""
    on_task_failure(context, scope="run")


def on_task_failure(context: Mapping[str, Any], scope: str = "task") -> None:
    """Failure callback: hand the failure's essentials to the pipeline's alerting."""
    from pipelines.alerts import send_failure_alert

    ti = context["ti"]
    error = context.get("exception")
    try:
        run_id: str | None = golden_run_id(context)
    except (KeyError, AttributeError, TypeError):  # a context without a usable dag run
        run_id = None
    send_failure_alert(
        (context.get("params") or {}).get("config_path"),
        dag_id=ti.dag_id,
        task_id=ti.task_id,
        run_id=ti.run_id,
        exception=f"{type(error).__name__}: {error}" if error is not None else "unknown error",
        try_number=ti.try_number,
        log_url=getattr(ti, "log_url", None),
        map_index=ti.map_index,
        map_label=context.get(MAP_LABEL_KEY) or getattr(ti, "rendered_map_index", None),
        golden_run_id=run_id,
        scope=scope,  # type: ignore[arg-type]
    )
