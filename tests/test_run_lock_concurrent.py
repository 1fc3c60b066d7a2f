"""Two ``golden run`` started at once on one warehouse, several times, as real processes.

Before the run lock, two such runs both published seconds apart, the second gave new golden ids
to records the first had just published, and both landed the same raw batch. Now one of each
pair runs and the other is refused with exit code 5 before writing anything; if the second
ever gets the lock it is only after the first finished (their audited spans never overlap).
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from pipelines.audit import read_audit
from pipelines.warehouse import Warehouse

pytestmark = pytest.mark.slow

ATTEMPTS = 3
GOLDEN = str(Path(sys.executable).parent / "golden")


@pytest.fixture(scope="module")
def sample_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pipelines.sample import generate_sample

    out = tmp_path_factory.mktemp("sample")
    generate_sample(out, customers=80, seed=23)
    return out / "config.yaml"


def raw_batches(warehouse: Warehouse) -> dict[str, int]:
    return {p.name: len(list(p.glob("batch_id=*"))) for p in warehouse.raw.iterdir() if p.is_dir()}


def golden_ids(warehouse: Warehouse) -> dict[str, str]:
    xref = pl.read_parquet(warehouse.published_current / "customer_xref.parquet")
    return dict(zip(xref["record_key"].to_list(), xref["golden_id"].to_list(), strict=True))


def run_spans(warehouse: Warehouse) -> dict[str, list[str]]:
    spans: dict[str, list[str]] = {}
    for event in read_audit(warehouse.root):
        if event.action in ("run.start", "run.finish"):
            spans.setdefault(event.target, []).append(event.at.isoformat())
    return spans


def test_two_runs_at_once_never_both_run_and_keep_every_golden_id(
    sample_config: Path, tmp_path: Path
) -> None:
    warehouse = Warehouse(tmp_path / "warehouse")
    command = [
        GOLDEN,
        "--quiet",
        "run",
        *("--config", str(sample_config), "--warehouse", str(warehouse.root)),
        *("--skip-backup", "--full-reload"),  # every successful run lands one batch per source
    ]
    published_ids: dict[str, str] | None = None
    successes = 0
    for attempt in range(ATTEMPTS):
        pair = [
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        outcomes = [(p.wait(), *p.communicate()) for p in pair]
        codes = sorted(code for code, _, _ in outcomes)
        detail = "\n".join(err[-2000:] for _, _, err in outcomes)
        assert set(codes) <= {0, 5} and 0 in codes, f"attempt {attempt}: {codes}\n{detail}"
        for code, _, err in outcomes:
            if code == 5:
                assert "golden run cannot start" in err and "in use by golden run (pid" in err
        successes += codes.count(0)

        # Exactly one published version and one raw batch per source for each run that ran.
        publishes = [e for e in read_audit(warehouse.root) if e.action == "publish"]
        assert len(publishes) == successes
        assert set(raw_batches(warehouse).values()) == {successes}, raw_batches(warehouse)
        # Runs that both succeeded did so one after the other, never side by side.
        spans = sorted(s for s in run_spans(warehouse).values() if len(s) == 2)
        assert len(spans) == successes
        for earlier, later in itertools.pairwise(spans):
            assert earlier[1] <= later[0], f"runs overlapped: {spans}"
        # The same data every time: every record keeps the golden id it was first given.
        ids = golden_ids(warehouse)
        if published_ids is not None:
            changed = {k for k in ids if published_ids.get(k) != ids[k]}
            assert not changed, f"attempt {attempt}: {len(changed)} golden ids changed"
        published_ids = ids
    assert not (warehouse.state / ".run.lock.json").exists()
