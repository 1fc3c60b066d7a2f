"""Score the candidate pairs the blocking rules produce.

Blocked pairs are materialised first (once per chunk) so that their number per rule can be
reported before Splink scores them from the same cached table: the count costs no second
blocking pass. Only pairs at or above the review band's lower bound leave the backend, as the
slim ``pairs.parquet`` frame; the full prediction tables stay in the backend for the waterfall
chart.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any, Final

import numpy as np
import polars as pl
from splink import Linker
from splink.internals.blocking import combine_unique_id_input_columns
from splink.internals.comparison_vector_values import (
    compute_comparison_vector_values_from_id_pairs_sqls,
)
from splink.internals.dialects import SplinkDialect
from splink.internals.duckdb.pruned_prediction import _enqueue_pruned_inputs_with_tf
from splink.internals.misc import prob_to_match_weight
from splink.internals.pipeline import CTEPipeline
from splink.internals.predict import (
    _combine_prior_and_mws,
    predict_from_comparison_vectors_sqls_using_settings,
)
from splink.internals.splink_dataframe import SplinkDataFrame
from splink.internals.unique_id_concat import _composite_unique_id_from_nodes_sql
from splink.internals.vertically_concatenate import enqueue_df_concat_with_tf

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
    settled_prior: tuple[float, float] | None = None
    """The prior before and after :func:`settled_prior`, when the scores settled it."""


def near_miss_floor(review_lower: float) -> float:
    """The probability :data:`NEAR_MISS_BITS` below ``review_lower``."""
    odds = review_lower / (1 - review_lower) / 2**NEAR_MISS_BITS
    return odds / (1 + odds)


PREDICT_CHUNK_RECORDS = 2_500_000
"""Records per chunk side when ``matching.predict_chunks`` is not set (:func:`predict_chunks`)."""


def predict_chunks(config: MatchingConfig, records: int) -> int:
    """``n`` of the ``n x n`` chunks pairs are scored in: the configured number, else one per
    :data:`PREDICT_CHUNK_RECORDS` records (at least one), so a chunk's pairs, and DuckDB's
    spill while it scores them, stay about the same size however many records there are."""
    if config.predict_chunks is not None:
        return config.predict_chunks
    return max(1, -(-records // PREDICT_CHUNK_RECORDS))


def score_pairs(
    linker: Linker,
    engine: Engine,
    config: MatchingConfig,
    *,
    records: int,
    settle_over: int | None = None,
    blocked: Path | None = None,
) -> Scores:
    """Block, count and score every chunk; return the pairs at or above ``review_lower``.

    ``records``: how many records the linker holds (it sets the number of chunks).

    ``blocked``: the pairs already blocked, by :func:`write_blocked_pairs` over the same
    records and rules (DuckDB in the driver, for a Spark run): they are scored as they are, in
    one query, rather than blocked again.

    ``settle_over`` (the number of records, for a model trained in this run and not calibrated
    by steward labels): the prior is then made consistent with the scores
    (:func:`settled_prior`) before the pairs are cut at ``review_lower``, and the linker keeps
    it."""
    model = linker.misc.save_model_to_json()
    rules = [r["blocking_rule"] for r in model["blocking_rules_to_generate_predictions"]]
    comparisons = [c["output_column_name"] for c in model["comparisons"]]
    n = predict_chunks(config, records)
    # Without blocking rules (a handful of records, see matching.plan) Splink compares every
    # pair under one match key.
    rules = rules or [EVERY_PAIR]
    counts: dict[str, int] = dict.fromkeys(rules, 0)
    frames: list[pl.DataFrame] = []
    near: list[pl.DataFrame] = []
    weights: list[pl.DataFrame] = []
    floor = near_miss_floor(config.review_lower)
    predictions: list[SplinkDataFrame] = []
    if blocked is not None:
        chunks = _blocked_elsewhere(linker, engine, blocked, floor)
    elif engine.name == "duckdb":
        chunks = _sliced_chunks(linker, engine, n, floor)
    else:
        chunks = _chunks(linker, engine, n, floor)
    # closing: a failure mid-way still removes the chunks' files while the engine is open.
    with closing(chunks):
        for blocked_by_key, scored in chunks:
            for key, count in blocked_by_key.iter_rows():
                counts[rules[int(key)]] += int(count)
            predictions.append(scored)
            if settle_over is not None:  # cut once the prior is settled, below
                weights.append(
                    engine.query(
                        f"SELECT CAST(match_weight AS DOUBLE) AS w FROM {scored.physical_name}"
                    )
                )
            else:
                names = column_names(scored)
                sql = slim_pairs_sql(scored.physical_name, names, comparisons, config.review_lower)
                frames.append(engine.query(sql))
                near.append(
                    engine.query(near_misses_sql(scored.physical_name, config.review_lower))
                )
    settled: tuple[float, float] | None = None
    if settle_over is not None:
        prior = float(linker._settings_obj._probability_two_random_records_match)
        scored_weights = pl.concat(weights)["w"].to_numpy() if weights else np.empty(0)
        after = settled_prior(scored_weights, prior, settle_over * (settle_over - 1) / 2)
        linker._settings_obj._probability_two_random_records_match = after
        settled = (prior, after)
        logger.info(
            "prior settled on the scores: %.3g -> %.3g (%+.2f bits)",
            prior,
            after,
            prob_to_match_weight(after) - prob_to_match_weight(prior),
        )
        for scored in predictions:
            rescored = _rescored_sql(linker, scored)
            names = column_names(scored)
            frames.append(
                engine.query(slim_pairs_sql(rescored, names, comparisons, config.review_lower))
            )
            near.append(engine.query(near_misses_sql(rescored, config.review_lower)))
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
        settled_prior=settled,
    )


Chunk = tuple[pl.DataFrame, SplinkDataFrame]
"""One chunk's blocked pairs counted by ``match_key`` and its scored pairs."""


def _chunks(linker: Linker, engine: Engine, n: int, floor: float) -> Iterator[Chunk]:
    """The ``n x n`` chunks, each blocked and scored by Splink (one chunk: plain blocking)."""
    for left, right in product(range(1, n + 1), repeat=2):
        # One chunk means no chunk filter at all (the plain, fastest blocking SQL).
        chunk = {"left_chunk": (left, n), "right_chunk": (right, n)} if n > 1 else {}
        blocked = linker.inference.compute_blocked_pairs_for_predict_chunk(**chunk)
        by_key = _count_by_key(engine, blocked)
        scored = linker.inference.predict_chunk(
            **chunk, threshold_match_probability=floor, warning_mode="never"
        )
        blocked.drop_table_from_database_and_remove_from_cache()
        if n > 1:
            logger.info("scored chunk %d/%d x %d/%d", left, n, right, n)
        yield by_key, scored


def write_blocked_pairs(linker: Linker, engine: Engine, path: Path) -> int:
    """Block every pair of ``linker``'s records on DuckDB and write them to ``path`` as
    Splink's blocked-pairs table (``match_key``, ``join_key_l``, ``join_key_r``), for
    :func:`score_pairs` to score on another engine; returns the number of pairs.

    For a Spark run whose driver trains on DuckDB (``matching.spark_training``): the driver
    holds the records anyway, and DuckDB's hash joins block a million of them in seconds,
    where Spark's sort-merge joins, one shuffle and two sorts of every record per rule, took
    about a minute of two cores."""
    con = engine.db_api.duckdb_con  # type: ignore[attr-defined]
    blocked = linker.inference.compute_blocked_pairs_for_predict()
    try:
        # COPY answers with the number of rows it wrote.
        ((count,),) = con.execute(
            f"COPY (SELECT * FROM {blocked.physical_name}) TO {_literal(path)} (FORMAT PARQUET)"
        ).fetchall()
    finally:
        blocked.drop_table_from_database_and_remove_from_cache()
    return int(count)


def _blocked_elsewhere(linker: Linker, engine: Engine, path: Path, floor: float) -> Iterator[Chunk]:
    """The pairs :func:`write_blocked_pairs` wrote, scored by Splink in one query."""
    table = engine.register_file(path, f"__gr_blocked_pairs_{id(linker)}")
    blocked = linker.table_management.register_blocked_pairs_for_predict(table)
    by_key = _count_by_key(engine, blocked)
    scored = linker.inference.predict(threshold_match_probability=floor, warning_mode="never")
    yield by_key, scored


def _sliced_chunks(linker: Linker, engine: Engine, n: int, floor: float) -> Iterator[Chunk]:
    """The ``n x n`` chunks on DuckDB, blocked once and read from partitioned files.

    Splink's chunks each run every blocking rule over all the records again and then pick
    their records out of all of them (a semi join per side), so ``n x n`` chunks cost
    ``2 n^2`` passes over the records: at a million records in 5 x 5 chunks that was three
    quarters of scoring. Here the pairs are blocked once, and pairs and records are written
    once, partitioned by a hash of each side's record id, the records with their term
    frequencies; a chunk then reads its pairs and the records of its two partitions (``2 n``
    passes in all) and is scored by the same SQL Splink's chunks are. Every pair lands in
    exactly one chunk, so the scores are the same.

    One chunk takes this path too. Splink's ``predict`` joins both sides of every pair to its
    records with term frequencies, a CTE it refers to twice, which DuckDB then holds whole in
    memory beside the two hash tables built from it: at a million records 0.85 GB of column
    data on top of 1 GB of hash tables, the peak of the match stage. Read from a file, the
    records are scanned once per side instead (the stage peaked at 2.11 GiB instead of 2.63)."""
    con = engine.db_api.duckdb_con  # type: ignore[attr-defined]
    folder = engine.scratch_folder("slices")
    try:
        yield from _score_partitioned(linker, engine, folder, n, floor)
    finally:
        for chunk in range(n):
            con.execute(f"DROP VIEW IF EXISTS __gr_records_{chunk}")
        shutil.rmtree(folder, ignore_errors=True)


def _score_partitioned(
    linker: Linker, engine: Engine, folder: Path, n: int, floor: float
) -> Iterator[Chunk]:
    """:func:`_sliced_chunks`' work, in the scratch ``folder`` that function always removes."""
    info = linker._settings_obj.column_info_settings
    con = engine.db_api.duckdb_con  # type: ignore[attr-defined]
    blocked = linker.inference.compute_blocked_pairs_for_predict()
    by_key = _count_by_key(engine, blocked)
    part = f"CAST(hash({{}}) % {n} AS INTEGER)"
    _copy_partitioned(
        con,
        f"SELECT *, {part.format('join_key_l')} AS l, {part.format('join_key_r')} AS r "
        f"FROM {blocked.physical_name}",
        folder / "pairs",
        ("l", "r"),
        n,
    )
    blocked.drop_table_from_database_and_remove_from_cache()
    uid = _composite_unique_id_from_nodes_sql(
        combine_unique_id_input_columns(
            info.source_dataset_input_column, info.unique_id_input_column
        ),
        "__splink__df_concat_with_tf",
    )
    # The records with their term frequencies looked up once: a chunk's SQL then has no
    # term-frequency table to join (Splink skips the lookup of a column its input carries).
    pipeline = enqueue_df_concat_with_tf(linker, CTEPipeline())
    pipeline.enqueue_sql(
        f"SELECT *, {part.format(uid)} AS c FROM __splink__df_concat_with_tf", "records"
    )
    _copy_partitioned(con, pipeline.generate_cte_pipeline_sql(), folder / "records", ("c",), n)
    scored_any = False
    for left, right in product(range(n), repeat=2):
        pairs = folder / "pairs" / f"l={left}" / f"r={right}"
        if not pairs.is_dir():  # no pair has its sides in these two partitions
            continue
        # Names of their own per chunk: Splink reuses a table whose SQL it has seen.
        views = {
            "p": (f"__gr_pairs_{left}_{right}", pairs),
            "l": (f"__gr_records_{left}", folder / "records" / f"c={left}"),
            "r": (f"__gr_records_{right}", folder / "records" / f"c={right}"),
        }
        for name, path in views.values():
            con.execute(
                f"CREATE OR REPLACE VIEW {name} AS "
                f"SELECT * FROM read_parquet({_literal(path / '*.parquet')})"
            )
        scored = _score_slice(linker, {k: name for k, (name, _) in views.items()}, floor)
        con.execute(f"DROP VIEW {views['p'][0]}")
        logger.info("scored chunk %d/%d x %d/%d", left + 1, n, right + 1, n)
        yield by_key, scored
        by_key = by_key.clear()  # every pair is counted with the first chunk
        scored_any = True
    if not scored_any:  # not one pair was blocked: an empty table of Splink's columns
        yield (
            by_key,
            linker.inference.predict_chunk(threshold_match_probability=floor, warning_mode="never"),
        )


def _copy_partitioned(
    con: Any, select: str, target: Path, columns: tuple[str, ...], n: int
) -> None:
    """Write the rows of ``select`` to Hive partitions ``target/<column>=<k>/`` by the values
    of ``columns`` (which the files then leave out).

    With one partition every value is 0 and the rows go to one file without ``PARTITION_BY``:
    DuckDB buffers a partitioned write's rows before flushing them (1.6 GB of column data for
    a million records with their term frequencies), where a plain ``COPY`` streams."""
    if n > 1:
        con.execute(
            f"COPY ({select}) TO {_literal(target)} "
            f"(FORMAT PARQUET, PARTITION_BY ({', '.join(columns)}))"
        )
        return
    folder = target.joinpath(*(f"{column}=0" for column in columns))
    folder.mkdir(parents=True)
    con.execute(
        f"COPY (SELECT * EXCLUDE ({', '.join(columns)}) FROM ({select})) "
        f"TO {_literal(folder / 'data_0.parquet')} (FORMAT PARQUET)"
    )


def _score_slice(linker: Linker, views: dict[str, str], floor: float) -> SplinkDataFrame:
    """Score the pairs of view ``views["p"]`` between the records of ``views["l"]`` and
    ``views["r"]``: the SQL of Splink's source-pruned prediction, on inputs already pruned."""
    api = linker._db_api
    settings = linker._settings_obj
    info = settings.column_info_settings
    pairs = api.table_to_splink_dataframe("__splink__blocked_id_pairs", views["p"])
    left = api.table_to_splink_dataframe("__splink__df_pruned_predict_input_l", views["l"])
    right = api.table_to_splink_dataframe("__splink__df_pruned_predict_input_r", views["r"])
    pipeline = CTEPipeline([pairs, left, right])
    left_name, right_name = _enqueue_pruned_inputs_with_tf(linker, pipeline, left, right)
    pipeline.enqueue_list_of_sqls(
        compute_comparison_vector_values_from_id_pairs_sqls(
            settings._columns_to_select_for_blocking,
            settings._columns_to_select_for_comparison_vector_values,
            input_tablename_l=left_name,
            input_tablename_r=right_name,
            source_dataset_input_column=info.source_dataset_input_column,
            unique_id_input_column=info.unique_id_input_column,
            link_type=settings._link_type,
            sql_dialect_str=linker._sql_dialect_str,
        )
    )
    pipeline.enqueue_list_of_sqls(
        predict_from_comparison_vectors_sqls_using_settings(settings, floor, None)
    )
    return api.sql_pipeline_to_splink_dataframe(pipeline)


def _count_by_key(engine: Engine, blocked: SplinkDataFrame) -> pl.DataFrame:
    """Blocked pairs per ``match_key`` (the index of the blocking rule that found them)."""
    return engine.query(
        f"SELECT match_key, count(*) AS n FROM {blocked.physical_name} GROUP BY match_key"
    )


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def near_misses_sql(table: str, review_lower: float) -> str:
    """SQL reading the best-scored :data:`NEAR_MISSES_KEPT` pairs below ``review_lower``."""
    return (
        "SELECT record_key_l, record_key_r, "
        "CAST(match_probability AS DOUBLE) AS match_probability, "
        f"CAST(match_weight AS DOUBLE) AS match_weight FROM {table} "
        f"WHERE match_probability < {float(review_lower)!r} "
        f"ORDER BY match_weight DESC, record_key_l, record_key_r "
        f"LIMIT {NEAR_MISSES_KEPT}"
    )


def column_names(predictions: SplinkDataFrame) -> set[str]:
    """The unquoted column names of a Splink table."""
    return {c.unquote().name for c in predictions.columns}


def _rescored_sql(linker: Linker, predictions: SplinkDataFrame) -> str:
    """``predictions`` scored again at the linker's (settled) prior, as a subquery: Splink's
    own expression over the per-comparison weights the table keeps, so the weights are the
    very numbers a prediction at that prior gives (a later run scoring with the saved model
    agrees to the last bit)."""
    settings = linker._settings_obj
    terms = [t for c in settings.comparisons for t in c._match_weight_columns_to_sum]
    weight, probability = _combine_prior_and_mws(
        settings._probability_two_random_records_match,
        terms,
        SplinkDialect.from_string(settings._sql_dialect_str),
    )
    keep = ", ".join(sorted(n for n in column_names(predictions) if n.startswith("mw_")))
    return (
        f"(SELECT record_key_l, record_key_r, {weight} AS match_weight, "
        f"{probability} AS match_probability, {keep} FROM {predictions.physical_name}) "
        "AS rescored"
    )


SETTLE_MAX_BITS: Final = 4.0
"""Most the settled prior may move from the trained one, in bits (a factor of 16 in the odds):
a model whose scores argue for more is not one to follow that far."""


def settled_prior(weights: np.ndarray, prior: float, all_pairs: float) -> float:
    """The prior at which the expected number of matches among the scored pairs, divided by all
    pairs, is the prior itself: the fixed point of what expectation maximisation would do with
    the probability two random records match over the candidate pairs, holding m and u.

    The trained prior comes from strict rules and an assumed share of matches they find; on
    data whose duplicates all carry an error (FEBRL, a registry entered twice) that share is a
    guess, and the prior can be wrong by a factor of two either way (measured: 1.12e-5 for a
    true 2.0e-5, 1.6e-4 for a true 1.0e-4). The scored pairs' own probabilities sum to how many
    matches the model sees; the fixed point of that sum is within 10% of the truth on both.
    ``weights`` are the match weights of the pairs scored at ``prior`` (pairs scored lower add
    next to nothing); the result stays within :data:`SETTLE_MAX_BITS` of ``prior``."""
    base = prob_to_match_weight(prior)
    shift = 0.0
    for _ in range(100):
        expected = float(np.sum(1.0 / (1.0 + np.exp2(-(weights + shift)))))
        estimate = min(max(expected / max(all_pairs, 1.0), 1e-12), 0.5)
        target = min(max(prob_to_match_weight(estimate) - base, -SETTLE_MAX_BITS), SETTLE_MAX_BITS)
        if abs(target - shift) < 1e-6:
            break
        shift = target
    odds = 2.0 ** (base + shift)
    return odds / (1 + odds)


def slim_pairs_sql(
    table: str, columns: set[str], comparisons: list[str], at_least: float | None = None
) -> str:
    """SQL reading the ``pairs.parquet`` columns from ``table``, a Splink predictions table or
    a subquery over one, whose columns are ``columns`` (the pairs scored ``at_least`` when
    given)."""
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
        FROM {table}
        {f"WHERE match_probability >= {float(at_least)!r}" if at_least is not None else ""}
    """
