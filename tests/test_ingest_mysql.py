"""MySQL/MariaDB sources against the real server on loopback: streamed batches, watermarks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from pipelines.config import PipelineConfig, load_config
from pipelines.errors import SourceError
from pipelines.ingest import ingest_source

pytestmark = pytest.mark.mariadb


def execute(params: dict[str, object], *statements: str) -> None:
    import pymysql

    conn = pymysql.connect(**params, autocommit=True, charset="utf8mb4")  # type: ignore[arg-type]
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


@pytest.fixture
def table(mariadb_params: dict[str, object]) -> Iterator[str]:
    name = f"ingest_{uuid.uuid4().hex[:10]}"
    execute(
        mariadb_params,
        f"""CREATE TABLE {name} (
            id INT PRIMARY KEY,
            first_name VARCHAR(50),
            email VARCHAR(100),
            born DATE,
            balance DECIMAL(10, 2),
            photo BLOB,
            modified DATETIME(3),
            stamped TIMESTAMP NULL
        ) CHARACTER SET utf8mb4""",
        "SET time_zone = '+00:00'",
        f"""INSERT INTO {name} VALUES
            (1, 'Zoë', 'z@x.com', '1980-02-29', 10.50, NULL, '2024-01-01 11:00:00.000',
             '2024-01-01 10:00:00'),
            (2, 'Bo', NULL, NULL, NULL, X'FFD8', '2024-01-02 11:00:00.250', '2024-01-02 10:00:00'),
            (3, 'Cy', 'c@y.org', NULL, 0, NULL, '2024-01-03 11:00:00', '2024-01-03 10:00:00'),
            (4, 'Di', 'd@x.com', NULL, -3.25, NULL, '2024-01-04 11:00:00',
             '2024-01-04 10:00:00')""",
    )
    yield name
    execute(mariadb_params, f"DROP TABLE IF EXISTS {name}")


def make_config(tmp_path: Path, database: dict[str, Any], **source: Any) -> PipelineConfig:
    spec = {
        "name": "erp",
        "kind": "mysql",
        "database": {"database": "test", "user": "root", **database},
        "id_column": "id",
        "updated_at_column": "modified",
        "timezone": "Europe/Paris",
        "mapping": {"first_name": "first_name", "email": "email"},
        **source,
    }
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump({"warehouse": {"path": "wh"}, "sources": [spec]}))
    return load_config(path)


def test_table_streams_in_batches_with_values_as_text(tmp_path: Path, table: str) -> None:
    config = make_config(tmp_path, {"table": table, "batch_size": 3})
    result = ingest_source(config, "run1", "erp")
    assert (result.rows_read, result.rows_landed) == (4, 4)
    assert len(list(Path(result.raw_path).glob("part-*.parquet"))) == 2
    df = pl.read_parquet(result.current_path).sort("id")
    assert df["first_name"].to_list() == ["Zoë", "Bo", "Cy", "Di"]
    assert df["born"].to_list() == ["1980-02-29", None, None, None]
    assert df["balance"].to_list() == ["10.50", None, "0.00", "-3.25"]
    assert df["photo"].to_list()[1] == "ffd8"  # bytes that are not text, as hex
    assert df["modified"].to_list()[1] == "2024-01-02T11:00:00.250"
    # DATETIME has no zone: it is local time in the source's zone (Paris, UTC+1 in January).
    assert df["source_updated_at"].to_list()[0] == datetime(2024, 1, 1, 10, tzinfo=UTC)
    assert df["stamped"].to_list()[0] == "2024-01-01T10:00:00+00:00"  # TIMESTAMP is an instant
    assert result.origins == [f"mysql://127.0.0.1:3306/test/{table}"]


def test_incremental_load_filters_in_sql_and_changes_supersede(
    tmp_path: Path, table: str, mariadb_params: dict[str, object]
) -> None:
    # No look-back: this pins the watermark comparison itself (test_ingest_database_changes
    # covers the window).
    config = make_config(tmp_path, {"table": table, "lookback_minutes": 0})
    first = ingest_source(config, "run1", "erp")
    assert first.watermark_after == datetime(2024, 1, 4, 10, tzinfo=UTC)
    execute(
        mariadb_params,
        f"UPDATE {table} SET email = 'cy@new.org', modified = '2024-02-01 09:00' WHERE id = 3",
        f"UPDATE {table} SET email = 'same-time@x', modified = '2024-01-04 11:00' WHERE id = 1",
        f"INSERT INTO {table} (id, first_name, modified) VALUES (5, 'Ed', '2024-02-02 09:00')",
    )
    second = ingest_source(config, "run2", "erp")
    assert (second.rows_read, second.rows_unchanged) == (2, 0)
    df = pl.read_parquet(second.current_path).sort("id")
    assert df["id"].to_list() == ["1", "2", "3", "4", "5"]
    assert df["email"].to_list()[2] == "cy@new.org"
    assert df["email"].to_list()[0] == "z@x.com"  # not after the watermark: not reloaded


def test_timestamp_column_watermark_is_compared_as_an_instant(
    tmp_path: Path, table: str, mariadb_params: dict[str, object]
) -> None:
    config = make_config(
        tmp_path, {"table": table, "lookback_minutes": 0}, updated_at_column="stamped"
    )
    first = ingest_source(config, "run1", "erp")
    assert first.watermark_after == datetime(2024, 1, 4, 10, tzinfo=UTC)
    execute(
        mariadb_params,
        "SET time_zone = '+00:00'",
        f"UPDATE {table} SET stamped = '2024-01-04 10:30:00' WHERE id = 2",
        f"UPDATE {table} SET stamped = '2024-01-04 09:59:59' WHERE id = 3",
    )
    second = ingest_source(config, "run2", "erp")
    assert second.rows_read == 1
    assert second.watermark_after == datetime(2024, 1, 4, 10, 30, tzinfo=UTC)


def test_query_with_percent_signs_and_a_watermark(tmp_path: Path, table: str) -> None:
    query = f"SELECT id, first_name, email, modified FROM {table} WHERE email LIKE '%@x.com'"
    config = make_config(tmp_path, {"query": query})
    first = ingest_source(config, "run1", "erp")
    assert sorted(pl.read_parquet(first.current_path)["id"].to_list()) == ["1", "4"]
    assert ingest_source(config, "run2", "erp").rows_read == 0


def test_unreachable_server_is_a_clear_error(tmp_path: Path, table: str) -> None:
    config = make_config(tmp_path, {"table": table, "port": 1})
    with pytest.raises(
        SourceError, match=r"source 'erp': cannot connect to mysql://127\.0\.0\.1:1"
    ):
        ingest_source(config, "run1", "erp")
