"""
### customer_golden_records

Turns every configured customer source into one trusted golden record per customer, and
publishes the golden tables. Each task runs one stage of `pipelines/` for **one pipeline run id**
(`YYYYmmddTHHMMSSZ-xxxxxx`, derived from this DAG run, so a retry or a clear-and-rerun writes
to the same `runs/<run_id>/` folder in the warehouse and overwrites rather than duplicates).

```
start_run ─▶ ingest_and_validate[source] (one mapped task per source)
          ─▶ standardise ─▶ validate_staged ─▶ gate ─▶ match ─▶ golden
                                            └─▶ data_docs (beside gate and match)
          ─▶ publish (updates the golden_* assets) ─▶ backup ─▶ finish_run (always runs)
```

* **Params**: `config_path` (the deployment's YAML config), `full_reload`, `skip_backup`,
  `model_path` (a trained Splink model to reuse instead of training), `full_rebuild` (validate,
  standardise, match and survive every record anew instead of building on the previous run's
  outputs), `lock_wait_seconds` (how long `start_run` waits for whatever holds the
  warehouse's run lock: another run, a restore, an erasure, a steward decision).
* **One run at a time**: `start_run` leases the warehouse (`state/.run.lease`), every stage
  checks the lease is its run's, `finish_run` releases it (`docs/architecture.md`, Run lock).
* **Failures**: one failing source does not undo the others' landed batches, but nothing
  downstream runs; a tripped quality `gate` stops the run before publish and is never retried.
  `finish_run` writes `runs/<run_id>/run.json`, logs the run summary and fails the DAG run when
  anything upstream failed; its failure sends the run's one alert (`alerts.on_failure`), listing
  every failed task. Every task has a timeout (`orchestration.task_timeout_minutes`), and a run
  still going after `$GOLDEN_RUN_DEADLINE_MINUTES` (when set) raises an overdue alert.
* **Schedule**: `@daily` (`$GOLDEN_SCHEDULE`), and none while no config file exists at the
  default config path, so unpausing cannot start a run doomed to fail.
* **Where to look**: the failed task's log; `runs/<run_id>/run.json` and `runs/<run_id>/stages/`;
  the Data Docs under `reports/data_docs/` for validation failures. See `docs/airflow.md`.
"""

from __future__ import annotations

import logging
from itertools import pairwise
from typing import Any

from airflow.sdk import Asset, Param, TriggerRule, dag, get_current_context, task
from golden_dag_support import (
    COMPUTE_RETRIES,
    IO_RETRIES,
    MAP_LABEL_KEY,
    NO_RETRIES,
    START_DATE,
    TAGS,
    backup_config_or_skip,
    config_path,
    default_config_path,
    full_rebuild,
    golden_run_id,
    on_run_failure,
    params,
    run_deadline,
    run_golden_stage,
    schedule_from_env,
    timeout,
)

logger = logging.getLogger("dags.customer_golden_records")

DAG_ID = "customer_golden_records"
SCHEDULE_ENV = "GOLDEN_SCHEDULE"

GOLDEN_ASSETS = [
    Asset(name=table, uri=f"x-golden-records://published/{table}", group="golden_records")
    for table in ("golden_customers", "customer_xref", "golden_field_provenance", "golden_changes")
]
"""The published golden tables. A downstream DAG schedules on them with, for example,
``schedule=[Asset.ref(name="golden_customers")]``; each event's ``extra`` names the run id and
the published version folder."""


INGEST_DOC = """Land one source's batch (`ingest`), then run its expectation suite
(`validate_source`): one mapped instance per configured source, named after it. Rerunnable: a
retry or a clear writes the same run folder. Failed rows go to the quarantine, never dropped; a
source that cannot be read fails here, alone, after its retries."""


class RunFailed(Exception):
    """Tasks of a DAG run failed; the message lists each failure, as ``run.json`` records it."""


def describe_failures(
    states: dict[str, str | None], source_names: list[str], errors: dict[str, str]
) -> list[str]:
    """One line per failed task, with the pipeline's own error when the stage recorded one.

    ``states`` are Airflow's task states of the run (mapped instances as ``<task>_<index>``);
    ``errors`` the failed stage records (``stage`` or ``stage[source]`` -> error). A task that
    died before recording anything (killed, out of memory) is still reported, from its state.
    """
    problems: list[str] = []
    for name in sorted(n for n, state in states.items() if state == "failed"):
        task_id, _, index = name.rpartition("_")
        if task_id == "ingest_and_validate" and index.isdigit():
            number = int(index)
            source = source_names[number] if number < len(source_names) else f"#{number}"
            labels = [f"ingest[{source}]", f"validate_source[{source}]"]
            shown = f"ingest_and_validate[{source}]"
        else:
            labels, shown = [name], name
        recorded = [f"{label}: {errors[label]}" for label in labels if label in errors]
        problems += recorded or [f"task {shown} failed before recording a result (see its log)"]
    skipped = sorted(n for n, state in states.items() if state == "upstream_failed")
    if skipped and not problems:
        problems.append("tasks did not run because an upstream task failed: " + ", ".join(skipped))
    return problems


@dag(
    dag_id=DAG_ID,
    schedule=schedule_from_env(SCHEDULE_ENV, "@daily"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,  # runs share the warehouse state (watermarks, id registry): never overlap
    tags=TAGS,
    doc_md=__doc__,
    deadline=run_deadline(DAG_ID),
    # One alert per failed run: finish_run's failure callback sends it, listing every failure;
    # a failing stage task alerts through that, not on its own.
    default_args={"owner": "data-engineering"},
    params={
        # The deployment's YAML config (sources, rules, warehouse, backup). Default: $GOLDEN_CONFIG.
        "config_path": Param(
            default_config_path(),
            type="string",
            minLength=1,
            title="Config file",
            description="Path of the pipeline's YAML config on the workers.",
        ),
        # Re-read every source completely instead of only rows changed since the last batch.
        "full_reload": Param(
            False,
            type="boolean",
            title="Full reload",
            description="Ignore watermarks and reload every source completely.",
        ),
        # Publish without backing up (e.g. a test run); the next run's backup covers the state.
        "skip_backup": Param(
            False,
            type="boolean",
            title="Skip backup",
            description="Do not back up this run to object storage.",
        ),
        # A trained Splink model (JSON) to score with; empty: train on this run's records.
        "model_path": Param(
            None,
            type=["null", "string"],
            title="Matching model",
            description="Trained Splink model JSON to reuse; leave empty to train on this run.",
        ),
        # Standardise and score everything anew, not only new or changed records.
        "full_rebuild": Param(
            False,
            type="boolean",
            title="Full rebuild",
            description="Validate, standardise, match and survive every record anew instead "
            "of building on the previous run's outputs.",
        ),
        # How long start_run waits for another run, restore, erasure or steward write to finish.
        "lock_wait_seconds": Param(
            600,
            type="integer",
            minimum=0,
            title="Lock wait (seconds)",
            description="How long to wait for whatever holds the warehouse's run lock (another "
            "run, a restore, an erasure, a steward decision) before failing.",
        ),
    },
)
def customer_golden_records() -> None:
    def this_run() -> str:
        """The pipeline run id of this DAG run; every task derives the same one."""
        return golden_run_id(get_current_context())

    @task(**COMPUTE_RETRIES, **timeout("start_run"))
    def start_run() -> list[str]:
        """Fix this DAG run's pipeline run id, lease the warehouse, list the sources.

        Returns the source names (what the per-source task maps over). Later tasks derive the
        same run id from the DAG run themselves, so the graph shows the pipeline, not an edge
        from here to every task.
        """
        from pipelines.config import load_config
        from pipelines.lock import take_lease

        config = load_config(config_path())
        context = get_current_context()
        run_id = this_run()
        # One run at a time per warehouse, across DAG runs, the CLI and stewards: tasks run in
        # separate processes, so the run leases the warehouse here and finish_run releases it.
        take_lease(
            config.warehouse.path,
            run_id,
            f"airflow {context['dag_run'].dag_id}/{context['dag_run'].run_id}",
            wait=float(params().get("lock_wait_seconds") or 0),
            dag_id=context["dag_run"].dag_id,
        )
        logger.info(
            "pipeline run %s; config %s; sources: %s",
            run_id,
            config.config_path,
            ", ".join(config.source_names),
        )
        return config.source_names

    # Labelled from the mapped argument, which is known before the task runs: the UI names the
    # source while an instance waits, runs, fails or waits to retry.
    @task(
        map_index_template="{{ task.op_kwargs['source'] }}",
        doc_md=INGEST_DOC,  # a mapped task does not take its docstring as documentation
        **IO_RETRIES,
        **timeout("ingest_and_validate"),
    )
    def ingest_and_validate(source: str) -> dict[str, Any]:
        pipeline_run_id = this_run()
        get_current_context()[MAP_LABEL_KEY] = source  # type: ignore[literal-required]
        ingested = run_golden_stage(
            "ingest", pipeline_run_id, source=source, full_reload=bool(params()["full_reload"])
        )
        validated = run_golden_stage(
            "validate_source",
            pipeline_run_id,
            source=source,
            full_rebuild=full_rebuild(),
        )
        return {"source": source, "ingest": ingested, "validate": validated}

    @task(**COMPUTE_RETRIES, **timeout("standardise"))
    def standardise() -> dict[str, Any]:
        """Standardise every source's accepted records into the canonical schema."""
        return run_golden_stage("standardise", this_run(), full_rebuild=full_rebuild())

    @task(**COMPUTE_RETRIES, **timeout("validate_staged"))
    def validate_staged() -> dict[str, Any]:
        """Run the canonical suite on the staged records; failures go to quarantine."""
        return run_golden_stage("validate_staged", this_run())

    @task(**COMPUTE_RETRIES, **timeout("data_docs"))
    def data_docs() -> dict[str, Any]:
        """Build the stewards' validation report; it runs beside the gate and matching.

        It depends only on the validation results, so a tripped gate still gets its report,
        and matching does not wait for the rendering.
        """
        return run_golden_stage("data_docs", this_run())

    @task(**NO_RETRIES, **timeout("gate"))
    def gate() -> dict[str, Any]:
        """Stop the run before anything is matched or published when quality is too low."""
        return run_golden_stage("gate", this_run())

    @task(**COMPUTE_RETRIES, **timeout("match"))
    def match() -> dict[str, Any]:
        """Score and cluster the accepted records with Splink; build the review queue."""
        from pathlib import Path

        model = str(params().get("model_path") or "").strip()
        return run_golden_stage(
            "match",
            this_run(),
            model_path=Path(model) if model else None,
            full_rebuild=full_rebuild(),
        )

    @task(**COMPUTE_RETRIES, **timeout("golden"))
    def golden() -> dict[str, Any]:
        """Build golden records, crosswalk, provenance and changes with stable golden ids."""
        return run_golden_stage("golden", this_run(), full_rebuild=full_rebuild())

    @task(outlets=GOLDEN_ASSETS, **IO_RETRIES, **timeout("publish"))
    def publish() -> dict[str, Any]:
        """Publish the golden tables atomically and tell downstream DAGs which version."""
        pipeline_run_id = this_run()
        result = run_golden_stage("publish", pipeline_run_id)
        events = get_current_context()["outlet_events"]
        for asset in GOLDEN_ASSETS:
            events[asset].extra = {
                "run_id": pipeline_run_id,
                "version_dir": result.get("version_dir"),
            }
        return result

    @task(**IO_RETRIES, **timeout("backup"))
    def backup() -> dict[str, Any]:
        """Back up the published version and the state to object storage."""
        from airflow.sdk.exceptions import AirflowSkipException

        if params()["skip_backup"]:
            raise AirflowSkipException("skip_backup is set for this run")
        backup_config_or_skip()
        return run_golden_stage("backup", this_run())

    @task(
        trigger_rule=TriggerRule.ALL_DONE,
        on_failure_callback=on_run_failure,
        **NO_RETRIES,
        **timeout("finish_run"),
    )
    def finish_run() -> dict[str, Any]:
        """Write the run manifest and summary; fail when any task of this run failed.

        It runs whatever happened upstream and derives the run id itself, so it works even when
        ``start_run`` failed. Airflow's task states are the truth about what failed (a task can
        die before recording anything); the stage records add the pipeline's own messages.
        """
        from airflow.sdk.exceptions import AirflowFailException

        from pipelines.config import load_config
        from pipelines.errors import GoldenError
        from pipelines.i18n import for_files
        from pipelines.orchestrate import finish_run as write_run_manifest
        from pipelines.summary import format_summary, summarise_run

        context = get_current_context()
        ti, dag_run = context["ti"], context["dag_run"]
        run_id = golden_run_id(context)
        states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[dag_run.run_id])
        states = states.get(dag_run.run_id, {})
        try:
            config = load_config(config_path())
        except GoldenError as exc:
            failed = sorted(name for name, state in states.items() if state == "failed")
            raise AirflowFailException(
                f"run {run_id}: cannot write the run summary: {exc}; failed tasks: "
                + (", ".join(failed) or "none")
            ) from exc
        from pipelines.lock import release_lease

        release_lease(config.warehouse.path, run_id)
        summary = summarise_run(config, run_id)
        problems = describe_failures(states, config.source_names, summary.errors)
        error = RunFailed("; ".join(problems)) if problems else None
        manifest = write_run_manifest(config, run_id, error=error)
        language = for_files(config.language)  # a worker's locale is not the reader's
        logger.info("run summary\n%s", format_summary(summarise_run(config, run_id), language))
        if error is not None:
            raise AirflowFailException(
                f"run {run_id} failed (details in {manifest}):\n  " + "\n  ".join(problems)
            )
        return {"run_id": run_id, "status": "succeeded", "run_json": str(manifest)}

    sources = ingest_and_validate.expand(source=start_run())
    checked = validate_staged()
    backed_up = backup()
    chain = [standardise(), checked, gate(), match(), golden(), publish(), backed_up]
    sources >> chain[0]
    for before, after in pairwise(chain):
        before >> after
    docs = data_docs()
    checked >> docs
    # finish_run waits for the last task of each branch and for every source: anything else
    # has finished by then, one way or another, so the graph needs no edge to every task.
    [sources, docs, backed_up] >> finish_run()


customer_golden_records()
