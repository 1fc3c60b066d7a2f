"""The workspace's reads, as plain data: one function per page, shared by the HTML pages and
the JSON API so the two can never show different things.

Every function takes the :class:`~workspace.masking.Masker` of the user asking and masks
personal values before they leave; lineage (record keys, golden ids, scores) is never masked.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from matching.active import suggestion_code
from pipelines.i18n import text
from pipelines.schema import CANONICAL_FIELDS
from workspace.data import LISTED, Hit, Reader, Snapshot, normalise_name
from workspace.masking import Masker

if TYPE_CHECKING:
    from matching.decisions import Decision
    from pipelines.config import PipelineConfig

logger = logging.getLogger(__name__)

SEARCH_LIMIT = 25
_ID_LIKE = re.compile(r"^[\w:.@+\-]+$")


@dataclass
class Context:
    """What every read needs: the configuration, the reader and the asking user's masks."""

    config: PipelineConfig
    reader: Reader
    masker: Masker

    @property
    def snapshot(self) -> Snapshot:
        return self.reader.snapshot()


def _phone_keys(config: PipelineConfig, text: str) -> list[str]:
    """E.164 forms of a phone typed in any format, read in each source's default region (the
    product's own phone normaliser, so a search finds what standardisation stored)."""
    from pipelines.standardise.phones import to_e164

    digits = re.sub(r"[^0-9+]", "", text)
    if len(re.sub(r"\D", "", digits)) < 6:
        return []
    regions = sorted({s.default_phone_region for s in config.sources} | {"US"})
    found: list[str] = []
    for region in [None, *regions]:
        e164, _, key = to_e164(text.strip(), region)
        for candidate in (e164, key):
            if candidate and candidate not in found:
                found.append(candidate)
    return found


def search(
    ctx: Context, text: str, city: str | None = None, birth_year: int | None = None
) -> list[dict[str, Any]]:
    """Customers matching ``text`` as any identifier (e-mail, phone in any format, record key,
    source record id, golden id, absorbed id) or, failing those, as a name (fuzzy; ``city``
    and ``birth_year`` narrow it). Best first; each says what it matched on."""
    snap = ctx.snapshot
    text = text.strip()
    if not text:
        return []
    hits: list[Hit] = []
    candidates = [text]
    if "@" in text:
        candidates.append(text.lower())
    for key in candidates:
        if _ID_LIKE.match(key):
            hits.extend(snap.lookup(key))
    for key in _phone_keys(ctx.config, text):
        hits.extend(h for h in snap.lookup(key) if h.matched_by == "phone")
    if not hits and any(c.isalpha() for c in text) and "@" not in text:
        hits = snap.search_names(text, city, birth_year, SEARCH_LIMIT)
    seen: dict[str, Hit] = {}
    for hit in hits:
        seen.setdefault(hit.golden_id, hit)
    ordered = list(seen.values())[:SEARCH_LIMIT]
    if not ordered:
        return []
    by_id = {h.golden_id: h.row for h in ordered if h.row is not None}
    missing = [h.golden_id for h in ordered if h.row is None]
    for row in snap.of_customers("golden_customers", missing) if missing else []:
        by_id[row["golden_id"]] = {c: row.get(c) for c in LISTED}
    out = []
    for hit in ordered:
        row = by_id.get(hit.golden_id)
        if row is None:
            continue
        if city and hit.matched_by != "name" and not _same(row.get("city"), city):
            continue
        dob = row.get("date_of_birth")
        if birth_year and hit.matched_by != "name" and (dob is None or dob.year != birth_year):
            continue
        out.append(
            {
                **ctx.masker.row(row),
                "matched_by": hit.matched_by,
                "score": round(hit.score, 3),
            }
        )
    return out


def _same(a: str | None, b: str) -> bool:
    return a is not None and normalise_name(a) == normalise_name(b)


def resolve_id(ctx: Context, golden_id: str) -> str | None:
    """The current golden id of ``golden_id``: itself, or the id that absorbed it."""
    snap = ctx.snapshot
    hits = snap.lookup(golden_id)
    if any(h.matched_by == "golden_id" for h in hits):
        return golden_id
    absorbed = [h.golden_id for h in hits if h.matched_by == "absorbed_id"]
    return absorbed[0] if absorbed else None


def _decisions(ctx: Context) -> list[Decision]:
    from matching.decisions import DecisionStore

    return DecisionStore(ctx.reader.warehouse.decisions).history()


def decision_rows(
    ctx: Context, record_keys: set[str] | None = None, golden_ids: set[str] | None = None
) -> list[dict[str, Any]]:
    """Steward decisions (all, or those touching the records / golden ids), newest first,
    each with whether it still applies."""
    history = _decisions(ctx)
    revoked = {d.revokes: d for d in history if d.kind == "revoke" and d.revokes}
    by_id = {d.decision_id: d for d in history}
    out = []
    for decision in reversed(history):
        target = by_id.get(decision.revokes or "") if decision.kind == "revoke" else decision
        if target is None:
            continue
        touches = record_keys is None and golden_ids is None
        if record_keys and {target.record_key_l, target.record_key_r} & record_keys:
            touches = True
        if golden_ids and target.golden_id in golden_ids:
            touches = True
        if not touches:
            continue
        row = decision.model_dump(mode="json")
        row["active"] = decision.kind != "revoke" and decision.decision_id not in revoked
        key, values = decision.message()
        if decision.kind == "pin":
            row["value"] = ctx.masker.value(decision.field or "", decision.value)
            values = {**values, "value": row["value"]}
        row["describe"] = text("en", key, **values)
        row["describe_parts"] = [{"id": key, "values": values}]
        out.append(row)
    return out


def _optional(snap: Snapshot, table: str, where: str, params: list[Any]) -> list[dict[str, Any]]:
    """Rows of a table another part of the product may publish, when it is there."""
    if not snap.has(table):
        return []
    columns = snap.columns(table)
    needed = set(re.findall(r'"(\w+)"', where))
    if not needed <= set(columns):
        return []
    try:
        return snap.query(f'SELECT * FROM "{table}" WHERE {where}', params)
    except Exception as exc:  # noqa: BLE001 - an optional table must not break the page
        logger.warning("workspace: cannot read %s: %s", table, exc)
        return []


def customer(ctx: Context, golden_id: str) -> dict[str, Any] | None:
    """Everything about one customer: the golden record with each field's provenance and
    status, the source records side by side (raw and standardised, differences marked), the
    history, the steward decisions, review reasons and open review pairs."""
    snap = ctx.snapshot
    rows = snap.of_customers("golden_customers", [golden_id])
    if not rows:
        return None
    golden = rows[0]
    xref = _xref(snap, golden_id)
    keys = [r["record_key"] for r in xref]
    staged = {r["record_key"]: r for r in snap.source_records(keys)}
    provenance = {r["field"]: r for r in snap.of_customers("golden_field_provenance", [golden_id])}
    decisions = decision_rows(ctx, set(keys), {golden_id})
    pinned = {
        d["field"] for d in decisions if d["kind"] == "pin" and d["active"] and d.get("field")
    }
    fields = []
    for name in CANONICAL_FIELDS:
        given = [_text(staged[k].get(name)) for k in keys if k in staged and staged[k].get(name)]
        origin = provenance.get(name)
        parts = _field_status(given, len(staged), name in pinned, golden.get(name) is not None)
        fields.append(
            {
                "field": name,
                "value": ctx.masker.value(name, golden.get(name)),
                "source": f"{origin['source_system']}:{origin['source_record_id']}"
                if origin
                else None,
                "rule": origin["rule"] if origin else None,
                "status": "".join(text("en", key, **values) for key, values in parts),
                "status_parts": [{"id": key, "values": values} for key, values in parts],
            }
        )
    records = []
    for ref in xref:
        record = staged.get(ref["record_key"], {})
        cells = []
        for name in CANONICAL_FIELDS:
            value, raw = record.get(name), record.get(f"raw_{name}")
            cells.append(
                {
                    "field": name,
                    "value": ctx.masker.value(name, value),
                    "raw": ctx.masker.value(f"raw_{name}", raw),
                    "differs_from_golden": value is not None
                    and _text(value) != _text(golden.get(name)),
                    "standardised": raw is not None and _text(raw) != _text(value),
                    "invalid": name in (record.get("invalid_fields") or []),
                }
            )
        records.append(
            {
                **ref,
                "source_updated_at": record.get("source_updated_at"),
                "raw_address": ctx.masker.value("raw_address", record.get("raw_address")),
                "cells": cells,
            }
        )
    history = snap.of_customers("golden_changes", [golden_id])
    events = snap.of_customers("golden_events", [golden_id])
    versions = snap.of_customers("golden_customers_history", [golden_id])
    profile = snap.of_customers("customer_profile", [golden_id])
    due = review_due(ctx, 100, golden_id, keys)["rows"]
    pairs = snap.query(
        "SELECT record_key_l, record_key_r, match_probability, match_weight "
        "FROM match_review_queue WHERE record_key_l IN (SELECT unnest($k)) "
        "OR record_key_r IN (SELECT unnest($k)) ORDER BY abs(match_weight)",
        {"k": keys},
    )
    return {
        "golden_id": golden_id,
        "run_id": snap.run_id,
        "golden": ctx.masker.row(golden),
        "fields": fields,
        "records": records,
        "source_records_available": snap.records is not None,
        "history": history,
        "events": [ctx.masker.row(e) for e in events],
        "versions": [ctx.masker.row(v) for v in versions],
        "decisions": decisions,
        "review_due": due,
        "profile": ctx.masker.row(profile[0]) if profile else None,
        "review_pairs": pairs,
    }


StatusPart = tuple[str, dict[str, Any]]
"""A message id of the catalogue (``field.*``) and its values: pages say it in the reader's
language, the API in English (``status``)."""


def _field_status(
    given: list[str], records: int, pinned: bool, has_value: bool
) -> list[StatusPart]:
    """How far the source records back the golden value of a field."""
    if pinned:
        return [("field.pinned", {})]
    distinct = len(set(given))
    if not given:
        return [("field.no_source", {})] if not has_value else [("field.chosen", {})]
    status: StatusPart
    if distinct > 1:
        status = ("field.disagree", {"count": distinct})
    elif len(given) == records:
        status = ("field.agree", {}) if records > 1 else ("field.single", {})
    else:
        status = ("field.some", {"given": len(given), "records": records})
    return [status] if has_value else [status, ("field.none_chosen", {})]


def _xref(snap: Snapshot, golden_id: str) -> list[dict[str, Any]]:
    rows = snap.of_customers("customer_xref", [golden_id])
    columns = ("record_key", "source_system", "source_record_id", "match_probability")
    return sorted(({c: r[c] for c in columns} for r in rows), key=lambda r: r["record_key"])


def _text(value: Any) -> str:
    return "" if value is None else str(value)


# --- match review ------------------------------------------------------------------------------
def _pair_key(left: str, right: str) -> tuple[str, str]:
    return (left, right) if left <= right else (right, left)


QUEUES: dict[str, str] = {"review": "match_review_queue", "training": "match_training_pairs"}
"""Review queues by name: the uncertain pairs, and the pairs suggested for labelling (active
learning, ``matching.active``), each a published table."""

_QUEUE_ORDER = {
    "review": "ORDER BY abs(match_weight), record_key_l, record_key_r",
    "training": "ORDER BY rank",
}


def review_pairs(
    ctx: Context,
    skipped: set[tuple[str, str]] | None = None,
    limit: int = 50,
    offset: int = 0,
    queue: str = "review",
) -> dict[str, Any]:
    """A published queue (:data:`QUEUES`) without pairs decided since: the review queue most
    uncertain first, the suggestions for training in their rank."""
    from matching.decisions import DecisionStore

    snap = ctx.snapshot
    table = QUEUES[queue]
    must, cannot = DecisionStore(ctx.reader.warehouse.decisions).links()
    decided = {_pair_key(*p) for p in (*must, *cannot)}
    extra = ", rank, suggested_because" if queue == "training" else ""
    rows = (
        snap.query(
            f"SELECT record_key_l, record_key_r, match_probability, match_weight{extra} "
            f"FROM {table} {_QUEUE_ORDER[queue]}"
        )
        if snap.has(table)
        else []
    )
    for row in rows:
        if "suggested_because" in row:
            row["suggested_code"] = suggestion_code(row["suggested_because"])
    skipped = skipped or set()
    pending = [r for r in rows if _pair_key(r["record_key_l"], r["record_key_r"]) not in decided]
    shown = [r for r in pending if _pair_key(r["record_key_l"], r["record_key_r"]) not in skipped]
    return {
        "run_id": snap.run_id,
        "queue": queue,
        "total": len(rows),
        "undecided": len(pending),
        "skipped": len(pending) - len(shown),
        "pairs": shown[offset : offset + limit],
    }


def _golden_ids(snap: Snapshot, keys: list[str]) -> dict[str, str]:
    rows = snap.query(
        "SELECT record_key, golden_id FROM customer_xref WHERE record_key IN (SELECT unnest($k))",
        {"k": keys},
    )
    return {r["record_key"]: r["golden_id"] for r in rows}


def waterfall(match_weight: float | None, weights: str | None) -> list[dict[str, Any]]:
    """Steps from the prior to the pair's match weight: one per comparison, in the order the
    model's settings list them; ``start`` and ``end`` are cumulative match weights. ``kind``
    (``prior``, ``comparison``, ``total``) lets a page say the first and last in its language;
    ``name`` stays the model's word (the API's contract)."""
    try:
        parsed = json.loads(weights) if weights else {}
    except json.JSONDecodeError:
        parsed = {}
    numeric = {k: float(v) for k, v in parsed.items() if isinstance(v, int | float)}
    total = float(match_weight) if match_weight is not None else sum(numeric.values())
    prior = total - sum(numeric.values())
    steps = [{"name": "prior", "kind": "prior", "weight": prior, "start": 0.0, "end": prior}]
    running = prior
    for name, weight in numeric.items():
        steps.append(
            {
                "name": name,
                "kind": "comparison",
                "weight": weight,
                "start": running,
                "end": running + weight,
            }
        )
        running += weight
    steps.append(
        {"name": "match weight", "kind": "total", "weight": total, "start": 0.0, "end": total}
    )
    low = min(0.0, *(min(s["start"], s["end"]) for s in steps))
    high = max(0.0, *(max(s["start"], s["end"]) for s in steps))
    span = (high - low) or 1.0
    for step in steps:
        a, b = sorted((step["start"], step["end"]))
        step["left_pct"] = round(100 * (a - low) / span, 2)
        step["width_pct"] = max(round(100 * (b - a) / span, 2), 0.5)
        step["zero_pct"] = round(100 * (0 - low) / span, 2)
    return steps


def pair(ctx: Context, left: str, right: str, queue: str = "review") -> dict[str, Any] | None:
    """One pair of a queue (:data:`QUEUES`): both records side by side (raw and standardised),
    the evidence as a waterfall, their golden ids and why the model or clustering held them
    apart; for a suggestion, why it is offered."""
    snap = ctx.snapshot
    table = QUEUES[queue]
    if not snap.has(table):
        return None
    rows = snap.query(
        f"SELECT * FROM {table} WHERE (record_key_l = ? AND record_key_r = ?) "
        "OR (record_key_l = ? AND record_key_r = ?)",
        [left, right, right, left],
    )
    if not rows:
        return None
    row = rows[0]
    left, right = row["record_key_l"], row["record_key_r"]
    staged = {r["record_key"]: r for r in snap.source_records([left, right])}
    owners = _golden_ids(snap, [left, right])
    threshold = ctx.config.matching.match_threshold
    probability = row["match_probability"]
    decisions = decision_rows(ctx, {left, right})
    cannot = [
        d
        for d in decisions
        if d["kind"] == "cannot_link"
        and d["active"]
        and {left, right} & {d["record_key_l"], d["record_key_r"]}
    ]
    shared = owners.get(left) is not None and owners.get(left) == owners.get(right)
    held_apart_by: list[dict[str, Any]] = []
    if shared:
        why: StatusPart = ("why.shared", {})
    elif probability is not None and probability >= threshold:
        why = ("why.held_apart", {"probability": f"{probability:.3f}", "threshold": threshold})
        held_apart_by = _held_apart_by(ctx, snap, left, right, owners)
    else:
        shown = f"{probability:.3f}" if probability is not None else text("en", "why.no_score")
        why = ("why.below", {"probability": shown, "threshold": threshold})
    fields = []
    for name in CANONICAL_FIELDS:
        lv, rv = row.get(f"{name}_l"), row.get(f"{name}_r")
        lraw = staged.get(left, {}).get(f"raw_{name}")
        rraw = staged.get(right, {}).get(f"raw_{name}")
        if lv is None and rv is None and lraw is None and rraw is None:
            continue
        fields.append(
            {
                "field": name,
                "left": ctx.masker.value(name, lv),
                "right": ctx.masker.value(name, rv),
                "left_raw": ctx.masker.value(f"raw_{name}", lraw),
                "right_raw": ctx.masker.value(f"raw_{name}", rraw),
                "same": _text(lv) == _text(rv),
            }
        )
    return {
        "queue": queue,
        "suggested_because": row.get("suggested_because"),
        "suggested_code": suggestion_code(row.get("suggested_because")),
        "pattern": row.get("pattern"),
        "record_key_l": left,
        "record_key_r": right,
        "match_probability": probability,
        "match_weight": row["match_weight"],
        "golden_id_l": owners.get(left),
        "golden_id_r": owners.get(right),
        "share_golden_id": shared,
        "why_apart": _why_in_english(why, held_apart_by),
        "why": {"id": why[0], "values": why[1]},
        "held_apart_by": held_apart_by,
        "cannot_links": cannot,
        "fields": fields,
        "waterfall": waterfall(row["match_weight"], row.get("weights")),
        "decisions": decisions,
    }


_CONFLICT_PAIRS_CHECKED = 2_500
"""Record pairs across two customers checked for a conflicting identifier (two customers of
50 records each); beyond that the page says why in general terms only."""


def _held_apart_by(
    ctx: Context, snap: Snapshot, left: str, right: str, owners: dict[str, str]
) -> list[dict[str, Any]]:
    """What kept a pair scored above the threshold in two customers: the steward cannot-links
    between the two customers' records that the published run clustered with, then the
    records of the two whose identity fields contradict (the conditions clustering enforced,
    :func:`matching.settings.contradiction_conditions`, under the run's model). Each names the
    records."""
    golden_l, golden_r = owners.get(left), owners.get(right)
    if golden_l is None or golden_r is None:
        return []
    side = {r["record_key"]: "l" for r in _xref(snap, golden_l)}
    side |= {r["record_key"]: "r" for r in _xref(snap, golden_r)}
    found = _cannot_links_between(ctx, snap, side)
    keys_l = sorted(k for k, s in side.items() if s == "l")
    keys_r = sorted(k for k, s in side.items() if s == "r")
    try:
        found += _identity_conflicts(ctx, snap, keys_l, keys_r, (left, right))
    except Exception as exc:  # noqa: BLE001 - an explanation must not break the review page
        logger.warning("workspace: cannot check %s ~ %s for conflicts: %s", left, right, exc)
    return found


def _cannot_links_between(
    ctx: Context, snap: Snapshot, side: dict[str, str]
) -> list[dict[str, Any]]:
    """Active cannot-links with one record on each side (``side``: record key -> ``l``/``r``),
    limited to the pairs the published run clustered with when its clustering state says
    (a cannot-link recorded since did not keep them apart yet)."""
    from matching.decisions import DecisionStore
    from matching.layout import CLUSTERING_DIR

    used: set[tuple[str, str]] | None = None
    state = ctx.reader.warehouse.match_dir(snap.run_id) / CLUSTERING_DIR / "decisions.parquet"
    if state.exists():
        frame = pl.read_parquet(state).filter(pl.col("kind") == "cannot_link")
        used = {_pair_key(a, b) for a, b in frame.select("record_key_l", "record_key_r").rows()}
    found = []
    for d in DecisionStore(ctx.reader.warehouse.decisions).active():
        if d.kind != "cannot_link" or (used is not None and d.pair not in used):
            continue
        if {side.get(d.record_key_l or ""), side.get(d.record_key_r or "")} == {"l", "r"}:
            found.append(
                {
                    "kind": "cannot_link",
                    "decision": d.decision_id,
                    "left": d.record_key_l,
                    "right": d.record_key_r,
                    "actor": d.actor,
                }
            )
    return found


def _identity_conflicts(
    ctx: Context, snap: Snapshot, keys_l: list[str], keys_r: list[str], pair: tuple[str, str]
) -> list[dict[str, Any]]:
    """Pairs of records, one of each customer, whose identity fields contradict (the pair
    itself excepted: clustering does not hold a pair's own contradiction against a link it
    scored above the threshold), with the two values of the field, masked for the reader."""
    import duckdb

    from matching.clustering import contradiction_sql
    from matching.features import matching_frame
    from matching.layout import MODEL_FILE
    from matching.settings import contradiction_conditions

    if not keys_l or not keys_r or len(keys_l) * len(keys_r) > _CONFLICT_PAIRS_CHECKED:
        return []
    warehouse = ctx.reader.warehouse
    model_path = warehouse.match_dir(snap.run_id) / MODEL_FILE
    staged = warehouse.staged_accepted(snap.run_id)
    if not model_path.exists() or not staged.exists():
        return []
    model = json.loads(model_path.read_text(encoding="utf-8"))
    fields = [c["output_column_name"] for c in model.get("comparisons", [])]
    conditions = contradiction_conditions(fields=fields, model=model)
    if not conditions:
        return []
    records = pl.scan_parquet(staged).filter(pl.col("record_key").is_in(keys_l + keys_r)).collect()
    # No key is frequent among a few records: nothing is capped, as in the run's own frame.
    frame = matching_frame(records, records.height + 1)
    select, flags = contradiction_sql(conditions)
    with duckdb.connect() as con:
        con.register("frame", frame.to_arrow())
        con.register("lk", pl.DataFrame({"k": keys_l}, schema={"k": pl.String}).to_arrow())
        con.register("rk", pl.DataFrame({"k": keys_r}, schema={"k": pl.String}).to_arrow())
        flagged = con.sql(
            f"""
            WITH p AS (
                SELECT l.record_key AS record_key_l, r.record_key AS record_key_r, {select}
                FROM frame l JOIN frame r
                  ON l.record_key IN (SELECT k FROM lk) AND r.record_key IN (SELECT k FROM rk)
            )
            SELECT record_key_l, record_key_r, {flags} FROM p ORDER BY 1, 2
            """
        ).pl()
    values = {r["record_key"]: r for r in records.to_dicts()}
    found = []
    for row in flagged.iter_rows(named=True):
        a, b = row["record_key_l"], row["record_key_r"]
        if _pair_key(a, b) == _pair_key(*pair):
            continue
        for name in conditions:
            if row[name]:
                found.append(
                    {
                        "kind": "conflict",
                        "left": a,
                        "right": b,
                        "field": name,
                        "value_l": _text(ctx.masker.value(name, values[a].get(name))),
                        "value_r": _text(ctx.masker.value(name, values[b].get(name))),
                    }
                )
    return found


def _why_in_english(why: StatusPart, held_apart_by: list[dict[str, Any]]) -> str:
    """The API's ``why_apart``: one English sentence, naming what kept the pair apart."""
    sentence = text("en", why[0], **why[1])
    if why[0] != "why.held_apart":
        return sentence
    if not held_apart_by:
        return sentence + text("en", "why.held_apart_unknown")
    reasons = [text("en", f"why.{h['kind']}", **h) for h in held_apart_by]
    return f"{sentence}: {'; '.join(reasons)}"


def cluster(ctx: Context, golden_id: str) -> dict[str, Any] | None:
    """Every record of a golden id and the scored links between them (from the published
    run's match output, when it is still on disk)."""
    snap = ctx.snapshot
    xref = _xref(snap, golden_id)
    if not xref:
        return None
    keys = [r["record_key"] for r in xref]
    staged = {r["record_key"]: r for r in snap.source_records(keys)}
    members = []
    for ref in xref:
        record = staged.get(ref["record_key"], {})
        members.append(
            {
                **ref,
                **{
                    f: ctx.masker.value(f, record.get(f))
                    for f in ("full_name", "email", "phone", "city", "date_of_birth")
                },
            }
        )
    links: list[dict[str, Any]] = []
    pairs_path = ctx.reader.warehouse.match_dir(snap.run_id) / "pairs.parquet"
    if pairs_path.exists() and len(keys) > 1:
        links = (
            pl.scan_parquet(pairs_path)
            .select("record_key_l", "record_key_r", "match_probability", "match_weight")
            .filter(pl.col("record_key_l").is_in(keys) & pl.col("record_key_r").is_in(keys))
            .sort("match_probability", descending=True)
            .collect()
            .to_dicts()
        )
    from matching.decisions import DecisionStore

    must, _ = DecisionStore(ctx.reader.warehouse.decisions).links()
    inside = set(keys)
    for a, b in must:
        if a in inside and b in inside:
            links.append(
                {"record_key_l": a, "record_key_r": b, "match_probability": 1.0, "must_link": True}
            )
    return {
        "golden_id": golden_id,
        "run_id": snap.run_id,
        "members": members,
        "links": links,
        "links_available": pairs_path.exists(),
        "threshold": ctx.config.matching.match_threshold,
    }


# --- quality -----------------------------------------------------------------------------------
def scorecards(ctx: Context) -> dict[str, Any]:
    """Per-source quality over the runs ``dq_results`` keeps (and ``dq_scorecard`` when
    published): accepted share per run and suite, for the trend plots."""
    snap = ctx.snapshot
    runs = snap.query(
        "SELECT run_id, suite, any_value(source) AS source, max(rows_in) AS rows_in, "
        "max(accepted) AS accepted, max(quarantined) AS quarantined, max(warned) AS warned, "
        "bool_and(suite_success) AS success, count(*) FILTER (WHERE NOT success) AS failing "
        "FROM dq_results GROUP BY run_id, suite ORDER BY suite, run_id"
    )
    suites: dict[str, list[dict[str, Any]]] = {}
    for row in runs:
        rows_in = row["rows_in"] or 0
        row["accepted_pct"] = round(100 * (row["accepted"] or 0) / rows_in, 2) if rows_in else None
        suites.setdefault(row["suite"], []).append(row)
    latest = snap.query(
        'SELECT suite, expectation, "column", severity, success, unexpected_count, '
        "unexpected_percent FROM dq_results WHERE run_id = (SELECT max(run_id) FROM dq_results) "
        "AND NOT success ORDER BY unexpected_count DESC"
    )
    scorecard = _optional(snap, "dq_scorecard", '"field" = \'*\' ORDER BY "run_id"', [])
    fields = _optional(
        snap,
        "dq_scorecard",
        '"run_id" = (SELECT max("run_id") FROM dq_scorecard) AND "field" <> \'*\' '
        'ORDER BY "source_system", "field"',
        [],
    )
    return {
        "run_id": snap.run_id,
        "suites": suites,
        "failing_expectations": latest,
        "scorecard": scorecard[-2000:],
        "scorecard_fields": fields[:2000],
        "scorecard_available": snap.has("dq_scorecard"),
    }


def quarantine(
    ctx: Context, suite: str | None = None, limit: int = 100, offset: int = 0
) -> dict[str, Any]:
    snap = ctx.snapshot
    where, params = ("WHERE suite = ?", [suite]) if suite else ("", [])
    total = snap.query(f"SELECT count(*) AS n FROM quarantine {where}", params)[0]["n"]
    rows = snap.query(
        f'SELECT suite, record_key, source_system, source_record_id, expectation, "column", '
        f"value, severity, reason FROM quarantine {where} "
        f"ORDER BY suite, record_key, expectation LIMIT {int(limit)} OFFSET {int(offset)}",
        params,
    )
    for row in rows:
        row["value"] = ctx.masker.value(row["column"] or "value", row["value"])
    suites = [r["suite"] for r in snap.query("SELECT DISTINCT suite FROM quarantine ORDER BY 1")]
    return {"run_id": snap.run_id, "total": total, "rows": rows, "suites": suites}


def _due_rows(ctx: Context) -> pl.DataFrame | None:
    """The periodic-review work queue: the last refresh of ``review_due`` with the rows
    confirmations have cleared since (what ``golden review due`` lists), else the published
    table; None when neither exists."""
    try:
        from pipelines.review_due.confirmations import due_path
    except ImportError:  # pragma: no cover - a product without periodic review
        due_path = None
    if due_path is not None:
        path = due_path(ctx.reader.warehouse)
        if path.exists():
            return pl.read_parquet(path)
    snap = ctx.snapshot
    if snap.has("review_due"):
        return pl.DataFrame(snap.query("SELECT * FROM review_due"))
    return None


def review_due(
    ctx: Context,
    limit: int = 200,
    golden_id: str | None = None,
    record_keys: list[str] | None = None,
) -> dict[str, Any]:
    """Records and golden records due for periodic review, most urgent first; with
    ``golden_id`` only that customer's (its own rows and its records')."""
    rows = _due_rows(ctx)
    if rows is None:
        return {"available": False, "rows": [], "columns": [], "total": 0}
    if golden_id is not None and "golden_id" in rows.columns:
        keep = pl.col("golden_id") == golden_id
        if record_keys and "record_key" in rows.columns:
            keep = keep | pl.col("record_key").is_in(record_keys)
        rows = rows.filter(keep.fill_null(False))
    order = [c for c in ("priority", "since") if c in rows.columns]
    if order:
        rows = rows.sort(order, nulls_last=True)
    listed = ctx.masker.rows(rows.head(limit).to_dicts())
    return {"available": True, "rows": listed, "columns": rows.columns, "total": rows.height}
