"""Incremental survivorship: a run that keeps unchanged customers' survivors writes the same five
golden tables as a full build of that run, whatever changed since the previous publish."""

from __future__ import annotations

import random
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from matching.decisions import DecisionStore
from matching.ids import GoldenIdFactory
from pipelines.config import PipelineConfig
from pipelines.golden import GoldenResult, build_golden
from pipelines.golden.build import OUTPUT_FILES
from pipelines.golden.reuse import STATE_FILE
from pipelines.schema import staged_schema
from pipelines.warehouse import Warehouse

RUNS = [f"2025020{d}T000000Z-inc00{d}" for d in range(1, 6)]


def make_config(warehouse_dir: Path, survivorship: dict[str, Any] | None = None) -> PipelineConfig:
    payload: dict[str, Any] = {
        "warehouse": {"path": str(warehouse_dir)},
        "sources": [
            {
                "name": "crm",
                "kind": "file",
                "path": "crm.csv",
                "id_column": "id",
                "mapping": {"email": "e"},
            }
        ],
    }
    if survivorship is not None:
        payload["golden"] = {"survivorship": survivorship}
    return PipelineConfig.model_validate(payload)


@pytest.fixture
def config(warehouse_dir: Path) -> PipelineConfig:
    return make_config(warehouse_dir)


def record(key: str, first: str, email: str, **extra: Any) -> dict[str, Any]:
    source, record_id = key.split(":")
    row: dict[str, Any] = dict.fromkeys(staged_schema().names)
    row.update(
        record_key=key,
        source_system=source,
        source_record_id=record_id,
        batch_id="b",
        ingested_at=datetime(2025, 1, 1, tzinfo=UTC),
        trust_rank={"crm": 1, "web": 2, "shop": 3}[source],
        invalid_fields=[],
        first_name=first,
        last_name="Lee",
        email=email,
        city="Leeds",
        date_of_birth=date(1980, 1, 1),
        source_updated_at=datetime(2024, 1, int(record_id) % 28 + 1, tzinfo=UTC),
    )
    row.update(extra)
    return row


BASE = {
    "a": [record("crm:1", "Ann", "ann@x.com"), record("web:2", "Anne", "ann@y.com")],
    "b": [record("crm:3", "Bo", "bo@x.com")],
    "c": [
        record("crm:4", "Cy", "cy@x.com"),
        record("web:5", "Cy", "cy@x.com", city="York"),
        record("shop:6", "Cyrus", "cy@z.com", phone="+441130000006"),
    ],
    "d": [record("shop:7", "Di", "di@x.com")],
    "e": [record("crm:8", "Ed", "ed@x.com"), record("shop:9", "Eddie", None)],
}


def write_run(config: PipelineConfig, run_id: str, customers: dict[str, list[dict]]) -> None:
    """What the stages before golden leave: accepted records and their clusters."""
    warehouse = Warehouse(config.warehouse.path)
    rows = [row for rows in customers.values() for row in rows]
    path = warehouse.staged_accepted(run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=staged_schema()), path)
    clusters = pl.DataFrame(
        [
            (row["record_key"], f"k-{name}", 0.9 if len(rows) > 1 else None)
            for name, rows in customers.items()
            for row in rows
        ],
        schema={"record_key": pl.String, "cluster_id": pl.String, "match_probability": pl.Float64},
        orient="row",
    )
    target = warehouse.match_dir(run_id) / "clusters.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    clusters.write_parquet(target)


def build(config: PipelineConfig, run_id: str, seed: int, *, full: bool = False) -> GoldenResult:
    factory = GoldenIdFactory(rng=random.Random(seed))
    return build_golden(config, run_id, id_factory=factory, full=full)


def publish(config: PipelineConfig, run_id: str) -> None:
    warehouse = Warehouse(config.warehouse.path)
    warehouse.state.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(warehouse.golden_dir(run_id) / "id_registry.parquet", warehouse.id_registry)


def outputs(config: PipelineConfig, run_id: str) -> dict[str, pa.Table]:
    golden = Warehouse(config.warehouse.path).golden_dir(run_id)
    return {name: pq.read_table(golden / f"{name}.parquet") for name in OUTPUT_FILES}


def first_run(config: PipelineConfig, customers: dict[str, list[dict]] = BASE) -> None:
    write_run(config, RUNS[0], customers)
    build(config, RUNS[0], seed=1)
    publish(config, RUNS[0])


def golden_id_of(config: PipelineConfig, run_id: str, record_key: str) -> str:
    xref = pl.from_arrow(outputs(config, run_id)["customer_xref"])
    assert isinstance(xref, pl.DataFrame)
    return xref.filter(pl.col("record_key") == record_key)["golden_id"].item()


def assert_incremental_equals_full(
    config: PipelineConfig, run_id: str, customers: dict[str, list[dict]], seed: int = 2
) -> GoldenResult:
    """Build ``run_id`` incrementally, then fully from the same inputs: the tables must match."""
    write_run(config, run_id, customers)
    incremental = build(config, run_id, seed)
    kept = outputs(config, run_id)
    full = build(config, run_id, seed, full=True)
    assert full.path == "full"
    rebuilt = outputs(config, run_id)
    for name in OUTPUT_FILES:
        assert kept[name].schema.equals(rebuilt[name].schema, check_metadata=True), name
        assert kept[name].equals(rebuilt[name]), name
    assert incremental.golden_records == full.golden_records
    return incremental


def changed(customers: dict[str, list[dict]], **replacements: list[dict]) -> dict:
    return {**customers, **replacements}


def test_an_unchanged_run_keeps_every_customer_and_equals_a_full_build(
    config: PipelineConfig,
) -> None:
    first_run(config)
    result = assert_incremental_equals_full(config, RUNS[1], BASE)
    assert (result.path, result.reused_from) == ("incremental", RUNS[0])
    assert (result.golden_ids_reused, result.golden_ids_rebuilt) == (5, 0)
    run_ids = pl.from_arrow(outputs(config, RUNS[1])["golden_customers"])["run_id"].unique()
    assert run_ids.to_list() == [RUNS[1]]


def test_a_changed_record_rebuilds_only_its_customer(config: PipelineConfig) -> None:
    first_run(config)
    c = [*BASE["c"][:2], dict(BASE["c"][2], email="cy@new.com")]  # the newest record
    result = assert_incremental_equals_full(config, RUNS[1], changed(BASE, c=c))
    assert (result.path, result.golden_ids_reused, result.golden_ids_rebuilt) == (
        "incremental",
        4,
        1,
    )
    cy = golden_id_of(config, RUNS[1], "crm:4")
    golden = pl.from_arrow(outputs(config, RUNS[1])["golden_customers"])
    assert golden.filter(pl.col("golden_id") == cy)["email"].item() == "cy@new.com"


def test_a_newer_update_time_alone_counts_as_a_change(config: PipelineConfig) -> None:
    first_run(config)
    later = datetime(2025, 1, 9, tzinfo=UTC)
    a = [BASE["a"][0], dict(BASE["a"][1], source_updated_at=later)]
    result = assert_incremental_equals_full(config, RUNS[1], changed(BASE, a=a))
    assert result.golden_ids_rebuilt == 1


def test_a_value_flagged_invalid_counts_as_a_change(config: PipelineConfig) -> None:
    first_run(config)
    a = [dict(BASE["a"][0], invalid_fields=["email"]), BASE["a"][1]]
    result = assert_incremental_equals_full(config, RUNS[1], changed(BASE, a=a))
    assert result.golden_ids_rebuilt == 1


def test_a_record_added_to_an_existing_customer(config: PipelineConfig) -> None:
    first_run(config)
    b = [*BASE["b"], record("web:10", "Bob", "bo@x.com", city="Hull")]
    result = assert_incremental_equals_full(config, RUNS[1], changed(BASE, b=b))
    assert (result.golden_ids_reused, result.golden_ids_rebuilt) == (4, 1)


def test_a_new_customer_and_a_removed_record(config: PipelineConfig) -> None:
    first_run(config)
    customers = changed(BASE, e=BASE["e"][:1], f=[record("web:11", "Fay", "fay@x.com")])
    result = assert_incremental_equals_full(config, RUNS[1], customers)
    assert (result.golden_ids_reused, result.golden_ids_rebuilt, result.created) == (4, 2, 1)


def test_a_merge_of_two_customers(config: PipelineConfig) -> None:
    first_run(config)
    customers = {k: v for k, v in BASE.items() if k not in ("a", "d")}
    customers["ad"] = [*BASE["a"], *BASE["d"]]
    result = assert_incremental_equals_full(config, RUNS[1], customers)
    assert (result.merged, result.absorbed, result.golden_ids_reused) == (1, 1, 3)


def test_a_split_of_a_customer(config: PipelineConfig) -> None:
    first_run(config)
    customers = changed(BASE, c=BASE["c"][:2], c2=BASE["c"][2:])
    result = assert_incremental_equals_full(config, RUNS[1], customers)
    assert (result.split, result.golden_ids_reused, result.golden_ids_rebuilt) == (1, 4, 2)


def test_a_pin_added_since_the_previous_run_is_applied(config: PipelineConfig) -> None:
    first_run(config)
    ann = golden_id_of(config, RUNS[0], "crm:1")
    DecisionStore(Warehouse(config.warehouse.path).decisions).add_pin(
        ann, "email", "ann@pinned.com", "steward", "confirmed"
    )
    result = assert_incremental_equals_full(config, RUNS[1], BASE)
    assert (result.pins_applied, result.golden_ids_reused, result.golden_ids_rebuilt) == (1, 4, 1)
    golden = pl.from_arrow(outputs(config, RUNS[1])["golden_customers"])
    assert golden.filter(pl.col("golden_id") == ann)["email"].item() == "ann@pinned.com"


def test_a_pin_revoked_since_the_previous_run_is_undone(config: PipelineConfig) -> None:
    write_run(config, RUNS[0], BASE)
    build(config, RUNS[0], seed=1)
    ann = golden_id_of(config, RUNS[0], "crm:1")
    store = DecisionStore(Warehouse(config.warehouse.path).decisions)
    pin = store.add_pin(ann, "email", "ann@pinned.com", "steward", "confirmed")
    build(config, RUNS[0], seed=1)  # the pinned customer's survivors as published
    publish(config, RUNS[0])
    store.revoke(pin.decision_id, "steward", "wrong customer")

    result = assert_incremental_equals_full(config, RUNS[1], BASE)
    assert (result.pins_applied, result.golden_ids_reused, result.golden_ids_rebuilt) == (0, 4, 1)
    golden = pl.from_arrow(outputs(config, RUNS[1])["golden_customers"])
    assert golden.filter(pl.col("golden_id") == ann)["email"].item() == "ann@y.com"  # the latest


def test_changed_survivorship_settings_take_the_full_path(
    config: PipelineConfig, warehouse_dir: Path
) -> None:
    first_run(config)
    other = make_config(warehouse_dir, {"default": ["valid_first", "most_recent"]})
    result = assert_incremental_equals_full(other, RUNS[1], BASE)
    assert result.path == "full"
    assert result.full_reason is not None and "settings" in result.full_reason


def test_a_missing_previous_state_takes_the_full_path(config: PipelineConfig) -> None:
    first_run(config)
    shutil.rmtree(Warehouse(config.warehouse.path).golden_state(RUNS[0]))
    result = assert_incremental_equals_full(config, RUNS[1], BASE)
    assert result.path == "full"
    assert result.full_reason is not None and "no golden state" in result.full_reason


def test_a_corrupt_previous_state_takes_the_full_path(config: PipelineConfig) -> None:
    first_run(config)
    (Warehouse(config.warehouse.path).golden_state(RUNS[0]) / STATE_FILE).write_bytes(b"PAR1junk")
    result = assert_incremental_equals_full(config, RUNS[1], BASE)
    assert result.path == "full"
    assert result.full_reason is not None and "unreadable" in result.full_reason


def test_previous_golden_tables_rewritten_since_their_state_take_the_full_path(
    config: PipelineConfig,
) -> None:
    """Erasure rewrites earlier runs' golden tables (nulling fields a record supplied): their
    rows no longer are what the state describes, so none of them is reused."""
    first_run(config)
    path = Warehouse(config.warehouse.path).golden_dir(RUNS[0]) / "golden_customers.parquet"
    table = pq.read_table(path)
    emails = pa.array([None] * table.num_rows, type=table.schema.field("email").type)
    pq.write_table(table.set_column(table.schema.get_field_index("email"), "email", emails), path)
    result = assert_incremental_equals_full(config, RUNS[1], BASE)
    assert result.path == "full"
    assert result.full_reason is not None and "changed since" in result.full_reason


def test_a_chain_of_incremental_runs_equals_full_builds(config: PipelineConfig) -> None:
    first_run(config)
    customers = changed(BASE, b=[*BASE["b"], record("web:10", "Bob", "bo@x.com")])
    assert assert_incremental_equals_full(config, RUNS[1], customers).path == "incremental"
    publish(config, RUNS[1])
    customers = changed(customers, d=[dict(BASE["d"][0], first_name="Dee")])
    result = assert_incremental_equals_full(config, RUNS[2], customers, seed=3)
    assert (result.reused_from, result.golden_ids_reused, result.golden_ids_rebuilt) == (
        RUNS[1],
        4,
        1,
    )


def test_rebuilding_the_published_run_reuses_its_own_survivors(config: PipelineConfig) -> None:
    first_run(config)
    before = outputs(config, RUNS[0])
    result = build(config, RUNS[0], seed=1)
    assert (result.path, result.golden_ids_reused) == ("incremental", 5)
    after = outputs(config, RUNS[0])
    assert all(before[name].equals(after[name]) for name in OUTPUT_FILES)


def test_the_state_holds_golden_ids_and_hashes_but_no_record_key(config: PipelineConfig) -> None:
    """Erasure drops rows by record key; the state has none to drop, and pinned ids stay out."""
    write_run(config, RUNS[0], BASE)
    build(config, RUNS[0], seed=1)
    ann = golden_id_of(config, RUNS[0], "crm:1")
    DecisionStore(Warehouse(config.warehouse.path).decisions).add_pin(
        ann, "email", "ann@pinned.com", "steward", "confirmed"
    )
    build(config, RUNS[0], seed=1)
    state = pq.read_table(Warehouse(config.warehouse.path).golden_state(RUNS[0]) / STATE_FILE)
    assert state.schema.names == ["golden_id", "members", "digest"]
    assert state.num_rows == 4 and ann not in state["golden_id"].to_pylist()


def test_near_unique_columns_are_written_without_a_dictionary(config: PipelineConfig) -> None:
    first_run(config)
    golden = Warehouse(config.warehouse.path).golden_dir(RUNS[0])
    meta = pq.ParquetFile(golden / "customer_xref.parquet").metadata.row_group(0)
    encodings = {
        meta.column(i).path_in_schema: meta.column(i).encodings for i in range(meta.num_columns)
    }
    assert "RLE_DICTIONARY" not in encodings["record_key"]
    assert "RLE_DICTIONARY" in encodings["source_system"]


def test_reused_rows_out_of_golden_id_order_are_sorted_when_merged() -> None:
    from pipelines.golden.reuse import merge_by_golden_id

    reused = pl.DataFrame({"golden_id": ["g3", "g1", "g3"], "field": ["b", "a", "a"]})
    rebuilt = pl.DataFrame({"golden_id": ["g2", "g4"], "field": ["a", "a"]})
    merged = merge_by_golden_id(reused, rebuilt, ("golden_id", "field"))
    assert merged.rows() == [
        ("g1", "a"),
        ("g2", "a"),
        ("g3", "a"),
        ("g3", "b"),
        ("g4", "a"),
    ]


def test_survivorship_in_slices_of_customers_writes_the_tables_of_one_pass(
    config: PipelineConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.golden import build as golden_build

    first_run(config)
    ann = golden_id_of(config, RUNS[0], "crm:1")
    DecisionStore(Warehouse(config.warehouse.path).decisions).add_pin(
        ann, "email", "ann@pinned.com", "steward", "confirmed"
    )
    write_run(config, RUNS[1], BASE)
    whole = build(config, RUNS[1], seed=2, full=True)
    one_pass = outputs(config, RUNS[1])
    # Slices of about two records: customers of one, two and three records fall apart.
    monkeypatch.setattr(golden_build, "SURVIVE_SLICE_RECORDS", 2)
    sliced = build(config, RUNS[1], seed=2, full=True)
    in_slices = outputs(config, RUNS[1])
    assert sliced == whole
    for name in OUTPUT_FILES:
        assert in_slices[name].equals(one_pass[name]), name
    golden = pl.from_arrow(in_slices["golden_customers"])
    assert golden.height == 5
    assert golden.filter(pl.col("golden_id") == ann)["email"].item() == "ann@pinned.com"


def test_provenance_streamed_across_row_groups_equals_a_full_build(
    config: PipelineConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.golden import build as golden_build

    # Row groups of three rows: customers' provenance rows straddle the groups, and the
    # rebuilt customers' rows fall between the reused ones of one group and the next.
    monkeypatch.setattr(golden_build, "ROW_GROUP_ROWS", 3)
    first_run(config)
    provenance = Warehouse(config.warehouse.path).golden_dir(RUNS[0])
    assert pq.ParquetFile(provenance / "golden_field_provenance.parquet").num_row_groups > 5
    customers = changed(
        BASE,
        a=[record("crm:1", "Ann", "ann@new.com"), record("web:2", "Anne", "ann@y.com")],
        d=[record("shop:7", "Diana", "di@x.com")],
        f=[record("crm:10", "Flo", "flo@x.com")],
    )
    result = assert_incremental_equals_full(config, RUNS[1], customers)
    assert result.path == "incremental"
    assert (result.golden_ids_reused, result.golden_ids_rebuilt) == (3, 3)


def test_provenance_row_groups_out_of_golden_id_order_are_merged_whole(tmp_path: Path) -> None:
    from pipelines.golden.reuse import Reuse, reused_provenance

    schema = pa.schema(
        [("golden_id", pa.string()), ("field", pa.string()), ("run_id", pa.string())]
    )
    with pq.ParquetWriter(tmp_path / "golden_field_provenance.parquet", schema) as writer:
        for ids in (["g5", "g5", "g6"], ["g1", "g3", "g9"]):
            writer.write_table(
                pa.table({"golden_id": ids, "field": ["a"] * 3, "run_id": ["old"] * 3}, schema)
            )
    plan = Reuse("old", pl.Series(["g1", "g5", "g6"]), tmp_path)
    rebuilt = pl.DataFrame({"golden_id": ["g2", "g4"], "field": ["a", "a"], "run_id": ["new"] * 2})
    merged = pl.concat(list(reused_provenance(plan, "new", rebuilt)))
    assert merged.rows() == [
        ("g1", "a", "new"),
        ("g2", "a", "new"),
        ("g4", "a", "new"),
        ("g5", "a", "new"),
        ("g5", "a", "new"),
        ("g6", "a", "new"),
    ]


def test_membership_in_the_kept_ids_by_binary_search() -> None:
    from pipelines.golden.reuse import _members

    kept = pl.Series(["g2", "g4", "g6"])
    values = pl.Series(["g1", "g2", "g3", "g4", "g7", None])
    assert _members(values, kept).to_list() == [False, True, False, True, False, False]
    assert _members(values, kept.clear()).to_list() == [False] * 6
