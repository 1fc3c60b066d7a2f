"""Matching accuracy and speed: our model against a plain Splink script on the same records.

    .venv/bin/python -m bench.bench_matching [--records N] [--skip-speed] [--speed-records N]
        [--spark [--spark-records N[,N...]] [--spark-training] [--skip-accuracy]]

Accuracy: generates a sample of at least ``--records`` source records (default 100,000) across
the three sources with ``pipelines.sample``, runs the real stages (ingest -> validate ->
standardise -> validate staged), then matches the accepted records twice:

- *ours*: ``matching.match_records`` (the match stage's model, training, scoring, clustering);
- *baseline*: a plain Splink job as a data engineer would first write it: stock comparisons
  from ``splink.comparison_library`` on lightly cleaned raw columns (lower-cased names split
  from the full name where a source has only that, raw lower-cased email, digits-only phone,
  the address before its first comma, birth dates parsed with each source's configured
  format), the same u sample size and EM pair cap, clustered with Splink's connected components
  at the same threshold.

It prints pairwise precision, recall and F1 of the final clusters against the ground truth for
both, and how many look-alike groups (households, twins, Jr/Sr) each merged.

Speed: the same for ``--speed-records`` records (default 1,000,000), each matcher in a fresh
process, timing train + predict + cluster and reading the process's peak resident memory
(everything DuckDB allocates lives in it). The two run alternately ``--speed-rounds`` times
(default 2) and the best round of each is compared, since the machine is shared and a busy
neighbour stretches one run but rarely all of them; the CPU time of every run is printed
too. Prints both times, their ratio (target <= 1.5) and the peak memory (target < 6 GiB).

Spark (``--spark``, sizes from ``--spark-records``, default 100,000): the match stage's own
matcher on Splink's DuckDB backend and on its Spark backend (``matching.engine: spark``, local
mode with the default ``matching`` settings: the model trained on DuckDB in the driver, scored
on Spark; ``--spark-training`` adds a run that trains on Spark too), each in a fresh process
over the same staged records. Prints for each engine the time, the CPU seconds and the peak
resident memory of the whole process tree (the Spark JVM included), the clusters' precision,
recall and F1 against the ground truth, how far the two engines' clusters agree, and Spark's
CPU as a multiple of DuckDB's.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

from matching.config import MatchingConfig
from matching.evaluation import pairwise_scores

RECORDS_PER_CUSTOMER = 1.9
"""About how many source records the generator writes per true customer."""


# --- data ------------------------------------------------------------------------------------


def staged_sample(records: int, seed: int, out_dir: Path) -> tuple[Path, Path, dict[str, Any]]:
    """Generate a sample with at least ``records`` records and run it through the real stages
    up to ``staged/accepted.parquet``. Returns (accepted path, truth path, facts)."""
    from pipelines.config import load_config
    from pipelines.ingest import ingest_source
    from pipelines.sample import generate_sample
    from pipelines.standardise import standardise
    from pipelines.validate import validate_source, validate_staged
    from pipelines.warehouse import Warehouse, new_run_id

    customers = math.ceil(records / RECORDS_PER_CUSTOMER)
    clock = time.perf_counter()
    info = generate_sample(out_dir / "sample", customers, seed)
    while info.total_records < records:
        customers = math.ceil(customers * records / info.total_records) + 10
        info = generate_sample(out_dir / "sample", customers, seed)
    generated = time.perf_counter() - clock
    config = load_config(
        info.config_path,
        {
            "warehouse.path": str(out_dir / "warehouse"),
            "validation.expectations_dir": str(Path(__file__).parents[1] / "expectations"),
        },
    )
    run_id = new_run_id()
    clock = time.perf_counter()
    for source in config.source_names:
        ingest_source(config, run_id, source)
        validate_source(config, run_id, source)
    standardise(config, run_id)
    validate_staged(config, run_id)
    staged = time.perf_counter() - clock
    warehouse = Warehouse(config.warehouse.path)
    truth = pl.read_csv(info.out_dir / info.files["ground_truth"], infer_schema=False)
    truth_path = out_dir / "truth.parquet"
    truth.select(
        pl.concat_str(["source_system", "source_record_id"], separator=":").alias("record_key"),
        pl.col("customer_id").alias("entity_id"),
        "lookalike_group",
        "lookalike_kind",
    ).write_parquet(truth_path)
    date_formats = {s.name: s.date_formats.get("date_of_birth", []) for s in config.sources}
    facts = {
        "customers": info.customers,
        "source_records": info.total_records,
        "records_by_source": info.records,
        "lookalike_groups": info.lookalike_groups,
        "generate_seconds": round(generated, 1),
        "stages_seconds": round(staged, 1),
        "date_formats": date_formats,
    }
    return warehouse.staged_accepted(run_id), truth_path, facts


def baseline_frame(staged: pl.DataFrame, date_formats: dict[str, list[str]]) -> pl.DataFrame:
    """The light cleaning a first hand-written Splink script would do, on the raw values."""

    def text(column: str) -> pl.Expr:
        value = pl.col(column).str.strip_chars().str.to_lowercase()
        return pl.when(value == "").then(None).otherwise(value)

    words = (text("raw_full_name").str.replace_all(r"[^\w\s'-]", " ").str.split(" ")).list.eval(
        pl.element().filter(pl.element() != "")
    )
    address = text("raw_address").str.split(",")
    dob = pl.col("raw_date_of_birth").str.strip_chars()
    parsed = [
        pl.when(pl.col("source_system") == source).then(
            pl.coalesce(dob.str.strptime(pl.Date, f, strict=False) for f in formats)
        )
        for source, formats in date_formats.items()
        if formats
    ]
    return staged.select(
        pl.col("record_key").alias("unique_id"),
        "source_system",
        pl.coalesce(text("raw_first_name"), words.list.first()).alias("first_name"),
        pl.coalesce(text("raw_last_name"), words.list.last()).alias("last_name"),
        (pl.coalesce(parsed) if parsed else pl.lit(None, pl.Date)).cast(pl.String).alias("dob"),
        text("raw_email").alias("email"),
        pl.col("raw_phone").str.replace_all(r"\D", "").alias("phone"),
        pl.coalesce(text("raw_address_line1"), address.list.first().str.strip_chars()).alias(
            "address"
        ),
        pl.coalesce(
            text("raw_city"), address.list.get(1, null_on_oob=True).str.strip_chars()
        ).alias("city"),
        pl.coalesce(
            text("raw_postcode"),
            text("raw_address").str.extract(r"(\d{5}|[a-z0-9]{2,4} ?\d[a-z]{2})\s*$"),
        )
        .str.replace_all(" ", "")
        .str.to_uppercase()
        .alias("postcode"),
    ).with_columns(pl.all().exclude("unique_id", "source_system").replace("", None))


def run_baseline(frame: pl.DataFrame, config: MatchingConfig) -> tuple[pl.DataFrame, dict]:
    """Stock Splink, start to finish; returns clusters and seconds per phase."""
    import duckdb
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on
    from splink import comparison_library as cl

    clock = time.perf_counter()
    connection = duckdb.connect(
        config={"memory_limit": config.memory_limit, "preserve_insertion_order": False}
    )
    db_api = DuckDBAPI(connection=connection)
    inputs = [
        db_api.register(
            frame.filter(pl.col("source_system") == source).drop("source_system").to_arrow(),
            dataset_display_name=source,
        )
        for source in sorted(frame["source_system"].unique().to_list())
    ]
    settings = SettingsCreator(
        link_type="link_and_dedupe",
        comparisons=[
            cl.NameComparison("first_name"),
            cl.NameComparison("last_name"),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.EmailComparison("email"),
            cl.ExactMatch("phone").configure(term_frequency_adjustments=True),
            cl.JaroWinklerAtThresholds("address", [0.95, 0.88]),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("email"),
            block_on("phone"),
            block_on("first_name", "last_name", "postcode"),
            block_on("last_name", "dob"),
            block_on("first_name", "dob"),
            block_on("postcode", "address"),
        ],
        retain_matching_columns=False,
    )
    linker = Linker(inputs, settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "last_name", "dob"), block_on("email", "first_name")],
        recall=config.prior_recall,
    )
    linker.training.estimate_u_using_random_sampling(
        max_pairs=config.max_pairs_for_u, seed=config.seed
    )
    for rule in (block_on("dob"), block_on("first_name", "last_name"), block_on("email")):
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, max_pairs=config.em_max_pairs
        )
    trained = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=config.review_lower)
    predicted = time.perf_counter()
    clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, config.match_threshold
    )
    clusters = pl.from_arrow(
        clustered.as_duckdbpyrelation().select("unique_id, cluster_id").arrow()
    )
    done = time.perf_counter()
    connection.close()
    assert isinstance(clusters, pl.DataFrame)
    clusters = clusters.select(
        pl.col("unique_id").alias("record_key"), pl.col("cluster_id").cast(pl.String)
    )
    return clusters, {
        "train": round(trained - clock, 1),
        "predict": round(predicted - trained, 1),
        "cluster": round(done - predicted, 1),
    }


def run_ours(staged: pl.DataFrame, config: MatchingConfig, work_dir: Path) -> tuple[Any, dict]:
    from matching.matcher import match_records
    from pipelines.schema import CANONICAL_FIELDS

    output = match_records(staged, config, work_dir=work_dir, review_fields=CANONICAL_FIELDS)
    seconds = output.summary.seconds
    return output, {
        "train": round(seconds["load"] + seconds["train"], 1),
        "predict": round(seconds["score"], 1),
        "cluster": round(seconds["cluster"], 1),
        "review_and_charts": round(seconds["review"] + seconds["charts"], 1),
    }


# --- reporting --------------------------------------------------------------------------------


def lookalike_merges(clusters: pl.DataFrame, truth: pl.DataFrame) -> dict[str, int]:
    """Look-alike groups (household, twin, jr_sr) whose different people share a cluster."""
    joined = clusters.join(truth, on="record_key").filter(pl.col("lookalike_group").is_not_null())
    mixed = (
        joined.group_by("lookalike_kind", "lookalike_group", "cluster_id")
        .agg(pl.col("entity_id").n_unique().alias("people"))
        .filter(pl.col("people") > 1)
        .group_by("lookalike_kind")
        .agg(pl.col("lookalike_group").n_unique().alias("groups"))
    )
    return dict(mixed.iter_rows())


def print_scores(label: str, clusters: pl.DataFrame, truth: pl.DataFrame) -> dict[str, Any]:
    scores = pairwise_scores(clusters, truth)
    merges = lookalike_merges(clusters, truth)
    print(
        f"  {label:<9} precision {scores.precision:.4f}  recall {scores.recall:.4f}  "
        f"F1 {scores.f1:.4f}  ({scores.predicted_pairs:,} predicted pairs, "
        f"{scores.true_pairs:,} true)  look-alike groups merged: "
        + ", ".join(f"{k} {merges.get(k, 0)}" for k in ("household", "twin", "jr_sr"))
    )
    return {**scores.as_dict(), "lookalike_groups_merged": merges}


def accuracy(records: int, seed: int, work: Path, config: MatchingConfig) -> dict[str, Any]:
    print(f"Accuracy on generated data (>= {records:,} records, seed {seed})")
    accepted, truth_path, facts = staged_sample(records, seed, work / "accuracy")
    staged = pl.read_parquet(accepted)
    truth = pl.read_parquet(truth_path).filter(
        pl.col("record_key").is_in(staged["record_key"].implode())
    )
    print(
        f"  {facts['customers']:,} customers, {facts['source_records']:,} source records "
        f"{facts['records_by_source']}, {staged.height:,} accepted after validation; "
        f"look-alike groups {facts['lookalike_groups']}"
    )
    print(
        f"  generated in {facts['generate_seconds']} s; ingest, validate, standardise "
        f"in {facts['stages_seconds']} s (the real stages)"
    )
    output, ours_seconds = run_ours(staged, config, work / "accuracy" / "ours")
    summary = output.summary
    print(
        f"  ours: {summary.pairs_scored:,} pairs scored "
        + ", ".join(f"{n:,}" for n in summary.pairs_by_rule.values())
        + f" per blocking rule; {summary.review_pairs:,} pairs for review; "
        f"untrained parameters: {summary.untrained_parameters or 'none'}"
    )
    results = {"ours": print_scores("ours", output.clusters, truth)}
    baseline_clusters, base_seconds = run_baseline(
        baseline_frame(staged, facts["date_formats"]), config
    )
    results["baseline"] = print_scores("baseline", baseline_clusters, truth)
    delta = results["ours"]["f1"] - results["baseline"]["f1"]
    print(f"  F1 ours - baseline: {delta:+.4f} (target: ours >= 0.95 and clearly above)")
    print(f"  seconds: ours {ours_seconds}, baseline {base_seconds}")
    return results


# --- speed ------------------------------------------------------------------------------------


def speed(records: int, seed: int, work: Path, rounds: int) -> dict[str, Any]:
    print(
        f"\nSpeed and memory at >= {records:,} records (each matcher in its own process, "
        f"alternating, {rounds} round(s); the best round of each is compared)"
    )
    accepted, _, facts = staged_sample(records, seed, work / "speed")
    print(
        f"  {facts['source_records']:,} source records generated in "
        f"{facts['generate_seconds']} s, staged in {facts['stages_seconds']} s"
    )
    runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "ours": []}
    for round_number in range(1, rounds + 1):
        for which in ("baseline", "ours"):
            load = os.getloadavg()[0]
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.bench_matching",
                    "--worker",
                    which,
                    "--input",
                    str(accepted),
                    "--work-dir",
                    str(work / "speed" / which),
                    "--date-formats",
                    json.dumps(facts["date_formats"]),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            runs[which].append(r)
            print(
                f"  round {round_number} {which:<9} train {r['seconds']['train']:>5.1f} s  "
                f"predict {r['seconds']['predict']:>5.1f} s  cluster "
                f"{r['seconds']['cluster']:>4.1f} s  total {r['total']:>5.1f} s  "
                f"(CPU {r['cpu']:.1f} s)  peak memory {r['peak_gib']:.2f} GiB  "
                f"[load average {load:.1f}; {r['records']:,} records]"
            )
    best = {which: min(results, key=lambda r: r["total"]) for which, results in runs.items()}
    ratio = best["ours"]["total"] / best["baseline"]["total"]
    cpu_ratio = min(r["cpu"] for r in runs["ours"]) / min(r["cpu"] for r in runs["baseline"])
    peak = max(r["peak_gib"] for r in runs["ours"])
    print(
        f"  train + predict + cluster: ours {best['ours']['total']:.1f} s, baseline "
        f"{best['baseline']['total']:.1f} s; ratio {ratio:.2f} (target <= 1.5); CPU time "
        f"ratio {cpu_ratio:.2f}; peak memory ours {peak:.2f} GiB (target < 6 GiB), baseline "
        f"{max(r['peak_gib'] for r in runs['baseline']):.2f} GiB"
    )
    return {"runs": runs, "ratio": ratio, "cpu_ratio": cpu_ratio, "peak_gib": peak}


# --- Spark against DuckDB -------------------------------------------------------------------


ENGINE_MODES: dict[str, dict[str, str]] = {
    "duckdb": {"engine": "duckdb"},
    # The default Spark run: the model trained on DuckDB in the driver, scored on Spark.
    "spark": {"engine": "spark"},
    # Everything on Spark, training included (``--spark-training``).
    "spark-trained": {"engine": "spark", "spark_training": "spark"},
}


def engines(
    sizes: list[int], seed: int, work: Path, train_on_spark: bool = False
) -> dict[str, Any]:
    """Our matcher on DuckDB and on local Spark over the same staged records, per size;
    ``train_on_spark`` adds a Spark run that trains on Spark too."""
    from bench.bench_pipeline import measure_process

    results: dict[str, Any] = {}
    for records in sizes:
        print(f"\nDuckDB against local Spark at >= {records:,} records (each in its own process)")
        folder = work / f"engines-{records}"
        accepted, truth_path, facts = staged_sample(records, seed, folder)
        print(
            f"  {facts['source_records']:,} source records, staged in {facts['stages_seconds']} s"
        )
        staged_keys = pl.read_parquet(accepted, columns=["record_key"])["record_key"]
        truth = pl.read_parquet(truth_path).filter(
            pl.col("record_key").is_in(staged_keys.implode())
        )
        clusters: dict[str, pl.DataFrame] = {}
        by_engine: dict[str, Any] = {}
        modes = ["duckdb", "spark", *(["spark-trained"] if train_on_spark else [])]
        for engine in modes:
            out_dir = folder / engine
            cmd = [
                sys.executable,
                "-m",
                "bench.bench_matching",
                "--worker",
                "ours",
                "--engine",
                engine,
                "--input",
                str(accepted),
                "--work-dir",
                str(out_dir / "work"),
                "--clusters-out",
                str(out_dir / "clusters.parquet"),
            ]
            figures = measure_process(cmd, dict(os.environ), out_dir / "worker.log")
            if figures["returncode"] != 0:
                print(f"  {engine:<13} FAILED (exit {figures['returncode']}), see {out_dir}")
                by_engine[engine] = {**figures, "failed": True}
                continue
            reported = json.loads((out_dir / "worker.json").read_text())
            clusters[engine] = pl.read_parquet(out_dir / "clusters.parquet")
            scores = pairwise_scores(clusters[engine], truth)
            by_engine[engine] = {**figures, **reported, "scores": scores.as_dict()}
            print(
                f"  {engine:<13} {figures['seconds']:>7.1f} s  CPU {reported['tree_cpu']:>7.1f} s  "
                f"peak RSS {figures['peak_rss_mib']:>7,.0f} MiB  precision "
                f"{scores.precision:.4f}  recall {scores.recall:.4f}  F1 {scores.f1:.4f}  "
                f"[load average {figures['load_1m']:.1f}; phases {reported['seconds']}]"
            )
        if len(clusters) == 2:
            agreement = pairwise_scores(
                clusters["spark"], clusters["duckdb"].rename({"cluster_id": "entity_id"})
            )
            print(
                f"  Spark's clusters against DuckDB's: pairwise precision "
                f"{agreement.precision:.4f}, recall {agreement.recall:.4f}, F1 {agreement.f1:.4f}"
            )
            by_engine["agreement_f1"] = agreement.f1
        duck_cpu = by_engine.get("duckdb", {}).get("tree_cpu")
        for mode in modes[1:]:
            spark_cpu = by_engine.get(mode, {}).get("tree_cpu")
            if duck_cpu and spark_cpu:
                print(
                    f"  {mode} / DuckDB CPU: {spark_cpu / duck_cpu:.2f}x (issue 22's target on "
                    "one machine at 1M: <= 4x)"
                )
        results[str(records)] = by_engine
    return results


def worker(
    which: str,
    input_path: Path,
    work_dir: Path,
    date_formats: dict,
    engine: str = "duckdb",
    clusters_out: Path | None = None,
) -> None:
    """Run one matcher on ``input_path`` and print a JSON line with its times and peak RSS.

    ``clusters_out``: also write the clusters there and the figures beside them
    (``worker.json``), with the CPU seconds of the whole process tree (a Spark JVM included)."""
    from matching.features import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
    from pipelines.schema import CANONICAL_FIELDS, MAPPABLE_FIELDS

    config = MatchingConfig(**ENGINE_MODES[engine])  # type: ignore[arg-type]
    # Each matcher reads only the columns it uses, as the match stage does.
    if which == "ours":
        columns = [*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS, *CANONICAL_FIELDS]
    else:
        columns = ["record_key", "source_system", *(f"raw_{f}" for f in MAPPABLE_FIELDS)]
    staged = pl.read_parquet(input_path, columns=list(dict.fromkeys(columns)))
    clock = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    if which == "ours":
        output, seconds = run_ours(staged, config, work_dir)
        clusters = output.clusters
    else:
        clusters, seconds = run_baseline(baseline_frame(staged, date_formats), config)
    if clusters_out is not None:
        clusters.write_parquet(clusters_out)
        figures = {"seconds": seconds, "tree_cpu": round(_tree_cpu_seconds(), 1)}
        (clusters_out.parent / "worker.json").write_text(json.dumps(figures))
    total = sum(v for k, v in seconds.items() if k in ("train", "predict", "cluster"))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_kib = usage.ru_maxrss
    print(
        json.dumps(
            {
                "records": staged.height,
                "seconds": seconds,
                "total": total,
                "wall": round(time.perf_counter() - clock, 1),
                "cpu": round(usage.ru_utime + usage.ru_stime - cpu_before, 1),
                "peak_gib": peak_kib / 1024**2,
            }
        )
    )


def _tree_cpu_seconds() -> float:
    """CPU seconds of this process and its live children (the Spark JVM is one; it is not
    waited for, so ``RUSAGE_CHILDREN`` would miss it)."""
    import psutil

    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:
            continue
    return total


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--speed-records", type=int, default=1_000_000)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument(
        "--spark", action="store_true", help="Compare our matcher on DuckDB and on local Spark."
    )
    parser.add_argument(
        "--spark-records", default="100000", help="Comma-separated sizes for --spark."
    )
    parser.add_argument(
        "--spark-training",
        action="store_true",
        help="With --spark, also a Spark run that trains on Spark (matching.spark_training).",
    )
    parser.add_argument("--speed-rounds", type=int, default=2, help="alternating runs of each")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument("--worker", choices=("ours", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--date-formats", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--engine", default="duckdb", help=argparse.SUPPRESS)
    parser.add_argument("--clusters-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("splink", "matching", "pipelines"):
        logging.getLogger(noisy).setLevel(logging.ERROR)

    if args.worker:
        worker(
            args.worker,
            args.input,
            args.work_dir,
            json.loads(args.date_formats),
            engine=args.engine,
            clusters_out=args.clusters_out,
        )
        return
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        run_all(args, args.keep)
        return
    with tempfile.TemporaryDirectory(prefix="bench-matching-") as tmp:
        run_all(args, Path(tmp))


def run_all(args: argparse.Namespace, work: Path) -> None:
    """The parts of the benchmark ``args`` ask for, in ``work``."""
    if not args.skip_accuracy:
        accuracy(args.records, args.seed, work, MatchingConfig())
    if not args.skip_speed:
        speed(args.speed_records, args.seed + 1, work, args.speed_rounds)
    if args.spark:
        sizes = [int(size) for size in args.spark_records.split(",") if size.strip()]
        engines(sizes, args.seed, work, train_on_spark=args.spark_training)


if __name__ == "__main__":
    main()
