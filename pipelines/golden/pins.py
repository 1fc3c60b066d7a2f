"""Steward pins, resolved to this run's golden ids.

A pin names the golden id it was made on. Ids are stable, so a pin follows its customer from run
to run; when that id was absorbed by a merge, the pin follows the survivor (the registry keeps
each id's ``absorbed_ids``), unless the survivor carries its own pin of that field. A pin whose
customer is gone (its id retired) cannot apply: it is reported, never silently dropped.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import NamedTuple

import polars as pl

from matching.decisions import Decision
from matching.ids import resolve_ids
from pipelines.errors import StageInputError
from pipelines.schema import GOLDEN_FIELDS

logger = logging.getLogger(__name__)


class ResolvedPins(NamedTuple):
    pins: pl.DataFrame
    """``golden_id`` (current), ``field``, ``value``, ``decision_id``: one row per id and field."""
    orphaned: list[Decision]
    """Active pins on ids that no longer exist."""


def check_pin(decision: Decision, source: Path | str) -> None:
    """Fail with the decision id when a pin names an unknown field or an unreadable date."""
    if decision.field not in GOLDEN_FIELDS:
        raise StageInputError(
            f"{source}: pin {decision.decision_id} names field {decision.field!r}, which is not a "
            f"golden field ({', '.join(GOLDEN_FIELDS)}); revoke it and pin a golden field"
        )
    if decision.field == "date_of_birth":
        try:
            date.fromisoformat(decision.value or "")
        except ValueError:
            raise StageInputError(
                f"{source}: pin {decision.decision_id} sets date_of_birth to {decision.value!r}, "
                "which is not a YYYY-MM-DD date; revoke it and pin a valid date"
            ) from None


def resolve_pins(pins: list[Decision], registry: pl.DataFrame, source: Path | str) -> ResolvedPins:
    """Map active pins onto the golden ids of ``registry`` (the run's new registry)."""
    for pin in pins:
        check_pin(pin, source)
    mapping = resolve_ids([p.golden_id or "" for p in pins], registry) if pins else {}
    rows = []
    orphaned = []
    for pin in pins:
        target = mapping.get(pin.golden_id or "")
        if target is None:
            orphaned.append(pin)
            continue
        rows.append(
            {
                "golden_id": target,
                "field": pin.field,
                "value": pin.value,
                "decision_id": pin.decision_id,
                "_inherited": target != pin.golden_id,
                "_decided_at": pin.decided_at,
            }
        )
    for pin in orphaned:
        logger.warning(
            "pin %s (%s) cannot apply: golden id %s no longer exists (its records vanished); "
            "revoke it or pin the customer's current golden id",
            pin.decision_id,
            pin.describe(),
            pin.golden_id,
        )
    schema = {
        "golden_id": pl.String,
        "field": pl.String,
        "value": pl.String,
        "decision_id": pl.String,
        "_inherited": pl.Boolean,
        "_decided_at": pl.Datetime("us", "UTC"),
    }
    frame = (
        pl.DataFrame(rows, schema=schema)
        .sort(
            ["golden_id", "field", "_inherited", "_decided_at", "decision_id"],
            descending=[False, False, False, True, True],
        )
        .unique(subset=["golden_id", "field"], keep="first", maintain_order=True)
        .drop("_inherited", "_decided_at")
    )
    return ResolvedPins(frame, orphaned)
