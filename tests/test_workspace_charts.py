"""Splink's match charts (``runs/<id>/match/charts/``) reachable from the workspace behind the
login, and nothing else of the warehouse through the same route."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipelines.config import load_config
from tests.workspace_support import ROLES, WorkspaceEnv

pytestmark = pytest.mark.slow


class Env(WorkspaceEnv):
    def __init__(self, config_path: Path):
        super().__init__(load_config(config_path), ROLES[:2])
        (self.run_id,) = self.warehouse.run_ids()

    def get(self, path: str, who: str | None = "ana"):
        headers = self.bearer(who) if who else {}
        return self.client.get(path, headers=headers, follow_redirects=False)


@pytest.fixture(scope="module")
def env(
    copy_workspace: Callable[[Path], Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Env]:
    yield Env(copy_workspace(tmp_path_factory.mktemp("charts") / "copy"))


def test_stewards_reach_the_runs_match_charts_from_the_quality_page(env: Env) -> None:
    charts = env.warehouse.match_dir(env.run_id) / "charts"
    written = sorted(p.name for p in charts.glob("*.html"))
    assert "match_weights.html" in written and "waterfall.html" in written
    assert 'href="/quality/charts"' in env.get("/quality").text
    listing = env.get("/quality/charts").text
    for name in written:
        assert f'href="/charts/{env.run_id}/{name}"' in listing
    page = env.get(f"/charts/{env.run_id}/match_weights.html")
    assert page.status_code == 200
    assert page.content == (charts / "match_weights.html").read_bytes()
    policy = page.headers["content-security-policy"]
    # Its libraries are inline, so it runs in a sandbox: no cookies, no network, no forms.
    assert policy.startswith("sandbox allow-scripts;") and "default-src 'none'" in policy
    assert "connect-src" not in policy and "form-action 'none'" in policy


def test_analysts_get_the_model_charts_but_not_the_waterfall_of_unmasked_values(
    env: Env,
) -> None:
    assert env.get(f"/charts/{env.run_id}/match_weights.html", "al").status_code == 200
    assert env.get(f"/charts/{env.run_id}/waterfall.html", "al").status_code == 403
    assert "waterfall.html" not in env.get("/quality/charts", "al").text
    assert env.get(f"/charts/{env.run_id}/match_weights.html", None).status_code == 401
    assert env.get("/api/me", None).status_code == 401


def test_the_chart_route_serves_nothing_outside_a_runs_charts_folder(env: Env) -> None:
    run = env.warehouse.run(env.run_id)
    charts = env.warehouse.match_dir(env.run_id) / "charts"
    (charts / "leak.html").symlink_to(env.warehouse.root / "state" / "workspace_users.json")
    (run / "match" / "model.html").write_text("<p>not a chart</p>")
    try:
        for path in (
            f"/charts/{env.run_id}/leak.html",  # a link out of the folder
            f"/charts/{env.run_id}/..%2Fmodel.html",
            f"/charts/{env.run_id}/%2E%2E%2Fmodel.html",
            f"/charts/{env.run_id}/model.json",
            f"/charts/..%2F{env.run_id}%2Fmatch/model.html",
            "/charts/20990101T000000Z-nope/match_weights.html",
            f"/charts/{env.run_id}/no_such_chart.html",
        ):
            response = env.get(path)
            assert response.status_code == 404, path
            assert b"password" not in response.content and b"not a chart" not in response.content
    finally:
        (charts / "leak.html").unlink()
