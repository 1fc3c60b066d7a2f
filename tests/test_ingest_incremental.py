"""Watermarks, supersession, full reloads, reruns and the state that carries them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from pipelines.config import PipelineConfig, load_config
from pipelines.errors import PrivacyError, SchemaDriftError, SourceError
from pipelines.ingest import IngestResult, ingest_source

HEADER = "id,name,email,changed\n"


def make_config(tmp_path: Path, **source: Any) -> PipelineConfig:
    spec = {
        "name": "shop",
        "kind": "file",
        "path": "shop.csv",
        "id_column": "id",
        "updated_at_column": "changed",
        "mapping": {"full_name": "name", "email": "email"},
        **source,
    }
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump({"warehouse": {"path": "wh"}, "sources": [spec]}))
    return load_config(path)


def write_source(tmp_path: Path, *rows: str) -> None:
    (tmp_path / "shop.csv").write_text(HEADER + "".join(f"{r}\n" for r in rows))


def current(result: IngestResult) -> pl.DataFrame:
    return pl.read_parquet(result.current_path).sort("id")


def raw(result: IngestResult) -> pl.DataFrame:
    return pl.read_parquet(Path(result.raw_path) / "part-*.parquet", hive_partitioning=False)


def state(config: PipelineConfig) -> dict[str, Any]:
    return json.loads((config.warehouse.path / "state" / "sources" / "shop.json").read_text())


FIRST = (
    "1,Ann Lee,ann@x.com,2024-01-01T10:00:00Z",
    "2,Bo Ray,bo@x.com,2024-01-02T10:00:00Z",
    "3,Cy Day,cy@x.com,2024-01-03T10:00:00Z",
)


def test_second_run_loads_only_changed_rows_and_changes_supersede(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    write_source(tmp_path, *FIRST)
    first = ingest_source(config, "run1", "shop")
    assert first.watermark_after == datetime(2024, 1, 3, 10, tzinfo=UTC)
    assert state(config)["watermark"] == "2024-01-03T10:00:00Z"

    write_source(
        tmp_path,
        FIRST[0],
        "2,Bo Ray,bo.ray@new.com,2024-01-05T08:00:00Z",  # changed
        FIRST[2],
        "4,Di Fox,di@x.com,2024-01-04T12:00:00Z",  # new
    )
    second = ingest_source(config, "run2", "shop")

    assert second.incremental and second.watermark_before == first.watermark_after
    assert (second.rows_read, second.rows_landed, second.rows_unchanged) == (2, 2, 2)
    assert raw(second)["id"].to_list() == ["2", "4"]  # the raw batch holds only the changes
    df = current(second)
    assert df["id"].to_list() == ["1", "2", "3", "4"]
    assert df["email"].to_list() == ["ann@x.com", "bo.ray@new.com", "cy@x.com", "di@x.com"]
    assert df["batch_id"].to_list() == ["run1", "run2", "run1", "run2"]
    assert second.rows_current == 4
    assert second.watermark_after == datetime(2024, 1, 5, 8, tzinfo=UTC)
    assert state(config)["last_run_id"] == "run2" and state(config)["last_row_count"] == 4
    # The first run's outputs are untouched.
    assert current(first)["email"].to_list()[1] == "bo@x.com"


def test_nothing_changed_gives_an_empty_batch_and_the_same_current_set(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    write_source(tmp_path, *FIRST)
    first = ingest_source(config, "run1", "shop")
    second = ingest_source(config, "run2", "shop")
    assert (second.rows_read, second.rows_landed, second.rows_unchanged) == (0, 0, 3)
    assert raw(second).height == 0
    assert current(second).drop("batch_id").equals(current(first).drop("batch_id"))
    assert second.watermark_after == first.watermark_after


def test_full_reload_reads_everything_and_replaces_the_current_set(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    write_source(tmp_path, *FIRST)
    ingest_source(config, "run1", "shop")
    write_source(tmp_path, FIRST[0], FIRST[2])  # record 2 deleted at the source

    incremental = ingest_source(config, "run2", "shop")
    assert current(incremental)["id"].to_list() == ["1", "3"]  # a snapshot shows the delete
    assert (incremental.deleted_at_source, incremental.retired) == (1, 1)

    reload = ingest_source(config, "run3", "shop", full_reload=True)
    assert reload.full_reload and not reload.incremental and reload.watermark_before is None
    assert (reload.rows_read, reload.rows_landed, reload.deleted_at_source) == (2, 2, 0)
    assert current(reload)["id"].to_list() == ["1", "3"]
    assert set(current(reload)["batch_id"]) == {"run3"}


def test_source_without_update_column_is_reloaded_in_full_every_run(tmp_path: Path) -> None:
    config = make_config(tmp_path, updated_at_column=None)
    write_source(tmp_path, *FIRST)
    ingest_source(config, "run1", "shop")
    write_source(tmp_path, FIRST[1])
    second = ingest_source(config, "run2", "shop")
    assert not second.incremental
    assert current(second)["id"].to_list() == ["2"]


def test_duplicates_within_a_batch_are_kept_and_a_later_batch_supersedes_them(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path)
    write_source(tmp_path, FIRST[0], "1,Ann Lee,ann2@x.com,2024-01-01T11:00:00Z")
    first = ingest_source(config, "run1", "shop")
    assert current(first)["email"].to_list() == ["ann@x.com", "ann2@x.com"]
    write_source(tmp_path, "1,Ann Lee,ann3@x.com,2024-02-01T00:00:00Z")
    second = ingest_source(config, "run2", "shop")
    assert current(second)["email"].to_list() == ["ann3@x.com"]


def test_update_times_are_read_in_the_source_time_zone_and_bad_ones_rejected(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path, timezone="America/New_York")
    write_source(
        tmp_path,
        "1,Ann,a@x,2024-07-01 09:00:00",  # local (EDT, UTC-4)
        "2,Bo,b@x,2024-07-01T09:00:00+02:00",  # explicit offset wins
        "3,Cy,c@x,yesterday",
        "4,Di,d@x,",  # no update time: kept, null
        "5,Ed,e@x,2024-03-10 02:30:00",  # skipped by the DST change in New York
    )
    result = ingest_source(config, "run1", "shop")
    df = current(result)
    assert df["id"].to_list() == ["1", "2", "4"]
    assert df["source_updated_at"].to_list() == [
        datetime(2024, 7, 1, 13, tzinfo=UTC),
        datetime(2024, 7, 1, 7, tzinfo=UTC),
        None,
    ]
    assert df["changed"].to_list() == ["2024-07-01 09:00:00", "2024-07-01T09:00:00+02:00", None]
    bad = pl.read_parquet(result.rejects_path).sort("line")
    assert bad["line"].to_list() == [4, 6]
    assert "cannot read update time 'yesterday'" in bad["reason"][0]
    assert "does not exist in time zone America/New_York" in bad["reason"][1]
    assert result.rows_read == result.rows_landed + result.rows_rejected == 5


def test_configured_update_time_formats_are_tried_first(tmp_path: Path) -> None:
    config = make_config(tmp_path, updated_at_formats=["%d/%m/%Y %H:%M"], timezone="Europe/Paris")
    write_source(tmp_path, "1,Ann,a@x,31/01/2024 10:15", "2,Bo,b@x,2024-02-01T00:00:00Z")
    df = current(ingest_source(config, "run1", "shop"))
    assert df["source_updated_at"].to_list() == [
        datetime(2024, 1, 31, 9, 15, tzinfo=UTC),
        datetime(2024, 2, 1, tzinfo=UTC),
    ]


def test_rerunning_the_last_run_id_is_idempotent(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    write_source(tmp_path, *FIRST)
    ingest_source(config, "run1", "shop")
    write_source(tmp_path, *FIRST, "4,Di Fox,di@x.com,2024-01-04T12:00:00Z")
    second = ingest_source(config, "run2", "shop")
    state_before = state(config)
    raw_bytes = (Path(second.raw_path) / "part-00000.parquet").read_bytes()

    again = ingest_source(config, "run2", "shop")

    assert again.reused_batch and not second.reused_batch
    assert again.watermark_before == second.watermark_before  # started from the same point
    assert again.model_dump(exclude={"reused_batch"}) == second.model_dump(exclude={"reused_batch"})
    assert (Path(second.raw_path) / "part-00000.parquet").read_bytes() == raw_bytes
    assert current(again).equals(current(second))
    assert state(config) == state_before


def test_rerun_refuses_to_overwrite_a_committed_batch_with_different_rows(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path)
    write_source(tmp_path, *FIRST)
    first = ingest_source(config, "run1", "shop")
    stored = raw(first)
    write_source(tmp_path, "1,Ann Lee,changed@x.com,2024-01-01T10:00:00Z", *FIRST[1:])
    with pytest.raises(SourceError, match="already committed with different rows"):
        ingest_source(config, "run1", "shop")
    assert raw(first).equals(stored)
    assert not list(config.warehouse.path.glob("raw/shop/.*"))  # no staging left behind


def test_rerunning_an_older_run_is_refused(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    write_source(tmp_path, *FIRST)
    ingest_source(config, "run1", "shop")
    ingest_source(config, "run2", "shop")
    with pytest.raises(SourceError, match="roll the source back"):
        ingest_source(config, "run1", "shop")


def test_a_batch_left_by_a_failed_attempt_is_replaced(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    write_source(tmp_path, *FIRST)
    leftover = config.warehouse.path / "raw" / "shop" / "batch_id=run1"
    leftover.mkdir(parents=True)
    pl.DataFrame({"id": ["junk"]}).write_parquet(leftover / "part-00000.parquet")
    result = ingest_source(config, "run1", "shop")
    assert raw(result)["id"].to_list() == ["1", "2", "3"]


def test_a_failed_run_leaves_state_and_raw_layer_untouched(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    write_source(tmp_path, *FIRST)
    ingest_source(config, "run1", "shop")
    before = state(config)
    (tmp_path / "shop.csv").write_text("id,name,changed\n9,Zed,2024-03-01T00:00:00Z\n")
    with pytest.raises(SchemaDriftError):
        ingest_source(config, "run2", "shop")
    assert state(config) == before
    assert not (config.warehouse.path / "raw" / "shop" / "batch_id=run2").exists()
    assert not list(config.warehouse.path.glob("raw/shop/.*"))


def test_missing_previous_current_set_asks_for_a_full_reload(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    write_source(tmp_path, *FIRST)
    first = ingest_source(config, "run1", "shop")
    Path(first.current_path).unlink()
    with pytest.raises(SourceError, match="--full-reload"):
        ingest_source(config, "run2", "shop")
    assert ingest_source(config, "run2", "shop", full_reload=True).rows_current == 3


def test_erased_subjects_block_ingest_until_a_suppression_filter_is_installed(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path)
    write_source(tmp_path, *FIRST)
    suppression = config.warehouse.path / "state" / "suppression.jsonl"
    suppression.parent.mkdir(parents=True)
    suppression.write_text('{"hash": "abc"}\n')
    # The privacy stage's filter is installed: a list it cannot check still blocks the ingest.
    with pytest.raises(PrivacyError, match="line 1 is not a suppression entry"):
        ingest_source(config, "run1", "shop")
    assert not (config.warehouse.path / "raw" / "shop").exists()


def test_unusable_run_ids_are_refused(tmp_path: Path) -> None:
    from pipelines.errors import ConfigError

    config = make_config(tmp_path)
    write_source(tmp_path, *FIRST)
    for bad in ("../escape", "a/b", "", "has space"):
        with pytest.raises(ConfigError, match="cannot name folders"):
            ingest_source(config, bad, "shop")
