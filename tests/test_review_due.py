"""``review_due``: each reason found on published data, ``since`` kept across refreshes,
steward confirmations clearing rows (audited), the CLI, publish carrying the table, erasure."""

from __future__ import annotations

import random
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from matching.ids import GoldenIdFactory
from pipelines.audit import audit_table
from pipelines.cli import app
from pipelines.config import load_config
from pipelines.golden import build_golden
from pipelines.privacy.erase import scrub_review_state
from pipelines.publish import publish, read_table
from pipelines.review_due.compute import compute_review_due, is_due, refresh_review_due
from pipelines.review_due.confirmations import confirm
from pipelines.schema import staged_schema
from pipelines.warehouse import Warehouse

RUNS = ["20250301T000000Z-aaa001", "20250302T000000Z-aaa002"]
LATER = datetime(2025, 6, 1, tzinfo=UTC)

ROWS: list[dict[str, Any]] = [
    # Ann: two sources disagree on her email; the crm record was last updated long ago.
    {"record_key": "crm:1", "first_name": "Ann", "email": "ann@x.com",
     "source_updated_at": datetime(2021, 1, 1, tzinfo=UTC)},
    {"record_key": "web:7", "first_name": "Ann", "email": "ann@web.org",
     "source_updated_at": datetime(2025, 2, 1, tzinfo=UTC)},
    # A placeholder email; a phone that never standardises.
    {"record_key": "crm:2", "first_name": "Bo", "email": "test@example.com",
     "source_updated_at": datetime(2025, 2, 1, tzinfo=UTC)},
    {"record_key": "crm:3", "first_name": "Cy", "invalid_fields": ["phone"],
     "source_updated_at": datetime(2025, 2, 1, tzinfo=UTC)},
]  # fmt: skip
GROUPS = [["crm:1", "web:7"], ["crm:2"], ["crm:3"]]


def _prepare(warehouse: Warehouse, run_id: str, groups: list[list[str]] = GROUPS) -> None:
    filled = []
    for row in ROWS:
        source, record_id = row["record_key"].split(":")
        base: dict[str, Any] = dict.fromkeys(staged_schema().names)
        base.update(
            source_system=source,
            source_record_id=record_id,
            batch_id="b",
            ingested_at=datetime(2025, 1, 1, tzinfo=UTC),
            trust_rank=1,
            invalid_fields=[],
        )
        base.update(row)
        filled.append(base)
    path = warehouse.staged_accepted(run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(filled, schema=staged_schema()), path)
    clusters = pl.DataFrame(
        [(k, f"c{i}", None) for i, keys in enumerate(groups) for k in keys],
        schema={"record_key": pl.String, "cluster_id": pl.String, "match_probability": pl.Float64},
        orient="row",
    )
    target = warehouse.match_dir(run_id) / "clusters.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    clusters.write_parquet(target)


@pytest.fixture(scope="module")
def published_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two runs built and published once; each test gets its own copy."""
    root = tmp_path_factory.mktemp("review")
    path = root / "config.yaml"
    path.write_text(
        "warehouse:\n  path: warehouse\n"
        "sources:\n"
        "  - {name: crm, kind: file, path: crm.csv, id_column: id, mapping: {email: e}}\n"
        "  - {name: web, kind: file, path: web.csv, id_column: id, mapping: {email: e}}\n"
        "review_due:\n  invalid_contact_runs: 2\n  stale_after_days_by_source: {web: 10000}\n"
    )
    config = load_config(path)
    warehouse = Warehouse(config.warehouse.path)
    for number, run_id in enumerate(RUNS):
        _prepare(warehouse, run_id)
        build_golden(config, run_id, id_factory=GoldenIdFactory(rng=random.Random(number)))
        publish(config, run_id)
    return root


@pytest.fixture
def config_path(published_root: Path, tmp_path: Path) -> Path:
    root = tmp_path / "copy"
    shutil.copytree(published_root, root, symlinks=True)
    return root / "config.yaml"


def reasons(due: pl.DataFrame) -> set[tuple[str | None, str, str | None]]:
    return {(r["record_key"], r["reason"], r["field"]) for r in due.iter_rows(named=True)}


def test_every_reason_is_found_with_its_priority(config_path: Path) -> None:
    config = load_config(config_path)
    due = compute_review_due(Warehouse(config.warehouse.path), config.review_due, LATER)
    assert reasons(due) == {
        (None, "conflicting_sources", "email"),
        (None, "placeholder_value", "email"),
        ("crm:3", "invalid_contact", "phone"),
        ("crm:1", "stale", None),  # web's limit is longer; the others are recent
    }
    assert due["priority"].to_list() == sorted(due["priority"].to_list())
    stale = due.filter(pl.col("reason") == "stale")
    assert stale["since"].item() == datetime(2023, 1, 1, tzinfo=UTC)  # 730 days after the update
    assert due["run_id"].unique().to_list() == [RUNS[1]]
    assert not due["detail"].str.contains("@").any(), "details never carry record values"


def test_a_confirmation_clears_rows_and_is_audited_and_since_is_kept(config_path: Path) -> None:
    config = load_config(config_path)
    warehouse = Warehouse(config.warehouse.path)
    first = refresh_review_due(warehouse.root, config.review_due, LATER)
    assert first.rows == 4
    assert not is_due(warehouse.root, config.review_due, LATER)
    assert is_due(warehouse.root, config.review_due, datetime(2025, 9, 1, tzinfo=UTC))
    later = datetime(2025, 7, 1, tzinfo=UTC)
    confirm(warehouse, "crm:1", "called the customer", actor="steward-1")
    again = refresh_review_due(warehouse.root, config.review_due, later)
    due = pl.read_parquet(warehouse.state / "review" / "review_due.parquet")
    assert ("crm:1", "stale", None) not in reasons(due)
    assert again.rows == 3
    # A row found at the first refresh keeps that refresh as its 'since'.
    placeholder = due.filter(pl.col("reason") == "placeholder_value")
    assert placeholder["since"].item() == LATER
    audit = audit_table(warehouse.root).to_pylist()
    assert any(
        e["action"] == "review.confirm" and e["target"] == "crm:1" and e["actor"] == "steward-1"
        for e in audit
    )


def test_the_cli_lists_due_rows_and_confirms_known_targets_only(config_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["review", "due", "--refresh", "--config", str(config_path)])
    assert listed.exit_code == 0, listed.output
    assert "conflicting_sources" in listed.output and "crm:3" in listed.output
    unknown = runner.invoke(
        app, ["review", "confirm", "crm:999", "--reason", "x", "--config", str(config_path)]
    )
    assert unknown.exit_code != 0 and "crm:999" in str(unknown.exception or unknown.output)
    done = runner.invoke(
        app,
        ["review", "confirm", "crm:3", "--reason", "phone checked", "--config", str(config_path)],
    )
    assert done.exit_code == 0, done.output
    assert "1 review_due row(s) cleared" in done.output
    after = runner.invoke(app, ["review", "due", "--config", str(config_path)])
    assert "crm:3" not in after.output


def test_publish_carries_the_last_refresh_and_erasure_removes_the_subject(
    config_path: Path,
) -> None:
    config = load_config(config_path)
    warehouse = Warehouse(config.warehouse.path)
    empty = read_table(warehouse.root, "review_due")
    assert empty.num_rows == 0  # never refreshed: published empty
    refresh_review_due(warehouse.root, config.review_due, LATER)
    _prepare(warehouse, "20250303T000000Z-aaa003")
    build_golden(
        config, "20250303T000000Z-aaa003", id_factory=GoldenIdFactory(rng=random.Random(7))
    )
    publish(config, "20250303T000000Z-aaa003")
    published = pl.from_arrow(read_table(warehouse.root, "review_due"))
    assert isinstance(published, pl.DataFrame) and published.height == 4
    confirm(warehouse, "crm:3", "checked")
    scrub_review_state(warehouse, {"crm:3"}, set())
    stored = pl.read_parquet(warehouse.state / "review" / "review_due.parquet")
    assert "crm:3" not in stored["record_key"].to_list()
    text = (warehouse.state / "review" / "confirmations.jsonl").read_text()
    assert "crm:3" not in text


def test_an_unknown_source_in_the_review_config_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "sources:\n  - {name: crm, kind: file, path: crm.csv, id_column: id, mapping: {email: e}}\n"
        "review_due:\n  stale_after_days_by_source: {shop: 30}\n"
    )
    with pytest.raises(Exception, match="shop"):
        load_config(path)


# --- absorbed ids still sent by a source ---------------------------------------------------------
MERGE_RUNS = ["20250301T000000Z-bbb001", "20250402T000000Z-bbb002"]


@pytest.fixture
def merged_config(tmp_path: Path) -> Path:
    """Ann's two records are two customers in the first run and one in the second: one of
    her two golden ids is absorbed. The crm system keeps golden ids in its ``mdm_ref``."""
    path = tmp_path / "config.yaml"
    path.write_text(
        "warehouse:\n  path: warehouse\n"
        "sources:\n"
        "  - {name: crm, kind: file, path: crm.csv, id_column: id, mapping: {email: e}}\n"
        "  - {name: web, kind: file, path: web.csv, id_column: id, mapping: {email: e}}\n"
        "review_due:\n  golden_id_columns: {crm: mdm_ref}\n"
    )
    config = load_config(path)
    warehouse = Warehouse(config.warehouse.path)
    split = [["crm:1"], ["web:7"], ["crm:2"], ["crm:3"]]
    for number, (run_id, groups) in enumerate(zip(MERGE_RUNS, [split, GROUPS], strict=True)):
        _prepare(warehouse, run_id, groups)
        build_golden(config, run_id, id_factory=GoldenIdFactory(rng=random.Random(number)))
        publish(config, run_id)
    return path


def _crm_holds(warehouse: Warehouse, held: dict[str, str | None]) -> None:
    """The crm source's current records of the published run, with what ``mdm_ref`` holds."""
    path = warehouse.current_records(MERGE_RUNS[1], "crm")
    path.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(
        {
            "source_record_id": list(held),
            "mdm_ref": list(held.values()),
            "batch_id": ["b"] * len(held),
        }
    ).write_parquet(path)


def test_a_source_still_sending_an_absorbed_golden_id_is_due_until_confirmed(
    merged_config: Path,
) -> None:
    config = load_config(merged_config)
    warehouse = Warehouse(config.warehouse.path)
    aliases = pl.from_arrow(read_table(warehouse.root, "golden_id_aliases"))
    ((absorbed, carrier),) = (
        aliases.filter(pl.col("status") == "merged").select("golden_id", "current_golden_id").rows()
    )
    xref = pl.from_arrow(read_table(warehouse.root, "customer_xref"))
    own = dict(xref.select("record_key", "golden_id").iter_rows())
    _crm_holds(
        warehouse,
        # crm:1 still holds the absorbed id (with stray spaces); crm:2 holds its own, active
        # id; crm:3 holds nothing.
        {"1": f" {absorbed} ", "2": own["crm:2"], "3": "  "},
    )
    due = compute_review_due(warehouse, config.review_due, LATER)
    sent = due.filter(pl.col("reason") == "absorbed_id_sent")
    assert sent.select("record_key", "golden_id", "source_system", "field", "priority").rows() == [
        ("crm:1", own["crm:1"], "crm", "mdm_ref", 2)
    ]
    assert own["crm:1"] == carrier
    assert (
        sent["detail"].item() == f"holds {absorbed}, merged into {carrier} in run {MERGE_RUNS[1]}"
    )
    assert sent["since"].item() == datetime(2025, 4, 2, tzinfo=UTC)  # the merge run's start

    refresh_review_due(warehouse.root, config.review_due, LATER)
    confirm(warehouse, "crm:1", "crm team told of the merge", actor="steward-1")
    again = refresh_review_due(warehouse.root, config.review_due, datetime(2025, 7, 1, tzinfo=UTC))
    assert "absorbed_id_sent" not in again.by_reason


def test_absorbed_ids_are_judged_only_for_sources_with_a_golden_id_column(
    merged_config: Path,
) -> None:
    config = load_config(merged_config, {"review_due.golden_id_columns": {}})
    due = compute_review_due(Warehouse(config.warehouse.path), config.review_due, LATER)
    assert "absorbed_id_sent" not in due["reason"].to_list()


def test_a_golden_id_column_the_source_does_not_send_is_a_clear_error(
    merged_config: Path,
) -> None:
    from pipelines.errors import StageInputError

    config = load_config(merged_config)
    warehouse = Warehouse(config.warehouse.path)
    with pytest.raises(StageInputError, match="current records of source 'crm'"):
        compute_review_due(warehouse, config.review_due, LATER)
    path = warehouse.current_records(MERGE_RUNS[1], "crm")
    path.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame({"source_record_id": ["1"], "customer_ref": ["G-1"]}).write_parquet(path)
    with pytest.raises(
        StageInputError, match=r"review_due.golden_id_columns.crm: .* no column 'mdm_ref'"
    ):
        compute_review_due(warehouse, config.review_due, LATER)


def test_a_golden_id_column_of_an_unknown_source_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "sources:\n  - {name: crm, kind: file, path: crm.csv, id_column: id, mapping: {email: e}}\n"
        "review_due:\n  golden_id_columns: {shop: mdm_ref}\n"
    )
    with pytest.raises(Exception, match=r"review_due.golden_id_columns names unknown .*shop"):
        load_config(path)
