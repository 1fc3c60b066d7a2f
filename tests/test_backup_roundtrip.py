"""Backups against the real local S3 server: round trip, damage found, encryption, refusals."""

from __future__ import annotations

import filecmp
import json
import os
from pathlib import Path

import pytest

from pipelines import audit
from pipelines.backup import (
    backup,
    destroy_backup_key,
    list_backups,
    restore,
    verify_backup,
)
from pipelines.backup.crypto import generate_master_key
from pipelines.config import PipelineConfig
from pipelines.errors import BackupError
from pipelines.publish import TABLES, current_run_id, publish, read_table
from pipelines.publish.synthetic import write_synthetic_run
from pipelines.s3server import S3Endpoint
from pipelines.warehouse import Warehouse

pytestmark = pytest.mark.s3

RUN1 = "20240501T100000Z-aaaaaa"
RUN2 = "20240502T100000Z-bbbbbb"
KEY_ENV = "GOLDEN_TEST_BACKUP_KEY"


def make_config(root: Path, bucket: str, **backup_settings) -> PipelineConfig:
    return PipelineConfig.model_validate(
        {
            "warehouse": {"path": str(root)},
            "sources": [
                {
                    "name": "crm",
                    "kind": "file",
                    "path": "crm.csv",
                    "id_column": "id",
                    "mapping": {"email": "email"},
                }
            ],
            "backup": {
                "bucket": bucket,
                "prefix": "team/golden",
                "retry": {"object_attempts": 2, "backoff_seconds": 0.05},
                **backup_settings,
            },
        }
    )


def publish_run(root: Path, run_id: str, records: int = 120, seed: int = 0) -> Warehouse:
    """Publish a synthetic run and give the warehouse the state files a real one has."""
    warehouse = Warehouse(root)
    write_synthetic_run(warehouse, run_id, records, seed=seed)
    publish(make_config(root, "unused"), run_id)
    warehouse.state.joinpath("sources").mkdir(parents=True, exist_ok=True)
    warehouse.source_state("crm").write_text(json.dumps({"watermark": run_id, "columns": ["id"]}))
    with warehouse.decisions.open("a") as log:
        log.write(json.dumps({"decision_id": f"d-{run_id}", "kind": "must_link"}) + "\n")
    audit.record(root, "tester", "publish", run_id)
    warehouse.suppression.write_text('{"hash": "ab12"}\n')
    return warehouse


def state_files(root: Path) -> list[Path]:
    """The state a backup carries: hidden files (the run lock, temporaries) stay local."""
    return sorted(
        p.relative_to(root)
        for p in (root / "state").rglob("*")
        if p.is_file() and not p.name.startswith(".")
    )


KEPT = (".parquet", ".json")
"""What a backup holds of a version: tables and manifest (database and roles are rebuilt)."""


def assert_same_files(a: Path, b: Path, relatives: list[Path]) -> None:
    for relative in relatives:
        assert filecmp.cmp(a / relative, b / relative, shallow=False), relative


@pytest.fixture
def key_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, generate_master_key())
    return KEY_ENV


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "client-side-encrypted"])
def test_backup_list_verify_restore_round_trip_is_byte_identical(
    tmp_path: Path, s3_env: S3Endpoint, s3_bucket: str, key_env: str, encrypted: bool
) -> None:
    settings = {"client_side_key_env": key_env} if encrypted else {}
    source = publish_run(tmp_path / "source", RUN1)
    config = make_config(source.root, s3_bucket, **settings)
    client = s3_env.client()
    manifest_key = f"team/golden/{RUN1}/manifest.json"
    stored: list[str] = []

    def progress(name: str, size: int) -> None:
        # the manifest is written last: while objects go up, the backup is not complete
        assert "Contents" not in client.list_objects_v2(Bucket=s3_bucket, Prefix=manifest_key)
        stored.append(name)

    result = backup(config, RUN1, progress=progress)

    assert result.manifest_key == manifest_key
    assert result.uri == f"s3://{s3_bucket}/team/golden/{RUN1}/"
    # every published table, the version manifest, every state file
    assert result.objects == len(stored) == len(TABLES) + 1 + len(state_files(source.root))
    assert result.encrypted is encrypted
    [info] = list_backups(config)
    assert (info.run_id, info.complete, info.encrypted) == (RUN1, True, encrypted)

    report = verify_backup(config)
    assert report.ok and report.run_id == RUN1 and not report.unexpected
    assert {c.name for c in report.objects} == set(stored)
    rows = {c.name: c.actual_rows for c in report.objects}
    assert rows["published/golden_customers.parquet"] == 96
    assert rows["state/decisions.jsonl"] == 1

    target = make_config(tmp_path / "restored", s3_bucket, **settings)
    restored = restore(target, RUN1)
    assert restored.previous_run_id is None and restored.merged_logs == []
    assert current_run_id(target.warehouse.path) == RUN1
    version = Path("published/versions") / RUN1
    assert_same_files(
        source.root,
        target.warehouse.path,
        [version / p.name for p in (source.root / version).iterdir() if p.suffix in KEPT]
        + [p for p in state_files(source.root) if p.name != "audit.jsonl"],
    )
    assert state_files(target.warehouse.path) == state_files(source.root)
    # the restored audit trail is the backup's, then the restore itself
    trail = (target.warehouse.path / "state/audit.jsonl").read_bytes()
    assert trail.startswith((source.root / "state/audit.jsonl").read_bytes())
    assert b'"restore"' in trail.splitlines()[-1]
    assert read_table(target.warehouse.path, "golden_customers").equals(
        read_table(source.root, "golden_customers")
    )
    assert (target.warehouse.path / "golden.duckdb").exists()


def test_encrypted_objects_are_unreadable_without_the_key(
    tmp_path: Path,
    s3_env: S3Endpoint,
    s3_bucket: str,
    key_env: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = publish_run(tmp_path / "source", RUN1)
    config = make_config(source.root, s3_bucket, client_side_key_env=key_env)
    backup(config, RUN1)

    raw = (
        s3_env.client()
        .get_object(Bucket=s3_bucket, Key=f"team/golden/{RUN1}/state/decisions.jsonl")["Body"]
        .read()
    )
    plain = source.decisions.read_bytes()
    assert raw.startswith(b"GRBKENC1") and plain not in raw and b"must_link" not in raw
    parquet = (
        s3_env.client()
        .get_object(Bucket=s3_bucket, Key=f"team/golden/{RUN1}/published/golden_customers.parquet")[
            "Body"
        ]
        .read()
    )
    assert not parquet.startswith(b"PAR1") and b"example.com" not in parquet

    target = make_config(tmp_path / "restored", s3_bucket, client_side_key_env=key_env)
    right_key = os.environ[key_env]
    monkeypatch.setenv(key_env, generate_master_key())
    with pytest.raises(BackupError, match="was encrypted under master key"):
        restore(target, RUN1)
    monkeypatch.delenv(key_env)
    with pytest.raises(BackupError, match=f"names the environment variable {key_env}"):
        verify_backup(target, RUN1)
    with pytest.raises(BackupError, match="is client-side encrypted"):
        verify_backup(make_config(tmp_path / "x", s3_bucket), RUN1)
    assert not (target.warehouse.path / "published").exists()

    monkeypatch.setenv(key_env, right_key)
    restore(target, RUN1)
    assert (target.warehouse.path / "state/decisions.jsonl").read_bytes() == plain


def _object_key(run_id: str, name: str) -> str:
    return f"team/golden/{run_id}/{name}"


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "client-side-encrypted"])
def test_verify_reports_corrupted_truncated_and_missing_objects(
    tmp_path: Path, s3_env: S3Endpoint, s3_bucket: str, key_env: str, encrypted: bool
) -> None:
    settings = {"client_side_key_env": key_env} if encrypted else {}
    source = publish_run(tmp_path / "source", RUN1)
    config = make_config(source.root, s3_bucket, **settings)
    backup(config, RUN1)
    client = s3_env.client()

    def damage(name: str, change) -> None:
        key = _object_key(RUN1, name)
        body = client.get_object(Bucket=s3_bucket, Key=key)["Body"].read()
        client.put_object(Bucket=s3_bucket, Key=key, Body=change(body))

    flipped = "published/customer_xref.parquet"
    damage(flipped, lambda b: b[:100] + bytes([b[100] ^ 0xFF]) + b[101:])
    damage("state/id_registry.parquet", lambda b: b[: len(b) // 2])
    client.delete_object(Bucket=s3_bucket, Key=_object_key(RUN1, "state/decisions.jsonl"))
    client.put_object(Bucket=s3_bucket, Key=_object_key(RUN1, "published/stray.txt"), Body=b"x")

    report = verify_backup(config, RUN1)

    assert not report.ok
    statuses = {c.name: c.status for c in report.problems}
    assert statuses == {
        flipped: "checksum_mismatch",
        "state/id_registry.parquet": "size_mismatch",
        "state/decisions.jsonl": "missing",
    }
    assert all(c.ok for c in report.objects if c.name not in statuses)
    assert report.unexpected == [_object_key(RUN1, "published/stray.txt")]

    with pytest.raises(BackupError, match="is damaged, nothing was restored"):
        restore(make_config(tmp_path / "restored", s3_bucket, **settings), RUN1)
    assert not (tmp_path / "restored" / "published").exists()


def test_rows_mismatch_is_reported_when_the_manifest_disagrees(
    tmp_path: Path, s3_env: S3Endpoint, s3_bucket: str
) -> None:
    """A manifest whose row count disagrees with an intact object is caught too."""
    source = publish_run(tmp_path / "source", RUN1)
    config = make_config(source.root, s3_bucket)
    backup(config, RUN1)
    client = s3_env.client()
    key = _object_key(RUN1, "manifest.json")
    manifest = json.loads(client.get_object(Bucket=s3_bucket, Key=key)["Body"].read())
    entry = next(o for o in manifest["objects"] if o["name"] == "published/quarantine.parquet")
    entry["rows"] += 1
    client.put_object(Bucket=s3_bucket, Key=key, Body=json.dumps(manifest).encode())

    [problem] = verify_backup(config, RUN1).problems
    assert (problem.name, problem.status) == ("published/quarantine.parquet", "rows_mismatch")


def test_restore_refuses_a_newer_state_unless_forced_and_never_shortens_logs(
    tmp_path: Path, s3_env: S3Endpoint, s3_bucket: str
) -> None:
    root = tmp_path / "warehouse"
    warehouse = publish_run(root, RUN1)
    config = make_config(root, s3_bucket)
    backup(config, RUN1)
    registry_run1 = warehouse.id_registry.read_bytes()
    publish_run(root, RUN2, records=150, seed=2)
    decisions_now = warehouse.decisions.read_text()

    with pytest.raises(BackupError, match=f"holds state of run {RUN2}, newer than backup {RUN1}"):
        restore(config, RUN1)
    assert current_run_id(root) == RUN2

    result = restore(config, RUN1, force=True)

    assert result.previous_run_id == RUN2
    assert current_run_id(root) == RUN1
    assert read_table(root, "customer_xref").num_rows == 120
    assert warehouse.id_registry.read_bytes() == registry_run1
    assert json.loads(warehouse.source_state("crm").read_text())["watermark"] == RUN1
    # the steward decision and audit entry made after the backup survive the roll-back
    assert warehouse.decisions.read_text() == decisions_now
    assert "state/decisions.jsonl" in result.merged_logs
    assert f"d-{RUN2}" in warehouse.decisions.read_text()


def test_a_rerun_replaces_the_backup_and_drops_objects_no_longer_there(
    tmp_path: Path, s3_env: S3Endpoint, s3_bucket: str
) -> None:
    source = publish_run(tmp_path / "source", RUN1)
    config = make_config(source.root, s3_bucket)
    backup(config, RUN1)
    source.suppression.unlink()
    result = backup(config, RUN1)

    keys = {
        o["Key"]
        for o in s3_env.client().list_objects_v2(Bucket=s3_bucket, Prefix="team/golden/")[
            "Contents"
        ]
    }
    assert _object_key(RUN1, "state/suppression.jsonl") not in keys
    keys.discard("team/golden/_suppression/suppression.jsonl")  # the list beside the backups
    assert len(keys) == result.objects + 2  # plus header and manifest
    assert verify_backup(config, RUN1).ok


def test_backup_of_a_run_that_is_not_current_is_refused(
    tmp_path: Path, s3_env: S3Endpoint, s3_bucket: str
) -> None:
    root = tmp_path / "warehouse"
    publish_run(root, RUN1)
    publish_run(root, RUN2, seed=2)
    with pytest.raises(BackupError, match=f"run {RUN1} is not the current published version"):
        backup(make_config(root, s3_bucket), RUN1)
    assert list_backups(make_config(root, s3_bucket)) == []


def test_server_side_encryption_and_multipart_upload(
    tmp_path: Path, s3_env: S3Endpoint, s3_bucket: str
) -> None:
    source = publish_run(tmp_path / "source", RUN1)
    # an audit log large enough to cross the 5 MB multipart threshold
    line = json.dumps({"action": "export", "details": "x" * 200}) + "\n"
    source.audit_log.write_text(line * (6 * 1024 * 1024 // len(line) + 1))
    config = make_config(
        source.root,
        s3_bucket,
        server_side_encryption="AES256",
        multipart_threshold_mb=5,
        multipart_chunk_mb=5,
    )
    backup(config, RUN1)

    head = s3_env.client().head_object(Bucket=s3_bucket, Key=_object_key(RUN1, "state/audit.jsonl"))
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ETag"].strip('"').endswith("-2"), "uploaded in two parts"
    small = s3_env.client().head_object(Bucket=s3_bucket, Key=_object_key(RUN1, "manifest.json"))
    assert small["ServerSideEncryption"] == "AES256"
    assert verify_backup(config, RUN1).ok


def test_destroying_a_backups_key_makes_only_that_backup_unreadable(
    tmp_path: Path, s3_env: S3Endpoint, s3_bucket: str, key_env: str
) -> None:
    root = tmp_path / "warehouse"
    config = make_config(root, s3_bucket, client_side_key_env=key_env)
    publish_run(root, RUN1)
    backup(config, RUN1)
    publish_run(root, RUN2, seed=2)
    backup(config, RUN2)

    destroy_backup_key(config, RUN1, reason="erasure request 42")

    infos = {b.run_id: b for b in list_backups(config)}
    assert infos[RUN1].key_destroyed and not infos[RUN2].key_destroyed
    with pytest.raises(BackupError, match=r"was destroyed at .* \(erasure request 42\)"):
        verify_backup(config, RUN1)
    with pytest.raises(BackupError, match="was destroyed"):
        restore(make_config(tmp_path / "other", s3_bucket, client_side_key_env=key_env), RUN1)
    header = (
        s3_env.client()
        .get_object(Bucket=s3_bucket, Key=_object_key(RUN1, "header.json"))["Body"]
        .read()
    )
    assert json.loads(header)["encryption"]["wrapped_key"] is None
    assert verify_backup(config, RUN2).ok


def test_missing_or_incomplete_backup_is_a_clear_error(
    tmp_path: Path, s3_env: S3Endpoint, s3_bucket: str
) -> None:
    config = make_config(tmp_path / "w", s3_bucket)
    with pytest.raises(BackupError, match="there is no complete backup under"):
        verify_backup(config)
    with pytest.raises(BackupError, match=f"backup {RUN1} at .* does not exist"):
        restore(config, RUN1)


@pytest.mark.parametrize("run_id", ["../etc", "a/b", "", ".hidden"])
def test_run_ids_that_are_not_names_are_refused(tmp_path: Path, run_id: str) -> None:
    config = make_config(tmp_path / "w", "unused-bucket")
    for operation in (backup, verify_backup, restore):
        with pytest.raises(BackupError, match="is not a run id"):
            operation(config, run_id)
