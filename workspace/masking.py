"""Values as a workspace user may see them: the privacy role's masks, applied in Python.

The published role copies mask with SQL (:func:`pipelines.privacy.masking.mask_sql`); the
workspace shows single records, so it applies the same masks to Python values. Which mask a
column gets comes from the same place (:func:`pipelines.privacy.masking.mask_for` on the
``analyst`` role of the configuration), so an analyst sees in the workspace exactly what their
published copy shows. A test holds the two implementations to the same output.

Source-record columns follow their field: ``raw_email`` and ``email_l`` are masked like
``email``; a column the role is not granted is hidden (``HIDDEN``).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from pipelines.privacy.masking import base_column, mask_for

if TYPE_CHECKING:
    from pipelines.privacy.config import Mask, RoleConfig

HIDDEN = "[hidden]"
"""Shown instead of a value the role is not granted at all."""

_NOT_PERSONAL = frozenset(
    {
        "golden_id",
        "record_key",
        "source_system",
        "source_record_id",
        "record_key_l",
        "record_key_r",
        "match_probability",
        "match_weight",
        "weights",
        "run_id",
        "source_record_count",
        "source_systems",
        "field",
        "rule",
        "trust_rank",
        "batch_id",
        "ingested_at",
        "source_updated_at",
        "first_seen_at",
        "last_updated_at",
        "golden_changed_at",
        "invalid_fields",
        "change",
        "related_golden_ids",
        "record_count",
    }
)
"""Lineage and scores: never masked (they identify records, not people)."""


def field_of(column: str) -> str:
    """The canonical field a column shows: ``raw_email`` / ``email_l`` -> ``email``."""
    return base_column(column.removeprefix("raw_"))


def apply_mask(mask: Mask, value: Any) -> Any:
    """``value`` through ``mask``, with the semantics of the SQL masks."""
    if value is None or mask == "none":
        return value
    if mask == "drop":
        return HIDDEN
    if mask == "redact":
        return "[redacted]"
    if mask == "year_only":
        if isinstance(value, date | datetime):
            return value.year
        found = re.search(r"\b(1[89]\d\d|20\d\d)\b", str(value))
        return int(found.group(1)) if found else "[redacted]"
    text = str(value)
    if mask == "initial":
        text = text.strip()
        return f"{text[0].upper()}." if text else None
    if mask == "email_domain":
        if "@" in text:
            return "***@" + text.rsplit("@", 1)[1].lower()
        return "***"
    if mask == "last_digits":
        digits = re.sub(r"[^0-9]", "", text)
        return "*" * max(len(digits) - 2, 0) + digits[-2:]
    raise ValueError(f"unknown mask {mask!r}")


class Masker:
    """Masks one role's view of rows; ``None`` role means values are shown as published."""

    def __init__(self, role: RoleConfig | None):
        self.role = role

    @property
    def active(self) -> bool:
        return self.role is not None and self.role.columns is not None

    def mask_of(self, column: str) -> Mask:
        if not self.active or column in _NOT_PERSONAL:
            return "none"
        assert self.role is not None
        mask = mask_for(self.role, column)
        if mask == "drop" and column != field_of(column):
            mask = mask_for(self.role, field_of(column))
        return mask

    def value(self, column: str, value: Any) -> Any:
        return apply_mask(self.mask_of(column), value)

    def row(self, row: dict[str, Any]) -> dict[str, Any]:
        if not self.active:
            return row
        return {column: self.value(column, value) for column, value in row.items()}

    def rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [self.row(r) for r in rows] if self.active else rows
