"""Expectation suites as data: GX's own suite JSON, loaded with GX's own classes.

A suite file is exactly what GX Core 1.x writes (``{"name", "expectations": [{"type", "kwargs",
"meta", "description"}], ...}``), so it can be reviewed in a pull request and opened by any GX
tool. The pipeline adds one contract on top: every expectation carries ``meta.severity``, either
``critical`` (the failing row cannot be processed safely and is quarantined) or ``warning`` (the
row is counted and passes). GX's own ``severity`` field is set from it, so GX's renderers and
``get_max_severity_failure`` agree with the pipeline.

Loading is strict on purpose: GX's ``ExpectationSuite`` constructor logs and *skips* an
expectation it cannot build, which would silently drop a rule; here every problem is a
:class:`~pipelines.errors.ConfigError` naming the file and the expectation's position.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pipelines.errors import ConfigError
from pipelines.schema import LINEAGE_COLUMNS, MAPPABLE_FIELDS, STAGED_COLUMNS

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
    """One expectation of a suite, with the severity the pipeline acts on."""

    suite: str
    index: int
    """Position in the suite file (0-based): the expectation's identity in results."""
    expectation: Expectation
    severity: Severity

    @property
    def type(self) -> str:
        return self.expectation.expectation_type

    @property
    def kwargs(self) -> dict[str, Any]:
        """The expectation's arguments as written in the suite (parameters unresolved)."""
        return dict(self.expectation.configuration.kwargs)

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
        """A sentence for a steward: the suite's ``description``, else one made from the rule."""
        description = self.expectation.description
        return description.strip() if description else describe(self.type, self.kwargs)


@dataclass(frozen=True)
class Suite:
    """A loaded suite: GX's object plus the rules in file order."""

    name: str
    path: Path
    gx_suite: ExpectationSuite
    rules: tuple[Rule, ...]

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    @property
    def columns(self) -> set[str]:
        """Every column a rule or row condition of the suite names."""
        return {c for r in self.rules for c in (*r.columns, *r.condition_columns)}


def suite_path(expectations_dir: Path, name: str) -> Path:
    return Path(expectations_dir) / f"{name}.json"


def suite_files(expectations_dir: Path) -> list[Path]:
    """Every suite file of a folder, sorted by name."""
    return sorted(Path(expectations_dir).glob("*.json"))


def load_suite(path: Path) -> Suite:
    """Read a GX suite file; every problem names the file and the expectation."""
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"expectation suite {path} does not exist (set validation.expectations_dir, or add "
            f"the suite file; suites are named <suite>.json)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
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

    expectations: list[Expectation] = []
    severities: list[Severity] = []
    for index, item in enumerate(data["expectations"]):
        where = f"expectation #{index + 1} of {path}"
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

    suite_fields = {k: data[k] for k in ("meta", "notes") if data.get(k) is not None}
    gx_suite = ExpectationSuite(name=name, expectations=expectations, **suite_fields)
    if len(gx_suite.expectations) != len(expectations):  # GX skips what it cannot add
        raise ConfigError(f"GX dropped expectations of {path} while building the suite")
    rules = tuple(
        Rule(suite=name, index=i, expectation=e, severity=s)
        for i, (e, s) in enumerate(zip(gx_suite.expectations, severities, strict=True))
    )
    return Suite(name=name, path=path, gx_suite=gx_suite, rules=rules)


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
