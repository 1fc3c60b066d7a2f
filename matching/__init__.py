"""Record matching with Splink: model settings, training, scoring, clustering, stable ids and
the steward review queue. Knows nothing of the pipeline around it (no ``pipelines`` imports).

The front door is small: :func:`match_records` runs a whole matching pass, the other names
are the pieces a caller may want alone. Imports are lazy, so loading the configuration
(``matching.config``) does not pull in Splink, DuckDB or Polars.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "MatchingConfig": "config",
    "match_records": "matcher",
    "MatchOutput": "matcher",
    "MatchSummary": "matcher",
    "cluster_records": "clustering",
    "pairwise_scores": "evaluation",
    "PairwiseScores": "evaluation",
    "MatchingError": "errors",
    "MatchingInputError": "errors",
    "ConflictingDecisionsError": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
