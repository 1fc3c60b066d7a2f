"""How good are the clusters? Pairwise precision, recall and F1 against ground truth.

Pairwise scores count, over every pair of records, whether the clustering and the truth agree
that the two belong together. They are the standard entity-resolution measure and punish a
wrong merge of two large clusters as much as it hurts downstream readers (every pair of their
records is wrong), which a per-record measure would hide.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from matching.errors import MatchingInputError


@dataclass(frozen=True)
class PairwiseScores:
    precision: float
    recall: float
    f1: float
    true_positive_pairs: int
    predicted_pairs: int
    true_pairs: int

    def as_dict(self) -> dict[str, float | int]:
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "true_positive_pairs": self.true_positive_pairs,
            "predicted_pairs": self.predicted_pairs,
            "true_pairs": self.true_pairs,
        }


def _pair_count(group_sizes: pl.Expr) -> pl.Expr:
    return (group_sizes * (group_sizes - 1) // 2).sum()


def pairwise_scores(clusters: pl.DataFrame, truth: pl.DataFrame) -> PairwiseScores:
    """Score ``clusters`` (``record_key``, ``cluster_id``) against ``truth`` (``record_key``,
    ``entity_id``). Both must cover the same records; a record missing from either side is an
    error rather than a silent change in the denominator."""
    for name, frame, column in (
        ("clusters", clusters, "cluster_id"),
        ("truth", truth, "entity_id"),
    ):
        missing = {"record_key", column} - set(frame.columns)
        if missing:
            raise MatchingInputError(f"{name} lack the column(s) {sorted(missing)}")
    joined = clusters.select("record_key", "cluster_id").join(
        truth.select("record_key", "entity_id"), on="record_key", how="full", coalesce=True
    )
    unmatched = joined.filter(pl.col("cluster_id").is_null() | pl.col("entity_id").is_null())
    if unmatched.height:
        raise MatchingInputError(
            f"{unmatched.height} record(s) are in only one of clusters and truth, "
            f"e.g. {unmatched['record_key'][0]!r}"
        )
    predicted = int(joined.group_by("cluster_id").len().select(_pair_count(pl.col("len"))).item())
    true = int(joined.group_by("entity_id").len().select(_pair_count(pl.col("len"))).item())
    both = int(
        joined.group_by("cluster_id", "entity_id").len().select(_pair_count(pl.col("len"))).item()
    )
    precision = both / predicted if predicted else 1.0
    recall = both / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PairwiseScores(precision, recall, f1, both, predicted, true)
