"""Where every artefact lives. The one place that knows the warehouse layout.

::

    <root>/
      raw/<source>/batch_id=<batch_id>/part-*.parquet   immutable landing, as the source sent it
      runs/<run_id>/                                     everything one run produced
        run.json                                         run manifest and summary
        ingest/<source>/current.parquet                  the source's current records this run
        ingest/<source>/rejects.parquet                  rows that could not be parsed
        ingest/<source>/result.json
        validated/<source>/accepted.parquet              rows that passed the source suite
        quarantine/<suite>.parquet                       rejected rows with their reasons
        dq/<suite>.json                                  validation results per suite
        gx_results/<suite>.json                          the same as GX suite results (Data Docs)
        staged/customers.parquet                         canonical schema (all standardised)
        staged/accepted.parquet                          ... that passed the canonical suite
        staged/report.json                               per-field standardisation counts
        match/                                           model, pairs, clusters, review queue
        golden/                                          this run's golden tables (unpublished)
      published/commits/<seq>-<run_id>/                  one complete version: tables, manifest,
                                                         golden.duckdb, state/id_registry.parquet,
                                                         roles/<role>/ (last N kept)
      published/current -> commits/<seq>-<run_id>        THE pointer, switched atomically by
                                                         publish, restore and erasure
      published/versions/<run_id> -> ../commits/...      kept versions by run id
      published/roles/<role> -> ../current/roles/<role>  fixed link through the pointer
      golden.duckdb -> published/current/golden.duckdb   fixed link through the pointer
      reports/data_docs/                                 Data Docs site for stewards
      reports/gx_validations/                            GX results of every run the site shows
      state/                                             durable state that runs build on
        sources/<source>.json                            watermark and last counts per source
        id_registry.parquet                              record -> golden id of the last publish
                                                         (fixed link into the current version)
        decisions.jsonl                                  steward decisions (append-only)
        suppression.jsonl                                erased subjects (salted hashes)
        erasures.jsonl                                   erasure ledger (no personal data)
        audit.jsonl                                      audit trail (append-only)
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pipelines.errors import StageInputError

Access = Literal["owner", "group"]
"""Who may read the warehouse's files: the owner only, or the owner's group too (read-only)."""

_MODES: dict[str, tuple[int, int, int]] = {
    # access: (umask, file mode, folder mode)
    "owner": (0o077, 0o600, 0o700),
    "group": (0o027, 0o640, 0o750),
}
_access: Access = "owner"


def protect_process(access: Access = "owner") -> None:
    """Make every file this process creates private to the owner (or group), whatever the umask.

    The warehouse holds personal data almost everywhere (raw batches, run folders, published
    versions, the database, reports, state), and many of its files are created by libraries
    (DuckDB, Arrow, Polars, Great Expectations) that create with ``0666 & ~umask``. With the
    usual umask ``022`` that is world-readable, so every entry point (the CLI, the DAG tasks,
    the stage functions) calls this first: it sets the process umask to ``077`` (``027`` for
    ``group``), and files created with an explicit mode (:func:`atomic_path`'s temporary
    files, role artefacts) use :func:`file_mode` / :func:`dir_mode`.
    """
    global _access
    if access not in _MODES:
        raise ValueError(f"warehouse.access must be 'owner' or 'group', not {access!r}")
    _access = access
    os.umask(_MODES[access][0])


def file_mode() -> int:
    """Mode of a file in the warehouse under the process's access setting (0600 or 0640)."""
    return _MODES[_access][1]


def dir_mode() -> int:
    """Mode of a folder in the warehouse under the process's access setting (0700 or 0750)."""
    return _MODES[_access][2]


def protect_warehouse(root: Path, access: Access = "owner") -> None:
    """:func:`protect_process`, then create ``root`` private, or restrict it if we own it.

    A root created by hand under umask ``022`` would otherwise let anybody list the warehouse.
    """
    protect_process(access)
    root.mkdir(parents=True, exist_ok=True, mode=dir_mode())
    if root.stat().st_uid == os.getuid() and (root.stat().st_mode & 0o777) != dir_mode():
        root.chmod(dir_mode())


def new_run_id(at: datetime | None = None, key: str | None = None) -> str:
    """A run id that sorts by time and is safe in paths and object keys.

    With ``key`` (a scheduler's own run id) the suffix is a hash of it rather than random, so
    a retried or cleared-and-rerun scheduler run gets the same run id and overwrites its outputs.
    """
    at = (at or datetime.now(UTC)).astimezone(UTC)
    suffix = secrets.token_hex(3) if key is None else hashlib.sha256(key.encode()).hexdigest()[:6]
    return f"{at:%Y%m%dT%H%M%SZ}-{suffix}"


@dataclass(frozen=True)
class Warehouse:
    root: Path

    # --- layers ----------------------------------------------------------------------------
    @property
    def raw(self) -> Path:
        return self.root / "raw"

    def raw_batch(self, source: str, batch_id: str) -> Path:
        return self.raw / source / f"batch_id={batch_id}"

    def run(self, run_id: str) -> Path:
        return self.root / "runs" / run_id

    def run_manifest(self, run_id: str) -> Path:
        return self.run(run_id) / "run.json"

    def ingest_dir(self, run_id: str, source: str) -> Path:
        return self.run(run_id) / "ingest" / source

    def current_records(self, run_id: str, source: str) -> Path:
        return self.ingest_dir(run_id, source) / "current.parquet"

    def ingest_rejects(self, run_id: str, source: str) -> Path:
        return self.ingest_dir(run_id, source) / "rejects.parquet"

    def accepted(self, run_id: str, source: str) -> Path:
        return self.run(run_id) / "validated" / source / "accepted.parquet"

    def row_verdicts(self, run_id: str, source: str) -> Path:
        """Per-row verdicts a later run's source validation reuses
        (:mod:`pipelines.validate.incremental`)."""
        return self.accepted(run_id, source).with_name("row_verdicts.parquet")

    def quarantine(self, run_id: str, suite: str) -> Path:
        return self.run(run_id) / "quarantine" / f"{suite}.parquet"

    def dq_result(self, run_id: str, suite: str) -> Path:
        return self.run(run_id) / "dq" / f"{suite}.json"

    def gx_result(self, run_id: str, suite: str) -> Path:
        return self.run(run_id) / "gx_results" / f"{suite}.json"

    def staged(self, run_id: str) -> Path:
        return self.run(run_id) / "staged" / "customers.parquet"

    def staged_accepted(self, run_id: str) -> Path:
        return self.run(run_id) / "staged" / "accepted.parquet"

    def staged_report(self, run_id: str) -> Path:
        return self.run(run_id) / "staged" / "report.json"

    def match_dir(self, run_id: str) -> Path:
        return self.run(run_id) / "match"

    def golden_dir(self, run_id: str) -> Path:
        return self.run(run_id) / "golden"

    def golden_state(self, run_id: str) -> Path:
        """What the next run's golden stage needs to reuse this run's survivors (not published)."""
        return self.run(run_id) / "golden_state"

    # --- published ---------------------------------------------------------------------------
    @property
    def published(self) -> Path:
        return self.root / "published"

    def published_version(self, run_id: str) -> Path:
        return self.published / "versions" / run_id

    @property
    def published_current(self) -> Path:
        return self.published / "current"

    @property
    def duckdb_path(self) -> Path:
        return self.root / "golden.duckdb"

    @property
    def data_docs(self) -> Path:
        return self.root / "reports" / "data_docs"

    @property
    def gx_validations(self) -> Path:
        return self.root / "reports" / "gx_validations"

    # --- state -------------------------------------------------------------------------------
    @property
    def state(self) -> Path:
        return self.root / "state"

    def source_state(self, source: str) -> Path:
        return self.state / "sources" / f"{source}.json"

    @property
    def checked_suites(self) -> Path:
        """Expectation suites already checked with Great Expectations, by content and version."""
        return self.state / "checked_suites"

    @property
    def id_registry(self) -> Path:
        return self.state / "id_registry.parquet"

    @property
    def decisions(self) -> Path:
        return self.state / "decisions.jsonl"

    @property
    def suppression(self) -> Path:
        return self.state / "suppression.jsonl"

    @property
    def erasures(self) -> Path:
        return self.state / "erasures.jsonl"

    @property
    def audit_log(self) -> Path:
        return self.state / "audit.jsonl"

    # --- helpers -----------------------------------------------------------------------------
    def run_ids(self) -> list[str]:
        """Run ids that have a folder, oldest first."""
        runs = self.root / "runs"
        return sorted(p.name for p in runs.iterdir() if p.is_dir()) if runs.is_dir() else []

    def require(self, path: Path, produced_by: str) -> Path:
        """Fail with a clear message when a stage's input is missing."""
        if not path.exists():
            raise StageInputError(
                f"{path} does not exist: run the '{produced_by}' stage for this run id first"
            )
        return path


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` only on success.

    Stages write through this so that a crash never leaves a half-written file where the next
    stage (or a reader) would pick it up, and a rerun overwrites rather than appends.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, file_mode())  # mkstemp makes 0600; group access wants 0640
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_json(target: Path, payload: Any) -> None:
    """Write JSON atomically (dates and paths as strings)."""
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, default=str, sort_keys=False) + "\n")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())
