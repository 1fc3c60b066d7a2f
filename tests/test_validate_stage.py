"""The validation stage: what is accepted, quarantined (with why), counted, and written per run."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from pipelines.config import PipelineConfig, load_config
from pipelines.errors import ConfigError, StageInputError
from pipelines.schema import LINEAGE_COLUMNS, MAPPABLE_FIELDS
from pipelines.validate import validate_source, validate_staged
from pipelines.validate.synthetic import RUN_ID, staged_frame
from pipelines.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[1]
RUN = "20260301T090000Z-abc123"
LOADED = datetime(2026, 3, 1, 9, 0, 5, tzinfo=UTC)

MAPPING = {"first_name": "first", "last_name": "last", "email": "mail", "phone": "tel"}

BAD_EMAIL_IS_CRITICAL = {
    "name": "crm",
    "expectations": [
        {
            "type": "expect_column_values_to_match_regex",
            "kwargs": {"column": "raw_email", "regex": r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$"},
            "meta": {"severity": "critical"},
            "description": "The email address is malformed, so this team holds the record back.",
        },
        {
            "type": "expect_column_values_to_match_regex",
            "kwargs": {"column": "raw_phone", "regex": r"^\+[0-9]{8,15}$"},
            "meta": {"severity": "warning"},
            "description": "The phone number is not in international form.",
        },
    ],
}


def write_config(tmp_path: Path, expectations_dir: Path, **validation: Any) -> PipelineConfig:
    text = {
        "warehouse": {"path": str(tmp_path / "warehouse")},
        "validation": {"expectations_dir": str(expectations_dir), **validation},
        "sources": [
            {"name": "crm", "kind": "file", "path": "crm.csv", "id_column": "id",
             "mapping": MAPPING},
        ],
    }  # fmt: skip
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(text))  # JSON is YAML
    return load_config(path)


def write_suite(folder: Path, suite: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{suite['name']}.json"
    path.write_text(json.dumps(suite))
    return path


def write_current(config: PipelineConfig, run_id: str, rows: list[dict[str, Any]]) -> Path:
    """``ingest/crm/current.parquet`` as ingest leaves it: lineage, then the source's columns."""
    frame = pl.DataFrame(
        [
            {
                "record_key": f"crm:{row['id']}",
                "source_system": "crm",
                "source_record_id": row["id"],
                "batch_id": run_id,
                "ingested_at": LOADED,
                "source_updated_at": None,
                **{c: row.get(c) for c in ("id", *MAPPING.values())},
            }
            for row in rows
        ],
        schema_overrides={"source_updated_at": pl.Datetime("us", "UTC")},
    )
    path = Warehouse(config.warehouse.path).current_records(run_id, "crm")
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path)
    return path


ROWS = [
    {"id": "1", "first": "Ada", "last": "Lovelace", "mail": "ada@example.org",
     "tel": "+442071234567"},
    {"id": "2", "first": "Alan", "last": "Turing", "mail": "alan(at)example.org",
     "tel": "+441234567890"},
    {"id": "3", "first": "Grace", "last": "Hopper", "mail": "grace@example.com",
     "tel": "555-0100"},
    {"id": "4", "first": "Edsger", "last": "Dijkstra", "mail": None, "tel": None},
]  # fmt: skip


@pytest.fixture
def config(tmp_path: Path) -> PipelineConfig:
    write_suite(tmp_path / "suites", BAD_EMAIL_IS_CRITICAL)
    return write_config(tmp_path, tmp_path / "suites")


def test_bad_email_is_quarantined_with_its_value_and_reason(config: PipelineConfig) -> None:
    write_current(config, RUN, ROWS)

    result = validate_source(config, RUN, "crm")

    quarantine = pl.read_parquet(result.quarantine_path)
    assert quarantine.to_dicts() == [
        {
            "run_id": RUN,
            "suite": "crm",
            "record_key": "crm:2",
            "source_system": "crm",
            "source_record_id": "2",
            "expectation": "expect_column_values_to_match_regex",
            "column": "raw_email",
            "value": "alan(at)example.org",
            "severity": "critical",
            "reason": "The email address is malformed, so this team holds the record back.",
        }
    ]
    accepted = pl.read_parquet(result.accepted_path)
    assert accepted["record_key"].to_list() == ["crm:1", "crm:3", "crm:4"]
    assert result.quarantined == 1


def test_warning_is_counted_and_the_row_passes(config: PipelineConfig) -> None:
    write_current(config, RUN, ROWS)

    result = validate_source(config, RUN, "crm")

    assert result.warned == 1  # Grace's local phone number
    accepted = pl.read_parquet(result.accepted_path)
    assert "crm:3" in accepted["record_key"].to_list()
    dq = json.loads(result.dq_path.read_text())
    phone = next(e for e in dq["expectations"] if e["column"] == "raw_phone")
    assert phone == {
        "expectation": "expect_column_values_to_match_regex",
        "column": "raw_phone",
        "severity": "warning",
        "success": False,
        "unexpected_count": 1,
        "unexpected_percent": pytest.approx(100 / 3),
        "sample_values": ["555-0100"],
    }


def test_accepted_rows_are_the_mapped_frame_and_nothing_is_lost(config: PipelineConfig) -> None:
    write_current(config, RUN, ROWS)

    result = validate_source(config, RUN, "crm")

    assert result.rows_in == result.accepted + result.quarantined == len(ROWS)
    accepted = pl.read_parquet(result.accepted_path)
    expected_columns = [*LINEAGE_COLUMNS, *(f"raw_{f}" for f in MAPPABLE_FIELDS), "trust_rank"]
    assert accepted.columns == expected_columns
    assert accepted.filter(pl.col("record_key") == "crm:1")["raw_email"].item() == "ada@example.org"


def test_dq_json_is_written_per_suite_per_run(config: PipelineConfig) -> None:
    other = "20260302T090000Z-def456"
    write_current(config, RUN, ROWS)
    write_current(config, other, ROWS[:1])

    first = validate_source(config, RUN, "crm")
    second = validate_source(config, other, "crm")

    assert first.dq_path != second.dq_path
    one, two = (json.loads(r.dq_path.read_text()) for r in (first, second))
    assert (one["run_id"], one["rows_in"], one["quarantined"]) == (RUN, 4, 1)
    assert (two["run_id"], two["rows_in"], two["quarantined"]) == (other, 1, 0)
    assert one["suite"] == two["suite"] == "crm" and one["source"] == "crm"
    assert set(one) == {
        "suite", "source", "run_id", "rows_in", "accepted", "quarantined", "warned", "success",
        "expectations",
    }  # fmt: skip


def test_rerun_of_a_run_id_overwrites_its_outputs(config: PipelineConfig) -> None:
    write_current(config, RUN, ROWS)
    validate_source(config, RUN, "crm")
    write_current(config, RUN, ROWS[:2])

    result = validate_source(config, RUN, "crm")

    assert pl.read_parquet(result.accepted_path).height == 1
    assert pl.read_parquet(result.quarantine_path).height == 1
    assert json.loads(result.dq_path.read_text())["rows_in"] == 2


def test_staged_records_are_validated_with_the_canonical_suite(tmp_path: Path) -> None:
    config = write_config(tmp_path, REPO / "expectations")
    frame = staged_frame(3_000, seed=5)
    path = Warehouse(config.warehouse.path).staged(RUN_ID)
    path.parent.mkdir(parents=True)
    frame.write_parquet(path)

    result = validate_staged(config, RUN_ID)

    assert result.suite == "canonical" and result.source is None
    assert result.rows_in == 3_000 == result.accepted + result.quarantined
    assert result.quarantined > 0 and result.warned > 0
    accepted = pl.read_parquet(result.accepted_path)
    assert accepted.schema == frame.schema
    quarantine = pl.read_parquet(result.quarantine_path)
    rejected = set(quarantine["record_key"].drop_nulls())
    assert rejected.isdisjoint(set(accepted["record_key"].drop_nulls()))
    assert quarantine["severity"].unique().to_list() == ["critical"]
    assert "source" not in json.loads(result.dq_path.read_text())


def test_a_name_no_person_has_is_held_back_and_a_long_one_only_warned(tmp_path: Path) -> None:
    """A 120-character last name is warned (a long compound name is possible); a 10,000
    character first name is not a name: the record is quarantined, not published."""
    config = write_config(tmp_path, REPO / "expectations")
    frame = staged_frame(20, seed=3)
    frame = frame.with_columns(
        first_name=pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit("A" * 10_000))
        .otherwise(pl.col("first_name")),
        last_name=pl.when(pl.int_range(pl.len()) == 1)
        .then(pl.lit("B" * 120))
        .otherwise(pl.col("last_name")),
    )
    path = Warehouse(config.warehouse.path).staged(RUN_ID)
    path.parent.mkdir(parents=True)
    frame.write_parquet(path)

    result = validate_staged(config, RUN_ID)

    quarantine = pl.read_parquet(result.quarantine_path)
    long_names = quarantine.filter(
        pl.col("column").is_in(["first_name", "last_name"]),
        pl.col("reason").str.contains("longer than 255"),
    )
    too_long = frame.filter(
        (pl.col("first_name").str.len_chars() > 255) | (pl.col("last_name").str.len_chars() > 255)
    )["record_key"]
    assert frame["record_key"][0] in too_long.to_list()
    assert sorted(set(long_names["record_key"])) == sorted(too_long)
    accepted = pl.read_parquet(result.accepted_path)
    assert frame["record_key"][1] in accepted["record_key"].to_list()


def test_a_record_failing_two_critical_rules_has_two_quarantine_rows(tmp_path: Path) -> None:
    suite = {
        "name": "crm",
        "expectations": [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "raw_email"},
             "meta": {"severity": "critical"}},
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "raw_phone"},
             "meta": {"severity": "critical"}},
        ],
    }  # fmt: skip
    write_suite(tmp_path / "suites", suite)
    config = write_config(tmp_path, tmp_path / "suites")
    write_current(config, RUN, ROWS)

    result = validate_source(config, RUN, "crm")

    quarantine = pl.read_parquet(result.quarantine_path)
    assert quarantine["record_key"].to_list() == ["crm:4", "crm:4"]
    assert quarantine["column"].to_list() == ["raw_email", "raw_phone"]
    assert quarantine["reason"].to_list() == ["raw_email is empty", "raw_phone is empty"]
    assert result.quarantined == 1


def test_missing_ingest_output_names_the_stage_to_run(config: PipelineConfig) -> None:
    with pytest.raises(StageInputError, match=r"current\.parquet does not exist.*ingest"):
        validate_source(config, RUN, "crm")


def test_a_suite_column_outside_the_source_contract_is_an_error(tmp_path: Path) -> None:
    suite = {
        "name": "crm",
        "expectations": [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "mail"},
             "meta": {"severity": "critical"}},
        ],
    }  # fmt: skip
    write_suite(tmp_path / "suites", suite)
    config = write_config(tmp_path, tmp_path / "suites")
    write_current(config, RUN, ROWS)

    with pytest.raises(ConfigError, match=r"crm\.json names column\(s\) \['mail'\]"):
        validate_source(config, RUN, "crm")


def test_two_sources_sharing_a_suite_is_refused(tmp_path: Path) -> None:
    write_suite(tmp_path / "suites", BAD_EMAIL_IS_CRITICAL)
    config = write_config(tmp_path, tmp_path / "suites")
    twin = config.sources[0].model_copy(update={"name": "crm_eu", "suite": "crm"})
    config = config.model_copy(update={"sources": [*config.sources, twin]})
    write_current(config, RUN, ROWS)

    with pytest.raises(ConfigError, match=r"suite 'crm', as does source\(s\) \['crm_eu'\]"):
        validate_source(config, RUN, "crm")


def test_gx_engine_option_gives_the_same_stage_outputs(tmp_path: Path) -> None:
    frame = staged_frame(1_500, seed=9)
    outputs = {}
    for engine in ("polars", "gx"):
        (tmp_path / engine).mkdir()
        config = write_config(tmp_path / engine, REPO / "expectations", engine=engine)
        path = Warehouse(config.warehouse.path).staged(RUN_ID)
        path.parent.mkdir(parents=True)
        frame.write_parquet(path)
        result = validate_staged(config, RUN_ID)
        quarantine = pl.read_parquet(result.quarantine_path)
        outputs[engine] = (
            (result.rows_in, result.accepted, result.quarantined, result.warned),
            quarantine.drop("reason").sort(pl.all()).to_dicts(),
            json.loads(result.dq_path.read_text())["expectations"],
        )

    fast, reference = outputs["polars"], outputs["gx"]
    assert fast[0] == reference[0]
    assert fast[1] == reference[1]
    for mine, theirs in zip(fast[2], reference[2], strict=True):
        assert {k: v for k, v in mine.items() if k != "sample_values"} == {
            k: v for k, v in theirs.items() if k != "sample_values"
        }
