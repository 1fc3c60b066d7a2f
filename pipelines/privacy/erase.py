"""Removing source records from every layer of the warehouse: the one sanctioned rewrite.

Raw batches are immutable in normal operation; erasure (a subject's request, or retention) is
the exception, and it reaches everything that holds the records:

* ``raw/<source>/batch_id=*/`` part files (rewritten without the rows; ``_batch.json`` counts
  follow), every Parquet file of every kept run (current sets, accepted rows, quarantine, staged
  records, match pairs, clusters and review queue, golden outputs), ingest rejects whose raw
  text carries the subject's identifiers;
* derived caches without a record key to erase by: each run's saved term-frequency tables
  (``match/tf/``, counts of every matching value: emails, phones, names) and per-row validation
  verdicts (``validated/<source>/row_verdicts.parquet``, hashes of each row). They are deleted
  whole; the next run's match and validation then take the full path without the subject;
* the text artefacts of runs and reports (validation results, Data Docs, charts): the subject's
  identifying values (emails, phones, street lines, full names, dates of birth as sent and as
  standardised) are replaced by ``[erased]``;
* every kept published version, rebuilt without the records; the current one is installed the
  way publish installs a version (``golden.duckdb``, role artefacts and the id registry with
  it), so readers switch from one complete version to the next;
* ``state/id_registry.parquet`` and the steward decisions about the records or their customers.

Golden records are handled by customer: a customer all of whose records go is removed
(``golden_customers``, provenance, changes); a customer who keeps other records (retention of one
stale record) loses the fields that record supplied (set to null until the next run rebuilds
them from the records left) and its record counts are recomputed.

Every file is replaced atomically (temporary file, then rename), so a crash leaves each file
either erased or not; running the erasure again finishes the job (see ``reapply_erasures``).
"""

from __future__ import annotations

import html
import json
import logging
import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

from matching.layout import TF_DIR
from pipelines.errors import PrivacyError
from pipelines.history.erasure import erase_aliases, erase_events, erase_history, forgotten_ids
from pipelines.history.timeline import run_time
from pipelines.profile.build import build_profile
from pipelines.warehouse import Warehouse, atomic_path

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig

logger = logging.getLogger(__name__)

ERASED = "[erased]"
MIN_SCRUB_LENGTH = 6
"""Values shorter than this are not scrubbed from text artefacts: short strings (a first name,
a postcode) are shared by many people, and replacing them would damage others' data."""
_KEY_COLUMNS = ("record_key", "record_key_l", "record_key_r")
_TEXT_SUFFIXES = (".json", ".html", ".htm")


@dataclass(frozen=True)
class ErasurePlan:
    """What to erase: source records by key, and the values that identify their subject."""

    record_keys: frozenset[str]
    values: frozenset[str] = frozenset()
    """Identifying values to scrub from text artefacts (see :data:`MIN_SCRUB_LENGTH`)."""

    def key_array(self) -> pl.Series:
        return pl.Series("record_key", sorted(self.record_keys), dtype=pl.String)

    @cached_property
    def scrubber(self) -> ValueScrubber:
        """Built once per erasure: indexing a retention sweep's values takes seconds."""
        return ValueScrubber(v.strip() for v in self.values if len(v.strip()) >= MIN_SCRUB_LENGTH)


class LayerCounts(BaseModel):
    """What an erasure removed, layer by layer (rows, files touched)."""

    raw_rows: int = 0
    raw_files: int = 0
    run_rows: int = 0
    run_files: int = 0
    reject_rows: int = 0
    text_files: int = 0
    published_rows: int = 0
    published_versions: list[str] = []
    registry_rows: int = 0
    decisions: int = 0
    golden_ids: list[str] = []
    """Golden ids of customers removed whole (all their records erased), in the registry."""


# --- Parquet files --------------------------------------------------------------------------


def _read(path: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(path, hive_partitioning=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear error
        raise PrivacyError(
            f"{path} is not a readable Parquet file ({exc}); erasure cannot tell whether it "
            "holds the subject: repair or remove it, then run the erasure again"
        ) from None


def _schema_names(path: Path) -> list[str]:
    try:
        return pq.read_schema(path).names
    except (OSError, pa.ArrowException) as exc:
        raise PrivacyError(f"{path} is not a readable Parquet file: {exc}") from None


def _keyed_mask(frame: pl.DataFrame, keys: pl.Series) -> pl.Expr | None:
    """Rows of ``frame`` that belong to erased records, or None when it has no key column."""
    parts = [pl.col(c).is_in(keys.implode()) for c in _KEY_COLUMNS if c in frame.columns]
    if (
        "record_key" not in frame.columns
        and "source_system" in frame.columns
        and "source_record_id" in frame.columns
    ):
        composite = pl.concat_str("source_system", pl.lit(":"), "source_record_id")
        parts.append(composite.is_in(keys.implode()))
    if not parts:
        return None
    return pl.any_horizontal(parts).fill_null(False)


def write_like(frame: pl.DataFrame, path: Path, schema: pa.Schema) -> None:
    """Replace ``path`` atomically with ``frame``, keeping the file's Arrow schema."""
    table = frame.to_arrow()
    try:
        table = table.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, KeyError, ValueError):
        logger.debug("%s: schema kept from Polars", path)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def _rewrite(path: Path, transform: Callable[[pl.DataFrame], pl.DataFrame]) -> int:
    """Apply ``transform`` to a Parquet file; rewrite it only if rows went. Returns rows gone."""
    schema = pq.read_schema(path)
    frame = _read(path)
    kept = transform(frame)
    removed = frame.height - kept.height
    if removed or not kept.equals(frame):
        write_like(kept, path, schema)
    return max(removed, 0)  # an erasure event added to golden_events is no row gone


def _might_hold(path: Path, keys: pl.Series) -> bool:
    """Cheap check reading only the key columns."""
    names = _schema_names(path)
    columns = [c for c in _KEY_COLUMNS if c in names]
    if not columns and {"source_system", "source_record_id"} <= set(names):
        columns = ["source_system", "source_record_id"]
    if not columns:
        return False
    frame = pl.read_parquet(path, columns=columns, hive_partitioning=False)
    mask = _keyed_mask(frame, keys)
    return mask is not None and bool(frame.select(mask.any()).item())


def drop_records(frame: pl.DataFrame, keys: pl.Series) -> pl.DataFrame:
    mask = _keyed_mask(frame, keys)
    return frame if mask is None else frame.filter(~mask)


# --- golden tables (by customer) -----------------------------------------------------------


@dataclass
class GoldenEffects:
    """How erasing records changes the golden tables of one folder (a run's or a version's)."""

    whole: set[str] = field(default_factory=set)
    """Customers all of whose records are erased: removed."""
    fields: dict[str, set[str]] = field(default_factory=dict)
    """Customers keeping other records -> fields the erased records supplied (set to null)."""
    remaining: pl.DataFrame | None = None
    """Their remaining xref rows (``golden_id``, ``source_system``), to recount."""


def golden_effects(folder: Path, keys: pl.Series) -> GoldenEffects:
    xref_path = folder / "customer_xref.parquet"
    effects = GoldenEffects()
    if not xref_path.exists():
        return effects
    xref = pl.read_parquet(xref_path, columns=["record_key", "golden_id", "source_system"])
    xref = xref.with_columns(pl.col("record_key").is_in(keys.implode()).alias("_erased"))
    touched = xref.filter(pl.col("_erased"))["golden_id"].unique()
    if touched.is_empty():
        return effects
    summary = (
        xref.filter(pl.col("golden_id").is_in(touched.implode()))
        .group_by("golden_id")
        .agg(pl.col("_erased").all().alias("all_erased"))
    )
    effects.whole = set(summary.filter(pl.col("all_erased"))["golden_id"].to_list())
    partial = summary.filter(~pl.col("all_erased"))["golden_id"]
    if partial.is_empty():
        return effects
    provenance_path = folder / "golden_field_provenance.parquet"
    if provenance_path.exists():
        provenance = pl.read_parquet(
            provenance_path, columns=["golden_id", "field", "source_system", "source_record_id"]
        )
        lost = provenance.filter(
            pl.col("golden_id").is_in(partial.implode())
            & pl.concat_str("source_system", pl.lit(":"), "source_record_id").is_in(keys.implode())
        )
        for golden_id, fields in lost.group_by("golden_id").agg("field").iter_rows():
            effects.fields[golden_id] = set(fields)
    effects.fields.update({g: effects.fields.get(g, set()) for g in partial.to_list()})
    effects.remaining = xref.filter(
        pl.col("golden_id").is_in(partial.implode()) & ~pl.col("_erased")
    ).select("golden_id", "source_system")
    return effects


def apply_to_golden_customers(frame: pl.DataFrame, effects: GoldenEffects) -> pl.DataFrame:
    out = frame.filter(~pl.col("golden_id").is_in(list(effects.whole)))
    if not effects.fields:
        return out
    by_field: dict[str, list[str]] = {}
    for golden_id, fields in effects.fields.items():
        for name in fields & set(out.columns):
            by_field.setdefault(name, []).append(golden_id)
    out = out.with_columns(  # one pass per field, whatever the number of customers
        pl.when(pl.col("golden_id").is_in(ids))
        .then(pl.lit(None, dtype=out.schema[name]))
        .otherwise(pl.col(name))
        .alias(name)
        for name, ids in by_field.items()
    )
    out = _statuses_of_erased_values(out)
    if effects.remaining is not None and "source_record_count" in out.columns:
        counts = effects.remaining.group_by("golden_id").agg(
            pl.len().cast(pl.Int64).alias("_count"),
            pl.col("source_system").unique().sort().alias("_systems"),
        )
        recount = [pl.coalesce("_count", "source_record_count").alias("source_record_count")]
        if "source_systems" in out.columns:
            recount.append(pl.coalesce("_systems", "source_systems").alias("source_systems"))
        out = out.join(counts, on="golden_id", how="left").with_columns(recount)
        out = out.drop("_count", "_systems")
    return out


def _statuses_of_erased_values(frame: pl.DataFrame) -> pl.DataFrame:
    """A status whose fields were all erased goes with them; completeness is counted again."""
    from pipelines.golden.survivorship import STATUS_FIELDS, completeness

    statuses = [
        pl.when(pl.all_horizontal([pl.col(f).is_null() for f in fields]))
        .then(None)
        .otherwise(pl.col(status))
        .alias(status)
        for status, fields in STATUS_FIELDS.items()
        if status in frame.columns and set(fields) <= set(frame.columns)
    ]
    frame = frame.with_columns(statuses)
    if "completeness" in frame.columns and len(statuses) == len(STATUS_FIELDS):
        frame = frame.with_columns(completeness())
    return frame


def scrub_golden_folder(folder: Path, keys: pl.Series) -> tuple[int, int]:
    """Erase the records from one folder of golden tables; returns (rows gone, files touched).

    The history tables (``pipelines.history.erasure``) lose the erased customers and every id
    they absorbed over time, which the folder's ``golden_id_aliases`` names.
    """
    effects = golden_effects(folder, keys)
    aliases_path = folder / "golden_id_aliases.parquet"
    aliases = _read(aliases_path) if aliases_path.exists() else None
    forgotten = forgotten_ids(aliases, effects.whole)
    whole = pl.Series(sorted(effects.whole), dtype=pl.String)
    events_path = folder / "golden_events.parquet"
    latest_run = (
        pl.read_parquet(events_path, columns=["run_id"])["run_id"].max()
        if events_path.exists()
        else None
    )
    removed = touched = 0
    for path in sorted(folder.glob("*.parquet")):
        names = set(_schema_names(path))
        if path.stem == "golden_customers":
            if not effects.whole and not effects.fields:
                continue
            gone = _rewrite(path, lambda f: apply_to_golden_customers(f, effects))
        elif path.stem in _BY_CUSTOMER_AND_RECORD:
            gone = _rewrite(path, lambda f: drop_customers_and_records(f, forgotten, keys))
            if not gone:
                continue
        elif path.stem in _HISTORY_REWRITES:
            if not forgotten and not effects.fields:
                continue
            if path.stem == "golden_customers_history":
                gone = _rewrite(path, lambda f: erase_history(f, forgotten, effects.fields))
            elif not forgotten:
                continue
            elif path.stem == "golden_events":
                gone = _rewrite(path, lambda f: erase_events(f, forgotten))
            else:
                gone = _rewrite(
                    path,
                    lambda f: erase_aliases(
                        f, forgotten, None if latest_run is None else str(latest_run)
                    ),
                )
        elif "golden_id" in names and not (names & {*_KEY_COLUMNS, "source_record_id"}):
            if whole.is_empty():
                continue
            gone = _rewrite(path, lambda f: f.filter(~pl.col("golden_id").is_in(whole.implode())))
        elif _might_hold(path, keys):
            gone = _rewrite(path, lambda f: drop_records(f, keys))
        else:
            continue
        removed += gone
        touched += 1
    if effects.fields and _refresh_profiles(folder, set(effects.fields)):
        touched += 1
    return removed, touched


def _refresh_profiles(folder: Path, golden_ids: set[str]) -> bool:
    """``customer_profile`` rows of customers that kept other records, rebuilt from their
    scrubbed ``golden_customers`` rows: a profile derives from the golden row (its sources,
    contactability, completeness), so it must say what the erased golden row now says.
    Tenure stays as it was: erasure does not move the run the profile was taken at."""
    profile_path = folder / "customer_profile.parquet"
    golden_path = folder / "golden_customers.parquet"
    if not (profile_path.exists() and golden_path.exists()):
        return False
    ids = pl.Series(sorted(golden_ids), dtype=pl.String).implode()
    rebuilt = False

    def rebuild(frame: pl.DataFrame) -> pl.DataFrame:
        nonlocal rebuilt
        stale = frame.filter(pl.col("golden_id").is_in(ids))
        if stale.is_empty():
            return frame
        rebuilt = True
        golden = _read(golden_path).filter(pl.col("golden_id").is_in(ids))
        run_id = str(stale["run_id"][0])
        fresh = (
            build_profile(golden, run_id, run_time(run_id))
            .drop("tenure_days")
            .join(stale.select("golden_id", "tenure_days"), on="golden_id")
        )
        return pl.concat(
            [frame.filter(~pl.col("golden_id").is_in(ids)), fresh.select(frame.columns)]
        ).sort("golden_id")

    _rewrite(profile_path, rebuild)
    return rebuilt


_BY_CUSTOMER_AND_RECORD = frozenset({"review_due"})
"""Tables naming both customers and records: rows of either go."""


def drop_customers_and_records(
    frame: pl.DataFrame, golden_ids: set[str], keys: pl.Series
) -> pl.DataFrame:
    """Rows of neither the erased customers (and the ids they absorbed) nor their records."""
    kept = drop_records(frame, keys)
    return kept.filter(~pl.col("golden_id").is_in(list(golden_ids)).fill_null(False))


def scrub_review_state(warehouse: Warehouse, record_keys: Iterable[str], forget: set[str]) -> int:
    """Erase the records and customers from ``state/review/`` (the stored ``review_due`` and
    steward confirmations); returns the confirmations removed."""
    keys = pl.Series(sorted(record_keys), dtype=pl.String)
    folder = warehouse.state / "review"
    due = folder / "review_due.parquet"
    if due.exists():
        _rewrite(due, lambda f: drop_customers_and_records(f, forget, keys))
    confirmations = folder / "confirmations.jsonl"
    if not confirmations.exists():
        return 0
    targets = set(keys.to_list()) | forget
    lines = confirmations.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [
        line for line in lines if not line.strip() or json.loads(line).get("target") not in targets
    ]
    if len(kept) != len(lines):
        with atomic_path(confirmations) as tmp:
            tmp.write_text("".join(kept), encoding="utf-8")
    return len(lines) - len(kept)


_HISTORY_REWRITES = frozenset({"golden_customers_history", "golden_events", "golden_id_aliases"})


# --- text artefacts -------------------------------------------------------------------------


_TOKEN = re.compile(r"\w+")


class ValueScrubber:
    """Finds and replaces a subject's values in text, fast however many values there are.

    A retention sweep erases thousands of records, so hundreds of thousands of values: matching
    all of them against every file (one automaton per file, or one regular expression) would
    take minutes per file. Each value is indexed by its rarest word instead; a text's words
    pick the few values that can occur in it, and only those are searched (Polars'
    Aho-Corasick ``replace_many``, ASCII case ignored, longest value first so a street line
    wins over the house number inside it).
    """

    def __init__(self, values: Iterable[str]) -> None:
        worded = {v: set(_TOKEN.findall(v.lower())) for v in values}
        frequency = Counter(word for words in worded.values() for word in words)
        self.index: dict[str, set[str]] = {}
        for value, words in worded.items():
            if words:  # its rarest word, so "gmail" never stands for every address
                anchor = min(words, key=lambda w: (frequency[w], -len(w), w))
                self.index.setdefault(anchor, set()).add(value)

    def __bool__(self) -> bool:
        return bool(self.index)

    def candidates(self, texts: Iterable[str | None]) -> list[str]:
        """The values whose indexing word occurs in ``texts``, longest first."""
        words: set[str] = set()
        for text in texts:
            if text:
                words.update(_TOKEN.findall(text.lower()))
        found = {v for word in words & self.index.keys() for v in self.index[word]}
        return sorted(found, key=len, reverse=True)

    def scrub(self, texts: list[str], *, html_text: bool = False) -> list[str]:
        """``texts`` with every value replaced by ``[erased]``."""
        values = self.candidates(texts)
        if html_text:
            values = sorted(
                {html.escape(v, quote=True) for v in values} | set(values), key=len, reverse=True
            )
        if not values or not texts:
            return texts
        series = pl.Series(texts, dtype=pl.String)
        replaced = series.str.replace_many(
            values, [ERASED] * len(values), ascii_case_insensitive=True
        )
        return replaced.to_list()

    def hits(self, texts: pl.Series) -> pl.Series:
        """True for the texts that contain a value."""
        values = self.candidates(texts.drop_nulls().to_list())
        if not values:
            return pl.Series([False] * texts.len(), dtype=pl.Boolean)
        return texts.str.contains_any(values, ascii_case_insensitive=True).fill_null(False)


def _json_strings(node: object, found: list[str]) -> None:
    if isinstance(node, str):
        found.append(node)
    elif isinstance(node, list):
        for item in node:
            _json_strings(item, found)
    elif isinstance(node, dict):
        for value in node.values():
            _json_strings(value, found)


def _json_replace(node: object, replacements: Iterator[str]) -> object:
    if isinstance(node, str):
        return next(replacements)
    if isinstance(node, list):
        return [_json_replace(item, replacements) for item in node]
    if isinstance(node, dict):
        return {key: _json_replace(value, replacements) for key, value in node.items()}
    return node


def scrub_text_file(
    path: Path, scrubber: ValueScrubber, record_keys: frozenset[str] = frozenset()
) -> bool:
    """Replace the subject's values in one JSON or HTML file; True if it changed.

    In JSON, a string that is exactly one of ``record_keys`` (reports list the keys of failing
    rows) is replaced too: keys are short and alike (``crm:7`` inside ``crm:71``), so they are
    matched whole, never as parts of longer text."""
    if not scrubber and not (record_keys and path.suffix == ".json"):
        return False
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        logger.warning("%s: not UTF-8 text, not scrubbed", path)
        return False
    if path.suffix == ".json":
        try:
            payload = json.loads(text)
        except json.JSONDecodeError:
            new = scrubber.scrub([text])[0]
        else:
            strings: list[str] = []
            _json_strings(payload, strings)
            cleaned = scrubber.scrub(strings) if scrubber else strings
            cleaned = [ERASED if s in record_keys else s for s in cleaned]
            if cleaned == strings:
                return False
            new = json.dumps(_json_replace(payload, iter(cleaned)), indent=2) + "\n"
    else:
        new = scrubber.scrub([text], html_text=True)[0]
    if new == text:
        return False
    with atomic_path(path) as tmp:
        tmp.write_text(new, encoding="utf-8")
    return True


def _text_files(roots: Iterable[Path]) -> Iterable[Path]:
    for root in roots:
        if not root.is_dir():
            continue
        for path in root.rglob("*"):
            if path.suffix in _TEXT_SUFFIXES and path.is_file() and not path.is_symlink():
                yield path


# --- layers -------------------------------------------------------------------------------


def _scrub_raw(warehouse: Warehouse, plan: ErasurePlan, counts: LayerCounts) -> None:
    keys = plan.key_array()
    if not warehouse.raw.is_dir():
        return
    for batch in sorted(warehouse.raw.glob("*/batch_id=*")):
        if not batch.is_dir():
            continue
        changed = False
        for part in sorted(batch.glob("part-*.parquet")):
            if not _might_hold(part, keys):
                continue
            counts.raw_rows += _rewrite(part, lambda f: drop_records(f, keys))
            counts.raw_files += 1
            changed = True
        if changed:
            _recount_batch(batch)


def _recount_batch(batch: Path) -> None:
    """Keep ``_batch.json``'s row counts true after parts lost rows."""
    manifest = batch / "_batch.json"
    if not manifest.exists():
        return
    payload = json.loads(manifest.read_text())
    parts = []
    for part in sorted(batch.glob("part-*.parquet")):
        parts.append({"file": part.name, "rows": pq.read_metadata(part).num_rows})
    payload["parts"] = parts
    payload["rows"] = sum(p["rows"] for p in parts)
    payload["erased"] = True
    with atomic_path(manifest) as tmp:
        tmp.write_text(json.dumps(payload, indent=2) + "\n")


def _scrub_runs(warehouse: Warehouse, plan: ErasurePlan, counts: LayerCounts) -> None:
    keys = plan.key_array()
    scrubber = plan.scrubber
    # The stewards' workspace's search index (derived from a published version, rebuilt on
    # demand): dropped whole rather than scrubbed, so no erased subject stays in it even while
    # no server is running to notice the new version.
    workspace_cache = warehouse.root / "cache" / "workspace"
    if workspace_cache.is_dir():
        counts.run_files += sum(1 for p in workspace_cache.rglob("*") if p.is_file())
        shutil.rmtree(workspace_cache, ignore_errors=True)
    for run_id in warehouse.run_ids():
        run = warehouse.run(run_id)
        counts.run_files += _drop_keyless_caches(warehouse, run_id)
        golden = warehouse.golden_dir(run_id)
        if golden.is_dir():
            removed, touched = scrub_golden_folder(golden, keys)
            counts.run_rows += removed
            counts.run_files += touched
        for path in sorted(run.rglob("*.parquet")):
            if path.parent == golden or any(p.startswith(".") for p in path.relative_to(run).parts):
                continue
            if path.name == "rejects.parquet":
                gone = _scrub_rejects(path, scrubber)
                counts.reject_rows += gone
                counts.run_files += bool(gone)
                continue
            if _might_hold(path, keys):
                counts.run_rows += _rewrite(path, lambda f: drop_records(f, keys))
                counts.run_files += 1


def _drop_keyless_caches(warehouse: Warehouse, run_id: str) -> int:
    """Delete a run's caches that hold the subject without a record key; returns the files
    deleted."""
    deleted = 0
    # Term frequencies of personal values, and per-customer hashes of them (by golden id).
    for folder in (warehouse.match_dir(run_id) / TF_DIR, warehouse.golden_state(run_id)):
        if folder.is_dir():
            deleted += sum(1 for p in folder.rglob("*") if p.is_file())
            shutil.rmtree(folder)
    validated = warehouse.run(run_id) / "validated"
    sources = sorted(p.name for p in validated.iterdir()) if validated.is_dir() else []
    for verdicts in (warehouse.row_verdicts(run_id, source) for source in sources):
        if verdicts.is_file():
            verdicts.unlink()
            deleted += 1
    return deleted


def _scrub_rejects(path: Path, scrubber: ValueScrubber) -> int:
    """Rows that could not be parsed carry no record key: match their raw text instead."""
    if not scrubber or "raw" not in _schema_names(path):
        return 0
    return _rewrite(path, lambda f: f.filter(~scrubber.hits(f["raw"])))


def _scrub_texts(warehouse: Warehouse, plan: ErasurePlan, counts: LayerCounts) -> None:
    from pipelines.validate.data_docs import rebuild_data_docs

    scrubber = plan.scrubber
    keys = frozenset(plan.record_keys)
    roots = [warehouse.root / "runs", warehouse.root / "reports"]
    changed = [p for p in _text_files(roots) if scrub_text_file(p, scrubber, keys)]
    counts.text_files += len(changed)
    if any(p.is_relative_to(warehouse.gx_validations) for p in changed):
        # The Data Docs pages are rendered from the stored results: render them again, so
        # the record keys scrubbed there leave the pages too.
        rebuild_data_docs(warehouse)


def erase_records(config: PipelineConfig, plan: ErasurePlan) -> LayerCounts:
    """Remove ``plan``'s records from every layer (see the module docstring)."""
    from pipelines.privacy.decisions import scrub_decisions
    from pipelines.privacy.republish import scrub_published

    warehouse = Warehouse(config.warehouse.path)
    counts = LayerCounts()
    if not plan.record_keys:
        return counts
    _scrub_raw(warehouse, plan, counts)
    _scrub_runs(warehouse, plan, counts)
    _scrub_texts(warehouse, plan, counts)
    forget = scrub_published(config, warehouse, plan, counts)
    counts.decisions = scrub_decisions(warehouse, plan.record_keys, forget)
    counts.decisions += scrub_review_state(warehouse, plan.record_keys, forget)
    logger.info(
        "erased %d record(s): %d raw row(s) in %d file(s), %d run row(s), %d published row(s), "
        "%d registry row(s), %d decision(s), %d text file(s)",
        len(plan.record_keys),
        counts.raw_rows,
        counts.raw_files,
        counts.run_rows,
        counts.published_rows,
        counts.registry_rows,
        counts.decisions,
        counts.text_files,
    )
    return counts
