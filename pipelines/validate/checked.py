"""Suites checked with GX once per file content and GX version, kept in ``state/checked_suites``.

Checking a suite needs GX (``ExpectationConfiguration(...).to_domain_obj()`` validates each
rule and types its arguments), and importing GX costs about 4 s per process: more than
evaluating a source's suite on a million rows. The result of the check depends only on the
suite file's bytes and on GX's version, so it is kept as data:
``state/checked_suites/<sha256 of the file>-<GX version>.json`` holds, per expectation, the
GX-normalised form the pipeline then uses (:class:`CheckedExpectation`: the configuration GX
reports in results, the typed arguments the Polars engine evaluates, the severity). A later
run with the same file and GX version loads that form without importing GX; a changed file or
a GX upgrade has another name, so it is checked again. The entries hold suite definitions only
(patterns, value sets, descriptions), no record data.

Only values that survive the trip through JSON exactly are kept (JSON scalars, lists, string
keyed objects, dates and datetimes, row conditions as :mod:`pipelines.validate.conditions`);
a suite with anything else is simply checked with GX on every run. A cache entry that cannot be
read or does not match the file is ignored, checked again and rewritten, so a damaged cache
never fails a run; neither does a cache folder that cannot be written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, fields
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.validate import conditions

if TYPE_CHECKING:
    from great_expectations.expectations.expectation import Expectation

logger = logging.getLogger(__name__)

FORMAT = 1
"""Version of the cache entry layout; an entry of another format is checked again."""

DEFAULTED_ARGUMENTS = ("mostly", "strict_min", "strict_max")
"""Arguments GX's model gives a default the engines read when the suite leaves them out."""

_TAG = "__golden_type__"


@dataclass(frozen=True)
class CheckedExpectation:
    """One expectation as GX normalised it: everything the validation stage reads of it."""

    type: str
    kwargs: dict[str, Any]
    """The arguments as GX's configuration reports them (parameters unresolved)."""
    args: dict[str, Any]
    """The arguments typed by GX's expectation model, for evaluation (a row condition in its
    plain form); only those without a ``$PARAMETER`` and known to the model."""
    defaults: dict[str, Any]
    """Model defaults of :data:`DEFAULTED_ARGUMENTS` the suite does not set."""
    meta: dict[str, Any]
    notes: Any
    description: str | None
    """The configuration's description (what GX's results show)."""
    reason: str | None
    """The expectation object's ``description`` (what quarantine rows show)."""
    severity: str
    """GX's ``FailureSeverity`` value."""
    id: str | None = None


def gx_version() -> str:
    """GX's installed version, read without importing GX."""
    try:
        return metadata.version("great_expectations")
    except metadata.PackageNotFoundError:
        return "absent"


def cache_file(cache_dir: Path, content: bytes) -> Path:
    """Where the check of a suite file with these bytes is kept for the installed GX."""
    digest = hashlib.sha256(content).hexdigest()
    return Path(cache_dir) / f"{digest}-{gx_version()}.json"


def from_gx(expectation: Expectation) -> CheckedExpectation:
    """The normalised form of a GX expectation object (GX is imported by the caller)."""
    configuration = expectation.configuration
    kwargs = dict(configuration.kwargs)
    args: dict[str, Any] = {}
    for name, raw in kwargs.items():
        if _is_parameter(raw) or not hasattr(expectation, name):
            continue
        args[name] = conditions.from_gx(getattr(expectation, name))
    defaults = {
        name: getattr(expectation, name)
        for name in DEFAULTED_ARGUMENTS
        if name not in kwargs and hasattr(expectation, name)
    }
    severity = configuration.severity
    return CheckedExpectation(
        type=configuration.type,
        kwargs=kwargs,
        args=args,
        defaults=defaults,
        meta=dict(configuration.meta or {}),
        notes=configuration.notes,
        description=configuration.description,
        reason=expectation.description,
        severity=getattr(severity, "value", severity),
        id=configuration.id,
    )


def to_gx(checked: CheckedExpectation) -> Expectation:
    """GX's expectation object for a checked expectation (imports GX): for Data Docs and for
    rules only GX's engine evaluates."""
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )
    from great_expectations.expectations.metadata_types import FailureSeverity

    return ExpectationConfiguration(
        type=checked.type,
        kwargs=_copy(checked.kwargs),
        meta=_copy(checked.meta),
        notes=_copy(checked.notes),
        description=checked.description,
        severity=FailureSeverity(checked.severity),
        id=checked.id,
    ).to_domain_obj()


def read(path: Path, suite: str, types: list[str]) -> list[CheckedExpectation] | None:
    """The kept check of ``suite`` (whose expectations have ``types``, in order); None when
    there is none or it is unusable (then logged, and the caller checks with GX again)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        logger.warning("ignoring the checked-suite cache entry %s: %s", path, exc)
        return None
    try:
        data = json.loads(text)
        if data.get("format") != FORMAT or data.get("suite") != suite:
            raise ValueError(f"format {data.get('format')!r} of suite {data.get('suite')!r}")
        checked = [_decode_checked(item) for item in data["expectations"]]
        if [c.type for c in checked] != types:
            raise ValueError("its expectations are not those of the suite file")
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        logger.warning(
            "ignoring the checked-suite cache entry %s (%s); checking the suite with GX again",
            path,
            exc,
        )
        return None
    return checked


def write(path: Path, suite: str, checked: list[CheckedExpectation]) -> bool:
    """Keep the check of ``suite`` at ``path`` (atomically); False, and nothing written, when
    a value would not come back from JSON exactly or the folder cannot be written."""
    from pipelines.warehouse import atomic_path

    try:
        payload = {
            "format": FORMAT,
            "suite": suite,
            "gx_version": gx_version(),
            "expectations": [_encode_checked(c) for c in checked],
        }
        text = json.dumps(payload, indent=1, allow_nan=False) + "\n"
        back = [_decode_checked(item) for item in json.loads(text)["expectations"]]
        if not all(_same(a, b) for a, b in zip(checked, back, strict=True)):
            raise _NotKept("a value changes on its way through JSON")
    except (_NotKept, ValueError, TypeError) as exc:
        logger.info(
            "suite %s is not kept in the checked-suite cache (%s); GX checks it on every run",
            suite,
            exc,
        )
        return False
    try:
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except OSError as exc:
        logger.warning("could not write the checked-suite cache entry %s: %s", path, exc)
        return False
    return True


class _NotKept(Exception):
    """A value the cache does not represent exactly."""


def _is_parameter(value: Any) -> bool:
    return isinstance(value, dict) and "$PARAMETER" in value


def _copy(value: Any) -> Any:
    """A deep copy of a checked value, so GX objects built from it never share lists."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _encode_checked(checked: CheckedExpectation) -> dict[str, Any]:
    return {f.name: _encode(getattr(checked, f.name)) for f in fields(checked)}


def _decode_checked(item: dict[str, Any]) -> CheckedExpectation:
    names = {f.name for f in fields(CheckedExpectation)}
    if not isinstance(item, dict) or set(item) != names:
        raise ValueError("an expectation entry without the expected fields")
    values = {name: _decode(item[name]) for name in names}
    for name in ("kwargs", "args", "defaults", "meta"):
        if not isinstance(values[name], dict):
            raise ValueError(f"{name} is not an object")
    if not isinstance(values["type"], str) or not isinstance(values["severity"], str):
        raise ValueError("type and severity must be strings")
    for name in ("description", "reason", "id"):
        if values[name] is not None and not isinstance(values[name], str):
            raise ValueError(f"{name} must be text or null")
    return CheckedExpectation(**values)


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        if type(value) not in (type(None), bool, int, float, str):
            raise _NotKept(f"a {type(value).__name__} value")
        return value
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if _TAG in value or not all(isinstance(k, str) for k in value):
            raise _NotKept("an object with non-text keys")
        return {k: _encode(v) for k, v in value.items()}
    if type(value) is dt.datetime:
        if value.tzinfo is not None and type(value.tzinfo) is not dt.timezone:
            raise _NotKept(f"a datetime in time zone {value.tzinfo!r}")
        return {_TAG: "datetime", "value": value.isoformat()}
    if type(value) is dt.date:
        return {_TAG: "date", "value": value.isoformat()}
    if isinstance(value, conditions.Comparison | conditions.Nullity | conditions.Group):
        return {_TAG: "row_condition", "value": conditions.to_json(value)}
    raise _NotKept(f"a {type(value).__name__} value")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(_TAG)
    if tag is None:
        return {k: _decode(v) for k, v in value.items()}
    if tag == "datetime":
        return dt.datetime.fromisoformat(value["value"])
    if tag == "date":
        return dt.date.fromisoformat(value["value"])
    if tag == "row_condition":
        return conditions.from_json(value["value"])
    raise ValueError(f"unknown value type {tag!r}")


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same types throughout (``1 == 1.0 == True`` is not enough)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, CheckedExpectation | conditions.Comparison | conditions.Nullity):
        return all(_same(getattr(a, f.name), getattr(b, f.name)) for f in fields(a))
    if isinstance(a, conditions.Group):
        return a.kind == b.kind and _same(a.conditions, b.conditions)
    if isinstance(a, dt.datetime):
        return a == b and a.isoformat() == b.isoformat() and a.tzinfo == b.tzinfo
    return bool(a == b)
