"""``golden users ...``: accounts of the stewards' workspace (``golden serve``)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from pipelines import audit
from pipelines.cli._common import (
    ACTOR_OPTION,
    CONFIG_OPTION,
    SESSIONS_OPTION,
    WAREHOUSE_OPTION,
    actor_name,
    load,
)
from pipelines.errors import GoldenError
from pipelines.i18n import Translator


def _read_password(t: Translator) -> str:
    """The password from standard input: typed twice at a terminal, else its first line."""
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass(t("cli.users.password"))
        if getpass.getpass(t("cli.users.again")) != first:
            raise GoldenError("the two passwords differ")
        return first
    line = sys.stdin.readline()
    if not line:
        raise GoldenError("no password on standard input (pipe it in, one line)")
    return line.rstrip("\r\n")


def register(app: typer.Typer) -> None:
    users = typer.Typer(help="Accounts of the stewards' workspace (golden serve).")
    app.add_typer(users, name="users", no_args_is_help=True)

    def store(config: Path, warehouse: Path | None):
        """The warehouse, its accounts, and the words to print in (the config's ``language``,
        or with ``auto`` the terminal's locale, as ``golden run`` chooses)."""
        from pipelines.i18n import choose
        from workspace.users import UserStore

        cfg = load(config, warehouse)
        t = Translator(choose(cfg.language, ask_environment=True))
        return cfg.warehouse.path, UserStore(cfg.warehouse.path), t

    @users.command("add")
    def add(
        name: str = typer.Argument(..., help="Login name."),
        role: str = typer.Option(..., "--role", help="steward, analyst or viewer."),
        config: Path = CONFIG_OPTION,
        warehouse: Path | None = WAREHOUSE_OPTION,
        actor: str | None = ACTOR_OPTION,
    ) -> None:
        """Add a user; the password is read from standard input (never an argument)."""
        root, users_, t = store(config, warehouse)
        user = users_.add(name, role, _read_password(t))
        audit.record(root, actor_name(actor), "workspace.user_added", name, {"role": role})
        print(t("cli.users.added", name=user.name, role=user.role, path=users_.path))

    @users.command("token")
    def token(
        name: str = typer.Argument(..., help="Login name."),
        config: Path = CONFIG_OPTION,
        warehouse: Path | None = WAREHOUSE_OPTION,
        actor: str | None = ACTOR_OPTION,
    ) -> None:
        """Print a new API token for NAME (shown once; send it as `Authorization: Bearer`)."""
        root, users_, _ = store(config, warehouse)
        secret = users_.new_token(name)
        audit.record(
            root, actor_name(actor), "workspace.token_issued", name, {"token": secret[3:11]}
        )
        print(secret)

    @users.command("remove")
    def remove(
        name: str = typer.Argument(..., help="Login name."),
        config: Path = CONFIG_OPTION,
        warehouse: Path | None = WAREHOUSE_OPTION,
        actor: str | None = ACTOR_OPTION,
        sessions: str | None = SESSIONS_OPTION,
    ) -> None:
        """Remove a user with their API tokens and end their workspace sessions."""
        from workspace.security import end_user_sessions

        root, users_, t = store(config, warehouse)
        users_.remove(name)
        audit.record(root, actor_name(actor), "workspace.user_removed", name)
        ended = end_user_sessions(root, name, sessions)
        if ended:
            print(t("cli.users.removed_sessions", name=name, count=ended))
        else:
            print(t("cli.users.removed", name=name))

    @users.command("list")
    def list_(
        config: Path = CONFIG_OPTION,
        warehouse: Path | None = WAREHOUSE_OPTION,
    ) -> None:
        """List users, their roles and token ids (never a secret)."""
        _, users_, t = store(config, warehouse)
        listed = users_.users()
        if not listed:
            print(t("cli.users.none"))
            return
        for user in listed.values():
            tokens = ", ".join(token["id"] for token in user.tokens) or t("cli.users.no_tokens")
            print(
                t(
                    "cli.users.row",
                    name=f"{user.name:<20}",
                    role=f"{user.role:<8}",
                    created=user.created_at,
                    tokens=tokens,
                )
            )
