"""Run the stages of one pipeline run, in order, recording what each did.

The CLI (``golden run``) calls :func:`run_pipeline`; the Airflow DAG calls :func:`run_stage` once
per task. Both go through :func:`run_stage`, which times the stage, stores its result (or its
error) in ``runs/<run_id>/stages/<stage>.json`` and re-raises failures, so the run summary is
built the same way whichever of the two drove the run.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from matching.quiet import hide_spark_pandas_warning
from pipelines import audit
from pipelines.config import PipelineConfig, load_config
from pipelines.errors import GoldenError
from pipelines.lock import check_lease, run_lock
from pipelines.warehouse import Warehouse, new_run_id, protect_warehouse, read_json, write_json

logger = logging.getLogger(__name__)

STAGES = (
    "ingest",
    "validate_source",
    "standardise",
    "validate_staged",
    "data_docs",
    "gate",
    "match",
    "golden",
    "publish",
    "backup",
)
"""Stage names in run order. ``ingest`` and ``validate_source`` run once per source."""


def _call(stage: str, config: PipelineConfig, run_id: str, **kwargs: Any) -> Any:
    # Imports are local so that importing this module (e.g. while Airflow parses a DAG) stays cheap.
    if stage == "ingest":
        from pipelines.ingest import ingest_source

        return ingest_source(
            config,
            run_id,
            kwargs["source"],
            kwargs.get("full_reload", False),
            reconcile=kwargs.get("reconcile", False),
        )
    if stage == "validate_source":
        from pipelines.validate import validate_source

        return validate_source(
            config, run_id, kwargs["source"], full=kwargs.get("full_rebuild", False)
        )
    if stage == "standardise":
        from pipelines.standardise import standardise

        return standardise(config, run_id, full=kwargs.get("full_rebuild", False))
    if stage == "validate_staged":
        from pipelines.validate import validate_staged

        return validate_staged(config, run_id)
    if stage == "data_docs":
        from pipelines.validate import build_data_docs

        return {"path": str(build_data_docs(config, run_id))}
    if stage == "gate":
        from pipelines.validate import check_gate

        return check_gate(config, run_id)
    if stage == "match":
        from pipelines.match import match

        return match(config, run_id, kwargs.get("model_path"), kwargs.get("full_rebuild", False))
    if stage == "golden":
        from pipelines.golden import build_golden

        return build_golden(config, run_id, full=kwargs.get("full_rebuild", False))
    if stage == "publish":
        from pipelines.publish import publish

        return publish(config, run_id)
    if stage == "backup":
        from pipelines.backup import backup

        return backup(config, run_id)
    raise ValueError(f"unknown stage {stage!r}; stages are {', '.join(STAGES)}")


def stage_record_path(warehouse: Warehouse, run_id: str, stage: str, source: str | None) -> Path:
    name = f"{stage}.{source}" if source else stage
    return warehouse.run(run_id) / "stages" / f"{name}.json"


def run_stage(
    stage: str,
    config: PipelineConfig | str | Path,
    run_id: str,
    *,
    source: str | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Run one stage for ``run_id`` and record it; returns the stage's result as a dict.

    ``config`` may be a loaded config or the path of the YAML file (what an Airflow task has).
    """
    if not isinstance(config, PipelineConfig):
        config = load_config(config)
    protect_warehouse(config.warehouse.path, config.warehouse.access)
    hide_spark_pandas_warning(config.matching.engine)
    warehouse = Warehouse(config.warehouse.path)
    record_path = stage_record_path(warehouse, run_id, stage, source)
    label = f"{stage}[{source}]" if source else stage
    started = datetime.now(UTC)
    clock = time.perf_counter()
    logger.info("run %s: %s started", run_id, label)
    record: dict[str, Any] = {
        "stage": stage,
        "source": source,
        "run_id": run_id,
        "started_at": started.isoformat(),
    }
    _audit_run_start(config, warehouse, run_id)
    try:
        extra = {"source": source} if source else {}
        result = _call(stage, config, run_id, **extra, **kwargs)
    except Exception as exc:
        record.update(
            status="failed",
            seconds=round(time.perf_counter() - clock, 3),
            error=f"{type(exc).__name__}: {exc}",
            traceback=None if isinstance(exc, GoldenError) else traceback.format_exc(),
        )
        write_json(record_path, record)
        logger.error("run %s: %s failed: %s", run_id, label, exc)
        raise
    payload = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
    record.update(status="succeeded", seconds=round(time.perf_counter() - clock, 3), result=payload)
    write_json(record_path, record)
    logger.info("run %s: %s done in %.1fs", run_id, label, record["seconds"])
    if stage in ("publish", "backup"):
        audited = ("tables", "previous_run_id", "uri", "objects", "encrypted")
        details = {k: payload[k] for k in audited if isinstance(payload, dict) and k in payload}
        audit.record(config.warehouse.path, None, stage, run_id, details)
    return payload


def run_leased_stage(
    stage: str, config_path: str | Path, run_id: str, **kwargs: Any
) -> dict[str, Any]:
    """:func:`run_stage` for a task of an Airflow DAG run, which holds the warehouse's lease.

    Tasks run in separate processes, so the DAG run's ``start_run`` leases the warehouse
    (:func:`pipelines.lock.take_lease`) and each stage checks the lease is still its run's
    before touching anything: a run started by hand meanwhile, or a broken lease, stops it.
    """
    config = load_config(config_path)
    check_lease(config.warehouse.path, run_id)
    return run_stage(stage, config, run_id, **kwargs)


def _audit_run_start(config: PipelineConfig, warehouse: Warehouse, run_id: str) -> None:
    """Audit a run's start once, from whichever stage comes first (CLI or Airflow task)."""
    marker = warehouse.run(run_id) / "stages" / ".audited-start"
    marker.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    except FileExistsError:
        return
    audit.record(config.warehouse.path, None, "run.start", run_id, {"sources": config.source_names})


def stage_records(warehouse: Warehouse, run_id: str) -> list[dict[str, Any]]:
    """Every recorded stage of a run, in the order they started."""
    folder = warehouse.run(run_id) / "stages"
    if not folder.is_dir():
        return []
    records = [read_json(p) for p in folder.glob("*.json")]
    return sorted(records, key=lambda r: r["started_at"])


class SourceFailure(GoldenError):
    """One or more sources failed; the others' work is kept and can be built on by a retry."""

    exit_code = 3


def run_pipeline(
    config: PipelineConfig,
    run_id: str | None = None,
    *,
    full_reload: bool = False,
    model_path: Path | None = None,
    full_rebuild: bool = False,
    skip_backup: bool = False,
    on_stage: Callable[[str], None] | None = None,
    lock_wait: float | None = None,
    reconcile: bool = False,
) -> str:
    """Run every stage in order for a new (or given) run id and return the run id.

    The whole run holds the warehouse's run lock (:mod:`pipelines.lock`): a second run, a
    restore, an erasure or a steward write waits ``lock_wait`` seconds (default: the CLI's
    ``--wait``, else none) or is refused with :class:`~pipelines.lock.RunLockedError` before
    anything is written.
    """
    run_id = run_id or new_run_id()
    protect_warehouse(config.warehouse.path, config.warehouse.access)  # before the lock file
    with run_lock(config.warehouse.path, "golden run", wait=lock_wait, run_id=run_id):
        return _run_pipeline(
            config,
            run_id,
            full_reload=full_reload,
            model_path=model_path,
            full_rebuild=full_rebuild,
            skip_backup=skip_backup,
            on_stage=on_stage,
            reconcile=reconcile,
        )


def _run_pipeline(
    config: PipelineConfig,
    run_id: str,
    *,
    full_reload: bool,
    model_path: Path | None,
    full_rebuild: bool,
    skip_backup: bool,
    on_stage: Callable[[str], None] | None,
    reconcile: bool = False,
) -> str:
    """The stages of :func:`run_pipeline`, run while it holds the lock.

    ``reconcile`` has each database source's ingest compare every id of its table with its
    current set (rows behind the watermark, ids deleted at the source).

    ``full_rebuild`` rebuilds every derived layer from the current records: validation and
    standardise judge and standardise every record instead of reusing the previous run's
    verdicts and staged rows, and the match stage
    scores every pair instead of building on the previous run's match (``matching.incremental``),
    and the golden stage chooses every customer's values anew instead of keeping those of
    customers whose records did not change.

    Sources are ingested and validated independently: one failing source does not undo the
    others' landed batches, but the run stops before standardising, because building golden
    records without that source would retire its customers. A tripped quality gate stops the
    run before anything is published; the Data Docs are built first so stewards can see why.
    """
    notify = on_stage or (lambda _name: None)
    protect_warehouse(config.warehouse.path, config.warehouse.access)
    write_json(
        Warehouse(config.warehouse.path).run_manifest(run_id),
        {"run_id": run_id, "config_path": str(config.config_path), "status": "running"},
    )
    try:
        failures: list[str] = []
        for source in config.source_names:
            notify(f"ingest+validate {source}")
            try:
                run_stage(
                    "ingest",
                    config,
                    run_id,
                    source=source,
                    full_reload=full_reload,
                    reconcile=reconcile,
                )
                run_stage(
                    "validate_source", config, run_id, source=source, full_rebuild=full_rebuild
                )
            except Exception as exc:  # noqa: BLE001 - reported below, other sources continue
                failures.append(f"{source}: {exc}")
        if failures:
            raise SourceFailure(
                f"{len(failures)} of {len(config.sources)} source(s) failed; the others were "
                "ingested and validated and a rerun of the failed ones can continue this run:\n  "
                + "\n  ".join(failures)
            )
        for stage in ("standardise", "validate_staged", "data_docs", "gate", "match", "golden"):
            notify(stage)
            options: dict[str, Any] = {
                "standardise": {"full_rebuild": full_rebuild},
                "match": {"model_path": model_path, "full_rebuild": full_rebuild},
                "golden": {"full_rebuild": full_rebuild},
            }.get(stage, {})
            run_stage(stage, config, run_id, **options)
        notify("publish")
        run_stage("publish", config, run_id)
        if config.backup.enabled and not skip_backup:
            notify("backup")
            run_stage("backup", config, run_id)
        elif not config.backup.enabled:
            logger.warning(
                "run %s: published without a backup (no backup.bucket configured, or "
                "backup.enabled is false)",
                run_id,
            )
    except Exception as exc:
        finish_run(config, run_id, error=exc)
        raise
    finish_run(config, run_id)
    return run_id


def finish_run(config: PipelineConfig, run_id: str, error: BaseException | None = None) -> Path:
    """Write the run manifest with the summary of every recorded stage."""
    from pipelines.summary import summarise_run

    warehouse = Warehouse(config.warehouse.path)
    summary = summarise_run(config, run_id)
    payload = summary.model_dump(mode="json")
    payload["status"] = "failed" if error else "succeeded"
    payload["error"] = f"{type(error).__name__}: {error}" if error else None
    path = warehouse.run_manifest(run_id)
    write_json(path, payload)
    audit.record(
        config.warehouse.path,
        None,
        "run.finish",
        run_id,
        {"status": payload["status"], "error": payload["error"]},
    )
    return path
