"""The audit trail: durable appends, who acted, damage reported by line, published as a table,
and recorded by runs, publishes and steward decisions."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from pipelines import audit
from pipelines.audit import AuditLogError, actor_name, read_audit, record
from pipelines.cli import app
from pipelines.config import PipelineConfig
from pipelines.errors import GoldenError
from pipelines.orchestrate import finish_run, run_stage
from pipelines.publish import publish, read_table
from pipelines.publish.synthetic import write_synthetic_run
from pipelines.warehouse import Warehouse

RUN = "20250301T000000Z-aaaaaa"


def make_config(root: Path) -> PipelineConfig:
    return PipelineConfig.model_validate(
        {
            "warehouse": {"path": str(root)},
            "sources": [
                {
                    "name": "crm",
                    "kind": "file",
                    "path": "crm.csv",
                    "id_column": "id",
                    "mapping": {"email": "e"},
                }
            ],
            "backup": {"enabled": False},
        }
    )


def test_events_are_appended_in_order_with_who_what_why(warehouse_dir: Path) -> None:
    record(warehouse_dir, "alice", "export", "subject:ab12", {"records": 3}, "access request")
    record(warehouse_dir, "bob", "decision.pin", "D-1", {"field": "email"}, "customer called")

    events = read_audit(warehouse_dir)
    assert [(e.actor, e.action, e.target, e.reason) for e in events] == [
        ("alice", "export", "subject:ab12", "access request"),
        ("bob", "decision.pin", "D-1", "customer called"),
    ]
    assert events[0].details == {"records": 3}
    assert events[0].at <= events[1].at and events[0].at.utcoffset().total_seconds() == 0
    lines = Warehouse(warehouse_dir).audit_log.read_text().splitlines()
    assert [json.loads(line)["action"] for line in lines] == ["export", "decision.pin"]


def test_actor_is_explicit_then_environment_then_os_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOLDEN_ACTOR", "airflow-worker")
    assert actor_name("dpo@example.com") == "dpo@example.com"
    assert actor_name(None) == "airflow-worker"
    monkeypatch.delenv("GOLDEN_ACTOR")
    monkeypatch.setattr(audit.getpass, "getuser", lambda: "os-user")
    assert actor_name(None) == "os-user"
    assert actor_name("  ") == "os-user"


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("not json at all", "line 2"),
        (json.dumps({"actor": "x", "action": "export", "target": "t"}), "line 2: at"),
        (
            json.dumps({"at": "2025-01-01T00:00:00", "actor": "x", "action": "e", "target": "t"}),
            "time zone",
        ),
        (
            json.dumps(
                {"at": "2025-01-01T00:00:00Z", "actor": "x", "action": "Bad Action", "target": "t"}
            ),
            "not an action name",
        ),
    ],
    ids=["garbage", "missing-time", "naive-time", "bad-action"],
)
def test_a_damaged_line_is_reported_with_its_number(
    warehouse_dir: Path, bad_line: str, message: str
) -> None:
    record(warehouse_dir, "alice", "export", "subject:1")
    with Warehouse(warehouse_dir).audit_log.open("a") as log:
        log.write(bad_line + "\n")
    record(warehouse_dir, "alice", "export", "subject:2")
    with pytest.raises(AuditLogError, match=message) as caught:
        read_audit(warehouse_dir)
    assert str(Warehouse(warehouse_dir).audit_log) in str(caught.value)


def test_a_torn_last_line_is_kept_apart_not_glued_to_the_next_event(warehouse_dir: Path) -> None:
    record(warehouse_dir, "alice", "export", "subject:1")
    path = Warehouse(warehouse_dir).audit_log
    with path.open("a") as log:
        log.write('{"at": "2025-01-01T00:00:00Z", "actor": "ali')  # a crash mid-append
    record(warehouse_dir, "bob", "export", "subject:2")

    lines = path.read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[2])["actor"] == "bob"
    with pytest.raises(AuditLogError, match="line 2"):
        read_audit(warehouse_dir)


def _append_many(root: str, worker: int) -> None:
    for index in range(40):
        record(root, f"worker-{worker}", "export", f"subject:{worker}-{index}", {"pad": "x" * 300})


def test_concurrent_writers_never_interleave_lines(warehouse_dir: Path) -> None:
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_many, args=(str(warehouse_dir), n)) for n in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    events = read_audit(warehouse_dir)
    assert len(events) == 160
    assert len({e.target for e in events}) == 160


def test_the_trail_is_published_as_the_audit_log_table(warehouse_dir: Path) -> None:
    config = make_config(warehouse_dir)
    record(warehouse_dir, "alice", "export", "subject:ab12", {"records": 3}, "access request")
    write_synthetic_run(Warehouse(warehouse_dir), RUN, 20)
    publish(config, RUN)

    table = pl.from_arrow(read_table(warehouse_dir, "audit_log"))
    assert table.select("actor", "action", "target", "reason").rows() == [
        ("alice", "export", "subject:ab12", "access request")
    ]
    assert json.loads(table["details"][0]) == {"records": 3}


def test_a_damaged_trail_stops_publishing_with_the_line_named(warehouse_dir: Path) -> None:
    config = make_config(warehouse_dir)
    record(warehouse_dir, "alice", "export", "subject:ab12")
    with Warehouse(warehouse_dir).audit_log.open("a") as log:
        log.write("{oops\n")
    write_synthetic_run(Warehouse(warehouse_dir), RUN, 20)
    with pytest.raises(GoldenError, match=r"audit.jsonl has 1 line\(s\).*line 2"):
        publish(config, RUN)


def test_runs_and_publishes_are_audited_by_the_orchestrator(
    warehouse_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOLDEN_ACTOR", "scheduler")
    config = make_config(warehouse_dir)
    write_synthetic_run(Warehouse(warehouse_dir), RUN, 20)
    run_stage("publish", config, RUN)
    run_stage("publish", config, RUN)  # a retried task: the run starts once
    finish_run(config, RUN)

    events = read_audit(warehouse_dir)
    assert [(e.action, e.target, e.actor) for e in events] == [
        ("run.start", RUN, "scheduler"),
        ("publish", RUN, "scheduler"),
        ("publish", RUN, "scheduler"),
        ("run.finish", RUN, "scheduler"),
    ]
    assert events[1].details["tables"]["golden_customers"] == 16
    assert events[-1].details["status"] == "succeeded"


@pytest.fixture
def review_config(tmp_path: Path) -> Path:
    """A warehouse with accepted records and a published registry, for steward commands."""
    path = tmp_path / "config.yaml"
    path.write_text(
        "warehouse:\n  path: warehouse\n"
        "sources:\n  - {name: crm, kind: file, path: crm.csv, id_column: id, mapping: {email: e}}\n"
    )
    wh = Warehouse(tmp_path / "warehouse")
    staged = wh.staged_accepted(RUN)
    staged.parent.mkdir(parents=True)
    pl.DataFrame({"record_key": ["crm:1", "crm:2"]}).write_parquet(staged)
    wh.state.mkdir(parents=True)
    pl.DataFrame(
        {"record_key": ["crm:1", "crm:2"], "golden_id": ["G-AAA", "G-BBB"], "run_id": [RUN, RUN]}
    ).write_parquet(wh.id_registry)
    return path


def test_steward_decisions_are_audited_and_a_pin_without_its_value(review_config: Path) -> None:
    runner = CliRunner()

    def golden(*args: str) -> str:
        result = runner.invoke(app, [*args, "--config", str(review_config)])
        assert result.exit_code == 0, result.output
        return result.output

    golden(
        "review", "decide", "--left", "crm:1", "--right", "crm:2", "--no-link", "--reason", "twins"
    )
    golden(
        "review",
        "pin",
        "--golden-id",
        "G-AAA",
        "--field",
        "email",
        "--value",
        "ann@example.com",
        "--reason",
        "rectification: customer called",
        "--actor",
        "carol",
    )
    listed = golden("review", "decisions")
    first = listed.splitlines()[1].split()[0]
    golden("review", "revoke", first, "--reason", "wrong pair", "--actor", "dave")

    events = read_audit(review_config.parent / "warehouse")
    assert [e.action for e in events] == ["decision.cannot_link", "decision.pin", "decision.revoke"]
    pin = events[1]
    assert (pin.actor, pin.reason) == ("carol", "rectification: customer called")
    assert pin.details == {"golden_id": "G-AAA", "field": "email"}
    assert (
        "ann@example.com" not in Warehouse(review_config.parent / "warehouse").audit_log.read_text()
    )
    assert events[2].details == {"revokes": first} and events[2].actor == "dave"
    shown = golden("privacy", "audit", "--action", "decision.pin")
    assert "carol" in shown and "decision.pin" in shown and "cannot_link" not in shown
