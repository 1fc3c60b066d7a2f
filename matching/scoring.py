"""Score the candidate pairs the blocking rules produce.

Blocked pairs are materialised first (once per chunk) so that their number per rule can be
reported before Splink scores them from the same cached table: the count costs no second
blocking pass. Only pairs at or above the review band's lower bound leave the backend, as the
slim ``pairs.parquet`` frame; the full prediction tables stay in the backend for the waterfall
chart.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from itertools import product

import polars as pl
from splink import Linker
from splink.internals.splink_dataframe import SplinkDataFrame

from matching.config import MatchingConfig
from matching.engine import Engine

logger = logging.getLogger(__name__)


EVERY_PAIR = "every pair (no blocking rule)"

NEAR_MISS_BITS = 6.0
"""How far below the review band, in bits of match weight, a blocked pair still counts as a near
miss: a pair the active-learning loop may offer stewards (``matching.active``), since one the
model scored just too low to review can be a match it is wrong about."""

NEAR_MISSES_KEPT = 2000
"""Near misses kept per chunk, highest scored first (they are candidates, not results)."""


@dataclass
class Scores:
    pairs: pl.DataFrame
    """``record_key_l``, ``record_key_r``, ``match_probability``, ``match_weight`` and one
    ``bf_<comparison>`` Bayes factor (including its term-frequency adjustment) per comparison."""
    pairs_scored: int = 0
    pairs_by_rule: dict[str, int] = field(default_factory=dict)
    predictions: list[SplinkDataFrame] = field(default_factory=list)
    near_misses: pl.DataFrame | None = None
    """``record_key_l``, ``record_key_r``, ``match_probability``, ``match_weight`` of blocked
    pairs scored just below ``review_lower`` (:data:`NEAR_MISS_BITS`); None when not kept."""


def near_miss_floor(review_lower: float) -> float:
    """The probability :data:`NEAR_MISS_BITS` below ``review_lower``."""
    odds = review_lower / (1 - review_lower) / 2**NEAR_MISS_BITS
    return odds / (1 + odds)


def score_pairs(linker: Linker, engine: Engine, config: MatchingConfig) -> Scores:
    """Block, count and score every chunk; return the pairs at or above ``review_lower``."""
    model = linker.misc.save_model_to_json()
    rules = [r["blocking_rule"] for r in model["blocking_rules_to_generate_predictions"]]
    comparisons = [c["output_column_name"] for c in model["comparisons"]]
    n = config.predict_chunks
    # Without blocking rules (a handful of records, see matching.plan) Splink compares every
    # pair under one match key.
    rules = rules or [EVERY_PAIR]
    counts: dict[str, int] = dict.fromkeys(rules, 0)
    frames: list[pl.DataFrame] = []
    near: list[pl.DataFrame] = []
    floor = near_miss_floor(config.review_lower)
    predictions: list[SplinkDataFrame] = []
    for left, right in product(range(1, n + 1), repeat=2):
        # One chunk means no chunk filter at all (the plain, fastest blocking SQL).
        chunk = {"left_chunk": (left, n), "right_chunk": (right, n)} if n > 1 else {}
        blocked = linker.inference.compute_blocked_pairs_for_predict_chunk(**chunk)
        by_key = engine.query(
            f"SELECT match_key, count(*) AS n FROM {blocked.physical_name} GROUP BY match_key"
        )
        for key, count in by_key.iter_rows():
            counts[rules[int(key)]] += int(count)
        scored = linker.inference.predict_chunk(
            **chunk, threshold_match_probability=floor, warning_mode="never"
        )
        blocked.drop_table_from_database_and_remove_from_cache()
        predictions.append(scored)
        frames.append(engine.query(slim_pairs_sql(scored, comparisons, config.review_lower)))
        near.append(
            engine.query(
                "SELECT record_key_l, record_key_r, "
                "CAST(match_probability AS DOUBLE) AS match_probability, "
                f"CAST(match_weight AS DOUBLE) AS match_weight FROM {scored.physical_name} "
                f"WHERE match_probability < {float(config.review_lower)!r} "
                f"ORDER BY match_weight DESC, record_key_l, record_key_r "
                f"LIMIT {NEAR_MISSES_KEPT}"
            )
        )
        if n > 1:
            logger.info("scored chunk %d/%d x %d/%d", left, n, right, n)
    pairs = pl.concat(frames) if frames else pl.DataFrame()
    total = sum(counts.values())
    for rule, count in counts.items():
        logger.info("blocking rule %s: %d pair(s)", rule, count)
    logger.info("%d pair(s) scored, %d at or above %.2f", total, pairs.height, config.review_lower)
    return Scores(
        pairs=pairs,
        pairs_scored=total,
        pairs_by_rule=counts,
        predictions=predictions,
        near_misses=pl.concat(near) if near else None,
    )


def slim_pairs_sql(
    predictions: SplinkDataFrame, comparisons: list[str], at_least: float | None = None
) -> str:
    """SQL reading the ``pairs.parquet`` columns from a Splink predictions table (the pairs
    scored ``at_least`` when given)."""
    columns = {c.unquote().name for c in predictions.columns}
    bayes_factors = []
    for name in comparisons:
        weight = f"mw_{name}"
        if f"mw_tf_adj_{name}" in columns:
            weight = f"(mw_{name} + coalesce(mw_tf_adj_{name}, 0))"
        bayes_factors.append(f"power(2, {weight}) AS bf_{name}")
    return f"""
        SELECT record_key_l, record_key_r,
               CAST(match_probability AS DOUBLE) AS match_probability,
               CAST(match_weight AS DOUBLE) AS match_weight,
               {", ".join(bayes_factors)}
        FROM {predictions.physical_name}
        {f"WHERE match_probability >= {float(at_least)!r}" if at_least is not None else ""}
    """
