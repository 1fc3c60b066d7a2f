"""PostgreSQL and MySQL/MariaDB tables or queries, read in batches through server-side cursors.

The watermark of an incremental load, less ``lookback_minutes``, goes into the SQL (``WHERE
<updated_at> > watermark - look-back``), so the server sends only what changed (and the few rows
of the window, which ingest recognises by hash), and rows arrive ``batch_size`` at a time: a
large table never sits in one Python list. Columns without a zone (``timestamp``,
``DATETIME``) hold local time in the source's ``timezone``: PostgreSQL sessions run in that
zone, so the server itself compares them with the watermark; MySQL sessions run in UTC (see
``_read_mysql``)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from pipelines.errors import SourceError
from pipelines.ingest.chunks import RawChunk, positional_locator
from pipelines.ingest.config import DatabaseLocation, SourceConfig
from pipelines.ingest.text import value_as_text

logger = logging.getLogger(__name__)


def read_database(source: SourceConfig, since: datetime | None) -> Iterator[RawChunk]:
    """Rows changed after ``since`` (all rows when None), one chunk per batch."""
    assert source.database is not None
    if source.kind == "postgres":
        yield from _read_postgres(source, source.database, since)
    else:
        yield from _read_mysql(source, source.database, since)


_IDS_PER_QUERY = 5_000


def read_ids(source: SourceConfig, ids: list[str]) -> Iterator[RawChunk]:
    """The rows with these ids (compared as text), whatever their update times: rows found
    behind the watermark by a reconciliation."""
    assert source.database is not None
    for start in range(0, len(ids), _IDS_PER_QUERY):
        some = ids[start : start + _IDS_PER_QUERY]
        if source.kind == "postgres":
            yield from _read_postgres(source, source.database, None, some)
        else:
            yield from _read_mysql(source, source.database, None, some)


def select_column(
    source: SourceConfig, columns: list[str], table: str | None = None
) -> list[list[str | None]]:
    """Every value of ``columns`` (as text) of the source's table or query, or of ``table``:
    the cheap pass of a reconciliation (ids, and the soft-delete flag), fetched in batches."""
    db = source.database
    assert db is not None
    out: list[list[str | None]] = [[] for _ in columns]
    chunks = (
        _read_postgres(source, db, None, columns=columns, table=table)
        if source.kind == "postgres"
        else _read_mysql(source, db, None, columns=columns, table=table)
    )
    for chunk in chunks:
        for values, name in zip(out, chunk.frame.columns, strict=True):
            values.extend(chunk.frame[name].to_list())
    return out


def database_label(source: SourceConfig) -> str:
    """How rejects and errors name the table or query."""
    db = source.database
    assert db is not None
    port = db.port or (5432 if source.kind == "postgres" else 3306)
    what = db.table if db.table else "(query)"
    return f"{source.kind}://{db.host}:{port}/{db.database}/{what}"


def _password(source: SourceConfig, db: DatabaseLocation) -> str | None:
    if db.password_env is None:
        return None
    value = os.environ.get(db.password_env)
    if value is None:
        raise SourceError(
            f"source {source.name!r}: environment variable {db.password_env!r} "
            "(database.password_env) is not set"
        )
    return value


def _chunks(
    label: str,
    names: list[str],
    fetch: Callable[[int], Sequence[Sequence[Any]]],
    batch_size: int,
    utc_columns: frozenset[str] = frozenset(),
) -> Iterator[RawChunk]:
    """Turn ``fetch(batch_size)`` results into chunks until the cursor is exhausted.

    ``utc_columns`` hold zone-less datetimes that the server gave in UTC (MySQL ``TIMESTAMP``):
    they are written with their ``+00:00`` so nobody reads them as local time.
    """
    first_row = 1
    yielded = False
    while True:
        rows = fetch(batch_size)
        if not rows and yielded:
            return
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        frame = pl.DataFrame(
            {
                name: pl.Series(
                    name,
                    [
                        value_as_text(v.replace(tzinfo=UTC) if name in utc_columns and v else v)
                        for v in values
                    ],
                    dtype=pl.String,
                )
                for name, values in zip(names, columns, strict=True)
            }
        )
        yield RawChunk(label, frame, positional_locator(first_row), filtered_at_source=True)
        yielded = True
        first_row += len(rows)
        if not rows:
            return


def _check_names(label: str, names: list[str]) -> list[str]:
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SourceError(
            f"{label}: the result has column(s) {duplicates} more than once; "
            "alias them in a query so each column has a distinct name"
        )
    return names


# --- PostgreSQL ----------------------------------------------------------------------------------


def _read_postgres(
    source: SourceConfig,
    db: DatabaseLocation,
    since: datetime | None,
    ids: list[str] | None = None,
    *,
    columns: list[str] | None = None,
    table: str | None = None,
) -> Iterator[RawChunk]:
    """Rows changed after ``since``; or the rows of ``ids``; or only ``columns`` of every row
    (of ``table`` when given, else of the source)."""
    import psycopg
    from psycopg import sql

    label = database_label(source)
    what = sql.SQL(", ").join(sql.Identifier(c) for c in columns) if columns else sql.SQL("*")
    params: list[Any] = []
    if table or db.table:
        relation = sql.Identifier(*(table or db.table or "").split("."))
        select = sql.SQL("SELECT {} FROM {}").format(what, relation)
    else:
        select = sql.SQL("SELECT {} FROM ({}) AS golden_source").format(
            what,
            sql.SQL(_strip_query(db.query or "")),  # type: ignore[arg-type]
        )
    if ids is not None:
        select = sql.SQL("{} WHERE CAST({} AS text) = ANY(%s)").format(
            select, sql.Identifier(source.id_column)
        )
        params.append(ids)
    elif since is not None:
        assert source.updated_at_column is not None
        select = sql.SQL("{} WHERE {} > {}").format(
            select,
            sql.Identifier(source.updated_at_column),
            sql.Literal(_epoch_watermark(source, since) or since),
        )
    try:
        conn = psycopg.connect(
            host=db.host,
            port=db.port or 5432,
            dbname=db.database,
            user=db.user,
            password=_password(source, db),
            connect_timeout=30,
        )
    except psycopg.Error as exc:
        raise SourceError(f"source {source.name!r}: cannot connect to {label}: {exc}") from exc
    try:
        with conn:
            conn.execute("SELECT set_config('TimeZone', %s, false)", [source.timezone])
            with conn.cursor(name=f"golden_ingest_{source.name}") as cur:
                cur.itersize = db.batch_size
                cur.execute(select, params or None)
                assert cur.description is not None
                names = _check_names(label, [d.name for d in cur.description])
                logger.debug("%s: reading %s", source.name, label)
                yield from _chunks(label, names, cur.fetchmany, db.batch_size)
    except psycopg.Error as exc:
        raise SourceError(f"source {source.name!r}: reading {label} failed: {exc}") from exc
    finally:
        conn.close()


# --- MySQL / MariaDB -----------------------------------------------------------------------------


def _read_mysql(
    source: SourceConfig,
    db: DatabaseLocation,
    since: datetime | None,
    ids: list[str] | None = None,
    *,
    columns: list[str] | None = None,
    table: str | None = None,
) -> Iterator[RawChunk]:
    """The session runs in UTC, which every server knows (named zones need zone tables that
    many servers lack). ``TIMESTAMP`` columns then come back in UTC and are marked so;
    ``DATETIME`` columns have no zone and are read as local time in the source's zone."""
    import pymysql
    import pymysql.cursors
    from pymysql.constants import FIELD_TYPE

    label = database_label(source)
    what = ", ".join(_my_quote(c) for c in columns) if columns else "*"
    if table or db.table:
        relation = ".".join(_my_quote(part) for part in (table or db.table or "").split("."))
        select = f"SELECT {what} FROM {relation}"
    else:
        select = f"SELECT {what} FROM ({_strip_query(db.query or '')}) AS golden_source"
    try:
        conn = pymysql.connect(
            host=db.host,
            port=db.port or 3306,
            user=db.user,
            password=_password(source, db) or "",
            database=db.database,
            charset="utf8mb4",
            connect_timeout=30,
            cursorclass=pymysql.cursors.SSCursor,
        )
    except pymysql.MySQLError as exc:
        raise SourceError(f"source {source.name!r}: cannot connect to {label}: {exc}") from exc
    try:
        with conn.cursor() as cur:
            cur.execute("SET time_zone = '+00:00'")
            cur.execute(f"{select} LIMIT 0")  # column names and types, no rows
            utc_columns = frozenset(
                d[0] for d in cur.description or () if d[1] == FIELD_TYPE.TIMESTAMP
            )
            cur.fetchall()
            args: tuple[Any, ...] | None = None
            if ids is not None:
                marks = ", ".join(["%s"] * len(ids))
                select = select.replace("%", "%%") + (
                    f" WHERE CAST({_my_quote(source.id_column)} AS CHAR) IN ({marks})"
                )
                args = tuple(ids)
            elif since is not None:
                assert source.updated_at_column is not None
                column = source.updated_at_column.replace("`", "``")
                zone = UTC if source.updated_at_column in utc_columns else ZoneInfo(source.timezone)
                # PyMySQL formats the statement with %; the user's own % signs must survive.
                select = select.replace("%", "%%") + f" WHERE `{column}` > %s"
                epoch = _epoch_watermark(source, since)
                args = (
                    epoch if epoch is not None else since.astimezone(zone).replace(tzinfo=None),
                )
            cur.execute(select, args)
            names = _check_names(label, [d[0] for d in cur.description or ()])
            logger.debug("%s: reading %s", source.name, label)
            yield from _chunks(label, names, cur.fetchmany, db.batch_size, utc_columns)
    except pymysql.MySQLError as exc:
        raise SourceError(f"source {source.name!r}: reading {label} failed: {exc}") from exc
    finally:
        conn.close()


def _my_quote(name: str) -> str:
    return f"`{name.replace('`', '``')}`"


def _epoch_watermark(source: SourceConfig, since: datetime) -> int | float | None:
    """The watermark as a number, for an update column holding Unix times
    (``updated_at_formats: [epoch_s]`` or ``[epoch_ms]``)."""
    formats = source.updated_at_formats
    if not formats or formats[0] not in ("epoch_s", "epoch_ms"):
        return None
    seconds = since.timestamp()
    return round(seconds * 1000) if formats[0] == "epoch_ms" else seconds


def _strip_query(query: str) -> str:
    return query.strip().rstrip(";").strip()


def read_tombstones(source: SourceConfig) -> pl.DataFrame:
    """Ids listed in the source's ``database.tombstone_table``, as text."""
    db = source.database
    assert db is not None and db.tombstone_table is not None
    column = db.tombstone_id_column or source.id_column
    values = select_column(source, [column], table=db.tombstone_table)[0]
    return (
        pl.DataFrame({"source_record_id": values}, schema={"source_record_id": pl.String})
        .drop_nulls()
        .unique()
    )
