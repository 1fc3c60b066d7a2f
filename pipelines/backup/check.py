"""Download one backup object and check it against its manifest entry.

Verify and restore share this, so a restore never installs a file that verify would reject:
the stored size (a truncated or replaced object), the stored checksum, decryption (an altered
encrypted object fails authentication), the plaintext size and SHA-256, and the row count.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

from pipelines.backup import crypto
from pipelines.backup.manifest import ManifestObject
from pipelines.backup.store import ObjectStore

Status = Literal[
    "ok", "missing", "size_mismatch", "checksum_mismatch", "rows_mismatch", "unreadable"
]


class ObjectCheck(BaseModel):
    """The verdict on one object of a backup."""

    name: str
    status: Status
    detail: str = ""
    expected_size: int | None = None
    actual_size: int | None = None
    expected_sha256: str | None = None
    actual_sha256: str | None = None
    expected_rows: int | None = None
    actual_rows: int | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def count_rows(path: Path, name: str) -> int | None:
    """Rows of a Parquet file, lines of a JSON Lines file, None for anything else."""
    if name.endswith(".parquet"):
        return pq.ParquetFile(path).metadata.num_rows
    if name.endswith(".jsonl"):
        lines = 0
        last = b"\n"
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                lines += block.count(b"\n")
                last = block[-1:]
        return lines + (last != b"\n")
    return None


def fetch_and_check(
    store: ObjectStore,
    run_id: str,
    entry: ManifestObject,
    stored_sizes: dict[str, int],
    data_key: bytes | None,
    workdir: Path,
) -> tuple[ObjectCheck, Path | None]:
    """Download ``entry`` into ``workdir``; returns the verdict and, when ok, the plaintext file.

    ``stored_sizes`` maps every key under the backup's prefix to its size (one listing for the
    whole backup instead of a request per object).
    """
    check = ObjectCheck(
        name=entry.name,
        status="ok",
        expected_size=entry.size,
        expected_sha256=entry.sha256,
        expected_rows=entry.rows,
    )
    key = store.key(run_id, entry.name)
    stored_size = stored_sizes.get(key)
    if stored_size is None:
        check.status, check.detail = "missing", f"{key} is not in the bucket"
        return check, None
    if stored_size != entry.stored_size:
        check.status = "size_mismatch"
        check.detail = (
            f"the bucket holds {stored_size} bytes, the manifest says {entry.stored_size} "
            "(truncated or replaced)"
        )
        check.actual_size = stored_size
        return check, None
    local = entry.name.replace("/", "__")  # names are unique within a backup
    stored = workdir / f"{local}.stored"
    store.download_file(key, stored)
    stored_sha = sha256_of(stored)
    if stored_sha != entry.stored_sha256:
        check.status, check.actual_sha256 = "checksum_mismatch", stored_sha
        check.detail = "the stored bytes do not match the manifest's SHA-256 (altered object)"
        check.actual_size = stored.stat().st_size
        return check, None
    plain = stored
    if data_key is not None:
        plain = workdir / f"{local}.plain"
        try:
            crypto.decrypt_file(stored, plain, data_key, entry.name)
        except crypto.DecryptionError as exc:
            check.status, check.detail = "unreadable", str(exc)
            return check, None
        finally:
            stored.unlink(missing_ok=True)
    check.actual_size = plain.stat().st_size
    check.actual_sha256 = sha256_of(plain) if data_key is not None else stored_sha
    if check.actual_size != entry.size:
        check.status = "size_mismatch"
        check.detail = f"{check.actual_size} bytes after decryption, the manifest says {entry.size}"
        return check, None
    if check.actual_sha256 != entry.sha256:
        check.status = "checksum_mismatch"
        check.detail = "the content does not match the manifest's SHA-256"
        return check, None
    try:
        check.actual_rows = count_rows(plain, entry.name)
    except (OSError, pa.ArrowException) as exc:
        check.status, check.detail = "unreadable", f"not a readable table: {exc}"
        return check, None
    if entry.rows is not None and check.actual_rows != entry.rows:
        check.status = "rows_mismatch"
        check.detail = f"{check.actual_rows} rows, the manifest says {entry.rows}"
        return check, None
    return check, plain
