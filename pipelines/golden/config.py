"""Survivorship rules: which source value becomes the golden value."""

from __future__ import annotations

from typing import Literal, NamedTuple

from pydantic import Field, field_validator, model_validator

from pipelines.config_base import StrictModel
from pipelines.schema import CANONICAL_FIELDS

Rule = Literal[
    "valid_first", "trust_rank", "most_recent", "most_complete", "most_frequent", "longest"
]
"""``valid_first``: values not listed in the record's ``invalid_fields`` (always applied first,
whether listed or not: an invalid value never beats a valid one). ``trust_rank``: the source
with the lowest trust rank. ``most_recent``: the latest ``source_updated_at`` (records whose
source sends no update time rank last: their age is unknown, not recent).
``most_complete``: the record with most of the unit's fields filled, then most canonical fields
filled overall. ``most_frequent``: the value most records of the customer agree on.
``longest``: the longest text (free text such as names and address lines)."""

RuleList = list[Rule]


class SurvivalUnit(NamedTuple):
    """Fields that survive together (a group) or one field alone, with the rules that decide."""

    name: str
    fields: tuple[str, ...]
    rules: tuple[Rule, ...]


def _check_rules(rules: list[Rule]) -> list[Rule]:
    if not rules:
        raise ValueError("give at least one rule")
    repeated = sorted({r for r in rules if rules.count(r) > 1})
    if repeated:
        raise ValueError(f"rule(s) {repeated} listed more than once")
    return rules


class SurvivorshipConfig(StrictModel):
    """Which source value becomes each golden field. Rules: ``valid_first`` (values the
    standardiser flagged invalid lose; always applied first), ``trust_rank`` (the source with the
    lowest trust rank), ``most_recent`` (latest ``source_updated_at``; undated records last),
    ``most_complete`` (most fields filled), ``most_frequent`` (the value most records agree on),
    ``longest`` (longest text). A steward's pin beats every rule."""

    default: RuleList = Field(
        default_factory=lambda: ["valid_first", "most_frequent", "trust_rank", "most_recent"]
    )
    """Rules applied in order until one value wins; remaining ties go to the lowest record key."""
    fields: dict[str, RuleList] = Field(default_factory=dict)
    """Overrides of ``default`` per canonical field, or per group name for a group's fields."""
    groups: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "address": ["address_line1", "address_line2", "city", "region", "postcode", "country"],
            "name": [
                "name_prefix",
                "first_name",
                "middle_name",
                "last_name",
                "name_suffix",
                "full_name",
            ],
            "phone": ["phone", "phone_extension"],
        }
    )
    """Fields that must come from the same record (an address is not mixed from two moves, a
    first name from one record and a full name from another)."""

    @field_validator("default")
    @classmethod
    def _default_rules(cls, value: list[Rule]) -> list[Rule]:
        return _check_rules(value)

    @field_validator("groups")
    @classmethod
    def _known_group_fields(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        owner: dict[str, str] = {}
        for group, members in value.items():
            if group in CANONICAL_FIELDS:
                raise ValueError(f"group {group!r} is named like a field; give it another name")
            if not members:
                raise ValueError(f"group {group!r} has no fields")
            unknown = sorted(set(members) - set(CANONICAL_FIELDS))
            if unknown:
                raise ValueError(
                    f"group {group!r} names unknown field(s) {unknown}; "
                    f"fields are {list(CANONICAL_FIELDS)}"
                )
            for member in members:
                if member in owner and owner[member] != group:
                    raise ValueError(
                        f"field {member!r} is in groups {owner[member]!r} and {group!r}; "
                        "a field can belong to one group only"
                    )
                owner[member] = group
        return value

    @model_validator(mode="after")
    def _known_overrides(self) -> SurvivorshipConfig:
        for key, rules in self.fields.items():
            try:
                _check_rules(rules)
            except ValueError as exc:
                raise ValueError(f"fields.{key}: {exc}") from None
            if key in self.groups:
                continue
            if key not in CANONICAL_FIELDS:
                raise ValueError(
                    f"fields.{key}: unknown field or group; fields are {list(CANONICAL_FIELDS)}, "
                    f"groups are {list(self.groups)}"
                )
            group = next((g for g, members in self.groups.items() if key in members), None)
            if group is not None:
                raise ValueError(
                    f"fields.{key}: {key!r} survives with its group {group!r}; "
                    f"set the rules under fields.{group} instead"
                )
        return self

    def rules_for(self, field: str) -> list[Rule]:
        """Rules of a field or a group name."""
        return self.fields.get(field, self.default)

    def units(self) -> list[SurvivalUnit]:
        """Every canonical field exactly once: in its group, or alone."""
        grouped = {member for members in self.groups.values() for member in members}
        units = [
            SurvivalUnit(name, tuple(f for f in CANONICAL_FIELDS if f in members), rules)
            for name, members in self.groups.items()
            for rules in [tuple(self.rules_for(name))]
        ]
        units += [
            SurvivalUnit(f, (f,), tuple(self.rules_for(f)))
            for f in CANONICAL_FIELDS
            if f not in grouped
        ]
        return units


class GoldenConfig(StrictModel):
    """Golden records: survivorship rules and golden ids."""

    survivorship: SurvivorshipConfig = Field(default_factory=SurvivorshipConfig)
    """How each golden field's value is chosen from a customer's source records."""
    id_prefix: str = Field("G", pattern=r"^[A-Z]{1,4}$")
    """Golden ids look like ``G-<random>``; the random part never derives from personal data."""
