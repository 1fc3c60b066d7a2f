"""The model built from the data: comparisons, blocking rules, prior rules and EM sessions only
over fields the run's records hold, and m probabilities bounded so no level becomes a veto."""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl
import pytest
from splink import DuckDBAPI, Linker

from matching.config import AttributeConfig, MatchingConfig
from matching.features import KEY_COLUMNS, matching_frame
from matching.matcher import match_records
from matching.plan import COLUMN_FIELDS, ModelPlan, build_plan
from matching.settings import CONTRADICTION_FLOORS, settings_creator
from matching.training import bound_m_probabilities, train_model

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


def _levels_of(plan: ModelPlan, comparison: str) -> list[str]:
    model = settings_creator(1, plan).create_settings_dict("duckdb")
    found = next(c for c in model["comparisons"] if c["output_column_name"] == comparison)
    return [level["label_for_charts"] for level in found["comparison_levels"]]


def test_names_written_in_characters_get_a_same_reading_level_and_latin_names_do_not() -> None:
    reading = "same reading, written with other characters"
    latin = plan_of(staged(300))
    assert latin.written_names == []
    assert reading not in _levels_of(latin, "first_name")

    records = staged(300)
    written = records.with_columns(
        pl.Series(
            "first_name", [random.Random(i).choice(["小明", "晓明", "丽"]) for i in range(300)]
        ),
        pl.Series("last_name", [random.Random(i).choice(["王", "汪", "李"]) for i in range(300)]),
    )
    plan = plan_of(written)
    assert plan.written_names == ["first_name", "last_name"]
    assert reading in _levels_of(plan, "first_name")
    assert reading in _levels_of(plan, "last_name")


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
    plan = build_plan(records, MatchingConfig(learn_contradictions=["date_of_birth"]))
    db = DuckDBAPI()
    return Linker(db.register(records.to_arrow()), settings_creator(1, plan), log_level=None)


def test_rare_levels_get_at_least_the_m_floor_and_contradictions_their_own(
    linker: Linker,
) -> None:
    levels = {
        (c.output_column_name, lv.label_for_charts): lv
        for c in linker._settings_obj.comparisons
        for lv in c.comparison_levels
        if not lv.is_null_level
    }
    middle = levels[("last_name", "All other comparisons")]
    contradiction = levels[("date_of_birth", "contradiction: different dates of birth")]
    fixed = levels[("first_name", "contradiction: different first names")]
    middle.m_probability = 1e-60  # a level EM saw in no matching pair: a -200 bit veto
    contradiction.m_probability = 1e-30  # learnt (matching.learn_contradictions)
    raised = bound_m_probabilities(linker, 0.001)
    assert middle.m_probability == 0.001
    assert "last_name / All other comparisons" in raised
    floor = CONTRADICTION_FLOORS["contradiction: different dates of birth"]
    assert contradiction.m_probability == floor < 0.001
    assert fixed.m_probability == CONTRADICTION_FLOORS["contradiction: different first names"]


def test_em_holds_each_estimated_m_at_its_floor_within_the_iterations(linker: Linker) -> None:
    """A level EM sees only among non-matches would shrink each iteration until its m
    underflows to 0.0 and Splink throws the session away: inside the iterations every m is
    held at the floor (a learnt contradiction at its own), and the hook is gone after."""
    from splink.internals import expectation_maximisation as splink_em

    from matching.training import _m_floored_in_em

    def value(name: str, label: str) -> int:
        [level] = [
            lv
            for c in linker._settings_obj.comparisons
            if c.output_column_name == name
            for lv in c.comparison_levels
            if lv.label_for_charts == label
        ]
        return level.comparison_vector_value

    last = value("last_name", "All other comparisons")
    born = value("date_of_birth", "contradiction: different dates of birth")
    exact = value("last_name", "exact last name")
    records = [
        {"output_column_name": "last_name", "comparison_vector_value": last,
         "m_probability": 0.0, "u_probability": 0.9},
        {"output_column_name": "last_name", "comparison_vector_value": exact,
         "m_probability": 0.95, "u_probability": 0.01},
        {"output_column_name": "date_of_birth", "comparison_vector_value": born,
         "m_probability": float("nan"), "u_probability": 0.99},
    ]  # fmt: skip
    original = splink_em.m_u_records_to_lookup_dict
    with _m_floored_in_em(linker, 0.001):
        lookup = splink_em.m_u_records_to_lookup_dict(records)
    assert splink_em.m_u_records_to_lookup_dict is original
    assert lookup["last_name"][last]["m_probability"] == 0.001
    assert lookup["last_name"][exact]["m_probability"] == 0.95
    assert (
        lookup["date_of_birth"][born]["m_probability"]
        == CONTRADICTION_FLOORS["contradiction: different dates of birth"]
    )


def test_a_failed_em_session_leaves_the_model_whole() -> None:
    """Splink's session takes the comparisons its rule fixes out of the linker's model and
    sets its own prior, and puts them back only when it succeeds: a session whose rule finds
    no pair must not leave the model without its email comparison and with that prior."""
    records = staged(200, email=True).with_columns(
        mk_email=pl.concat_str(pl.col("mk_first_name"), pl.col("record_key"), pl.lit("@x.org"))
    )
    features = matching_frame(records, 50)
    plan = build_plan(features, MatchingConfig())
    assert "email" in plan.fields_used
    plan.training_keys = [["mk_email"], *plan.training_keys]
    config = MatchingConfig(max_pairs_for_u=10_000, em_max_pairs=10_000)
    db = DuckDBAPI()
    linker = Linker(
        db.register(features.rename({"source_system": "source_dataset"}).to_arrow()),
        settings_creator(1e-3, plan),
        log_level=None,
    )
    report = train_model(linker, config, plan=plan, features=features)
    assert any(s.startswith('EM on l."mk_email"') for s in report.skipped), report.skipped
    model = linker.misc.save_model_to_json()
    assert "email" in [c["output_column_name"] for c in model["comparisons"]]
    assert model["probability_two_random_records_match"] == pytest.approx(
        report.probability_two_random_records_match
    )


def test_an_identifier_column_blocks_and_scores(tmp_path: Path) -> None:
    """A second source holds 80 of the people again, some with a typo in the last name, some
    in the birth year; 20 have both, which no rule on names and birth date finds: the
    identifier's rule generates them and its comparison links them."""
    records = staged(400, seed=5)
    rng = random.Random(9)
    ids = [f"{rng.randint(10**7, 10**8 - 1)}" for _ in range(records.height)]
    n = pl.int_range(pl.len())
    typo_last = (n < 20) | (n >= 60)
    typo_year = ((n >= 20) & (n < 40)) | (n >= 60)
    copies = records.head(80).with_columns(
        pl.concat_str(pl.lit("t:"), pl.col("record_key")).alias("record_key"),
        pl.lit("t").alias("source_system"),
        pl.when(typo_last)
        .then(pl.concat_str(pl.col("mk_last_name"), pl.lit("e")))
        .otherwise(pl.col("mk_last_name"))
        .alias("mk_last_name"),
        pl.when(typo_year)
        .then(pl.concat_str(pl.lit("18"), pl.col("mk_dob").str.slice(2)))
        .otherwise(pl.col("mk_dob"))
        .alias("mk_dob"),
    )
    records = pl.concat([records, copies]).with_columns(
        # written differently in the second source: grouped digits
        attr_ssid=pl.Series(ids + [f"{i[:3]}-{i[3:]}" for i in ids[:80]])
    )
    config = MatchingConfig(
        attributes={"ssid": AttributeConfig(kind="identifier")},
        max_pairs_for_u=10_000,
        em_max_pairs=10_000,
    )
    plan = build_plan(matching_frame(records, 50, config.attributes), config)
    assert plan.blocking_rules[0].columns == ["bk_attr_ssid"]
    assert plan.blocking_rules[0].pairs == 80
    assert ["bk_attr_ssid"] in plan.prior_rules
    assert "ssid" in compared(plan)

    out = match_records(records, config, work_dir=tmp_path)
    assert out.summary.pairs_by_rule['l."bk_attr_ssid" = r."bk_attr_ssid"'] == 80
    cluster = dict(out.clusters.select("record_key", "cluster_id").iter_rows())
    only_ssid = [k.removeprefix("t:") for k in copies.tail(20)["record_key"]]
    linked = [k for k in only_ssid if cluster[f"t:{k}"] == cluster[k]]
    assert len(linked) >= 18, linked
    pairs = out.pairs.filter(pl.col("record_key_l").is_in(only_ssid))
    assert pairs.height == len(linked) and (pairs["bf_ssid"] > 100).all()


def test_steward_must_links_raise_the_m_of_a_contradiction_they_show(tmp_path: Path) -> None:
    """Stewards confirmed 40 people entered under another first name: the first-name
    contradiction, fixed near a veto without labels, learns from them."""
    records = staged(300, seed=8)
    copies = records.head(40).with_columns(
        pl.concat_str(pl.lit("t:"), pl.col("record_key")).alias("record_key"),
        pl.lit("t").alias("source_system"),
        pl.lit("zebedee").alias("mk_first_name"),
        pl.lit("zebedee").alias("mk_first_name_canonical"),
    )
    must_link = list(zip(records.head(40)["record_key"], copies["record_key"], strict=True))
    config = MatchingConfig(max_pairs_for_u=10_000, em_max_pairs=10_000)
    out = match_records(
        pl.concat([records, copies]), config, work_dir=tmp_path, must_link=must_link
    )
    label = "contradiction: different first names"
    [level] = [
        lv
        for c in out.model["comparisons"]
        for lv in c["comparison_levels"]
        if lv.get("label_for_charts") == label
    ]
    assert out.summary.labelled_pairs == 40
    assert level["m_probability"] > 10 * CONTRADICTION_FLOORS[label]
    assert any(
        "40 of 40 labelled matching pairs contradict" in s for s in out.summary.training_skipped
    )


def _config_with(tmp_path: Path, source_extra: str, matching: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        "sources:\n"
        "  - {name: crm, kind: file, path: crm.csv, id_column: id,\n"
        f"     mapping: {{first_name: fn}}{source_extra}}}\n" + matching
    )
    return path


def test_attribute_settings_errors_name_the_key(tmp_path: Path) -> None:
    from pipelines.config import load_config
    from pipelines.errors import ConfigError

    good = load_config(
        _config_with(
            tmp_path,
            ", attributes: {ssid: national_id}",
            "matching: {attributes: {ssid: {kind: identifier}}}\n",
        )
    )
    assert good.sources[0].mapped_columns == ["fn", "national_id"]
    assert good.matching.attributes["ssid"].blocks
    cases = {
        ("", "matching: {attributes: {ssid: {kind: identifier}}}\n"): "matching.attributes.ssid",
        (", attributes: {ssid: national_id}", ""): "matching.attributes does not describe",
        (
            ", attributes: {ssid: n}",
            "matching: {attributes: {ssid: {kind: text, tolerance: 2}}}\n",
        ): "matching.attributes.ssid",
        (", attributes: {Bad: n}", "matching: {attributes: {Bad: {}}}\n"): "matching.attributes",
    }
    for (extra, matching), key in cases.items():
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            load_config(_config_with(tmp_path, extra, matching))


def test_splink_chatter_is_quiet_unless_asked_for_and_repeats_are_collected() -> None:
    import logging

    from matching.quiet import quiet_splink, summarised_warnings

    splink = logging.getLogger("splink")
    before = splink.level
    try:
        splink.setLevel(logging.NOTSET)
        quiet_splink()
        assert splink.level == logging.WARNING
        splink.setLevel(logging.DEBUG)  # golden -v
        quiet_splink()
        assert splink.level == logging.DEBUG
    finally:
        splink.setLevel(before)
    em = logging.getLogger("splink.internals.expectation_maximisation")
    with summarised_warnings() as notes:
        em.warning("Level x on comparison y not observed in dataset, unable to train m value")
        em.warning("something else")
    assert notes == ["Level x on comparison y not observed in dataset, unable to train m value"]


def test_a_source_without_contact_fields_learns_its_contradictions() -> None:
    # Names, birth dates and postcodes only (as a registry or FEBRL): a different first name
    # or birth date is learnt from the data, not fixed near a veto.
    plan = plan_of(staged(300, postcode=True))
    assert plan.learnt_contradictions == ["first_name", "date_of_birth"]
    model = settings_creator(1, plan).create_settings_dict("duckdb")
    learnt = {
        c["output_column_name"]: level.get("fix_m_probability", False)
        for c in model["comparisons"]
        for level in c["comparison_levels"]
        if level.get("label_for_charts", "").startswith("contradiction")
    }
    assert learnt["first_name"] is False and learnt["date_of_birth"] is False
    assert any(line.startswith("contradictions learnt: first_name") for line in plan.lines())


def test_a_source_with_emails_keeps_its_contradictions_fixed() -> None:
    plan = plan_of(staged(300, email=True, postcode=True))
    assert plan.learnt_contradictions == []
    assert "email held by" in plan.contradictions_reason
    # The switch overrides the data either way.
    assert plan_of(staged(300, email=True), learn_contradictions=True).learnt_contradictions == [
        "first_name",
        "date_of_birth",
    ]
    assert plan_of(staged(300), learn_contradictions=False).learnt_contradictions == []


def test_contact_evidence_held_by_few_records_does_not_count() -> None:
    records = staged(300, email=True, postcode=True)
    sparse = records.with_columns(
        [
            pl.when(pl.int_range(pl.len()) < 30).then(pl.col(c)).otherwise(None).alias(c)
            for c in ("mk_email", "mk_email_user")
        ]
    )
    assert plan_of(sparse).learnt_contradictions == ["first_name", "date_of_birth"]


def test_names_and_birth_dates_alone_keep_their_contradictions_fixed() -> None:
    # Nothing beside the names and birth date to weigh a different first name against: a
    # learnt contradiction would leave twins only their shared surname and date.
    plan = plan_of(staged(300))
    assert plan.learnt_contradictions == []
    assert "no field beside the names and birth date" in plan.contradictions_reason


def _redundant(plan: ModelPlan) -> list[tuple[list[str], int]]:
    return [(r.columns, r.pairs) for r in plan.blocking_rules if r.reason.startswith("redundant")]


def test_learnt_contradictions_bring_redundant_rules_for_pairs_with_two_fields_wrong() -> None:
    records = staged(300, postcode=True)
    plan = plan_of(records)
    redundant = _redundant(plan)
    assert redundant, plan.lines()
    pairs = [p for _, p in redundant]
    assert pairs == sorted(pairs)  # cheapest first
    assert sum(pairs) <= MatchingConfig().redundant_pairs_per_record * records.height
    assert any(line.startswith("blocking on") and "redundant" in line for line in plan.lines())

    # A re-keyed birth date and a mistyped surname: no standard rule pairs the two records,
    # a redundant one does (the first name with the postcode).
    pair = records.head(2).with_columns(
        mk_first_name=pl.lit("zara"),
        mk_first_name_canonical=pl.lit("zara"),
        mk_last_name=pl.Series(["quinton", "quintin"]),
        mk_dob=pl.Series(["1961-02-03", "1977-11-30"]),
        mk_postcode=pl.lit("PC99"),
    )
    frame = matching_frame(pl.concat([records.slice(2), pair]), 50).tail(2)

    def blocks(columns: list[str]) -> bool:
        left, right = frame.select(columns).rows()
        return None not in left and left == right

    assert not any(blocks(r.columns) for r in plan.blocking_rules if r.reason == "standard")
    assert any(blocks(columns) for columns, _ in redundant)


def test_no_redundant_rules_where_contradictions_stay_fixed_or_the_budget_is_zero() -> None:
    assert _redundant(plan_of(staged(300, email=True, postcode=True))) == []
    assert _redundant(plan_of(staged(300))) == []
    assert _redundant(plan_of(staged(300, postcode=True), redundant_pairs_per_record=0)) == []
    tight = plan_of(staged(300, postcode=True), redundant_pairs_per_record=1)
    assert sum(p for _, p in _redundant(tight)) <= 300


def test_records_no_field_tells_apart_are_not_compared_and_the_summary_says_why(
    tmp_path: Path,
) -> None:
    """Every record holds the same name and birth date (a toy file, a placeholder export): no
    comparison can be built, and the match says so instead of failing inside Splink."""
    records = staged(4).with_columns(
        mk_first_name=pl.lit("ann"),
        mk_first_name_canonical=pl.lit("ann"),
        mk_last_name=pl.lit("lee"),
        mk_dob=pl.lit("1980-01-02"),
    )
    out = match_records(records, MatchingConfig(), work_dir=tmp_path)
    assert out.clusters["cluster_id"].n_unique() == 4
    assert out.pairs.height == 0
    assert any("no field tells these records apart" in s for s in out.summary.training_skipped)
    assert out.summary.model == out.summary.training_skipped  # the run summary shows it


def test_the_model_block_says_when_there_are_too_few_records_to_learn_from() -> None:
    assert any(line.startswith("only 12 records: too few") for line in plan_of(staged(12)).lines())
    assert not any("too few" in line for line in plan_of(staged(300)).lines())
