"""Client-side encryption: round trips, and every kind of damage or wrong key is refused."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest

from pipelines.backup import crypto
from pipelines.errors import BackupError

CHUNK = 64


@pytest.fixture
def key() -> bytes:
    return crypto.new_data_key()


def seal(tmp_path: Path, key: bytes, data: bytes, name: str = "published/t.parquet") -> Path:
    plain, sealed = tmp_path / "plain", tmp_path / "sealed"
    plain.write_bytes(data)
    crypto.encrypt_file(plain, sealed, key, name, chunk_size=CHUNK)
    return sealed


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 5], ids=lambda s: f"{s}B"
)
def test_round_trip_at_every_chunk_boundary(tmp_path: Path, key: bytes, size: int) -> None:
    data = os.urandom(size)
    sealed = seal(tmp_path, key, data)
    assert data[:16] not in sealed.read_bytes() or size < 16
    out = tmp_path / "out"
    size_out, digest = crypto.decrypt_file(sealed, out, key, "published/t.parquet")
    assert out.read_bytes() == data and size_out == size
    assert digest == hashlib.sha256(data).hexdigest()


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: _flip(b, 30), id="flipped-byte-first-chunk"),
        pytest.param(lambda b: _flip(b, len(b) - 3), id="flipped-byte-last-tag"),
        pytest.param(lambda b: b[: 20 + CHUNK + 16], id="truncated-at-chunk-boundary"),
        pytest.param(lambda b: b[:-7], id="truncated-mid-chunk"),
        pytest.param(lambda b: b + b"extra", id="appended-bytes"),
        pytest.param(lambda b: b"GRBKENC2" + b[8:], id="bad-magic"),
        pytest.param(lambda b: b[:5], id="too-short"),
    ],
)
def test_damaged_ciphertext_is_refused(tmp_path: Path, key: bytes, damage) -> None:
    sealed = seal(tmp_path, key, os.urandom(3 * CHUNK + 10))
    sealed.write_bytes(damage(sealed.read_bytes()))
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_file(sealed, tmp_path / "out", key, "published/t.parquet")


def test_wrong_key_or_another_objects_name_is_refused(tmp_path: Path, key: bytes) -> None:
    sealed = seal(tmp_path, key, b"x" * 100)
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_file(sealed, tmp_path / "o", crypto.new_data_key(), "published/t.parquet")
    with pytest.raises(crypto.DecryptionError, match="another backup's object"):
        crypto.decrypt_file(sealed, tmp_path / "o", key, "state/id_registry.parquet")


def test_data_key_unwraps_only_with_the_master_key_and_run_id(key: bytes) -> None:
    master = os.urandom(32)
    wrapped = crypto.wrap_key(master, key, "run-1")
    assert crypto.unwrap_key(master, wrapped, "run-1") == key
    with pytest.raises(crypto.DecryptionError, match="wrong master key"):
        crypto.unwrap_key(os.urandom(32), wrapped, "run-1")
    with pytest.raises(crypto.DecryptionError):
        crypto.unwrap_key(master, wrapped, "run-2")
    assert crypto.key_fingerprint(master) != crypto.key_fingerprint(os.urandom(32))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "GOLDEN_TEST_KEY, which is not set"),
        ("not base64 at all!", "is not base64"),
        (base64.b64encode(b"short").decode(), "holds 5 bytes; an AES-256 key is 32"),
    ],
    ids=["unset", "not-base64", "wrong-length"],
)
def test_master_key_problems_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str | None, message: str
) -> None:
    if value is None:
        monkeypatch.delenv("GOLDEN_TEST_KEY", raising=False)
    else:
        monkeypatch.setenv("GOLDEN_TEST_KEY", value)
    with pytest.raises(BackupError, match=message):
        crypto.load_master_key("GOLDEN_TEST_KEY")


def test_generated_master_key_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOLDEN_TEST_KEY", crypto.generate_master_key())
    assert len(crypto.load_master_key("GOLDEN_TEST_KEY")) == 32
