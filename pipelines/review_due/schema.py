"""Columns of ``review_due`` (documented in ``pipelines.publish.tables``)."""

from __future__ import annotations

from typing import Final

import pyarrow as pa

REASONS: Final = (
    "stale",
    "invalid_contact",
    "conflicting_sources",
    "placeholder_value",
    "absorbed_id_sent",
)
"""``review_due.reason`` values; ``priority`` 1 is the most urgent."""

PRIORITY: Final = {
    "conflicting_sources": 1,
    "invalid_contact": 2,
    "placeholder_value": 2,
    "absorbed_id_sent": 2,
    "stale": 3,
}


def review_due_schema() -> pa.Schema:
    """One row per record or golden record, reason and field due for review."""
    ts = pa.timestamp("us", tz="UTC")
    return pa.schema(
        [
            ("golden_id", pa.string()),
            ("record_key", pa.string()),
            ("source_system", pa.string()),
            ("reason", pa.string()),
            ("field", pa.string()),
            ("detail", pa.string()),
            ("priority", pa.int64()),
            ("since", ts),
            ("last_confirmed_at", ts),
            ("refreshed_at", ts),
            ("run_id", pa.string()),
        ]
    )
