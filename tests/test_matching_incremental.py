"""Incremental matching: a run after a few records changed builds on the previous run's match
and gives exactly what a full rebuild with the same model and term frequencies gives.

One module fixture generates ~600 customers, runs them through the real stages and matches
them (the base run, trained). Each test copies that warehouse, writes the next run's staged
records (the base run's, with a few changed, added and removed) and matches them.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from pipelines.config import PipelineConfig, load_config
from pipelines.warehouse import Warehouse

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[1]
BASE_RUN = "20260101T000000Z-base00"
NEXT_RUN = "20260102T000000Z-next00"
FULL_RUN = "20260103T000000Z-full00"


@dataclass
class Base:
    config_path: Path
    warehouse: Path
    staged: pl.DataFrame
    clusters: pl.DataFrame


def _config(config_path: Path, warehouse: Path, **overrides: object) -> PipelineConfig:
    return load_config(
        config_path,
        {
            "warehouse.path": str(warehouse),
            "validation.expectations_dir": str(ROOT / "expectations"),
            "matching.max_pairs_for_u": 100_000,
            "matching.em_max_pairs": 100_000,
            **overrides,
        },
    )


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    from pipelines.ingest import ingest_source
    from pipelines.match import match
    from pipelines.sample import generate_sample
    from pipelines.standardise import standardise
    from pipelines.validate import validate_source, validate_staged

    out = tmp_path_factory.mktemp("incremental")
    info = generate_sample(out / "sample", customers=600, seed=31)
    config = _config(info.config_path, out / "warehouse")
    for source in config.source_names:
        ingest_source(config, BASE_RUN, source)
        validate_source(config, BASE_RUN, source)
    standardise(config, BASE_RUN)
    validate_staged(config, BASE_RUN)
    match(config, BASE_RUN)
    warehouse = Warehouse(config.warehouse.path)
    return Base(
        config_path=info.config_path,
        warehouse=out / "warehouse",
        staged=pl.read_parquet(warehouse.staged_accepted(BASE_RUN)),
        clusters=pl.read_parquet(warehouse.match_dir(BASE_RUN) / "clusters.parquet"),
    )


@pytest.fixture
def copy(base: Base, tmp_path: Path) -> Warehouse:
    """A private copy of the base warehouse (the base run's staged records and match)."""
    shutil.copytree(base.warehouse, tmp_path / "warehouse", symlinks=True)
    return Warehouse(tmp_path / "warehouse")


def multi_record_clusters(base: Base) -> list[list[str]]:
    sizes = base.clusters.group_by("cluster_id").agg(pl.col("record_key").sort()).sort("cluster_id")
    return [keys for keys in sizes["record_key"].to_list() if len(keys) > 1]


def next_day(base: Base) -> tuple[pl.DataFrame, dict[str, list[str]]]:
    """The base run's staged records with a few changed, added and removed: records of
    multi-record clusters change phone or first name or leave, and a copy of one record
    arrives under a new key (so it joins that record's cluster)."""
    clusters = multi_record_clusters(base)
    changed = [clusters[i][0] for i in range(0, 12, 2)]
    removed = [clusters[i][-1] for i in range(1, 8, 2)]
    copied = clusters[20][0]
    staged = base.staged
    renamed = {changed[0]: "zebediah", changed[1]: "quentina"}
    staged = staged.with_columns(
        pl.when(pl.col("record_key").is_in(changed[2:]))
        .then(pl.format("+4479000{}", pl.int_range(pl.len()).cast(pl.String).str.zfill(5)))
        .otherwise(pl.col("mk_phone"))
        .alias("mk_phone"),
        pl.col("record_key")
        .replace_strict(renamed, default=pl.col("mk_first_name"))
        .alias("mk_first_name"),
    )
    staged = staged.filter(~pl.col("record_key").is_in(removed))
    source = staged.filter(pl.col("record_key") == copied)["source_system"][0]
    added = staged.filter(pl.col("record_key") == copied).with_columns(
        record_key=pl.lit(f"{source}:incremental-new-1"),
        source_record_id=pl.lit("incremental-new-1"),
    )
    staged = pl.concat([staged, added])
    keys = {"changed": changed, "removed": removed, "added": added["record_key"].to_list()}
    return staged, keys


def write_staged(warehouse: Warehouse, run_id: str, staged: pl.DataFrame) -> None:
    target = warehouse.staged_accepted(run_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    staged.write_parquet(target)


def partition(clusters: pl.DataFrame) -> set[frozenset[str]]:
    grouped = clusters.group_by("cluster_id").agg(pl.col("record_key"))
    return {frozenset(keys) for keys in grouped["record_key"].to_list()}


def read(warehouse: Warehouse, run_id: str, name: str) -> pl.DataFrame:
    return pl.read_parquet(warehouse.match_dir(run_id) / name)


def result(warehouse: Warehouse, run_id: str) -> dict:
    return json.loads((warehouse.match_dir(run_id) / "result.json").read_text())


def test_the_first_run_has_no_previous_match_and_takes_the_full_path(
    base: Base, copy: Warehouse
) -> None:
    first = result(copy, BASE_RUN)
    assert first["incremental"]["path"] == "full"
    assert "no previous run" in first["incremental"]["reason"]
    assert first["trained"] is True
    assert first["incremental"]["pairs_scored_anew"] == first["pairs_scored"] > 0
    model = json.loads((copy.match_dir(BASE_RUN) / "model.json").read_text())
    saved = sorted(p.stem for p in (copy.match_dir(BASE_RUN) / "tf").glob("*.parquet"))
    from matching.incremental import tf_columns

    assert saved == tf_columns(model) and saved
    hashes = read(copy, BASE_RUN, "features.parquet")
    assert hashes.columns == ["record_key", "feature_hash"]
    assert hashes.height == base.staged.height


def test_incremental_match_equals_a_full_rebuild_with_the_same_model(
    base: Base, copy: Warehouse
) -> None:
    from pipelines.match import match

    staged, keys = next_day(base)
    config = _config(base.config_path, copy.root)
    write_staged(copy, NEXT_RUN, staged)
    write_staged(copy, FULL_RUN, staged)
    incremental = match(config, NEXT_RUN)
    full = match(
        config,
        FULL_RUN,
        model_path=copy.match_dir(BASE_RUN) / "model.json",
        full_rebuild=True,
    )
    assert incremental.incremental.path == "incremental"
    assert full.incremental.path == "full"
    assert full.incremental.reason == "a full rebuild was asked for"

    # The same clusters with the same ids and probabilities, most of them kept from the base.
    assert read(copy, NEXT_RUN, "clusters.parquet").equals(read(copy, FULL_RUN, "clusters.parquet"))
    assert incremental.incremental.components_kept > incremental.incremental.components_reclustered
    assert full.incremental.components_kept == 0
    for figure in ("clusters", "links_refused", "contradictions", "largest_cluster"):
        assert getattr(incremental, figure) == getattr(full, figure), figure
    inc_pairs = read(copy, NEXT_RUN, "pairs.parquet")
    full_pairs = read(copy, FULL_RUN, "pairs.parquet")
    both = inc_pairs.join(
        full_pairs, on=["record_key_l", "record_key_r"], how="full", suffix="_full"
    )
    unmatched = both.filter(
        pl.col("record_key_l").is_null() | pl.col("record_key_l_full").is_null()
    )
    assert unmatched.height == 0, unmatched.head(5)
    worst = (both["match_probability"] - both["match_probability_full"]).abs().max()
    assert worst is not None and worst < 1e-9
    assert inc_pairs.height == full_pairs.height > 0
    # The mutations reached the pairs: the new copy is linked, removed records are gone.
    added = keys["added"][0]
    assert inc_pairs.filter(
        (pl.col("record_key_l") == added) | (pl.col("record_key_r") == added)
    ).height
    assert not inc_pairs.filter(
        pl.col("record_key_l").is_in(keys["removed"])
        | pl.col("record_key_r").is_in(keys["removed"])
    ).height
    assert read(copy, NEXT_RUN, "review_queue.parquet").equals(
        read(copy, FULL_RUN, "review_queue.parquet")
    )


def test_incremental_run_scores_only_pairs_with_changed_records_and_reuses_the_rest(
    base: Base, copy: Warehouse
) -> None:
    from pipelines.match import match

    staged, keys = next_day(base)
    config = _config(base.config_path, copy.root)
    write_staged(copy, NEXT_RUN, staged)
    write_staged(copy, FULL_RUN, staged)
    match(config, NEXT_RUN)
    match(config, FULL_RUN, model_path=copy.match_dir(BASE_RUN) / "model.json", full_rebuild=True)
    inc, full = result(copy, NEXT_RUN), result(copy, FULL_RUN)
    report = inc["incremental"]
    assert report["path"] == "incremental"
    assert report["base_run_id"] == BASE_RUN
    assert report["records_new"] == len(keys["added"])
    assert report["records_removed"] == len(keys["removed"])
    assert report["records_changed"] >= len(keys["changed"])
    assert report["records_new"] + report["records_changed"] + report["records_unchanged"] == (
        staged.height
    )
    assert 0 < report["pairs_scored_anew"] == inc["pairs_scored"] < full["pairs_scored"] / 10
    assert report["pairs_reused"] > 0
    new_kept = inc["pairs_kept"] - report["pairs_reused"]
    assert new_kept > 0
    assert report["pairs_reused"] + new_kept == full["pairs_kept"]
    assert inc["trained"] is False
    assert inc["reused_model"] == str(copy.match_dir(BASE_RUN) / "model.json")
    # The next run can build on this one: it saved the frozen model and term frequencies.
    for name in ("model.json", "features.parquet", "tf"):
        assert (copy.match_dir(NEXT_RUN) / name).exists(), name
    base_tf = read(copy, BASE_RUN, "tf/mk_last_name.parquet")
    assert (
        read(copy, NEXT_RUN, "tf/mk_last_name.parquet")
        .sort("mk_last_name")
        .equals(base_tf.sort("mk_last_name"))
    )


def test_a_scoring_setting_change_forces_the_full_path_and_says_why(
    base: Base, copy: Warehouse, caplog: pytest.LogCaptureFixture
) -> None:
    from pipelines.match import match

    staged, _ = next_day(base)
    config = _config(base.config_path, copy.root, **{"matching.max_key_frequency": 40})
    write_staged(copy, NEXT_RUN, staged)
    with caplog.at_level(logging.INFO, logger="matching.matcher"):
        outcome = match(config, NEXT_RUN)
    assert outcome.incremental.path == "full"
    assert outcome.incremental.base_run_id == BASE_RUN
    reason = outcome.incremental.reason or ""
    assert "scoring settings changed" in reason and "max_key_frequency: 50 -> 40" in reason
    assert outcome.trained is True
    assert any(
        "full match" in r.getMessage() and "max_key_frequency" in r.getMessage()
        for r in caplog.records
    )


def test_a_match_threshold_change_does_not_force_the_full_path(base: Base, copy: Warehouse) -> None:
    from pipelines.match import match

    staged, _ = next_day(base)
    config = _config(base.config_path, copy.root, **{"matching.match_threshold": 0.95})
    write_staged(copy, NEXT_RUN, staged)
    assert match(config, NEXT_RUN).incremental.path == "incremental"


def test_too_many_changed_records_force_the_full_path(base: Base, copy: Warehouse) -> None:
    from pipelines.match import match

    staged, _ = next_day(base)
    config = _config(
        base.config_path, copy.root, **{"matching.incremental_max_changed_fraction": 0.001}
    )
    write_staged(copy, NEXT_RUN, staged)
    outcome = match(config, NEXT_RUN, model_path=copy.match_dir(BASE_RUN) / "model.json")
    assert outcome.incremental.path == "full"
    assert "incremental_max_changed_fraction" in (outcome.incremental.reason or "")
    assert outcome.incremental.records_removed == 4


def test_steward_decisions_apply_on_the_incremental_path(base: Base, copy: Warehouse) -> None:
    from matching.decisions import DecisionStore
    from pipelines.match import match

    staged, keys = next_day(base)
    touched = {*keys["changed"], *keys["removed"]}
    clusters = multi_record_clusters(base)
    apart = next(c for c in clusters if len(c) == 2 and not touched & set(c))
    singles = (
        base.clusters.group_by("cluster_id")
        .agg(pl.col("record_key"))
        .filter(pl.col("record_key").list.len() == 1)["record_key"]
        .list.first()
        .sort()
        .head(2)
        .to_list()
    )
    store = DecisionStore(copy.decisions)
    store.add_cannot_link(apart[0], apart[1], "steward", "different people, checked")
    store.add_must_link(singles[0], singles[1], "steward", "same customer, confirmed")
    config = _config(base.config_path, copy.root)
    write_staged(copy, NEXT_RUN, staged)
    outcome = match(config, NEXT_RUN)
    assert outcome.incremental.path == "incremental"
    cluster = dict(
        read(copy, NEXT_RUN, "clusters.parquet").select("record_key", "cluster_id").rows()
    )
    assert cluster[apart[0]] != cluster[apart[1]]
    assert cluster[singles[0]] == cluster[singles[1]]
    assert outcome.cannot_links_applied == 1
    assert outcome.must_links_applied == 1
    write_staged(copy, FULL_RUN, staged)
    full = match(
        config, FULL_RUN, model_path=copy.match_dir(BASE_RUN) / "model.json", full_rebuild=True
    )
    assert read(copy, NEXT_RUN, "clusters.parquet").equals(read(copy, FULL_RUN, "clusters.parquet"))
    assert outcome.links_refused == full.links_refused


def test_without_a_complete_previous_match_the_full_path_runs(base: Base, copy: Warehouse) -> None:
    from pipelines.match import match

    (copy.match_dir(BASE_RUN) / "result.json").unlink()  # an interrupted match
    staged, _ = next_day(base)
    config = _config(base.config_path, copy.root)
    write_staged(copy, NEXT_RUN, staged)
    outcome = match(
        config, NEXT_RUN, model_path=base.warehouse / "runs" / BASE_RUN / "match" / "model.json"
    )
    assert outcome.incremental.path == "full"
    assert "no previous run" in (outcome.incremental.reason or "")
    assert outcome.incremental.base_run_id is None


def test_full_rebuild_reaches_the_match_stage_through_the_orchestrator(
    base: Base, copy: Warehouse
) -> None:
    from pipelines.orchestrate import run_stage

    staged, _ = next_day(base)
    config = _config(base.config_path, copy.root)
    write_staged(copy, NEXT_RUN, staged)
    model = copy.match_dir(BASE_RUN) / "model.json"
    recorded = run_stage("match", config, NEXT_RUN, model_path=model, full_rebuild=True)
    assert recorded["incremental"]["path"] == "full"
    assert recorded["incremental"]["reason"] == "a full rebuild was asked for"
    assert run_stage("match", config, NEXT_RUN, model_path=model)["incremental"]["path"] == (
        "incremental"
    )


def test_full_rebuild_reaches_the_golden_stage_through_the_orchestrator(
    base: Base, copy: Warehouse
) -> None:
    from pipelines.orchestrate import run_stage

    config = _config(base.config_path, copy.root)
    assert run_stage("golden", config, BASE_RUN)["path"] == "full"  # nothing to build on yet
    run_stage("publish", config, BASE_RUN)
    staged, _ = next_day(base)
    write_staged(copy, NEXT_RUN, staged)
    run_stage("match", config, NEXT_RUN)
    recorded = run_stage("golden", config, NEXT_RUN, full_rebuild=True)
    assert recorded["path"] == "full"
    assert recorded["full_reason"] == "a full rebuild was asked for"
    assert run_stage("golden", config, NEXT_RUN)["path"] == "incremental"


def test_golden_run_offers_a_full_rebuild_flag() -> None:
    from typer.testing import CliRunner

    from pipelines.cli import app

    shown = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "--full-rebuild" in shown.output


def test_a_rerun_on_unchanged_records_scores_nothing_and_keeps_every_cluster(
    base: Base, copy: Warehouse
) -> None:
    from pipelines.match import match

    config = _config(base.config_path, copy.root)
    write_staged(copy, NEXT_RUN, base.staged)
    outcome = match(config, NEXT_RUN)
    assert outcome.incremental.path == "incremental"
    assert outcome.incremental.records_unchanged == base.staged.height
    assert outcome.pairs_scored == outcome.incremental.pairs_scored_anew == 0
    assert outcome.incremental.pairs_reused == outcome.pairs_kept > 0
    assert partition(read(copy, NEXT_RUN, "clusters.parquet")) == partition(base.clusters)
    # Pairs are still suggested for training, scored as the base run scored them (the
    # incremental linker holds none of these records: the suggestions get their own).
    key = ["record_key_l", "record_key_r", "match_probability"]
    suggested = read(copy, NEXT_RUN, "training_pairs.parquet").select(key)
    offered = read(copy, BASE_RUN, "training_pairs.parquet").filter(
        pl.col("suggested_because") != "just below the review band"
    )
    assert offered.height > 0
    assert offered.select(key).join(suggested, on=key, how="anti").height == 0


def test_a_single_source_dedupe_matches_incrementally_like_a_full_rebuild(
    base: Base, copy: Warehouse
) -> None:
    """One source means Splink's dedupe-only link type, whose pair ids carry no source name;
    the base it builds on is a single-source run whose own base (three sources) was refused."""
    from pipelines.match import match

    single_base = "20260101T120000Z-crm000"
    only_crm = pl.col("source_system") == "crm"
    config = _config(base.config_path, copy.root)
    write_staged(copy, single_base, base.staged.filter(only_crm))
    first = match(config, single_base)
    assert first.incremental.path == "full"
    assert "link_type: 'link_and_dedupe' -> 'dedupe_only'" in (first.incremental.reason or "")

    staged, _ = next_day(base)
    crm = staged.filter(only_crm)
    twin = crm.head(1).with_columns(record_key=pl.lit("crm:incremental-new-2"))
    crm = pl.concat([crm, twin])  # a new copy of a crm record: at least one pair to score
    write_staged(copy, NEXT_RUN, crm)
    write_staged(copy, FULL_RUN, crm)
    incremental = match(config, NEXT_RUN)
    assert incremental.incremental.path == "incremental"
    assert incremental.incremental.base_run_id == single_base
    assert incremental.pairs_scored > 0
    match(
        config, FULL_RUN, model_path=copy.match_dir(single_base) / "model.json", full_rebuild=True
    )
    order = ["record_key_l", "record_key_r"]
    inc_pairs = read(copy, NEXT_RUN, "pairs.parquet").sort(order)
    full_pairs = read(copy, FULL_RUN, "pairs.parquet").sort(order)
    assert inc_pairs.select(order).equals(full_pairs.select(order))
    worst = (inc_pairs["match_probability"] - full_pairs["match_probability"]).abs().max()
    assert worst is not None and worst < 1e-9
    assert partition(read(copy, NEXT_RUN, "clusters.parquet")) == partition(
        read(copy, FULL_RUN, "clusters.parquet")
    )


@pytest.mark.spark
def test_incremental_match_on_spark_equals_the_same_run_on_duckdb(
    base: Base, copy: Warehouse, tmp_path: Path
) -> None:
    """The incremental path on Splink's Spark backend (PySpark local mode) gives the pairs,
    probabilities and clusters the DuckDB incremental path gives.

    A model's SQL is written for one engine, so switching engines forces a full match: the
    Spark warehouse first matches the base run's records on Spark with the base run's model
    (scoring only, no training), then the next day's records incrementally on that.
    """
    if shutil.which("java") is None:
        from conftest import skip_or_fail

        skip_or_fail("Java is not installed; PySpark local mode needs it")
    from pipelines.match import match

    spark_base = "20260101T120000Z-spark0"
    on_spark = Warehouse(tmp_path / "spark-warehouse")
    shutil.copytree(base.warehouse, on_spark.root, symlinks=True)
    spark_config = _config(base.config_path, on_spark.root, **{"matching.engine": "spark"})
    write_staged(on_spark, spark_base, base.staged)
    first = match(spark_config, spark_base, model_path=on_spark.match_dir(BASE_RUN) / "model.json")
    assert first.engine == "spark" and first.incremental.path == "full"
    assert "scoring settings changed" in (first.incremental.reason or "")

    staged, _ = next_day(base)
    write_staged(copy, NEXT_RUN, staged)
    write_staged(on_spark, NEXT_RUN, staged)
    duck = match(_config(base.config_path, copy.root), NEXT_RUN)
    spark = match(spark_config, NEXT_RUN)
    assert duck.incremental.path == spark.incremental.path == "incremental"
    assert spark.incremental.base_run_id == spark_base
    assert spark.engine == "spark"
    assert spark.incremental.pairs_scored_anew == duck.incremental.pairs_scored_anew > 0
    assert spark.incremental.components_kept == duck.incremental.components_kept

    # On Spark, incremental equals a full rebuild with the same model, exactly as on DuckDB.
    write_staged(on_spark, FULL_RUN, staged)
    match(
        spark_config,
        FULL_RUN,
        model_path=on_spark.match_dir(spark_base) / "model.json",
        full_rebuild=True,
    )
    order = ["record_key_l", "record_key_r"]
    spark_pairs = read(on_spark, NEXT_RUN, "pairs.parquet").sort(order)
    spark_full = read(on_spark, FULL_RUN, "pairs.parquet").sort(order)
    assert spark_pairs.select(order).equals(spark_full.select(order))
    worst = (spark_pairs["match_probability"] - spark_full["match_probability"]).abs().max()
    assert worst is not None and worst < 1e-9
    assert read(on_spark, NEXT_RUN, "clusters.parquet").equals(
        read(on_spark, FULL_RUN, "clusters.parquet")
    )
    # And the two engines agree: the same pairs and clusters. Probabilities differ in the
    # seventh digit, because the Spark base run computed its own term-frequency tables.
    duck_pairs = read(copy, NEXT_RUN, "pairs.parquet").sort(order)
    assert spark_pairs.select(order).equals(duck_pairs.select(order))
    worst = (spark_pairs["match_probability"] - duck_pairs["match_probability"]).abs().max()
    assert worst is not None and worst < 1e-5
    assert partition(read(on_spark, NEXT_RUN, "clusters.parquet")) == partition(
        read(copy, NEXT_RUN, "clusters.parquet")
    )


def test_new_steward_labels_make_the_next_run_train_afresh_and_learn_from_them(
    base: Base, copy: Warehouse
) -> None:
    from matching.decisions import DecisionStore
    from matching.labels import MIN_LABELS
    from pipelines.match import match

    staged, _ = next_day(base)
    write_staged(copy, NEXT_RUN, staged)
    pairs = multi_record_clusters(base)[30 : 30 + MIN_LABELS]
    store = DecisionStore(copy.decisions)
    store.add_must_link(pairs[0][0], pairs[0][1], "steward", "confirmed")
    config = _config(base.config_path, copy.root)
    # One decision cannot change the model: the run builds on the base incrementally.
    assert match(config, NEXT_RUN).incremental.path == "incremental"

    for keys in pairs[1:]:
        store.add_must_link(keys[0], keys[1], "steward", "confirmed")
    write_staged(copy, FULL_RUN, staged)
    outcome = match(config, FULL_RUN)
    assert outcome.incremental.path == "full"
    assert "steward labels changed" in (outcome.incremental.reason or "")
    assert outcome.trained and outcome.steward_labels.must_links == MIN_LABELS
    assert outcome.steward_labels.digest
    saved = result(copy, FULL_RUN)["steward_labels"]
    assert saved["must_links"] == MIN_LABELS and saved["digest"] == outcome.steward_labels.digest
