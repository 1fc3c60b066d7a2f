"""``mutate_sample``: the next day of the same three sources.

Incremental loads need a second delivery that looks like a real one: most records exactly as
before (byte for byte, same ids), a share of them changed for the reasons records change (the
customer moved, got a new email or phone, an agent fixed a typo) with an update time after the
previous extraction, and a few records that did not exist yesterday (new customers, and known
customers turning up in another system). The true customers and the ground truth move with them.

Only the changed rows are touched: the sources stay frames (or text lines), the population is
updated column by column, so a day on a million records stays cheap in time and memory.
"""

from __future__ import annotations

import logging
import random
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from pipelines.errors import GoldenError
from pipelines.sample.config import SOURCES, SampleOptions
from pipelines.sample.generate import (
    GROUND_TRUTH_COLUMNS,
    read_manifest,
    render_rows,
    write_manifest,
)
from pipelines.sample.population import (
    DAY,
    build_population,
    draw_addresses,
    draw_cities,
    draw_emails,
    draw_phones,
    epoch_seconds,
)
from pipelines.sample.records import ID_MAX_GAP, assign_ids, format_ids, last_number
from pipelines.sample.render import ID_COLUMN, UPDATED_COLUMN, PopulationView, Renderer
from pipelines.sample.results import MutationDay, MutationInfo
from pipelines.sample.writers import (
    FILE_NAMES,
    GROUND_TRUTH,
    MANIFEST,
    TRUE_CUSTOMERS,
    SourceTable,
    crm_timestamps,
    shop_timestamps,
    to_frame,
    write_frame_csv,
    write_frame_parquet,
)

log = logging.getLogger(__name__)

CHANGE_KINDS = ("move", "email", "phone", "correction")
CHANGE_SHARES = (0.35, 0.25, 0.15, 0.25)
NEW_RECORD_SHARE = 0.2
"""New records per changed record, unless the caller says how many."""
# Which facet of a record each kind of change rewrites.
_FACET = {"move": "address", "email": "email", "phone": "phone", "correction": "name"}
_ADDRESS_KEYS = (
    "city_idx",
    "house",
    "street",
    "street_type",
    "direction",
    "unit_kind",
    "unit",
    "postcode",
    "plus4",
)
_SOURCE_ORDER = {s: k for k, s in enumerate(SOURCES)}


@dataclass
class _Change:
    """One existing record that changes on the next day."""

    source: str
    row: int
    customer: int  # row in the population
    kind: str
    stamp: int  # epoch seconds
    values: dict[str, Any] | None = None
    """Pre-rendered columns (corrections); others are rendered after the life events."""


def mutate_sample(
    sample_dir: Path,
    fraction: float,
    seed: int,
    *,
    new_records: int | None = None,
    out_dir: Path | None = None,
) -> MutationInfo:
    """Change ``fraction`` of the records of a generated sample and add a few new ones.

    Works in place unless ``out_dir`` is given (then the sample is copied there first).
    ``new_records`` defaults to a fifth of the changed records (at least one when anything
    changes). Unchanged records keep their ids and their exact bytes.
    """
    if not 0.0 <= fraction <= 1.0:
        raise GoldenError(f"fraction must lie between 0 and 1 (got {fraction})")
    if new_records is not None and new_records < 0:
        raise GoldenError(f"new_records must not be negative (got {new_records})")
    sample_dir = Path(sample_dir)
    manifest = read_manifest(sample_dir)
    target = Path(out_dir) if out_dir else sample_dir
    if out_dir:
        _copy_sample(sample_dir, target)
    options = manifest.options
    streams = np.random.SeedSequence([seed, manifest.seed, len(manifest.days)]).spawn(3)
    rng = np.random.default_rng(streams[0])

    population = pl.read_parquet(target / TRUE_CUSTOMERS)
    truth = pl.read_csv(target / GROUND_TRUTH, infer_schema=False)
    tables = {s: SourceTable.read(s, target / FILE_NAMES[s]) for s in SOURCES}
    _check_consistent(target, tables, truth)
    new_as_of = epoch_seconds(manifest.as_of) + DAY

    changes = _pick_changes(tables, truth, population, fraction, new_as_of, rng)
    # Corrections re-render the name without noise; where that changes nothing (the record
    # was clean) the customer gets a new email instead.
    seeds = streams[1].generate_state(len(SOURCES) + 1)
    corrected = [c.customer for c in changes if c.kind == "correction"]
    view, index = _view_of(population, corrected)
    _render_corrections(changes, tables, view, index, options, random.Random(int(seeds[-1])))

    population = _apply_life_events(population, changes, rng)
    count = len(changes)
    if new_records is None:
        new_records = max(1, round(NEW_RECORD_SHARE * count)) if count else 0
    population, additions, new_customers = _plan_additions(
        population, new_records, options, rng, new_as_of
    )

    # Render only the customers whose records change or appear (a view of everyone would cost
    # more memory than the whole day's work).
    involved = [c.customer for c in changes]
    involved += [int(c) for customers, _ in additions.values() for c in customers.tolist()]
    view, index = _view_of(population, involved)
    renderers = {
        s: Renderer(s, view, options, random.Random(int(seeds[k]))) for k, s in enumerate(SOURCES)
    }
    changed_ids: dict[str, list[str]] = {s: [] for s in SOURCES}
    kind_counts = dict.fromkeys(CHANGE_KINDS, 0)
    for change in changes:
        table = tables[change.source]
        values = change.values or renderers[change.source].facet(
            _FACET[change.kind], index[change.customer]
        )
        table.update(change.row, {**values, **_stamp(change.source, change.stamp)})
        changed_ids[change.source].append(str(table.row(change.row)[ID_COLUMN[change.source]]))
        kind_counts[change.kind] += 1

    added_ids: dict[str, list[str]] = {}
    new_truth = []
    for source in SOURCES:
        customers, stamps = additions[source]
        table = tables[source]
        start = last_number(source, table.ids()) + int(rng.integers(1, ID_MAX_GAP[source] + 1))
        records = assign_ids(source, customers, stamps, stamps, rng, start=start)
        new_truth.append(_truth_rows(source, records.number, records.customer, population))
        records.customer = np.array([index[c] for c in records.customer.tolist()], dtype=np.int64)
        table.append(to_frame(source, render_rows(renderers[source], records, 0, len(records))))
        added_ids[source] = records.ids

    for source in SOURCES:
        tables[source].write(target / FILE_NAMES[source])
    truth = (
        pl.concat([truth, *new_truth])
        .with_columns(
            pl.col("source_system")
            .replace_strict(_SOURCE_ORDER, return_dtype=pl.Int8)
            .alias("_order")
        )
        .sort("_order", maintain_order=True)
        .drop("_order")
    )
    write_frame_csv(truth, target / GROUND_TRUTH)
    write_frame_parquet(population, target / TRUE_CUSTOMERS)

    as_of = _naive(new_as_of)
    changed = {s: len(changed_ids[s]) for s in SOURCES}
    added = {s: len(added_ids[s]) for s in SOURCES}
    manifest.days.append(
        MutationDay(
            seed=seed,
            fraction=fraction,
            as_of=as_of,
            changed=sum(changed.values()),
            added=sum(added.values()),
        )
    )
    manifest.as_of = as_of
    manifest.records = {s: tables[s].height for s in SOURCES}
    manifest.customers = truth["customer_id"].n_unique()
    write_manifest(target, manifest)
    log.info(
        "next day %s: %d records changed, %d added",
        as_of,
        sum(changed.values()),
        sum(added.values()),
    )
    return MutationInfo(
        sample_dir=target,
        seed=seed,
        fraction=fraction,
        as_of=as_of,
        changed=changed,
        added=added,
        changes=kind_counts,
        new_customers=new_customers,
        changed_ids=changed_ids,
        added_ids=added_ids,
    )


def _naive(seconds: int) -> datetime:
    """Naive UTC, the convention of the population's timestamps."""
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def _copy_sample(source_dir: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    names = [*FILE_NAMES.values(), GROUND_TRUTH, TRUE_CUSTOMERS, MANIFEST, "config.yaml"]
    for name in names:
        if (source_dir / name).is_file():
            shutil.copy2(source_dir / name, target / name)


def _check_consistent(target: Path, tables: dict[str, SourceTable], truth: pl.DataFrame) -> None:
    """The ground truth must still describe the files, or the next day would corrupt both."""
    for source in SOURCES:
        ids = tables[source].ids()
        known = truth.filter(pl.col("source_system") == source)["source_record_id"]
        if not ids.equals(known, check_names=False):
            raise GoldenError(
                f"{target / FILE_NAMES[source]} no longer matches {target / GROUND_TRUTH} "
                f"({ids.len()} records in the file, {known.len()} in the ground truth): "
                "was one of them edited by hand? Regenerate the sample."
            )


def _pick_changes(
    tables: dict[str, SourceTable],
    truth: pl.DataFrame,
    population: pl.DataFrame,
    fraction: float,
    new_as_of: int,
    rng: np.random.Generator,
) -> list[_Change]:
    """Records to change, uniformly over all sources, each with a kind and an update time."""
    sizes = [tables[s].height for s in SOURCES]
    offsets = np.cumsum([0, *sizes])
    count = round(fraction * int(offsets[-1]))
    picked = np.sort(rng.choice(int(offsets[-1]), size=count, replace=False))
    kinds = rng.choice(len(CHANGE_KINDS), size=count, p=CHANGE_SHARES)
    stamps = new_as_of - (rng.random(count) * 0.9 * DAY).astype(np.int64)
    source_of = np.searchsorted(offsets, picked, side="right") - 1
    rows = picked - offsets[source_of]
    # The truth lists each source's records in file order, so a row is a truth position.
    positions = offsets[source_of] + rows
    people = population.select("customer_id").with_row_index("customer_row")
    customers = (
        truth[positions.tolist()]
        .select("customer_id")
        .join(people, on="customer_id", how="left", maintain_order="left")["customer_row"]
        .to_list()
    )
    return [
        _Change(SOURCES[s], r, c, CHANGE_KINDS[k], t)
        for s, r, c, k, t in zip(
            source_of.tolist(),
            rows.tolist(),
            customers,
            kinds.tolist(),
            stamps.tolist(),
            strict=True,
        )
    ]


def _view_of(population: pl.DataFrame, customers: list[int]) -> tuple[PopulationView, dict]:
    """A view of just these customers (and their group heads, whose family email a member
    may give), with the map from population row to view row."""
    wanted = set(customers)
    heads = population["group_head"].gather(sorted(wanted)).drop_nulls().unique()
    if heads.len():
        head_rows = population.with_row_index("row").filter(
            pl.col("customer_id").is_in(heads.implode())
        )
        wanted |= set(head_rows["row"].to_list())
    rows = sorted(wanted)
    return PopulationView(population[rows]), {row: k for k, row in enumerate(rows)}


def _render_corrections(
    changes: list[_Change],
    tables: dict[str, SourceTable],
    view: PopulationView,
    index: dict[int, int],
    options: SampleOptions,
    rng: random.Random,
) -> None:
    renderers = {s: Renderer(s, view, options, rng) for s in SOURCES}
    for change in changes:
        if change.kind != "correction":
            continue
        clean = renderers[change.source].facet("name", index[change.customer], clean=True)
        current = tables[change.source].row(change.row)
        if all(current[c] == v for c, v in clean.items()):
            change.kind = "email"
        else:
            change.values = clean


def _apply_life_events(
    population: pl.DataFrame, changes: list[_Change], rng: np.random.Generator
) -> pl.DataFrame:
    """Update the true customers: each event happens once per customer, at its first stamp."""
    first_stamp: dict[tuple[int, str], int] = {}
    for change in changes:
        key = (change.customer, change.kind)
        first_stamp[key] = min(change.stamp, first_stamp.get(key, change.stamp))
    updates: dict[str, tuple[list[int], list[Any]]] = {}

    def put(column: str, rows: list[int], values: list[Any]) -> None:
        updates[column] = (rows, values)

    movers = sorted(c for c, k in first_stamp if k == "move")
    if movers:
        rows = np.array(movers)
        country = population["country"].gather(rows).to_numpy().astype(str)
        city = population["city_idx"].gather(rows).to_numpy()
        same = rng.random(rows.size) < 0.4
        new_city = np.where(same, city, draw_cities(country, rng))
        fresh = draw_addresses(country, new_city, rng)
        fresh["city_idx"] = new_city
        for key in _ADDRESS_KEYS:
            put(f"prev_{key}", movers, population[key].gather(rows).to_list())
            put(key, movers, fresh[key].tolist())
        put("moved_at", movers, [_naive(first_stamp[(c, "move")]) for c in movers])

    emailers = sorted(c for c, k in first_stamp if k == "email")
    if emailers:
        rows = np.array(emailers)
        used = set(population["email"].drop_nulls().to_list())
        used |= set(population["old_email"].drop_nulls().to_list())
        picked = population[rows]
        dob = picked.select(pl.col("date_of_birth").cast(pl.Int32)).to_series().to_numpy()
        fresh, _ = draw_emails(
            picked["first_name_latin"].to_numpy(),
            picked["middle_name_latin"].to_numpy(),
            picked["last_name_latin"].to_numpy(),
            dob.astype(np.int64),
            picked["country"].to_numpy().astype(str),
            np.zeros(rows.size, dtype=bool),
            random.Random(int(rng.integers(2**62))),
            used,
        )
        put("old_email", emailers, picked["email"].to_list())
        put("email", emailers, fresh.tolist())
        put("email_changed_at", emailers, [_naive(first_stamp[(c, "email")]) for c in emailers])

    phoners = sorted(c for c, k in first_stamp if k == "phone")
    if phoners:
        rows = np.array(phoners)
        numbers, area = draw_phones(
            population["country"].gather(rows).to_numpy().astype(str),
            population["city_idx"].gather(rows).to_numpy(),
            rng,
            mobile=True,
        )
        put("mobile", phoners, numbers.tolist())
        put("mobile_area_len", phoners, area.tolist())

    columns = []
    for column, (rows, values) in updates.items():
        series = population[column].clone()
        series.scatter(rows, pl.Series(values, dtype=series.dtype, strict=False))
        columns.append(series)
    return population.with_columns(columns) if columns else population


def _plan_additions(
    population: pl.DataFrame,
    wanted: int,
    options: SampleOptions,
    rng: np.random.Generator,
    new_as_of: int,
) -> tuple[pl.DataFrame, dict[str, tuple[np.ndarray, np.ndarray]], int]:
    """Half the new records are new customers, half known customers in another system."""
    fresh = wanted - wanted // 2
    known = wanted - fresh
    weights = np.array([options.source_weights[s] for s in SOURCES])
    source_of = rng.choice(len(SOURCES), size=wanted, p=weights / weights.sum())
    stamps = new_as_of - (rng.random(wanted) * 0.9 * DAY).astype(np.int64)
    customers = np.empty(wanted, dtype=np.int64)
    if known:
        customers[:known] = rng.choice(
            population.height, size=known, replace=known > population.height
        )
    if fresh:
        last = population["customer_id"].str.slice(1).cast(pl.Int64).max()
        used = set(population["email"].drop_nulls().to_list())
        used |= set(population["old_email"].drop_nulls().to_list())
        day_options = options.model_copy(update={"as_of": _naive(new_as_of)})
        newcomers = build_population(
            fresh, day_options, rng, first_number=last + 1, with_groups=False, used_emails=used
        ).with_columns(
            pl.Series("customer_since", [_naive(int(t)) for t in stamps[known:]]),
            pl.lit(None).alias("moved_at"),
            pl.lit(None).alias("email_changed_at"),
            pl.lit(None).alias("old_email"),
        )
        customers[known:] = population.height + np.arange(fresh)
        population = pl.concat(
            [population, newcomers.select(population.columns).cast(population.schema)]
        )
    additions = {
        source: (customers[source_of == s], stamps[source_of == s])
        for s, source in enumerate(SOURCES)
    }
    return population, additions, fresh


def _stamp(source: str, stamp: int) -> dict[str, Any]:
    """The record's new update time (the watermark an incremental load keys on)."""
    column = UPDATED_COLUMN[source]
    if source == "crm":
        return {column: crm_timestamps(np.array([stamp]))[0]}
    if source == "shop":
        return {column: shop_timestamps(np.array([stamp]))[0]}
    return {column: datetime.fromtimestamp(stamp, UTC)}


def _truth_rows(
    source: str, numbers: np.ndarray, customers: np.ndarray, population: pl.DataFrame
) -> pl.DataFrame:
    people = population.select(
        pl.col("customer_id"),
        pl.col("group_id").alias("lookalike_group"),
        pl.col("group_kind").alias("lookalike_kind"),
    )[customers]
    ids = pl.DataFrame({"source_record_id": format_ids(source, numbers)})
    return (
        pl.concat([ids, people], how="horizontal")
        .with_columns(source_system=pl.lit(source, dtype=pl.String))
        .select(GROUND_TRUTH_COLUMNS)
    )
