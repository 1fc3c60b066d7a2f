"""The audit trail: who did what to the customer data, when, and why.

Every action that reads or changes personal data in bulk, or changes what is published, leaves
one line in ``state/audit.jsonl``: runs (start, finish with status), publishes, backups,
restores, steward decisions (decide, pin, revoke), erasures, subject exports and retention.
A line is ``{"at", "actor", "action", "target", "details", "reason"}`` (``docs/architecture.md``,
State). Lines never carry cleartext personal data: an erasure names its subject by a salted hash.

Why a plain JSON Lines file: it survives every failure mode the rest of the warehouse does
(backed up with ``state/``, merged and never shortened by a restore), it can be read with
``jq`` during an incident, and appends are cheap enough to make from anywhere. Appends take an
exclusive lock (two processes cannot interleave lines) and are fsynced before they return, so an
action the caller was told is audited survives a power cut. The file is never rewritten by the
pipeline. A line that is not a valid event (a torn append, a hand edit) is an error naming the
file and the line number whenever the trail is read: a damaged audit trail must be repaired by
a person, not skipped. The trail is also published as the ``audit_log`` table.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import logging
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from pipelines.errors import GoldenError
from pipelines.warehouse import Warehouse

if TYPE_CHECKING:
    import pyarrow as pa

logger = logging.getLogger(__name__)

ACTIONS: dict[str, str] = {
    "run.start": "a pipeline run started (target: run id)",
    "run.finish": "a pipeline run ended; details.status is succeeded or failed",
    "publish": "a run's golden tables became the published version",
    "backup": "a published run was backed up (target: run id)",
    "restore": "a backup was restored into the warehouse (target: run id)",
    "decision.must_link": "a steward linked two records (target: decision id)",
    "decision.cannot_link": "a steward separated two records (target: decision id)",
    "decision.pin": "a steward pinned a golden field: the rectification path",
    "decision.revoke": "a steward withdrew a decision",
    "erasure": "a subject was erased (target: the subject's salted hash)",
    "erasure.reapplied": "recorded erasures were applied again, e.g. after a restore",
    "backup_key.destroyed": "a backup holding erased subjects was made unreadable",
    "backup.deleted": "an unencrypted backup holding erased subjects was deleted",
    "export": "everything held about a subject was exported (access request)",
    "retention": "source records past privacy.record_retention_days were erased",
    "lock.takeover": "the run lock was taken over from a holder that died holding it",
    "lock.break": "an Airflow DAG run's lease on the warehouse was removed by hand",
    "workspace.user_added": "a stewards' workspace account was created (target: user name)",
    "workspace.token_issued": "an API token was issued (details.token: its public id)",
    "workspace.user_removed": "a stewards' workspace account and its tokens were removed",
}
"""The actions the pipeline records, with what each means. Other tools may add their own
(lower-case words joined by dots)."""

_ACTION = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)*$")


class AuditLogError(GoldenError):
    """The audit trail cannot be written, or holds a line that is not a valid event."""


class AuditEvent(BaseModel):
    """One line of ``state/audit.jsonl``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any] = {}
    reason: str | None = None

    @field_validator("at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must carry a time zone (audit times are UTC)")
        return value.astimezone(UTC)

    @field_validator("actor", "target")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("action")
    @classmethod
    def _action_name(cls, value: str) -> str:
        if not _ACTION.match(value):
            raise ValueError(f"{value!r} is not an action name (lower-case words joined by dots)")
        return value


def actor_name(explicit: str | None = None) -> str:
    """Who is acting: the explicit ``--actor``, else ``GOLDEN_ACTOR``, else the OS user."""
    if explicit and explicit.strip():
        return explicit.strip()
    if os.environ.get("GOLDEN_ACTOR", "").strip():
        return os.environ["GOLDEN_ACTOR"].strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return f"uid:{os.getuid()}"


def record(
    warehouse_root: str | os.PathLike[str],
    actor: str | None,
    action: str,
    target: str,
    details: dict[str, Any] | None = None,
    reason: str | None = None,
) -> AuditEvent:
    """Append one event to the warehouse's audit trail and make it durable before returning.

    ``actor`` None means "whoever runs this" (:func:`actor_name`). ``details`` must be JSON
    serialisable; dates and paths are written as text.
    """
    try:
        event = AuditEvent(
            at=datetime.now(UTC),
            actor=actor_name(actor),
            action=action,
            target=target,
            details=details or {},
            reason=reason,
        )
    except ValidationError as exc:
        raise AuditLogError(f"cannot record audit event {action!r}: {_explain(exc)}") from None
    append_json_line(Warehouse(Path(warehouse_root)).audit_log, event.model_dump(mode="json"))
    logger.info("audit: %s %s %s", event.actor, event.action, event.target)
    return event


def append_json_line(path: Path, payload: dict[str, Any]) -> None:
    """Append one JSON object as a line of an append-only log, locked and fsynced.

    Shared by the logs of ``state/`` that are only ever appended to (audit trail, suppression
    list, erasure ledger). The exclusive lock keeps two writers from interleaving lines; the
    fsync makes the line durable before the caller reports success.
    """
    line = json.dumps(payload, default=str, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
    except OSError as exc:
        raise AuditLogError(f"cannot open {path} to append to it: {exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        prefix = b""
        if size and os.pread(fd, 1, size - 1) != b"\n":
            # A torn earlier append: end it here so it stays a line of its own, which every
            # reader reports by number, instead of gluing this line onto it.
            prefix = b"\n"
            logger.error("%s: the last line has no newline (a torn append); it is kept", path)
        os.write(fd, prefix + line.encode("utf-8"))
        os.fsync(fd)
    except OSError as exc:
        raise AuditLogError(f"cannot append to {path}: {exc}") from exc
    finally:
        os.close(fd)
    if created:
        _fsync_dir(path.parent)


def read_audit(warehouse_root: str | os.PathLike[str]) -> list[AuditEvent]:
    """Every event of the audit trail, oldest first; a damaged line is an error naming it."""
    path = Warehouse(Path(warehouse_root)).audit_log
    if not path.exists():
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditLogError(f"cannot read the audit trail {path}: {exc}") from exc
    events: list[AuditEvent] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            events.append(AuditEvent.model_validate_json(line))
        except ValidationError as exc:
            problems.append(f"line {number}: {_explain(exc)}")
    if problems:
        shown = "; ".join(problems[:5]) + (
            f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        )
        raise AuditLogError(
            f"the audit trail {path} has {len(problems)} line(s) that are not valid events "
            f"({shown}). The trail is append-only and never rewritten by the pipeline: repair "
            "or annotate those lines by hand (keep a copy of the original)"
        )
    return events


def audit_table(warehouse_root: str | os.PathLike[str]) -> pa.Table:
    """The audit trail as the rows of the published ``audit_log`` table (details as JSON)."""
    import pyarrow as pa

    events = read_audit(warehouse_root)
    return pa.table(
        {
            "at": pa.array([e.at for e in events], pa.timestamp("us", tz="UTC")),
            "actor": pa.array([e.actor for e in events], pa.string()),
            "action": pa.array([e.action for e in events], pa.string()),
            "target": pa.array([e.target for e in events], pa.string()),
            "details": pa.array(
                [json.dumps(e.details, sort_keys=True, default=str) for e in events], pa.string()
            ),
            "reason": pa.array([e.reason for e in events], pa.string()),
        }
    )


def _explain(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(map(str, error["loc"])) or "event"
        parts.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
    return ", ".join(parts)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
