"""``golden generate-sample`` and ``golden mutate-sample`` from the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.config import load_config

GOLDEN = Path(sys.executable).parent / "golden"


def test_generate_then_mutate_from_the_command_line(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "sample"
    result = runner.invoke(
        app, ["generate-sample", "--out", str(out), "--customers", "120", "--seed", "4"]
    )
    assert result.exit_code == 0, result.output
    assert "records of 120 true customers" in result.output
    assert "records/s" in result.output
    for name in ("crm.csv", "shop.jsonl", "billing.parquet", "ground_truth.csv", "config.yaml"):
        assert (out / name).is_file(), name
    assert load_config(out / "config.yaml").source_names == ["crm", "shop", "billing"]

    before = (out / "crm.csv").read_bytes()
    result = runner.invoke(
        app, ["mutate-sample", "--sample", str(out), "--fraction", "0.1", "--seed", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "changed" in result.output
    assert (out / "crm.csv").read_bytes() != before


def test_mutating_something_that_is_not_a_sample_fails_with_one_clear_line(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [str(GOLDEN), "mutate-sample", "--sample", str(tmp_path), "--fraction", "0.1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert f"{tmp_path / 'sample.json'} does not exist" in done.stderr
    assert "Traceback" not in done.stderr


def test_sample_size_can_be_given_in_records_but_not_both_ways(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["generate-sample", "--out", str(tmp_path), "--records", "400"])
    assert result.exit_code == 0, result.output
    total = sum(1 for _ in (tmp_path / "ground_truth.csv").open()) - 1
    assert 340 <= total <= 460, total
    both = ["generate-sample", "--out", str(tmp_path), "--records", "400", "--customers", "9"]
    result = runner.invoke(app, both)
    assert result.exit_code == 2
    assert "not both" in result.output
