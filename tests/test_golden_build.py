"""The golden stage on a real warehouse folder: tables, ids across published runs, pins, errors."""

from __future__ import annotations

import random
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from matching.decisions import DecisionStore
from matching.ids import GoldenIdFactory
from pipelines.config import PipelineConfig
from pipelines.errors import StageInputError
from pipelines.golden import GoldenResult, build_golden
from pipelines.golden.build import OUTPUT_FILES
from pipelines.publish.inputs import rows_if_published_as_is
from pipelines.publish.tables import TABLES
from pipelines.schema import staged_schema
from pipelines.warehouse import Warehouse

RUNS = [f"2025010{d}T000000Z-abc00{d}" for d in range(1, 8)]


@pytest.fixture
def config(warehouse_dir: Path) -> PipelineConfig:
    return PipelineConfig.model_validate(
        {
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
    )


def staged(rows: list[dict[str, Any]], ingested: datetime) -> pa.Table:
    filled = []
    for row in rows:
        source, record_id = row["record_key"].split(":")
        base: dict[str, Any] = dict.fromkeys(staged_schema().names)
        base.update(
            source_system=source,
            source_record_id=record_id,
            batch_id="b",
            ingested_at=ingested,
            trust_rank=100,
            invalid_fields=[],
        )
        base.update(row)
        filled.append(base)
    return pa.Table.from_pylist(filled, schema=staged_schema())


def prepare(
    config: PipelineConfig,
    run_id: str,
    rows: list[dict[str, Any]],
    groups: dict[str, list[str]],
    ingested: datetime | None = None,
) -> None:
    """Write what the stages before golden leave for a run: accepted records and clusters."""
    warehouse = Warehouse(config.warehouse.path)
    path = warehouse.staged_accepted(run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(staged(rows, ingested or datetime(2025, 1, 1, tzinfo=UTC)), path)
    clusters = pl.DataFrame(
        [(k, cid, 0.95 if len(keys) > 1 else None) for cid, keys in groups.items() for k in keys],
        schema={"record_key": pl.String, "cluster_id": pl.String, "match_probability": pl.Float64},
        orient="row",
    )
    target = warehouse.match_dir(run_id) / "clusters.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    clusters.write_parquet(target)


def build(config: PipelineConfig, run_id: str, seed: int = 0) -> GoldenResult:
    return build_golden(config, run_id, id_factory=GoldenIdFactory(rng=random.Random(seed)))


def publish(config: PipelineConfig, run_id: str) -> None:
    """What a successful publish does with the proposed registry (the publish stage's contract)."""
    warehouse = Warehouse(config.warehouse.path)
    warehouse.state.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(warehouse.golden_dir(run_id) / "id_registry.parquet", warehouse.id_registry)


def table(config: PipelineConfig, run_id: str, name: str) -> pl.DataFrame:
    return pl.read_parquet(Warehouse(config.warehouse.path).golden_dir(run_id) / f"{name}.parquet")


def gid(config: PipelineConfig, run_id: str, record_key: str) -> str:
    xref = table(config, run_id, "customer_xref")
    return xref.filter(pl.col("record_key") == record_key)["golden_id"].item()


def golden_row(config: PipelineConfig, run_id: str, golden_id: str) -> dict[str, Any]:
    rows = table(config, run_id, "golden_customers").filter(pl.col("golden_id") == golden_id)
    return rows.to_dicts()[0]


ANN = [
    {
        "record_key": "crm:1",
        "first_name": "Ann",
        "last_name": "Lee",
        "email": "ann@x.com",
        "trust_rank": 1,
        "source_updated_at": datetime(2024, 5, 1, tzinfo=UTC),
    },
    {
        "record_key": "web:7",
        "first_name": "Anne",
        "last_name": "Lee",
        "email": "ann@x.com",
        "city": "Leeds",
        "country": "GB",
        "trust_rank": 2,
    },
]
BO = [{"record_key": "web:8", "first_name": "Bo", "email": "bo@y.com"}]


def test_build_writes_every_table_with_its_schema(config: PipelineConfig) -> None:
    prepare(config, RUNS[0], ANN + BO, {"c1": ["crm:1", "web:7"], "c2": ["web:8"]})
    result = build(config, RUNS[0])
    assert (result.golden_records, result.xref_rows, result.created) == (2, 3, 2)
    assert (result.kept, result.merged, result.split, result.retired) == (0, 0, 0, 0)
    out = Path(result.output_dir)
    assert out == Warehouse(config.warehouse.path).golden_dir(RUNS[0])
    for name, schema in OUTPUT_FILES.items():
        assert pq.read_schema(out / f"{name}.parquet").equals(schema()), name
    # Published tables carry the published, documented schema: publish copies them as they are.
    rows = {"golden_customers": 2, "customer_xref": 3, "golden_changes": 2}
    for name, count in rows.items():
        assert rows_if_published_as_is(out / f"{name}.parquet", TABLES[name]) == count, name
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(".golden")) == []

    ann = golden_row(config, RUNS[0], gid(config, RUNS[0], "crm:1"))
    assert (ann["first_name"], ann["email"], ann["city"]) == ("Ann", "ann@x.com", "Leeds")
    assert ann["source_record_count"] == 2
    assert ann["source_systems"] == ["crm", "web"]
    assert ann["first_seen_at"] == datetime(2025, 1, 1, tzinfo=UTC)
    assert ann["source_updated_at"] == datetime(2024, 5, 1, tzinfo=UTC)
    assert ann["golden_changed_at"] == datetime(2025, 1, 1, tzinfo=UTC)  # the run's start
    assert ann["run_id"] == RUNS[0]
    xref = table(config, RUNS[0], "customer_xref")
    assert xref["record_key"].to_list() == ["crm:1", "web:7", "web:8"]
    assert xref["match_probability"].to_list() == [0.95, 0.95, None]
    prov = table(config, RUNS[0], "golden_field_provenance")
    first_name = prov.filter(
        (pl.col("golden_id") == ann["golden_id"]) & (pl.col("field") == "first_name")
    )
    # Ann and Anne are one vote each and both known given names; Ann's email address spells
    # Ann, which corroborates the crm record's full form.
    assert first_name.select("source_system", "source_record_id", "rule").row(0) == (
        "crm",
        "1",
        "full_form",
    )


def test_ids_and_pins_follow_the_customer_across_published_runs(config: PipelineConfig) -> None:
    # Run 1: Ann (2 records), Bo (1 record). Published.
    prepare(config, RUNS[0], ANN + BO, {"c1": ["crm:1", "web:7"], "c2": ["web:8"]})
    build(config, RUNS[0], seed=1)
    publish(config, RUNS[0])
    ann, bo = gid(config, RUNS[0], "crm:1"), gid(config, RUNS[0], "web:8")

    # A steward pins Bo's email.
    store = DecisionStore(Warehouse(config.warehouse.path).decisions)
    pin = store.add_pin(bo, "email", "bo@corrected.com", "steward", "confirmed by phone")

    # Run 2: Bo gains a record; the pin applies to Bo's (kept) id.
    bo2 = {"record_key": "shop:3", "first_name": "Bo", "email": "bo@y.com", "city": "Hull"}
    prepare(config, RUNS[1], [*ANN, *BO, bo2], {"x": ["crm:1", "web:7"], "y": ["web:8", "shop:3"]})
    result = build(config, RUNS[1], seed=2)
    publish(config, RUNS[1])
    assert gid(config, RUNS[1], "shop:3") == bo
    assert (result.kept, result.created, result.pins_applied) == (2, 0, 1)
    assert golden_row(config, RUNS[1], bo)["email"] == "bo@corrected.com"
    prov = table(config, RUNS[1], "golden_field_provenance").filter(
        (pl.col("golden_id") == bo) & (pl.col("field") == "email")
    )
    assert prov.select("source_system", "source_record_id", "rule").row(0) == (
        "steward",
        pin.decision_id,
        "steward_pin",
    )

    # Run 3: the model merges Bo and Ann, both of 2 records and created in run 1: the id that
    # sorts first survives, and Bo's pin follows Bo into the survivor either way.
    rows3 = [*ANN, *BO, bo2]
    prepare(config, RUNS[2], rows3, {"m": ["crm:1", "web:7", "web:8", "shop:3"]})
    result = build(config, RUNS[2], seed=3)
    publish(config, RUNS[2])
    survivor = min(ann, bo)
    assert {gid(config, RUNS[2], k) for k in ("crm:1", "web:8")} == {survivor}
    assert (result.merged, result.absorbed, result.pins_applied) == (1, 1, 1)
    assert golden_row(config, RUNS[2], survivor)["email"] == "bo@corrected.com"
    changes = table(config, RUNS[2], "golden_changes")
    merged = changes.filter(pl.col("change") == "merged").to_dicts()[0]
    assert merged["golden_id"] == survivor and merged["related_golden_ids"] == [max(ann, bo)]

    # The pin is revoked: the next run's survivorship decides again.
    store.revoke(pin.decision_id, "steward", "customer changed email again")
    prepare(config, RUNS[3], rows3, {"m": ["crm:1", "web:7", "web:8", "shop:3"]})
    result = build(config, RUNS[3], seed=4)
    assert result.pins_applied == 0
    # Two votes each for ann@x.com and bo@y.com: the more trusted crm record decides.
    assert golden_row(config, RUNS[3], survivor)["email"] == "ann@x.com"


def test_a_pin_on_a_vanished_customer_is_reported_not_applied(
    config: PipelineConfig, caplog: pytest.LogCaptureFixture
) -> None:
    prepare(config, RUNS[0], ANN + BO, {"c1": ["crm:1", "web:7"], "c2": ["web:8"]})
    build(config, RUNS[0])
    publish(config, RUNS[0])
    bo = gid(config, RUNS[0], "web:8")
    pin = DecisionStore(Warehouse(config.warehouse.path).decisions).add_pin(
        bo, "city", "Hull", "steward", "moved"
    )
    prepare(config, RUNS[1], ANN, {"c1": ["crm:1", "web:7"]})  # Bo's record deleted at source
    result = build(config, RUNS[1])
    assert (result.retired, result.pins_applied, result.pins_orphaned) == (1, 0, 1)
    assert pin.decision_id in caplog.text
    retired = table(config, RUNS[1], "golden_changes").filter(pl.col("change") == "retired")
    assert retired["golden_id"].to_list() == [bo]


def test_an_unpublished_run_never_moves_ids(config: PipelineConfig) -> None:
    prepare(config, RUNS[0], ANN + BO, {"c1": ["crm:1", "web:7"], "c2": ["web:8"]})
    build(config, RUNS[0])
    publish(config, RUNS[0])
    registry = Warehouse(config.warehouse.path).id_registry
    before = registry.read_bytes()
    # Run 2 splits Ann, but its publish fails (never called): state is untouched.
    prepare(config, RUNS[1], ANN + BO, {"a": ["crm:1"], "b": ["web:7"], "c": ["web:8"]})
    result = build(config, RUNS[1], seed=9)
    assert result.split == 1
    assert registry.read_bytes() == before
    # Run 3 starts from the last published registry: Ann is whole again, with her old id.
    prepare(config, RUNS[2], ANN + BO, {"c1": ["crm:1", "web:7"], "c2": ["web:8"]})
    result = build(config, RUNS[2], seed=10)
    assert (result.kept, result.split, result.created) == (2, 0, 0)
    assert gid(config, RUNS[2], "web:7") == gid(config, RUNS[0], "web:7")


def test_first_seen_and_golden_changed_at_are_kept_while_nothing_changes(
    config: PipelineConfig,
) -> None:
    prepare(config, RUNS[0], BO, {"c": ["web:8"]}, ingested=datetime(2025, 1, 1, tzinfo=UTC))
    build(config, RUNS[0])
    publish(config, RUNS[0])
    prepare(config, RUNS[1], BO, {"c": ["web:8"]}, ingested=datetime(2025, 2, 1, tzinfo=UTC))
    build(config, RUNS[1])
    bo = gid(config, RUNS[1], "web:8")
    assert golden_row(config, RUNS[1], bo)["first_seen_at"] == datetime(2025, 1, 1, tzinfo=UTC)
    # No source says when the record changed: no time is made up from the ingest time.
    assert golden_row(config, RUNS[1], bo)["source_updated_at"] is None
    assert golden_row(config, RUNS[1], bo)["golden_changed_at"] == datetime(2025, 1, 1, tzinfo=UTC)


def test_rebuilding_a_run_is_idempotent_even_after_its_publish(config: PipelineConfig) -> None:
    prepare(config, RUNS[0], ANN + BO, {"c1": ["crm:1", "web:7"], "c2": ["web:8"]})
    build(config, RUNS[0], seed=1)
    first = {name: table(config, RUNS[0], name) for name in OUTPUT_FILES}
    publish(config, RUNS[0])
    result = build(config, RUNS[0], seed=2)  # a cleared-and-rerun scheduler run
    assert result.created == 2  # the change log of the first build is kept
    for name, frame in first.items():
        assert table(config, RUNS[0], name).equals(frame), name


def test_rebuilding_an_older_run_after_a_newer_publish_is_refused(config: PipelineConfig) -> None:
    for run in RUNS[:2]:
        prepare(config, run, BO, {"c": ["web:8"]})
    build(config, RUNS[1])
    publish(config, RUNS[1])
    with pytest.raises(
        StageInputError, match=f"published by run {RUNS[1]}, later than run {RUNS[0]}"
    ):
        build(config, RUNS[0])


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        pytest.param(
            {"c1": ["crm:1"], "c2": ["web:8"]},
            r"1 accepted record\(s\) .* have no cluster \(e.g. \['web:7'\]\)",
            id="unclustered",
        ),
        pytest.param(
            {"c1": ["crm:1", "web:7"], "c2": ["web:8", "ghost:1"]},
            r"1 clustered record\(s\) are not accepted records \(e.g. \['ghost:1'\]\)",
            id="unknown",
        ),
    ],
)
def test_clusters_out_of_step_with_the_records_are_refused(
    config: PipelineConfig, groups: dict[str, list[str]], message: str
) -> None:
    prepare(config, RUNS[0], ANN + BO, groups)
    with pytest.raises(StageInputError, match=message) as excinfo:
        build(config, RUNS[0])
    assert "clusters.parquet" in str(excinfo.value)
    assert not Warehouse(config.warehouse.path).golden_dir(RUNS[0]).exists()


def test_missing_inputs_name_the_stage_to_run(config: PipelineConfig) -> None:
    with pytest.raises(StageInputError, match="run the 'validate_staged' stage"):
        build(config, RUNS[0])
    prepare(config, RUNS[0], BO, {"c": ["web:8"]})
    (Warehouse(config.warehouse.path).match_dir(RUNS[0]) / "clusters.parquet").unlink()
    with pytest.raises(StageInputError, match="run the 'match' stage"):
        build(config, RUNS[0])


def test_staged_records_lacking_a_column_are_refused(config: PipelineConfig) -> None:
    prepare(config, RUNS[0], BO, {"c": ["web:8"]})
    path = Warehouse(config.warehouse.path).staged_accepted(RUNS[0])
    pl.read_parquet(path).drop("invalid_fields").write_parquet(path)
    with pytest.raises(
        StageInputError, match=r"accepted.parquet lacks column\(s\) \['invalid_fields'\]"
    ):
        build(config, RUNS[0])


def test_damaged_decisions_stop_the_build_with_the_line(config: PipelineConfig) -> None:
    prepare(config, RUNS[0], BO, {"c": ["web:8"]})
    decisions = Warehouse(config.warehouse.path).decisions
    decisions.parent.mkdir(parents=True)
    decisions.write_text("garbage\n{}\n")
    with pytest.raises(StageInputError, match=r"decisions\.jsonl line 1 is not valid JSON"):
        build(config, RUNS[0])


def test_a_pin_on_an_unknown_field_names_the_decision(config: PipelineConfig) -> None:
    prepare(config, RUNS[0], BO, {"c": ["web:8"]})
    store = DecisionStore(Warehouse(config.warehouse.path).decisions)
    pin = store.add_pin("G-X", "shoe_size", "42", "steward", "test")
    with pytest.raises(StageInputError, match=f"pin {pin.decision_id} names field 'shoe_size'"):
        build(config, RUNS[0])
    store.revoke(pin.decision_id, "steward", "typo")
    bad_date = store.add_pin("G-X", "date_of_birth", "31/12/1990", "steward", "test")
    with pytest.raises(StageInputError, match=f"pin {bad_date.decision_id} sets date_of_birth"):
        build(config, RUNS[0])


def test_steward_links_the_clusters_ignore_are_counted(
    config: PipelineConfig, caplog: pytest.LogCaptureFixture
) -> None:
    prepare(config, RUNS[0], ANN + BO, {"c1": ["crm:1", "web:7"], "c2": ["web:8"]})
    store = DecisionStore(Warehouse(config.warehouse.path).decisions)
    store.add_cannot_link("crm:1", "web:7", "steward", "different people")
    store.add_must_link("web:7", "web:8", "steward", "same person")
    store.add_must_link("web:8", "gone:1", "steward", "record no longer accepted")
    result = build(config, RUNS[0])
    assert result.decision_conflicts == 2
    assert "cannot_link crm:1 ~ web:7 is not honoured" in caplog.text


def test_a_changed_record_keeps_its_id_and_updates_the_golden_values(
    config: PipelineConfig,
) -> None:
    prepare(config, RUNS[0], ANN + BO, {"c1": ["crm:1", "web:7"], "c2": ["web:8"]})
    build(config, RUNS[0])
    publish(config, RUNS[0])
    bo = gid(config, RUNS[0], "web:8")
    moved = [{**BO[0], "email": "bo@new.org", "city": "Hull", "country": "GB"}]
    prepare(config, RUNS[1], ANN + moved, {"c1": ["crm:1", "web:7"], "c2": ["web:8"]})
    result = build(config, RUNS[1])
    assert (result.kept, result.created) == (2, 0)
    assert gid(config, RUNS[1], "web:8") == bo
    row = golden_row(config, RUNS[1], bo)
    assert (row["email"], row["city"], row["country"]) == ("bo@new.org", "Hull", "GB")
    changes = table(config, RUNS[1], "golden_changes").filter(pl.col("golden_id") == bo)
    assert changes["change"].to_list() == ["kept"]


def test_a_write_that_fails_leaves_the_previous_golden_tables_whole(
    config: PipelineConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.golden import build as golden_build

    prepare(config, RUNS[0], ANN + BO, {"c1": ["crm:1", "web:7"], "c2": ["web:8"]})
    build(config, RUNS[0], seed=1)
    before = {name: table(config, RUNS[0], name) for name in OUTPUT_FILES}
    write_table = golden_build._write_table

    def failing(name: str, frame: pl.DataFrame, target: Path) -> None:
        if name == "golden_events":
            raise OSError(28, "No space left on device")
        write_table(name, frame, target)

    monkeypatch.setattr(golden_build, "_write_table", failing)
    with pytest.raises(OSError, match="No space left"):
        build(config, RUNS[0], seed=2)
    for name, frame in before.items():
        assert table(config, RUNS[0], name).equals(frame), name
    golden_dir = Warehouse(config.warehouse.path).golden_dir(RUNS[0])
    assert [p.name for p in golden_dir.parent.iterdir() if p.name.startswith(".golden")] == []
