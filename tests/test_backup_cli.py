"""``golden backup run/list/verify/prune`` and ``golden restore`` as an operator runs them."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.errors import BackupError
from pipelines.publish import current_run_id, publish
from pipelines.publish.synthetic import write_synthetic_run
from pipelines.s3server import S3Endpoint
from pipelines.warehouse import Warehouse

pytestmark = pytest.mark.s3

RUN = "20240701T100000Z-aaaaaa"


def write_config(tmp_path: Path, bucket: str) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        f"""\
warehouse:
  path: warehouse
sources:
  - name: crm
    kind: file
    path: crm.csv
    id_column: id
    mapping:
      email: email
backup:
  bucket: {bucket}
  prefix: cli
  client_side_key_env: GOLDEN_CLI_TEST_KEY
  retry:
    object_attempts: 1
"""
    )
    return path


def test_backup_list_verify_prune_and_restore_commands(
    tmp_path: Path, s3_env: S3Endpoint, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    config = write_config(tmp_path, s3_bucket)
    key = runner.invoke(app, ["backup", "new-key"])
    assert key.exit_code == 0
    monkeypatch.setenv("GOLDEN_CLI_TEST_KEY", key.stdout.strip())
    from pipelines.config import load_config

    warehouse = Warehouse(load_config(config).warehouse.path)
    write_synthetic_run(warehouse, RUN, 60)
    publish(load_config(config), RUN)

    ran = runner.invoke(app, ["backup", "run", "--config", str(config)])
    assert ran.exit_code == 0, ran.output
    assert f"backed up run {RUN} to s3://{s3_bucket}/cli/{RUN}/" in ran.stdout
    assert "(client-side encrypted)" in ran.stdout

    listed = runner.invoke(app, ["backup", "list", "-c", str(config)])
    assert listed.exit_code == 0
    [row] = [line for line in listed.stdout.splitlines() if line.startswith(RUN)]
    assert "complete" in row and "encrypted" in row

    verified = runner.invoke(app, ["backup", "verify", "-c", str(config)])
    assert verified.exit_code == 0, verified.output
    assert f"backup {RUN} at s3://{s3_bucket}/cli/{RUN}/: OK" in verified.stdout

    client = s3_env.client()
    bad = f"cli/{RUN}/published/golden_customers.parquet"
    body = client.get_object(Bucket=s3_bucket, Key=bad)["Body"].read()
    client.put_object(Bucket=s3_bucket, Key=bad, Body=body[:-1] + bytes([body[-1] ^ 1]))
    failed = runner.invoke(app, ["backup", "verify", RUN, "-c", str(config)])
    assert failed.exit_code == 1
    assert "checksum_mismatch  published/golden_customers.parquet: the stored bytes" in (
        failed.stdout
    )
    assert "FAILED (1 bad object(s))" in failed.stdout
    restored = runner.invoke(
        app, ["restore", RUN, "-c", str(config), "--warehouse", str(tmp_path / "other")]
    )
    assert isinstance(restored.exception, BackupError)
    assert "is damaged, nothing was restored" in str(restored.exception)

    client.put_object(Bucket=s3_bucket, Key=bad, Body=body)
    restored = runner.invoke(
        app, ["restore", RUN, "-c", str(config), "--warehouse", str(tmp_path / "other")]
    )
    assert restored.exit_code == 0, restored.output
    assert f"restored backup {RUN}" in restored.stdout
    assert current_run_id(tmp_path / "other") == RUN

    pruned = runner.invoke(app, ["backup", "prune", "-c", str(config), "--dry-run"])
    assert pruned.exit_code == 0
    assert f"keep          {RUN}: newest complete backup" in pruned.stdout
