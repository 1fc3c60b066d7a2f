"""``golden forget``, ``golden export-subject`` and ``golden privacy ...``: data-subject requests,
retention, backups of erased subjects, and the audit trail.

Every command that touches a subject's data is audited with the actor (``--actor``, else
``GOLDEN_ACTOR``, else the OS user) and never writes the subject's identifier to the trail.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from pipelines.cli._common import (
    ACTOR_OPTION,
    CONFIG_OPTION,
    WAIT_OPTION,
    WAREHOUSE_OPTION,
    hold_lock,
    load,
)

if TYPE_CHECKING:
    from pipelines.privacy.backups import BackupErasureResult

SUBJECT_OPTION = typer.Option(
    ..., "--subject", help="Golden id, record key (<source>:<id>), email address or phone number."
)
KIND_OPTION = typer.Option(
    None,
    "--kind",
    help="What --subject is, when it is ambiguous: golden_id, record_key, email, phone.",
)
ALL_MATCHES_OPTION = typer.Option(
    False,
    "--all-matches",
    help="The email or phone belongs to several customers and every one of them is the subject.",
)
_KINDS = ("golden_id", "record_key", "email", "phone")


def _kind(value: str | None) -> str | None:
    from pipelines.errors import UsageError

    if value is not None and value not in _KINDS:
        raise UsageError(f"--kind {value!r} is not one of {', '.join(_KINDS)}")
    return value


def _print_backups(result: BackupErasureResult | None) -> None:
    if result is None:
        return
    for erasure_id, backups in result.done.items():
        if not backups:
            print(f"  {erasure_id}: no backup held the subject")
        for run_id, outcome in sorted(backups.items()):
            print(f"  {erasure_id}: backup {run_id}: {outcome}")
    for erasure_id, due in result.waiting.items():
        print(f"  {erasure_id}: backups that may hold the subject go unreadable on {due:%Y-%m-%d}")
    if result.skipped:
        print(f"  {result.skipped}")


def register(app: typer.Typer) -> None:
    @app.command("forget")
    def forget(
        config: Path = CONFIG_OPTION,
        warehouse: Path | None = WAREHOUSE_OPTION,
        subject: str = SUBJECT_OPTION,
        reason: str = typer.Option(..., "--reason", help="Why (the legal basis), for the audit."),
        requester: str = typer.Option(
            ..., "--requester", help="Who asked (a ticket or request reference), for the audit."
        ),
        actor: str | None = ACTOR_OPTION,
        kind: str | None = KIND_OPTION,
        all_matches: bool = ALL_MATCHES_OPTION,
        purge_backups: bool = typer.Option(
            False,
            "--purge-backups",
            help="Make old backups holding the subject unreadable now, not after the grace period.",
        ),
        no_backup: bool = typer.Option(
            False, "--no-backup", help="Do not take a fresh backup of the cleaned current version."
        ),
        wait: float = WAIT_OPTION,
    ) -> None:
        """Erase a subject everywhere and keep them out; shred old backups (right to erasure)."""
        hold_lock(wait)
        from pipelines.privacy import forget as run_forget

        result = run_forget(
            load(config, warehouse),
            subject,
            reason=reason,
            requester=requester,
            actor=actor,
            kind=_kind(kind),  # type: ignore[arg-type]
            all_matches=all_matches,
            purge_backups=purge_backups,
            backup_after=not no_backup,
        )
        layers = result.layers
        print(
            f"erasure {result.erasure_id}: {result.records} source record(s) of "
            f"{len(result.golden_ids)} customer(s) erased"
        )
        print(
            f"  raw rows {layers.raw_rows} ({layers.raw_files} files), run rows {layers.run_rows}, "
            f"rejects {layers.reject_rows}, published rows {layers.published_rows} "
            f"({len(layers.published_versions)} version(s)), registry rows {layers.registry_rows}, "
            f"steward decisions {layers.decisions}, text files scrubbed {layers.text_files}"
        )
        suppressed = ", ".join(f"{k} {v}" for k, v in result.suppressed.items() if v)
        print(f"  suppressed from now on: {suppressed or 'nothing'}")
        if result.shared_not_suppressed:
            print(
                f"  {result.shared_not_suppressed} email/phone value(s) are shared with other "
                "customers and were not suppressed"
            )
        if result.golden_ids:
            print(f"  erased golden ids (tell downstream systems): {', '.join(result.golden_ids)}")
        if result.backup_run_id:
            print(f"  fresh backup of run {result.backup_run_id} taken without the subject")
        _print_backups(result.backups)
        print(f"  audit target: subject:{result.subject}")
        for problem in [*result.warnings, *result.problems]:
            typer.secho(f"warning: {problem}", fg=typer.colors.YELLOW, err=True)
        if result.problems:
            raise typer.Exit(1)

    @app.command("export-subject")
    def export_subject(
        config: Path = CONFIG_OPTION,
        warehouse: Path | None = WAREHOUSE_OPTION,
        subject: str = SUBJECT_OPTION,
        out: Path = typer.Option(..., "--out", help="JSON file to write (readable by you only)."),
        reason: str | None = typer.Option(None, "--reason", help="Why, for the audit."),
        actor: str | None = ACTOR_OPTION,
        kind: str | None = KIND_OPTION,
        all_matches: bool = ALL_MATCHES_OPTION,
    ) -> None:
        """Write everything held about a subject as JSON (right of access)."""
        from pipelines.privacy import export_subject as run_export

        result = run_export(
            load(config, warehouse),
            subject,
            out,
            actor=actor,
            kind=_kind(kind),  # type: ignore[arg-type]
            all_matches=all_matches,
            reason=reason,
        )
        counts = ", ".join(f"{k} {v}" for k, v in result.counts.items())
        print(f"wrote {result.path}: {counts}")
        print("it holds personal data: send it to the subject securely and delete your copy")

    group = typer.Typer(
        help="Retention, backups of erased subjects, suppression salt and the audit trail.",
        no_args_is_help=True,
    )
    app.add_typer(group, name="privacy")

    @group.command("enforce-backups")
    def enforce_backups(
        config: Path = CONFIG_OPTION,
        warehouse: Path | None = WAREHOUSE_OPTION,
        actor: str | None = ACTOR_OPTION,
        wait: float = WAIT_OPTION,
    ) -> None:
        """Make unreadable the backups of erased subjects whose grace period is over."""
        hold_lock(wait)
        from pipelines.privacy import enforce_backup_erasures

        result = enforce_backup_erasures(load(config, warehouse), actor=actor)
        if not result.done and not result.waiting:
            print("no erasure waits for its backups")
        _print_backups(result)

    @group.command("retention")
    def retention(
        config: Path = CONFIG_OPTION,
        warehouse: Path | None = WAREHOUSE_OPTION,
        actor: str | None = ACTOR_OPTION,
        wait: float = WAIT_OPTION,
    ) -> None:
        """Erase records past privacy.record_retention_days; re-apply erasures; shred backups."""
        hold_lock(wait)
        from pipelines.privacy import apply_record_retention

        result = apply_record_retention(load(config, warehouse), actor=actor)
        if result.cutoff is None:
            print("privacy.record_retention_days is not set: no records are retired")
        else:
            print(
                f"records last seen before {result.cutoff:%Y-%m-%d %H:%M}Z: {result.records} "
                f"erased, {len(result.golden_ids)} customer(s) retired"
            )
        if result.reapplied:
            print(f"{result.reapplied} suppressed record(s) found again and erased")
        _print_backups(result.backups)

    @group.command("reapply")
    def reapply(
        config: Path = CONFIG_OPTION,
        warehouse: Path | None = WAREHOUSE_OPTION,
        actor: str | None = ACTOR_OPTION,
        wait: float = WAIT_OPTION,
    ) -> None:
        """Erase again every suppressed record found (after a restore or an interrupted run)."""
        hold_lock(wait)
        from pipelines.privacy import reapply_erasures

        result = reapply_erasures(load(config, warehouse), actor=actor)
        print(f"{result.records} suppressed record(s) found and erased")

    @group.command("new-salt")
    def new_salt() -> None:
        """Print a new random suppression salt (set it once, keep it like a key)."""
        import secrets

        print(secrets.token_urlsafe(32))

    @group.command("audit")
    def audit_list(
        config: Path = CONFIG_OPTION,
        warehouse: Path | None = WAREHOUSE_OPTION,
        action: str | None = typer.Option(None, "--action", help="Only this action (prefix)."),
        limit: int = typer.Option(50, "--limit", "-n", min=1, help="Newest events to show."),
    ) -> None:
        """Show the newest events of the audit trail."""
        from pipelines.audit import read_audit

        events = read_audit(load(config, warehouse).warehouse.path)
        if action:
            events = [e for e in events if e.action.startswith(action)]
        for event in events[-limit:]:
            why = f" — {event.reason}" if event.reason else ""
            when = f"{event.at:%Y-%m-%d %H:%M:%S}Z"
            print(f"{when} {event.actor:<14} {event.action:<20} {event.target}{why}")
        if not events:
            print("no audited events")
