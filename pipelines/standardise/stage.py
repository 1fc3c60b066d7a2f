"""The standardisation stage: every source's accepted records -> ``staged/customers.parquet``.

Reads ``validated/<source>/accepted.parquet`` for every configured source of the run, runs
:func:`~pipelines.standardise.frame.standardise_with_report` with the source's hints, writes the
union with exactly :func:`pipelines.schema.staged_schema` and a ``staged/report.json`` that says,
per canonical field, how many values were standardised, flagged invalid, or empty. No row is
ever dropped: ``rows_out == rows_in`` is checked before anything is written.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pyarrow.parquet as pq
from pydantic import BaseModel

from pipelines.errors import StageInputError
from pipelines.schema import CANONICAL_FIELDS, LINEAGE_COLUMNS, MAPPABLE_FIELDS, staged_schema
from pipelines.standardise.dates import DateReport
from pipelines.standardise.frame import SourceHints, standardise_with_report
from pipelines.standardise.nicknames import nickname_table
from pipelines.warehouse import Warehouse, atomic_path, write_json

if TYPE_CHECKING:  # pipelines.config imports this package's config: no cycle at run time
    from pipelines.config import PipelineConfig

log = logging.getLogger(__name__)

REQUIRED_INPUT = (*LINEAGE_COLUMNS, *(f"raw_{f}" for f in MAPPABLE_FIELDS), "trust_rank")


class FieldStats(BaseModel):
    """Per canonical field: values standardised, present-but-unusable, absent. They add up to
    the number of rows."""

    standardised: int
    invalid: int
    empty: int


class SourceStats(BaseModel):
    rows: int
    ambiguous_dates: int
    """Dates of birth whose day/month order the value alone does not tell (03/04/1980)."""
    ambiguous_dates_resolved: int
    """... of which the source's own unambiguous dates settled the order."""
    date_order: str | None
    """``day_first`` / ``month_first`` when inferred from the source's dates, else null."""


class StandardiseResult(BaseModel):
    run_id: str
    rows_in: int
    rows_out: int
    fields: dict[str, FieldStats]
    ambiguous_dates: int
    sources: dict[str, SourceStats]
    staged_path: Path
    report_path: Path


def run_date(run_id: str) -> date:
    """The date a run id was minted on (``YYYYmmddTHHMMSSZ-xxxxxx``); it is the "today" of
    the run, so a rerun reads dates exactly as the first run did. Other ids fall back to the
    current UTC date."""
    try:
        return datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).date()
    except ValueError:
        log.warning("run id %r carries no date; dates of birth are checked against today", run_id)
        return datetime.now(UTC).date()


def _read_accepted(path: Path, source: str) -> pl.DataFrame:
    try:
        df = pl.read_parquet(path)
    except Exception as exc:  # polars raises several error types for unreadable files
        raise StageInputError(
            f"cannot read {path} (accepted records of {source!r}): {exc}"
        ) from exc
    missing = [c for c in REQUIRED_INPUT if c not in df.columns]
    if missing:
        raise StageInputError(
            f"{path} (accepted records of {source!r}) lacks column(s) {missing}; "
            "it must carry lineage, raw_<field> for every mappable field and trust_rank "
            "(docs/architecture.md)"
        )
    return df


def field_stats(staged: pl.DataFrame) -> dict[str, FieldStats]:
    """Standardised / invalid / empty counts of every canonical field of a staged frame."""
    rows = staged.height
    exprs = []
    for f in CANONICAL_FIELDS:
        invalid = pl.col("invalid_fields").list.contains(f)
        exprs += [
            (pl.col(f).is_not_null() & ~invalid).sum().alias(f"{f}__ok"),
            invalid.sum().alias(f"{f}__bad"),
        ]
    counts = staged.select(exprs).row(0, named=True) if rows else {}
    out = {}
    for f in CANONICAL_FIELDS:
        ok, bad = int(counts.get(f"{f}__ok") or 0), int(counts.get(f"{f}__bad") or 0)
        out[f] = FieldStats(standardised=ok, invalid=bad, empty=rows - ok - bad)
    return out


def standardise(config: PipelineConfig, run_id: str) -> StandardiseResult:
    """Standardise every source's accepted records of ``run_id``; see the module docstring."""
    started = time.perf_counter()
    warehouse = Warehouse(Path(config.warehouse.path))
    as_of = run_date(run_id)
    nicknames = nickname_table(config.standardise.nicknames_path)
    # Inputs and hints are checked for every source before any work starts.
    inputs = []
    for source in config.sources:
        path = warehouse.require(warehouse.accepted(run_id, source.name), "validate")
        inputs.append((source.name, path, SourceHints.from_source(source)))

    def one(name: str, path: Path, hints: SourceHints) -> tuple[int, pl.DataFrame, DateReport]:
        raw = _read_accepted(path, name)
        staged, report = standardise_with_report(
            raw,
            hints,
            as_of=as_of,
            nicknames=nicknames,
            min_birth_year=config.standardise.min_birth_year,
        )
        log.info("standardised %s: %d rows", name, staged.height)
        return raw.height, staged, report

    # Sources are independent; two run at a time so that one source's Python work (proper
    # case, the libraries' slow paths) overlaps with another's vectorised work.
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(lambda item: one(*item), inputs))
    frames = [staged for _, staged, _ in done]
    rows_in = sum(rows for rows, _, _ in done)
    sources = {
        name: SourceStats(
            rows=staged.height,
            ambiguous_dates=report.ambiguous,
            ambiguous_dates_resolved=report.ambiguous_resolved,
            date_order=report.date_order,
        )
        for (name, _, _), (_, staged, report) in zip(inputs, done, strict=True)
    }

    staged_all = pl.concat(frames, how="vertical") if frames else pl.DataFrame()
    table = staged_all.to_arrow().cast(staged_schema()) if frames else staged_schema().empty_table()
    if table.num_rows != rows_in:
        raise StageInputError(
            f"standardisation produced {table.num_rows} rows from {rows_in}: refusing to write "
            f"{warehouse.staged(run_id)}"
        )
    target = warehouse.staged(run_id)
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp, compression="zstd")

    fields = field_stats(staged_all) if frames else field_stats(pl.from_arrow(table))
    result = StandardiseResult(
        run_id=run_id,
        rows_in=rows_in,
        rows_out=table.num_rows,
        fields=fields,
        ambiguous_dates=sum(s.ambiguous_dates for s in sources.values()),
        sources=sources,
        staged_path=target,
        report_path=warehouse.staged_report(run_id),
    )
    write_json(result.report_path, result.model_dump(mode="json"))
    log.info(
        "standardised %d rows from %d source(s) in %.1f s",
        result.rows_out,
        len(sources),
        time.perf_counter() - started,
    )
    return result
