"""``golden backup ...`` and ``golden restore``: backups of the published tables and state."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from pipelines import audit
from pipelines.cli._common import ACTOR_OPTION, CONFIG_OPTION, WAIT_OPTION, WAREHOUSE_OPTION, load

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"  # pragma: no cover


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Back up published golden tables and state to S3-compatible storage.",
        no_args_is_help=True,
    )
    app.add_typer(group, name="backup")

    @group.command("run")
    def run(
        config: Path = CONFIG_OPTION,
        warehouse: Path | None = WAREHOUSE_OPTION,
        run_id: str | None = typer.Option(
            None, "--run-id", help="Published run to back up (default: the current version)."
        ),
        actor: str | None = ACTOR_OPTION,
        wait: float = WAIT_OPTION,
    ) -> None:
        """Back up a published run: every table, the state, and a manifest written last."""
        from tqdm import tqdm

        from pipelines.backup import backup
        from pipelines.errors import StageInputError
        from pipelines.lock import run_lock
        from pipelines.publish import current_run_id

        cfg = load(config, warehouse)
        run_id = run_id or current_run_id(cfg.warehouse.path)
        if run_id is None:
            raise StageInputError(f"nothing is published in {cfg.warehouse.path} to back up")
        with tqdm(desc=f"backup {run_id}", unit="object", leave=False) as bar:

            def progress(name: str, size: int) -> None:
                bar.set_postfix_str(name)
                bar.update(1)

            # Under the run lock: a run publishing meanwhile would mix two versions' state.
            with run_lock(cfg.warehouse.path, "golden backup run", wait=wait):
                result = backup(cfg, run_id, progress=progress)
        audit.record(
            cfg.warehouse.path,
            actor,
            "backup",
            result.run_id,
            {"uri": result.uri, "objects": result.objects, "encrypted": result.encrypted},
        )
        print(
            f"backed up run {result.run_id} to {result.uri}: {result.objects} objects, "
            f"{_size(result.bytes)}{' (client-side encrypted)' if result.encrypted else ''} "
            f"in {result.seconds:.1f}s"
        )

    @group.command("list")
    def list_(
        config: Path = CONFIG_OPTION,
        warehouse: Path | None = WAREHOUSE_OPTION,
    ) -> None:
        """List every backup, oldest first; only those with a manifest are complete."""
        from pipelines.backup import list_backups

        backups = list_backups(load(config, warehouse))
        if not backups:
            print("no backups")
            return
        header = ("run id", "status", "created (UTC)", "objects", "size")
        print("{:<26} {:<10} {:<20} {:>7} {:>10}  notes".format(*header))
        for info in backups:
            status = "complete" if info.complete else "INCOMPLETE"
            when = f"{info.created_at:%Y-%m-%d %H:%M:%S}" if info.created_at else "-"
            notes = []
            if info.encrypted:
                notes.append("key destroyed" if info.key_destroyed else "encrypted")
            if info.problem and not info.complete:
                notes.append(info.problem)
            print(
                f"{info.run_id:<26} {status:<10} {when:<20} {info.objects:>7} "
                f"{_size(info.stored_bytes):>10}  {'; '.join(notes)}"
            )

    @group.command("verify")
    def verify(
        run_id: str | None = typer.Argument(None, help="Backup to verify (default: latest)."),
        config: Path = CONFIG_OPTION,
        warehouse: Path | None = WAREHOUSE_OPTION,
    ) -> None:
        """Download a backup and check every object's size, SHA-256 and row count.

        Exits 1 and reports each bad object when anything does not match.
        """
        from pipelines.backup import verify_backup

        report = verify_backup(load(config, warehouse), run_id)
        for check in report.objects:
            rows = f" rows={check.actual_rows}" if check.actual_rows is not None else ""
            line = f"{check.status:<18} {check.name}{rows}"
            print(line if check.ok else f"{line}: {check.detail}")
        for key in report.unexpected:
            print(f"{'not in manifest':<18} {key}")
        verdict = "OK" if report.ok else f"FAILED ({len(report.problems)} bad object(s))"
        print(f"backup {report.run_id} at {report.uri}: {verdict}")
        if not report.ok:
            raise typer.Exit(1)

    @group.command("prune")
    def prune(
        config: Path = CONFIG_OPTION,
        warehouse: Path | None = WAREHOUSE_OPTION,
        dry_run: bool = typer.Option(False, "--dry-run", help="Only say what would be deleted."),
    ) -> None:
        """Apply retention: keep the newest backup of the last N days and M weeks."""
        from pipelines.backup import apply_retention

        result = apply_retention(load(config, warehouse), dry_run=dry_run)
        for run_id, reason in sorted(result.reasons.items()):
            action = "keep" if run_id in result.kept else ("would delete" if dry_run else "deleted")
            print(f"{action:<13} {run_id}: {reason}")

    @group.command("new-key")
    def new_key() -> None:
        """Print a new random master key (base64) for client-side encryption."""
        from pipelines.backup.crypto import generate_master_key

        print(generate_master_key())

    @app.command("restore")
    def restore(
        run_id: str = typer.Argument(..., help="Run id of the backup to restore."),
        config: Path = CONFIG_OPTION,
        warehouse: Path | None = WAREHOUSE_OPTION,
        force: bool = typer.Option(
            False, "--force", help="Restore even over a newer state (rolls golden ids back)."
        ),
        actor: str | None = ACTOR_OPTION,
        wait: float = WAIT_OPTION,
    ) -> None:
        """Restore a backup's published tables (made current) and state into the warehouse."""
        from pipelines.lock import run_lock

        cfg = load(config, warehouse)
        # One hold for the restore and the erasures re-applied after it: no run may start on
        # restored data that still holds erased subjects.
        with run_lock(cfg.warehouse.path, "golden restore", wait=wait):
            _restore(cfg, run_id, force, actor)

    def _restore(cfg: PipelineConfig, run_id: str, force: bool, actor: str | None) -> None:
        from pipelines.backup import restore as restore_backup

        result = restore_backup(cfg, run_id, force=force, actor=actor)  # audits the restore
        print(
            f"restored backup {result.run_id} into {result.version_dir} "
            f"({len(result.files)} files, {_size(result.bytes)}; previous state: "
            f"{result.previous_run_id or 'none'}) in {result.seconds:.1f}s"
        )
        for log in result.merged_logs:
            print(f"kept newer local lines of {log}")
        if result.reapplied:
            print(
                f"erased again {result.reapplied} record(s) of subjects erased after this backup "
                "was taken (suppression list), before the restored version became readable"
            )
        # A backup taken before an erasure holds the subject again: erase them again.
        from pipelines.errors import GoldenError
        from pipelines.privacy import reapply_erasures

        try:
            reapplied = reapply_erasures(cfg, actor=actor)
        except GoldenError as exc:
            typer.secho(
                f"warning: erased subjects could not be erased again after the restore ({exc}); "
                "fix that, then run `golden privacy reapply`",
                fg=typer.colors.YELLOW,
                err=True,
            )
            raise typer.Exit(1) from None
        if reapplied.records:
            print(f"erased again {reapplied.records} record(s) of subjects erased since the backup")
