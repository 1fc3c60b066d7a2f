"""GX's JSON form of validation results, written without importing GX.

``runs/<run>/gx_results/<suite>.json`` is what ``ExpectationSuiteValidationResult.to_json_dict()``
produces: the ``data_docs`` stage loads it back with GX's schema and renders it, so it must stay
exactly that document. Building GX's objects only to serialise them costs a GX import (about
4 s) in every validation process; this module writes the same document directly.

:func:`to_json` is GX's ``convert_to_json_serializable`` for the values results hold (JSON
scalars, containers, dates and times, NumPy scalars and arrays, UUIDs, enums); any other type is
handed to GX's own function, so an unusual value costs the import but never changes the output.
The field order and the keys dropped when empty follow GX's marshmallow schemas
(``ExpectationConfigurationSchema``, ``ExpectationValidationResultSchema``,
``ExpectationSuiteValidationResultSchema``, ``RunIdentifierSchema``).
``tests/test_validate_gx_json.py`` compares the output with GX's own for a variety of results.
"""

from __future__ import annotations

import datetime as dt
import math
import pathlib
import sys
import uuid
from enum import Enum
from typing import Any

import numpy as np

_REMOVED_IF_NONE = ("id", "expectation_context", "rendered_content", "notes", "description")
"""``ExpectationConfigurationSchema.REMOVE_KEYS_IF_NONE``."""
_GX_SERIALISED = frozenset({"great_expectations", "pydantic"})


def to_json(data: Any) -> Any:
    """GX's ``convert_to_json_serializable``, in its order of checks."""
    if type(data).__module__.split(".")[0] in _GX_SERIALISED:
        return _gx_convert(data)  # GX's and pydantic's objects serialise themselves
    if isinstance(data, float) and math.isnan(data):
        return None
    if isinstance(data, str | int | float | bool):
        return data
    if isinstance(data, Enum):
        return data.value
    if isinstance(data, range):
        return list(data)
    if isinstance(data, dict):
        return {str(key): to_json(value) for key, value in data.items()}
    if isinstance(data, list | tuple | set):
        return [to_json(value) for value in data]
    if isinstance(data, np.ndarray):
        return [to_json(x) for x in data.tolist()]
    if isinstance(data, np.int64):
        return int(data)
    if isinstance(data, dt.datetime | dt.date | dt.time):
        return data.isoformat()
    if isinstance(data, np.datetime64):
        return np.datetime_as_string(data)
    if isinstance(data, uuid.UUID | bytes | slice | pathlib.PurePath):
        return str(data)
    if isinstance(data, np.bool_):
        return bool(data)
    if isinstance(data, np.integer):
        return int(data)
    if isinstance(data, np.floating):
        return float(round(data, sys.float_info.dig))
    if data is None:
        return None
    return _gx_convert(data)


def _gx_convert(data: Any) -> Any:
    from great_expectations.util import convert_to_json_serializable

    return convert_to_json_serializable(data)


def expectation_config(
    *,
    type: str,
    kwargs: dict[str, Any],
    meta: dict[str, Any] | None,
    notes: Any,
    description: str | None,
    severity: str,
    id: str | None,
) -> dict[str, Any]:
    """``ExpectationConfiguration(...).to_json_dict()`` as a result embeds it."""
    document: dict[str, Any] = {
        "type": str(type),
        "kwargs": to_json(kwargs),
        "meta": to_json(dict(meta or {})),
        "notes": to_json(notes),
        "id": None if id is None else str(id),
        "description": None if description is None else str(description),
        "severity": severity,
    }
    return {k: v for k, v in document.items() if not (k in _REMOVED_IF_NONE and v is None)}


def validation_result(
    *,
    success: bool,
    expectation_config: dict[str, Any],
    result: dict[str, Any] | None,
    meta: dict[str, Any] | None,
    exception_info: dict[str, Any] | None,
) -> dict[str, Any]:
    """``ExpectationValidationResult(...).to_json_dict()`` (no rendered content)."""
    return {
        "success": None if success is None else bool(success),
        "expectation_config": expectation_config,
        "result": to_json(result or {}),
        "meta": to_json(meta or {}),
        "exception_info": to_json(
            exception_info
            or {"raised_exception": False, "exception_traceback": None, "exception_message": None}
        ),
    }


def run_identifier(run_name: str, run_time: dt.datetime) -> dict[str, Any]:
    """``RunIdentifier(run_name, run_time).to_json_dict()``: GX shows the time in the machine's
    local time zone (a naive time is read as local time and stored as UTC, as GX does)."""
    if run_time.tzinfo is None:
        run_time = run_time.astimezone(dt.UTC)
    return {"run_name": run_name, "run_time": run_time.astimezone(None).isoformat()}


def suite_validation_result(
    *,
    success: bool,
    results: list[dict[str, Any]],
    suite_name: str,
    statistics: dict[str, Any],
    meta: dict[str, Any],
    suite_parameters: dict[str, Any] | None = None,
    id: str | None = None,
) -> dict[str, Any]:
    """``ExpectationSuiteValidationResult(...).to_json_dict()``, its results already in JSON
    form (:func:`validation_result`)."""
    return {
        "success": bool(success),
        "results": results,
        "suite_name": str(suite_name),
        "suite_parameters": to_json(suite_parameters or {}),
        "statistics": to_json(statistics),
        "meta": to_json(meta),
        "id": None if id is None else str(id),
    }
