"""The golden stage: staged records and clusters in, golden tables and a proposed id registry out.

It never moves the ids of record: it writes the registry it *proposes* to
``golden/id_registry.parquet``, and publish copies that to ``state/id_registry.parquet`` only
when the whole publish succeeds, so a failed run leaves every published id where it was. All
outputs of one build appear together: they are written to a temporary folder that replaces the
run's ``golden/`` folder in one rename.

Rebuilding a run is safe. Before its publish, a rebuild may mint different ids for brand-new
customers (nobody has seen them yet). After its publish (a cleared-and-rerun scheduler run), the
registry of record already holds the run's ids, so they are kept, and the first build's change
log is kept as long as every record maps to the same id. Rebuilding an older run once a newer
one has published is refused: it would move ids backwards.

Survivorship is incremental (:mod:`pipelines.golden.reuse`): customers whose records and values
are those the previous run built them from keep that run's golden row and provenance; only the
others are decided again. Each build leaves ``golden_state/`` beside ``golden/`` for the next.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

from matching.decisions import DecisionError, DecisionStore
from matching.ids import GoldenIdFactory, IdAssignmentError, assign_golden_ids, keys_distinct
from matching.layout import CLUSTERS_FILE
from pipelines.errors import StageInputError
from pipelines.golden import reuse
from pipelines.golden.config import SurvivalUnit
from pipelines.golden.pins import resolve_pins
from pipelines.golden.survivorship import RECORD_COLUMNS, survive
from pipelines.history.schema import (
    golden_customers_history_schema,
    golden_events_schema,
    golden_id_aliases_schema,
)
from pipelines.history.store import load_previous
from pipelines.history.timeline import advance, run_time
from pipelines.profile.build import build_profile
from pipelines.profile.schema import customer_profile_schema
from pipelines.publish.tables import TABLES
from pipelines.schema import (
    customer_xref_schema,
    golden_changes_schema,
    golden_customers_schema,
    golden_field_provenance_schema,
    id_registry_schema,
)
from pipelines.scorecard import store as scorecard_store
from pipelines.scorecard.build import run_scorecard, with_history
from pipelines.scorecard.schema import dq_scorecard_schema
from pipelines.warehouse import Warehouse, dir_mode

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig

logger = logging.getLogger(__name__)

OUTPUT_FILES = {
    "golden_customers": golden_customers_schema,
    "customer_xref": customer_xref_schema,
    "golden_field_provenance": golden_field_provenance_schema,
    "golden_changes": golden_changes_schema,
    "id_registry": id_registry_schema,
    "golden_customers_history": golden_customers_history_schema,
    "golden_events": golden_events_schema,
    "golden_id_aliases": golden_id_aliases_schema,
    "customer_profile": customer_profile_schema,
    "dq_scorecard": dq_scorecard_schema,
}
"""Files of ``runs/<run_id>/golden/`` (``<name>.parquet``) and their Arrow schemas."""

STAGED_COLUMNS = (*(c for c in RECORD_COLUMNS if c != "golden_id"), "ingested_at")

DIGEST_COLUMNS = (*STAGED_COLUMNS, "first_seen_at")
"""Everything of a record that its customer's golden row and provenance depend on: a customer
whose members' values here are unchanged keeps its previous survivors."""


class GoldenResult(BaseModel):
    """What the golden stage did; the golden id counts go into the run summary."""

    run_id: str
    golden_records: int
    xref_rows: int
    provenance_rows: int
    created: int
    """New customers (no record had an id before)."""
    kept: int
    """Ids that continue (grown, shrunk or unchanged), merges' survivors excluded."""
    merged: int
    """Ids that continue and absorbed others."""
    split: int
    """New ids for parts split off an existing customer."""
    absorbed: int
    """Ids that ended by merging into another."""
    retired: int
    """Ids whose records all vanished."""
    pins_applied: int
    pins_orphaned: int
    """Active pins on ids that no longer exist (logged with their decision ids)."""
    decision_conflicts: int
    """Active must-links across two golden records or cannot-links inside one (logged)."""
    output_dir: str
    path: str = "full"
    """``incremental`` when unchanged customers kept the previous run's survivors."""
    full_reason: str | None = None
    """Why survivorship ran on every customer (None on the incremental path)."""
    reused_from: str | None = None
    """The run whose survivors were kept."""
    golden_ids_reused: int = 0
    golden_ids_rebuilt: int = 0
    history_versions_opened: int = 0
    """Rows this run added to ``golden_customers_history`` (new ids and changed values)."""
    history_events: int = 0
    """Rows this run added to ``golden_events``."""


def build_golden(
    config: PipelineConfig,
    run_id: str,
    *,
    id_factory: GoldenIdFactory | None = None,
    full: bool = False,
) -> GoldenResult:
    """Build this run's golden records, crosswalk, provenance, changes and proposed registry.

    ``id_factory`` mints new golden ids (default: random ids with ``config.golden.id_prefix``);
    tests pass a seeded one. ``full`` decides every customer again instead of keeping the
    previous run's survivors of unchanged ones (the outputs are the same either way).
    """
    warehouse = Warehouse(config.warehouse.path)
    staged_path = warehouse.require(warehouse.staged_accepted(run_id), "validate_staged")
    clusters_path = warehouse.require(warehouse.match_dir(run_id) / CLUSTERS_FILE, "match")
    out_dir = warehouse.golden_dir(run_id)

    staged = _read(staged_path, STAGED_COLUMNS)
    _require_unique_keys(staged, staged_path)
    clusters = _read(clusters_path, ("record_key", "cluster_id"), optional=("match_probability",))
    _reconcile(staged, clusters, staged_path, clusters_path)

    previous, previous_path = _previous_registry(warehouse, run_id)
    decisions_path = warehouse.decisions
    try:
        store = DecisionStore(decisions_path)
        pins = store.pins()
        must_links, cannot_links = store.links()
    except DecisionError as exc:
        raise StageInputError(str(exc)) from None

    factory = id_factory or GoldenIdFactory(config.golden.id_prefix)
    try:
        assignment = assign_golden_ids(clusters, previous, run_id, factory=factory)
    except IdAssignmentError as exc:
        raise StageInputError(f"{clusters_path} / {previous_path}: {exc}") from None

    first_seen = staged.select("record_key", pl.col("ingested_at").alias("_ingested"))
    if previous is not None and "first_seen_at" in previous.columns:
        first_seen = first_seen.join(
            previous.select("record_key", pl.col("first_seen_at").cast(pl.Datetime("us", "UTC"))),
            on="record_key",
            how="left",
        )
    else:
        first_seen = first_seen.with_columns(
            pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("first_seen_at")
        )
    registry = assignment.registry.join(
        first_seen.select(
            "record_key", pl.coalesce("first_seen_at", "_ingested").alias("first_seen_at")
        ),
        on="record_key",
        how="left",
    )

    resolved = resolve_pins(pins, registry, decisions_path)
    records = staged.join(
        registry.select("record_key", "golden_id", "first_seen_at"), on="record_key"
    )
    # Everything below reads ``records``, a copy of the staged rows with their golden ids:
    # the staged frame itself would only hold as much memory again until the stage ends.
    del staged, first_seen
    units = config.golden.survivorship.units()
    state_fingerprint = reuse.fingerprint(units, DIGEST_COLUMNS)
    digests = reuse.member_digests(records, DIGEST_COLUMNS)
    pinned = resolved.pins["golden_id"].unique()
    previous_run = _published_by(previous) if previous is not None else None
    if full:
        plan, full_reason = None, "a full rebuild was asked for"
    else:
        plan, full_reason = reuse.plan_reuse(
            warehouse, previous_run, state_fingerprint, digests, pinned
        )
    # Each table is written (on a background thread) as soon as it is final and dropped here:
    # the stage never holds every output, and its Arrow copy, at once. The record-sized ones
    # (crosswalk, registry) go first, so that survivorship runs beside the records alone.
    with _OutputFolder(out_dir) as outputs:
        xref_rows = outputs.write(
            "customer_xref",
            records.select("source_system", "source_record_id", "record_key", "golden_id")
            .join(clusters.select("record_key", "match_probability"), on="record_key", how="left")
            .with_columns(pl.lit(run_id).alias("run_id"))
            .sort("record_key"),
        )
        del clusters
        changes = assignment.changes
        if previous is not None and previous_run == run_id:
            changes = _changes_of_published_run(out_dir, changes, registry, previous)
        conflicts = _decision_conflicts(registry, must_links, cannot_links)
        outputs.write("id_registry", registry)
        del registry, assignment, previous
        # Provenance (a row per customer and field: the largest output) goes to its file a
        # slice at a time as survivorship decides it; it is never held whole.
        with outputs.stream("golden_field_provenance") as provenance:
            golden, followed, full_reason = _survivors(
                records, units, resolved.pins, run_id, plan, full_reason, provenance
            )
        provenance_rows = provenance.rows
        run_at = run_time(run_id)
        # The scorecard is the last reader of the records (it reads no history column of the
        # golden rows): they are dropped before the history is loaded beside the golden rows.
        scorecard = run_scorecard(records, golden, run_id, run_at, config.scorecard.freshness_days)
        del records
        outputs.write(
            "dq_scorecard",
            with_history(scorecard_store.load_previous(warehouse, previous_run), scorecard, run_id),
        )
        step = advance(
            load_previous(warehouse, previous_run),
            golden,
            changes,
            run_id,
            run_at,
            # Reused rows equal the open versions only when reused from an earlier run: a
            # rebuilt run's own rows are compared with the versions from before it.
            unchanged=None
            if followed is None or followed.run_id >= run_id
            else followed.golden_ids,
        )
        golden = step.golden
        outputs.write("golden_customers_history", step.tables.history)
        outputs.write("golden_events", step.tables.events)
        outputs.write("golden_id_aliases", step.tables.aliases)
        versions_opened, events = step.versions_opened, step.events
        del step
        outputs.write("customer_profile", build_profile(golden, run_id, run_at))
        golden_rows = outputs.write("golden_customers", golden)
        del golden
        outputs.write("golden_changes", changes)
        reuse.clear_state(warehouse, run_id)
        outputs.commit()
    reuse.write_state(warehouse, run_id, digests, pinned, state_fingerprint)
    reused = 0 if followed is None else followed.golden_ids.len()
    counts = {kind: int((changes["change"] == kind).sum()) for kind in _CHANGE_KINDS}
    result = GoldenResult(
        run_id=run_id,
        golden_records=golden_rows,
        xref_rows=xref_rows,
        provenance_rows=provenance_rows,
        **counts,
        pins_applied=resolved.pins.height,
        pins_orphaned=len(resolved.orphaned),
        decision_conflicts=conflicts,
        output_dir=str(out_dir),
        path="full" if full_reason is not None else "incremental",
        full_reason=full_reason,
        reused_from=None if followed is None else followed.run_id,
        golden_ids_reused=reused,
        golden_ids_rebuilt=golden_rows - reused,
        history_versions_opened=versions_opened,
        history_events=events,
    )
    logger.info(
        "golden run %s: %d golden records from %d source records; ids %s",
        run_id,
        result.golden_records,
        result.xref_rows,
        ", ".join(f"{k} {v}" for k, v in counts.items()),
    )
    return result


_CHANGE_KINDS = ("created", "kept", "merged", "split", "absorbed", "retired")


def _survivors(
    records: pl.DataFrame,
    units: list[SurvivalUnit],
    pins: pl.DataFrame,
    run_id: str,
    plan: reuse.Reuse | None,
    full_reason: str,
    provenance: _TableStream,
) -> tuple[pl.DataFrame, reuse.Reuse | None, str | None]:
    """``golden_customers``, the reuse plan that was followed (or None), and why the full path
    was taken (or None); the provenance rows go to ``provenance`` in golden id order.

    With a reuse plan only the customers it does not cover go through :func:`survive`; the
    others' rows come from the previous run's tables, merged in golden id order. Nothing is
    written before the plan is known to hold, so a plan that fails falls back to the full
    path with an empty file.
    """
    if plan is not None:
        rebuilt = records.filter(~pl.col("golden_id").is_in(plan.golden_ids.implode()))
        parts: list[pl.DataFrame] = []
        golden = _decide(rebuilt, units, pins, run_id, parts.append)
        reused = reuse.reused_golden(plan, run_id, golden)
        if reused is not None:
            logger.info(
                "golden run %s: incremental survivorship, %d golden ids kept from run %s, "
                "%d decided again",
                run_id,
                plan.golden_ids.len(),
                plan.run_id,
                golden.height,
            )
            for frame in reuse.reused_provenance(plan, run_id, pl.concat(parts)):
                provenance.write(frame)
            return reuse.merge_by_golden_id(reused, golden), plan, None
        full_reason = f"run {plan.run_id}'s golden tables lack golden ids its state lists"
    logger.info("golden run %s: full survivorship (%s)", run_id, full_reason)
    return _decide(records, units, pins, run_id, provenance.write), None, full_reason


def _decide(
    records: pl.DataFrame,
    units: list[SurvivalUnit],
    pins: pl.DataFrame,
    run_id: str,
    provenance: Callable[[pl.DataFrame], object],
) -> pl.DataFrame:
    """Survivorship over ``records``: their golden rows of this run; their provenance rows go
    to ``provenance``, a slice at a time in golden id order.

    Customers are decided in slices of about :data:`SURVIVE_SLICE_RECORDS` records (by golden
    id, so the slices' outputs follow each other in order): survivorship decides each customer
    from its own records only, and its working frames, several times the records' size, then
    stay the size of a slice however many customers there are."""
    golden = []
    for part in _customer_slices(records, SURVIVE_SLICE_RECORDS):
        survivors = survive(part, units, pins)
        golden.append(_golden_customers(part, survivors.values, run_id))
        provenance(survivors.provenance.with_columns(pl.lit(run_id).alias("run_id")))
        del part, survivors
    return pl.concat(golden, rechunk=False)


SURVIVE_SLICE_RECORDS = 500_000
"""Records per slice of survivorship (:func:`_decide`)."""


def _customer_slices(records: pl.DataFrame, size: int) -> Iterator[pl.DataFrame]:
    """``records`` in slices of whole customers, about ``size`` records each, in golden id
    order (one slice when there are no more records than that)."""
    if records.height <= size:
        yield records
        return
    before = pl.col("len").cum_sum() - pl.col("len")
    starts = (
        records.group_by("golden_id")
        .len()
        .sort("golden_id")
        .group_by((before // size).alias("_slice"), maintain_order=True)
        .agg(pl.col("golden_id").first())["golden_id"]
        .to_list()
    )
    for lower, upper in zip(starts, [*starts[1:], None], strict=True):
        inside = pl.col("golden_id") >= lower
        if upper is not None:
            inside &= pl.col("golden_id") < upper
        yield records.filter(inside)


# --- inputs -----------------------------------------------------------------------------------
def _read(path: Path, columns: tuple[str, ...], optional: tuple[str, ...] = ()) -> pl.DataFrame:
    try:
        available = pl.read_parquet_schema(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear error
        raise StageInputError(f"{path} is not a readable Parquet file: {exc}") from None
    missing = [c for c in columns if c not in available]
    if missing:
        raise StageInputError(
            f"{path} lacks column(s) {missing}; rerun the stage that writes it for this run id"
        )
    wanted = [*columns, *(c for c in optional if c in available)]
    frame = pl.read_parquet(path, columns=wanted)
    for column in optional:
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.Float64).alias(column))
    return frame


def _require_unique_keys(staged: pl.DataFrame, path: Path) -> None:
    keys = staged["record_key"]
    if not keys.has_nulls() and keys_distinct(keys):
        return
    problems = staged.filter(pl.col("record_key").is_null() | pl.col("record_key").is_duplicated())
    if problems.height:
        sample = problems["record_key"].unique().head(5).to_list()
        raise StageInputError(
            f"{path} has {problems.height} row(s) with an empty or repeated record_key "
            f"(e.g. {sample}); each accepted record must appear once"
        )


def _reconcile(
    staged: pl.DataFrame, clusters: pl.DataFrame, staged_path: Path, clusters_path: Path
) -> None:
    """Every accepted record must be clustered, and only those: nothing silently lost.

    ``staged`` keys are unique: when every one of them is clustered and there are as many
    cluster rows, the clusters hold exactly those keys, so the second join is only needed to
    describe a mismatch.
    """
    unclustered = staged.join(clusters, on="record_key", how="anti")["record_key"]
    if unclustered.is_empty() and clusters.height == staged.height:
        return
    unknown = clusters.join(staged, on="record_key", how="anti")["record_key"]
    if unclustered.len() or unknown.len():
        parts = []
        if unclustered.len():
            parts.append(
                f"{unclustered.len()} accepted record(s) of {staged_path} have no cluster "
                f"(e.g. {unclustered.sort().head(5).to_list()})"
            )
        if unknown.len():
            parts.append(
                f"{unknown.len()} clustered record(s) are not accepted records "
                f"(e.g. {unknown.sort().head(5).to_list()})"
            )
        raise StageInputError(
            f"{clusters_path} does not match the staged records: {'; '.join(parts)}; "
            "rerun the match stage for this run id"
        )


def _published_by(registry: pl.DataFrame) -> str | None:
    runs = registry["run_id"].drop_nulls() if "run_id" in registry.columns else None
    return None if runs is None or runs.is_empty() else str(runs.max())


def _previous_registry(warehouse: Warehouse, run_id: str) -> tuple[pl.DataFrame | None, Path]:
    """The registry of the last publish; an error if a later run has published since."""
    path = warehouse.id_registry
    if not path.exists():
        return None, path
    try:
        registry = pl.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear error
        raise StageInputError(
            f"{path} is not a readable Parquet file: {exc}; restore state/ from a backup"
        ) from None
    published = _published_by(registry)
    if published is not None and published > run_id:
        raise StageInputError(
            f"{path} was published by run {published}, later than run {run_id}: rebuilding an "
            "older run's golden records would move ids backwards; start a new run instead"
        )
    if published == run_id:
        logger.warning(
            "run %s was already published; rebuilding its golden records keeps the published ids",
            run_id,
        )
    return registry, path


def _changes_of_published_run(
    out_dir: Path, changes: pl.DataFrame, registry: pl.DataFrame, published: pl.DataFrame
) -> pl.DataFrame:
    """Rebuilding a published run with unchanged clusters keeps its original change log.

    Relative to its own publish, every id would read ``kept``; the first build's log is the
    truthful one as long as the records map to the same ids.
    """
    original = out_dir / "golden_changes.parquet"
    same = (
        published.select("record_key", "golden_id")
        .sort("record_key")
        .equals(registry.select("record_key", "golden_id").sort("record_key"))
    )
    if same and original.exists():
        return pl.read_parquet(original)
    return changes


def _decision_conflicts(
    registry: pl.DataFrame,
    must_links: list[tuple[str, str]],
    cannot_links: list[tuple[str, str]],
) -> int:
    """Count (and log) steward links the clusters do not honour; matching applies them."""
    if not must_links and not cannot_links:
        return 0
    ids = registry.select("record_key", "golden_id")
    pairs = pl.DataFrame(
        {
            "left": [p[0] for p in must_links + cannot_links],
            "right": [p[1] for p in must_links + cannot_links],
            "kind": ["must_link"] * len(must_links) + ["cannot_link"] * len(cannot_links),
        },
        schema={"left": pl.String, "right": pl.String, "kind": pl.String},
    )
    joined = pairs.join(ids.rename({"record_key": "left", "golden_id": "id_l"}), on="left").join(
        ids.rename({"record_key": "right", "golden_id": "id_r"}), on="right"
    )
    broken = joined.filter(
        ((pl.col("kind") == "must_link") & (pl.col("id_l") != pl.col("id_r")))
        | ((pl.col("kind") == "cannot_link") & (pl.col("id_l") == pl.col("id_r")))
    )
    for left, right, kind, id_l, id_r in broken.iter_rows():
        logger.warning(
            "steward %s %s ~ %s is not honoured by the clusters (golden ids %s, %s); "
            "rerun the match stage, or resolve contradicting decisions",
            kind,
            left,
            right,
            id_l,
            id_r,
        )
    return broken.height


# --- outputs ----------------------------------------------------------------------------------
def _golden_customers(records: pl.DataFrame, values: pl.DataFrame, run_id: str) -> pl.DataFrame:
    facts = records.group_by("golden_id").agg(
        pl.len().alias("source_record_count"),
        pl.col("source_system").unique().sort().alias("source_systems"),
        pl.col("first_seen_at").min(),
        pl.col("source_updated_at").max(),
    )
    return (
        values.join(facts, on="golden_id")
        .with_columns(
            # Set by the history step (pipelines.history): it knows when the values changed.
            pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("golden_changed_at"),
            pl.lit(run_id).alias("run_id"),
        )
        .sort("golden_id")
    )


ROW_GROUP_ROWS = 128_000
"""Rows per Parquet row group: the size publish streams in, and enough groups for DuckDB to
read one file on several threads."""


NEAR_UNIQUE_COLUMNS = frozenset(
    {
        "golden_id",
        "record_key",
        "source_record_id",
        "email",
        "phone",
        "full_name",
        "address_line1",
        "postcode",
        "source_updated_at",
        "golden_changed_at",
        "match_probability",
        "current_golden_id",
    }
)
"""Columns with (nearly) one value per row: written without dictionary encoding, which would
build a dictionary only to give it up past its page limit (a third of the write time, and
larger files). The data and schema are the same either way; only the encoding differs."""


def _dictionary_columns(schema: pa.Schema) -> list[str]:
    return [name for name in schema.names if name not in NEAR_UNIQUE_COLUMNS]


def _file_schema(name: str) -> pa.Schema:
    """A published table's documented schema (so publish copies the file as it is), else the
    file's own."""
    if name in TABLES:
        return TABLES[name].documented_schema()
    return OUTPUT_FILES[name]()


def _to_arrow(frame: pl.DataFrame, schema: pa.Schema) -> pa.Table:
    return frame.select(schema.names).to_arrow().cast(schema)


class _OutputFolder:
    """The run's golden files, written one by one into a fresh folder that replaces ``out_dir``
    in one rename (:meth:`commit`); leaving the ``with`` block without committing removes it.

    Parquet encoding releases the GIL: files are written on two background threads (one per
    core) while the stage computes the next table, and each frame is released once written.
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="golden-write")
        self._pending: list[Future[None]] = []
        self._streams: list[_TableStream] = []
        self._staging: Path | None = None
        self._committed = False

    def __enter__(self) -> _OutputFolder:
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        self._staging = Path(tempfile.mkdtemp(prefix=".golden.", dir=self.out_dir.parent))
        self._staging.chmod(dir_mode())  # mkdtemp makes 0700; warehouse.access decides
        return self

    def stream(self, name: str) -> _TableStream:
        """``<name>.parquet`` written a frame at a time (close it before :meth:`commit`)."""
        assert self._staging is not None, "stream() outside the with block"
        stream = _TableStream(name, self._staging / f"{name}.parquet")
        self._streams.append(stream)
        return stream

    def write(self, name: str, frame: pl.DataFrame) -> int:
        """Queue ``frame`` to be written as ``<name>.parquet``; its row count."""
        assert self._staging is not None, "write() outside the with block"
        target = self._staging / f"{name}.parquet"
        self._pending.append(self._pool.submit(_write_table, name, frame, target))
        return frame.height

    def commit(self) -> None:
        """Wait for every file (a failed write raises here), then swap the folder in."""
        assert self._staging is not None, "commit() outside the with block"
        for future in self._pending:
            future.result()
        for stream in self._streams:
            stream.close()
        retired = None
        if self.out_dir.exists():
            retired = Path(tempfile.mkdtemp(prefix=".golden.old.", dir=self.out_dir.parent))
            self.out_dir.rename(retired / "golden")
        try:
            self._staging.rename(self.out_dir)
        except OSError:
            if retired is not None:
                (retired / "golden").rename(self.out_dir)
            raise
        self._committed = True
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)

    def __exit__(self, *exc: object) -> None:
        # Writes still running must finish before their folder is removed.
        self._pool.shutdown(wait=True, cancel_futures=True)
        for stream in self._streams:
            stream.abort()
        if not self._committed and self._staging is not None and self._staging.exists():
            shutil.rmtree(self._staging, ignore_errors=True)


def _write_table(name: str, frame: pl.DataFrame, target: Path) -> None:
    """Write ``frame`` as the whole file ``target`` (an empty frame as one empty row group)."""
    with _parquet_writer(name, target) as writer:
        _write_rows(writer, frame)
        if frame.is_empty():
            writer.write_table(writer.schema.empty_table())


def _parquet_writer(name: str, target: Path) -> pq.ParquetWriter:
    """A writer of ``target`` with the file schema of output ``name``."""
    schema = _file_schema(name)
    return pq.ParquetWriter(
        target, schema, compression="zstd", use_dictionary=_dictionary_columns(schema)
    )


def _write_rows(writer: pq.ParquetWriter, frame: pl.DataFrame) -> None:
    """Append ``frame`` with the writer's schema, one row group at a time: the Arrow copy (and
    the cast to the documented types) never holds more than a row group of a table that may
    have tens of millions of rows."""
    for start in range(0, frame.height, ROW_GROUP_ROWS):
        writer.write_table(_to_arrow(frame.slice(start, ROW_GROUP_ROWS), writer.schema))


class _TableStream:
    """One output file written a frame at a time, in the order given, on its own background
    thread, so encoding overlaps the computing of the next frame.

    At most :data:`_STREAM_QUEUE` frames wait to be written: a producer faster than the
    encoder (reading a previous file, say) waits instead of queueing the whole table.
    """

    def __init__(self, name: str, target: Path) -> None:
        self._writer = _parquet_writer(name, target)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"golden-{name}")
        self._pending: list[Future[None]] = []
        self._closed = False
        self.rows = 0
        """Rows given so far."""

    def __enter__(self) -> _TableStream:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        else:
            self.abort()

    def write(self, frame: pl.DataFrame) -> None:
        """Queue ``frame``'s rows after those given before; a failed earlier write raises."""
        while len(self._pending) >= _STREAM_QUEUE:
            self._pending.pop(0).result()
        self.rows += frame.height
        self._pending.append(self._pool.submit(self._encode, frame))

    def _encode(self, frame: pl.DataFrame) -> None:
        _write_rows(self._writer, frame)

    def close(self) -> None:
        """Wait for every queued frame (a failed write raises here) and finish the file."""
        if self._closed:
            return
        try:
            for future in self._pending:
                future.result()
            if self.rows == 0:  # one empty row group, as a table written whole would have
                self._writer.write_table(self._writer.schema.empty_table())
        finally:
            self._pending.clear()
            self._pool.shutdown(wait=True)
            self._writer.close()
            self._closed = True

    def abort(self) -> None:
        """Stop writing: queued frames are dropped (the folder is being thrown away)."""
        if self._closed:
            return
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._writer.close()
        self._closed = True


_STREAM_QUEUE = 2
"""Frames a :class:`_TableStream` lets wait to be written."""
