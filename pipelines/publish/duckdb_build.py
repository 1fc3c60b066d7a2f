"""Build the published DuckDB database from one version's Parquet files.

The tables are copied into the database (not views over the Parquet files) so that a reader
holding ``golden.duckdb`` open keeps a complete, self-contained version even after the Parquet
version it came from is pruned. The file is built under a temporary name and moved into place
by the caller, so a reader never opens a half-built database.
"""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb

from pipelines.publish.tables import COLUMN_DOCS, TABLES

logger = logging.getLogger(__name__)

INFO_TABLE = "publish_info"
"""One-row table naming the published run, so a reader can tell which version it holds."""


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def build_duckdb(
    version_dir: Path,
    target: Path,
    *,
    run_id: str,
    published_at: str,
    memory_limit: str = "4GB",
) -> None:
    """Write every published table of ``version_dir`` into a new DuckDB file at ``target``."""
    target.unlink(missing_ok=True)
    con = duckdb.connect(str(target))
    try:
        con.execute(f"SET memory_limit = {sql_literal(memory_limit)}")
        # Row order is not part of the contract (readers ORDER BY); not preserving it makes the
        # load several times faster on millions of rows.
        con.execute("SET preserve_insertion_order = false")
        for name, spec in TABLES.items():
            source = version_dir / f"{name}.parquet"
            if source.exists():
                con.execute(
                    f"CREATE TABLE {_quote(name)} AS SELECT * FROM read_parquet($path)",
                    {"path": str(source)},
                )
            else:  # a version published before the table existed (an old backup restored)
                con.from_arrow(spec.schema.empty_table()).create(name)
            comments = [f"COMMENT ON TABLE {_quote(name)} IS {sql_literal(spec.grain)}"]
            comments += [
                f"COMMENT ON COLUMN {_quote(name)}.{_quote(column)} IS {sql_literal(doc)}"
                for column in spec.schema.names
                if (doc := COLUMN_DOCS.get(column))
            ]
            con.execute(";\n".join(comments))
        con.execute(
            f"CREATE TABLE {INFO_TABLE} AS SELECT $run_id AS run_id, "
            "CAST($published_at AS TIMESTAMPTZ) AS published_at",
            {"run_id": run_id, "published_at": published_at},
        )
        con.execute("CHECKPOINT")
    finally:
        con.close()
    logger.info("built %s for run %s", target, run_id)
