"""The standardisation stage: every source's accepted records -> ``staged/customers.parquet``.

Reads ``validated/<source>/accepted.parquet`` for every configured source of the run, runs
:func:`~pipelines.standardise.frame.standardise_with_report` with the source's hints, writes the
union with exactly :func:`pipelines.schema.staged_schema` and a ``staged/report.json`` that says,
per canonical field, how many values were standardised, flagged invalid, or empty. No row is
ever dropped: ``rows_out == rows_in`` is checked before anything is written.

Rows come out in input order: sources in configured order, each source's rows as its accepted
file holds them. A run normally standardises only the record versions that are new or changed
since the previous run and copies the previous run's staged rows for the rest
(:mod:`pipelines.standardise.incremental` says when that is exact and checks it); the table it
writes is the one the full path would write. ``full`` (argument or ``standardise.full``)
standardises every record.

At a million rows an incremental run is mostly input and output: reading the previous staged
file, gathering its rows into the new order and writing the new file. Those stay in Polars
(no Arrow copy or cast of the whole table), and the file is written by Polars' parallel encoder
in row groups that later readers decode in parallel (:func:`write_staged`).
"""

from __future__ import annotations

import base64
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

from pipelines.errors import StageInputError
from pipelines.schema import (
    CANONICAL_FIELDS,
    LINEAGE_COLUMNS,
    MAPPABLE_FIELDS,
    STAGED_COLUMNS,
    staged_schema,
)
from pipelines.standardise import incremental
from pipelines.standardise.dates import (
    DateOrder,
    DateReport,
    check_date_formats,
    source_date_report,
)
from pipelines.standardise.frame import SourceHints, standardise_with_report
from pipelines.standardise.incremental import HASH_COLUMNS, Fingerprint, ReusePlan
from pipelines.standardise.nicknames import nickname_table
from pipelines.standardise.placeholders import PlaceholderConfig
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
    path: Literal["full", "incremental"] = "full"
    """Which path ran: every record standardised, or only new and changed record versions."""
    reused_from: str | None = None
    """The run whose staged rows were reused (incremental path)."""
    full_reason: str | None = None
    """Why the full path ran (requested, first run, a setting or inferred fact changed...)."""
    rows_reused: int = 0
    """Staged rows copied from ``reused_from`` (record version and input unchanged)."""
    rows_standardised: int = 0
    """Rows standardised by this run (all of them on the full path)."""


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


ROW_GROUP_ROWS = 131_072
"""Rows per row group of the staged file: readers (validate_staged, match, golden) decode row
groups in parallel, and the writer encodes them in parallel."""


def _polars_type(arrow: pa.DataType) -> pl.DataType:
    """The Polars type a staged column of Arrow type ``arrow`` reads as. (``pl.from_arrow``
    would tell too, but it imports pandas: most of a second of a stage's start-up.)"""
    if pa.types.is_string(arrow):
        return pl.String()
    if pa.types.is_int32(arrow):
        return pl.Int32()
    if pa.types.is_date32(arrow):
        return pl.Date()
    if pa.types.is_timestamp(arrow):
        return pl.Datetime(arrow.unit, arrow.tz)
    if pa.types.is_list(arrow):
        return pl.List(_polars_type(arrow.value_type))
    raise TypeError(f"no Polars type for the staged Arrow type {arrow}")


_GATHER_COLUMNS = 8
"""Columns gathered into the output order at a time (:func:`_standardise_changed`)."""

_STAGED_TYPES = pl.Schema({f.name: _polars_type(f.type) for f in staged_schema()})
""":func:`pipelines.schema.staged_schema` as Polars types."""


def _typed(frame: pl.DataFrame) -> pl.DataFrame:
    """Staged rows with exactly the staged schema's (Polars) types: a column that came out all
    null or with another Polars type is cast as the Arrow cast to ``staged_schema()`` would."""
    if frame.schema == _STAGED_TYPES:
        return frame
    return frame.select(STAGED_COLUMNS).cast(dict(_STAGED_TYPES))


def _schema_metadata() -> dict[str, str]:
    """The file metadata that tells Arrow readers the staged schema: the serialised schema
    under ``ARROW:schema``, as pyarrow's writer stores it. Polars records its own Arrow types
    there otherwise (``large_string`` where the contract says ``string``)."""
    encoded = base64.b64encode(staged_schema().serialize().to_pybytes()).decode("ascii")
    return {"ARROW:schema": encoded}


def write_staged(frame: pl.DataFrame, target: Path) -> None:
    """Write staged rows to ``target`` atomically, zstd-compressed, in row groups of
    :data:`ROW_GROUP_ROWS`, with exactly the staged schema.

    Polars' writer encodes and compresses columns on every core (pyarrow's encodes one column
    after another: about twice the wall time at a million rows). The file's Arrow schema must
    still be ``staged_schema()`` exactly, so it is read back from the footer; should a Polars
    version record other types, the rows are written again with pyarrow."""
    schema = staged_schema()
    frame = _typed(frame)  # the metadata below must describe the columns as written
    with atomic_path(target) as tmp:
        frame.write_parquet(
            tmp,
            compression="zstd",
            compression_level=1,
            row_group_size=ROW_GROUP_ROWS,
            metadata=_schema_metadata(),
        )
        written = pq.read_schema(tmp)
        if not written.remove_metadata().equals(schema):
            log.warning(
                "Polars wrote %s with Arrow schema %s; writing it again with pyarrow",
                target,
                written.remove_metadata(),
            )
            table = frame.to_arrow().cast(schema)
            pq.write_table(table, tmp, compression="zstd", row_group_size=ROW_GROUP_ROWS)


@dataclass(frozen=True)
class _Input:
    """One source's accepted records of the run, with the hints they are read with."""

    name: str
    hints: SourceHints
    raw: pl.DataFrame


def _read_inputs(sources: list[tuple[str, Path, SourceHints]]) -> list[_Input]:
    """Every source's accepted records, two files at a time."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        raws = list(pool.map(lambda item: _read_accepted(item[1], item[0]), sources))
    return [_Input(n, h, raw) for (n, _, h), raw in zip(sources, raws, strict=True)]


@dataclass(frozen=True)
class _Settings:
    """What every source is standardised with; both paths call :meth:`run`, so a reused row
    and a freshly standardised one come from the same call."""

    as_of: date
    nicknames: pl.DataFrame
    min_birth_year: int
    placeholders: PlaceholderConfig

    def run(
        self, item: _Input, raw: pl.DataFrame, order: DateOrder | None = None
    ) -> tuple[pl.DataFrame, DateReport]:
        return standardise_with_report(
            raw,
            item.hints,
            as_of=self.as_of,
            nicknames=self.nicknames,
            min_birth_year=self.min_birth_year,
            date_order=order,
            placeholders=self.placeholders,
        )


def standardise(config: PipelineConfig, run_id: str, *, full: bool = False) -> StandardiseResult:
    """Standardise every source's accepted records of ``run_id``; see the module docstring.
    ``full`` (or ``standardise.full`` in the config) skips the reuse of the previous run."""
    started = time.perf_counter()
    warehouse = Warehouse(Path(config.warehouse.path))
    settings = _Settings(
        as_of=run_date(run_id),
        nicknames=nickname_table(config.standardise.nicknames_path),
        min_birth_year=config.standardise.min_birth_year,
        placeholders=config.standardise.placeholders,
    )
    # Inputs and hints are checked for every source before any work starts.
    sources = []
    for source in config.sources:
        path = warehouse.require(warehouse.accepted(run_id, source.name), "validate")
        sources.append((source.name, path, SourceHints.from_source(source)))
    inputs = _read_inputs(sources)
    source_rows = {item.name: item.raw.height for item in inputs}
    rows_in = sum(source_rows.values())
    for item in inputs:
        check_date_formats(
            item.raw["raw_date_of_birth"].cast(pl.String),
            item.hints.date_formats,
            settings.as_of,
            source=item.name,
            max_unparsed_share=config.standardise.max_unparsed_date_share,
        )
    keys = _input_keys(inputs)

    code = incremental.code_fingerprint()
    stage_settings = config.standardise.model_dump(mode="json", exclude={"full", "nicknames_path"})
    settings_key = incremental.settings_fingerprint(stage_settings, settings.nicknames)
    if full or config.standardise.full:
        plan = ReusePlan(None, "full standardisation requested")
        reports = None
    else:
        reports = {
            item.name: source_date_report(
                item.raw["raw_date_of_birth"].cast(pl.String),
                item.hints.date_formats,
                settings.as_of,
            )
            for item in inputs
        }
        current = _fingerprint(code, settings_key, inputs, settings.as_of, reports)
        plan = incremental.plan_reuse(current, incremental.find_previous(warehouse, run_id))

    incremental.forget_marker(warehouse, run_id)
    with ThreadPoolExecutor(max_workers=1) as background:
        # The hash file depends on the input alone: it is written while rows are standardised
        # (the marker, written last, is what makes it count).
        hashes_written = background.submit(incremental.write_hashes, warehouse, run_id, keys)
        changed = None
        if plan.previous is not None and reports is not None:
            changed = _standardise_changed(inputs, keys, plan, settings, reports)
            if changed is None:
                reason = f"the staged files of run {plan.previous.run_id} do not line up"
                plan = ReusePlan(None, reason)
                inputs = _read_inputs(sources)  # the incremental path kept changed rows only
        if changed is not None and reports is not None and plan.previous is not None:
            staged_all, reused = changed
            dates = {name: report for name, (report, _) in reports.items()}
            log.info("reusing %d staged rows of run %s", reused, plan.previous.run_id)
        else:
            log.info("standardising every record: %s", plan.reason)
            staged_all, dates = _standardise_all(inputs, settings)
            reused = 0
        del changed
        hashes_written.result()
    fingerprint = _fingerprint(
        code, settings_key, inputs, settings.as_of, {n: (r, None) for n, r in dates.items()}
    )

    names = [item.name for item in inputs]
    del inputs, keys
    staged_all = _typed(staged_all)
    fields = field_stats(staged_all)
    if staged_all.height != rows_in:
        raise StageInputError(
            f"standardisation produced {staged_all.height} rows from {rows_in}: refusing to "
            f"write {warehouse.staged(run_id)}"
        )
    target = warehouse.staged(run_id)
    write_staged(staged_all, target)
    rows_out = staged_all.height
    del staged_all

    result = StandardiseResult(
        run_id=run_id,
        rows_in=rows_in,
        rows_out=rows_out,
        fields=fields,
        ambiguous_dates=sum(r.ambiguous for r in dates.values()),
        sources={
            name: SourceStats(
                rows=source_rows[name],
                ambiguous_dates=dates[name].ambiguous,
                ambiguous_dates_resolved=dates[name].ambiguous_resolved,
                date_order=dates[name].date_order,
            )
            for name in names
        },
        staged_path=target,
        report_path=warehouse.staged_report(run_id),
        path="incremental" if plan.previous is not None else "full",
        reused_from=plan.previous.run_id if plan.previous is not None else None,
        full_reason=plan.reason,
        rows_reused=reused,
        rows_standardised=rows_in - reused,
    )
    write_json(result.report_path, result.model_dump(mode="json"))
    incremental.commit_state(warehouse, run_id, fingerprint)
    log.info(
        "standardised %d rows from %d source(s) in %.1f s (%s path: %d reused, %d standardised)",
        result.rows_out,
        len(names),
        time.perf_counter() - started,
        result.path,
        result.rows_reused,
        result.rows_standardised,
    )
    return result


def _fingerprint(
    code: str,
    settings_key: str,
    inputs: list[_Input],
    as_of: date,
    reports: dict[str, tuple[DateReport, DateOrder | None]],
) -> Fingerprint:
    sources = {
        item.name: {"hints": asdict(item.hints), "date_order": reports[item.name][0].date_order}
        for item in inputs
    }
    return Fingerprint(code=code, settings=settings_key, sources=sources, as_of=as_of)


def _input_keys(inputs: list[_Input]) -> pl.DataFrame:
    """Per input row, in output order: its record version, its input hash and where it is
    (``__src`` the source's position, ``__row`` the row's position in its source)."""
    parts = [
        item.raw.select("record_key", "batch_id")
        .cast(pl.String)
        .hstack(incremental.row_hashes(item.raw))
        .with_columns(pl.lit(i, dtype=pl.Int32).alias("__src"))
        .with_row_index("__row")
        for i, item in enumerate(inputs)
    ]
    if not parts:
        schema = {"__row": pl.UInt32, "record_key": pl.String, "batch_id": pl.String}
        schema.update({c: pl.UInt64 for c in HASH_COLUMNS} | {"__src": pl.Int32})
        return pl.DataFrame(schema=schema)
    return pl.concat(parts, how="vertical")


SLICE_ROWS = 500_000
"""Records of one source standardised at a time on the full path (:func:`_standardise_all`)."""


def _standardise_all(
    inputs: list[_Input], settings: _Settings
) -> tuple[pl.DataFrame, dict[str, DateReport]]:
    """The full path: every record of every source.

    A source of more than :data:`SLICE_ROWS` records is standardised in slices of that many,
    with the whole source's day/month order and date report, as the incremental path
    standardises the changed rows: every other step reads a record alone, so the rows are
    those of one pass, and the working frames (several times the slice's size) stay the size
    of a slice however large the source is."""

    def one(item: _Input) -> tuple[pl.DataFrame, DateReport]:
        rows = item.raw.height
        if rows <= SLICE_ROWS:
            staged, report = settings.run(item, item.raw)
        else:
            dates = item.raw["raw_date_of_birth"].cast(pl.String)
            report, order = source_date_report(dates, item.hints.date_formats, settings.as_of)
            staged = pl.concat(
                [
                    settings.run(item, item.raw.slice(start, SLICE_ROWS), order)[0]
                    for start in range(0, rows, SLICE_ROWS)
                ],
                rechunk=False,
            )
        log.info("standardised %s: %d rows", item.name, staged.height)
        return staged, report

    # Sources are independent; two run at a time so that one source's Python work (proper
    # case, the libraries' slow paths) overlaps with another's vectorised work.
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(one, inputs))
    frames = [staged for staged, _ in done]
    staged_all = pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=_STAGED_TYPES)
    return staged_all, {item.name: report for item, (_, report) in zip(inputs, done, strict=True)}


def _standardise_changed(
    inputs: list[_Input],
    keys: pl.DataFrame,
    plan: ReusePlan,
    settings: _Settings,
    reports: dict[str, tuple[DateReport, DateOrder]],
) -> tuple[pl.DataFrame, int] | None:
    """The incremental path: previous staged rows for unchanged record versions, the rest
    standardised with each source's whole-source date order. Returns the rows in input order
    and how many were reused, or None when the previous run's files do not line up.

    Only the small hash file is needed to tell which rows to standardise. Each item of
    ``inputs`` is then cut down to its changed rows (in place: the whole sources' raw records
    are not held beside the previous staged rows; a caller falling back to the full path
    reads them again), and the previous staged file (every column of every row) is read on
    another thread while those rows are standardised: reading is native work, standardising
    mostly Python."""
    previous = plan.previous
    assert previous is not None
    hashes = incremental.read_hashes(previous)
    skip = None
    if plan.restandardise_invalid_dates:
        skip = incremental.read_flagged_dates(previous, hashes.height)
        if skip is None:
            return None
    # Matched before the read starts: both would queue on Polars' one thread pool.
    reuse = incremental.match_previous(keys, hashes, skip)
    changed = keys.select("__src", "__row").with_row_index("__pos").filter(reuse.is_null())
    by_source = [changed.filter(pl.col("__src") == i) for i in range(len(inputs))]
    # A comprehension, so that no loop variable keeps a whole source alive afterwards.
    inputs[:] = [
        replace(item, raw=item.raw[rows["__row"].to_numpy()])
        for item, rows in zip(inputs, by_source, strict=True)
    ]
    # Position i of the output takes row ``source[i]`` of the previous staged rows followed
    # by the rows standardised now (numbered -1, -2, ... until their offset is known).
    source = reuse.fill_null(0).to_numpy().astype(np.int64)
    parts = []
    offset = 0
    with ThreadPoolExecutor(max_workers=1) as pool:
        staged_rows = pool.submit(incremental.read_staged, previous, hashes)
        for item, rows in zip(inputs, by_source, strict=True):
            if rows.is_empty():
                continue
            staged, _ = settings.run(item, item.raw, reports[item.name][1])
            parts.append(_typed(staged))
            source[rows["__pos"].to_numpy()] = -1 - np.arange(offset, offset + staged.height)
            offset += staged.height
            log.info("standardised %s: %d new or changed rows", item.name, staged.height)
        previous_rows = staged_rows.result()
        # The future holds the frame too: while it lives, dropping gathered columns from
        # ``previous_rows`` below frees nothing (10M records: 21.9 GiB peak, not 14).
        del staged_rows
    if previous_rows is None:
        return None
    if len(source) != keys.height or offset != changed.height:
        raise StageInputError("incremental standardisation lost track of some rows (a bug)")
    source = np.where(source < 0, previous_rows.height - 1 - source, source)
    order = pl.Series(source, dtype=pl.get_index_type())
    new_rows = pl.concat(parts) if parts else None
    del parts
    # A few columns at a time, each previous column dropped once gathered: the copies made
    # here are a fraction of the table (peak memory at a million rows 3.2 -> 2.5 GB).
    # Each batch is one chunk to gather from (a file is read as one chunk per row group, and
    # the new rows are another): Polars gathers from a single chunk several times faster than
    # across chunks, more than paying for the copy.
    gathered = []
    for start in range(0, len(STAGED_COLUMNS), _GATHER_COLUMNS):
        batch = list(STAGED_COLUMNS[start : start + _GATHER_COLUMNS])
        rows = previous_rows.select(batch)
        previous_rows = previous_rows.drop(batch)
        if new_rows is not None:
            rows = rows.vstack(new_rows.select(batch))
        gathered.append(rows.rechunk()[order])
        del rows
    return pl.concat(gathered, how="horizontal"), keys.height - changed.height
