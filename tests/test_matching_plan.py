"""The model built from the data: comparisons, blocking rules, prior rules and EM sessions only
over fields the run's records hold, and m probabilities bounded so no level becomes a veto."""

from __future__ import annotations

import random

import polars as pl
import pytest
from splink import DuckDBAPI, Linker

from matching.config import MatchingConfig
from matching.features import KEY_COLUMNS, matching_frame
from matching.plan import COLUMN_FIELDS, ModelPlan, build_plan
from matching.settings import CONTRADICTION_FLOORS, settings_creator
from matching.training import bound_m_probabilities

FIRST = ["anna", "ben", "carla", "dev", "emma", "femi", "gus", "hana", "ivan", "jo"]
LAST = ["smith", "jones", "okoro", "tanaka", "novak", "silva", "kim", "brown"]


def staged(rows: int, seed: int = 3, **fields: bool) -> pl.DataFrame:
    """Records holding only the fields asked for (names and birth date by default)."""
    rng = random.Random(seed)
    columns: dict[str, list[str | None]] = {
        "record_key": [f"s:{i}" for i in range(rows)],
        "source_system": ["s"] * rows,
        **{c: [None] * rows for c in KEY_COLUMNS},
    }
    for i in range(rows):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        columns["mk_first_name"][i] = columns["mk_first_name_canonical"][i] = first
        columns["mk_last_name"][i] = last
        columns["mk_dob"][i] = f"19{rng.randint(40, 99)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
        if fields.get("email"):
            columns["mk_email"][i] = f"{first}.{last}{i % 50}@example.org"
            columns["mk_email_user"][i] = f"{first}.{last}{i % 50}"
        if fields.get("postcode"):
            columns["mk_postcode"][i] = f"PC{rng.randint(1, 40)}"
    return pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.String))


def plan_of(records: pl.DataFrame, **config: object) -> ModelPlan:
    return build_plan(matching_frame(records, 50), MatchingConfig(**config))


def compared(plan: ModelPlan) -> list[str]:
    model = settings_creator(1, plan).create_settings_dict("duckdb")
    return [c["output_column_name"] for c in model["comparisons"]]


def test_a_source_without_emails_gets_no_email_comparison() -> None:
    plan = plan_of(staged(300, postcode=True))
    assert "email" not in plan.fields_used
    assert plan.fields_unused["email"] == "empty"
    assert "email" not in compared(plan)
    assert {"first_name", "last_name", "date_of_birth", "postcode"} <= set(compared(plan))

    with_emails = plan_of(staged(300, email=True))
    assert "email" in compared(with_emails)


def test_a_rule_over_empty_fields_is_never_used() -> None:
    for records in (staged(300), staged(300, email=True), staged(300, postcode=True)):
        plan = plan_of(records)
        used = set(plan.fields_used)
        for rule in plan.blocking_rules:
            fields = {f for c in rule.columns for f in COLUMN_FIELDS[c]}
            assert fields <= used, (rule.columns, used)
        for rule in [*plan.prior_rules, *plan.training_keys]:
            assert {f for c in rule for f in COLUMN_FIELDS[c]} <= used, rule
    plan = plan_of(staged(300))
    assert "bk_email" in plan.rules_dropped and "bk_phone" in plan.rules_dropped
    assert plan.prior_rules == [["mk_first_name", "mk_last_name", "mk_dob"]]


def test_names_and_birth_dates_alone_still_compare_a_pair_with_a_wrong_birth_date() -> None:
    plan = plan_of(staged(300))
    rules = [r.columns for r in plan.blocking_rules]
    # The standard rules block on the birth date; one that does not is added.
    assert ["mk_last_name", "mk_dob"] in rules
    assert any("mk_dob" not in r for r in rules)
    assert plan.unsurvivable == []
    # Every comparison is trained by a session that does not block on it.
    sessions = [{f for c in key for f in COLUMN_FIELDS[c]} for key in plan.training_keys]
    for field in plan.fields_used:
        assert any(field not in s for s in sessions), field


def test_each_rule_reports_its_pairs_and_one_over_the_budget_is_left_out() -> None:
    records = staged(300)
    plan = plan_of(records)
    frame = matching_frame(records, 50)
    for rule in plan.blocking_rules:
        sizes = frame.drop_nulls(rule.columns).group_by(rule.columns).len()["len"]
        assert rule.pairs == int((sizes * (sizes - 1) // 2).sum())
    # Names alone pair about 560 records here: over a budget of one pair per record, so the
    # plan says that a wrong birth date loses the pair, naming the setting.
    tight = plan_of(records, max_pairs_per_record=1)
    assert all(r.pairs <= 300 for r in tight.blocking_rules)
    assert tight.unsurvivable == ["date_of_birth"]
    assert any("matching.max_pairs_per_record" in line for line in tight.lines())


def test_the_model_block_names_fields_rules_and_pair_counts() -> None:
    plan = plan_of(staged(300))
    text = "\n".join(plan.lines())
    assert "fields compared: first_name, last_name, date_of_birth" in text
    assert "email (empty)" in text
    assert f"blocking on mk_last_name + mk_dob: {plan.blocking_rules[0].pairs:,} pairs" in text


@pytest.fixture(scope="module")
def linker() -> Linker:
    records = matching_frame(staged(200), 50).rename({"source_system": "source_dataset"})
    db = DuckDBAPI()
    return Linker(db.register(records.to_arrow()), settings_creator(1), log_level=None)


def test_rare_levels_get_at_least_the_m_floor_and_contradictions_their_own(linker: Linker) -> None:
    levels = {
        (c.output_column_name, lv.label_for_charts): lv
        for c in linker._settings_obj.comparisons
        for lv in c.comparison_levels
        if not lv.is_null_level
    }
    middle = levels[("middle_initial", "All other comparisons")]
    contradiction = levels[("date_of_birth", "contradiction: different dates of birth")]
    middle.m_probability = 1e-60  # a level EM saw in no matching pair: a -200 bit veto
    contradiction.m_probability = 1e-30
    raised = bound_m_probabilities(linker, 0.001)
    assert middle.m_probability == 0.001
    assert "middle_initial / All other comparisons" in raised
    floor = CONTRADICTION_FLOORS["contradiction: different dates of birth"]
    assert contradiction.m_probability == floor < 0.001
