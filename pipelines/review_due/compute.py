"""Compute ``review_due``: records and golden records due for periodic review, and why.

Reasons (priority 1 most urgent):

* ``conflicting_sources`` (1): a golden record whose records from two or more sources hold two
  or more values of a ``review_due.conflict_fields`` field;
* ``invalid_contact`` (2): a record whose email or phone failed standardisation in each of the
  last ``invalid_contact_runs`` runs;
* ``placeholder_value`` (2): a golden value matching ``review_due.placeholder_patterns``;
* ``absorbed_id_sent`` (2): a record whose source still holds, in its
  ``review_due.golden_id_columns`` column, a golden id that ``golden_id_aliases`` says was merged
  into another: that system has not taken the merge in (``since`` the run of the merge);
* ``stale`` (3): a record unconfirmed for longer than its source's age limit: its source's last
  update time (else when it was first seen), or a steward's confirmation if later.

``since`` is when the row became due: for ``stale`` the moment the age limit passed, for the
others the refresh that first found it (kept from refresh to refresh). A confirmation of the
record or its golden record at or after ``since`` clears the row. Detail texts carry counts and
field names, never record values, so the table is no more personal than the ids it names.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

from pipelines.errors import StageInputError
from pipelines.publish.reader import current_run_id, read_tables
from pipelines.publish.versions import resolve_version
from pipelines.review_due.config import ReviewDueConfig
from pipelines.review_due.confirmations import due_path, load_confirmations, now
from pipelines.review_due.schema import PRIORITY, review_due_schema
from pipelines.warehouse import Warehouse, atomic_path

logger = logging.getLogger(__name__)

_TS = pl.Datetime("us", "UTC")
_KEY = ["golden_id", "record_key", "reason", "field"]


class RefreshResult(BaseModel):
    run_id: str
    rows: int
    by_reason: dict[str, int]
    path: str
    refreshed_at: datetime


def _frame(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _staged(warehouse: Warehouse, run_id: str, columns: list[str]) -> pl.DataFrame | None:
    path = warehouse.staged_accepted(run_id)
    if not path.exists():
        return None
    names = pq.read_schema(path).names
    return pl.read_parquet(path, columns=[c for c in columns if c in names])


def _rows(frame: pl.DataFrame, reason: str) -> pl.DataFrame:
    return frame.with_columns(
        pl.lit(reason).alias("reason"), pl.lit(PRIORITY[reason], pl.Int64).alias("priority")
    )


def conflicting_sources(records: pl.DataFrame, fields: list[str]) -> pl.DataFrame:
    """Golden records whose sources disagree on a field (two+ values from two+ sources)."""
    parts = []
    for field in fields:
        if field not in records.columns:
            continue
        value = pl.col(field).cast(pl.String)
        found = (
            records.filter(value.is_not_null() & (value.str.strip_chars() != ""))
            .group_by("golden_id")
            .agg(
                value.n_unique().alias("_values"),
                pl.col("source_system").n_unique().alias("_sources"),
            )
            .filter((pl.col("_values") > 1) & (pl.col("_sources") > 1))
        )
        parts.append(
            found.select(
                "golden_id",
                pl.lit(field).alias("field"),
                pl.format("{} values from {} sources", "_values", "_sources").alias("detail"),
            )
        )
    out = pl.concat(parts) if parts else pl.DataFrame()
    return _rows(out, "conflicting_sources") if out.height else out


def placeholder_values(golden: pl.DataFrame, patterns: dict[str, str]) -> pl.DataFrame:
    """Golden records holding a placeholder value."""
    parts = []
    for field, pattern in patterns.items():
        if field not in golden.columns:
            continue
        text = pl.col(field).cast(pl.String).str.strip_chars()
        hit = golden.filter(text.str.contains(f"(?i){pattern}").fill_null(False))
        parts.append(
            hit.select(
                "golden_id",
                pl.lit(field).alias("field"),
                pl.lit("looks like a placeholder").alias("detail"),
            )
        )
    out = pl.concat(parts) if parts else pl.DataFrame()
    return _rows(out, "placeholder_value") if out.height else out


def invalid_contacts(
    warehouse: Warehouse, run_id: str, runs: int, xref: pl.DataFrame
) -> pl.DataFrame:
    """Records whose email or phone was invalid in each of the last ``runs`` runs."""
    history = [
        r for r in warehouse.run_ids() if r <= run_id and warehouse.staged_accepted(r).exists()
    ]
    window = history[-runs:]
    if len(window) < runs:
        return pl.DataFrame()
    streak: pl.DataFrame | None = None
    for r in window:
        staged = _staged(warehouse, r, ["record_key", "invalid_fields"])
        if staged is None or "invalid_fields" not in staged.columns:
            return pl.DataFrame()
        bad = (
            staged.explode("invalid_fields")
            .filter(pl.col("invalid_fields").is_in(["email", "phone"]))
            .select("record_key", pl.col("invalid_fields").alias("field"))
            .unique()
        )
        streak = bad if streak is None else streak.join(bad, on=["record_key", "field"], how="semi")
    assert streak is not None
    out = streak.join(xref.select("record_key", "golden_id", "source_system"), on="record_key")
    out = out.with_columns(pl.lit(f"invalid in each of the last {runs} run(s)").alias("detail"))
    return _rows(out, "invalid_contact") if out.height else out


def absorbed_ids_sent(
    held: pl.DataFrame, aliases: pl.DataFrame, xref: pl.DataFrame
) -> pl.DataFrame:
    """Records whose source holds a golden id that was merged into another.

    ``held``: ``record_key``, ``source_system``, ``field`` (the source column) and ``held_id``,
    one row per record of a source's current record set with an id in that column. Ids that
    are active (the right one, or another customer's: not this reason), retired, erased or
    unknown are left alone; only ``merged`` says where the customer went.
    """
    if not held.height:
        return pl.DataFrame()
    merged = aliases.filter(pl.col("status") == "merged").select(
        pl.col("golden_id").alias("held_id"),
        pl.col("current_golden_id").alias("_carrier"),
        pl.col("since_run").alias("_run"),
    )
    out = (
        held.join(merged, on="held_id")
        .join(
            xref.select("record_key", pl.col("golden_id").alias("_record_gid")),
            on="record_key",
            how="left",
        )
        .with_columns(pl.coalesce("_record_gid", "_carrier").alias("golden_id"))
    )
    if not out.height:
        return pl.DataFrame()
    # ``since``: the start of the run that merged the id (read from its id, as history does);
    # a run id given by hand has no time, and the row is due from this refresh then.
    merged_at = (
        pl.col("_run")
        .str.slice(0, 16)
        .str.strptime(pl.Datetime("us"), "%Y%m%dT%H%M%SZ", strict=False)
    )
    out = out.with_columns(
        pl.format("holds {}, merged into {} in run {}", "held_id", "_carrier", "_run").alias(
            "detail"
        ),
        merged_at.dt.replace_time_zone("UTC").alias("since"),
    ).select("golden_id", "record_key", "source_system", "field", "detail", "since")
    return _rows(out, "absorbed_id_sent")


def held_golden_ids(warehouse: Warehouse, run_id: str, columns: dict[str, str]) -> pl.DataFrame:
    """What each configured source holds in its golden-id column, over the source's current
    record set of ``run_id`` (its last delivery with the records it has not changed or
    deleted since): ``record_key``, ``source_system``, ``field``, ``held_id``."""
    parts = []
    for source, column in sorted(columns.items()):
        path = warehouse.current_records(run_id, source)
        if not path.exists():
            raise StageInputError(
                f"{path} is missing: review_due.golden_id_columns.{source} needs the current "
                f"records of source {source!r} in the published run {run_id}"
            )
        names = pq.read_schema(path).names
        if column not in names:
            raise StageInputError(
                f"review_due.golden_id_columns.{source}: source {source!r} has no column "
                f"{column!r} in run {run_id} ({path}); its columns are {sorted(names)}"
            )
        frame = pl.read_parquet(path, columns=["source_record_id", column])
        held = pl.col(column).cast(pl.String).str.strip_chars()
        parts.append(
            frame.filter(held.is_not_null() & (held != ""))
            .select(
                pl.format("{}:{}", pl.lit(source), "source_record_id").alias("record_key"),
                pl.lit(source).alias("source_system"),
                pl.lit(column).alias("field"),
                held.alias("held_id"),
            )
            .unique()
        )
    return pl.concat(parts) if parts else pl.DataFrame()


def stale_records(
    records: pl.DataFrame,
    confirmations: pl.DataFrame,
    config: ReviewDueConfig,
    at: datetime,
) -> pl.DataFrame:
    """Records unconfirmed for longer than their source's age limit."""
    limits = pl.DataFrame(
        {
            "source_system": list(config.stale_after_days_by_source),
            "_days": list(config.stale_after_days_by_source.values()),
        },
        schema={"source_system": pl.String, "_days": pl.Int64},
    )
    by_record = confirmations.rename({"target": "record_key", "confirmed_at": "_by_record"})
    by_golden = confirmations.rename({"target": "golden_id", "confirmed_at": "_by_golden"})
    basis = (
        records.join(limits, on="source_system", how="left")
        .join(by_record, on="record_key", how="left")
        .join(by_golden, on="golden_id", how="left")
        .with_columns(
            pl.max_horizontal(
                pl.coalesce("source_updated_at", "first_seen_at"), "_by_record", "_by_golden"
            ).alias("_basis"),
            pl.col("_days").fill_null(config.stale_after_days),
        )
        .with_columns(
            (pl.col("_basis") + pl.duration(days=pl.col("_days"))).alias("since"),
        )
    )
    moment = pl.lit(at).cast(_TS)
    out = basis.filter(pl.col("_basis").is_not_null() & (pl.col("since") <= moment)).select(
        "golden_id",
        "record_key",
        "source_system",
        pl.lit(None, pl.String).alias("field"),
        pl.format("unconfirmed for more than {} days", "_days").alias("detail"),
        "since",
    )
    return _rows(out, "stale") if out.height else out


def compute_review_due(warehouse: Warehouse, config: ReviewDueConfig, at: datetime) -> pl.DataFrame:
    """Every row of ``review_due`` for the current published version, as of ``at``."""
    run_id = current_run_id(warehouse.root)
    if run_id is None:
        raise StageInputError(
            f"nothing has been published in {warehouse.root} yet: run the pipeline first"
        )
    tables = read_tables(warehouse.root, ["golden_customers", "customer_xref"], run_id)
    golden, xref = _frame(tables["golden_customers"]), _frame(tables["customer_xref"])
    wanted = ["record_key", "source_updated_at", *config.conflict_fields]
    staged = _staged(warehouse, run_id, wanted)
    if staged is None:
        raise StageInputError(
            f"{warehouse.staged_accepted(run_id)} is missing: the staged records of the "
            f"published run {run_id} are needed to judge its records"
        )
    first_seen = (
        pl.read_parquet(warehouse.id_registry, columns=["record_key", "first_seen_at"])
        if warehouse.id_registry.exists()
        else pl.DataFrame(schema={"record_key": pl.String, "first_seen_at": _TS})
    )
    records = (
        xref.select("record_key", "golden_id", "source_system")
        .join(staged, on="record_key", how="left")
        .join(first_seen, on="record_key", how="left")
        .with_columns(pl.col("source_updated_at").cast(_TS), pl.col("first_seen_at").cast(_TS))
    )
    confirmations = load_confirmations(warehouse)
    review = config
    parts = [
        conflicting_sources(records, review.conflict_fields),
        placeholder_values(golden, review.placeholder_patterns),
        invalid_contacts(warehouse, run_id, review.invalid_contact_runs, xref),
        stale_records(records, confirmations, review, at),
    ]
    if review.golden_id_columns:
        if (resolve_version(warehouse, run_id) / "golden_id_aliases.parquet").exists():
            aliases = _frame(
                read_tables(warehouse.root, ["golden_id_aliases"], run_id)["golden_id_aliases"]
            )
            held = held_golden_ids(warehouse, run_id, review.golden_id_columns)
            parts.append(absorbed_ids_sent(held, aliases, xref))
        else:
            logger.warning(
                "review_due: run %s published no golden_id_aliases (made before the history "
                "tables): absorbed ids sent by sources are judged from the next run on",
                run_id,
            )
    schema = pl.from_arrow(review_due_schema().empty_table()).schema  # type: ignore[union-attr]
    frames = [
        p.select(
            pl.col(n).cast(t) if n in p.columns else pl.lit(None, t).alias(n)
            for n, t in schema.items()
        )
        for p in parts
        if p.height
    ]
    due = pl.concat(frames) if frames else pl.DataFrame(schema=schema)
    # ``since``: kept from the previous refresh for rows it already had, else now.
    previous = _previous(warehouse)
    if previous is not None and previous.height:
        due = (
            due.join(
                previous.select(*_KEY, pl.col("since").alias("_before")),
                on=_KEY,
                how="left",
                nulls_equal=True,
            )
            .with_columns(pl.coalesce("since", "_before").alias("since"))
            .drop("_before")
        )
    due = due.with_columns(pl.col("since").fill_null(pl.lit(at).cast(_TS)))
    # Confirmations of the record or its golden record at or after ``since`` clear the row.
    by_record = confirmations.rename({"target": "record_key", "confirmed_at": "_r"})
    by_golden = confirmations.rename({"target": "golden_id", "confirmed_at": "_g"})
    due = (
        due.join(by_record, on="record_key", how="left")
        .join(by_golden, on="golden_id", how="left")
        .with_columns(pl.max_horizontal("_r", "_g").alias("last_confirmed_at"))
        .filter(
            pl.col("last_confirmed_at").is_null() | (pl.col("last_confirmed_at") < pl.col("since"))
        )
        .drop("_r", "_g")
        .with_columns(pl.lit(at).cast(_TS).alias("refreshed_at"), pl.lit(run_id).alias("run_id"))
    )
    return due.select(schema.names()).sort(
        "priority", "since", "golden_id", "record_key", "reason", "field", nulls_last=True
    )


def _previous(warehouse: Warehouse) -> pl.DataFrame | None:
    path = due_path(warehouse)
    if not path.exists():
        return None
    try:
        return pl.read_parquet(path)
    except Exception:  # noqa: BLE001 - an unreadable previous refresh only loses ``since``
        logger.warning("%s is unreadable: review_due rows start their 'since' anew", path)
        return None


_META_KEY = b"refreshed_at"


def write_due(warehouse: Warehouse, due: pl.DataFrame, refreshed_at: datetime) -> None:
    """Replace the stored ``review_due`` atomically (owner-only: it names customers)."""
    path = due_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = due.select(review_due_schema().names).to_arrow().cast(review_due_schema())
    table = table.replace_schema_metadata({_META_KEY: refreshed_at.isoformat().encode()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def last_refresh(warehouse: Warehouse) -> datetime | None:
    """When ``review_due`` was last refreshed (None: never)."""
    path = due_path(warehouse)
    if not path.exists():
        return None
    raw = (pq.read_schema(path).metadata or {}).get(_META_KEY)
    return datetime.fromisoformat(raw.decode()) if raw else None


def clear_confirmed(warehouse: Warehouse, target: str) -> int:
    """Drop the stored rows a confirmation of ``target`` clears; returns how many."""
    path = due_path(warehouse)
    refreshed = last_refresh(warehouse)
    if refreshed is None:
        return 0
    due = pl.read_parquet(path)
    kept = due.filter(
        (pl.col("record_key") != target).fill_null(True)
        & (pl.col("golden_id") != target).fill_null(True)
    )
    if kept.height != due.height:
        write_due(warehouse, kept, refreshed)
    return due.height - kept.height


def refresh_review_due(
    warehouse_root: object, config: ReviewDueConfig, at: datetime | None = None
) -> RefreshResult:
    """Recompute ``review_due`` for the current published version and store it."""
    from pathlib import Path

    from pipelines.lock import run_lock

    warehouse = Warehouse(Path(str(warehouse_root)))
    moment = at or now()
    # Under the run lock: an erasure between reading the published tables and writing the
    # result would otherwise see its subject written back.
    with run_lock(warehouse.root, "review_due refresh"):
        due = compute_review_due(warehouse, config, moment)
        write_due(warehouse, due, moment)
    counts = {r: int(c) for r, c in due.group_by("reason").len().iter_rows()}
    run_id = str(due["run_id"][0]) if due.height else str(current_run_id(warehouse.root))
    logger.info("review_due refreshed from run %s: %d row(s) %s", run_id, due.height, counts)
    return RefreshResult(
        run_id=run_id,
        rows=due.height,
        by_reason=counts,
        path=str(due_path(warehouse)),
        refreshed_at=moment,
    )


def is_due(warehouse_root: object, config: ReviewDueConfig, at: datetime | None = None) -> bool:
    """Whether ``refresh_every_days`` have passed since the last refresh (or there was none)."""
    from pathlib import Path

    last = last_refresh(Warehouse(Path(str(warehouse_root))))
    if last is None:
        return True
    return (at or now()) - last >= timedelta(days=config.refresh_every_days)
