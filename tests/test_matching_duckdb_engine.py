"""The DuckDB engine reads its inputs from Parquet files in the work folder: the records are
not held a second time, as Arrow, beside the frame the stage keeps."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from matching.config import MatchingConfig
from matching.engine import open_engine


def test_registered_records_are_scanned_from_parquet_with_their_types_and_nulls(
    tmp_path: Path,
) -> None:
    records = pl.DataFrame(
        {
            "record_key": ["crm:1", "crm:2", "crm:3"],
            "first_name": ["martha", None, "dwayne"],
            "glyphs": [["m", "a"], None, []],
        }
    )
    with open_engine(MatchingConfig(), tmp_path) as engine:
        table = engine.register(records, "crm")
        plan = engine.db_api.duckdb_con.sql(  # type: ignore[attr-defined]
            f"EXPLAIN SELECT * FROM {table.physical_name}"
        ).fetchall()
        assert "PARQUET_SCAN" in str(plan).upper()
        assert "ARROW" not in str(plan).upper()
        back = engine.query(f"SELECT * FROM {table.physical_name} ORDER BY record_key")
        assert back.equals(records)
        assert list(engine.exchange_dir.glob("*.parquet"))
