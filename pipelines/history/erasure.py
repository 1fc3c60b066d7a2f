"""What erasing a customer does to the history tables (called by ``pipelines.privacy.erase``).

A customer all of whose records are erased leaves no values behind: its versions in
``golden_customers_history`` go, and so do those of every id it absorbed over time (they held
the same person's earlier values). Their events are replaced by one ``erased`` event each, and
``golden_id_aliases`` maps them to nobody with status ``erased``, so a downstream system
holding one of those ids learns to forget it instead of finding nothing. Ids are random, never
derived from personal data, so keeping them says nothing about the person.

A customer who keeps other records loses, in every version, the fields the erased records
supplied to its current golden row (the same fields the erasure nulls there). Earlier versions
may have taken other fields from the erased records; provenance is kept for the current row
only, so those are not known (see ``docs/history.md``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from pipelines.history.timeline import conform


def forgotten_ids(aliases: pl.DataFrame | None, whole: set[str]) -> set[str]:
    """The erased customers' ids and every id whose alias leads to one of them."""
    ids = set(whole)
    if aliases is not None and whole:
        carried = aliases.filter(pl.col("current_golden_id").is_in(list(whole)))
        ids |= set(carried["golden_id"].to_list())
    return ids


def erase_history(
    frame: pl.DataFrame, forgotten: set[str], fields: dict[str, set[str]]
) -> pl.DataFrame:
    """``golden_customers_history`` without the forgotten ids' versions, and with the fields
    erased records supplied nulled in the versions of customers who stay."""
    out = frame.filter(~pl.col("golden_id").is_in(list(forgotten)))
    by_field: dict[str, list[str]] = {}
    for golden_id, names in fields.items():
        for name in names & set(out.columns):
            by_field.setdefault(name, []).append(golden_id)
    return out.with_columns(
        pl.when(pl.col("golden_id").is_in(ids))
        .then(pl.lit(None, dtype=out.schema[name]))
        .otherwise(pl.col(name))
        .alias(name)
        for name, ids in by_field.items()
    )


def _latest_run(events: pl.DataFrame) -> str | None:
    runs = events["run_id"].drop_nulls()
    return None if runs.is_empty() else str(runs.max())


def erase_events(
    frame: pl.DataFrame, forgotten: set[str], at: datetime | None = None
) -> pl.DataFrame:
    """``golden_events`` with each forgotten id's events replaced by one ``erased`` event
    (under the latest run of the table, at ``at``: now)."""
    present = frame.filter(pl.col("golden_id").is_in(list(forgotten)))
    ids = sorted(set(present["golden_id"].to_list()) | set(forgotten))
    kept = frame.filter(~pl.col("golden_id").is_in(list(forgotten)) | (pl.col("event") == "erased"))
    already = set(kept.filter(pl.col("event") == "erased")["golden_id"].to_list())
    new = [i for i in ids if i not in already]
    if not new:
        return kept
    erased = conform(
        pl.DataFrame(
            {
                "run_id": [_latest_run(frame)] * len(new),
                "at": [at or datetime.now(UTC)] * len(new),
                "golden_id": new,
                "event": ["erased"] * len(new),
            },
            schema={
                "run_id": pl.String,
                "at": pl.Datetime("us", "UTC"),
                "golden_id": pl.String,
                "event": pl.String,
            },
        ),
        "golden_events",
    )
    return pl.concat([conform(kept, "golden_events"), erased]).sort(
        "run_id", "golden_id", "event", maintain_order=True
    )


def erase_aliases(frame: pl.DataFrame, forgotten: set[str], run_id: str | None) -> pl.DataFrame:
    """``golden_id_aliases`` with the forgotten ids carried by nobody, status ``erased``."""
    hit = pl.col("golden_id").is_in(list(forgotten)) & (pl.col("status") != "erased")
    return frame.with_columns(
        pl.when(hit).then(None).otherwise(pl.col("current_golden_id")).alias("current_golden_id"),
        pl.when(hit).then(pl.lit("erased")).otherwise(pl.col("status")).alias("status"),
        pl.when(hit).then(pl.lit(run_id)).otherwise(pl.col("since_run")).alias("since_run"),
    )
