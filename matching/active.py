"""Active learning: the pairs whose steward label would teach the model most.

A steward's time is best spent where the model is least sure and where a label says something
the other labels do not. As dedupe and Zingg do, the pairs offered are

- **uncertain**: scored close to the match threshold (the decision a label would flip), taken
  from the review band, the links just above the threshold and the near misses just below the
  review band that blocking found (:data:`matching.scoring.NEAR_MISS_BITS`): a true match the
  model scored too low never reaches the review queue, and only a label can show it;
- **diverse**: ranked round-robin over comparison-vector patterns (which level of each
  comparison the pair falls in), most uncertain pattern first, so fifty labels cover fifty
  kinds of evidence rather than fifty copies of one.

The match stage ranks them each run (``match/training_pairs.parquet``, published as
``match_training_pairs``); a steward decides them with the ordinary decisions (``golden review
decide``, the workspace), and the next full training learns from them (:mod:`matching.labels`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

import polars as pl

from matching.labels import score_labelled_pairs, with_sources

if TYPE_CHECKING:
    from splink import Linker

    from matching.engine import Engine

SUGGESTIONS_KEPT: Final = 200
"""Pairs ranked and kept per run: a few sessions' worth of labels; the next run ranks anew."""

CANDIDATES_SCORED: Final = 5000
"""Candidates nearest the threshold whose comparison vectors are computed for the ranking."""

ABOVE_THRESHOLD_BITS: Final = 3.0
"""Links up to this many bits above the threshold are still candidates (a false link the model
is nearly sure of is rare, and a label there teaches little)."""

REVIEW_BAND: Final = "review band"
LINKED_NEAR_THRESHOLD: Final = "linked, near the threshold"
BELOW_REVIEW_BAND: Final = "just below the review band"
SUGGESTION_REASONS: Final[dict[str, str]] = {
    REVIEW_BAND: "review_band",
    LINKED_NEAR_THRESHOLD: "linked_near_threshold",
    BELOW_REVIEW_BAND: "below_review_band",
}
"""``suggested_because`` as stored (published in ``match_training_pairs``; runs before and
after read alike, so the stored text never changes) -> its stable code, the id readers
translate at display time (``training.because.<code>`` in the product's catalogue)."""


def suggestion_code(suggested_because: str | None) -> str | None:
    """The stable code of a stored ``suggested_because``; a value this version does not know
    (a later version's) is returned as it is."""
    if suggested_because is None:
        return None
    return SUGGESTION_REASONS.get(suggested_because, suggested_because)


SUGGESTION_KEY_COLUMNS: Final = (
    "rank",
    "record_key_l",
    "record_key_r",
    "match_probability",
    "match_weight",
    "weights",
    "suggested_because",
    "pattern",
)


def _weight(probability: float) -> float:
    return math.log2(probability / (1 - probability))


def candidate_pairs(
    pairs: pl.DataFrame,
    near_misses: pl.DataFrame | None,
    *,
    match_threshold: float,
    review_lower: float,
    decided: Iterable[tuple[str, str]] = (),
) -> pl.DataFrame:
    """``record_key_l``, ``record_key_r``, ``suggested_because`` of the undecided pairs near
    the threshold (at most :data:`CANDIDATES_SCORED`, nearest first): kept pairs up to
    :data:`ABOVE_THRESHOLD_BITS` above it and the near misses below the review band."""
    threshold = _weight(match_threshold)
    frames = []
    if pairs.height:
        frames.append(
            pairs.filter(pl.col("match_weight") <= threshold + ABOVE_THRESHOLD_BITS).select(
                "record_key_l",
                "record_key_r",
                "match_weight",
                pl.when(pl.col("match_probability") >= match_threshold)
                .then(pl.lit(LINKED_NEAR_THRESHOLD))
                .otherwise(pl.lit(REVIEW_BAND))
                .alias("suggested_because"),
            )
        )
    if near_misses is not None and near_misses.height:
        frames.append(
            near_misses.filter(pl.col("match_probability") < review_lower).select(
                "record_key_l",
                "record_key_r",
                "match_weight",
                pl.lit(BELOW_REVIEW_BAND).alias("suggested_because"),
            )
        )
    empty = pl.DataFrame(
        schema={
            "record_key_l": pl.String,
            "record_key_r": pl.String,
            "suggested_because": pl.String,
        }
    )
    if not frames:
        return empty
    found = pl.concat(frames).with_columns(
        pl.min_horizontal("record_key_l", "record_key_r").alias("record_key_l"),
        pl.max_horizontal("record_key_l", "record_key_r").alias("record_key_r"),
    )
    settled = [tuple(sorted(p)) for p in decided]
    if settled:
        found = found.join(
            pl.DataFrame(
                settled, schema={"record_key_l": pl.String, "record_key_r": pl.String}, orient="row"
            ).unique(),
            on=["record_key_l", "record_key_r"],
            how="anti",
        )
    return (
        found.unique(["record_key_l", "record_key_r"], keep="first", maintain_order=True)
        .sort((pl.col("match_weight") - threshold).abs(), "record_key_l", "record_key_r")
        .head(CANDIDATES_SCORED)
        .select("record_key_l", "record_key_r", "suggested_because")
    )


def rank_suggestions(
    scored: pl.DataFrame, match_threshold: float, limit: int = SUGGESTIONS_KEPT
) -> pl.DataFrame:
    """Rank scored candidates (``match_weight``, ``gamma_*`` and ``w_*`` per comparison, as
    :func:`matching.labels.score_labelled_pairs` returns them): round-robin over their
    comparison-vector patterns, the most uncertain pair of each pattern first. Returns the
    :data:`SUGGESTION_KEY_COLUMNS`, best first."""
    gammas = sorted(c for c in scored.columns if c.startswith("gamma_"))
    gammas = [c for c in scored.columns if c in gammas]  # the model's order
    weights = [c for c in scored.columns if c.startswith("w_")]
    if not scored.height:
        return pl.DataFrame(
            schema={
                "rank": pl.Int64,
                "record_key_l": pl.String,
                "record_key_r": pl.String,
                "match_probability": pl.Float64,
                "match_weight": pl.Float64,
                "weights": pl.String,
                "suggested_because": pl.String,
                "pattern": pl.String,
            }
        )
    pattern = pl.concat_str(
        [pl.format("{}={}", pl.lit(c.removeprefix("gamma_")), pl.col(c)) for c in gammas],
        separator=" ",
    )
    encoded = (
        pl.struct([pl.col(w).round(3).alias(w.removeprefix("w_")) for w in weights])
        .struct.json_encode()
        .alias("weights")
        if weights
        else pl.lit("{}").alias("weights")
    )
    ranked = (
        scored.with_columns(
            pattern.alias("pattern"),
            (pl.col("match_weight") - _weight(match_threshold)).abs().alias("_uncertainty"),
            encoded,
        )
        .sort("_uncertainty", "record_key_l", "record_key_r")
        .with_columns(pl.int_range(pl.len()).over("pattern").alias("_round"))
        .sort("_round", "_uncertainty", "record_key_l", "record_key_r")
        .head(limit)
        .with_row_index("rank", offset=1)
    )
    return ranked.select(pl.col("rank").cast(pl.Int64), *SUGGESTION_KEY_COLUMNS[1:])


def training_pairs(
    linker: Linker,
    engine: Engine,
    features: pl.DataFrame,
    candidates: pl.DataFrame,
    match_threshold: float,
) -> pl.DataFrame:
    """The run's suggested pairs for stewards to label (module docstring), ranked, with the
    :data:`SUGGESTION_KEY_COLUMNS`: ``weights`` is JSON (comparison -> weight in bits) as in
    the review queue, ``pattern`` the comparison vector (``first_name=3 dob=1 ...``).

    ``candidates`` come from :func:`candidate_pairs`; ``linker`` must hold the records of every
    candidate (an incremental run's linker holds only those a changed pair is made of, so it
    passes one over the candidates' records)."""
    if candidates.height:
        present = features.select("record_key", "source_system")
        scored = score_labelled_pairs(linker, engine, with_sources(present, candidates))
    else:
        scored = candidates.with_columns(
            pl.lit(None, pl.Float64).alias("match_probability"),
            pl.lit(None, pl.Float64).alias("match_weight"),
        )
    return rank_suggestions(scored, match_threshold)
