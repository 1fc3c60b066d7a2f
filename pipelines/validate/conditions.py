"""GX's structured ``row_condition`` as plain data, so the Polars engine needs no GX import.

GX parses a suite's ``row_condition`` into its own pydantic classes (``ComparisonCondition``,
``NullityCondition``, ``AndCondition``, ``OrCondition``) when it checks the suite. Importing GX
costs seconds per process, so the checked suite (:mod:`pipelines.validate.checked`) keeps the
parsed condition as these small frozen dataclasses instead, one per GX class, with exactly the
fields :func:`pipelines.validate.polars_rules.condition_expr` reads. Any other condition (a
legacy string, GX's ``PassThroughCondition``) is left as GX gave it: the Polars engine refuses
it and GX's own engine evaluates the rule, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class Comparison:
    """``column <operator> parameter`` (GX's ``ComparisonCondition``)."""

    column: str
    operator: str
    """GX's ``Operator`` value: ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``IN``, ``NOT_IN``."""
    parameter: Any


@dataclass(frozen=True)
class Nullity:
    """``column IS [NOT] NULL`` (GX's ``NullityCondition``)."""

    column: str
    is_null: bool


@dataclass(frozen=True)
class Group:
    """All (``and``) or any (``or``) of the inner conditions (GX's ``And``/``OrCondition``)."""

    kind: Literal["and", "or"]
    conditions: tuple[Condition, ...]


Condition = Comparison | Nullity | Group


def from_gx(value: Any) -> Any:
    """The plain form of a GX condition object; any other value is returned unchanged.

    Only called on values GX produced, so GX is already imported when a condition is found."""
    if not type(value).__module__.startswith("great_expectations."):
        return value
    from great_expectations.expectations.row_conditions import (
        AndCondition,
        ComparisonCondition,
        NullityCondition,
        OrCondition,
    )

    if isinstance(value, AndCondition | OrCondition):
        inner = tuple(from_gx(c) for c in value.conditions)
        if not all(isinstance(c, Comparison | Nullity | Group) for c in inner):
            return value  # a condition kind without a plain form: keep GX's object whole
        return Group("and" if isinstance(value, AndCondition) else "or", inner)
    if isinstance(value, NullityCondition):
        return Nullity(value.column.name, bool(value.is_null))
    if isinstance(value, ComparisonCondition):
        return Comparison(value.column.name, str(value.operator), value.parameter)
    return value


def to_json(condition: Condition) -> dict[str, Any]:
    """GX's own JSON shape of the condition (``{"type": ..., ...}``)."""
    if isinstance(condition, Group):
        return {"type": condition.kind, "conditions": [to_json(c) for c in condition.conditions]}
    if isinstance(condition, Nullity):
        column = {"name": condition.column}
        return {"type": "nullity", "column": column, "is_null": condition.is_null}
    return {
        "type": "comparison",
        "column": {"name": condition.column},
        "operator": condition.operator,
        "parameter": condition.parameter,
    }


def from_json(data: dict[str, Any]) -> Condition:
    """Inverse of :func:`to_json`; raises ``ValueError`` on anything else."""
    kind = data.get("type")
    if kind in ("and", "or"):
        return Group(kind, tuple(from_json(c) for c in data["conditions"]))
    if kind == "nullity":
        return Nullity(_name(data), _bool(data["is_null"]))
    if kind == "comparison":
        if not isinstance(data.get("operator"), str) or "parameter" not in data:
            raise ValueError(f"not a comparison condition: {data!r}")
        return Comparison(_name(data), data["operator"], data["parameter"])
    raise ValueError(f"not a row condition: {data!r}")


def _name(data: dict[str, Any]) -> str:
    column = data.get("column")
    if not isinstance(column, dict) or not isinstance(column.get("name"), str):
        raise ValueError(f"row condition without a column name: {data!r}")
    return column["name"]


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"is_null must be true or false, got {value!r}")
    return value
