"""``golden run``: every stage in order on one config, without Airflow."""

from __future__ import annotations

from pathlib import Path

import typer

from pipelines.cli._common import (
    CONFIG_OPTION,
    WAIT_OPTION,
    WAREHOUSE_OPTION,
    load,
    quiet_unless_asked,
)


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        config: Path = CONFIG_OPTION,
        warehouse: Path | None = WAREHOUSE_OPTION,
        run_id: str | None = typer.Option(None, help="Reuse a run id (rerun); default: new."),
        full_reload: bool = typer.Option(False, help="Reload every source completely."),
        model: Path | None = typer.Option(None, help="Trained Splink model JSON to reuse."),
        full_rebuild: bool = typer.Option(
            False,
            help="Validate, standardise, match and survive every record anew instead of "
            "building on the previous run's outputs.",
        ),
        skip_backup: bool = typer.Option(False, help="Do not back up this run."),
        reconcile: bool = typer.Option(
            False,
            help="Compare every id of each database source's table with its current set: load "
            "rows behind the watermark, find ids deleted at the source.",
        ),
        wait: float = WAIT_OPTION,
    ) -> None:
        """Ingest, validate, standardise, match, build golden records, publish and back up."""
        from tqdm import tqdm
        from tqdm.contrib.logging import logging_redirect_tqdm

        from pipelines.i18n import choose
        from pipelines.lock import RunLockedError
        from pipelines.orchestrate import run_pipeline
        from pipelines.summary import format_summary, summarise_run
        from pipelines.warehouse import new_run_id

        cfg = load(config, warehouse)
        run_id = run_id or new_run_id()
        steps = len(cfg.sources) + 8  # one step per source, then the shared stages
        # Warnings only while it runs (its summary says what happened); log lines are written
        # above the progress bar, never through it.
        with (
            quiet_unless_asked(),
            logging_redirect_tqdm(),
            tqdm(total=steps, desc="golden run", unit="stage", leave=False) as bar,
        ):

            def on_stage(name: str) -> None:
                bar.set_postfix_str(name)
                bar.update(1)

            locked = False
            try:
                run_pipeline(
                    cfg,
                    run_id,
                    full_reload=full_reload,
                    model_path=model,
                    full_rebuild=full_rebuild,
                    skip_backup=skip_backup,
                    on_stage=on_stage,
                    lock_wait=wait,
                    reconcile=reconcile,
                )
            except RunLockedError:
                locked = True  # refused before anything of this run was written
                raise
            finally:
                bar.close()
                if not locked:
                    language = choose(cfg.language, ask_environment=True)
                    print(format_summary(summarise_run(cfg, run_id), language))
