"""``golden config``: check a config file, and print the reference of every key."""

from __future__ import annotations

from pathlib import Path

import typer

from pipelines.cli._common import CONFIG_OPTION, load


def register(app: typer.Typer) -> None:
    config_app = typer.Typer(help="Check a config file; print the configuration reference.")
    app.add_typer(config_app, name="config")

    @config_app.command("check")
    def check(config: Path = CONFIG_OPTION) -> None:
        """Load and validate a config file without running anything."""
        cfg = load(config)
        print(f"{config}: ok ({len(cfg.sources)} sources: {', '.join(cfg.source_names)})")
        print(f"warehouse: {cfg.warehouse.path}")

    @config_app.command("reference")
    def reference(
        write: Path | None = typer.Option(None, help="Write the Markdown to this file."),
    ) -> None:
        """The Markdown reference of every key (docs/configuration.md is this output)."""
        from pipelines.config_reference import render_reference

        text = render_reference()
        if write:
            write.write_text(text)
        else:
            print(text, end="")
