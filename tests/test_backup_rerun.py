"""A rerun of a backup never leaves its run without a complete backup, even when it crashes.

The rerun used to delete the run's manifest first; a crash then left no complete backup of the
run at all. Now the new objects go beside the old ones and the manifest is replaced last, so a
crash mid-upload leaves the earlier backup listed, verifiable and restorable, and a finished
rerun leaves exactly the new one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.backup import backup, list_backups, restore, verify_backup
from pipelines.backup.store import ObjectStore
from pipelines.errors import BackupError
from pipelines.publish import read_table
from pipelines.s3server import S3Endpoint
from tests.test_backup_roundtrip import RUN1, make_config, publish_run
from tests.test_backup_roundtrip import key_env as key_env  # the fixture, shared

pytestmark = pytest.mark.s3


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "client-side-encrypted"])
def test_a_rerun_that_crashes_mid_upload_leaves_the_earlier_backup_complete(
    tmp_path: Path,
    s3_env: S3Endpoint,
    s3_bucket: str,
    key_env: str,
    encrypted: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = {"client_side_key_env": key_env} if encrypted else {}
    source = publish_run(tmp_path / "source", RUN1)
    config = make_config(source.root, s3_bucket, **settings)
    first = backup(config, RUN1)

    uploads = {"done": 0}
    real_upload = ObjectStore.upload_file

    def crash_on_third(self: ObjectStore, path: Path, key: str, metadata=None) -> None:
        uploads["done"] += 1
        if uploads["done"] == 3:
            raise ConnectionError("simulated crash in the middle of the rerun")
        real_upload(self, path, key, metadata)

    monkeypatch.setattr(ObjectStore, "upload_file", crash_on_third)
    with pytest.raises(BackupError, match="simulated crash"):
        backup(config, RUN1)
    monkeypatch.setattr(ObjectStore, "upload_file", real_upload)

    listed = {b.run_id: b for b in list_backups(config)}
    assert listed[RUN1].complete, listed[RUN1].problem
    report = verify_backup(config, RUN1)
    assert report.ok, report.problems
    target = make_config(tmp_path / "restored", s3_bucket, **settings)
    restore(target, RUN1)
    assert read_table(target.warehouse.path, "customer_xref").equals(
        read_table(source.root, "customer_xref")
    )

    again = backup(config, RUN1)  # a finished rerun: the new backup alone, nothing stale
    report = verify_backup(config, RUN1)
    assert report.ok and report.unexpected == [], report
    assert again.objects == first.objects
    assert [b.run_id for b in list_backups(config) if b.complete] == [RUN1]
