"""Configuration of the per-source quality scorecard (``dq_scorecard``)."""

from __future__ import annotations

from pydantic import Field

from pipelines.config_base import StrictModel


class ScorecardConfig(StrictModel):
    """How ``dq_scorecard`` measures freshness (its other measures have no settings)."""

    freshness_days: int = Field(365, ge=1)
    """A value is fresh when its record was updated by its source (else first landed) within
    this many days of the run's start."""
