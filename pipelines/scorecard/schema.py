"""Columns of ``dq_scorecard`` (documented in ``pipelines.publish.tables``)."""

from __future__ import annotations

from typing import Final

import pyarrow as pa

OVERALL: Final = "*"
"""``field`` of a source's overall row."""

WEIGHTS: Final = {
    "completeness": 0.25,
    "validity": 0.25,
    "uniqueness": 0.20,
    "agreement": 0.20,
    "freshness": 0.10,
}
"""``score = 100 * sum(weight * measure)``, a missing measure counting 0; a source's overall
score is the mean of its fields' scores."""


def dq_scorecard_schema() -> pa.Schema:
    """One row per run, source and field (plus one ``*`` row per run and source)."""
    return pa.schema(
        [
            ("run_id", pa.string()),
            ("at", pa.timestamp("us", tz="UTC")),
            ("source_system", pa.string()),
            ("field", pa.string()),
            ("records", pa.int64()),
            ("filled", pa.int64()),
            ("invalid", pa.int64()),
            ("completeness", pa.float64()),
            ("validity", pa.float64()),
            ("uniqueness", pa.float64()),
            ("agreement", pa.float64()),
            ("freshness", pa.float64()),
            ("score", pa.float64()),
        ]
    )
