"""Steward decisions: must-link, cannot-link and pins, kept durably with who, when and why.

Stewards correct the machine, and a correction must stick: every decision is one line appended to
a JSON Lines file (``state/decisions.jsonl``) and applied on every later run. Nothing is ever
rewritten: a decision is withdrawn by appending a ``revoke`` line, so the file is its own audit
trail. Appends are flushed and fsynced before they return (a decision a steward was told is saved
survives a power cut) and serialised with an exclusive lock (two stewards at once cannot
interleave lines).

Reading is strict about damage it cannot explain: a line in the middle that is not a valid
decision is an error naming the file and line number. The one tolerated flaw is a torn last
line without its newline, the mark of a crash in the middle of an append that was therefore never
acknowledged; it is ignored with a warning and cut off before the next append.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

logger = logging.getLogger(__name__)

DecisionKind = Literal["must_link", "cannot_link", "pin", "revoke"]


class DecisionError(ValueError):
    """A decision cannot be recorded, or the decisions file is damaged.

    A refusal a steward can meet also says what it means by a message id of the product's
    catalogue (``message_parts``, the ``error.*`` ids of ``pipelines.i18n``): this package
    does not know the catalogue, so its English text is written here and a test holds the two
    equal; the workspace shows the refusal in the reader's language."""

    def __init__(self, message: str, message_id: str | None = None, **values: object):
        super().__init__(message)
        self.message_parts: list[tuple[str, dict[str, object]]] = (
            [(message_id, values)] if message_id else []
        )


class Decision(BaseModel):
    """One line of the decisions file (``docs/architecture.md``, State)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    decision_id: str
    kind: DecisionKind
    record_key_l: str | None = None
    record_key_r: str | None = None
    golden_id: str | None = None
    field: str | None = None
    value: str | None = None
    actor: str
    reason: str
    decided_at: datetime
    revokes: str | None = None

    @field_validator("decision_id", "actor", "reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("decided_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must carry a time zone (decisions are recorded in UTC)")
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Decision:
        needed = {
            "must_link": ("record_key_l", "record_key_r"),
            "cannot_link": ("record_key_l", "record_key_r"),
            "pin": ("golden_id", "field", "value"),
            "revoke": ("revokes",),
        }[self.kind]
        missing = [name for name in needed if not getattr(self, name)]
        if missing:
            raise ValueError(f"a {self.kind} decision needs {', '.join(missing)}")
        if self.kind in ("must_link", "cannot_link") and self.record_key_l == self.record_key_r:
            raise ValueError(f"a {self.kind} needs two different records")
        return self

    @property
    def pair(self) -> tuple[str, str]:
        """The linked records in a canonical order (a link has no direction)."""
        left, right = self.record_key_l or "", self.record_key_r or ""
        return (left, right) if left <= right else (right, left)

    def describe(self) -> str:
        """The decision in a line of English (the CLI, logs, the JSON API)."""
        if self.kind in ("must_link", "cannot_link"):
            return f"{self.kind} {self.record_key_l} ~ {self.record_key_r}"
        if self.kind == "pin":
            return f"pin {self.golden_id}.{self.field} = {self.value!r}"
        return f"revoke {self.revokes}"

    def message(self) -> tuple[str, dict[str, str | None]]:
        """:meth:`describe` as a message id of the product's catalogue (``decision.<kind>``)
        and its values, for pages and terminals in the reader's language."""
        if self.kind in ("must_link", "cannot_link"):
            return f"decision.{self.kind}", {"left": self.record_key_l, "right": self.record_key_r}
        if self.kind == "pin":
            values = {"golden_id": self.golden_id, "field": self.field, "value": self.value}
            return "decision.pin", values
        return "decision.revoke", {"revokes": self.revokes}


class DecisionStore:
    """The steward decisions of one warehouse, over ``state/decisions.jsonl``.

    Every call reads the file afresh, so separate instances (a CLI, a running pipeline) always
    agree on what has been decided.
    """

    def __init__(self, path: str | os.PathLike[str], clock: Callable[[], datetime] | None = None):
        self.path = Path(path)
        self._clock = clock or (lambda: datetime.now(UTC))

    # --- writing ---------------------------------------------------------------------------
    def add_must_link(self, l: str, r: str, actor: str, reason: str) -> Decision:  # noqa: E741
        """Records ``l`` and ``r`` are the same customer, whatever the model scores."""
        return self._add_link("must_link", l, r, actor, reason)

    def add_cannot_link(self, l: str, r: str, actor: str, reason: str) -> Decision:  # noqa: E741
        """Records ``l`` and ``r`` are different customers, whatever the model scores."""
        return self._add_link("cannot_link", l, r, actor, reason)

    def add_pin(self, golden_id: str, field: str, value: str, actor: str, reason: str) -> Decision:
        """The golden record ``golden_id`` shows ``value`` in ``field``, whatever the sources say.

        A later pin on the same golden id and field supersedes an earlier one.
        """
        with self._locked() as handle:
            return self._append(
                handle,
                kind="pin",
                golden_id=golden_id,
                field=field,
                value=value,
                actor=actor,
                reason=reason,
            )

    def revoke(self, decision_id: str, actor: str, reason: str) -> Decision:
        """Withdraw an active decision; the decision and its revocation both stay on file."""
        with self._locked() as handle:
            decisions = self._read(handle)
            target = next((d for d in decisions if d.decision_id == decision_id), None)
            if target is None:
                raise DecisionError(
                    f"no decision {decision_id!r} in {self.path}",
                    "error.no_decision",
                    decision_id=decision_id,
                    path=str(self.path),
                )
            if target.kind == "revoke":
                raise DecisionError(
                    f"{decision_id} is itself a revocation; record the decision again instead",
                    "error.revoke_revocation",
                    decision_id=decision_id,
                )
            revoked_by = _revocations(decisions).get(decision_id)
            if revoked_by:
                raise DecisionError(
                    f"{decision_id} was already revoked by {revoked_by}",
                    "error.already_revoked",
                    decision_id=decision_id,
                    revoked_by=revoked_by,
                )
            return self._append(
                handle, kind="revoke", revokes=decision_id, actor=actor, reason=reason
            )

    def _add_link(
        self, kind: DecisionKind, left: str, right: str, actor: str, reason: str
    ) -> Decision:
        if left == right:
            raise DecisionError(
                f"a {kind} needs two different records", "error.same_record", kind=kind
            )
        with self._locked() as handle:
            pair = (left, right) if left <= right else (right, left)
            active = _active(self._read(handle))
            for existing in active:
                if existing.kind not in ("must_link", "cannot_link") or existing.pair != pair:
                    continue
                if existing.kind == kind:
                    logger.info("%s already recorded as %s", kind, existing.decision_id)
                    return existing
                raise DecisionError(
                    f"{left} and {right} already have an active {existing.kind} "
                    f"({existing.decision_id}); revoke it before recording a {kind}",
                    "error.link_exists",
                    left=left,
                    right=right,
                    existing=existing.kind,
                    existing_id=existing.decision_id,
                    kind=kind,
                )
            _refuse_contradiction(active, kind, pair)
            return self._append(
                handle, kind=kind, record_key_l=left, record_key_r=right, actor=actor, reason=reason
            )

    def _append(self, handle: IO[str], **fields: str) -> Decision:
        try:
            decision = Decision(
                decision_id=self._new_id(handle), decided_at=self._clock(), **fields
            )
        except ValidationError as exc:
            raise DecisionError(f"cannot record the decision: {_explain(exc)}") from None
        line = decision.model_dump_json(exclude_none=False) + "\n"
        handle.seek(0, os.SEEK_END)
        handle.write(line)
        handle.flush()
        os.fsync(handle.fileno())
        logger.info(
            "recorded %s: %s by %s", decision.decision_id, decision.describe(), decision.actor
        )
        return decision

    def _new_id(self, handle: IO[str]) -> str:
        taken = {d.decision_id for d in self._read(handle)}
        while True:
            candidate = f"D-{secrets.token_hex(5)}"
            if candidate not in taken:
                return candidate

    @contextmanager
    def _locked(self) -> Iterator[IO[str]]:
        """The file opened for reading and appending, under an exclusive lock."""
        created = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+", encoding="utf-8", newline="") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                if created:
                    _fsync_dir(self.path.parent)
                self._cut_torn_tail(handle)
                yield handle
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _cut_torn_tail(self, handle: IO[str]) -> None:
        handle.seek(0)
        text = handle.read()
        if not text or text.endswith("\n"):
            return
        start = text.rfind("\n") + 1
        tail = text[start:]
        try:
            json.loads(tail)
        except json.JSONDecodeError:
            logger.warning(
                "%s: cutting off a torn last line (%d characters) left by an interrupted append",
                self.path,
                len(tail),
            )
            handle.truncate(len(text[:start].encode("utf-8")))
        else:
            handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())

    # --- reading ---------------------------------------------------------------------------
    def history(self) -> list[Decision]:
        """Every decision on file, revocations included, oldest first."""
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8", newline="") as handle:
            return self._read(handle)

    def active(self) -> list[Decision]:
        """Must-links, cannot-links and pins that have not been revoked, oldest first."""
        return _active(self.history())

    def links(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """Active (must-link pairs, cannot-link pairs), each pair in sorted order."""
        active = self.active()
        must = sorted({d.pair for d in active if d.kind == "must_link"})
        cannot = sorted({d.pair for d in active if d.kind == "cannot_link"})
        return must, cannot

    def pins(self) -> list[Decision]:
        """Active pins, oldest first (a later pin of the same field supersedes an earlier one)."""
        return [d for d in self.active() if d.kind == "pin"]

    def _read(self, handle: IO[str]) -> list[Decision]:
        handle.seek(0)
        lines = handle.read().split("\n")
        torn = lines.pop() if lines else ""  # text after the last newline ('' when none)
        decisions: list[Decision] = []
        seen: dict[str, int] = {}
        for number, line in enumerate(lines, start=1):
            if line.strip():
                decisions.append(self._parse(line, number, decisions, seen))
        if torn.strip():
            try:
                decisions.append(self._parse(torn, len(lines) + 1, decisions, seen))
            except DecisionError:
                logger.warning(
                    "%s line %d: ignoring a torn last line left by an interrupted append",
                    self.path,
                    len(lines) + 1,
                )
        return decisions

    def _parse(
        self, line: str, number: int, decisions: list[Decision], seen: dict[str, int]
    ) -> Decision:
        where = f"{self.path} line {number}"
        fix = "repair or remove that line (the file is append-only, so nothing else changes)"
        try:
            payload = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DecisionError(f"{where} is not valid JSON ({exc.msg}); {fix}") from None
        if not isinstance(payload, dict):
            raise DecisionError(f"{where} is not a JSON object; {fix}")
        try:
            decision = Decision.model_validate(payload)
        except ValidationError as exc:
            raise DecisionError(
                f"{where} is not a valid decision ({_explain(exc)}); {fix}"
            ) from None
        if decision.decision_id in seen:
            raise DecisionError(
                f"{where} repeats decision id {decision.decision_id} of line "
                f"{seen[decision.decision_id]}; {fix}"
            )
        if decision.kind == "revoke" and decision.revokes not in seen:
            raise DecisionError(
                f"{where} revokes {decision.revokes}, which no earlier line records; {fix}"
            )
        seen[decision.decision_id] = number
        return decision


def _explain(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'decision'}: {e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors()
    )


def _revocations(decisions: list[Decision]) -> dict[str, str]:
    """Revoked decision id -> the id of the revocation."""
    return {d.revokes: d.decision_id for d in decisions if d.kind == "revoke" and d.revokes}


def _active(decisions: list[Decision]) -> list[Decision]:
    revoked = _revocations(decisions)
    return [d for d in decisions if d.kind != "revoke" and d.decision_id not in revoked]


def _refuse_contradiction(
    active: list[Decision], kind: DecisionKind, pair: tuple[str, str]
) -> None:
    """Refuse a link that, with the active ones, would join two records a cannot-link separates.

    Must-links are transitive (a~b and b~c put a and c in one customer), so a contradiction can
    be indirect; no clustering could honour both, and the steward is the one to choose.
    """
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        parent.setdefault(key, key)
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    musts = [d.pair for d in active if d.kind == "must_link"]
    cannots = [(d.pair, d.decision_id) for d in active if d.kind == "cannot_link"]
    new = "the new cannot-link"
    if kind == "must_link":
        musts.append(pair)
    else:
        cannots.append((pair, new))
    for a, b in musts:
        parent[root(a)] = root(b)
    broken = [name for (a, b), name in cannots if root(a) == root(b)]
    if broken:
        # Only a cannot-link's own pair can newly break when a cannot-link is added (the
        # must-links did not change), so "the new cannot-link" is then the whole list.
        message_id = (
            "error.new_cannot_link_contradiction" if new in broken else ("error.contradiction")
        )
        raise DecisionError(
            f"a {kind} of {pair[0]} and {pair[1]} would contradict {', '.join(broken)}: "
            "active must-links would join records a cannot-link keeps apart; revoke one first",
            message_id,
            kind=kind,
            left=pair[0],
            right=pair[1],
            broken=", ".join(broken),
        )


def _fsync_dir(path: Path) -> None:
    """Make a newly created file's directory entry durable too."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
