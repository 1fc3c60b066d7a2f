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

The words are the message catalogue's (:mod:`pipelines.i18n`), in the config's ``language``.
A rule's sentence is the suite's own where it has one in that language (``description``, or
``meta.description_zh_CN``; likewise ``failure_reason`` / ``meta.failure_reason_zh_CN``), else
one made from the expectation type in that language, else the suite's English text.
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

from pipelines.i18n import CATALOGUE, DEFAULT_LANGUAGE, HTML_LANG, Language, Translator
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


_EN = Translator(DEFAULT_LANGUAGE)
_EN_KEYS = CATALOGUE[DEFAULT_LANGUAGE]


def number(value: Any, t: Translator = _EN) -> str:
    """A value for a page: never ``NaN``, thousands separated."""
    if value is None:
        return t("docs.no_value")
    if isinstance(value, bool):
        return t("word.yes") if value else t("word.no")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return t("docs.no_value")
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)


def percent(part: int, whole: int, t: Translator = _EN) -> str:
    return f"{part / whole:.1%}" if whole else t("docs.no_rows")


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
    """``passed``, ``warning`` (passed with warnings) or ``failed``: a class for the page and
    a ``docs.status.*`` message id's last part."""
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


def _outcome(
    result: Mapping[str, Any], rows_in: int | None, type_: str, t: Translator = _EN
) -> str:
    """The result in words, with counts over the batch's rows (as the quality gate counts)."""
    if "element_count" in result:
        failing = int(result.get("unexpected_count") or 0)
        total = rows_in if rows_in is not None else int(result.get("element_count") or 0)
        missing = result.get("missing_count")
        if failing:
            text = t(
                "docs.outcome.fail",
                failing=f"{failing:,}",
                total=f"{total:,}",
                percent=percent(failing, total, t),
            )
        else:
            text = t("docs.outcome.none_fail", total=f"{total:,}")
        if missing:
            text += t("docs.outcome.missing", count=f"{int(missing):,}")
        return text
    observed = result.get("observed_value")
    if observed is None:
        return t("docs.outcome.nothing_observed")
    if "proportion" in type_ and isinstance(observed, int | float) and math.isfinite(observed):
        return t("docs.outcome.proportion", percent=f"{observed:.1%}")
    if type_ == "expect_table_row_count_to_be_between":
        return t("docs.outcome.rows", count=number(observed, t))
    return t("docs.outcome.observed", value=number(observed, t))


def _value_text(value: Any, t: Translator = _EN) -> str:
    if value is None:
        return t("docs.empty_value")
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str, ensure_ascii=False)


def expectation_view(
    index: int, item: Mapping[str, Any], rows_in: int | None, t: Translator = _EN
) -> ExpectationView:
    config = item.get("expectation_config") or {}
    meta = config.get("meta") or {}
    kwargs = config.get("kwargs") or {}
    type_ = str(config.get("type") or "")
    severity = str(meta.get("severity") or config.get("severity") or "critical")
    success = bool(item.get("success"))
    result = item.get("result") or {}
    exception = (item.get("exception_info") or {}).get("exception_message")
    if exception:
        outcome = t("docs.outcome.error", error=exception)
    else:
        outcome = _outcome(result, rows_in, type_, t)
    counts = result.get("partial_unexpected_counts") or []
    values = [
        (_value_text(c.get("value"), t), number(c.get("count"), t))
        for c in counts
        if isinstance(c, Mapping) and "value" in c
    ]
    if not values:
        values = [(_value_text(v, t), "") for v in result.get("partial_unexpected_list") or []]
    keys = [str(k) for k in (item.get("meta") or {}).get("record_keys") or []]
    failing = int(result.get("unexpected_count") or 0)
    rule = rule_text(type_, kwargs, config.get("description"), meta, t)
    problem = problem_text(type_, kwargs, meta.get("failure_reason"), meta, t)
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


class _Blank(dict[str, Any]):
    """Keyword values for a sentence: a parameter the rule does not give reads ``…``."""

    def __missing__(self, key: str) -> str:
        return "…"


def _sentence(t: Translator, kind: str, type_: str, kwargs: Mapping[str, Any]) -> str | None:
    """The catalogue's ``docs.<kind>.<expectation type>`` sentence with the rule's parameters
    (columns under their canonical names), or None when it has none for the type."""
    from pipelines.validate.suites import _show

    key = f"docs.{kind}.{type_}"
    if key not in _EN_KEYS:
        return None
    template = t(key)
    condition = kwargs.get("row_condition")
    where = ""
    if condition:
        # Only the plain "column == value" condition is put in words; any other would be
        # left out of the sentence, which would then claim more than the rule checks.
        if not (
            isinstance(condition, Mapping)
            and condition.get("type") == "comparison"
            and condition.get("operator") == "=="
            and isinstance(condition.get("column"), Mapping)
            and "parameter" in condition
        ):
            return None
        name = canonical_column(str(condition["column"].get("name")))
        where = t("docs.only_where", column=name, value=_show(condition["parameter"]))
    values = _Blank({k: _show(v) for k, v in kwargs.items()})
    for name in ("column", "column_A", "column_B"):
        if isinstance(kwargs.get(name), str):
            values[name] = canonical_column(kwargs[name])
    sentence = template.format_map(values)
    return sentence[:-1] + where + sentence[-1] if where and sentence[-1] in ".。" else sentence


def _own_text(meta: Mapping[str, Any], name: str, t: Translator) -> str | None:
    text = meta.get(f"{name}_{t.language}")
    return str(text) if text else None


def rule_text(
    type_: str,
    kwargs: Mapping[str, Any],
    authored: str | None,
    meta: Mapping[str, Any],
    t: Translator = _EN,
) -> str:
    """What should hold, in the page's language: the suite's own sentence in it, else one made
    from the type, else the suite's English one (English pages keep the suite's wording)."""
    if t.language == DEFAULT_LANGUAGE:
        return str(authored or _generated_rule(type_, kwargs))
    return (
        _own_text(meta, "description", t)
        or _sentence(t, "rule", type_, kwargs)
        or str(authored or _generated_rule(type_, kwargs))
    )


def problem_text(
    type_: str,
    kwargs: Mapping[str, Any],
    authored: str | None,
    meta: Mapping[str, Any],
    t: Translator = _EN,
) -> str | None:
    """What a failure means, in the page's language, chosen like :func:`rule_text`; None
    when the suite states none (an English page then shows only the rule)."""
    if not authored and not _own_text(meta, "failure_reason", t):
        return None
    if t.language == DEFAULT_LANGUAGE:
        return str(authored)
    return (
        _own_text(meta, "failure_reason", t)
        or _sentence(t, "problem", type_, kwargs)
        or (str(authored) if authored else None)
    )


def _status(expectations: list[ExpectationView]) -> str:
    if any(e.status == "failed" for e in expectations):
        return "failed"
    if any(e.status == "warning" for e in expectations):
        return "warning"
    return "passed"


def validation_view(document: Mapping[str, Any], path: str, t: Translator = _EN) -> ValidationView:
    meta = document.get("meta") or {}
    rows = ((meta.get("batch_spec") or {}).get("rows")) or {}
    counts = {k: int(v) for k, v in rows.items() if isinstance(v, int)}
    rows_in = counts.get("rows_in")
    expectations = [
        expectation_view(i, item, rows_in, t)
        for i, item in enumerate(document.get("results") or [])
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
    env.globals.update(csp=Markup(CSP))
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


def _words(t: Translator) -> dict[str, Any]:
    """What every template gets to say things in the page's language."""
    return {
        "t": t,
        "number": lambda value: number(value, t),
        "percent": lambda part, whole: percent(part, whole, t),
        "mark": PAGE_MARK,
    }


def render_validation(view: ValidationView, t: Translator = _EN) -> str:
    return (
        environment()
        .get_template("validation.html.j2")
        .render(v=view, root=_to_root(view.path), **_words(t))
    )


def render_index(views: list[ValidationView], suites: list[str], t: Translator = _EN) -> str:
    return (
        environment()
        .get_template("index.html.j2")
        .render(validations=views, suites=suites, root="", **_words(t))
    )


def render_suite(suite: Suite, t: Translator = _EN) -> str:
    rules = [
        {
            "index": rule.index,
            "type": rule.type,
            "severity": rule.severity,
            "columns": [canonical_column(c) for c in rule.columns],
            "rule": rule_text(
                rule.type, rule.kwargs, rule.checked.description, rule.checked.meta, t
            ),
            "problem": problem_text(rule.type, rule.kwargs, rule.reason, rule.checked.meta, t),
        }
        for rule in suite
    ]
    return (
        environment()
        .get_template("suite.html.j2")
        .render(name=suite.name, rules=rules, root="../", **_words(t))
    )


def page_path(store_file: Path, store: Path) -> str:
    """The page of a stored result (``<suite>/<run>/<time>/<asset>.json``)."""
    return "validations/" + store_file.relative_to(store).with_suffix(".html").as_posix()


def stored_results(store: Path) -> Iterable[Path]:
    return sorted(store.rglob("*.json")) if store.is_dir() else []


def build_site(
    site: Path,
    store: Path,
    suites: list[Suite],
    fresh: Iterable[Path] = (),
    *,
    every: bool = False,
    language: Language | None = None,
) -> Path:
    """Render the pages of ``fresh`` stored results (and of every stored result whose page is
    missing, was not rendered here or is in another language, or all with ``every``), the
    suites' pages and the index, in ``language`` (None: the language the site is in).
    Returns the index."""
    t = Translator(site_language(site) if language is None else language)
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
        view = validation_view(document, path, t)
        views.append(view)
        target = site / path
        if every or stored in fresh or not _ours(target, t.language):
            _write(target, render_validation(view, t))
            written += 1
    for suite in suites:
        _write(site / "expectations" / f"{suite.name}.html", render_suite(suite, t))
    names = {s.name for s in suites} | {v.suite for v in views}
    suite_names = sorted(n for n in names if (site / "expectations" / f"{n}.html").is_file())
    views.sort(key=lambda v: (v.run_time, v.run_name, v.suite), reverse=True)
    index = site / "index.html"
    _write(index, render_index(views, suite_names, t))
    logger.info("Data Docs: %d validation page(s) rendered, %d listed", written, len(views))
    return index


def _head(page: Path) -> str:
    try:
        with page.open(encoding="utf-8", errors="replace") as handle:
            return handle.read(4096)
    except OSError:
        return ""


def _ours(page: Path, language: Language = DEFAULT_LANGUAGE) -> bool:
    """Rendered here, in ``language``: a page in another language is rendered again."""
    head = _head(page)
    return PAGE_MARK in head and f'<html lang="{HTML_LANG[language]}">' in head


def site_language(site: Path) -> Language:
    """The language the site's index is in, so a rebuild without a config (after an erasure)
    keeps it; English for a new site."""
    head = _head(site / "index.html")
    for language, tag in HTML_LANG.items():
        if f'<html lang="{tag}">' in head:
            return language
    return DEFAULT_LANGUAGE
