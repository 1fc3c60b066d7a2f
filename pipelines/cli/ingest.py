"""``golden ingest``: land sources in the raw layer without running the rest of the pipeline."""

from __future__ import annotations

from pathlib import Path

import typer

from pipelines.cli._common import CONFIG_OPTION, WAIT_OPTION, WAREHOUSE_OPTION, load


def register(app: typer.Typer) -> None:
    @app.command("ingest")
    def ingest(
        config: Path = CONFIG_OPTION,
        source: list[str] | None = typer.Option(
            None, "--source", "-s", help="Source to ingest (repeatable); default: every source."
        ),
        run_id: str | None = typer.Option(
            None, "--run-id", help="Run id (rerun an earlier one); default: a new one."
        ),
        full_reload: bool = typer.Option(
            False, "--full-reload", help="Ignore watermarks: load everything, replace current sets."
        ),
        warehouse: Path | None = WAREHOUSE_OPTION,
        wait: float = WAIT_OPTION,
    ) -> None:
        """Ingest sources into the raw layer and rebuild their current record sets.

        Each source is ingested on its own: one that fails is reported and the others go on;
        the command then exits with status 3.
        """
        from tqdm import tqdm

        from pipelines.errors import GoldenError, SourceError
        from pipelines.ingest import ingest_source
        from pipelines.lock import run_lock
        from pipelines.warehouse import new_run_id

        cfg = load(config, warehouse)
        names = source or cfg.source_names
        for name in names:
            cfg.source(name)  # unknown names fail before anything is read
        run_id = run_id or new_run_id()
        print(f"run {run_id}")
        with run_lock(cfg.warehouse.path, "golden ingest", wait=wait, run_id=run_id):
            failures: list[str] = []
            for name in tqdm(
                names, desc="ingest", unit="source", leave=False, disable=len(names) < 2
            ):
                try:
                    result = ingest_source(cfg, run_id, name, full_reload=full_reload)
                except GoldenError as exc:
                    failures.append(name)
                    typer.secho(f"{name}: FAILED: {exc}", fg=typer.colors.RED, err=True)
                    continue
                line = (
                    f"{name}: {result.rows_read} read, {result.rows_landed} landed, "
                    f"{result.rows_rejected} rejected"
                )
                if result.rows_suppressed:
                    line += f", {result.rows_suppressed} suppressed"
                if result.rows_unchanged:
                    line += f", {result.rows_unchanged} unchanged"
                line += f"; {result.rows_current} current records"
                if result.new_columns:
                    line += f"; new columns {result.new_columns}"
                print(line)
                if result.rows_rejected:
                    print(f"  rejects: {result.rejects_path}")
        if failures:
            raise typer.Exit(SourceError.exit_code)
