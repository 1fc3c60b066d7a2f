"""The stewards' workspace under test: an app over a copied demo warehouse, with users of
each role and their API tokens (shared by the workspace test modules)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
from fastapi.testclient import TestClient

from pipelines.config import PipelineConfig
from pipelines.warehouse import Warehouse
from workspace import UserStore, create_app

PASSWORD = "correct horse battery staple"

ROLES = (("ana", "steward"), ("al", "analyst"), ("vi", "viewer"))
"""Users the workspace gets (name, role)."""


class WorkspaceEnv:
    """``client`` on the app of ``config``; ``tokens`` by user name."""

    def __init__(self, config: PipelineConfig, roles: tuple[tuple[str, str], ...] = ROLES) -> None:
        self.config = config
        self.root = Path(config.warehouse.path)
        self.warehouse = Warehouse(self.root)
        self.client = TestClient(create_app(config))
        store = UserStore(self.root)
        for name, role in roles:
            store.add(name, role, PASSWORD)
        self.tokens = {name: store.new_token(name) for name, _ in roles}

    def bearer(self, who: str = "ana") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        """Rows of a query on the published ``golden.duckdb``, read-only."""
        with duckdb.connect(str(self.warehouse.duckdb_path), read_only=True) as con:
            return con.execute(query).fetchall()
