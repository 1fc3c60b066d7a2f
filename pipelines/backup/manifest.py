"""What a backup holds and how it is laid out in the bucket.

::

    <prefix>/<run_id>/
      header.json                       written FIRST: run id, start time, wrapped data key
      published/<table>.parquet         the published version of the run (every table)
      published/manifest.json           the version's own manifest, as publish wrote it
      state/id_registry.parquet         the state a restore needs to continue from this run
      state/decisions.jsonl, state/sources/<source>.json, state/audit.jsonl,
      state/suppression.jsonl, ...      (every state file present)
      manifest.json                     written LAST: every object, size, SHA-256, rows

A backup is complete exactly when ``manifest.json`` exists; anything else under a run's prefix is
an interrupted or running backup and is never listed as complete. Sizes and checksums in the
manifest are of the plaintext (what a restore must reproduce byte for byte); encrypted objects
also record their stored size and checksum, so damage is found even without the key.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import PurePosixPath
from typing import Literal

from pydantic import BaseModel, Field

from pipelines.errors import BackupError

FORMAT_VERSION = 1
HEADER_NAME = "header.json"
MANIFEST_NAME = "manifest.json"
PUBLISHED_DIR = "published"
ATTEMPTS_DIR = "attempts"
"""A rerun's objects go to ``attempts/<id>/`` beside the complete backup they replace."""
STATE_DIR = "state"


class EncryptionInfo(BaseModel):
    """Client-side encryption of one backup (absent when the backup is not encrypted)."""

    scheme: str
    key_fingerprint: str
    """Which master key wrapped the data key (see ``crypto.key_fingerprint``)."""
    wrapped_key: str | None
    """The backup's data key, AES-GCM-wrapped by the master key; None once destroyed."""
    wrap_nonce: str | None
    destroyed_at: datetime | None = None
    destroyed_reason: str | None = None


class BackupHeader(BaseModel):
    """``header.json``: the first object of a backup."""

    format: int = FORMAT_VERSION
    run_id: str
    started_at: datetime
    encryption: EncryptionInfo | None = None


class ManifestObject(BaseModel):
    name: str
    """Key below ``<prefix>/<run_id>/``."""
    path: str
    """Where the file belongs in the warehouse, relative to its root."""
    kind: Literal["table", "version_manifest", "state"]
    size: int
    sha256: str
    rows: int | None = None
    """Rows of a Parquet table or lines of a JSON Lines file."""
    stored_size: int
    stored_sha256: str


class BackupManifest(BaseModel):
    """``manifest.json``: the last object of a complete backup."""

    format: int = FORMAT_VERSION
    run_id: str
    created_at: datetime
    """When the backup was taken; retention groups backups by its day and ISO week."""
    completed_at: datetime
    tables: dict[str, int]
    """Published table -> rows."""
    objects: list[ManifestObject]
    bytes: int
    stored_bytes: int
    encryption: str | None = None
    """Client-side scheme (the wrapped key is in ``header.json``), or None."""
    key_fingerprint: str | None = None
    server_side_encryption: str = "none"
    warehouse: str = Field("", description="Warehouse the backup was taken from (informative).")


_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_run_id(run_id: str) -> str:
    """A run id becomes an object key and a folder name: refuse anything that is not a name."""
    if not _RUN_ID.match(run_id):
        raise BackupError(
            f"{run_id!r} is not a run id (letters, digits, '.', '_' and '-', like "
            "20240131T020000Z-1a2b3c)"
        )
    return run_id


def version_path(run_id: str, file_name: str) -> str:
    return f"published/versions/{run_id}/{file_name}"


def safe_restore_path(run_id: str, entry: ManifestObject) -> PurePosixPath:
    """The warehouse-relative path of a manifest entry, refusing anything outside its places.

    The manifest comes from the bucket; a damaged or hostile one must not make a restore write
    outside the published version of its run and the state folder.
    """
    path = PurePosixPath(entry.path)
    allowed = (PurePosixPath("published/versions") / run_id, PurePosixPath(STATE_DIR))
    if (
        path.is_absolute()
        or any(part in ("..", ".", "") for part in path.parts)
        or not any(path.is_relative_to(root) and path != root for root in allowed)
    ):
        raise BackupError(
            f"manifest of backup {run_id} lists {entry.name} for {entry.path!r}, outside the "
            "published version and the state folder: refusing to restore it"
        )
    return path
