"""Dependencies point one way: dags -> pipelines -> matching. Checked on the source, not trusted."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def imported_modules(path: Path, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def python_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", python_files("matching"), ids=lambda p: p.name)
def test_matching_imports_neither_pipelines_nor_airflow(path: Path) -> None:
    roots = {m.split(".")[0] for m in imported_modules(path)}
    assert not roots & {"pipelines", "airflow", "dags"}, f"{path} imports {roots}"


@pytest.mark.parametrize("path", python_files("pipelines"), ids=lambda p: str(p.relative_to(ROOT)))
def test_pipelines_never_import_airflow_or_dags(path: Path) -> None:
    roots = {m.split(".")[0] for m in imported_modules(path)}
    assert not roots & {"airflow", "dags"}, f"{path} imports {roots}"


HEAVY = {
    "polars",
    "splink",
    "great_expectations",
    "duckdb",
    "pandas",
    "pyarrow",
    "pyspark",
    "boto3",
}


@pytest.mark.parametrize("path", python_files("dags"), ids=lambda p: p.name)
def test_dags_keep_heavy_imports_inside_tasks(path: Path) -> None:
    top = {m.split(".")[0] for m in imported_modules(path, top_level_only=True)}
    assert not top & HEAVY, f"{path} imports {top & HEAVY} at module level (slow DAG parsing)"
