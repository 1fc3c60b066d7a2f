"""Client-side encryption of backup objects: envelope encryption with one data key per backup.

Why this layout. The master key (base64, from the environment variable named by
``backup.client_side_key_env``) never encrypts data. Each backup gets a fresh random 256-bit data
key; its objects are encrypted with that key, and the data key is stored only inside the
backup's ``header.json``, wrapped (AES-256-GCM) by the master key and bound to the run id.
Consequences:

- Erasure can reach backups without rewriting them: destroying one backup's wrapped data key
  (:func:`pipelines.backup.destroy_backup_key`, which also removes old object versions) makes
  that backup unreadable for good, even to someone holding the master key, while every other
  backup stays intact. An erasure workflow destroys the keys of backups that still hold an
  erased subject once they are no longer needed for recovery (or lets retention delete them).
- Rotating the master key means re-wrapping small data keys, never re-encrypting data.
- The store (and anyone reading the bucket) sees only ciphertext; SSE can be layered on top.

Object format, streamed so a large table never has to fit in memory::

    "GRBKENC1" | chunk size (u32, big-endian) | nonce prefix (8 random bytes)
    chunk 0 | chunk 1 | ... | final chunk          each: AES-256-GCM ciphertext + 16-byte tag

Chunk ``i`` uses nonce ``prefix || i`` and authenticates the object's name, ``i`` and whether it
is the final chunk. Every chunk but the last carries exactly ``chunk size`` plaintext bytes and
the last carries fewer (possibly none), so a truncated, extended, reordered or swapped object
fails to decrypt instead of yielding wrong data.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pipelines.errors import BackupError

SCHEME = "aes-256-gcm-chunked/v1"
MAGIC = b"GRBKENC1"
CHUNK_SIZE = 1 << 20
MAX_CHUNK_SIZE = 64 << 20
TAG_BYTES = 16
_HEADER = struct.Struct(">8sI8s")
_KEY_AAD = b"golden-records backup data key v1|"
_CHUNK_AAD = b"golden-records backup object v1|"


class DecryptionError(BackupError):
    """Ciphertext that does not authenticate: altered, truncated, or the wrong key."""


def generate_master_key() -> str:
    """A new random master key, base64-encoded, to put in the key's environment variable."""
    return base64.b64encode(os.urandom(32)).decode()


def load_master_key(env_name: str) -> bytes:
    """The 32-byte master key from environment variable ``env_name``."""
    value = os.environ.get(env_name)
    if not value:
        raise BackupError(
            f"backup.client_side_key_env names the environment variable {env_name}, which is "
            "not set: set it to the base64 AES-256 master key the backups were made with"
        )
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        try:
            key = base64.urlsafe_b64decode(value.strip())
        except (binascii.Error, ValueError):
            raise BackupError(f"environment variable {env_name} is not base64") from None
    if len(key) != 32:
        raise BackupError(
            f"environment variable {env_name} holds {len(key)} bytes; an AES-256 key is 32 "
            "(generate one with `golden backup new-key`)"
        )
    return key


def key_fingerprint(master: bytes) -> str:
    """A short public name for a master key, so an operator can tell which one a backup needs."""
    return hmac.new(master, b"golden-records key fingerprint", hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class WrappedKey:
    nonce: str
    ciphertext: str


def new_attempt_id() -> str:
    """A random name for one attempt of a backup (not secret: it only keeps names apart)."""
    return os.urandom(6).hex()


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def wrap_key(master: bytes, data_key: bytes, run_id: str) -> WrappedKey:
    nonce = os.urandom(12)
    sealed = AESGCM(master).encrypt(nonce, data_key, _KEY_AAD + run_id.encode())
    return WrappedKey(base64.b64encode(nonce).decode(), base64.b64encode(sealed).decode())


def unwrap_key(master: bytes, wrapped: WrappedKey, run_id: str) -> bytes:
    try:
        return AESGCM(master).decrypt(
            base64.b64decode(wrapped.nonce),
            base64.b64decode(wrapped.ciphertext),
            _KEY_AAD + run_id.encode(),
        )
    except (InvalidTag, binascii.Error, ValueError):
        raise DecryptionError(
            f"the data key of backup {run_id} cannot be unwrapped: wrong master key "
            "(compare key fingerprints) or a damaged header.json"
        ) from None


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">I", index)


def _aad(name: str, index: int, final: bool) -> bytes:
    return _CHUNK_AAD + name.encode() + b"|" + struct.pack(">QB", index, final)


def encrypt_file(
    source: Path, target: Path, data_key: bytes, name: str, chunk_size: int = CHUNK_SIZE
) -> tuple[int, str]:
    """Encrypt ``source`` into ``target``; returns the ciphertext's size and SHA-256."""
    if not 0 < chunk_size <= MAX_CHUNK_SIZE:
        raise BackupError(f"chunk size {chunk_size} is outside 1 byte .. {MAX_CHUNK_SIZE} bytes")
    if source.stat().st_size // chunk_size >= 2**32 - 1:  # the nonce counter is 32-bit
        raise BackupError(f"{source} is too large to encrypt in chunks of {chunk_size} bytes")
    aes = AESGCM(data_key)
    prefix = os.urandom(8)
    digest = hashlib.sha256()
    size = 0
    with source.open("rb") as plain, target.open("wb") as sealed:

        def emit(block: bytes) -> None:
            nonlocal size
            sealed.write(block)
            digest.update(block)
            size += len(block)

        emit(_HEADER.pack(MAGIC, chunk_size, prefix))
        index = 0
        while True:
            chunk = plain.read(chunk_size)
            final = len(chunk) < chunk_size
            emit(aes.encrypt(_nonce(prefix, index), chunk, _aad(name, index, final)))
            if final:
                break
            index += 1
    return size, digest.hexdigest()


def decrypt_file(source: Path, target: Path, data_key: bytes, name: str) -> tuple[int, str]:
    """Decrypt ``source`` into ``target``; returns the plaintext's size and SHA-256."""
    aes = AESGCM(data_key)
    digest = hashlib.sha256()
    size = 0
    with source.open("rb") as sealed, target.open("wb") as plain:
        header = sealed.read(_HEADER.size)
        if len(header) < _HEADER.size:
            raise DecryptionError(f"{name} is too short to be an encrypted backup object")
        magic, chunk_size, prefix = _HEADER.unpack(header)
        if magic != MAGIC or not 0 < chunk_size <= MAX_CHUNK_SIZE:
            raise DecryptionError(f"{name} is not an encrypted backup object (bad header)")
        index = 0
        while True:
            block = sealed.read(chunk_size + TAG_BYTES)
            final = len(block) < chunk_size + TAG_BYTES
            if len(block) < TAG_BYTES:
                raise DecryptionError(f"{name} is truncated after chunk {index}")
            try:
                chunk = aes.decrypt(_nonce(prefix, index), block, _aad(name, index, final))
            except InvalidTag:
                raise DecryptionError(
                    f"{name}: chunk {index} does not authenticate (altered or truncated object, "
                    "or another backup's object)"
                ) from None
            plain.write(chunk)
            digest.update(chunk)
            size += len(chunk)
            if final:
                break
            index += 1
        if sealed.read(1):
            raise DecryptionError(f"{name} has data after its final chunk")
    return size, digest.hexdigest()
