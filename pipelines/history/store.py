"""The history a run builds on: the three history tables the previous publish carried.

Each published version carries the whole history (never only its own run's), so history
outlives ``publish.keep_versions`` and a restored version brings its history with it. A run
builds on the tables of the run that published the id registry it continues (its ``golden/``
folder, which publish copied as they are; erasure rewrites both alike), else on the current
published version. A version published before the history tables existed seeds the history
with one version per customer it published, valid from the run that published it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import polars as pl

from pipelines.errors import StageInputError
from pipelines.history.timeline import History, conform, run_time
from pipelines.publish.reader import current_run_id, read_tables
from pipelines.publish.versions import resolve_version
from pipelines.schema import GOLDEN_FIELDS
from pipelines.warehouse import Warehouse

logger = logging.getLogger(__name__)

HISTORY_TABLES = ("golden_customers_history", "golden_events", "golden_id_aliases")


def _read(path: Path, table: str) -> pl.DataFrame:
    try:
        return conform(pl.read_parquet(path), table)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear error
        raise StageInputError(
            f"{path} is not a readable {table} table ({exc}); restore it from a backup or "
            "rebuild the run that wrote it"
        ) from None


def load_previous(warehouse: Warehouse, previous_run: str | None) -> History:
    """The history tables the run continuing ``previous_run``'s registry builds on."""
    if previous_run is not None:
        folder = warehouse.golden_dir(previous_run)
        paths = [folder / f"{name}.parquet" for name in HISTORY_TABLES]
        if all(p.exists() for p in paths):
            return History(*(_read(p, n) for p, n in zip(paths, HISTORY_TABLES, strict=True)))
    return load_published(warehouse.root, seed_from=previous_run)


def load_published(root: Path, seed_from: str | None = None) -> History:
    """The history tables of the current published version (empty when none is published)."""
    run = current_run_id(root)
    if run is None:
        if seed_from is not None:
            return _seed(Warehouse(root).golden_dir(seed_from), seed_from)
        return History.empty()
    try:
        tables = read_tables(root, HISTORY_TABLES, run)
    except StageInputError:
        return _seed(resolve_version(Warehouse(root), run), run)
    frames = {name: pl.from_arrow(tables[name]) for name in HISTORY_TABLES}
    return History(*(conform(f, n) for n, f in frames.items() if isinstance(f, pl.DataFrame)))


def _seed(folder: Path, run: str) -> History:
    """History from golden tables written before the history tables existed."""
    path = folder / "golden_customers.parquet"
    if not path.exists():
        return History.empty()
    logger.info("%s has no history tables beside it: seeding the history from it", path)
    golden = pl.read_parquet(path)
    fields = [f for f in GOLDEN_FIELDS if f in golden.columns]
    published_by = pl.col("run_id") if "run_id" in golden.columns else pl.lit(run)
    seeded = golden.select(
        "golden_id",
        *fields,
        pl.lit(1, pl.Int64).alias("version"),
        published_by.fill_null(run).alias("valid_from_run"),
        pl.lit(run_time(run)).cast(pl.Datetime("us", "UTC")).alias("valid_from"),
        pl.lit("created").alias("opened_by"),
    )
    empty = History.empty()
    return History(
        conform(seeded, "golden_customers_history").sort("golden_id"),
        empty.events,
        empty.aliases,
    )
