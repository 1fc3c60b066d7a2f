"""Publish commits through one pointer: readers and crashes see a whole version or none of it.

Every table, ``golden.duckdb``, the id registry and every role folder of a version live in one
version folder; ``published/current`` is the only thing a commit switches, and the other names
are fixed links through it. Pinned here:

* a publish interrupted at any step of its commit (each rename and link, simulated by raising
  there) leaves the tables, the database, the registry and every role on the same version;
* a reader that resolved ``published/roles/<role>`` once keeps reading that folder until
  ``publish.keep_versions`` later commits have passed, and a reader thread resolving it over
  and over while publishes run never fails nor sees two versions mixed;
* a warehouse of the earlier layout is taken over by the next publish, its version still
  readable by run id.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pyarrow.parquet as pq
import pytest

from pipelines.config import PipelineConfig
from pipelines.errors import PublishError
from pipelines.privacy.roles import role_dir
from pipelines.publish import current_run_id, publish, published_versions, read_table
from pipelines.publish import versions as versions_module
from pipelines.publish.synthetic import synthetic_config, write_synthetic_run
from pipelines.warehouse import Warehouse

RUNS = [f"20240501T{hour:02d}0000Z-{hour:06d}" for hour in range(6)]
ROLES = ("analyst", "service", "steward")


def _config(root: Path, keep: int = 5) -> PipelineConfig:
    return synthetic_config(root, publish={"keep_versions": keep})


def _database_run(path: Path) -> str:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.sql("SELECT run_id FROM publish_info").fetchall()[0][0]


def _what_readers_see(warehouse: Warehouse) -> dict[str, object]:
    """The version behind every name a reader uses, each resolved on its own."""
    seen: dict[str, object] = {
        "current": current_run_id(warehouse.root),
        "golden.duckdb": _database_run(warehouse.duckdb_path),
        "tables": sorted(set(read_table(warehouse.root, "customer_xref")["run_id"].to_pylist())),
    }
    for role in ROLES:
        folder = role_dir(warehouse, role)
        seen[f"roles/{role}"] = _database_run(folder / "golden.duckdb")
    registry = warehouse.id_registry.read_bytes()
    seen["registry"] = [
        run
        for run in RUNS[:2]
        if registry == (warehouse.golden_dir(run) / "id_registry.parquet").read_bytes()
    ]
    return seen


def _one_version(seen: dict[str, object], run_id: str) -> dict[str, object]:
    return {name: [run_id] if name in ("tables", "registry") else run_id for name in seen}


class _CrashAt:
    """Stand-in for ``os`` in the versions module that raises at the n-th rename or link."""

    STEPS = ("rename", "replace", "symlink", "link")

    def __init__(self, crash_at: int) -> None:
        self.crash_at = crash_at
        self.steps = 0

    def __getattr__(self, name: str) -> object:
        real = getattr(os, name)
        if name not in self.STEPS:
            return real

        def step(*args: object, **kwargs: object) -> object:
            self.steps += 1
            if self.steps == self.crash_at:
                raise OSError(f"simulated crash at step {self.steps} ({name})")
            return real(*args, **kwargs)

        return step


def test_a_crash_at_any_step_of_the_commit_leaves_every_reader_on_one_version(
    warehouse_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = Warehouse(warehouse_dir)
    config = _config(warehouse_dir)
    for index, run_id in enumerate(RUNS[:2]):
        write_synthetic_run(warehouse, run_id, 40 + 10 * index, seed=index)
    publish(config, RUNS[0])
    before = _what_readers_see(warehouse)
    assert before == _one_version(before, RUNS[0])

    crashes = 0
    for crash_at in range(1, 100):
        fake = _CrashAt(crash_at)
        monkeypatch.setattr(versions_module, "os", fake)
        try:
            publish(config, RUNS[1])
        except PublishError as exc:
            assert "simulated crash" in str(exc)
            crashes += 1
        else:
            break
        finally:
            monkeypatch.setattr(versions_module, "os", os)
        seen = _what_readers_see(warehouse)
        assert seen == _one_version(seen, RUNS[0]) or seen == _one_version(seen, RUNS[1]), (
            f"crash at step {crash_at}: {seen}"
        )
    assert crashes >= 2, "the commit has several steps; each was interrupted once"
    after = _what_readers_see(warehouse)
    assert after == _one_version(after, RUNS[1])
    assert published_versions(warehouse.root) == RUNS[:2]


def test_a_resolved_role_folder_stays_readable_until_keep_versions_passed(
    warehouse_dir: Path,
) -> None:
    warehouse = Warehouse(warehouse_dir)
    config = _config(warehouse_dir, keep=3)
    for index, run_id in enumerate(RUNS[:5]):
        write_synthetic_run(warehouse, run_id, 30 + 5 * index, seed=index)
    publish(config, RUNS[0])
    resolved = role_dir(warehouse, "analyst").resolve()
    first = pq.read_table(resolved / "golden_customers.parquet")

    publish(config, RUNS[1])
    publish(config, RUNS[2])  # two commits later: still one of the last three
    assert _database_run(resolved / "golden.duckdb") == RUNS[0]
    assert pq.read_table(resolved / "golden_customers.parquet").equals(first)
    assert _database_run(role_dir(warehouse, "analyst") / "golden.duckdb") == RUNS[2]

    publish(config, RUNS[3])  # now older than the last three commits
    assert not resolved.exists()
    assert published_versions(warehouse.root) == RUNS[1:4]


@pytest.mark.slow
def test_a_reader_thread_resolving_a_role_many_times_during_publishes_never_fails(
    warehouse_dir: Path,
) -> None:
    warehouse = Warehouse(warehouse_dir)
    config = _config(warehouse_dir, keep=2)
    rows = {run_id: 30 + 7 * index for index, run_id in enumerate(RUNS)}
    for index, run_id in enumerate(RUNS):
        write_synthetic_run(warehouse, run_id, rows[run_id], seed=index)
    publish(config, RUNS[0])

    state = SimpleNamespace(reads=0, stop=False, errors=[], versions=set())
    progressed = threading.Condition()

    def read_role() -> None:
        while True:
            with progressed:
                if state.stop:
                    return
            try:
                folder = Path(os.path.realpath(role_dir(warehouse, "analyst")))
                names = sorted(p.name for p in folder.iterdir())
                assert "golden.duckdb" in names and "golden_customers.parquet" in names, names
                run_id = _database_run(folder / "golden.duckdb")
                changes = pq.read_table(folder / "golden_changes.parquet")
                assert set(changes["run_id"].to_pylist()) <= {run_id}, "mixed versions"
                state.versions.add(run_id)
            except Exception as exc:  # noqa: BLE001 - every failure is reported to the test
                state.errors.append(f"{type(exc).__name__}: {exc}")
            with progressed:
                state.reads += 1
                progressed.notify_all()

    def reader_progressed(since: int) -> Callable[[], bool]:
        return lambda: state.reads > since or not reader.is_alive()

    reader = threading.Thread(target=read_role, daemon=True)
    reader.start()
    try:
        for run_id in RUNS[1:]:
            with progressed:
                since = state.reads
                assert progressed.wait_for(reader_progressed(since), timeout=300)
            publish(config, run_id)
            with progressed:  # a read overlapping or following every publish
                assert progressed.wait_for(reader_progressed(state.reads), timeout=300)
    finally:
        with progressed:
            state.stop = True
        reader.join(timeout=300)
    assert state.errors == [], state.errors[:3]
    assert state.reads >= len(RUNS) and len(state.versions) >= 2


def _to_older_layout(warehouse: Warehouse) -> None:
    """Rewrite a fresh warehouse into the layout before single-pointer commits."""
    published = warehouse.published
    current = (published / "current").resolve()
    run_id = current.name.split("-", 1)[1]
    versions = published / "versions"
    (versions / run_id).unlink()
    legacy = versions / run_id
    legacy.mkdir()
    for item in current.iterdir():
        if item.is_file() and item.suffix in (".parquet", ".json"):
            shutil.copyfile(item, legacy / item.name)
    for link, inside in (
        (warehouse.duckdb_path, current / "golden.duckdb"),
        (warehouse.id_registry, current / "state" / "id_registry.parquet"),
    ):
        link.unlink()
        shutil.copyfile(inside, link)
    for role in ROLES:
        hidden = published / "roles" / f".{role}.{run_id}.0000"
        shutil.copytree(current / "roles" / role, hidden)
        (published / "roles" / role).unlink()
        (published / "roles" / role).symlink_to(hidden.name)
    (published / "current").unlink()
    (published / "current").symlink_to(f"versions/{run_id}")
    shutil.rmtree(published / "commits")


def test_a_warehouse_of_the_older_layout_is_taken_over_by_the_next_publish(
    warehouse_dir: Path,
) -> None:
    warehouse = Warehouse(warehouse_dir)
    config = _config(warehouse_dir)
    for index, run_id in enumerate(RUNS[:2]):
        write_synthetic_run(warehouse, run_id, 40 + 10 * index, seed=index)
    publish(config, RUNS[0])
    _to_older_layout(warehouse)
    assert not warehouse.duckdb_path.is_symlink()
    assert _what_readers_see(warehouse) == _one_version(_what_readers_see(warehouse), RUNS[0])

    publish(config, RUNS[1])

    seen = _what_readers_see(warehouse)
    assert seen == _one_version(seen, RUNS[1])
    assert warehouse.duckdb_path.is_symlink() and warehouse.id_registry.is_symlink()
    assert published_versions(warehouse.root) == RUNS[:2]
    older = read_table(warehouse.root, "customer_xref", run_id=RUNS[0])
    assert set(older["run_id"].to_pylist()) == {RUNS[0]}
