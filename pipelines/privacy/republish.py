"""Erasure in the published layer: every version on disk rebuilt without the erased records.

Readers must never see a half-erased version. Each version folder is rebuilt in a hidden
staging folder (hard links to its files; only the files that change are rewritten, which
breaks their links) with a fresh manifest, its id registry, ``golden.duckdb`` and role folders.
The current version is then committed exactly as publish commits one (one switch of the
``current`` pointer) and its old folder removed; an older version is swapped in by two renames.
Erased rows must not outlive the erasure anywhere, so unlike a publish this does not keep a
folder a reader may still hold. All of it runs under the publish lock, so no publish or
restore interleaves.
"""

from __future__ import annotations

import logging
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pyarrow.parquet as pq
from pydantic import BaseModel

from pipelines import audit
from pipelines.errors import PrivacyError
from pipelines.privacy.erase import (
    ERASED,
    ErasurePlan,
    LayerCounts,
    ValueScrubber,
    golden_effects,
    scrub_golden_folder,
    write_like,
)
from pipelines.privacy.identifiers import hash_values, load_salt, salt_id
from pipelines.privacy.ledger import ErasureEntry, record_erasure
from pipelines.privacy.roles import RoleArtefacts
from pipelines.privacy.suppression import SuppressionEntry
from pipelines.publish.duckdb_build import build_duckdb
from pipelines.publish.stage import write_version_manifest
from pipelines.publish.tables import TABLES
from pipelines.publish.versions import (
    VERSION_DUCKDB,
    VERSION_REGISTRY,
    VERSION_ROLES,
    adopt_older_layout,
    commit_version,
    current_dir,
    fsync_path,
    hard_link_copy,
    new_staging,
    prune,
    publish_lock,
    read_manifest,
    remove_tree,
    token,
    version_folders,
)
from pipelines.warehouse import Warehouse

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig

logger = logging.getLogger(__name__)


def _registry_effects(
    path: Path, keys: pl.Series, counts: LayerCounts | None
) -> tuple[bool, set[str]]:
    """Rewrite the registry ``path`` without the records; returns (changed, ids to forget).

    The ids to forget are those of customers all of whose records go, with every id they
    absorbed over time (a steward's pin may still name one of those). ``counts`` (the current
    version's registry only) receives the golden ids and rows that went.
    """
    registry = pl.read_parquet(path)
    # The flag is computed once, before grouping: inside an aggregation the key list would be
    # repeated for every group.
    flagged = registry.with_columns(pl.col("record_key").is_in(keys.implode()).alias("_erased"))
    summary = flagged.group_by("golden_id").agg(pl.col("_erased").all().alias("whole"))
    whole = summary.filter(pl.col("whole"))["golden_id"]
    golden_ids = sorted(whole.to_list())
    forget = set(golden_ids)
    if "absorbed_ids" in registry.columns and not whole.is_empty():
        absorbed = registry.filter(pl.col("golden_id").is_in(whole.implode()))["absorbed_ids"]
        forget |= {i for ids in absorbed.drop_nulls().to_list() for i in ids}
    kept = flagged.filter(~pl.col("_erased")).drop("_erased")
    if counts is not None:
        counts.golden_ids = golden_ids
        counts.registry_rows = registry.height - kept.height
    if registry.height == kept.height:
        return False, forget
    write_like(kept, path, pq.read_schema(path))
    return True, forget


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
    """Rebuild every version on disk without ``plan``'s records; returns the golden ids whose
    steward decisions go with them (see :func:`_registry_effects`)."""
    keys = plan.key_array()
    warehouse.published.mkdir(parents=True, exist_ok=True)
    forget: set[str] = set()
    with publish_lock(warehouse):
        adopt_older_layout(warehouse)  # its hard-linked copy is then scrubbed like any commit
        current = current_dir(warehouse)
        for folder in version_folders(warehouse):
            staging = new_staging(warehouse)
            try:
                hard_link_copy(folder, staging)
                removed, changed = _scrub_version(
                    config, staging, plan, keys, counts if folder == current else None, forget
                )
                if not changed:
                    continue
                run_id = str(read_manifest(staging)["run_id"])
                if folder == current:
                    commit_version(warehouse, staging, run_id)
                    remove_tree(folder)  # the erased rows must not outlive this call
                else:
                    _swap(folder, staging)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            counts.published_rows += removed
            if run_id not in counts.published_versions:
                counts.published_versions.append(run_id)
            logger.info("published version %s: %d erased row(s) removed", folder.name, removed)
        prune(warehouse, config.publish.keep_versions)
    return forget


def _scrub_version(
    config: PipelineConfig,
    staging: Path,
    plan: ErasurePlan,
    keys: pl.Series,
    counts: LayerCounts | None,
    forget: set[str],
) -> tuple[int, bool]:
    """Erase the records from a hard-linked copy of a version; returns (rows gone, changed).

    The registry, tables and manifest are rewritten where they change; when a table changed,
    the version's ``golden.duckdb`` and role folders are rebuilt from the scrubbed tables (an
    older-layout folder without a database stays without one).
    """
    registry = staging / VERSION_REGISTRY
    registry_changed = False
    if registry.exists():
        registry_changed, ids = _registry_effects(registry, keys, counts)
        forget |= ids
    removed, touched = scrub_golden_folder(staging, keys)
    touched += _scrub_samples(staging, plan.scrubber)
    if touched:
        run_id = str(read_manifest(staging)["run_id"])
        _rewrite_manifest(staging, run_id)
        database = staging / VERSION_DUCKDB
        if database.exists():
            _rebuild_database(config, staging, run_id)
    return removed, bool(touched or registry_changed)


def _rebuild_database(config: PipelineConfig, staging: Path, run_id: str) -> None:
    """A fresh ``golden.duckdb`` and role folders (replacing the hard links, never through)."""
    manifest = read_manifest(staging)
    database = staging / VERSION_DUCKDB
    database.unlink()
    shutil.rmtree(staging / VERSION_ROLES, ignore_errors=True)
    build_duckdb(
        staging,
        database,
        run_id=run_id,
        published_at=str(manifest.get("published_at") or "1970-01-01T00:00:00+00:00"),
        memory_limit=config.warehouse.duckdb_memory_limit,
    )
    RoleArtefacts(config, staging / VERSION_ROLES).build(staging, database, run_id)


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


# --- a restored version, before it becomes readable ---------------------------------------------


class Reerased(BaseModel):
    """What a restore erased again from the version it restored, before committing it."""

    records: int = 0
    golden_ids: list[str] = []
    rows: int = 0


def _listed_record_key_hashes(path: Path) -> tuple[set[str], set[str]]:
    """Record key hashes and salt ids of every entry of a suppression list.

    A line that is not an entry is reported and skipped here rather than stopping the restore:
    the entries that are readable must still be applied (ingestion reports the line).
    """
    hashes: set[str] = set()
    salts: set[str] = set()
    if not path.exists():
        return hashes, salts
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = SuppressionEntry.model_validate_json(line)
        except ValueError:
            logger.error("%s line %d is not a suppression entry; skipped by restore", path, number)
            continue
        salts.add(entry.salt_id)
        hashes.update(entry.hashes.get("record_key", []))
    return hashes, salts


def _held_keys(staging: Path) -> set[str]:
    keys: set[str] = set()
    for path in (staging / "customer_xref.parquet", staging / VERSION_REGISTRY):
        if path.exists():
            keys |= set(pl.read_parquet(path, columns=["record_key"])["record_key"].to_list())
    keys.discard(None)  # type: ignore[arg-type]
    return keys


def _values_of_whole_customers(staging: Path, keys: pl.Series) -> frozenset[str]:
    """Identifying values of the customers removed whole, to scrub from sampled values."""
    customers = staging / "golden_customers.parquet"
    whole = golden_effects(staging, keys).whole
    if not whole or not customers.exists():
        return frozenset()
    frame = pl.read_parquet(customers).filter(pl.col("golden_id").is_in(sorted(whole)))
    values: set[str] = set()
    for column in ("email", "phone", "address_line1", "address_line2", "full_name"):
        if column in frame.columns:
            values |= {v for v in frame[column].cast(pl.String).to_list() if v}
    return frozenset(values)


def reerase_staged_version(config: PipelineConfig, staging: Path, suppression: Path) -> Reerased:
    """Erase from a prepared (not yet committed) version every record on the suppression list.

    A backup taken before an erasure brings the erased subject back; a restore calls this on
    the version it prepared, with the list merged from the warehouse, the backup and the
    bucket, so the subject is gone before anything of the version is readable. Without the
    salt the list cannot be checked: the restore stops rather than let them back in.
    """
    listed, salts = _listed_record_key_hashes(suppression)
    if not listed:
        return Reerased()
    salt = load_salt(config)
    if salts - {salt_id(salt)}:
        raise PrivacyError(
            f"the suppression list {suppression} has entries made with another salt than "
            f"{config.privacy.suppression_salt_env} holds: restore the original salt, then "
            "restore again (nothing was restored)"
        )
    held = sorted(_held_keys(staging))
    keys = {
        k for k, h in zip(held, hash_values(salt, "record_key", held), strict=True) if h in listed
    }
    if not keys:
        return Reerased()
    array = pl.Series("record_key", sorted(keys), dtype=pl.String)
    plan = ErasurePlan(frozenset(keys), _values_of_whole_customers(staging, array))
    counts = LayerCounts()
    removed, _ = _scrub_version(config, staging, plan, array, counts, set())
    logger.warning(
        "restore: erased again %d record(s) of erased subjects from the restored version",
        len(keys),
    )
    return Reerased(records=len(keys), golden_ids=counts.golden_ids, rows=removed)


def record_reerased(
    warehouse: Warehouse, run_id: str, reerased: Reerased, actor: str | None = None
) -> None:
    """The two traces every erasure leaves: a ledger entry and an ``erasure.reapplied`` event."""
    erasure_id = f"E-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{token()[:6]}"
    record_erasure(
        warehouse,
        ErasureEntry(
            erasure_id=erasure_id,
            kind="reapplied",
            at=datetime.now(UTC),
            golden_ids=reerased.golden_ids,
            records=reerased.records,
        ),
    )
    audit.record(
        warehouse.root,
        actor,
        "erasure.reapplied",
        erasure_id,
        {
            "restored_run": run_id,
            "records": reerased.records,
            "golden_ids": reerased.golden_ids,
            "published_rows": reerased.rows,
        },
        "suppressed records found in a restored backup (taken before their erasure)",
    )
