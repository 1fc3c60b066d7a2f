"""The match stage's answers to bad input: each names the file, column or decision to fix."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from matching.features import KEY_COLUMNS
from pipelines.config import PipelineConfig, load_config
from pipelines.errors import GoldenError, StageInputError
from pipelines.warehouse import Warehouse

RUN_ID = "20260102T030405Z-abc123"


@pytest.fixture
def config(tmp_path: Path) -> PipelineConfig:
    (tmp_path / "crm.csv").write_text("id,first\n1,Ann\n")
    path = tmp_path / "config.yaml"
    path.write_text(
        "sources:\n"
        "- name: crm\n"
        "  kind: file\n"
        "  path: crm.csv\n"
        "  id_column: id\n"
        "  mapping: {first_name: first}\n"
        "warehouse:\n"
        f"  path: {tmp_path / 'warehouse'}\n"
    )
    return load_config(path)


def write_staged(config: PipelineConfig, frame: pl.DataFrame) -> Path:
    target = Warehouse(config.warehouse.path).staged_accepted(RUN_ID)
    target.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(target)
    return target


def staged(n: int) -> pl.DataFrame:
    keys = {c: [None] * n for c in KEY_COLUMNS}
    keys["mk_first_name"] = [f"name{i}" for i in range(n)]
    return pl.DataFrame(
        {"record_key": [f"crm:{i}" for i in range(n)], "source_system": ["crm"] * n, **keys},
        schema_overrides=dict.fromkeys(KEY_COLUMNS, pl.String),
    )


def test_a_missing_staged_file_names_the_stage_to_run_first(config: PipelineConfig) -> None:
    from pipelines.match import match

    with pytest.raises(StageInputError, match=r"accepted\.parquet.*validate_staged"):
        match(config, RUN_ID)


def test_staged_records_without_matching_keys_name_the_file_and_columns(
    config: PipelineConfig,
) -> None:
    from pipelines.match import match

    path = write_staged(config, staged(3).drop("mk_dob", "mk_phone"))
    with pytest.raises(StageInputError, match=r"mk_phone.*mk_dob|mk_dob.*mk_phone") as info:
        match(config, RUN_ID)
    assert str(path) in str(info.value)


def test_repeated_record_keys_name_the_file_and_the_key(config: PipelineConfig) -> None:
    from pipelines.match import match

    frame = staged(3).with_columns(record_key=pl.Series(["crm:1", "crm:1", "crm:2"]))
    path = write_staged(config, frame)
    with pytest.raises(StageInputError, match=r"crm:1") as info:
        match(config, RUN_ID)
    assert str(path) in str(info.value)


def test_a_saved_model_that_does_not_exist_is_named(config: PipelineConfig, tmp_path: Path) -> None:
    from pipelines.match import match

    write_staged(config, staged(3))
    with pytest.raises(StageInputError, match=r"nowhere\.json"):
        match(config, RUN_ID, model_path=tmp_path / "nowhere.json")


def test_a_saved_model_that_is_not_a_splink_model_is_named(
    config: PipelineConfig, tmp_path: Path
) -> None:
    from pipelines.match import match

    write_staged(config, staged(3))
    model = tmp_path / "model.json"
    model.write_text('{"hello": "world"}')
    with pytest.raises(StageInputError, match=r"model\.json is not a Splink model"):
        match(config, RUN_ID, model_path=model)


def test_a_damaged_decisions_file_is_named(config: PipelineConfig) -> None:
    from pipelines.match import match

    write_staged(config, staged(3))
    decisions = Warehouse(config.warehouse.path).decisions
    decisions.parent.mkdir(parents=True, exist_ok=True)
    decisions.write_text("this is not json\n{}\n")
    with pytest.raises(StageInputError, match=r"decisions\.jsonl"):
        match(config, RUN_ID)


def test_one_record_is_its_own_customer_and_no_model_is_written(config: PipelineConfig) -> None:
    from pipelines.match import match

    write_staged(config, staged(1))
    result = match(config, RUN_ID)
    out = Warehouse(config.warehouse.path).match_dir(RUN_ID)
    assert result.clusters == 1 and result.trained is False
    assert result.model_path is None and not (out / "model.json").exists()
    assert pl.read_parquet(out / "clusters.parquet").height == 1
    assert result.training_skipped  # says why nothing was trained


def test_contradicting_steward_decisions_stop_the_stage_naming_the_file(
    config: PipelineConfig,
) -> None:
    """The decision store refuses such decisions when they are made; a file assembled
    elsewhere (restored, merged by hand) can still hold them, and matching must not guess."""
    import json

    from pipelines.match import match

    write_staged(config, staged(4))
    decisions = Warehouse(config.warehouse.path).decisions
    decisions.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        ("d1", "must_link", "crm:0", "crm:1"),
        ("d2", "must_link", "crm:1", "crm:2"),
        ("d3", "cannot_link", "crm:0", "crm:2"),
    ]
    decisions.write_text(
        "".join(
            json.dumps(
                {
                    "decision_id": d,
                    "kind": kind,
                    "record_key_l": left,
                    "record_key_r": right,
                    "actor": "steward",
                    "reason": "checked",
                    "decided_at": "2026-01-02T03:04:05+00:00",
                }
            )
            + "\n"
            for d, kind, left, right in lines
        )
    )
    with pytest.raises(GoldenError, match=r"decisions\.jsonl.*revoke"):
        match(config, RUN_ID)
