"""Publish's shortcuts give exactly what the long way gives.

Three shortcuts make publishing a million customers fast, and each is pinned here against the
way it replaced: keys proven unique by their order instead of grouped (and every duplicate
still refused, naming the table and key), tables loaded into DuckDB side by side instead of
one after another, and the masked roles built from the version's Parquet files (while the
database loads) instead of from the finished database.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.config import PipelineConfig
from pipelines.errors import PublishError
from pipelines.privacy.roles import RoleArtefacts, role_dir
from pipelines.publish import current_run_id, publish
from pipelines.publish.duckdb_build import build_duckdb
from pipelines.publish.inputs import check_unique, keys_strictly_increasing
from pipelines.publish.synthetic import synthetic_config, write_synthetic_run
from pipelines.publish.tables import TABLES
from pipelines.warehouse import Warehouse

RUN1 = "20240301T100000Z-aaaaaa"
RUN2 = "20240302T100000Z-bbbbbb"
KEYED = [name for name, spec in TABLES.items() if spec.unique_key]


def make_config(root: Path) -> PipelineConfig:
    return synthetic_config(root)


def _write(tmp_path: Path, columns: dict[str, list[object]]) -> Path:
    path = tmp_path / "keys.parquet"
    pq.write_table(pa.table(columns), path)
    return path


def _input_file(warehouse: Warehouse, run_id: str, table: str) -> Path:
    if table == "match_review_queue":
        return warehouse.match_dir(run_id) / "review_queue.parquet"
    return warehouse.golden_dir(run_id) / f"{table}.parquet"


def _sort_by_key(path: Path, table: str) -> pa.Table:
    """Rewrite ``path`` sorted by its table's key, as the golden stage writes it."""
    sorted_rows = pq.read_table(path).sort_by([(k, "ascending") for k in TABLES[table].unique_key])
    pq.write_table(sorted_rows, path)
    return sorted_rows


# --- keys proven unique by their order ---------------------------------------------------------


@pytest.mark.parametrize(
    "columns",
    [
        pytest.param({"id": ["a", "b", "c"]}, id="strings"),
        pytest.param({"id": [3, 7, 40]}, id="integers"),
        pytest.param({"g": ["a", "a", "b", "c"], "f": ["x", "y", "a", "a"]}, id="composite"),
        pytest.param({"id": ["only"]}, id="one-row"),
        pytest.param({"id": pa.array([], pa.string())}, id="empty"),
    ],
)
def test_keys_sorted_strictly_are_proven_unique(tmp_path: Path, columns: dict) -> None:
    assert keys_strictly_increasing(_write(tmp_path, columns), tuple(columns)) is True


@pytest.mark.parametrize(
    "columns",
    [
        pytest.param({"id": ["a", "b", "b", "c"]}, id="adjacent-duplicate"),
        pytest.param({"id": ["b", "a", "c"]}, id="unsorted"),
        pytest.param({"id": ["a", None, "c"]}, id="null-in-key"),
        pytest.param({"g": ["a", "a", "b"], "f": ["y", "x", "a"]}, id="composite-second-falls"),
        pytest.param({"g": ["a", "a", "b"], "f": ["x", "x", "a"]}, id="composite-duplicate"),
        pytest.param({"id": [0.5, 1.5, 2.5]}, id="float-key-not-compared"),
    ],
)
def test_keys_not_strictly_sorted_prove_nothing(tmp_path: Path, columns: dict) -> None:
    assert keys_strictly_increasing(_write(tmp_path, columns), tuple(columns)) is False


def test_unsorted_unique_keys_pass_and_null_keys_count_as_one_key(tmp_path: Path) -> None:
    """What the order cannot prove is grouped, with the grouping's meaning of a duplicate."""
    spec = TABLES["golden_customers"]
    schema = spec.schema
    base = pq.read_table(_synthetic_customers(tmp_path)).cast(schema)
    unsorted = base.take(list(reversed(range(base.num_rows))))
    path = tmp_path / "unsorted.parquet"
    pq.write_table(unsorted, path)
    check_unique(path, spec)

    ids = base["golden_id"].to_pylist()
    ids[0] = ids[1] = None
    nulls = base.set_column(0, "golden_id", pa.array(ids, pa.string()))
    pq.write_table(nulls, path)
    with pytest.raises(PublishError, match=r"table 'golden_customers' has 1 duplicated key"):
        check_unique(path, spec)


def _synthetic_customers(tmp_path: Path) -> Path:
    warehouse = Warehouse(tmp_path / "synthetic")
    write_synthetic_run(warehouse, RUN1, 30)
    return warehouse.golden_dir(RUN1) / "golden_customers.parquet"


@pytest.mark.parametrize("table", KEYED)
def test_a_sorted_input_with_an_adjacent_duplicate_key_is_refused_naming_table_and_key(
    warehouse_dir: Path, table: str
) -> None:
    """The duplicate sits right after its twin, so the file is still sorted (not strictly)."""
    warehouse = Warehouse(warehouse_dir)
    config = make_config(warehouse_dir)
    write_synthetic_run(warehouse, RUN1, 40)
    publish(config, RUN1)
    write_synthetic_run(warehouse, RUN2, 60, seed=2)
    path = _input_file(warehouse, RUN2, table)
    rows = _sort_by_key(path, table)
    assert keys_strictly_increasing(path, TABLES[table].unique_key)
    twin = rows.num_rows // 2
    pq.write_table(
        pa.concat_tables([rows.slice(0, twin + 1), rows.slice(twin, rows.num_rows - twin)]), path
    )
    key = ", ".join(TABLES[table].unique_key)

    with pytest.raises(
        PublishError, match=rf"table '{table}' has 1 duplicated key\(s\) on \({key}\)"
    ):
        publish(config, RUN2)
    assert current_run_id(warehouse_dir) == RUN1


def test_publishing_sorted_inputs_gives_the_same_version_as_unsorted_ones(
    tmp_path: Path,
) -> None:
    """The order proof changes how keys are checked, never what is published."""
    published = {}
    for label in ("unsorted", "sorted"):
        root = tmp_path / label
        root.mkdir()
        warehouse = Warehouse(root)
        write_synthetic_run(warehouse, RUN1, 120)
        if label == "sorted":
            for table in KEYED:
                _sort_by_key(_input_file(warehouse, RUN1, table), table)
        result = publish(make_config(root), RUN1)
        with duckdb.connect(str(result.duckdb_path), read_only=True) as con:
            published[label] = {
                name: sorted(con.execute(f"SELECT * FROM {name}").fetchall(), key=repr)
                for name in TABLES
            }
    assert published["sorted"] == published["unsorted"]


# --- tables loaded side by side ----------------------------------------------------------------


def _describe_database(path: Path) -> dict[str, object]:
    """Everything a reader of a database can see: tables, columns, types, comments, rows."""
    with duckdb.connect(str(path), read_only=True) as con:
        described: dict[str, object] = {
            "tables": con.execute(
                "SELECT schema_name, table_name, comment FROM duckdb_tables() ORDER BY ALL"
            ).fetchall(),
            "columns": con.execute(
                "SELECT schema_name, table_name, column_index, column_name, data_type, comment "
                "FROM duckdb_columns() WHERE NOT internal ORDER BY ALL"
            ).fetchall(),
            "views": con.execute(
                "SELECT schema_name, view_name, sql FROM duckdb_views() WHERE NOT internal "
                "ORDER BY ALL"
            ).fetchall(),
        }
        for schema, table, _ in described["tables"]:  # type: ignore[union-attr]
            rows = con.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
            described[f"{schema}.{table}"] = sorted(rows, key=repr)
    return described


def test_loading_tables_side_by_side_builds_the_same_database_as_one_at_a_time(
    warehouse_dir: Path, tmp_path: Path
) -> None:
    warehouse = Warehouse(warehouse_dir)
    write_synthetic_run(warehouse, RUN1, 300)
    version = publish(make_config(warehouse_dir), RUN1).version_dir
    (version / "quarantine.parquet").unlink()  # a version published before the table existed
    databases = {}
    for loaders in (1, 3):
        target = tmp_path / f"loaders-{loaders}.duckdb"
        build_duckdb(
            version, target, run_id=RUN1, published_at="2024-03-01T10:00:00+00:00", loaders=loaders
        )
        databases[loaders] = _describe_database(target)
    assert databases[3] == databases[1]
    assert databases[1]["main.quarantine"] == []
    assert ("main", "quarantine", TABLES["quarantine"].grain) in databases[1]["tables"]


def test_each_database_table_keeps_the_row_order_of_its_parquet_file(
    warehouse_dir: Path, tmp_path: Path
) -> None:
    warehouse = Warehouse(warehouse_dir)
    # More rows than one DuckDB row group (122,880), so a parallel load could reorder them.
    write_synthetic_run(warehouse, RUN1, 130_000)
    version = publish(make_config(warehouse_dir), RUN1).version_dir
    target = tmp_path / "ordered.duckdb"
    build_duckdb(version, target, run_id=RUN1, published_at="2024-03-01T10:00:00+00:00", loaders=3)
    with duckdb.connect(str(target), read_only=True) as con:
        for name in TABLES:
            parquet = pq.read_table(version / f"{name}.parquet")
            loaded = con.execute(f'SELECT * FROM "{name}"').fetchall()
            assert loaded == [tuple(row.values()) for row in parquet.to_pylist()], name


def test_a_table_that_cannot_be_loaded_fails_the_build_naming_its_file(
    warehouse_dir: Path, tmp_path: Path
) -> None:
    warehouse = Warehouse(warehouse_dir)
    write_synthetic_run(warehouse, RUN1, 30)
    version = publish(make_config(warehouse_dir), RUN1).version_dir
    broken = tmp_path / "version"
    shutil.copytree(version, broken)
    (broken / "golden_changes.parquet").write_bytes(b"PAR1 not really parquet PAR1")
    with pytest.raises(duckdb.Error, match=r"golden_changes\.parquet"):
        build_duckdb(broken, tmp_path / "x.duckdb", run_id=RUN1, published_at="2024-03-01")


# --- masked roles built from Parquet -----------------------------------------------------------


def _role_artefacts(roles: Path, config: PipelineConfig) -> dict[str, object]:
    artefacts: dict[str, object] = {}
    for role in config.privacy.roles:
        folder = roles / role
        for path in sorted(folder.iterdir()):
            assert path.stat().st_mode & 0o777 == 0o600, path  # warehouse.access: owner
            if path.suffix == ".duckdb":
                artefacts[f"{role}/{path.name}"] = _describe_database(path)
            else:
                table = pq.read_table(path)
                artefacts[f"{role}/{path.name}"] = (
                    table.schema,
                    sorted(table.to_pylist(), key=repr),
                )
    return artefacts


def test_masked_roles_built_from_parquet_equal_roles_built_from_the_database(
    tmp_path: Path,
) -> None:
    """Publish builds them from the Parquet files while the database loads; restore and
    erasure build them from the finished database: the artefacts must not differ."""
    built = {}
    for way in ("parquet", "database"):
        root = tmp_path / way
        root.mkdir()
        warehouse = Warehouse(root)
        config = make_config(root)
        write_synthetic_run(warehouse, RUN1, 150)
        version = publish(config, RUN1).version_dir
        database = tmp_path / f"{way}.duckdb"
        build_duckdb(version, database, run_id=RUN1, published_at="2024-03-01T10:00:00+00:00")
        roles = RoleArtefacts(config, tmp_path / f"{way}-roles")
        if way == "parquet":
            roles.build_masked(version, RUN1, threads=1)
            roles.build_from_database(version, database, RUN1)
        else:
            roles.build(version, database, RUN1)
        built[way] = (
            _role_artefacts(tmp_path / f"{way}-roles", config),
            _describe_database(database),
        )
    published = _role_artefacts(role_dir(warehouse, "x").parent, config)
    assert published == built["parquet"][0]
    assert set(built["parquet"][0]) == {
        "analyst/golden.duckdb",
        "analyst/golden_changes.parquet",
        "analyst/golden_customers.parquet",
        "analyst/golden_id_aliases.parquet",
        "analyst/customer_profile.parquet",
        "analyst/dq_scorecard.parquet",
        "service/golden.duckdb",
        "service/golden_customers.parquet",
        *(f"steward/{name}.parquet" for name in TABLES),
        "steward/golden.duckdb",
    }
    assert built["parquet"] == built["database"]
