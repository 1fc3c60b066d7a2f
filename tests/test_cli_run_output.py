"""``golden run`` at the default level prints its progress bar and its summary, not the stages'
log lines: about 60 lines a user reads, where it printed about 690 (issue 21). A chosen level
brings the log lines back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

GOLDEN = str(Path(sys.executable).parent / "golden")


def _deployment(tmp_path: Path) -> Path:
    lines = ["id,first,last,email,phone,dob"]
    lines += [
        f"{i},Ann{i % 40},Lee{i % 35},ann{i % 40}@example.com,+1 212 555 {1000 + i % 40},"
        f"19{50 + i % 40}-0{1 + i % 9}-1{i % 10}"
        for i in range(120)
    ]
    (tmp_path / "crm.csv").write_text("\n".join(lines) + "\n")
    config = {
        "warehouse": {"path": str(tmp_path / "warehouse")},
        "sources": [
            {
                "name": "crm",
                "kind": "file",
                "path": "crm.csv",
                "id_column": "id",
                "default_phone_region": "US",
                "mapping": {
                    "first_name": "first",
                    "last_name": "last",
                    "email": "email",
                    "phone": "phone",
                    "date_of_birth": "dob",
                },
            }
        ],
    }
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(config))
    return path


def test_golden_run_prints_its_summary_not_its_log(tmp_path: Path) -> None:
    config = _deployment(tmp_path)
    done = subprocess.run(
        [GOLDEN, "run", "--config", str(config), "--skip-backup"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # The progress bar redraws with carriage returns: count lines as a terminal shows them.
    shown = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(shown) <= 60, "\n".join(shown)
    assert not [line for line in shown if " INFO " in line]
    assert "FutureWarning" not in done.stderr  # PySpark's pandas warning: Spark is not in use
    assert "Run " in done.stdout and "golden records:" in done.stdout


def test_a_run_driven_as_a_library_shows_no_spark_warning_when_spark_is_not_the_engine(
    tmp_path: Path,
) -> None:
    """An Airflow task calls the stages through ``pipelines.orchestrate``, not the CLI: PySpark's
    pandas warning (PySpark comes in through GX) must stay out of its log too."""
    config = _deployment(tmp_path)
    script = tmp_path / "task.py"  # a file: PySpark exits a ``python -c`` process on import
    script.write_text(
        "import sys\n"
        "from pipelines.config import load_config\n"
        "from pipelines.orchestrate import run_pipeline\n"
        "run_pipeline(load_config(sys.argv[1], {'backup.enabled': False}))\n"
    )
    done = subprocess.run(
        [sys.executable, str(script), str(config)], capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "FutureWarning" not in done.stderr, done.stderr[-3000:]


def test_an_unknown_log_level_is_a_usage_error() -> None:
    done = subprocess.run(
        [GOLDEN, "--log-level", "loud", "lock", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "--log-level" in done.stderr and "debug, info, warning" in done.stderr
