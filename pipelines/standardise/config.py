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
    max_unparsed_date_share: float = Field(0.5, ge=0.0, le=1.0)
    """Largest share of a source's non-empty dates of birth that may fail to parse before the
    run stops. A share above it almost always means the source's ``date_formats`` does not
    describe its data (``%Y-%m-%d`` for ``31.12.1980``), which would otherwise leave most dates
    null with only a warning row in the Data Docs; set 1.0 to accept any share."""
    full: bool = False
    """Standardise every record on every run. By default a run reuses the previous run's staged
    rows for record versions whose input is unchanged, when the previous run was standardised
    with the same code, settings, source hints, run year and inferred date orders (anything
    else standardises every record anyway); set this to always take the full path."""
