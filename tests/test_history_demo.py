"""The issue's "done when": two runs of the sample with ``mutate_sample`` between them leave
every new table with rows from both runs, through the same path as ``golden run``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from pipelines.config import load_config
from pipelines.history import run_time
from pipelines.orchestrate import run_pipeline
from pipelines.publish import read_table
from pipelines.review_due.compute import refresh_review_due
from pipelines.review_due.schema import REASONS
from pipelines.sample import generate_sample, mutate_sample

pytestmark = [pytest.mark.slow]


def frame(root: Path, name: str) -> pl.DataFrame:
    table = pl.from_arrow(read_table(root, name))
    assert isinstance(table, pl.DataFrame)
    return table


def test_two_runs_with_a_mutated_day_between_fill_every_history_table(tmp_path: Path) -> None:
    sample = tmp_path / "sample"
    generate_sample(sample, customers=150, seed=5)
    overrides = {
        "warehouse.path": str(tmp_path / "warehouse"),
        "backup.enabled": False,
        "validation.expectations_dir": str(Path(__file__).parents[1] / "expectations"),
    }
    config = load_config(sample / "config.yaml", overrides)
    root = config.warehouse.path
    first = run_pipeline(config)
    mutate_sample(sample, 0.2, seed=9)
    second = run_pipeline(config)
    both = {first, second}

    history = frame(root, "golden_customers_history")
    assert set(history["valid_from_run"]) == both
    assert history.filter(pl.col("valid_to_run") == second).height > 0, "changes closed versions"
    events = frame(root, "golden_events")
    assert set(events["run_id"]) == both
    assert {"created", "changed"} <= set(events.filter(pl.col("run_id") == second)["event"])
    aliases = frame(root, "golden_id_aliases")
    assert set(aliases["golden_id"]) >= set(history["golden_id"])
    assert set(frame(root, "dq_scorecard")["run_id"]) == both
    profile = frame(root, "customer_profile")
    golden = frame(root, "golden_customers")
    # One profile row for every current golden id, none for an id no longer published.
    assert profile["golden_id"].is_unique().all()
    assert sorted(profile["golden_id"]) == sorted(golden["golden_id"])
    assert set(profile["run_id"]) == {second}
    # Each customer's values date from one of the two runs; some changed in the second.
    starts = {run_time(first), run_time(second)}
    assert set(golden["golden_changed_at"]) <= starts
    assert run_time(second) in set(golden["golden_changed_at"])
    # The review list judges the second run; its rows carry that run.
    result = refresh_review_due(root, config.review_due, datetime.now(UTC))
    assert result.run_id == second
    assert sum(result.by_reason.values()) == result.rows
    # The mutated day leaves customers whose sources disagree, whatever the refresh's date.
    assert result.by_reason.get("conflicting_sources", 0) > 0, result.by_reason
    due = pl.read_parquet(result.path)
    assert due.height == result.rows and set(due["run_id"]) == {second}
    assert set(due["reason"]) <= set(REASONS)
    assert set(due["golden_id"].drop_nulls()) <= set(golden["golden_id"])
