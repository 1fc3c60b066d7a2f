"""Incremental standardisation: a run reuses the previous run's staged rows for unchanged record
versions, and what it writes is exactly what the full path writes for the same input; anything
besides the rows that could change a result (settings, inferred date order, run year, a
crashed previous run) sends it down the full path."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest

from pipelines.config import PipelineConfig
from pipelines.schema import LINEAGE_COLUMNS, MAPPABLE_FIELDS
from pipelines.standardise import StandardiseResult, stage, standardise
from pipelines.standardise.incremental import HASH_COLUMNS, marker_path, match_previous
from pipelines.standardise.nicknames import nickname_table
from pipelines.warehouse import Warehouse

RUN_1 = "20260301T120000Z-aaaaaa"
RUN_2 = "20260301T150000Z-bbbbbb"
RUN_3 = "20260301T180000Z-cccccc"
NEXT_DAY = "20260302T120000Z-dddddd"

FIRST = ["anna", "Bob", "CARLOS", "Dmitri", "Émile", "fatima", "Grace", "hiro", "Иван", "王"]
LAST = ["smith", "O'BRIEN", "van der Berg", "Müller", "garcía", "Петров", "lee", "Nguyen"]
CITIES = ["london", "Boston", "berlin", "PARIS", "toronto", "Dublin"]
COUNTRIES = ["UK", "United States", "DE", "france", "CA", "IE", None]
REPORT_ONLY = {"path", "reused_from", "full_reason", "rows_reused", "rows_standardised"}


def _config(root: Path, **standardise_settings: Any) -> PipelineConfig:
    source = {"kind": "file", "format": "csv", "id_column": "id"}
    return PipelineConfig.model_validate(
        {
            "warehouse": {"path": str(root)},
            "standardise": standardise_settings,
            "sources": [
                # No date format: the day/month order is inferred from the source's dates.
                {**source, "name": "crm", "path": "crm.csv", "mapping": {"full_name": "name"},
                 "default_phone_region": "US", "trust_rank": 1},
                {**source, "name": "shop", "path": "shop.csv", "mapping": {"first_name": "fn"},
                 "default_phone_region": "GB", "timezone": "Europe/London",
                 "date_formats": {"date_of_birth": ["%d/%m/%Y"]}, "trust_rank": 2},
            ],
        }
    )  # fmt: skip


def _dob(rng: random.Random, order: str) -> str | None:
    """A date of birth as the source writes it: mostly unambiguous in ``order`` (day > 12),
    some ambiguous (both parts <= 12), some junk and some missing."""
    roll = rng.random()
    if roll < 0.08:
        return None
    if roll < 0.12:
        return rng.choice(["31/02/1980", "not a date", "1975-13-01", "01/01/2099"])
    year = rng.randint(1930, 2005)
    month = rng.randint(1, 12)
    day = rng.randint(1, 12) if roll < 0.3 else rng.randint(13, 28)
    first, second = (day, month) if order == "day_first" else (month, day)
    return f"{first:02d}/{second:02d}/{year}"


def _record(rng: random.Random, source: str, order: str) -> dict[str, str | None]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    record: dict[str, str | None] = {
        "email": rng.choice([f"{first}.{last}@Example.com", f"{first}+x@gmail.com", "bad@", None]),
        "phone": rng.choice(["(212) 555-0100 x12", "020 7946 0958", "+49 30 1234567", "12", None]),
        "city": rng.choice(CITIES),
        "postcode": rng.choice(["sw1a2aa", "02134", "10115", None]),
        "country": rng.choice(COUNTRIES),
        "date_of_birth": _dob(rng, order),
    }
    if source == "crm":
        record["full_name"] = rng.choice([f"{first} {last}", f"{last.upper()}, {first}", None])
        record["address"] = rng.choice(["12 Main St, Boston, MA 02134", "Hauptstraße 5", None])
    else:
        record["first_name"], record["last_name"] = first, last
    return record


def _frame(
    source: str, rank: int, rows: list[tuple[str, str, dict[str, str | None]]]
) -> pl.DataFrame:
    """Accepted records of a source: (id, batch id, raw values) per row."""
    data = []
    for record_id, batch_id, raw in rows:
        row: dict[str, object] = {
            "record_key": f"{source}:{record_id}",
            "source_system": source,
            "source_record_id": record_id,
            "batch_id": batch_id,
            "ingested_at": datetime.strptime(batch_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC),
            "source_updated_at": datetime(2026, 2, 1, 9, 30),
        }
        row.update({f"raw_{f}": raw.get(f) for f in MAPPABLE_FIELDS})
        row["trust_rank"] = rank
        data.append(row)
    schema: dict[str, Any] = {c: pl.String for c in LINEAGE_COLUMNS}
    schema.update(ingested_at=pl.Datetime("us", "UTC"), source_updated_at=pl.Datetime("us"))
    schema.update({f"raw_{f}": pl.String for f in MAPPABLE_FIELDS})
    schema["trust_rank"] = pl.Int32
    return pl.DataFrame(data, schema=schema, orient="row" if not data else None)


Sources = dict[str, list[tuple[str, str, dict[str, str | None]]]]


def _initial(seed: int = 1, n: int = 150, order: str = "day_first") -> Sources:
    rng = random.Random(seed)
    return {
        source: [(str(i), RUN_1, _record(rng, source, order)) for i in range(n)]
        for source in ("crm", "shop")
    }


def _write(warehouse: Warehouse, run_id: str, sources: Sources) -> None:
    for rank, (source, rows) in enumerate(sources.items(), start=1):
        path = warehouse.accepted(run_id, source)
        path.parent.mkdir(parents=True, exist_ok=True)
        _frame(source, rank, rows).write_parquet(path)


def _next_day(sources: Sources, run_id: str, seed: int = 2) -> tuple[Sources, int]:
    """Some records re-delivered with new values, some removed, some added (new ids, and one
    id delivered twice in the batch); returns the new sources and how many rows changed."""
    rng = random.Random(seed)
    out: Sources = {}
    changed = 0
    for source, rows in sources.items():
        kept = []
        for record_id, batch_id, raw in rows:
            roll = rng.random()
            if roll < 0.05:
                continue  # removed (erased, or gone from a full load)
            if roll < 0.15:
                kept.append((record_id, run_id, _record(rng, source, "day_first")))
                changed += 1
            else:
                kept.append((record_id, batch_id, raw))
        for i in range(10):
            kept.append((f"new{i}", run_id, _record(rng, source, "day_first")))
        kept.append(("new0", run_id, _record(rng, source, "day_first")))
        changed += 11
        out[source] = kept
    return out, changed


def _table_and_report(result: StandardiseResult) -> tuple[Any, dict[str, Any]]:
    report = json.loads(result.report_path.read_text())
    return pq.read_table(result.staged_path), {
        k: v for k, v in report.items() if k not in REPORT_ONLY
    }


def _assert_same_as_full(config: PipelineConfig, run_id: str, result: StandardiseResult) -> None:
    incremental_table, incremental_report = _table_and_report(result)
    full = standardise(config, run_id, full=True)
    assert full.path == "full" and full.full_reason == "full standardisation requested"
    full_table, full_report = _table_and_report(full)
    assert incremental_table.schema == full_table.schema
    assert incremental_table.equals(full_table)
    assert incremental_report == full_report


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    return Warehouse(tmp_path / "wh")


def test_changed_added_and_removed_records_give_the_full_result(warehouse: Warehouse) -> None:
    config = _config(warehouse.root)
    day1 = _initial()
    _write(warehouse, RUN_1, day1)
    first = standardise(config, RUN_1)
    assert first.path == "full" and first.rows_standardised == first.rows_in == 300
    assert first.full_reason == "no earlier run with a complete staged output"
    assert first.sources["crm"].date_order == "day_first"

    day2, changed = _next_day(day1, RUN_2)
    _write(warehouse, RUN_2, day2)
    second = standardise(config, RUN_2)

    rows = sum(len(r) for r in day2.values())
    assert second.path == "incremental" and second.reused_from == RUN_1
    assert second.full_reason is None
    assert second.rows_standardised == changed
    assert second.rows_reused == rows - changed
    assert second.rows_in == second.rows_out == rows
    removed = {f"{s}:{i}" for s, r in day1.items() for i, _, _ in r} - {
        f"{s}:{i}" for s, r in day2.items() for i, _, _ in r
    }
    assert removed
    staged_keys = set(pl.read_parquet(second.staged_path)["record_key"].to_list())
    assert not removed & staged_keys
    _assert_same_as_full(config, RUN_2, second)


def test_an_unchanged_rerun_reuses_every_row(warehouse: Warehouse) -> None:
    config = _config(warehouse.root)
    day1 = _initial()
    _write(warehouse, RUN_1, day1)
    standardise(config, RUN_1)
    _write(warehouse, RUN_2, day1)
    second = standardise(config, RUN_2)
    assert (second.path, second.rows_reused, second.rows_standardised) == ("incremental", 300, 0)
    _assert_same_as_full(config, RUN_2, second)


def test_the_next_run_reuses_an_incremental_run(warehouse: Warehouse) -> None:
    config = _config(warehouse.root)
    day1 = _initial()
    _write(warehouse, RUN_1, day1)
    standardise(config, RUN_1)
    day2, _ = _next_day(day1, RUN_2)
    _write(warehouse, RUN_2, day2)
    assert standardise(config, RUN_2).path == "incremental"
    day3, changed = _next_day(day2, RUN_3, seed=3)
    _write(warehouse, RUN_3, day3)
    third = standardise(config, RUN_3)
    assert (third.path, third.reused_from, third.rows_standardised) == (
        "incremental",
        RUN_2,
        changed,
    )
    _assert_same_as_full(config, RUN_3, third)


def test_a_settings_change_forces_the_full_path(warehouse: Warehouse) -> None:
    _write(warehouse, RUN_1, _initial())
    standardise(_config(warehouse.root), RUN_1)
    _write(warehouse, RUN_2, _initial())
    config = _config(warehouse.root, min_birth_year=1950)
    second = standardise(config, RUN_2)
    assert second.path == "full" and second.rows_reused == 0
    assert "standardise settings" in (second.full_reason or "")
    _assert_same_as_full(config, RUN_2, second)


def test_a_changed_nickname_file_forces_the_full_path(warehouse: Warehouse, tmp_path: Path) -> None:
    nicknames = tmp_path / "nicknames.csv"
    nicknames.write_text("nickname,canonical\nhiro,hiroshi\n")
    config = _config(warehouse.root, nicknames_path=str(nicknames))
    _write(warehouse, RUN_1, _initial())
    standardise(config, RUN_1)
    nicknames.write_text("nickname,canonical\nhiro,hiroyuki\n")  # same path, new content
    nickname_table.cache_clear()  # the next run is a new process: it reads the file again
    _write(warehouse, RUN_2, _initial())
    second = standardise(config, RUN_2)
    assert second.path == "full" and "nickname" in (second.full_reason or "")


def test_a_source_hint_change_forces_the_full_path(warehouse: Warehouse) -> None:
    _write(warehouse, RUN_1, _initial())
    standardise(_config(warehouse.root), RUN_1)
    config = _config(warehouse.root)
    config.sources[0].default_phone_region = "GB"
    _write(warehouse, RUN_2, _initial())
    second = standardise(config, RUN_2)
    assert second.path == "full" and "'crm': its hints changed" in (second.full_reason or "")


def test_a_changed_inferred_date_order_forces_the_full_path(warehouse: Warehouse) -> None:
    """Day one the crm writes day first; day two's new records outvote that (no order can be
    inferred any more), which changes how every ambiguous date already seen reads."""
    config = _config(warehouse.root)
    day1 = _initial()
    _write(warehouse, RUN_1, day1)
    first = standardise(config, RUN_1)
    assert first.sources["crm"].date_order == "day_first"
    assert first.sources["crm"].ambiguous_dates_resolved > 0

    rng = random.Random(5)
    day2 = {s: list(rows) for s, rows in day1.items()}
    day2["crm"] += [(f"us{i}", RUN_2, _record(rng, "crm", "month_first")) for i in range(150)]
    _write(warehouse, RUN_2, day2)
    second = standardise(config, RUN_2)

    assert second.path == "full" and second.rows_reused == 0
    assert "'crm': the inferred date order" in (second.full_reason or "")
    assert second.sources["crm"].date_order != "day_first"
    _assert_same_as_full(config, RUN_2, second)


def test_the_run_date_moving_on_rereads_dates_flagged_as_future(warehouse: Warehouse) -> None:
    """A date of birth after day one's run date is flagged; the next run, a day later, must
    read it as valid, as the full path does."""
    config = _config(warehouse.root)
    day1 = _initial()
    day1["shop"].append(("tomorrow", RUN_1, {"first_name": "Ada", "date_of_birth": "02/03/2026"}))
    _write(warehouse, RUN_1, day1)
    first = standardise(config, RUN_1)
    flagged = pl.read_parquet(first.staged_path).filter(pl.col("record_key") == "shop:tomorrow")
    assert flagged["invalid_fields"].to_list() == [["date_of_birth"]]

    _write(warehouse, NEXT_DAY, day1)
    second = standardise(config, NEXT_DAY)
    assert second.path == "incremental"
    # Only the rows flagged for their date of birth are read again.
    flagged_rows = pl.read_parquet(first.staged_path)["invalid_fields"].list.contains(
        "date_of_birth"
    )
    assert second.rows_standardised == flagged_rows.sum() > 0
    valid = pl.read_parquet(second.staged_path).filter(pl.col("record_key") == "shop:tomorrow")
    assert valid["date_of_birth"].cast(pl.String).to_list() == ["2026-03-02"]
    _assert_same_as_full(config, NEXT_DAY, second)


def test_a_new_year_forces_the_full_path(warehouse: Warehouse) -> None:
    """Two-digit years take their century from the run's year."""
    config = _config(warehouse.root)
    _write(warehouse, "20251231T120000Z-aaaaaa", _initial())
    standardise(config, "20251231T120000Z-aaaaaa")
    _write(warehouse, RUN_1, _initial())
    second = standardise(config, RUN_1)
    assert second.path == "full" and "same year" in (second.full_reason or "")


def test_full_switch_in_config_forces_the_full_path(warehouse: Warehouse) -> None:
    _write(warehouse, RUN_1, _initial())
    standardise(_config(warehouse.root), RUN_1)
    _write(warehouse, RUN_2, _initial())
    second = standardise(_config(warehouse.root, full=True), RUN_2)
    assert second.path == "full" and second.full_reason == "full standardisation requested"


def test_a_full_rebuild_of_the_pipeline_reaches_standardise(warehouse: Warehouse) -> None:
    """``golden run --full-rebuild`` (and the DAG param) rebuild staged rows, not only matches."""
    from pipelines.orchestrate import run_stage

    config = _config(warehouse.root)
    _write(warehouse, RUN_1, _initial())
    standardise(config, RUN_1)
    _write(warehouse, RUN_2, _initial())
    second = run_stage("standardise", config, RUN_2, full_rebuild=True)
    assert second["path"] == "full"
    assert second["full_reason"] == "full standardisation requested"


def test_a_run_without_its_commit_marker_is_not_reused(warehouse: Warehouse) -> None:
    """A run that crashed while writing its staged output is skipped for an older one."""
    config = _config(warehouse.root)
    day1 = _initial()
    _write(warehouse, RUN_1, day1)
    standardise(config, RUN_1)
    _write(warehouse, RUN_2, day1)
    standardise(config, RUN_2)
    marker_path(warehouse, RUN_2).unlink()
    day3, _ = _next_day(day1, RUN_3)
    _write(warehouse, RUN_3, day3)
    third = standardise(config, RUN_3)
    assert third.path == "incremental" and third.reused_from == RUN_1
    _assert_same_as_full(config, RUN_3, third)


def test_previous_files_that_disagree_force_the_full_path(warehouse: Warehouse) -> None:
    config = _config(warehouse.root)
    day1 = _initial()
    _write(warehouse, RUN_1, day1)
    first = standardise(config, RUN_1)
    staged = pl.read_parquet(first.staged_path)
    staged.slice(1).write_parquet(first.staged_path)  # a row gone from one file only
    _write(warehouse, RUN_2, day1)
    second = standardise(config, RUN_2)
    assert second.path == "full" and "do not line up" in (second.full_reason or "")


def _hashes(rows: list[tuple[str, str, int, int]]) -> pl.DataFrame:
    schema: dict[str, Any] = {"record_key": pl.String, "batch_id": pl.String}
    schema.update(dict.fromkeys(HASH_COLUMNS, pl.UInt64))
    return pl.DataFrame(rows, schema=schema, orient="row")


def test_match_previous_reuses_only_rows_equal_in_key_batch_and_both_hashes() -> None:
    """The lookup joins on one hash; a row it finds is reused only if the record key, the
    batch id and the other hash agree too, so a 64-bit collision costs a reuse, never a wrong
    row."""
    previous = _hashes(
        [
            ("crm:1", "b1", 10, 100),
            ("crm:2", "b1", 20, 200),
            ("crm:2", "b1", 20, 200),  # an exact duplicate: the first is taken
            ("crm:3", "b1", 30, 300),
            ("crm:4", "b1", 40, 400),
        ]
    )
    current = _hashes(
        [
            ("crm:4", "b1", 40, 400),  # unchanged, elsewhere in the order
            ("crm:2", "b1", 20, 200),  # unchanged (duplicated before)
            ("crm:1", "b1", 10, 999),  # same first hash, other second hash
            ("crm:9", "b1", 30, 300),  # both hashes of crm:3, another key
            ("crm:3", "b2", 30, 300),  # both hashes of crm:3, another batch
            ("crm:5", "b1", 50, 500),  # new
        ]
    )
    assert match_previous(current, previous).to_list() == [4, 1, None, None, None, None]


def test_match_previous_never_reuses_a_skipped_row_and_handles_no_previous_rows() -> None:
    previous = _hashes([("crm:1", "b1", 10, 100), ("crm:2", "b1", 20, 200)])
    current = _hashes([("crm:1", "b1", 10, 100), ("crm:2", "b1", 20, 200)])
    skip = pl.Series([True, False])
    assert match_previous(current, previous, skip).to_list() == [None, 1]
    assert match_previous(current, previous.clear()).to_list() == [None, None]
    assert match_previous(current.clear(), previous).to_list() == []


def test_a_previous_file_in_many_row_groups_gives_the_full_result(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Staged files are written in row groups; reuse reads every group back in order."""
    monkeypatch.setattr(stage, "ROW_GROUP_ROWS", 16)
    config = _config(warehouse.root)
    day1 = _initial()
    _write(warehouse, RUN_1, day1)
    first = standardise(config, RUN_1)
    assert pq.ParquetFile(first.staged_path).metadata.num_row_groups == 19  # 300 rows
    day2, changed = _next_day(day1, RUN_2)
    _write(warehouse, RUN_2, day2)
    second = standardise(config, RUN_2)
    assert second.path == "incremental" and second.rows_standardised == changed
    _assert_same_as_full(config, RUN_2, second)


def test_previous_files_holding_other_records_force_the_full_path(warehouse: Warehouse) -> None:
    """Same row count, rows in another order: the staged rows no longer line up with their
    hashes, so none is reused; on a new run date too, where its date flags are read first."""
    config = _config(warehouse.root)
    day1 = _initial()
    _write(warehouse, RUN_1, day1)
    first = standardise(config, RUN_1)
    staged = pl.read_parquet(first.staged_path)
    staged.reverse().write_parquet(first.staged_path)
    for run_id in (RUN_2, NEXT_DAY):
        _write(warehouse, run_id, day1)
        later = standardise(config, run_id)
        assert later.path == "full" and "do not line up" in (later.full_reason or "")
        _assert_same_as_full(config, run_id, later)
        marker_path(warehouse, run_id).unlink()  # not a previous run for the next one


def test_a_source_standardised_in_slices_gives_the_rows_and_report_of_one_pass(
    warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(warehouse.root)
    # A slice of seven dates alone often cannot tell day-first from month-first.
    _write(warehouse, RUN_1, _initial(n=150))
    whole_table, whole_report = _table_and_report(standardise(config, RUN_1, full=True))
    monkeypatch.setattr(stage, "SLICE_ROWS", 7)
    sliced = standardise(config, RUN_1, full=True)
    sliced_table, sliced_report = _table_and_report(sliced)
    assert sliced.sources["crm"].date_order == "day_first"
    assert sliced_table.schema == whole_table.schema
    assert sliced_table.equals(whole_table)
    assert sliced_report == whole_report
