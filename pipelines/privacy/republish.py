"""Erasure in the published layer: every kept version rebuilt without the erased records.

Readers must never see a half-erased version, and never lose the version they read. Each kept
version is rebuilt in a hidden staging folder (hard links to its files; only the files that
change are rewritten, which breaks their links) with a fresh manifest. The current version is
then installed exactly as publish installs one (version folder, ``current``, ``golden.duckdb``
with its masked views, the id registry, each undone if a later step fails) and the role
artefacts follow; an older kept version is swapped in by two renames. All of it runs under the
publish lock, so no publish or restore interleaves.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pyarrow.parquet as pq

from pipelines.privacy.erase import (
    ERASED,
    ErasurePlan,
    LayerCounts,
    ValueScrubber,
    scrub_golden_folder,
    write_like,
)
from pipelines.privacy.roles import RoleArtefacts
from pipelines.publish.duckdb_build import build_duckdb
from pipelines.publish.stage import install_version, write_version_manifest
from pipelines.publish.tables import TABLES
from pipelines.publish.versions import (
    current_target,
    fsync_path,
    kept_versions,
    prune,
    publish_lock,
    read_manifest,
    token,
    versions_root,
    work_file,
)
from pipelines.warehouse import Warehouse

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig

logger = logging.getLogger(__name__)


def _registry_effects(
    warehouse: Warehouse, keys: pl.Series, counts: LayerCounts
) -> tuple[Path | None, set[str]]:
    """Stage the registry without the records; returns (staged file, ids to forget).

    The ids to forget are those of customers all of whose records go, with every id they
    absorbed over time (a steward's pin may still name one of those).
    """
    path = warehouse.id_registry
    if not path.exists():
        return None, set()
    registry = pl.read_parquet(path)
    # The flag is computed once, before grouping: inside an aggregation the key list would be
    # repeated for every group.
    flagged = registry.with_columns(pl.col("record_key").is_in(keys.implode()).alias("_erased"))
    summary = flagged.group_by("golden_id").agg(pl.col("_erased").all().alias("whole"))
    whole = summary.filter(pl.col("whole"))["golden_id"]
    counts.golden_ids = sorted(whole.to_list())
    forget = set(counts.golden_ids)
    if "absorbed_ids" in registry.columns and not whole.is_empty():
        absorbed = registry.filter(pl.col("golden_id").is_in(whole.implode()))["absorbed_ids"]
        forget |= {i for ids in absorbed.drop_nulls().to_list() for i in ids}
    kept = flagged.filter(~pl.col("_erased")).drop("_erased")
    counts.registry_rows = registry.height - kept.height
    if not counts.registry_rows:
        return None, forget
    staged = work_file(path)
    write_like(kept, staged, pq.read_schema(path))
    return staged, forget


def _scrub_samples(folder: Path, scrubber: ValueScrubber) -> int:
    """``dq_results.sample_values`` hold offending values as sent: scrub the subject's."""
    path = folder / "dq_results.parquet"
    if not scrubber or not path.exists():
        return 0
    table = pq.read_table(path)
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    texts = [v for items in frame["sample_values"].to_list() if items for v in items if v]
    values = scrubber.candidates(texts)
    if not values:
        return 0
    hit = pl.element().str.contains_any(values, ascii_case_insensitive=True).fill_null(False)
    scrubbed = frame.with_columns(
        pl.col("sample_values").list.eval(pl.when(hit).then(pl.lit(ERASED)).otherwise(pl.element()))
    )
    if scrubbed.equals(frame):
        return 0
    write_like(scrubbed, path, table.schema)
    return 1


def _complete(folder: Path) -> None:
    """A version published before a table existed gets it empty, so DuckDB can be built."""
    for name, spec in TABLES.items():
        path = folder / f"{name}.parquet"
        if not path.exists():
            pq.write_table(spec.schema.empty_table().cast(spec.documented_schema()), path)


def _stage_copy(folder: Path) -> Path:
    staging = folder.parent / f".staging.{token()}"
    staging.mkdir()
    for item in folder.iterdir():
        if item.is_file():
            try:
                os.link(item, staging / item.name)
            except OSError:
                shutil.copyfile(item, staging / item.name)
    return staging


def _rewrite_manifest(staging: Path, run_id: str) -> None:
    old = read_manifest(staging)
    (staging / "manifest.json").unlink()  # a hard link to the live manifest: never write through
    _complete(staging)
    counts = {name: pq.read_metadata(staging / f"{name}.parquet").num_rows for name in TABLES}
    write_version_manifest(
        staging, run_id, counts, old.get("previous_run_id"), str(old.get("published_at") or "")
    )


def scrub_published(
    config: PipelineConfig, warehouse: Warehouse, plan: ErasurePlan, counts: LayerCounts
) -> set[str]:
    """Rebuild every kept version without ``plan``'s records; returns the golden ids whose
    steward decisions go with them (see :func:`_registry_effects`)."""
    keys = plan.key_array()
    scrubber = plan.scrubber
    warehouse.published.mkdir(parents=True, exist_ok=True)
    with publish_lock(warehouse):
        registry_tmp, forget = _registry_effects(warehouse, keys, counts)
        current = current_target(warehouse)
        try:
            for run_id in kept_versions(warehouse):
                folder = versions_root(warehouse) / run_id
                staging = _stage_copy(folder)
                try:
                    removed, touched = scrub_golden_folder(staging, keys)
                    touched += _scrub_samples(staging, scrubber)
                    if not touched:
                        continue
                    _rewrite_manifest(staging, run_id)
                    if run_id == current:
                        _install_current(config, warehouse, run_id, staging, registry_tmp)
                        registry_tmp = None
                    else:
                        _swap(folder, staging)
                finally:
                    if staging.exists() and current_target(warehouse) != staging.name:
                        shutil.rmtree(staging, ignore_errors=True)
                counts.published_rows += removed
                counts.published_versions.append(run_id)
                logger.info("published version %s: %d erased row(s) removed", run_id, removed)
            if registry_tmp is not None:
                os.replace(registry_tmp, warehouse.id_registry)
                fsync_path(warehouse.state)
            # Replacing the current version leaves the old folder aside until a prune: the
            # erased rows must not outlive this call there.
            prune(warehouse, config.publish.keep_versions)
        finally:
            if registry_tmp is not None:
                registry_tmp.unlink(missing_ok=True)
    return forget


def _install_current(
    config: PipelineConfig,
    warehouse: Warehouse,
    run_id: str,
    staging: Path,
    registry_tmp: Path | None,
) -> None:
    manifest = read_manifest(staging)
    duckdb_tmp = work_file(warehouse.duckdb_path)
    roles = RoleArtefacts(config, warehouse)
    try:
        for item in staging.iterdir():
            fsync_path(item)
        build_duckdb(
            staging,
            duckdb_tmp,
            run_id=run_id,
            published_at=str(manifest.get("published_at") or "1970-01-01T00:00:00+00:00"),
            memory_limit=config.warehouse.duckdb_memory_limit,
        )
        roles.build(staging, duckdb_tmp, run_id)
        install_version(warehouse, run_id, staging, duckdb_tmp, registry_tmp)
        roles.install()
    finally:
        roles.discard()
        duckdb_tmp.unlink(missing_ok=True)
        duckdb_tmp.with_name(duckdb_tmp.name + ".wal").unlink(missing_ok=True)


def _swap(folder: Path, staging: Path) -> None:
    aside = folder.parent / f".erased.{token()}.{folder.name}"
    os.rename(folder, aside)
    try:
        os.rename(staging, folder)
    except OSError:
        os.rename(aside, folder)
        raise
    fsync_path(folder.parent)
    shutil.rmtree(aside, ignore_errors=True)
