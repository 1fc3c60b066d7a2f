"""Unsupervised training of the model on the run's own records.

The prior comes from strict deterministic rules, u probabilities from a seeded random sample of
pairs (almost all non-matches), and m probabilities from expectation maximisation on several
blocking rules, each training the comparisons its rule does not fix. Whatever training could
not estimate (a level never observed, a session whose rule found no pairs) is reported by name:
Splink would otherwise fall back to default values without a word.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import duckdb
import polars as pl
from splink import Linker, block_on
from splink.internals import expectation_maximisation as splink_em
from splink.internals.blocking_rule_creator import BlockingRuleCreator
from splink.internals.constants import LEVEL_NOT_OBSERVED_TEXT
from splink.internals.exceptions import SplinkException
from splink.internals.m_u_records_to_parameters import m_u_records_to_lookup_dict

from matching.config import MatchingConfig
from matching.plan import COLUMN_FIELDS, FIELD_COLUMNS, ModelPlan
from matching.quiet import summarised_warnings
from matching.settings import CONTRADICTION_FLOORS, deterministic_rules, training_rules

logger = logging.getLogger(__name__)


@dataclass
class TrainingReport:
    """What training estimated, what it skipped and why."""

    probability_two_random_records_match: float | None = None
    em_sessions: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    untrained_parameters: list[str] = field(default_factory=list)
    labelled_pairs: int = 0
    """Pairs known to match (steward must-links, records sharing an identifier) that the
    contradiction levels were checked against."""
    bounded: list[str] = field(default_factory=list)
    """Levels whose trained m probability was raised to ``matching.min_m_probability``."""


def train_model(
    linker: Linker,
    config: MatchingConfig,
    u_sampling_chunks: int = 10,
    plan: ModelPlan | None = None,
    features: pl.DataFrame | None = None,
    labels: Sequence[tuple[str, str]] = (),
) -> TrainingReport:
    """Estimate the prior, u and m of ``linker``'s model in place. ``u_sampling_chunks`` is
    the engine's (see :class:`matching.engine.Engine`); ``plan`` names the prior rules and EM
    sessions that fit the data (the fixed ones without it)."""
    report = TrainingReport()
    dialect = linker._sql_dialect_str
    prior_rules: list[BlockingRuleCreator] = (
        [block_on(*rule) for rule in plan.prior_rules] if plan else deterministic_rules()
    )
    sessions: list[BlockingRuleCreator] = (
        [block_on(*key) for key in plan.training_keys] if plan else training_rules()
    )
    try:
        if not prior_rules:
            raise ValueError("no deterministic rule has values in this data")
        linker.training.estimate_probability_two_random_records_match(
            prior_rules, recall=config.prior_recall
        )
    except ValueError as exc:
        report.skipped.append(f"prior from deterministic rules: {exc}")
    prior = linker.misc.save_model_to_json()["probability_two_random_records_match"]
    if prior <= 0:
        # No record pair met the strict rules: keep Splink's default rather than claim that
        # no two records can ever match.
        linker._settings_obj._probability_two_random_records_match = 1e-4
        report.skipped.append(
            "prior from deterministic rules: no pair met them; using the default 0.0001"
        )
    report.probability_two_random_records_match = linker.misc.save_model_to_json()[
        "probability_two_random_records_match"
    ]

    linker.training.estimate_u_using_random_sampling(
        max_pairs=config.max_pairs_for_u, seed=config.seed, num_chunks=u_sampling_chunks
    )

    with summarised_warnings() as notes, _m_floored_in_em(linker, config.min_m_probability):
        for rule in sessions:
            description = rule.get_blocking_rule(dialect).blocking_rule_sql
            # Splink's session edits the linker's own model while it runs (it drops the
            # comparisons its rule fixes and sets a session prior) and puts the model back
            # only when the session succeeds: a failed session would leave a model without
            # those comparisons and with the session's prior.
            before = linker._settings_obj.core_model_settings.copy()
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    rule, max_pairs=config.em_max_pairs
                )
            except (SplinkException, ValueError, ZeroDivisionError) as exc:
                linker._settings_obj.core_model_settings = before
                # A rule on a field the data does not have yields no pairs to learn from.
                reason = (
                    str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                )
                report.skipped.append(f"EM on {description}: {reason}")
                logger.warning("EM session on %s skipped: %s", description, reason)
                continue
            report.em_sessions.append(description)

    if notes:
        logger.info(
            "EM sessions: %d level(s) not observed in one session (the others may train "
            "them; what stays untrained is listed below)",
            len(notes),
        )

    if plan is not None:
        _correct_prior_for_recall(linker, plan, config, report)
    if plan is not None and features is not None:
        report.labelled_pairs, raised = contradictions_from_labels(linker, plan, features, labels)
        for name, (before, after, seen, total) in raised.items():
            report.skipped.append(
                f"{name}: {seen} of {total} labelled matching pairs contradict; its "
                f"contradiction m raised from {before:.2g} to {after:.2g}"
            )
            logger.info("%s", report.skipped[-1])
    report.bounded = bound_m_probabilities(linker, config.min_m_probability)
    report.untrained_parameters = untrained_parameters(linker.misc.save_model_to_json())
    if report.untrained_parameters:
        logger.warning(
            "%d model parameter(s) could not be trained and use Splink's defaults: %s",
            len(report.untrained_parameters),
            "; ".join(report.untrained_parameters),
        )
    return report


@contextmanager
def _m_floored_in_em(linker: Linker, floor: float) -> Iterator[None]:
    """Within the block, every m an EM iteration estimates is kept at or above its floor
    (``floor``, or the level's own in :data:`CONTRADICTION_FLOORS`).

    The floor belongs inside the iterations, not only after them. A level EM sees only among
    pairs it takes for non-matches loses m each iteration, and when it moves together with
    other levels (a mover differs on street, house number and town at once) each iteration's
    m is the product of all their last ones: 1e-10, 1e-28, 1e-78, 1e-227, then 0.0, which
    Splink 5 refuses with a ``ValueError`` that throws the whole session away (on 80
    customers, every name level untrained, and the linker left with the session's own prior
    and comparisons). Held at the floor from the first iteration, such pairs keep the weight
    the finished model gives them, so EM converges on the model that then scores. The hook is
    Splink's lookup of each iteration's new parameters (its module attribute, swapped for the
    block only); levels whose m is fixed are not estimated, and keep their value."""
    least = {
        (comparison.output_column_name, level.comparison_vector_value): CONTRADICTION_FLOORS.get(
            level.label_for_charts, floor
        )
        for comparison in linker._settings_obj.comparisons
        for level in comparison.comparison_levels
        if not level.is_null_level
    }

    def floored(records: list[dict[str, Any]]) -> dict[str, dict[int, Any]]:
        for record in records:
            key = (record["output_column_name"], record["comparison_vector_value"])
            value = record.get("m_probability")
            if (
                key in least
                and isinstance(value, (int, float))
                and (math.isnan(value) or value < least[key])
            ):
                record["m_probability"] = least[key]
        return m_u_records_to_lookup_dict(records)

    original = splink_em.m_u_records_to_lookup_dict
    splink_em.m_u_records_to_lookup_dict = floored
    try:
        yield
    finally:
        splink_em.m_u_records_to_lookup_dict = original


def _correct_prior_for_recall(
    linker: Linker, plan: ModelPlan, config: MatchingConfig, report: TrainingReport
) -> None:
    """Scale the prior up when the trained model shows the deterministic rules find fewer
    matches than ``matching.prior_recall`` assumes.

    The prior counts the pairs the strict rules find and divides by an assumed recall. On
    data where most duplicates carry an error in a name or the birth date, the strict rules
    find a small fraction of them, and the assumption understates the prior many times: every
    true pair then scores below the threshold. The m probabilities say how often matching
    records agree on each column; their product is the rules' recall by the model, used
    whenever it is lower than the assumed one."""
    recall = estimated_recall(linker, plan)
    prior = report.probability_two_random_records_match
    if recall is None or prior is None or recall <= 0 or recall >= config.prior_recall:
        return
    corrected = min(prior * config.prior_recall / recall, 0.5)
    linker._settings_obj._probability_two_random_records_match = corrected
    report.probability_two_random_records_match = corrected
    report.skipped.append(
        f"prior: the deterministic rules find about {recall:.1%} of matches by the trained "
        f"model, not matching.prior_recall ({config.prior_recall:.0%}); prior raised from "
        f"{prior:.3g} to {corrected:.3g}"
    )
    logger.info("%s", report.skipped[-1])


LABEL_PRIOR_PAIRS: Final = 1000
"""Weight, in pairs, of a fixed contradiction m against labelled pairs: a steward's one
must-link of a person entered under two first names moves the model a little, a thousand
identifier-sharing pairs of which a tenth contradict move it most of the way."""


def contradictions_from_labels(
    linker: Linker,
    plan: ModelPlan,
    features: pl.DataFrame,
    labels: Sequence[tuple[str, str]] = (),
) -> tuple[int, dict[str, tuple[float, float, int, int]]]:
    """Raise the m of each identity contradiction level to what labelled matching pairs show.

    Labels are ``labels`` (steward must-links) and the pairs of records that share the value
    of an identifier attribute that blocks (a value shared by few records: crowded ones are
    left out of blocking). Among the labelled pairs that hold the field on both sides, the
    share that contradict, pulled towards the fixed value by :data:`LABEL_PRIOR_PAIRS`, is the
    m; it only ever raises the level's m (EM may have learnt more). Returns the number of
    labelled pairs and, per raised comparison, (before, after, contradicting, compared)."""
    from matching.settings import contradiction_conditions

    pairs = [(a, b) for a, b in labels if a != b]
    keys = [c for c in features.columns if c.startswith("bk_attr_")]
    conditions = contradiction_conditions(fields=plan.fields_used)
    if not conditions or not (pairs or keys):
        return 0, {}
    columns = sorted(
        {m for sql in conditions.values() for m in re.findall(r"\b(\w+?)_[lr]\b", sql)}
    )
    select = ", ".join(f'l."{c}" AS "{c}_l", r."{c}" AS "{c}_r"' for c in columns)
    held = {name: FIELD_COLUMNS[name] for name in conditions}
    counts = ", ".join(
        f'count(*) FILTER (WHERE "{c}_l" IS NOT NULL AND "{c}_r" IS NOT NULL) AS "n_{name}", '
        f'count(*) FILTER (WHERE coalesce(({conditions[name]}), false)) AS "k_{name}"'
        for name, c in held.items()
    )
    joins = [
        f"SELECT l.record_key AS a, r.record_key AS b FROM f l JOIN f r ON l.{k} = r.{k} "
        "AND l.record_key < r.record_key"
        for k in keys
    ]
    label_frame = pl.DataFrame(pairs, schema={"a": pl.String, "b": pl.String}, orient="row")
    with duckdb.connect() as con:
        con.register("f", features.select("record_key", *columns, *keys).to_arrow())
        con.register("labels", label_frame.to_arrow())
        union = " UNION ".join(["SELECT a, b FROM labels", *joins])
        row = con.sql(
            f"""
            WITH p AS (SELECT DISTINCT least(a, b) AS a, greatest(a, b) AS b FROM ({union})),
            c AS (SELECT {select} FROM p JOIN f l ON l.record_key = p.a
                  JOIN f r ON r.record_key = p.b)
            SELECT count(*) AS total, {counts} FROM c
            """
        ).fetchall()[0]
    total, figures = int(row[0]), row[1:]
    raised: dict[str, tuple[float, float, int, int]] = {}
    levels = {
        c.output_column_name: lv
        for c in linker._settings_obj.comparisons
        for lv in c.comparison_levels
        if lv.label_for_charts in CONTRADICTION_FLOORS
    }
    for i, name in enumerate(held):
        compared, contradicting = int(figures[2 * i]), int(figures[2 * i + 1])
        level = levels.get(name)
        if level is None or contradicting == 0:
            continue
        floor = CONTRADICTION_FLOORS[level.label_for_charts]
        estimate = (contradicting + LABEL_PRIOR_PAIRS * floor) / (compared + LABEL_PRIOR_PAIRS)
        before = float(level.m_probability)
        if estimate > before:
            level.m_probability = estimate
            raised[name] = (before, estimate, contradicting, compared)
    return total, raised


def untrained_parameters(model: dict[str, Any]) -> list[str]:
    """``comparison / level: m|u`` for every non-null level of a Splink model (a settings
    dictionary) whose m or u probability was neither estimated nor fixed."""
    out: list[str] = []
    for comparison in model.get("comparisons", []):
        name = comparison.get("output_column_name", "?")
        for level in comparison.get("comparison_levels", []):
            if level.get("is_null_level"):
                continue
            label = level.get("label_for_charts") or level.get("sql_condition", "?")
            missing = [p for p in ("m", "u") if f"{p}_probability" not in level]
            if missing:
                out.append(f"{name} / {label}: {' and '.join(missing)}")
    return out


def bound_m_probabilities(linker: Linker, floor: float) -> list[str]:
    """Raise every trained (not fixed) m probability below ``floor`` to it, and return the
    levels raised (``comparison / level``).

    Expectation maximisation gives a level it saw in almost no matching pair an m near zero,
    which weighs -60 or -200 bits: one odd middle initial would veto any match. The floor keeps
    such a level what it is, evidence. Levels whose m is fixed on purpose (the contradiction
    levels of ``matching.settings``) keep their value."""
    raised = []
    for comparison in linker._settings_obj.comparisons:
        for level in comparison.comparison_levels:
            if level.is_null_level or level._fix_m_probability:
                continue
            value = level._m_probability
            least = CONTRADICTION_FLOORS.get(level.label_for_charts, floor)
            if isinstance(value, (int, float)) and value <= least:
                # Held at the floor in EM already (equal), or trained before it was (below).
                level.m_probability = least
                if least == floor:
                    raised.append(f"{comparison.output_column_name} / {level.label_for_charts}")
            elif value == LEVEL_NOT_OBSERVED_TEXT:
                level.m_probability = least
    if raised:
        logger.info(
            "%d m probabilities raised to matching.min_m_probability (%g): %s",
            len(raised),
            floor,
            "; ".join(raised),
        )
    return raised


def estimated_recall(linker: Linker, plan: ModelPlan) -> float | None:
    """The share of all matching pairs the plan's deterministic rules can find, by the
    trained model: a rule needs every one of its columns present on both records and
    agreeing, which among matches happens with the m probabilities of the levels up to the
    column's exact level (and the chance that both records hold the column). Rules are
    taken as independent of each other. None when a rule's column has no exact level."""
    missed = 1.0
    for rule in plan.prior_rules:
        found = 1.0
        for column in rule:
            agree = _agreement_given_match(linker, column)
            fields = COLUMN_FIELDS.get(column, ())
            profile = plan.profiles.get(fields[0]) if len(fields) == 1 else None
            if agree is None or profile is None or plan.records == 0:
                return None
            found *= agree * (profile.filled / plan.records) ** 2
        missed *= 1 - found
    return 1 - missed


def _agreement_given_match(linker: Linker, column: str) -> float | None:
    """P(two matching records that both hold ``column`` agree on it exactly): the m
    probabilities of the comparison's levels down to the exact level on ``column`` (the
    levels before it, such as an exact email before the same mailbox, imply agreement)."""
    for comparison in linker._settings_obj.comparisons:
        total = 0.0
        for level in comparison.comparison_levels:
            if level.is_null_level:
                continue
            m = level.m_probability
            total += m if isinstance(m, float) else 0.0
            if _is_exact_on(level, column):
                return min(total, 1.0)
    return None


def _is_exact_on(level: Any, column: str) -> bool:
    sql = level.sql_condition.replace('"', "").replace("`", "").replace(" ", "")
    return sql == f"{column}_l={column}_r"
