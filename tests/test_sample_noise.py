"""Noise in the files follows the configured rates: measured from the files against the true
customers, not taken from the generator's word. Bounds are four binomial standard deviations,
so a correct generator fails them about once in 15,000 runs and a wrong rate fails at once."""

from __future__ import annotations

import math
import unicodedata
from pathlib import Path

import polars as pl
import pytest
from pydantic import ValidationError

from pipelines.sample import NoiseRates, SampleInfo, SampleOptions, generate_sample
from pipelines.sample.noise import fold_ascii
from pipelines.sample.vocab import NICKNAMES
from pipelines.sample.writers import read_source

# Distinctive rates, so that a measurement cannot pass by landing on a default by accident.
RATES = NoiseRates(
    typo_name=0.08,
    nickname=0.3,
    dob_transposed=0.25,
    missing_email=0.2,
    missing_dob=0.1,
    name_swap=0.03,
)
OPTIONS = SampleOptions(
    noise=RATES,
    source_noise={"crm": 1.0, "shop": 1.5, "billing": 0.6},
    missing_dob_by_source={"shop": 0.5},
)


@pytest.fixture(scope="module")
def noisy(tmp_path_factory: pytest.TempPathFactory) -> SampleInfo:
    return generate_sample(
        tmp_path_factory.mktemp("noisy"), customers=4000, seed=99, options=OPTIONS
    )


@pytest.fixture(scope="module")
def crm(noisy: SampleInfo) -> pl.DataFrame:
    """CRM records beside the true customer they were rendered from."""
    records = pl.DataFrame(read_source("crm", noisy.out_dir / "crm.csv"))
    truth = pl.read_csv(noisy.out_dir / "ground_truth.csv", infer_schema=False)
    people = pl.read_parquet(noisy.out_dir / "true_customers.parquet")
    return (
        records.join(truth, left_on="crm_id", right_on="source_record_id")
        .join(people, on="customer_id", suffix="_true")
        .sort("crm_id")
    )


def within(measured: float, rate: float, n: int) -> bool:
    sd = math.sqrt(rate * (1 - rate) / n)
    return abs(measured - rate) <= 4 * sd


def norm(text: str | None) -> str:
    return " ".join(unicodedata.normalize("NFKC", text or "").split()).casefold()


def spellings(*names: str | None) -> set[str]:
    """Every clean way a system may write a name: native, transliterated, ASCII-folded."""
    out = set()
    for name in names:
        if name:
            out |= {norm(name), norm(fold_ascii(name)), norm(fold_ascii(name, german=True))}
    return out


def test_missing_values_follow_their_rates(noisy: SampleInfo, crm: pl.DataFrame) -> None:
    share = crm["email"].null_count() / crm.height
    assert within(share, RATES.missing_email, crm.height), share
    shop = pl.DataFrame(read_source("shop", noisy.out_dir / "shop.jsonl"))
    share = shop["birthday"].null_count() / shop.height
    assert within(share, 0.5, shop.height), share
    billing = pl.read_parquet(noisy.out_dir / "billing.parquet")
    share = billing["dob"].null_count() / billing.height
    assert within(share, RATES.missing_dob, billing.height), share


def test_typos_in_last_names_follow_the_rate(crm: pl.DataFrame) -> None:
    clean = swapped = typo = 0
    for shown_first, shown_last, last, last_latin in crm.select(
        "first_name", "last_name", "last_name_true", "last_name_latin"
    ).iter_rows():
        if norm(shown_last) in spellings(last, last_latin):
            clean += 1
        elif norm(shown_first) in spellings(last, last_latin):
            swapped += 1
        else:
            typo += 1
    # A swapped name whose last name also got a typo is counted as a typo.
    assert within(typo / crm.height, RATES.typo_name, crm.height), typo / crm.height
    rate = RATES.name_swap * (1 - RATES.typo_name)
    assert within(swapped / crm.height, rate, crm.height), swapped / crm.height


def test_nicknames_follow_the_rate(crm: pl.DataFrame) -> None:
    eligible = used = 0
    for shown, first, first_latin in crm.select(
        "first_name", "first_name_true", "first_name_latin"
    ).iter_rows():
        nicknames = {norm(n) for name in (first, first_latin) for n in NICKNAMES.get(name, ())}
        if not nicknames:
            continue
        eligible += 1
        used += norm(shown) in nicknames
    # A nickname is sometimes typo'd or swapped into the last name afterwards.
    rate = RATES.nickname * (1 - RATES.typo_name) * (1 - RATES.name_swap)
    assert eligible > 500
    assert within(used / eligible, rate, eligible), used / eligible


def test_transposed_birth_dates_follow_the_rate_and_match_the_report(
    noisy: SampleInfo, crm: pl.DataFrame
) -> None:
    shown = crm.filter(
        pl.col("birth_date").is_not_null() & (pl.col("birth_date") != "01/01/1900")
    ).with_columns(parsed=pl.col("birth_date").str.to_date("%m/%d/%Y", strict=False))
    true = pl.col("date_of_birth")
    eligible = shown.filter((true.dt.day() <= 12) & (true.dt.day() != true.dt.month()))
    swapped = eligible.filter(
        (pl.col("parsed").dt.month() == true.dt.day())
        & (pl.col("parsed").dt.day() == true.dt.month())
        & (pl.col("parsed").dt.year() == true.dt.year())
    )
    assert within(swapped.height / eligible.height, RATES.dob_transposed, eligible.height)
    others = shown.join(eligible.select("crm_id"), on="crm_id", how="anti")
    assert (others["parsed"] == others["date_of_birth"]).all(), "no other date is altered"
    assert swapped.height == noisy.noise["crm"]["dob_transposed"]


def test_reported_noise_counts_match_the_source_multipliers(noisy: SampleInfo) -> None:
    for source, multiplier in OPTIONS.source_noise.items():
        n = noisy.records[source]
        typos = noisy.noise[source].get("typo_last_name", 0)
        rate = RATES.typo_name * multiplier
        assert within(typos / n, rate, n), (source, typos / n, rate)


def test_without_noise_every_record_shows_its_true_values(tmp_path: Path) -> None:
    silent = NoiseRates(**dict.fromkeys(NoiseRates.model_fields, 0.0))
    options = SampleOptions(noise=silent, missing_dob_by_source={})
    info = generate_sample(tmp_path, customers=300, seed=4, options=options)
    records = pl.DataFrame(read_source("crm", tmp_path / "crm.csv"))
    truth = pl.read_csv(tmp_path / "ground_truth.csv", infer_schema=False)
    people = pl.read_parquet(tmp_path / "true_customers.parquet")
    rows = records.join(truth, left_on="crm_id", right_on="source_record_id").join(
        people, on="customer_id", suffix="_true"
    )
    assert (rows["first_name"] == rows["first_name_true"]).all()
    assert (rows["last_name"] == rows["last_name_true"]).all()
    assert rows["middle_name"].eq_missing(rows["middle_name_true"]).all()
    assert rows["suffix"].null_count() == rows.height, "suffixes are never shown at rate 0"
    assert rows["email"].null_count() == 0
    assert (
        rows.select(
            (pl.col("email") == pl.col("email_true")) | (pl.col("email") == pl.col("old_email"))
        )
        .to_series()
        .all()
    )
    born = rows["birth_date"].str.to_date("%m/%d/%Y")
    assert (born == rows["date_of_birth"]).all()
    assert set(info.noise["crm"]) <= {"old_address", "old_email", "landline"}


@pytest.mark.parametrize(
    ("build", "key"),
    [
        (lambda: NoiseRates(typo_name=1.5), "typo_name"),
        (lambda: NoiseRates(case=-0.1), "case"),
        (lambda: SampleOptions(countries={"XX": 1.0}), "countries"),
        (lambda: SampleOptions(duplicate_rates={"crm": 0.1}), "duplicate_rates"),
        (lambda: SampleOptions(household_share=0.9), "household_share"),
    ],
    ids=["rate-above-1", "negative-rate", "unknown-country", "missing-source", "share-too-big"],
)
def test_bad_options_are_errors_that_name_the_key(build, key: str) -> None:
    with pytest.raises(ValidationError, match=key):
        build()
