"""Steward labels teach the model (matching.labels) and the active-learning loop picks the pairs
to label (matching.active): uncertain ones, near misses below the review band, spread over
comparison-vector patterns."""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl
import pytest

from matching.active import candidate_pairs, rank_suggestions
from matching.config import MatchingConfig
from matching.features import KEY_COLUMNS
from matching.labels import calibrated_shift
from matching.matcher import match_records

FIRST = ["anna", "ben", "carla", "dev", "emma", "femi", "gus", "hana", "ivan", "jo", "kofi", "lena"]
LAST = ["smith", "jones", "okoro", "tanaka", "novak", "silva", "kim", "brown", "diaz", "ali"]


def registry(people: int, twice: int, seed: int = 5) -> tuple[pl.DataFrame, dict[str, int]]:
    """Names and birth dates only; ``twice`` people entered again with one birth-date digit
    re-keyed (the error EM on this data underrates). Returns the records and key -> person."""
    rng = random.Random(seed)
    rows, person = [], {}
    for n in range(people):
        dob = f"19{rng.randint(30, 99)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        rows.append((f"r:{n}a", rng.choice(FIRST), rng.choice(LAST), dob))
        person[f"r:{n}a"] = n
    for n in range(twice):
        _, first, last, dob = rows[n]
        i = rng.choice([2, 3, 9])
        dob = dob[:i] + str((int(dob[i]) + rng.randint(1, 8)) % 10) + dob[i + 1 :]
        rows.append((f"r:{n}b", first, last, dob))
        person[f"r:{n}b"] = n
    columns: dict[str, list[str | None]] = {
        "record_key": [r[0] for r in rows],
        "source_system": ["r"] * len(rows),
        **{c: [None] * len(rows) for c in KEY_COLUMNS},
    }
    columns["mk_first_name"] = columns["mk_first_name_canonical"] = [r[1] for r in rows]
    columns["mk_last_name"] = [r[2] for r in rows]
    columns["mk_dob"] = [r[3] for r in rows]
    return pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.String)), person


def _linked(out: object, pairs: list[tuple[str, str]]) -> set[tuple[str, str]]:
    cluster = dict(out.clusters.select("record_key", "cluster_id").iter_rows())  # type: ignore[attr-defined]
    return {(a, b) for a, b in pairs if cluster[a] == cluster[b]}


def _dob_m(out: object) -> list[float]:
    [dob] = [c for c in out.model["comparisons"] if c["output_column_name"] == "date_of_birth"]  # type: ignore[attr-defined]
    return [lv.get("m_probability", 0.0) for lv in dob["comparison_levels"][1:]]


def test_steward_labels_change_m_values_and_link_pairs_nobody_labelled(tmp_path: Path) -> None:
    records, person = registry(1500, 150)
    config = MatchingConfig(max_pairs_for_u=20_000, em_max_pairs=20_000)
    true_pairs = [(f"r:{n}a", f"r:{n}b") for n in range(150)]
    before = match_records(records, config, work_dir=tmp_path / "a")
    found_before = _linked(before, true_pairs)

    # A steward confirms 25 of the re-keyed duplicates the model missed and rejects 10 pairs
    # the model offered that are different people.
    missed = [p for p in true_pairs if p not in found_before]
    assert len(missed) > 40, "the unlabelled model should miss re-keyed birth dates"
    must = missed[:25]
    offered = before.training_pairs
    cannot = [
        (a, b)
        for a, b in offered.select("record_key_l", "record_key_r").iter_rows()
        if person[a] != person[b]
    ][:10]
    after = match_records(
        records, config, work_dir=tmp_path / "b", must_link=must, cannot_link=cannot
    )
    labels = after.summary.steward_labels
    assert (labels.must_links, labels.cannot_links) == (25, len(cannot))
    assert any(name.startswith("date_of_birth") for name in labels.m_updated)
    assert _dob_m(after) != pytest.approx(_dob_m(before), abs=1e-6)

    unlabelled = [p for p in missed if p not in must]
    newly = _linked(after, unlabelled)
    assert len(newly) >= len(unlabelled) // 2, (len(newly), len(unlabelled))
    wrong = {(a, b) for a, b in cannot} & _linked(after, cannot)
    assert not wrong


def test_a_few_labels_leave_the_model_as_trained(tmp_path: Path) -> None:
    records, _ = registry(400, 40)
    config = MatchingConfig(max_pairs_for_u=10_000, em_max_pairs=10_000)
    plain = match_records(records, config, work_dir=tmp_path / "a")
    one = match_records(records, config, work_dir=tmp_path / "b", must_link=[("r:0a", "r:0b")])
    assert one.summary.steward_labels.m_updated == []
    assert one.summary.steward_labels.prior_shift_bits is None
    assert one.model["comparisons"] == plain.model["comparisons"]


@pytest.mark.parametrize(
    ("weights", "labels", "sign"),
    [
        pytest.param([1.0, 2.0, 2.5, 0.5, -6.0], [True] * 4 + [False], 1, id="too-strict"),
        pytest.param([5.0, 6.0, 4.0, 7.0, 1.0], [False] * 4 + [True], -1, id="too-loose"),
    ],
)
def test_the_prior_shifts_towards_the_side_the_labels_show(
    weights: list[float], labels: list[bool], sign: int
) -> None:
    threshold = 3.17
    shift = calibrated_shift(weights, labels, threshold)
    assert shift * sign > 0.5
    # More of the same evidence moves it further, the prior keeps it bounded.
    more = calibrated_shift(weights * 10, labels * 10, threshold)
    assert abs(shift) < abs(more) < 20


def _scored(rows: list[tuple[str, str, float, int, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "record_key_l": pl.String,
            "record_key_r": pl.String,
            "match_weight": pl.Float64,
            "gamma_name": pl.Int64,
            "gamma_dob": pl.Int64,
        },
        orient="row",
    ).with_columns(
        pl.lit("review band").alias("suggested_because"),
        pl.lit(0.5).alias("match_probability"),
        pl.col("match_weight").alias("w_name"),
        pl.lit(0.0).alias("w_dob"),
    )


def test_suggestions_spread_over_comparison_patterns_most_uncertain_first() -> None:
    # Ten pairs of one pattern right at the threshold, two of another further away.
    same = [(f"a{i}", f"b{i}", 3.0 + i / 100, 4, 3) for i in range(10)]
    other = [("c1", "d1", -2.0, 4, 1), ("c2", "d2", -3.0, 4, 1)]
    ranked = rank_suggestions(_scored(same + other), match_threshold=0.9, limit=4)
    assert ranked["rank"].to_list() == [1, 2, 3, 4]
    assert ranked["record_key_l"].to_list() == ["a9", "c1", "a8", "c2"]
    assert ranked["pattern"][0] == "name=4 dob=3"
    assert '"name":' in ranked["weights"][0]


def test_candidates_include_near_misses_and_leave_out_decided_pairs() -> None:
    pairs = pl.DataFrame(
        {
            "record_key_l": ["a", "c", "e"],
            "record_key_r": ["b", "d", "f"],
            "match_probability": [0.6, 0.95, 0.99999],
            "match_weight": [0.58, 4.25, 16.6],
        }
    )
    near = pl.DataFrame(
        {
            "record_key_l": ["h"],
            "record_key_r": ["g"],
            "match_probability": [0.1],
            "match_weight": [-3.17],
        }
    )
    found = candidate_pairs(
        pairs, near, match_threshold=0.9, review_lower=0.5, decided=[("d", "c")]
    )
    assert found.rows() == [
        ("a", "b", "review band"),
        ("g", "h", "just below the review band"),
    ]


def test_the_label_report_says_what_the_labels_changed_in_a_few_lines() -> None:
    from matching.labels import LabelReport

    assert LabelReport().lines() == []
    few = LabelReport(must_links=2, cannot_links=1).lines()
    assert few[0].startswith("steward labels: 2 must-link(s), 1 cannot-link(s)")
    assert "too few labels" in few[1]
    taught = LabelReport(
        must_links=40,
        cannot_links=10,
        m_updated=["first_name: 40"],
        prior_shift_bits=1.5,
        prior_before=1e-5,
        prior_after=2.8e-5,
        labels_agreeing_before=38,
        labels_agreeing_after=45,
    ).lines()
    assert "m probabilities blended with labels: first_name: 40" in taught
    assert "+1.50 bits" in taught[2] and "38 -> 45" in taught[2]
