"""Prove a backup can be restored: download every object and check it against the manifest."""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from pipelines.backup.catalog import latest_complete, load_header, load_manifest
from pipelines.backup.check import ObjectCheck, fetch_and_check
from pipelines.backup.keys import data_key_for
from pipelines.backup.manifest import HEADER_NAME, MANIFEST_NAME, BackupManifest, check_run_id
from pipelines.backup.store import ObjectStore
from pipelines.errors import BackupError, GoldenError

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig

logger = logging.getLogger(__name__)


class VerifyReport(BaseModel):
    """Per-object verdicts on one backup."""

    run_id: str
    uri: str
    ok: bool
    objects: list[ObjectCheck]
    unexpected: list[str]
    """Keys under the backup's prefix that its manifest does not list (reported, not fatal)."""
    bytes: int
    seconds: float

    @property
    def problems(self) -> list[ObjectCheck]:
        return [check for check in self.objects if not check.ok]


def open_complete(store: ObjectStore, run_id: str | None) -> tuple[str, BackupManifest]:
    """The run id and manifest of a complete backup (the latest one when ``run_id`` is None)."""
    if run_id is None:
        run_id = latest_complete(store).run_id
    check_run_id(run_id)
    manifest = load_manifest(store, run_id)
    if manifest is None:
        present = any(True for _ in store.list_objects(store.run_prefix(run_id)))
        state = "is incomplete (it has no manifest)" if present else "does not exist"
        raise BackupError(f"backup {run_id} at {store.uri(run_id)} {state}")
    if manifest.run_id != run_id:
        raise BackupError(
            f"the manifest at {store.uri(run_id)} belongs to run {manifest.run_id}, not {run_id}"
        )
    return run_id, manifest


def stored_sizes(store: ObjectStore, run_id: str) -> dict[str, int]:
    return {o.key: o.size for o in store.list_objects(store.run_prefix(run_id))}


def verify_backup(config: PipelineConfig, run_id: str | None = None) -> VerifyReport:
    """Download and check every object of a backup (the latest complete one by default).

    Returns a report; ``report.ok`` is False when any object is missing, truncated, altered,
    undecryptable or has the wrong row count. A backup that is incomplete, absent or whose key
    is unavailable is a :class:`~pipelines.errors.BackupError`.
    """
    clock = time.perf_counter()
    store = ObjectStore(config.backup)
    try:
        run_id, manifest = open_complete(store, run_id)
        key = data_key_for(config.backup, run_id, load_header(store, run_id), manifest)
        sizes = stored_sizes(store, run_id)
        checks: list[ObjectCheck] = []
        with tempfile.TemporaryDirectory(prefix="golden-verify-") as tmp:
            for entry in manifest.objects:
                check, plain = fetch_and_check(store, run_id, entry, sizes, key, Path(tmp))
                if plain is not None:
                    plain.unlink()
                checks.append(check)
                if not check.ok:
                    logger.error(
                        "backup %s: %s %s: %s", run_id, check.status, entry.name, check.detail
                    )
    except GoldenError:
        raise
    except Exception as exc:
        raise store.failure(f"verifying backup {run_id}", exc) from exc
    listed = {store.key(run_id, o.name) for o in manifest.objects}
    own = {store.key(run_id, HEADER_NAME), store.key(run_id, MANIFEST_NAME)}
    unexpected = sorted(set(sizes) - listed - own)
    report = VerifyReport(
        run_id=run_id,
        uri=store.uri(run_id),
        ok=all(c.ok for c in checks),
        objects=checks,
        unexpected=unexpected,
        bytes=manifest.bytes,
        seconds=round(time.perf_counter() - clock, 3),
    )
    logger.info(
        "verified backup %s: %s (%d objects, %d problem(s))",
        run_id,
        "ok" if report.ok else "FAILED",
        len(checks),
        len(report.problems),
    )
    return report
