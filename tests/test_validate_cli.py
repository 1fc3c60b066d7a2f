"""``golden validate``: one source, validated on its own, ingested first when the run lacks it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.errors import ConfigError
from pipelines.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[1]
RUN = "20260301T090000Z-abc123"

CSV = """crm_id,first_name,last_name,email,phone,birth_date
1,Ada,Lovelace,ada@example.org,+44 20 7123 4567,12/10/1815
2,Alan,Turing,alan(at)example.org,+44 1234 567890,06/23/1912
2,Alan,Turing,alan@example.org,+44 1234 567890,06/23/1912
3,Grace,Hopper,grace@example.com,555-0100,1906-12-09
4,,,,,
"""


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    (tmp_path / "crm.csv").write_text(CSV)
    text = {
        "warehouse": {"path": str(tmp_path / "warehouse")},
        "validation": {"expectations_dir": str(REPO / "expectations")},
        "sources": [
            {
                "name": "crm",
                "kind": "file",
                "path": "crm.csv",
                "id_column": "crm_id",
                "mapping": {
                    "first_name": "first_name",
                    "last_name": "last_name",
                    "email": "email",
                    "phone": "phone",
                    "date_of_birth": "birth_date",
                },
            }
        ],
    }
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(text))
    return path


def test_validate_ingests_a_missing_source_then_prints_counts_and_the_docs_path(
    config_path: Path,
) -> None:
    result = CliRunner().invoke(
        app, ["validate", "--config", str(config_path), "--source", "crm", "--run-id", RUN]
    )

    assert result.exit_code == 0, result.output
    out = result.output
    assert f"run {RUN}: ingesting crm first" in out
    counts = {
        k: int(v.replace(",", ""))
        for k, v in re.findall(r"  (rows in|accepted|quarantined|warned):\s+([\d,]+)", out)
    }
    # Rows 2 and 2 share an id, row 4 has no name and no contact data: three quarantined;
    # Grace's date of birth is not MM/DD/YYYY: one warned.
    assert counts == {"rows in": 5, "accepted": 2, "quarantined": 3, "warned": 1}
    assert "critical: expect_column_values_to_be_unique on source_record_id (#3)" in out
    docs = Path(re.search(r"Data Docs:\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    assert docs.name == "index.html" and docs.is_file()
    warehouse = Warehouse(config_path.parent / "warehouse")
    assert warehouse.current_records(RUN, "crm").is_file()
    assert warehouse.dq_result(RUN, "crm").is_file()
    stages = sorted(p.name for p in (warehouse.run(RUN) / "stages").glob("*.json"))
    assert stages == ["data_docs.json", "ingest.crm.json", "validate_source.crm.json"]


def test_validate_reuses_the_runs_ingested_records(config_path: Path) -> None:
    runner = CliRunner()
    args = ["validate", "--config", str(config_path), "--source", "crm", "--run-id", RUN]
    runner.invoke(app, [*args, "--no-data-docs"])

    again = runner.invoke(app, [*args, "--no-data-docs"])

    assert again.exit_code == 0, again.output
    assert "ingesting" not in again.output
    assert "Data Docs:" not in again.output


def test_validate_names_the_sources_when_one_is_unknown(config_path: Path) -> None:
    result = CliRunner().invoke(app, ["validate", "--config", str(config_path), "--source", "erp"])

    assert isinstance(result.exception, ConfigError)
    assert "no source named 'erp'" in str(result.exception)
    assert "sources are: crm" in str(result.exception)
