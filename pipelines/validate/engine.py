"""Evaluate a suite on a frame: vectorised Polars first, GX's own engine for the rest.

Why not GX's engine for everything: row-level results (the failing row positions that
quarantine needs) cost GX's pandas engine about 30 s per million rows per 8 expectations on
this hardware, and GX's SQL engine through duckdb-engine fails with duckdb 2.0. Measured with
``bench/bench_validate.py`` on this 2-core machine, quiet and busy: GX's pandas engine runs the
42-expectation canonical suite at 6,000-15,000 rows/s (70-170 s per million rows); the Polars
path evaluates it on a million staged rows in 0.6-2.7 s, and the whole stage (read, evaluate,
write accepted rows, quarantine and results) takes 3.7-19 s, plus GX's one-off import (2.5-10 s;
since the checked-suite cache and GX-free results, only a rule GX's engine must evaluate
imports it).

How the rules stay defined once: suites are GX JSON checked with GX's classes (once per file
content and GX version, :mod:`pipelines.validate.checked`); this module only *evaluates* them.
:mod:`pipelines.validate.polars_rules` implements the expectation types the suites use, case by
case, with GX's semantics (domain, nulls, ``row_condition``, ``mostly``)
and refuses any case it does not reproduce exactly; refused rules, and every type without a
Polars implementation, run on GX's engine (:mod:`pipelines.validate.gx_engine`). Results of
both are written in the shape of GX's own ``ExpectationValidationResult``, so GX renders the Data
Docs.
``tests/test_validate_parity.py`` runs every expectation of every shipped suite on both
engines over generated data with violations and requires the same failing rows.

Suite parameters (``{"$PARAMETER": "run_time"}``) come from the run, never from the clock:
``run_time`` is the run id's timestamp and ``run_date`` its date, so a rerun of a run id
judges "no future timestamps" exactly as the first run did.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any, Literal

import polars as pl

from pipelines.errors import ConfigError
from pipelines.validate import gx_engine, polars_rules
from pipelines.validate.outcome import Outcome
from pipelines.validate.suites import Rule, Suite

logger = logging.getLogger(__name__)

EngineChoice = Literal["polars", "gx"]

_RUN_ID_TIME = re.compile(r"^(\d{8}T\d{6}Z)")


def run_parameters(run_id: str) -> dict[str, Any]:
    """Suite parameters of a run: ``run_time`` (UTC) and ``run_date``, from the run id."""
    match = _RUN_ID_TIME.match(run_id)
    if match:
        run_time = datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    else:
        run_time = datetime.now(UTC).replace(microsecond=0)
        logger.warning(
            "run id %r does not start with a UTC timestamp (YYYYmmddTHHMMSSZ, as new_run_id "
            "makes them); 'no future timestamps' rules use the current time %s instead",
            run_id,
            run_time.isoformat(),
        )
    return {"run_time": run_time, "run_date": run_time.date()}


def evaluate_suite(
    suite: Suite,
    frame: pl.DataFrame,
    parameters: dict[str, Any],
    engine: EngineChoice = "polars",
) -> list[Outcome]:
    """One outcome per rule, in suite order."""
    return [evaluate_rule(rule, frame, parameters, engine) for rule in suite]


def evaluate_rule(
    rule: Rule, frame: pl.DataFrame, parameters: dict[str, Any], engine: EngineChoice = "polars"
) -> Outcome:
    kwargs, args = resolve_arguments(rule, parameters)
    if engine == "polars" and polars_rules.supports(rule.type):
        try:
            return polars_rules.evaluate(rule, frame, kwargs, args)
        except polars_rules.Unsupported as why:
            logger.info("%s: %s; evaluating it with GX's engine", rule.label, why)
    elif engine == "polars":
        logger.info("%s: no Polars implementation; evaluating it with GX's engine", rule.label)
    return gx_engine.evaluate(rule, frame, parameters)


def resolve_arguments(
    rule: Rule, parameters: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The rule's arguments with parameters substituted: as written (for results) and as GX's
    expectation model typed them (for evaluation, e.g. a date string bound becomes a date)."""
    kwargs: dict[str, Any] = {}
    args: dict[str, Any] = {}
    typed = rule.checked.args
    for name, raw in rule.kwargs.items():
        if isinstance(raw, dict) and "$PARAMETER" in raw:
            key = raw["$PARAMETER"]
            if key not in parameters:
                raise ConfigError(
                    f"{rule.label} in suite {rule.suite!r} uses parameter {key!r}; the "
                    f"parameters a run provides are {sorted(parameters)}"
                )
            kwargs[name] = args[name] = parameters[key]
        else:
            kwargs[name] = raw
            args[name] = typed.get(name, raw)
    for name, value in rule.checked.defaults.items():
        args.setdefault(name, value)
    return kwargs, args
