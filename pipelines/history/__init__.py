"""History of the golden records: values over time, every id event, and where each id went.

Built by the golden stage with the rest of a run's golden tables (so publishing them is the
same atomic step) from the history the current published version carries:
:func:`~pipelines.history.timeline.advance` is the step, :mod:`pipelines.history.store` reads
what it builds on. See ``docs/history.md``.

Names are imported on first use, like :mod:`pipelines.publish`: the publish contract imports
this package's ``schema`` module, which must not pull in Polars.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.history.store import HISTORY_TABLES, load_previous, load_published
    from pipelines.history.timeline import History, Step, advance, replay_aliases, run_time

_EXPORTS = {
    "HISTORY_TABLES": "pipelines.history.store",
    "load_previous": "pipelines.history.store",
    "load_published": "pipelines.history.store",
    "History": "pipelines.history.timeline",
    "Step": "pipelines.history.timeline",
    "advance": "pipelines.history.timeline",
    "replay_aliases": "pipelines.history.timeline",
    "run_time": "pipelines.history.timeline",
}

__all__ = [
    "HISTORY_TABLES",
    "History",
    "Step",
    "advance",
    "load_previous",
    "load_published",
    "replay_aliases",
    "run_time",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
