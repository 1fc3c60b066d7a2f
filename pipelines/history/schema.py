"""Columns of the history tables (the downstream contract; documented in ``publish.tables``).

Kept apart from :mod:`pipelines.schema` so that the publish contract can import them without
loading the history code, and so that each history table's grain sits beside its columns.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

from pipelines.schema import GOLDEN_FIELDS

_TS = pa.timestamp("us", tz="UTC")

EVENT_KINDS: Final = ("created", "changed", "merged", "split", "absorbed", "retired", "erased")
"""``golden_events.event`` values. ``changed``: an id kept from the previous run whose values
changed; ``absorbed``: an id that ended by merging into another (``related_golden_ids`` names
it); ``erased``: a customer removed by an erasure (written by the erasure, not by a run)."""

ALIAS_STATUSES: Final = ("active", "merged", "retired", "erased")
"""``golden_id_aliases.status``: ``active`` the id is published now; ``merged`` it was absorbed
and ``current_golden_id`` carries the customer now (chains followed); ``retired`` and
``erased`` nobody carries it (``current_golden_id`` null)."""


def golden_customers_history_schema() -> pa.Schema:
    """One row per golden id and version of its values (``golden_id``, ``version``)."""
    fields: list[tuple[str, pa.DataType]] = [("golden_id", pa.string()), ("version", pa.int64())]
    fields += [(f, pa.date32() if f == "date_of_birth" else pa.string()) for f in GOLDEN_FIELDS]
    fields += [
        ("valid_from_run", pa.string()),
        ("valid_to_run", pa.string()),
        ("valid_from", _TS),
        ("valid_to", _TS),
        ("opened_by", pa.string()),
        ("closed_by", pa.string()),
    ]
    return pa.schema(fields)


def golden_events_schema() -> pa.Schema:
    """One row per run, golden id and event; never truncated."""
    return pa.schema(
        [
            ("run_id", pa.string()),
            ("at", _TS),
            ("golden_id", pa.string()),
            ("event", pa.string()),
            ("related_golden_ids", pa.list_(pa.string())),
            ("record_count", pa.int64()),
            ("changed_fields", pa.list_(pa.string())),
        ]
    )


def golden_id_aliases_schema() -> pa.Schema:
    """One row per golden id ever published."""
    return pa.schema(
        [
            ("golden_id", pa.string()),
            ("current_golden_id", pa.string()),
            ("status", pa.string()),
            ("first_run", pa.string()),
            ("since_run", pa.string()),
        ]
    )
