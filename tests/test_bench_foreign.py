"""Matching holds up on data laid out unlike the bundled sample (``bench/bench_foreign.py``):
a config naming only its sources runs end to end and links the generator's true pairs."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # bench/ is a folder of scripts, not an installed package
    sys.path.insert(0, str(REPO))
bench_foreign = importlib.import_module("bench.bench_foreign")

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("dataset", "min_recall"),
    [
        # FEBRL-style duplicates carry up to three corruptions with no email or phone to
        # rescue them; a few are too far gone for any blocking rule.
        pytest.param("febrl", 0.95, id="febrl-style"),
        # Up to six records of a person, each corrupted on its own: two typo'd first names may
        # read as two people, and clustering then keeps them apart.
        pytest.param("febrl_dedupe", 0.92, id="febrl-style-dedupe"),
        pytest.param("uk", 0.99, id="uk-style"),
    ],
)
def test_foreign_layouts_are_linked_precisely_and_almost_completely(
    tmp_path: Path, dataset: str, min_recall: float
) -> None:
    figures = bench_foreign.run_dataset(dataset, tmp_path, people=400, seed=11)
    scores = figures["scores"]
    assert figures["people"] == 400
    assert scores.precision >= 0.99, scores
    assert scores.recall >= min_recall, scores
