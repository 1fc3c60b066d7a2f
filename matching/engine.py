"""The Splink backend a run uses: embedded DuckDB by default, Spark for data past one machine.

Everything backend-specific lives here (connection settings, registering inputs, reading
results back); the rest of ``matching`` talks to Splink's backend-neutral API, so the same
model, training and scoring code runs on either.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from splink.internals.database_api import DatabaseAPISubClass
from splink.internals.splink_dataframe import SplinkDataFrame

from matching.config import MatchingConfig

logger = logging.getLogger(__name__)


@dataclass
class Engine:
    """One open Splink backend."""

    name: str
    db_api: DatabaseAPISubClass
    u_sampling_chunks: int = 10
    """Chunks Splink splits u estimation into. Each chunk is a query; DuckDB runs a query in
    milliseconds and gains from stopping early, Spark pays seconds of job overhead per query."""
    _registered: list[str] = field(default_factory=list)

    def register(self, frame: pl.DataFrame, dataset_name: str) -> SplinkDataFrame:
        """Hand one source's records to the backend; ``dataset_name`` becomes the
        ``source_dataset`` Splink reports for them."""
        table_name = f"input_{len(self._registered)}_{dataset_name}"
        self._registered.append(table_name)
        return self.db_api.register(
            frame.to_arrow(), dataset_display_name=dataset_name, table_name=table_name
        )

    def to_polars(self, table: SplinkDataFrame) -> pl.DataFrame:
        """Read a Splink result table back as a Polars frame (through Arrow, no row loop)."""
        result = pl.from_arrow(table.as_pyarrow_table())
        assert isinstance(result, pl.DataFrame)
        return result

    def query(self, sql: str) -> pl.DataFrame:
        """Run SQL against the backend (table names from ``SplinkDataFrame.physical_name``)."""
        table = self.db_api.query_sql(sql)
        try:
            return self.to_polars(table)
        finally:
            table.drop_table_from_database_and_remove_from_cache()


@contextmanager
def open_engine(config: MatchingConfig, work_dir: Path) -> Iterator[Engine]:
    """Open the configured backend; ``work_dir`` takes its spill files and checkpoints."""
    work_dir.mkdir(parents=True, exist_ok=True)
    if config.engine == "spark":
        with _spark(config, work_dir) as engine:
            yield engine
        return
    with _duckdb(config, work_dir) as engine:
        yield engine


@contextmanager
def _duckdb(config: MatchingConfig, work_dir: Path) -> Iterator[Engine]:
    import duckdb
    from splink import DuckDBAPI

    settings: dict[str, Any] = {
        "memory_limit": config.memory_limit,
        "threads": config.threads or os.cpu_count() or 1,
        "temp_directory": str(work_dir / "duckdb_spill"),
        # Row order of intermediate tables is irrelevant to Splink; dropping it saves memory.
        "preserve_insertion_order": False,
        # No extension is ever downloaded at run time.
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    }
    connection = duckdb.connect(":memory:", config=settings)
    try:
        # Splink's intermediate tables (blocked pairs, comparison vectors, predictions) go to
        # Parquet files in the work folder instead of DuckDB's memory: at a million records
        # they would otherwise sit in memory next to everything the run still holds.
        api = DuckDBAPI(
            connection=connection,
            materialisation="parquet",
            materialisation_dir=work_dir / "tables",
        )
        yield Engine("duckdb", api)
    finally:
        connection.close()


@contextmanager
def _spark(config: MatchingConfig, work_dir: Path) -> Iterator[Engine]:
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - pyspark is an optional extra
        raise ImportError(
            "matching.engine is 'spark' but pyspark is not installed: "
            "pip install 'golden-records[spark]'"
        ) from exc
    from splink import SparkAPI
    from splink.backends.spark import similarity_jar_location

    existing = SparkSession.getActiveSession()
    session = existing or (
        SparkSession.builder.master(config.spark_master)
        .appName("golden-records-matching")
        .config("spark.jars", similarity_jar_location())
        .config("spark.driver.memory", config.spark_driver_memory)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "4")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.ansi.enabled", "false")
        .getOrCreate()
    )
    session.sparkContext.setCheckpointDir(str(work_dir / "spark_checkpoints"))
    try:
        yield Engine(
            "spark",
            SparkAPI(
                spark_session=session,
                break_lineage_method="persist",
                num_partitions_on_repartition=4,
            ),
            u_sampling_chunks=1,
        )
    finally:
        if existing is None:
            session.stop()
