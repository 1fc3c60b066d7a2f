"""
### golden_maintenance

Weekly housekeeping for the golden-records warehouse, on the same config as
`customer_golden_records`:

```
verify_latest_backup ─▶ apply_backup_retention
rebuild_data_docs
apply_record_retention
refresh_review_due
reconcile_database_sources
```

* `verify_latest_backup` checks the newest backup against its checksummed manifest
  (`pipelines.backup.verify_backup`); `apply_backup_retention` only runs when that passed, so old
  backups are never deleted while the newest one is unproven.
* `rebuild_data_docs` rebuilds the stewards' Data Docs site from the latest run's results.
* `apply_record_retention` retires and erases source records older than
  `privacy.record_retention_days` (none when that key is not set), and makes unreadable the old
  backups of erased subjects whose grace period is over (`docs/privacy.md`).
* `refresh_review_due` recomputes `review_due` (records and golden records due for periodic
  review, `docs/history.md`) once `review_due.refresh_every_days` (91: quarterly) have passed
  since the last refresh, and skips otherwise; the next publish publishes it, and
  `golden review due` lists it at once.
* `reconcile_database_sources` compares every id of each database source's table with its
  current record set (when `database.reconcile_every_days`, default 7, have passed): rows behind
  the watermark and ids deleted at the source are counted here and applied by the next run's
  ingest, so they pass the quality gate like any other change.

Params: `config_path` (default `$GOLDEN_CONFIG`).
Schedule: `@weekly`, or `$GOLDEN_MAINTENANCE_SCHEDULE`.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from airflow.sdk import Param, dag, task
from golden_dag_support import (
    COMPUTE_RETRIES,
    IO_RETRIES,
    START_DATE,
    TAGS,
    backup_config_or_skip,
    config_path,
    default_config_path,
    on_task_failure,
    schedule_from_env,
    small,
)

logger = logging.getLogger("dags.golden_maintenance")

DAG_ID = "golden_maintenance"
SCHEDULE_ENV = "GOLDEN_MAINTENANCE_SCHEDULE"


@dag(
    dag_id=DAG_ID,
    schedule=schedule_from_env(SCHEDULE_ENV, "@weekly"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    tags=[*TAGS, "maintenance"],
    doc_md=__doc__,
    default_args={
        "owner": "data-engineering",
        "on_failure_callback": on_task_failure,
        # Housekeeping is not urgent, but a hung verify or retention must not run forever.
        "execution_timeout": timedelta(hours=2),
    },
    params={
        # The deployment's YAML config (warehouse, backup target, privacy). Default: $GOLDEN_CONFIG.
        "config_path": Param(
            default_config_path(),
            type="string",
            minLength=1,
            title="Config file",
            description="Path of the pipeline's YAML config on the workers.",
        ),
    },
)
def golden_maintenance() -> None:
    @task(**IO_RETRIES)
    def verify_latest_backup() -> dict[str, Any]:
        """Check the newest backup against its manifest before anything older is deleted."""
        from airflow.sdk.exceptions import AirflowFailException

        from pipelines.backup import verify_backup

        config = backup_config_or_skip()
        report = verify_backup(config)
        if not report.ok:
            # Stored objects that do not match their manifest will not heal on a retry.
            problems = "; ".join(f"{c.name}: {c.status} ({c.detail})" for c in report.problems)
            raise AirflowFailException(
                f"backup {report.run_id} at {report.uri} failed verification, so no older "
                f"backup is deleted: {problems}"
            )
        return small(report)

    @task(**IO_RETRIES)
    def apply_backup_retention() -> dict[str, Any]:
        """Delete backups outside backup.retention (daily/weekly), never the newest ones."""
        from pipelines.backup import apply_retention
        from pipelines.config import load_config

        result = apply_retention(load_config(config_path()))
        return {"kept": len(result.kept), "deleted": result.deleted}

    @task(**COMPUTE_RETRIES)
    def rebuild_data_docs() -> dict[str, Any]:
        """Rebuild the Data Docs site from the latest run that has validation results."""
        from airflow.sdk.exceptions import AirflowSkipException

        from pipelines.config import load_config
        from pipelines.validate import build_data_docs
        from pipelines.warehouse import Warehouse

        config = load_config(config_path())
        warehouse = Warehouse(config.warehouse.path)
        validated = [r for r in warehouse.run_ids() if (warehouse.run(r) / "dq").is_dir()]
        if not validated:
            raise AirflowSkipException(f"no run in {warehouse.root} has validation results yet")
        run_id = validated[-1]
        path = build_data_docs(config, run_id)
        logger.info("Data Docs rebuilt from run %s: %s", run_id, path)
        return {"run_id": run_id, "path": str(path)}

    @task(**IO_RETRIES)
    def apply_record_retention() -> dict[str, Any]:
        """Erase records past privacy.record_retention_days; shred erased subjects' old backups."""
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        import pipelines.privacy
        from pipelines.config import load_config

        config = load_config(config_path())
        days = config.privacy.record_retention_days
        apply = getattr(pipelines.privacy, "apply_record_retention", None)
        if days is None and apply is None:
            raise AirflowSkipException("privacy.record_retention_days is not set: records are kept")
        if apply is None:
            # A configured retention period that is silently not applied is a compliance gap.
            raise AirflowFailException(
                f"privacy.record_retention_days is {days} in {config.config_path}, but this "
                "installation has no pipelines.privacy.apply_record_retention: upgrade "
                "golden-records or unset the key"
            )
        return small(apply(config))

    @task(**COMPUTE_RETRIES)
    def refresh_review_due() -> dict[str, Any]:
        """Recompute review_due when review_due.refresh_every_days have passed (quarterly)."""
        from airflow.sdk.exceptions import AirflowSkipException

        from pipelines.config import load_config
        from pipelines.publish import current_run_id
        from pipelines.review_due.compute import is_due, last_refresh
        from pipelines.review_due.compute import refresh_review_due as refresh
        from pipelines.warehouse import Warehouse, protect_warehouse

        config = load_config(config_path())
        root = config.warehouse.path
        protect_warehouse(root, config.warehouse.access)
        if current_run_id(root) is None:
            raise AirflowSkipException(f"nothing is published in {root} yet")
        if not is_due(root, config.review_due):
            raise AirflowSkipException(
                f"review_due was refreshed at {last_refresh(Warehouse(root))}; the next "
                f"refresh is due {config.review_due.refresh_every_days} days after that"
            )
        return small(refresh(root, config.review_due))

    @task(**IO_RETRIES)
    def reconcile_database_sources() -> dict[str, Any]:
        """Find database rows behind the watermark and ids deleted at the source."""
        from airflow.sdk.exceptions import AirflowSkipException

        from pipelines.config import load_config
        from pipelines.ingest.reconcile import reconcile_database_sources as reconcile

        config = load_config(config_path())
        if not any(s.database is not None for s in config.sources):
            raise AirflowSkipException("no database sources to reconcile")
        found = reconcile(config)
        logger.info("reconciled: %s (the next run's ingest applies them)", found or "none due")
        return {"sources": found}

    verify_latest_backup() >> apply_backup_retention()
    rebuild_data_docs()
    apply_record_retention()
    refresh_review_due()
    reconcile_database_sources()


golden_maintenance()
