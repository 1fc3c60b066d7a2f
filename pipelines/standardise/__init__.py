"""Standardisation: accepted raw records -> the canonical customer schema, raw values beside.

The stage entry point is :func:`standardise`; the frame-in/frame-out functions per concern are
re-exported so they can be tested and reused alone. Imports are lazy: loading the pipeline
configuration (which imports ``pipelines.standardise.config``) must not pull in Polars and
phonenumbers, so Airflow parses DAG files fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "standardise": "stage",
    "StandardiseResult": "stage",
    "FieldStats": "stage",
    "SourceStats": "stage",
    "field_stats": "stage",
    "run_date": "stage",
    "SourceHints": "frame",
    "standardise_frame": "frame",
    "standardise_with_report": "frame",
    "standardise_names": "names",
    "split_full_name": "names",
    "proper_case": "names",
    "nickname_table": "nicknames",
    "standardise_emails": "emails",
    "standardise_phones": "phones",
    "to_e164": "phones",
    "standardise_addresses": "addresses",
    "normalise_postcodes": "postcodes",
    "standardise_countries": "countries",
    "to_alpha2": "countries",
    "standardise_dates": "dates",
    "parse_dates": "dates",
    "to_utc": "dates",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
