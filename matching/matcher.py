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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, Field
from splink import Linker

from matching.active import candidate_pairs, training_pairs
from matching.charts import render_charts, sample_pairs
from matching.clustering import (
    ClusteringReport,
    ClusteringState,
    cluster_records,
    cluster_with_state,
    referenced_columns,
)
from matching.config import MatchingConfig
from matching.engine import Engine, open_engine
from matching.errors import MatchingInputError
from matching.features import feature_inputs, matching_frame
from matching.incremental import (
    BaseMatch,
    BaseUnusable,
    Changes,
    collect_tf_tables,
    detect_changes,
    feature_hashes,
    load_base,
    load_clustering_base,
    read_tf_tables,
    register_tf_tables,
    reused_pairs,
    score_changed_pairs,
    scoring_settings,
    scoring_subset,
    settings_differences,
    tf_columns,
)
from matching.labels import LabelReport, labels_digest, learn_from_labels
from matching.layout import RESULT_FILE, TF_DIR
from matching.plan import ModelPlan, build_plan
from matching.quiet import quiet_splink
from matching.review import review_queue, side_by_side
from matching.scoring import score_pairs, write_blocked_pairs
from matching.settings import (
    contradiction_conditions,
    link_type,
    model_for_engine,
    plan_of_model,
    settings_creator,
)
from matching.training import TrainingReport, train_model, untrained_parameters

logger = logging.getLogger(__name__)


class IncrementalReport(BaseModel):
    """Which matching path ran and, when a previous run's match was compared, what changed."""

    path: Literal["full", "incremental"] = "full"
    reason: str | None = None
    """Why the full path ran (None for an incremental run)."""
    base_run_id: str | None = None
    """The previous run whose match was compared with (and, incrementally, built on)."""
    records_new: int | None = None
    records_changed: int | None = None
    """Records whose matching feature row differs from the base run's."""
    records_removed: int | None = None
    records_unchanged: int | None = None
    pairs_reused: int = 0
    """Kept pairs (``pairs.parquet``) taken over from the base run unscored."""
    pairs_scored_anew: int = 0
    """Candidate pairs scored by this run (every blocked pair on the full path)."""
    components_kept: int = 0
    """Components of linked records (of more than two records, or with a cannot-link) whose
    clusters were taken over from the base run: nothing in them changed."""
    components_reclustered: int = 0
    """Such components clustered by this run (all of them on the full path)."""
    clustering_base: str | None = None
    """Why the base run's clusters could not be kept (None when they were, or no base)."""


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
    m_probabilities_bounded: list[str] = Field(default_factory=list)
    """Levels whose trained m was raised to ``matching.min_m_probability``."""
    labelled_pairs: int = 0
    """Known matching pairs (steward must-links, records sharing an identifier) the
    contradiction levels were checked against."""
    steward_labels: LabelReport = Field(default_factory=LabelReport)
    """What the steward decisions, as labelled pairs, taught the model this run trained
    (:mod:`matching.labels`); empty when the model was loaded, not trained."""
    model: list[str] = Field(default_factory=list)
    """The model this run's records called for, in a few lines: the fields compared, the
    blocking rules with the pairs each generates, rules left out and why
    (:class:`matching.plan.ModelPlan`)."""
    model_plan: ModelPlan | None = None
    pairs_scored: int = 0
    """Candidate pairs this run scored (each once): every pair the blocking rules produce on
    the full path, only those with a new or changed record on the incremental one."""
    pairs_by_rule: dict[str, int] = Field(default_factory=dict)
    """Pairs each blocking rule added beyond the rules before it (of ``pairs_scored``)."""
    pairs_kept: int = 0
    """Pairs at or above the review band's lower bound (``pairs.parquet``), reused included."""
    pairs_linked: int = 0
    """Kept pairs at or above the match threshold."""
    links_refused: int = 0
    """Links above the threshold that clustering refused (contradiction or cannot-link)."""
    contradictions: dict[str, int] = Field(default_factory=dict)
    """Record pairs inside would-be clusters that contradict, per identity field."""
    clusters: int = 0
    records_in_multi_record_clusters: int = 0
    largest_cluster: int = 0
    review_pairs: int = 0
    training_pairs: int = 0
    """Pairs suggested for stewards to label (``training_pairs.parquet``,
    :mod:`matching.active`)."""
    must_links_applied: int = 0
    cannot_links_applied: int = 0
    decisions_ignored: int = 0
    incremental: IncrementalReport = Field(default_factory=IncrementalReport)
    scoring_settings: dict[str, Any] = Field(default_factory=dict)
    """Every setting that decides the scores (``matching.incremental.scoring_settings``); a
    later run builds on this one only when its own are equal."""
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
    feature_hashes: pl.DataFrame | None = None
    """``record_key``, ``feature_hash``: what the next run compares its records with."""
    tf_tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    """The term-frequency tables the scores used, per column, to save beside the model."""
    tf_source: Path | None = None
    """The folder ``tf_tables`` were read from unchanged (the base run's ``tf/`` on the
    incremental path), so the caller may link its files instead of writing them again."""
    clustering_state: ClusteringState | None = None
    """What the next run needs to keep the clusters of components nothing touched."""
    training_pairs: pl.DataFrame | None = None
    """The pairs suggested for stewards to label, ranked, with both records' ``review_fields``
    (:mod:`matching.active`); None when nothing was matched."""


@dataclass
class _Plan:
    """The path a run takes: incremental when ``base`` and ``changes`` are set."""

    reason: str | None = None
    base: BaseMatch | None = None
    changes: Changes | None = None
    base_run_id: str | None = None
    compared: Changes | None = None


def match_records(
    records: pl.DataFrame | pl.LazyFrame,
    config: MatchingConfig,
    *,
    work_dir: Path,
    must_link: Iterable[tuple[str, str]] = (),
    cannot_link: Iterable[tuple[str, str]] = (),
    model_path: Path | None = None,
    review_fields: Sequence[str] = (),
    previous: Path | None = None,
    full_rebuild: bool = False,
) -> MatchOutput:
    """Match ``records`` (staged schema) and return the model, pairs, clusters, review queue,
    charts and summary.

    ``model_path`` reuses a saved Splink model instead of training (and the term-frequency
    tables saved beside it, in ``tf/``, when present); ``work_dir`` holds the backend's spill
    files. ``review_fields`` are the record fields shown side by side in the review queue.
    ``records`` may be a scan of the staged file: it is read whole once, to derive the matching
    features, and afterwards only the rows of the pairs shown to stewards are read again, so
    the stage never holds the records beside their features.
    ``previous`` is the match folder of an earlier run to build on incrementally (see
    :mod:`matching.incremental`); the full path runs when there is none, when
    ``full_rebuild`` is set, or when that run's scoring settings or too many records differ.
    """
    must_link, cannot_link = list(must_link), list(cannot_link)
    quiet_splink()
    clock = _Clock()
    records = records.lazy()
    read = feature_inputs(records.collect_schema().names())
    features = matching_frame(records.select(read), config.max_key_frequency, config.attributes)
    by_source = dict(features.group_by("source_system").len().sort("source_system").iter_rows())
    if features.height < 2:
        # Nothing to compare: every record is its own customer.
        reason = "fewer than two records: nothing to train on or to compare"
        return _nothing_to_match(features, records, config, by_source, review_fields, reason)
    hashes = feature_hashes(features)
    model_plan = (
        plan_of_model(_read_model(model_path))
        if model_path is not None
        else build_plan(features, config)
    )
    if model_path is None:
        logger.info("model for these records:\n  %s", "\n  ".join(model_plan.lines()))
        if not model_plan.fields_used:
            reason = (
                "no field tells these records apart (each is empty or holds one value in every "
                "record): nothing compared, every record is its own customer"
            )
            logger.warning("%s", reason)
            return _nothing_to_match(features, records, config, by_source, review_fields, reason)
    settings = scoring_settings(
        config,
        link_type(len(by_source)),
        [c for c in features.columns if c != "record_key"],
        model_plan,
    )
    digest = labels_digest(must_link, cannot_link)
    plan = _plan(config, settings, hashes, previous, model_path, full_rebuild, digest)
    clock.lap("changes")
    labels = LabelReport()
    # Term-frequency tables known before scoring (trained on DuckDB for a Spark run); None:
    # the base run's, or what the linker scored with, read back after scoring.
    known_tf: dict[str, pl.DataFrame] | None = None
    blocked: Path | None = None
    with open_engine(config, work_dir) as engine:
        reused = None
        if plan.base is not None and plan.changes is not None:
            # Splink sees only the records a changed pair can be made of, not every record.
            subset = scoring_subset(features, plan.base.model, plan.changes.to_score)
            linker = _linker(
                engine, subset, plan.base.model, plan.base.model_path, sources=list(by_source)
            )
            register_tf_tables(linker, engine, _tf_rows_of(subset, plan.base.tf_tables))
            training = _report_of(linker)
            labels = _base_labels(plan.base.match_dir)
            clock.lap("load")
            features, whole = _set_aside(
                features, _compared_fields(linker.misc.save_model_to_json()), work_dir
            )
            reused = reused_pairs(plan.base, plan.changes.touched)
            scores = score_changed_pairs(linker, engine, config, subset, plan.changes.to_score)
            pairs = pl.concat([reused, scores.pairs.select(reused.columns)])
        else:
            model = _read_model(model_path) if model_path is not None else None
            if model is None and engine.name == "spark" and config.spark_training == "duckdb":
                blocked = engine.scratch_folder("driver") / "blocked_pairs.parquet"
                model, known_tf, training, labels = _trained_on_duckdb(
                    config, work_dir, features, model_plan, must_link, cannot_link, blocked
                )
                labels.digest = digest
                clock.lap("train")
                linker = _linker(engine, features, model, None)
                register_tf_tables(linker, engine, known_tf)
                clock.lap("load")
            else:
                linker = _linker(engine, features, model, model_path, plan=model_plan)
                clock.lap("load")
                if model_path is not None:
                    saved = read_tf_tables(model_path.parent / TF_DIR, tf_columns(model or {}))
                    register_tf_tables(linker, engine, saved)
                    if saved:
                        logger.info(
                            "scoring with the %d term-frequency table(s) saved beside %s",
                            len(saved),
                            model_path,
                        )
                    training = _report_of(linker)
                else:
                    training, labels = _train(
                        linker, engine, config, model_plan, features, must_link, cannot_link
                    )
                    labels.digest = digest
                clock.lap("train")
            features, whole = _set_aside(
                features, _compared_fields(linker.misc.save_model_to_json()), work_dir
            )
            # A model trained here settles its prior on its own scores, unless steward labels
            # calibrated it (they are the better evidence) or it was given.
            settle = model_path is None and labels.prior_shift_bits is None
            scores = score_pairs(
                linker,
                engine,
                config,
                records=features.height,
                settle_over=features.height if settle else None,
                blocked=blocked,
            )
            pairs = scores.pairs
            if scores.settled_prior is not None:
                before, after = scores.settled_prior
                training.probability_two_random_records_match = after
                training.skipped.append(
                    f"prior: settled on the model's own scores, {before:.3g} -> {after:.3g} "
                    "(the expected matches among the scored pairs, over all pairs)"
                )
        clock.lap("score")

        clustering = ClusteringReport()
        cluster_base, cluster_base_problem = _clustering_base(plan)
        trained = linker.misc.save_model_to_json()
        clusters, clustering_state = cluster_with_state(
            features,
            pairs,
            config.match_threshold,
            must_link,
            cannot_link,
            contradictions=contradiction_conditions(
                fields=_compared_fields(trained), model=trained
            ),
            report=clustering,
            base=cluster_base,
            touched=plan.changes.touched if plan.changes is not None else None,
        )
        clock.lap("cluster")
        queue = review_queue(
            pairs,
            clusters,
            records,
            review_lower=config.review_lower,
            match_threshold=config.match_threshold,
            decided=[*must_link, *cannot_link],
            fields=review_fields,
        )
        candidates = candidate_pairs(
            pairs,
            scores.near_misses,
            match_threshold=config.match_threshold,
            review_lower=config.review_lower,
            decided=[*must_link, *cannot_link],
        )
        model = linker.misc.save_model_to_json()
        if plan.base is not None:
            tf_tables = plan.base.tf_tables
        elif known_tf is not None:
            tf_tables = known_tf
        else:
            tf_tables = collect_tf_tables(linker, engine, model)
        suggester = linker
        if candidates.height:
            # A linker over the candidates' records only, their term frequencies registered:
            # scoring them then never derives the records-with-frequencies table of every
            # record (18 s on local Spark at a million records), and an incremental run's
            # linker holds only the records a changed pair is made of anyway.
            held = whole.rows(pl.concat([candidates["record_key_l"], candidates["record_key_r"]]))
            origin = plan.base.model_path if plan.base is not None else model_path
            suggester = _linker(engine, held, model, origin, sources=list(by_source))
            register_tf_tables(suggester, engine, _tf_rows_of(held, tf_tables))
        suggested = side_by_side(
            training_pairs(suggester, engine, features, candidates, config.match_threshold),
            records,
            review_fields,
        )
        clock.lap("review")
        explained = sample_pairs(
            list(zip(queue["record_key_l"], queue["record_key_r"], strict=True)),
            config.waterfall_pairs,
            config.seed,
        )
        charts = render_charts(
            linker,
            _explained_pairs(
                linker,
                engine,
                whole.rows(pl.Series([k for pair in explained for k in pair])),
                explained,
                tf_tables,
            ),
        )
        clock.lap("charts")

    compared = plan.changes or plan.compared
    incremental = IncrementalReport(
        path="incremental" if plan.changes is not None else "full",
        reason=plan.reason,
        base_run_id=plan.base_run_id,
        records_new=compared.new if compared else None,
        records_changed=compared.changed if compared else None,
        records_removed=compared.removed if compared else None,
        records_unchanged=compared.unchanged if compared else None,
        pairs_reused=reused.height if reused is not None else 0,
        pairs_scored_anew=scores.pairs_scored,
        components_kept=clustering.components_kept,
        components_reclustered=clustering.components_reclustered,
        clustering_base=cluster_base_problem,
    )
    sizes = clusters.group_by("cluster_id").len()["len"]
    summary = MatchSummary(
        engine=engine.name,
        records=features.height,
        records_by_source=by_source,
        trained=model_path is None and plan.changes is None,
        probability_two_random_records_match=training.probability_two_random_records_match,
        em_sessions=training.em_sessions,
        training_skipped=training.skipped,
        untrained_parameters=training.untrained_parameters,
        m_probabilities_bounded=training.bounded,
        labelled_pairs=training.labelled_pairs,
        steward_labels=labels,
        model=model_plan.lines() if plan.changes is None and model_path is None else [],
        model_plan=model_plan,
        pairs_scored=scores.pairs_scored,
        pairs_by_rule=scores.pairs_by_rule,
        pairs_kept=pairs.height,
        pairs_linked=int((pairs["match_probability"] >= config.match_threshold).sum())
        if pairs.height
        else 0,
        links_refused=clustering.links_refused,
        contradictions=clustering.contradiction_counts,
        clusters=sizes.len(),
        records_in_multi_record_clusters=int(sizes.filter(sizes > 1).sum()),
        largest_cluster=int(sizes.max() or 0),
        review_pairs=queue.height,
        training_pairs=suggested.height,
        must_links_applied=clustering.must_links_applied,
        cannot_links_applied=clustering.cannot_links_applied,
        decisions_ignored=clustering.decisions_ignored,
        incremental=incremental,
        scoring_settings=settings,
        seconds=clock.laps,
    )
    tf_source = plan.base.match_dir / TF_DIR if plan.base is not None else None
    return MatchOutput(
        model,
        pairs,
        clusters,
        queue,
        charts,
        summary,
        hashes,
        tf_tables,
        tf_source,
        clustering_state,
        suggested,
    )


@dataclass
class _WholeFeatures:
    """The run's whole feature rows, in a file of the work folder (:func:`_set_aside`)."""

    path: Path

    def rows(self, keys: pl.Series) -> pl.DataFrame:
        """The feature rows of ``keys`` (a few records: suggestions, charted pairs)."""
        wanted = keys.cast(pl.String).unique().implode()
        return pl.scan_parquet(self.path).filter(pl.col("record_key").is_in(wanted)).collect()


def _set_aside(
    features: pl.DataFrame, fields: Sequence[str], work_dir: Path
) -> tuple[pl.DataFrame, _WholeFeatures]:
    """Write the whole feature rows to the work folder and keep in memory only the columns
    clustering reads (the keys and what the identity contradictions compare).

    Once the backend holds its inputs and the model is trained, the Python side needs whole
    rows only for the few records the review suggestions and the charts show; at ten million
    records the whole frame is gigabytes held beside DuckDB's memory and the scored pairs
    (issue 22: the match stage peaked at 16.3 GiB, on the incremental path as on the full)."""
    path = work_dir / "features-whole.parquet"
    features.write_parquet(path, compression="lz4")
    read = referenced_columns(contradiction_conditions(fields=fields))
    keep = ["record_key", "source_system", *sorted(read & set(features.columns))]
    return features.select(keep), _WholeFeatures(path)


def _compared_fields(model: dict[str, Any]) -> list[str]:
    """The fields a saved Splink model compares (its comparisons' output names)."""
    return [c["output_column_name"] for c in model["comparisons"]]


def _clustering_base(plan: _Plan) -> tuple[ClusteringState | None, str | None]:
    """The base run's clustering to keep untouched components of (incremental path only),
    or why there is none to keep."""
    if plan.base is None or plan.changes is None:
        return None, None
    try:
        return load_clustering_base(plan.base.match_dir), None
    except BaseUnusable as exc:
        logger.info("clustering every component afresh: %s", exc)
        return None, str(exc)


def _plan(
    config: MatchingConfig,
    settings: dict[str, Any],
    hashes: pl.DataFrame,
    previous: Path | None,
    model_path: Path | None,
    full_rebuild: bool,
    labels: str = "",
) -> _Plan:
    """Decide between the incremental and the full path, with the reason for a full one."""
    plan = _decide(config, settings, hashes, previous, model_path, full_rebuild, labels)
    if plan.changes is not None:
        changes = plan.changes
        logger.info(
            "incremental match on run %s: %d new, %d changed, %d removed, %d unchanged record(s)",
            plan.base_run_id,
            changes.new,
            changes.changed,
            changes.removed,
            changes.unchanged,
        )
    else:
        logger.info("full match: %s", plan.reason)
    return plan


def _decide(
    config: MatchingConfig,
    settings: dict[str, Any],
    hashes: pl.DataFrame,
    previous: Path | None,
    model_path: Path | None,
    full_rebuild: bool,
    labels: str = "",
) -> _Plan:
    if full_rebuild:
        return _Plan("a full rebuild was asked for")
    if not config.incremental:
        return _Plan("matching.incremental is false")
    if previous is None:
        return _Plan("no previous run has a complete match to build on")
    try:
        base = load_base(previous)
    except BaseUnusable as exc:
        return _Plan(f"the previous match cannot be built on: {exc}")
    differences = settings_differences(settings, base.settings)
    if differences:
        return _Plan(
            f"the scoring settings changed since run {base.run_id} ({'; '.join(differences)})",
            base_run_id=base.run_id,
        )
    if model_path is not None and not _same_model(_read_model(model_path), base.model):
        return _Plan(
            f"the model given ({model_path}) is not the one run {base.run_id} scored with",
            base_run_id=base.run_id,
        )
    if model_path is None and _base_labels(base.match_dir).digest != labels:
        return _Plan(
            f"the steward labels changed since run {base.run_id}'s model learnt from them "
            "(matching.labels): the model trains afresh",
            base_run_id=base.run_id,
        )
    changes = detect_changes(hashes, base.hashes)
    bound = config.incremental_max_changed_fraction
    if changes.fraction > bound:
        return _Plan(
            f"{changes.fraction:.1%} of the records differ from run {base.run_id}'s, more than "
            f"matching.incremental_max_changed_fraction ({bound:.1%})",
            base_run_id=base.run_id,
            compared=changes,
        )
    return _Plan(None, base, changes, base.run_id)


def _base_labels(match_dir: Path) -> LabelReport:
    """What the steward labels taught the model of an earlier run (carried along by the
    incremental runs that reused it); empty for runs before labels were learnt from."""
    try:
        result = json.loads((match_dir / RESULT_FILE).read_text(encoding="utf-8"))
        return LabelReport.model_validate(result.get("steward_labels") or {})
    except (OSError, ValueError):
        return LabelReport()


def _same_model(given: dict[str, Any], base: dict[str, Any]) -> bool:
    """Whether two saved models score alike (the same comparisons, parameters, prior and
    blocking rules), whatever else their JSON holds."""
    keys = (
        "comparisons",
        "probability_two_random_records_match",
        "blocking_rules_to_generate_predictions",
    )
    return all(given.get(k) == base.get(k) for k in keys)


def _report_of(linker: Linker) -> TrainingReport:
    """The training figures of a model that was loaded, not trained."""
    model = linker.misc.save_model_to_json()
    return TrainingReport(
        probability_two_random_records_match=model["probability_two_random_records_match"],
        untrained_parameters=untrained_parameters(model),
    )


def _nothing_to_match(
    features: pl.DataFrame,
    records: pl.LazyFrame,
    config: MatchingConfig,
    by_source: dict[str, int],
    review_fields: Sequence[str],
    reason: str,
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
        training_skipped=[reason],
        model=[reason],
        clusters=clusters.height,
        largest_cluster=1 if clusters.height else 0,
    )
    return MatchOutput(None, empty_pairs, clusters, queue, {}, summary)


def _read_model(path: Path) -> dict[str, Any]:
    try:
        model = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MatchingInputError(f"saved model {path} cannot be read: {exc}") from exc
    if not isinstance(model, dict) or "comparisons" not in model:
        raise MatchingInputError(f"saved model {path} is not a Splink model (no comparisons)")
    return model


def _linker(
    engine: Engine,
    features: pl.DataFrame,
    model: dict[str, Any] | None,
    origin: Path | None,
    sources: list[str] | None = None,
    plan: ModelPlan | None = None,
) -> Linker:
    """A linker over ``features``, one input per source (``sources``, by default those of
    ``features``; a source without records gets an empty input, so the link type stays
    that of the whole run): untrained when ``model`` is None, else with that saved model (read
    from ``origin``, named in errors)."""
    sources = sorted(sources or features["source_system"].unique().to_list())
    inputs = [
        engine.register(features.filter(pl.col("source_system") == source), source)
        for source in sources
    ]
    if model is None:
        return Linker(inputs, settings_creator(len(sources), plan), log_level=None)
    model = model_for_engine(model, engine.db_api.sql_dialect.sql_dialect_str, len(sources))
    try:
        return Linker(inputs, model, log_level=None)
    except (ValueError, KeyError, TypeError) as exc:
        raise MatchingInputError(f"saved model {origin} cannot be used: {exc}") from exc


def _train(
    linker: Linker,
    engine: Engine,
    config: MatchingConfig,
    plan: ModelPlan,
    features: pl.DataFrame,
    must_link: list[tuple[str, str]],
    cannot_link: list[tuple[str, str]],
) -> tuple[TrainingReport, LabelReport]:
    """Train ``linker``'s model in place, then learn from the stewards' labels if any."""
    training = train_model(linker, config, engine.u_sampling_chunks, plan, features, must_link)
    labels = LabelReport()
    if must_link or cannot_link:
        labels = learn_from_labels(
            linker,
            engine,
            features,
            must_link,
            cannot_link,
            config.match_threshold,
            config.min_m_probability,
        )
    return training, labels


def _trained_on_duckdb(
    config: MatchingConfig,
    work_dir: Path,
    features: pl.DataFrame,
    plan: ModelPlan,
    must_link: list[tuple[str, str]],
    cannot_link: list[tuple[str, str]],
    blocked: Path,
) -> tuple[dict[str, Any], dict[str, pl.DataFrame], TrainingReport, LabelReport]:
    """The model for a Spark run, trained on DuckDB in this process (``spark_training``),
    the term-frequency tables of ``features`` it adjusts by, and the pairs its blocking rules
    make, written to ``blocked``: the work over records, done where the records are, leaving
    Spark the work over pairs.

    Training draws its pairs from samples and blocks, and Spark spends each of its few hundred
    queries planning and generating code rather than reading data; the features are already in
    this process, so DuckDB trains on them in seconds and Spark scores with the result. The
    term-frequency tables are counts over those same features: DuckDB builds all of them in
    about a second, where Spark spent a job on each (12 s at a million records), and
    registered on the Spark linker they are what Spark would have computed. Blocking is a
    self-join per rule: DuckDB's hash joins make the pairs of a million records in seconds,
    Spark's sort-merge joins took about a minute of two cores (:func:`write_blocked_pairs`)."""
    duckdb_config = config.model_copy(update={"engine": "duckdb"})
    with open_engine(duckdb_config, work_dir / "duckdb_training") as engine:
        linker = _linker(engine, features, None, None, plan=plan)
        training, labels = _train(
            linker, engine, duckdb_config, plan, features, must_link, cannot_link
        )
        model = linker.misc.save_model_to_json()
        tf_tables = collect_tf_tables(linker, engine, model)
        pairs = write_blocked_pairs(linker, engine, blocked)
    logger.info(
        "model trained and %d pair(s) blocked on DuckDB in the driver; Spark scores them", pairs
    )
    return model, tf_tables, training, labels


def _explained_pairs(
    linker: Linker,
    engine: Engine,
    features: pl.DataFrame,
    keys: list[tuple[str, str]],
    tf_tables: dict[str, pl.DataFrame] | None = None,
) -> list[dict[str, Any]]:
    """The scored comparisons of ``keys`` with every intermediate column and both records'
    compared values: what the waterfall chart shows. Scored afresh with Splink's
    ``score_pairs`` (term frequencies from the run's data), since the run's predictions do not
    carry the compared values.

    ``tf_tables`` are the term-frequency tables the linker scores with: the records arrive
    with their ``tf_<column>`` values already looked up, since Splink skips the lookup of a
    column its input carries, and its own lookup joins each table of up to a million values
    (twice) for these few records."""
    if not keys:
        return []
    lefts = _with_term_frequencies(
        features.filter(pl.col("record_key").is_in([a for a, _ in keys])), tf_tables or {}
    )
    rights = _with_term_frequencies(
        features.filter(pl.col("record_key").is_in([b for _, b in keys])), tf_tables or {}
    )
    # Typed tables rather than dicts (Spark cannot infer the type of an all-null column),
    # handed over as the engine hands over every input: Parquet on Spark.
    left, right = (
        engine.register(
            frame.rename({"source_system": "source_dataset"}),
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


def _tf_rows_of(
    records: pl.DataFrame, tf_tables: dict[str, pl.DataFrame]
) -> dict[str, pl.DataFrame]:
    """The rows of each term-frequency table whose value one of ``records`` holds: all a
    linker over ``records`` ever looks up (Splink left-joins its input records to the tables
    by value), at a fraction of the size of tables over every record."""
    return {
        column: table.filter(pl.col(column).is_in(records[column].drop_nulls().unique().implode()))
        if column in records.columns
        else table
        for column, table in tf_tables.items()
    }


def _with_term_frequencies(
    records: pl.DataFrame, tf_tables: dict[str, pl.DataFrame]
) -> pl.DataFrame:
    """``records`` with ``tf_<column>`` of each table, looked up as Splink's own left join
    does (a null or unknown value gets a null frequency)."""
    for column, table in _tf_rows_of(records, tf_tables).items():
        tf_name = f"tf_{column}"
        if column not in records.columns or tf_name in records.columns:
            continue
        wanted = table.select(column, tf_name)
        records = records.join(wanted, on=column, how="left", maintain_order="left")
    return records


class _Clock:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 3)
        self._last = now
