"""The match stage, full against incremental, after 1% of the records changed.

    .venv/bin/python -m bench.bench_match_incremental [--records N] [--fraction F] [--keep DIR]

Generates a three-source sample of at least ``--records`` source records (default 100,000,
seed 7), runs the real stages up to the staged records and matches them (day 1: the full path,
trained). Then ``mutate_sample`` changes ``--fraction`` of the records (default 1%) and adds a
few, the stages run again (each source re-ingested from its watermark) and the match stage runs
three times on day 2's staged records, each in its own run id:

- *incremental*: the default, building on day 1's match;
- *full, same model*: ``full_rebuild`` with day 1's model (and its term-frequency tables): the
  run the incremental one must equal, and whose cost it saves;
- *full, trained*: ``full_rebuild`` without a model (what a rebuild costs; skipped with
  ``--no-trained-rebuild``).

Prints each run's stage wall time (``run_stage`` seconds, reading and writing included) with the
1-minute load average after it, the matcher's own laps, the pairs it scored and reused, the
components whose clusters it kept or rebuilt, and whether the incremental clusters equal the
full rebuild's (as a partition, and to the cluster ids and probabilities). Nothing is asserted;
the machine is shared, so read the times beside each other rather than alone.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

RECORDS_PER_CUSTOMER = 1.9
DAY_1 = "20260101T000000Z-day001"
DAY_2 = "20260102T000000Z-day002"
DAY_2_FULL_SAME_MODEL = "20260102T000001Z-full01"
DAY_2_FULL_TRAINED = "20260102T000002Z-full02"


def _stage_through(config: Any, run_id: str) -> None:
    from pipelines.orchestrate import run_stage

    for source in config.source_names:
        run_stage("ingest", config, run_id, source=source)
        run_stage("validate_source", config, run_id, source=source)
    run_stage("standardise", config, run_id)
    run_stage("validate_staged", config, run_id)


def _copy_staged(config: Any, source_run: str, run_id: str) -> None:
    from pipelines.warehouse import Warehouse

    warehouse = Warehouse(config.warehouse.path)
    target = warehouse.staged_accepted(run_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(warehouse.staged_accepted(source_run), target)


def _timed_match(config: Any, run_id: str, **options: Any) -> dict[str, Any]:
    from pipelines.orchestrate import run_stage

    clock = time.perf_counter()
    result = run_stage("match", config, run_id, **options)
    result["wall_seconds"] = round(time.perf_counter() - clock, 2)
    # The machine is shared: the 1-minute load average says how busy it was meanwhile.
    result["load_average"] = round(os.getloadavg()[0], 1)
    return result


def _partition(path: Path) -> set[frozenset[str]]:
    grouped = pl.read_parquet(path).group_by("cluster_id").agg(pl.col("record_key"))
    return {frozenset(keys) for keys in grouped["record_key"].to_list()}


def _line(label: str, result: dict[str, Any]) -> str:
    report = result["incremental"]
    laps = ", ".join(f"{k} {v:.1f}" for k, v in result["seconds"].items())
    return (
        f"{label:<22} {result['wall_seconds']:>7.1f} s  path={report['path']:<11} "
        f"scored={report['pairs_scored_anew']:>10,}  reused={report['pairs_reused']:>9,}  "
        f"kept={result['pairs_kept']:>9,}  components kept={report.get('components_kept', 0):,} "
        f"reclustered={report.get('components_reclustered', 0):,}  [{laps}]  "
        f"load {result['load_average']}"
    )


def run(records: int, fraction: float, work: Path, trained_rebuild: bool = True) -> dict[str, Any]:
    from pipelines.config import load_config
    from pipelines.sample import generate_sample, mutate_sample
    from pipelines.warehouse import Warehouse

    customers = math.ceil(records / RECORDS_PER_CUSTOMER)
    info = generate_sample(work / "sample", customers, 7)
    while info.total_records < records:
        customers = math.ceil(customers * records / info.total_records) + 10
        info = generate_sample(work / "sample", customers, 7)
    config = load_config(
        info.config_path,
        {
            "warehouse.path": str(work / "warehouse"),
            "validation.expectations_dir": str(Path(__file__).parents[1] / "expectations"),
        },
    )
    _stage_through(config, DAY_1)
    day_1 = _timed_match(config, DAY_1)
    mutate_sample(info.out_dir, fraction, 8)
    _stage_through(config, DAY_2)
    for run_id in (DAY_2_FULL_SAME_MODEL, DAY_2_FULL_TRAINED):
        _copy_staged(config, DAY_2, run_id)
    incremental = _timed_match(config, DAY_2)
    model = Warehouse(config.warehouse.path).match_dir(DAY_1) / "model.json"
    same_model = _timed_match(config, DAY_2_FULL_SAME_MODEL, model_path=model, full_rebuild=True)
    trained = (
        _timed_match(config, DAY_2_FULL_TRAINED, full_rebuild=True) if trained_rebuild else None
    )
    warehouse = Warehouse(config.warehouse.path)
    equal = _partition(warehouse.match_dir(DAY_2) / "clusters.parquet") == _partition(
        warehouse.match_dir(DAY_2_FULL_SAME_MODEL) / "clusters.parquet"
    )
    identical = pl.read_parquet(warehouse.match_dir(DAY_2) / "clusters.parquet").equals(
        pl.read_parquet(warehouse.match_dir(DAY_2_FULL_SAME_MODEL) / "clusters.parquet")
    )
    report = incremental["incremental"]
    print(f"records: day 1 {day_1['records']:,}, day 2 {incremental['records']:,}")
    print(
        f"day 2 against day 1: {report['records_new']:,} new, {report['records_changed']:,} "
        f"changed, {report['records_removed']:,} removed, {report['records_unchanged']:,} "
        "unchanged"
    )
    print(_line("day 1 full, trained", day_1))
    print(_line("day 2 incremental", incremental))
    print(_line("day 2 full, same model", same_model))
    if trained is not None:
        print(_line("day 2 full, trained", trained))
    print(f"incremental clusters == full rebuild with the same model: {equal}")
    print(f"... with the same cluster ids and probabilities: {identical}")
    return {
        "day_1": day_1,
        "incremental": incremental,
        "full_same_model": same_model,
        "full_trained": trained,
        "clusters_equal": equal,
        "clusters_identical": identical,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--fraction", type=float, default=0.01)
    parser.add_argument("--keep", type=Path, help="Work here and keep the files.")
    parser.add_argument(
        "--no-trained-rebuild", action="store_true", help="Skip the day-2 rebuild that trains."
    )
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        figures = run(args.records, args.fraction, args.keep, not args.no_trained_rebuild)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-match-incremental-") as work:
            figures = run(args.records, args.fraction, Path(work), not args.no_trained_rebuild)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
