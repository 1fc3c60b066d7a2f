"""``golden ingest``: every source on its own; one failing source does not stop the others."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from pipelines.cli import app


def write_config(tmp_path: Path) -> Path:
    sources = [
        {
            "name": name,
            "kind": "file",
            "path": f"{name}.csv",
            "id_column": "id",
            "updated_at_column": "changed",
            "mapping": {"email": "email"},
        }
        for name in ("crm", "shop", "erp")
    ]
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump({"warehouse": {"path": "wh"}, "sources": sources}))
    return path


def test_ingest_command_lands_good_sources_reports_failures_and_exits_3(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    (tmp_path / "crm.csv").write_text("id,email,changed\n1,a@x,2024-01-01\n2,b@x\n")
    (tmp_path / "shop.csv").write_text("id,mail,changed\n1,a@x,2024-01-01\n")  # drifted
    (tmp_path / "erp.csv").write_text("id,email,changed\n7,c@x,2024-01-01\n")

    result = CliRunner().invoke(app, ["ingest", "--config", str(config), "--run-id", "r1"])

    assert result.exit_code == 3  # a source failed
    assert "crm: 2 read, 1 landed, 1 rejected; 1 current records" in result.output
    assert "erp: 1 read, 1 landed, 0 rejected; 1 current records" in result.output
    assert "shop: FAILED" in result.output and "'email'" in result.output
    ingest_dir = tmp_path / "wh" / "runs" / "r1" / "ingest"
    assert sorted(p.name for p in ingest_dir.iterdir()) == ["crm", "erp"]

    # The failed source can be retried alone in the same run once fixed.
    (tmp_path / "shop.csv").write_text("id,email,changed\n1,a@x,2024-01-01\n")
    retry = CliRunner().invoke(
        app, ["ingest", "--config", str(config), "--run-id", "r1", "--source", "shop"]
    )
    assert retry.exit_code == 0, retry.output
    stored = json.loads((ingest_dir / "shop" / "result.json").read_text())
    assert stored["rows_landed"] == 1


def test_full_reload_flag_reaches_every_source(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    for name in ("crm", "shop", "erp"):
        (tmp_path / f"{name}.csv").write_text("id,email,changed\n1,a@x,2024-01-01\n")
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", "-c", str(config), "--run-id", "r1"]).exit_code == 0
    second = runner.invoke(app, ["ingest", "-c", str(config), "--run-id", "r2"])
    assert "crm: 0 read, 0 landed, 0 rejected, 1 unchanged; 1 current records" in second.output
    third = runner.invoke(app, ["ingest", "-c", str(config), "--run-id", "r3", "--full-reload"])
    assert third.exit_code == 0
    assert "crm: 1 read, 1 landed, 0 rejected; 1 current records" in third.output
