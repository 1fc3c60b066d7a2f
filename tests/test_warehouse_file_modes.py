"""Personal data is private whatever the umask: every file and folder a run creates.

A warehouse holds personal data almost everywhere (raw batches, run folders, published versions,
the DuckDB database, reports, state), written by our code and by libraries that honour the
umask. Under the usual umask ``022`` those came out world-readable. Here a whole run is made
under umask ``022`` and every path in the warehouse is checked: ``0600`` files and ``0700``
folders by default, ``0640`` / ``0750`` with ``warehouse.access: group``. The local S3 server's
state file holds its secret key and must be ``0600`` too.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from pipelines.config import load_config
from pipelines.orchestrate import run_pipeline
from pipelines.s3server import _write_private
from pipelines.warehouse import Warehouse, atomic_path, protect_process

EXPECTATIONS = Path(__file__).parents[1] / "expectations"


@pytest.fixture(scope="module")
def sample_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pipelines.sample import generate_sample

    out = tmp_path_factory.mktemp("sample")
    generate_sample(out, customers=30, seed=5)
    return out / "config.yaml"


def _modes(root: Path) -> dict[str, set[str]]:
    """Octal mode -> paths below ``root`` (symlinks skipped: their mode means nothing)."""
    found: dict[str, set[str]] = {}
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            if path.is_symlink():
                continue
            mode = oct(stat.S_IMODE(path.lstat().st_mode))
            kind = "dir" if path.is_dir() else "file"
            found.setdefault(f"{kind} {mode}", set()).add(str(path.relative_to(root)))
    return found


@pytest.mark.parametrize(
    ("access", "file_mode", "dir_mode"),
    [
        pytest.param("owner", "0o600", "0o700", id="owner-only"),
        pytest.param("group", "0o640", "0o750", id="group-read", marks=pytest.mark.slow),
    ],
)
def test_every_path_of_a_run_is_private_under_umask_022(
    sample_config: Path, tmp_path: Path, access: str, file_mode: str, dir_mode: str
) -> None:
    root = tmp_path / "warehouse"
    os.umask(0o022)
    root.mkdir()  # made by hand under the usual umask: 0755
    config = load_config(
        sample_config,
        {
            "warehouse.path": str(root),
            "warehouse.access": access,
            "backup.enabled": False,
            "validation.expectations_dir": str(EXPECTATIONS),
        },
    )
    run_id = run_pipeline(config)
    warehouse = Warehouse(root)
    assert warehouse.duckdb_path.exists() and warehouse.raw.is_dir()
    assert warehouse.run(run_id).is_dir() and (warehouse.published / "roles").is_dir()

    modes = _modes(root)
    wrong = {mode: sorted(paths)[:5] for mode, paths in modes.items()}
    for allowed in (f"file {file_mode}", f"dir {dir_mode}", "file 0o600", "dir 0o700"):
        wrong.pop(allowed, None)  # owner-only is always allowed (locks, secrets)
    assert wrong == {}, f"paths with other modes than {file_mode}/{dir_mode}: {wrong}"
    assert oct(stat.S_IMODE(root.stat().st_mode)) == dir_mode
    assert len(modes[f"file {file_mode}"]) > 50  # the walk saw the run, not an empty folder


def test_atomic_writes_follow_the_access_setting(tmp_path: Path) -> None:
    os.umask(0o022)
    protect_process("group")
    with atomic_path(tmp_path / "a.json") as tmp:
        tmp.write_text("{}")
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o640
    protect_process("owner")
    with atomic_path(tmp_path / "b.json") as tmp:
        tmp.write_text("{}")
    assert stat.S_IMODE((tmp_path / "b.json").stat().st_mode) == 0o600
    assert os.umask(0o077) == 0o077  # the process umask itself is owner-only


def test_local_s3_state_file_with_its_secret_is_owner_only(tmp_path: Path) -> None:
    os.umask(0o022)
    state = tmp_path / "endpoint.json"
    state.write_text("{}")  # an older file left world-readable
    state.chmod(0o644)
    _write_private(state, json.dumps({"secret_key": "s3cr3t"}))
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert json.loads(state.read_text()) == {"secret_key": "s3cr3t"}
