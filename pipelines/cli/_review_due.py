"""``golden review due`` and ``golden review confirm``: periodic review for stewards.

``due`` lists the last refresh of ``review_due`` (the maintenance DAG refreshes it on its own
schedule; ``--refresh`` recomputes it now), most urgent first. ``confirm`` records that a
steward checked a record or golden record: audited, it resets the record's staleness clock and
clears the rows it was due for.
"""

from __future__ import annotations

from pathlib import Path

import typer

from pipelines.cli._common import (
    ACTOR_OPTION,
    CONFIG_OPTION,
    WAIT_OPTION,
    WAREHOUSE_OPTION,
    actor_name,
    hold_lock,
    load,
)
from pipelines.errors import GoldenError

_WIDTH = 28


def _cell(value: object, width: int = _WIDTH) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


_COLUMNS = ("priority", "reason", "golden_id", "record_key", "field", "since", "detail")


def _pad(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns (a Chinese heading takes two a character)."""
    import unicodedata

    used = sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)
    return text + " " * max(width - used, 1 if used >= width else 0)


def register(review: typer.Typer) -> None:
    @review.command("due")
    def due(
        config: Path = CONFIG_OPTION,
        warehouse: Path | None = WAREHOUSE_OPTION,
        reason: str | None = typer.Option(
            None, "--reason", help="Only this reason (stale, invalid_contact, ...)."
        ),
        limit: int = typer.Option(30, "--limit", "-n", min=1, help="Rows to show."),
        refresh: bool = typer.Option(
            False, "--refresh", help="Recompute review_due from the published tables first."
        ),
        wait: float = WAIT_OPTION,
    ) -> None:
        """Records and golden records due for periodic review, most urgent first."""
        import polars as pl

        from pipelines.i18n import Translator, choose
        from pipelines.review_due.compute import last_refresh, refresh_review_due
        from pipelines.review_due.confirmations import due_path
        from pipelines.warehouse import Warehouse

        loaded = load(config, warehouse)
        t = Translator(choose(loaded.language, ask_environment=True))
        wh = Warehouse(loaded.warehouse.path)
        if refresh:
            hold_lock(wait)  # a refresh waits for, or is refused by, a run in progress
            refresh_review_due(wh.root, loaded.review_due)
        refreshed = last_refresh(wh)
        if refreshed is None:
            raise GoldenError(
                f"review_due has never been refreshed in {wh.root}: run "
                "`golden review due --refresh` or the golden_maintenance DAG"
            )
        rows = pl.read_parquet(due_path(wh))
        if reason:
            rows = rows.filter(pl.col("reason") == reason)
        run = rows["run_id"][0] if rows.height else "-"
        counts = ", ".join(
            f"{r} {n}" for r, n in rows.group_by("reason").len().sort("reason").iter_rows()
        )
        print(
            t(
                "cli.due.refreshed",
                at=f"{refreshed:%Y-%m-%d %H:%M}Z",
                run=run,
                count=rows.height,
                counts=f" ({counts})" if counts else "",
            )
        )
        if not rows.height:
            print(t("cli.due.nothing"))
            return
        # Reasons and fields stay codes here: `--reason` takes them, and scripts read them.
        header = [t(f"cli.due.col.{c}") for c in _COLUMNS]
        print(
            f"{_pad(header[0], 4)}{_pad(header[1], 21)}{_pad(header[2], _WIDTH)}"
            f"{_pad(header[3], _WIDTH)}{_pad(header[4], 15)}{_pad(header[5], 12)}{header[6]}"
        )
        for row in rows.head(limit).iter_rows(named=True):
            since = f"{row['since']:%Y-%m-%d}" if row["since"] else ""
            print(
                f"{row['priority']:<4}{_cell(row['reason'], 20):<21}"
                f"{_cell(row['golden_id']):<{_WIDTH}}"
                f"{_cell(row['record_key']):<{_WIDTH}}{_cell(row['field'], 14):<15}{since:<12}"
                f"{row['detail'] or ''}"
            )
        if rows.height > limit:
            print(t("cli.review.more", count=rows.height - limit))
        print(t("cli.due.confirm_hint"))

    @review.command("confirm")
    def confirm(
        target: str = typer.Argument(..., help="Record key (source:id) or golden id checked."),
        config: Path = CONFIG_OPTION,
        warehouse: Path | None = WAREHOUSE_OPTION,
        reason: str = typer.Option(..., "--reason", help="What was checked, for the audit."),
        actor: str | None = ACTOR_OPTION,
        wait: float = WAIT_OPTION,
    ) -> None:
        """Confirm a record or golden record: resets its review clock (audited)."""
        from pipelines.i18n import Translator, choose
        from pipelines.stewardship import confirm_review

        loaded = load(config, warehouse)
        t = Translator(choose(loaded.language, ask_environment=True))
        hold_lock(wait)
        at, cleared = confirm_review(loaded.warehouse.path, target, actor_name(actor), reason)
        print(t("cli.confirmed", target=target, at=f"{at:%Y-%m-%d %H:%M:%S}Z", count=cleared))
