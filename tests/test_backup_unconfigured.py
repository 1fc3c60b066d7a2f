"""Without a backup bucket in the config, runs publish without a backup and say so; nothing
is ever sent to a bucket nobody named."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.backup.store import ObjectStore
from pipelines.config import load_config
from pipelines.errors import ConfigError
from pipelines.summary import RunSummary, format_summary

SOURCE = """\
sources:
  - name: crm
    kind: file
    path: crm.csv
    id_column: id
    mapping:
      email: email
"""


def test_a_config_without_a_backup_bucket_turns_backups_off(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.yaml"
    path.write_text(SOURCE)
    config = load_config(path)
    assert config.backup.bucket is None
    assert config.backup.enabled is False


def test_backups_asked_for_without_a_bucket_are_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.yaml"
    path.write_text(SOURCE + "backup:\n  enabled: true\n")
    with pytest.raises(ConfigError, match=r"backup \(line 8\).*no bucket is set"):
        load_config(path)


def test_the_backup_commands_name_the_missing_bucket_key(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.yaml"
    path.write_text(SOURCE)
    with pytest.raises(ConfigError, match=r"set backup\.bucket"):
        ObjectStore(load_config(path).backup)


def test_the_run_summary_says_a_published_run_was_not_backed_up() -> None:
    summary = RunSummary(run_id="r1", published_version="/w/published/versions/r1")
    assert "backup:" not in format_summary(summary)
    unconfigured = summary.model_copy(update={"backup_configured": False})
    assert "backup:            none: no backup bucket configured" in format_summary(unconfigured)
    backed_up = unconfigured.model_copy(
        update={"backup_configured": True, "backup_uri": "s3://b/p/r1/"}
    )
    assert "backup:            s3://b/p/r1/" in format_summary(backed_up)
