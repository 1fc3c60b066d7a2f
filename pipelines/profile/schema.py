"""Columns of ``customer_profile`` (documented in ``pipelines.publish.tables``)."""

from __future__ import annotations

from typing import Final

import pyarrow as pa

AGE_BANDS: Final = ("under 18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+")


def customer_profile_schema() -> pa.Schema:
    """One row per golden id."""
    ts = pa.timestamp("us", tz="UTC")
    return pa.schema(
        [
            ("golden_id", pa.string()),
            ("first_seen_at", ts),
            ("tenure_days", pa.int64()),
            ("source_count", pa.int64()),
            ("source_systems", pa.list_(pa.string())),
            ("has_email", pa.bool_()),
            ("has_phone", pa.bool_()),
            ("has_postal_address", pa.bool_()),
            ("contactable", pa.bool_()),
            ("country", pa.string()),
            ("region", pa.string()),
            ("age_band", pa.string()),
            ("completeness", pa.float64()),
            ("last_activity_at", ts),
            ("run_id", pa.string()),
        ]
    )
