"""The matching stage: staged records in, scored pairs, clusters and a review queue out.

The stage entry point is :func:`match`; the model, training, scoring and clustering live in
``matching/``. Imports are lazy, so loading the pipeline configuration stays cheap for the CLI
and for Airflow's DAG parsing.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {"match": "stage", "MatchResult": "stage"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
