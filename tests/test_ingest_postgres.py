"""PostgreSQL sources against the real server on loopback: batches, types, watermarks in SQL."""

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
from pipelines.errors import SchemaDriftError, SourceError
from pipelines.ingest import ingest_source

pytestmark = pytest.mark.postgres


@pytest.fixture
def table(postgres_dsn: str) -> Iterator[str]:
    import psycopg

    name = f"ingest_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(
            f"""CREATE TABLE {name} (
                id integer PRIMARY KEY,
                first_name text,
                email text,
                born date,
                balance numeric(10, 2),
                active boolean,
                prefs jsonb,
                changed timestamptz,
                changed_local timestamp
            )"""
        )
        conn.execute(
            f"""INSERT INTO {name} VALUES
            (1, 'Zoë', 'z@x.com', '1980-02-29', 10.50, true, '{{"news": false}}',
             '2024-01-01 10:00+00', '2024-01-01 11:00'),
            (2, 'Bo', NULL, NULL, NULL, false, NULL,
             '2024-01-02 10:00+00', '2024-01-02 11:00'),
            (3, 'Cy', 'c@y.org', '1975-12-01', 0.00, NULL, '[1, 2]',
             '2024-01-03 10:00+00', '2024-01-03 11:00'),
            (4, 'Di', 'd@x.com', NULL, -3.25, true, NULL,
             '2024-01-04 10:00+00', '2024-01-04 11:00'),
            (5, 'Ed', 'e@x.com', NULL, NULL, true, NULL,
             '2024-01-05 10:00+00', '2024-01-05 11:00')"""
        )
    yield name
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {name}")


def execute(dsn: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(statement)


def make_config(tmp_path: Path, database: dict[str, Any], **source: Any) -> PipelineConfig:
    spec = {
        "name": "billing",
        "kind": "postgres",
        "database": {
            "host": "127.0.0.1",
            "port": 5432,
            "database": "test",
            "user": "postgres",
            **database,
        },
        "id_column": "id",
        "updated_at_column": "changed",
        "mapping": {"first_name": "first_name", "email": "email"},
        **source,
    }
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump({"warehouse": {"path": "wh"}, "sources": [spec]}))
    return load_config(path)


def test_table_is_read_in_batches_with_values_as_iso_text(tmp_path: Path, table: str) -> None:
    config = make_config(tmp_path, {"table": f"public.{table}", "batch_size": 2})
    result = ingest_source(config, "run1", "billing")

    assert (result.rows_read, result.rows_landed, result.rows_rejected) == (5, 5, 0)
    assert len(list(Path(result.raw_path).glob("part-*.parquet"))) == 3  # 2 + 2 + 1 rows
    df = pl.read_parquet(result.current_path).sort("source_record_id")
    first = df.row(0, named=True)
    assert first["record_key"] == "billing:1"
    assert first["first_name"] == "Zoë"
    assert first["born"] == "1980-02-29"
    assert first["balance"] == "10.50"
    assert first["active"] == "true"
    assert first["prefs"] == '{"news": false}'
    assert first["changed"] == "2024-01-01T10:00:00+00:00"
    assert first["changed_local"] == "2024-01-01T11:00:00"
    assert first["source_updated_at"] == datetime(2024, 1, 1, 10, tzinfo=UTC)
    assert df["email"].to_list()[1] is None
    assert result.origins == [f"postgres://127.0.0.1:5432/test/public.{table}"]
    assert result.watermark_after == datetime(2024, 1, 5, 10, tzinfo=UTC)


def test_incremental_load_asks_the_server_only_for_changed_rows(
    tmp_path: Path, table: str, postgres_dsn: str
) -> None:
    config = make_config(tmp_path, {"table": table})
    ingest_source(config, "run1", "billing")
    execute(
        postgres_dsn,
        f"""UPDATE {table} SET email = 'bo@new.com', changed = '2024-02-01 00:00+00' WHERE id = 2;
            INSERT INTO {table} (id, first_name, email, changed)
            VALUES (6, 'Fay', 'f@x.com', '2024-02-02 00:00+00')""",
    )
    second = ingest_source(config, "run2", "billing")

    # Databases filter in SQL: only the two changed rows and the one inside the look-back
    # window (recognised unchanged by its hash) ever reach Python.
    assert (second.rows_read, second.rows_landed, second.rows_unchanged) == (2, 2, 1)
    df = pl.read_parquet(second.current_path).sort(pl.col("id").cast(pl.Int32))
    assert df["id"].to_list() == ["1", "2", "3", "4", "5", "6"]
    assert df["email"].to_list()[1] == "bo@new.com"
    assert df["batch_id"].to_list() == ["run1", "run2", "run1", "run1", "run1", "run2"]

    full = ingest_source(config, "run3", "billing", full_reload=True)
    assert full.rows_read == 6


def test_timestamp_without_zone_is_compared_and_read_in_the_source_zone(
    tmp_path: Path, table: str, postgres_dsn: str
) -> None:
    config = make_config(
        tmp_path,
        {"table": table, "lookback_minutes": 0},  # the comparison itself, without a window
        updated_at_column="changed_local",
        timezone="Europe/Paris",
    )
    first = ingest_source(config, "run1", "billing")
    assert first.watermark_after == datetime(2024, 1, 5, 10, tzinfo=UTC)  # 11:00 in Paris
    execute(
        postgres_dsn,
        f"""UPDATE {table} SET changed_local = '2024-01-05 11:30' WHERE id = 1;
            UPDATE {table} SET changed_local = '2024-01-05 10:59' WHERE id = 2""",
    )
    second = ingest_source(config, "run2", "billing")
    assert second.rows_read == 1
    assert pl.read_parquet(second.raw_path + "/part-*.parquet", hive_partitioning=False)[
        "id"
    ].to_list() == ["1"]


def test_query_source_with_percent_signs_and_a_watermark(tmp_path: Path, table: str) -> None:
    query = (
        f"SELECT id, first_name, email, changed FROM {table} "
        "WHERE email LIKE '%@x.com' OR email IS NULL;"
    )
    config = make_config(tmp_path, {"query": query})
    first = ingest_source(config, "run1", "billing")
    assert sorted(pl.read_parquet(first.current_path)["id"].to_list()) == ["1", "2", "4", "5"]
    assert ingest_source(config, "run2", "billing").rows_read == 0


def test_missing_mapped_column_and_bad_connection_are_clear_errors(
    tmp_path: Path, table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config(tmp_path, {"table": table}, mapping={"phone": "phone_number"})
    with pytest.raises(SchemaDriftError, match=r"source 'billing'.*column 'phone_number'"):
        ingest_source(config, "run1", "billing")

    missing_table = make_config(tmp_path, {"table": "no_such_table"})
    with pytest.raises(SourceError, match="no_such_table"):
        ingest_source(missing_table, "run1", "billing")

    monkeypatch.delenv("BILLING_DB_PASSWORD", raising=False)
    secret = make_config(tmp_path, {"table": table, "password_env": "BILLING_DB_PASSWORD"})
    with pytest.raises(SourceError, match="BILLING_DB_PASSWORD"):
        ingest_source(secret, "run1", "billing")


def test_rerun_keeps_the_batch_when_the_server_returns_the_same_rows_in_another_order(
    tmp_path: Path, table: str, postgres_dsn: str
) -> None:
    config = make_config(tmp_path, {"table": table, "batch_size": 2})
    first = ingest_source(config, "run1", "billing")
    order = pl.read_parquet(first.raw_path + "/part-*.parquet", hive_partitioning=False)["id"]
    # A no-op update writes a new row version at the end of the heap: a new scan order.
    execute(postgres_dsn, f"UPDATE {table} SET first_name = first_name WHERE id = 1")

    again = ingest_source(config, "run1", "billing")

    assert again.reused_batch
    stored = pl.read_parquet(first.raw_path + "/part-*.parquet", hive_partitioning=False)["id"]
    assert stored.to_list() == order.to_list()


def test_unix_time_update_column_gets_a_numeric_watermark(
    tmp_path: Path, postgres_dsn: str
) -> None:
    name = f"ingest_{uuid.uuid4().hex[:10]}"
    execute(
        postgres_dsn,
        f"""CREATE TABLE {name} (id text, email text, first_name text, changed_ms bigint);
            INSERT INTO {name} VALUES
            ('a', 'a@x', 'A', 1700000000000), ('b', 'b@x', 'B', 1700000000500)""",
    )
    try:
        config = make_config(
            tmp_path,
            {"table": name},
            updated_at_column="changed_ms",
            updated_at_formats=["epoch_ms"],
        )
        first = ingest_source(config, "run1", "billing")
        assert first.watermark_after == datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC)
        execute(postgres_dsn, f"UPDATE {name} SET changed_ms = 1700000001000 WHERE id = 'a'")
        second = ingest_source(config, "run2", "billing")
        assert second.rows_read == 1
    finally:
        execute(postgres_dsn, f"DROP TABLE IF EXISTS {name}")
