"""Options and helpers shared by the command modules."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig

CONFIG_OPTION = typer.Option(
    ...,
    "--config",
    "-c",
    help="Pipeline config YAML.",
    envvar="GOLDEN_CONFIG",
    exists=False,
)
WAREHOUSE_OPTION = typer.Option(
    None, "--warehouse", help="Override warehouse.path from the config."
)
WAIT_OPTION = typer.Option(
    0.0,
    "--wait",
    min=0,
    metavar="SECONDS",
    help="Wait up to this long for another run, restore, erasure or steward write holding "
    "the warehouse's run lock (default: refuse at once, exit code 5).",
)
SESSIONS_OPTION = typer.Option(
    None,
    "--sessions",
    envvar="GOLDEN_WORKSPACE_SESSIONS",
    metavar="URL",
    help="Session store: a postgresql:// URL for servers on several machines (default: a "
    "SQLite file in the warehouse's state folder, shared by every process on this machine).",
    show_default=False,
)
ACTOR_OPTION = typer.Option(
    None, "--actor", help="Who is acting, for the audit trail (default: the OS user)."
)


def load(config: Path, warehouse: Path | None = None) -> PipelineConfig:
    from pipelines.config import load_config
    from pipelines.warehouse import protect_process

    overrides = {"warehouse.path": str(Path(warehouse).resolve())} if warehouse else None
    loaded = load_config(config, overrides)
    protect_process(loaded.warehouse.access)
    return loaded


def hold_lock(wait: float) -> None:
    """Make this command's library calls wait ``--wait`` seconds for the run lock."""
    from pipelines.lock import default_wait

    default_wait(wait)


def actor_name(actor: str | None) -> str:
    """The explicit ``--actor``, else ``GOLDEN_ACTOR``, else the OS user."""
    from pipelines.audit import actor_name as resolve  # the one rule, shared with the trail

    return resolve(actor)


LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
CHOSEN_LEVEL: list[bool] = [False]
"""Whether the user chose the console log level (``-v``, ``-q`` or ``--log-level``)."""


@contextmanager
def quiet_unless_asked() -> Iterator[None]:
    """For a command whose own output says what happened (``golden run``'s summary): the
    console shows warnings and errors only while it runs, unless the user chose a level."""
    root = logging.getLogger()
    before = root.level
    if not CHOSEN_LEVEL[0]:
        root.setLevel(logging.WARNING)
    try:
        yield
    finally:
        root.setLevel(before)
