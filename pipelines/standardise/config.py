"""Configuration of the standardisation stage (per-source hints live on each source)."""

from __future__ import annotations

from pydantic import Field

from pipelines.config_base import ConfigPath, StrictModel
from pipelines.standardise.placeholders import PlaceholderConfig


class StandardiseConfig(StrictModel):
    nicknames_path: ConfigPath | None = None
    """Extra nickname pairs (CSV ``nickname,canonical``) added to the bundled table."""
    min_birth_year: int = Field(1900, ge=1800)
    """Dates of birth before this year are flagged invalid."""
    placeholders: PlaceholderConfig = Field(default_factory=PlaceholderConfig)
    """Values read as missing rather than as the customer's (1900-01-01, ``test@test.com``,
    000-000-0000, ...): they never survive over a real value and are never published."""
    full: bool = False
    """Standardise every record on every run. By default a run reuses the previous run's staged
    rows for record versions whose input is unchanged, when the previous run was standardised
    with the same code, settings, source hints, run year and inferred date orders (anything
    else standardises every record anyway); set this to always take the full path."""
