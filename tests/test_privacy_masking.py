"""Masks and roles: each mask's output, configuration mistakes named by key, role artefacts
switched whole on every publish."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pytest

from pipelines.config import PipelineConfig, load_config
from pipelines.errors import ConfigError
from pipelines.privacy.masking import mask_sql
from pipelines.privacy.roles import role_dir
from pipelines.publish import publish, read_table
from pipelines.publish.synthetic import write_synthetic_run
from pipelines.publish.tables import TABLES
from pipelines.warehouse import Warehouse

RUN1 = "20250301T000000Z-aaaaaa"
RUN2 = "20250302T000000Z-bbbbbb"


@pytest.mark.parametrize(
    ("mask", "value", "expected"),
    [
        ("none", "Ann", "Ann"),
        ("initial", "  élodie ", "É."),
        ("initial", "", None),
        ("email_domain", "Ann.Lee@Example.COM", "***@example.com"),
        ("email_domain", "no-at-sign", "***"),
        ("last_digits", "+442079460123", "**********23"),
        ("last_digits", "(212) 555-0100", "********00"),
        ("redact", "1 King St", "[redacted]"),
        ("year_only", date(1977, 12, 22), 1977),
        ("year_only", datetime(2024, 12, 31, 23, 30, tzinfo=UTC), 2024),
    ],
)
def test_each_mask_shows_only_what_it_promises(mask: str, value: object, expected: object) -> None:
    kind = pa.string() if isinstance(value, str) else None
    table = pa.table({"c": pa.array([value, None], type=kind)})
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        rows = con.from_arrow(table).project(mask_sql(mask, "c")).fetchall()
    assert rows == [(expected,), (None,)]


def write_config(tmp_path: Path, privacy: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        "sources:\n  - {name: crm, kind: file, path: crm.csv, id_column: id, mapping: {email: e}}\n"
        + privacy
    )
    return path


@pytest.mark.parametrize(
    ("privacy", "message"),
    [
        (
            "privacy:\n  roles:\n    analyst:\n      columns: {emial: email_domain}\n",
            "privacy.roles.analyst.columns.emial: no table of this role has a column 'emial'",
        ),
        (
            "privacy:\n  roles:\n    analyst:\n      columns: {email: year_only}\n",
            "mask 'year_only' cannot apply to golden_customers.email",
        ),
        (
            "privacy:\n  roles:\n    analyst:\n      columns: {email: rot13}\n",
            "privacy.roles.analyst.columns.email",
        ),
        (
            "privacy:\n  roles:\n    bi:\n      tables: [golden_customer]\n",
            "privacy.roles.bi.tables: unknown table(s) ['golden_customer']",
        ),
        (
            "privacy:\n  roles:\n    bi:\n      tables: [dq_results]\n"
            "      columns: {email: none}\n",
            "privacy.roles.bi.columns.email: no table of this role has a column 'email'",
        ),
        (
            "privacy:\n  roles:\n    bi:\n      tables: [dq_results, golden_customers]\n"
            "      columns: {email: none}\n",
            "lists table(s) ['dq_results'] but is granted none of their columns",
        ),
        ("privacy:\n  roles:\n    main: {}\n", "reserved by DuckDB"),
        ("privacy:\n  roles:\n    Analyst: {}\n", "is not a valid name"),
    ],
    ids=[
        "unknown-column",
        "mask-type",
        "unknown-mask",
        "unknown-table",
        "column-elsewhere",
        "empty-table",
        "reserved-role",
        "bad-role-name",
    ],
)
def test_role_mistakes_are_config_errors_naming_the_key(
    tmp_path: Path, privacy: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, privacy))
    assert message in str(caught.value)


def make_config(root: Path, roles: dict[str, object] | None = None) -> PipelineConfig:
    data: dict[str, object] = {
        "warehouse": {"path": str(root)},
        "sources": [
            {
                "name": "crm",
                "kind": "file",
                "path": "crm.csv",
                "id_column": "id",
                "mapping": {"email": "e"},
            }
        ],
        "backup": {"enabled": False},
    }
    if roles is not None:
        data["privacy"] = {"roles": roles}
    return PipelineConfig.model_validate(data)


def test_role_artefacts_switch_whole_and_follow_the_configured_roles(warehouse_dir: Path) -> None:
    wh = Warehouse(warehouse_dir)
    write_synthetic_run(wh, RUN1, 30)
    publish(make_config(warehouse_dir), RUN1)
    first = role_dir(wh, "analyst").resolve()  # the folder a reader resolved
    assert RUN1 in str(first) and sorted(p.name for p in role_dir(wh, "analyst").iterdir()) == [
        "customer_profile.parquet",
        "dq_scorecard.parquet",
        "golden.duckdb",
        "golden_changes.parquet",
        "golden_customers.parquet",
        "golden_id_aliases.parquet",
    ]

    roles = {
        "steward": {},
        "marketing": {
            "tables": ["golden_customers"],
            "columns": {"golden_id": "none", "country": "none"},
        },
    }
    write_synthetic_run(wh, RUN2, 40, seed=1)
    publish(make_config(warehouse_dir, roles), RUN2)

    root = role_dir(wh, "steward").parent
    assert sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) == [
        "marketing",
        "steward",
    ]
    assert not role_dir(wh, "analyst").exists(), "a role no longer configured has no folder"
    assert first.is_dir(), "the previous version's folder stays for keep_versions commits"
    assert not [p for p in root.iterdir() if p.name.startswith(".")]
    with duckdb.connect(str(role_dir(wh, "marketing") / "golden.duckdb"), read_only=True) as con:
        columns = [c[0] for c in con.execute("DESCRIBE golden_customers").fetchall()]
        info = con.execute("SELECT run_id, role FROM publish_info").fetchall()
        rows = con.execute("SELECT count(*) FROM golden_customers").fetchall()
    assert columns == ["golden_id", "country"]
    assert info == [(RUN2, "marketing")] and rows == [(32,)]
    with duckdb.connect(str(wh.duckdb_path), read_only=True) as con:
        schemas = {r[0] for r in con.execute("SELECT schema_name FROM duckdb_schemas()").fetchall()}
        comment = con.execute(
            "SELECT comment FROM duckdb_columns() WHERE schema_name = 'marketing' "
            "AND column_name = 'golden_id'"
        ).fetchall()
    assert {"marketing", "steward"} <= schemas and "analyst" not in schemas
    assert "Stable id" in comment[0][0]


def _rows(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[object, ...]]:
    return sorted(con.execute(f"SELECT * FROM {relation}").fetchall(), key=repr)


def test_each_role_database_holds_what_its_masked_views_show_and_nothing_more(
    warehouse_dir: Path,
) -> None:
    wh = Warehouse(warehouse_dir)
    write_synthetic_run(wh, RUN1, 60)
    config = make_config(warehouse_dir)
    publish(config, RUN1)

    with duckdb.connect(str(wh.duckdb_path), read_only=True) as con:
        for role_name in config.privacy.roles:
            con.execute(f"ATTACH '{role_dir(wh, role_name) / 'golden.duckdb'}' AS r (READ_ONLY)")
            schemas = con.execute(
                "SELECT DISTINCT schema_name FROM duckdb_tables() WHERE database_name = 'r' "
                "UNION SELECT DISTINCT schema_name FROM duckdb_views() "
                "WHERE database_name = 'r' AND NOT internal"
            ).fetchall()
            assert schemas == [("main",)], f"{role_name} holds only its own tables"
            tables = {
                name
                for (name,) in con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE database_name = 'r'"
                ).fetchall()
            }
            views = {
                name
                for (name,) in con.execute(
                    "SELECT view_name FROM duckdb_views() WHERE database_name = 'golden' "
                    "AND schema_name = $role",
                    {"role": role_name},
                ).fetchall()
            }
            assert tables == views | {"publish_info"}, role_name
            assert con.execute("SELECT run_id, role FROM r.publish_info").fetchall() == [
                (RUN1, role_name)
            ]
            assert con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'r' "
                "AND comment IS NOT NULL"
            ).fetchall() == [(0,)]
            for table in views:
                view = f'golden."{role_name}"."{table}"'
                assert _rows(con, f"r.main.{table}") == _rows(con, view), (role_name, table)
                described = con.execute(
                    f"SELECT column_name, data_type, comment FROM duckdb_columns() "
                    f"WHERE database_name = 'r' AND table_name = '{table}' ORDER BY column_index"
                ).fetchall()
                shown = con.execute(
                    f"SELECT column_name, data_type, comment FROM duckdb_columns() "
                    f"WHERE database_name = 'golden' AND schema_name = '{role_name}' "
                    f"AND table_name = '{table}' ORDER BY column_index"
                ).fetchall()
                assert described == shown, (role_name, table)
                parquet = role_dir(wh, role_name) / f"{table}.parquet"
                assert _rows(con, f"read_parquet('{parquet}')") == _rows(con, view)
            con.execute("DETACH r")
    steward = role_dir(wh, "steward")
    assert (steward / "golden.duckdb").stat().st_mode & 0o777 == 0o600  # access: owner


HISTORY_TABLES = ["golden_customers", "golden_customers_history", "golden_events"]
PERSONAL = ("first_name", "middle_name", "last_name", "full_name", "email", "phone",
            "address_line1", "address_line2", "date_of_birth")  # fmt: skip


def test_a_role_granted_the_history_tables_sees_them_masked_like_golden_customers(
    warehouse_dir: Path,
) -> None:
    # The analyst's masks, as the default config suggests for giving analysts the history
    # tables, plus the history tables' own non-personal columns.
    analyst = make_config(warehouse_dir).privacy.roles["analyst"]
    assert analyst.columns is not None
    granted = {f.name for name in HISTORY_TABLES for f in TABLES[name].schema}
    columns: dict[str, str] = {k: v for k, v in analyst.columns.items() if k in granted}
    columns |= dict.fromkeys(["version", "valid_from_run", "valid_to_run", "event"], "none")
    config = make_config(warehouse_dir, {"historian": {"tables": HISTORY_TABLES,
                                                       "columns": columns}})  # fmt: skip
    wh = Warehouse(warehouse_dir)
    write_synthetic_run(wh, RUN1, 30)
    publish(config, RUN1)
    write_synthetic_run(wh, RUN2, 40, seed=1)
    publish(config, RUN2)

    folder = role_dir(wh, "historian")
    history = pl.read_parquet(folder / "golden_customers_history.parquet")
    customers = pl.read_parquet(folder / "golden_customers.parquet")
    events = pl.read_parquet(folder / "golden_events.parquet")
    raw = pl.from_arrow(read_table(warehouse_dir, "golden_customers_history"))
    assert isinstance(raw, pl.DataFrame)
    assert history.height == raw.height and raw["valid_to_run"].null_count() < raw.height
    # Only the granted personal columns, each masked, in every version, open or closed.
    assert {c for c in PERSONAL if c in history.columns} == {c for c in PERSONAL if c in columns}
    assert {c for c in PERSONAL if c in customers.columns} == {c for c in PERSONAL if c in columns}
    assert not set(PERSONAL) & set(events.columns)
    assert events.height == read_table(warehouse_dir, "golden_events").num_rows
    both = history.join(raw, on=["golden_id", "version"], suffix="_raw")
    assert both.height == raw.height
    first = pl.col("first_name_raw").str.strip_chars().str.slice(0, 1).str.to_uppercase() + "."
    checks = both.select(
        (pl.col("first_name") == first).all().alias("first_name"),
        pl.col("email").str.starts_with("***@").all().alias("email"),
        (pl.col("phone").str.slice(-2) == pl.col("phone_raw").str.slice(-2)).all().alias("phone"),
        pl.col("phone").str.contains(r"^\*+\d\d$").all().alias("phone_masked"),
        (pl.col("address_line1") == "[redacted]").all().alias("address_line1"),
        (pl.col("date_of_birth") == pl.col("date_of_birth_raw").dt.year()).all().alias("dob"),
    ).row(0, named=True)
    assert all(checks.values()), checks
    for name in ("first_name", "email", "phone", "address_line1", "date_of_birth"):
        assert both[name].null_count() == both[f"{name}_raw"].null_count() < both.height, name
    # An open version shows exactly what the role's golden_customers shows of the customer.
    shown = ["golden_id", "first_name", "last_name", "email", "phone", "address_line1",
             "date_of_birth"]  # fmt: skip
    open_rows = history.join(
        raw.filter(pl.col("valid_to_run").is_null()).select("golden_id", "version"),
        on=["golden_id", "version"],
    )
    assert (
        open_rows.select(shown).sort("golden_id").equals(customers.select(shown).sort("golden_id"))
    )
    # The masked views in golden.duckdb show what the role's own copy holds.
    with duckdb.connect(str(wh.duckdb_path), read_only=True) as con:
        for table in ("golden_customers_history", "golden_events"):
            view = _rows(con, f'golden."historian"."{table}"')
            copy = _rows(con, f"read_parquet('{folder / f'{table}.parquet'}')")
            assert view == copy, table
