"""Erasing the steward decisions about erased records and customers.

``state/decisions.jsonl`` is append-only for stewards; erasure is the one rewrite. A decision
goes when it links an erased record, or pins a field (a value, possibly personal) on an erased
customer or an id that customer absorbed; a revocation goes with the decision it revoked.

The file is rewritten *in place* under the same exclusive lock the decision store takes, not
replaced by a new file: a steward process waiting for the lock then appends to the rewritten
file, where a rename would have left it appending to the unlinked old one and the decision would
be lost. A copy of the original is kept beside it until the rewrite is durable; if a crash
interrupts the rewrite, the next erasure puts the copy back first and starts again.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from pathlib import Path
from typing import IO

from pipelines.warehouse import Warehouse

logger = logging.getLogger(__name__)


def _recovery_copy(path: Path) -> Path:
    return path.with_name(f".{path.name}.erasing")


def _keep(lines: list[str], record_keys: frozenset[str], golden_ids: set[str]) -> list[str]:
    dropped: set[str] = set()
    kept: list[tuple[str, dict[str, object] | None]] = []
    for line in lines:
        try:
            payload = json.loads(line)
        except json.JSONDecodeError:
            kept.append((line, None))  # not ours to judge: the decision store reports it
            continue
        if not isinstance(payload, dict):
            kept.append((line, None))
            continue
        linked = (
            payload.get("record_key_l") in record_keys or payload.get("record_key_r") in record_keys
        )
        pinned = payload.get("kind") == "pin" and payload.get("golden_id") in golden_ids
        if linked or pinned:
            dropped.add(str(payload.get("decision_id")))
            continue
        kept.append((line, payload))
    return [
        line
        for line, payload in kept
        if payload is None
        or not (payload.get("kind") == "revoke" and payload.get("revokes") in dropped)
    ]


def scrub_decisions(warehouse: Warehouse, record_keys: frozenset[str], golden_ids: set[str]) -> int:
    """Remove the decisions about the records and customers; returns how many lines went."""
    path = warehouse.decisions
    if not path.exists():
        return 0
    copy = _recovery_copy(path)
    with open(path, "r+", encoding="utf-8", newline="") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            if copy.exists():
                logger.warning("%s: an earlier erasure was interrupted; restoring %s", path, copy)
                _write_in_place(handle, copy.read_text(encoding="utf-8"))
            handle.seek(0)
            text = handle.read()
            lines = [line for line in text.split("\n") if line.strip()]
            kept = _keep(lines, record_keys, golden_ids)
            removed = len(lines) - len(kept)
            if not removed:
                copy.unlink(missing_ok=True)
                return 0
            copy.write_text(text, encoding="utf-8")
            _fsync(copy)
            _write_in_place(handle, "".join(line + "\n" for line in kept))
            copy.unlink()
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    logger.info("removed %d steward decision line(s) about erased records", removed)
    return removed


def _write_in_place(handle: IO[str], text: str) -> None:
    handle.seek(0)
    handle.write(text)
    handle.truncate()
    handle.flush()
    os.fsync(handle.fileno())


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
