"""The quality gate: stop a run before publish when its data is worse than the config allows.

It reads only what validation wrote (``dq/<suite>.json``) and the sources' state, so it can run
as its own Airflow task. Three checks per suite, with thresholds from ``validation.gate`` or a
per-suite override in ``validation.suite_gates``:

- the share of rows that failed a critical expectation (``max_critical_failure_rate``);
- a critical expectation that failed without judging rows (a missing column, a table-level
  rule, a rule that could not be evaluated): nothing was quarantined, so nothing can be trusted;
- for a source suite, how far the source's row count fell below its last successful run
  (``max_row_count_drop``), from the batches recorded in ``state/sources/<source>.json``;
- for a source suite, the share of the rows the source delivered in this run that ingest could
  not read (``max_rejected_share``): undecodable text, a row that does not fit the header;
- for a source suite, the share of the records of that same baseline run that were deleted at
  the source since, retired or waiting for review (``max_deleted_share``), from the ids of
  both runs' current sets: a truncated export is caught even when new records hide the drop,
  and a run repeated after a trip is compared with the same published baseline.

A tripped gate raises :class:`~pipelines.errors.ValidationGateError` naming every suite,
expectation and amount; publish never runs, so the published tables stay as they were.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from pipelines.errors import StageInputError, ValidationGateError
from pipelines.warehouse import Warehouse, read_json

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig

logger = logging.getLogger(__name__)


class GateCheck(BaseModel):
    suite: str
    source: str | None
    check: Literal[
        "critical_failure_rate",
        "critical_expectation",
        "row_count_drop",
        "rejected_share",
        "deleted_share",
    ]
    passed: bool
    value: float | None
    """The measured share (0..1) for rate and drop checks."""
    limit: float | None
    message: str


class GateResult(BaseModel):
    run_id: str
    passed: bool
    checks: list[GateCheck]


def check_gate(config: PipelineConfig, run_id: str) -> GateResult:
    """Check every suite validated in ``run_id``; raise ``ValidationGateError`` if one trips."""
    warehouse = Warehouse(config.warehouse.path)
    dq_dir = warehouse.dq_result(run_id, "_").parent
    paths = sorted(dq_dir.glob("*.json")) if dq_dir.is_dir() else []
    if not paths:
        raise StageInputError(
            f"no validation results in {dq_dir}: run the 'validate' stages for run {run_id} first"
        )
    checks: list[GateCheck] = []
    for path in paths:
        try:
            document = read_json(path)
        except (OSError, json.JSONDecodeError) as exc:
            raise StageInputError(f"cannot read validation result {path}: {exc}") from exc
        checks += _suite_checks(config, warehouse, run_id, document)
    failed = [c for c in checks if not c.passed]
    if failed:
        lines = "\n".join(f"  - {c.message}" for c in failed)
        raise ValidationGateError(
            f"quality gate tripped for run {run_id}; nothing was published and the published "
            f"tables are unchanged:\n{lines}"
        )
    logger.info("quality gate passed for run %s (%d checks)", run_id, len(checks))
    return GateResult(run_id=run_id, passed=True, checks=checks)


def _suite_checks(
    config: PipelineConfig, warehouse: Warehouse, run_id: str, document: dict[str, Any]
) -> list[GateCheck]:
    suite, source = document["suite"], document.get("source")
    limits = config.validation.thresholds_for(suite)
    key = (
        f"validation.suite_gates.{suite}"
        if suite in config.validation.suite_gates
        else "validation.gate"
    )
    descriptions = _descriptions(warehouse, run_id, suite)
    entries = [
        {**e, "description": descriptions[i] if i < len(descriptions) else None}
        for i, e in enumerate(document["expectations"])
    ]
    critical = [e for e in entries if e["severity"] == "critical"]
    checks: list[GateCheck] = []

    rows_in, quarantined = int(document["rows_in"]), int(document["quarantined"])
    rate = quarantined / rows_in if rows_in else 0.0
    over = rate > limits.max_critical_failure_rate
    culprits = sorted(
        (e for e in critical if e["unexpected_count"]), key=lambda e: -int(e["unexpected_count"])
    )
    detail = "; ".join(
        f"{_name(e)}: {e['unexpected_count']:,} rows ({e['unexpected_count'] / rows_in:.1%})"
        f"{_examples(e)}"
        for e in culprits
    )
    message = (
        f"suite {suite!r}: {rate:.1%} of {rows_in:,} rows ({quarantined:,}) failed critical "
        f"expectations, {'above' if over else 'within'} the {limits.max_critical_failure_rate:.1%} "
        f"limit ({key}.max_critical_failure_rate)"
    )
    if over:
        excess = (rate - limits.max_critical_failure_rate) * 100
        message += f" by {excess:.1f} percentage points: {detail}"
    checks.append(
        GateCheck(
            suite=suite,
            source=source,
            check="critical_failure_rate",
            passed=not over,
            value=rate,
            limit=limits.max_critical_failure_rate,
            message=message,
        )
    )

    for entry in critical:
        if entry["success"] or entry["unexpected_count"] is not None:
            continue
        checks.append(
            GateCheck(
                suite=suite,
                source=source,
                check="critical_expectation",
                passed=False,
                value=None,
                limit=None,
                message=(
                    f"suite {suite!r}: critical expectation {_name(entry)} failed for the whole "
                    "batch (a table-level rule, or one that could not be evaluated; see the Data "
                    "Docs page of this run), so no row can be trusted"
                ),
            )
        )

    if source is not None:
        rejected = _rejected_share(warehouse, source, run_id)
        if rejected is not None:
            share, bad, read, reasons = rejected
            over = share > limits.max_rejected_share
            message = (
                f"source {source!r}: ingest could not read {bad:,} of the {read:,} rows "
                f"delivered ({share:.1%}), {'above' if over else 'within'} the "
                f"{limits.max_rejected_share:.1%} limit ({key}.max_rejected_share)"
            )
            if over:
                message += (
                    f"; the first: {reasons}. The rows are kept in "
                    f"{warehouse.ingest_dir(run_id, source) / 'rejects.parquet'}: check the "
                    "source's csv settings (encoding, delimiter) or the export"
                )
            checks.append(
                GateCheck(
                    suite=suite,
                    source=source,
                    check="rejected_share",
                    passed=not over,
                    value=share,
                    limit=limits.max_rejected_share,
                    message=message,
                )
            )
        baseline = _baseline(warehouse, source, run_id)
        if baseline is not None:
            base_rows, base_run = baseline
            drop = (base_rows - rows_in) / base_rows if base_rows else 0.0
            fell = drop > limits.max_row_count_drop
            checks.append(
                GateCheck(
                    suite=suite,
                    source=source,
                    check="row_count_drop",
                    passed=not fell,
                    value=drop,
                    limit=limits.max_row_count_drop,
                    message=(
                        f"suite {suite!r} (source {source!r}), row count: {rows_in:,} rows, "
                        f"{drop:.1%} {'fewer' if drop >= 0 else 'more'} than the {base_rows:,} of "
                        f"its last successful run {base_run}; the limit is a "
                        f"{limits.max_row_count_drop:.1%} drop ({key}.max_row_count_drop)"
                    ),
                )
            )
            deleted = _deleted_share(warehouse, source, base_run, run_id)
            if deleted is not None:
                share, gone, had = deleted
                over = share > limits.max_deleted_share
                checks.append(
                    GateCheck(
                        suite=suite,
                        source=source,
                        check="deleted_share",
                        passed=not over,
                        value=share,
                        limit=limits.max_deleted_share,
                        message=(
                            f"source {source!r}: {gone:,} of the {had:,} records of run "
                            f"{base_run} ({share:.1%}) are deleted at the source (retired or "
                            f"queued for review), {'above' if over else 'within'} the "
                            f"{limits.max_deleted_share:.1%} limit ({key}.max_deleted_share)"
                            + (
                                "; a truncated export? nothing was published. If the deletions "
                                "are real, raise the limit for one run"
                                if over
                                else ""
                            )
                        ),
                    )
                )
    return checks


def _rejected_share(
    warehouse: Warehouse, source: str, run_id: str
) -> tuple[float, int, int, str] | None:
    """(share, rows rejected, rows read, the first rejected rows by file, line and reason) of
    this run's ingest of ``source``; None when the run has no ingest result for it."""
    path = warehouse.ingest_dir(run_id, source) / "result.json"
    if not path.is_file():
        return None
    try:
        result = read_json(path)
    except (OSError, json.JSONDecodeError) as exc:
        raise StageInputError(f"cannot read ingest result {path}: {exc}") from exc
    read, bad = int(result.get("rows_read", 0)), int(result.get("rows_rejected", 0))
    reasons = ""
    rejects = path.with_name("rejects.parquet")
    if bad and rejects.is_file():
        import polars as pl

        first = pl.read_parquet(rejects, columns=["file", "line", "reason"]).sort("line").head(3)
        reasons = "; ".join(
            f"{file} line {line}: {reason[:160]}" for file, line, reason in first.iter_rows()
        )
    return (bad / read if read else 0.0), bad, read, reasons


def _deleted_share(
    warehouse: Warehouse, source: str, base_run: str, run_id: str
) -> tuple[float, int, int] | None:
    """(share, records gone or queued, records before) of the baseline run's current set that
    this run's current set lacks or holds only pending a steward's review; None when either
    set is gone (an old run cleaned away)."""
    import polars as pl

    before_path = warehouse.current_records(base_run, source)
    now_path = warehouse.current_records(run_id, source)
    if not (before_path.is_file() and now_path.is_file()):
        return None
    ids = ["source_record_id"]
    before = pl.scan_parquet(before_path, hive_partitioning=False).select(ids).unique()
    live = pl.scan_parquet(now_path, hive_partitioning=False).select(ids)
    pending = now_path.with_name("pending_deletions.parquet")
    if pending.is_file():
        live = live.join(
            pl.scan_parquet(pending, hive_partitioning=False).select(ids), on=ids, how="anti"
        )
    had = before.select(pl.len()).collect().item()
    gone = before.join(live.unique(), on=ids, how="anti").select(pl.len()).collect().item()
    return (gone / had if had else 0.0), gone, had


EXAMPLE_VALUES = 3
EXAMPLE_CHARS = 40


def _examples(entry: dict[str, Any]) -> str:
    """A few of the failing values (GX's partial list), so that a steward can search the
    source for them: ``, e.g. 'C-1001', 'C-1002'``. Each is cut short and shown as a Python
    literal, so a hostile or multi-line value reads as one quoted line."""
    values = [v for v in dict.fromkeys(map(str, entry.get("sample_values") or [])) if v]
    if not values:
        return ""
    shown = [
        repr(v if len(v) <= EXAMPLE_CHARS else v[:EXAMPLE_CHARS] + "...")
        for v in values[:EXAMPLE_VALUES]
    ]
    return ", e.g. " + ", ".join(shown)


def _name(entry: dict[str, Any]) -> str:
    column = f" on {entry['column']}" if entry.get("column") else ""
    description = f' ("{entry["description"]}")' if entry.get("description") else ""
    return f"{entry['expectation']}{column}{description}"


def _descriptions(warehouse: Warehouse, run_id: str, suite: str) -> list[str | None]:
    """What each expectation's failure means for a steward (``meta.failure_reason``, else the
    ``description``), in dq order, from the run's GX result."""
    path = warehouse.gx_result(run_id, suite)
    try:
        results = read_json(path)["results"]
    except (OSError, KeyError, TypeError, json.JSONDecodeError):
        return []
    configs = [r.get("expectation_config") or {} for r in results]
    return [(c.get("meta") or {}).get("failure_reason") or c.get("description") for c in configs]


def _baseline(warehouse: Warehouse, source: str, run_id: str) -> tuple[int, str] | None:
    """Rows of the source's last successful run before ``run_id``, and that run's id.

    Ingest records each committed batch in the source state (``history``, and
    ``last_run_id``/``last_row_count`` for the latest). The baseline is the newest earlier run
    that was published (so a drop that tripped the gate once cannot become the new normal by
    being run again); before anything was published, the newest earlier run.
    """
    path = warehouse.source_state(source)
    if not path.is_file():
        logger.info("source %s has no state yet: no row-count check", source)
        return None
    try:
        state = read_json(path)
    except (OSError, json.JSONDecodeError) as exc:
        raise StageInputError(f"cannot read source state {path}: {exc}") from exc
    candidates: dict[str, int] = {}
    for record in state.get("history") or []:
        if isinstance(record, dict) and isinstance(record.get("rows_current"), int):
            candidates[str(record["run_id"])] = record["rows_current"]
    last_run, last_count = state.get("last_run_id"), state.get("last_row_count")
    if last_run and isinstance(last_count, int):
        candidates.setdefault(str(last_run), last_count)
    earlier = sorted((r for r in candidates if r < run_id), reverse=True)
    if not earlier:
        logger.info("source %s has no earlier run: no row-count check", source)
        return None
    published = [r for r in earlier if warehouse.published_version(r).exists()]
    chosen = published[0] if published else earlier[0]
    return candidates[chosen], chosen
