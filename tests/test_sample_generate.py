"""The sample generator: reproducible bytes, complete ground truth, real look-alikes, a config
that loads, and a committed example that is exactly what the generator makes."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
import yaml

from pipelines.config import load_config
from pipelines.errors import GoldenError
from pipelines.sample import (
    SOURCES,
    SampleInfo,
    SampleOptions,
    customers_for_records,
    generate_sample,
)
from pipelines.sample.writers import FILE_NAMES, read_source
from pipelines.schema import MAPPABLE_FIELDS

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
DATA_FILES = (*FILE_NAMES.values(), "ground_truth.csv", "true_customers.parquet", "sample.json")
ID_COLUMNS = {"crm": "crm_id", "shop": "customer_id", "billing": "account_no"}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleInfo:
    return generate_sample(tmp_path_factory.mktemp("sample"), customers=1500, seed=21)


def frames(sample_dir: Path) -> dict[str, pl.DataFrame]:
    return {
        s: pl.DataFrame(read_source(s, sample_dir / FILE_NAMES[s]), infer_schema_length=None)
        for s in SOURCES
    }


def truth_of(sample_dir: Path) -> pl.DataFrame:
    return pl.read_csv(sample_dir / "ground_truth.csv", infer_schema=False)


# --- determinism -------------------------------------------------------------------------------
def test_same_seed_gives_byte_identical_files_wherever_written(tmp_path: Path) -> None:
    a = generate_sample(tmp_path / "a", customers=300, seed=5)
    b = generate_sample(tmp_path / "elsewhere" / "b", customers=300, seed=5)
    for name in (*DATA_FILES, "config.yaml"):
        assert (tmp_path / "a" / name).read_bytes() == (
            tmp_path / "elsewhere" / "b" / name
        ).read_bytes(), name
    assert a.records == b.records


def test_different_seed_gives_different_data(tmp_path: Path) -> None:
    generate_sample(tmp_path / "a", customers=300, seed=5)
    generate_sample(tmp_path / "b", customers=300, seed=6)
    for name in (*FILE_NAMES.values(), "ground_truth.csv"):
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "b" / name).read_bytes(), name


def test_sizing_by_records_lands_on_the_target(tmp_path: Path) -> None:
    info = generate_sample(tmp_path / "a", customers_for_records(6000), seed=2)
    assert abs(info.total_records - 6000) / 6000 < 0.03, info.total_records
    everywhere = SampleOptions(
        source_counts=(0.0, 0.0, 1.0), duplicate_rates={"crm": 0, "shop": 0, "billing": 0}
    )
    customers = customers_for_records(900, everywhere)
    info = generate_sample(tmp_path / "b", customers, seed=2, options=everywhere)
    assert customers == 300
    assert info.records == {"crm": 300, "shop": 300, "billing": 300}


def test_too_few_customers_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(GoldenError, match="customers must be at least 1"):
        generate_sample(tmp_path, customers=0)


# --- files and ground truth --------------------------------------------------------------------
def test_files_have_the_agreed_schemas(sample: SampleInfo) -> None:
    crm_header = (sample.out_dir / "crm.csv").read_text(encoding="utf-8").splitlines()[0]
    assert crm_header.split(",") == [
        "crm_id", "first_name", "middle_name", "last_name", "suffix", "email", "phone", "street",
        "street2", "city", "state", "zip", "country", "birth_date", "created_at", "last_modified",
    ]  # fmt: skip
    with (sample.out_dir / "shop.jsonl").open(encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    keys = {k for r in records for k in r}
    assert keys == {
        "customer_id", "name", "email", "mobile", "shipping_address", "birthday", "updated_at",
    }  # fmt: skip
    assert any("birthday" not in r for r in records), "an unknown birthday is left out"
    assert all(datetime.fromisoformat(r["updated_at"]).utcoffset() is not None for r in records)
    billing = pl.read_parquet(sample.out_dir / "billing.parquet")
    assert billing.schema["account_no"] == pl.Int64
    assert billing.schema["modified"] == pl.Datetime("us", "UTC")
    assert billing.columns == [
        "account_no", "title", "given_name", "family_name", "email_address", "phone_number",
        "addr_line_1", "addr_line_2", "town", "region", "postal_code", "country_name", "dob",
        "modified",
    ]  # fmt: skip
    assert set(billing["title"].drop_nulls()) == {"Mr", "Mrs", "Ms", "Dr"}
    assert set(billing["country_name"].drop_nulls()) == {
        "United States", "United Kingdom", "Germany", "France",
    }  # fmt: skip


def test_ground_truth_covers_every_record_exactly_once(sample: SampleInfo) -> None:
    truth = truth_of(sample.out_dir)
    assert truth.columns == [
        "source_system", "source_record_id", "customer_id", "lookalike_group", "lookalike_kind",
    ]  # fmt: skip
    assert truth.select("source_system", "source_record_id").is_duplicated().sum() == 0
    data = frames(sample.out_dir)
    for source in SOURCES:
        ids = data[source][ID_COLUMNS[source]].cast(pl.String)
        assert ids.n_unique() == ids.len(), f"{source} ids are unique"
        truth_ids = truth.filter(pl.col("source_system") == source)["source_record_id"]
        assert truth_ids.to_list() == ids.to_list(), source
        assert sample.records[source] == ids.len()
    assert truth.height == sample.total_records
    assert truth["customer_id"].n_unique() == sample.customers == 1500


def test_customers_appear_in_one_to_three_sources_and_sometimes_twice_in_one(
    sample: SampleInfo,
) -> None:
    truth = truth_of(sample.out_dir)
    per_customer = truth.group_by("customer_id").agg(pl.col("source_system").n_unique())
    spread = per_customer["source_system"].value_counts().sort("source_system")
    assert spread["source_system"].to_list() == [1, 2, 3]
    multi = (per_customer["source_system"] >= 2).mean()
    assert 0.45 < multi < 0.75, multi
    twice = truth.group_by("source_system", "customer_id").len().filter(pl.col("len") >= 2)
    assert set(twice["source_system"]) == set(SOURCES), "every source holds in-source duplicates"
    ratio = sample.total_records / sample.customers
    assert 1.7 < ratio < 2.2, ratio


def test_every_lookalike_kind_is_present_with_distinct_people_on_record(
    sample: SampleInfo,
) -> None:
    truth = truth_of(sample.out_dir)
    groups = (
        truth.filter(pl.col("lookalike_kind").is_not_null())
        .group_by("lookalike_kind", "lookalike_group")
        .agg(pl.col("customer_id").n_unique().alias("people"))
    )
    assert set(groups["lookalike_kind"]) == {"household", "twin", "jr_sr"}
    with_two = groups.filter(pl.col("people") >= 2)
    assert set(with_two["lookalike_kind"]) == {"household", "twin", "jr_sr"}
    assert sample.lookalike_groups.keys() == {"household", "twin", "jr_sr"}
    assert sample.namesake_pairs >= 1


def test_lookalikes_share_what_makes_them_hard_and_differ_where_it_counts(
    sample: SampleInfo,
) -> None:
    people = pl.read_parquet(sample.out_dir / "true_customers.parquet")
    address = ["house", "street", "postcode", "city_idx"]
    grouped = people.filter(pl.col("group_id").is_not_null())
    for (group_id, kind), members in grouped.group_by("group_id", "group_kind"):
        assert members.height >= 2, group_id
        assert members.select(address).n_unique() == 1, f"{group_id} lives at one address"
        assert members["landline"].n_unique() == 1, f"{group_id} shares a landline"
        assert members["landline"].null_count() == 0
        if kind == "twin":
            assert members["last_name"].n_unique() == 1
            assert members["date_of_birth"].n_unique() == 1
            assert members["first_name"].n_unique() == 2, "twins have different given names"
        elif kind == "jr_sr":
            assert members["first_name"].n_unique() == 1
            assert members["last_name"].n_unique() == 1
            born = sorted(members["date_of_birth"].to_list())
            assert (born[1] - born[0]).days >= 18 * 365, "father and son a generation apart"
            assert "Jr" in members["suffix"].to_list()
    namesakes = people.filter(pl.col("namesake_group").is_not_null())
    for group_id, pair in namesakes.group_by("namesake_group"):
        assert pair.height == 2, group_id
        assert pair.select("first_name", "last_name").n_unique() == 1
        assert pair["date_of_birth"].n_unique() == 2, "namesakes are different people"


def test_movers_show_the_old_address_only_in_records_older_than_the_move(
    sample: SampleInfo,
) -> None:
    people = pl.read_parquet(sample.out_dir / "true_customers.parquet")
    billing = pl.read_parquet(sample.out_dir / "billing.parquet").with_columns(
        pl.col("account_no").cast(pl.String)
    )
    truth = truth_of(sample.out_dir).filter(pl.col("source_system") == "billing")
    rows = (
        billing.join(truth, left_on="account_no", right_on="source_record_id")
        .join(people, on="customer_id")
        .filter(pl.col("moved_at").is_not_null() & pl.col("postal_code").is_not_null())
    )
    norm = pl.col("postal_code").str.to_uppercase().str.replace_all(r"[\s-]", "")
    checked = rows.with_columns(
        stale=pl.col("modified").dt.replace_time_zone(None) < pl.col("moved_at"),
        shown=norm,
        old=pl.col("prev_postcode").str.replace_all(" ", ""),
        new=pl.col("postcode").str.replace_all(" ", ""),
    )
    stale = checked.filter("stale")
    fresh = checked.filter(~pl.col("stale"))
    assert stale.height > 0 and fresh.height > 0
    assert stale.select(pl.col("shown").str.starts_with(pl.col("old")).all()).item()
    assert fresh.select(pl.col("shown").str.starts_with(pl.col("new")).all()).item()


def test_names_in_other_scripts_and_with_accents_survive_in_utf8(sample: SampleInfo) -> None:
    text = (sample.out_dir / "crm.csv").read_text(encoding="utf-8")
    text += (sample.out_dir / "shop.jsonl").read_text(encoding="utf-8")
    scripts = {
        "cyrillic": any("\u0400" <= c <= "\u04ff" for c in text),
        "greek": any("\u0370" <= c <= "\u03ff" for c in text),
        "han": any("\u4e00" <= c <= "\u9fff" for c in text),
    }
    assert all(scripts.values()), scripts
    assert all(ch in text for ch in "éüñø"), "accented Latin letters"


def test_timestamps_come_from_the_fixed_base_date_not_the_clock(sample: SampleInfo) -> None:
    data = frames(sample.out_dir)
    as_of = sample.as_of
    crm = data["crm"].with_columns(
        pl.col("created_at", "last_modified").str.to_datetime("%Y-%m-%d %H:%M:%S")
    )
    assert crm.select((pl.col("created_at") <= pl.col("last_modified")).all()).item()
    assert crm["last_modified"].max() < as_of  # local New York time is behind UTC
    shop_latest = max(datetime.fromisoformat(t) for t in data["shop"]["updated_at"])
    assert shop_latest.replace(tzinfo=None) - shop_latest.utcoffset() <= as_of
    assert data["billing"]["modified"].max().replace(tzinfo=None) <= as_of


# --- the pipeline config -----------------------------------------------------------------------
def test_written_config_loads_and_maps_columns_that_exist(sample: SampleInfo) -> None:
    config = load_config(sample.config_path)
    assert config.source_names == ["crm", "shop", "billing"]
    assert config.warehouse.path == Path.cwd() / "warehouse", "warehouse left to its default"
    data = frames(sample.out_dir)
    for source in config.sources:
        assert Path(source.path).is_file()
        assert set(source.mapping) <= set(MAPPABLE_FIELDS)
        assert set(source.mapping.values()) <= set(data[source.name].columns)
        assert source.id_column in data[source.name].columns
        assert source.updated_at_column in data[source.name].columns
    assert config.source("shop").mapping.keys() >= {"full_name", "address"}
    assert config.source("billing").mapping["name_prefix"] == "title"
    formats = {s.name: s.date_formats["date_of_birth"] for s in config.sources}
    assert formats == {"crm": ["%m/%d/%Y"], "shop": ["%Y-%m-%d"], "billing": ["%d/%m/%Y"]}


def test_config_can_name_a_warehouse_and_live_elsewhere(tmp_path: Path) -> None:
    info = generate_sample(
        tmp_path / "data",
        customers=40,
        seed=3,
        config_path=tmp_path / "conf" / "pipeline.yaml",
        warehouse=tmp_path / "wh",
        backup_prefix="nightly",
    )
    config = load_config(info.config_path)
    assert config.warehouse.path == tmp_path / "wh"
    assert Path(config.source("crm").path) == tmp_path / "data" / "crm.csv"
    assert config.backup.prefix == "nightly"


def test_a_generated_config_backs_up_to_a_local_server_and_says_how_to_start_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trying a sample out needs no cloud credentials: its backups go to a local S3 server
    beside its config, and a run without that server running says how to start it."""
    from pipelines.backup.store import ENDPOINT_ENV, ObjectStore
    from pipelines.errors import ConfigError

    info = generate_sample(tmp_path / "data", customers=20, seed=3)
    config = load_config(info.config_path)
    assert config.backup.local_server_dir == tmp_path / "data" / ".s3data"
    assert "golden s3 start --data-dir .s3data" in info.config_path.read_text()
    monkeypatch.delenv(ENDPOINT_ENV, raising=False)
    with pytest.raises(ConfigError) as raised:
        ObjectStore(config.backup)
    assert f"golden s3 start --data-dir {tmp_path / 'data' / '.s3data'}" in str(raised.value)


# --- the committed example ---------------------------------------------------------------------
def test_example_config_follows_the_demo_contract() -> None:
    raw = yaml.safe_load((EXAMPLES / "config.yaml").read_text(encoding="utf-8"))
    assert "warehouse" not in raw, "the demo writes to ./warehouse where it is started"
    assert raw["validation"]["expectations_dir"] == "../expectations"
    assert [s["path"] for s in raw["sources"]] == [
        "sample/crm.csv", "sample/shop.jsonl", "sample/billing.parquet",
    ]  # fmt: skip
    config = load_config(EXAMPLES / "config.yaml")
    assert {s.name: s.trust_rank for s in config.sources} == {"crm": 1, "billing": 2, "shop": 3}
    assert {s.default_phone_region for s in config.sources} == {"US"}
    assert config.validation.expectations_dir == ROOT / "expectations"
    assert (config.backup.bucket, config.backup.prefix) == ("golden-backups", "demo")
    truth = truth_of(EXAMPLES / "sample")
    assert 1300 <= truth.height <= 1700
    assert 700 <= truth["customer_id"].n_unique() <= 900


def test_committed_example_is_exactly_what_the_generator_makes(tmp_path: Path) -> None:
    """Regenerate with the recorded seed: if this fails, the generator changed and
    ``examples/`` must be regenerated (see examples/README.md)."""
    manifest = json.loads((EXAMPLES / "sample" / "sample.json").read_text(encoding="utf-8"))
    generate_sample(
        tmp_path / "sample",
        customers=manifest["customers"],
        seed=manifest["seed"],
        config_path=tmp_path / "config.yaml",
        backup_prefix="demo",
    )
    for name in DATA_FILES:
        assert (tmp_path / "sample" / name).read_bytes() == (
            EXAMPLES / "sample" / name
        ).read_bytes(), name


def test_no_two_customers_share_a_mailbox_however_the_dots_fall() -> None:
    # Gmail ignores dots: amy.smith@ and amysmith@ are one mailbox, so one customer's.
    import random

    import numpy as np

    from pipelines.sample.population import draw_emails

    n = 400
    names = np.array(["amy"] * n, dtype=object)
    emails, _ = draw_emails(
        names,
        np.array([None] * n, dtype=object),
        np.array(["smith"] * n, dtype=object),
        np.full(n, 7000, dtype=np.int64),
        np.array(["US"] * n, dtype=object),
        np.zeros(n, dtype=bool),
        random.Random(3),
        {"amysmith@gmail.com"},
    )
    gmail = [e for e in emails if e.endswith("@gmail.com")]
    assert len(gmail) > 100
    mailboxes = [e.split("@")[0].replace(".", "") for e in gmail]
    assert len(set(mailboxes)) == len(mailboxes)
    assert "amysmith" not in mailboxes  # taken by an earlier batch, however spelt
