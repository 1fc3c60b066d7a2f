"""Config loading is bounded, and the warehouse gets a folder of its own.

An alias bomb anywhere in the file (under ``project``, a role's ``tables``, a mapping value) used
to run for minutes into a ``MemoryError``, its error message rendering the whole expanded input;
``warehouse: {path: /}`` was accepted and wrote the warehouse into ``/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipelines.config import load_config
from pipelines.config_yaml import MAX_ALIASES, short_repr
from pipelines.errors import ConfigError
from pipelines.lock import run_lock
from pipelines.warehouse_root import MARKER

SOURCE = "{name: crm, kind: file, path: crm.csv, id_column: id, mapping: {email: email}}"
BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n"
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
)
"""Nine levels of nine aliases of ``a``: 9**9 (387 million) strings once expanded."""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def bomb_config(tmp_path: Path, where: str) -> Path:
    head = "x-bomb:\n  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    head += "".join(f"  {line}\n" for line in BOMB.splitlines())
    body = {
        "project": f"project: *i\nsources: [{SOURCE}]\n",
        "role_tables": f"sources: [{SOURCE}]\nprivacy: {{roles: {{analyst: {{tables: *i}}}}}}\n",
        "mapping_value": (
            "sources: [{name: crm, kind: file, path: crm.csv, id_column: id, "
            "mapping: {email: *i}}]\n"
        ),
    }[where]
    return write(tmp_path, head + body)


@pytest.mark.parametrize("where", ["project", "role_tables", "mapping_value"])
def test_an_alias_bomb_is_refused_naming_the_file(tmp_path: Path, where: str) -> None:
    path = bomb_config(tmp_path, where)
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    message = str(refused.value)
    assert str(path) in message
    assert "once its YAML aliases are expanded" in message
    assert len(message) < 600


def test_too_many_aliases_are_refused_with_the_line(tmp_path: Path) -> None:
    aliases = "\n".join("  - *v" for _ in range(MAX_ALIASES + 1))
    path = write(tmp_path, f"x-list:\n  - &v one\n{aliases}\nsources: [{SOURCE}]\n")
    with pytest.raises(ConfigError, match=rf"more than {MAX_ALIASES:,} YAML aliases \(line"):
        load_config(path)


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, f"project: &p [*p]\nsources: [{SOURCE}]\n")
    with pytest.raises(ConfigError, match="alias inside its own anchor"):
        load_config(path)


def test_nesting_too_deep_to_parse_is_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, "project: " + "[" * 3_000 + "]" * 3_000 + "\n")
    with pytest.raises(ConfigError, match="too deeply"):
        load_config(path)


def test_a_huge_bad_value_is_not_echoed_whole(tmp_path: Path) -> None:
    name = "Bad-Name" * 25_000  # 200 kB, not a valid source name
    path = write(
        tmp_path,
        yaml.safe_dump(
            {"sources": [{"name": name, "kind": "file", "path": "x", "id_column": "id"}]}
        ),
    )
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    message = str(refused.value)
    assert "sources[0].name (line" in message
    assert "characters)" in message
    assert len(message) < 1_000


def test_many_problems_are_listed_up_to_a_limit(tmp_path: Path) -> None:
    sources = [
        {"name": f"Bad{i}", "kind": "file", "path": "x", "id_column": "id"} for i in range(60)
    ]
    path = write(tmp_path, yaml.safe_dump({"sources": sources}))
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    lines = str(refused.value).splitlines()
    total = int(lines[0].rsplit(" has ", 1)[1].split()[0])
    assert total >= 60  # each bad name, at least
    assert lines[-1] == f"  … and {total - 20} more"
    assert len(lines) == 22


def test_ordinary_anchors_still_work(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "sources:\n"
        "  - {name: crm, kind: file, path: crm.csv, id_column: id, mapping: &m {email: email}}\n"
        "  - {name: shop, kind: file, path: shop.csv, id_column: id, mapping: *m}\n",
    )
    config = load_config(path)
    assert config.sources[0].mapping == config.sources[1].mapping


def test_short_repr_bounds_any_value() -> None:
    assert short_repr("x" * 10_000).endswith("… (10,000 characters)")
    assert len(short_repr(list(range(100_000)))) < 100
    assert short_repr({"a": 1}) == "{'a': 1}"


def warehouse_config(tmp_path: Path, warehouse: str) -> Path:
    return write(tmp_path, f"warehouse: {{path: '{warehouse}'}}\nsources: [{SOURCE}]\n")


@pytest.mark.parametrize("folder", ["/", "/etc", "/usr", "/var", "/bin", "/tmp", "/etc/golden"])
def test_a_warehouse_in_a_system_folder_is_refused(tmp_path: Path, folder: str) -> None:
    with pytest.raises(ConfigError, match=r"warehouse\.path \(line 1\): .* system folder"):
        load_config(warehouse_config(tmp_path, folder))


def test_a_warehouse_at_root_from_the_environment_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOLDEN_WAREHOUSE", "/")
    with pytest.raises(ConfigError, match="system folder"):
        load_config(warehouse_config(tmp_path, str(tmp_path / "wh")))


def test_the_home_folder_itself_is_refused_but_a_folder_inside_it_is_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("mine")
    monkeypatch.setenv("HOME", str(home))
    with pytest.raises(ConfigError, match="home folder"):
        load_config(warehouse_config(tmp_path, "~"))
    config = load_config(warehouse_config(tmp_path, "~/golden-warehouse"))
    assert config.warehouse.path == home / "golden-warehouse"


def test_a_non_empty_folder_that_is_not_a_warehouse_is_refused(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("main.py", "README.md", ".git"):
        (project / name).write_text("")
    with pytest.raises(ConfigError, match=r"not empty \(.git, README.md, main.py\)"):
        load_config(warehouse_config(tmp_path, str(project)))


def test_a_new_warehouse_is_marked_on_first_use(tmp_path: Path) -> None:
    config = load_config(warehouse_config(tmp_path, str(tmp_path / "new")))
    with run_lock(config.warehouse.path, "golden run"):
        pass
    assert (tmp_path / "new" / MARKER).is_file()
    (tmp_path / "new" / "notes.txt").write_text("a marked warehouse may hold other files")
    load_config(warehouse_config(tmp_path, str(tmp_path / "new")))


def test_a_folder_claimed_by_another_run_while_it_is_checked_is_not_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two first runs started at once on a new folder: one writes the marker after the other
    found no marker and before it listed the folder. The marker is no stranger."""
    from pipelines import warehouse_root

    new = tmp_path / "new"
    new.mkdir()
    looked = warehouse_root.is_warehouse

    def claimed_just_after(folder: Path) -> bool:
        found = looked(folder)
        (folder / MARKER).write_text("claimed by the other run")
        return found

    monkeypatch.setattr(warehouse_root, "is_warehouse", claimed_just_after)
    assert warehouse_root.check_root(new) == new
    (new / MARKER).unlink()
    (new / "notes.txt").write_text("")
    with pytest.raises(ValueError, match=r"not empty \(notes.txt\)"):
        warehouse_root.check_root(new)


def test_a_warehouse_made_before_the_marker_is_recognised_and_migrated(tmp_path: Path) -> None:
    old = tmp_path / "old"
    (old / "runs").mkdir(parents=True)
    (old / "state").mkdir()
    (old / "golden.duckdb").write_bytes(b"")
    config = load_config(warehouse_config(tmp_path, str(old)))
    assert not (old / MARKER).exists()
    with run_lock(config.warehouse.path, "golden run"):
        pass
    assert (old / MARKER).is_file()


def test_a_folder_that_filled_up_after_loading_is_refused_at_first_write(tmp_path: Path) -> None:
    config = load_config(warehouse_config(tmp_path, str(tmp_path / "later")))
    (tmp_path / "later").mkdir()
    (tmp_path / "later" / "thesis.tex").write_text("")
    with (
        pytest.raises(ConfigError, match="not a warehouse"),
        run_lock(config.warehouse.path, "golden run"),
    ):
        pass
