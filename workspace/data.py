"""What the workspace reads: the published version, and a small search index built from it.

The golden tables are read the way downstream systems read them: ``golden.duckdb`` opened
read-only (publish and erasure replace the file whole, so an open connection keeps one
version). Source records, raw beside standardised, are not a published table; they are the
accepted staged records of the published run (``runs/<run_id>/staged/accepted.parquet``), the
records the golden stage built that version from.

Searching a million customers by any identifier must answer in milliseconds, so each published
version gets a search index in the workspace cache (``<warehouse>/cache/workspace/<version>/``,
owner-only: it holds personal data): one table of lookup keys (e-mail, E.164 phone, record
key, source record id, golden id, absorbed ids) sorted for binary search, one of normalised
names for fuzzy search, and the source records sorted by record key in small row groups so one
record is one row group read. A new version (a publish, or an erasure rewriting the current
one) gets a new index and the old one is deleted, so an erased subject does not linger in it.

Tables another part of the product may not have published yet (``golden_events``,
``golden_id_aliases``, ``review_due``, ``dq_scorecard``, ...) are used when present and
otherwise left out of the pages, which say so.
"""

from __future__ import annotations

import bisect
import contextlib
import fcntl
import json
import logging
import os
import shutil
import threading
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.errors import GoldenError
from pipelines.i18n import Explained
from pipelines.schema import CANONICAL_FIELDS
from pipelines.warehouse import Warehouse

logger = logging.getLogger(__name__)

INDEX_VERSION = 5
"""Bumped when the index layout changes, so an old cache is rebuilt rather than misread."""
_ROW_GROUP = 1024
_NAME_SCORE_MIN = 0.86
_NON_WORD = r"[^\p{L}\p{N}]+"
_BY_GOLDEN_ID = ("golden_customers", "customer_xref", "golden_field_provenance", "golden_changes")
_OPTIONAL_BY_GOLDEN_ID = (
    "golden_events",
    "golden_customers_history",
    "review_due",
    "customer_profile",
)
"""Tables other parts of the product publish; indexed by golden id when present and keyed so."""
RECORD_COLUMNS = (
    "record_key",
    "source_system",
    "source_record_id",
    "source_updated_at",
    "ingested_at",
    "trust_rank",
    *CANONICAL_FIELDS,
    "invalid_fields",
)


class NotPublished(Explained, GoldenError):
    """Nothing has been published in the warehouse yet (said by catalogue id, so a page says
    it in the reader's language)."""


def normalise_name(text: str) -> str:
    """Lower case, accents removed, anything but letters and digits as single spaces: the form
    names are compared in (the index applies the same rule through DuckDB's ``strip_accents``)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    kept = "".join(c if c.isalnum() else " " for c in decomposed if not unicodedata.combining(c))
    return " ".join(kept.split())


def _partition_names(names: pa.Table) -> dict[tuple[str, str], pa.Table]:
    """Slices (no copies) of the names table, sorted by initials, per pair of initials."""
    frame = pl.from_arrow(names.select(["li", "fi"])).with_row_index("row")
    bounds = frame.group_by("li", "fi").agg(pl.col("row").min().alias("start"), pl.len())
    return {(li, fi): names.slice(start, length) for li, fi, start, length in bounds.iter_rows()}


def _best_of(*columns: str) -> str:
    return "greatest(" + ", ".join(f"jaro_winkler_similarity({c}, $q)" for c in columns) + ")"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@contextlib.contextmanager
def _cache_lock(cache_root: Path) -> Iterator[None]:
    """An exclusive lock over the index cache, across processes."""
    cache_root.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(cache_root / ".build.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class SortedTable:
    """A Parquet file sorted by one key column, in row groups of a fixed size, read one row
    group at a time: finding a key's rows is a binary search over each group's first key
    (kept in memory, a few thousand strings at a million customers) and one row group read.

    Why not DuckDB or a Parquet filter: both scan every row group's statistics or rows per
    lookup, tens of milliseconds at a million customers; this is about one millisecond."""

    def __init__(self, path: Path, key: str):
        self.path, self.key = path, key
        file = pq.ParquetFile(path)
        self.groups = file.metadata.num_row_groups
        keys = file.read(columns=[key]).column(0)
        starts = np.cumsum([0] + [file.metadata.row_group(i).num_rows for i in range(self.groups)])
        self.first_keys: list[str] = keys.take(pa.array(starts[:-1])).to_pylist()
        self.schema = file.schema_arrow
        # Open for the snapshot's whole life (the folder may be deleted once a newer version
        # is served); reads of one file are serialised, each is about a millisecond.
        self._file = file
        self._read_lock = threading.Lock()

    @staticmethod
    def write(rows: pa.Table | pa.RecordBatchReader, path: Path) -> None:
        """Write ``rows`` (already sorted by the key) in small row groups, batch by batch."""
        batches = rows.to_batches() if isinstance(rows, pa.Table) else rows
        with pq.ParquetWriter(path, rows.schema, compression="zstd") as writer:
            for batch in batches:
                writer.write_batch(batch, row_group_size=_ROW_GROUP)

    def rows(self, keys: list[str], columns: list[str] | None = None) -> list[dict[str, Any]]:
        wanted = set(keys)
        groups: set[int] = set()
        for key in wanted:
            low = bisect.bisect_left(self.first_keys, key)
            high = bisect.bisect_right(self.first_keys, key)
            groups.update(range(max(low - 1, 0), max(high, 1)))
        chosen = sorted(g for g in groups if g < self.groups)
        if not chosen:
            return []
        with self._read_lock:
            part = self._file.read_row_groups(chosen, columns=columns, use_threads=False)
        mask = pc.is_in(part.column(self.key), value_set=pa.array(sorted(wanted), pa.string()))
        return part.filter(mask).to_pylist()


LISTED = (
    "golden_id", "first_name", "last_name", "full_name", "email", "phone", "city", "country",
    "date_of_birth", "source_record_count", "source_systems",
)  # fmt: skip
"""What a search result shows of a customer (kept in the name index, so a name search that
finds 25 customers reads nothing else)."""


@dataclass
class Hit:
    golden_id: str
    matched_by: str
    matched: str
    score: float = 1.0
    row: dict[str, Any] | None = None


@dataclass
class Snapshot:
    """One published version, open for reading."""

    run_id: str
    fingerprint: str
    con: duckdb.DuckDBPyConnection
    tables: frozenset[str]
    keys: pl.DataFrame
    names: duckdb.DuckDBPyConnection
    """An in-memory DuckDB for the Jaro-Winkler of the name search (over ``name_parts``)."""
    name_parts: dict[tuple[str, str], pa.Table]
    """Normalised names (with the listing columns) by (last-name initial, first-name initial):
    a name search reads only the parts its initials select."""
    records: SortedTable | None
    by_golden_id: dict[str, SortedTable]
    """``golden_customers``, ``customer_xref``, ``golden_field_provenance`` and
    ``golden_changes`` (by each golden id an event names) sorted by golden id."""
    folder: Path
    link: Path
    _local: threading.local = field(default_factory=threading.local)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor of this thread (DuckDB connections are not shared across threads)."""
        cursors = self._local.__dict__.setdefault("cursors", {})
        if self.fingerprint not in cursors:
            cursors[self.fingerprint] = (self.con.cursor(), self.names.cursor())
        return cursors[self.fingerprint][0]

    def names_cursor(self) -> duckdb.DuckDBPyConnection:
        self.cursor()
        return self._local.cursors[self.fingerprint][1]

    def close(self) -> None:
        for connection in (self.con, self.names):
            with contextlib.suppress(duckdb.Error):  # already closed
                connection.close()

    def has(self, table: str) -> bool:
        return table in self.tables

    def query(
        self, sql: str, params: list[Any] | dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        cursor = self.cursor()
        result = cursor.execute(sql, params or [])
        columns = [d[0] for d in result.description]
        return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]

    def columns(self, table: str) -> list[str]:
        rows = self.query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' "
            "AND table_name = ? ORDER BY ordinal_position",
            [table],
        )
        return [r["column_name"] for r in rows]

    # --- lookups -------------------------------------------------------------------------------
    def lookup(self, key: str) -> list[Hit]:
        """Exact key lookups by binary search over the sorted key table."""
        column = self.keys["key"]
        start = int(column.search_sorted(key, side="left"))
        end = int(column.search_sorted(key, side="right"))
        if start == end:
            return []
        part = self.keys.slice(start, end - start)
        return [
            Hit(gid, kind, key)
            for gid, kind in zip(part["golden_id"], part["kind"], strict=True)
            if gid is not None
        ]

    def search_names(
        self, text: str, city: str | None, birth_year: int | None, limit: int
    ) -> list[Hit]:
        """Fuzzy name search: Jaro-Winkler of the query against first and last name (either
        order), among customers whose names start with the query's initials: for a query of
        two or more words, the first and the last name each start with one of its words'
        initials (a typo in a first letter is the one thing it does not forgive)."""
        query = normalise_name(text)
        if not query:
            return []
        tokens = query.split()
        initials = {token[0] for token in tokens}
        if len(tokens) > 1:
            parts = [p for k, p in self.name_parts.items() if k[0] in initials and k[1] in initials]
            score = _best_of("full_n", "rev_n")
        else:
            parts = [p for k, p in self.name_parts.items() if initials & {k[0], k[1]}]
            score = _best_of("last_n", "first_n")
        if not parts:
            return []
        candidates = pa.concat_tables(parts)
        if city:
            candidates = candidates.filter(pc.equal(candidates["city_n"], normalise_name(city)))
        if birth_year:
            candidates = candidates.filter(pc.equal(candidates["birth_year"], birth_year))
        listed = ", ".join(_quote(c) for c in LISTED)
        sql = f"""
            SELECT score, {listed} FROM (SELECT {score} AS score, * FROM candidates)
            WHERE score >= {_NAME_SCORE_MIN} ORDER BY score DESC, golden_id LIMIT $limit
        """
        cursor = self.names_cursor()
        cursor.register("candidates", candidates)
        try:
            result = cursor.execute(sql, {"q": query, "limit": limit})
            columns = [d[0] for d in result.description]
            found = result.fetchall()
        finally:
            cursor.unregister("candidates")
        hits = []
        for values in found:
            row = dict(zip(columns, values, strict=True))
            score_value = row.pop("score")
            hits.append(Hit(row["golden_id"], "name", text, float(score_value), row))
        return hits

    def source_records(self, record_keys: list[str]) -> list[dict[str, Any]]:
        if self.records is None or not record_keys:
            return []
        return self.records.rows(record_keys)

    def of_customers(self, table: str, golden_ids: list[str]) -> list[dict[str, Any]]:
        """Rows of ``table`` for these golden ids, from the index (no table scan); an optional
        table that is not published gives none."""
        if table not in self.by_golden_id:
            return []
        rows = self.by_golden_id[table].rows(golden_ids)
        return [{k: v for k, v in r.items() if k != "key_id"} for r in rows]


class Reader:
    """The workspace's view of one warehouse: the current published version, reopened when a
    publish or an erasure replaces it."""

    def __init__(self, warehouse_root: str | os.PathLike[str]):
        self.warehouse = Warehouse(Path(warehouse_root))
        self.cache_root = self.warehouse.root / "cache" / "workspace"
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._retired: list[Snapshot] = []
        self._refreshing = False

    def warm(self) -> Snapshot:
        """Open the current version (building its index when needed) before serving, and
        load the phone metadata a first phone search would otherwise wait for."""
        import phonenumbers

        phonenumbers.is_valid_number(phonenumbers.parse("+12125550100"))
        return self.snapshot(wait=True)

    def serving(self) -> str | None:
        """Run id of the version being served (None before the first request)."""
        return self._snapshot.run_id if self._snapshot else None

    def _fingerprint(self) -> tuple[str, os.stat_result]:
        path = self.warehouse.duckdb_path
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise NotPublished(
                ("error.not_published", {"root": self.warehouse.root, "path": path})
            ) from None
        return f"{stat.st_ino:x}-{stat.st_mtime_ns:x}-{stat.st_size:x}", stat

    def snapshot(self, wait: bool = False) -> Snapshot:
        """The version to serve. When a publish or an erasure has replaced the current one,
        its index is built in the background while the previous version keeps being served
        (``wait``: build it now and serve it); the first version is always built at once."""
        fingerprint, _ = self._fingerprint()
        current = self._snapshot
        if current is not None and current.fingerprint == fingerprint:
            return current
        if current is None or wait:
            with self._build_lock:
                fingerprint, _ = self._fingerprint()
                if self._snapshot is None or self._snapshot.fingerprint != fingerprint:
                    self._swap(self._open())
            assert self._snapshot is not None
            return self._snapshot
        with self._lock:
            if not self._refreshing:
                self._refreshing = True
                threading.Thread(target=self._refresh, name="workspace-index", daemon=True).start()
        return current

    def _refresh(self) -> None:
        try:
            with self._build_lock:
                fingerprint, _ = self._fingerprint()
                if self._snapshot is None or self._snapshot.fingerprint != fingerprint:
                    self._swap(self._open())
        except Exception:  # logged; the next request tries again
            logger.exception("workspace: cannot open the new published version")
        finally:
            with self._lock:
                self._refreshing = False

    def _swap(self, new: Snapshot) -> None:
        with self._lock:
            old, self._snapshot = self._snapshot, new
            if old is not None:
                logger.info("workspace: now serving run %s (was %s)", new.run_id, old.run_id)
                # Requests still reading the previous version finish on it; the one before
                # that has had a whole version's lifetime to finish.
                for stale in self._retired:
                    stale.close()
                self._retired = [old]
        self._forget_others(new.folder, new.link)

    def close(self) -> None:
        with self._build_lock, self._lock:
            self.close_all_unlocked()

    def close_all_unlocked(self) -> None:
        for snap in [*self._retired, *([self._snapshot] if self._snapshot else [])]:
            snap.close()
        self._retired, self._snapshot = [], None

    def _pin_version(self) -> tuple[Path, str]:
        """A hard link to the current ``golden.duckdb`` under a name of its own.

        DuckDB keeps one database instance per path in a process, so reopening
        ``golden.duckdb`` after a publish would hand back the old version; and the link keeps
        the version being opened from being swapped between reading its identity and opening
        it. Returns the link and the version's fingerprint (the file's identity)."""
        links = self.cache_root / "versions"
        links.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.cache_root, 0o700)
        fingerprint, _ = self._fingerprint()
        link = links / f"{fingerprint}.duckdb"
        if not link.exists():
            work = links / f".{fingerprint}.{os.getpid()}.{threading.get_ident()}"
            try:
                # golden.duckdb is a link through published/current: pin the file itself
                os.link(self.warehouse.duckdb_path.resolve(), work)
            except OSError as exc:  # no hard links here: reopen the file itself
                logger.info("workspace: cannot link %s (%s)", self.warehouse.duckdb_path, exc)
                with self._lock:
                    self.close_all_unlocked()
                return self.warehouse.duckdb_path, fingerprint
            stat = work.stat()
            fingerprint = f"{stat.st_ino:x}-{stat.st_mtime_ns:x}-{stat.st_size:x}"
            link = links / f"{fingerprint}.duckdb"
            os.replace(work, link)
        return link, fingerprint

    def _open(self) -> Snapshot:
        link, fingerprint = self._pin_version()
        con = duckdb.connect(str(link), read_only=True)
        con.execute("SET TimeZone = 'UTC'")
        tables = frozenset(
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
            ).fetchall()
        )
        run_id = con.execute("SELECT run_id FROM publish_info").fetchall()[0][0]
        folder = self.cache_root / f"v{INDEX_VERSION}-{run_id}-{fingerprint}"
        if not (folder / "done.json").exists():
            # Several server processes (golden serve --workers N) see a new version together:
            # one builds its index, the others wait and open it.
            with _cache_lock(self.cache_root):
                if not (folder / "done.json").exists():
                    self._build(con, tables, run_id, folder)
        keys = pl.read_parquet(folder / "keys.parquet")
        names = duckdb.connect(":memory:")
        name_parts = _partition_names(pq.read_table(folder / "names.parquet"))
        records = folder / "records.parquet"
        by_golden_id = {
            table: SortedTable(
                folder / f"{table}.parquet", "key_id" if table == "golden_changes" else "golden_id"
            )
            for table in (*_BY_GOLDEN_ID, *_OPTIONAL_BY_GOLDEN_ID)
            if (folder / f"{table}.parquet").exists()
        }
        return Snapshot(
            run_id=run_id,
            fingerprint=fingerprint,
            con=con,
            tables=tables,
            keys=keys,
            names=names,
            name_parts=name_parts,
            link=link,
            records=SortedTable(records, "record_key") if records.exists() else None,
            by_golden_id=by_golden_id,
            folder=folder,
        )

    def _forget_others(self, keep: Path, link: Path) -> None:
        """Old indexes and version links hold personal data an erasure may have removed
        since: delete them (an open file stays readable to the requests still on it). Under
        the cache lock, so another server process's index build is not deleted under it."""
        with _cache_lock(self.cache_root):
            for other in self.cache_root.iterdir():
                if other.is_dir() and other.name != "versions" and other != keep:
                    shutil.rmtree(other, ignore_errors=True)
            if link.parent == self.cache_root / "versions":
                for other in link.parent.iterdir():
                    if other != link:
                        other.unlink(missing_ok=True)

    def _build(
        self, con: duckdb.DuckDBPyConnection, tables: frozenset[str], run_id: str, folder: Path
    ) -> None:
        logger.info("workspace: building the search index of published run %s", run_id)
        work = folder.with_name(f".{folder.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True, mode=0o700)
        os.chmod(self.cache_root, 0o700)
        staged = self.warehouse.staged_accepted(run_id)
        parts: list[pl.DataFrame] = []

        def keys_of(sql: str) -> None:
            frame = con.sql(sql).pl()
            parts.append(frame.cast(pl.String))

        keys_of("SELECT golden_id AS key, golden_id, 'golden_id' AS kind FROM golden_customers")
        keys_of(
            "SELECT lower(email) AS key, golden_id, 'email' AS kind FROM golden_customers "
            "WHERE email IS NOT NULL"
        )
        keys_of(
            "SELECT phone AS key, golden_id, 'phone' AS kind FROM golden_customers "
            "WHERE phone IS NOT NULL"
        )
        keys_of("SELECT record_key AS key, golden_id, 'record_key' AS kind FROM customer_xref")
        keys_of(
            "SELECT source_record_id AS key, golden_id, 'source_record_id' AS kind "
            "FROM customer_xref"
        )
        if "golden_id_aliases" in tables:
            columns = [
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = 'golden_id_aliases'"
                ).fetchall()
            ]
            # The published contract (README): golden_id is the id held, current_golden_id
            # the id carrying that customer now (null when retired or erased).
            alias = next(
                (c for c in ("alias_id", "old_golden_id", "alias", "golden_id") if c in columns),
                None,
            )
            target = next(
                (c for c in ("current_golden_id", "golden_id", "resolved_id") if c in columns),
                None,
            )
            if alias and target and alias != target:
                keys_of(
                    f"SELECT {_quote(alias)} AS key, {_quote(target)} AS golden_id, "
                    f"'absorbed_id' AS kind FROM golden_id_aliases WHERE {_quote(alias)} IS NOT "
                    f"NULL AND {_quote(target)} IS NOT NULL AND {_quote(alias)} <> {_quote(target)}"
                )
        if self.warehouse.id_registry.exists():
            registry = pl.read_parquet(self.warehouse.id_registry)
            if "absorbed_ids" in registry.columns:
                parts.append(
                    registry.select(
                        pl.col("absorbed_ids").alias("key"), "golden_id", kind=pl.lit("absorbed_id")
                    )
                    .explode("key")
                    .drop_nulls("key")
                    .unique()
                    .cast(pl.String)
                )
        if staged.exists():
            scan = pl.scan_parquet(staged)
            present = set(scan.collect_schema().names())
            wanted = [c for c in RECORD_COLUMNS if c in present]
            raw = sorted(c for c in present if c.startswith("raw_"))
            records = scan.select(*wanted, *raw).sort("record_key").collect()
            xref = con.sql("SELECT record_key, golden_id FROM customer_xref").pl()
            by_record = records.select(
                "record_key", *[c for c in ("email", "phone") if c in present]
            )
            by_record = by_record.join(xref, on="record_key", how="inner")
            if "email" in by_record.columns:
                parts.append(
                    by_record.select(
                        pl.col("email").str.to_lowercase().alias("key"),
                        "golden_id",
                        kind=pl.lit("email"),
                    ).drop_nulls("key")
                )
            if "phone" in by_record.columns:
                parts.append(
                    by_record.select(
                        pl.col("phone").alias("key"), "golden_id", kind=pl.lit("phone")
                    ).drop_nulls("key")
                )
            SortedTable.write(records.to_arrow(), work / "records.parquet")
        else:
            logger.warning(
                "workspace: %s is missing; customer pages show no source records", staged
            )
        keys = (
            pl.concat([p.select("key", "golden_id", "kind") for p in parts])
            .unique()
            .sort("key", "kind", "golden_id")
        )
        keys.write_parquet(work / "keys.parquet")
        optional = [
            t
            for t in _OPTIONAL_BY_GOLDEN_ID
            if t in tables
            and con.execute(
                "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'main' "
                "AND table_name = ? AND column_name = 'golden_id'",
                [t],
            ).fetchall()[0][0]
        ]
        for table in (*_BY_GOLDEN_ID, *optional):
            if table == "golden_changes":
                sql = (
                    "SELECT * FROM (SELECT golden_id AS key_id, * FROM golden_changes UNION ALL "
                    "SELECT unnest(related_golden_ids) AS key_id, * FROM golden_changes) "
                    "WHERE key_id IS NOT NULL ORDER BY key_id, run_id"
                )
            else:
                sql = (
                    f"SELECT * FROM {_quote(table)} WHERE golden_id IS NOT NULL ORDER BY golden_id"
                )
            SortedTable.write(con.sql(sql).arrow(), work / f"{table}.parquet")

        def norm(column: str) -> str:
            return f"trim(regexp_replace(strip_accents(lower({column})), '{_NON_WORD}', ' ', 'g'))"

        con.sql(
            f"""
            SELECT {", ".join(_quote(c) for c in LISTED)},
                   coalesce(n_first, '') AS first_n,
                   coalesce(n_last, '') AS last_n,
                   trim(coalesce(n_first, '') || ' ' || coalesce(n_last, '')) AS full_n,
                   trim(coalesce(n_last, '') || ' ' || coalesce(n_first, '')) AS rev_n,
                   n_city AS city_n,
                   year(date_of_birth) AS birth_year,
                   left(coalesce(n_last, ''), 1) AS li,
                   left(coalesce(n_first, ''), 1) AS fi
            FROM (
                SELECT *,
                    {norm("first_name")} AS n_first,
                    {norm("coalesce(last_name, full_name)")} AS n_last,
                    {norm("city")} AS n_city
                FROM golden_customers
            ) ORDER BY li, fi, last_n
            """
        ).write_parquet(str(work / "names.parquet"))
        (work / "done.json").write_text(json.dumps({"run_id": run_id, "keys": keys.height}))
        for path in work.iterdir():
            os.chmod(path, 0o600)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(work, folder)
