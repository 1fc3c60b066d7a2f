"""``golden serve``: the stewards' workspace (web app and JSON API) on the published tables."""

from __future__ import annotations

from pathlib import Path

import typer

from pipelines.cli._common import CONFIG_OPTION, SESSIONS_OPTION, WAREHOUSE_OPTION, load


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        config: Path = CONFIG_OPTION,
        warehouse: Path | None = WAREHOUSE_OPTION,
        host: str = typer.Option(
            "127.0.0.1", "--host", help="Address to listen on (loopback unless told otherwise)."
        ),
        port: int = typer.Option(8765, "--port", min=1, max=65535, help="Port to listen on."),
        secure_cookies: bool | None = typer.Option(
            None,
            "--secure-cookies/--no-secure-cookies",
            help="Mark session cookies Secure (default: over HTTPS, and always off loopback).",
        ),
        forwarded_allow_ips: str | None = typer.Option(
            None,
            "--forwarded-allow-ips",
            help="Reverse proxies whose X-Forwarded-Proto/For headers to trust, e.g. 127.0.0.1.",
        ),
        workers: int = typer.Option(
            1,
            "--workers",
            min=1,
            max=64,
            help="Server processes (uvicorn workers); they share sessions and the login throttle.",
        ),
        sessions: str | None = SESSIONS_OPTION,
    ) -> None:
        """Serve the stewards' workspace: customer lookup, match review, quality pages."""
        from workspace.server import serve as run
        from workspace.users import UserStore

        cfg = load(config, warehouse)
        if not UserStore(cfg.warehouse.path).users():
            typer.secho(
                "no workspace users yet: add one with `golden users add NAME --role steward`",
                fg=typer.colors.YELLOW,
                err=True,
            )
        processes = f", {workers} processes" if workers > 1 else ""
        print(
            f"stewards' workspace on http://{host}:{port}/{processes} (Ctrl-C stops it)",
            flush=True,
        )
        run(
            cfg,
            host,
            port,
            secure_cookies=secure_cookies,
            forwarded_allow_ips=forwarded_allow_ips,
            workers=workers,
            sessions_url=sessions,
        )
