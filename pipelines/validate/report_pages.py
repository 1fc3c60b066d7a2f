"""The stewards' Data Docs pages, rendered here from the stored validation results.

GX's own site builder wrote source values into its pages unescaped (a ``<script>`` email that
failed a rule ran in the steward's browser), described each rule by its problem beside a green
tick, read "Failed" for a suite that only warned, showed "NaN%" and percentages of non-missing
values that disagreed with the quality gate, and carried a newsletter footer. These pages are
built from the same GX result documents (``reports/gx_validations/``) with one Jinja2
environment that escapes every value (``autoescape`` is always on, no value is marked safe),
and every page forbids scripts outright (``Content-Security-Policy: script-src 'none'``), so
even a value that slipped through could not run. The pages need no JavaScript and nothing
from the network.

Pages: ``index.html`` (every stored validation, newest run first), one page per validation at
the path GX used (``validations/<suite>/<run>/<run time>/<asset>.html``, so old links keep
working) and one page per suite (``expectations/<suite>.html``).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pipelines.warehouse import atomic_path

if TYPE_CHECKING:
    from jinja2 import Environment

    from pipelines.validate.suites import Suite

logger = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
PAGE_MARK = '<meta name="generator" content="golden-records data docs 2">'
"""Written into every page rendered here: a page without it (GX's, from an older release) is
rendered again by the next build."""
CSP = (
    "default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)
REJECTED_AT_INGEST = "rejected_at_ingest"
"""The expectation name of quarantine rows for rows ingest could not land."""
KEYS_SHOWN = 20
"""Record keys of failing rows a validation keeps per expectation (the quarantine table has
every rejected row)."""
REJECTS_SHOWN = 200
"""Ingest rejects a validation page lists (the quarantine table has all of them)."""

_COLUMN_KWARGS = ("column", "column_A", "column_B")
_COLUMN_LIST_KWARGS = ("column_list", "column_set")


def canonical_column(name: str) -> str:
    """A source suite's ``raw_<field>`` column under the canonical field name stewards know."""
    return name[4:] if name.startswith("raw_") else name


def number(value: Any) -> str:
    """A value for a page: never ``NaN``, thousands separated."""
    if value is None:
        return "no value"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "no value"
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)


def percent(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "no rows"


@dataclass
class ExpectationView:
    """One expectation as a steward reads it."""

    index: int
    type: str
    severity: str
    columns: list[str]
    rule: str
    """What should hold (the suite's ``description``)."""
    problem: str | None
    """What it means when it fails (``meta.failure_reason``), shown for failures."""
    status: str
    """``passed``, ``warning`` (a warning rule failed) or ``failed`` (a critical one)."""
    outcome: str
    values: list[tuple[str, str]] = field(default_factory=list)
    """Failing values with their counts, as text."""
    record_keys: list[str] = field(default_factory=list)
    more_keys: int = 0


@dataclass
class ValidationView:
    """One suite's validation of one batch."""

    suite: str
    asset: str
    run_name: str
    run_time: str
    status: str
    """``Passed``, ``Passed with warnings`` or ``Failed``."""
    counts: dict[str, int]
    expectations: list[ExpectationView]
    rejects: list[dict[str, Any]]
    rejects_total: int
    path: str
    """Page path inside the site (``validations/...html``)."""

    @property
    def failed_critical(self) -> int:
        return sum(e.status == "failed" for e in self.expectations)

    @property
    def failed_warning(self) -> int:
        return sum(e.status == "warning" for e in self.expectations)


def _columns(kwargs: Mapping[str, Any]) -> list[str]:
    found = [kwargs[k] for k in _COLUMN_KWARGS if isinstance(kwargs.get(k), str)]
    for key in _COLUMN_LIST_KWARGS:
        found += [c for c in kwargs.get(key) or [] if isinstance(c, str)]
    return [canonical_column(c) for c in dict.fromkeys(found)]


def _outcome(result: Mapping[str, Any], rows_in: int | None, type_: str) -> str:
    """The result in words, with counts over the batch's rows (as the quality gate counts)."""
    if "element_count" in result:
        failing = int(result.get("unexpected_count") or 0)
        total = rows_in if rows_in is not None else int(result.get("element_count") or 0)
        missing = result.get("missing_count")
        if failing:
            text = f"{failing:,} of {total:,} rows fail ({percent(failing, total)})"
        else:
            text = f"none of the {total:,} rows fails"
        if missing:
            text += f"; {int(missing):,} empty, which this rule does not judge"
        return text
    observed = result.get("observed_value")
    if observed is None:
        return "no value observed"
    if "proportion" in type_ and isinstance(observed, int | float) and math.isfinite(observed):
        return f"{observed:.1%} of rows have a value"
    if type_ == "expect_table_row_count_to_be_between":
        return f"{number(observed)} rows"
    return f"observed {number(observed)}"


def _value_text(value: Any) -> str:
    if value is None:
        return "(empty)"
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str, ensure_ascii=False)


def expectation_view(index: int, item: Mapping[str, Any], rows_in: int | None) -> ExpectationView:
    config = item.get("expectation_config") or {}
    meta = config.get("meta") or {}
    kwargs = config.get("kwargs") or {}
    type_ = str(config.get("type") or "")
    severity = str(meta.get("severity") or config.get("severity") or "critical")
    success = bool(item.get("success"))
    result = item.get("result") or {}
    exception = (item.get("exception_info") or {}).get("exception_message")
    if exception:
        outcome = f"could not be evaluated: {exception}"
    else:
        outcome = _outcome(result, rows_in, type_)
    counts = result.get("partial_unexpected_counts") or []
    values = [
        (_value_text(c.get("value")), number(c.get("count")))
        for c in counts
        if isinstance(c, Mapping) and "value" in c
    ]
    if not values:
        values = [(_value_text(v), "") for v in result.get("partial_unexpected_list") or []]
    keys = [str(k) for k in (item.get("meta") or {}).get("record_keys") or []]
    failing = int(result.get("unexpected_count") or 0)
    rule = config.get("description") or _generated_rule(type_, kwargs)
    problem = meta.get("failure_reason")
    return ExpectationView(
        index=index,
        type=type_,
        severity=severity,
        columns=_columns(kwargs),
        rule=str(rule),
        problem=None if success or not problem else str(problem),
        status="passed" if success else ("failed" if severity == "critical" else "warning"),
        outcome=outcome,
        values=[] if success else values,
        record_keys=[] if success else keys,
        more_keys=max(failing - len(keys), 0) if keys and not success else 0,
    )


def _generated_rule(type_: str, kwargs: Mapping[str, Any]) -> str:
    from pipelines.validate.suites import describe

    return f"Should not happen: {describe(type_, kwargs)}"


def _status(expectations: list[ExpectationView]) -> str:
    if any(e.status == "failed" for e in expectations):
        return "Failed"
    if any(e.status == "warning" for e in expectations):
        return "Passed with warnings"
    return "Passed"


def validation_view(document: Mapping[str, Any], path: str) -> ValidationView:
    meta = document.get("meta") or {}
    rows = ((meta.get("batch_spec") or {}).get("rows")) or {}
    counts = {k: int(v) for k, v in rows.items() if isinstance(v, int)}
    rows_in = counts.get("rows_in")
    expectations = [
        expectation_view(i, item, rows_in) for i, item in enumerate(document.get("results") or [])
    ]
    run = meta.get("run_id") or {}
    asset = (meta.get("active_batch_definition") or {}).get("data_asset_name") or ""
    rejects = meta.get("ingest_rejects") or {}
    shown = [r for r in rejects.get("rows") or [] if isinstance(r, Mapping)]
    if rejects.get("total"):
        counts["rejected_at_ingest"] = int(rejects["total"])
    return ValidationView(
        suite=str(document.get("suite_name") or ""),
        asset=str(asset),
        run_name=str(run.get("run_name") or ""),
        run_time=str(run.get("run_time") or ""),
        status=_status(expectations),
        counts=counts,
        expectations=expectations,
        rejects=[dict(r) for r in shown],
        rejects_total=int(rejects.get("total") or len(shown)),
        path=path,
    )


@cache
def environment() -> Environment:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined
    from markupsafe import Markup

    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, whatever its name: no value reaches a page raw
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # The policy is a constant of this module holding no double quote: safe as it stands.
    env.globals.update(csp=Markup(CSP), number=number, percent=percent)
    env.filters["url"] = _url
    return env


def _url(path: str) -> str:
    """A site-relative link, each segment percent-encoded (a name is never markup or a URL)."""
    return "/".join(quote(part, safe="") for part in path.split("/"))


def _write(target: Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _to_root(path: str) -> str:
    return "../" * path.count("/")


def render_validation(view: ValidationView) -> str:
    return (
        environment()
        .get_template("validation.html.j2")
        .render(v=view, root=_to_root(view.path), mark=PAGE_MARK)
    )


def render_index(views: list[ValidationView], suites: list[str]) -> str:
    return (
        environment()
        .get_template("index.html.j2")
        .render(validations=views, suites=suites, root="", mark=PAGE_MARK)
    )


def render_suite(suite: Suite) -> str:
    rules = [
        {
            "index": rule.index,
            "type": rule.type,
            "severity": rule.severity,
            "columns": [canonical_column(c) for c in rule.columns],
            "rule": rule.checked.description or _generated_rule(rule.type, rule.kwargs),
            "problem": rule.reason,
        }
        for rule in suite
    ]
    return (
        environment()
        .get_template("suite.html.j2")
        .render(name=suite.name, rules=rules, root="../", mark=PAGE_MARK)
    )


def page_path(store_file: Path, store: Path) -> str:
    """The page of a stored result (``<suite>/<run>/<time>/<asset>.json``)."""
    return "validations/" + store_file.relative_to(store).with_suffix(".html").as_posix()


def stored_results(store: Path) -> Iterable[Path]:
    return sorted(store.rglob("*.json")) if store.is_dir() else []


def build_site(
    site: Path, store: Path, suites: list[Suite], fresh: Iterable[Path] = (), *, every: bool = False
) -> Path:
    """Render the pages of ``fresh`` stored results (and of every stored result whose page is
    missing or was not rendered here, or all with ``every``), the suites' pages and the index.
    Returns the index."""
    fresh = {Path(p) for p in fresh}
    views: list[ValidationView] = []
    written = 0
    for stored in stored_results(store):
        try:
            document = json.loads(stored.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            logger.warning("skipped unreadable validation result %s: %s", stored, exc)
            continue
        path = page_path(stored, store)
        view = validation_view(document, path)
        views.append(view)
        target = site / path
        if every or stored in fresh or not _ours(target):
            _write(target, render_validation(view))
            written += 1
    for suite in suites:
        _write(site / "expectations" / f"{suite.name}.html", render_suite(suite))
    names = {s.name for s in suites} | {v.suite for v in views}
    suite_names = sorted(n for n in names if (site / "expectations" / f"{n}.html").is_file())
    views.sort(key=lambda v: (v.run_time, v.run_name, v.suite), reverse=True)
    index = site / "index.html"
    _write(index, render_index(views, suite_names))
    logger.info("Data Docs: %d validation page(s) rendered, %d listed", written, len(views))
    return index


def _ours(page: Path) -> bool:
    try:
        with page.open(encoding="utf-8", errors="replace") as handle:
            return PAGE_MARK in handle.read(4096)
    except OSError:
        return False
