"""``bench/bench_golden_accuracy.py`` on a tiny generated set: it runs the pipeline, scores the
golden records against the generator's ground truth field by field, and consensus survivorship
is at least as right overall as the plain newest-record-wins job on the same clusters."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # bench/ is a folder of scripts, not an installed package
    sys.path.insert(0, str(REPO))
bench = importlib.import_module("bench.bench_golden_accuracy")

pytestmark = pytest.mark.slow

CUSTOMERS = 100


def test_the_accuracy_benchmark_scores_every_field_and_consensus_beats_newest_record_wins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    figures = bench.run_set("tiny", tmp_path, CUSTOMERS, seed=11)

    assert figures["customers"] == CUSTOMERS
    assert figures["records"] > CUSTOMERS and figures["golden_records"] >= 1
    for job in ("golden", "newest_record"):
        assert set(figures[job]) == set(bench.FIELDS), job
        for field, shares in figures[job].items():
            assert set(shares) == {"right", "wrong", "missing", "attainable"}
            assert all(0.0 <= share <= 1.0 for share in shares.values()), (job, field, shares)
            outcome = shares["right"] + shares["wrong"] + shares["missing"]
            assert outcome == pytest.approx(1.0), (job, field, shares)
            assert shares["attainable"] > 0, (job, field)
    # The same customers and records under both jobs: attainable does not depend on the job.
    for field in bench.FIELDS:
        assert (
            figures["golden"][field]["attainable"] == figures["newest_record"][field]["attainable"]
        )
    assert all(isinstance(n, int) and n >= 0 for n in figures["held_but_missing"].values())

    def overall(job: str) -> float:
        return sum(figures[job][f]["right"] for f in bench.FIELDS) / len(bench.FIELDS)

    assert overall("golden") >= overall("newest_record"), figures

    printed = capsys.readouterr().out
    assert f"tiny: {CUSTOMERS:,} customers" in printed
    table = [line.split() for line in printed.splitlines()]
    rows = {words[0]: words for words in table if words and words[0] in bench.FIELDS}
    assert set(rows) == set(bench.FIELDS)
    for field, words in rows.items():
        right, attainable, ratio = (float(w) for w in (words[1], words[4], words[5]))
        assert right == pytest.approx(figures["golden"][field]["right"], abs=5e-4)
        assert attainable == pytest.approx(figures["golden"][field]["attainable"], abs=5e-4)
        assert ratio == pytest.approx(right / attainable, abs=2e-3)
