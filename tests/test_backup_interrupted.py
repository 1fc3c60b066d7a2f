"""The S3 server dies in the middle of a backup: nothing is marked complete, the next run works."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.backup import backup, list_backups, restore, verify_backup
from pipelines.config import PipelineConfig
from pipelines.errors import BackupError
from pipelines.publish import publish
from pipelines.publish.synthetic import write_synthetic_run
from pipelines.s3server import LocalS3Server, S3Endpoint
from pipelines.warehouse import Warehouse

pytestmark = [pytest.mark.s3, pytest.mark.slow]

RUN = "20240601T100000Z-aaaaaa"


def point_at(endpoint: S3Endpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in endpoint.env().items():
        monkeypatch.setenv(key, value)


def test_server_stopped_mid_backup_leaves_no_complete_backup_and_the_next_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = Warehouse(tmp_path / "warehouse")
    config = PipelineConfig.model_validate(
        {
            "warehouse": {"path": str(warehouse.root)},
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
                "bucket": "interrupted",
                "retry": {
                    "request_attempts": 2,
                    "object_attempts": 2,
                    "backoff_seconds": 0.05,
                    "connect_timeout_seconds": 2,
                    "read_timeout_seconds": 5,
                },
            },
        }
    )
    write_synthetic_run(warehouse, RUN, 100)
    publish(config, RUN)
    warehouse.decisions.write_text(json.dumps({"decision_id": "d1"}) + "\n")
    data_dir = tmp_path / "s3"

    server = LocalS3Server(data_dir)
    point_at(server.start(), monkeypatch)
    try:
        uploaded: list[str] = []

        def kill_after_first(name: str, size: int) -> None:
            uploaded.append(name)
            if len(uploaded) == 1:
                server.stop()

        with pytest.raises(BackupError, match="incomplete: no manifest was written") as failure:
            backup(config, RUN, progress=kill_after_first)
        assert "interrupted" in str(failure.value)
        assert len(uploaded) == 1
    finally:
        server.stop()

    server = LocalS3Server(data_dir)  # the same data: what the dead server had stored
    point_at(server.start(), monkeypatch)
    try:
        [partial] = list_backups(config)
        assert partial.run_id == RUN and not partial.complete
        assert partial.objects == 2  # header and the first object, no manifest
        with pytest.raises(BackupError, match=f"backup {RUN} .* is incomplete"):
            verify_backup(config, RUN)
        with pytest.raises(BackupError, match="is incomplete"):
            restore(config.model_copy(deep=True), RUN)

        result = backup(config, RUN)

        [done] = list_backups(config)
        assert done.complete and done.objects == result.objects + 2
        assert verify_backup(config).ok
    finally:
        server.stop()
