"""Each generated customer's true *current* values, in the form the pipeline publishes.

``true_customers.parquet`` holds the population the sources were rendered from (current and
previous address, current and old email, mobile and landline). To score golden records against
it, each customer's current values are rendered once more *without noise* (the canonical
spelling of street types, units and cities, the full given name, no typos) and then sent through
:func:`pipelines.standardise.frame.standardise_frame`, so truth and golden values are compared
in exactly the same standardised form. Used by ``bench/bench_golden_accuracy.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import polars as pl

from pipelines.sample import vocab
from pipelines.sample.writers import TRUE_CUSTOMERS
from pipelines.standardise.frame import standardise_frame

TRUTH_COLUMNS: Final = (
    "customer_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "phone_alt",
    "address_line1",
    "city",
    "postcode",
    "country",
    "date_of_birth",
    "mk_address",
)
"""``phone`` is the mobile, ``phone_alt`` the landline (either is the customer's)."""


def _line1(country: str, house: str, street: str, kind: int, direction: int) -> str:
    if country == "US":
        words = [house]
        if direction >= 0:
            words.append(vocab.DIRECTIONS[direction][0])
        return " ".join([*words, street, vocab.US_STREET_TYPES[kind][0]])
    if country == "GB":
        return f"{house} {street} {vocab.GB_STREET_TYPES[kind][0]}"
    if country == "DE":
        return f"{street}{vocab.DE_STREET_TYPES[kind][0]} {house}"
    return f"{house} {vocab.FR_STREET_TYPES[kind][0]} {street}"


def true_values(population: pl.DataFrame) -> pl.DataFrame:
    """:data:`TRUTH_COLUMNS` of every customer of ``population`` (``true_customers.parquet``)."""
    rows = population.select(
        "customer_id",
        "first_name",
        "last_name",
        "email",
        "mobile",
        "landline",
        "country",
        "city_idx",
        "house",
        "street",
        "street_type",
        "direction",
        "postcode",
        "date_of_birth",
    ).to_dicts()
    raw = {
        "record_key": [],
        "raw_first_name": [],
        "raw_last_name": [],
        "raw_email": [],
        "raw_phone": [],
        "raw_address_line1": [],
        "raw_city": [],
        "raw_postcode": [],
        "raw_country": [],
        "raw_date_of_birth": [],
    }
    landlines = []
    for row in rows:
        country = row["country"]
        raw["record_key"].append(row["customer_id"])
        raw["raw_first_name"].append(row["first_name"])
        raw["raw_last_name"].append(row["last_name"])
        raw["raw_email"].append(row["email"])
        raw["raw_phone"].append(row["mobile"])
        landlines.append(row["landline"])
        raw["raw_address_line1"].append(
            _line1(country, row["house"], row["street"], row["street_type"], row["direction"])
        )
        raw["raw_city"].append(vocab.CITIES[row["city_idx"]].name)
        raw["raw_postcode"].append(row["postcode"])
        raw["raw_country"].append(country)
        dob = row["date_of_birth"]
        raw["raw_date_of_birth"].append(None if dob is None else dob.isoformat())
    frame = pl.DataFrame(raw, schema=dict.fromkeys(raw, pl.String))
    staged = standardise_frame(frame)
    alt = standardise_frame(
        frame.with_columns(pl.Series("raw_phone", landlines, dtype=pl.String))
    ).select(pl.col("phone").alias("phone_alt"))
    return pl.concat([staged, alt], how="horizontal").select(
        pl.col("record_key").alias("customer_id"), *TRUTH_COLUMNS[1:]
    )


def read_true_values(sample_dir: Path) -> pl.DataFrame:
    """:func:`true_values` of the sample written to ``sample_dir``."""
    return true_values(pl.read_parquet(sample_dir / TRUE_CUSTOMERS))
