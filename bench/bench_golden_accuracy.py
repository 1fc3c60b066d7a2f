"""How often a golden record carries its customer's true current value, field by field.

    .venv/bin/python -m bench.bench_golden_accuracy [--customers N] [--seed S] [--keep DIR]
        [--json PATH] [--evaluate WAREHOUSE SAMPLE_DIR]

Runs the whole pipeline (no backup) on the bundled sample (``examples/sample``, 800 customers)
and on a generated three-source set (``--customers``, default 10,000, seed 11: not the seed
the other benchmarks and the tests use), then scores the golden records of the run against the
sample's ground truth: ``true_customers.parquet`` holds each customer's true current values
(:mod:`pipelines.sample.truth` renders them without noise and standardises them), and
``ground_truth.csv`` maps every source record to its customer.

Per customer, the golden record holding most of the customer's records is compared with the
true value: ``right``, ``wrong`` or ``missing`` (shares of customers). ``attainable`` is the
share of customers for whom at least one of their accepted source records holds the true value:
no survivorship can beat it. ``held`` counts golden records with no value in a field although one
of their records holds a valid value for it (the target is 0).

Beside each figure, the same customers scored with the plain job a team writes without
survivorship rules: every golden field taken from the customer's newest record (latest
``source_updated_at``, ties to the lowest record key), on the same clusters.

Phones are right when the golden phone is either of the customer's (mobile or landline);
streets are compared on the standardiser's address key (``mk_address``: street types and case
folded), postcodes on their compact form (US: the five-digit ZIP), other fields exactly as
published. ``--evaluate`` scores an existing warehouse (its newest run) against a sample folder.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Final

import polars as pl

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "examples" / "sample"

FIELDS: Final = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "street",
    "city",
    "postcode",
    "date_of_birth",
)
"""Scored fields; ``street`` is ``address_line1`` compared on its address key."""

_SOURCE_COLUMN: Final = {"street": "address_line1"}


def _postcode_key(value: pl.Expr, country: pl.Expr) -> pl.Expr:
    compact = value.str.to_uppercase().str.replace_all(r"[\s\-]", "")
    return pl.when(country == "US").then(compact.str.slice(0, 5)).otherwise(compact)


def _comparable(frame: pl.DataFrame, street_key: pl.Expr) -> pl.DataFrame:
    """The scored fields of ``frame`` (canonical columns) in their compared form."""
    return frame.with_columns(
        street_key.alias("street"),
        _postcode_key(pl.col("postcode"), pl.col("country")).alias("postcode"),
        pl.col("date_of_birth").cast(pl.String),
    )


def _street_keys(values: pl.DataFrame) -> pl.Expr:
    """``mk_address`` of ``address_line1`` values read alone, by the standardiser itself (the
    same call for truth, source records and golden records, so only the value decides). A unit
    written at the end of the street line (``12 Main St Apt 4``) is not part of the street, and
    a line that is only a unit (``Flat 2``) is no street."""
    from pipelines.golden.consensus import split_unit
    from pipelines.standardise.addresses import standardise_addresses

    street, _ = split_unit(pl.col("address_line1"), pl.lit(None, pl.String))
    raw = values.select(
        street.alias("raw_address_line1"),
        pl.col("country").alias("raw_country"),
        *(pl.lit(None, pl.String).alias(f"raw_{f}") for f in ("address", "address_line2")),
        *(pl.lit(None, pl.String).alias(f"raw_{f}") for f in ("city", "region", "postcode")),
    )
    keys = standardise_addresses(raw)["mk_address"]
    return pl.lit(keys)


def score(warehouse: Path, sample_dir: Path) -> dict[str, Any]:
    """Right / wrong / missing / attainable per field for the newest run of ``warehouse``."""
    from pipelines.golden.consensus import split_unit
    from pipelines.sample.truth import read_true_values
    from pipelines.warehouse import Warehouse

    store = Warehouse(warehouse)
    run_id = sorted(p.name for p in (warehouse / "runs").iterdir() if p.is_dir())[-1]
    golden_dir = store.golden_dir(run_id)
    golden = pl.read_parquet(golden_dir / "golden_customers.parquet")
    xref = pl.read_parquet(golden_dir / "customer_xref.parquet")
    staged = pl.read_parquet(store.staged_accepted(run_id))
    truth_map = pl.read_csv(sample_dir / "ground_truth.csv", infer_schema=False).select(
        (pl.col("source_system") + ":" + pl.col("source_record_id")).alias("record_key"),
        "customer_id",
    )
    truth = read_true_values(sample_dir)

    records = xref.select("record_key", "golden_id").join(truth_map, on="record_key")
    # Each customer's golden record: the one holding most of its records.
    owner = (
        records.group_by("customer_id", "golden_id")
        .len()
        .sort(["customer_id", "len", "golden_id"], descending=[False, True, False])
        .unique("customer_id", keep="first")
        .select("customer_id", "golden_id")
    )
    truth_cmp = _comparable(truth, _street_keys(truth)).select("customer_id", *FIELDS, "phone_alt")
    golden_cmp = _comparable(golden, _street_keys(golden)).select("golden_id", *FIELDS)

    newest = (
        staged.join(records.select("record_key", "golden_id"), on="record_key")
        .sort(["golden_id", "source_updated_at", "record_key"], descending=[False, True, False])
        .unique("golden_id", keep="first")
    )
    plain_cmp = _comparable(newest, _street_keys(newest)).select("golden_id", *FIELDS)

    staged_cmp = _comparable(staged, _street_keys(staged)).join(truth_map, on="record_key")
    attainable = {}
    held_records = staged_cmp.join(truth_cmp, on="customer_id", suffix="_true")
    for field in FIELDS:
        hit = pl.col(field) == pl.col(f"{field}_true")
        if field == "phone":
            hit = hit | (pl.col("phone") == pl.col("phone_alt"))
        attainable[field] = held_records.filter(hit)["customer_id"].n_unique()

    customers = truth_cmp.join(owner, on="customer_id")
    total = customers.height

    def rates(chosen: pl.DataFrame) -> dict[str, dict[str, float]]:
        joined = customers.join(chosen, on="golden_id", suffix="_golden")
        out = {}
        for field in FIELDS:
            value, true = pl.col(f"{field}_golden"), pl.col(field)
            right = value == true
            if field == "phone":
                right = right | (value == pl.col("phone_alt"))
            counts = joined.select(
                right.fill_null(False).sum().alias("right"),
                value.is_null().sum().alias("missing"),
            ).row(0, named=True)
            wrong = total - counts["right"] - counts["missing"]
            out[field] = {
                "right": counts["right"] / total,
                "wrong": wrong / total,
                "missing": counts["missing"] / total,
                "attainable": attainable[field] / total,
            }
        return out

    # Golden records missing a field that one of their records holds validly.
    valid = staged.join(xref.select("record_key", "golden_id"), on="record_key")
    held = {}
    for field in FIELDS:
        column = _SOURCE_COLUMN.get(field, field)
        value = pl.col(column)
        if field == "street":
            value = split_unit(value, pl.lit(None, pl.String))[0]
        holders = valid.filter(
            value.is_not_null() & ~pl.col("invalid_fields").list.contains(column)
        )["golden_id"].unique()
        held[field] = golden.filter(
            pl.col(column).is_null() & pl.col("golden_id").is_in(holders.implode())
        ).height
    return {
        "run_id": run_id,
        "customers": total,
        "golden_records": golden.height,
        "records": staged.height,
        "golden": rates(golden_cmp),
        "newest_record": rates(plain_cmp),
        "held_but_missing": held,
    }


def _print(name: str, figures: dict[str, Any]) -> None:
    print(
        f"\n{name}: {figures['customers']:,} customers, {figures['records']:,} accepted records, "
        f"{figures['golden_records']:,} golden records"
    )
    print(
        f"{'field':<14} {'right':>7} {'wrong':>7} {'missing':>8} {'attain.':>8} "
        f"{'right/att.':>10} {'held,missing':>13} | newest record: {'right':>7} {'wrong':>7} "
        f"{'missing':>8}"
    )
    for field in FIELDS:
        g, p = figures["golden"][field], figures["newest_record"][field]
        ratio = g["right"] / g["attainable"] if g["attainable"] else float("nan")
        print(
            f"{field:<14} {g['right']:>7.3f} {g['wrong']:>7.3f} {g['missing']:>8.3f} "
            f"{g['attainable']:>8.3f} {ratio:>10.3f} {figures['held_but_missing'][field]:>13,} | "
            f"{'':>15}{p['right']:>7.3f} {p['wrong']:>7.3f} {p['missing']:>8.3f}"
        )


def run_set(name: str, folder: Path, customers: int | None, seed: int) -> dict[str, Any]:
    """Generate (or copy the bundled sample), run the pipeline, score it."""
    from pipelines.config import load_config
    from pipelines.orchestrate import run_pipeline
    from pipelines.sample.generate import generate_sample

    sample = folder / "sample"
    warehouse = folder / "warehouse"
    if customers is None:
        shutil.copytree(BUNDLED, sample)
        generate_config = folder / "config.yaml"
        shutil.copy(REPO / "examples" / "config.yaml", generate_config)
        config = load_config(
            generate_config,
            {
                "warehouse.path": str(warehouse),
                "validation.expectations_dir": str(REPO / "expectations"),
            },
        )
    else:
        info = generate_sample(sample, customers, seed, warehouse=warehouse)
        config = load_config(info.config_path, {"warehouse.path": str(warehouse)})
    started = time.perf_counter()
    run_pipeline(config, skip_backup=True)
    figures = score(warehouse, sample)
    figures["pipeline_seconds"] = round(time.perf_counter() - started, 1)
    _print(name, figures)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--keep", type=Path, help="Keep samples and warehouses in this folder.")
    parser.add_argument("--json", type=Path, help="Also write the figures to this JSON file.")
    parser.add_argument(
        "--evaluate", nargs=2, type=Path, metavar=("WAREHOUSE", "SAMPLE_DIR"),
        help="Only score an existing warehouse's newest run against a sample folder.",
    )  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("splink").setLevel(logging.ERROR)
    logging.getLogger("matching.training").setLevel(logging.ERROR)
    if args.evaluate:
        figures = {"evaluated": score(*args.evaluate)}
        _print(str(args.evaluate[0]), figures["evaluated"])
    else:
        root = args.keep or Path(tempfile.mkdtemp(prefix="bench-golden-accuracy-"))
        try:
            figures = {
                "bundled": run_set("bundled sample", root / "bundled", None, args.seed),
                "generated": run_set(
                    f"generated, seed {args.seed}", root / "generated", args.customers, args.seed
                ),
            }
        finally:
            if args.keep is None:
                shutil.rmtree(root, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
