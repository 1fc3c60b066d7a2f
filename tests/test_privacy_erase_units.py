"""Erasure's building blocks on small frames: naming a subject, finding their records, golden
records that lose one record, steward decisions, text artefacts."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from matching.decisions import DecisionStore
from pipelines.config import PipelineConfig
from pipelines.errors import PrivacyError
from pipelines.privacy.decisions import scrub_decisions
from pipelines.privacy.erase import ERASED, ValueScrubber, scrub_golden_folder, scrub_text_file
from pipelines.privacy.identifiers import parse_subject
from pipelines.privacy.subject import resolve_subject
from pipelines.profile.build import build_profile
from pipelines.profile.schema import customer_profile_schema
from pipelines.review_due.schema import review_due_schema
from pipelines.schema import (
    customer_xref_schema,
    golden_changes_schema,
    golden_customers_schema,
    golden_field_provenance_schema,
    staged_schema,
)
from pipelines.warehouse import Warehouse

RUN = "20250301T000000Z-aaaaaa"


@pytest.fixture
def config(warehouse_dir: Path) -> PipelineConfig:
    return PipelineConfig.model_validate(
        {
            "warehouse": {"path": str(warehouse_dir)},
            "sources": [
                {
                    "name": name,
                    "kind": "file",
                    "path": f"{name}.csv",
                    "id_column": "id",
                    "mapping": {"email": "email", "phone": "phone"},
                }
                for name in ("crm", "web")
            ],
        }
    )


def write_staged(config: PipelineConfig, rows: list[dict[str, Any]]) -> None:
    filled = []
    for row in rows:
        source, record_id = row["record_key"].split(":")
        base: dict[str, Any] = dict.fromkeys(staged_schema().names)
        base.update(
            source_system=source,
            source_record_id=record_id,
            batch_id=RUN,
            ingested_at=datetime(2025, 3, 1, tzinfo=UTC),
            trust_rank=1,
            invalid_fields=[],
        )
        base.update(row)
        filled.append(base)
    path = Warehouse(config.warehouse.path).staged(RUN)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(filled, schema=staged_schema()), path)


def write_registry(config: PipelineConfig, rows: list[tuple[str, str, list[str]]]) -> None:
    wh = Warehouse(config.warehouse.path)
    wh.state.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(
        {
            "record_key": [r[0] for r in rows],
            "golden_id": [r[1] for r in rows],
            "run_id": [RUN] * len(rows),
            "absorbed_ids": [r[2] for r in rows],
        },
        schema={
            "record_key": pl.String,
            "golden_id": pl.String,
            "run_id": pl.String,
            "absorbed_ids": pl.List(pl.String),
        },
    ).write_parquet(wh.id_registry)


@pytest.fixture
def household(config: PipelineConfig) -> PipelineConfig:
    """Two customers sharing a landline; one of them has two records and one old id."""
    write_staged(
        config,
        [
            {
                "record_key": "crm:1",
                "email": "ann.lee+x@gmail.com",
                "mk_email": "annlee@gmail.com",
                "phone": "+12125550100",
            },
            {"record_key": "web:7", "email": "annlee@gmail.com", "mk_email": "annlee@gmail.com"},
            {
                "record_key": "crm:2",
                "email": "bo@example.org",
                "mk_email": "bo@example.org",
                "phone": "+12125550100",
            },
        ],
    )
    write_registry(
        config,
        [("crm:1", "G-ANN", ["G-OLD"]), ("web:7", "G-ANN", ["G-OLD"]), ("crm:2", "G-BO", [])],
    )
    return config


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("G-ANN", "golden_id", "G-ANN"),
        ("crm:1", "record_key", "crm:1"),
        (" Ann.Lee+X@GMAIL.com ", "email", "ann.lee+x@gmail.com"),
        # an invalid address is held as typed (lower-cased), so it can be named as typed
        ("Ann@@X.com", "email", "ann@@x.com"),
        ("(212) 555-0100", "phone", "+12125550100"),
        ("+44 20 7946 0000", "phone", "+442079460000"),
    ],
)
def test_a_subject_is_read_in_any_usual_form(
    config: PipelineConfig, text: str, kind: str, value: str
) -> None:
    subject = parse_subject(config, text)
    assert (subject.kind, subject.value) == (kind, value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("hello there", "cannot tell what"),
        ("shop:1", "cannot tell what"),
        ("555-01", "not a valid phone number; give it in E.164"),
    ],
)
def test_an_unreadable_subject_is_refused_with_the_accepted_forms(
    config: PipelineConfig, text: str, message: str
) -> None:
    with pytest.raises(PrivacyError, match=message):
        parse_subject(config, text)


def test_an_email_finds_the_whole_customer_in_any_spelling(household: PipelineConfig) -> None:
    found = resolve_subject(household, parse_subject(household, "ANNLEE@googlemail.com"))
    assert (found.record_keys, found.golden_ids) == ({"crm:1", "web:7"}, {"G-ANN"})


def test_a_shared_phone_is_refused_unless_every_match_is_the_subject(
    household: PipelineConfig,
) -> None:
    subject = parse_subject(household, "+1 212 555 0100")
    with pytest.raises(PrivacyError, match=r"belongs to 2 different customers \(G-ANN, G-BO\)"):
        resolve_subject(household, subject)
    found = resolve_subject(household, subject, all_matches=True)
    assert found.record_keys == {"crm:1", "web:7", "crm:2"}


def test_an_absorbed_golden_id_names_its_survivor(household: PipelineConfig) -> None:
    found = resolve_subject(household, parse_subject(household, "G-OLD"))
    assert found.golden_ids == {"G-ANN"} and found.record_keys == {"crm:1", "web:7"}
    with pytest.raises(PrivacyError, match="G-NOPE is not in the published registry"):
        resolve_subject(household, parse_subject(household, "G-NOPE"))
    with pytest.raises(PrivacyError, match="no record 'crm:99'"):
        resolve_subject(household, parse_subject(household, "crm:99"))
    with pytest.raises(PrivacyError, match="nothing is held about this subject"):
        resolve_subject(household, parse_subject(household, "zed@example.org"))


def write_golden_folder(folder: Path) -> None:
    folder.mkdir(parents=True)
    ts = datetime(2025, 3, 1, tzinfo=UTC)
    customers = []
    for gid, count, systems in (("G-ANN", 2, ["crm", "web"]), ("G-BO", 1, ["crm"])):
        row: dict[str, Any] = dict.fromkeys(golden_customers_schema().names)
        row.update(
            golden_id=gid,
            source_record_count=count,
            source_systems=systems,
            first_seen_at=ts,
            last_updated_at=ts,
            run_id=RUN,
        )
        customers.append(row)
    customers[0].update(email="ann@x.com", city="Leeds", date_of_birth=date(1980, 1, 2))
    customers[1].update(email="bo@example.org", city="York")
    pq.write_table(
        pa.Table.from_pylist(customers, schema=golden_customers_schema()),
        folder / "golden_customers.parquet",
    )
    xref = [("crm", "1", "G-ANN"), ("web", "7", "G-ANN"), ("crm", "2", "G-BO")]
    pq.write_table(
        pa.Table.from_pylist(
            [
                {
                    "source_system": s,
                    "source_record_id": i,
                    "record_key": f"{s}:{i}",
                    "golden_id": g,
                    "match_probability": None,
                    "run_id": RUN,
                }
                for s, i, g in xref
            ],
            schema=customer_xref_schema(),
        ),
        folder / "customer_xref.parquet",
    )
    provenance = [
        ("G-ANN", "email", "crm", "1"),
        ("G-ANN", "date_of_birth", "crm", "1"),
        ("G-ANN", "city", "web", "7"),
        ("G-BO", "email", "crm", "2"),
        ("G-BO", "city", "crm", "2"),
    ]
    pq.write_table(
        pa.Table.from_pylist(
            [
                {
                    "golden_id": g,
                    "field": f,
                    "source_system": s,
                    "source_record_id": i,
                    "rule": "trust_rank",
                    "run_id": RUN,
                }
                for g, f, s, i in provenance
            ],
            schema=golden_field_provenance_schema(),
        ),
        folder / "golden_field_provenance.parquet",
    )
    pq.write_table(
        pa.Table.from_pylist(
            [
                {
                    "run_id": RUN,
                    "golden_id": g,
                    "change": "created",
                    "related_golden_ids": [],
                    "record_count": n,
                }
                for g, n in (("G-ANN", 2), ("G-BO", 1))
            ],
            schema=golden_changes_schema(),
        ),
        folder / "golden_changes.parquet",
    )


def test_a_customer_losing_one_record_loses_the_values_it_supplied(tmp_path: Path) -> None:
    folder = tmp_path / "golden"
    write_golden_folder(folder)
    schema_before = pq.read_schema(folder / "golden_customers.parquet")
    removed, touched = scrub_golden_folder(folder, pl.Series(["crm:1", "crm:2"]))

    customers = pl.read_parquet(folder / "golden_customers.parquet")
    assert customers["golden_id"].to_list() == ["G-ANN"], "G-BO lost its only record"
    ann = customers.row(0, named=True)
    assert (ann["email"], ann["date_of_birth"], ann["city"]) == (None, None, "Leeds")
    assert (ann["source_record_count"], ann["source_systems"]) == (1, ["web"])
    assert pq.read_schema(folder / "golden_customers.parquet") == schema_before
    assert pl.read_parquet(folder / "customer_xref.parquet")["record_key"].to_list() == ["web:7"]
    provenance = pl.read_parquet(folder / "golden_field_provenance.parquet")
    assert provenance.select("golden_id", "field").rows() == [("G-ANN", "city")]
    assert pl.read_parquet(folder / "golden_changes.parquet")["golden_id"].to_list() == ["G-ANN"]
    assert removed == 1 + 2 + 4 + 1 and touched == 4


def test_erasure_drops_the_customers_profile_and_every_review_due_row_naming_them(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "golden"
    write_golden_folder(folder)
    golden = pl.read_parquet(folder / "golden_customers.parquet")
    profile = build_profile(golden, RUN, datetime(2025, 3, 1, tzinfo=UTC))
    pq.write_table(
        profile.to_arrow().cast(customer_profile_schema()), folder / "customer_profile.parquet"
    )
    due = [
        ("G-ANN", None, "conflicting_sources", "email"),
        ("G-ANN", "crm:1", "stale", None),
        ("G-ANN", "web:7", "stale", None),
        ("G-BO", None, "placeholder_value", "email"),
        ("G-BO", "crm:2", "invalid_contact", "phone"),
    ]
    rows = [
        dict.fromkeys(review_due_schema().names)
        | {"golden_id": g, "record_key": k, "reason": r, "field": f, "run_id": RUN}
        for g, k, r, f in due
    ]
    pq.write_table(
        pa.Table.from_pylist(rows, schema=review_due_schema()), folder / "review_due.parquet"
    )

    scrub_golden_folder(folder, pl.Series(["crm:1", "crm:2"]))

    # G-BO lost its only record: gone from both; G-ANN keeps web:7, so its own rows stay.
    assert pl.read_parquet(folder / "customer_profile.parquet")["golden_id"].to_list() == ["G-ANN"]
    left = pl.read_parquet(folder / "review_due.parquet")
    assert left.select("golden_id", "record_key").rows() == [("G-ANN", None), ("G-ANN", "web:7")]
    assert pq.read_schema(folder / "review_due.parquet") == review_due_schema()


def test_decisions_about_erased_records_and_customers_go_with_their_revocations(
    warehouse_dir: Path,
) -> None:
    wh = Warehouse(warehouse_dir)
    store = DecisionStore(wh.decisions)
    link = store.add_must_link("crm:1", "web:7", "s", "same person")
    store.revoke(link.decision_id, "s", "changed my mind")
    store.add_pin("G-ANN", "email", "ann@x.com", "s", "customer called")
    store.add_pin("G-OLD", "city", "Leeds", "s", "old id")
    kept_link = store.add_cannot_link("crm:2", "web:9", "s", "different people")
    kept_pin = store.add_pin("G-BO", "city", "York", "s", "moved")

    removed = scrub_decisions(wh, frozenset({"crm:1"}), {"G-ANN", "G-OLD"})

    assert removed == 4
    remaining = DecisionStore(wh.decisions).history()
    assert [d.decision_id for d in remaining] == [kept_link.decision_id, kept_pin.decision_id]
    assert "ann@x.com" not in wh.decisions.read_text()
    later = store.add_must_link("crm:2", "web:8", "s", "after the erasure")
    assert DecisionStore(wh.decisions).history()[-1] == later
    assert not wh.decisions.with_name(".decisions.jsonl.erasing").exists()


def test_an_interrupted_decision_rewrite_is_finished_from_its_copy(warehouse_dir: Path) -> None:
    wh = Warehouse(warehouse_dir)
    store = DecisionStore(wh.decisions)
    store.add_must_link("crm:1", "web:7", "s", "same person")
    keep = store.add_must_link("crm:2", "web:9", "s", "same person")
    original = wh.decisions.read_text()
    wh.decisions.with_name(".decisions.jsonl.erasing").write_text(original)
    wh.decisions.write_text(original[: len(original) // 3])  # torn by a crash mid-rewrite

    assert scrub_decisions(wh, frozenset({"crm:1"}), set()) == 1
    assert [d.decision_id for d in DecisionStore(wh.decisions).history()] == [keep.decision_id]


def test_text_artefacts_lose_the_subjects_values_and_keep_the_rest(tmp_path: Path) -> None:
    report = tmp_path / "dq.json"
    report.write_text(
        json.dumps(
            {
                "expectations": [
                    {"column": "raw_email", "sample_values": ["ann@x.com", "bo@example.org"]},
                    {"reason": "email 'ANN@X.COM' is not deliverable"},
                ],
                "rows": 3,
            }
        )
    )
    page = tmp_path / "page.html"
    page.write_text("<td>O&#x27;Neil &amp; ann@x.com</td><td>bo@example.org</td>")
    values = ValueScrubber(["ann@x.com", "O'Neil & ann@x.com"])

    assert scrub_text_file(report, values) and scrub_text_file(page, values)
    cleaned = json.loads(report.read_text())
    assert cleaned["expectations"][0]["sample_values"] == [ERASED, "bo@example.org"]
    assert cleaned["expectations"][1]["reason"] == f"email '{ERASED}' is not deliverable"
    assert cleaned["rows"] == 3
    assert "ann@x.com" not in page.read_text() and "bo@example.org" in page.read_text()
    assert not scrub_text_file(report, values), "nothing left to change"


def test_many_values_are_found_by_their_words_and_only_whole_values_go() -> None:
    scrubber = ValueScrubber([f"user{i}@example.org" for i in range(50_000)] + ["1 King St"])
    texts = ["write to USER77@example.org today", "user77@example.net", "at 1 king st.", None]
    assert scrubber.candidates(texts) == ["user77@example.org", "1 King St"]
    assert scrubber.scrub(texts[:3]) == [
        f"write to {ERASED} today",
        "user77@example.net",
        f"at {ERASED}.",
    ]
    assert scrubber.hits(pl.Series(texts)).to_list() == [True, False, True, False]


def test_dq_sample_values_of_the_subject_are_scrubbed_in_a_published_version(
    tmp_path: Path,
) -> None:
    from pipelines.privacy.republish import _scrub_samples
    from pipelines.publish.tables import TABLES

    spec = TABLES["dq_results"]
    rows = [
        {
            "run_id": RUN,
            "suite": "crm",
            "rows_in": 3,
            "accepted": 2,
            "quarantined": 1,
            "sample_values": ["ann@x.com", "bo@example.org"],
        },
        {
            "run_id": RUN,
            "suite": "crm",
            "rows_in": 3,
            "accepted": 2,
            "quarantined": 1,
            "sample_values": [],
        },
        {
            "run_id": RUN,
            "suite": "crm",
            "rows_in": 3,
            "accepted": 2,
            "quarantined": 1,
            "sample_values": None,
        },
    ]
    path = tmp_path / "dq_results.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=spec.documented_schema()), path)
    schema = pq.read_schema(path)

    assert _scrub_samples(tmp_path, ValueScrubber(["ann@x.com"])) == 1
    assert pl.read_parquet(path)["sample_values"].to_list() == [
        [ERASED, "bo@example.org"],
        [],
        None,
    ]
    assert pq.read_schema(path).equals(schema, check_metadata=True)
    assert _scrub_samples(tmp_path, ValueScrubber(["ann@x.com"])) == 0


def test_caches_holding_everyones_values_without_keys_are_deleted_by_an_erasure(
    household: PipelineConfig,
) -> None:
    from pipelines.privacy.erase import ErasurePlan, erase_records

    match_dir = Warehouse(household.warehouse.path).match_dir(RUN)
    (match_dir / "tf").mkdir(parents=True)
    pl.DataFrame(
        {"email": ["ann.lee+x@gmail.com", "bo@example.org"], "tf_email": [0.5, 0.5]}
    ).write_parquet(match_dir / "tf" / "email.parquet")
    pl.DataFrame({"record_key": ["crm:1", "crm:2"], "feature_hash": [1, 2]}).write_parquet(
        match_dir / "features.parquet"
    )
    verdicts = (
        Warehouse(household.warehouse.path).accepted(RUN, "crm").with_name("row_verdicts.parquet")
    )
    verdicts.parent.mkdir(parents=True)
    pl.DataFrame(
        {"row_hash_a": [1, 2], "row_hash_b": [3, 4], "rule_7": [True, False]}
    ).write_parquet(verdicts)
    survivors = Warehouse(household.warehouse.path).golden_state(RUN)
    survivors.mkdir(parents=True)
    pl.DataFrame({"golden_id": ["G1"], "members": [2], "digest": [99]}).write_parquet(
        survivors / "survivors.parquet"
    )

    counts = erase_records(
        household, ErasurePlan(frozenset({"crm:1", "web:7"}), frozenset({"ann.lee+x@gmail.com"}))
    )

    assert not (match_dir / "tf").exists()
    assert not verdicts.exists()
    assert not survivors.exists()
    assert pl.read_parquet(match_dir / "features.parquet")["record_key"].to_list() == ["crm:2"]
    assert counts.run_files >= 4
