"""History tables through a merge / split / merge / erasure sequence, built and published for
real: their grain, where every id went, "as of" reads, and full rebuilds writing the same
history as incremental runs."""

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

from matching.ids import GoldenIdFactory
from pipelines.config import PipelineConfig
from pipelines.golden import build_golden
from pipelines.privacy.erase import ErasurePlan, erase_records, scrub_golden_folder
from pipelines.publish import publish, read_table
from pipelines.review_due.compute import refresh_review_due
from pipelines.schema import staged_schema
from pipelines.warehouse import Warehouse

RUNS = [f"2025030{d}T000000Z-abc00{d}" for d in range(1, 8)]


def make_config(root: Path) -> PipelineConfig:
    return PipelineConfig.model_validate(
        {
            "warehouse": {"path": str(root)},
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


def record(key: str, first: str, email: str, **extra: Any) -> dict[str, Any]:
    return {"record_key": key, "first_name": first, "last_name": "Lee", "email": email, **extra}


def prepare(
    config: PipelineConfig, run_id: str, rows: list[dict[str, Any]], groups: list[list[str]]
) -> None:
    warehouse = Warehouse(config.warehouse.path)
    filled = []
    for row in rows:
        source, record_id = row["record_key"].split(":")
        base: dict[str, Any] = dict.fromkeys(staged_schema().names)
        base.update(
            source_system=source,
            source_record_id=record_id,
            batch_id="b",
            ingested_at=datetime(2025, 1, 1, tzinfo=UTC),
            trust_rank=1,
            invalid_fields=[],
        )
        base.update(row)
        filled.append(base)
    path = warehouse.staged_accepted(run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(filled, schema=staged_schema()), path)
    clusters = pl.DataFrame(
        [
            (k, f"c{i}", 0.95 if len(keys) > 1 else None)
            for i, keys in enumerate(groups)
            for k in keys
        ],
        schema={"record_key": pl.String, "cluster_id": pl.String, "match_probability": pl.Float64},
        orient="row",
    )
    target = warehouse.match_dir(run_id) / "clusters.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    clusters.write_parquet(target)


ANN_CRM = record("crm:1", "Ann", "ann@x.com")
ANN_WEB = record("web:7", "Anne", "anne@web.com")
BO_1 = record("crm:2", "Bo", "bo@y.com")
BO_2 = record("crm:3", "Bo", "bo@y.com", city="Cork")

SEQUENCE: list[tuple[list[dict[str, Any]], list[list[str]]]] = [
    # run 1: three customers
    ([ANN_CRM, ANN_WEB, BO_1, BO_2], [["crm:1"], ["web:7"], ["crm:2", "crm:3"]]),
    # run 2: the two Anns merge
    ([ANN_CRM, ANN_WEB, BO_1, BO_2], [["crm:1", "web:7"], ["crm:2", "crm:3"]]),
    # run 3: Bo splits in two
    ([ANN_CRM, ANN_WEB, BO_1, BO_2], [["crm:1", "web:7"], ["crm:2"], ["crm:3"]]),
    # run 4: one Bo merges into Ann (a chain: the absorbed web Ann id and Bo's id both lead to Ann)
    ([ANN_CRM, ANN_WEB, BO_1, BO_2], [["crm:1", "web:7", "crm:2"], ["crm:3"]]),
]


def run_sequence(config: PipelineConfig, *, full: bool) -> None:
    for run_id, (rows, groups) in zip(RUNS, SEQUENCE, strict=False):
        prepare(config, run_id, rows, groups)
        factory = GoldenIdFactory(rng=random.Random(RUNS.index(run_id)))
        build_golden(config, run_id, id_factory=factory, full=full)
        publish(config, run_id)


def published(config: PipelineConfig, name: str) -> pl.DataFrame:
    frame = pl.from_arrow(read_table(config.warehouse.path, name))
    assert isinstance(frame, pl.DataFrame)
    return frame


@pytest.fixture(scope="module")
def sequence_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sequence built and published once; each test gets its own copy to change."""
    root = tmp_path_factory.mktemp("history") / "wh"
    run_sequence(make_config(root), full=False)
    return root


@pytest.fixture
def config(sequence_root: Path, tmp_path: Path) -> PipelineConfig:
    root = tmp_path / "wh"
    shutil.copytree(sequence_root, root, symlinks=True)
    return make_config(root)


def ids_by_key(config: PipelineConfig) -> dict[str, str]:
    xref = published(config, "customer_xref")
    return dict(zip(xref["record_key"], xref["golden_id"], strict=True))


def test_each_history_table_has_its_grain(config: PipelineConfig) -> None:
    history = published(config, "golden_customers_history")
    events = published(config, "golden_events")
    aliases = published(config, "golden_id_aliases")
    golden = published(config, "golden_customers")
    assert history.select("golden_id", "version").is_unique().all()
    assert events.select("run_id", "golden_id", "event").is_unique().all()
    assert aliases["golden_id"].is_unique().all()
    # Exactly one open version per published customer, holding its published values.
    open_rows = history.filter(pl.col("valid_to_run").is_null())
    assert sorted(open_rows["golden_id"]) == sorted(golden["golden_id"])
    fields = ["golden_id", "first_name", "email", "city"]
    assert (
        open_rows.select(fields).sort("golden_id").equals(golden.select(fields).sort("golden_id"))
    )
    # Every run that changed something left rows; every id ever published has an alias.
    assert set(events["run_id"]) == set(RUNS[:4])
    assert set(aliases["golden_id"]) == set(history["golden_id"]) | set(events["golden_id"])
    changed_at = golden.join(open_rows, on="golden_id").select("golden_changed_at", "valid_from")
    assert changed_at["golden_changed_at"].equals(changed_at["valid_from"], check_names=False)


def test_merges_and_splits_leave_events_and_resolved_aliases(config: PipelineConfig) -> None:
    events = published(config, "golden_events")
    aliases = published(config, "golden_id_aliases")
    run1 = events.filter(pl.col("run_id") == RUNS[0])
    first = pl.from_arrow(read_table(config.warehouse.path, "customer_xref", RUNS[0]))
    assert isinstance(first, pl.DataFrame)
    by_key = dict(zip(first["record_key"], first["golden_id"], strict=True))
    ann, ann_web, bo = by_key["crm:1"], by_key["web:7"], by_key["crm:2"]
    assert sorted(run1["event"]) == ["created"] * 3
    kinds = {(r["run_id"], r["golden_id"]): r["event"] for r in events.iter_rows(named=True)}
    survivor = min(ann, ann_web)  # same size and age: the first-sorting id survives
    absorbed = max(ann, ann_web)
    assert kinds[(RUNS[1], survivor)] == "merged" and kinds[(RUNS[1], absorbed)] == "absorbed"
    split = [g for (r, g), e in kinds.items() if r == RUNS[2] and e == "split"]
    assert len(split) == 1
    now = ids_by_key(config)
    final = now["crm:1"]
    alias = {r["golden_id"]: r for r in aliases.iter_rows(named=True)}
    # Chains resolve: every id that was ever Ann or the merged Bo leads to the id carrying them.
    for old in {ann, ann_web} | ({bo} if bo != now["crm:3"] else set()):
        assert alias[old]["current_golden_id"] == final, old
    assert alias[final]["status"] == "active"
    assert alias[now["crm:3"]]["status"] == "active"
    assert {alias[g]["status"] for g in (ann, ann_web, bo) if g != final} <= {"merged", "active"}
    # History: the absorbed id's version was closed by the merge.
    history = published(config, "golden_customers_history")
    closed = history.filter(pl.col("golden_id") == absorbed)
    assert closed["closed_by"].to_list()[-1] == "absorbed"
    assert closed["valid_to_run"].to_list()[-1] == RUNS[1]


def test_history_survives_pruned_versions_and_reads_as_of_a_time(config: PipelineConfig) -> None:
    # keep_versions defaults to fewer than... whatever it is, run 1's values are still there.
    ann = pl.from_arrow(read_table(config.warehouse.path, "customer_xref", RUNS[0]))
    assert isinstance(ann, pl.DataFrame)
    web_ann = dict(zip(ann["record_key"], ann["golden_id"], strict=True))["web:7"]
    before_merge = datetime(2025, 3, 1, 12, tzinfo=UTC)
    then = pl.from_arrow(
        read_table(config.warehouse.path, "golden_customers_history", as_of=before_merge)
    )
    assert isinstance(then, pl.DataFrame)
    assert then.height == 3  # three customers on day one
    assert then.filter(pl.col("golden_id") == web_ann)["first_name"].item() == "Anne"
    aliases_then = pl.from_arrow(
        read_table(config.warehouse.path, "golden_id_aliases", as_of=before_merge)
    )
    assert isinstance(aliases_then, pl.DataFrame)
    assert aliases_then.filter(pl.col("golden_id") == web_ann)["status"].item() == "active"
    with pytest.raises(ValueError, match="time zone"):
        read_table(config.warehouse.path, "golden_events", as_of=datetime(2025, 3, 1))
    with pytest.raises(ValueError, match="no history"):
        read_table(config.warehouse.path, "customer_xref", as_of=before_merge)


def test_full_rebuilds_write_the_same_history_as_incremental_runs(
    config: PipelineConfig, tmp_path: Path
) -> None:
    rebuilt = make_config(tmp_path / "full")
    run_sequence(rebuilt, full=True)
    for name in ("golden_customers_history", "golden_events", "golden_id_aliases"):
        assert published(rebuilt, name).equals(published(config, name)), name


def test_rebuilding_a_published_run_does_not_count_it_twice(config: PipelineConfig) -> None:
    before = {n: published(config, n) for n in ("golden_customers_history", "golden_events")}
    factory = GoldenIdFactory(rng=random.Random(3))
    build_golden(config, RUNS[3], id_factory=factory)
    publish(config, RUNS[3])
    for name, frame in before.items():
        assert published(config, name).equals(frame), name


def test_erasure_removes_a_customer_and_every_id_it_absorbed_from_history(
    config: PipelineConfig,
) -> None:
    warehouse = Warehouse(config.warehouse.path)
    first = pl.read_parquet(warehouse.golden_dir(RUNS[0]) / "customer_xref.parquet")
    old_ids = set(first.filter(pl.col("record_key") != "crm:3")["golden_id"])
    now = ids_by_key(config)
    keys = pl.Series(["crm:1", "web:7", "crm:2"], dtype=pl.String)
    folder = warehouse.golden_dir(RUNS[3])
    scrub_golden_folder(folder, keys)
    history = pl.read_parquet(folder / "golden_customers_history.parquet")
    events = pl.read_parquet(folder / "golden_events.parquet")
    aliases = pl.read_parquet(folder / "golden_id_aliases.parquet")
    gone = old_ids | {now["crm:1"]}
    assert not set(history["golden_id"]) & gone
    assert "Ann" not in history["first_name"].to_list()
    assert set(events.filter(pl.col("golden_id").is_in(list(gone)))["event"]) == {"erased"}
    erased = aliases.filter(pl.col("golden_id").is_in(list(gone)))
    assert (
        set(erased["status"]) == {"erased"}
        and erased["current_golden_id"].null_count() == erased.height
    )
    assert aliases.filter(pl.col("golden_id") == now["crm:3"])["status"].item() == "active"
    # The next run builds on the erased tables: the ids stay erased, their values stay gone.
    prepare(config, RUNS[4], [BO_2], [["crm:3"]])
    registry = pl.read_parquet(warehouse.id_registry)
    registry.filter(pl.col("record_key") == "crm:3").write_parquet(warehouse.id_registry)
    build_golden(config, RUNS[4], id_factory=GoldenIdFactory(rng=random.Random(9)))
    after = pl.read_parquet(warehouse.golden_dir(RUNS[4]) / "golden_id_aliases.parquet")
    assert set(after.filter(pl.col("golden_id").is_in(list(gone)))["status"]) == {"erased"}
    history = pl.read_parquet(warehouse.golden_dir(RUNS[4]) / "golden_customers_history.parquet")
    assert not set(history["golden_id"]) & gone


def test_profile_and_scorecard_are_published_with_rows_from_every_run(
    config: PipelineConfig,
) -> None:
    card = published(config, "dq_scorecard")
    assert set(card["run_id"]) == set(RUNS[:4])
    assert card.select("run_id", "source_system", "field").is_unique().all()
    profile = published(config, "customer_profile")
    golden = published(config, "golden_customers")
    assert sorted(profile["golden_id"]) == sorted(golden["golden_id"])
    report = Path(config.warehouse.path) / "reports" / "dq_scorecard" / "index.html"
    assert report.is_file() and RUNS[3] in report.read_text()


def table_of(config: PipelineConfig, name: str, run_id: str) -> pl.DataFrame:
    frame = pl.from_arrow(read_table(config.warehouse.path, name, run_id))
    assert isinstance(frame, pl.DataFrame)
    return frame


def wholly_held_ids(config: PipelineConfig, run_id: str, keys: set[str]) -> set[str]:
    """Golden ids of version ``run_id`` all of whose records are among ``keys``."""
    xref = table_of(config, "customer_xref", run_id)
    held = xref.group_by("golden_id").agg(pl.col("record_key").is_in(list(keys)).all().alias("all"))
    return set(held.filter(pl.col("all"))["golden_id"])


def test_an_erased_customer_leaves_customer_profile_and_review_due_in_every_version(
    config: PipelineConfig,
) -> None:
    warehouse = Warehouse(config.warehouse.path)
    # Refreshed long after the runs, every record is stale and Ann's sources disagree on her
    # email: review_due names Ann's customer and records; run 5 publishes it.
    refresh_review_due(warehouse.root, config.review_due, datetime(2030, 1, 1, tzinfo=UTC))
    prepare(config, RUNS[4], *SEQUENCE[3])
    build_golden(config, RUNS[4], id_factory=GoldenIdFactory(rng=random.Random(4)))
    publish(config, RUNS[4])
    subject = {"crm:1", "web:7", "crm:2"}  # Ann's customer in the last runs
    versions = RUNS[:5]
    gone = {run: wholly_held_ids(config, run, subject) for run in versions}
    ann = ids_by_key(config)["crm:1"]
    assert ann in gone[RUNS[4]] and all(gone.values())
    for run in versions:
        assert gone[run] <= set(table_of(config, "customer_profile", run)["golden_id"]), run
    due = published(config, "review_due")
    assert ann in set(due["golden_id"]) and subject & set(due["record_key"])
    bo_rows = due.filter(pl.col("record_key") == "crm:3").height
    assert bo_rows > 0

    erase_records(config, ErasurePlan(frozenset(subject)))

    for run in versions:
        profile = table_of(config, "customer_profile", run)
        assert not gone[run] & set(profile["golden_id"]), run
        assert profile.height > 0, "the other customers stay"
        due = table_of(config, "review_due", run)
        assert not gone[run] & set(due["golden_id"].drop_nulls()), run
        assert not subject & set(due["record_key"].drop_nulls()), run
    stored = pl.read_parquet(warehouse.state / "review" / "review_due.parquet")
    assert ann not in set(stored["golden_id"]) and not subject & set(stored["record_key"])
    assert stored.filter(pl.col("record_key") == "crm:3").height == bo_rows


def test_a_customer_losing_one_record_has_a_profile_that_agrees_with_its_golden_row(
    config: PipelineConfig,
) -> None:
    # Ann (crm:1, web:7, crm:2) loses her only web record: golden_customers is recounted, and
    # customer_profile, built from the golden row, must say the same of her sources.
    ann = ids_by_key(config)["crm:1"]
    before = published(config, "customer_profile").filter(pl.col("golden_id") == ann)
    assert before["source_systems"].to_list() == [["crm", "web"]]

    erase_records(config, ErasurePlan(frozenset({"web:7"})))

    golden = published(config, "golden_customers").filter(pl.col("golden_id") == ann)
    profile = published(config, "customer_profile").filter(pl.col("golden_id") == ann)
    assert golden["source_systems"].to_list() == [["crm"]]
    assert profile["source_systems"].to_list() == golden["source_systems"].to_list()
    assert profile["source_count"].to_list() == [1]
    assert profile["completeness"].to_list() == golden["completeness"].round(4).to_list()
    assert profile["has_email"].item() == (golden["email"].item() is not None)
