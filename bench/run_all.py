"""Every benchmark in turn (what ``make bench`` runs): the whole pipeline, then each stage alone.

    .venv/bin/python -m bench.run_all [--records N] [--only NAME,...] [--skip NAME,...]
                                      [--spark]

Each benchmark runs in its own process with its own default sizes (1,000,000 records; the
matching accuracy pass uses 100,000), prints its figures as it goes, and the pipeline benchmark
also writes ``bench/results/pipeline-<timestamp>.json``. ``foreign`` scores matching on data
laid out unlike the bundled sample (FEBRL-style and UK-style sources); ``febrl`` the real
FEBRL datasets 1-4 and a names-and-birth-date registry against a plain Splink job;
``active_learning`` the F1 that 50 steward labels buy on that registry (suggested pairs against
random review-band pairs);
``golden_accuracy`` scores golden values against each generated customer's true current values.
``--records`` sizes them all at once (a quick look: ``--records 50000``). One failing benchmark
does not stop the others; the summary at the end names it and the exit status is non-zero.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

BENCHMARKS: dict[str, str] = {
    "pipeline": "--records",
    "ingest": "--rows",
    "validate": "--rows",
    "standardise": "--rows",
    "matching": "--speed-records",
    "foreign": "--people",
    "febrl": "--registry-records",
    "active_learning": "--records",
    "chinese": "--people",
    "golden": "--records",
    "golden_accuracy": "--customers",
    "backup": "--records",
    "serve": "--customers",
}
"""Benchmark (module ``bench.bench_<name>``) -> its size option, in the order they run."""


def command(name: str, records: int | None, spark: bool) -> list[str]:
    """The command line of one benchmark."""
    cmd = [sys.executable, "-m", f"bench.bench_{name}"]
    if records is not None:
        # The foreign-layout accuracy runs two records per person, and stays an accuracy check.
        # Survivorship accuracy, like matching accuracy, runs the whole pipeline on a sample of
        # about two records per customer.
        per_person = ("foreign", "golden_accuracy", "chinese")
        size = min(records // 2, 50_000) if name in per_person else records
        size = min(records, 10_000) if name in ("febrl", "active_learning") else size
        cmd += [BENCHMARKS[name], str(size)]
        if name == "pipeline":
            # The growth table: a quarter, a half and the whole of the requested size.
            cmd += ["--sizes", ",".join(str(records * k // 4) for k in (1, 2, 4))]
        if name == "matching":
            cmd += ["--records", str(min(records, 100_000))]
    if spark and name == "pipeline":
        cmd.append("--spark")
    return cmd


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}"
        )
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, help="Size every benchmark to N records.")
    parser.add_argument("--only", type=_names, help="Comma-separated benchmarks to run.")
    parser.add_argument("--skip", type=_names, default=[], help="Benchmarks to leave out.")
    parser.add_argument("--spark", action="store_true", help="Pipeline: also match on Spark.")
    args = parser.parse_args(argv)
    chosen = [n for n in (args.only or BENCHMARKS) if n not in args.skip]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    outcomes: list[tuple[str, int, float]] = []
    for name in chosen:
        cmd = command(name, args.records, args.spark)
        print(f"\n=== bench_{name}: {' '.join(cmd[1:])}", flush=True)
        clock = time.perf_counter()
        status = subprocess.run(cmd, cwd=REPO, env=env, check=False).returncode
        outcomes.append((name, status, time.perf_counter() - clock))
    print("\n=== summary")
    for name, status, seconds in outcomes:
        verdict = "ok" if status == 0 else f"FAILED (exit status {status})"
        print(f"bench_{name:<12} {seconds:>8.0f} s  {verdict}")
    return 0 if all(status == 0 for _, status, _ in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
