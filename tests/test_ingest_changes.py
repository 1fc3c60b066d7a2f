"""File snapshots compared with the current set by id and row hash (issue 24): backdated new
records load, deletions at the source are retired or queued, and an incremental chain equals a
fresh full load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from pipelines.config import PipelineConfig, load_config
from pipelines.ingest import IngestResult, ingest_source
from pipelines.ingest.changes import read_hashes

HEADER = "id,name,email,changed\n"
ROWS = {
    "1": "1,Ann Lee,ann@x.com,2024-01-01T10:00:00Z",
    "2": "2,Bo Ray,bo@x.com,2024-01-02T10:00:00Z",
    "3": "3,Cy Day,cy@x.com,2024-01-03T10:00:00Z",
    "4": "4,Di Fox,di@x.com,2024-01-04T10:00:00Z",
}
OLD = "5,Ed Old,ed@x.com,2020-06-01T00:00:00Z"
"""A record never seen before whose update time is years behind the watermark."""


def make_config(tmp_path: Path, name: str = "pipeline.yaml", **source: Any) -> PipelineConfig:
    spec = {
        "name": "shop",
        "kind": "file",
        "path": "shop.csv",
        "id_column": "id",
        "updated_at_column": "changed",
        "mapping": {"full_name": "name", "email": "email"},
        **source,
    }
    path = tmp_path / name
    wh = "wh" if name == "pipeline.yaml" else f"wh_{Path(name).stem}"
    path.write_text(yaml.safe_dump({"warehouse": {"path": wh}, "sources": [spec]}))
    return load_config(path)


def deliver(tmp_path: Path, *rows: str) -> None:
    (tmp_path / "shop.csv").write_text(HEADER + "".join(f"{r}\n" for r in rows))


def current(result: IngestResult) -> pl.DataFrame:
    return pl.read_parquet(result.current_path).sort("id", "email")


def records(result: IngestResult) -> pl.DataFrame:
    """The current set without what differs by landing time."""
    return current(result).drop("batch_id", "ingested_at")


def deletions(result: IngestResult) -> pl.DataFrame:
    return pl.read_parquet(Path(result.current_path).with_name("deletions.parquet"))


def pending(result: IngestResult) -> list[str]:
    path = Path(result.current_path).with_name("pending_deletions.parquet")
    return sorted(pl.read_parquet(path)["source_record_id"].to_list())


def test_a_new_id_with_an_old_timestamp_is_loaded_and_counted(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    deliver(tmp_path, *ROWS.values())
    ingest_source(config, "run1", "shop")
    deliver(tmp_path, *ROWS.values(), OLD)

    second = ingest_source(config, "run2", "shop")

    assert current(second)["id"].to_list() == ["1", "2", "3", "4", "5"]
    assert (second.rows_read, second.rows_landed, second.rows_unchanged) == (1, 1, 4)
    assert (second.records_new, second.new_behind_watermark, second.records_changed) == (1, 1, 0)
    assert second.deleted_at_source == 0


def test_a_changed_row_with_an_unchanged_timestamp_is_loaded(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    deliver(tmp_path, *ROWS.values())
    ingest_source(config, "run1", "shop")
    deliver(tmp_path, ROWS["1"], "2,Bo Ray,bo@fixed.com,2024-01-02T10:00:00Z", ROWS["3"], ROWS["4"])

    second = ingest_source(config, "run2", "shop")

    assert (second.records_new, second.records_changed, second.rows_unchanged) == (0, 1, 3)
    assert current(second).filter(pl.col("id") == "2")["email"].item() == "bo@fixed.com"


def test_ids_missing_from_a_snapshot_are_retired_and_listed(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    deliver(tmp_path, *ROWS.values())
    ingest_source(config, "run1", "shop")
    deliver(tmp_path, ROWS["1"], ROWS["3"])

    second = ingest_source(config, "run2", "shop")

    assert current(second)["id"].to_list() == ["1", "3"]
    assert (second.deleted_at_source, second.retired, second.pending_review) == (2, 2, 0)
    listed = deletions(second).sort("source_record_id")
    assert listed["record_key"].to_list() == ["shop:2", "shop:4"]
    assert set(listed["deletion"]) == {"retired"}
    assert second.rows_current == 2
    hashes = read_hashes(Path(second.current_path).with_name("row_hashes.parquet"))
    assert hashes is not None and sorted(hashes.frame["source_record_id"]) == ["1", "3"]
    assert hashes.unique_ids


def test_review_queues_deletions_until_a_steward_confirms_them(tmp_path: Path) -> None:
    config = make_config(tmp_path, deletions={"action": "review"})
    deliver(tmp_path, *ROWS.values())
    ingest_source(config, "run1", "shop")
    deliver(tmp_path, ROWS["1"], ROWS["3"])

    second = ingest_source(config, "run2", "shop")
    assert current(second)["id"].to_list() == ["1", "2", "3", "4"]  # kept while queued
    assert (second.deleted_at_source, second.queued_for_review, second.retired) == (2, 2, 0)
    assert pending(second) == ["2", "4"]

    third = ingest_source(config, "run3", "shop")  # still missing: queued once, not again
    assert (third.deleted_at_source, third.queued_for_review, third.pending_review) == (0, 0, 2)

    deliver(tmp_path, ROWS["1"], ROWS["3"], ROWS["4"])  # 4 comes back: off the queue
    fourth = ingest_source(config, "run4", "shop", confirm_deletions=True)
    assert (fourth.restored, fourth.retired, fourth.pending_review) == (1, 1, 0)
    assert current(fourth)["id"].to_list() == ["1", "3", "4"]
    assert deletions(fourth)["record_key"].to_list() == ["shop:2"]


def test_a_rejected_row_without_id_holds_deletions_for_review(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    deliver(tmp_path, *ROWS.values())
    ingest_source(config, "run1", "shop")
    deliver(tmp_path, ROWS["1"], ",Bo Ray,bo@x.com,2024-01-02T10:00:00Z", ROWS["3"], ROWS["4"])

    second = ingest_source(config, "run2", "shop")

    assert second.rows_rejected == 1 and second.deletions_held_for_review
    assert (second.queued_for_review, second.retired) == (1, 0)
    assert current(second)["id"].to_list() == ["1", "2", "3", "4"]


def test_a_row_rejected_for_its_timestamp_is_not_a_deletion(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    deliver(tmp_path, *ROWS.values())
    ingest_source(config, "run1", "shop")
    deliver(tmp_path, ROWS["1"], "2,Bo Ray,bo@x.com,not a time", ROWS["3"], ROWS["4"])

    second = ingest_source(config, "run2", "shop")

    assert second.rows_rejected == 1 and second.deleted_at_source == 0
    assert current(second).filter(pl.col("id") == "2")["email"].item() == "bo@x.com"


def test_a_delta_delivery_loads_old_timestamps_and_deletes_only_flagged_rows(
    tmp_path: Path,
) -> None:
    config = make_config(
        tmp_path, delivery="delta", deletions={"flag_column": "gone"}, columns=None
    )
    (tmp_path / "shop.csv").write_text(
        "id,name,email,changed,gone\n" + "".join(f"{r},\n" for r in ROWS.values())
    )
    ingest_source(config, "run1", "shop")
    (tmp_path / "shop.csv").write_text(
        "id,name,email,changed,gone\n" + f"{OLD},\n" + "3,Cy Day,cy@x.com,2024-01-09T00:00:00Z,Y\n"
    )

    second = ingest_source(config, "run2", "shop")

    assert current(second)["id"].to_list() == ["1", "2", "4", "5"]  # 1, 2, 4 not deleted
    assert (second.rows_read, second.rows_landed, second.rows_flagged_deleted) == (2, 1, 1)
    assert (second.new_behind_watermark, second.deleted_at_source, second.retired) == (1, 1, 1)


def test_duplicate_ids_changed_in_part_keep_every_row_the_source_sent(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    deliver(tmp_path, ROWS["1"], ROWS["2"], "2,Bo Ray,bo@two.com,2024-01-02T10:00:00Z")
    ingest_source(config, "run1", "shop")
    # Id 2 keeps one row and changes the other; id 1 gains a duplicate identical to itself.
    deliver(tmp_path, ROWS["1"], ROWS["1"], ROWS["2"], "2,Bo Ray,bo@new.com,2024-01-02T10:00:00Z")

    second = ingest_source(config, "run2", "shop")
    fresh = ingest_source(make_config(tmp_path, "fresh.yaml"), "run2", "shop")

    assert records(second).equals(records(fresh))
    assert current(second)["email"].to_list() == [
        "ann@x.com",
        "ann@x.com",
        "bo@new.com",
        "bo@x.com",
    ]


@pytest.mark.parametrize("action", ["retire", "review"])
def test_an_incremental_chain_equals_a_fresh_full_load(tmp_path: Path, action: str) -> None:
    config = make_config(tmp_path, deletions={"action": action})
    days = [
        [ROWS["1"], ROWS["2"], ROWS["3"]],  # 90% of the export
        [*ROWS.values(), OLD],  # the rest, backdated, and one never seen
        [ROWS["1"], "2,Bo Ray,bo@new.com,2024-01-02T10:00:00Z", OLD],  # 3, 4 deleted
    ]
    last = None
    for day, rows in enumerate(days, start=1):
        deliver(tmp_path, *rows)
        last = ingest_source(config, f"run{day}", "shop", confirm_deletions=day == 3)
    assert last is not None
    if action == "review":  # confirmed in the same run that found them? no: queued first
        assert last.queued_for_review == 2 and last.pending_review == 2
        last = ingest_source(config, "run4", "shop", confirm_deletions=True)
        assert last.retired == 2
    fresh = ingest_source(make_config(tmp_path, "fresh.yaml"), "run9", "shop")
    assert records(last).equals(records(fresh))
    assert records(last)["id"].to_list() == ["1", "2", "5"]


def test_a_rerun_of_the_last_run_finds_the_same_deletions(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    deliver(tmp_path, *ROWS.values())
    ingest_source(config, "run1", "shop")
    deliver(tmp_path, ROWS["1"], ROWS["2"])
    first = ingest_source(config, "run2", "shop")
    again = ingest_source(config, "run2", "shop")
    assert (again.retired, again.rows_current) == (first.retired, first.rows_current) == (2, 2)


def test_a_full_reload_still_finds_deletions(tmp_path: Path) -> None:
    config = make_config(tmp_path, deletions={"action": "review"})
    deliver(tmp_path, *ROWS.values())
    ingest_source(config, "run1", "shop")
    deliver(tmp_path, ROWS["1"], ROWS["2"])

    reload = ingest_source(config, "run2", "shop", full_reload=True)

    assert (reload.deleted_at_source, reload.queued_for_review) == (2, 2)
    assert current(reload)["id"].to_list() == ["1", "2", "3", "4"]  # queued ones stay


def _people(ids: range, stamp: str = "2024-01-01T00:00:00Z") -> list[str]:
    return [f"{i},Person {i},p{i}@example.org,{stamp}" for i in ids]


@pytest.mark.parametrize("action", ["retire", "review"])
def test_a_truncated_export_trips_the_gate_until_a_run_is_whole_again(
    tmp_path: Path, action: str
) -> None:
    from pipelines.errors import ValidationGateError
    from pipelines.orchestrate import run_stage
    from pipelines.summary import format_summary, summarise_run
    from pipelines.validate import check_gate
    from pipelines.warehouse import Warehouse

    config = make_config(tmp_path, deletions={"action": action})
    warehouse = Warehouse(config.warehouse.path)

    def run(run_id: str) -> None:
        run_stage("ingest", config, run_id, source="shop")
        run_stage("validate_source", config, run_id, source="shop")

    deliver(tmp_path, *_people(range(40)))
    run("run1")
    check_gate(config, "run1")
    warehouse.published_version("run1").mkdir(parents=True)  # what publish leaves

    # Half the export, padded with new records so the row count alone looks healthy.
    deliver(tmp_path, *_people(range(20)), *_people(range(100, 120)))
    run("run2")
    with pytest.raises(ValidationGateError) as tripped:
        check_gate(config, "run2")
    assert "20 of the 40 records of run run1 (50.0%) are deleted at the source" in str(
        tripped.value
    )
    assert "validation.gate.max_deleted_share" in str(tripped.value)
    report = format_summary(summarise_run(config, "run2"))
    assert "behind wm" in report and "in review" in report
    changes = next(s for s in summarise_run(config, "run2").sources if s.source == "shop")
    assert (changes.new_records, changes.deleted_at_source) == (20, 20)
    assert (changes.retired, changes.pending_review) == ((20, 0) if action == "retire" else (0, 20))

    run("run3")  # the same truncated export again is still compared with run1
    with pytest.raises(ValidationGateError):
        check_gate(config, "run3")

    deliver(tmp_path, *_people(range(40)), *_people(range(100, 120)))  # the whole export
    run("run4")
    assert check_gate(config, "run4").passed


def test_stewards_list_and_confirm_queued_deletions_from_the_cli(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pipelines.audit import read_audit
    from pipelines.cli import app

    config = make_config(tmp_path, deletions={"action": "review"})
    args = ["--config", str(config.config_path)]
    deliver(tmp_path, *ROWS.values())
    ingest_source(config, "run1", "shop")
    deliver(tmp_path, ROWS["1"], ROWS["2"], ROWS["3"])

    found = CliRunner().invoke(app, ["ingest", *args, "--run-id", "run2"])
    assert found.exit_code == 0, found.output
    assert "0 new (0 behind the watermark), 0 changed, 1 deleted at the source" in found.output
    listed = CliRunner().invoke(app, ["deletions", *args])
    assert listed.exit_code == 0 and "shop:4" in listed.output and "run2" in listed.output

    confirmed = CliRunner().invoke(
        app, ["ingest", *args, "--run-id", "run3", "--confirm-deletions", "--actor", "sam"]
    )
    assert confirmed.exit_code == 0, confirmed.output
    assert "1 retired as deleted at the source; 0 waiting for review" in confirmed.output
    assert "no deletions waiting" in CliRunner().invoke(app, ["deletions", *args]).output
    events = [e for e in read_audit(config.warehouse.path) if e.action == "deletions.confirm"]
    assert [(e.actor, e.details["retired"]) for e in events] == [("sam", 1)]


def test_a_row_sent_twice_where_ids_were_unique_is_kept_twice(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    deliver(tmp_path, *ROWS.values())
    ingest_source(config, "run1", "shop")
    deliver(tmp_path, *ROWS.values(), ROWS["3"])  # nothing changed, but 3 comes twice

    second = ingest_source(config, "run2", "shop")
    fresh = ingest_source(make_config(tmp_path, "fresh.yaml"), "run2", "shop")

    assert current(second)["id"].to_list() == ["1", "2", "3", "3", "4"]
    assert records(second).equals(records(fresh))


def test_erasure_reaches_a_deleted_record_in_the_queue_hashes_and_history(tmp_path: Path) -> None:
    from pipelines.privacy.erase import ErasurePlan, erase_records

    config = make_config(tmp_path, deletions={"action": "review"})
    deliver(tmp_path, *ROWS.values())
    first = ingest_source(config, "run1", "shop")
    deliver(tmp_path, ROWS["1"], ROWS["3"], ROWS["4"])
    second = ingest_source(config, "run2", "shop")
    assert pending(second) == ["2"]

    erase_records(config, ErasurePlan(frozenset({"shop:2"}), frozenset()))

    folder = Path(second.current_path).parent
    for name in ("row_hashes.parquet", "deletions.parquet", "pending_deletions.parquet"):
        assert "2" not in pl.read_parquet(folder / name)["source_record_id"].to_list(), name
    raw = pl.read_parquet(Path(first.raw_path) / "part-*.parquet", hive_partitioning=False)
    assert "2" not in raw["id"].to_list()


def test_a_delta_delivery_reloaded_in_full_still_adds_to_the_current_set(tmp_path: Path) -> None:
    config = make_config(tmp_path, delivery="delta")
    deliver(tmp_path, *ROWS.values())
    ingest_source(config, "run1", "shop")
    deliver(tmp_path, "2,Bo Ray,bo@new.com,2024-01-02T10:00:00Z")

    reload = ingest_source(config, "run2", "shop", full_reload=True)

    assert current(reload)["id"].to_list() == ["1", "2", "3", "4"]
    assert current(reload).filter(pl.col("id") == "2")["email"].item() == "bo@new.com"
    again = ingest_source(config, "run3", "shop")  # the hashes kept up: nothing new
    assert (again.rows_landed, again.rows_unchanged) == (0, 1)


def test_a_rerun_of_a_confirming_run_confirms_again(tmp_path: Path) -> None:
    config = make_config(tmp_path, deletions={"action": "review"})
    deliver(tmp_path, *ROWS.values())
    ingest_source(config, "run1", "shop")
    deliver(tmp_path, ROWS["1"], ROWS["2"])
    ingest_source(config, "run2", "shop")
    confirmed = ingest_source(config, "run3", "shop", confirm_deletions=True)
    again = ingest_source(config, "run3", "shop")  # a retry, without the flag
    assert (again.retired, again.pending_review) == (confirmed.retired, 0) == (2, 0)
    assert current(again)["id"].to_list() == ["1", "2"]


def test_a_snapshot_without_an_update_column_counts_new_and_changed_against_the_last_set(
    tmp_path: Path,
) -> None:
    """Without ``updated_at_column`` every delivery loads in full; its counts still say what
    changed: an unchanged rerun is not four new records."""
    config = make_config(tmp_path, updated_at_column=None)
    deliver(tmp_path, *ROWS.values())
    first = ingest_source(config, "20240201T000000Z-run001", "shop")
    assert (first.records_new, first.records_changed) == (4, 0)
    again = ingest_source(config, "20240202T000000Z-run002", "shop")
    assert (again.records_new, again.records_changed, again.rows_landed) == (0, 0, 4)
    deliver(tmp_path, *ROWS.values(), OLD)
    (tmp_path / "shop.csv").write_text(
        (tmp_path / "shop.csv").read_text().replace("Bo Ray", "Bo Rae")
    )
    third = ingest_source(config, "20240203T000000Z-run003", "shop")
    assert (third.records_new, third.records_changed, third.rows_landed) == (1, 1, 5)
