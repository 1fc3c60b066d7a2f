"""Standardisation throughput on realistic messy customer records.

    .venv/bin/python -m bench.bench_standardise [--rows N] [--seed S]

Builds N accepted records from three sources of one synthetic population (about 1.8 records per
person, so values repeat the way duplicate customer records do), each source with its own habits:
a CRM with full names and single-line US addresses, a web shop with separate fields, emails in
mixed case with plus tags and international customers, a legacy system in capitals with
day-first dates. ~2% of names are non-Latin, ~3% of values are placeholders or junk. Then it
times :func:`pipelines.standardise.standardise` end to end (reading the accepted Parquet files,
standardising, writing ``staged/customers.parquet`` and the report) and prints seconds and
rows/s. The target is 1,000,000 rows in under 20 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.config import PipelineConfig
from pipelines.schema import LINEAGE_COLUMNS, MAPPABLE_FIELDS
from pipelines.standardise import standardise
from pipelines.warehouse import Warehouse

RUN_ID = "20260301T120000Z-bench0"

FIRST = [
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "William",
    "Elizabeth",
    "David",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Christopher",
    "Nancy",
    "Daniel",
    "Lisa",
    "Matthew",
    "Betty",
    "Anthony",
    "Margaret",
    "Mark",
    "Sandra",
    "Donald",
    "Ashley",
    "Steven",
    "Kimberly",
    "Paul",
    "Emily",
    "Andrew",
    "Donna",
    "Joshua",
    "Michelle",
    "Kenneth",
    "Carol",
    "Kevin",
    "Amanda",
    "Brian",
    "Dorothy",
    "George",
    "Melissa",
    "Timothy",
    "Deborah",
    "Ronald",
    "Stephanie",
    "Edward",
    "Rebecca",
    "Jason",
    "Sharon",
    "Jeffrey",
    "Laura",
    "Ryan",
    "Cynthia",
    "Jacob",
    "Kathleen",
    "Gary",
    "Amy",
    "Nicholas",
    "Angela",
    "Eric",
    "Shirley",
    "Jonathan",
    "Anna",
    "Stephen",
    "Brenda",
    "Larry",
    "Pamela",
    "Justin",
    "Emma",
    "Scott",
    "Nicole",
    "Brandon",
    "Helen",
    "Benjamin",
    "Samantha",
    "Samuel",
    "Katherine",
    "Gregory",
    "Christine",
    "Alexander",
    "Debra",
    "Frank",
    "Rachel",
    "Patrick",
    "Carolyn",
    "Raymond",
    "Janet",
    "Jack",
    "Catherine",
    "Dennis",
    "Maria",
    "Jerry",
    "Heather",
    "José",
    "María",
    "François",
    "Zoë",
    "Seán",
    "Jürgen",
    "Björn",
    "Ana",
    "Luis",
    "Sofía",
    "Chloé",
    "Hélène",
]
NICK = {
    "Robert": "Bob", "William": "Bill", "Elizabeth": "Liz", "Michael": "Mike", "James": "Jim",
    "Richard": "Dick", "Margaret": "Peggy", "Katherine": "Kate", "Thomas": "Tom",
    "Christopher": "Chris", "Jennifer": "Jenny", "Joseph": "Joe", "Anthony": "Tony",
    "Daniel": "Dan", "Rebecca": "Becky", "Susan": "Sue", "Edward": "Ed", "Samuel": "Sam",
}  # fmt: skip
NON_LATIN = ["王小明", "李娜", "Иван Петров", "Ольга Смирнова", "Γιώργος Παπαδόπουλος",
             "محمد علي", "山田 太郎", "김민준"]  # fmt: skip
SYLLABLES = [
    "son",
    "man",
    "ton",
    "ley",
    "ford",
    "well",
    "wood",
    "field",
    "berg",
    "stein",
    "ski",
    "ez",
    "ova",
    "ini",
    "ello",
    "ard",
    "er",
    "ins",
    "es",
    "ett",
    "ham",
    "by",
    "worth",
    "more",
    "land",
    "ridge",
    "brook",
]
STEMS = [
    "John",
    "Wil",
    "Rob",
    "Har",
    "Dav",
    "Ander",
    "Thom",
    "Jack",
    "Mart",
    "Thomp",
    "Gar",
    "Clark",
    "Lew",
    "Walk",
    "Hall",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Bak",
    "Adam",
    "Nel",
    "Hill",
    "Camp",
    "Mitch",
    "Rob",
    "Cart",
    "Phill",
    "Evan",
    "Turn",
    "Torr",
    "Park",
    "Coll",
    "Edward",
    "Stew",
    "Morr",
    "Murph",
    "Cook",
    "Rog",
    "Peter",
    "Reed",
    "Mor",
    "Bell",
    "Kell",
    "Howard",
    "Ward",
    "Cox",
    "Rich",
    "Wood",
    "Wat",
    "Brook",
    "Bennett",
    "Gray",
    "James",
    "Reyes",
    "Cruz",
    "Hughes",
    "Price",
    "Myers",
    "Long",
    "Foster",
    "Sand",
    "Ross",
    "Morales",
    "Powell",
    "Sullivan",
    "Russell",
    "Ortiz",
    "Jenk",
    "Gutier",
    "Perry",
    "Butler",
    "Barn",
    "Fish",
    "Hend",
    "Cole",
    "Sim",
    "Patter",
    "Jord",
    "Reyn",
    "Hamil",
    "Graham",
    "Kim",
    "Gonz",
    "Alex",
    "Ramos",
    "Wall",
    "Griff",
    "West",
    "Cole",
    "Hayes",
    "Chav",
    "Gibs",
    "Bry",
    "Ell",
    "Stev",
    "Murr",
    "Ford",
    "Marsh",
    "Owens",
    "McDon",
    "Harr",
    "Kenn",
    "Wells",
    "Alv",
    "Wood",
    "Mend",
    "Castill",
    "Olson",
    "Webb",
    "Wash",
    "Tuck",
    "Freem",
    "Burns",
    "Henry",
    "Vasq",
    "Snyd",
    "Simps",
    "Crawf",
    "Jimen",
    "Port",
    "Mason",
    "Shaw",
    "Gord",
    "Wagn",
    "Hunt",
    "Rome",
    "Hicks",
    "Dix",
    "Hunt",
    "Palm",
    "Robb",
    "Black",
    "Holm",
    "Stone",
    "Meyer",
    "Boyd",
    "Mills",
    "Warr",
    "Fox",
    "Rose",
    "Rice",
    "Moreno",
    "Schmidt",
    "Patel",
    "Fergus",
    "Nichols",
    "Herr",
    "Medina",
    "Ryan",
    "Fern",
    "Weav",
    "Daniels",
    "Steph",
    "Gardn",
    "Payne",
    "Kelley",
    "Dunn",
    "Pierce",
    "Arnold",
    "Tran",
    "Spenc",
    "Peters",
    "Hawk",
    "Grant",
    "Hans",
    "Castro",
    "Hoff",
    "Hart",
    "Elliott",
    "Cunning",
    "Knight",
    "Bradley",
]
STREETS = [
    "Main",
    "Oak",
    "Pine",
    "Maple",
    "Cedar",
    "Elm",
    "Washington",
    "Lake",
    "Hill",
    "Park",
    "Church",
    "High",
    "Mill",
    "Station",
    "River",
    "Spring",
    "North",
    "South",
    "Ridge",
    "Sunset",
    "Lincoln",
    "Jackson",
    "Franklin",
    "Highland",
    "Meadow",
    "Forest",
    "Chestnut",
]
STREET_TYPES = ["Street", "St", "St.", "Avenue", "Ave", "Road", "Rd", "Drive", "Dr", "Lane",
                "Ln", "Boulevard", "Blvd", "Court", "Ct", "Way", "Place"]  # fmt: skip
CITIES = [("Springfield", "IL"), ("Boston", "MA"), ("Austin", "TX"), ("Denver", "CO"),
          ("Seattle", "WA"), ("Portland", "OR"), ("Miami", "FL"), ("Atlanta", "GA"),
          ("Chicago", "IL"), ("New York", "NY"), ("Phoenix", "AZ"), ("Columbus", "OH"),
          ("Madison", "WI"), ("Salem", "MA"), ("Richmond", "VA"), ("Raleigh", "NC")]  # fmt: skip
AREA = [212, 213, 305, 312, 404, 415, 503, 512, 602, 614, 617, 702, 713, 720, 804, 919, 206]
DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "aol.com", "icloud.com",
           "googlemail.com", "comcast.net", "example.org"]  # fmt: skip
JUNK = ["N/A", "", "unknown", "-", "test", "123", "none@none.com"]


def _pick(rng: np.random.Generator, values: list, n: int) -> np.ndarray:
    return np.asarray(values, dtype=object)[rng.integers(0, len(values), n)]


def population(size: int, rng: np.random.Generator) -> pl.DataFrame:
    """One row per synthetic person, with clean values."""
    first = _pick(rng, FIRST, size)
    last = np.char.add(_pick(rng, STEMS, size).astype(str), _pick(rng, SYLLABLES, size).astype(str))
    city_idx = rng.integers(0, len(CITIES), size)
    return pl.DataFrame(
        {
            "first": first.astype(str),
            "middle": _pick(rng, [*"ABCDEFGHJKLMNPRSTW", "", "", "", ""], size).astype(str),
            "last": last,
            "house": rng.integers(1, 9999, size),
            "street": _pick(rng, STREETS, size).astype(str),
            "street_type": _pick(rng, STREET_TYPES, size).astype(str),
            "apt": rng.integers(0, 40, size),
            "city": np.asarray([CITIES[i][0] for i in city_idx]),
            "state": np.asarray([CITIES[i][1] for i in city_idx]),
            "zip": rng.integers(1000, 99999, size),
            "area": _pick(rng, AREA, size).astype(np.int64),
            "exchange": rng.integers(200, 999, size),
            "line": rng.integers(0, 9999, size),
            "domain": _pick(rng, DOMAINS, size).astype(str),
            "email_n": rng.integers(0, 100, size),
            "dob_days": rng.integers(-10_000, 12_500, size),  # 1942 .. 2004
            "non_latin": rng.random(size) < 0.02,
        }
    ).with_columns(
        pl.Series("non_latin_name", _pick(rng, NON_LATIN, size).astype(str)),
        pl.Series("nick", [NICK.get(f, f) for f in first.tolist()], dtype=pl.String),
        (pl.lit(date_zero()) + pl.duration(days=pl.col("dob_days"))).alias("dob"),
    )


def date_zero() -> datetime:
    return datetime(1970, 1, 1)


def _junk(col: pl.Expr, rng: np.random.Generator, n: int, rate: float) -> pl.Expr:
    mask = pl.Series(rng.random(n) < rate)
    junk = pl.Series(_pick(rng, JUNK, n).astype(str))
    return pl.when(pl.lit(mask)).then(pl.lit(junk)).otherwise(col)


def source_records(
    people: pl.DataFrame, name: str, n: int, rng: np.random.Generator
) -> pl.DataFrame:
    """``n`` accepted records of one source, rendered in that source's habits."""
    idx = rng.zipf(1.6, n) % people.height  # some customers appear many times
    idx = np.where(rng.random(n) < 0.6, rng.integers(0, people.height, n), idx)
    p = people[idx]
    r = rng.random(n)
    email_local = pl.concat_str(
        pl.col("first").str.to_lowercase(),
        pl.lit("."),
        pl.col("last").str.to_lowercase(),
        pl.col("email_n").cast(pl.String),
    ).str.replace_all(r"[^a-z0-9.]", "")
    email = pl.concat_str(email_local, pl.lit("@"), pl.col("domain"))
    phone_digits = pl.format(
        "{}{}{}", "area", "exchange", pl.col("line").cast(pl.String).str.zfill(4)
    )
    street = pl.format("{} {} {}", "house", "street", "street_type")
    zip5 = pl.col("zip").cast(pl.String).str.zfill(5)
    if name == "crm":
        full = (
            pl.when(pl.col("non_latin"))
            .then(pl.col("non_latin_name"))
            .otherwise(
                pl.when(pl.lit(pl.Series(r < 0.3)))
                .then(pl.format("{}, {} {}", "last", "first", "middle"))
                .when(pl.lit(pl.Series(r < 0.4)))
                .then(pl.format("Dr. {} {}", "first", "last"))
                .otherwise(pl.format("{} {}", "nick", "last"))
            )
        )
        address = pl.format("{}, {}, {} {}", street, "city", "state", zip5)
        address = (
            pl.when(pl.col("apt") < 8)
            .then(pl.format("{} Apt {}, {}, {} {}", street, "apt", "city", "state", zip5))
            .otherwise(address)
        )
        out = p.select(
            _junk(full, rng, n, 0.01).alias("raw_full_name"),
            _junk(email, rng, n, 0.03).alias("raw_email"),
            _junk(
                pl.format(
                    "({}) {}-{}", "area", "exchange", pl.col("line").cast(pl.String).str.zfill(4)
                ),
                rng,
                n,
                0.03,
            ).alias("raw_phone"),
            address.alias("raw_address"),
            pl.col("dob").dt.strftime("%Y-%m-%d").alias("raw_date_of_birth"),
        )
    elif name == "shop":
        out = p.select(
            pl.when(pl.col("non_latin"))
            .then(pl.col("non_latin_name").str.split(" ").list.last())
            .otherwise(pl.col("first").str.to_lowercase())
            .alias("raw_first_name"),
            pl.when(pl.col("non_latin"))
            .then(pl.col("non_latin_name").str.split(" ").list.first())
            .otherwise(pl.col("last"))
            .alias("raw_last_name"),
            _junk(
                pl.when(pl.lit(pl.Series(r < 0.5)))
                .then(pl.format("{}+shop@{}", email_local.str.to_uppercase(), "domain"))
                .otherwise(email),
                rng,
                n,
                0.03,
            ).alias("raw_email"),
            _junk(pl.format("+1 {}", phone_digits), rng, n, 0.03).alias("raw_phone"),
            street.alias("raw_address_line1"),
            pl.when(pl.col("apt") < 8).then(pl.format("#{}", "apt")).alias("raw_address_line2"),
            pl.col("city").alias("raw_city"),
            pl.col("state").alias("raw_region"),
            pl.col("zip").cast(pl.String).alias("raw_postcode"),  # leading zeros lost
            pl.lit("USA").alias("raw_country"),
            pl.col("dob").dt.strftime("%m/%d/%Y").alias("raw_date_of_birth"),
        )
    else:  # legacy: capitals, day-first dates, separate fields
        out = p.select(
            pl.col("first").str.to_uppercase().alias("raw_first_name"),
            pl.col("middle").alias("raw_middle_name"),
            pl.concat_str(
                pl.col("last").str.to_uppercase(),
                pl.when(pl.lit(pl.Series(r < 0.05))).then(pl.lit(" JR")).otherwise(pl.lit("")),
            ).alias("raw_last_name"),
            _junk(email.str.to_uppercase(), rng, n, 0.05).alias("raw_email"),
            _junk(
                pl.format(
                    "{}.{}.{} x{}",
                    "area",
                    "exchange",
                    pl.col("line").cast(pl.String).str.zfill(4),
                    "apt",
                ),
                rng,
                n,
                0.05,
            ).alias("raw_phone"),
            street.str.to_uppercase().alias("raw_address_line1"),
            pl.col("city").str.to_uppercase().alias("raw_city"),
            pl.col("state").alias("raw_region"),
            zip5.alias("raw_postcode"),
            pl.col("dob").dt.strftime("%d/%m/%Y").alias("raw_date_of_birth"),
        )
    lineage = pl.DataFrame(
        {
            "record_key": [f"{name}:{i}" for i in range(n)],
            "source_system": [name] * n,
            "source_record_id": [str(i) for i in range(n)],
            "batch_id": [RUN_ID] * n,
        }
    ).with_columns(
        pl.lit(datetime(2026, 3, 1, tzinfo=UTC)).dt.cast_time_unit("us").alias("ingested_at"),
        pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("source_updated_at"),
    )
    raw = [
        (out[f"raw_{f}"] if f"raw_{f}" in out.columns else pl.Series(f"raw_{f}", [None] * n))
        .cast(pl.String)
        .alias(f"raw_{f}")
        for f in MAPPABLE_FIELDS
    ]
    rank = {"crm": 1, "shop": 2, "legacy": 3}[name]
    return (
        pl.concat([lineage, pl.DataFrame(raw)], how="horizontal")
        .with_columns(pl.lit(rank, dtype=pl.Int32).alias("trust_rank"))
        .select(*LINEAGE_COLUMNS, *[f"raw_{f}" for f in MAPPABLE_FIELDS], "trust_rank")
    )


def build(rows: int, root: Path, seed: int) -> PipelineConfig:
    rng = np.random.default_rng(seed)
    people = population(max(int(rows / 1.8), 10), rng)
    shares = {"crm": 0.45, "shop": 0.35, "legacy": 0.20}
    counts = {k: int(rows * v) for k, v in shares.items()}
    counts["crm"] += rows - sum(counts.values())
    warehouse = Warehouse(root)
    for name, n in counts.items():
        path = warehouse.accepted(RUN_ID, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        source_records(people, name, n, rng).write_parquet(path)
    base = {"kind": "file", "format": "csv", "id_column": "id", "mapping": {"email": "e"}}
    return PipelineConfig.model_validate(
        {
            "warehouse": {"path": str(root)},
            "sources": [
                {**base, "name": "crm", "path": "crm.csv", "default_country": "US"},
                {
                    **base,
                    "name": "shop",
                    "path": "shop.csv",
                    "date_formats": {"date_of_birth": ["%m/%d/%Y"]},
                },
                {
                    **base,
                    "name": "legacy",
                    "path": "legacy.csv",
                    "default_country": "US",
                    "timezone": "America/New_York",
                },
            ],
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-standardise-") as tmp:
        started = time.perf_counter()
        config = build(args.rows, Path(tmp), args.seed)
        print(f"built {args.rows:,} accepted records in {time.perf_counter() - started:.1f} s")
        staged_distinct = {}
        started, cpu_started = time.perf_counter(), time.process_time()
        result = standardise(config, RUN_ID)
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        staged = pl.read_parquet(result.staged_path)
        for column in ("raw_full_name", "raw_email", "raw_phone", "raw_address", "mk_phone"):
            staged_distinct[column] = staged[column].n_unique()
    print(
        f"standardise: {result.rows_out:,} rows in {seconds:.1f} s "
        f"= {result.rows_out / seconds:,.0f} rows/s (target: 1,000,000 in < 20 s)"
    )
    print(
        f"  CPU time {cpu_seconds:.1f} s over {os.cpu_count()} cores (wall time grows when "
        "other processes share the machine; load average now "
        f"{os.getloadavg()[0]:.1f})"
    )
    print("distinct values:", ", ".join(f"{k}={v:,}" for k, v in staged_distinct.items()))
    for field, stats in result.fields.items():
        print(
            f"  {field:16s} standardised={stats.standardised:>9,} invalid={stats.invalid:>8,} "
            f"empty={stats.empty:>9,}"
        )
    print(f"  ambiguous dates: {result.ambiguous_dates:,}")


if __name__ == "__main__":
    main()
