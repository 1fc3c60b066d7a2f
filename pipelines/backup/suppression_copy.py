"""The suppression list kept in the bucket beside the backups, where any restore finds it.

Every backup carries ``state/suppression.jsonl`` as it was then, so a backup taken before an
erasure lacks the erased subject's entry; a restore into an empty warehouse (a new machine
after a disaster) would then have no list to erase them again by. So the list also lives at
``<prefix>/_suppression/suppression.jsonl``: each backup and each erasure merges the local
list into it (lines are only ever added, in order), and each restore merges it into the
restored list before anything is readable. With client-side encryption it is sealed like a
backup object, under a key derived from the master key (it holds only salted hashes, but the
bucket sees no plaintext at all). The prefix is not a run id, so backup listings and retention
never treat it as a backup.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from pathlib import Path

from pipelines.backup import crypto
from pipelines.backup.config import BackupConfig
from pipelines.backup.store import ObjectStore
from pipelines.errors import BackupError

logger = logging.getLogger(__name__)

FOLDER = "_suppression"
OBJECT_NAME = f"{FOLDER}/suppression.jsonl"
_KEY_LABEL = b"golden-records suppression list copy v1"


def object_key(store: ObjectStore) -> str:
    return f"{store.base_prefix}{OBJECT_NAME}"


def _sealing_key(config: BackupConfig) -> bytes | None:
    if not config.client_side_key_env:
        return None
    master = crypto.load_master_key(config.client_side_key_env)
    return hmac.new(master, _KEY_LABEL, hashlib.sha256).digest()


def merge_lines(*texts: bytes) -> bytes:
    """Every distinct non-empty line of ``texts``, first occurrence first (append-only union)."""
    seen: set[bytes] = set()
    out: list[bytes] = []
    for text in texts:
        for line in text.splitlines():
            if line.strip() and line not in seen:
                seen.add(line)
                out.append(line + b"\n")
    return b"".join(out)


def fetch(store: ObjectStore, workdir: Path) -> bytes:
    """The bucket's copy of the list (empty when there is none yet).

    Fails, rather than return nothing, when the copy exists but cannot be read (sealed under
    another master key, or no key configured): a restore must not go on without it.
    """
    key = object_key(store)
    sealed = workdir / ".suppression.sealed"
    if store.head(key) is None:
        return b""
    store.download_file(key, sealed)
    try:
        if sealed.read_bytes()[: len(crypto.MAGIC)] != crypto.MAGIC:
            return sealed.read_bytes()
        data_key = _sealing_key(store.config)
        if data_key is None:
            raise BackupError(
                f"the suppression list s3://{store.bucket}/{key} is client-side encrypted: set "
                "backup.client_side_key_env to the master key's variable to restore"
            )
        plain = workdir / ".suppression.plain"
        try:
            crypto.decrypt_file(sealed, plain, data_key, OBJECT_NAME)
        except crypto.DecryptionError as exc:
            raise BackupError(
                f"the suppression list s3://{store.bucket}/{key} cannot be decrypted with the "
                f"configured master key ({exc}): nothing was restored"
            ) from None
        text = plain.read_bytes()
        plain.unlink()
        return text
    finally:
        sealed.unlink(missing_ok=True)


def push(store: ObjectStore, local: Path, workdir: Path) -> int:
    """Merge the local list into the bucket's copy; returns the copy's line count.

    Nothing is uploaded when the local list adds nothing (the copy is never shortened).
    """
    text = local.read_bytes() if local.exists() else b""
    current = fetch(store, workdir)
    merged = merge_lines(current, text)
    if merged == merge_lines(current):
        return len(merged.splitlines())
    plain = workdir / ".suppression.upload"
    plain.write_bytes(merged)
    upload = plain
    try:
        data_key = _sealing_key(store.config)
        if data_key is not None:
            upload = workdir / ".suppression.sealed-upload"
            crypto.encrypt_file(plain, upload, data_key, OBJECT_NAME)
        store.upload_file(
            upload, object_key(store), metadata={"encrypted": str(data_key is not None).lower()}
        )
    finally:
        for path in {plain, upload}:
            if path.exists():
                os.unlink(path)
    logger.info(
        "suppression list in s3://%s/%s: %d line(s)",
        store.bucket,
        object_key(store),
        len(merged.splitlines()),
    )
    return len(merged.splitlines())
