"""``golden lock status`` and ``golden lock break``: who holds the warehouse's run lock.

The lock itself (:mod:`pipelines.lock`) needs no tending: the OS releases it when its holder
ends. These commands answer "why was my run refused?" and clear what a dead Airflow DAG run
left behind (its lease), which no process exit can release.
"""

from __future__ import annotations

from pathlib import Path

import typer

from pipelines.cli._common import ACTOR_OPTION, CONFIG_OPTION, WAREHOUSE_OPTION, load


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="The warehouse's run lock: one run, restore, erasure or steward write at a time.",
        no_args_is_help=True,
    )
    app.add_typer(group, name="lock")

    @group.command("status")
    def status(
        config: Path = CONFIG_OPTION,
        warehouse: Path | None = WAREHOUSE_OPTION,
    ) -> None:
        """Say who holds the run lock (and any Airflow lease); exits 5 while it is held."""
        from pipelines.lock import RunLockedError
        from pipelines.lock import status as lock_status

        root = load(config, warehouse).warehouse.path
        state = lock_status(root)
        if state.held and state.holder is not None:
            print(f"held by {state.holder.describe()}")
        elif state.stale_holder and state.holder is not None:
            print(
                f"free; last held by {state.holder.describe()}, which ended without releasing "
                "it (the next run takes over and audits it)"
            )
        else:
            print("free")
        if state.lease is not None:
            print(f"leased by {state.lease.describe()}")
            print("  if that DAG run is dead (no finish_run will come): golden lock break")
        if state.held or state.lease is not None:
            raise typer.Exit(RunLockedError.exit_code)

    @group.command("break")
    def break_(
        config: Path = CONFIG_OPTION,
        warehouse: Path | None = WAREHOUSE_OPTION,
        actor: str | None = ACTOR_OPTION,
    ) -> None:
        """Remove the lease of an Airflow DAG run that died before finish_run (audited).

        A lock held by a live process is never broken: stop that process and the OS frees it.
        """
        from pipelines.lock import break_lock

        removed = break_lock(load(config, warehouse).warehouse.path, actor)
        for what in removed:
            print(f"removed the {what}")
        if not removed:
            print("nothing to break: no lease, and no live holder")
