"""``validate_staged`` reads only the columns the suite needs and copies the staged file when no
row is rejected; its outputs must be exactly those of evaluating the suite on the whole staged
frame and writing the survivors (the reference below)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest

from pipelines.config import PipelineConfig, load_config
from pipelines.validate import validate_staged
from pipelines.validate.engine import evaluate_suite, run_parameters
from pipelines.validate.quarantine import failure_masks, quarantine_frame
from pipelines.validate.results import dq_document
from pipelines.validate.stage import columns_read
from pipelines.validate.suites import load_suite, suite_path
from pipelines.validate.synthetic import RUN_ID, staged_frame
from pipelines.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[1]


def _config(tmp_path: Path, expectations: Path = REPO / "expectations") -> PipelineConfig:
    text = {
        "warehouse": {"path": str(tmp_path / "warehouse")},
        "validation": {"expectations_dir": str(expectations)},
        "sources": [{"name": "crm", "kind": "file", "path": "crm.csv", "id_column": "id",
                     "mapping": {"email": "mail"}}],
    }  # fmt: skip
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(text))
    return load_config(path)


def _stage(config: PipelineConfig, frame: pl.DataFrame) -> Path:
    path = Warehouse(config.warehouse.path).staged(RUN_ID)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path)
    return path


def _reference(config: PipelineConfig, frame: pl.DataFrame) -> dict[str, Any]:
    """Every output of a validation of the whole frame, computed the straightforward way."""
    suite = load_suite(suite_path(config.validation.expectations_dir, "canonical"))
    outcomes = evaluate_suite(suite, frame, run_parameters(RUN_ID))
    critical, warning = failure_masks(outcomes, frame.height)
    counts = {
        "rows_in": frame.height,
        "accepted": int((~critical).sum()),
        "quarantined": int(critical.sum()),
        "warned": int((warning & ~critical).sum()),
    }
    return {
        "accepted": frame.filter(pl.Series(~critical)),
        "quarantine": quarantine_frame(frame, outcomes, run_id=RUN_ID, suite=suite.name),
        "dq": json.loads(
            json.dumps(
                dq_document(suite, outcomes, run_id=RUN_ID, source=None, counts=counts),
                default=str,
            )
        ),
    }


@pytest.mark.parametrize("bad_share", [0.05, 0.0], ids=["some-rejected", "none-rejected"])
def test_outputs_equal_a_whole_frame_validation(tmp_path: Path, bad_share: float) -> None:
    config = _config(tmp_path)
    frame = staged_frame(4_000, seed=3, bad_share=bad_share)
    staged = _stage(config, frame)

    result = validate_staged(config, RUN_ID)
    expected = _reference(config, frame)

    accepted = pl.read_parquet(result.accepted_path)
    assert accepted.equals(expected["accepted"])
    assert pl.read_parquet(result.quarantine_path).equals(expected["quarantine"])
    assert json.loads(result.dq_path.read_text()) == expected["dq"]
    assert result.rows_in == result.accepted + result.quarantined == frame.height
    if bad_share:
        assert result.quarantined > 0
    else:
        assert result.quarantined == 0
        # Nothing rejected: the accepted rows are the staged file itself.
        assert result.accepted_path.read_bytes() == staged.read_bytes()


def test_only_the_columns_the_suite_names_are_read(tmp_path: Path) -> None:
    suite = load_suite(suite_path(REPO / "expectations", "canonical"))
    staged = _stage(_config(tmp_path), staged_frame(10, seed=1))
    available = pq.read_schema(staged).names
    read = columns_read(suite, available)
    assert {"record_key", "source_system", "source_record_id", "email", "postcode"} <= set(read)
    assert "mk_email" not in read and "raw_phone" not in read
    assert read == [c for c in available if c in read]  # file order kept


def test_a_rule_on_the_whole_table_reads_every_column(tmp_path: Path) -> None:
    folder = tmp_path / "suites"
    folder.mkdir()
    suite = {
        "name": "canonical",
        "expectations": [
            {"type": "expect_table_column_count_to_equal", "kwargs": {"value": 3},
             "meta": {"severity": "warning"}},
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "record_key"},
             "meta": {"severity": "critical"}},
        ],
    }  # fmt: skip
    (folder / "canonical.json").write_text(json.dumps(suite))
    config = _config(tmp_path, folder)
    frame = staged_frame(300, seed=5)
    _stage(config, frame)
    loaded = load_suite(suite_path(folder, "canonical"))
    assert columns_read(loaded, frame.columns) == frame.columns

    result = validate_staged(config, RUN_ID)
    dq = json.loads(result.dq_path.read_text())
    # The column count rule saw every staged column, so it fails on the 3 it expects.
    assert dq["expectations"][0]["success"] is False
    assert dq == _reference(config, frame)["dq"]
