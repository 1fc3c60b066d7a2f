"""Survivorship rules: which source value becomes the golden value."""

from __future__ import annotations

from typing import Literal, NamedTuple

from pydantic import Field, field_validator, model_validator

from pipelines.config_base import StrictModel
from pipelines.schema import CANONICAL_FIELDS

Rule = Literal[
    "valid_first",
    "filled_first",
    "agreement",
    "full_form",
    "latest_value",
    "trust_rank",
    "most_recent",
    "most_complete",
    "most_frequent",
    "longest",
]
"""Rules compare the *values* a customer's records offer, each value being the records that agree
on it in identity (Bob and Robert, Köln and Koeln, one address however its street is spelled:
:mod:`pipelines.golden.consensus`).

``valid_first``: values not listed in the record's ``invalid_fields`` (always applied first,
whether listed or not: an invalid value never beats a valid one). ``filled_first``: the value
with more of the unit's fields filled (a group never wins with blanks when another record has
it filled). ``agreement``: the value most records agree on. ``full_form``: the value more
plausible as written in full (not an initial; a given name in the bundled name lexicon; a name
the customer's email addresses contain; an address at a well-known mail provider), so a one-off
typo or initial loses to the full form. ``latest_value``: the value with the most recent
``source_updated_at`` (records without an update time rank last). ``trust_rank``: the value a
source with the lowest trust rank offers. ``most_recent``: as ``latest_value``.
``most_complete``: the record with most of the unit's fields filled, then most canonical fields
filled overall. ``most_frequent``: as ``agreement``. ``longest``: the longest text."""

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
    """Which source value becomes each golden field, decided by consensus across the customer's
    records. Rules: ``valid_first`` (values the standardiser flagged invalid lose; always
    applied first), ``filled_first`` (a value with more of its group filled), ``agreement``
    (the value most records agree on), ``full_form`` (a full, corroborated value over an
    initial or a one-off typo), ``latest_value`` (the value of the latest
    ``source_updated_at``; undated records last), ``trust_rank`` (the source with the lowest
    trust rank), ``most_recent``, ``most_complete``, ``most_frequent``, ``longest``. A
    steward's pin beats every rule."""

    default: RuleList = Field(
        default_factory=lambda: [
            "valid_first",
            "filled_first",
            "agreement",
            "full_form",
            "trust_rank",
            "latest_value",
        ]
    )
    """Rules applied in order until one value wins; remaining ties go to the lowest record key.
    Among the records holding the winning value, each field shows the best spelling (the full
    given name, accents, mixed case, then the spelling most records share)."""
    fields: dict[str, RuleList] = Field(
        default_factory=lambda: {
            "email": ["valid_first", "full_form", "latest_value", "agreement", "trust_rank"],
            "address": [
                "valid_first",
                "filled_first",
                "latest_value",
                "agreement",
                "trust_rank",
            ],
        }
    )
    """Overrides of ``default`` per canonical field, or per group name for a group's fields. By
    default a customer's email and address are the latest ones (people move and change address;
    a typo'd mail domain still loses to the one it garbles), the rest what most records agree
    on. These default overrides apply only while ``default`` is not set either."""
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
        if "fields" not in self.model_fields_set:
            # The default overrides go with the default rules: a config that sets its own
            # ``default`` has it apply everywhere, and one that regroups keeps the overrides
            # that still name a group or an ungrouped field.
            grouped = {m for members in self.groups.values() for m in members}
            self.fields = {
                k: v
                for k, v in self.fields.items()
                if "default" not in self.model_fields_set
                and (k in self.groups or (k in CANONICAL_FIELDS and k not in grouped))
            }
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
