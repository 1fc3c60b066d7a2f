"""Unsupervised training of the model on the run's own records.

The prior comes from strict deterministic rules, u probabilities from a seeded random sample of
pairs (almost all non-matches), and m probabilities from expectation maximisation on several
blocking rules, each training the comparisons its rule does not fix. Whatever training could
not estimate (a level never observed, a session whose rule found no pairs) is reported by name:
Splink would otherwise fall back to default values without a word.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from splink import Linker
from splink.internals.exceptions import SplinkException

from matching.config import MatchingConfig
from matching.settings import deterministic_rules, training_rules

logger = logging.getLogger(__name__)


@dataclass
class TrainingReport:
    """What training estimated, what it skipped and why."""

    probability_two_random_records_match: float | None = None
    em_sessions: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    untrained_parameters: list[str] = field(default_factory=list)


def train_model(
    linker: Linker, config: MatchingConfig, u_sampling_chunks: int = 10
) -> TrainingReport:
    """Estimate the prior, u and m of ``linker``'s model in place. ``u_sampling_chunks`` is
    the engine's (see :class:`matching.engine.Engine`)."""
    report = TrainingReport()
    dialect = linker._sql_dialect_str
    try:
        linker.training.estimate_probability_two_random_records_match(
            deterministic_rules(), recall=config.prior_recall
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

    for rule in training_rules():
        description = rule.get_blocking_rule(dialect).blocking_rule_sql
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                rule, max_pairs=config.em_max_pairs
            )
        except (SplinkException, ValueError, ZeroDivisionError) as exc:
            # A rule on a field the data does not have yields no pairs to learn from.
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            report.skipped.append(f"EM on {description}: {reason}")
            logger.warning("EM session on %s skipped: %s", description, reason)
            continue
        report.em_sessions.append(description)

    report.untrained_parameters = untrained_parameters(linker.misc.save_model_to_json())
    if report.untrained_parameters:
        logger.warning(
            "%d model parameter(s) could not be trained and use Splink's defaults: %s",
            len(report.untrained_parameters),
            "; ".join(report.untrained_parameters),
        )
    return report


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
