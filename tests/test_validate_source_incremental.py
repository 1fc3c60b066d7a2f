"""Incremental source validation: reusing row verdicts writes what a full validation writes."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from pipelines.config import PipelineConfig, load_config
from pipelines.validate import validate_source
from pipelines.validate.incremental import marker_path
from pipelines.validate.stage import SuiteResult
from pipelines.warehouse import Warehouse

RUN_1 = "20260301T090000Z-aaaaaa"
RUN_2 = "20260302T090000Z-bbbbbb"
RUN_3 = "20260303T090000Z-cccccc"
MAPPING = {"first_name": "first", "last_name": "last", "email": "mail", "phone": "tel"}
NOT_NULL = "expect_column_values_to_not_be_null"

SUITE: dict[str, Any] = {
    "name": "crm",
    "expectations": [
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1},
         "meta": {"severity": "warning"}},
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "source_record_id"},
         "meta": {"severity": "critical"}},
        {"type": "expect_column_values_to_match_regex",
         "kwargs": {"column": "raw_email", "regex": r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$"},
         "meta": {"severity": "critical"}, "description": "The email address is malformed."},
        {"type": "expect_column_values_to_match_regex",
         "kwargs": {"column": "raw_phone", "regex": r"^\+[0-9]{8,15}$", "mostly": 0.9},
         "meta": {"severity": "warning"}},
        {"type": NOT_NULL,
         "kwargs": {"column": "raw_email", "row_condition": {
             "type": "nullity", "column": {"name": "raw_phone"}, "is_null": True}},
         "meta": {"severity": "critical"}, "description": "No way to reach the customer."},
        {"type": "expect_column_value_lengths_to_be_between",
         "kwargs": {"column": "raw_last_name", "min_value": 2, "max_value": 30},
         "meta": {"severity": "critical"}},
        {"type": "expect_column_pair_values_a_to_be_greater_than_b",
         "kwargs": {"column_A": "ingested_at", "column_B": "source_updated_at",
                    "or_equal": True, "ignore_row_if": "either_value_is_missing"},
         "meta": {"severity": "critical"}},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "source_updated_at", "max_value": {"$PARAMETER": "run_time"}},
         "meta": {"severity": "warning"}},
        {"type": "expect_column_proportion_of_non_null_values_to_be_between",
         "kwargs": {"column": "raw_phone", "min_value": 0.5}, "meta": {"severity": "warning"}},
    ],
}  # fmt: skip
"""Row-by-row rules (regex, conditional null, lengths, pair) beside rules that compare rows
(uniqueness), judge the set (row count, proportion) or read a run parameter (run_time)."""


def _config(tmp_path: Path, **validation: Any) -> PipelineConfig:
    suites = tmp_path / "suites"
    suites.mkdir(exist_ok=True)
    (suites / "crm.json").write_text(json.dumps(SUITE))
    text = {
        "warehouse": {"path": str(tmp_path / "warehouse")},
        "validation": {"expectations_dir": str(suites), **validation},
        "sources": [{"name": "crm", "kind": "file", "path": "crm.csv", "id_column": "id",
                     "mapping": MAPPING}],
    }  # fmt: skip
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(text))
    return load_config(path)


def _record(rng: random.Random, record_id: str, batch: str) -> dict[str, Any]:
    """A record with a fair chance of breaking each row-by-row rule."""
    loaded = datetime.strptime(batch[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    updated = loaded + timedelta(hours=rng.choice([-30, -2, 1, 40]))  # some in the future
    return {
        "source_record_id": record_id,
        "batch_id": batch,
        "ingested_at": loaded,
        "source_updated_at": rng.choice([updated, updated, None]),
        "first": rng.choice(["Ada", "Alan", None]),
        "last": rng.choice(["Lovelace", "X", "Turing", None]),
        "mail": rng.choice([f"p{record_id}@example.org", "bad(at)example.org", None]),
        "tel": rng.choice(["+442071234567", "555-0100", None]),
    }


def _write_current(config: PipelineConfig, run_id: str, records: list[dict[str, Any]]) -> None:
    frame = pl.DataFrame(
        [
            {
                "record_key": f"crm:{r['source_record_id']}",
                "source_system": "crm",
                **{k: r[k] for k in ("source_record_id", "batch_id", "ingested_at")},
                "source_updated_at": r["source_updated_at"],
                "id": r["source_record_id"],
                **{c: r[c] for c in MAPPING.values()},
            }
            for r in records
        ],
        schema_overrides={
            "ingested_at": pl.Datetime("us", "UTC"),
            "source_updated_at": pl.Datetime("us", "UTC"),
        },
    )
    path = Warehouse(config.warehouse.path).current_records(run_id, "crm")
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path)


def _outputs(result: SuiteResult) -> dict[str, Any]:
    """Everything a source validation publishes, read back."""
    return {
        "accepted": pl.read_parquet(result.accepted_path),
        "quarantine": pl.read_parquet(result.quarantine_path),
        "dq": json.loads(result.dq_path.read_text()),
        "gx": json.loads(result.gx_result_path.read_text()),
    }


def _assert_same(incremental: dict[str, Any], full: dict[str, Any]) -> None:
    assert incremental["accepted"].equals(full["accepted"])
    assert incremental["quarantine"].equals(full["quarantine"])
    assert incremental["dq"] == full["dq"]
    assert incremental["gx"] == full["gx"]


def _second_day(rng: random.Random, first: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Day two as ingest builds it: some records removed, some re-delivered changed, new ones
    added, a duplicated id inside the new batch, and a new-batch record reusing an id an old
    record still holds (a uniqueness failure across old and new rows)."""
    kept = [r for r in first if rng.random() > 0.05]
    changed_ids = {r["source_record_id"] for r in rng.sample(kept, 12)}
    old = [r for r in kept if r["source_record_id"] not in changed_ids]
    batch = [_record(rng, i, RUN_2) for i in sorted(changed_ids)]
    batch += [_record(rng, f"n{i}", RUN_2) for i in range(10)]
    batch += [_record(rng, "dup", RUN_2), _record(rng, "dup", RUN_2)]
    batch.append(_record(rng, old[0]["source_record_id"], RUN_2))
    return old + batch


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_equals_full_after_changes_additions_removals_and_duplicates(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    config = _config(tmp_path)
    first = [_record(rng, str(i), RUN_1) for i in range(200)]
    _write_current(config, RUN_1, first)
    day_one = validate_source(config, RUN_1, "crm")
    assert day_one.path == "full"
    _write_current(config, RUN_2, _second_day(rng, first))

    incremental = validate_source(config, RUN_2, "crm")
    kept = _outputs(incremental)
    full = validate_source(config, RUN_2, "crm", full=True)

    assert incremental.path == "incremental"
    assert incremental.reused_from == RUN_1
    assert full.path == "full" and full.full_reason == "full validation requested"
    _assert_same(kept, _outputs(full))
    duplicates = kept["quarantine"].filter(
        pl.col("expectation") == "expect_column_values_to_be_unique"
    )
    reused_id = duplicates.filter(pl.col("source_record_id") != "dup")["source_record_id"]
    assert duplicates.filter(pl.col("source_record_id") == "dup").height == 2
    assert reused_id.len() == 2 and reused_id.n_unique() == 1  # the old row and the new one


def test_counts_say_which_rows_were_reused_and_which_evaluated(tmp_path: Path) -> None:
    rng = random.Random(7)
    config = _config(tmp_path)
    first = [_record(rng, str(i), RUN_1) for i in range(100)]
    _write_current(config, RUN_1, first)
    validate_source(config, RUN_1, "crm")
    changed = [_record(rng, "3", RUN_2), _record(rng, "new", RUN_2)]
    _write_current(config, RUN_2, [r for r in first if r["source_record_id"] != "3"] + changed)

    result = validate_source(config, RUN_2, "crm")

    assert (result.path, result.rows_in) == ("incremental", 101)
    assert (result.rows_reused, result.rows_evaluated) == (99, 2)
    assert result.rows_in == result.accepted + result.quarantined
    assert result.full_reason is None


def test_a_changed_suite_file_forces_the_full_path(tmp_path: Path) -> None:
    rng = random.Random(11)
    config = _config(tmp_path)
    records = [_record(rng, str(i), RUN_1) for i in range(50)]
    _write_current(config, RUN_1, records)
    validate_source(config, RUN_1, "crm")
    suite_file = config.validation.expectations_dir / "crm.json"
    edited = json.loads(suite_file.read_text())
    edited["expectations"][5]["kwargs"]["min_value"] = 3  # a stricter length rule
    suite_file.write_text(json.dumps(edited))
    _write_current(config, RUN_2, records)

    result = validate_source(config, RUN_2, "crm")

    assert result.path == "full"
    assert result.full_reason is not None and "suite file changed" in result.full_reason
    assert result.rows_reused == 0 and result.rows_evaluated == 50
    short = [r for r in records if r["last"] is not None and len(r["last"]) < 3]
    lengths = pl.read_parquet(result.quarantine_path).filter(
        pl.col("expectation") == "expect_column_value_lengths_to_be_between"
    )
    assert lengths.height == len(short) > 0


def test_a_changed_source_configuration_forces_the_full_path(tmp_path: Path) -> None:
    rng = random.Random(5)
    config = _config(tmp_path)
    records = [_record(rng, str(i), RUN_1) for i in range(30)]
    _write_current(config, RUN_1, records)
    validate_source(config, RUN_1, "crm")
    _write_current(config, RUN_2, records)
    moved = config.model_copy(deep=True)
    moved.sources[0].trust_rank = 9

    result = validate_source(moved, RUN_2, "crm")

    assert result.path == "full"
    assert result.full_reason is not None and "configuration" in result.full_reason


def test_the_full_switch_in_the_config_skips_reuse(tmp_path: Path) -> None:
    rng = random.Random(3)
    config = _config(tmp_path, full=True)
    records = [_record(rng, str(i), RUN_1) for i in range(30)]
    _write_current(config, RUN_1, records)
    validate_source(config, RUN_1, "crm")
    _write_current(config, RUN_2, records)

    result = validate_source(config, RUN_2, "crm")

    assert (result.path, result.full_reason) == ("full", "full validation requested")


def test_a_full_rebuild_of_the_pipeline_reaches_source_validation(tmp_path: Path) -> None:
    """``golden run --full-rebuild`` (and the DAG param) re-judge every row, not only matches."""
    from pipelines.orchestrate import run_stage

    rng = random.Random(4)
    config = _config(tmp_path)
    records = [_record(rng, str(i), RUN_1) for i in range(30)]
    _write_current(config, RUN_1, records)
    validate_source(config, RUN_1, "crm")
    _write_current(config, RUN_2, records)

    result = run_stage("validate_source", config, RUN_2, source="crm", full_rebuild=True)

    assert (result["path"], result["full_reason"]) == ("full", "full validation requested")


def test_a_run_without_its_commit_marker_is_not_reused(tmp_path: Path) -> None:
    rng = random.Random(9)
    config = _config(tmp_path)
    records = [_record(rng, str(i), RUN_1) for i in range(40)]
    warehouse = Warehouse(config.warehouse.path)
    for run_id in (RUN_1, RUN_2):
        _write_current(config, run_id, records)
        validate_source(config, run_id, "crm")
    marker_path(warehouse, RUN_2, "crm").unlink()  # as if RUN_2 crashed before committing
    _write_current(config, RUN_3, records)

    result = validate_source(config, RUN_3, "crm")

    assert result.reused_from == RUN_1
    assert warehouse.row_verdicts(RUN_3, "crm").is_file()
    assert marker_path(warehouse, RUN_3, "crm").is_file()


def test_a_chain_of_incremental_runs_stays_equal_to_full(tmp_path: Path) -> None:
    rng = random.Random(21)
    config = _config(tmp_path)
    records = [_record(rng, str(i), RUN_1) for i in range(120)]
    _write_current(config, RUN_1, records)
    validate_source(config, RUN_1, "crm")
    for run_id in (RUN_2, RUN_3):
        changed = {r["source_record_id"] for r in rng.sample(records, 10)}
        records = [r for r in records if r["source_record_id"] not in changed]
        records += [_record(rng, i, run_id) for i in sorted(changed)]
        _write_current(config, run_id, records)
        incremental = validate_source(config, run_id, "crm")
        assert incremental.path == "incremental"
        kept = _outputs(incremental)
        full = validate_source(config, run_id, "crm", full=True)
        _assert_same(kept, _outputs(full))
