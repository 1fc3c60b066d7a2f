"""Finding everything the warehouse holds about one subject.

A subject is named by a golden id, a source record key, an email address or a phone number.
Emails and phones are looked up in standardised form: in the staged records of every kept run,
and, for records that never reached staging (quarantined by a source suite, or landed by a run
that has not standardised yet), in the raw batches, standardised on the fly the same way.

The records found are widened to whole customers through the id registry of the last publish
(the current view of who is who): erasing "this email" erases the customer behind it, every
record of theirs. When an email or phone belongs to more than one customer (a shared household
landline, two unmerged records of one person) the request is ambiguous and refused unless the
caller says to take every match: erasing a stranger is not a risk to take silently.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from pipelines.errors import PrivacyError
from pipelines.privacy.identifiers import Subject
from pipelines.warehouse import Warehouse

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig
    from pipelines.ingest.config import SourceConfig

logger = logging.getLogger(__name__)

IDENTIFYING_FIELDS = (
    "email",
    "phone",
    "address",
    "address_line1",
    "address_line2",
    "full_name",
    "date_of_birth",
)
"""Fields whose values are scrubbed from text artefacts when their subject is erased (names
alone and places are shared by too many people to scrub without harming others)."""


@dataclass
class SubjectRecords:
    """The records of one subject and the customers they make up."""

    subject: Subject
    record_keys: set[str]
    golden_ids: set[str]


@dataclass
class SubjectData:
    """What the warehouse holds about a set of records, as needed to erase or export them."""

    raw: dict[str, pl.DataFrame] = field(default_factory=dict)
    """Source -> every raw row of the records, every batch (source columns as sent)."""
    staged: pl.DataFrame | None = None
    """The records as standardised, newest run first (one row per record and run)."""
    first_batch: str | None = None
    """The earliest batch that delivered any of the records."""

    def values(self, config: PipelineConfig) -> set[str]:
        """Identifying values as sent and as standardised (see :data:`IDENTIFYING_FIELDS`)."""
        found: set[str] = set()
        for source_name, rows in self.raw.items():
            source = _source(config, source_name)
            for canonical in IDENTIFYING_FIELDS:
                # A field joined from several columns is scrubbed as joined (its staged
                # raw_<field>): one part alone, a house number, is shared by too many people.
                column = source.mapping.get(canonical) if source else None
                if isinstance(column, str) and column in rows.columns:
                    found |= _texts(rows[column])
        if self.staged is not None:
            for name in IDENTIFYING_FIELDS:
                for column in (name, f"raw_{name}"):
                    if column in self.staged.columns:
                        found |= _texts(self.staged[column])
        return found

    def identifiers(self) -> dict[str, set[str]]:
        """Canonical emails, email keys and phones of the records (for the suppression list)."""
        out: dict[str, set[str]] = {"email": set(), "email_key": set(), "phone": set()}
        if self.staged is not None:
            for column, kind in (("email", "email"), ("mk_email", "email_key"), ("phone", "phone")):
                out[kind] |= _texts(self.staged[column])
        return out


def _texts(series: pl.Series) -> set[str]:
    values = series.cast(pl.String).drop_nulls().str.strip_chars()
    return {v for v in values.to_list() if v}


def _source(config: PipelineConfig, source: str) -> SourceConfig | None:
    try:
        return config.source(source)
    except Exception:  # noqa: BLE001 - a source removed from the config: no mapping known
        return None


# --- where records live --------------------------------------------------------------------


def staged_files(warehouse: Warehouse) -> list[Path]:
    """``staged/customers.parquet`` of every kept run, newest first."""
    files = [warehouse.staged(run_id) for run_id in reversed(warehouse.run_ids())]
    return [p for p in files if p.exists()]


def raw_parts(warehouse: Warehouse) -> dict[str, list[Path]]:
    """Source -> every raw part file, oldest batch first."""
    out: dict[str, list[Path]] = {}
    if not warehouse.raw.is_dir():
        return out
    for source_dir in sorted(p for p in warehouse.raw.iterdir() if p.is_dir()):
        if source_dir.name.startswith("."):
            continue
        parts = sorted(source_dir.glob("batch_id=*/part-*.parquet"))
        if parts:
            out[source_dir.name] = parts
    return out


def _scan(paths: list[Path]) -> pl.LazyFrame:
    return pl.concat(
        [pl.scan_parquet(p, hive_partitioning=False) for p in paths], how="diagonal_relaxed"
    )


def read_raw(warehouse: Warehouse, keys: set[str]) -> dict[str, pl.DataFrame]:
    """Every raw row of ``keys``, by source."""
    key_list = pl.Series(sorted(keys), dtype=pl.String).implode()
    out = {}
    for source, parts in raw_parts(warehouse).items():
        rows = _scan(parts).filter(pl.col("record_key").is_in(key_list)).collect()
        if rows.height:
            out[source] = rows.sort("batch_id", "record_key")
    return out


def read_staged(warehouse: Warehouse, keys: set[str]) -> pl.DataFrame | None:
    key_list = pl.Series(sorted(keys), dtype=pl.String).implode()
    frames = []
    for path in staged_files(warehouse):
        run_id = path.parent.parent.name
        rows = (
            pl.scan_parquet(path)
            .filter(pl.col("record_key").is_in(key_list))
            .with_columns(pl.lit(run_id).alias("run_id"))
            .collect()
        )
        if rows.height:
            frames.append(rows)
    return pl.concat(frames, how="diagonal_relaxed") if frames else None


def collect(config: PipelineConfig, keys: set[str]) -> SubjectData:
    warehouse = Warehouse(config.warehouse.path)
    raw = read_raw(warehouse, keys)
    staged = read_staged(warehouse, keys)
    batches = [b for rows in raw.values() for b in rows["batch_id"].drop_nulls().to_list()]
    data = SubjectData(raw=raw, staged=staged, first_batch=min(batches) if batches else None)
    unstaged = keys - (set(staged["record_key"].to_list()) if staged is not None else set())
    if unstaged:
        extra = _standardise_raw(config, raw, unstaged)
        if extra is not None:
            data.staged = extra if staged is None else pl.concat([staged, extra], how="diagonal")
    return data


def _standardise_raw(
    config: PipelineConfig, raw: dict[str, pl.DataFrame], keys: set[str]
) -> pl.DataFrame | None:
    """Raw rows of records never staged, standardised as the stage would (latest version)."""
    from pipelines.ingest.mapping import mapped_frame
    from pipelines.standardise.frame import SourceHints, standardise_frame

    frames = []
    for source_name, rows in raw.items():
        if source_name not in config.source_names:
            logger.warning("raw rows of source %r: not configured any more", source_name)
            continue
        source = config.source(source_name)
        pending = rows.filter(pl.col("record_key").is_in(sorted(keys)))
        if not pending.height:
            continue
        pending = pending.sort("batch_id").unique("record_key", keep="last", maintain_order=True)
        staged = standardise_frame(
            mapped_frame(pending, source, missing_as_null=True),
            SourceHints.from_source(source),
            as_of=date.today(),
        )
        frames.append(staged.with_columns(pl.lit(None, dtype=pl.String).alias("run_id")))
    return pl.concat(frames, how="diagonal") if frames else None


# --- resolving a subject -------------------------------------------------------------------


def load_registry(warehouse: Warehouse) -> pl.DataFrame | None:
    path = warehouse.id_registry
    if not path.exists():
        return None
    try:
        return pl.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear error
        raise PrivacyError(f"{path} is not a readable Parquet file: {exc}") from None


def _unstaged_raw(config: PipelineConfig, warehouse: Warehouse) -> Iterator[pl.DataFrame]:
    """Raw records that no kept run has staged, standardised (their latest version)."""
    staged = staged_files(warehouse)
    staged_keys = (
        set(_scan(staged).select("record_key").collect()["record_key"].to_list())
        if staged
        else set()
    )
    raw_keys: dict[str, pl.DataFrame] = {}
    for source, parts in raw_parts(warehouse).items():
        rows = _scan(parts).filter(~pl.col("record_key").is_in(list(staged_keys))).collect()
        if rows.height:
            raw_keys[source] = rows
    if raw_keys:
        keys = {k for rows in raw_keys.values() for k in rows["record_key"].to_list()}
        extra = _standardise_raw(config, raw_keys, keys)
        if extra is not None:
            yield extra


def _matching_keys(config: PipelineConfig, warehouse: Warehouse, subject: Subject) -> set[str]:
    if subject.kind == "email":
        condition = pl.col("email") == subject.value
        if subject.email_key:
            condition = condition | (pl.col("mk_email") == subject.email_key)
    else:
        condition = pl.col("phone") == subject.value
    keys: set[str] = set()
    files = staged_files(warehouse)
    if files:
        found = _scan(files).filter(condition).select("record_key").collect()
        keys |= set(found["record_key"].to_list())
    for frame in _unstaged_raw(config, warehouse):
        keys |= set(frame.filter(condition)["record_key"].to_list())
    return keys


def _exists(warehouse: Warehouse, key: str) -> bool:
    for parts in raw_parts(warehouse).values():
        if _scan(parts).filter(pl.col("record_key") == key).select(pl.len()).collect().item():
            return True
    files = staged_files(warehouse)
    return bool(
        files and _scan(files).filter(pl.col("record_key") == key).select(pl.len()).collect().item()
    )


def resolve_subject(
    config: PipelineConfig, subject: Subject, *, all_matches: bool = False
) -> SubjectRecords:
    """Every record of the customer(s) ``subject`` names (see the module docstring)."""
    warehouse = Warehouse(config.warehouse.path)
    registry = load_registry(warehouse)
    if subject.kind == "golden_id":
        golden_ids = {_current_id(registry, subject.value, warehouse)}
        found: set[str] = set()
    elif subject.kind == "record_key":
        found = {subject.value}
        if not _exists(warehouse, subject.value) and (
            registry is None or subject.value not in set(registry["record_key"].to_list())
        ):
            raise PrivacyError(f"no record {subject.value!r} is held in {warehouse.root}")
        golden_ids = _ids_of(registry, found)
    else:
        found = _matching_keys(config, warehouse, subject)
        if not found:
            raise PrivacyError(
                f"no record in {warehouse.root} has the {subject.kind} given (compared in "
                "standardised form); nothing is held about this subject"
            )
        golden_ids = _ids_of(registry, found)
        if len(golden_ids) > 1 and not all_matches:
            raise PrivacyError(
                f"the {subject.kind} given belongs to {len(golden_ids)} different customers "
                f"({', '.join(sorted(golden_ids))}): name one by golden id or record key, or "
                "confirm that every one of them is the subject (--all-matches)"
            )
    keys = set(found)
    if registry is not None and golden_ids:
        members = registry.filter(pl.col("golden_id").is_in(sorted(golden_ids)))
        keys |= set(members["record_key"].to_list())
    return SubjectRecords(subject=subject, record_keys=keys, golden_ids=golden_ids)


def _ids_of(registry: pl.DataFrame | None, keys: set[str]) -> set[str]:
    if registry is None:
        return set()
    rows = registry.filter(pl.col("record_key").is_in(sorted(keys)))
    return set(rows["golden_id"].to_list())


def _current_id(registry: pl.DataFrame | None, golden_id: str, warehouse: Warehouse) -> str:
    if registry is None:
        raise PrivacyError(
            f"no golden ids are published in {warehouse.root} yet, so {golden_id} names nobody; "
            "name the subject by record key, email or phone"
        )
    if registry.filter(pl.col("golden_id") == golden_id).height:
        return golden_id
    if "absorbed_ids" in registry.columns:
        survivor = registry.filter(pl.col("absorbed_ids").list.contains(golden_id))
        if survivor.height:
            current = str(survivor["golden_id"][0])
            logger.info("golden id %s was merged into %s; erasing %s", golden_id, current, current)
            return current
    raise PrivacyError(
        f"golden id {golden_id} is not in the published registry {warehouse.id_registry}"
    )


def shared_identifiers(
    warehouse: Warehouse, keys: set[str], identifiers: dict[str, set[str]]
) -> dict[str, set[str]]:
    """Of ``identifiers``, those other records (outside ``keys``) hold too."""
    files = staged_files(warehouse)
    shared: dict[str, set[str]] = {kind: set() for kind in identifiers}
    if not files:
        return shared
    others = _scan(files).filter(~pl.col("record_key").is_in(sorted(keys)))
    columns = {"email": "email", "email_key": "mk_email", "phone": "phone"}
    for kind, values in identifiers.items():
        if not values:
            continue
        column = columns[kind]
        hit = others.filter(pl.col(column).is_in(sorted(values))).select(column).collect()
        shared[kind] = set(hit[column].to_list())
    return shared
