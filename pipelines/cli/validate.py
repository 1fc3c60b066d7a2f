"""``golden validate``: check one source against its suite without running the rest."""

from __future__ import annotations

from pathlib import Path

import typer

from pipelines.cli._common import CONFIG_OPTION, WAIT_OPTION, WAREHOUSE_OPTION, load

SOURCE_OPTION = typer.Option(
    ..., "--source", "-s", help="Source to validate (a name in the config)."
)
RUN_ID_OPTION = typer.Option(
    None,
    "--run-id",
    help="Run to validate in; its ingested records are used, or the source is ingested into it "
    "first. Default: a new run.",
)
DOCS_OPTION = typer.Option(True, "--data-docs/--no-data-docs", help="Update the Data Docs site.")


def register(app: typer.Typer) -> None:
    @app.command("validate")
    def validate(
        config: Path = CONFIG_OPTION,
        source: str = SOURCE_OPTION,
        run_id: str | None = RUN_ID_OPTION,
        warehouse: Path | None = WAREHOUSE_OPTION,
        data_docs: bool = DOCS_OPTION,
        wait: float = WAIT_OPTION,
    ) -> None:
        """Validate one source with its expectation suite: counts, failures, Data Docs path."""
        from pipelines.lock import run_lock
        from pipelines.orchestrate import run_stage
        from pipelines.warehouse import Warehouse, new_run_id

        cfg = load(config, warehouse)
        cfg.source(source)  # an unknown name fails here, naming the sources there are
        run_id = run_id or new_run_id()
        with run_lock(cfg.warehouse.path, "golden validate", wait=wait, run_id=run_id):
            if not Warehouse(cfg.warehouse.path).current_records(run_id, source).exists():
                typer.echo(f"run {run_id}: ingesting {source} first")
                run_stage("ingest", cfg, run_id, source=source)
            typer.echo(f"run {run_id}: validating {source}")
            result = run_stage("validate_source", cfg, run_id, source=source)

        typer.echo("")
        typer.echo(f"suite {result['suite']} on source {source} (run {run_id})")
        for label in ("rows_in", "accepted", "quarantined", "warned"):
            typer.echo(f"  {label.replace('_', ' ') + ':':<14}{result[label]:>12,}")
        verdict = "all expectations met" if result["success"] else "some expectations failed"
        typer.echo(f"  {'result:':<14}{verdict}")
        for failed in result["failed_expectations"]:
            typer.echo(f"    {failed}")
        typer.echo(f"  {'quarantine:':<14}{result['quarantine_path']}")
        typer.echo(f"  {'dq result:':<14}{result['dq_path']}")
        if data_docs and cfg.validation.data_docs:
            docs = run_stage("data_docs", cfg, run_id)
            typer.echo(f"  {'Data Docs:':<14}{docs['path']}")
