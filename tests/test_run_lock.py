"""The run lock: one run, restore, erasure or steward write at a time per warehouse.

The holder is a real second process (the lock is an OS lock between processes); every wait in
these tests is on a condition (a line from the holder, a process exit), never on time.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.audit import read_audit
from pipelines.cli import app
from pipelines.lock import (
    RunLockedError,
    break_lock,
    check_lease,
    holds_run_lock,
    read_holder,
    release_lease,
    run_lock,
    status,
    take_lease,
)

HOLDER_SCRIPT = """
import sys
from pipelines.lock import run_lock
with run_lock(sys.argv[1], sys.argv[2], run_id=sys.argv[3]):
    print("ready", flush=True)
    sys.stdin.readline()
"""


class Holder:
    """A second process holding the run lock until told to let go (or killed)."""

    def __init__(self, root: Path, command: str = "golden run", run_id: str = "r-holder"):
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER_SCRIPT, str(root), command, run_id],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # returns once the lock is held
        assert line.strip() == "ready", line

    def release(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("\n")
        self.process.stdin.close()
        assert self.process.wait() == 0

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


@pytest.fixture
def holder(warehouse_dir: Path) -> Iterator[Holder]:
    held = Holder(warehouse_dir)
    yield held
    if held.process.poll() is None:
        held.kill()


def write_config(tmp_path: Path, warehouse: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"warehouse:\n  path: {warehouse}\n"
        "sources:\n  - {name: crm, kind: file, path: crm.csv, id_column: id, "
        "mapping: {email: email}}\n"
    )
    (tmp_path / "crm.csv").write_text("id,email\n1,a@example.com\n")
    return path


def test_a_second_taker_is_refused_with_the_holders_command_and_pid(
    warehouse_dir: Path, holder: Holder
) -> None:
    with pytest.raises(RunLockedError) as refused, run_lock(warehouse_dir, "golden forget"):
        pytest.fail("the lock was taken twice")
    message = str(refused.value)
    assert "golden forget cannot start" in message
    assert f"golden run (pid {holder.process.pid}" in message
    assert "--wait" in message
    assert refused.value.exit_code == 5


def test_a_taker_meeting_a_holder_not_yet_recorded_names_it_once_it_is(
    warehouse_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A holder records itself just after it takes the lock: a taker in that gap looks again."""
    import fcntl
    import os

    import pipelines.lock as lock

    lock_path, holder_path, _ = lock.paths(warehouse_dir)
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held, nobody recorded yet
    found_unrecorded = threading.Event()
    real_read_holder = lock.read_holder

    def read_holder_noting_gaps(root: Path) -> lock.LockHolder | None:
        found = real_read_holder(root)
        if found is None:
            found_unrecorded.set()
        return found

    monkeypatch.setattr(lock, "read_holder", read_holder_noting_gaps)
    refusals: list[BaseException] = []

    def take() -> None:
        try:
            with run_lock(warehouse_dir, "golden forget", wait=0):
                pass
        except RunLockedError as exc:
            refusals.append(exc)

    taker = threading.Thread(target=take)
    taker.start()
    try:
        assert found_unrecorded.wait(timeout=60)
        recorded = lock.LockHolder(
            pid=os.getpid(), host="here", command="golden run", started="now", run_id=None
        )
        lock._write(holder_path, recorded.__dict__)
        taker.join(timeout=60)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    assert not taker.is_alive() and len(refusals) == 1
    assert f"in use by golden run (pid {os.getpid()}" in str(refusals[0])


def test_the_holder_is_recorded_while_held_and_removed_on_release(
    warehouse_dir: Path, holder: Holder
) -> None:
    recorded = read_holder(warehouse_dir)
    assert recorded is not None and recorded.pid == holder.process.pid
    assert status(warehouse_dir).held
    holder.release()
    assert read_holder(warehouse_dir) is None
    assert not status(warehouse_dir).held
    with run_lock(warehouse_dir, "golden run") as mine:
        assert mine is not None and mine.pid != holder.process.pid


def test_a_killed_holder_frees_the_lock_and_the_takeover_is_audited(
    warehouse_dir: Path, holder: Holder
) -> None:
    holder.kill()
    assert status(warehouse_dir).stale_holder  # recorded, but its process is gone
    with run_lock(warehouse_dir, "golden run"):
        pass
    takeovers = [e for e in read_audit(warehouse_dir) if e.action == "lock.takeover"]
    assert len(takeovers) == 1
    assert takeovers[0].details["stale"]["pid"] == holder.process.pid
    assert read_holder(warehouse_dir) is None


def test_a_waiting_taker_gets_the_lock_once_the_holder_lets_go(
    warehouse_dir: Path, holder: Holder
) -> None:
    got: list[int] = []

    def take() -> None:
        with run_lock(warehouse_dir, "golden review decide", wait=300) as mine:
            assert mine is not None
            got.append(mine.pid)

    waiter = threading.Thread(target=take)
    waiter.start()
    holder.release()
    waiter.join()
    assert len(got) == 1


def test_waiting_past_the_limit_is_refused_saying_how_long_it_waited(
    warehouse_dir: Path, holder: Holder
) -> None:
    with (
        pytest.raises(RunLockedError, match=r"after waiting 0\.3s"),
        run_lock(warehouse_dir, "golden restore", wait=0.3),
    ):
        pass


def test_the_lock_is_reentrant_for_library_calls_made_while_holding_it(
    warehouse_dir: Path,
) -> None:
    class Config:
        class warehouse:  # the shape of PipelineConfig.warehouse
            path = warehouse_dir

    @holds_run_lock("golden forget")
    def erase(config: object) -> str:
        return "erased"

    with run_lock(warehouse_dir, "golden restore"):
        assert erase(Config()) == "erased"
        assert read_holder(warehouse_dir).command == "golden restore"  # type: ignore[union-attr]
    assert erase(Config()) == "erased"  # and alone it takes the lock itself
    assert read_holder(warehouse_dir) is None


def test_an_airflow_lease_blocks_other_runs_until_finish_releases_it(
    warehouse_dir: Path,
) -> None:
    take_lease(warehouse_dir, "run-a", "airflow customer_golden_records/manual__1")
    check_lease(warehouse_dir, "run-a")  # its own stages go on
    with run_lock(warehouse_dir, "stage", run_id="run-a"):
        pass
    with (
        pytest.raises(RunLockedError, match=r"Airflow DAG run .*run-a"),
        run_lock(warehouse_dir, "golden run", run_id="run-b"),
    ):
        pass
    with pytest.raises(RunLockedError, match=r"leased by .*run-a"):
        check_lease(warehouse_dir, "run-b")
    with pytest.raises(RunLockedError, match=r"in use by the Airflow DAG run .*run-a"):
        take_lease(warehouse_dir, "run-b", "airflow customer_golden_records/manual__2")
    assert take_lease(warehouse_dir, "run-a", "retry").run_id == "run-a"  # a retried start_run

    assert not release_lease(warehouse_dir, "run-b")  # not its lease: left alone
    assert release_lease(warehouse_dir, "run-a")
    with pytest.raises(RunLockedError, match="no lease"):
        check_lease(warehouse_dir, "run-a")
    with run_lock(warehouse_dir, "golden run", run_id="run-b"):
        pass


def test_the_next_run_of_the_same_dag_takes_over_a_lease_its_dead_run_left(
    warehouse_dir: Path,
) -> None:
    dag = "customer_golden_records"
    take_lease(warehouse_dir, "run-dead", f"airflow {dag}/scheduled__1", dag_id=dag)
    with pytest.raises(RunLockedError, match="run-dead"):
        take_lease(warehouse_dir, "run-other", "airflow other_dag/manual__1", dag_id="other_dag")

    lease = take_lease(warehouse_dir, "run-next", f"airflow {dag}/scheduled__2", dag_id=dag)

    assert (lease.run_id, lease.dag_id) == ("run-next", dag)
    check_lease(warehouse_dir, "run-next")
    takeovers = [e for e in read_audit(warehouse_dir) if e.action == "lock.takeover"]
    assert [e.target for e in takeovers] == ["run-dead"]


def test_lock_break_removes_a_dead_dag_runs_lease_and_audits_it(
    tmp_path: Path, warehouse_dir: Path
) -> None:
    config = write_config(tmp_path, warehouse_dir)
    take_lease(warehouse_dir, "run-dead", "airflow customer_golden_records/scheduled__1")

    shown = CliRunner().invoke(app, ["lock", "status", "--config", str(config)])
    assert shown.exit_code == 5, shown.output
    assert "leased by airflow customer_golden_records/scheduled__1" in shown.output

    broken = CliRunner().invoke(app, ["lock", "break", "--config", str(config)])
    assert broken.exit_code == 0, broken.output
    assert "run-dead" in broken.output
    assert [e.target for e in read_audit(warehouse_dir) if e.action == "lock.break"] == ["run-dead"]
    assert break_lock(warehouse_dir) == []
    free = CliRunner().invoke(app, ["lock", "status", "--config", str(config)])
    assert (free.exit_code, free.output.strip()) == (0, "free")


def test_lock_break_never_breaks_a_live_holder(warehouse_dir: Path, holder: Holder) -> None:
    with pytest.raises(RunLockedError):
        break_lock(warehouse_dir)
    assert status(warehouse_dir).held


def test_golden_run_refused_while_locked_writes_nothing(
    tmp_path: Path, warehouse_dir: Path, holder: Holder
) -> None:
    config = write_config(tmp_path, warehouse_dir)
    result = CliRunner().invoke(app, ["run", "--config", str(config), "--skip-backup"])
    assert isinstance(result.exception, RunLockedError), result.output
    assert "golden run (pid" in str(result.exception)
    assert not (warehouse_dir / "runs").exists()
    assert not (warehouse_dir / "raw").exists()


def test_steward_decision_refused_while_locked_leaves_decisions_untouched(
    tmp_path: Path, warehouse_dir: Path, holder: Holder
) -> None:
    config = write_config(tmp_path, warehouse_dir)
    result = CliRunner().invoke(
        app,
        [
            "review",
            *("decide", "--config", str(config), "--left", "crm:1", "--right", "crm:2"),
            *("--link", "--reason", "same person"),
        ],
    )
    assert isinstance(result.exception, RunLockedError), result.output
    assert "steward decision cannot start" in str(result.exception)
    assert not (warehouse_dir / "state" / "decisions.jsonl").exists()


def test_erasure_refused_while_locked(tmp_path: Path, warehouse_dir: Path, holder: Holder) -> None:
    from pipelines.config import load_config
    from pipelines.privacy import forget

    config = load_config(write_config(tmp_path, warehouse_dir))
    with pytest.raises(RunLockedError, match="golden forget cannot start"):
        forget(config, "crm:1", reason="request", requester="T-1")
    assert not (warehouse_dir / "state" / "erasures.jsonl").exists()


def test_lock_files_are_owner_only_and_hold_no_arguments(warehouse_dir: Path) -> None:
    with run_lock(warehouse_dir, "golden forget"):
        holder_file = warehouse_dir / "state" / ".run.lock.json"
        assert holder_file.stat().st_mode & 0o777 == 0o600
        assert set(json.loads(holder_file.read_text())) == {
            "pid",
            "host",
            "command",
            "started",
            "run_id",
        }
    assert (warehouse_dir / "state" / ".run.lock").stat().st_mode & 0o777 == 0o600
