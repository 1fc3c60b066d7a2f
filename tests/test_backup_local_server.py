"""``backup.local_server_dir``: a config can name the local S3 server that ``make demo`` (or
``golden s3 start``) leaves running, so a newcomer's next command, ``golden run`` on the example
config, backs up there instead of failing against AWS without credentials."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from pipelines.backup.store import ObjectStore
from pipelines.config import load_config
from pipelines.errors import ConfigError
from pipelines.s3server import S3Endpoint

ROOT = Path(__file__).resolve().parents[1]

CONFIG = """\
sources:
  - name: crm
    kind: file
    path: crm.csv
    id_column: id
    mapping:
      email: email
backup:
  bucket: {bucket}
  local_server_dir: s3data
"""


@pytest.fixture
def no_s3_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("GOLDEN_S3_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(key, raising=False)


@pytest.mark.usefixtures("no_s3_environment")
def test_backups_reach_the_named_local_server_with_no_environment_set(
    tmp_path: Path, s3_server: S3Endpoint, s3_bucket: str
) -> None:
    (tmp_path / "s3data").mkdir()
    (tmp_path / "s3data" / "endpoint.json").write_text(json.dumps(asdict(s3_server)))
    (tmp_path / "pipeline.yaml").write_text(CONFIG.format(bucket=s3_bucket))

    store = ObjectStore(load_config(tmp_path / "pipeline.yaml").backup)

    assert store.endpoint_url == s3_server.endpoint_url
    store.client.put_object(Bucket=s3_bucket, Key="probe", Body=b"x")
    assert s3_server.client().get_object(Bucket=s3_bucket, Key="probe")["Body"].read() == b"x"


@pytest.mark.usefixtures("no_s3_environment")
def test_a_stopped_local_server_is_an_error_with_the_command_that_starts_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "pipeline.yaml").write_text(CONFIG.format(bucket="golden-backups"))
    with pytest.raises(ConfigError) as caught:
        ObjectStore(load_config(tmp_path / "pipeline.yaml").backup)
    message = str(caught.value)
    assert "backup.local_server_dir" in message
    assert f"golden s3 start --data-dir {tmp_path / 's3data'}" in message


def test_the_environment_endpoint_wins_over_the_local_server(
    tmp_path: Path, s3_env: S3Endpoint
) -> None:
    (tmp_path / "pipeline.yaml").write_text(CONFIG.format(bucket="golden-backups"))
    store = ObjectStore(load_config(tmp_path / "pipeline.yaml").backup)
    assert store.endpoint_url == s3_env.endpoint_url


def test_the_example_config_names_the_server_make_demo_starts() -> None:
    config = load_config(ROOT / "examples" / "config.yaml")
    assert config.backup.local_server_dir == ROOT / ".s3data"
