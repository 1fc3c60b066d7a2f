"""The erasure ledger (``state/erasures.jsonl``): what was erased when, and what is left to do.

One ``erasure`` line per erasure (a subject's request or a retention sweep) and one
``backups_done`` line when the backups that may still hold it have been dealt with. It holds no
personal data: the subject appears as a salted hash, customers as golden ids (downstream systems
that stored an erased golden id need to hear about it), records only as counts. Backups taken
before an erasure are found again from it (``at`` and ``first_batch``) whenever the backup
policy is enforced, so nothing has to be listed up front.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from pipelines.audit import append_json_line
from pipelines.errors import PrivacyError
from pipelines.warehouse import Warehouse


class ErasureEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: Literal["erasure"] = "erasure"
    erasure_id: str
    kind: Literal["request", "retention", "reapplied"]
    at: datetime
    """When the warehouse was clean of the records; earlier backups may hold them."""
    subject: str | None = None
    """Salted hash of the identifier the request named (None for retention)."""
    golden_ids: list[str] = []
    records: int
    first_batch: str | None = None
    """Earliest batch that delivered any of the records: backups of earlier runs cannot hold
    them."""
    backups_due_at: datetime | None = None
    """When the backups that may hold the records are made unreadable (None: left to backup
    retention)."""


class BackupsDone(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: Literal["backups_done"] = "backups_done"
    erasure_id: str
    at: datetime
    backups: dict[str, str]
    """Backup run id -> what was done (``key destroyed``, ``deleted``, ``key already
    destroyed``)."""


def record_erasure(warehouse: Warehouse, entry: ErasureEntry) -> None:
    append_json_line(warehouse.erasures, entry.model_dump(mode="json"))


def record_backups_done(warehouse: Warehouse, done: BackupsDone) -> None:
    append_json_line(warehouse.erasures, done.model_dump(mode="json"))


def read_ledger(warehouse: Warehouse) -> tuple[list[ErasureEntry], dict[str, BackupsDone]]:
    """Every erasure, and the backup work done per erasure id."""
    path = warehouse.erasures
    if not path.exists():
        return [], {}
    erasures: list[ErasureEntry] = []
    done: dict[str, BackupsDone] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            payload = json.loads(line)
            if payload.get("event") == "backups_done":
                item = BackupsDone.model_validate(payload)
                done[item.erasure_id] = item
            else:
                erasures.append(ErasureEntry.model_validate(payload))
        except (json.JSONDecodeError, AttributeError, ValidationError) as exc:
            raise PrivacyError(
                f"{path} line {number} is not an erasure ledger entry "
                f"({str(exc).splitlines()[0]}); repair that line (the ledger is append-only)"
            ) from None
    return erasures, done


def pending_backups(warehouse: Warehouse) -> list[ErasureEntry]:
    """Erasures whose backups still wait to be dealt with, oldest first."""
    erasures, done = read_ledger(warehouse)
    return [e for e in erasures if e.backups_due_at is not None and e.erasure_id not in done]
