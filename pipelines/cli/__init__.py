"""The ``golden`` command line.

Each command group lives in its own module here and exposes ``register(app)``; modules whose name
starts with ``_`` are helpers. Heavy libraries are imported inside the commands so that
``golden --help`` stays instant.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys

import typer

from pipelines.cli._common import CHOSEN_LEVEL, LEVELS
from pipelines.errors import GoldenError
from pipelines.i18n import choose, explain, text

app = typer.Typer(
    name="golden",
    help="Turn messy customer records from many systems into one golden record per customer.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_commands() -> None:
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module.name.startswith("_"):
            continue
        importlib.import_module(f"{__name__}.{module.name}").register(app)


_register_commands()


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug detail."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Log warnings and errors only."),
    log_level: str | None = typer.Option(
        None,
        "--log-level",
        help="debug, info or warning. Default: info; warning for `golden run`, whose summary "
        "says what happened.",
    ),
) -> None:
    from pipelines.warehouse import protect_process

    # Before anything is written: files of the warehouse are private whatever the umask
    # (``warehouse.access: group`` relaxes this once the config is loaded).
    protect_process()
    if log_level is not None and log_level.lower() not in LEVELS:
        raise typer.BadParameter(
            f"{log_level!r}: use one of {', '.join(LEVELS)}", param_hint="--log-level"
        )
    CHOSEN_LEVEL[0] = verbose or quiet or log_level is not None
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    if log_level is not None:
        level = LEVELS[log_level.lower()]
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer", "great_expectations", "py4j"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    # Splink logs each SQL step at INFO: shown with -v only (matching.quiet).
    logging.getLogger("splink").setLevel(logging.DEBUG if verbose else logging.WARNING)


EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "anything else (an unexpected error prints a traceback)",
    2: "usage or config error: a bad option, config file or key, or commands run out of order",
    3: "a source failed (unreadable, or its columns no longer fit the mapping)",
    4: "a quality gate tripped: nothing was published",
    5: "the warehouse's run lock is held by another run, restore, erasure or steward write",
}
"""The ``golden`` command's exit statuses (the README shows this table)."""


def main() -> None:
    """Console-script entry point: expected errors print one clear message and exit with the
    error's own status (:data:`EXIT_CODES`); usage errors exit 2 (Click's own)."""
    try:
        app()
    except GoldenError as exc:
        # No config is read here: the locale variables choose (an error said by message ids
        # comes in that language, any other keeps its words).
        language = choose("auto", ask_environment=True)
        message = text(language, "cli.error", message=explain(language, exc))
        typer.secho(message, fg=typer.colors.RED, err=True)
        sys.exit(getattr(exc, "exit_code", 1))
