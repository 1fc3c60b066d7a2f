"""``golden generate-sample`` and ``golden mutate-sample``: messy demo data with ground truth."""

from __future__ import annotations

import time
from pathlib import Path

import typer

OUT_OPTION = typer.Option(..., "--out", "-o", help="Folder to write the sample into.")
CUSTOMERS_OPTION = typer.Option(
    None, "--customers", "-n", min=1, help="True customers, about 1.96 records each [default: 800]."
)
RECORDS_OPTION = typer.Option(
    None, "--records", min=1, help="Size by source records instead (e.g. 1000000)."
)
SEED_OPTION = typer.Option(7, "--seed", help="Same seed, same bytes.")
CONFIG_OUT_OPTION = typer.Option(
    None, "--config", help="Where to write the pipeline config (default: OUT/config.yaml)."
)
WAREHOUSE_OUT_OPTION = typer.Option(
    None, "--warehouse", help="Warehouse path to put in the config (default: ./warehouse)."
)
EXPECTATIONS_OPTION = typer.Option(
    None, "--expectations", help="Suites folder to name in the config (default: the project's)."
)
BACKUP_PREFIX_OPTION = typer.Option("sample", "--backup-prefix", help="Backup key prefix.")
SAMPLE_OPTION = typer.Option(..., "--sample", "-s", help="A folder written by generate-sample.")
FRACTION_OPTION = typer.Option(
    0.01, "--fraction", "-f", min=0.0, max=1.0, help="Share of existing records that change."
)
NEW_RECORDS_OPTION = typer.Option(
    None, "--new-records", min=0, help="New records to add (default: a fifth of the changed)."
)
MUTATE_OUT_OPTION = typer.Option(
    None, "--out", "-o", help="Write the next day here instead of changing SAMPLE in place."
)

LOCALE_OPTION = typer.Option(
    "en",
    "--locale",
    help="en: the CRM/shop/billing sample; zh_CN: Chinese customers (characters, pinyin, "
    "same-sound typos) in crm/shop/service files with their own config.yaml.",
)


def register(app: typer.Typer) -> None:
    @app.command("generate-sample")
    def generate(
        out: Path = OUT_OPTION,
        customers: int | None = CUSTOMERS_OPTION,
        records: int | None = RECORDS_OPTION,
        seed: int = SEED_OPTION,
        config: Path | None = CONFIG_OUT_OPTION,
        warehouse: Path | None = WAREHOUSE_OUT_OPTION,
        expectations: Path | None = EXPECTATIONS_OPTION,
        backup_prefix: str = BACKUP_PREFIX_OPTION,
        locale: str = LOCALE_OPTION,
    ) -> None:
        """Write messy CRM, web shop and billing sources of one population, with ground truth."""
        from tqdm import tqdm

        if locale == "zh_CN":
            from pipelines.sample.zh import generate_zh_sample

            counts = generate_zh_sample(out, customers or 800, seed)
            print(f"Chinese sample written to {out.resolve()}")
            for source in ("crm", "shop", "service"):
                print(f"  {source:<8} {counts[source]:>10,} records  ({source}.csv)")
            print(f"  {counts['people']:,} true customers; ground truth: ground_truth.csv")
            print(f"  pipeline config: {out / 'config.yaml'}")
            return
        if locale != "en":
            raise typer.BadParameter(f"--locale {locale!r}: use en or zh_CN")

        from pipelines.sample import customers_for_records, generate_sample
        from pipelines.sample.pipeline_config import local_s3_dir

        if customers is not None and records is not None:
            raise typer.BadParameter("give --customers or --records, not both")
        if records is not None:
            customers = customers_for_records(records)
        started = time.perf_counter()
        with tqdm(unit=" records", desc="rendering", leave=False, disable=None) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            info = generate_sample(
                out,
                customers or 800,
                seed,
                config_path=config,
                warehouse=warehouse,
                expectations_dir=expectations,
                backup_prefix=backup_prefix,
                progress=progress,
            )
        seconds = time.perf_counter() - started
        print(f"sample written to {info.out_dir.resolve()}")
        for source, count in info.records.items():
            print(f"  {source:<8} {count:>10,} records  ({info.files[source]})")
        print(
            f"  {'total':<8} {info.total_records:>10,} records of {info.customers:,} true customers"
        )
        groups = ", ".join(f"{n} {kind}" for kind, n in info.lookalike_groups.items())
        print(f"  look-alike groups: {groups}; namesake pairs: {info.namesake_pairs}")
        print(f"  ground truth: {info.out_dir / info.files['ground_truth']}")
        print(f"  pipeline config: {info.config_path}")
        print(
            f"  backups: start their local S3 server with `golden s3 start --data-dir "
            f"{local_s3_dir(info.config_path)}`"
        )
        rate = info.total_records / seconds if seconds else 0.0
        print(f"  generated in {seconds:.1f} s ({rate:,.0f} records/s)")

    @app.command("mutate-sample")
    def mutate(
        sample: Path = SAMPLE_OPTION,
        fraction: float = FRACTION_OPTION,
        seed: int = SEED_OPTION,
        new_records: int | None = NEW_RECORDS_OPTION,
        out: Path | None = MUTATE_OUT_OPTION,
    ) -> None:
        """Make the next day of a sample: some records change, a few new ones appear."""
        from pipelines.sample import mutate_sample

        started = time.perf_counter()
        info = mutate_sample(sample, fraction, seed, new_records=new_records, out_dir=out)
        seconds = time.perf_counter() - started
        print(f"next day ({info.as_of:%Y-%m-%d %H:%M} UTC) written to {info.sample_dir}")
        for source in info.changed:
            print(f"  {source:<8} {info.changed[source]:>8,} changed  {info.added[source]:>6,} new")
        kinds = ", ".join(f"{n} {kind}" for kind, n in info.changes.items())
        print(f"  changes: {kinds}; new customers: {info.new_customers}")
        print(f"  done in {seconds:.1f} s")
