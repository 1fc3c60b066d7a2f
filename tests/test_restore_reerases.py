"""Restoring a backup taken before an erasure never brings the erased person back.

The suppression list lived only in the warehouse and in later backups, so restoring an older
backup into an empty warehouse (a new machine after a disaster) brought the erased subject back
in every published file, silently. Now every erasure and every backup keep a copy of the list in
the bucket (encrypted like the backups when client-side encryption is on), and a restore erases
the listed records from the version it prepared before that version is readable, says so in its
result and in the CLI, and records ``erasure.reapplied`` in the audit trail.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from pipelines.audit import read_audit
from pipelines.backup import backup, restore
from pipelines.backup.suppression_copy import OBJECT_NAME
from pipelines.cli import app
from pipelines.config import PipelineConfig
from pipelines.privacy import forget
from pipelines.privacy.roles import role_dir
from pipelines.publish import publish, read_table
from pipelines.publish.synthetic import synthetic_config, write_synthetic_run
from pipelines.s3server import S3Endpoint
from pipelines.warehouse import Warehouse
from tests.test_backup_roundtrip import key_env as key_env  # the fixture, shared

pytestmark = pytest.mark.s3

RUN1 = "20240901T100000Z-aaaaaa"
SALT_ENV = "GOLDEN_SUPPRESSION_SALT"


def _config(root: Path, bucket: str, **backup_settings: object) -> PipelineConfig:
    return synthetic_config(root, backup={"bucket": bucket, "prefix": "golden", **backup_settings})


def _subject(warehouse: Warehouse) -> tuple[str, set[str]]:
    """A customer with more than one record, and their record keys."""
    xref = pl.read_parquet(warehouse.published_version(RUN1) / "customer_xref.parquet")
    counts = xref.group_by("golden_id").len().filter(pl.col("len") > 1).sort("golden_id")
    golden_id = counts["golden_id"][0]
    return golden_id, set(xref.filter(pl.col("golden_id") == golden_id)["record_key"].to_list())


def _everything_published(root: Path) -> str:
    """Every published file of the current version as text: tables, database, roles, registry."""
    texts = [json.dumps(read_table(root, t).to_pylist(), default=str) for t in ("customer_xref",)]
    texts.append(json.dumps(read_table(root, "golden_customers").to_pylist(), default=str))
    warehouse = Warehouse(root)
    texts.append(str(pl.read_parquet(warehouse.id_registry).rows()))
    with duckdb.connect(str(warehouse.duckdb_path), read_only=True) as con:
        texts.append(str(con.sql("SELECT * FROM customer_xref").fetchall()))
        texts.append(str(con.sql("SELECT * FROM golden_customers").fetchall()))
    for role in ("steward", "analyst"):
        with duckdb.connect(
            str(role_dir(warehouse, role) / "golden.duckdb"), read_only=True
        ) as con:
            texts.append(str(con.sql("SELECT * FROM golden_customers").fetchall()))
    return "\n".join(texts)


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "client-side-encrypted"])
def test_restoring_a_pre_erasure_backup_into_an_empty_warehouse_erases_again(
    tmp_path: Path,
    s3_env: S3Endpoint,
    s3_bucket: str,
    key_env: str,
    encrypted: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SALT_ENV, secrets.token_hex(24))
    settings = {"client_side_key_env": key_env} if encrypted else {}
    source = Warehouse(tmp_path / "source")
    config = _config(source.root, s3_bucket, **settings)
    write_synthetic_run(source, RUN1, 60)
    publish(config, RUN1)
    backup(config, RUN1)  # taken before the erasure
    golden_id, keys = _subject(source)
    assert golden_id in _everything_published(source.root)

    erased = forget(
        config,
        golden_id,
        kind="golden_id",
        reason="subject request",
        requester="dpo",
        backup_after=False,
    )
    assert erased.records == len(keys) and erased.warnings == []
    assert golden_id not in _everything_published(source.root)
    stored = s3_env.client().get_object(Bucket=s3_bucket, Key=f"golden/{OBJECT_NAME}")["Body"]
    copy = stored.read()
    assert (b"record_key" in copy) is not encrypted, "sealed like a backup when encrypted"

    empty = _config(tmp_path / "new-machine", s3_bucket, **settings)
    result = restore(empty, RUN1)

    assert result.reapplied == len(keys)
    assert golden_id in result.reapplied_golden_ids
    published = _everything_published(empty.warehouse.path)
    assert golden_id not in published
    assert not keys & set(
        read_table(empty.warehouse.path, "customer_xref")["record_key"].to_pylist()
    )
    restored = Warehouse(empty.warehouse.path)
    assert restored.suppression.read_bytes().strip(), "the restored warehouse keeps the list"
    events = [e for e in read_audit(restored.root) if e.action == "erasure.reapplied"]
    assert len(events) == 1 and events[0].details["records"] == len(keys)


def test_the_restore_command_says_it_erased_again(
    tmp_path: Path, s3_env: S3Endpoint, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SALT_ENV, secrets.token_hex(24))
    source = Warehouse(tmp_path / "source")
    config = _config(source.root, s3_bucket)
    write_synthetic_run(source, RUN1, 40)
    publish(config, RUN1)
    backup(config, RUN1)
    golden_id, keys = _subject(source)
    forget(config, golden_id, kind="golden_id", reason="r", requester="dpo", backup_after=False)

    target = tmp_path / "new-machine"
    config_file = tmp_path / "config.yaml"
    config_file.write_text(
        json.dumps(
            {
                "warehouse": {"path": str(target)},
                "sources": [
                    {
                        "name": "crm",
                        "kind": "file",
                        "path": "crm.csv",
                        "id_column": "id",
                        "mapping": {"email": "email"},
                    }
                ],
                "backup": {"bucket": s3_bucket, "prefix": "golden"},
            }
        )
    )
    out = CliRunner().invoke(app, ["restore", RUN1, "--config", str(config_file)])
    assert out.exit_code == 0, out.output
    assert f"erased again {len(keys)} record(s)" in out.output
    assert golden_id not in _everything_published(target)
