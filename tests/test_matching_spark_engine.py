"""The Spark engine: how the session is configured, and that records and results cross between
Polars and Spark as Parquet files rather than through the driver's heap.

The configuration tests need only the pyspark package; the others start PySpark in local mode
(Java required) once for the module.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

pytest.importorskip("pyspark")

from matching.config import MatchingConfig
from matching.engine import Engine, local_cores, open_engine, spark_settings

pytestmark = pytest.mark.spark


@pytest.mark.parametrize(
    ("master", "cores"),
    [("local", 1), ("local[2]", 2), ("local[3,2]", 3), ("spark://head:7077", None), ("yarn", None)],
)
def test_local_masters_give_their_core_count_and_cluster_masters_none(
    master: str, cores: int | None
) -> None:
    assert local_cores(master) == cores


def test_local_star_counts_the_machines_cores() -> None:
    import os

    assert local_cores("local[*]") == (os.cpu_count() or 1)


def test_a_local_master_gets_few_shuffle_partitions_and_loopback_addresses(
    tmp_path: Path,
) -> None:
    settings = spark_settings(MatchingConfig(engine="spark", spark_master="local[2]"), tmp_path)
    assert settings["spark.sql.shuffle.partitions"] == "4"
    assert settings["spark.default.parallelism"] == "4"
    assert settings["spark.driver.bindAddress"] == "127.0.0.1"
    assert settings["spark.local.dir"] == str(tmp_path / "spark_local")


def test_configured_spark_settings_are_applied_last_and_win(tmp_path: Path) -> None:
    config = MatchingConfig(
        engine="spark",
        spark_master="local[2]",
        spark_conf={
            "spark.sql.shuffle.partitions": 16,  # as YAML gives it
            "spark.executor.memory": "8g",
            "spark.sql.adaptive.enabled": True,
        },
    )
    settings = spark_settings(config, tmp_path)
    assert settings["spark.sql.shuffle.partitions"] == "16"
    assert settings["spark.sql.adaptive.enabled"] == "true"
    assert settings["spark.executor.memory"] == "8g"
    assert settings["spark.default.parallelism"] == "4"


def test_a_spark_setting_without_the_spark_prefix_is_refused() -> None:
    with pytest.raises(ValueError, match=r"start with 'spark\.'"):
        MatchingConfig(engine="spark", spark_conf={"executor.memory": "8g"})


def test_a_cluster_master_keeps_the_clusters_own_sizing(tmp_path: Path) -> None:
    """Executor memory, partitions and addresses belong to spark-defaults.conf on a cluster:
    the session must not override them with one laptop's values."""
    settings = spark_settings(
        MatchingConfig(engine="spark", spark_master="spark://head:7077"), tmp_path
    )
    for key in (
        "spark.sql.shuffle.partitions",
        "spark.default.parallelism",
        "spark.driver.bindAddress",
        "spark.driver.host",
        "spark.local.dir",
    ):
        assert key not in settings, key
    assert settings["spark.driver.memory"] == "2g"


def test_the_similarity_functions_come_from_the_jar_in_the_splink_wheel(tmp_path: Path) -> None:
    import splink

    jar = Path(spark_settings(MatchingConfig(engine="spark"), tmp_path)["spark.jars"])
    assert jar.is_file()
    assert jar.suffix == ".jar"
    assert jar.is_relative_to(Path(splink.__file__).parent)


# --- with a running local Spark --------------------------------------------------------------


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    if shutil.which("java") is None:
        from conftest import skip_or_fail

        skip_or_fail("Java is not installed; PySpark local mode needs it")
    work = tmp_path_factory.mktemp("spark-engine")
    with open_engine(MatchingConfig(engine="spark"), work) as opened:
        yield opened


def _records() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "record_key": ["crm:1", "crm:2", "crm:3"],
            "first_name": ["martha", None, "dwayne"],
            "score": [1.5, None, -2.0],
            "visits": [3, 0, None],
        },
        schema={
            "record_key": pl.String,
            "first_name": pl.String,
            "score": pl.Float64,
            "visits": pl.Int64,
        },
    )


def _plan(engine: Engine, table_name: str) -> str:
    spark = engine.db_api.spark  # type: ignore[attr-defined]
    return str(spark.table(table_name)._jdf.queryExecution().analyzed().toString())


def test_registered_records_are_read_from_parquet_not_held_by_the_driver(engine: Engine) -> None:
    """A frame handed over through Arrow becomes a LocalRelation: its rows live on the driver
    heap inside every plan built on it, which is what exhausted the heap at 100,000 records."""
    table = engine.register(_records(), "crm")
    plan = _plan(engine, table.physical_name)
    assert "LocalRelation" not in plan
    assert "parquet" in plan.lower()
    assert engine.query(f"SELECT count(*) AS n FROM {table.physical_name}")["n"][0] == 3


def test_results_come_back_with_their_rows_types_and_nulls(engine: Engine) -> None:
    table = engine.register(_records(), table_name="roundtrip")
    back = engine.query(f"SELECT * FROM {table.physical_name}").sort("record_key")
    assert back.schema == _records().schema
    assert back.equals(_records())


def test_an_empty_result_keeps_its_columns(engine: Engine) -> None:
    table = engine.register(_records(), table_name="empty_source")
    back = engine.query(f"SELECT record_key, score FROM {table.physical_name} WHERE visits > 99")
    assert back.height == 0
    assert back.schema == pl.Schema({"record_key": pl.String, "score": pl.Float64})


def test_splinks_similarity_functions_run_in_the_jvm(engine: Engine) -> None:
    """jaro_winkler and damerau_levenshtein are the Scala UDFs of the splink jar (a Python UDF
    would ship every pair to a Python worker)."""
    table = engine.register(_records(), table_name="names")
    spark = engine.db_api.spark  # type: ignore[attr-defined]
    sql = f"SELECT jaro_winkler(first_name, 'marhta') AS jw FROM {table.physical_name}"
    plan = str(spark.sql(sql)._jdf.queryExecution().executedPlan().toString())
    assert "EvalPython" not in plan
    assert "jaro_winkler" in plan
    scores = engine.query(
        "SELECT jaro_winkler('martha', 'marhta') AS jw, "
        "damerau_levenshtein('martha', 'marhta') AS dl"
    )
    assert scores["jw"][0] == pytest.approx(0.9611, abs=1e-4)
    assert scores["dl"][0] == 1


def test_splinks_intermediate_tables_go_to_parquet_in_the_work_folder(engine: Engine) -> None:
    """Splink's ``persist`` lineage breaking caches tables it never releases; ``parquet``
    writes them to the checkpoint folder and reads them back, so nothing piles up on the heap
    and no later query re-plans their lineage."""
    from splink import Linker, SettingsCreator, block_on
    from splink import comparison_library as cl

    frame = pl.DataFrame(
        {
            "record_key": [f"k{i}" for i in range(40)],
            "first_name": [["ann", "anne", "bob", "rob"][i % 4] for i in range(40)],
            "city": [["leeds", "york"][i % 2] for i in range(40)],
        }
    )
    table = engine.register(frame, "crm")
    linker = Linker(
        table,
        SettingsCreator(
            link_type="dedupe_only",
            unique_id_column_name="record_key",
            comparisons=[cl.JaroWinklerAtThresholds("first_name", [0.9]), cl.ExactMatch("city")],
            blocking_rules_to_generate_predictions=[block_on("city")],
        ),
        log_level=None,
    )
    predictions = linker.inference.predict()
    assert engine.to_polars(predictions).height == 2 * (20 * 19 // 2)
    assert "LocalRelation" not in _plan(engine, predictions.physical_name)
    checkpoints = Path(engine.db_api.spark._jsc.sc().getCheckpointDir().get().removeprefix("file:"))  # type: ignore[attr-defined]
    assert any(p.name.startswith("__splink__df_predict") for p in checkpoints.iterdir())
