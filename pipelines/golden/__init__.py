"""The golden stage: survivorship, provenance, stable golden ids and steward pins.

Entry point :func:`build_golden` (``docs/architecture.md``); the id rules live in
:mod:`matching.ids`, steward decisions in :mod:`matching.decisions`, survivorship in
:mod:`pipelines.golden.survivorship`.

The names below are imported on first use: :mod:`pipelines.config` imports this package's
``config`` module, and loading a config (an Airflow DAG file does) must not pull in Polars.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.golden.build import GoldenResult, build_golden
    from pipelines.golden.survivorship import Survivors, survive

_EXPORTS = {
    "GoldenResult": "pipelines.golden.build",
    "build_golden": "pipelines.golden.build",
    "Survivors": "pipelines.golden.survivorship",
    "survive": "pipelines.golden.survivorship",
}

__all__ = ["GoldenResult", "Survivors", "build_golden", "survive"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
