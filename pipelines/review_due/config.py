"""Configuration of periodic review (``review_due``)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from pipelines.config_base import StrictModel
from pipelines.schema import CANONICAL_FIELDS

_DEFAULT_PLACEHOLDERS: dict[str, str] = {
    "email": (
        r"^(test|noemail|no-email|no\.email|none|null|na|n/a|unknown|dummy|fake|asdf|x+)@"
        r"|@(example\.(com|org|net)|test\.com|invalid|localhost)$"
    ),
    "phone": r"(0{7}|1{7}|2{7}|3{7}|4{7}|5{7}|6{7}|7{7}|8{7}|9{7}|1234567|0123456)",
    "first_name": r"^(test|unknown|n/?a|none|null|x+|asdf|dummy|fake|customer|anonymous)$",
    "last_name": r"^(test|unknown|n/?a|none|null|x+|asdf|dummy|fake|customer|anonymous)$",
    "address_line1": r"^(unknown|n/?a|none|null|test|x+|tbc|tba|no address)$",
    "date_of_birth": r"^(1900-01-01|1901-01-01|1970-01-01|9999-12-31)$",
}


class ReviewDueConfig(StrictModel):
    """What makes a record or golden record due for periodic review (``golden review due``)."""

    stale_after_days: int = Field(730, ge=1)
    """A source record unconfirmed this long (its source's last update time, else when it was
    first seen, or a steward's ``golden review confirm`` if later) is due for review."""
    stale_after_days_by_source: dict[str, int] = Field(default_factory=dict)
    """Per-source overrides of ``stale_after_days`` (source name -> days)."""
    invalid_contact_runs: int = Field(3, ge=1)
    """A record whose email or phone failed standardisation in this many runs in a row (the
    latest runs that have staged records) is due for review."""
    placeholder_patterns: dict[str, str] = Field(
        default_factory=lambda: dict(_DEFAULT_PLACEHOLDERS)
    )
    """Golden field -> regular expression (case-insensitive) of placeholder values; a golden
    record holding one is due for review. Dates are matched as ``YYYY-MM-DD``."""
    conflict_fields: list[str] = Field(
        default_factory=lambda: ["email", "phone", "date_of_birth", "last_name"]
    )
    """Fields on which a golden record's sources disagreeing (two or more values from two or
    more sources) makes it due for review."""
    golden_id_columns: dict[str, str] = Field(default_factory=dict)
    """Source name -> the source column in which that system keeps the golden id it was given
    (ids written back into a CRM, an order system's customer reference). A record still
    holding an id that ``golden_id_aliases`` says was merged into another is due for review
    (``absorbed_id_sent``): the system has not taken the merge in. A source without an entry
    holds no golden ids, and nothing is judged for it."""
    refresh_every_days: int = Field(91, ge=1)
    """How often the maintenance DAG's ``refresh_review_due`` task recomputes the table (the
    task runs with the weekly DAG and skips until this long has passed): quarterly."""

    @field_validator("placeholder_patterns")
    @classmethod
    def _patterns_compile(cls, value: dict[str, str]) -> dict[str, str]:
        for name, pattern in value.items():
            if name not in CANONICAL_FIELDS:
                raise ValueError(f"placeholder_patterns.{name}: not a golden field")
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(
                    f"placeholder_patterns.{name}: not a regular expression: {exc}"
                ) from None
        return value

    @field_validator("conflict_fields")
    @classmethod
    def _known_fields(cls, value: list[str]) -> list[str]:
        unknown = [f for f in value if f not in CANONICAL_FIELDS]
        if unknown:
            raise ValueError(f"unknown golden field(s) {unknown}; fields: {list(CANONICAL_FIELDS)}")
        return value
