"""Scoring on DuckDB: the pairs blocked once and read back from files, in one chunk or a chunk
at a time, are the pairs Splink's own ``predict`` blocks and scores in one go, pairs blocked
beforehand into a file (as a Spark run's driver does) score the same, and a run where nothing
is blocked still gives the pairs table its columns."""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl
import pytest
import splink.comparison_library as cl
from splink import Linker, SettingsCreator, block_on

from matching.config import MatchingConfig
from matching.engine import Engine, open_engine
from matching.scoring import score_pairs, write_blocked_pairs


def _records(source: str, emails: list[str], rng: random.Random) -> pl.DataFrame:
    names = ["ann", "anna", "bob", "rob", "cleo", "chloe", "dan", "dean"]
    return pl.DataFrame(
        {
            "record_key": [f"{source}:{i}" for i in range(len(emails))],
            "email": emails,
            "name": [rng.choice(names) for _ in emails],
        }
    )


def _linker(
    engine: Engine, frames: dict[str, pl.DataFrame], rules: tuple[str, ...] = ("email", "name")
) -> Linker:
    settings = SettingsCreator(
        link_type="link_and_dedupe",
        unique_id_column_name="record_key",
        comparisons=[cl.ExactMatch("email"), cl.JaroWinklerAtThresholds("name")],
        blocking_rules_to_generate_predictions=[block_on(rule) for rule in rules],
        probability_two_random_records_match=0.01,
        retain_intermediate_calculation_columns=True,
    )
    inputs = [engine.register(frame, source) for source, frame in frames.items()]
    return Linker(inputs, settings, log_level=None)


def _scores(
    frames: dict[str, pl.DataFrame], chunks: int, work: Path, blocked: Path | None = None
) -> tuple[pl.DataFrame, dict]:
    config = MatchingConfig(predict_chunks=chunks)
    with open_engine(config, work) as engine:
        linker = _linker(engine, frames)
        scores = score_pairs(linker, engine, config, records=60, blocked=blocked)
    return scores.pairs.sort("record_key_l", "record_key_r"), scores.pairs_by_rule


def _blocked_beforehand(
    frames: dict[str, pl.DataFrame], work: Path, rules: tuple[str, ...] = ("email", "name")
) -> tuple[Path, int]:
    """The pairs of ``frames`` blocked by one engine into a file, as a Spark run's driver does."""
    path = work / f"blocked-{'-'.join(rules)}.parquet"
    with open_engine(MatchingConfig(), work / f"blocker-{'-'.join(rules)}") as engine:
        written = write_blocked_pairs(_linker(engine, frames, rules), engine, path)
    return path, written


def _splink_predict(frames: dict[str, pl.DataFrame], work: Path) -> pl.DataFrame:
    """The pairs at or above ``review_lower`` by Splink's own ``predict``."""
    config = MatchingConfig()
    with open_engine(config, work) as engine:
        predictions = _linker(engine, frames).inference.predict()
        return engine.query(
            "SELECT record_key_l, record_key_r, CAST(match_probability AS DOUBLE) AS p "
            f"FROM {predictions.physical_name} WHERE match_probability >= {config.review_lower}"
        ).sort("record_key_l", "record_key_r")


def test_chunks_blocked_once_score_exactly_the_pairs_splink_predicts(tmp_path: Path) -> None:
    rng = random.Random(5)
    emails = [f"u{rng.randrange(25)}@example.com" for _ in range(60)]
    frames = {"a": _records("a", emails[:30], rng), "b": _records("b", emails[30:], rng)}
    whole, whole_rules = _scores(frames, 1, tmp_path / "one")
    splink = _splink_predict(frames, tmp_path / "splink")
    assert whole.select("record_key_l", "record_key_r").equals(splink.drop("p"))
    assert whole["match_probability"].to_list() == pytest.approx(splink["p"].to_list(), abs=1e-12)
    for chunks in (2, 4):
        chunked, chunked_rules = _scores(frames, chunks, tmp_path / f"n{chunks}")
        assert chunked_rules == whole_rules
        assert chunked.equals(whole)
    assert sum(whole_rules.values()) > 50 and whole.height >= 10  # blocked, and kept
    assert whole["record_key_l"].str.starts_with("a").any()
    assert whole["record_key_r"].str.starts_with("b").any()


def test_pairs_blocked_beforehand_score_as_pairs_the_scoring_engine_blocks(
    tmp_path: Path,
) -> None:
    rng = random.Random(5)
    emails = [f"u{rng.randrange(25)}@example.com" for _ in range(60)]
    frames = {"a": _records("a", emails[:30], rng), "b": _records("b", emails[30:], rng)}
    whole, whole_rules = _scores(frames, 1, tmp_path / "here")
    path, written = _blocked_beforehand(frames, tmp_path)
    # A chunk count is ignored: pairs blocked elsewhere are scored in one query.
    scored, rules = _scores(frames, 3, tmp_path / "scorer", blocked=path)
    assert written == sum(whole_rules.values()) > 50
    assert rules == whole_rules
    assert scored.equals(whole) and whole.height >= 10
    # The file's pairs are what is scored: blocked on e-mail alone, no pair is blocked on name.
    by_email, written = _blocked_beforehand(frames, tmp_path, ("email",))
    _, rules = _scores(frames, 1, tmp_path / "email-only", blocked=by_email)
    email_rule, name_rule = list(whole_rules)
    assert rules == {email_rule: written, name_rule: 0} and written == whole_rules[email_rule]


def test_chunks_with_nothing_blocked_give_an_empty_pairs_table(tmp_path: Path) -> None:
    rng = random.Random(6)
    frames = {
        source: _records(source, [f"{source}{i}@example.com" for i in range(3)], rng).with_columns(
            pl.col("record_key").alias("name")  # no name repeats either
        )
        for source in ("a", "b")
    }
    path, written = _blocked_beforehand(frames, tmp_path)
    assert written == 0
    runs = [(chunks, None) for chunks in (1, 3)] + [(1, path)]
    for chunks, blocked in runs:
        work = tmp_path / f"none-{chunks}-{blocked is not None}"
        pairs, by_rule = _scores(frames, chunks, work, blocked)
        assert pairs.height == 0
        assert {"record_key_l", "record_key_r", "match_probability"} <= set(pairs.columns)
        assert set(by_rule.values()) == {0}


def test_a_chunk_that_fails_leaves_no_partitioned_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matching import scoring

    def fails(*_: object) -> None:
        raise RuntimeError("chunk failed")

    monkeypatch.setattr(scoring, "_score_slice", fails)
    rng = random.Random(7)
    emails = [f"u{rng.randrange(10)}@example.com" for _ in range(20)]
    frames = {"a": _records("a", emails[:10], rng), "b": _records("b", emails[10:], rng)}
    for chunks in (1, 2):
        with pytest.raises(RuntimeError, match="chunk failed"):
            _scores(frames, chunks, tmp_path / f"fails-{chunks}")
        assert not list((tmp_path / f"fails-{chunks}").rglob("slices-*"))
