"""One whole run on a small generated sample, through the same path as ``golden run``.

Pins the promises a downstream reader and an auditor rely on: every raw row is accounted for
(in = accepted + quarantined, per source and after standardisation), every accepted record maps to
exactly one golden id, the published tables follow the contract, the backup exists and verifies,
and a second run over the same data keeps every golden id.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.config import PipelineConfig, load_config
from pipelines.orchestrate import run_pipeline
from pipelines.s3server import S3Endpoint
from pipelines.schema import customer_xref_schema, golden_customers_schema
from pipelines.summary import format_summary, summarise_run
from pipelines.warehouse import Warehouse

pytestmark = [pytest.mark.s3, pytest.mark.slow]


@pytest.fixture(scope="module")
def sample_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pipelines.sample import generate_sample

    out = tmp_path_factory.mktemp("sample")
    generate_sample(out, customers=150, seed=11)
    return out / "config.yaml"


def load(config_path: Path, warehouse: Path, bucket: str) -> PipelineConfig:
    return load_config(
        config_path,
        {
            "warehouse.path": str(warehouse),
            "backup.bucket": bucket,
            "backup.prefix": "e2e",
            "validation.expectations_dir": str(Path(__file__).parents[1] / "expectations"),
        },
    )


def test_full_run_reconciles_publishes_backs_up_and_keeps_ids_on_rerun(
    sample_config: Path, tmp_path: Path, s3_env: S3Endpoint, s3_bucket: str
) -> None:
    config = load(sample_config, tmp_path / "warehouse", s3_bucket)
    warehouse = Warehouse(config.warehouse.path)

    first = run_pipeline(config)
    summary = summarise_run(config, first)
    report = format_summary(summary)

    # Nothing lost: every source's rows are accepted or quarantined, and so are staged rows.
    assert {s.source for s in summary.sources} == set(config.source_names), report
    for source in summary.sources:
        assert source.rows_read == source.current + source.rejected_at_ingest, report
        assert source.current == source.accepted + source.quarantined, report
    assert summary.staged == sum(s.accepted for s in summary.sources), report
    assert summary.staged == summary.staged_accepted + summary.staged_quarantined, report
    assert summary.reconciled, report
    assert summary.errors == {}, report

    # The published tables follow the contract and cover every accepted record exactly once.
    with duckdb.connect(str(warehouse.duckdb_path), read_only=True) as db:
        tables = {row[0] for row in db.execute("show tables").fetchall()}
        assert {"golden_customers", "customer_xref", "golden_field_provenance"} <= tables
        assert {"golden_changes", "dq_results", "match_review_queue", "quarantine"} <= tables
        xref = db.sql("select * from customer_xref").pl()
        golden = db.sql("select * from golden_customers").pl()
    accepted = pl.read_parquet(warehouse.staged_accepted(first))
    assert xref.height == accepted.height == summary.staged_accepted
    assert xref["record_key"].n_unique() == xref.height
    assert set(xref["record_key"]) == set(accepted["record_key"])
    assert set(xref["golden_id"]) == set(golden["golden_id"])
    assert golden.height == summary.golden_records
    assert golden.height < xref.height, "duplicates across sources should have been merged"
    assert int(golden["source_record_count"].sum()) == xref.height
    for name in golden_customers_schema().names:
        assert name in golden.columns, f"golden_customers lacks contract column {name}"
    for name in customer_xref_schema().names:
        assert name in xref.columns, f"customer_xref lacks contract column {name}"

    # The backup is complete and verifies against its manifest.
    from pipelines.backup import list_backups, verify_backup

    backups = list_backups(config)
    assert [b.run_id for b in backups if b.complete] == [first]
    assert verify_backup(config, first).ok

    # A second run over the same sources keeps every golden id.
    second = run_pipeline(config)
    with duckdb.connect(str(warehouse.duckdb_path), read_only=True) as db:
        xref_again = db.sql("select record_key, golden_id from customer_xref").pl()
    joined = xref.select("record_key", "golden_id").join(xref_again, on="record_key", suffix="_2")
    assert joined.height == xref.height
    assert (joined["golden_id"] == joined["golden_id_2"]).all()
    again = summarise_run(config, second)
    assert again.golden_ids.get("created", 0) == 0, format_summary(again)
