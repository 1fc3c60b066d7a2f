"""Configuration of the validation stage and its quality gate."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, PrivateAttr

from pipelines.config_base import ConfigPath, Name, StrictModel


class GateThresholds(StrictModel):
    """When to stop a run before publish."""

    max_critical_failure_rate: float = Field(0.05, ge=0, le=1)
    """Stop if more than this share of a suite's rows fail a critical expectation."""
    max_row_count_drop: float = Field(0.30, ge=0, le=1)
    """Stop if a source delivers this much fewer rows than in its last successful run."""
    max_rejected_share: float = Field(0.05, ge=0, le=1)
    """Stop if ingest could not read more than this share of the rows a source delivered in
    this run (undecodable text, a row whose fields do not fit the header): a file in another
    encoding or with another delimiter trips the gate instead of publishing the customers of
    the rows that happened to read. The rows are kept in the run's ``rejects.parquet``."""
    max_deleted_share: float = Field(0.10, ge=0, le=1)
    """Stop if more than this share of a source's records in its last published run are
    deleted at the source (retired, or queued for review) since: a truncated export trips the
    gate instead of emptying the golden set, even when new records make up the count."""


BUNDLED_EXPECTATIONS = Path(__file__).resolve().parents[2] / "expectations"
"""The project's own suites (``canonical``, ``source_default`` and the sample's sources)."""


class ValidationConfig(StrictModel):
    expectations_dir: ConfigPath = Path("expectations")
    """Folder of GX suite JSON files (``<suite>.json``). When not set and the config file has
    no ``expectations/`` folder beside it, the project's bundled suites are used."""
    canonical_suite: Name = "canonical"
    """Suite applied to every staged (standardised) record."""
    default_source_suite: Name | None = "source_default"
    """Suite for a source with no suite file of its own (no ``sources[].suite`` and no
    ``<source>.json``): checks every source can meet, used under the source's name. Null makes
    a missing source suite an error."""
    gate: GateThresholds = Field(default_factory=GateThresholds)
    """Default thresholds for every suite."""
    suite_gates: dict[str, GateThresholds] = Field(default_factory=dict)
    """Per-suite overrides of ``gate``."""
    data_docs: bool = True
    """Build the static HTML Data Docs site for stewards (escaped, script-free pages) every run."""
    engine: Literal["polars", "gx"] = "polars"
    """How expectations are evaluated: ``polars`` runs the expectation types it implements
    vectorised (same rows flagged as GX, proved by a parity test) and hands every other rule to
    GX's pandas engine; ``gx`` runs every rule on GX's pandas engine (slow on large batches)."""
    full: bool = False
    """Evaluate every rule of a source suite on every record on every run. By default a source
    validation reuses the latest earlier run's row-by-row verdicts for record versions whose
    mapped values are unchanged, when that run used the same suite file, code, libraries and
    source configuration (rules comparing rows, judging the whole set or reading a run
    parameter are always evaluated on every record); set this to always take the full path."""

    _bundled: bool = PrivateAttr(default=False)

    @property
    def bundled_suites(self) -> bool:
        """The suites are the project's own, taken because the config has none: its sources
        are then validated with the default suite, never with a bundled sample source's suite
        that happens to share their name."""
        return self._bundled

    def use_bundled_suites(self) -> None:
        self.expectations_dir = BUNDLED_EXPECTATIONS
        self._bundled = True

    def thresholds_for(self, suite: str) -> GateThresholds:
        return self.suite_gates.get(suite, self.gate)
