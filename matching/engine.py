"""The Splink backend a run uses: embedded DuckDB by default, Spark for data past one machine.

Everything backend-specific lives here (connection settings, registering inputs, reading
results back); the rest of ``matching`` talks to Splink's backend-neutral API, so the same
model, training and scoring code runs on either.

Inputs are handed over as Parquet files the backend reads. On DuckDB that keeps the records
from being held a second time, as Arrow, for the whole stage. On Spark, records never pass
through the driver: the executors read the files, Splink's intermediate tables are written
to Parquet (``break_lineage_method`` ``parquet``) instead of being cached, and results come
back as Parquet files Polars reads.
Going through the driver is what made the Spark path fail on one machine: a frame registered
from Arrow becomes a ``LocalRelation`` whose rows live on the driver heap inside every query
plan built on it, and Splink's ``persist`` lineage breaking never releases a cached table
(its drop is a no-op for that method), so the heap filled up with copies of the records and
every query re-planned the whole lineage. ``docs/scaling.md`` has the measurements.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import count
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
    exchange_dir: Path
    """Where frames handed to the backend are written as Parquet files it reads: on DuckDB,
    so the records are not held a second time in memory as Arrow for the whole stage (DuckDB
    scans the files, within its memory limit); on Spark, so they never pass through the
    driver, and Spark's results come back the same way."""
    u_sampling_chunks: int = 10
    """Chunks Splink splits u estimation into. Each chunk is a query; a backend stops after the
    chunk in which every level has been seen often enough, so more chunks mean less work when
    levels are common and a few more queries when they are rare."""
    _registered: list[str] = field(default_factory=list)
    _exchanged: Iterator[int] = field(default_factory=count)

    def register(
        self, frame: pl.DataFrame, dataset_name: str | None = None, *, table_name: str = ""
    ) -> SplinkDataFrame:
        """Hand a frame to the backend. ``dataset_name`` becomes the ``source_dataset`` Splink
        reports for an input's records; ``table_name`` names a helper table instead."""
        if not table_name:
            table_name = f"input_{len(self._registered)}_{dataset_name or 'table'}"
        path = self.exchange_dir / f"in-{next(self._exchanged)}-{table_name}.parquet"
        # lz4: read back a few times within the stage, kept only until it ends.
        frame.write_parquet(path, compression="lz4")
        return self.register_file(path, table_name, dataset_name)

    def register_file(
        self, path: Path, table_name: str, dataset_name: str | None = None
    ) -> SplinkDataFrame:
        """A Parquet file (one :meth:`register` wrote, or another engine: DuckDB in the driver,
        for a Spark run) as a table of this backend; it is read where it lies, not loaded."""
        self._registered.append(table_name)
        return self.db_api.register(
            self._read_parquet(path), dataset_display_name=dataset_name, table_name=table_name
        )

    def scratch_folder(self, prefix: str) -> Path:
        """A new folder for files the stage writes and reads back while the engine is open."""
        # A name of its own even where a crashed run left its folders in a reused work dir.
        return Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=self.exchange_dir))

    def to_polars(self, table: SplinkDataFrame) -> pl.DataFrame:
        """Read a Splink result table back as a Polars frame: through Arrow in-process
        (DuckDB), or as Parquet files the executors write (Spark), so the rows never collect
        on the driver."""
        if self.name != "spark":
            result = pl.from_arrow(table.as_pyarrow_table())
            assert isinstance(result, pl.DataFrame)
            return result
        return self._spark_collect(table)

    def query(self, sql: str) -> pl.DataFrame:
        """Run SQL against the backend (table names from ``SplinkDataFrame.physical_name``)."""
        table = self.db_api.query_sql(sql)
        try:
            return self.to_polars(table)
        finally:
            table.drop_table_from_database_and_remove_from_cache()

    def _read_parquet(self, path: Path) -> Any:
        """The backend's lazy reader of one Parquet file (a relation, or a Spark frame)."""
        if self.name == "spark":
            return self.db_api.spark.read.parquet(path.as_uri())  # type: ignore[attr-defined]
        return self.db_api.duckdb_con.read_parquet(str(path))  # type: ignore[attr-defined]

    def _spark_collect(self, table: SplinkDataFrame) -> pl.DataFrame:
        path = self.exchange_dir / f"out-{next(self._exchanged)}-{table.physical_name}"
        spark_df = self.db_api.spark.table(table.physical_name)  # type: ignore[attr-defined]
        spark_df.write.mode("overwrite").parquet(path.as_uri())
        try:
            parts = sorted(path.glob("*.parquet"))
            if not parts:
                # No rows and no file to carry the schema: take it from Arrow (nothing to move).
                result = pl.from_arrow(spark_df.limit(0).toArrow())
                assert isinstance(result, pl.DataFrame)
                return result
            return pl.read_parquet(parts)
        finally:
            shutil.rmtree(path, ignore_errors=True)


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
        exchange = work_dir / "exchange"
        exchange.mkdir(parents=True, exist_ok=True)
        yield Engine("duckdb", api, exchange_dir=exchange)
    finally:
        connection.close()


def local_cores(master: str) -> int | None:
    """Cores of a ``local``/``local[N]``/``local[*]`` master (None for a cluster master)."""
    if master == "local":
        return 1
    if not master.startswith("local["):
        return None
    inside = master[len("local[") :].split("]")[0].split(",")[0]
    if inside == "*":
        return os.cpu_count() or 1
    try:
        return max(1, int(inside))
    except ValueError:
        return None


def spark_settings(config: MatchingConfig, work_dir: Path) -> dict[str, str]:
    """The Spark configuration a new session gets.

    Only what the job needs everywhere (Splink's similarity functions, UTC) plus, on a local
    master, what fits one small machine. Against a cluster everything else (executor memory
    and cores, shuffle partitions, dynamic allocation) is left to ``spark-defaults.conf``
    and ``spark-submit``, where a cluster's operators keep it. ``matching.spark_conf`` comes
    last and wins.
    """
    from splink.backends.spark import similarity_jar_location

    settings = {
        # Splink's jaro_winkler, damerau_levenshtein etc. as JVM functions, from the jar in the
        # splink wheel: nothing is fetched from Maven at run time.
        "spark.jars": similarity_jar_location(),
        "spark.driver.memory": config.spark_driver_memory,
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.ansi.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
    }
    cores = local_cores(config.spark_master)
    if cores is not None:
        partitions = str(2 * cores)
        settings |= {
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.ui.enabled": "false",
            # The default of 200 shuffle partitions means 200 tiny tasks per shuffle on a
            # machine that runs two at a time.
            "spark.sql.shuffle.partitions": partitions,
            "spark.default.parallelism": partitions,
            # Shuffle and spill files in the run's work folder, removed with it.
            "spark.local.dir": str(work_dir / "spark_local"),
        }
    return settings | {key: str(value) for key, value in config.spark_conf.items()}


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

    existing = SparkSession.getActiveSession()
    if existing is None:
        builder = SparkSession.builder.master(config.spark_master).appName(
            "golden-records-matching"
        )
        for key, value in spark_settings(config, work_dir).items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
    else:
        session = existing
    session.sparkContext.setCheckpointDir((work_dir / "spark_checkpoints").as_uri())
    exchange = work_dir / "spark_exchange"
    exchange.mkdir(parents=True, exist_ok=True)
    cores = local_cores(session.sparkContext.master)
    try:
        yield Engine(
            "spark",
            SparkAPI(
                spark_session=session,
                # Each intermediate table Splink would cache is written to Parquet under the
                # checkpoint folder and read back: the plan of every later query starts at
                # those files instead of re-deriving the lineage, and nothing accumulates on
                # the heap (Splink never unpersists a cached table).
                break_lineage_method="parquet",
                # None: Splink derives it from spark.sql.shuffle.partitions (a cluster's).
                num_partitions_on_repartition=2 * cores if cores else None,
            ),
            exchange_dir=exchange,
            u_sampling_chunks=10,
        )
    finally:
        if existing is None:
            session.stop()
