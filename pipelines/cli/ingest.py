"""``golden ingest``: land sources in the raw layer without running the rest of the pipeline."""

from __future__ import annotations

from pathlib import Path

import typer

from pipelines.cli._common import ACTOR_OPTION, CONFIG_OPTION, WAIT_OPTION, WAREHOUSE_OPTION, load


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
        reconcile: bool = typer.Option(
            False,
            "--reconcile",
            help="Database sources: also compare every id with the table, loading rows behind "
            "the watermark and finding ids deleted at the source.",
        ),
        confirm_deletions: bool = typer.Option(
            False,
            "--confirm-deletions",
            help="Retire the records queued for review as deleted at the source (see "
            "'golden deletions'); ids delivered again are kept.",
        ),
        warehouse: Path | None = WAREHOUSE_OPTION,
        actor: str | None = ACTOR_OPTION,
        wait: float = WAIT_OPTION,
    ) -> None:
        """Ingest sources into the raw layer and rebuild their current record sets.

        Each source is ingested on its own: one that fails is reported and the others go on;
        the command then exits with status 3.
        """
        from tqdm import tqdm

        from pipelines import audit
        from pipelines.cli._common import actor_name
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
                    result = ingest_source(
                        cfg,
                        run_id,
                        name,
                        full_reload=full_reload,
                        confirm_deletions=confirm_deletions,
                        reconcile=reconcile,
                    )
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
                if result.records_new or result.records_changed or result.deleted_at_source:
                    print(
                        f"  {result.records_new} new ({result.new_behind_watermark} behind the "
                        f"watermark), {result.records_changed} changed, {result.deleted_at_source} "
                        f"deleted at the source"
                    )
                if result.retired or result.pending_review:
                    print(
                        f"  {result.retired} retired as deleted at the source; "
                        f"{result.pending_review} waiting for review (golden deletions)"
                    )
                if result.deletions_held_for_review:
                    print("  deletions queued for review: rows without a readable id were rejected")
                if confirm_deletions:
                    audit.record(
                        cfg.warehouse.path,
                        actor_name(actor),
                        "deletions.confirm",
                        run_id,
                        {"source": name, "retired": result.retired},
                    )
                if result.rows_rejected:
                    print(f"  rejects: {result.rejects_path}")
        if failures:
            raise typer.Exit(SourceError.exit_code)

    @app.command("deletions")
    def deletions(
        config: Path = CONFIG_OPTION,
        source: list[str] | None = typer.Option(
            None, "--source", "-s", help="Source to list (repeatable); default: every source."
        ),
        warehouse: Path | None = WAREHOUSE_OPTION,
    ) -> None:
        """List records deleted at their source and waiting for a steward's review.

        Sources with deletions.action: review keep such records until
        'golden ingest --confirm-deletions' retires them; an id the source delivers again
        leaves the queue by itself.
        """
        from pipelines.ingest.deletions import pending_deletions

        cfg = load(config, warehouse)
        for name in source or []:
            cfg.source(name)
        queue = pending_deletions(cfg, source or None)
        if queue.height == 0:
            print("no deletions waiting for review")
            return
        print(f"{'source':<16}{'record key':<40}detected in run")
        for row in queue.iter_rows(named=True):
            key = "".join(c if c.isprintable() else "?" for c in row["record_key"])
            print(f"{row['source_system']:<16}{key:<40}{row['detected_run_id']}")
        print(f"{queue.height} record(s); 'golden ingest --confirm-deletions' retires them")
