"""``golden review``: the queue most uncertain first, decisions recorded, listed and revoked."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from matching.decisions import DecisionStore
from pipelines.cli import app
from pipelines.errors import GoldenError
from pipelines.warehouse import Warehouse

RUN = "20250301T000000Z-aaaaaa"
OLDER = "20250201T000000Z-bbbbbb"


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    warehouse = tmp_path / "warehouse"
    path = tmp_path / "config.yaml"
    path.write_text(
        "warehouse:\n  path: warehouse\n"
        "sources:\n  - {name: crm, kind: file, path: crm.csv, id_column: id, mapping: {email: e}}\n"
    )
    wh = Warehouse(warehouse)
    queue = pl.DataFrame(
        {
            "record_key_l": ["crm:1", "crm:3", "crm:5"],
            "record_key_r": ["web:2", "web:4", "web:6"],
            "match_probability": [0.88, 0.52, 0.31],
            "match_weight": [2.9, 0.1, -1.1],
            "weights": [
                json.dumps({"email": 6.5, "dob": -3.0}),
                json.dumps({"first_name": 2.0, "postcode": -4.2}),
                None,
            ],
            "first_name_l": ["Ann", "Robert", "Kim"],
            "first_name_r": ["Anne", "Bob", "Kim"],
            "email_l": ["ann@x.com", None, "kim@x.com"],
            "email_r": ["ann@x.com", None, None],
        }
    )
    for run_id, rows in ((OLDER, queue.head(1)), (RUN, queue)):
        target = wh.match_dir(run_id) / "review_queue.parquet"
        target.parent.mkdir(parents=True)
        rows.write_parquet(target)
        staged = wh.staged_accepted(run_id)
        staged.parent.mkdir(parents=True)
        keys = [*queue["record_key_l"], *queue["record_key_r"]]
        pl.DataFrame({"record_key": keys}).write_parquet(staged)
    return path


def golden(*args: str, config: Path) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(app, [*args, "--config", str(config)], catch_exceptions=True)
    return result.exit_code, result.output, result.exception


def test_list_shows_the_latest_queue_most_uncertain_first_side_by_side(config_path: Path) -> None:
    code, out, _ = golden("review", "list", config=config_path)
    assert code == 0, out
    assert f"review queue of run {RUN}: 3 pair(s), 3 undecided" in out
    order = [out.index(k) for k in ("crm:3", "crm:5", "crm:1")]  # |p - 0.5|: .02, .19, .38
    assert order == sorted(order)
    assert "Robert" in out and "Bob" in out
    assert "postcode -4.2, first_name +2.0" in out  # strongest evidence first
    assert "golden review decide --left crm:3 --right web:4" in out
    code, out, _ = golden("review", "list", "--limit", "1", config=config_path)
    assert "crm:1" not in out and "2 more" in out


def test_decide_records_links_that_then_leave_the_queue(config_path: Path) -> None:
    code, out, _ = golden(
        "review",
        "decide",
        "--left",
        "crm:3",
        "--right",
        "web:4",
        "--link",
        "--reason",
        "same customer number",
        "--actor",
        "ana",
        config=config_path,
    )
    assert code == 0, out
    assert "must_link crm:3 ~ web:4" in out
    code, out, _ = golden(
        "review",
        "decide",
        "--left",
        "web:6",
        "--right",
        "crm:5",
        "--no-link",
        "--reason",
        "different birth dates",
        "--actor",
        "ana",
        config=config_path,
    )
    assert code == 0, out
    store = DecisionStore(Warehouse(config_path.parent / "warehouse").decisions)
    assert store.links() == ([("crm:3", "web:4")], [("crm:5", "web:6")])
    assert {d.actor for d in store.active()} == {"ana"}

    code, out, _ = golden("review", "list", config=config_path)
    assert "3 pair(s), 1 undecided" in out and "crm:3" not in out
    code, out, _ = golden("review", "list", "--all", config=config_path)
    assert "[decided: must_link]" in out


def test_decide_refuses_unknown_record_keys(config_path: Path) -> None:
    code, _, exc = golden(
        "review",
        "decide",
        "--left",
        "crm:3",
        "--right",
        "web:404",
        "--link",
        "--reason",
        "r",
        config=config_path,
    )
    assert code != 0 and isinstance(exc, GoldenError)
    assert "['web:404'] are not among the accepted records" in str(exc)


def test_decisions_lists_active_ones_and_revoke_withdraws_them(config_path: Path) -> None:
    store = DecisionStore(Warehouse(config_path.parent / "warehouse").decisions)
    link = store.add_cannot_link("crm:1", "web:2", "ana", "twins")
    code, out, _ = golden("review", "decisions", config=config_path)
    assert code == 0 and link.decision_id in out and "cannot_link crm:1 ~ web:2 — twins" in out

    code, out, _ = golden(
        "review",
        "revoke",
        link.decision_id,
        "--reason",
        "not twins",
        "--actor",
        "bo",
        config=config_path,
    )
    assert code == 0, out
    assert f"revoked {link.decision_id}" in out
    code, out, _ = golden("review", "decisions", config=config_path)
    assert "no active decisions" in out
    code, out, _ = golden("review", "decisions", "--history", config=config_path)
    assert f"revoke {link.decision_id}" in out
    code, _, exc = golden("review", "revoke", link.decision_id, "--reason", "x", config=config_path)
    assert code != 0 and "already revoked" in str(exc)


def _publish_registry(config_path: Path) -> None:
    wh = Warehouse(config_path.parent / "warehouse")
    wh.state.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(
        {
            "record_key": ["crm:1", "web:2"],
            "golden_id": ["G-AAA", "G-AAA"],
            "run_id": [RUN, RUN],
            "first_run_id": [RUN, RUN],
            "absorbed_ids": [["G-OLD"], ["G-OLD"]],
        }
    ).write_parquet(wh.id_registry)


def test_pin_checks_the_id_field_and_value_before_recording(config_path: Path) -> None:
    args = ("review", "pin", "--golden-id", "G-AAA", "--reason", "customer called")
    code, _, exc = golden(*args, "--field", "email", "--value", "k@x.com", config=config_path)
    assert "no golden ids are published yet" in str(exc)
    _publish_registry(config_path)
    cases = [
        (("--field", "shoe_size", "--value", "9"), "'shoe_size' is not a golden field"),
        (("--field", "date_of_birth", "--value", "03/02/1990"), "not a YYYY-MM-DD date"),
        (("--field", "phone", "--value", "020 7946 0000"), "use E.164"),
        (("--field", "email", "--value", "not-an-email"), "email 'not-an-email' is not valid"),
    ]
    for extra, message in cases:
        code, _, exc = golden(*args, *extra, config=config_path)
        assert code != 0 and message in str(exc), (extra, exc)
    code, _, exc = golden(
        "review",
        "pin",
        "--golden-id",
        "G-OLD",
        "--field",
        "city",
        "--value",
        "Leeds",
        "--reason",
        "r",
        config=config_path,
    )
    assert "G-OLD was merged into G-AAA: pin G-AAA instead" in str(exc)
    code, _, exc = golden(
        "review",
        "pin",
        "--golden-id",
        "G-NOPE",
        "--field",
        "city",
        "--value",
        "Leeds",
        "--reason",
        "r",
        config=config_path,
    )
    assert "G-NOPE is not in the published registry" in str(exc)

    code, out, _ = golden(
        *args, "--field", "email", "--value", "Kim@Example.COM", config=config_path
    )
    assert code == 0, out
    code, out, _ = golden(
        *args, "--field", "email", "--value", "kim@example.org", config=config_path
    )
    assert "supersedes" in out
    pins = DecisionStore(Warehouse(config_path.parent / "warehouse").decisions).pins()
    assert [(p.golden_id, p.field, p.value) for p in pins] == [
        ("G-AAA", "email", "Kim@example.com"),
        ("G-AAA", "email", "kim@example.org"),
    ]


def test_list_without_any_match_run_says_what_to_run(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "warehouse:\n  path: warehouse\n"
        "sources:\n  - {name: crm, kind: file, path: crm.csv, id_column: id, mapping: {email: e}}\n"
    )
    code, _, exc = golden("review", "list", config=path)
    assert code != 0 and "up to the 'match' stage" in str(exc)


def test_suggest_offers_the_ranked_pairs_and_a_decision_on_one_is_an_audited_label(
    config_path: Path,
) -> None:
    wh = Warehouse(config_path.parent / "warehouse")
    pl.DataFrame(
        {
            "rank": [1, 2, 3],
            "record_key_l": ["crm:5", "crm:1", "crm:3"],
            "record_key_r": ["web:6", "web:2", "web:4"],
            "match_probability": [0.31, 0.88, 0.52],
            "match_weight": [-1.1, 2.9, 0.1],
            "weights": [json.dumps({"first_name": 3.0}), None, None],
            "suggested_because": ["just below the review band", "review band", "review band"],
            "pattern": ["first_name=4", "first_name=2", "first_name=1"],
            "first_name_l": ["Kim", "Ann", "Robert"],
            "first_name_r": ["Kim", "Anne", "Bob"],
        }
    ).write_parquet(wh.match_dir(RUN) / "training_pairs.parquet")
    code, out, _ = golden("review", "suggest", "-n", "2", config=config_path)
    assert code == 0, out
    assert "3 undecided of 3 suggested" in out
    assert out.index("crm:5") < out.index("crm:1") and "crm:3" not in out.split("more")[0]
    assert "just below the review band" in out and "1 more" in out

    code, out, _ = golden(
        "review", "decide", "--left", "web:6", "--right", "crm:5", "--link",
        "--reason", "same person, birth date re-keyed", "--actor", "alice",
        config=config_path,
    )  # fmt: skip
    assert code == 0, out
    assert DecisionStore(wh.decisions).links()[0] == [("crm:5", "web:6")]
    audit = wh.audit_log
    assert "decision.must_link" in audit.read_text() and "alice" in audit.read_text()
    code, out, _ = golden("review", "suggest", config=config_path)
    assert "2 undecided of 3 suggested" in out and "crm:5" not in out


def test_review_commands_speak_the_configs_language(config_path: Path) -> None:
    config_path.write_text(config_path.read_text() + "language: zh_CN\n")
    code, out, _ = golden("review", "list", config=config_path)
    assert code == 0, out
    assert f"运行 {RUN} 的审核队列：3 对，3 对未决定；最不确定的在前" in out
    assert "  决定：golden review decide --left crm:3 --right web:4" in out
    assert "review queue of run" not in out
    code, out, _ = golden(
        "review", "decide", "--left", "crm:3", "--right", "web:4", "--no-link",
        "--reason", "不同的人", "--actor", "ana", config=config_path,
    )  # fmt: skip
    assert code == 0, out
    assert "：不得关联 crm:3 ~ web:4（从下一次运行起生效）" in out
    code, out, _ = golden("review", "list", "--all", config=config_path)
    assert "[已决定：不得关联]" in out
    code, out, _ = golden("review", "decisions", config=config_path)
    assert "不得关联 crm:3 ~ web:4 — 不同的人" in out
