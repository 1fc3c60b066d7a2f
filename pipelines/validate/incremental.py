"""What an incremental source validation may reuse from an earlier run, and the proof it may.

Ingest hands validation a source's whole current record set every run, though on a typical day
only a few records changed. Most rules of a source suite judge each row on its own (a value
matches a pattern, is in a set, is present when another is): for a row whose every mapped value
is the same, such a rule gives the same verdict again, *provided* the rule, the code evaluating
it and the libraries it relies on are the same too. Those verdicts are reused; every other rule
is evaluated over the whole current set on every run, because its verdict on a row depends on
other rows or on the run:

* uniqueness of a column (a duplicate id may arrive in a new batch for an old record),
* table-level and aggregate rules (row counts, proportions, columns present),
* rules with a suite parameter (``run_time``: "no future timestamps" moves with the run),
* rules Polars leaves to GX's engine.

The outcome of a reused rule is then assembled from the known verdicts of all current rows by
the same code as a fresh evaluation (``polars_rules.evaluate(..., failing=...)``), so the
accepted rows, quarantine, dq document and GX result are those a full validation writes.

Every source validation writes, beside ``validated/<source>/accepted.parquet``,
``row_verdicts.parquet`` (the two 64-bit hashes of each mapped row, the standardise stage's
:func:`~pipelines.standardise.incremental.row_hashes`, and one boolean column per reusable
rule: the row failed it) and, last, ``incremental.json`` (the fingerprint: format, code, suite
file, settings, which rules have verdicts). The JSON is the commit marker: removed before the
run writes anything, written after everything else, so a crashed run is never reused. The
verdict file holds no values and no keys, only hashes and booleans.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from pipelines.standardise.incremental import HASH_COLUMNS, code_digest
from pipelines.validate import polars_rules
from pipelines.validate.engine import EngineChoice, evaluate_rule, resolve_arguments
from pipelines.validate.outcome import Outcome
from pipelines.validate.suites import Rule, Suite
from pipelines.warehouse import Warehouse, atomic_path, read_json, write_json

if TYPE_CHECKING:
    from pipelines.ingest.config import SourceConfig

log = logging.getLogger(__name__)

FORMAT = 1
"""Version of the two state files; another value is never reused."""

_LIBRARIES = ("polars", "pyarrow", "great-expectations", "python-dateutil", "numpy")
_CODE_FILES = ("pipelines/schema.py", "pipelines/ingest/mapping.py")
_ROW = "__golden_position__"


def marker_path(warehouse: Warehouse, run_id: str, source: str) -> Path:
    return warehouse.accepted(run_id, source).with_name("incremental.json")


def verdict_column(rule: Rule) -> str:
    return f"rule_{rule.index}"


def reusable(rule: Rule, engine: EngineChoice) -> bool:
    """Whether ``rule``'s verdict on a row can be kept for the same row in a later run."""
    if engine != "polars" or not polars_rules.row_wise(rule.type):
        return False
    return "$PARAMETER" not in json.dumps(rule.kwargs, default=str)


def fingerprint(suite: Suite, source: SourceConfig, engine: EngineChoice) -> dict[str, Any]:
    """Everything besides a row's own mapped values that its reusable verdicts depend on."""
    settings = {"engine": engine, "source": source.model_dump(mode="json")}
    return {
        "format": FORMAT,
        "code": code_digest(Path(__file__).resolve().parent, _CODE_FILES, _LIBRARIES),
        "suite": hashlib.sha256(suite.path.read_bytes()).hexdigest(),
        "settings": hashlib.sha256(
            json.dumps(settings, sort_keys=True, default=str).encode()
        ).hexdigest(),
    }


@dataclass(frozen=True)
class Previous:
    """An earlier run of the same source whose verdicts may be reused."""

    run_id: str
    fingerprint: dict[str, Any]
    verdicts: Path


@dataclass(frozen=True)
class ReusePlan:
    """Whether this run reuses an earlier one, and if not why not."""

    previous: Previous | None
    reason: str | None
    """Why every row is evaluated (None when ``previous`` is used)."""


def find_previous(warehouse: Warehouse, run_id: str, source: str) -> Previous | None:
    """The latest run before ``run_id`` whose validation of ``source`` completed."""
    for earlier in reversed([r for r in warehouse.run_ids() if r < run_id]):
        marker = marker_path(warehouse, earlier, source)
        verdicts = warehouse.row_verdicts(earlier, source)
        if not (marker.is_file() and verdicts.is_file()):
            continue
        try:
            stored = read_json(marker)
        except (OSError, ValueError) as exc:
            log.warning("ignoring %s: %s", marker, exc)
            continue
        return Previous(earlier, stored, verdicts)
    return None


def plan_reuse(current: dict[str, Any], previous: Previous | None) -> ReusePlan:
    """Compare fingerprints: any difference means the full path, with the reason."""
    if previous is None:
        return ReusePlan(None, "no earlier run with a complete validation of this source")
    before, label = previous.fingerprint, f"run {previous.run_id}"
    if before.get("format") != FORMAT:
        return ReusePlan(None, f"{label} wrote state format {before.get('format')!r}")
    if before.get("code") != current["code"]:
        return ReusePlan(None, f"the validation code or its libraries changed since {label}")
    if before.get("suite") != current["suite"]:
        return ReusePlan(None, f"the suite file changed since {label}")
    if before.get("settings") != current["settings"]:
        return ReusePlan(None, f"the source's configuration or the engine changed since {label}")
    return ReusePlan(previous, None)


@dataclass
class Evaluation:
    """A suite's outcomes over the whole current set, and what they cost."""

    outcomes: list[Outcome]
    rows_reused: int
    """Rows whose reusable verdicts came from the earlier run."""
    rows_evaluated: int
    """Rows the reusable rules were evaluated on (every row on the full path)."""
    verdicts: dict[str, np.ndarray] = field(default_factory=dict)
    """Per reusable rule evaluated by Polars, the failing-row mask to store for the next run."""


def evaluate(
    suite: Suite,
    frame: pl.DataFrame,
    hashes: pl.DataFrame,
    parameters: dict[str, Any],
    engine: EngineChoice,
    previous: Previous | None,
) -> Evaluation:
    """Evaluate ``suite`` over ``frame`` (``hashes`` row for row), reusing ``previous``'s
    verdicts for rows whose hashes it holds."""
    known, available = _known_verdicts(previous, hashes, suite, engine)
    if available:
        reused_rows = np.flatnonzero(known[_ROW].is_not_null().to_numpy())
    else:
        reused_rows = np.empty(0, dtype=np.int64)
    new_rows = np.setdiff1d(np.arange(frame.height), reused_rows, assume_unique=True)
    new_frame = frame[new_rows] if len(reused_rows) else frame

    outcomes: list[Outcome] = []
    verdicts: dict[str, np.ndarray] = {}
    for rule in suite:
        column = verdict_column(rule)
        outcome: Outcome | None = None
        if column in available and len(reused_rows):
            outcome = _with_reuse(rule, frame, new_frame, new_rows, known[column], parameters)
        if outcome is None:
            outcome = evaluate_rule(rule, frame, parameters, engine)
        if reusable(rule, engine) and outcome.engine == "polars":
            mask = np.zeros(frame.height, dtype=bool)
            mask[outcome.rows] = True
            verdicts[column] = mask
        outcomes.append(outcome)
    return Evaluation(outcomes, len(reused_rows), len(new_rows), verdicts)


def _with_reuse(
    rule: Rule,
    frame: pl.DataFrame,
    new_frame: pl.DataFrame,
    new_rows: np.ndarray,
    known: pl.Series,
    parameters: dict[str, Any],
) -> Outcome | None:
    """The rule's outcome from the known verdicts plus a fresh evaluation of the new rows;
    None when the new rows did not evaluate on Polars (the caller evaluates the whole set)."""
    mask = known.fill_null(False).to_numpy().copy()
    if len(new_rows):
        fresh = evaluate_rule(rule, new_frame, parameters, "polars")
        if fresh.engine != "polars":
            return None
        mask[new_rows] = False
        mask[new_rows[fresh.rows]] = True
    kwargs, args = resolve_arguments(rule, parameters)
    return polars_rules.evaluate(rule, frame, kwargs, args, failing=mask)


def _known_verdicts(
    previous: Previous | None, hashes: pl.DataFrame, suite: Suite, engine: EngineChoice
) -> tuple[pl.DataFrame, set[str]]:
    """Per current row, the earlier verdicts of the rows with the same hashes (null where the
    row is new or changed), and which rule columns the earlier run stored."""
    if previous is None:
        return pl.DataFrame(), set()
    stored = pq.read_schema(previous.verdicts).names
    if list(stored[: len(HASH_COLUMNS)]) != list(HASH_COLUMNS):
        log.warning("%s has no row hashes; not reused", previous.verdicts)
        return pl.DataFrame(), set()
    wanted = [
        verdict_column(r) for r in suite if reusable(r, engine) and verdict_column(r) in stored
    ]
    earlier = (
        pl.read_parquet(previous.verdicts, columns=[*HASH_COLUMNS, *wanted])
        .unique(subset=list(HASH_COLUMNS), keep="first", maintain_order=False)
        .with_columns(pl.lit(True).alias(_ROW))
    )
    known = hashes.select(HASH_COLUMNS).join(
        earlier, on=list(HASH_COLUMNS), how="left", maintain_order="left"
    )
    return known, set(wanted)


def forget_marker(warehouse: Warehouse, run_id: str, source: str) -> None:
    """Before writing a source's validation outputs: until the new marker is written, the run
    is not a usable earlier run."""
    marker_path(warehouse, run_id, source).unlink(missing_ok=True)


def write_verdicts(
    warehouse: Warehouse,
    run_id: str,
    source: str,
    hashes: pl.DataFrame,
    verdicts: dict[str, np.ndarray],
) -> Path:
    """The verdicts of this run, row for row with its hashes; the marker comes last."""
    target = warehouse.row_verdicts(run_id, source)
    table = hashes.select(HASH_COLUMNS).with_columns(
        pl.Series(name, mask, dtype=pl.Boolean) for name, mask in verdicts.items()
    )
    with atomic_path(target) as tmp:
        table.write_parquet(tmp, compression="zstd")
    return target


def commit_state(
    warehouse: Warehouse, run_id: str, source: str, current: dict[str, Any], rules: list[str]
) -> None:
    """The marker that makes this run's verdicts reusable (written last)."""
    write_json(marker_path(warehouse, run_id, source), {**current, "rules": rules})
