"""Survivorship: choose each golden field's value from a customer's source records.

Each *unit* (a field group such as the address, or one field alone) is decided by one sort of the
candidate records, customer by customer, on the unit's rules in order, then record key: the first
row per customer wins and gives all the unit's fields, so a group never mixes two records. That is
a handful of vectorised Polars sorts however many customers there are, never Python per row.

Validity comes before every configured rule: a value the standardiser listed in the record's
``invalid_fields`` never beats a valid one. Steward pins override the outcome field by field.

Provenance names, for every golden field with a value, the record that supplied it and the rule
that decided: the first rule, in order, on which the winner beats the best candidate offering a
*different* value. ``unanimous`` means every candidate agreed, ``only_value`` that one record had
a value, ``record_key`` that the rules tied and the lowest record key won, ``steward_pin`` that a
steward pinned it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NamedTuple

import polars as pl

from pipelines.golden.config import SurvivalUnit
from pipelines.schema import GOLDEN_FIELDS

ONLY_VALUE: Final = "only_value"
UNANIMOUS: Final = "unanimous"
TIE_BREAK: Final = "record_key"
STEWARD_PIN: Final = "steward_pin"
STEWARD_SOURCE: Final = "steward"
"""Provenance ``source_system`` of a pinned value; its ``source_record_id`` is the decision id."""

RECORD_COLUMNS: Final = (
    "golden_id",
    "record_key",
    "source_system",
    "source_record_id",
    "trust_rank",
    "source_updated_at",
    "invalid_fields",
    *GOLDEN_FIELDS,
)
"""What survivorship reads of each staged record (plus its golden id)."""

PIN_COLUMNS: Final = ("golden_id", "field", "value", "decision_id")

_SEP: Final = "\x1f"
_NULL: Final = "\x00"


class Survivors(NamedTuple):
    values: pl.DataFrame
    """One row per golden id: ``golden_id`` and every golden field."""
    provenance: pl.DataFrame
    """``golden_id``, ``field``, ``source_system``, ``source_record_id``, ``rule``."""


def _sort_keys(unit: SurvivalUnit) -> list[tuple[str, list[tuple[str, pl.Expr, bool]]]]:
    """(rule, [(column, expression, descending)]) in the order the unit's rules apply."""
    fields = unit.fields
    present = [pl.col(f).is_not_null() for f in fields]
    invalid = pl.sum_horizontal(
        [
            pl.col(f).is_not_null() & pl.col("invalid_fields").list.contains(pl.lit(f))
            for f in fields
        ]
    )
    keys: list[tuple[str, list[tuple[str, pl.Expr, bool]]]] = [
        ("valid_first", [("_invalid", invalid, False)])
    ]
    for rule in unit.rules:
        if rule == "valid_first":
            continue
        if rule == "trust_rank":
            keys.append((rule, [("_trust", pl.col("trust_rank"), False)]))
        elif rule == "most_recent":
            keys.append((rule, [("_updated", pl.col("source_updated_at"), True)]))
        elif rule == "most_complete":
            columns = [("_record_complete", pl.col("_record_complete"), True)]
            if len(fields) > 1:
                columns.insert(0, ("_unit_complete", pl.sum_horizontal(present), True))
            keys.append((rule, columns))
        elif rule == "most_frequent":
            keys.append((rule, [("_frequency", pl.len().over("_g", "_value"), True)]))
        elif rule == "longest":
            length = pl.sum_horizontal(
                [pl.col(f).cast(pl.String).str.len_chars().fill_null(0) for f in fields]
            )
            keys.append((rule, [("_length", length, True)]))
    return keys


def _unit_winners(records: pl.DataFrame, unit: SurvivalUnit) -> pl.DataFrame:
    """Per golden id with a value in the unit: the winning record's fields and deciding rule.

    ``records`` carries ``_g`` (an integer per golden id), ``_order`` (rank of the record key)
    and ``_record_complete``. Customers with a single candidate need no sorting at all (most
    customers of real data have one record); the others are sorted once on all rule keys.
    """
    fields = list(unit.fields)
    out_columns = ["_g", "_order", *fields]
    inputs = [
        "_g",
        "_order",
        "_record_complete",
        "trust_rank",
        "source_updated_at",
        "invalid_fields",
    ]
    candidates = (
        records.select(*inputs, *fields)
        .filter(pl.any_horizontal([pl.col(f).is_not_null() for f in fields]))
        .with_columns(pl.len().over("_g").alias("_candidates"))
    )
    single = candidates.filter(pl.col("_candidates") == 1).select(
        *out_columns, pl.lit(ONLY_VALUE).alias("rule")
    )
    contested = candidates.filter(pl.col("_candidates") > 1)

    keys = _sort_keys(unit)
    key_columns = [(name, expr, desc) for _, columns in keys for name, expr, desc in columns]
    names = [name for name, _, _ in key_columns]
    # Values compared through a 64-bit hash of the unit's fields (null-aware): two different
    # values of one customer collide with probability ~1e-19.
    contested = (
        contested.with_columns(pl.struct(fields).hash(seed=0).alias("_value"))
        .with_columns([expr.alias(name) for name, expr, _ in key_columns])
        .select("_g", "_order", "_value", *fields, *names)
        .sort(
            ["_g", *names, "_order"],
            descending=[False, *(desc for _, _, desc in key_columns), False],
            nulls_last=True,
        )
    )
    first = pl.col("_g").is_first_distinct()
    contested = contested.with_columns(
        pl.when(first).then(pl.col("_value")).forward_fill().alias("_winning_value")
    )
    winners = contested.filter(first)
    runners_up = (
        contested.filter(pl.col("_value") != pl.col("_winning_value"))
        .filter(pl.col("_g").is_first_distinct())
        .select("_g", *(pl.col(n).alias(f"{n}_alt") for n in names))
        .with_columns(pl.lit(True).alias("_has_alt"))
    )
    decided = winners.join(runners_up, on="_g", how="left")
    rule = pl.when(pl.col("_has_alt").is_null()).then(pl.lit(UNANIMOUS))
    for rule_name, columns in keys:
        differs = pl.any_horizontal(
            [pl.col(n).ne_missing(pl.col(f"{n}_alt")) for n, _, _ in columns]
        )
        rule = rule.when(differs).then(pl.lit(rule_name))
    contested_winners = decided.select(
        *out_columns, rule.otherwise(pl.lit(TIE_BREAK)).alias("rule")
    )
    return pl.concat([single, contested_winners])


def survive(
    records: pl.DataFrame, units: Sequence[SurvivalUnit], pins: pl.DataFrame | None = None
) -> Survivors:
    """Golden values and provenance for every golden id in ``records``.

    ``records`` has :data:`RECORD_COLUMNS`; ``pins`` (optional) has :data:`PIN_COLUMNS`, at most
    one row per golden id and field, values as text (dates ``YYYY-MM-DD``). Fields in no unit
    stay empty (``SurvivorshipConfig.units()`` covers them all).
    """
    prepared = records.sort("record_key").with_columns(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("_order"),
        pl.col("golden_id").cast(pl.Categorical).to_physical().alias("_g"),
        pl.sum_horizontal([pl.col(f).is_not_null() for f in GOLDEN_FIELDS]).alias(
            "_record_complete"
        ),
        pl.col("invalid_fields").fill_null([]),
    )
    # Outputs are ordered by golden id, then field: integer ranks make that one cheap sort.
    ids = (
        prepared.select("_g", "golden_id")
        .unique(subset="_g")
        .sort("golden_id")
        .with_row_index("_rank")
    )
    values = ids.select("_g")
    provenance_parts = []
    for unit in units:
        winners = _unit_winners(prepared, unit)
        values = values.join(winners.select("_g", *unit.fields), on="_g", how="left")
        provenance_parts += [
            winners.filter(pl.col(f).is_not_null()).select(
                "_g", "_order", pl.lit(f).alias("field"), "rule"
            )
            for f in unit.fields
        ]
    values = (
        values.join(ids, on="_g")
        .sort("_rank")
        .select(
            "golden_id",
            *(
                pl.col(f) if f in values.columns else pl.lit(None, prepared.schema[f]).alias(f)
                for f in GOLDEN_FIELDS
            ),
        )
    )
    if provenance_parts:
        provenance = pl.concat(provenance_parts)
        # ``_order`` is the row of the winning record in ``prepared``: a gather, not a join.
        provenance = (
            provenance.with_columns(
                prepared["source_system"].gather(provenance["_order"]),
                prepared["source_record_id"].gather(provenance["_order"]),
            )
            .join(ids, on="_g")
            .select("golden_id", "_rank", *_PROVENANCE_COLUMNS[1:])
        )
    else:
        provenance = pl.DataFrame(
            schema={"golden_id": pl.String, "_rank": pl.UInt32}
            | dict.fromkeys(_PROVENANCE_COLUMNS[1:], pl.String)
        )
    if pins is not None and pins.height:
        values, provenance = _apply_pins(values, provenance, pins, ids)
    # One integer sort key (golden id rank, then field rank) sorts millions of provenance rows
    # about a third faster than sorting on the two keys.
    field_rank = pl.col("field").replace_strict(_FIELD_RANK, return_dtype=pl.UInt64)
    order = pl.col("_rank").cast(pl.UInt64) * len(_FIELD_RANK) + field_rank
    provenance = provenance.sort(order).select(_PROVENANCE_COLUMNS)
    return Survivors(values, provenance)


_PROVENANCE_COLUMNS: Final = ("golden_id", "field", "source_system", "source_record_id", "rule")
_FIELD_RANK: Final = {field: rank for rank, field in enumerate(sorted(GOLDEN_FIELDS))}


def _apply_pins(
    values: pl.DataFrame, provenance: pl.DataFrame, pins: pl.DataFrame, ids: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    pins = pins.join(ids.select("golden_id", "_rank"), on="golden_id", how="inner")
    for field in pins["field"].unique().sort().to_list():
        value = pl.col("value")
        if values.schema[field] == pl.Date:
            value = value.str.to_date("%Y-%m-%d")
        pinned = pins.filter(pl.col("field") == field).select("golden_id", value.alias("_pinned"))
        values = (
            values.join(pinned, on="golden_id", how="left", maintain_order="left")
            .with_columns(pl.coalesce("_pinned", field).alias(field))
            .drop("_pinned")
        )
    provenance = pl.concat(
        [
            provenance.join(
                pins.select("golden_id", "field"), on=["golden_id", "field"], how="anti"
            ),
            pins.select(
                "golden_id",
                "_rank",
                "field",
                pl.lit(STEWARD_SOURCE).alias("source_system"),
                pl.col("decision_id").alias("source_record_id"),
                pl.lit(STEWARD_PIN).alias("rule"),
            ),
        ]
    )
    return values, provenance
