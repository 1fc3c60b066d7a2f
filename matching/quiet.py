"""Splink's chatter kept out of the run log, so the warnings that matter can be seen.

Splink logs every SQL step at INFO (hundreds of lines a run) and warns once per EM session and
level that a level was "not observed" (dozens a run, repeating what
``TrainingReport.untrained_parameters`` says once, by name). :func:`quiet_splink` lowers
Splink's logger to WARNING unless the caller set a level on it (``golden -v`` sets DEBUG), and
:func:`summarised_warnings` collects the repetitive warnings during training so that training
reports them in one line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

_REPETITIVE = ("not observed in dataset", "Probe returned zero blocked pairs")


def quiet_splink() -> None:
    """Splink's INFO lines off, unless someone chose a level for its logger already."""
    splink = logging.getLogger("splink")
    if splink.level == logging.NOTSET:
        splink.setLevel(logging.WARNING)


class _Collector(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(text in message for text in _REPETITIVE):
            self.messages.append(" ".join(message.split()))
            return False
        return True


@contextmanager
def summarised_warnings() -> Iterator[list[str]]:
    """Within the block, Splink's repetitive training warnings are collected into the list
    yielded instead of being logged one by one."""
    collector = _Collector()
    loggers = [
        logging.getLogger(name)
        for name in (
            "splink.internals.expectation_maximisation",
            "splink.internals.em_sampling",
            "splink.internals.em_training_session",
        )
    ]
    for logger in loggers:
        logger.addFilter(collector)
    try:
        yield collector.messages
    finally:
        for logger in loggers:
            logger.removeFilter(collector)


def hide_spark_pandas_warning(engine: str) -> None:
    """PySpark warns on import that it does not support pandas 3; Great Expectations imports
    PySpark whatever the engine. The warning concerns a user only when Spark is the engine,
    so every stage hides it otherwise (:func:`pipelines.orchestrate.run_stage`), whether the
    CLI, an Airflow task or a library call drives the run."""
    if engine != "spark":
        import warnings

        warnings.filterwarnings(
            "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
        )
