"""Validation with Great Expectations: suites as data, quarantine, Data Docs, a quality gate.

The stage's front door. Entry points are imported on first use, so importing the configuration
(``pipelines.validate.config``) stays cheap for the CLI and for Airflow's DAG parsing.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.validate.data_docs import build_data_docs
    from pipelines.validate.gate import GateResult, check_gate
    from pipelines.validate.stage import SuiteResult, validate_source, validate_staged
    from pipelines.validate.suites import Suite, load_suite

__all__ = [
    "GateResult",
    "Suite",
    "SuiteResult",
    "build_data_docs",
    "check_gate",
    "load_suite",
    "validate_source",
    "validate_staged",
]

_HOMES = {
    "build_data_docs": "data_docs",
    "GateResult": "gate",
    "check_gate": "gate",
    "SuiteResult": "stage",
    "validate_source": "stage",
    "validate_staged": "stage",
    "Suite": "suites",
    "load_suite": "suites",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
