"""Ingestion throughput: a generated customer CSV of N rows (default 1,000,000) through
``ingest_source`` (parse, lineage, raw landing, current set), timed end to end.

Run: ``.venv/bin/python -m bench.bench_ingest [--rows N] [--keep]``. Prints rows/s for a full
load, then for an incremental load of the same file with 1% of the rows changed, each with the
CPU time it took (all threads) and the load average, since a busy machine stretches wall time.
The target is 500,000 rows/s for the full load on a 2-core machine. Beside the incremental load
it times the plain Polars job that finds the same changes (read the CSV, hash each row,
anti-join with the previous hashes, find ids gone): the floor of comparing a snapshot.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
import yaml

FIRST = ["Anna", "Bob", "Carlos", "Dörte", "Émile", "Fatima", "Günther", "Hana", "Ian", "Jo"]
LAST = ["Smith", "Jones", "Müller", "O'Brien", "García", "Nguyen", "Kowalski", "Dubois"]
CITIES = ["Springfield", "Lyon", "München", "São Paulo", "Zürich", "Leeds, West Yorkshire"]


def customers(rows: int, seed: int, changed_share: float = 0.0) -> pl.DataFrame:
    """Customer-like rows: accents, quotes and delimiters inside values, ISO update times."""
    rng = np.random.default_rng(seed)
    ids = np.arange(rows)
    first = np.array(FIRST)[rng.integers(0, len(FIRST), rows)]
    last = np.array(LAST)[rng.integers(0, len(LAST), rows)]
    base = np.datetime64("2024-01-01T00:00:00")
    updated = base + rng.integers(0, 300 * 86400, rows).astype("timedelta64[s]")
    if changed_share:
        # Its own generator, so the other columns come out exactly as in the first file and
        # only these rows differ (drawing from ``rng`` here would reshuffle every later column).
        changed = np.random.default_rng(seed + 1).random(rows) < changed_share
        updated = np.where(changed, np.datetime64("2025-01-01T00:00:00"), updated)
    frame = pl.DataFrame(
        {
            "customer_id": [f"C{i:08d}" for i in ids],
            "first_name": first,
            "last_name": last,
            "email": [f"{f.lower()}.{i}@example.com" for f, i in zip(first, ids, strict=True)],
            "phone": [f"+1 555 {i % 10_000:04d}" for i in ids],
            "address_line1": [f"{i % 999 + 1} Main St, Apt {i % 50}" for i in ids],
            "city": np.array(CITIES)[rng.integers(0, len(CITIES), rows)],
            "postcode": [f"{i % 99_999:05d}" for i in ids],
            "country": np.array(["US", "FR", "DE", "BR"])[rng.integers(0, 4, rows)],
            "date_of_birth": (
                np.datetime64("1940-01-01")
                + rng.integers(0, 60 * 365, rows).astype("timedelta64[D]")
            ).astype(str),
            "updated_at": np.datetime_as_string(updated, unit="s"),
        }
    )
    return frame.with_columns(pl.col("updated_at") + "Z")


def hashes(path: Path, id_column: str) -> pl.DataFrame:
    """(id, row hash) of a CSV file: what ingest keeps of the previous snapshot."""
    frame = pl.read_csv(path, infer_schema=False)
    return frame.select(id_column, frame.hash_rows(seed=1).alias("h"))


def plain_polars_changes(path: Path, id_column: str, before: pl.DataFrame) -> tuple[int, int]:
    """What a hand-written Polars job does to find a snapshot's changes: read, hash each row,
    anti-join with the previous hashes both ways (changed rows, ids gone)."""
    now = hashes(path, id_column)
    changed = now.join(before, on=[id_column, "h"], how="anti").height
    gone = before.join(now, on=id_column, how="anti").height
    return changed, gone


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)

    from pipelines.config import load_config
    from pipelines.ingest import ingest_source

    work = Path(tempfile.mkdtemp(prefix="bench_ingest_"))
    try:
        source_file = work / "customers.csv"
        started = time.perf_counter()
        customers(args.rows, args.seed).write_csv(source_file)
        size_mb = source_file.stat().st_size / 1e6
        took = time.perf_counter() - started
        print(f"generated {args.rows:,} rows ({size_mb:,.0f} MB) in {took:.1f} s")

        config_path = work / "pipeline.yaml"
        config_path.write_text(
            yaml.safe_dump(
                {
                    "warehouse": {"path": "warehouse"},
                    "sources": [
                        {
                            "name": "crm",
                            "kind": "file",
                            "path": "customers.csv",
                            "id_column": "customer_id",
                            "updated_at_column": "updated_at",
                            "mapping": {
                                "first_name": "first_name",
                                "last_name": "last_name",
                                "email": "email",
                                "phone": "phone",
                                "address_line1": "address_line1",
                                "city": "city",
                                "postcode": "postcode",
                                "country": "country",
                                "date_of_birth": "date_of_birth",
                            },
                        }
                    ],
                }
            )
        )
        config = load_config(config_path)

        started, cpu = time.perf_counter(), time.process_time()
        full = ingest_source(config, "bench-full", "crm")
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        assert full.rows_landed == args.rows, full
        print(
            f"full load:        {full.rows_landed:,} rows in {seconds:.2f} s = "
            f"{full.rows_landed / seconds:,.0f} rows/s ({size_mb / seconds:,.0f} MB/s); "
            f"{cpu:.2f} CPU-s"
        )

        before = hashes(source_file, "customer_id")
        customers(args.rows, args.seed, changed_share=0.01).write_csv(source_file)
        started, cpu = time.perf_counter(), time.process_time()
        delta = ingest_source(config, "bench-delta", "crm")
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        scanned = delta.rows_read + delta.rows_unchanged
        print(
            f"incremental load: {scanned:,} rows scanned, {delta.rows_landed:,} changed, "
            f"{delta.rows_current:,} current, in {seconds:.2f} s = "
            f"{scanned / seconds:,.0f} rows/s; {cpu:.2f} CPU-s"
        )
        assert delta.rows_landed < args.rows // 50, delta  # only the 1% changed rows land
        started, cpu = time.perf_counter(), time.process_time()
        changed, gone = plain_polars_changes(source_file, "customer_id", before)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(
            f"plain Polars:     {args.rows:,} rows read, hashed and anti-joined: {changed:,} "
            f"changed, {gone:,} ids gone, in {seconds:.2f} s; {cpu:.2f} CPU-s"
        )
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak memory (RSS): {peak_mb:,.0f} MB")
        # CPU-s counts every thread; far more wall time than CPU time means the cores were busy
        # with other work, so the wall-clock rate understates what the machine can do alone.
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"{os.cpu_count()} cores; load average {load}")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
