"""The pipeline benchmark's measurements, and the scale-out seam it relies on: stages run as
separate processes that share nothing but the warehouse's files, with sources fanned out side
by side (as Airflow's workers run them), and give the same staged records as one process."""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

from pipelines.config import load_config
from pipelines.orchestrate import run_stage
from pipelines.sample import generate_sample
from pipelines.sample.records import SampleOptions, expected_records_per_customer
from pipelines.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # bench/ is a folder of scripts, not an installed package
    sys.path.insert(0, str(REPO))
bench_pipeline = importlib.import_module("bench.bench_pipeline")
run_all = importlib.import_module("bench.run_all")

RUN_ID = "20250301T060000Z-bench0"


def test_a_childs_peak_memory_and_cpu_time_are_measured(tmp_path: Path) -> None:
    code = (
        "import time\n"
        "block = bytearray(300 * 2**20)\n"
        "for i in range(0, len(block), 4096): block[i] = 1\n"
        "start = time.process_time()\n"
        "while time.process_time() - start < 0.5: pass\n"
    )
    figures = bench_pipeline.measure_process(
        [sys.executable, "-c", code], dict(os.environ), tmp_path / "child.log"
    )
    assert figures["returncode"] == 0
    assert figures["peak_rss_mib"] >= 300
    assert figures["cpu_seconds"] >= 0.5
    assert figures["seconds"] >= 0.5


def test_a_child_growing_past_the_memory_ceiling_is_killed_and_reported(tmp_path: Path) -> None:
    # It holds 300 MiB, then waits on an event nobody sets: only the ceiling ends it early.
    code = (
        "import threading\n"
        "block = bytearray(300 * 2**20)\n"
        "for i in range(0, len(block), 4096): block[i] = 1\n"
        "threading.Event().wait(120)\n"
    )
    figures = bench_pipeline.measure_process(
        [sys.executable, "-c", code], dict(os.environ), tmp_path / "child.log", ceiling_gib=0.2
    )
    assert figures["over_memory_ceiling"] is True
    assert figures["returncode"] != 0


def test_a_failing_child_is_reported_by_its_exit_status(tmp_path: Path) -> None:
    figures = bench_pipeline.measure_process(
        [sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ), tmp_path / "child.log"
    )
    assert figures["returncode"] == 3


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sample")
    generate_sample(folder, 150, seed=3, warehouse=folder / "warehouse")
    return folder / "config.yaml"


def _bench(tmp_path: Path, fan_out: int) -> object:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("GOLDEN_WAREHOUSE", None)
    return bench_pipeline.Bench(tmp_path / "bench", env, fan_out=fan_out)


def test_a_stage_that_cannot_start_is_reported_with_the_pipelines_own_error(
    sample: Path, tmp_path: Path
) -> None:
    figure = _bench(tmp_path, 1).stage("standardise", sample, "20250301T050000Z-nothing")
    assert figure.status == "failed"
    assert "accepted.parquet does not exist" in figure.error
    assert "validate" in figure.error


def test_a_given_sample_is_copied_without_its_warehouse_and_checked_against_the_size(
    sample: Path, tmp_path: Path
) -> None:
    bench = _bench(tmp_path, 1)
    (sample.parent / "warehouse").mkdir(exist_ok=True)
    per_customer = expected_records_per_customer(SampleOptions())
    records = round(
        json.loads((sample.parent / "sample.json").read_text())["customers"] * per_customer
    )
    config, _ = bench_pipeline._sample(bench, records, 3, "copy", sample.parent)
    assert (
        yaml.safe_load(config.read_text())["sources"]
        == (yaml.safe_load(sample.read_text())["sources"])
    )
    assert not (config.parent / "warehouse").exists()
    assert bench_pipeline._warehouse_of(config) == (config.parent / "warehouse").resolve()
    with pytest.raises(SystemExit, match="of seed 3 that --records 1,000 generates"):
        bench_pipeline._sample(bench, 1000, 3, "copy", sample.parent)
    with pytest.raises(SystemExit, match="of seed 4 that"):
        bench_pipeline._sample(bench, records, 4, "copy", sample.parent)


@pytest.mark.slow
def test_sources_fanned_out_to_separate_processes_stage_the_same_records_as_one_process(
    sample: Path, tmp_path: Path
) -> None:
    bench = _bench(tmp_path, 3)
    config = load_config(sample)
    sources = config.source_names
    figures = bench_pipeline.fan_out_sources(bench, sample, RUN_ID, sources)
    figures.append(bench.stage("standardise", sample, RUN_ID))
    assert [f.status for f in figures] == ["succeeded"] * (len(sources) + 1)
    assert [f.label for f in figures[:-1]] == [f"ingest_and_validate[{s}]" for s in sources]
    warehouse = Warehouse(config.warehouse.path)
    for figure in figures:
        assert figure.peak_rss_mib > 0
        if figure.stage == "ingest_and_validate":  # both stages in one process, as in the DAG
            landed = pl.read_parquet(warehouse.current_records(RUN_ID, figure.source))
            assert figure.rows == figure.details["ingest"]["rows"] == landed.height > 0
            validated = figure.details["validate_source"]
            assert validated["rows"] == landed.height
            assert validated["accepted"] + validated["quarantined"] == landed.height
            assert figure.details["ingest"]["seconds"] > 0 and validated["seconds"] > 0

    # The same run in this one process, source after source, in a warehouse of its own.
    alone = load_config(sample, {"warehouse.path": str(tmp_path / "alone")})
    for source in sources:
        run_stage("ingest", alone, RUN_ID, source=source)
        run_stage("validate_source", alone, RUN_ID, source=source)
    run_stage("standardise", alone, RUN_ID)

    def staged(root: Path) -> pl.DataFrame:
        frame = pl.read_parquet(Warehouse(root).staged(RUN_ID))
        return frame.drop("ingested_at").sort("record_key")

    fanned_out, one_process = staged(config.warehouse.path), staged(tmp_path / "alone")
    assert fanned_out.height == sum(
        f.details["validate_source"]["accepted"] for f in figures if f.source
    )
    assert fanned_out.equals(one_process)


def test_the_growth_table_shows_every_size_side_by_side() -> None:
    def run(records: int, peak: float) -> object:
        stage = bench_pipeline.StageFigure("match", None, 1.0, 1.0, peak, 0.5, 0.0, rows=records)
        return bench_pipeline.RunFigures("full", "r", records, [stage], 2.0)

    text = bench_pipeline.format_growth([run(500_000, 2000), run(250_000, 1000)])
    header, match_row = text.splitlines()[1], text.splitlines()[2]
    assert header.index("250,000") < header.index("500,000")
    assert match_row.split()[1:] == ["1,000", "2,000"]


def test_run_all_sizes_every_benchmark_with_its_own_option() -> None:
    assert run_all.command("ingest", 1000, False)[-2:] == ["--rows", "1000"]
    pipeline = run_all.command("pipeline", 1000, True)
    assert pipeline[pipeline.index("--sizes") + 1] == "250,500,1000"
    assert "--spark" in pipeline
    assert run_all.command("golden", None, False)[-1] == "bench.bench_golden"
    assert run_all.command("foreign", 1_000_000, False)[-2:] == ["--people", "50000"]
    with pytest.raises(Exception, match="unknown benchmark"):
        run_all._names("ingest,nope")


def test_the_pipeline_is_printed_as_multiples_of_the_plain_splink_job_beside_the_targets() -> None:
    def run(wall: float, cpu: float, peak: float) -> object:
        stage = bench_pipeline.StageFigure("match", None, wall, cpu, peak, 0.5, 0.0)
        return bench_pipeline.RunFigures("run", "r", 1000, [stage], wall)

    plain = bench_pipeline.StageFigure(
        "plain Splink job", None, 40.0, 50.0, 2048.0, 0.5, 0.0, rows=1000,
        details={"clusters": 600, "phase_seconds": {"train": 30.0}},
    )  # fmt: skip
    full, incremental = run(60.0, 150.0, 3072.0), run(30.0, 40.0, 1024.0)
    ratios = bench_pipeline.plain_ratios(full, incremental, plain)
    assert ratios["full_wall"] == 1.5 and ratios["full_cpu"] == 3.0
    assert ratios["full_peak_rss"] == 1.5 and ratios["incremental_wall"] == 0.75
    text = bench_pipeline.format_plain(full, incremental, plain)
    assert "wall 1.50x (target <= 2.0x: met)" in text
    assert "peak memory 1.50x (target <= 1.3x: MISSED)" in text
    assert "wall 0.75x (target <= 0.5x: MISSED)" in text
    plain.status, plain.error = "failed", "exit status 1"
    assert "FAILED" in bench_pipeline.format_plain(full, None, plain)


def test_a_given_sample_without_a_warehouse_or_with_an_absolute_one_gets_its_own(
    tmp_path: Path,
) -> None:
    original = tmp_path / "original"
    generate_sample(original, 40, seed=3)
    assert "warehouse" not in yaml.safe_load((original / "config.yaml").read_text())
    bench = _bench(tmp_path, 1)
    records = round(40 * expected_records_per_customer(SampleOptions()))
    config, _ = bench_pipeline._sample(bench, records, 3, "copy", original)
    assert bench_pipeline._warehouse_of(config) == (config.parent / "warehouse").resolve()

    elsewhere = tmp_path / "elsewhere"
    generate_sample(elsewhere, 40, seed=3, warehouse=tmp_path / "shared-warehouse")
    config, _ = bench_pipeline._sample(bench, records, 3, "copy2", elsewhere)
    assert bench_pipeline._warehouse_of(config) == (config.parent / "warehouse").resolve()
