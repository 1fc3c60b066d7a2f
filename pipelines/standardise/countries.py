"""Country names, codes and aliases to ISO 3166-1 alpha-2.

The lookup table (``data/countries.csv``) is generated from Unicode CLDR by
:mod:`pipelines.standardise.build_country_data`: ISO alpha-2 and alpha-3 codes, the English
name and the names in 30-odd languages (``Deutschland``, ``Allemagne``, ``Германия``), plus the
aliases people actually type (``UK``, ``U.S.A.``, ``Holland``). Keys are compared folded and
letters-only, so ``u.s.a.``, ``USA`` and ``Usa`` are one key.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import polars as pl

from pipelines.standardise.text import clean_text, letters_key, on_distinct

DATA_FILE = Path(__file__).parent / "data" / "countries.csv"


def alias_key(text: str) -> str | None:
    """The lookup key of one country text (what the table is keyed on)."""
    return pl.select(letters_key(clean_text(pl.lit(text, dtype=pl.String)))).item()


@lru_cache(maxsize=1)
def country_table() -> pl.DataFrame:
    """``key`` (folded alias) -> ``alpha2``, one row per key."""
    table = pl.read_csv(DATA_FILE, schema={"alias": pl.String, "alpha2": pl.String})
    return (
        table.with_columns(letters_key(clean_text(pl.col("alias"))).alias("key"))
        .drop_nulls("key")
        .unique("key", keep="first", maintain_order=True)
        .select("key", "alpha2")
    )


def country_code(text: str) -> str | None:
    """The alpha-2 code of one country text, or None when the table does not know it."""
    key = alias_key(text)
    hit = country_table().filter(pl.col("key") == key)
    return hit["alpha2"].item(0) if hit.height else None


def known_codes() -> frozenset[str]:
    """Every ISO alpha-2 code the table knows."""
    return frozenset(country_table()["alpha2"].unique().to_list())


def to_alpha2(df: pl.DataFrame, column: str, out: str) -> pl.DataFrame:
    """Add ``out``: the alpha-2 code of the country text in ``column`` (null when empty or
    unknown). Runs once per distinct text."""

    def lookup(distinct: pl.DataFrame) -> pl.DataFrame:
        keyed = distinct.with_columns(letters_key(clean_text(pl.col(column))).alias("_key"))
        joined = keyed.join(
            country_table().rename({"key": "_key", "alpha2": out}),
            on="_key",
            how="left",
            maintain_order="left",
        )
        return joined.drop("_key")

    return on_distinct(df, [column], lookup)


def standardise_countries(df: pl.DataFrame) -> pl.DataFrame:
    """Frame in, frame out: ``raw_country`` -> ``country`` (ISO alpha-2) and
    ``invalid_country`` (raw value present but not a country this table knows)."""
    df = to_alpha2(df, "raw_country", "country")
    present = clean_text(pl.col("raw_country")).is_not_null()
    return df.with_columns((present & pl.col("country").is_null()).alias("invalid_country"))
