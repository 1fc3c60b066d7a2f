"""The prior settles on the model's own scores: the expected matches among the scored pairs,
over all pairs, at the fixed point (``matching.scoring.settled_prior``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from matching.scoring import SETTLE_MAX_BITS, settled_prior


def weights_at(prior: float, evidence: np.ndarray) -> np.ndarray:
    return math.log2(prior / (1 - prior)) + evidence


def test_a_prior_ten_times_too_low_settles_on_the_matches_the_scores_show() -> None:
    # 1,000 clear matches and 5,000 clear non-matches among 10^8 pairs: the true prior is 1e-5.
    evidence = np.concatenate([np.full(1000, 45.0), np.full(5000, 5.0)])
    after = settled_prior(weights_at(1e-6, evidence), 1e-6, 1e8)
    assert after == pytest.approx(1e-5, rel=0.01)


def test_a_prior_too_high_comes_down_and_uncertain_pairs_count_by_their_probability() -> None:
    # 500 pairs scored even at the true prior (2.5e-6): each counts half a match.
    true = 500 * 0.5 / 1e8
    evidence = np.full(500, -math.log2(true / (1 - true)))
    after = settled_prior(weights_at(2e-5, evidence), 2e-5, 1e8)
    assert after == pytest.approx(true, rel=0.01)


def test_the_prior_moves_at_most_the_bound_and_nothing_scored_keeps_it_within_it() -> None:
    evidence = np.full(100_000, 60.0)  # scores argue for a prior 2^10 times the trained one
    after = settled_prior(weights_at(1e-9, evidence), 1e-9, 1e8)
    moved = math.log2(after / (1 - after)) - math.log2(1e-9 / (1 - 1e-9))
    assert moved == pytest.approx(SETTLE_MAX_BITS)
    nothing = settled_prior(np.empty(0), 1e-5, 1e8)
    assert math.log2(1e-5 / nothing) == pytest.approx(SETTLE_MAX_BITS, rel=1e-3)
