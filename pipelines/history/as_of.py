"""Reading the history tables as of a time (``pipelines.publish.read_table(..., as_of=...)``).

The SQL pattern for DuckDB readers, documented in ``docs/history.md``, is the same filter::

    SELECT * FROM golden_customers_history
    WHERE valid_from <= $t AND (valid_to IS NULL OR valid_to > $t)
"""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pyarrow as pa

from pipelines.history.timeline import conform, replay_aliases


def _frame(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def in_force(history: pl.DataFrame, at: datetime) -> pl.DataFrame:
    """The version of each customer in force at ``at`` (customers that existed then)."""
    moment = pl.lit(at).cast(pl.Datetime("us", "UTC"))
    return history.filter(
        (pl.col("valid_from") <= moment)
        & (pl.col("valid_to").is_null() | (pl.col("valid_to") > moment))
    )


def as_of_table(name: str, tables: dict[str, pa.Table], at: datetime) -> pa.Table:
    """Table ``name`` as it stood at ``at``, from the history tables in ``tables``."""
    moment = pl.lit(at).cast(pl.Datetime("us", "UTC"))
    if name == "golden_customers_history":
        return in_force(_frame(tables[name]), at).to_arrow()
    events = _frame(tables["golden_events"]).filter(pl.col("at") <= moment)
    if name == "golden_events":
        return events.to_arrow()
    history = _frame(tables["golden_customers_history"]).filter(pl.col("valid_from") <= moment)
    published = in_force(history, at)["golden_id"]
    aliases = replay_aliases(events, published, history)
    return conform(aliases, "golden_id_aliases").to_arrow()
