"""Steward confirmations (``golden review confirm``): ``state/review/confirmations.jsonl``.

A confirmation says a steward checked a record (by record key) or a whole golden record (by
golden id) at a time; it resets the record's staleness clock and clears every reason it was
due for until that reason arises again after the confirmation. Lines are appended (locked,
fsynced) and audited; they hold ids and the steward's reason, never record values.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from pipelines import audit
from pipelines.errors import GoldenError
from pipelines.warehouse import Warehouse


def confirmations_path(warehouse: Warehouse) -> Path:
    return warehouse.state / "review" / "confirmations.jsonl"


def due_path(warehouse: Warehouse) -> Path:
    """The last refresh of ``review_due``; publish publishes it, the CLI lists it."""
    return warehouse.state / "review" / "review_due.parquet"


def confirm(warehouse: Warehouse, target: str, reason: str, actor: str | None = None) -> datetime:
    """Record that a steward confirmed ``target`` (a record key or golden id); audited."""
    if not target.strip():
        raise GoldenError("give the record key or golden id to confirm")
    if not reason.strip():
        raise GoldenError("--reason is required: say what was checked")
    event = audit.record(warehouse.root, actor, "review.confirm", target, {}, reason)
    path = confirmations_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    audit.append_json_line(
        path, {"at": event.at.isoformat(), "actor": event.actor, "target": target, "reason": reason}
    )
    return event.at


def load_confirmations(warehouse: Warehouse) -> pl.DataFrame:
    """``target``, ``confirmed_at`` (the latest confirmation of each target)."""
    path = confirmations_path(warehouse)
    rows: list[dict[str, object]] = []
    if path.exists():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                rows.append(
                    {
                        "target": str(item["target"]),
                        "confirmed_at": datetime.fromisoformat(item["at"]),
                    }
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise GoldenError(
                    f"{path}, line {number}: not a confirmation ({exc}); fix or remove the line"
                ) from None
    frame = pl.DataFrame(
        rows, schema={"target": pl.String, "confirmed_at": pl.Datetime("us", "UTC")}
    )
    return frame.group_by("target").agg(pl.col("confirmed_at").max())


def now() -> datetime:
    return datetime.now(UTC)
