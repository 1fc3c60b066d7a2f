"""Turn one run's stage outputs into the published tables, conformed to their contract.

Inputs come from other stages (and, through them, from customer data we have never seen), so
every file is checked against its table's contract before anything is published: a missing
required column, a value that does not fit its type or a duplicate key is a
:class:`~pipelines.errors.PublishError` naming the file and the column. Large golden tables are
streamed batch by batch so that publishing a million customers does not need them all in memory.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.errors import PublishError
from pipelines.publish.duckdb_build import sql_literal
from pipelines.publish.tables import TABLES, TableSpec
from pipelines.warehouse import Warehouse

logger = logging.getLogger(__name__)

BATCH_ROWS = 128_000
"""Rows per batch when streaming a golden table; bounds memory, big enough to stay fast."""


# --- conforming a table to its contract ------------------------------------------------------


def check_columns(names: list[str], spec: TableSpec, source: Path) -> None:
    """Fail on missing required columns; log the columns that will be dropped or null-filled."""
    missing = sorted(spec.required - set(names) - {"run_id"})
    if missing:
        raise PublishError(
            f"{source} has no column(s) {', '.join(missing)}, which the published table "
            f"'{spec.name}' needs; it has: {', '.join(names) or '(none)'}"
        )
    extra = sorted(set(names) - set(spec.schema.names))
    if extra:
        logger.warning(
            "%s: column(s) %s are not part of the published table '%s' and are not published",
            source,
            ", ".join(extra),
            spec.name,
        )
    absent = sorted(set(spec.schema.names) - set(names) - {"run_id"})
    if absent:
        logger.warning(
            "%s: column(s) %s are absent; '%s' publishes them as nulls",
            source,
            ", ".join(absent),
            spec.name,
        )


def conform(
    batch: pa.Table | pa.RecordBatch, spec: TableSpec, source: Path, run_id: str
) -> pa.Table:
    """Select, order and cast the columns of ``batch`` to ``spec``'s schema.

    A missing ``run_id`` column is filled with the run being published (the column records which
    run published the row). Timestamps may lose sub-microsecond precision; any other lossy or
    impossible cast is an error naming the column.
    """
    table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
    columns: list[pa.ChunkedArray | pa.Array] = []
    for target in spec.schema:
        if target.name not in table.column_names:
            if target.name == "run_id":
                columns.append(pa.array([run_id] * table.num_rows, pa.string()))
            else:
                columns.append(pa.nulls(table.num_rows, target.type))
            continue
        column = table.column(target.name)
        if column.type.equals(target.type):
            columns.append(column)
            continue
        lossy_ok = pa.types.is_timestamp(column.type) and pa.types.is_timestamp(target.type)
        try:
            columns.append(column.cast(target.type, safe=not lossy_ok))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise PublishError(
                f"{source}: column '{target.name}' holds {column.type} values that cannot be "
                f"published as {target.type} (table '{spec.name}'): {exc}"
            ) from None
    return pa.Table.from_arrays(columns, schema=spec.documented_schema())


def keys_strictly_increasing(path: Path, key: tuple[str, ...]) -> bool:
    """Whether every row's ``key`` sorts strictly after the previous row's (in file order).

    That proves no key repeats, with one read of the key columns and one comparison per row:
    the golden stage writes its tables sorted by their keys, so this is the common case and
    several times cheaper than grouping. False proves nothing (unsorted rows, a null in the
    key, a key type not compared here): the caller then groups. Polars compares strings by
    their UTF-8 bytes and integers by value, both total orders, so "strictly increasing"
    means "all distinct" whatever order the writer sorted by.
    """
    # Imported on first use: publish checks keys while the database loads, so the import's
    # few hundred milliseconds overlap the load instead of delaying it.
    import polars as pl

    try:
        frame = pl.read_parquet(path, columns=list(key))
    except (OSError, pl.exceptions.PolarsError):
        return False  # the grouping query reports what is wrong with the file
    if not all(dtype == pl.String or dtype.is_integer() for dtype in frame.dtypes):
        return False
    if frame.height < 2:
        return True
    later: pl.Expr | None = None
    for name in reversed(key):  # lexicographic: (a, b) > (a', b') iff a > a' or a == a', b > b'
        current, previous = pl.col(name), pl.col(name).shift(1)
        step = current > previous
        later = step if later is None else step | ((current == previous) & later)
    assert later is not None  # a unique key has at least one column
    return bool(frame.select(later.slice(1).fill_null(False).all()).item())


def check_unique(path: Path, spec: TableSpec, memory_limit: str = "4GB") -> None:
    """Fail when the published file holds two rows with the same key.

    A file sorted by its key is proven unique by :func:`keys_strictly_increasing`. Any other
    file is grouped by DuckDB, which also finds the duplicates to report: it is
    multi-threaded and spills to disk, where an Arrow group-by of millions of string keys is
    several times slower and must fit in memory.
    """
    if not spec.unique_key:
        return
    if keys_strictly_increasing(path, spec.unique_key):
        return
    keys = ", ".join(f'"{name}"' for name in spec.unique_key)
    with duckdb.connect() as con:
        con.execute(f"SET memory_limit = {sql_literal(memory_limit)}")
        duplicates = con.execute(
            f"SELECT {keys}, count(*) AS n FROM read_parquet($path) GROUP BY {keys} "
            "HAVING count(*) > 1 ORDER BY n DESC",
            {"path": str(path)},
        ).fetchall()
    if duplicates:
        example = dict(zip(spec.unique_key, duplicates[0][:-1], strict=True))
        raise PublishError(
            f"table '{spec.name}' has {len(duplicates)} duplicated key(s) on "
            f"({', '.join(spec.unique_key)}), e.g. {example}; its grain is {spec.grain}"
        )


@functools.cache
def written_schema(name: str) -> pa.Schema:
    """The schema a published file of table ``name`` reads back with.

    Parquet renames list items (``item`` becomes ``element``), so the contract is compared
    as written, not as declared.
    """
    sink = pa.BufferOutputStream()
    pq.write_table(TABLES[name].documented_schema().empty_table(), sink)
    return pq.read_schema(pa.BufferReader(sink.getvalue()))


def rows_if_published_as_is(path: Path, spec: TableSpec) -> int | None:
    """Row count of ``path`` when it already is the published table, else None.

    The golden stage writes its tables with the published, documented schema, so publish
    copies them instead of decoding and encoding every row again. Anything else (an older
    golden output, another writer, a missing ``run_id``) is conformed batch by batch.
    """
    try:
        file = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise PublishError(f"{path} is not a readable Parquet file: {exc}") from None
    if not file.schema_arrow.equals(written_schema(spec.name), check_metadata=True):
        return None
    return file.metadata.num_rows


def write_table(batches: Iterator[pa.Table], spec: TableSpec, target: Path) -> int:
    """Write conformed batches to ``target`` as one Parquet file; returns the row count."""
    rows = 0
    with pq.ParquetWriter(target, spec.documented_schema(), compression="zstd") as writer:
        for table in batches:
            writer.write_table(table)
            rows += table.num_rows
    return rows


# --- each input ------------------------------------------------------------------------------


def _read_parquet_batches(path: Path) -> Iterator[pa.RecordBatch]:
    try:
        file = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise PublishError(f"{path} is not a readable Parquet file: {exc}") from None
    yield from file.iter_batches(batch_size=BATCH_ROWS)


def golden_batches(path: Path, spec: TableSpec, run_id: str) -> Iterator[pa.Table]:
    """A golden stage output, conformed batch by batch."""
    try:
        names = pq.read_schema(path).names
    except (OSError, pa.ArrowException) as exc:
        raise PublishError(f"{path} is not a readable Parquet file: {exc}") from None
    check_columns(names, spec, path)
    empty = True
    for batch in _read_parquet_batches(path):
        empty = False
        yield conform(batch, spec, path, run_id)
    if empty:
        yield spec.schema.empty_table().cast(spec.documented_schema())


def _concat_files(paths: list[Path], spec: TableSpec, run_id: str) -> Iterator[pa.Table]:
    yielded = False
    for path in paths:
        for table in golden_batches(path, spec, run_id):
            yielded = True
            yield table
    if not yielded:
        yield spec.schema.empty_table().cast(spec.documented_schema())


def quarantine_batches(warehouse: Warehouse, run_id: str) -> Iterator[pa.Table]:
    """Every suite's quarantined rows of the run (``quarantine/*.parquet``), one table."""
    folder = warehouse.run(run_id) / "quarantine"
    paths = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not paths:
        logger.info("run %s has no quarantine files; publishing an empty quarantine", run_id)
    return _concat_files(paths, TABLES["quarantine"], run_id)


def review_queue_batches(warehouse: Warehouse, run_id: str) -> Iterator[pa.Table]:
    """The run's steward review queue, or an empty table when matching wrote none."""
    path = warehouse.match_dir(run_id) / "review_queue.parquet"
    if not path.exists():
        logger.info("run %s has no %s; publishing an empty review queue", run_id, path.name)
    return _concat_files([path] if path.exists() else [], TABLES["match_review_queue"], run_id)


def training_pairs_batches(warehouse: Warehouse, run_id: str) -> Iterator[pa.Table]:
    """The run's pairs suggested for labelling, or an empty table when matching wrote none."""
    path = warehouse.match_dir(run_id) / "training_pairs.parquet"
    spec = TABLES["match_training_pairs"]
    return _concat_files([path] if path.exists() else [], spec, run_id)


def review_due_batches(warehouse: Warehouse, run_id: str) -> Iterator[pa.Table]:
    """The last refresh of ``review_due`` (``state/review/review_due.parquet``), or none yet.

    The table is refreshed on its own schedule (the maintenance DAG), not by runs: each publish
    carries the latest refresh, whose ``run_id`` and ``refreshed_at`` say what it judged.
    """
    path = warehouse.state / "review" / "review_due.parquet"
    if not path.exists():
        logger.info("review_due has not been refreshed yet; publishing it empty")
    return _concat_files([path] if path.exists() else [], TABLES["review_due"], run_id)


_DQ_REQUIRED = ("suite", "rows_in", "accepted", "quarantined", "expectations")


def _dq_rows(path: Path, run_id: str) -> list[dict[str, Any]]:
    """Rows of ``dq_results`` from one ``dq/<suite>.json``."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PublishError(f"{path} is not a readable JSON file: {exc}") from None
    if not isinstance(payload, dict):
        raise PublishError(f"{path} must hold a JSON object with keys {', '.join(_DQ_REQUIRED)}")
    missing = [key for key in _DQ_REQUIRED if key not in payload]
    if missing:
        raise PublishError(f"{path} has no key(s) {', '.join(missing)}")
    if payload.get("run_id", run_id) != run_id:
        raise PublishError(
            f"{path} records run_id {payload['run_id']!r} but lies in the folder of run {run_id!r}"
        )
    expectations = payload["expectations"]
    if not isinstance(expectations, list):
        raise PublishError(f"{path}: key 'expectations' must be a list")
    suite_row = {
        "run_id": run_id,
        "suite": payload["suite"],
        "source": payload.get("source"),
        "rows_in": payload["rows_in"],
        "accepted": payload["accepted"],
        "quarantined": payload["quarantined"],
        "warned": payload.get("warned", 0),
        "suite_success": payload.get("success"),
    }
    if not expectations:  # keep the suite's counts even when it checked nothing
        return [suite_row]
    rows = []
    for index, item in enumerate(expectations):
        if not isinstance(item, dict) or "expectation" not in item:
            raise PublishError(
                f"{path}: expectations[{index}] must be an object with an 'expectation' key"
            )
        samples = item.get("sample_values")
        rows.append(
            {
                **suite_row,
                "expectation": item["expectation"],
                "column": item.get("column"),
                "severity": item.get("severity"),
                "success": item.get("success"),
                "unexpected_count": item.get("unexpected_count"),
                "unexpected_percent": item.get("unexpected_percent"),
                "sample_values": None
                if samples is None
                else [v if isinstance(v, str) or v is None else json.dumps(v) for v in samples],
            }
        )
    return rows


def dq_results_table(warehouse: Warehouse, run_id: str, previous: Path | None) -> pa.Table:
    """This run's ``dq/*.json`` as rows, after the history kept in the previous version.

    A rerun of a run replaces that run's rows rather than adding to them.
    """
    spec = TABLES["dq_results"]
    schema = spec.documented_schema()
    folder = warehouse.run(run_id) / "dq"
    rows: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        rows.extend(_dq_rows(path, run_id))
    if not rows:
        logger.info("run %s has no dq results; dq_results keeps only earlier runs", run_id)
    try:
        current = pa.Table.from_pylist(rows, schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise PublishError(
            f"the dq results in {folder} have a value of the wrong type: {exc}"
        ) from None
    parts = []
    if previous is not None and previous.exists():
        history = pq.read_table(previous)
        history = conform(history, spec, previous, run_id)
        mask = pc.not_equal(history["run_id"], pa.scalar(run_id))
        parts.append(history.filter(mask))
    parts.append(current)
    combined = pa.concat_tables(parts)
    return combined.sort_by([("run_id", "ascending"), ("suite", "ascending")])
