"""The ``golden`` command's exit codes tell a scheduler what went wrong (README, Exit codes).

Each case goes through the console script's ``main()`` (in this process, to keep the suite
fast; the held-lock case runs the installed script itself, as a scheduler would): 0 success,
1 anything else, 2 usage or config error, 3 a source failed, 4 a quality gate tripped, 5 the run
lock is held. Before, usage errors, config errors, a failed source and a tripped gate all
exited 2.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pipelines.cli import EXIT_CODES, main
from pipelines.lock import run_lock

GOLDEN = str(Path(sys.executable).parent / "golden")
EXPECTATIONS = Path(__file__).parents[1] / "expectations"


class Done:
    """What a ``golden`` command ended with."""

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def golden(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run ``golden ARGS`` through ``main()`` and return its exit status and output."""

    def invoke(*args: str) -> Done:
        monkeypatch.setattr(sys, "argv", ["golden", "--quiet", *args])
        capsys.readouterr()
        with pytest.raises(SystemExit) as ended:
            main()
        out = capsys.readouterr()
        code = ended.value.code
        return Done(code if isinstance(code, int) else (0 if code is None else 1), out.out, out.err)

    return invoke


def golden_script(*args: str, locale: str = "C.UTF-8") -> subprocess.CompletedProcess[str]:
    """``golden`` in a terminal whose locale is ``locale`` (it chooses the errors' language)."""
    env = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES", "LANG")}
    env["LANG"] = locale
    return subprocess.run(
        [GOLDEN, "--quiet", *args], capture_output=True, text=True, timeout=600, env=env
    )


def write_config(tmp_path: Path, **extra: object) -> Path:
    config = {
        "warehouse": {"path": str(tmp_path / "warehouse")},
        "sources": [
            {
                "name": "crm",
                "kind": "file",
                "path": "crm.csv",
                "id_column": "id",
                "mapping": {"email": "email", "first_name": "first", "last_name": "last"},
            }
        ],
        **extra,
    }
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(config))
    return path


def write_records(tmp_path: Path, emails: list[str]) -> None:
    lines = ["id,first,last,email"]
    lines += [f"{i},Ann{i},Lee,{email}" for i, email in enumerate(emails)]
    (tmp_path / "crm.csv").write_text("\n".join(lines) + "\n")


def test_the_readme_documents_every_exit_code() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    for code, meaning in EXIT_CODES.items():
        assert f"| {code} | {meaning} |" in readme


def test_success_exits_0(tmp_path: Path, golden: Callable[..., Done]) -> None:
    done = golden("lock", "status", "--config", str(write_config(tmp_path)))
    assert (done.returncode, done.stdout.strip()) == (0, "free"), done.stderr


@pytest.mark.parametrize(
    "args",
    [pytest.param(["run", "--no-such-option"], id="unknown-option"),
     pytest.param(["run", "--config", "{config}", "--wait", "-1"], id="bad-option-value"),
     pytest.param(["nonsense"], id="unknown-command")],
)  # fmt: skip
def test_a_usage_error_exits_2(
    tmp_path: Path, args: list[str], golden: Callable[..., Done]
) -> None:
    config = str(write_config(tmp_path))
    done = golden(*(a.replace("{config}", config) for a in args))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr


def test_a_config_error_exits_2_naming_the_key(tmp_path: Path, golden: Callable[..., Done]) -> None:
    config = write_config(tmp_path, warehouse={"path": "/"})
    done = golden("run", "--config", str(config))
    assert done.returncode == 2, done.stderr
    assert "warehouse.path" in done.stderr and "system folder" in done.stderr


def test_a_failed_source_exits_3(tmp_path: Path, golden: Callable[..., Done]) -> None:
    config = write_config(tmp_path)  # crm.csv is never written
    done = golden("run", "--config", str(config), "--skip-backup")
    assert done.returncode == 3, done.stderr
    assert "1 of 1 source(s) failed" in done.stderr
    ingest = golden("ingest", "--config", str(config))
    assert ingest.returncode == 3, ingest.stderr


@pytest.mark.slow
def test_a_tripped_quality_gate_exits_4(tmp_path: Path, golden: Callable[..., Done]) -> None:
    suites = tmp_path / "suites"
    suites.mkdir()
    shutil.copy(EXPECTATIONS / "canonical.json", suites / "canonical.json")
    suite = {
        "name": "crm",
        "expectations": [
            {
                "type": "expect_column_values_to_match_regex",
                "kwargs": {"column": "raw_email", "regex": r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$"},
                "meta": {"severity": "critical"},
            }
        ],
    }
    (suites / "crm.json").write_text(json.dumps(suite))
    config = write_config(tmp_path, validation={"expectations_dir": str(suites)})
    write_records(tmp_path, ["not-an-email"] * 8 + ["ann@example.com"] * 2)
    done = golden("run", "--config", str(config), "--skip-backup")
    assert done.returncode == 4, done.stderr
    assert not (tmp_path / "warehouse" / "published").exists()


def test_a_held_run_lock_exits_5(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    write_records(tmp_path, ["ann@example.com"])
    with run_lock(tmp_path / "warehouse", "golden forget"):
        done = golden_script("run", "--config", str(config), "--skip-backup")
        status = golden_script("lock", "status", "--config", str(config))
    assert done.returncode == 5, done.stderr
    assert "in use by golden forget (pid" in done.stderr
    assert status.returncode == 5 and "held by golden forget" in status.stdout


def test_a_held_run_lock_is_said_in_the_terminals_language(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    write_records(tmp_path, ["ann@example.com"])
    with run_lock(tmp_path / "warehouse", "golden forget"):
        done = golden_script("run", "--config", str(config), "--skip-backup", locale="zh_CN.UTF-8")
    assert done.returncode == 5, done.stderr
    assert "\n错误：golden run 无法开始：仓库" in done.stderr, done.stderr
    assert "正被 golden forget (pid" in done.stderr and "cannot start" not in done.stderr


def test_anything_else_exits_1(tmp_path: Path, golden: Callable[..., Done]) -> None:
    config = write_config(tmp_path)
    queue = tmp_path / "warehouse" / "runs" / "20260101T000000Z-aaaaaa" / "match"
    queue.mkdir(parents=True)
    (queue / "review_queue.parquet").write_text("not parquet")
    done = golden("review", "list", "--config", str(config))
    assert done.returncode == 1, done.stderr
    assert "is not a readable Parquet file" in done.stderr
    assert "Traceback" not in done.stderr
