"""Database sources on real PostgreSQL and MariaDB (issue 24): the look-back window catches late
commits, a reconciliation by id finds rows behind the watermark and deleted ids, soft-delete
flags and tombstone tables delete, a mass deletion trips the gate, and the incremental chain
equals a fresh full load."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from pipelines.config import PipelineConfig, load_config
from pipelines.ingest import IngestResult, ingest_source

ROWS = [
    (1, "Ann", "ann@x.com", "2024-01-01 10:00:00", False),
    (2, "Bo", "bo@x.com", "2024-01-02 10:00:00", False),
    (3, "Cy", "cy@x.com", "2024-01-03 10:00:00", False),
    (4, "Di", "di@x.com", "2024-01-04 10:00:00", False),
]


@dataclass
class Db:
    kind: str
    table: str
    tombstones: str
    run: Callable[..., None]
    connection: dict[str, Any]

    def insert(self, *rows: tuple[int, str, str, str, bool]) -> None:
        values = ", ".join(
            f"({i}, '{n}', '{e}', '{c}', {'TRUE' if d else 'FALSE'})" for i, n, e, c, d in rows
        )
        self.run(f"INSERT INTO {self.table} VALUES {values}")

    def config(self, tmp_path: Path, name: str = "pipeline.yaml", **source: Any) -> PipelineConfig:
        database = {**self.connection, "table": self.table, **source.pop("database", {})}
        spec = {
            "name": "crm",
            "kind": self.kind,
            "database": database,
            "id_column": "id",
            "updated_at_column": "changed",
            "mapping": {"first_name": "name", "email": "email"},
            **source,
        }
        path = tmp_path / name
        wh = "wh" if name == "pipeline.yaml" else f"wh_{Path(name).stem}"
        path.write_text(yaml.safe_dump({"warehouse": {"path": wh}, "sources": [spec]}))
        return load_config(path)


def _postgres(dsn: str) -> Callable[..., None]:
    def run(*statements: str) -> None:
        import psycopg

        with psycopg.connect(dsn, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)  # type: ignore[arg-type]

    return run


def _mariadb(params: dict[str, object]) -> Callable[..., None]:
    def run(*statements: str) -> None:
        import pymysql

        conn = pymysql.connect(**params, autocommit=True, charset="utf8mb4")  # type: ignore[arg-type]
        try:
            with conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
        finally:
            conn.close()

    return run


@pytest.fixture(
    params=[
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mariadb),
    ]
)
def db(request: pytest.FixtureRequest) -> Iterator[Db]:
    name = f"changes_{uuid.uuid4().hex[:10]}"
    if request.param == "postgres":
        run = _postgres(request.getfixturevalue("postgres_dsn"))
        connection = {"host": "127.0.0.1", "port": 5432, "database": "test", "user": "postgres"}
        text, stamp, flag = "text", "timestamp", "boolean"
    else:
        params = request.getfixturevalue("mariadb_params")
        run = _mariadb(params)
        connection = {"host": "127.0.0.1", "port": 3306, "database": "test", "user": "root"}
        text, stamp, flag = "VARCHAR(100)", "DATETIME", "BOOLEAN"
    run(
        f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, name {text}, email {text}, "
        f"changed {stamp}, deleted {flag})",
        f"CREATE TABLE {name}_gone (id INTEGER PRIMARY KEY)",
    )
    handle = Db(request.param, name, f"{name}_gone", run, connection)
    handle.insert(*ROWS)
    yield handle
    run(f"DROP TABLE IF EXISTS {name}", f"DROP TABLE IF EXISTS {name}_gone")


def ids(result: IngestResult) -> list[int]:
    return sorted(int(i) for i in pl.read_parquet(result.current_path)["id"])


def records(result: IngestResult) -> pl.DataFrame:
    frame = pl.read_parquet(result.current_path).drop("batch_id", "ingested_at")
    return frame.sort(pl.col("id").cast(pl.Int64))


def test_a_late_commit_inside_the_look_back_window_is_loaded(db: Db, tmp_path: Path) -> None:
    config = db.config(tmp_path)
    ingest_source(config, "run1", "crm")  # watermark: 2024-01-04 10:00
    db.insert((5, "Ed", "ed@x.com", "2024-01-04 09:30:00", False))  # committed late

    second = ingest_source(config, "run2", "crm")

    assert ids(second) == [1, 2, 3, 4, 5]
    assert (second.rows_landed, second.rows_unchanged) == (1, 1)  # id 4 re-read, unchanged
    assert (second.records_new, second.new_behind_watermark) == (1, 1)


def test_reconciliation_loads_old_rows_and_retires_deleted_ids(db: Db, tmp_path: Path) -> None:
    config = db.config(tmp_path)
    ingest_source(config, "run1", "crm")
    db.insert((6, "Old", "old@x.com", "2019-05-01 00:00:00", False))  # restored from a backup
    db.run(f"DELETE FROM {db.table} WHERE id = 2")

    plain = ingest_source(config, "run2", "crm")  # the watermark alone sees neither
    assert ids(plain) == [1, 2, 3, 4] and plain.deleted_at_source == 0

    found = ingest_source(config, "run3", "crm", reconcile=True)

    assert ids(found) == [1, 3, 4, 6]
    assert found.reconciled_ids
    assert (found.new_behind_watermark, found.deleted_at_source, found.retired) == (1, 1, 1)
    fresh = ingest_source(db.config(tmp_path, "fresh.yaml"), "run9", "crm")
    assert records(found).equals(records(fresh))


def test_review_queues_ids_deleted_in_the_database(db: Db, tmp_path: Path) -> None:
    config = db.config(tmp_path, deletions={"action": "review"})
    ingest_source(config, "run1", "crm")
    db.run(f"DELETE FROM {db.table} WHERE id IN (1, 3)")

    found = ingest_source(config, "run2", "crm", reconcile=True)
    assert (found.queued_for_review, found.retired, ids(found)) == (2, 0, [1, 2, 3, 4])

    confirmed = ingest_source(config, "run3", "crm", confirm_deletions=True)
    assert (confirmed.retired, ids(confirmed)) == (2, [2, 4])


def test_soft_delete_flags_and_tombstones_retire_records(db: Db, tmp_path: Path) -> None:
    config = db.config(
        tmp_path,
        database={"tombstone_table": db.tombstones},
        deletions={"flag_column": "deleted"},
    )
    ingest_source(config, "run1", "crm")
    db.run(
        f"UPDATE {db.table} SET deleted = TRUE, changed = '2024-02-01 00:00:00' WHERE id = 1",
        f"DELETE FROM {db.table} WHERE id = 2",
        f"INSERT INTO {db.tombstones} VALUES (2)",
    )

    second = ingest_source(config, "run2", "crm")

    assert ids(second) == [3, 4]
    assert (second.rows_flagged_deleted, second.deleted_at_source, second.retired) == (1, 2, 2)
    # The cheap id pass applies the flag too: a flagged row is not "behind the watermark".
    again = ingest_source(config, "run3", "crm", reconcile=True)
    assert (again.records_new, again.deleted_at_source, ids(again)) == (0, 0, [3, 4])


def test_a_mass_deletion_found_by_reconciliation_trips_the_gate(db: Db, tmp_path: Path) -> None:
    from pipelines.errors import ValidationGateError
    from pipelines.validate import check_gate, validate_source
    from pipelines.warehouse import Warehouse

    config = db.config(tmp_path)
    ingest_source(config, "run1", "crm")
    validate_source(config, "run1", "crm")
    Warehouse(config.warehouse.path).published_version("run1").mkdir(parents=True)
    db.run(f"DELETE FROM {db.table} WHERE id IN (2, 3)")

    ingest_source(config, "run2", "crm", reconcile=True)
    validate_source(config, "run2", "crm")

    with pytest.raises(ValidationGateError, match=r"2 of the 4 records of run run1 \(50\.0%\)"):
        check_gate(config, "run2")


def test_the_maintenance_request_makes_the_next_ingest_reconcile(db: Db, tmp_path: Path) -> None:
    from pipelines.ingest.reconcile import reconcile_due, request_reconcile

    config = db.config(tmp_path)
    assert reconcile_due(config, 7) == []  # nothing ingested yet: nothing to reconcile
    ingest_source(config, "run1", "crm")
    assert reconcile_due(config, 7) == ["crm"]
    request_reconcile(config, reconcile_due(config, 7))
    db.run(f"DELETE FROM {db.table} WHERE id = 4")

    asked = ingest_source(config, "run2", "crm")
    assert asked.reconciled_ids and asked.retired == 1
    assert reconcile_due(config, 7) == []
    assert not ingest_source(config, "run3", "crm").reconciled_ids  # the request was used


def test_the_maintenance_task_counts_what_the_next_ingest_applies(db: Db, tmp_path: Path) -> None:
    from pipelines.ingest.reconcile import reconcile_database_sources

    config = db.config(tmp_path, database={"reconcile_every_days": 7})
    ingest_source(config, "run1", "crm")
    db.insert((7, "Gus", "gus@x.com", "2018-01-01 00:00:00", False))
    db.run(f"DELETE FROM {db.table} WHERE id = 1")

    assert reconcile_database_sources(config) == {"crm": {"behind": 1, "deleted": 1}}
    applied = ingest_source(config, "run2", "crm")
    assert (applied.new_behind_watermark, applied.retired, ids(applied)) == (1, 1, [2, 3, 4, 7])
    assert reconcile_database_sources(config) == {}  # reconciled just now: not due


def test_a_run_stage_passes_reconcile_to_ingest(db: Db, tmp_path: Path) -> None:
    from pipelines.orchestrate import run_stage

    config = db.config(tmp_path)
    run_stage("ingest", config, "run1", source="crm")
    db.run(f"DELETE FROM {db.table} WHERE id = 3")
    result = run_stage("ingest", config, "run2", source="crm", reconcile=True)
    assert result["reconciled_ids"] and result["retired"] == 1


def test_a_rerun_of_a_reconciled_run_reconciles_again(db: Db, tmp_path: Path) -> None:
    from pipelines.ingest.reconcile import request_reconcile

    config = db.config(tmp_path)
    ingest_source(config, "run1", "crm")
    db.insert((8, "Hal", "hal@x.com", "2017-01-01 00:00:00", False))
    request_reconcile(config, ["crm"])
    first = ingest_source(config, "run2", "crm")
    # A retry of the same run (an Airflow task retried) lands the same batch again.
    again = ingest_source(config, "run2", "crm")
    assert first.reconciled_ids and again.reconciled_ids and again.reused_batch
    assert ids(again) == ids(first) == [1, 2, 3, 4, 8]


def test_a_table_read_in_full_is_a_snapshot(db: Db, tmp_path: Path) -> None:
    config = db.config(tmp_path, updated_at_column=None, deletions={"action": "review"})
    ingest_source(config, "run1", "crm")
    db.run(f"DELETE FROM {db.table} WHERE id = 1")

    second = ingest_source(config, "run2", "crm")

    assert (second.deleted_at_source, second.queued_for_review, ids(second)) == (1, 1, [1, 2, 3, 4])
