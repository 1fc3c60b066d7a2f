"""Benchmark of the golden stage alone, on generated staged records and clusters.

    .venv/bin/python -m bench.bench_golden [--records N] [--json PATH]

Generates staged records and clusters (seeded, vectorised, no personal data: tokens drawn from
small vocabularies so survivorship has real conflicts to settle), then times two runs of
:func:`~pipelines.golden.build_golden` in a temporary warehouse: a first run that mints every id
and a second after 1% of the records changed cluster (grown, shrunk, merged, split customers),
which must keep almost every id. Prints wall time, CPU time (all threads; steadier than wall
time on a shared machine), records per second and peak memory; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from pipelines.schema import staged_schema
from pipelines.warehouse import Warehouse

_VOCAB = {
    "first_name": ["Ann", "Bob", "Robert", "Chloé", "Dmitri", "Eve", "Farah", "Gus", "Hiro"],
    "last_name": ["Smith", "Nguyen", "O'Neil", "García", "Kowalski", "Lee", "Müller", "Ng"],
    "city": ["Leeds", "Paris", "Austin", "Lyon", "Osaka", "Porto", "Cork", "Graz"],
    "country": ["GB", "FR", "US", "JP", "PT", "IE", "AT"],
}


def generate(records: int, seed: int = 7) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Staged accepted records and their clusters (about 2.5 records per customer)."""
    rng = np.random.default_rng(seed)
    customers = max(1, int(records / 2.5))
    cluster = np.sort(rng.integers(0, customers, records))
    sources = np.array(["crm", "shop", "support"])[rng.integers(0, 3, records)]
    ids = np.arange(records).astype(str)

    def pick(field: str, null_share: float) -> pl.Series:
        vocab = pl.Series(field, _VOCAB[field], dtype=pl.String)
        values = vocab.gather((cluster + rng.integers(0, 2, records)) % vocab.len())
        empty = pl.Series(rng.random(records) < null_share)
        return pl.select(pl.when(empty).then(None).otherwise(values)).to_series().alias(field)

    base = datetime(2024, 1, 1, tzinfo=UTC)
    frame = pl.DataFrame(
        {
            "source_system": sources,
            "source_record_id": ids,
            "trust_rank": rng.integers(1, 4, records).astype(np.int32),
            "_cluster": cluster.astype(str),
            "_updated_days": rng.integers(0, 900, records),
        }
    ).with_columns(
        (pl.col("source_system") + ":" + pl.col("source_record_id")).alias("record_key"),
        pl.lit("bench").alias("batch_id"),
        pl.lit(base).alias("ingested_at"),
        (pl.lit(base) - pl.duration(days=pl.col("_updated_days"))).alias("source_updated_at"),
        pick("first_name", 0.05),
        pick("last_name", 0.02),
        pick("city", 0.2),
        pick("country", 0.1),
        ("u" + pl.col("_cluster") + "@example.com").alias("email"),
        ("+4420" + pl.col("_cluster").str.zfill(8)).alias("phone"),
        (pl.col("_cluster") + " High Street").alias("address_line1"),
        (pl.lit(date_of_birth_base()) + pl.duration(days=pl.col("_updated_days") * 10)).alias(
            "date_of_birth"
        ),
        pl.when(pl.col("_updated_days") % 50 == 0)
        .then(pl.lit(["email"]))
        .otherwise(pl.lit([], dtype=pl.List(pl.String)))
        .alias("invalid_fields"),
    )
    schema = staged_schema()
    staged = frame.select(
        [
            (pl.col(name) if name in frame.columns else pl.lit(None, dtype=pl.String).alias(name))
            for name in schema.names
        ]
    ).with_columns(pl.col("date_of_birth").cast(pl.Date))
    clusters = frame.select(
        "record_key",
        pl.col("_cluster").alias("cluster_id"),
        pl.lit(0.97).alias("match_probability"),
    )
    return staged, clusters


def date_of_birth_base() -> datetime:
    return datetime(1950, 1, 1, tzinfo=UTC)


def _perturb(clusters: pl.DataFrame, share: float, seed: int) -> pl.DataFrame:
    """Move ``share`` of the records into another cluster or a new one of their own."""
    rng = np.random.default_rng(seed)
    n = clusters.height
    moved = rng.random(n) < share
    targets = clusters["cluster_id"].to_numpy()[rng.integers(0, n, n)]
    own = np.char.add("new-", np.arange(n).astype(str))
    choice = np.where(rng.random(n) < 0.5, targets, own)
    return clusters.with_columns(
        pl.when(pl.Series(moved))
        .then(pl.Series(choice, dtype=pl.String))
        .otherwise(pl.col("cluster_id"))
        .alias("cluster_id")
    )


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(records: int, keep: bool = False) -> dict[str, Any]:
    """Time two golden runs over ``records`` generated records; return the figures."""
    from pipelines.config import PipelineConfig
    from pipelines.golden import build_golden

    root = Path(tempfile.mkdtemp(prefix="golden-bench-"))
    try:
        config = PipelineConfig.model_validate(
            {
                "warehouse": {"path": str(root)},
                "sources": [
                    {
                        "name": "crm",
                        "kind": "file",
                        "path": "x.csv",
                        "id_column": "id",
                        "mapping": {"email": "e"},
                    }
                ],
            }
        )
        warehouse = Warehouse(root)
        clock = time.perf_counter()
        staged, clusters = generate(records)
        figures: dict[str, Any] = {
            "records": records,
            "generate_s": round(time.perf_counter() - clock, 2),
        }
        start = datetime(2024, 6, 1, tzinfo=UTC)
        for label, run_clusters, offset in (
            ("first_run", clusters, 0),
            ("second_run_1pct_changed", _perturb(clusters, 0.01, seed=11), 1),
        ):
            run_id = f"{start + timedelta(days=offset):%Y%m%dT%H%M%SZ}-bench{offset}"
            staged_path = warehouse.staged_accepted(run_id)
            staged_path.parent.mkdir(parents=True, exist_ok=True)
            staged.write_parquet(staged_path)
            clusters_path = warehouse.match_dir(run_id) / "clusters.parquet"
            clusters_path.parent.mkdir(parents=True, exist_ok=True)
            run_clusters.write_parquet(clusters_path)
            clock, cpu = time.perf_counter(), time.process_time()
            result = build_golden(config, run_id)
            seconds = time.perf_counter() - clock
            figures[label] = {
                "seconds": round(seconds, 2),
                "cpu_seconds": round(time.process_time() - cpu, 2),
                "records_per_second": round(records / seconds),
                "golden_records": result.golden_records,
                "ids": {
                    k: getattr(result, k)
                    for k in ("created", "kept", "merged", "split", "absorbed", "retired")
                },
                "peak_rss_mib": round(_peak_rss_mib()),
            }
            # What publish does on success: the proposed registry becomes the registry of record.
            warehouse.state.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(
                warehouse.golden_dir(run_id) / "id_registry.parquet", warehouse.id_registry
            )
        return figures
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--json", type=Path, help="Also write the figures to this JSON file.")
    args = parser.parse_args(argv)
    figures = run(args.records)
    text = json.dumps(figures, indent=2)
    sys.stdout.write(text + "\n")
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
