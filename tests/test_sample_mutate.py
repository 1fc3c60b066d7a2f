"""The next day of a sample: about the requested share of records change, for real, after the
previous extraction; everything else stays byte for byte; a few records are new; the ground
truth keeps up."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from pipelines.errors import GoldenError
from pipelines.sample import SOURCES, MutationInfo, SampleInfo, generate_sample, mutate_sample
from pipelines.sample.render import FACET_COLUMNS
from pipelines.sample.writers import FILE_NAMES, read_source

ID_COLUMNS = {"crm": "crm_id", "shop": "customer_id", "billing": "account_no"}
UPDATED = {"crm": "last_modified", "shop": "updated_at", "billing": "modified"}


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> tuple[SampleInfo, MutationInfo, Path]:
    base = tmp_path_factory.mktemp("day1")
    info = generate_sample(base, customers=1000, seed=8)
    next_day = tmp_path_factory.mktemp("day2")
    mutation = mutate_sample(base, 0.05, seed=3, out_dir=next_day)
    return info, mutation, next_day


def rows_by_id(sample_dir: Path, source: str) -> dict[str, dict]:
    columns = read_source(source, sample_dir / FILE_NAMES[source])
    keys = list(columns)
    return {
        str(values[0]): dict(zip(keys, values, strict=True))
        for values in zip(*columns.values(), strict=True)
    }


def as_utc(source: str, value: object) -> datetime:
    if source == "crm":  # New York wall-clock time without an offset
        local = datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S")
        return local.replace(tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)
    if source == "shop":
        return datetime.fromisoformat(str(value)).astimezone(UTC)
    assert isinstance(value, datetime)
    return value


def test_about_the_requested_fraction_changes(days) -> None:
    info, mutation, _ = days
    assert sum(mutation.changed.values()) == round(0.05 * info.total_records)
    assert all(n > 0 for n in mutation.changed.values()), "every source sees changes"
    assert set(mutation.changes) == {"move", "email", "phone", "correction"}
    assert all(n > 0 for n in mutation.changes.values())
    assert mutation.as_of > info.as_of


def test_changed_records_really_differ_and_carry_a_later_update_time(days) -> None:
    info, mutation, next_day = days
    for source in SOURCES:
        before = rows_by_id(info.out_dir, source)
        after = rows_by_id(next_day, source)
        content = [c for cols in FACET_COLUMNS[source].values() for c in cols]
        for record_id in mutation.changed_ids[source]:
            old, new = before[record_id], after[record_id]
            assert any(old[c] != new[c] for c in content), (source, record_id)
            assert as_utc(source, new[UPDATED[source]]) > as_utc(source, old[UPDATED[source]]), (
                source,
                record_id,
            )
            assert as_utc(source, new[UPDATED[source]]) > info.as_of.replace(tzinfo=UTC)


def test_unchanged_records_keep_their_ids_and_bytes(days) -> None:
    info, mutation, next_day = days
    for source in ("crm", "shop"):
        old_lines = (info.out_dir / FILE_NAMES[source]).read_text(encoding="utf-8").splitlines()
        new_lines = (next_day / FILE_NAMES[source]).read_text(encoding="utf-8").splitlines()
        assert len(new_lines) == len(old_lines) + mutation.added[source]
        changed = set(mutation.changed_ids[source])
        for old, new in zip(old_lines, new_lines, strict=False):
            record_id = json.loads(old)["customer_id"] if source == "shop" else old.split(",", 1)[0]
            if record_id not in changed:
                assert old == new
    before = pl.read_parquet(info.out_dir / "billing.parquet")
    after = pl.read_parquet(next_day / "billing.parquet")
    kept = after.head(before.height).filter(
        ~pl.col("account_no").cast(pl.String).is_in(mutation.changed_ids["billing"])
    )
    expected = before.filter(
        ~pl.col("account_no").cast(pl.String).is_in(mutation.changed_ids["billing"])
    )
    assert kept.equals(expected)


def test_new_records_have_new_ids_later_stamps_and_ground_truth(days) -> None:
    info, mutation, next_day = days
    assert sum(mutation.added.values()) == round(0.2 * sum(mutation.changed.values()))
    assert mutation.new_customers >= 1
    truth = pl.read_csv(next_day / "ground_truth.csv", infer_schema=False)
    assert truth.select("source_system", "source_record_id").is_duplicated().sum() == 0
    for source in SOURCES:
        before = rows_by_id(info.out_dir, source)
        after = rows_by_id(next_day, source)
        added = mutation.added_ids[source]
        assert not set(added) & set(before)
        assert list(after) == [*before, *added], "old ids in place, new ones appended"
        for record_id in added:
            stamp = as_utc(source, after[record_id][UPDATED[source]])
            assert stamp > info.as_of.replace(tzinfo=UTC)
        listed = truth.filter(pl.col("source_system") == source)["source_record_id"]
        assert listed.to_list() == list(after)
    people = pl.read_parquet(next_day / "true_customers.parquet")
    assert set(truth["customer_id"]) <= set(people["customer_id"])
    assert truth["customer_id"].n_unique() == info.customers + mutation.new_customers
    manifest = json.loads((next_day / "sample.json").read_text(encoding="utf-8"))
    assert manifest["records"] == {s: len(rows_by_id(next_day, s)) for s in SOURCES}
    assert len(manifest["days"]) == 1


def test_a_move_updates_the_true_address_and_keeps_the_old_one(days) -> None:
    info, _, next_day = days
    before = pl.read_parquet(info.out_dir / "true_customers.parquet")
    after = pl.read_parquet(next_day / "true_customers.parquet").head(before.height)
    moved = after.filter(pl.col("moved_at") > info.as_of)
    assert moved.height > 0
    old = before.filter(pl.col("customer_id").is_in(moved["customer_id"].implode()))
    assert moved["prev_street"].to_list() == old["street"].to_list()
    assert moved["prev_postcode"].to_list() == old["postcode"].to_list()


def test_nothing_changes_when_nothing_is_asked(tmp_path: Path) -> None:
    generate_sample(tmp_path / "a", customers=200, seed=2)
    mutation = mutate_sample(tmp_path / "a", 0.0, seed=1, out_dir=tmp_path / "b")
    assert sum(mutation.changed.values()) == sum(mutation.added.values()) == 0
    for name in (*FILE_NAMES.values(), "ground_truth.csv", "true_customers.parquet"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_the_next_day_is_deterministic_and_can_follow_another(tmp_path: Path) -> None:
    generate_sample(tmp_path / "a", customers=200, seed=2)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    for folder in ("a", "b"):
        first = mutate_sample(tmp_path / folder, 0.03, seed=5)
        second = mutate_sample(tmp_path / folder, 0.03, seed=6)
    assert second.as_of > first.as_of
    for name in (*FILE_NAMES.values(), "ground_truth.csv", "sample.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_bad_requests_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(GoldenError, match="fraction must lie between 0 and 1"):
        mutate_sample(tmp_path, 1.5, seed=1)
    with pytest.raises(GoldenError, match=r"sample\.json does not exist"):
        mutate_sample(tmp_path, 0.1, seed=1)
    generate_sample(tmp_path, customers=60, seed=1)
    crm = tmp_path / "crm.csv"
    lines = crm.read_text(encoding="utf-8").splitlines(keepends=True)
    crm.write_text("".join(lines[:-1]), encoding="utf-8")  # someone deleted a record by hand
    with pytest.raises(GoldenError, match=r"crm\.csv no longer matches .*ground_truth\.csv"):
        mutate_sample(tmp_path, 0.1, seed=1)
