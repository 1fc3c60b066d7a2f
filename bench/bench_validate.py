"""Throughput of the validation stage on staged records with the full canonical suite.

    .venv/bin/python -m bench.bench_validate [--rows 1000000] [--gx-rows 20000]

Generates a staged batch of realistic values with a few percent of each kind of fault
(``pipelines.validate.synthetic``), writes it where the standardise stage would, and times the
whole ``validate_staged`` stage: read, evaluate every expectation, write accepted rows, the
quarantine rows, ``dq/canonical.json`` and GX's suite result. Prints rows per second, total
seconds (GX's import, paid once per process, printed apart) and the slowest expectations.
``--gx-rows`` also times GX's own pandas engine on that many rows, for comparison (0 skips it).
The target is the whole stage for 1,000,000 rows in under 30 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--gx-rows", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    import polars as pl

    from pipelines.config import PipelineConfig
    from pipelines.validate import validate_staged
    from pipelines.validate.engine import evaluate_suite, run_parameters
    from pipelines.validate.suites import load_suite
    from pipelines.validate.synthetic import RUN_ID, staged_frame
    from pipelines.warehouse import Warehouse

    clock = time.perf_counter()
    frame = staged_frame(args.rows, seed=args.seed)
    print(f"generated {frame.height:,} staged rows in {time.perf_counter() - clock:.1f} s")

    with tempfile.TemporaryDirectory(prefix="bench-validate-") as tmp:
        config = PipelineConfig.model_validate(
            {
                "warehouse": {"path": str(Path(tmp) / "warehouse")},
                "validation": {"expectations_dir": str(REPO / "expectations")},
                "sources": [
                    {"name": "bench", "kind": "file", "path": "none.csv", "id_column": "id",
                     "mapping": {"email": "e"}}
                ],
            }
        )  # fmt: skip
        warehouse = Warehouse(config.warehouse.path)
        staged = warehouse.staged(RUN_ID)
        staged.parent.mkdir(parents=True)
        frame.write_parquet(staged)
        size_mb = staged.stat().st_size / 1e6

        # GX is imported once per process (a few seconds here); shown apart from the stage.
        clock = time.perf_counter()
        import great_expectations  # noqa: F401

        gx_import = time.perf_counter() - clock
        clock = time.perf_counter()
        result = validate_staged(config, RUN_ID)
        seconds = time.perf_counter() - clock
        suite = load_suite(REPO / "expectations" / "canonical.json")

        print()
        print(f"canonical suite: {len(suite.rules)} expectations, staged file {size_mb:.0f} MB")
        print(f"rows in       {result.rows_in:>12,}")
        print(f"accepted      {result.accepted:>12,}")
        print(f"quarantined   {result.quarantined:>12,}")
        print(f"warned        {result.warned:>12,}")
        quarantine_rows = pl.scan_parquet(result.quarantine_path).select(pl.len()).collect().item()
        print(f"quarantine file rows {quarantine_rows:>5,}")
        print(f"validate_staged total: {seconds:.2f} s  ({result.rows_in / seconds:,.0f} rows/s)")
        print(
            f"GX import, once per process: {gx_import:.2f} s (with it: {seconds + gx_import:.2f} s)"
        )

        # Where the time goes, rule by rule (evaluation only, no I/O).
        parameters = run_parameters(RUN_ID)
        timings = []
        for rule in suite:
            start = time.perf_counter()
            outcome = evaluate_suite(_one(suite, rule), frame, parameters)[0]
            timings.append((time.perf_counter() - start, rule.label, outcome.engine))
        evaluated = sum(t for t, _, _ in timings)
        print(f"evaluation alone: {evaluated:.2f} s; slowest expectations:")
        for spent, label, engine in sorted(timings, reverse=True)[:5]:
            print(f"  {spent:6.2f} s  {engine:6}  {label}")

        if args.gx_rows:
            sample = frame.head(args.gx_rows)
            start = time.perf_counter()
            evaluate_suite(suite, sample, parameters, engine="gx")
            gx_seconds = time.perf_counter() - start
            print(
                f"GX pandas engine, same suite, {sample.height:,} rows: {gx_seconds:.2f} s "
                f"({sample.height / gx_seconds:,.0f} rows/s; about "
                f"{gx_seconds * args.rows / sample.height:,.0f} s for {args.rows:,} rows)"
            )


def _one(suite, rule):  # type: ignore[no-untyped-def]
    """A one-rule view of a suite, for timing rules separately."""
    from dataclasses import replace

    return replace(suite, rules=(rule,))


if __name__ == "__main__":
    main()
