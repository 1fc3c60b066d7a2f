"""The suppression list: erased subjects that ingestion keeps out, stored as salted hashes.

``state/suppression.jsonl`` gets one line per erasure: ``{"erasure_id", "at", "salt_id",
"hashes": {"record_key": [...], "email": [...], "email_key": [...], "phone": [...]}}``. It is
append-only (merged, never shortened, by a restore) and holds no identifier in clear.

Ingestion calls :func:`suppressed_mask` on every chunk it lands (the seam in
:mod:`pipelines.ingest.suppression`). A row is suppressed when its record key, its canonical
email or email matching key, or its E.164 phone hashes to a listed value. Emails and phones are
compared after the standardisation stage's own normalisation, so a source that sends the person
again in another spelling is still recognised. Suppressed rows are never written anywhere and are
counted as ``rows_suppressed`` in the ingest result. Without the salt the list cannot be checked,
so ingestion stops rather than let erased people back in.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
from pydantic import BaseModel, ConfigDict, ValidationError

from pipelines.audit import append_json_line
from pipelines.errors import PrivacyError
from pipelines.privacy.identifiers import IdentifierKind, hash_values, load_salt, salt_id
from pipelines.warehouse import Warehouse

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig
    from pipelines.ingest.config import SourceConfig

logger = logging.getLogger(__name__)

SUPPRESSED_KINDS: tuple[IdentifierKind, ...] = ("record_key", "email", "email_key", "phone")


class SuppressionEntry(BaseModel):
    """One erasure's line of the suppression list."""

    model_config = ConfigDict(extra="forbid")

    erasure_id: str
    at: datetime
    salt_id: str
    hashes: dict[IdentifierKind, list[str]]


def add_entry(warehouse: Warehouse, entry: SuppressionEntry) -> None:
    append_json_line(warehouse.suppression, entry.model_dump(mode="json"))


def read_entries(path: Path) -> list[SuppressionEntry]:
    """Every entry; a line that is not one is an error naming the file and line."""
    if not path.exists():
        return []
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entries.append(SuppressionEntry.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise PrivacyError(
                f"{path} line {number} is not a suppression entry ({exc.__class__.__name__}: "
                f"{str(exc).splitlines()[0]}); the list is append-only: repair that line from "
                "a backup, never delete it (that would let an erased person back in)"
            ) from None
    return entries


@dataclass
class SuppressionIndex:
    """The hashes of every entry, by kind, for fast lookups."""

    salt_ids: set[str] = field(default_factory=set)
    hashes: dict[str, set[str]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not any(self.hashes.values())

    def has(self, kind: IdentifierKind) -> bool:
        return bool(self.hashes.get(kind))


_CACHE: dict[Path, tuple[tuple[int, int], SuppressionIndex]] = {}


def load_index(warehouse: Warehouse) -> SuppressionIndex:
    """The suppression list as an index, re-read only when the file changed."""
    path = warehouse.suppression
    if not path.exists():
        return SuppressionIndex()
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _CACHE.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    index = SuppressionIndex()
    for entry in read_entries(path):
        index.salt_ids.add(entry.salt_id)
        for kind, values in entry.hashes.items():
            index.hashes.setdefault(kind, set()).update(values)
    _CACHE[path] = (stamp, index)
    return index


def checked_salt(config: PipelineConfig, index: SuppressionIndex) -> bytes:
    """The salt, refusing one that is not the salt the entries were made with."""
    salt = load_salt(config)
    current = salt_id(salt)
    foreign = sorted(index.salt_ids - {current})
    if foreign:
        raise PrivacyError(
            f"the suppression list {Warehouse(config.warehouse.path).suppression} has entries "
            f"made with salt {', '.join(foreign)}, but {config.privacy.suppression_salt_env} "
            f"holds salt {current}: with another salt erased people would not be recognised. "
            "Restore the original salt"
        )
    return salt


def identifier_columns(rows: pl.DataFrame, source: SourceConfig) -> pl.DataFrame:
    """``record_key``, ``email``, ``mk_email`` and ``phone`` of landed rows, standardised the
    way the standardisation stage will standardise them."""
    from pipelines.ingest.mapping import mapped_frame
    from pipelines.standardise.frame import SourceHints, standardise_frame

    # A chunk without a mapped column: drift is reported by ingest, not here.
    mapped = mapped_frame(rows, source, missing_as_null=True)
    staged = standardise_frame(mapped, SourceHints.from_source(source))
    return staged.select("record_key", "email", "mk_email", "phone")


def matches(
    frame: pl.DataFrame, salt: bytes, index: SuppressionIndex, columns: dict[str, IdentifierKind]
) -> pl.Series:
    """True for rows where any of ``columns`` (column -> identifier kind) is listed."""
    mask = pl.Series("suppressed", [False] * frame.height, dtype=pl.Boolean)
    for column, kind in columns.items():
        if not index.has(kind) or column not in frame.columns:
            continue
        listed = index.hashes[kind]
        hashed = hash_values(salt, kind, frame[column].cast(pl.String).to_list())
        mask = mask | pl.Series([h is not None and h in listed for h in hashed], dtype=pl.Boolean)
    return mask


def suppressed_mask(config: PipelineConfig, source: SourceConfig, rows: pl.DataFrame) -> pl.Series:
    """The ingest seam: True for landed rows of erased subjects (see the module docstring)."""
    index = load_index(Warehouse(config.warehouse.path))
    if index.empty or rows.height == 0:
        return pl.Series("suppressed", [False] * rows.height, dtype=pl.Boolean)
    salt = checked_salt(config, index)
    mask = matches(rows, salt, index, {"record_key": "record_key"})
    if index.has("email") or index.has("email_key") or index.has("phone"):
        ids = identifier_columns(rows, source)
        mask = mask | matches(
            ids, salt, index, {"email": "email", "mk_email": "email_key", "phone": "phone"}
        )
    return mask
