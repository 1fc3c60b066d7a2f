"""Steward decisions, written one way whoever writes them: the CLI or the stewards' workspace.

A decision (must-link, cannot-link, pin, revoke) is checked before anything is written: record
keys must be accepted records of the latest run, a pin must name a published golden id (not one
merged away) and a value in canonical form. Then every decision of a request is appended to
``state/decisions.jsonl`` and audited with the actor's name, under the warehouse's run lock when
the product has one, so a decision never lands in the middle of a run's read of the file.

Why one module: ``golden review decide`` and the web app's link button must refuse the same
things and leave the same trail; two copies would drift.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines import audit
from pipelines.errors import UsageError
from pipelines.i18n import Explained, MessagePart
from pipelines.warehouse import Warehouse

if TYPE_CHECKING:
    from matching.decisions import DecisionStore

logger = logging.getLogger(__name__)


class StewardshipError(Explained, UsageError):
    """A decision or confirmation refused, said by message ids of the catalogue: ``str()`` is
    the English text (the CLI, the JSON API), the workspace shows it in the reader's language
    (:func:`pipelines.i18n.explain`)."""


def _refused(key: str, **values: object) -> StewardshipError:
    return StewardshipError((key, values))


@dataclass(frozen=True)
class Link:
    """Two records are (``link``) or are not the same customer."""

    left: str
    right: str
    link: bool


@dataclass(frozen=True)
class Pin:
    """A golden record shows ``value`` in ``field`` whatever the sources say."""

    golden_id: str
    field: str
    value: str


@dataclass(frozen=True)
class Revoke:
    """Withdraw an active decision (it stays on file)."""

    decision_id: str


Change = Link | Pin | Revoke


@dataclass(frozen=True)
class Written:
    """One decision as recorded, with the pins it superseded (ids and earlier values)."""

    decision_id: str
    kind: str
    description: str
    supersedes: tuple[tuple[str, str], ...] = ()
    message: MessagePart | None = None
    """``description`` as a catalogue message id and its values (pages in any language)."""


def latest_run_file(wh: Warehouse, relative: str, produced_by: str) -> tuple[str, Path]:
    """The newest run that has ``runs/<id>/<relative>``."""
    for run_id in reversed(wh.run_ids()):
        path = wh.run(run_id) / relative
        if path.exists():
            return run_id, path
    raise _refused("error.no_run_file", root=wh.root, relative=relative, stage=produced_by)


def check_record_keys(wh: Warehouse, keys: Sequence[str]) -> None:
    """Decisions on record keys nobody has: almost always a typo, so refuse them."""
    import polars as pl

    run_id, path = latest_run_file(wh, "staged/accepted.parquet", "validate_staged")
    wanted = sorted(set(keys))
    found = set(
        pl.scan_parquet(path)
        .select("record_key")
        .filter(pl.col("record_key").is_in(wanted))
        .collect()["record_key"]
    )
    unknown = [k for k in keys if k not in found]
    if unknown:
        raise _refused("error.unknown_record_keys", keys=unknown, run=run_id, path=path)


_FORMATS: dict[str, str] = {
    "phone": r"\+[1-9]\d{6,14}",
    "country": r"[A-Z]{2}",
    "phone_extension": r"\d{1,10}",
}
"""Canonical forms of a pin's value; each refusal says the form (``error.not_canonical.*``)."""


def check_pin(wh: Warehouse, golden_id: str, field: str, value: str) -> str:
    """Refuse pins the golden stage would refuse or that could not apply; returns the value
    in canonical form (e-mail addresses normalised)."""
    import polars as pl

    from matching.ids import normalise_registry
    from pipelines.schema import GOLDEN_FIELDS

    if field not in GOLDEN_FIELDS:
        raise _refused("error.not_golden_field", field=field, fields=", ".join(GOLDEN_FIELDS))
    if field == "date_of_birth":
        try:
            date.fromisoformat(value)
        except ValueError:
            raise _refused("error.bad_date", value=value) from None
    elif field == "email":
        from email_validator import EmailNotValidError, validate_email

        try:
            value = validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise _refused("error.bad_email", value=value, error=exc) from None
    elif field in _FORMATS and not re.fullmatch(_FORMATS[field], value):
        raise _refused(f"error.not_canonical.{field}", value=value)
    if not wh.id_registry.exists():
        raise _refused("error.no_registry", path=wh.id_registry)
    registry = normalise_registry(pl.read_parquet(wh.id_registry))
    if registry.filter(pl.col("golden_id") == golden_id).height:
        return value
    absorbed_by = registry.filter(pl.col("absorbed_ids").list.contains(golden_id))
    if absorbed_by.height:
        survivor = absorbed_by["golden_id"][0]
        raise _refused("error.merged_into", golden_id=golden_id, survivor=survivor)
    raise _refused("error.unknown_golden_id", golden_id=golden_id, path=wh.id_registry)


def _run_lock(wh: Warehouse) -> contextlib.AbstractContextManager[object]:
    """The warehouse's run lock (:mod:`pipelines.lock`), held once for the whole request; it
    waits as long as the caller set with :func:`pipelines.lock.default_wait` (the CLI's
    ``--wait``), else is refused at once while a run, restore or erasure holds it."""
    from pipelines.lock import run_lock

    return run_lock(wh.root, "steward decision")


def write_decisions(
    warehouse_root: str | Path,
    changes: Sequence[Change],
    actor: str,
    reason: str,
    *,
    check_keys: bool = True,
) -> list[Written]:
    """Check every change, then record and audit each; returns them as written.

    Nothing is written when a check fails. A link both sides already have is returned as the
    existing decision (recording it twice would change nothing). ``actor`` is the person
    (``--actor`` or the workspace user); ``reason`` is kept with every decision.
    """
    from matching.decisions import DecisionError, DecisionStore

    wh = Warehouse(Path(warehouse_root))
    if not reason or not reason.strip():
        raise _refused("error.reason_needed")
    if not actor or not actor.strip():
        raise _refused("error.actor_needed")
    # Checked under the lock too: a run must not publish between the checks and the write.
    with _run_lock(wh):
        links = [c for c in changes if isinstance(c, Link)]
        if check_keys and links:
            check_record_keys(wh, [k for c in links for k in (c.left, c.right)])
        pins = [
            Pin(c.golden_id, c.field, check_pin(wh, c.golden_id, c.field, c.value))
            if isinstance(c, Pin)
            else c
            for c in changes
        ]
        store = DecisionStore(wh.decisions)
        written: list[Written] = []
        for change in pins:
            try:
                written.append(_write_one(wh, store, change, actor, reason))
            except DecisionError as exc:
                done = ", ".join(w.decision_id for w in written)
                if not exc.message_parts:  # a damaged file: its own words, naming the line
                    suffix = f" (already recorded: {done})" if done else ""
                    raise UsageError(f"{exc}{suffix}") from None
                already: list[MessagePart] = [("error.already_recorded", {"ids": done})]
                raise StewardshipError(*exc.message_parts, *(already if done else [])) from None
    return written


def _write_one(
    wh: Warehouse, store: DecisionStore, change: Change, actor: str, reason: str
) -> Written:
    if isinstance(change, Link):
        add = store.add_must_link if change.link else store.add_cannot_link
        decision = add(change.left, change.right, actor, reason)
        details = {"record_key_l": change.left, "record_key_r": change.right}
        action = f"decision.{decision.kind}"
        audit.record(wh.root, actor, action, decision.decision_id, details, reason)
        return Written(
            decision.decision_id, decision.kind, decision.describe(), message=decision.message()
        )
    if isinstance(change, Pin):
        earlier = [
            (p.decision_id, p.value or "")
            for p in store.pins()
            if (p.golden_id, p.field) == (change.golden_id, change.field)
        ]
        decision = store.add_pin(change.golden_id, change.field, change.value, actor, reason)
        # The rectification path: audited without the value, which may be personal data.
        details = {"golden_id": change.golden_id, "field": change.field}
        audit.record(wh.root, actor, "decision.pin", decision.decision_id, details, reason)
        return Written(
            decision.decision_id,
            decision.kind,
            decision.describe(),
            tuple(earlier),
            message=decision.message(),
        )
    revocation = store.revoke(change.decision_id, actor, reason)
    audit.record(
        wh.root,
        actor,
        "decision.revoke",
        revocation.decision_id,
        {"revokes": change.decision_id},
        reason,
    )
    return Written(
        revocation.decision_id,
        "revoke",
        f"revoked {change.decision_id}",
        message=("decision.revoked", {"revokes": change.decision_id}),
    )


def known_target(warehouse_root: str | Path, target: str) -> bool:
    """Whether ``target`` is a record key or golden id of the published ``customer_xref``."""
    import polars as pl

    from pipelines.publish.reader import current_run_id, read_tables

    if current_run_id(warehouse_root) is None:
        return False
    xref = pl.from_arrow(read_tables(warehouse_root, ["customer_xref"])["customer_xref"])
    assert isinstance(xref, pl.DataFrame)
    return bool(
        xref.select(
            ((pl.col("record_key") == target) | (pl.col("golden_id") == target)).any()
        ).item()
    )


def confirm_review(
    warehouse_root: str | Path, target: str, actor: str, reason: str
) -> tuple[datetime, int]:
    """A steward checked ``target`` (a record key or a golden id): its periodic-review clock
    restarts and the ``review_due`` rows it clears go; audited (``review.confirm``). Returns
    when, and how many rows were cleared. Used by ``golden review confirm`` and the workspace."""
    from pipelines.review_due.compute import clear_confirmed
    from pipelines.review_due.confirmations import confirm

    wh = Warehouse(Path(warehouse_root))
    if not known_target(wh.root, target):
        raise _refused("error.unknown_target", target=target, root=wh.root)
    with _run_lock(wh):
        at = confirm(wh, target, reason, actor)
        cleared = clear_confirmed(wh, target)
    return at, cleared
