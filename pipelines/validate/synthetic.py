"""Generated batches with known kinds of bad values, for proving and timing the validation engine.

The parity test runs every shipped suite on these frames through both engines, and the
benchmark times a million staged rows; both need values that look like real customer data
(several countries and scripts, the usual formats) *and* the mess real sources send: malformed
emails, local phone numbers, postcodes of the wrong shape, impossible dates, duplicate and
missing ids, future timestamps, records with nothing to match on, and the text edge cases where
regex engines disagree (a trailing newline, non-ASCII digits, unusual whitespace).

Seeded and vectorised, so a million rows take seconds and every run is the same.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
import pyarrow as pa

from pipelines.schema import MAPPABLE_FIELDS, staged_schema

RUN_TIME = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
"""The run the generated batches belong to (run id ``20260115T120000Z-…``)."""
RUN_ID = "20260115T120000Z-synth0"

FIRST = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "José",
    "Zoë",
    "Siobhán",
    "Li",
    "Анна",
    "Mohammed",
    "Ngozi",
    "Yuki",
    "François",
    "Bob",
    "Liz",
    "O'Neil",
    "Ana-María",
    "Søren",
    "Ying",
    "Priya",
]
LAST = [
    "Smith",
    "Johnson",
    "García",
    "Müller",
    "O'Brien",
    "Nguyen",
    "Kowalski",
    "Иванова",
    "van der Berg",
    "De La Cruz",
    "李",
    "Okafor",
    "Tanaka",
    "Dubois",
    "Smith-Jones",
    "Ó Súilleabháin",
    "Martínez",
    "Schmidt",
    "Patel",
    "Brown",
]
STREETS = [
    "Main St",
    "High Street",
    "Rue de Rivoli",
    "Hauptstraße",
    "Elm Avenue",
    "Queen's Road",
    "Calle Mayor",
    "Maple Dr",
    "Station Rd",
    "Kerkstraat",
]
CITIES = [
    "Springfield",
    "London",
    "Paris",
    "Berlin",
    "Toronto",
    "Sydney",
    "Dublin",
    "Amsterdam",
    "Madrid",
    "Mumbai",
]
DOMAINS = ["gmail.com", "example.org", "yahoo.co.uk", "outlook.com", "mail.de", "例子.广告"]
SYSTEMS = ["crm", "shop", "billing"]

# Country -> (E.164 prefix, postcode maker, national phone digits)
PHONE_PREFIX = {
    "US": "+1", "CA": "+1", "GB": "+44", "IE": "+353", "DE": "+49", "FR": "+33", "ES": "+34",
    "IT": "+39", "MX": "+52", "AU": "+61", "NZ": "+64", "AT": "+43", "BE": "+32", "CH": "+41",
    "DK": "+45", "NO": "+47", "NL": "+31", "SE": "+46", "PL": "+48", "PT": "+351", "BR": "+55",
    "JP": "+81", "IN": "+91", "CN": "+86", "ZA": "+27",
}  # fmt: skip
COUNTRIES = list(PHONE_PREFIX)

BAD_EMAILS = [
    "john.smith",
    "a@@b.com",
    "name @mail.com",
    "x@y",
    "x@y.com\n",
    "@nodomain.org",
    "trailing.dot@mail.",
    "two@at@signs.com",
    " spaced@mail.com",
    "",
]
BAD_PHONES = [
    "555-1234",
    "+0123456789",
    "+1 415 555 0123",
    "+١٤١٥٥٥٥٠١٢٣",
    "12",
    "+1415555012345678",
    "tel:+14155550123",
    "+44\n2079460958",
    "",
]
BAD_POSTCODES = {
    "US": ["1234", "123456", "ABCDE", "12345-678"],
    "GB": ["SW1A1AA", "sw1a 1aa", "12345", "SW1A 1AA\n"],
    "IE": ["D02X2851", "d02 x285"],
    "AU": ["200", "20000"],
    "NZ": ["60111"],
    "AT": ["A-1010"],
    "BE": ["B1000"],
    "CH": ["CH-8001"],
    "DK": ["DK-1050"],
    "NO": ["03"],
    "FR": ["7500", "F-75001"],
    "ES": ["2801"],
    "IT": ["I-00100"],
    "MX": ["0600"],
    "PT": ["1000001"],
    "CN": ["10000"],
    "CA": ["K1A0B1", "k1a 0b1"],
    "NL": ["1012", "AB 1012"],
    "DE": ["1234"],
    "IN": ["012345"],
    "JP": ["1000001x"],
    "BR": ["0131010"],
    "SE": ["1145"],
    "PL": ["00950"],
}
BAD_COUNTRIES = ["UK", "USA", "Germany", "", "gb", "XX", "U.S."]
EDGE_TEXT = [
    "x\n",
    "\u0663\u0664",
    "a\x1cb",
    "e\u0301",
    "\u00b2",
    "a\u00a0b",
    "tab\there",
    " lead",
    "trail ",
]


def staged_frame(rows: int, seed: int = 7, bad_share: float = 0.02) -> pl.DataFrame:
    """Staged records (``schema.staged_schema()``), about ``bad_share`` with each fault."""
    rng = np.random.default_rng(seed)
    n = rows

    def pick(pool: list[str]) -> np.ndarray:
        return np.asarray(pool, dtype=object)[rng.integers(0, len(pool), n)]

    def faults(share: float = bad_share) -> np.ndarray:
        return rng.random(n) < share

    ids = np.arange(n).astype(str).astype(object)
    system = pick(SYSTEMS)
    record_id = "R" + ids
    record_key = system + ":" + record_id
    dup = np.flatnonzero(faults(bad_share / 4))
    record_key[dup] = record_key[np.maximum(dup - 1, 0)]
    record_key[faults(bad_share / 8)] = None

    first, last = pick(FIRST), pick(LAST)
    full = first + " " + last
    middle = np.where(faults(0.3), pick(FIRST), None)
    country = pick(COUNTRIES)
    email = np.char.lower(first.astype(str)).astype(object) + ids + "@" + pick(DOMAINS)
    phone = _e164(rng, country)
    postcode = _postcodes(rng, country)
    line1 = rng.integers(1, 9999, n).astype(str).astype(object) + " " + pick(STREETS)
    dob = np.datetime64("1930-01-01") + rng.integers(0, 28_000, n).astype("timedelta64[D]")
    run_time = np.datetime64(RUN_TIME.replace(tzinfo=None), "us")
    ingested = np.full(n, run_time - np.timedelta64(5, "m"))
    updated = run_time - rng.integers(0, 3000 * 86_400, n).astype("timedelta64[s]").astype(
        "timedelta64[us]"
    )

    # The faults a real batch carries.
    _scatter(rng, email, faults(), BAD_EMAILS + EDGE_TEXT)
    email[faults(0.1)] = None
    _scatter(rng, phone, faults(), BAD_PHONES + EDGE_TEXT)
    phone[faults(0.1)] = None
    for code, bad in BAD_POSTCODES.items():
        _scatter(rng, postcode, faults() & (country == code), bad)
    _scatter(rng, postcode, faults(bad_share / 4), ["1234567890123", ""])
    postcode[faults(0.05)] = None
    _scatter(rng, country, faults(), BAD_COUNTRIES)
    country[faults(0.02)] = None
    dob[faults(0.3)] = np.datetime64("NaT")
    odd_dates = [np.datetime64(d) for d in ("1850-05-01", "2099-01-01", "1899-12-31", "2026-01-16")]
    _scatter(rng, dob, faults(bad_share / 2), odd_dates)
    updated[faults(bad_share / 2)] = run_time + np.timedelta64(3, "D")
    updated[faults(0.2)] = np.datetime64("NaT")
    ingested[faults(bad_share / 10)] = np.datetime64("NaT")
    updated[faults(bad_share / 4)] = run_time - np.timedelta64(4, "m")  # read, then "changed"
    first[faults(0.05)] = None
    last[faults(0.03)] = None
    _scatter(rng, last, faults(bad_share / 4), ["X" * 120, "", *EDGE_TEXT])
    _scatter(rng, first, faults(bad_share / 4), ["Y" * 101, ""])
    full[faults(0.1)] = None
    _scatter(rng, full, faults(bad_share / 4), ["Z" * 150, ""])
    line1[faults(0.1)] = None
    _scatter(rng, line1, faults(bad_share / 4), ["1 " + "Long Road " * 25, ""])
    middle[faults(bad_share / 8)] = "M" * 111
    # A badly degraded batch loses whole columns: completeness checks must notice.
    for column in (first, last, postcode):
        column[faults(max(0.0, bad_share - 0.1))] = None
    dob[faults(max(0.0, bad_share - 0.1))] = np.datetime64("NaT")
    nothing = faults(bad_share / 2)  # no name and no contact data at all
    for column in (first, last, full, phone, line1, email):
        column[nothing] = None
    line2 = np.where(faults(0.2), "Apt " + rng.integers(1, 99, n).astype(str).astype(object), None)
    _scatter(rng, line2, faults(bad_share / 4), ["Suite " + "9" * 200, ""])
    system[faults(bad_share / 10)] = None
    city = pick(CITIES)
    _scatter(rng, city, faults(bad_share / 4), ["C" * 120, ""])
    region = np.where(faults(0.5), pick(["CA", "Ontario", "Bavaria", "Île-de-France"]), None)
    _scatter(rng, region, faults(bad_share / 4), ["R" * 130])
    extension = np.where(faults(0.05), rng.integers(1, 99999, n).astype(str).astype(object), None)
    _scatter(rng, extension, faults(bad_share / 4), ["ext. 12", "12345678901"])

    columns: dict[str, np.ndarray] = {
        "record_key": record_key,
        "source_system": system,
        "source_record_id": record_id,
        "batch_id": np.full(n, RUN_ID, dtype=object),
        "ingested_at": ingested,
        "source_updated_at": updated,
        "trust_rank": rng.integers(1, 4, n).astype(np.int32),
        "first_name": first,
        "middle_name": middle,
        "last_name": last,
        "full_name": full,
        "email": email,
        "phone": phone,
        "phone_extension": extension,
        "address_line1": line1,
        "address_line2": line2,
        "city": city,
        "region": region,
        "postcode": postcode,
        "country": country,
        "date_of_birth": dob,
    }
    for field in MAPPABLE_FIELDS:
        if field in columns and field != "date_of_birth":
            columns[f"raw_{field}"] = columns[field]
    schema = staged_schema()
    table = pa.table([_arrow(columns.get(f.name), f.type, n) for f in schema], schema=schema)
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    address = pl.concat_str(
        [pl.col("address_line1"), pl.col("city"), pl.col("postcode")], separator=", "
    )
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) % 211 == 0)
        .then(pl.lit("9 " + "Very Long Street Name " * 10))
        .otherwise(address)
        .alias("raw_address"),
        pl.col("date_of_birth").cast(pl.String).alias("raw_date_of_birth"),
        pl.col("date_of_birth").cast(pl.String).alias("mk_dob"),
        pl.col("email").str.to_lowercase().alias("mk_email"),
    )
    if bad_share <= 0:
        return frame
    # Hostile values: markup (the raw email, and the text fields standardisation keeps as
    # written), and text longer than any real value of the field.
    row = pl.int_range(pl.len())
    hostile = ("raw_email", *HOSTILE_TEXT)
    return frame.with_columns(
        pl.when(row % 197 == 3)
        .then(pl.concat_str(pl.col(c).fill_null("x"), pl.lit("<script>alert(1)</script>")))
        .when(row % 193 == 5)
        .then(pl.lit("A" * 400))
        .otherwise(pl.col(c))
        .alias(c)
        for c in hostile
    )


HOSTILE_TEXT = (
    "email",
    "first_name",
    "middle_name",
    "last_name",
    "full_name",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postcode",
)
"""Canonical text columns the generated batches sometimes fill with markup or over-long text."""


def source_frame(
    rows: int, *, system: str, dob_format: str, seed: int = 11, bad_share: float = 0.03
) -> pl.DataFrame:
    """A source batch as ``mapped_frame`` makes it: lineage, ``raw_<field>`` text, trust rank."""
    staged = staged_frame(rows, seed=seed, bad_share=bad_share)
    rng = np.random.default_rng(seed + 1)
    n = rows
    ids = staged["source_record_id"].to_numpy().astype(object)
    ids[rng.random(n) < bad_share / 2] = None
    dup = np.flatnonzero(rng.random(n) < bad_share / 2)
    ids[dup] = ids[np.maximum(dup - 1, 0)]
    dob = staged["date_of_birth"].to_list()
    text_dob = np.asarray(
        [d.strftime(dob_format) if d is not None else None for d in dob], dtype=object
    )
    other = [
        "1985-13-45",
        "31/02/1990",
        "02/30/2000",
        "2/3/2000",
        " 01/02/2000",
        "1990-01-01T00:00:00",
        "yesterday",
        "19900101",
        "01-02-1990",
        "",
    ]
    _scatter(rng, text_dob, rng.random(n) < bad_share, other)
    batch = np.full(n, RUN_ID, dtype=object)
    batch[rng.random(n) < bad_share / 5] = None
    frame = staged.select(
        pl.Series(
            "record_key", [f"{system}:{i}" if i is not None else None for i in ids], dtype=pl.String
        ),
        pl.lit(system).alias("source_system"),
        pl.Series("source_record_id", ids.tolist(), dtype=pl.String),
        pl.Series("batch_id", batch.tolist(), dtype=pl.String),
        "ingested_at",
        "source_updated_at",
        *[pl.col(f"raw_{f}") for f in MAPPABLE_FIELDS if f != "date_of_birth"],
        pl.Series("raw_date_of_birth", text_dob.tolist(), dtype=pl.String),
        pl.col("trust_rank"),
    )
    return frame.select(
        "record_key",
        "source_system",
        "source_record_id",
        "batch_id",
        "ingested_at",
        "source_updated_at",
        *[f"raw_{f}" for f in MAPPABLE_FIELDS],
        "trust_rank",
    )


def _arrow(values: np.ndarray | None, kind: pa.DataType, n: int) -> pa.Array:
    if values is None:
        return pa.nulls(n, type=kind)
    return pa.array(values, type=kind, from_pandas=True)


def _scatter(
    rng: np.random.Generator, target: np.ndarray, where: np.ndarray, pool: list[object]
) -> None:
    index = np.flatnonzero(where)
    if len(index):
        choices = np.empty(len(pool), dtype=object)
        choices[:] = pool
        target[index] = choices[rng.integers(0, len(pool), len(index))]


def _e164(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    digits = rng.integers(200_000_000, 999_999_999, len(country)).astype(str).astype(object)
    return np.asarray([PHONE_PREFIX[c] for c in country], dtype=object) + digits


def _postcodes(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    """A valid postcode for each row's country, built column-wise per country."""
    alphabet = np.asarray(list("ABCDEFGHJKLMNPRSTUVWXY"))

    def d(m: int, k: int) -> np.ndarray:  # k digits, leading zeros kept
        return np.char.zfill(rng.integers(0, 10**k, m).astype(str), k)

    def c(m: int, k: int) -> np.ndarray:  # k capital letters
        return alphabet[rng.integers(0, len(alphabet), (m, k))].view(f"<U{k}").ravel()

    def cat(*parts: np.ndarray | str) -> np.ndarray:
        out = parts[0]
        for part in parts[1:]:
            out = np.char.add(out, part)
        return out

    shapes = {
        "US": lambda m: d(m, 5),
        "GB": lambda m: cat(c(m, 2), d(m, 1), " ", d(m, 1), c(m, 2)),
        "CA": lambda m: cat(c(m, 1), d(m, 1), c(m, 1), " ", d(m, 1), c(m, 1), d(m, 1)),
        "DE": lambda m: d(m, 5),
        "FR": lambda m: d(m, 5),
        "ES": lambda m: d(m, 5),
        "AU": lambda m: d(m, 4),
        "NL": lambda m: cat(d(m, 4), " ", c(m, 2)),
        "IE": lambda m: cat("D", d(m, 2), " ", c(m, 1), d(m, 3)),
        "IN": lambda m: cat(rng.integers(1, 10, m).astype(str), d(m, 5)),
        "JP": lambda m: cat(d(m, 3), "-", d(m, 4)),
        "BR": lambda m: cat(d(m, 5), "-", d(m, 3)),
        "SE": lambda m: cat(d(m, 3), " ", d(m, 2)),
        "PL": lambda m: cat(d(m, 2), "-", d(m, 3)),
        "IT": lambda m: d(m, 5),
        "MX": lambda m: d(m, 5),
        "NZ": lambda m: d(m, 4),
        "AT": lambda m: d(m, 4),
        "BE": lambda m: d(m, 4),
        "CH": lambda m: d(m, 4),
        "DK": lambda m: d(m, 4),
        "NO": lambda m: d(m, 4),
        "ZA": lambda m: d(m, 4),
        "PT": lambda m: cat(d(m, 4), "-", d(m, 3)),
        "CN": lambda m: d(m, 6),
    }
    out = np.empty(len(country), dtype=object)
    for code, make in shapes.items():
        mask = country == code
        if mask.any():
            out[mask] = make(int(mask.sum())).astype(object)
    return out
