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

from airflow.sdk import ExceptionRetryPolicy, RetryAction, RetryRule, get_current_context

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
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=30),
    "retry_policy": FAIL_FAST,
}
"""Tasks that talk to sources, the warehouse volume or object storage: retry with backoff."""

COMPUTE_RETRIES: dict[str, Any] = {
    "retries": 1,
    "retry_delay": timedelta(minutes=2),
    "retry_policy": FAIL_FAST,
}
"""CPU-bound stages: one retry covers a lost worker; their errors are otherwise deterministic."""

NO_RETRIES: dict[str, Any] = {"retries": 0}
"""The quality gate and the final report: a tripped gate must never be retried into passing."""


def default_config_path() -> str:
    """The ``config_path`` param's default: ``$GOLDEN_CONFIG``, else the image's path."""
    return os.environ.get(CONFIG_ENV, "").strip() or DEFAULT_CONFIG_PATH


def schedule_from_env(variable: str, default: str) -> str | None:
    """A schedule (cron expression or preset) from the environment; ``none`` means manual only."""
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


def config_path() -> str:
    """The config path this DAG run was given, with a clear error when it is blank."""
    path = str(params().get("config_path") or "").strip()
    if not path:
        from pipelines.errors import ConfigError

        raise ConfigError(
            f"the DAG param 'config_path' is empty: pass it in the run's conf or set ${CONFIG_ENV}"
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


def on_task_failure(context: Mapping[str, Any]) -> None:
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
        map_label=context.get(MAP_LABEL_KEY),
        golden_run_id=run_id,
    )
