"""The validation stage: a source's records against its suite, staged records against canonical.

Both entry points read one frame, evaluate the suite (:mod:`pipelines.validate.engine`), and
write four files through ``atomic_path``, so a rerun of a run id overwrites them and a crash
leaves none half-written: the accepted rows, the quarantine rows, ``dq/<suite>.json`` and GX's
suite result for Data Docs. Outputs are named by suite, so two sources may not share one.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import polars as pl
import pyarrow.parquet as pq
from pydantic import BaseModel

from pipelines.errors import ConfigError, SchemaDriftError
from pipelines.validate import incremental
from pipelines.validate.engine import evaluate_suite, run_parameters
from pipelines.validate.outcome import Outcome
from pipelines.validate.quarantine import (
    QUARANTINE_LINEAGE,
    failing_record_keys,
    failure_masks,
    ingest_reject_rows,
    quarantine_frame,
)
from pipelines.validate.results import dq_document, suite_result_document, write_suite_result
from pipelines.validate.suites import (
    SOURCE_SUITE_COLUMNS,
    STAGED_SUITE_COLUMNS,
    Suite,
    check_columns,
    load_suite,
    suite_path,
)
from pipelines.warehouse import Warehouse, atomic_path, read_json, write_json

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig

logger = logging.getLogger(__name__)

STAGED_ASSET = "staged"
"""Name of the staged records in GX results (the batch the canonical suite validates)."""


class SuiteResult(BaseModel):
    """What validating one batch against one suite did (stored in the run record)."""

    suite: str
    source: str | None
    """The source validated, or None for the canonical suite over staged records."""
    run_id: str
    rows_in: int
    accepted: int
    quarantined: int
    """Records that failed at least one critical expectation (rows_in = accepted + quarantined)."""
    warned: int
    """Accepted records that failed at least one warning expectation."""
    success: bool
    """GX's verdict: every expectation of the suite met (warnings included)."""
    failed_expectations: list[str]
    """Labels of the expectations that failed, critical ones first."""
    dq_path: Path
    accepted_path: Path
    quarantine_path: Path
    gx_result_path: Path
    seconds: float
    path: Literal["full", "incremental"] | None = None
    """Source suites: which path ran, every rule on every row, or row-by-row rules only on new
    and changed record versions (None for the canonical suite, always evaluated whole)."""
    reused_from: str | None = None
    """The run whose row verdicts were reused (incremental path)."""
    full_reason: str | None = None
    """Why the full path ran (requested, first run, the suite, code or configuration changed)."""
    rows_reused: int = 0
    """Rows whose row-by-row verdicts came from ``reused_from``."""
    rows_evaluated: int = 0
    """Rows the row-by-row rules were evaluated on (all of them on the full path); rules that
    compare rows or judge the whole set are always evaluated on all ``rows_in``."""


def validate_source(
    config: PipelineConfig, run_id: str, source: str, *, full: bool = False
) -> SuiteResult:
    """Validate ``ingest/<source>/current.parquet``, mapped to ``raw_*``, with its suite.

    By default the row-by-row verdicts of the latest earlier run are reused for unchanged
    record versions (:mod:`pipelines.validate.incremental`); ``full`` (or ``validation.full``)
    evaluates every rule on every row. Both paths write the same outputs."""
    from pipelines.ingest.mapping import mapped_frame
    from pipelines.standardise.incremental import row_hashes

    clock = time.perf_counter()
    source_config = config.source(source)
    warehouse = Warehouse(config.warehouse.path)
    current = warehouse.require(
        warehouse.current_records(run_id, source), produced_by=f"ingest (source {source})"
    )
    suite_name = source_config.suite_name
    sharing = [s.name for s in config.sources if s.suite_name == suite_name and s.name != source]
    if sharing or suite_name == config.validation.canonical_suite:
        other = f"source(s) {sharing}" if sharing else "the canonical suite"
        raise ConfigError(
            f"source {source!r} uses suite {suite_name!r}, as does {other} in "
            f"{config.config_path}; quarantine/ and dq/ files are named by suite, so give each "
            "source its own suite file (sources[].suite)"
        )
    suite = source_suite(config, source)
    check_columns(suite, SOURCE_SUITE_COLUMNS, "source (lineage, raw_<field>, trust_rank)")
    try:
        frame = mapped_frame(pl.read_parquet(current), source_config)
    except SchemaDriftError as exc:
        raise SchemaDriftError(f"{exc}{_read_from(warehouse, run_id, source)}") from None
    hashes = row_hashes(frame)
    engine = config.validation.engine
    fingerprint = incremental.fingerprint(suite, source_config, engine)
    if full or config.validation.full:
        plan = incremental.ReusePlan(None, "full validation requested")
    else:
        previous = incremental.find_previous(warehouse, run_id, source)
        plan = incremental.plan_reuse(fingerprint, previous)
    incremental.forget_marker(warehouse, run_id, source)
    evaluation = incremental.evaluate(
        suite, frame, hashes, run_parameters(run_id), engine, plan.previous
    )
    result = _validate(
        config,
        run_id,
        suite,
        frame,
        source=source,
        accepted_path=warehouse.accepted(run_id, source),
        outcomes=evaluation.outcomes,
    )
    incremental.write_verdicts(warehouse, run_id, source, hashes, evaluation.verdicts)
    incremental.commit_state(warehouse, run_id, source, fingerprint, list(evaluation.verdicts))
    reused_from = plan.previous.run_id if plan.previous and evaluation.rows_reused else None
    full_reason = None if reused_from else plan.reason or "no unchanged record to reuse"
    logger.info(
        "source %s: %s path (%s), %d rows' verdicts reused, %d rows evaluated",
        source,
        "incremental" if reused_from else "full",
        f"reusing run {reused_from}" if reused_from else full_reason,
        evaluation.rows_reused,
        evaluation.rows_evaluated,
    )
    return result.model_copy(
        update={
            "path": "incremental" if reused_from else "full",
            "reused_from": reused_from,
            "full_reason": full_reason,
            "rows_reused": evaluation.rows_reused,
            "rows_evaluated": evaluation.rows_evaluated,
            "seconds": round(time.perf_counter() - clock, 3),
        }
    )


def _read_from(warehouse: Warehouse, run_id: str, source: str) -> str:
    """Which files the batch came from, for an error about the columns it lacks: an empty
    file (no header) is the usual cause, and a source may read many files."""
    try:
        origins = [
            str(o)
            for o in read_json(warehouse.ingest_dir(run_id, source) / "result.json")["origins"]
        ]
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    if not origins:
        return ""
    empty = [o for o in origins if Path(o).is_file() and Path(o).stat().st_size == 0]
    shown = ", ".join(origins[:5]) + (f" and {len(origins) - 5} more" if len(origins) > 5 else "")
    text = f"; this batch was read from {shown}"
    if empty:
        text += f" ({', '.join(empty[:5])} {'is' if len(empty) == 1 else 'are'} empty: no header)"
    return text


def validate_staged(config: PipelineConfig, run_id: str) -> SuiteResult:
    """Validate ``staged/customers.parquet`` with the canonical suite.

    Reading and writing a million staged rows costs more than evaluating the suite, so only
    the columns the suite reads are loaded (:func:`columns_read`), and when no row fails a
    critical rule the accepted rows are the staged file itself, copied rather than re-encoded.
    """
    warehouse = Warehouse(config.warehouse.path)
    staged = warehouse.require(warehouse.staged(run_id), produced_by="standardise")
    suite = _load(config, config.validation.canonical_suite)
    check_columns(suite, STAGED_SUITE_COLUMNS, "staged (pipelines.schema.STAGED_COLUMNS)")
    available = pq.read_schema(staged).names
    frame = pl.read_parquet(staged, columns=columns_read(suite, available))
    return _validate(
        config,
        run_id,
        suite,
        frame,
        source=None,
        accepted_path=warehouse.staged_accepted(run_id),
        whole_file=staged,
    )


_ROW_COUNT = "expect_table_row_count_to_be_between"


def columns_read(suite: Suite, available: list[str]) -> list[str]:
    """The columns of a file with ``available`` columns that validating it with ``suite``
    needs: those its rules and row conditions name and the lineage a quarantine row carries.
    Every column when a rule may judge the whole table (``expect_table_*`` but the row count,
    or a rule naming no column), since such a rule sees which columns exist."""
    whole_table = any(
        (rule.type.startswith("expect_table_") and rule.type != _ROW_COUNT)
        or (not rule.columns and rule.type != _ROW_COUNT)
        for rule in suite
    )
    if whole_table:
        return list(available)
    wanted = suite.columns | set(QUARANTINE_LINEAGE)
    return [c for c in available if c in wanted]


def source_suite(config: PipelineConfig, source: str) -> Suite:
    """The suite a source is validated with: its own file (``sources[].suite``, else
    ``<source>.json``), or, when it has none, ``validation.default_source_suite`` under the
    source's name, so a new source runs before anyone writes its suite."""
    source_config = config.source(source)
    name = source_config.suite_name
    default = config.validation.default_source_suite
    folder = config.validation.expectations_dir
    if (
        source_config.suite is None
        and default is not None
        and (config.validation.bundled_suites or not suite_path(folder, name).exists())
        and suite_path(folder, default).is_file()
    ):
        logger.info(
            "source %s has no suite file of its own: validating it with %s",
            source,
            suite_path(folder, default),
        )
        return _load(config, default).renamed(name)
    return _load(config, name)


def _load(config: PipelineConfig, name: str) -> Suite:
    """The suite, checked with GX only if this file content was never checked before."""
    checked_suites = Warehouse(config.warehouse.path).checked_suites
    return load_suite(suite_path(config.validation.expectations_dir, name), checked_suites)


def _validate(
    config: PipelineConfig,
    run_id: str,
    suite: Suite,
    frame: pl.DataFrame,
    *,
    source: str | None,
    accepted_path: Path,
    whole_file: Path | None = None,
    outcomes: list[Outcome] | None = None,
) -> SuiteResult:
    """Evaluate ``suite`` on ``frame`` (unless its ``outcomes`` are given) and write the four
    outputs. ``whole_file`` is the file ``frame`` was read from when ``frame`` holds only some
    of its columns: the accepted rows are then that file's rows (copied whole when none is
    rejected)."""
    clock = time.perf_counter()
    warehouse = Warehouse(config.warehouse.path)
    parameters = run_parameters(run_id)
    if outcomes is None:
        outcomes = evaluate_suite(suite, frame, parameters, config.validation.engine)

    critical, warning = failure_masks(outcomes, frame.height)
    rejected = int(critical.sum())
    counts = {
        "rows_in": frame.height,
        "accepted": frame.height - rejected,
        "quarantined": rejected,
        "warned": int((warning & ~critical).sum()),
    }
    if whole_file is None:
        _write_parquet(frame.filter(pl.Series(~critical)), accepted_path)
    elif rejected:
        _write_parquet(pl.read_parquet(whole_file).filter(pl.Series(~critical)), accepted_path)
    else:
        with atomic_path(accepted_path) as tmp:
            shutil.copyfile(whole_file, tmp)
    quarantine = quarantine_frame(frame, outcomes, run_id=run_id, suite=suite.name)
    rejects_path = warehouse.ingest_rejects(run_id, source) if source else None
    rejects = ingest_reject_rows(rejects_path, run_id=run_id, suite=suite.name)
    if rejects.height:
        # Rows ingest could not land belong to the steward's quarantine as well (with file,
        # line and reason); they are not part of rows_in, which counts landed records.
        quarantine = pl.concat([quarantine, rejects], how="vertical")
    quarantine_path = warehouse.quarantine(run_id, suite.name)
    _write_parquet(quarantine, quarantine_path)

    asset = source or STAGED_ASSET
    gx_path = warehouse.gx_result(run_id, suite.name)
    result = suite_result_document(
        suite,
        outcomes,
        run_id=run_id,
        run_time=parameters["run_time"],
        asset=asset,
        counts=counts,
        record_keys=failing_record_keys(frame, outcomes),
        ingest_rejects=_rejects_summary(rejects_path) if rejects_path is not None else None,
    )
    write_suite_result(gx_path, result)
    dq_path = warehouse.dq_result(run_id, suite.name)
    write_json(dq_path, dq_document(suite, outcomes, run_id=run_id, source=source, counts=counts))

    failed = sorted(
        (o for o in outcomes if not o.success),
        key=lambda o: (o.rule.severity != "critical", o.rule.index),
    )
    seconds = round(time.perf_counter() - clock, 3)
    logger.info(
        "suite %s on %s: %d rows in, %d accepted, %d quarantined, %d warned (%.1fs)",
        suite.name,
        asset,
        counts["rows_in"],
        counts["accepted"],
        counts["quarantined"],
        counts["warned"],
        seconds,
    )
    return SuiteResult(
        suite=suite.name,
        source=source,
        run_id=run_id,
        **counts,
        success=result["success"],
        failed_expectations=[f"{o.rule.severity}: {o.rule.label}" for o in failed],
        dq_path=dq_path,
        accepted_path=accepted_path,
        quarantine_path=quarantine_path,
        gx_result_path=gx_path,
        seconds=seconds,
    )


def _rejects_summary(path: Path) -> dict[str, object]:
    """The ingest rejects a Data Docs page lists: file, line and reason (never the raw text,
    which stays in the quarantine table)."""
    from pipelines.validate.report_pages import REJECTS_SHOWN

    if not path.is_file():
        return {"total": 0, "rows": []}
    frame = pl.read_parquet(path, columns=["file", "line", "reason"])
    return {"total": frame.height, "rows": frame.head(REJECTS_SHOWN).to_dicts()}


def _write_parquet(frame: pl.DataFrame, target: Path) -> None:
    # Snappy: the fastest codec every Parquet reader knows; writing the accepted rows is the
    # largest single cost of the stage (zstd's smaller files took about twice as long).
    with atomic_path(target) as tmp:
        frame.write_parquet(tmp, compression="snappy")
