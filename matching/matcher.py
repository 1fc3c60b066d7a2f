"""Match a set of records end to end: train (or load) the model, score, cluster, queue for
review and explain. The match stage calls :func:`match_records` and writes what it returns.

Link and dedupe run together across every source: each source system is registered as its own
Splink input, so duplicates inside one system and links between systems come from one model
and one set of scores.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel, Field
from splink import Linker

from matching.charts import render_charts, sample_pairs
from matching.clustering import ClusteringReport, cluster_records
from matching.config import MatchingConfig
from matching.engine import Engine, open_engine
from matching.errors import MatchingInputError
from matching.features import matching_frame
from matching.review import review_queue
from matching.scoring import score_pairs
from matching.settings import contradiction_conditions, model_for_engine, settings_creator
from matching.training import TrainingReport, train_model, untrained_parameters

logger = logging.getLogger(__name__)


class MatchSummary(BaseModel):
    """Figures of one matching run, for the run summary and ``match/result.json``."""

    engine: str
    records: int
    records_by_source: dict[str, int] = Field(default_factory=dict)
    trained: bool
    """False when a saved model was reused instead of training on this run's records."""
    probability_two_random_records_match: float | None = None
    em_sessions: list[str] = Field(default_factory=list)
    training_skipped: list[str] = Field(default_factory=list)
    untrained_parameters: list[str] = Field(default_factory=list)
    """Comparison levels whose m or u Splink could not estimate (defaults were used)."""
    pairs_scored: int = 0
    """Candidate pairs the blocking rules produced (each scored once)."""
    pairs_by_rule: dict[str, int] = Field(default_factory=dict)
    """Pairs each blocking rule added beyond the rules before it."""
    pairs_kept: int = 0
    """Scored pairs at or above the review band's lower bound (``pairs.parquet``)."""
    pairs_linked: int = 0
    """Scored pairs at or above the match threshold."""
    links_refused: int = 0
    """Links above the threshold that clustering refused (contradiction or cannot-link)."""
    contradictions: dict[str, int] = Field(default_factory=dict)
    """Record pairs inside would-be clusters that contradict, per identity field."""
    clusters: int = 0
    records_in_multi_record_clusters: int = 0
    largest_cluster: int = 0
    review_pairs: int = 0
    must_links_applied: int = 0
    cannot_links_applied: int = 0
    decisions_ignored: int = 0
    seconds: dict[str, float] = Field(default_factory=dict)


@dataclass
class MatchOutput:
    """Everything a matching run produces; the caller decides where it is written."""

    model: dict[str, Any] | None
    """The Splink model (settings with trained parameters); None when there was nothing to
    train on (fewer than two records)."""
    pairs: pl.DataFrame
    clusters: pl.DataFrame
    review_queue: pl.DataFrame
    charts: dict[str, str]
    summary: MatchSummary


def match_records(
    records: pl.DataFrame,
    config: MatchingConfig,
    *,
    work_dir: Path,
    must_link: Iterable[tuple[str, str]] = (),
    cannot_link: Iterable[tuple[str, str]] = (),
    model_path: Path | None = None,
    review_fields: Sequence[str] = (),
) -> MatchOutput:
    """Match ``records`` (staged schema) and return the model, pairs, clusters, review queue,
    charts and summary.

    ``model_path`` reuses a saved Splink model instead of training; ``work_dir`` holds the
    backend's spill files. ``review_fields`` are the record fields shown side by side in the
    review queue.
    """
    must_link, cannot_link = list(must_link), list(cannot_link)
    clock = _Clock()
    features = matching_frame(records, config.max_key_frequency)
    by_source = dict(features.group_by("source_system").len().sort("source_system").iter_rows())
    if features.height < 2:
        # Nothing to compare: every record is its own customer.
        return _nothing_to_match(features, records, config, by_source, review_fields)
    with open_engine(config, work_dir) as engine:
        linker = _linker(engine, features, model_path)
        clock.lap("load")
        if model_path is None:
            training = train_model(linker, config, engine.u_sampling_chunks)
        else:
            training = TrainingReport(
                probability_two_random_records_match=linker.misc.save_model_to_json()[
                    "probability_two_random_records_match"
                ],
                untrained_parameters=untrained_parameters(linker.misc.save_model_to_json()),
            )
        clock.lap("train")
        scores = score_pairs(linker, engine, config)
        clock.lap("score")

        clustering = ClusteringReport()
        clusters = cluster_records(
            features,
            scores.pairs,
            config.match_threshold,
            must_link,
            cannot_link,
            contradictions=contradiction_conditions(),
            report=clustering,
        )
        clock.lap("cluster")
        queue = review_queue(
            scores.pairs,
            clusters,
            records,
            review_lower=config.review_lower,
            match_threshold=config.match_threshold,
            decided=[*must_link, *cannot_link],
            fields=review_fields,
        )
        clock.lap("review")
        explained = sample_pairs(
            list(zip(queue["record_key_l"], queue["record_key_r"], strict=True)),
            config.waterfall_pairs,
            config.seed,
        )
        charts = render_charts(linker, _explained_pairs(linker, engine, features, explained))
        model = linker.misc.save_model_to_json()
        clock.lap("charts")

    sizes = clusters.group_by("cluster_id").len()["len"]
    summary = MatchSummary(
        engine=engine.name,
        records=features.height,
        records_by_source=by_source,
        trained=model_path is None,
        probability_two_random_records_match=training.probability_two_random_records_match,
        em_sessions=training.em_sessions,
        training_skipped=training.skipped,
        untrained_parameters=training.untrained_parameters,
        pairs_scored=scores.pairs_scored,
        pairs_by_rule=scores.pairs_by_rule,
        pairs_kept=scores.pairs.height,
        pairs_linked=int((scores.pairs["match_probability"] >= config.match_threshold).sum())
        if scores.pairs.height
        else 0,
        links_refused=clustering.links_refused,
        contradictions=clustering.contradiction_counts,
        clusters=sizes.len(),
        records_in_multi_record_clusters=int(sizes.filter(sizes > 1).sum()),
        largest_cluster=int(sizes.max() or 0),
        review_pairs=queue.height,
        must_links_applied=clustering.must_links_applied,
        cannot_links_applied=clustering.cannot_links_applied,
        decisions_ignored=clustering.decisions_ignored,
        seconds=clock.laps,
    )
    return MatchOutput(model, scores.pairs, clusters, queue, charts, summary)


def _nothing_to_match(
    features: pl.DataFrame,
    records: pl.DataFrame,
    config: MatchingConfig,
    by_source: dict[str, int],
    review_fields: Sequence[str],
) -> MatchOutput:
    empty_pairs = pl.DataFrame(
        schema={
            "record_key_l": pl.String,
            "record_key_r": pl.String,
            "match_probability": pl.Float64,
            "match_weight": pl.Float64,
        }
    )
    clusters = cluster_records(features, empty_pairs, config.match_threshold, contradictions={})
    queue = review_queue(
        empty_pairs,
        clusters,
        records,
        review_lower=config.review_lower,
        match_threshold=config.match_threshold,
        fields=review_fields,
    )
    summary = MatchSummary(
        engine=config.engine,
        records=features.height,
        records_by_source=by_source,
        trained=False,
        training_skipped=["fewer than two records: nothing to train on or to compare"],
        clusters=clusters.height,
        largest_cluster=1 if clusters.height else 0,
    )
    return MatchOutput(None, empty_pairs, clusters, queue, {}, summary)


def _linker(engine: Engine, features: pl.DataFrame, model_path: Path | None) -> Linker:
    sources = sorted(features["source_system"].unique().to_list())
    inputs = [
        engine.register(features.filter(pl.col("source_system") == source), source)
        for source in sources
    ]
    if model_path is None:
        return Linker(inputs, settings_creator(len(sources)), log_level=None)
    try:
        model = json.loads(model_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MatchingInputError(f"saved model {model_path} cannot be read: {exc}") from exc
    if not isinstance(model, dict) or "comparisons" not in model:
        raise MatchingInputError(f"saved model {model_path} is not a Splink model (no comparisons)")
    model = model_for_engine(model, engine.db_api.sql_dialect.sql_dialect_str, len(sources))
    try:
        return Linker(inputs, model, log_level=None)
    except (ValueError, KeyError, TypeError) as exc:
        raise MatchingInputError(f"saved model {model_path} cannot be used: {exc}") from exc


def _explained_pairs(
    linker: Linker, engine: Engine, features: pl.DataFrame, keys: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    """The scored comparisons of ``keys`` with every intermediate column and both records'
    compared values: what the waterfall chart shows. Scored afresh with Splink's
    ``score_pairs`` (term frequencies from the run's data), since the run's predictions do not
    carry the compared values."""
    if not keys:
        return []
    lefts = features.filter(pl.col("record_key").is_in([a for a, _ in keys]))
    rights = features.filter(pl.col("record_key").is_in([b for _, b in keys]))
    # Typed tables rather than dicts: Spark cannot infer the type of an all-null column.
    left, right = (
        engine.db_api.register(
            frame.rename({"source_system": "source_dataset"}).to_arrow(),
            table_name=f"__explained_{side}_{id(keys)}",
        )
        for side, frame in (("l", lefts), ("r", rights))
    )
    scored = linker.inference.score_pairs(left, right)
    try:
        rows = engine.to_polars(scored)
    finally:
        scored.drop_table_from_database_and_remove_from_cache()
        for table in (left, right):
            table.drop_table_from_database_and_remove_from_cache(force_non_splink_table=True)
    wanted = pl.DataFrame(
        keys, schema={"record_key_l": pl.String, "record_key_r": pl.String}, orient="row"
    )
    rows = wanted.with_row_index("order").join(rows, on=["record_key_l", "record_key_r"])
    return rows.sort("order").drop("order").to_dicts()


class _Clock:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 3)
        self._last = now
