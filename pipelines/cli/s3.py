"""``golden s3``: a local S3 server (SeaweedFS) for the demo and for trying backups."""

from __future__ import annotations

from pathlib import Path

import typer

from pipelines.s3server import DATA_DIR_NAME

DATA_DIR_OPTION = typer.Option(
    Path(DATA_DIR_NAME), "--data-dir", help="Where the server keeps data."
)


def register(app: typer.Typer) -> None:
    s3 = typer.Typer(help="Run a local S3-compatible server (SeaweedFS) on 127.0.0.1.")
    app.add_typer(s3, name="s3")

    @s3.command("start")
    def start(data_dir: Path = DATA_DIR_OPTION) -> None:
        """Start the server in the background (or find the running one) and print its endpoint
        as shell ``export`` lines."""
        from pipelines.s3server import start_background

        endpoint = start_background(data_dir.resolve())
        for key, value in endpoint.env().items():
            print(f"export {key}={value}")

    @s3.command("stop")
    def stop(data_dir: Path = DATA_DIR_OPTION) -> None:
        """Stop the background server."""
        from pipelines.s3server import stop_background

        print("stopped" if stop_background(data_dir.resolve()) else "no server was running")
