"""Incremental matching: score only the pairs that involve a new or changed record.

A match run leaves behind what the next one needs to build on it (beside ``model.json`` and
``pairs.parquet``): ``features.parquet``, one hash per record of its matching feature row, and
``tf/<column>.parquet``, the term-frequency tables its scores used. The next run

1. recomputes the feature frame on the whole current set (it caps over-frequent blocking keys
   dataset-wide, so a key can change for a record nobody touched) and compares each record's
   hash with the base run's: records are new, changed, removed or unchanged;
2. reuses every base pair whose two records are unchanged, since a pair's score depends only on
   its two feature rows, the model and the term-frequency tables, and the last two are frozen
   (the base run's model and tables are registered, not re-estimated);
3. blocks, with the model's own blocking rules, only the pairs with a new or changed record on
   either side, and scores those with Splink.

A full rebuild with the same model and term-frequency tables therefore gives the same pairs
and, clustered the same way, the same clusters; ``tests/test_matching_incremental.py`` pins it.
Whether a base can be built on is decided by :func:`scoring_settings`: every setting that
changes a score, a blocked pair or a feature row is part of it, and any difference from the
base run's means the full path.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import polars as pl
from splink import Linker
from splink.internals.blocking import BlockingRule, blocking_rule_to_obj
from splink.internals.splink_dataframe import SplinkDataFrame
from splink.internals.unique_id_concat import _composite_unique_id_from_nodes_sql

from matching.clustering import (
    COMPONENTS_SCHEMA,
    DECISIONS_SCHEMA,
    STATS_SCHEMA,
    ClusteringState,
)
from matching.config import MatchingConfig
from matching.engine import Engine
from matching.features import FEATURES_VERSION
from matching.layout import (
    CLUSTERING_DIR,
    FEATURES_FILE,
    MODEL_FILE,
    PAIRS_FILE,
    RESULT_FILE,
    TF_DIR,
)
from matching.plan import ModelPlan
from matching.scoring import Scores, column_names, slim_pairs_sql
from matching.settings import settings_creator

logger = logging.getLogger(__name__)


FEATURE_HASH_SCHEME: Final = f"polars-{pl.__version__}-hash_rows-v1"
"""How ``feature_hash`` is computed. Polars does not promise the same row hash across its
versions, so the scheme is part of :func:`scoring_settings`: after an upgrade the hashes of two
runs are not compared, and the full path runs once."""

_HASH_SEED: Final = 0x5EED

_SETTINGS_WITH_SCORES: Final = (
    "engine",
    "max_key_frequency",
    "review_lower",
    "seed",
    "max_pairs_for_u",
    "em_max_pairs",
    "prior_recall",
    "min_m_probability",
)
"""Config fields that change what a full run would score: the engine (its own string
similarity functions), the key cap (feature rows, blocked pairs), the lower bound of the kept
pairs, and the training settings (a full run would learn another model from them)."""


class BaseUnusable(Exception):
    """The previous run's match cannot be built on; the message says why."""


@dataclass
class BaseMatch:
    """What the incremental path reads from the previous run's match folder."""

    run_id: str
    match_dir: Path
    model: dict[str, Any]
    settings: dict[str, Any]
    hashes: pl.DataFrame
    tf_tables: dict[str, pl.DataFrame]

    @property
    def model_path(self) -> Path:
        return self.match_dir / MODEL_FILE

    @property
    def pairs_path(self) -> Path:
        return self.match_dir / PAIRS_FILE


@dataclass
class Changes:
    """How the current records differ from the base run's, by feature row."""

    new: int
    changed: int
    removed: int
    unchanged: int
    touched: pl.Series
    """Keys of new, changed and removed records: no base pair with one of them is reused."""
    to_score: pl.Series
    """Keys of new and changed records: every blocked pair with one of them is scored anew."""

    @property
    def fraction(self) -> float:
        """Share of records that differ, over the current records (removed ones included)."""
        current = self.new + self.changed + self.unchanged
        return (self.new + self.changed + self.removed) / max(current, 1)


def feature_hashes(features: pl.DataFrame) -> pl.DataFrame:
    """``record_key`` and a 64-bit hash of the rest of its feature row (``feature_hash``)."""
    rest = features.drop("record_key")
    hashes = rest.hash_rows(seed=_HASH_SEED)
    return pl.DataFrame([features["record_key"], hashes.alias("feature_hash")])


def scoring_settings(
    config: MatchingConfig,
    link_type: str,
    feature_columns: list[str],
    plan: ModelPlan | None = None,
) -> dict:
    """Everything that decides a pair's score and whether it is blocked, as plain values:
    two runs whose settings are equal score the same pair of feature rows the same way. The
    ``plan``'s structure is part of it: records that change which fields are compared or
    which rules block rescore everything."""
    definition = settings_creator(
        2 if link_type == "link_and_dedupe" else 1, plan
    ).create_settings_dict(config.engine)
    digest = hashlib.sha256(json.dumps(definition, sort_keys=True, default=str).encode())
    return {
        **{name: getattr(config, name) for name in _SETTINGS_WITH_SCORES},
        "link_type": link_type,
        "model_definition": digest.hexdigest()[:16],
        "features_version": FEATURES_VERSION,
        "feature_columns": feature_columns,
        "feature_hash_scheme": FEATURE_HASH_SCHEME,
    }


def settings_differences(current: dict[str, Any], base: dict[str, Any]) -> list[str]:
    """``name: base -> current`` for every scoring setting that differs."""
    names = sorted(set(current) | set(base))
    return [
        f"{name}: {base.get(name)!r} -> {current.get(name)!r}"
        for name in names
        if current.get(name) != base.get(name)
    ]


def tf_columns(model: dict[str, Any]) -> list[str]:
    """Columns whose term frequencies the model's levels adjust by."""
    columns = {
        level["tf_adjustment_column"]
        for comparison in model.get("comparisons", [])
        for level in comparison.get("comparison_levels", [])
        if level.get("tf_adjustment_column")
    }
    return sorted(columns)


def read_tf_tables(folder: Path, columns: list[str]) -> dict[str, pl.DataFrame]:
    """The saved term-frequency tables of ``columns`` found in ``folder`` (missing ones are
    left out; the caller decides whether that is acceptable)."""
    tables = {}
    for column in columns:
        path = folder / f"{column}.parquet"
        if path.is_file():
            tables[column] = pl.read_parquet(path)
    return tables


def load_base(match_dir: Path) -> BaseMatch:
    """The previous run's match as the incremental path needs it; raises
    :class:`BaseUnusable` naming the missing or unreadable file."""
    try:
        result = json.loads((match_dir / RESULT_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BaseUnusable(f"{match_dir / RESULT_FILE} cannot be read: {exc}") from None
    settings = result.get("scoring_settings") if isinstance(result, dict) else None
    if not settings:
        raise BaseUnusable(
            f"{match_dir / RESULT_FILE} records no scoring settings (written by an older version)"
        )
    for name in (MODEL_FILE, PAIRS_FILE, FEATURES_FILE):
        if not (match_dir / name).is_file():
            raise BaseUnusable(f"{match_dir / name} is missing")
    try:
        model = json.loads((match_dir / MODEL_FILE).read_text(encoding="utf-8"))
        hashes = pl.read_parquet(match_dir / FEATURES_FILE)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, pl.exceptions.PolarsError) as exc:
        raise BaseUnusable(f"{match_dir}: {exc}") from None
    if set(hashes.columns) != {"record_key", "feature_hash"}:
        raise BaseUnusable(f"{match_dir / FEATURES_FILE} lacks record_key/feature_hash")
    wanted = tf_columns(model)
    tables = read_tf_tables(match_dir / TF_DIR, wanted)
    missing = sorted(set(wanted) - set(tables))
    if missing:
        raise BaseUnusable(f"{match_dir / TF_DIR} lacks the term-frequency table(s) {missing}")
    return BaseMatch(
        run_id=str(result.get("run_id") or match_dir.parent.name),
        match_dir=match_dir,
        model=model,
        settings=settings,
        hashes=hashes,
        tf_tables=tables,
    )


def load_clustering_base(match_dir: Path) -> ClusteringState:
    """The clustering state a run saved, for the next run to keep the clusters of untouched
    components; raises :class:`BaseUnusable` naming what is missing."""
    folder = match_dir / CLUSTERING_DIR
    try:
        settings = json.loads((folder / "settings.json").read_text(encoding="utf-8"))
        frames = {
            name: pl.read_parquet(folder / f"{name}.parquet").cast(schema)  # type: ignore[arg-type]
            for name, schema in (
                ("decisions", DECISIONS_SCHEMA),
                ("components", COMPONENTS_SCHEMA),
                ("stats", STATS_SCHEMA),
            )
        }
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, pl.exceptions.PolarsError) as exc:
        raise BaseUnusable(f"{folder}: {exc}") from None
    for name, frame in frames.items():
        expected = {"decisions": DECISIONS_SCHEMA, "components": COMPONENTS_SCHEMA}.get(
            name, STATS_SCHEMA
        )
        if list(frame.columns) != list(expected):
            raise BaseUnusable(f"{folder / name}.parquet has columns {frame.columns}")
    return ClusteringState(settings=settings, **frames)


def detect_changes(current: pl.DataFrame, base: pl.DataFrame) -> Changes:
    """Compare per-record feature hashes (both from :func:`feature_hashes`)."""
    both = current.join(base, on="record_key", how="full", coalesce=True, suffix="_base")
    is_new = pl.col("feature_hash_base").is_null()
    is_removed = pl.col("feature_hash").is_null()
    is_changed = ~is_new & ~is_removed & (pl.col("feature_hash") != pl.col("feature_hash_base"))
    flagged = both.select(
        "record_key", is_new.alias("new"), is_removed.alias("removed"), is_changed.alias("changed")
    )
    counts = flagged.select(pl.col("new", "removed", "changed").sum()).row(0, named=True)
    touched = flagged.filter(pl.col("new") | pl.col("removed") | pl.col("changed"))
    to_score = touched.filter(~pl.col("removed"))
    return Changes(
        new=int(counts["new"]),
        changed=int(counts["changed"]),
        removed=int(counts["removed"]),
        unchanged=current.height - int(counts["new"]) - int(counts["changed"]),
        touched=touched["record_key"],
        to_score=to_score["record_key"],
    )


def reused_pairs(base: BaseMatch, touched: pl.Series) -> pl.DataFrame:
    """The base run's kept pairs whose two records are both unchanged."""
    keys = touched.implode()
    return (
        pl.scan_parquet(base.pairs_path)
        .filter(~pl.col("record_key_l").is_in(keys) & ~pl.col("record_key_r").is_in(keys))
        .collect()
    )


def register_tf_tables(linker: Linker, engine: Engine, tables: dict[str, pl.DataFrame]) -> None:
    """Make ``linker`` score with these term-frequency tables instead of computing them from
    its input records."""
    for column, table in tables.items():
        registered = engine.register(table, table_name=f"__golden_tf_{column}_{id(linker)}")
        linker.table_management.register_term_frequency_lookup(registered, column)


def collect_tf_tables(linker: Linker, engine: Engine, model: dict[str, Any]) -> dict[str, Any]:
    """The term-frequency tables ``linker`` scored with (registered ones as registered,
    otherwise computed from its input records), to save beside the model."""
    return {
        column: engine.to_polars(linker.table_management.compute_tf_table(column))
        for column in tf_columns(model)
    }


def scoring_subset(
    features: pl.DataFrame, model: dict[str, Any], to_score: pl.Series
) -> pl.DataFrame:
    """The records a pair with a record of ``to_score`` can be blocked with: those records
    and every record that shares all the columns of one blocking rule with one of them.

    Scoring needs no other record (a pair's score depends on its two rows, the model and the
    frozen term-frequency tables), so Splink works on this subset rather than on every
    record. When a rule is not plain equality of columns (a function of a column, a filter,
    an exploded array), the records it can pair cannot be told in advance, and every record
    is returned."""
    rules = model.get("blocking_rules_to_generate_predictions", [])
    column_sets = [_equality_columns(rule, features.columns) for rule in rules]
    if not rules or any(columns is None for columns in column_sets):
        logger.info("a blocking rule is not plain column equality: blocking against every record")
        return features
    scored = features.filter(pl.col("record_key").is_in(to_score.implode()))
    found = [scored.select("record_key")]
    for columns in column_sets:
        assert columns is not None
        keys = scored.select(columns).drop_nulls().unique()
        found.append(features.join(keys, on=columns, how="semi").select("record_key"))
    wanted = pl.concat(found).unique()
    subset = features.join(wanted, on="record_key", how="semi")
    logger.info(
        "%d record(s) to score share a blocking key with %d record(s) in all",
        scored.height,
        subset.height,
    )
    return subset


def _equality_columns(rule: dict[str, Any] | str, columns: list[str]) -> list[str] | None:
    """The columns a blocking rule joins on when it is exactly ``l.c = r.c AND ...`` for
    columns ``c`` of ``columns``; None for any other rule."""
    try:
        parsed = (
            BlockingRule(rule, "duckdb") if isinstance(rule, str) else blocking_rule_to_obj(rule)  # type: ignore[arg-type]
        )
        if type(parsed) is not BlockingRule or parsed._filter_conditions not in ("", "TRUE"):
            return None
        pairs = parsed._equi_join_conditions
    except Exception:  # noqa: BLE001 - any rule Splink's parser cannot split is not plain
        return None
    names = []
    for left, right in pairs:
        name = left.strip('"`')
        if left != right or name not in columns:
            return None
        names.append(name)
    return names or None


def score_changed_pairs(
    linker: Linker,
    engine: Engine,
    config: MatchingConfig,
    features: pl.DataFrame,
    to_score: pl.Series,
) -> Scores:
    """Block and score every candidate pair with a record of ``to_score`` on either side,
    exactly as the full run's blocking would produce it (same rules, same pair orientation,
    same rule credited), and keep those at or above ``review_lower``."""
    model = linker.misc.save_model_to_json()
    comparisons = [c["output_column_name"] for c in model["comparisons"]]
    rules = [r["blocking_rule"] for r in model["blocking_rules_to_generate_predictions"]]
    counts = dict.fromkeys(rules, 0)
    if to_score.len() == 0:
        return Scores(pairs=_empty_pairs(comparisons), pairs_by_rule=counts)
    inputs = _blocking_inputs(linker, engine, features, to_score)
    try:
        blocked = engine.db_api.query_sql(_blocked_pairs_sql(linker, *inputs))
        for key, count in engine.query(
            f"SELECT match_key, count(*) AS n FROM {blocked.physical_name} GROUP BY match_key"
        ).iter_rows():
            counts[rules[int(key)]] += int(count)
        linker.table_management.register_blocked_pairs_for_predict(blocked)
        scored = linker.inference.predict(
            threshold_match_probability=config.review_lower, warning_mode="never"
        )
        pairs = engine.query(
            slim_pairs_sql(scored.physical_name, column_names(scored), comparisons)
        )
    finally:
        for table in inputs:
            table.drop_table_from_database_and_remove_from_cache(force_non_splink_table=True)
    total = sum(counts.values())
    logger.info(
        "%d pair(s) with a new or changed record scored, %d at or above %.2f",
        total,
        pairs.height,
        config.review_lower,
    )
    return Scores(pairs=pairs, pairs_scored=total, pairs_by_rule=counts, predictions=[scored])


def _blocking_inputs(
    linker: Linker, engine: Engine, features: pl.DataFrame, to_score: pl.Series
) -> tuple[SplinkDataFrame, SplinkDataFrame]:
    """Every record, and the records to score, as backend tables to block on: the feature
    columns, Splink's composite-id columns and a flag for the records to score."""
    uid_columns = linker._settings_obj.column_info_settings.unique_id_input_columns
    uid_names = [c.unquote().name for c in uid_columns]
    frame = features
    if "source_dataset" in uid_names:
        frame = frame.with_columns(pl.col("source_system").alias("source_dataset"))
    frame = frame.with_columns(
        pl.col("record_key").is_in(to_score.implode()).alias("__golden_to_score")
    )
    suffix = id(frame)
    # Through the engine, so that on Spark the records travel as Parquet files, not through
    # the driver.
    every = engine.register(frame, table_name=f"__golden_all_{suffix}")
    some = engine.register(
        frame.filter(pl.col("__golden_to_score")), table_name=f"__golden_to_score_{suffix}"
    )
    return every, some


def _blocked_pairs_sql(linker: Linker, every: SplinkDataFrame, some: SplinkDataFrame) -> str:
    """Splink's blocked-pairs table (``match_key``, ``join_key_l``, ``join_key_r``) restricted
    to pairs with a record of ``some`` on either side.

    Each rule joins the few records to score against all records (twice: as the left and as
    the right side of the pair), keeps Splink's orientation (left composite id below the
    right) and drops pairs an earlier rule already produced, as Splink's own blocking does;
    a pair of two records to score comes from the first branch only."""
    settings = linker._settings_obj
    uid_columns = settings.column_info_settings.unique_id_input_columns
    uid_l = _composite_unique_id_from_nodes_sql(uid_columns, "l")
    uid_r = _composite_unique_id_from_nodes_sql(uid_columns, "r")
    rules = [br.blocking_rule_sql for br in settings._blocking_rules_to_generate_predictions]
    selects = []
    for key, rule in enumerate(rules):
        earlier = " OR ".join(f"coalesce(({r}), false)" for r in rules[:key])
        exclude = f" AND NOT ({earlier})" if earlier else ""
        head = f"SELECT '{key}' AS match_key, {uid_l} AS join_key_l, {uid_r} AS join_key_r"
        selects.append(
            f"{head} FROM {some.physical_name} AS l JOIN {every.physical_name} AS r "
            f"ON ({rule}) WHERE {uid_l} < {uid_r}{exclude}"
        )
        selects.append(
            f"{head} FROM {every.physical_name} AS l JOIN {some.physical_name} AS r "
            f"ON ({rule}) WHERE {uid_l} < {uid_r} AND NOT l.__golden_to_score{exclude}"
        )
    return "\nUNION ALL\n".join(selects)


def _empty_pairs(comparisons: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "record_key_l": pl.String,
            "record_key_r": pl.String,
            "match_probability": pl.Float64,
            "match_weight": pl.Float64,
            **{f"bf_{c}": pl.Float64 for c in comparisons},
        }
    )
