"""Publish: every table typed and documented, atomic switch, failures leave the old version."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pipelines.config import PipelineConfig
from pipelines.errors import PublishError, StageInputError
from pipelines.publish import (
    TABLES,
    current_run_id,
    publish,
    published_versions,
    read_table,
    read_tables,
    table_schema,
)
from pipelines.publish.synthetic import synthetic_config, write_synthetic_run
from pipelines.publish.versions import sha256_file
from pipelines.warehouse import Warehouse

RUN1 = "20240301T100000Z-aaaaaa"
RUN2 = "20240302T100000Z-bbbbbb"
RUN3 = "20240303T100000Z-cccccc"


def make_config(root: Path, keep_versions: int = 5) -> PipelineConfig:
    return synthetic_config(root, publish={"keep_versions": keep_versions})


@pytest.fixture
def warehouse(warehouse_dir: Path) -> Warehouse:
    return Warehouse(warehouse_dir)


def duckdb_run_id(path: Path) -> str:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.sql("select run_id from publish_info").fetchall()[0][0]


def test_publish_writes_every_table_typed_documented_and_checksummed(warehouse: Warehouse) -> None:
    expected = write_synthetic_run(warehouse, RUN1, 300)
    result = publish(make_config(warehouse.root), RUN1)

    assert result.run_id == RUN1 and result.previous_run_id is None
    assert result.version_dir == warehouse.published_version(RUN1)
    assert current_run_id(warehouse.root) == RUN1
    tables = read_tables(warehouse.root)
    assert set(tables) == set(TABLES)
    for name, table in tables.items():
        assert table.schema.equals(table_schema(name)), name
        assert result.tables[name] == table.num_rows
        on_disk = pq.read_schema(warehouse.published_version(RUN1) / f"{name}.parquet")
        assert on_disk.field(0).metadata[b"description"], f"{name} columns are documented"
    for name, rows in expected.items():
        assert result.tables[name] == rows, name
    assert result.tables["dq_results"] == 2  # two suites of one expectation each

    manifest = json.loads((result.version_dir / "manifest.json").read_text())
    assert manifest["run_id"] == RUN1
    for entry in manifest["tables"].values():
        path = result.version_dir / entry["file"]
        assert entry["sha256"] == sha256_file(path)
        assert entry["rows"] == pq.ParquetFile(path).metadata.num_rows

    assert duckdb_run_id(result.duckdb_path) == RUN1
    with duckdb.connect(str(result.duckdb_path), read_only=True) as con:
        for name in TABLES:
            assert con.sql(f"select count(*) from {name}").fetchall()[0][0] == result.tables[name]
        comment = con.sql(
            "select comment from duckdb_columns() "
            "where table_name = 'golden_customers' and column_name = 'golden_id'"
        ).fetchall()[0][0]
    assert "Stable id" in comment
    registry = warehouse.golden_dir(RUN1) / "id_registry.parquet"
    assert warehouse.id_registry.read_bytes() == registry.read_bytes()
    assert not [p for p in (warehouse.published / "versions").iterdir() if p.name.startswith(".")]


def test_a_python_reader_gets_time_zone_aware_timestamps_from_the_database(
    warehouse: Warehouse,
) -> None:
    """DuckDB hands TIMESTAMPTZ values to Python through pytz: a declared dependency."""
    write_synthetic_run(warehouse, RUN1, 20)
    result = publish(make_config(warehouse.root), RUN1)
    with duckdb.connect(str(result.duckdb_path), read_only=True) as con:
        [(first_seen,)] = con.sql("SELECT min(first_seen_at) FROM golden_customers").fetchall()
        [(published_at,)] = con.sql("SELECT published_at FROM publish_info").fetchall()
    assert first_seen.utcoffset() == published_at.utcoffset() == timedelta(0)


def test_a_golden_table_already_in_published_form_is_published_as_it_is(
    warehouse: Warehouse,
) -> None:
    write_synthetic_run(warehouse, RUN1, 80)
    golden = warehouse.golden_dir(RUN1)
    ready = pq.read_table(golden / "golden_customers.parquet").cast(
        TABLES["golden_customers"].documented_schema()
    )
    pq.write_table(ready, golden / "golden_customers.parquet", compression="zstd")

    result = publish(make_config(warehouse.root), RUN1)

    version = result.version_dir
    published = (version / "golden_customers.parquet").read_bytes()
    assert published == (golden / "golden_customers.parquet").read_bytes()
    assert result.tables["golden_customers"] == ready.num_rows
    # A golden file in any other form (no column documentation here) is conformed, not copied.
    xref = pq.read_table(version / "customer_xref.parquet")
    assert xref.schema.equals(table_schema("customer_xref"), check_metadata=True)
    assert (version / "customer_xref.parquet").read_bytes() != (
        golden / "customer_xref.parquet"
    ).read_bytes()
    assert xref.equals(pq.read_table(golden / "customer_xref.parquet").cast(xref.schema))


def test_absent_optional_inputs_publish_empty_typed_tables(warehouse: Warehouse) -> None:
    write_synthetic_run(warehouse, RUN1, 50)
    for path in (warehouse.run(RUN1) / "quarantine").iterdir():
        path.unlink()
    for path in (warehouse.run(RUN1) / "dq").iterdir():
        path.unlink()
    (warehouse.match_dir(RUN1) / "review_queue.parquet").unlink()

    result = publish(make_config(warehouse.root), RUN1)

    for name in ("quarantine", "dq_results", "match_review_queue"):
        assert result.tables[name] == 0
        table = read_table(warehouse.root, name)
        assert table.num_rows == 0 and table.schema.equals(table_schema(name))


@pytest.mark.parametrize("missing", ["golden_customers", "customer_xref", "id_registry"])
def test_missing_golden_input_is_a_stage_input_error(warehouse: Warehouse, missing: str) -> None:
    write_synthetic_run(warehouse, RUN1, 20)
    (warehouse.golden_dir(RUN1) / f"{missing}.parquet").unlink()
    with pytest.raises(StageInputError, match=f"{missing}.parquet does not exist"):
        publish(make_config(warehouse.root), RUN1)
    assert current_run_id(warehouse.root) is None


def _rewrite(path: Path, change) -> None:
    pq.write_table(change(pq.read_table(path)), path)


def _assert_still_run1(warehouse: Warehouse, registry_before: bytes) -> None:
    assert current_run_id(warehouse.root) == RUN1
    assert published_versions(warehouse.root) == [RUN1]
    assert duckdb_run_id(warehouse.duckdb_path) == RUN1
    assert warehouse.id_registry.read_bytes() == registry_before
    assert set(read_table(warehouse.root, "golden_customers")["run_id"].to_pylist()) == {RUN1}
    leftovers = [p.name for p in (warehouse.published / "versions").iterdir()]
    leftovers += [p.name for p in warehouse.root.iterdir() if p.name.startswith(".golden")]
    assert leftovers == [RUN1]


@pytest.mark.parametrize(
    ("table", "change", "message"),
    [
        pytest.param(
            "golden_customers",
            lambda t: t.drop_columns(["email"]),
            r"golden_customers\.parquet has no column\(s\) email",
            id="missing-column",
        ),
        pytest.param(
            "golden_customers",
            lambda t: t.set_column(
                t.schema.get_field_index("date_of_birth"),
                "date_of_birth",
                pa.array(["not a date"] * t.num_rows),
            ),
            r"column 'date_of_birth' holds string values that cannot be published as date32",
            id="uncastable-value",
        ),
        pytest.param(
            "golden_customers",
            lambda t: pa.concat_tables([t, t.slice(0, 1)]),
            r"table 'golden_customers' has 1 duplicated key\(s\) on \(golden_id\)",
            id="duplicate-golden-id",
        ),
        pytest.param(
            "customer_xref",
            lambda t: t.drop_columns(["record_key"]),
            r"customer_xref\.parquet has no column\(s\) record_key",
            id="xref-without-record-key",
        ),
    ],
)
def test_bad_golden_input_fails_and_leaves_the_previous_version(
    warehouse: Warehouse, table: str, change, message: str
) -> None:
    config = make_config(warehouse.root)
    write_synthetic_run(warehouse, RUN1, 40)
    publish(config, RUN1)
    registry_before = warehouse.id_registry.read_bytes()
    write_synthetic_run(warehouse, RUN2, 60, seed=2)
    _rewrite(warehouse.golden_dir(RUN2) / f"{table}.parquet", change)

    with pytest.raises(PublishError, match=message):
        publish(config, RUN2)
    _assert_still_run1(warehouse, registry_before)


def test_bad_dq_json_names_the_file_and_key(warehouse: Warehouse) -> None:
    write_synthetic_run(warehouse, RUN1, 20)
    path = warehouse.dq_result(RUN1, "crm")
    payload = json.loads(path.read_text())
    del payload["rows_in"]
    path.write_text(json.dumps(payload))
    with pytest.raises(PublishError, match=r"crm\.json has no key\(s\) rows_in"):
        publish(make_config(warehouse.root), RUN1)


def test_failure_during_the_commit_is_undone(warehouse: Warehouse) -> None:
    """The registry cannot be replaced (a folder sits there): current and DuckDB roll back."""
    config = make_config(warehouse.root)
    write_synthetic_run(warehouse, RUN1, 40)
    publish(config, RUN1)
    registry_before = warehouse.id_registry.read_bytes()
    write_synthetic_run(warehouse, RUN2, 60, seed=2)
    warehouse.id_registry.unlink()
    warehouse.id_registry.mkdir()
    (warehouse.id_registry / "blocker").write_text("x")

    with pytest.raises(PublishError, match=f"the published version is still {RUN1}"):
        publish(config, RUN2)

    (warehouse.id_registry / "blocker").unlink()
    warehouse.id_registry.rmdir()
    warehouse.id_registry.write_bytes(registry_before)
    _assert_still_run1(warehouse, registry_before)


def test_keeps_the_last_versions_readable_by_run_id(warehouse: Warehouse) -> None:
    config = make_config(warehouse.root, keep_versions=2)
    for index, run_id in enumerate((RUN1, RUN2, RUN3)):
        write_synthetic_run(warehouse, run_id, 30 + 10 * index, seed=index)
        result = publish(config, run_id)
    assert result.pruned == [RUN1]
    assert published_versions(warehouse.root) == [RUN2, RUN3]
    older = read_table(warehouse.root, "customer_xref", run_id=RUN2)
    assert older.num_rows == 40 and set(older["run_id"].to_pylist()) == {RUN2}
    assert read_table(warehouse.root, "customer_xref").num_rows == 50
    with pytest.raises(StageInputError, match=f"run {RUN1} is not a published version kept"):
        read_table(warehouse.root, "customer_xref", run_id=RUN1)
    with pytest.raises(KeyError, match="no published table named 'customers'"):
        read_table(warehouse.root, "customers")


def test_dq_results_accumulate_across_runs_and_a_rerun_replaces_its_rows(
    warehouse: Warehouse,
) -> None:
    config = make_config(warehouse.root)
    write_synthetic_run(warehouse, RUN1, 30)
    publish(config, RUN1)
    write_synthetic_run(warehouse, RUN2, 30, seed=2)
    publish(config, RUN2)
    path = warehouse.dq_result(RUN2, "crm")
    payload = json.loads(path.read_text())
    payload["rows_in"] = 999
    path.write_text(json.dumps(payload))
    publish(config, RUN2)

    dq = read_table(warehouse.root, "dq_results")
    assert dq.num_rows == 4
    assert sorted(dq["run_id"].to_pylist()) == [RUN1, RUN1, RUN2, RUN2]
    rerun = dq.filter(pc.and_(pc.equal(dq["run_id"], RUN2), pc.equal(dq["suite"], "crm")))
    assert rerun["rows_in"].to_pylist() == [999]
    assert rerun["sample_values"].to_pylist() == [[None]]


def test_rerun_of_the_current_run_replaces_it_in_place(warehouse: Warehouse) -> None:
    config = make_config(warehouse.root)
    write_synthetic_run(warehouse, RUN1, 30)
    publish(config, RUN1)
    write_synthetic_run(warehouse, RUN1, 45, seed=5)
    result = publish(config, RUN1)
    assert result.previous_run_id == RUN1
    assert read_table(warehouse.root, "customer_xref").num_rows == 45
    assert published_versions(warehouse.root) == [RUN1]
    assert not [p for p in (warehouse.published / "versions").iterdir() if p.name.startswith(".")]


def test_publishing_an_older_run_is_refused_unless_allowed(warehouse: Warehouse) -> None:
    config = make_config(warehouse.root)
    for run_id in (RUN1, RUN2):
        write_synthetic_run(warehouse, run_id, 20)
    publish(config, RUN2)
    with pytest.raises(PublishError, match=f"run {RUN1} is older than the published run {RUN2}"):
        publish(config, RUN1)
    assert current_run_id(warehouse.root) == RUN2
    publish(config, RUN1, allow_older=True)
    assert current_run_id(warehouse.root) == RUN1


def test_review_queue_missing_optional_columns_publishes_nulls_but_needs_its_keys(
    warehouse: Warehouse,
) -> None:
    config = make_config(warehouse.root)
    write_synthetic_run(warehouse, RUN1, 400)
    queue = read_table_after(config, warehouse, RUN1, "match_review_queue")
    assert queue.num_rows == 2
    assert queue["email_l"].null_count == queue.num_rows
    assert set(queue["run_id"].to_pylist()) == {RUN1}

    _rewrite(
        warehouse.match_dir(RUN1) / "review_queue.parquet",
        lambda t: t.drop_columns(["record_key_r"]),
    )
    with pytest.raises(
        PublishError, match=r"review_queue\.parquet has no column\(s\) record_key_r"
    ):
        publish(config, RUN1)


def read_table_after(config: PipelineConfig, warehouse: Warehouse, run_id: str, name: str):
    publish(config, run_id)
    return read_table(warehouse.root, name)
