"""Access requests: everything the warehouse holds about one subject, as one JSON file.

``golden export-subject`` answers "what do you hold about me?": every source record of the
subject as each batch delivered it (raw) and as standardised, the golden record(s) they make up,
the crosswalk, field provenance, golden id history, the steward decisions about them, and every
quarantine row that rejected one of their records. The file holds personal data: it is written
readable by its owner only (``0600``) and the export itself is audited (without the identifier).
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from pydantic import BaseModel

from pipelines import audit
from pipelines.privacy.identifiers import SubjectKind, parse_subject
from pipelines.privacy.subject import collect, load_registry, resolve_subject
from pipelines.privacy.suppression import checked_salt, load_index
from pipelines.warehouse import Warehouse, atomic_path

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1


class ExportResult(BaseModel):
    path: Path
    subject: str
    """The subject's salted hash (as the audit trail names it)."""
    records: int
    golden_ids: list[str]
    counts: dict[str, int]
    """Section -> entries written."""


def _rows(frame: pl.DataFrame | None) -> list[dict[str, Any]]:
    return [] if frame is None else frame.to_dicts()


def _published(warehouse: Warehouse, keys: set[str], golden_ids: set[str]) -> dict[str, Any]:
    from pipelines.publish import current_run_id, read_tables

    run_id = current_run_id(warehouse.root)
    if run_id is None:
        return {"run_id": None}
    tables = read_tables(
        warehouse.root,
        ["golden_customers", "customer_xref", "golden_field_provenance", "golden_changes"],
    )
    frames = {name: pl.from_arrow(table) for name, table in tables.items()}
    ids = sorted(golden_ids)
    return {
        "run_id": run_id,
        "golden_records": _rows(frames["golden_customers"].filter(pl.col("golden_id").is_in(ids))),
        "xref": _rows(frames["customer_xref"].filter(pl.col("record_key").is_in(sorted(keys)))),
        "provenance": _rows(
            frames["golden_field_provenance"].filter(pl.col("golden_id").is_in(ids))
        ),
        "golden_id_history": _rows(frames["golden_changes"].filter(pl.col("golden_id").is_in(ids))),
    }


def _decisions(warehouse: Warehouse, keys: set[str], golden_ids: set[str]) -> list[dict[str, Any]]:
    from matching.decisions import DecisionError, DecisionStore

    try:
        history = DecisionStore(warehouse.decisions).history()
    except DecisionError as exc:
        from pipelines.errors import PrivacyError

        raise PrivacyError(f"cannot read the steward decisions: {exc}") from None
    about = {
        d.decision_id
        for d in history
        if d.record_key_l in keys or d.record_key_r in keys or d.golden_id in golden_ids
    }
    return [
        d.model_dump(mode="json")
        for d in history
        if d.decision_id in about or (d.kind == "revoke" and d.revokes in about)
    ]


def _quarantine(warehouse: Warehouse, keys: set[str]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for run_id in warehouse.run_ids():
        folder = warehouse.run(run_id) / "quarantine"
        for path in sorted(folder.glob("*.parquet")) if folder.is_dir() else []:
            found = pl.read_parquet(path).filter(pl.col("record_key").is_in(sorted(keys)))
            rows.extend(found.with_columns(pl.lit(run_id).alias("run_id")).to_dicts())
    return rows


def _with_absorbed(registry: pl.DataFrame | None, golden_ids: set[str]) -> set[str]:
    """The ids and every id they absorbed (decisions and history may name those)."""
    if registry is None or "absorbed_ids" not in registry.columns or not golden_ids:
        return set(golden_ids)
    absorbed = registry.filter(pl.col("golden_id").is_in(sorted(golden_ids)))["absorbed_ids"]
    return set(golden_ids) | {i for ids in absorbed.drop_nulls().to_list() for i in ids}


def export_subject(
    config: PipelineConfig,
    subject: str,
    out: Path,
    *,
    actor: str | None = None,
    kind: SubjectKind | None = None,
    all_matches: bool = False,
    reason: str | None = None,
) -> ExportResult:
    """Write everything held about ``subject`` to ``out`` (JSON) and audit the export."""
    warehouse = Warehouse(config.warehouse.path)
    salt = checked_salt(config, load_index(warehouse))
    named = parse_subject(config, subject, kind)
    found = resolve_subject(config, named, all_matches=all_matches)
    keys = found.record_keys
    ids = _with_absorbed(load_registry(warehouse), found.golden_ids)
    data = collect(config, keys)

    records = []
    staged = data.staged
    for key in sorted(keys):
        source, _, record_id = key.partition(":")
        raw = data.raw.get(source)
        standardised = None
        if staged is not None:
            rows = staged.filter(pl.col("record_key") == key)
            standardised = rows.to_dicts()[0] if rows.height else None
        records.append(
            {
                "record_key": key,
                "source_system": source,
                "source_record_id": record_id,
                "raw": _rows(raw.filter(pl.col("record_key") == key) if raw is not None else None),
                "standardised": standardised,
            }
        )
    published = _published(warehouse, keys, ids)
    payload = {
        "format": FORMAT_VERSION,
        "exported_at": datetime.now(UTC).isoformat(),
        "warehouse": str(warehouse.root),
        "subject": {"kind": named.kind, "value": named.value},
        "golden_ids": sorted(found.golden_ids),
        "source_records": records,
        "published": published,
        "steward_decisions": _decisions(warehouse, keys, ids),
        "quarantine": _quarantine(warehouse, keys),
    }
    counts = {
        "source_records": len(records),
        "raw_rows": sum(len(r["raw"]) for r in records),
        "golden_records": len(published.get("golden_records", [])),
        "xref": len(published.get("xref", [])),
        "provenance": len(published.get("provenance", [])),
        "steward_decisions": len(payload["steward_decisions"]),
        "quarantine": len(payload["quarantine"]),
    }
    out = Path(out)
    with atomic_path(out) as tmp:
        os.chmod(tmp, 0o600)
        tmp.write_text(json.dumps(payload, indent=2, default=str, ensure_ascii=False) + "\n")
    digest = named.digest(salt)
    audit.record(
        warehouse.root,
        actor,
        "export",
        f"subject:{digest}",
        {"records": len(keys), "golden_ids": sorted(found.golden_ids), "counts": counts},
        reason or "access request",
    )
    logger.info("exported %d record(s) of subject %s to %s", len(keys), digest[:12], out)
    return ExportResult(
        path=out,
        subject=digest,
        records=len(keys),
        golden_ids=sorted(found.golden_ids),
        counts=counts,
    )
