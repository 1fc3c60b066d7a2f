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

import contextlib
import json
import logging
import os
import shutil
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow.parquet as pq

from pipelines.errors import GoldenError
from pipelines.schema import CANONICAL_FIELDS
from pipelines.warehouse import Warehouse

logger = logging.getLogger(__name__)

INDEX_VERSION = 1
"""Bumped when the index layout changes, so an old cache is rebuilt rather than misread."""
_RECORD_GROUP = 4096
_NAME_SCORE_MIN = 0.86
_NON_WORD = r"[^\p{L}\p{N}]+"
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


class NotPublished(GoldenError):
    """Nothing has been published in the warehouse yet."""


def normalise_name(text: str) -> str:
    """Lower case, accents removed, anything but letters and digits as single spaces: the form
    names are compared in (the index applies the same rule through DuckDB's ``strip_accents``)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    kept = "".join(c if c.isalnum() else " " for c in decomposed if not unicodedata.combining(c))
    return " ".join(kept.split())


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class Hit:
    golden_id: str
    matched_by: str
    matched: str
    score: float = 1.0


@dataclass
class Snapshot:
    """One published version, open for reading."""

    run_id: str
    fingerprint: str
    con: duckdb.DuckDBPyConnection
    tables: frozenset[str]
    keys: pl.DataFrame
    names: duckdb.DuckDBPyConnection
    records: Path | None
    folder: Path
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
        query = normalise_name(text)
        if not query:
            return []
        initials = sorted({token[0] for token in query.split()})
        where = ["(left(last_n, 1) IN $initials OR left(first_n, 1) IN $initials)"]
        params: dict[str, Any] = {"q": query, "initials": initials, "limit": limit}
        if city:
            where.append("city_n = $city")
            params["city"] = normalise_name(city)
        if birth_year:
            where.append("birth_year = $year")
            params["year"] = birth_year
        sql = f"""
            SELECT golden_id, score FROM (
                SELECT golden_id, greatest(
                    jaro_winkler_similarity(full_n, $q), jaro_winkler_similarity(rev_n, $q),
                    jaro_winkler_similarity(last_n, $q), jaro_winkler_similarity(first_n, $q)
                ) AS score
                FROM names WHERE {" AND ".join(where)}
            ) WHERE score >= {_NAME_SCORE_MIN}
            ORDER BY score DESC, golden_id LIMIT $limit
        """
        rows = self.names_cursor().execute(sql, params).fetchall()
        return [Hit(gid, "name", text, float(score)) for gid, score in rows]

    def source_records(self, record_keys: list[str]) -> list[dict[str, Any]]:
        if self.records is None or not record_keys:
            return []
        table = pq.read_table(self.records, filters=[("record_key", "in", sorted(record_keys))])
        return table.to_pylist()


class Reader:
    """The workspace's view of one warehouse: the current published version, reopened when a
    publish or an erasure replaces it."""

    def __init__(self, warehouse_root: str | os.PathLike[str]):
        self.warehouse = Warehouse(Path(warehouse_root))
        self.cache_root = self.warehouse.root / "cache" / "workspace"
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._retired: list[Snapshot] = []

    def warm(self) -> Snapshot:
        """Open the current version (building its index when needed) before serving."""
        return self.snapshot()

    def _fingerprint(self) -> tuple[str, os.stat_result]:
        path = self.warehouse.duckdb_path
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise NotPublished(
                f"nothing is published in {self.warehouse.root} yet ({path} does not exist): "
                "run the pipeline (golden run) first"
            ) from None
        return f"{stat.st_ino:x}-{stat.st_mtime_ns:x}-{stat.st_size:x}", stat

    def snapshot(self) -> Snapshot:
        fingerprint, _ = self._fingerprint()
        current = self._snapshot
        if current is not None and current.fingerprint == fingerprint:
            return current
        with self._lock:
            fingerprint, _ = self._fingerprint()
            if self._snapshot is None or self._snapshot.fingerprint != fingerprint:
                old = self._snapshot
                self._snapshot = self._open()
                if old is not None:
                    logger.info(
                        "workspace: version %s replaced by %s", old.run_id, self._snapshot.run_id
                    )
                    # Requests still reading the previous version finish on it; the one
                    # before that has had a whole version's lifetime to finish.
                    for stale in self._retired:
                        stale.close()
                    self._retired = [old]
            return self._snapshot

    def close(self) -> None:
        with self._lock:
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
            self._build(con, tables, run_id, folder)
        self._forget_others(folder, link)
        keys = pl.read_parquet(folder / "keys.parquet")
        names = duckdb.connect(":memory:")
        names.execute(
            f"CREATE TABLE names AS SELECT * FROM read_parquet('{folder / 'names.parquet'}')"
        )
        records = folder / "records.parquet"
        return Snapshot(
            run_id=run_id,
            fingerprint=fingerprint,
            con=con,
            tables=tables,
            keys=keys,
            names=names,
            records=records if records.exists() else None,
            folder=folder,
        )

    def _forget_others(self, keep: Path, link: Path) -> None:
        """Old indexes and version links hold personal data an erasure may have removed
        since: delete them (an open file stays readable to the requests still on it)."""
        for other in self.cache_root.iterdir():
            if other.is_dir() and other.name != "versions" and other != keep:
                shutil.rmtree(other, ignore_errors=True)
        for other in link.parent.iterdir():
            if other != link:
                other.unlink(missing_ok=True)

    def _build(
        self, con: duckdb.DuckDBPyConnection, tables: frozenset[str], run_id: str, folder: Path
    ) -> None:
        logger.info("workspace: building the search index of published run %s", run_id)
        work = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
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
            pq.write_table(
                records.to_arrow(), work / "records.parquet", row_group_size=_RECORD_GROUP
            )
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

        def norm(column: str) -> str:
            return f"trim(regexp_replace(strip_accents(lower({column})), '{_NON_WORD}', ' ', 'g'))"

        con.sql(
            f"""
            SELECT golden_id,
                   coalesce(n_first, '') AS first_n,
                   coalesce(n_last, '') AS last_n,
                   trim(coalesce(n_first, '') || ' ' || coalesce(n_last, '')) AS full_n,
                   trim(coalesce(n_last, '') || ' ' || coalesce(n_first, '')) AS rev_n,
                   n_city AS city_n,
                   year(date_of_birth) AS birth_year
            FROM (
                SELECT golden_id, date_of_birth,
                    {norm("first_name")} AS n_first,
                    {norm("coalesce(last_name, full_name)")} AS n_last,
                    {norm("city")} AS n_city
                FROM golden_customers
            ) ORDER BY last_n
            """
        ).write_parquet(str(work / "names.parquet"))
        (work / "done.json").write_text(json.dumps({"run_id": run_id, "keys": keys.height}))
        for path in work.iterdir():
            os.chmod(path, 0o600)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(work, folder)
