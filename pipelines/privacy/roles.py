"""Role artefacts: what each kind of reader is given, built at publish from the new version.

A view over the full tables can be stepped around by anyone who can open the file it lives
in, so a role's reader is given its own copy instead: ``published/roles/<role>/`` holds
``golden.duckdb`` with only that role's masked tables (plain tables, not views) and one Parquet
file per table. Files are created readable by owner and group only (``0640``; folders
``0750``): give each role's readers the group of their folder and nothing else (see
``docs/privacy.md``). ``golden.duckdb`` itself also gets one schema of masked views per role
(``analyst.golden_customers``), a convenience for people who may read the full file anyway.

``published/roles/<role>`` is a symlink to a hidden folder holding one complete set; switching
it is one ``rename(2)``, so a reader never sees the tables of two versions mixed, exactly like
``published/current``. Artefacts are built beside the live ones while a publish is prepared and
switched only after the version itself is installed.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from pipelines.errors import PublishError
from pipelines.privacy.masking import MaskedColumn, quote, role_tables
from pipelines.publish.duckdb_build import sql_literal
from pipelines.publish.tables import COLUMN_DOCS, TABLES
from pipelines.warehouse import Warehouse

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig

logger = logging.getLogger(__name__)

ROLE_DUCKDB = "golden.duckdb"
ROLE_INFO_TABLE = "publish_info"
_FILE_MODE = 0o640
_DIR_MODE = 0o750


def roles_root(warehouse: Warehouse) -> Path:
    return warehouse.published / "roles"


def role_dir(warehouse: Warehouse, role: str) -> Path:
    """The folder a role's readers are given (a symlink switched atomically)."""
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


def _build_role(
    folder: Path,
    role_name: str,
    plan: dict[str, list[MaskedColumn]],
    version_dir: Path,
    run_id: str,
) -> None:
    folder.mkdir(mode=_DIR_MODE)
    database = folder / ROLE_DUCKDB
    con = duckdb.connect(str(database))
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET preserve_insertion_order = false")
        for table, columns in plan.items():
            if not (version_dir / f"{table}.parquet").exists():
                logger.warning(
                    "version %s has no table %s (published before it existed)", run_id, table
                )
                continue
            source = version_dir / f"{table}.parquet"
            con.execute(
                f"CREATE TABLE {quote(table)} AS SELECT {_select(columns)} "
                "FROM read_parquet($path)",
                {"path": str(source)},
            )
            for column in columns:
                con.execute(
                    f"COMMENT ON COLUMN {quote(table)}.{quote(column.name)} IS "
                    f"{sql_literal(_describe(column, role_name))}"
                )
            if _unmasked(table, columns):
                # The published file as it is (with its column documentation), copied rather
                # than linked: the role's file permissions must not change the version's.
                shutil.copyfile(source, folder / f"{table}.parquet")
            else:
                con.execute(
                    f"COPY {quote(table)} TO $target (FORMAT parquet, COMPRESSION zstd)",
                    {"target": str(folder / f"{table}.parquet")},
                )
        con.execute(
            f"CREATE TABLE {ROLE_INFO_TABLE} AS SELECT $run_id AS run_id, $role AS role",
            {"run_id": run_id, "role": role_name},
        )
        con.execute("CHECKPOINT")
    finally:
        con.close()
    for path in folder.iterdir():
        path.chmod(_FILE_MODE)


class RoleArtefacts:
    """Build every role's artefacts for a version, then switch them in (or throw them away).

    Used by publish, restore and erasure, always under the publish lock.
    """

    def __init__(self, config: PipelineConfig, warehouse: Warehouse) -> None:
        self.config = config
        self.root = roles_root(warehouse)
        self.staged: dict[str, Path] = {}

    def build(self, version_dir: Path, database: Path, run_id: str) -> None:
        """Masked views into ``database``; each role's folder built from ``version_dir``."""
        add_masked_views(self.config, database)
        self.root.mkdir(parents=True, exist_ok=True)
        self._remove_leftovers()
        for role_name, role in self.config.privacy.roles.items():
            folder = self.root / f".{role_name}.{run_id}.{secrets.token_hex(4)}"
            self.staged[role_name] = folder
            _build_role(folder, role_name, role_tables(role), version_dir, run_id)
        logger.info("built role artefacts for %s", ", ".join(self.staged) or "no roles")

    def install(self) -> None:
        """Point every role at its new folder; remove roles no longer configured."""
        try:
            for role_name, folder in self.staged.items():
                link = self.root / role_name
                previous = _target(link)
                tmp = self.root / f".link.{role_name}.{secrets.token_hex(4)}"
                os.symlink(folder.name, tmp)
                os.replace(tmp, link)
                if previous is not None and previous != folder:
                    shutil.rmtree(previous, ignore_errors=True)
            for entry in list(self.root.iterdir()):
                if entry.is_symlink() and entry.name not in self.config.privacy.roles:
                    previous = _target(entry)
                    entry.unlink()
                    if previous is not None:
                        shutil.rmtree(previous, ignore_errors=True)
                    logger.warning(
                        "removed the artefacts of role %s (no longer configured)", entry.name
                    )
        except OSError as exc:
            raise PublishError(
                f"the version is published, but switching the role artefacts in {self.root} "
                f"failed ({exc}); readers of a role may still get the previous version: publish "
                "again once the cause is fixed"
            ) from exc
        self.staged = {}

    def discard(self) -> None:
        """Remove folders built but not installed (a publish that failed after building)."""
        for folder in self.staged.values():
            shutil.rmtree(folder, ignore_errors=True)
        self.staged = {}

    def _remove_leftovers(self) -> None:
        live = {_target(p) for p in self.root.iterdir() if p.is_symlink()}
        for entry in self.root.iterdir():
            if entry.name.startswith(".") and entry not in live:
                if entry.is_symlink() or entry.is_file():
                    entry.unlink(missing_ok=True)
                else:
                    shutil.rmtree(entry, ignore_errors=True)


def _target(link: Path) -> Path | None:
    if not link.is_symlink():
        return None
    return link.parent / os.readlink(link)
