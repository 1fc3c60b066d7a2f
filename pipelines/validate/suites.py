"""Expectation suites as data: GX's own suite JSON, loaded with GX's own classes.

A suite file is exactly what GX Core 1.x writes (``{"name", "expectations": [{"type", "kwargs",
"meta", "description"}], ...}``), so it can be reviewed in a pull request and opened by any GX
tool. Its ``description`` states the rule as it should hold ("Every record has its id in the
source system") and ``meta.failure_reason`` what a failure means for a steward (quarantine rows
and failing rules in Data Docs show it). The pipeline adds one contract on top: every
expectation carries ``meta.severity``, either
``critical`` (the failing row cannot be processed safely and is quarantined) or ``warning`` (the
row is counted and passes). GX's own ``severity`` field is set from it, so GX's renderers and
``get_max_severity_failure`` agree with the pipeline.

Loading is strict on purpose: GX's ``ExpectationSuite`` constructor logs and *skips* an
expectation it cannot build, which would silently drop a rule; here every problem is a
:class:`~pipelines.errors.ConfigError` naming the file and the expectation's position.

Checking with GX is needed once per file content and GX version: the validation stages pass
the warehouse's ``state/checked_suites`` and load a suite already checked from there, without
importing GX (:mod:`pipelines.validate.checked`). Rules then carry GX's normalised form of each
expectation, and GX's objects are built only where GX itself runs (its engine, Data Docs).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pipelines.errors import ConfigError
from pipelines.schema import LINEAGE_COLUMNS, MAPPABLE_FIELDS, STAGED_COLUMNS
from pipelines.validate import checked
from pipelines.validate.checked import CheckedExpectation
from pipelines.validate.checked import to_gx as checked_to_gx

if TYPE_CHECKING:
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.expectations.expectation import Expectation

logger = logging.getLogger(__name__)

Severity = Literal["critical", "warning"]
SEVERITIES: tuple[Severity, ...] = ("critical", "warning")

SOURCE_SUITE_COLUMNS: frozenset[str] = frozenset(
    (*LINEAGE_COLUMNS, *(f"raw_{f}" for f in MAPPABLE_FIELDS), "trust_rank")
)
"""Columns a source suite may name: the frame ``mapped_frame`` produces."""
STAGED_SUITE_COLUMNS: frozenset[str] = frozenset(STAGED_COLUMNS)
"""Columns the canonical suite may name: ``schema.staged_schema()``."""

_COLUMN_KWARGS = ("column", "column_A", "column_B")
_COLUMN_LIST_KWARGS = ("column_list", "column_set")


@dataclass(frozen=True)
class Rule:
    """One expectation of a suite, with the severity the pipeline acts on.

    Holds GX's normalised form of the expectation (:class:`CheckedExpectation`), which is all
    the Polars engine, quarantine and the results read; GX's own object is built only when
    asked for (:attr:`expectation`: GX's engine and Data Docs)."""

    suite: str
    index: int
    """Position in the suite file (0-based): the expectation's identity in results."""
    checked: CheckedExpectation
    severity: Severity
    gx_object: Expectation | None = field(default=None, compare=False, repr=False)
    """GX's object when the suite was just checked with GX (else built on first use)."""

    @cached_property
    def expectation(self) -> Expectation:
        """GX's expectation object (imports GX)."""
        return self.gx_object if self.gx_object is not None else checked_to_gx(self.checked)

    @property
    def type(self) -> str:
        return self.checked.type

    @property
    def kwargs(self) -> dict[str, Any]:
        """The expectation's arguments as written in the suite (parameters unresolved)."""
        return dict(self.checked.kwargs)

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns the expectation is about (its domain), in argument order."""
        kwargs = self.kwargs
        found = [kwargs[k] for k in _COLUMN_KWARGS if isinstance(kwargs.get(k), str)]
        for key in _COLUMN_LIST_KWARGS:
            found += [c for c in kwargs.get(key) or [] if isinstance(c, str)]
        return tuple(dict.fromkeys(found))

    @property
    def condition_columns(self) -> tuple[str, ...]:
        """Columns named by the expectation's ``row_condition``."""
        return tuple(dict.fromkeys(_condition_columns(self.kwargs.get("row_condition"))))

    @property
    def column_label(self) -> str | None:
        """The ``column`` value of quarantine rows and dq entries (comma-joined if several)."""
        return ", ".join(self.columns) or None

    @property
    def label(self) -> str:
        """How messages refer to the rule: ``expect_x on col (#3)``."""
        on = f" on {self.column_label}" if self.columns else ""
        return f"{self.type}{on} (#{self.index + 1})"

    @property
    def reason(self) -> str:
        """What a failure means, for a steward: ``meta.failure_reason``, else (suites written
        before descriptions stated the rule) the ``description``, else one made from the rule.
        The ``description`` states the rule as it should hold: Data Docs show it beside a
        green tick as well as beside a failure."""
        failure = self.checked.meta.get("failure_reason")
        if isinstance(failure, str) and failure.strip():
            return failure.strip()
        description = self.checked.reason
        return description.strip() if description else describe(self.type, self.kwargs)


@dataclass(frozen=True)
class Suite:
    """A loaded suite: the rules in file order (and GX's suite object on demand)."""

    name: str
    path: Path
    rules: tuple[Rule, ...]
    suite_fields: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """The file's suite-level ``meta`` and ``notes`` (for GX's suite object)."""
    gx_object: ExpectationSuite | None = field(default=None, compare=False, repr=False)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    @cached_property
    def gx_suite(self) -> ExpectationSuite:
        """GX's suite object (imports GX): what Data Docs render a suite's page from."""
        if self.gx_object is not None:
            return self.gx_object
        from great_expectations.core.expectation_suite import ExpectationSuite

        expectations = [rule.expectation for rule in self.rules]
        gx_suite = ExpectationSuite(name=self.name, expectations=expectations, **self.suite_fields)
        if len(gx_suite.expectations) != len(expectations):
            raise ConfigError(f"GX dropped expectations of {self.path} while building the suite")
        return gx_suite

    def renamed(self, name: str) -> Suite:
        """The same rules under another name: a shared default suite used for one source, so
        that its results, quarantine and Data Docs page are that source's own."""
        rules = tuple(replace(rule, suite=name) for rule in self.rules)
        return Suite(name=name, path=self.path, rules=rules, suite_fields=self.suite_fields)

    @property
    def columns(self) -> set[str]:
        """Every column a rule or row condition of the suite names."""
        return {c for r in self.rules for c in (*r.columns, *r.condition_columns)}


def suite_path(expectations_dir: Path, name: str) -> Path:
    return Path(expectations_dir) / f"{name}.json"


def suite_files(expectations_dir: Path) -> list[Path]:
    """Every suite file of a folder, sorted by name."""
    return sorted(Path(expectations_dir).glob("*.json"))


def load_suite(path: Path, cache_dir: Path | None = None) -> Suite:
    """Read a GX suite file; every problem names the file and the expectation.

    With ``cache_dir`` (the warehouse's ``state/checked_suites``) a file already checked with
    the installed GX version is loaded from its kept check without importing GX
    (:mod:`pipelines.validate.checked`); otherwise GX checks it and the check is kept."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"expectation suite {path} does not exist (set validation.expectations_dir, or add "
            f"the suite file; suites are named <suite>.json)"
        )
    try:
        content = path.read_bytes()
        data = json.loads(content.decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"expectation suite {path} is not readable JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("expectations"), list):
        raise ConfigError(f"expectation suite {path} must be a JSON object with 'expectations'")
    name = data.get("name")
    if name != path.stem:
        raise ConfigError(
            f"expectation suite {path} is named {name!r}; its 'name' must equal the file name "
            f"({path.stem!r}) so results, quarantine and Data Docs agree on it"
        )
    suite_fields = {k: data[k] for k in ("meta", "notes") if data.get(k) is not None}

    cache = checked.cache_file(cache_dir, content) if cache_dir is not None else None
    items = data["expectations"]
    if cache is not None and all(_plain(item) for item in items):
        kept = checked.read(cache, name, [item["type"] for item in items])
        if kept is not None:
            rules = tuple(
                Rule(suite=name, index=i, checked=c, severity=_severity(item, _where(i, path)))
                for i, (item, c) in enumerate(zip(items, kept, strict=True))
            )
            return Suite(name=name, path=path, rules=rules, suite_fields=suite_fields)

    suite = _check_with_gx(path, name, items, suite_fields)
    if cache is not None:
        checked.write(cache, name, [rule.checked for rule in suite.rules])
    return suite


def _check_with_gx(path: Path, name: str, items: list[Any], suite_fields: dict[str, Any]) -> Suite:
    """Build every expectation with GX's classes, which validate it and type its arguments.

    GX's ``ExpectationSuite`` constructor logs and skips an expectation it cannot add; here
    that is an error too."""
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    expectations: list[Expectation] = []
    severities: list[Severity] = []
    for index, item in enumerate(items):
        where = _where(index, path)
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise ConfigError(f"{where} must be an object with a 'type'")
        severity = _severity(item, where)
        fields = {k: v for k, v in item.items() if k != "severity"}
        try:
            expectation = ExpectationConfiguration(**fields, severity=severity).to_domain_obj()
        except Exception as exc:  # GX raises many types for a bad rule
            raise ConfigError(
                f"{where} ({item['type']}) is not a valid GX expectation: {exc}"
            ) from exc
        expectations.append(expectation)
        severities.append(severity)

    gx_suite = ExpectationSuite(name=name, expectations=expectations, **suite_fields)
    if len(gx_suite.expectations) != len(expectations):  # GX skips what it cannot add
        raise ConfigError(f"GX dropped expectations of {path} while building the suite")
    rules = tuple(
        Rule(suite=name, index=i, checked=checked.from_gx(e), severity=s, gx_object=e)
        for i, (e, s) in enumerate(zip(gx_suite.expectations, severities, strict=True))
    )
    return Suite(name=name, path=path, rules=rules, suite_fields=suite_fields, gx_object=gx_suite)


def _where(index: int, path: Path) -> str:
    return f"expectation #{index + 1} of {path}"


def _plain(item: Any) -> bool:
    """Whether an expectation passes the checks that need no GX (else GX's path reports it,
    in the order it always has)."""
    if not isinstance(item, dict) or not isinstance(item.get("type"), str):
        return False
    meta = item.get("meta") or {}
    severity = meta.get("severity") if isinstance(meta, dict) else None
    native = item.get("severity")
    return severity in SEVERITIES and (native is None or native == severity)


def check_columns(suite: Suite, allowed: Collection[str], contract: str) -> None:
    """Fail when a suite names a column outside the frame it validates."""
    unknown = sorted(suite.columns - set(allowed))
    if unknown:
        raise ConfigError(
            f"expectation suite {suite.path} names column(s) {unknown} that are not in the "
            f"{contract} contract; valid columns are {sorted(allowed)}"
        )


def _severity(item: Mapping[str, Any], where: str) -> Severity:
    meta = item.get("meta") or {}
    severity = meta.get("severity") if isinstance(meta, dict) else None
    if severity not in SEVERITIES:
        raise ConfigError(
            f"{where} ({item['type']}) needs meta.severity set to 'critical' (failing rows are "
            f"quarantined) or 'warning' (failing rows are counted and pass); got {severity!r}"
        )
    native = item.get("severity")
    if native is not None and native != severity:
        raise ConfigError(
            f"{where} ({item['type']}) has severity {native!r} but meta.severity {severity!r}; "
            "keep only meta.severity"
        )
    return severity


def _condition_columns(condition: Any) -> Iterator[str]:
    if isinstance(condition, dict):
        column = condition.get("column")
        if isinstance(column, dict) and isinstance(column.get("name"), str):
            yield column["name"]
        for inner in condition.get("conditions") or []:
            yield from _condition_columns(inner)


_DESCRIPTIONS: dict[str, str] = {
    "expect_column_values_to_not_be_null": "{column} is empty",
    "expect_column_values_to_be_null": "{column} must be empty",
    "expect_column_values_to_be_unique": "another record has the same {column}",
    "expect_compound_columns_to_be_unique": "the combination of {column_list} is not unique",
    "expect_column_values_to_match_regex": "{column} does not match the pattern {regex}",
    "expect_column_values_to_not_match_regex": "{column} matches the forbidden pattern {regex}",
    "expect_column_values_to_be_in_set": "{column} is not one of the allowed values",
    "expect_column_values_to_not_be_in_set": "{column} is one of the forbidden values",
    "expect_column_value_lengths_to_be_between": (
        "the length of {column} is outside {min_value}..{max_value}"
    ),
    "expect_column_values_to_be_between": "{column} is outside {min_value}..{max_value}",
    "expect_column_values_to_match_strftime_format": (
        "{column} is not a date in the format {strftime_format}"
    ),
    "expect_column_values_to_be_dateutil_parseable": "{column} is not a readable date",
}


def describe(expectation_type: str, kwargs: Mapping[str, Any]) -> str:
    """A plain sentence for a failed rule, used when the suite gives no ``description``."""
    template = _DESCRIPTIONS.get(expectation_type)
    if template is None:
        return f"failed {expectation_type} with {dict(kwargs)}"

    class _Blank(dict[str, Any]):
        def __missing__(self, key: str) -> str:
            return "…"

    values = _Blank({k: _show(v) for k, v in kwargs.items()})
    return template.format_map(values)


def _show(value: Any) -> str:
    if isinstance(value, dict) and "$PARAMETER" in value:
        return f"<{value['$PARAMETER']}>"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return "…" if value is None else str(value)
