"""A reader in another process, reading while publishes run, never fails and never sees a mix.

Each run has a different number of records, and every published row carries its run id, so a
table from one version next to a table from another (or a half-written file) is detectable.

Handing the ``published/current/<table>.parquet`` path itself to PyArrow, Polars or DuckDB is
not among the reader paths: each opens the file more than once, and a switch between the opens
mixes a footer of one version with pages of the next. The README tells readers to resolve
``current`` once instead, which is what path 3 below does.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import time
from pathlib import Path

import pytest

from pipelines.config import PipelineConfig
from pipelines.publish import publish
from pipelines.publish.synthetic import write_synthetic_run
from pipelines.warehouse import Warehouse

RUNS = [f"20240401T{hour:02d}0000Z-{hour:06d}" for hour in range(8)]
SNAPSHOT_TABLES = ("golden_customers", "customer_xref", "golden_changes", "quarantine")


def _check_snapshot(tables: dict, expected: dict[str, dict[str, int]]) -> str:
    """The run id of a consistent snapshot; raises AssertionError on any mix."""
    run_ids = {name: set(t.column("run_id").to_pylist()) for name, t in tables.items()}
    seen = set().union(*(ids for name, ids in run_ids.items() if name != "dq_results"))
    assert len(seen) == 1, f"mixed versions: {run_ids}"
    run_id = seen.pop()
    for name, table in tables.items():
        if name in expected[run_id]:
            assert table.num_rows == expected[run_id][name], (run_id, name, table.num_rows)
    if "dq_results" in tables:
        assert max(run_ids["dq_results"]) == run_id
    return run_id


def reader_loop(root: str, expected: dict, reads_done, stop, results) -> None:
    """Read through every reader path until told to stop; report reads, versions and errors."""
    import duckdb
    import pyarrow.parquet as pq

    from pipelines.publish import read_tables

    root_path = Path(root)
    reads, versions, errors = 0, set(), []
    while not stop.is_set():
        try:
            # 1. PyArrow through the pipeline's reader: a consistent snapshot of several tables.
            snapshot = read_tables(root, [*SNAPSHOT_TABLES, "dq_results"])
            versions.add(_check_snapshot(snapshot, expected))
            # 2. DuckDB on golden.duckdb: one connection holds one version of every table.
            with duckdb.connect(str(root_path / "golden.duckdb"), read_only=True) as con:
                tables = {
                    name: con.sql(f"select run_id from {name}").to_arrow_table()
                    for name in SNAPSHOT_TABLES
                }
                info = con.sql("select run_id from publish_info").fetchall()[0][0]
            assert _check_snapshot(tables, expected) == info
            versions.add(info)
            # 3. Plain PyArrow and DuckDB on the folder ``current`` resolves to, resolved once
            #    as the README's table contract says: whole files of one version, even after
            #    later publishes switch ``current`` (it stays kept for ``keep_versions``).
            folder = (root_path / "published/current").resolve()
            xref = pq.read_table(folder / "customer_xref.parquet")
            golden = duckdb.sql(
                f"select run_id from read_parquet('{folder / 'golden_customers.parquet'}')"
            ).to_arrow_table()
            plain = {"customer_xref": xref, "golden_customers": golden}
            versions.add(_check_snapshot(plain, expected))
        except Exception as exc:  # noqa: BLE001 - every failure is reported to the test
            errors.append(f"{type(exc).__name__}: {exc}")
        reads += 1
        with reads_done.get_lock():
            reads_done.value += 1
    results.put((reads, sorted(versions), errors[:5], len(errors)))


@pytest.mark.slow
def test_reader_in_another_process_never_fails_or_sees_a_mixed_version(
    warehouse_dir: Path,
) -> None:
    warehouse = Warehouse(warehouse_dir)
    config = PipelineConfig.model_validate(
        {
            "warehouse": {"path": str(warehouse_dir)},
            "sources": [
                {
                    "name": "crm",
                    "kind": "file",
                    "path": "x.csv",
                    "id_column": "id",
                    "mapping": {"email": "email"},
                }
            ],
            "publish": {"keep_versions": 2},
        }
    )
    expected = {
        run_id: write_synthetic_run(warehouse, run_id, 500 + 97 * index, seed=index)
        for index, run_id in enumerate(RUNS)
    }
    publish(config, RUNS[0])

    ctx = mp.get_context("spawn")
    reads_done, stop, results = ctx.Value("i", 0), ctx.Event(), ctx.Queue()
    reader = ctx.Process(
        target=reader_loop, args=(str(warehouse_dir), expected, reads_done, stop, results)
    )
    reader.start()

    def reader_progressed(since: int) -> None:
        """Wait until the reader finished another read, so reads overlap every publish even
        on a loaded machine."""
        deadline = time.monotonic() + 120
        while reads_done.value <= since:
            assert reader.is_alive(), "the reader process died"
            assert time.monotonic() < deadline, "the reader process stopped reading"
            time.sleep(0.01)

    try:
        reader_progressed(0)
        for run_id in RUNS[1:]:
            before = reads_done.value
            publish(config, run_id)
            reader_progressed(before)
        stop.set()
        reads, versions, errors, error_count = results.get(timeout=120)
    except queue.Empty:
        pytest.fail("the reader process did not report")
    finally:
        stop.set()
        reader.join(timeout=60)
        if reader.is_alive():
            reader.kill()
    assert error_count == 0, errors
    assert reads >= len(RUNS)
    assert len(versions) >= 3, f"the reader saw too few versions to prove much: {versions}"
