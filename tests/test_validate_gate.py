"""The quality gate stops a run, naming the suite, the expectation and by how much."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from pipelines.config import PipelineConfig, load_config
from pipelines.errors import StageInputError, ValidationGateError
from pipelines.validate import check_gate, validate_source
from pipelines.warehouse import Warehouse, write_json

RUN = "20260301T090000Z-abc123"
EARLIER = "20260201T090000Z-000001"
OLDER = "20260101T090000Z-000000"

EMAIL_SUITE = {
    "name": "crm",
    "expectations": [
        {
            "type": "expect_column_values_to_match_regex",
            "kwargs": {"column": "raw_email", "regex": r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$"},
            "meta": {"severity": "critical"},
            "description": "The email address is malformed.",
        },
        {
            "type": "expect_column_values_to_not_be_null",
            "kwargs": {"column": "raw_phone"},
            "meta": {"severity": "warning"},
        },
    ],
}


def make_config(tmp_path: Path, suite: dict[str, Any], **validation: Any) -> PipelineConfig:
    suites = tmp_path / "suites"
    suites.mkdir(exist_ok=True)
    (suites / f"{suite['name']}.json").write_text(json.dumps(suite))
    text = {
        "warehouse": {"path": str(tmp_path / "warehouse")},
        "validation": {"expectations_dir": str(suites), **validation},
        "sources": [
            {"name": "crm", "kind": "file", "path": "crm.csv", "id_column": "id",
             "mapping": {"email": "mail", "phone": "tel"}},
        ],
    }  # fmt: skip
    (tmp_path / "config.yaml").write_text(json.dumps(text))
    return load_config(tmp_path / "config.yaml")


def validate_emails(config: PipelineConfig, emails: list[str | None], run_id: str = RUN) -> None:
    """Ingest-like current records for crm, then the source validation stage."""
    frame = pl.DataFrame(
        {
            "record_key": [f"crm:{i}" for i in range(len(emails))],
            "source_system": "crm",
            "source_record_id": [str(i) for i in range(len(emails))],
            "batch_id": run_id,
            "ingested_at": datetime(2026, 3, 1, 9, 0, 5, tzinfo=UTC),
            "source_updated_at": None,
            "id": [str(i) for i in range(len(emails))],
            "mail": emails,
            "tel": "+441234567890",
        },
        schema_overrides={"source_updated_at": pl.Datetime("us", "UTC"), "mail": pl.String},
    )
    path = Warehouse(config.warehouse.path).current_records(run_id, "crm")
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path)
    validate_source(config, run_id, "crm")


GOOD = [f"person{i}@example.org" for i in range(40)]


def test_gate_trips_on_the_critical_failure_rate_naming_suite_expectation_and_amount(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path, EMAIL_SUITE)
    validate_emails(config, [*GOOD[:36], "a(at)b.org", "nobody", "x@y", "two@@at.org"])

    with pytest.raises(ValidationGateError) as tripped:
        check_gate(config, RUN)

    message = str(tripped.value)
    assert "suite 'crm': 10.0% of 40 rows (4) failed critical expectations" in message
    assert "above the 5.0% limit (validation.gate.max_critical_failure_rate)" in message
    assert "by 5.0 percentage points" in message
    assert (
        'expect_column_values_to_match_regex on raw_email ("The email address is malformed.")'
        in message
    )
    assert "4 rows (10.0%), e.g. 'a(at)b.org', 'nobody', 'x@y'" in message
    assert "published tables are unchanged" in message


def test_gate_passes_within_the_limits_and_reports_its_checks(tmp_path: Path) -> None:
    config = make_config(tmp_path, EMAIL_SUITE)
    validate_emails(config, [*GOOD[:39], "nobody"])  # 2.5% < 5%

    result = check_gate(config, RUN)

    assert result.passed
    rate = next(c for c in result.checks if c.check == "critical_failure_rate")
    assert rate.value == pytest.approx(0.025) and rate.limit == 0.05 and rate.passed


def test_per_suite_thresholds_override_the_default(tmp_path: Path) -> None:
    config = make_config(
        tmp_path, EMAIL_SUITE, suite_gates={"crm": {"max_critical_failure_rate": 0.2}}
    )
    validate_emails(config, [*GOOD[:36], "a", "b", "c", "d"])  # 10% < 20%

    assert check_gate(config, RUN).passed

    validate_emails(config, [*GOOD[:30], *"abcdefghij"])  # 25% > 20%
    with pytest.raises(ValidationGateError, match=r"validation\.suite_gates\.crm"):
        check_gate(config, RUN)


def _state(config: PipelineConfig, history: list[tuple[str, int]]) -> None:
    """The source state ingest keeps: its batches, newest last (this run's included)."""
    runs = [{"run_id": run, "rows_current": rows} for run, rows in history]
    write_json(
        Warehouse(config.warehouse.path).source_state("crm"),
        {"last_run_id": history[-1][0], "last_row_count": history[-1][1], "history": runs},
    )


def test_gate_trips_when_a_source_delivers_far_fewer_rows_than_its_last_run(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path, EMAIL_SUITE)
    validate_emails(config, GOOD[:20])
    _state(config, [(EARLIER, 40), (RUN, 20)])

    with pytest.raises(ValidationGateError) as tripped:
        check_gate(config, RUN)

    message = str(tripped.value)
    assert "suite 'crm' (source 'crm'), row count: 20 rows, 50.0% fewer than the 40" in message
    assert f"of its last successful run {EARLIER}" in message
    assert "the limit is a 30.0% drop (validation.gate.max_row_count_drop)" in message


def test_row_count_baseline_is_the_last_published_run(tmp_path: Path) -> None:
    config = make_config(tmp_path, EMAIL_SUITE)
    warehouse = Warehouse(config.warehouse.path)
    validate_emails(config, GOOD[:20])
    # OLDER was published with 40 rows; EARLIER already had 20 but tripped the gate (never
    # published). Running again with 20 must still trip against OLDER.
    _state(config, [(OLDER, 40), (EARLIER, 20), (RUN, 20)])
    warehouse.published_version(OLDER).mkdir(parents=True)

    with pytest.raises(ValidationGateError, match=f"last successful run {OLDER}"):
        check_gate(config, RUN)

    warehouse.published_version(EARLIER).mkdir(parents=True)
    assert check_gate(config, RUN).passed


def test_a_critical_batch_level_failure_trips_the_gate(tmp_path: Path) -> None:
    suite = {
        "name": "crm",
        "expectations": [
            {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 100},
             "meta": {"severity": "critical"}, "description": "Too few records to trust."},
        ],
    }  # fmt: skip
    config = make_config(tmp_path, suite)
    validate_emails(config, GOOD[:10])

    with pytest.raises(ValidationGateError, match=r"expect_table_row_count_to_be_between"):
        check_gate(config, RUN)


def test_a_tripped_gate_fails_its_stage_and_leaves_the_published_version(tmp_path: Path) -> None:
    from pipelines.orchestrate import run_stage

    config = make_config(tmp_path, EMAIL_SUITE)
    warehouse = Warehouse(config.warehouse.path)
    published = warehouse.published_version(EARLIER) / "golden_customers.parquet"
    published.parent.mkdir(parents=True)
    pl.DataFrame({"golden_id": ["g1", "g2"]}).write_parquet(published)
    before = published.read_bytes()
    validate_emails(config, ["bad"] * 10)

    with pytest.raises(ValidationGateError):
        run_stage("gate", config, RUN)

    record = json.loads((warehouse.run(RUN) / "stages" / "gate.json").read_text())
    assert record["status"] == "failed" and "quality gate tripped" in record["error"]
    assert published.read_bytes() == before
    assert not warehouse.published_version(RUN).exists()


def test_gate_without_validation_results_names_the_missing_stage(tmp_path: Path) -> None:
    config = make_config(tmp_path, EMAIL_SUITE)
    with pytest.raises(StageInputError, match="run the 'validate' stages"):
        check_gate(config, RUN)


@pytest.mark.parametrize(("undecodable", "trips"), [(1, False), (10, True)])
def test_rows_ingest_cannot_read_trip_the_gate_above_their_share(
    tmp_path: Path, undecodable: int, trips: bool
) -> None:
    """A Latin-1 export read as UTF-8: the rows with an accent cannot be read. One in 40 is
    within ``max_rejected_share`` (5%); ten in 40 stop the run, naming the file and line."""
    from pipelines.ingest import ingest_source

    config = make_config(tmp_path, EMAIL_SUITE)
    lines = ["id,mail,tel,note"] + [
        f"{i},person{i}@example.org,+441234567890,{'café' if i < undecodable else 'tea'}"
        for i in range(40)
    ]
    (tmp_path / "crm.csv").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    ingest_source(config, RUN, "crm")
    validate_source(config, RUN, "crm")
    if not trips:
        [check] = [c for c in check_gate(config, RUN).checks if c.check == "rejected_share"]
        assert check.passed and check.value == pytest.approx(1 / 40)
        return
    with pytest.raises(ValidationGateError) as caught:
        check_gate(config, RUN)
    message = str(caught.value)
    assert "ingest could not read 10 of the 40 rows delivered (25.0%)" in message
    assert "validation.gate.max_rejected_share" in message
    assert "crm.csv line 2: not valid utf-8" in message


def test_gate_names_repeated_ids_and_shows_hostile_values_as_one_quoted_line(
    tmp_path: Path,
) -> None:
    suite = {
        "name": "crm",
        "expectations": [
            {
                "type": "expect_column_values_to_be_unique",
                "kwargs": {"column": "raw_email"},
                "meta": {"severity": "critical"},
            }
        ],
    }
    config = make_config(tmp_path, suite)
    hostile = "<script>alert(1)</script>\nsecond line " + "x" * 60
    validate_emails(config, [*GOOD[:30], *["dup@example.org"] * 5, *[hostile] * 5])

    with pytest.raises(ValidationGateError) as tripped:
        check_gate(config, RUN)

    message = str(tripped.value)
    assert "expect_column_values_to_be_unique on raw_email: 10 rows (25.0%), e.g. " in message
    assert "'dup@example.org'" in message
    assert repr(hostile[:40] + "...") in message
    assert "\nsecond line" not in message  # the newline is shown escaped, on one line
