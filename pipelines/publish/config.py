"""Configuration of publishing the golden tables."""

from __future__ import annotations

from pydantic import Field

from pipelines.config_base import StrictModel


class PublishConfig(StrictModel):
    keep_versions: int = Field(5, ge=1)
    """How many published versions stay readable by run id in the warehouse."""
