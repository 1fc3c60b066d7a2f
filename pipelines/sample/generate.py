"""``generate_sample``: one population of true customers, three messy sources, the truth.

Seeds are split with :class:`numpy.random.SeedSequence` into independent streams (population,
record plan, one renderer per source), so changing how one source is rendered never reshuffles
the others, and the same seed always gives the same bytes.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.errors import GoldenError, UsageError
from pipelines.sample.config import SOURCES, SampleOptions
from pipelines.sample.pipeline_config import config_text, default_expectations_dir
from pipelines.sample.population import build_population
from pipelines.sample.records import SourceRecords, format_ids, plan_records
from pipelines.sample.render import COLUMNS, ID_COLUMN, UPDATED_COLUMN, PopulationView, Renderer
from pipelines.sample.results import SampleInfo, SampleManifest
from pipelines.sample.writers import (
    CHUNK_ROWS,
    FILE_NAMES,
    GROUND_TRUTH,
    MANIFEST,
    TRUE_CUSTOMERS,
    crm_timestamps,
    shop_timestamps,
    source_writer,
    to_frame,
    write_frame_csv,
    write_frame_parquet,
    write_text,
)

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called with (records written so far, records in total)."""

GROUND_TRUTH_COLUMNS = (
    "source_system",
    "source_record_id",
    "customer_id",
    "lookalike_group",
    "lookalike_kind",
)


def generate_sample(
    out_dir: Path,
    customers: int,
    seed: int = 7,
    *,
    options: SampleOptions | None = None,
    config_path: Path | None = None,
    warehouse: Path | None = None,
    expectations_dir: Path | None = None,
    backup_prefix: str = "sample",
    progress: Progress | None = None,
) -> SampleInfo:
    """Write ``crm.csv``, ``shop.jsonl``, ``billing.parquet``, ``ground_truth.csv``,
    ``true_customers.parquet``, ``sample.json`` and a pipeline config into ``out_dir``.

    ``customers`` is the number of true people; each has records in one to three sources
    (about 1.9 records per customer with the default options). The config goes to
    ``config_path`` (default ``out_dir/config.yaml``) and names the project's
    ``expectations/`` folder unless ``expectations_dir`` is given.
    """
    if customers < 1:
        raise GoldenError(f"customers must be at least 1 (got {customers})")
    options = options or SampleOptions()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config_path = Path(config_path) if config_path else out_dir / "config.yaml"
    streams = np.random.SeedSequence(seed).spawn(2 + len(SOURCES))

    population = build_population(customers, options, np.random.default_rng(streams[0]))
    release_freed_memory()
    planned = plan_records(population, options, np.random.default_rng(streams[1]))
    total = sum(len(r) for r in planned.values())
    log.info("rendering %d records of %d true customers", total, customers)

    noise: dict[str, dict[str, int]] = {}
    done = 0
    view = PopulationView(population)
    for k, source in enumerate(SOURCES):
        rng = random.Random(int(streams[2 + k].generate_state(1)[0]))
        renderer = Renderer(source, view, options, rng)
        records = planned[source]
        with source_writer(source, out_dir / FILE_NAMES[source]) as writer:
            for start in range(0, max(len(records), 1), CHUNK_ROWS):
                stop = min(start + CHUNK_ROWS, len(records))
                writer.write(to_frame(source, render_rows(renderer, records, start, stop)))
                done += stop - start
                if progress:
                    progress(done, total)
        noise[source] = dict(sorted(renderer.counts.items()))
        release_freed_memory()

    truth = ground_truth(population, planned)
    write_frame_csv(truth, out_dir / GROUND_TRUTH)
    write_frame_parquet(population, out_dir / TRUE_CUSTOMERS)
    groups = lookalike_groups(truth)
    namesakes = population["namesake_group"].drop_nulls().n_unique()
    manifest = SampleManifest(
        seed=seed,
        customers=truth["customer_id"].n_unique(),
        records={s: len(planned[s]) for s in SOURCES},
        as_of=options.as_of,
        options=options,
        lookalike_groups=groups,
        namesake_pairs=namesakes,
        noise=noise,
    )
    write_manifest(out_dir, manifest)
    text = config_text(
        config_path,
        out_dir,
        expectations_dir=expectations_dir or default_expectations_dir(),
        backup_prefix=backup_prefix,
        warehouse=warehouse,
        project="golden-records-sample",
    )
    write_text(config_path, text)
    return info_from(manifest, out_dir, config_path)


def release_freed_memory() -> None:
    """Give memory freed by a finished phase back to the operating system.

    glibc keeps freed small blocks in the process, so without this the peak is the sum of the
    phases (building the population alone leaves ~300 MB per million customers behind) rather
    than the largest one. Elsewhere than glibc this does nothing.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def render_rows(
    renderer: Renderer, records: SourceRecords, start: int, stop: int
) -> dict[str, list]:
    """Columns of records ``start:stop`` of one source, ids and timestamps included."""
    source = renderer.source
    columns: dict[str, list] = {c: [] for c in COLUMNS[source]}
    appenders = [(c, columns[c].append) for c in COLUMNS[source]]
    customer = records.customer[start:stop].tolist()
    modified = records.modified[start:stop]
    skip = {ID_COLUMN[source], UPDATED_COLUMN[source], "created_at"}
    appenders = [(c, add) for c, add in appenders if c not in skip]
    record = renderer.record
    for i, at in zip(customer, modified.tolist(), strict=True):
        row = record(i, at)
        for column, add in appenders:
            add(row[column])
    numbers = records.number[start:stop].tolist()
    if source == "billing":
        columns["account_no"] = numbers
        columns["modified"] = modified * 1_000_000  # epoch microseconds
    else:
        columns[ID_COLUMN[source]] = format_ids(source, records.number[start:stop]).to_list()
    if source == "crm":
        columns["created_at"] = crm_timestamps(records.created[start:stop])
        columns["last_modified"] = crm_timestamps(modified)
    elif source == "shop":
        columns["updated_at"] = shop_timestamps(modified)
    return columns


def ground_truth(population: pl.DataFrame, planned: dict[str, SourceRecords]) -> pl.DataFrame:
    """One row per source record: the true customer and its look-alike group, if any."""
    people = population.select(
        pl.col("customer_id"),
        pl.col("group_id").alias("lookalike_group"),
        pl.col("group_kind").alias("lookalike_kind"),
    )
    parts = []
    for source, records in planned.items():
        ids = pl.DataFrame({"source_record_id": format_ids(source, records.number)})
        part = pl.concat([ids, people[records.customer]], how="horizontal")
        parts.append(part.with_columns(source_system=pl.lit(source, dtype=pl.String)))
    return pl.concat(parts).select(GROUND_TRUTH_COLUMNS)


def lookalike_groups(truth: pl.DataFrame) -> dict[str, int]:
    """Groups per look-alike kind with at least one record."""
    counts = (
        truth.filter(pl.col("lookalike_kind").is_not_null())
        .group_by("lookalike_kind")
        .agg(pl.col("lookalike_group").n_unique())
        .sort("lookalike_kind")
    )
    return dict(zip(counts["lookalike_kind"], counts["lookalike_group"], strict=True))


def write_manifest(out_dir: Path, manifest: SampleManifest) -> None:
    write_text(out_dir / MANIFEST, manifest.model_dump_json(indent=2) + "\n")


def read_manifest(sample_dir: Path) -> SampleManifest:
    path = sample_dir / MANIFEST
    if not path.is_file():
        raise UsageError(
            f"{path} does not exist: {sample_dir} is not a folder written by generate_sample"
        )
    return SampleManifest.model_validate_json(path.read_text(encoding="utf-8"))


def info_from(manifest: SampleManifest, out_dir: Path, config_path: Path) -> SampleInfo:
    files = {s: FILE_NAMES[s] for s in SOURCES}
    files.update(
        ground_truth=GROUND_TRUTH,
        true_customers=TRUE_CUSTOMERS,
        manifest=MANIFEST,
        config=str(config_path.resolve().relative_to(out_dir.resolve()))
        if config_path.resolve().is_relative_to(out_dir.resolve())
        else str(config_path.resolve()),
    )
    return SampleInfo(
        out_dir=out_dir,
        config_path=config_path,
        seed=manifest.seed,
        customers=manifest.customers,
        records=manifest.records,
        total_records=sum(manifest.records.values()),
        files=files,
        lookalike_groups=manifest.lookalike_groups,
        namesake_pairs=manifest.namesake_pairs,
        as_of=manifest.as_of,
        noise=manifest.noise,
    )
