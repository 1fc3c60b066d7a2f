"""What an incremental standardisation may reuse from the previous run, and the proof it may.

A record version (``record_key``, ``batch_id``) whose input row is byte-for-byte what the previous
run standardised gives the same staged row again, *provided* everything else the row's result
depends on is the same too. Per row that is the code, the stage settings (nickname table, oldest
birth year), the source's hints (date formats, time zone, phone region, country) and two things
computed rather than configured:

* the source's day/month order, inferred from the source's own unambiguous dates: computed over
  the whole current input on every run (:func:`~pipelines.standardise.dates.source_date_report`)
  and compared with the order the previous run used;
* the run date: two-digit years take their century from the run's year, and dates of birth
  after the run date are flagged. Within one year, with the run date not going backwards, only
  rows the previous run flagged for an invalid date of birth can read differently; those are
  standardised again.

Every run writes, beside ``staged/customers.parquet``, ``staged/row_hashes.parquet`` (the record
key, batch id and a 128-bit hash of each input row, row for row with the staged file) and, last,
``staged/incremental.json`` (the fingerprint above). The JSON is the commit marker: it is removed
before a run writes anything and written after everything else, so a crashed run is never taken
as a previous run. A previous run whose files disagree (row counts, keys) is not used either.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.schema import LINEAGE_COLUMNS, MAPPABLE_FIELDS, STAGED_COLUMNS
from pipelines.warehouse import Warehouse, atomic_path, read_json, write_json

log = logging.getLogger(__name__)

FORMAT = 1
"""Version of the two state files; another value is never reused."""

HASHED_INPUT = (*LINEAGE_COLUMNS, *(f"raw_{f}" for f in MAPPABLE_FIELDS), "trust_rank")
"""Every input column a staged row is computed from, in a fixed order."""

HASH_COLUMNS = ("row_hash_a", "row_hash_b")
_SEEDS = (0x2545F4914F6CDD1D, 0x85EBCA6BC2B2AE35)
_LIBRARIES = ("polars", "pyarrow", "phonenumbers", "email-validator")
_CODE_FILES = ("pipelines/schema.py",)


def row_hashes(frame: pl.DataFrame) -> pl.DataFrame:
    """Two independent 64-bit hashes of each row's :data:`HASHED_INPUT` values (nulls and empty
    text hash differently). Polars' row hash is stable across processes but not across Polars
    versions, so the Polars version is part of :func:`code_fingerprint`."""
    data = frame.select(HASHED_INPUT)
    return pl.DataFrame(
        [data.hash_rows(seed).alias(name) for name, seed in zip(HASH_COLUMNS, _SEEDS, strict=True)]
    )


def code_fingerprint() -> str:
    """The standardisation code, its bundled data and the libraries whose behaviour it relies
    on: a new deployment must not reuse rows an older one produced."""
    return code_digest(Path(__file__).resolve().parent, _CODE_FILES, _LIBRARIES)


def code_digest(package: Path, extra_files: Sequence[str], libraries: Sequence[str]) -> str:
    """A digest of every file of ``package`` (a folder of the repository), of ``extra_files``
    (paths relative to the repository root) and of the installed versions of ``libraries``.
    Shared by the stages that reuse an earlier run's results, so each names what its results
    depend on and none hashes code differently."""
    digest = hashlib.sha256()
    root = package.parents[1]
    files = sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for path in [*files, *(root / f for f in extra_files)]:
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    for name in libraries:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "absent"
        digest.update(f"{name}={version}\0".encode())
    return digest.hexdigest()


def settings_fingerprint(settings: dict[str, Any], nicknames: pl.DataFrame) -> str:
    """The stage's settings and the nickname table actually in use (a file named in the config
    can change while its path stays the same)."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    digest.update(nicknames.sort(nicknames.columns).write_csv().encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class Fingerprint:
    """Everything besides a row's own input that its staged values depend on."""

    code: str
    settings: str
    sources: dict[str, dict[str, Any]]
    """Per source, in configured order: its hints and its inferred date order."""
    as_of: date

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "code": self.code,
            "settings": self.settings,
            "sources": self.sources,
            "as_of": self.as_of.isoformat(),
        }


@dataclass(frozen=True)
class Previous:
    """A previous run whose staged rows may be reused."""

    run_id: str
    fingerprint: dict[str, Any]
    staged: Path
    hashes: Path


@dataclass(frozen=True)
class ReusePlan:
    """Whether this run reuses a previous one, and if not why not."""

    previous: Previous | None
    reason: str | None
    """Why every record is standardised (None when ``previous`` is used)."""
    restandardise_invalid_dates: bool = False
    """The run date moved on within the year: rows flagged for their date of birth are redone."""


def hashes_path(warehouse: Warehouse, run_id: str) -> Path:
    return warehouse.staged(run_id).with_name("row_hashes.parquet")


def marker_path(warehouse: Warehouse, run_id: str) -> Path:
    return warehouse.staged(run_id).with_name("incremental.json")


def find_previous(warehouse: Warehouse, run_id: str) -> Previous | None:
    """The latest run before ``run_id`` whose staged output is complete (its marker written)."""
    for earlier in reversed([r for r in warehouse.run_ids() if r < run_id]):
        marker = marker_path(warehouse, earlier)
        staged, hashes = warehouse.staged(earlier), hashes_path(warehouse, earlier)
        if not (marker.is_file() and staged.is_file() and hashes.is_file()):
            continue
        try:
            fingerprint = read_json(marker)
        except (OSError, ValueError) as exc:
            log.warning("ignoring %s: %s", marker, exc)
            continue
        return Previous(earlier, fingerprint, staged, hashes)
    return None


def plan_reuse(current: Fingerprint, previous: Previous | None) -> ReusePlan:
    """Compare the fingerprints; any difference but a later run date in the same year means
    the full path."""
    if previous is None:
        return ReusePlan(None, "no earlier run with a complete staged output")
    before = previous.fingerprint
    label = f"run {previous.run_id}"
    now = current.as_json()
    if before.get("format") != FORMAT:
        return ReusePlan(None, f"{label} wrote state format {before.get('format')!r}")
    if before.get("code") != now["code"]:
        return ReusePlan(None, f"the standardisation code or its libraries changed since {label}")
    if before.get("settings") != now["settings"]:
        return ReusePlan(None, f"the standardise settings or nickname table changed since {label}")
    old_sources = before.get("sources") or {}
    if list(old_sources) != list(now["sources"]):
        return ReusePlan(None, f"the configured sources changed since {label}")
    for name, facts in now["sources"].items():
        old = old_sources[name]
        if old.get("hints") != facts["hints"]:
            return ReusePlan(None, f"source {name!r}: its hints changed since {label}")
        if old.get("date_order") != facts["date_order"]:
            return ReusePlan(
                None,
                f"source {name!r}: the inferred date order is {facts['date_order']!r}, "
                f"{label} used {old.get('date_order')!r}",
            )
    try:
        old_as_of = date.fromisoformat(before.get("as_of", ""))
    except (TypeError, ValueError):
        return ReusePlan(None, f"{label} recorded no run date")
    if old_as_of.year != current.as_of.year or old_as_of > current.as_of:
        return ReusePlan(
            None, f"the run date {current.as_of} is not later in the same year as {old_as_of}"
        )
    return ReusePlan(previous, None, restandardise_invalid_dates=old_as_of != current.as_of)


def read_hashes(previous: Previous) -> pl.DataFrame:
    """The previous run's row hashes: ``record_key``, ``batch_id`` and :data:`HASH_COLUMNS`,
    row for row with its staged file (a small file: no staged column is read for it)."""
    # One chunk: :func:`match_previous` gathers from it.
    columns = ["record_key", "batch_id", *HASH_COLUMNS]
    return pl.read_parquet(previous.hashes, columns=columns).rechunk()


def read_flagged_dates(previous: Previous, rows: int) -> pl.Series | None:
    """Per previous staged row, whether it was flagged for its date of birth (one column of
    the staged file); None when the file does not hold ``rows`` rows."""
    flags = pl.read_parquet(previous.staged, columns=["invalid_fields"])["invalid_fields"]
    if flags.len() != rows:
        log.warning("%s and %s do not line up; not reused", previous.staged, previous.hashes)
        return None
    return flags.list.contains("date_of_birth").fill_null(False)


def match_previous(
    keys: pl.DataFrame, hashes: pl.DataFrame, skip: pl.Series | None = None
) -> pl.Series:
    """Per current row (``keys``: record_key, batch_id and :data:`HASH_COLUMNS`), the position
    of the previous staged row it may reuse, or null when it must be standardised.

    A row is reused only when a previous row has the same record key, batch id and both input
    hashes; ``skip`` marks previous rows that may not be reused at all. The lookup joins on
    ``row_hash_a`` alone (one 64-bit key joins several times faster than four columns with
    text) and then checks the other three columns of the row it found: a candidate that
    differs in any of them is standardised again, so the shortcut can cost a reuse (only
    after a 64-bit collision) but never reuse a wrong row. Previous rows that are exact
    duplicates hold the same input, hence the same staged row: the first is taken.
    """
    index = pl.get_index_type()
    if hashes.is_empty():
        return pl.Series("__prev", [None] * keys.height, dtype=index)
    previous = hashes.select("row_hash_a").with_row_index("__prev")
    if skip is not None:
        previous = previous.filter(~skip)
    previous = previous.unique("row_hash_a", keep="first", maintain_order=True)
    found = (
        keys.lazy()
        .select("row_hash_a")
        .join(previous.lazy(), on="row_hash_a", how="left", maintain_order="left")
        .collect()["__prev"]
    )
    candidate = hashes.select("record_key", "batch_id", "row_hash_b")[found.fill_null(0)]
    same = (
        found.is_not_null()
        & candidate["record_key"].eq_missing(keys["record_key"])
        & candidate["batch_id"].eq_missing(keys["batch_id"])
        & candidate["row_hash_b"].eq_missing(keys["row_hash_b"])
    )
    return found.zip_with(same, pl.Series([None], dtype=index)).rename("__prev")


def read_staged(previous: Previous, hashes: pl.DataFrame) -> pl.DataFrame | None:
    """The previous staged rows (:data:`~pipelines.schema.STAGED_COLUMNS`), or None when they
    do not line up with ``hashes`` (:func:`read_hashes`; the two are written together and an
    erasure rewrites both), in which case nothing of the run is reused."""
    staged = pl.read_parquet(previous.staged)
    if list(staged.columns) != list(STAGED_COLUMNS) or staged.height != hashes.height:
        log.warning("%s and %s do not line up; not reused", previous.staged, previous.hashes)
        return None
    keys = ["record_key", "batch_id"]
    if not staged.select(keys).equals(hashes.select(keys)):
        log.warning(
            "%s and %s hold different records; not reused", previous.staged, previous.hashes
        )
        return None
    return staged


def forget_marker(warehouse: Warehouse, run_id: str) -> None:
    """Before writing a run's staged output: until the new marker is written, the run is not a
    usable previous run."""
    marker_path(warehouse, run_id).unlink(missing_ok=True)


def write_hashes(warehouse: Warehouse, run_id: str, keys: pl.DataFrame) -> Path:
    """Write the row hashes (``keys``: record_key, batch_id and :data:`HASH_COLUMNS`, in staged
    order); the marker comes last, through :func:`commit_state`."""
    target = hashes_path(warehouse, run_id)
    with atomic_path(target) as tmp:
        # Polars' writer encodes columns in parallel; the file is only ever read by Polars.
        keys.select("record_key", "batch_id", *HASH_COLUMNS).write_parquet(
            tmp, compression="zstd", compression_level=1
        )
    return target


def commit_state(warehouse: Warehouse, run_id: str, fingerprint: Fingerprint) -> None:
    """The marker that makes this run's staged output reusable (written last)."""
    write_json(marker_path(warehouse, run_id), fingerprint.as_json())
