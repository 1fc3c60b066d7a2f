"""Matching accuracy on Chinese customer data, the whole pipeline beside a plain Splink job.

Run: ``.venv/bin/python -m bench.bench_chinese [--people N] [--seed S] [--look-alike R]
[--keep DIR]``.

The data comes from :mod:`pipelines.sample.zh` (``golden generate-sample --locale zh_CN``):
a CRM in characters with Chinese headers, a web shop in pinyin (either name order, capitals or
not), a service desk typing same-sound and look-alike characters; households and movers. The
pipeline runs on the generator's own config; the plain Splink job compares the raw name,
birth date (read into ISO first), phone digits and email, with blocking on each, as a data
engineer would first write it. Both are scored pairwise against the ground truth.

``--look-alike R`` gives that share of CRM and service-desk names one look-alike character typo
(形近字: 王小明 typed 玉小明 or 王小朋), from the generator's own table of classic pairs.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from pathlib import Path

import polars as pl

from bench.bench_foreign import score_pipeline
from matching.evaluation import PairwiseScores, pairwise_scores
from pipelines.sample.zh import generate_zh_sample, zh_config


def plain_frame(folder: Path) -> pl.DataFrame:
    """The three files' raw columns under common names, for the plain job."""
    read = lambda name: pl.read_csv(folder / name, infer_schema=False)  # noqa: E731
    crm = read("crm.csv").select(
        pl.lit("crm").alias("source_dataset"),
        pl.col("客户编号").alias("unique_id"),
        pl.col("姓名").alias("name"),
        pl.col("出生日期").str.strptime(pl.Date, "%Y年%m月%d日", strict=False).cast(pl.String)
        .alias("dob"),
        pl.col("手机").alias("phone"),
        pl.col("电子邮箱").alias("email"),
    )  # fmt: skip
    shop = read("shop.csv").select(
        pl.lit("shop").alias("source_dataset"),
        pl.col("id").alias("unique_id"),
        pl.coalesce(
            pl.col("full_name").replace("", None),
            pl.concat_str("first_name", pl.lit(" "), "last_name"),
        ).alias("name"),
        pl.col("birthday").alias("dob"),
        pl.col("phone"),
        pl.col("email"),
    )
    service = read("service.csv").select(
        pl.lit("service").alias("source_dataset"),
        pl.col("工单号").alias("unique_id"),
        pl.col("客户姓名").alias("name"),
        pl.lit(None, pl.String).alias("dob"),
        pl.col("联系电话").alias("phone"),
        pl.lit(None, pl.String).alias("email"),
    )
    frame = pl.concat([crm, shop, service])
    return frame.with_columns(
        pl.col("name").str.to_lowercase(),
        pl.col("email").str.to_lowercase().replace("", None),
        pl.col("dob").replace("", None),
        pl.col("phone").str.replace_all(r"\D", "").str.slice(-11).replace("", None),
    )


def run_plain(frame: pl.DataFrame, truth: pl.DataFrame) -> PairwiseScores:
    """Stock Splink on the raw columns: name, birth date, phone and email comparisons, blocking
    on each, u by random sampling, m by EM on name and on birth date (an EM session that
    cannot converge on this data is skipped, as its author would)."""
    import duckdb
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on
    from splink import comparison_library as cl

    connection = duckdb.connect()
    db_api = DuckDBAPI(connection=connection)
    sources = sorted(frame["source_dataset"].unique().to_list())
    inputs = [
        db_api.register(
            frame.filter(pl.col("source_dataset") == s).drop("source_dataset").to_arrow(),
            dataset_display_name=s,
        )
        for s in sources
    ]
    settings = SettingsCreator(
        link_type="link_only",
        comparisons=[
            cl.NameComparison("name").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.ExactMatch("phone"),
            cl.ExactMatch("email"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("name"),
            block_on("dob"),
            block_on("phone"),
            block_on("email"),
        ],
        retain_matching_columns=False,
    )
    linker = Linker(inputs, settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("phone"), block_on("email")], recall=0.8
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=2_000_000, seed=42)
    for rule in (block_on("name"), block_on("dob")):
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
        except ValueError as exc:  # Splink's EM diverges (prior 1.0) on some blocks
            logging.warning("plain Splink: EM on %s skipped: %s", rule, exc)
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, 0.9)
    clusters = pl.from_arrow(
        clustered.as_duckdbpyrelation().select("source_dataset, unique_id, cluster_id").arrow()
    )
    connection.close()
    assert isinstance(clusters, pl.DataFrame)
    clusters = clusters.select(
        pl.concat_str("source_dataset", pl.lit(":"), "unique_id").alias("record_key"),
        pl.col("cluster_id").cast(pl.String),
    )
    return pairwise_scores(clusters, truth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument(
        "--look-alike",
        type=float,
        default=0.0,
        help="share of CRM and service-desk names with one look-alike character typo",
    )
    parser.add_argument("--keep", type=Path, help="keep the data and warehouse in this folder")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("splink").setLevel(logging.ERROR)
    logging.getLogger("matching.training").setLevel(logging.ERROR)
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-chinese-"))
    try:
        generate_zh_sample(root, args.people, args.seed, look_alike_rate=args.look_alike)
        truth = pl.read_csv(root / "ground_truth.csv", infer_schema=False)
        config = {k: v for k, v in zh_config().items() if k != "warehouse"}
        figures = score_pipeline(root, config, truth)
        s = figures["scores"]
        label = f" look-alike {args.look_alike:.0%}" if args.look_alike else ""
        print(
            f"chinese{label} golden-records {figures['records']:>7,} records of "
            f"{figures['people']:,} people -> {figures['golden']:,} golden  "
            f"precision {s.precision:.4f}  recall {s.recall:.4f}  F1 {s.f1:.4f}  "
            f"({figures['seconds']} s)",
            flush=True,
        )
        clock = time.perf_counter()
        scores = run_plain(plain_frame(root), truth)
        print(
            f"chinese{label} plain Splink   {truth.height:>7,} records  precision "
            f"{scores.precision:.4f}  recall {scores.recall:.4f}  F1 {scores.f1:.4f}  "
            f"({time.perf_counter() - clock:.1f} s)"
        )
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
