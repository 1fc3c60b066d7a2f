"""What the generator and the mutator report, and what the sample folder remembers.

``sample.json`` in a sample folder holds the :class:`SampleManifest`: the seed, options and day
of the data, so the next day can be rendered with the same rates. It carries no paths and no
wall-clock times, so the same seed gives the same bytes wherever the sample is written.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field

from pipelines.sample.config import SampleOptions


class SampleInfo(BaseModel):
    """A generated sample: where its files are and what they hold."""

    out_dir: Path
    config_path: Path
    seed: int
    customers: int
    """True customers (distinct ``customer_id`` in the ground truth)."""
    records: dict[str, int]
    """Records per source system."""
    total_records: int
    files: dict[str, str]
    """Role (``crm``, ``shop``, ``billing``, ``ground_truth``, ``true_customers``, ``config``,
    ``manifest``) -> file name inside ``out_dir`` (the config may live elsewhere)."""
    lookalike_groups: dict[str, int]
    """Groups per look-alike kind (household, twin, jr_sr) that have records."""
    namesake_pairs: int
    """Pairs of unrelated customers sharing a common first and last name."""
    as_of: datetime
    """Extraction time (UTC) of the newest data."""
    noise: dict[str, dict[str, int]] = Field(default_factory=dict)
    """Per source, how many records got each kind of noise."""


class MutationInfo(BaseModel):
    """One "next day" applied to a sample."""

    sample_dir: Path
    seed: int
    fraction: float
    as_of: datetime
    """The new extraction time: every changed or new record is stamped after the old one."""
    changed: dict[str, int]
    """Existing records changed, per source."""
    added: dict[str, int]
    """New records, per source."""
    changes: dict[str, int]
    """Changed records per kind of change (move, email, phone, correction)."""
    new_customers: int
    """True customers seen for the first time."""
    changed_ids: dict[str, list[str]]
    added_ids: dict[str, list[str]]


class MutationDay(BaseModel):
    seed: int
    fraction: float
    as_of: datetime
    changed: int
    added: int


class SampleManifest(BaseModel):
    """Contents of ``sample.json``."""

    seed: int
    customers: int
    records: dict[str, int]
    as_of: datetime
    options: SampleOptions
    lookalike_groups: dict[str, int]
    namesake_pairs: int
    noise: dict[str, dict[str, int]]
    days: list[MutationDay] = Field(default_factory=list)
