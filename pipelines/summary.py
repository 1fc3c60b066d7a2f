"""The run summary: what a run did, reconciled, in one object and one printable table.

Built only from the stage records in ``runs/<run_id>/stages/`` so that a run driven by Airflow
(one task per stage, on different workers) summarises exactly like a CLI run.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel, Field

from pipelines.config import PipelineConfig
from pipelines.i18n import DEFAULT_LANGUAGE, Language, Translator
from pipelines.warehouse import Warehouse


class SourceCounts(BaseModel):
    source: str
    rows_read: int | None = None
    rejected_at_ingest: int | None = None
    suppressed_at_ingest: int = 0
    """Rows of erased subjects that ingest dropped (the suppression list)."""
    reject_reasons: list[tuple[str, int, str]] = Field(default_factory=list)
    """The commonest reasons rows were rejected at ingest: (reason, rows, first file:line)."""
    current: int | None = None
    accepted: int | None = None
    quarantined: int | None = None
    warned: int | None = None
    new_columns: list[str] = Field(default_factory=list)
    new_records: int | None = None
    """Ids the current set did not hold, loaded this run."""
    new_behind_watermark: int | None = None
    """Of ``new_records``, those older than the watermark (late or backdated records)."""
    changed: int | None = None
    deleted_at_source: int | None = None
    retired: int | None = None
    """Records that left the current set as deleted at the source."""
    pending_review: int | None = None
    """Deleted at the source, waiting for a steward (still current)."""

    @property
    def reconciled(self) -> bool | None:
        """Current records == accepted + quarantined (nothing silently dropped)."""
        if None in (self.current, self.accepted, self.quarantined):
            return None
        return self.current == self.accepted + self.quarantined


class RunSummary(BaseModel):
    run_id: str
    stages: dict[str, str] = Field(default_factory=dict)
    """Stage label -> status (``succeeded`` / ``failed``)."""
    stage_seconds: dict[str, float] = Field(default_factory=dict)
    errors: dict[str, str] = Field(default_factory=dict)
    sources: list[SourceCounts] = Field(default_factory=list)
    staged: int | None = None
    staged_accepted: int | None = None
    staged_quarantined: int | None = None
    standardisation: dict[str, Any] = Field(default_factory=dict)
    records_matched: int | None = None
    pairs_scored: int | None = None
    clusters: int | None = None
    review_pairs: int | None = None
    match_model: list[str] = Field(default_factory=list)
    """The model the match stage built for the run's records, in a few lines (fields compared,
    blocking rules with their pair counts, parameters left untrained)."""
    golden_records: int | None = None
    golden_ids: dict[str, int] = Field(default_factory=dict)
    data_docs: str | None = None
    published_version: str | None = None
    duckdb_path: str | None = None
    dq_scorecard_report: str | None = None
    backup_uri: str | None = None
    backup_configured: bool = True
    """False when the config names no backup bucket (or turns backups off)."""
    run_dir: str | None = None

    @property
    def reconciled(self) -> bool:
        checks = [s.reconciled for s in self.sources]
        if None not in (self.staged, self.staged_accepted, self.staged_quarantined):
            checks.append(self.staged == self.staged_accepted + self.staged_quarantined)
        return all(c is not False for c in checks)


def summarise_run(config: PipelineConfig, run_id: str) -> RunSummary:
    from pipelines.orchestrate import stage_records

    warehouse = Warehouse(config.warehouse.path)
    summary = RunSummary(
        run_id=run_id,
        run_dir=str(warehouse.run(run_id)),
        backup_configured=config.backup.enabled,
    )
    by_source: dict[str, SourceCounts] = {}
    for record in stage_records(warehouse, run_id):
        label = (
            f"{record['stage']}[{record['source']}]" if record.get("source") else record["stage"]
        )
        summary.stages[label] = record["status"]
        summary.stage_seconds[label] = record.get("seconds", 0.0)
        if record["status"] != "succeeded":
            summary.errors[label] = record.get("error", "")
            continue
        result: dict[str, Any] = record.get("result") or {}
        stage, source = record["stage"], record.get("source")
        if source:
            counts = by_source.setdefault(source, SourceCounts(source=source))
            if stage == "ingest":
                counts.rows_read = result.get("rows_read")
                counts.rejected_at_ingest = result.get("rows_rejected")
                counts.suppressed_at_ingest = int(result.get("rows_suppressed") or 0)
                if counts.rejected_at_ingest and result.get("rejects_path"):
                    counts.reject_reasons = reject_reasons(Path(result["rejects_path"]))
                counts.current = result.get("rows_current")
                counts.new_columns = result.get("new_columns") or []
                counts.new_records = result.get("records_new")
                counts.new_behind_watermark = result.get("new_behind_watermark")
                counts.changed = result.get("records_changed")
                counts.deleted_at_source = result.get("deleted_at_source")
                counts.retired = result.get("retired")
                counts.pending_review = result.get("pending_review")
            elif stage == "validate_source":
                counts.accepted = result.get("accepted")
                counts.quarantined = result.get("quarantined")
                counts.warned = result.get("warned")
        elif stage == "standardise":
            summary.staged = result.get("rows_out")
            summary.standardisation = result.get("fields") or {}
        elif stage == "validate_staged":
            summary.staged_accepted = result.get("accepted")
            summary.staged_quarantined = result.get("quarantined")
        elif stage == "data_docs":
            summary.data_docs = result.get("path")
        elif stage == "match":
            summary.records_matched = result.get("records")
            summary.pairs_scored = result.get("pairs_scored")
            summary.clusters = result.get("clusters")
            summary.review_pairs = result.get("review_pairs")
            summary.match_model = list(result.get("model") or [])
            untrained = result.get("untrained_parameters") or []
            if summary.match_model and untrained:
                summary.match_model.append(
                    f"{len(untrained)} parameter(s) untrained (Splink's defaults): "
                    + "; ".join(untrained[:5])
                    + (" ..." if len(untrained) > 5 else "")
                )
            if summary.match_model and result.get("steward_labels"):
                from matching.labels import LabelReport

                labels = LabelReport.model_validate(result["steward_labels"])
                summary.match_model += labels.lines()
        elif stage == "golden":
            summary.golden_records = result.get("golden_records")
            summary.golden_ids = {
                k: result[k]
                for k in ("created", "kept", "merged", "split", "retired")
                if result.get(k) is not None
            }
        elif stage == "publish":
            summary.published_version = result.get("version_dir")
            summary.duckdb_path = result.get("duckdb_path")
            summary.dq_scorecard_report = result.get("dq_scorecard_report")
        elif stage == "backup":
            summary.backup_uri = result.get("uri")
    summary.sources = [by_source[name] for name in config.source_names if name in by_source]
    return summary


REASONS_SHOWN = 3


def reject_reasons(path: Path) -> list[tuple[str, int, str]]:
    """The commonest reasons in an ingest ``rejects.parquet``, each with its count and where
    it first happened, so the summary says why rows were rejected, not only how many."""
    try:
        rejects = pl.read_parquet(path, columns=["file", "line", "reason"])
    except (OSError, pl.exceptions.PolarsError):
        return []
    counts = Counter(rejects["reason"].fill_null("(no reason)").to_list())
    first: dict[str, str] = {}
    for file, line, reason in rejects.iter_rows():
        first.setdefault(reason or "(no reason)", f"{Path(str(file)).name}:{line}")
    return [(r, n, first[r]) for r, n in counts.most_common(REASONS_SHOWN)]


def _no_backup(summary: RunSummary, t: Translator) -> str | None:
    if summary.published_version and not summary.backup_configured:
        return t("summary.no_backup")
    return None


def _short(text: str, limit: int = 100) -> str:
    """One line of a source's text for a terminal: control characters (a reject reason may
    quote the row, escape sequences and all) shown as ``?``, never sent to the terminal."""
    text = " ".join(text.split())
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cells(text: str) -> int:
    """Terminal columns ``text`` takes: Chinese characters are two wide."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _left(text: str, width: int) -> str:
    return text + " " * max(width - _cells(text), 0)


def _right(text: str, width: int) -> str:
    return " " * max(width - _cells(text), 0) + text


def _changes_table(summary: RunSummary, n: Any, t: Translator) -> list[str]:
    """What each source's delivery changed: the counts behind ``current``."""
    rows = [s for s in summary.sources if s.new_records is not None]
    if not rows:
        return []
    header = _left(t("summary.col.source"), 16) + "".join(
        _right(t(key), width)
        for key, width in (
            ("summary.col.new", 10),
            ("summary.col.behind_wm", 11),
            ("summary.col.changed", 10),
            ("summary.col.deleted", 10),
            ("summary.col.retired", 10),
            ("summary.col.in_review", 11),
        )
    )
    lines = ["", header, "-" * _cells(header)]
    for s in rows:
        lines.append(
            _left(s.source, 16) + f"{n(s.new_records):>10}{n(s.new_behind_watermark):>11}"
            f"{n(s.changed):>10}{n(s.deleted_at_source):>10}{n(s.retired):>10}"
            f"{n(s.pending_review):>11}"
        )
    return lines


def format_summary(summary: RunSummary, language: Language = DEFAULT_LANGUAGE) -> str:
    """A plain-text report for terminals and Airflow logs, in ``language`` (the CLI passes
    the config's ``language``, or with ``auto`` the terminal's locale)."""
    t = Translator(language)

    def n(value: int | None) -> str:
        return "-" if value is None else f"{value:,}"

    lines = [t("summary.run", run=summary.run_id), ""]
    header = _left(t("summary.col.source"), 16) + "".join(
        _right(t(key), 10)
        for key in (
            "summary.col.rows_in",
            "summary.col.rejected",
            "summary.col.current",
            "summary.col.accepted",
            "summary.col.quarantined",
            "summary.col.warned",
        )
    )
    header += "  " + t("summary.col.reconciled")
    lines += [header, "-" * _cells(header)]
    pad = " " * 16
    for s in summary.sources:
        ok = {True: t("summary.yes"), False: t("summary.no"), None: "-"}[s.reconciled]
        lines.append(
            _left(s.source, 16) + f"{n(s.rows_read):>10}{n(s.rejected_at_ingest):>10}"
            f"{n(s.current):>10}{n(s.accepted):>10}{n(s.quarantined):>10}{n(s.warned):>10}  {ok}"
        )
        if s.suppressed_at_ingest:
            lines.append(pad + t("summary.suppressed", count=f"{s.suppressed_at_ingest:,}"))
        for reason, rows, where in s.reject_reasons:
            lines.append(
                pad + t("summary.rejected", count=f"{rows:,}", reason=_short(reason), where=where)
            )
        others = (s.rejected_at_ingest or 0) - sum(rows for _, rows, _ in s.reject_reasons)
        if s.reject_reasons and others > 0:
            lines.append(pad + t("summary.rejected_other", count=f"{others:,}"))
        if s.new_columns:
            lines.append(pad + t("summary.new_columns", columns=", ".join(s.new_columns)))
    lines += _changes_table(summary, n, t)
    lines.append("")
    lines.append(
        t(
            "summary.staged",
            staged=n(summary.staged),
            accepted=n(summary.staged_accepted),
            quarantined=n(summary.staged_quarantined),
        )
    )
    lines.append(
        t(
            "summary.matched",
            records=n(summary.records_matched),
            pairs=n(summary.pairs_scored),
            clusters=n(summary.clusters),
            review=n(summary.review_pairs),
        )
    )
    lines += [t("summary.model", line=line) for line in summary.match_model]
    ids = t("summary.list_sep").join(
        f"{t.term('change', k)} {v:,}" for k, v in summary.golden_ids.items()
    )
    golden = t("summary.golden", count=n(summary.golden_records))
    lines.append(golden + (t("summary.golden_ids", ids=ids) if ids else ""))
    if summary.standardisation:
        lines.append("")
        lines.append(
            _left(t("summary.col.field"), 16)
            + _right(t("summary.col.standardised"), 14)
            + _right(t("summary.col.invalid"), 10)
            + _right(t("summary.col.empty"), 10)
        )
        for field, stats in summary.standardisation.items():
            lines.append(
                f"{field:<16}{n(stats.get('standardised')):>14}{n(stats.get('invalid')):>10}"
                f"{n(stats.get('empty')):>10}"
            )
    lines.append("")
    for key, path in (
        ("summary.at.data_docs", summary.data_docs),
        ("summary.at.golden_tables", summary.published_version),
        ("summary.at.duckdb", summary.duckdb_path),
        ("summary.at.scorecard", summary.dq_scorecard_report),
        ("summary.at.backup", summary.backup_uri or _no_backup(summary, t)),
        ("summary.at.run_folder", summary.run_dir),
    ):
        if path:
            lines.append(_left(t(key) + t("summary.colon"), 19) + path)
    if summary.errors:
        lines.append("")
        lines += [
            t("summary.failed", stage=label, error=error) for label, error in summary.errors.items()
        ]
    if not summary.reconciled:
        lines.append(t("summary.not_reconciled"))
    return "\n".join(lines)
