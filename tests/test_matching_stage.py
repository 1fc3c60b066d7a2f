"""The match stage end to end on a generated sample run through the real stages.

One module fixture generates ~1,500 customers (~2,900 source records with typos, nicknames,
moves, households, twins and Jr/Sr pairs and a ground truth), ingests, validates and
standardises them, then runs ``pipelines.match.match``. The tests read what the stage wrote.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pytest

from matching.evaluation import pairwise_scores
from matching.features import matching_frame
from matching.settings import contradiction_conditions
from pipelines.config import PipelineConfig, load_config
from pipelines.warehouse import Warehouse, new_run_id

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[1]


@dataclass
class Matched:
    config: PipelineConfig
    run_id: str
    warehouse: Warehouse
    truth: pl.DataFrame
    staged: pl.DataFrame
    result: object

    @property
    def match_dir(self) -> Path:
        return self.warehouse.match_dir(self.run_id)

    def clusters(self) -> pl.DataFrame:
        return pl.read_parquet(self.match_dir / "clusters.parquet")


def staged_run(out: Path, customers: int, seed: int, **overrides: object) -> Matched:
    from pipelines.ingest import ingest_source
    from pipelines.match import match
    from pipelines.sample import generate_sample
    from pipelines.standardise import standardise
    from pipelines.validate import validate_source, validate_staged

    info = generate_sample(out / "sample", customers=customers, seed=seed)
    config = load_config(
        info.config_path,
        {
            "warehouse.path": str(out / "warehouse"),
            "validation.expectations_dir": str(ROOT / "expectations"),
            "matching.max_pairs_for_u": 300_000,
            "matching.em_max_pairs": 300_000,
            **overrides,
        },
    )
    run_id = new_run_id()
    for source in config.source_names:
        ingest_source(config, run_id, source)
        validate_source(config, run_id, source)
    standardise(config, run_id)
    validate_staged(config, run_id)
    warehouse = Warehouse(config.warehouse.path)
    truth = pl.read_csv(info.out_dir / "ground_truth.csv", infer_schema=False).select(
        pl.concat_str(["source_system", "source_record_id"], separator=":").alias("record_key"),
        pl.col("customer_id").alias("entity_id"),
        "lookalike_group",
        "lookalike_kind",
    )
    staged = pl.read_parquet(warehouse.staged_accepted(run_id))
    truth = truth.filter(pl.col("record_key").is_in(staged["record_key"].implode()))
    result = match(config, run_id)
    return Matched(config, run_id, warehouse, truth, staged, result)


@pytest.fixture(scope="module")
def matched(tmp_path_factory: pytest.TempPathFactory) -> Matched:
    return staged_run(tmp_path_factory.mktemp("match-stage"), customers=1_500, seed=23)


def test_match_writes_every_output_with_its_contract(matched: Matched) -> None:
    from pipelines.publish.tables import match_review_queue_schema

    out = matched.match_dir
    for name in ("model.json", "pairs.parquet", "clusters.parquet", "review_queue.parquet"):
        assert (out / name).is_file(), name
    clusters = matched.clusters()
    assert clusters.columns == ["record_key", "cluster_id", "match_probability"]
    assert clusters.height == matched.staged.height
    assert set(clusters["record_key"]) == set(matched.staged["record_key"])

    pairs = pl.read_parquet(out / "pairs.parquet")
    model = json.loads((out / "model.json").read_text())
    comparisons = [c["output_column_name"] for c in model["comparisons"]]
    assert pairs.columns == [
        "record_key_l",
        "record_key_r",
        "match_probability",
        "match_weight",
        *(f"bf_{c}" for c in comparisons),
    ]
    assert pairs["match_probability"].min() >= matched.config.matching.review_lower

    queue = pl.read_parquet(out / "review_queue.parquet")
    published = [f for f in match_review_queue_schema().names if f != "run_id"]
    assert queue.columns == published

    result = json.loads((out / "result.json").read_text())
    assert result["records"] == matched.staged.height
    assert result["pairs_scored"] == sum(result["pairs_by_rule"].values()) > 0
    assert result["clusters"] == clusters["cluster_id"].n_unique()
    assert result["engine"] == "duckdb"
    assert isinstance(result["untrained_parameters"], list)
    assert result["trained"] is True


def test_the_sample_is_matched_accurately(matched: Matched) -> None:
    scores = pairwise_scores(matched.clusters(), matched.truth)
    assert scores.f1 >= 0.95, scores
    assert scores.precision >= 0.95, scores


def test_obvious_duplicates_are_merged(matched: Matched) -> None:
    keys = ("mk_first_name", "mk_last_name", "mk_dob", "mk_email")
    records = matched.staged.join(matched.truth, on="record_key").drop_nulls(list(keys))
    same = records.join(records, on=[*keys, "entity_id"], suffix="_r").filter(
        pl.col("record_key") < pl.col("record_key_r")
    )
    assert same.height > 50  # the sample has plenty of exact duplicates
    cluster = dict(matched.clusters().select("record_key", "cluster_id").iter_rows())
    apart = [
        (a, b) for a, b in same.select("record_key", "record_key_r").iter_rows()
        if cluster[a] != cluster[b]
    ]  # fmt: skip
    assert apart == []


def test_lookalikes_are_not_merged(matched: Matched) -> None:
    """Households, twins and Jr/Sr pairs: no cluster holds two people of one group whose
    records tell them apart (different birth dates, first names or suffixes), and merges
    of look-alike groups whose records cannot be told apart stay rare."""
    features = matching_frame(matched.staged, max_key_frequency=50).join(
        matched.truth, on="record_key"
    )
    members = features.filter(pl.col("lookalike_group").is_not_null()).join(
        matched.clusters().select("record_key", "cluster_id"), on="record_key"
    )
    assert set(members["lookalike_kind"]) == {"household", "twin", "jr_sr"}
    conditions = contradiction_conditions()
    columns = sorted(
        {c for sql in conditions.values() for c in re.findall(r"\b(\w+?)_[lr]\b", sql)}
    )
    select = ", ".join(f'l."{c}" AS "{c}_l", r."{c}" AS "{c}_r"' for c in columns)
    told_apart = " OR ".join(f"coalesce(({sql}), false)" for sql in conditions.values())
    with duckdb.connect() as db:
        db.register("m", members.to_arrow())
        merged = db.sql(
            f"""
            SELECT * FROM (
                SELECT l.lookalike_kind AS kind, l.record_key AS a, r.record_key AS b, {select}
                FROM m l JOIN m r ON l.lookalike_group = r.lookalike_group
                 AND l.cluster_id = r.cluster_id AND l.entity_id <> r.entity_id
                 AND l.record_key < r.record_key
            ) WHERE {told_apart}
            """
        ).pl()
    assert merged.select("kind", "a", "b").to_dicts() == []

    groups = members.group_by("lookalike_group").agg(
        pl.col("entity_id").n_unique().alias("people"),
        pl.col("cluster_id").n_unique().alias("clusters"),
    )
    mixed = (
        members.group_by("lookalike_group", "cluster_id")
        .agg(pl.col("entity_id").n_unique().alias("people"))
        .filter(pl.col("people") > 1)["lookalike_group"]
        .n_unique()
    )
    assert mixed <= 0.1 * groups.height, (mixed, groups.height)


def test_records_that_disagree_on_first_name_and_birth_date_never_share_a_cluster(
    matched: Matched,
) -> None:
    features = matching_frame(matched.staged, max_key_frequency=50).join(
        matched.clusters().select("record_key", "cluster_id"), on="record_key"
    )
    conditions = contradiction_conditions()
    columns = sorted(
        {c for sql in conditions.values() for c in re.findall(r"\b(\w+?)_[lr]\b", sql)}
    )
    select = ", ".join(f'l."{c}" AS "{c}_l", r."{c}" AS "{c}_r"' for c in columns)
    with duckdb.connect() as db:
        db.register("f", features.to_arrow())
        pairs_in_clusters, both = db.sql(
            f"""
            SELECT count(*), count(*) FILTER (
                WHERE coalesce(({conditions["first_name"]}), false)
                  AND coalesce(({conditions["date_of_birth"]}), false))
            FROM (
                SELECT {select} FROM f l JOIN f r
                ON l.cluster_id = r.cluster_id AND l.record_key < r.record_key
            )
            """
        ).fetchall()[0]
    assert pairs_in_clusters > 1000
    assert both == 0


def test_a_saved_model_reproduces_the_same_clusters(matched: Matched, tmp_path: Path) -> None:
    from pipelines.match import match

    saved = tmp_path / "model.json"
    shutil.copy(matched.match_dir / "model.json", saved)
    before = matched.clusters()
    rerun = match(matched.config, matched.run_id, model_path=saved)
    assert rerun.trained is False
    assert rerun.reused_model == str(saved)
    assert matched.clusters().sort("record_key").equals(before.sort("record_key"))
    # The model it wrote is the model it read: reusing it again changes nothing.
    again = json.loads((matched.match_dir / "model.json").read_text())
    assert again["comparisons"] == json.loads(saved.read_text())["comparisons"]


def test_review_queue_rows_show_both_records_and_the_weights(matched: Matched) -> None:
    queue = pl.read_parquet(matched.match_dir / "review_queue.parquet")
    assert queue.height > 0
    config = matched.config.matching
    model = json.loads((matched.match_dir / "model.json").read_text())
    comparisons = {c["output_column_name"] for c in model["comparisons"]}
    for row in queue.head(20).iter_rows(named=True):
        weights = json.loads(row["weights"])
        assert set(weights) == comparisons
        # The weights are the score: their sum plus the prior's weight is the match weight.
        prior = model["probability_two_random_records_match"]
        prior_weight = math.log2(prior / (1 - prior))
        assert sum(weights.values()) + prior_weight == pytest.approx(row["match_weight"], abs=0.01)
        assert row["match_probability"] >= config.review_lower
        assert row["first_name_l"] is not None or row["last_name_l"] is not None
        assert row["first_name_r"] is not None or row["last_name_r"] is not None
    weights = queue["match_weight"].abs().to_list()
    assert weights == sorted(weights)  # most uncertain first


def test_charts_are_self_contained_pages_with_no_network_references(matched: Matched) -> None:
    charts = {p.stem: p.read_text() for p in (matched.match_dir / "charts").glob("*.html")}
    assert {"match_weights", "m_u_parameters", "waterfall"} <= set(charts)
    for name, page in charts.items():
        assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.I), name
        assert not re.search(r"<link\b", page, re.I), name
        assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I), name
        assert not re.search(r"""url\(\s*["']?\s*(https?:)?//""", page, re.I), name
        assert not re.search(r"""import\(\s*["']https?:""", page, re.I), name
        assert "cdn.jsdelivr.net" not in page and "unpkg.com" not in page, name
        # The chart itself (spec and data) names no URL at all; the only URLs in the page are
        # XML namespace names and links inside the inlined Vega libraries' code.
        spec = page.rsplit('vegaEmbed("#chart", ', 1)[1].split(', {"mode"', 1)[0]
        assert "http" not in spec, name
        json.loads(spec)
        assert "function" in page and "vegaEmbed" in page


def test_steward_decisions_override_the_model(matched: Matched, tmp_path: Path) -> None:
    from matching.decisions import DecisionStore
    from pipelines.match import match

    saved = tmp_path / "model.json"
    shutil.copy(matched.match_dir / "model.json", saved)
    clusters = matched.clusters()
    sizes = clusters.group_by("cluster_id").len()
    pair_cluster = sizes.filter(pl.col("len") == 2)["cluster_id"][0]
    linked = clusters.filter(pl.col("cluster_id") == pair_cluster)["record_key"].to_list()
    singles = clusters.join(sizes.filter(pl.col("len") == 1), on="cluster_id")["record_key"]
    lonely = singles.head(2).to_list()

    store = DecisionStore(matched.warehouse.decisions)
    store.add_cannot_link(linked[0], linked[1], "steward", "different people, checked by phone")
    store.add_must_link(lonely[0], lonely[1], "steward", "same customer, confirmed")
    try:
        result = match(matched.config, matched.run_id, model_path=saved)
        after = dict(matched.clusters().select("record_key", "cluster_id").iter_rows())
        assert after[linked[0]] != after[linked[1]]
        assert after[lonely[0]] == after[lonely[1]]
        assert result.must_links_applied == 1
        assert result.cannot_links_applied == 1
        queue = pl.read_parquet(matched.match_dir / "review_queue.parquet")
        decided = {frozenset(linked), frozenset(lonely)}
        assert not any(
            frozenset(p) in decided for p in queue.select("record_key_l", "record_key_r").rows()
        )
    finally:
        matched.warehouse.decisions.unlink()
        match(matched.config, matched.run_id, model_path=saved)


@pytest.mark.spark
@pytest.mark.parametrize("one_source", [False, True], ids=["three-sources", "one-source"])
def test_the_spark_engine_trains_on_duckdb_and_scores_into_the_same_clusters(
    matched: Matched, tmp_path: Path, one_source: bool
) -> None:
    """By default (``spark_training: duckdb``) a Spark run trains its model on DuckDB in the
    driver, so the model is DuckDB's to the last digit, and Splink's Spark backend (PySpark
    local mode) scores with it. The driver also counts the term frequencies and blocks the
    pairs, so Spark builds neither (no such table among its checkpoints) and scores exactly
    the pairs DuckDB blocks, rule by rule. With one source (every record relabelled to it)
    the model is Splink's ``dedupe_only``, whose blocked pairs carry no source in their join
    keys: Spark must score exactly those pairs too.

    Tolerance: the two backends implement the string similarities separately (DuckDB built-ins
    against Splink's JVM functions), and they differ: DuckDB's Jaro rounds half the count of
    out-of-order matches down and Splink's does not, and DuckDB counts UTF-8 bytes where Spark
    counts characters (``docs/scaling.md``, "Both engines on FEBRL"). A pair with an odd
    transposition count near a Jaro-Winkler level can land on different levels (one pair of
    FEBRL4's 10,000 records). The clusters must agree on at least 99% of co-clustered pairs,
    and every pair both engines score must get the same probability to within 1e-9: this
    sample holds no such pair, and they agree exactly.
    """
    _require_java()
    from matching.config import MatchingConfig
    from matching.matcher import match_records

    sample, _ = _first_customers(matched, 250)
    if one_source:
        sample = sample.with_columns(pl.lit("registry").alias("source_system"))
    small = {"max_pairs_for_u": 50_000, "em_max_pairs": 50_000}
    duck = match_records(sample, MatchingConfig(**small), work_dir=tmp_path / "duckdb")
    spark = match_records(
        sample, MatchingConfig(engine="spark", **small), work_dir=tmp_path / "spark"
    )
    assert duck.model is not None and spark.model is not None
    assert spark.summary.engine == "spark" and spark.summary.trained
    link_type = "dedupe_only" if one_source else "link_and_dedupe"
    assert duck.model["link_type"] == spark.model["link_type"] == link_type
    assert spark.summary.em_sessions == duck.summary.em_sessions
    assert _parameters(spark.model) == pytest.approx(_parameters(duck.model), abs=1e-12)
    assert spark.model["probability_two_random_records_match"] == pytest.approx(
        duck.model["probability_two_random_records_match"], rel=1e-9
    )
    assert spark.summary.pairs_scored == duck.summary.pairs_scored > 0
    # Rule by rule (each engine quotes the columns of a rule its own way).
    by_rule = [list(m.summary.pairs_by_rule.values()) for m in (spark, duck)]
    assert by_rule[0] == by_rule[1]
    assert spark.tf_tables.keys() == duck.tf_tables.keys() and spark.tf_tables
    for column, table in duck.tf_tables.items():
        assert spark.tf_tables[column].sort(column).equals(table.sort(column)), column
    built_by_spark = {p.name for p in (tmp_path / "spark" / "spark_checkpoints").rglob("*")}
    assert built_by_spark, "Spark checkpointed nothing: did it score at all?"
    assert not {
        n for n in built_by_spark if n.startswith(("__splink__df_tf_", "__splink__blocked"))
    }
    agreement = pairwise_scores(spark.clusters, duck.clusters.rename({"cluster_id": "entity_id"}))
    assert agreement.f1 >= 0.99, agreement
    both = duck.pairs.join(spark.pairs, on=["record_key_l", "record_key_r"], suffix="_spark")
    assert both.height >= 0.99 * duck.pairs.height > 0
    worst = (both["match_probability"] - both["match_probability_spark"]).abs().max()
    assert worst is not None and worst < 1e-9


def _require_java() -> None:
    if shutil.which("java") is None:
        from conftest import skip_or_fail

        skip_or_fail("Java is not installed; PySpark local mode needs it")


def _first_customers(matched: Matched, customers: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The staged records of the first ``customers`` true customers (by id), and their truth
    rows (those of records that were staged)."""
    first = matched.truth["entity_id"].unique().sort().head(customers)
    truth = matched.truth.filter(pl.col("entity_id").is_in(first.implode()))
    sample = matched.staged.filter(pl.col("record_key").is_in(truth["record_key"].implode()))
    return sample, truth.filter(pl.col("record_key").is_in(sample["record_key"].implode()))


def _parameters(model: dict) -> dict[tuple[str, int, str], float]:
    """Every trained m and u of a saved model, by comparison, level and kind."""
    return {
        (comparison["output_column_name"], i, kind): level[kind]
        for comparison in model["comparisons"]
        for i, level in enumerate(comparison["comparison_levels"])
        for kind in ("m_probability", "u_probability")
        if level.get(kind) is not None
    }


@pytest.mark.spark
def test_steward_decisions_give_a_spark_run_the_clusters_they_give_duckdb(
    matched: Matched, tmp_path: Path
) -> None:
    """Must-links and cannot-links reach the model trained in a Spark run's driver and the
    clusters Spark's scores make: both engines apply them alike and cluster alike."""
    _require_java()
    from matching.config import MatchingConfig
    from matching.matcher import match_records

    sample, held = _first_customers(matched, 250)
    groups = (
        held.group_by("entity_id")
        .agg(pl.col("record_key").sort())
        .filter(pl.col("record_key").list.len() >= 2)
        .sort("entity_id")["record_key"]
        .to_list()
    )
    assert len(groups) >= 6, "the sample needs customers with more than one record"
    # One customer's two records kept apart; two customers' records merged into one.
    cannot = [(groups[0][0], groups[0][1])]
    must = [(groups[1][0], groups[2][0])]
    small = {"max_pairs_for_u": 50_000, "em_max_pairs": 50_000}
    runs = {
        engine: match_records(
            sample,
            MatchingConfig(engine=engine, **small),
            must_link=must,
            cannot_link=cannot,
            work_dir=tmp_path / engine,
        )
        for engine in ("duckdb", "spark")
    }
    for run in runs.values():
        cluster_of = dict(run.clusters.select("record_key", "cluster_id").iter_rows())
        assert cluster_of[cannot[0][0]] != cluster_of[cannot[0][1]]
        assert cluster_of[must[0][0]] == cluster_of[must[0][1]]
    duck, spark = runs["duckdb"], runs["spark"]
    assert spark.summary.must_links_applied == duck.summary.must_links_applied
    assert spark.summary.cannot_links_applied == duck.summary.cannot_links_applied
    assert spark.model is not None and duck.model is not None
    assert _parameters(spark.model) == pytest.approx(_parameters(duck.model), abs=1e-12)
    agreement = pairwise_scores(spark.clusters, duck.clusters.rename({"cluster_id": "entity_id"}))
    assert agreement.f1 >= 0.99, agreement


@pytest.mark.spark
def test_the_spark_engine_trains_a_model_as_good_as_duckdbs(
    matched: Matched, tmp_path: Path
) -> None:
    """With ``spark_training: spark``, training (u by random sampling, then expectation
    maximisation) runs on Spark too.

    Deterministic: Splink 5 (pinned) picks the u sample and any EM sample by a hash of each
    record's id, not by ``rand()``, whose draw on Spark depends on how the rows happen to be
    partitioned; two Spark trainings of this sample give bit-identical models. The engines'
    hash functions differ (Spark's 32-bit murmur3, DuckDB's 64-bit hash), so they sample
    different pairs for u and the u values differ by up to 0.002; m from expectation
    maximisation, which both run on the same blocked pairs, agrees to about 1e-6 here, and
    both models must cluster the sample about as well against the ground truth."""
    _require_java()
    from matching.config import MatchingConfig
    from matching.matcher import match_records

    sample, truth = _first_customers(matched, 300)
    small = {"max_pairs_for_u": 50_000, "em_max_pairs": 50_000}
    duck = match_records(sample, MatchingConfig(**small), work_dir=tmp_path / "duckdb")
    spark = match_records(
        sample,
        MatchingConfig(engine="spark", spark_training="spark", **small),
        work_dir=tmp_path / "spark",
    )
    assert spark.summary.engine == "spark"
    assert spark.summary.trained and spark.model is not None
    assert len(spark.summary.em_sessions) == len(duck.summary.em_sessions) == 2
    on_spark = pairwise_scores(spark.clusters, truth)
    on_duckdb = pairwise_scores(duck.clusters, truth)
    assert on_spark.f1 >= 0.95, on_spark
    assert abs(on_spark.f1 - on_duckdb.f1) <= 0.02, (on_spark, on_duckdb)

    def m_values(model: dict) -> dict[tuple[str, int], float]:
        return {
            (comparison["output_column_name"], i): level["m_probability"]
            for comparison in model["comparisons"]
            for i, level in enumerate(comparison["comparison_levels"])
            if level.get("m_probability") is not None
        }

    on_spark_m, on_duckdb_m = m_values(spark.model), m_values(duck.model)
    assert on_spark_m.keys() == on_duckdb_m.keys()
    worst = max(abs(on_spark_m[k] - on_duckdb_m[k]) for k in on_spark_m)
    assert worst < 1e-3, worst


def test_scoring_in_chunks_gives_the_same_pairs_and_clusters(
    matched: Matched, tmp_path: Path
) -> None:
    """``predict_chunks`` bounds memory on big inputs; it must not change a single score."""
    from matching.config import MatchingConfig
    from matching.matcher import match_records

    model = matched.match_dir / "model.json"
    whole = match_records(
        matched.staged, MatchingConfig(), work_dir=tmp_path / "one", model_path=model
    )
    chunked = match_records(
        matched.staged,
        MatchingConfig(predict_chunks=3),
        work_dir=tmp_path / "nine",
        model_path=model,
    )
    assert chunked.summary.pairs_scored == whole.summary.pairs_scored
    assert chunked.summary.pairs_by_rule == whole.summary.pairs_by_rule
    order = ["record_key_l", "record_key_r"]
    assert chunked.pairs.sort(order).equals(whole.pairs.sort(order))
    assert chunked.clusters.sort("record_key").equals(whole.clusters.sort("record_key"))


def test_suggested_pairs_carry_the_scores_the_run_gave_them(
    matched: Matched, tmp_path: Path
) -> None:
    """Suggestions are scored by a linker over their own records, with the run's term
    frequencies registered, not by one over every record: a pair the run scored gets the same
    probability and weight, term-frequency adjustments included."""
    from matching.config import MatchingConfig
    from matching.matcher import match_records

    out = match_records(
        matched.staged,
        MatchingConfig(),
        work_dir=tmp_path,
        model_path=matched.match_dir / "model.json",
    )
    assert out.model is not None
    assert any(
        level.get("tf_adjustment_column")
        for comparison in out.model["comparisons"]
        for level in comparison["comparison_levels"]
    ), "the model should adjust some level for term frequencies"

    def ordered(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.select(
            pl.min_horizontal("record_key_l", "record_key_r").alias("a"),
            pl.max_horizontal("record_key_l", "record_key_r").alias("b"),
            "match_probability",
            "match_weight",
        )

    both = ordered(out.training_pairs).join(ordered(out.pairs), on=["a", "b"], suffix="_run")
    assert both.height >= 10, both.height
    for column in ("match_probability", "match_weight"):
        worst = (both[column] - both[f"{column}_run"]).abs().max()
        assert worst is not None and worst < 1e-9, (column, worst)


def test_pairs_are_scored_in_more_chunks_as_the_records_grow_unless_configured() -> None:
    from matching.config import MatchingConfig
    from matching.scoring import PREDICT_CHUNK_RECORDS, predict_chunks

    auto = MatchingConfig()
    assert predict_chunks(auto, 0) == predict_chunks(auto, 2) == 1
    assert predict_chunks(auto, PREDICT_CHUNK_RECORDS) == 1
    assert predict_chunks(auto, PREDICT_CHUNK_RECORDS + 1) == 2
    assert predict_chunks(auto, 4 * PREDICT_CHUNK_RECORDS) == 4
    assert predict_chunks(MatchingConfig(predict_chunks=3), 2) == 3
    assert predict_chunks(MatchingConfig(predict_chunks=1), 10 * PREDICT_CHUNK_RECORDS) == 1
