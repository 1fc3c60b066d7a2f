"""Which true customer has records in which source, how many, and when they were touched.

A record table is plain numpy columns per source, sorted by creation time, with the source's own
ids handed out in that order (so ids grow with time, as in a real system, with gaps where records
were deleted). Rendering reads it row by row; nothing here builds strings except the ids.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import polars as pl

from pipelines.sample.config import SOURCES, SampleOptions
from pipelines.sample.population import DAY, epoch_seconds

# Where each source's ids start and the largest gap between consecutive ids.
ID_START = {"crm": 100, "shop": 10_000, "billing": 4_000_000}
ID_MAX_GAP = {"crm": 3, "shop": 5, "billing": 9}


@dataclass
class SourceRecords:
    """One source's records: the customer (row of the population), ids and timestamps."""

    source: str
    customer: np.ndarray  # int64 row index into the population frame
    number: np.ndarray  # int64 numeric part of the record id
    created: np.ndarray  # int64 epoch seconds (UTC)
    modified: np.ndarray  # int64 epoch seconds (UTC)

    def __len__(self) -> int:
        return int(self.customer.size)

    @property
    def ids(self) -> list[str]:
        return format_ids(self.source, self.number).to_list()


def format_id(source: str, number: int) -> str:
    """The id as the source writes it: ``C000123``, ``WS-48213``, ``4000123``."""
    if source == "crm":
        return f"C{number:06d}"
    if source == "shop":
        return f"WS-{number:05d}"
    return str(number)


def format_ids(source: str, numbers: np.ndarray) -> pl.Series:
    """:func:`format_id` for a whole column, without a Python string per row."""
    text = pl.Series("id", numbers, dtype=pl.Int64).cast(pl.String)
    if source == "crm":
        return ("C" + text.str.zfill(6)).alias("id")
    if source == "shop":
        return ("WS-" + text.str.zfill(5)).alias("id")
    return text


def last_number(source: str, ids: pl.Series) -> int:
    """The highest numeric part of a source's ids (numbering continues after it)."""
    if ids.len() == 0:
        return ID_START[source] - 1
    digits = {"crm": 1, "shop": 3}.get(source, 0)
    return int(ids.str.slice(digits).cast(pl.Int64).max())


def expected_records_per_customer(options: SampleOptions) -> float:
    """Mean source records per true customer under ``options`` (exact, not simulated).

    Membership is weighted sampling without replacement (Plackett-Luce), so each source's
    inclusion probability is summed over the orders in which sources can be drawn.
    """
    counts = np.array(options.source_counts, dtype=np.float64)
    counts /= counts.sum()
    weights = options.source_weights
    inclusion = dict.fromkeys(SOURCES, 0.0)
    for order in itertools.permutations(SOURCES):
        p, remaining = 1.0, sum(weights.values())
        for source in order:
            p *= weights[source] / remaining
            remaining -= weights[source]
        for k in range(1, len(SOURCES) + 1):
            for source in order[:k]:
                inclusion[source] += p * counts[k - 1]
    # A duplicate is entered once more, a tenth of those a third time.
    return sum(inclusion[s] * (1 + 1.1 * options.duplicate_rates[s]) for s in SOURCES)


def customers_for_records(records: int, options: SampleOptions | None = None) -> int:
    """True customers to generate for about ``records`` source records in all."""
    return max(1, round(records / expected_records_per_customer(options or SampleOptions())))


def plan_records(
    population: pl.DataFrame, options: SampleOptions, rng: np.random.Generator
) -> dict[str, SourceRecords]:
    """Decide membership, in-source duplicates and timestamps for every customer."""
    n = population.height
    as_of = epoch_seconds(options.as_of)
    head_row = head_rows(population)

    counts = np.array(options.source_counts, dtype=np.float64)
    k = rng.choice([1, 2, 3], size=n, p=counts / counts.sum())
    weights = np.array([options.source_weights[s] for s in SOURCES], dtype=np.float64)
    # Weighted sampling without replacement: the k largest of u ** (1 / w).
    keys = rng.random((n, len(SOURCES))) ** (1.0 / weights)
    rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
    member = rank < k[:, None]
    # Families often deal with the same companies: half the members copy the head's systems.
    follows = (head_row != np.arange(n)) & (rng.random(n) < 0.5)
    member = np.where(follows[:, None], member[head_row], member)

    since = epoch_column(population, "customer_since")
    planned: dict[str, SourceRecords] = {}
    for s, source in enumerate(SOURCES):
        holders = np.flatnonzero(member[:, s])
        dup = rng.random(holders.size) < options.duplicate_rates[source]
        third = dup & (rng.random(holders.size) < 0.1)
        customer = np.repeat(holders, 1 + dup.astype(np.int64) + third.astype(np.int64))
        created, modified = _timestamps(since[customer], as_of, rng)
        planned[source] = assign_ids(source, customer, created, modified, rng)
    return planned


def assign_ids(
    source: str,
    customer: np.ndarray,
    created: np.ndarray,
    modified: np.ndarray,
    rng: np.random.Generator,
    start: int | None = None,
) -> SourceRecords:
    """Sort by creation time and number the records in that order, with gaps."""
    order = np.lexsort((customer, created))
    gaps = rng.integers(1, ID_MAX_GAP[source] + 1, size=customer.size)
    first = ID_START[source] if start is None else start
    number = first + np.cumsum(gaps) - gaps[0] if customer.size else gaps
    return SourceRecords(source, customer[order], number, created[order], modified[order])


def _timestamps(
    since: np.ndarray, as_of: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Created some time in the relationship; a third never modified since, the rest later."""
    span = np.maximum(as_of - since, DAY)
    created = since + (rng.random(since.size) * span).astype(np.int64)
    untouched = rng.random(since.size) < 0.3
    later = created + (rng.random(since.size) * (as_of - created)).astype(np.int64)
    return created, np.where(untouched, created, later)


def epoch_column(population: pl.DataFrame, name: str) -> np.ndarray:
    """A datetime column as epoch seconds (-1 for null)."""
    values = population.select(pl.col(name).dt.epoch("s").fill_null(-1)).to_series()
    return values.to_numpy().astype(np.int64)


def head_rows(population: pl.DataFrame) -> np.ndarray:
    """Row index of each customer's group head (itself when not in a group)."""
    row_of = pl.DataFrame(
        {"group_head": population["customer_id"], "head_row": np.arange(population.height)}
    )
    joined = population.select("group_head").join(
        row_of, on="group_head", how="left", maintain_order="left"
    )
    rows = joined["head_row"].fill_null(-1).to_numpy()
    return np.where(rows < 0, np.arange(population.height), rows).astype(np.int64)
