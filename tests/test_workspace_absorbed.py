"""A golden id merged away into another stays findable: searching for it, or opening it,
lands on the customer that carries it now."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from pipelines.config import load_config
from pipelines.orchestrate import run_pipeline
from pipelines.stewardship import Link, write_decisions
from pipelines.warehouse import Warehouse
from workspace import UserStore, create_app, service
from workspace.masking import Masker

pytestmark = pytest.mark.slow


def test_searching_an_absorbed_golden_id_finds_the_surviving_customer(
    copy_workspace: Callable[[Path], Path], tmp_path: Path
) -> None:
    config = load_config(copy_workspace(tmp_path / "copy"))
    wh = Warehouse(config.warehouse.path)

    def sql(query: str) -> list[tuple]:
        with duckdb.connect(str(wh.duckdb_path), read_only=True) as con:
            return con.execute(query).fetchall()

    # Two one-record customers a steward says are one: the next run merges them.
    (first, a), (second, b) = sql(
        "SELECT golden_id, min(record_key) FROM customer_xref GROUP BY golden_id "
        "HAVING count(*) = 1 ORDER BY golden_id LIMIT 2"
    )
    write_decisions(wh.root, [Link(a, b, True)], "ana", "same customer, two sources")
    run_pipeline(config)
    ((survivor,),) = sql(
        f"SELECT DISTINCT golden_id FROM customer_xref WHERE record_key IN ('{a}', '{b}')"
    )
    absorbed = ({first, second} - {survivor}).pop()
    assert not sql(f"SELECT 1 FROM golden_customers WHERE golden_id = '{absorbed}'")

    store = UserStore(wh.root)
    store.add("ana", "steward", "correct horse battery staple")
    client = TestClient(create_app(config))
    auth = {"Authorization": f"Bearer {store.new_token('ana')}"}
    found = client.get("/api/search", params={"q": absorbed}, headers=auth).json()["results"]
    assert [(r["golden_id"], r["matched_by"]) for r in found] == [(survivor, "absorbed_id")]
    page = client.get(f"/customers/{absorbed}", headers=auth, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == f"/customers/{survivor}"
    listed = client.get("/", params={"q": absorbed}, headers=auth).text
    assert f'<a class="gid" href="/customers/{survivor}">{survivor}</a>' in listed
    api = client.get(f"/api/customers/{absorbed}", headers=auth).json()
    assert (api["golden_id"], api["requested_id"]) == (survivor, absorbed)
    ctx = service.Context(config, client.app.state.workspace.reader, Masker(None))
    assert service.resolve_id(ctx, absorbed) == survivor
    assert service.resolve_id(ctx, survivor) == survivor
