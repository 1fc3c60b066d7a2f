"""Steward decisions are durable, revocable, append-only, and damage is reported by line."""

from __future__ import annotations

import json
import multiprocessing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from matching.decisions import Decision, DecisionError, DecisionStore


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "decisions.jsonl"


def test_decisions_survive_a_new_store_instance_with_who_when_and_why(path: Path) -> None:
    at = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    store = DecisionStore(path, clock=lambda: at)
    must = store.add_must_link("crm:1", "web:2", "ana", "same passport number")
    cannot = store.add_cannot_link("crm:3", "crm:4", "ana", "twins")
    pin = store.add_pin("G-ABC", "email", "kim@example.com", "bo", "customer phoned in")

    reopened = DecisionStore(path)
    assert reopened.active() == [must, cannot, pin]
    assert reopened.links() == ([("crm:1", "web:2")], [("crm:3", "crm:4")])
    assert reopened.pins() == [pin]
    assert (pin.actor, pin.reason, pin.decided_at) == ("bo", "customer phoned in", at)
    lines = path.read_text().splitlines()
    assert [json.loads(line)["kind"] for line in lines] == ["must_link", "cannot_link", "pin"]
    assert set(json.loads(lines[0])) >= {
        "decision_id",
        "kind",
        "record_key_l",
        "record_key_r",
        "golden_id",
        "field",
        "value",
        "actor",
        "reason",
        "decided_at",
        "revokes",
    }


def test_links_have_no_direction(path: Path) -> None:
    store = DecisionStore(path)
    first = store.add_must_link("web:2", "crm:1", "ana", "same person")
    assert store.links() == ([("crm:1", "web:2")], [])
    assert store.add_must_link("crm:1", "web:2", "bo", "again") == first  # already recorded
    with pytest.raises(DecisionError, match=f"active must_link \\({first.decision_id}\\)"):
        store.add_cannot_link("crm:1", "web:2", "bo", "no, different people")


def test_revocation_removes_a_decision_from_the_active_view_but_keeps_history(path: Path) -> None:
    store = DecisionStore(path)
    link = store.add_cannot_link("crm:3", "crm:4", "ana", "twins")
    pin = store.add_pin("G-ABC", "city", "Leeds", "ana", "moved")
    revocation = store.revoke(link.decision_id, "bo", "one record was a data-entry error")
    assert revocation.kind == "revoke" and revocation.revokes == link.decision_id

    reopened = DecisionStore(path)
    assert reopened.active() == [pin]
    assert reopened.links() == ([], [])
    assert [d.decision_id for d in reopened.history()] == [
        link.decision_id,
        pin.decision_id,
        revocation.decision_id,
    ]
    # Once revoked, the opposite decision can be recorded.
    assert (
        reopened.add_must_link("crm:3", "crm:4", "bo", "same person after all").kind == "must_link"
    )
    with pytest.raises(DecisionError, match="already revoked"):
        reopened.revoke(link.decision_id, "bo", "twice")
    with pytest.raises(DecisionError, match="no decision 'D-nope'"):
        reopened.revoke("D-nope", "bo", "typo")
    with pytest.raises(DecisionError, match="itself a revocation"):
        reopened.revoke(revocation.decision_id, "bo", "undo")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(
            lambda s: s.add_must_link("crm:1", "crm:1", "a", "r"),
            "two different records",
            id="self-link",
        ),
        pytest.param(
            lambda s: s.add_must_link("crm:1", "crm:2", "a", "  "), "reason", id="no-reason"
        ),
        pytest.param(
            lambda s: s.add_cannot_link("crm:1", "crm:2", "", "r"), "actor", id="no-actor"
        ),
        pytest.param(lambda s: s.add_pin("G-1", "email", "", "a", "r"), "value", id="empty-pin"),
    ],
)
def test_incomplete_decisions_are_refused(path: Path, call, message: str) -> None:
    store = DecisionStore(path)
    with pytest.raises(DecisionError, match=message):
        call(store)
    assert store.history() == []


def test_a_corrupt_line_is_reported_with_its_number(path: Path) -> None:
    store = DecisionStore(path)
    store.add_must_link("crm:1", "web:2", "ana", "same person")
    with path.open("a") as handle:
        handle.write("{not json\n")
    with path.open("a") as handle:
        handle.write(
            json.dumps(
                {
                    "decision_id": "D-x",
                    "kind": "pin",
                    "actor": "a",
                    "reason": "r",
                    "decided_at": "2025-01-01T00:00:00Z",
                }
            )
            + "\n"
        )
    with pytest.raises(DecisionError, match=rf"{path} line 2 is not valid JSON"):
        DecisionStore(path).active()
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[2]]) + "\n")
    with pytest.raises(
        DecisionError, match=r"line 2 is not a valid decision .*golden_id, field, value"
    ):
        DecisionStore(path).active()


def test_a_revocation_of_an_unknown_decision_is_damage(path: Path) -> None:
    path.parent.mkdir(parents=True)
    line = {
        "decision_id": "D-r",
        "kind": "revoke",
        "revokes": "D-missing",
        "actor": "a",
        "reason": "r",
        "decided_at": "2025-01-01T00:00:00Z",
    }
    path.write_text(json.dumps(line) + "\n")
    with pytest.raises(DecisionError, match="line 1 revokes D-missing"):
        DecisionStore(path).active()


def test_a_torn_last_line_from_a_crashed_append_is_ignored_then_cut(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = DecisionStore(path)
    kept = store.add_must_link("crm:1", "web:2", "ana", "same person")
    with path.open("a") as handle:
        handle.write('{"decision_id": "D-torn", "kind": "pin", "gold')  # no newline: never acked
    assert store.active() == [kept]
    assert "torn last line" in caplog.text
    added = store.add_cannot_link("crm:5", "crm:6", "ana", "different people")
    assert DecisionStore(path).active() == [kept, added]
    assert "D-torn" not in path.read_text()


def test_unknown_keys_from_a_newer_writer_are_tolerated(path: Path) -> None:
    path.parent.mkdir(parents=True)
    line = {
        "decision_id": "D-1",
        "kind": "must_link",
        "record_key_l": "a:1",
        "record_key_r": "b:2",
        "actor": "a",
        "reason": "r",
        "decided_at": "2025-01-01T00:00:00+00:00",
        "ticket": "X-9",
    }
    path.write_text(json.dumps(line) + "\n")
    assert DecisionStore(path).links() == ([("a:1", "b:2")], [])


def test_decided_at_is_utc(path: Path) -> None:
    oslo = datetime(2025, 1, 1, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    decision = DecisionStore(path, clock=lambda: oslo).add_pin("G-1", "city", "Oslo", "a", "r")
    assert decision.decided_at == datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert decision.decided_at.utcoffset() == timedelta(0)
    assert json.loads(path.read_text())["decided_at"].endswith("Z")
    with pytest.raises(ValueError, match="time zone"):
        Decision(
            decision_id="D-1",
            kind="pin",
            golden_id="G",
            field="f",
            value="v",
            actor="a",
            reason="r",
            decided_at=datetime(2025, 1, 1),
        )


def _append_many(path: str, worker: int) -> None:
    store = DecisionStore(path)
    for i in range(15):
        store.add_must_link(f"w{worker}:{i}", f"x{worker}:{i}", f"worker{worker}", "load test")


def test_concurrent_writers_never_interleave_lines(path: Path) -> None:
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_append_many, args=(str(path), w)) for w in range(3)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=60)
        assert process.exitcode == 0
    history = DecisionStore(path).history()
    assert len(history) == 45
    assert len({d.decision_id for d in history}) == 45


def test_an_indirect_contradiction_is_refused(path: Path) -> None:
    store = DecisionStore(path)
    store.add_must_link("a:1", "b:2", "ana", "same email")
    store.add_must_link("b:2", "c:3", "ana", "same phone")
    with pytest.raises(DecisionError, match="new cannot-link"):
        store.add_cannot_link("a:1", "c:3", "bo", "different birth dates")
    apart = store.add_cannot_link("a:1", "d:4", "bo", "different people")
    with pytest.raises(DecisionError, match=f"would contradict {apart.decision_id}"):
        store.add_must_link("c:3", "d:4", "bo", "same card")
    assert len(store.history()) == 3
