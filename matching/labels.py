"""Steward labels teach the model: must-links and cannot-links are labelled pairs.

Expectation maximisation learns m probabilities from the data alone, and on data with few fields
(names and a birth date) it can settle on a model that calls too few pairs a match: typos look
like disagreement, and nothing tells it those pairs are the same person. A steward's decision
does. After EM, :func:`learn_from_labels`

1. blends each comparison's trained m probabilities with what the must-linked pairs show (the
   share of labelled matches in each level), weighted by how many labelled pairs hold the
   comparison against :data:`LABEL_PSEUDO_PAIRS` for EM's estimate: a handful of labels nudge the
   model, hundreds steer it. Levels whose m is fixed on purpose keep it (the contradiction
   levels learn from must-links in :func:`matching.training.contradictions_from_labels`);
2. calibrates the prior from both kinds of label: the one shift of every match weight (in bits)
   that best separates the labelled matches from the labelled non-matches around the threshold
   (a logistic fit of the intercept, pulled towards no shift by :data:`PRIOR_SHIFT_SCALE`), applied
   as a change of the probability that two random records match.

Labels are sparse and, when an active-learning loop picks them (:mod:`matching.active`), drawn
from the uncertain pairs; neither step runs on fewer than :data:`MIN_LABELS` labels of the kind it
needs, so one or two decisions made to fix a cluster leave the model as EM trained it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import polars as pl
from pydantic import BaseModel, Field
from splink import Linker
from splink.internals.block_from_labels import block_from_labels
from splink.internals.comparison_vector_values import compute_comparison_vector_values_sql
from splink.internals.pipeline import CTEPipeline
from splink.internals.predict import predict_from_comparison_vectors_sqls_using_settings
from splink.internals.vertically_concatenate import enqueue_df_concat_with_tf

if TYPE_CHECKING:
    from matching.engine import Engine

logger = logging.getLogger(__name__)

LABEL_PSEUDO_PAIRS: Final = 20
"""Weight, in labelled pairs, of EM's m estimate against the labels' own: 20 must-links move a
comparison's m values half way to what they show, 200 most of the way."""

MIN_LABELS: Final = 5
"""Fewest must-links before labels change the model (the prior's calibration also needs at
least one cannot-link: matches alone would only ever argue for linking more)."""

PRIOR_SHIFT_SCALE: Final = 4.0
"""Standard deviation, in bits, of the prior belief that the model's weights need no shift: the
labels must argue for a shift beyond a few bits (a factor of 16 in the odds)."""


_TABLES = itertools.count()
"""Numbers the labels tables a process registers (each backend table name is used once)."""


class LabelReport(BaseModel):
    """What the steward labels taught the model, for the run summary."""

    must_links: int = 0
    """Must-link labels whose two records are both in this run."""
    cannot_links: int = 0
    """Cannot-link labels whose two records are both in this run."""
    m_updated: list[str] = Field(default_factory=list)
    """``comparison: n labelled pairs`` for each comparison whose m values were blended."""
    prior_shift_bits: float | None = None
    """The calibrated shift of every match weight (None: too few labels of each kind)."""
    prior_before: float | None = None
    prior_after: float | None = None
    labels_agreeing_before: int | None = None
    """Labels the model scored on the side of the match threshold the steward chose, before
    and after learning from them."""
    labels_agreeing_after: int | None = None
    digest: str = ""
    """:func:`labels_digest` of the labels the model was trained with: a later run whose
    labels differ trains afresh rather than build on the model incrementally."""

    def lines(self) -> list[str]:
        """The report in a few lines (the run summary's training block)."""
        if not (self.must_links or self.cannot_links):
            return []
        out = [
            f"steward labels: {self.must_links} must-link(s), {self.cannot_links} "
            "cannot-link(s) among this run's records"
        ]
        if self.m_updated:
            out.append(f"m probabilities blended with labels: {', '.join(self.m_updated)}")
        if self.prior_shift_bits is not None:
            out.append(
                f"prior calibrated on labels: weights shifted by {self.prior_shift_bits:+.2f} "
                f"bits (prior {self.prior_before:.3g} -> {self.prior_after:.3g}); labels on "
                f"the chosen side of the threshold {self.labels_agreeing_before} -> "
                f"{self.labels_agreeing_after}"
            )
        if not self.m_updated and self.prior_shift_bits is None:
            out.append(f"too few labels to change the model (fewer than {MIN_LABELS} of a kind)")
        return out


def labels_digest(
    must_link: Sequence[tuple[str, str]], cannot_link: Sequence[tuple[str, str]]
) -> str:
    """A fingerprint of the labels that can change the model: empty when there are fewer than
    :data:`MIN_LABELS` must-links (they leave it as EM trained it), so one or two decisions
    made to fix a cluster never force a full retraining."""
    if len(set(map(tuple, map(sorted, must_link)))) < MIN_LABELS:
        return ""
    rows = sorted({(*sorted(p), "1") for p in must_link} | {(*sorted(p), "0") for p in cannot_link})
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]


def learn_from_labels(
    linker: Linker,
    engine: Engine,
    features: pl.DataFrame,
    must_link: Sequence[tuple[str, str]],
    cannot_link: Sequence[tuple[str, str]],
    match_threshold: float,
    min_m_probability: float,
) -> LabelReport:
    """Blend the trained m probabilities of ``linker``'s model with the must-links, then
    calibrate its prior on both kinds of label (module docstring). ``features`` are the run's
    records (``record_key``, ``source_system``): labels naming a record not among them are left
    out. Changes the model in place and returns what it did."""
    from matching.training import bound_m_probabilities

    present = features.select("record_key", "source_system")
    labels = _labels_in_run(present, must_link, cannot_link)
    report = LabelReport(
        must_links=int(labels["label"].sum()),
        cannot_links=int((~labels["label"]).sum()),
    )
    if report.must_links < MIN_LABELS:
        # Both steps need matches to learn from (the calibration, non-matches too).
        if labels.height:
            logger.info("%s", "; ".join(report.lines()))
        return report

    threshold_weight = math.log2(match_threshold / (1 - match_threshold))
    scored = score_labelled_pairs(linker, engine, labels)
    if report.must_links >= MIN_LABELS:
        report.m_updated = _blend_m(linker, scored.filter(pl.col("label")))
        bound_m_probabilities(linker, min_m_probability)
        scored = score_labelled_pairs(linker, engine, labels)
    report.labels_agreeing_before = _agreeing(scored, threshold_weight, 0.0)
    report.labels_agreeing_after = report.labels_agreeing_before
    if report.must_links >= MIN_LABELS and report.cannot_links >= 1:
        shift = calibrated_shift(
            scored["match_weight"].to_list(), scored["label"].to_list(), threshold_weight
        )
        prior = float(linker._settings_obj._probability_two_random_records_match)
        odds = prior / (1 - prior) * 2.0**shift
        linker._settings_obj._probability_two_random_records_match = odds / (1 + odds)
        report.prior_shift_bits = round(shift, 3)
        report.prior_before = prior
        report.prior_after = odds / (1 + odds)
        report.labels_agreeing_after = _agreeing(scored, threshold_weight, shift)
    logger.info("%s", "; ".join(report.lines()))
    return report


def _labels_in_run(
    present: pl.DataFrame,
    must_link: Sequence[tuple[str, str]],
    cannot_link: Sequence[tuple[str, str]],
) -> pl.DataFrame:
    """``record_key_l``, ``source_dataset_l``, ``record_key_r``, ``source_dataset_r``,
    ``label`` (True for a must-link) of the labels whose records are both in the run."""
    rows = [(*sorted(p), True) for p in must_link] + [(*sorted(p), False) for p in cannot_link]
    frame = pl.DataFrame(
        rows, schema={"a": pl.String, "b": pl.String, "label": pl.Boolean}, orient="row"
    ).unique(["a", "b"], keep="last", maintain_order=True)
    return with_sources(present, frame.rename({"a": "record_key_l", "b": "record_key_r"}))


def with_sources(present: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """``pairs`` (``record_key_l``, ``record_key_r``, anything else) with each record's
    ``source_dataset_l`` / ``_r`` from ``present`` (``record_key``, ``source_system``), keys in
    sorted order; pairs naming a record not in ``present`` are left out."""
    frame = pairs.with_columns(
        pl.min_horizontal("record_key_l", "record_key_r").alias("record_key_l"),
        pl.max_horizontal("record_key_l", "record_key_r").alias("record_key_r"),
    )
    for side in ("l", "r"):
        frame = frame.join(
            present.select(
                pl.col("record_key").alias(f"record_key_{side}"),
                pl.col("source_system").alias(f"source_dataset_{side}"),
            ),
            on=f"record_key_{side}",
            how="inner",
        )
    extra = [c for c in pairs.columns if c not in ("record_key_l", "record_key_r")]
    return frame.select(
        "record_key_l", "source_dataset_l", "record_key_r", "source_dataset_r", *extra
    ).sort("record_key_l", "record_key_r")


def score_labelled_pairs(linker: Linker, engine: Engine, pairs: pl.DataFrame) -> pl.DataFrame:
    """``pairs`` (from :func:`with_sources`) scored by the linker's current model, whether or
    not a blocking rule finds them: their own columns but the sources, then
    ``match_probability``, ``match_weight``, a ``gamma_<comparison>`` column per comparison
    (the level the pair falls in, -1 for a null) and ``w_<comparison>``, its weight in bits
    (term-frequency adjustment included). Pairs whose records the linker does not hold are
    left out."""
    keys = pairs.select("record_key_l", "source_dataset_l", "record_key_r", "source_dataset_r")
    table = engine.register(keys, table_name=f"__labels_{next(_TABLES)}")
    try:
        pipeline = CTEPipeline()
        enqueue_df_concat_with_tf(linker, pipeline)
        pipeline.enqueue_list_of_sqls(block_from_labels(linker, table.physical_name))
        settings = linker._settings_obj
        pipeline.enqueue_sql(
            compute_comparison_vector_values_sql(
                settings._columns_to_select_for_comparison_vector_values
            ),
            "__splink__df_comparison_vectors",
        )
        vectors = linker._db_api.sql_pipeline_to_splink_dataframe(pipeline)
        # Splink's predictions keep the weights, not the levels: both tables, joined.
        scoring = CTEPipeline([vectors])
        scoring.enqueue_list_of_sqls(predict_from_comparison_vectors_sqls_using_settings(settings))
        predictions = linker._db_api.sql_pipeline_to_splink_dataframe(scoring)
        try:
            present = {c.unquote().name for c in predictions.columns}
            columns = []
            for comparison in settings.comparisons:
                name = comparison.output_column_name
                weight = f"p.mw_{name}"
                if f"mw_tf_adj_{name}" in present:
                    weight = f"({weight} + coalesce(p.mw_tf_adj_{name}, 0))"
                columns += [f"v.gamma_{name}", f"CAST({weight} AS DOUBLE) AS w_{name}"]
            scored = engine.query(
                "SELECT p.record_key_l, p.record_key_r, "
                "CAST(p.match_probability AS DOUBLE) AS match_probability, "
                f"CAST(p.match_weight AS DOUBLE) AS match_weight, {', '.join(columns)} "
                f"FROM {predictions.physical_name} p "
                f"JOIN {vectors.physical_name} v ON p.record_key_l = v.record_key_l "
                "AND p.record_key_r = v.record_key_r"
            )
        finally:
            predictions.drop_table_from_database_and_remove_from_cache()
            vectors.drop_table_from_database_and_remove_from_cache()
    finally:
        table.drop_table_from_database_and_remove_from_cache(force_non_splink_table=True)
    # Splink puts the lower id on the left; the pairs are joined back whatever the order.
    ordered = scored.with_columns(
        pl.min_horizontal("record_key_l", "record_key_r").alias("record_key_l"),
        pl.max_horizontal("record_key_l", "record_key_r").alias("record_key_r"),
    )
    own = [c for c in pairs.columns if c not in ("source_dataset_l", "source_dataset_r")]
    return pairs.select(own).join(ordered, on=["record_key_l", "record_key_r"], how="inner")


def _blend_m(linker: Linker, matches: pl.DataFrame) -> list[str]:
    """Blend each comparison's free m probabilities with the levels the labelled matches fall
    in; returns ``comparison: n`` for each comparison changed."""
    changed = []
    for comparison in linker._settings_obj.comparisons:
        name = comparison.output_column_name
        column = f"gamma_{name}"
        if column not in matches.columns:
            continue
        levels = [lv for lv in comparison.comparison_levels if not lv.is_null_level]
        free = [lv for lv in levels if not lv._fix_m_probability]
        fixed_mass = sum(
            float(lv.m_probability) for lv in levels if lv._fix_m_probability
        )  # what the fixed levels hold, which the free ones share out the rest of
        free_values = {lv.comparison_vector_value for lv in free}
        counts = dict(
            matches.filter(pl.col(column).is_in(list(free_values)))
            .group_by(column)
            .len()
            .iter_rows()
        )
        labelled = sum(counts.values())
        if labelled < MIN_LABELS or not free:
            continue
        mass = max(1.0 - fixed_mass, 0.0)
        for level in free:
            trained = level.m_probability
            em = float(trained) if isinstance(trained, int | float) else 0.0
            shown = counts.get(level.comparison_vector_value, 0) / labelled * mass
            level.m_probability = (labelled * shown + LABEL_PSEUDO_PAIRS * em) / (
                labelled + LABEL_PSEUDO_PAIRS
            )
        changed.append(f"{name}: {labelled}")
    return changed


def calibrated_shift(
    weights: Sequence[float], labels: Sequence[bool], threshold_weight: float
) -> float:
    """The shift ``b`` of every match weight (bits) that maximises the likelihood of the labels
    under ``P(match) = sigmoid((w + b - t) ln 2)``, where ``t`` is the threshold's weight, with
    a normal prior on ``b`` (mean 0, :data:`PRIOR_SHIFT_SCALE`): a pair at the threshold is then
    as likely a match as not, as the threshold promises. Newton's method on a concave function
    of one variable."""
    ln2 = math.log(2)
    shift = 0.0
    for _ in range(50):
        gradient = -shift / PRIOR_SHIFT_SCALE**2
        curvature = -1 / PRIOR_SHIFT_SCALE**2
        for weight, label in zip(weights, labels, strict=True):
            z = max(min((weight + shift - threshold_weight) * ln2, 60.0), -60.0)
            p = 1 / (1 + math.exp(-z))
            gradient += ((1.0 if label else 0.0) - p) * ln2
            curvature -= p * (1 - p) * ln2 * ln2
        step = gradient / curvature
        shift -= step
        if abs(step) < 1e-6:
            break
    return shift


def _agreeing(scored: pl.DataFrame, threshold_weight: float, shift: float) -> int:
    """Labels the model puts on the steward's side of the match threshold."""
    above = (scored["match_weight"] + shift) >= threshold_weight
    return int((above == scored["label"]).sum())
