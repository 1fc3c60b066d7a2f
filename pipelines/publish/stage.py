"""Publish a run: the golden tables become the version every reader sees, all at once.

Everything (reading and checking inputs, writing Parquet, building DuckDB, the id registry and
every role's folder) is prepared in one hidden staging folder beside the live versions. Only
then comes the commit, :func:`~pipelines.publish.versions.commit_version`: one rename of the
``current`` pointer, through which ``golden.duckdb``, ``state/id_registry.parquet`` and
``published/roles/<role>`` resolve. So a failed or killed publish leaves the previous version,
database, registry and role folders exactly as they were, and readers switch from one complete
version to the next.
"""

from __future__ import annotations

import logging
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

from pipelines.audit import audit_table
from pipelines.errors import GoldenError, PublishError
from pipelines.i18n import Language, for_files
from pipelines.privacy.roles import RoleArtefacts
from pipelines.publish import inputs
from pipelines.publish.duckdb_build import build_duckdb
from pipelines.publish.tables import GOLDEN_INPUTS, TABLES
from pipelines.publish.versions import (
    FORMAT_VERSION,
    MANIFEST_NAME,
    VERSION_DUCKDB,
    VERSION_REGISTRY,
    VERSION_ROLES,
    commit_version,
    current_dir,
    fsync_path,
    new_staging,
    prune,
    publish_lock,
    read_manifest,
    sha256_file,
)
from pipelines.warehouse import Warehouse, protect_process, write_json

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig

logger = logging.getLogger(__name__)

REGISTRY_COLUMNS = ("record_key", "golden_id")


class PublishResult(BaseModel):
    """What a publish did; stored in the run record and shown in the run summary."""

    run_id: str
    version_dir: Path
    duckdb_path: Path
    tables: dict[str, int]
    """Published table -> row count."""
    previous_run_id: str | None
    """The version that was current before (None for the first publish)."""
    pruned: list[str]
    """Versions removed to keep the last ``publish.keep_versions``."""
    seconds: float
    dq_scorecard_report: str | None = None
    """The scorecard report written after this publish (``reports/dq_scorecard/index.html``)."""


def publish(config: PipelineConfig, run_id: str, *, allow_older: bool = False) -> PublishResult:
    """Publish run ``run_id``'s golden tables atomically and commit its id registry.

    ``allow_older`` permits publishing a run older than the current version (a deliberate
    roll-back); without it that is refused, because it would also roll back the id registry.
    """
    clock = time.perf_counter()
    protect_process(config.warehouse.access)
    warehouse = Warehouse(config.warehouse.path)
    golden = warehouse.golden_dir(run_id)
    for name in GOLDEN_INPUTS:
        warehouse.require(golden / f"{name}.parquet", "golden")
    registry = warehouse.require(golden / "id_registry.parquet", "golden")

    with publish_lock(warehouse):
        previous_dir = current_dir(warehouse)
        previous = read_manifest(previous_dir)["run_id"] if previous_dir else None
        if previous and run_id < previous and not allow_older:
            raise PublishError(
                f"run {run_id} is older than the published run {previous}; publishing it would "
                "roll back the golden tables and the id registry (restore a backup instead, or "
                "publish with allow_older=True)"
            )
        staging = new_staging(warehouse)
        try:
            roles = RoleArtefacts(config, staging / VERSION_ROLES)
            counts = _write_tables(warehouse, run_id, staging, previous_dir)
            published_at = datetime.now(UTC).isoformat()
            write_version_manifest(staging, run_id, counts, previous, published_at)
            stage_registry(registry, staging / VERSION_REGISTRY)
            _build_checked(config, roles, staging, staging / VERSION_DUCKDB, run_id, published_at)
            commit_version(warehouse, staging, run_id)
        except GoldenError:
            raise
        except Exception as exc:
            raise PublishError(
                f"publishing run {run_id} failed ({type(exc).__name__}: {exc}); "
                f"the published version is still {previous or 'none'}"
            ) from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        pruned = prune(warehouse, config.publish.keep_versions)

    report = _scorecard_report(warehouse, run_id, for_files(config.language))

    result = PublishResult(
        dq_scorecard_report=None if report is None else str(report),
        run_id=run_id,
        version_dir=warehouse.published_version(run_id),
        duckdb_path=warehouse.duckdb_path,
        tables=counts,
        previous_run_id=previous,
        pruned=pruned,
        seconds=round(time.perf_counter() - clock, 3),
    )
    logger.info(
        "published run %s (%s) in %.1fs",
        run_id,
        ", ".join(f"{k}={v}" for k, v in counts.items()),
        result.seconds,
    )
    return result


def _scorecard_report(warehouse: Warehouse, run_id: str, language: Language) -> Path | None:
    """Render the scorecard report from the version just published.

    The version is live by now: a report that cannot be written is logged, never a failed
    publish (the table it shows is published either way).
    """
    from pipelines.publish.reader import read_table
    from pipelines.scorecard.report import write_report

    try:
        import polars as pl

        frame = pl.from_arrow(read_table(warehouse.root, "dq_scorecard", run_id))
        assert isinstance(frame, pl.DataFrame)
        return write_report(warehouse.root, frame, language)
    except Exception as exc:  # noqa: BLE001 - see the docstring
        logger.error("run %s: the dq scorecard report could not be written: %s", run_id, exc)
        return None


def _write_tables(
    warehouse: Warehouse,
    run_id: str,
    staging: Path,
    previous_dir: Path | None,
) -> dict[str, int]:
    golden = warehouse.golden_dir(run_id)

    def write(name: str) -> int:
        spec = TABLES[name]
        target = staging / f"{name}.parquet"
        if spec.golden:
            source = golden / f"{name}.parquet"
            rows = inputs.rows_if_published_as_is(source, spec)
            if rows is not None:
                shutil.copyfile(source, target)
                return rows
            batches = inputs.golden_batches(source, spec, run_id)
        elif name == "quarantine":
            batches = inputs.quarantine_batches(warehouse, run_id)
        elif name == "dq_results":
            previous = previous_dir / f"{name}.parquet" if previous_dir else None
            batches = iter([inputs.dq_results_table(warehouse, run_id, previous)])
        elif name == "match_review_queue":
            batches = inputs.review_queue_batches(warehouse, run_id)
        elif name == "match_training_pairs":
            batches = inputs.training_pairs_batches(warehouse, run_id)
        elif name == "review_due":
            batches = inputs.review_due_batches(warehouse, run_id)
        elif name == "audit_log":
            batches = iter(
                [inputs.conform(audit_table(warehouse.root), spec, warehouse.audit_log, run_id)]
            )
        else:  # pragma: no cover - TABLES and this dispatch change together
            raise AssertionError(f"no input for published table {name}")
        return inputs.write_table(batches, spec, target)

    # Parquet encoding is single-threaded and releases the GIL: two tables are written at a
    # time, one per core (``map`` re-raises the first failing table's error, in table order).
    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = dict(zip(TABLES, pool.map(write, TABLES), strict=True))
    for name in TABLES:
        fsync_path(staging / f"{name}.parquet")
    return counts


def _build_checked(
    config: PipelineConfig,
    roles: RoleArtefacts,
    staging: Path,
    duckdb_tmp: Path,
    run_id: str,
    published_at: str,
) -> None:
    """Check the version's keys, build its database and every role's artefacts.

    The key checks and the masked roles need only the Parquet files, so they run beside the
    database load instead of after it; the roles that get a copy of the database, and the
    masked views, wait for it. A duplicate key is reported first even when the load fails
    too: it is the cause worth naming. Nothing here touches the live version, so a failure
    anywhere leaves it as it was. A key check that must group (an input not sorted by its
    key) runs beside the load as well. Each DuckDB is held to ``warehouse.duckdb_memory_limit``
    and two run at once (the load, and a key check or a role's build), so publish's DuckDB
    work stays under twice that limit.
    """
    memory_limit = config.warehouse.duckdb_memory_limit
    with ThreadPoolExecutor(max_workers=1) as pool:
        load = pool.submit(
            build_duckdb,
            staging,
            duckdb_tmp,
            run_id=run_id,
            published_at=published_at,
            memory_limit=memory_limit,
        )
        for name, spec in TABLES.items():
            inputs.check_unique(staging / f"{name}.parquet", spec, memory_limit)
        roles.build_masked(staging, run_id, threads=1)
        load.result()
    roles.build_from_database(staging, duckdb_tmp, run_id)


def write_version_manifest(
    folder: Path,
    run_id: str,
    counts: dict[str, int],
    previous: str | None,
    published_at: str,
) -> None:
    """``manifest.json`` of a version: its tables with row counts, sizes and SHA-256."""
    tables = {
        name: {
            "file": f"{name}.parquet",
            "rows": rows,
            "bytes": (folder / f"{name}.parquet").stat().st_size,
            "sha256": sha256_file(folder / f"{name}.parquet"),
            "grain": TABLES[name].grain,
        }
        for name, rows in counts.items()
    }
    write_json(
        folder / MANIFEST_NAME,
        {
            "format": FORMAT_VERSION,
            "run_id": run_id,
            "published_at": published_at,
            "previous_run_id": previous,
            "tables": tables,
        },
    )
    fsync_path(folder / MANIFEST_NAME)
    fsync_path(folder)


def stage_registry(source: Path, target: Path) -> None:
    """Copy an id registry beside the live one after checking it is one."""
    try:
        names = pq.read_schema(source).names
    except (OSError, pa.ArrowException) as exc:
        raise PublishError(f"{source} is not a readable Parquet file: {exc}") from None
    missing = [c for c in REGISTRY_COLUMNS if c not in names]
    if missing:
        raise PublishError(f"{source} is not an id registry: it has no column(s) {missing}")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    fsync_path(target)
