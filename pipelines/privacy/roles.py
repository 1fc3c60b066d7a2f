"""Role artefacts: what each kind of reader is given, built at publish from the new version.

A view over the full tables can be stepped around by anyone who can open the file it lives
in, so a role's reader is given its own copy instead: ``published/roles/<role>/`` holds
``golden.duckdb`` with only that role's masked tables (plain tables, not views) and one Parquet
file per table. Files get the warehouse's modes (``warehouse.access``: ``0600``/``0700`` for
``owner``; ``0640``/``0750`` for ``group``, the setting to use when role readers are given the
folder's group; see ``docs/privacy.md``). ``golden.duckdb`` itself also gets one schema of
masked views per role (``analyst.golden_customers``), a convenience for people who may read the
full file anyway.

Each version folder holds its roles' folders (``roles/<role>/``, built while the version is
prepared); ``published/roles/<role>`` is a fixed link through the ``current`` pointer
(:mod:`pipelines.publish.versions`), so a role's readers switch with the version, all at once,
and a reader that resolved the link keeps its folder until ``publish.keep_versions`` passed.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from pipelines.errors import PublishError
from pipelines.privacy.masking import MaskedColumn, quote, role_tables
from pipelines.publish.duckdb_build import sql_literal
from pipelines.publish.tables import COLUMN_DOCS, TABLES
from pipelines.warehouse import Warehouse, dir_mode, file_mode

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig

logger = logging.getLogger(__name__)

ROLE_DUCKDB = "golden.duckdb"
ROLE_INFO_TABLE = "publish_info"


def roles_root(warehouse: Warehouse) -> Path:
    return warehouse.published / "roles"


def role_dir(warehouse: Warehouse, role: str) -> Path:
    """The folder a role's readers are given (a fixed link through ``published/current``)."""
    return roles_root(warehouse) / role


def _select(columns: list[MaskedColumn]) -> str:
    return ", ".join(c.sql for c in columns)


def _describe(column: MaskedColumn, role: str) -> str:
    doc = COLUMN_DOCS.get(column.name, "")
    if column.mask == "none":
        return doc
    return f"{doc} Masked for role {role}: {column.mask}.".strip()


def add_masked_views(config: PipelineConfig, database: Path) -> None:
    """Create one schema of masked views per role in the (not yet installed) ``database``."""
    con = duckdb.connect(str(database))
    try:
        con.execute("SET TimeZone = 'UTC'")
        for role_name, role in config.privacy.roles.items():
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(role_name)}")
            for table, columns in role_tables(role).items():
                view = f"{quote(role_name)}.{quote(table)}"
                con.execute(
                    f"CREATE OR REPLACE VIEW {view} AS "
                    f"SELECT {_select(columns)} FROM main.{quote(table)}"
                )
                for column in columns:
                    con.execute(
                        f"COMMENT ON COLUMN {view}.{quote(column.name)} IS "
                        f"{sql_literal(_describe(column, role_name))}"
                    )
        con.execute("CHECKPOINT")
    finally:
        con.close()


def _unmasked(table: str, columns: list[MaskedColumn]) -> bool:
    """Whether a role sees ``table`` exactly as published (every column, no mask)."""
    names = TABLES[table].schema.names
    return [c.name for c in columns] == names and all(c.mask == "none" for c in columns)


def _sees_everything(plan: dict[str, list[MaskedColumn]], version_dir: Path) -> bool:
    """Whether a role gets every published table whole (a steward), all present in the version.

    Such a role's database holds exactly the published database's tables, so it is a copy of
    that file rather than a second load of every table.
    """
    return list(plan) == list(TABLES) and all(
        _unmasked(table, columns) and (version_dir / f"{table}.parquet").exists()
        for table, columns in plan.items()
    )


def _finish_role_database(
    con: duckdb.DuckDBPyConnection, role_name: str, plan: dict[str, list[MaskedColumn]]
) -> None:
    """Column documentation for the role, its ``publish_info`` already created."""
    for table, columns in plan.items():
        comments = [
            f"COMMENT ON COLUMN {quote(table)}.{quote(column.name)} IS "
            f"{sql_literal(_describe(column, role_name))}"
            for column in columns
        ]
        con.execute(";\n".join(comments))
    con.execute("CHECKPOINT")


def _copy_whole(
    folder: Path,
    role_name: str,
    plan: dict[str, list[MaskedColumn]],
    version_dir: Path,
    database: Path,
    run_id: str,
) -> None:
    """A role that sees everything: the published database file and Parquet files, copied.

    ``database`` must not hold the masked views yet. The copy keeps its tables (byte for byte
    what a fresh load would hold) and swaps ``publish_info`` for the role's; table comments are
    cleared so the file is what :func:`_load_masked` would have built.
    """
    target = folder / ROLE_DUCKDB
    shutil.copyfile(database, target)
    con = duckdb.connect(str(target))
    try:
        con.execute(f"DROP TABLE {ROLE_INFO_TABLE}")
        con.execute(
            f"CREATE TABLE {ROLE_INFO_TABLE} AS SELECT $run_id AS run_id, $role AS role",
            {"run_id": run_id, "role": role_name},
        )
        con.execute(";\n".join(f"COMMENT ON TABLE {quote(t)} IS NULL" for t in plan))
        _finish_role_database(con, role_name, plan)
    finally:
        con.close()
    for table in plan:
        # Copied rather than linked: the role's file permissions must not change the version's.
        shutil.copyfile(version_dir / f"{table}.parquet", folder / f"{table}.parquet")


def _load_masked(
    folder: Path,
    role_name: str,
    plan: dict[str, list[MaskedColumn]],
    version_dir: Path,
    database: Path | None,
    run_id: str,
    memory_limit: str,
    threads: int | None = None,
) -> None:
    """A role with masks or fewer tables: its tables selected, masked, from the version.

    With ``database`` (the published database, attached read-only) the tables are read from
    it, which spares decoding the Parquet files again; without it they are read from the
    version's Parquet files, which is what lets publish build these roles while it is still
    loading that database. Both hold the same rows with the same types (the database is loaded
    from those files), so the role gets the same tables either way. Each masked table is
    computed once, then written out as Parquet.
    """
    con = duckdb.connect(str(folder / ROLE_DUCKDB))
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"SET memory_limit = {sql_literal(memory_limit)}")
        if threads is not None:
            con.execute(f"SET threads = {int(threads)}")
        con.execute("SET preserve_insertion_order = false")
        if database is not None:
            con.execute("ATTACH $path AS published (READ_ONLY)", {"path": str(database)})
        built: dict[str, list[MaskedColumn]] = {}
        for table, columns in plan.items():
            source = version_dir / f"{table}.parquet"
            if not source.exists():
                logger.warning(
                    "version %s has no table %s (published before it existed)", run_id, table
                )
                continue
            origin, parameters = (
                (f"published.main.{quote(table)}", {})
                if database is not None
                else ("read_parquet($source)", {"source": str(source)})
            )
            con.execute(
                f"CREATE TABLE main.{quote(table)} AS SELECT {_select(columns)} FROM {origin}",
                parameters,
            )
            built[table] = columns
            if _unmasked(table, columns):
                # The published file as it is (with its column documentation), copied rather
                # than linked: the role's file permissions must not change the version's.
                shutil.copyfile(source, folder / f"{table}.parquet")
            else:
                con.execute(
                    f"COPY main.{quote(table)} TO $target (FORMAT parquet, COMPRESSION zstd)",
                    {"target": str(folder / f"{table}.parquet")},
                )
        if database is not None:
            con.execute("DETACH published")
        con.execute(
            f"CREATE TABLE {ROLE_INFO_TABLE} AS SELECT $run_id AS run_id, $role AS role",
            {"run_id": run_id, "role": role_name},
        )
        _finish_role_database(con, role_name, built)
    finally:
        con.close()


def _restrict(folder: Path) -> None:
    for path in folder.iterdir():
        path.chmod(file_mode())
    folder.chmod(dir_mode())


class RoleArtefacts:
    """Build every role's artefacts for a version into ``<version>/roles/<role>/``.

    Used by publish, restore and erasure while they prepare a version; the folders go live
    with it (one commit). :meth:`build` does it all from a finished database; publish splits
    it in two so that the roles with masks (:meth:`build_masked`, from the version's Parquet
    files) are built while the database is still loading, and only the rest
    (:meth:`build_from_database`) waits for it.
    """

    def __init__(self, config: PipelineConfig, root: Path) -> None:
        self.config = config
        self.root = root
        self.staged: dict[str, Path] = {}

    def build(self, version_dir: Path, database: Path, run_id: str) -> None:
        """Each role's folder built from ``database`` (the version's tables, not yet installed)
        and ``version_dir``; then the masked views into ``database``."""
        _check_no_wal(database)
        self.build_masked(version_dir, run_id, database=database)
        self.build_from_database(version_dir, database, run_id)

    def build_masked(
        self,
        version_dir: Path,
        run_id: str,
        *,
        database: Path | None = None,
        threads: int | None = None,
    ) -> None:
        """The folders of the roles that do not see everything (masks, fewer tables).

        Without ``database`` they are read from ``version_dir``'s Parquet files, so this may
        run while the version's database is being built; ``threads`` caps DuckDB's threads
        for each role (publish leaves the other core to the load).
        """
        for role_name, role in self.config.privacy.roles.items():
            plan = role_tables(role)
            if _sees_everything(plan, version_dir):
                continue
            folder = self._new_folder(role_name)
            _load_masked(
                folder,
                role_name,
                plan,
                version_dir,
                database,
                run_id,
                self.config.warehouse.duckdb_memory_limit,
                threads,
            )
            _restrict(folder)

    def build_from_database(self, version_dir: Path, database: Path, run_id: str) -> None:
        """The folders of the roles that see everything, then the masked views in ``database``.

        Run after :meth:`build_masked`. A role that sees everything gets a copy of
        ``database``, which must not carry the roles' views yet: so the copies come first.
        """
        _check_no_wal(database)
        for role_name, role in self.config.privacy.roles.items():
            plan = role_tables(role)
            if not _sees_everything(plan, version_dir):
                continue
            folder = self._new_folder(role_name)
            _copy_whole(folder, role_name, plan, version_dir, database, run_id)
            _restrict(folder)
        add_masked_views(self.config, database)
        logger.info("built role artefacts for %s", ", ".join(self.staged) or "no roles")

    def _new_folder(self, role_name: str) -> Path:
        self.root.mkdir(mode=dir_mode(), exist_ok=True)
        folder = self.root / role_name
        if folder.exists():  # a rebuild (erasure): never write through a linked file
            shutil.rmtree(folder)
        folder.mkdir(mode=dir_mode())
        self.staged[role_name] = folder
        return folder


def _check_no_wal(database: Path) -> None:
    if database.with_name(database.name + ".wal").exists():
        raise PublishError(f"{database} has an unfinished write-ahead log; rebuild it first")
