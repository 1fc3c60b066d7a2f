"""Ingest one batch of one source: read, land, merge, report, and only then move the watermark.

Each source is ingested on its own (the DAG fans out one task per source), and every output is
written so that a failure part-way leaves the previous state untouched: the raw batch appears
whole or not at all, the run's files are replaced atomically, and the source state moves last.
"""

from __future__ import annotations

import itertools
import logging
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from pipelines.errors import ConfigError, SourceError
from pipelines.ingest.changes import (
    HASH,
    ID,
    KEY,
    Changes,
    Deletions,
    Hashes,
    decide_deletions,
    pending_schema_frame,
    read_hashes,
    write_hashes,
)
from pipelines.ingest.chunks import RawChunk, Reject
from pipelines.ingest.current import build_current
from pipelines.ingest.deletions import PENDING
from pipelines.ingest.drift import absent_keys, dropped_columns, new_columns
from pipelines.ingest.landing import RawBatchWriter
from pipelines.ingest.lineage import BatchContext, land_chunk, lineage_schema, reland_chunk
from pipelines.ingest.readers import read_source
from pipelines.ingest.reconcile import (
    IdReconciliation,
    clear_request,
    reconcile_ids,
    reconcile_requested,
)
from pipelines.ingest.rejects import write_rejects
from pipelines.ingest.result import IngestResult
from pipelines.ingest.state import BatchRecord, baseline, load_state, save_state
from pipelines.ingest.suppression import Suppressor
from pipelines.warehouse import Warehouse, atomic_path, write_json

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig
    from pipelines.ingest.config import SourceConfig

logger = logging.getLogger(__name__)

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:+=-]{0,199}$")


def ingest_source(
    config: PipelineConfig,
    run_id: str,
    source: str,
    full_reload: bool = False,
    *,
    confirm_deletions: bool = False,
    reconcile: bool = False,
) -> IngestResult:
    """Land what ``source`` delivers as batch ``run_id`` and rebuild its current record set.

    Every delivered row is compared with the current set by id and row hash (see ``changes``):
    new ids and changed rows are landed whatever their timestamps, unchanged rows are not. A
    database source is asked for rows changed after its watermark minus
    ``database.lookback_minutes``; ``reconcile`` adds a pass over its ids (see ``reconcile``).
    Records the source no longer holds (missing from a snapshot, flagged, tombstoned, or gone
    from the database) are retired or queued for review per ``deletions.action``;
    ``confirm_deletions`` retires the review queue. ``full_reload`` (or a source without an
    update column) lands everything and replaces the current set. Rerunning the latest run id
    of a source starts from the same state and is idempotent.
    """
    if not _RUN_ID.match(run_id) or ".." in run_id:
        raise ConfigError(
            f"run id {run_id!r} cannot name folders: use letters, digits and _ . : + = - "
            "(for example one made by new_run_id())"
        )
    src = config.source(source)
    warehouse = Warehouse(config.warehouse.path)
    state_path = warehouse.source_state(src.name)
    state = load_state(state_path)
    base = baseline(state, run_id, src.name)
    incremental = src.incremental and not full_reload
    since = base.watermark if incremental else None
    previous = _previous_current(warehouse, src.name, base.previous_run_id, incremental)
    # A delta delivery holds changes only: even reloaded in full it adds to the current set.
    delta_files = src.kind in ("file", "s3") and src.delivery == "delta"
    compare = incremental and previous is not None
    merge = previous is not None and (incremental or delta_files)
    previous_dir = (
        warehouse.ingest_dir(base.previous_run_id, src.name) if previous is not None else None
    )
    previous_hashes = read_hashes(previous_dir / HASHES) if previous_dir is not None else None

    writer = RawBatchWriter(warehouse, src.name, run_id)
    ingested_at = writer.existing_ingested_at() or datetime.now(UTC)
    changes = Changes(
        src.name,
        previous_hashes if compare else None,
        since,
        compare=compare,
        counted_against=None if compare else previous_hashes,
    )
    ctx = BatchContext(src, run_id, ingested_at, since, changes)
    suppressor = Suppressor(config, src)
    read_since = _read_since(src, since)
    logger.info(
        "%s: ingesting batch %s (%s)",
        src.name,
        run_id,
        f"changes after {read_since.isoformat()}"
        if read_since
        else f"compared with run {base.previous_run_id} by id and row hash"
        if compare
        else "full load",
    )

    found: IdReconciliation | None = None
    try:
        wanted = reconcile or base.reconciled or reconcile_requested(config, src.name)
        if src.database is not None and src.incremental and previous is not None and wanted:
            found = reconcile_ids(src, previous)
        chunks = read_source(src, read_since)
        if found is not None and found.behind.height:
            chunks = itertools.chain(chunks, _behind(src, found, changes))
        tally = _land_batch(chunks, ctx, suppressor, writer)
        again = changes.second_pass_ids()
        if again.height:
            logger.info(
                "%s: %d duplicated id(s) changed in part; landing all their rows",
                src.name,
                again.height,
            )
            _reland(read_source(src, read_since), ctx, suppressor, writer, tally, again)
        landed_batch = writer.commit(
            {
                "source": src.name,
                "batch_id": run_id,
                "ingested_at": ingested_at.isoformat(),
                "watermark_before": since.isoformat() if since else None,
                "columns": tally.columns,
                "origins": tally.origins,
            },
            committed_before=base.rerun_of_committed,
        )
    except BaseException:
        writer.abort()
        raise

    if tally.rows_unchanged:
        logger.info("%s: %d row(s) unchanged", src.name, tally.rows_unchanged)
    watermark_after = _later(since, tally.latest) if incremental else tally.latest

    deletions = _deletions(
        warehouse,
        src,
        src.snapshot or (src.database is not None and read_since is None),
        run_id,
        previous,
        previous_dir,
        changes,
        tally,
        found,
        confirm=confirm_deletions or base.confirmed_deletions,
    )
    current_path = warehouse.current_records(run_id, src.name)
    if previous is None:
        kept = None
    elif merge:
        kept = _scan(previous).join(deletions.retired.lazy().select(ID), on=ID, how="anti")
    elif deletions.pending.height:
        kept = _scan(previous).join(deletions.pending.lazy().select(ID), on=ID, how="semi")
    else:
        kept = None
    rows_current = build_current(current_path, landed_batch.parts, kept)
    _write_hashes(
        warehouse.ingest_dir(run_id, src.name) / HASHES,
        previous_hashes,
        previous_dir / HASHES if previous_dir is not None else None,
        changes,
        deletions,
        merge=merge,
        complete=previous_hashes is not None or not merge,
    )
    _write_deletions(warehouse.ingest_dir(run_id, src.name), src.name, deletions)
    rejects_path = warehouse.ingest_rejects(run_id, src.name)
    write_rejects(rejects_path, src.name, run_id, tally.rejects)

    expected = src.columns if src.columns is not None else base.columns
    batch_columns = tally.columns
    added = new_columns(batch_columns, expected) if batch_columns else []
    dropped = dropped_columns(batch_columns, expected) if batch_columns else []
    absent = absent_keys(src, batch_columns) if batch_columns else []
    if absent:
        logger.warning(
            "%s: no record of this batch has the mapped key(s) %s; read as null", src.name, absent
        )
    if added:
        logger.warning("%s: new column(s) %s (schema drift; landed as sent)", src.name, added)
    if dropped:
        logger.warning("%s: column(s) %s are no longer sent", src.name, dropped)
    if tally.rejects:
        logger.warning("%s: %d row(s) rejected, see %s", src.name, len(tally.rejects), rejects_path)
    if deletions.detected:
        logger.warning(
            "%s: %d record(s) deleted at the source: %d retired, %d queued for review",
            src.name,
            deletions.detected,
            deletions.retired.height,
            deletions.queued.height,
        )

    result = IngestResult(
        source=src.name,
        run_id=run_id,
        batch_id=run_id,
        kind=src.kind,
        incremental=since is not None,
        full_reload=full_reload,
        rows_read=tally.rows_read,
        rows_landed=landed_batch.rows,
        rows_rejected=len(tally.rejects),
        rows_suppressed=tally.rows_suppressed,
        rows_flagged_deleted=tally.rows_flagged,
        rows_unchanged=tally.rows_unchanged,
        rows_current=rows_current,
        records_new=changes.new,
        new_behind_watermark=changes.new_behind_watermark,
        records_changed=changes.changed,
        deleted_at_source=deletions.detected,
        retired=deletions.retired.height,
        queued_for_review=deletions.queued.height,
        pending_review=deletions.pending.height,
        restored=deletions.restored,
        deletions_held_for_review=deletions.held,
        reconciled_ids=found is not None,
        columns=batch_columns,
        new_columns=added,
        dropped_columns=dropped,
        absent_keys=absent,
        watermark_before=since,
        watermark_after=watermark_after,
        origins=tally.origins,
        ingested_at=ingested_at,
        reused_batch=landed_batch.reused,
        raw_path=str(landed_batch.path),
        current_path=str(current_path),
        rejects_path=str(rejects_path),
    )
    write_json(
        warehouse.ingest_dir(run_id, src.name) / "result.json", result.model_dump(mode="json")
    )
    save_state(
        state_path,
        state,
        BatchRecord(
            run_id=run_id,
            batch_id=run_id,
            full_reload=full_reload,
            watermark_before=since,
            watermark_after=watermark_after,
            previous_run_id=base.previous_run_id if merge else None,
            compared_run_id=base.previous_run_id if previous is not None else None,
            reconciled=found is not None,
            confirmed_deletions=confirm_deletions or base.confirmed_deletions,
            columns_before=base.columns,
            rows_read=tally.rows_read,
            rows_landed=landed_batch.rows,
            rows_rejected=len(tally.rejects),
            rows_current=rows_current,
        ),
        batch_columns or (base.columns or []),
        reconciled=found is not None,
    )
    if found is not None:
        clear_request(config, src.name)
    logger.info(
        "%s: %d read, %d landed, %d rejected; %d current records",
        src.name,
        tally.rows_read,
        landed_batch.rows,
        len(tally.rejects),
        rows_current,
    )
    return result


HASHES = "row_hashes.parquet"
DELETIONS = "deletions.parquet"


def _previous_current(
    warehouse: Warehouse, source: str, previous_run_id: str | None, incremental: bool
) -> Path | None:
    """The current set this batch builds on (or, for a full load, compares with to find
    deletions); None before the source's first batch."""
    if previous_run_id is None:
        return None
    path = warehouse.current_records(previous_run_id, source)
    if path.exists():
        return path
    if incremental:
        raise SourceError(
            f"source {source!r}: the current record set of its last run "
            f"({path}) is missing, so an incremental batch has nothing to merge into; "
            "run with --full-reload"
        )
    logger.warning(
        "%s: the current record set of its last run (%s) is missing; deletions at the source "
        "cannot be found this time",
        source,
        path,
    )
    return None


def _read_since(src: SourceConfig, since: datetime | None) -> datetime | None:
    """Where the read starts: the watermark, for a database source minus its look-back (a
    late commit or a lagging clock puts rows behind the watermark). File sources are read
    whole, the comparison by hash decides."""
    if since is None or src.database is None:
        return None
    return since - timedelta(minutes=src.database.lookback_minutes)


def _behind(src: SourceConfig, found: IdReconciliation, changes: Changes) -> Iterator[RawChunk]:
    """The rows a reconciliation found behind the watermark, read by id once the watermark
    read is done (less any it delivered meanwhile, which must not land twice)."""
    from pipelines.ingest.database import read_ids

    remaining = found.behind.join(changes.seen_ids(), on=ID, how="anti")
    yield from read_ids(src, remaining[ID].to_list())


def _scan(path: Path) -> pl.LazyFrame:
    return pl.scan_parquet(path, hive_partitioning=False)


def _deletions(
    warehouse: Warehouse,
    src: SourceConfig,
    snapshot: bool,
    run_id: str,
    previous: Path | None,
    previous_dir: Path | None,
    changes: Changes,
    tally: _Tally,
    found: IdReconciliation | None,
    *,
    confirm: bool,
) -> Deletions:
    """The records of the previous current set that the source no longer holds, decided."""
    seen = changes.seen_ids()
    if previous is None:
        return decide_deletions(
            pl.DataFrame(schema={KEY: pl.String, ID: pl.String}),
            pending_schema_frame(),
            seen,
            review=False,
            confirm=False,
            run_id=run_id,
            held=False,
        )
    if changes.previous is not None:  # the ids are at hand with their hashes
        records = changes.previous.frame.select(ID)
        absent = changes.missing() if snapshot else None
    else:
        records = pl.read_parquet(previous, columns=[ID], hive_partitioning=False)
        absent = records.join(seen, on=ID, how="anti") if snapshot else None
    named: list[pl.DataFrame] = []  # ids the source names deleted (it may also deliver them)
    flagged = changes.flagged_ids()
    if flagged.height:
        named.append(records.join(flagged, on=ID, how="semi"))
    if src.database is not None and src.database.tombstone_table:
        from pipelines.ingest.database import read_tombstones

        named.append(records.join(read_tombstones(src), on=ID, how="semi"))
    if found is not None:
        named.append(records.join(found.deleted, on=ID, how="semi"))
    if named:
        named = [pl.concat(named).unique(ID).join(seen, on=ID, how="anti")]
    missing = pl.concat(
        [*named, *([absent] if absent is not None else [])]
        or [pl.DataFrame(schema={ID: pl.String})]
    ).unique(ID)
    missing = missing.select((pl.lit(f"{src.name}:") + pl.col(ID)).alias(KEY), ID)
    pending_path = previous_dir / PENDING if previous_dir is not None else None
    previous_pending = (
        pl.read_parquet(pending_path)
        if pending_path is not None and pending_path.is_file()
        else pending_schema_frame()
    )
    # A row rejected without a readable id may be any record: a snapshot missing ids then
    # cannot tell a deletion from a broken row, so its deletions wait for a steward.
    held = snapshot and tally.unidentified > 0 and missing.height > 0
    if held:
        logger.warning(
            "%s: %d rejected row(s) had no readable id, so the %d missing id(s) are queued "
            "for review instead of retired",
            src.name,
            tally.unidentified,
            missing.height,
        )
    return decide_deletions(
        missing,
        previous_pending,
        seen,
        review=src.deletions.action == "review" or held,
        confirm=confirm,
        run_id=run_id,
        held=held,
    )


def _write_hashes(
    path: Path,
    previous: Hashes | None,
    previous_path: Path | None,
    changes: Changes,
    deletions: Deletions,
    *,
    merge: bool,
    complete: bool,
) -> None:
    """Hashes of the new current set: the previous ones of records kept, and the landed."""
    if not complete:
        path.unlink(missing_ok=True)
        return
    landed = changes.landed_hashes()
    unique: bool | None = None
    if merge and previous is not None:
        if not landed.height and not deletions.retired.height and previous_path is not None:
            with atomic_path(path) as tmp:  # nothing changed: the same set, the same hashes
                shutil.copyfile(previous_path, tmp)
            return
        dropped = pl.concat([landed.select(ID), deletions.retired.select(ID)])
        frame = pl.concat([previous.frame.join(dropped, on=ID, how="anti"), landed])
        # Kept and landed ids never overlap, so only the landed ones can add a duplicate.
        unique = previous.unique_ids and landed[ID].n_unique() == landed.height
    elif not merge and previous is not None and deletions.pending.height:
        queued = previous.frame.join(deletions.pending.select(ID), on=ID, how="semi")
        frame = pl.concat([landed, queued])
    else:
        frame = landed
    write_hashes(path, frame, unique)


def _write_deletions(folder: Path, source: str, deletions: Deletions) -> None:
    """``deletions.parquet`` (what this batch retired or queued) and the review queue after it.

    Both hold record keys and ids only; the record's values stay in the raw batches that
    delivered them (history), where erasure reaches them like any other."""
    events = pl.concat(
        [
            deletions.retired.with_columns(pl.lit("retired").alias("deletion")),
            deletions.queued.with_columns(pl.lit("queued").alias("deletion")),
        ]
    ).select(KEY, pl.lit(source).alias("source_system"), ID, "deletion")
    with atomic_path(folder / DELETIONS) as tmp:
        events.write_parquet(tmp)
    with atomic_path(folder / PENDING) as tmp:
        deletions.pending.write_parquet(tmp)


def _land_batch(
    chunks: Iterator[RawChunk], ctx: BatchContext, suppressor: Suppressor, writer: RawBatchWriter
) -> _Tally:
    """Write every chunk's good rows as a part of the batch; count and keep the rest."""
    tally = _Tally()
    empty_shape = _empty_batch()  # lands when nothing else does, keeping the columns seen
    for chunk in chunks:
        landed = land_chunk(chunk, ctx)
        tally.seen_origins.setdefault(chunk.origin)
        tally.rows_read += landed.rows_read - landed.rows_unchanged
        tally.rows_unchanged += landed.rows_unchanged
        tally.rows_flagged += landed.rows_flagged
        tally.unidentified += landed.unidentified
        tally.rejects.extend(landed.rejects)
        tally.seen_columns.update(dict.fromkeys(landed.source_columns))
        empty_shape = _write(landed.frame, ctx, suppressor, writer, tally, empty_shape)
    if not writer.part_rows:
        writer.write(empty_shape)
    return tally


def _reland(
    chunks: Iterator[RawChunk],
    ctx: BatchContext,
    suppressor: Suppressor,
    writer: RawBatchWriter,
    tally: _Tally,
    ids: pl.DataFrame,
) -> None:
    """Second pass: land the unchanged rows of ids whose duplicates changed in part."""
    for chunk in chunks:
        frame = reland_chunk(chunk, ctx, ids)
        tally.rows_read += frame.height
        tally.rows_unchanged -= frame.height
        _write(frame, ctx, suppressor, writer, tally, _empty_batch())


def _write(
    frame: pl.DataFrame,
    ctx: BatchContext,
    suppressor: Suppressor,
    writer: RawBatchWriter,
    tally: _Tally,
    empty_shape: pl.DataFrame,
) -> pl.DataFrame:
    """Suppress, remember the hashes of and write one frame of landed rows; returns the shape
    to land if nothing else does."""
    if frame.height:
        latest = frame["source_updated_at"].max()
        if latest is not None and (tally.latest is None or latest > tally.latest):  # type: ignore[operator]
            tally.latest = latest  # type: ignore[assignment]
    rows, suppressed = suppressor.apply(frame.drop(HASH, strict=False))
    tally.rows_suppressed += suppressed
    if suppressed:
        frame = frame.join(rows.select(KEY), on=KEY, how="semi")
        # Erased subjects are never in the current set, so they counted as new: they are not.
        ctx.changes.new = max(0, ctx.changes.new - suppressed)
    if rows.height:
        if HASH in frame.columns:
            ctx.changes.landed(frame)
        writer.write(rows)
    elif rows.width > empty_shape.width:
        empty_shape = rows
    return empty_shape


@dataclass
class _Tally:
    """What the source delivered in one batch, counted while it was landed."""

    rows_read: int = 0
    rows_unchanged: int = 0
    rows_suppressed: int = 0
    rows_flagged: int = 0
    unidentified: int = 0
    rejects: list[Reject] = field(default_factory=list)
    seen_columns: dict[str, None] = field(default_factory=dict)
    seen_origins: dict[str, None] = field(default_factory=dict)
    latest: datetime | None = None
    """Latest update time among the rows landed."""

    @property
    def columns(self) -> list[str]:
        """Source columns of the batch, in the order they were first seen."""
        return list(self.seen_columns)

    @property
    def origins(self) -> list[str]:
        return list(self.seen_origins)


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


def _empty_batch() -> pl.DataFrame:
    return pl.DataFrame(schema=lineage_schema())
