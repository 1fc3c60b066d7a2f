"""Pairwise precision, recall and F1 of clusters against ground truth."""

from __future__ import annotations

import polars as pl
import pytest

from matching.errors import MatchingInputError
from matching.evaluation import pairwise_scores


def frame(column: str, assignment: dict[str, str]) -> pl.DataFrame:
    return pl.DataFrame({"record_key": list(assignment), column: list(assignment.values())})


def test_perfect_clusters_score_one() -> None:
    truth = frame("entity_id", {"a": "P1", "b": "P1", "c": "P2"})
    clusters = frame("cluster_id", {"a": "x", "b": "x", "c": "y"})
    scores = pairwise_scores(clusters, truth)
    assert (scores.precision, scores.recall, scores.f1) == (1.0, 1.0, 1.0)


def test_a_wrong_merge_costs_precision_and_a_missed_link_costs_recall() -> None:
    # truth: {a,b,c} and {d}; predicted: {a,b} and {c,d}
    truth = frame("entity_id", {"a": "P1", "b": "P1", "c": "P1", "d": "P2"})
    clusters = frame("cluster_id", {"a": "x", "b": "x", "c": "y", "d": "y"})
    scores = pairwise_scores(clusters, truth)
    assert scores.true_pairs == 3  # ab, ac, bc
    assert scores.predicted_pairs == 2  # ab, cd
    assert scores.true_positive_pairs == 1  # ab
    assert scores.precision == pytest.approx(0.5)
    assert scores.recall == pytest.approx(1 / 3)
    assert scores.f1 == pytest.approx(0.4)


def test_records_missing_on_one_side_are_an_error() -> None:
    truth = frame("entity_id", {"a": "P1", "b": "P1"})
    clusters = frame("cluster_id", {"a": "x"})
    with pytest.raises(MatchingInputError, match="only one of clusters and truth"):
        pairwise_scores(clusters, truth)
