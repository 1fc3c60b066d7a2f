"""The workspace in Simplified Chinese: chosen by the browser, the config or the user's own
switch, on a warehouse a real run published; source values stay escaped text."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from pipelines.config import PipelineConfig, load_config
from pipelines.warehouse import Warehouse
from tests.workspace_support import PASSWORD, ROLES, WorkspaceEnv
from workspace import UserStore, create_app

pytestmark = pytest.mark.slow

ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
EN = {"Accept-Language": "en-GB,en;q=0.9"}
HAN = re.compile(r"[\u4e00-\u9fff]")


class Env(WorkspaceEnv):
    def __init__(self, config: PipelineConfig):
        super().__init__(config, ROLES[:1])
        self.token = self.tokens["ana"]

    def page(self, path: str, headers: dict[str, str], client: TestClient | None = None) -> str:
        auth = {"Authorization": f"Bearer {self.token}", **headers}
        response = (client or self.client).get(path, headers=auth)
        assert response.status_code == 200, (path, response.text[:500])
        return response.text

    def golden_id(self) -> str:
        return self.golden_ids()[0]

    def golden_ids(self) -> list[str]:
        """Customers with more than one source record, in id order."""
        path = Warehouse(self.config.warehouse.path).duckdb_path
        with duckdb.connect(str(path), read_only=True) as con:
            rows = con.execute(
                "SELECT golden_id FROM golden_customers WHERE source_record_count > 1 "
                "ORDER BY golden_id"
            ).fetchall()
        assert rows
        return [str(row[0]) for row in rows]

    def latin_customer(self) -> str:
        """A customer whose English pages show no Han character. Source values are shown as
        sent and the fixture has Chinese customers, so which one sorts first by its (random)
        golden id decides nothing; a Chinese label leaking into the English pages would show
        on every customer, and then there is none."""
        for golden_id in self.golden_ids():
            paths = (f"/?q={golden_id}", f"/customers/{golden_id}", f"/clusters/{golden_id}")
            if not any(HAN.search(self.page(p, EN).split("<main>")[1]) for p in paths):
                return golden_id
        pytest.fail("every customer's English pages show Han characters")


@pytest.fixture(scope="module")
def env(
    copy_workspace: Callable[[Path], Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Env]:
    yield Env(load_config(copy_workspace(tmp_path_factory.mktemp("i18n") / "copy")))


def test_a_chinese_browser_gets_every_page_in_chinese(env: Env) -> None:
    golden_id = env.latin_customer()
    pages = {
        "/": "查找客户",
        f"/?q={golden_id}": "匹配依据",
        f"/customers/{golden_id}": "源记录",
        f"/clusters/{golden_id}": "记录之间的关联",
        "/review": "审核队列",
        "/quality": "各来源的数据质量",
        "/quality/quarantine": "隔离区",
        "/quality/review-due": "定期复核",
        "/decisions": "数据管理员的决定",
    }
    for path, heading in pages.items():
        html = env.page(path, ZH)
        assert '<html lang="zh-Hans">' in html, path
        assert heading in html, path
        assert ">匹配审核</a>" in html and ">退出登录<" not in html, (
            path
        )  # nav; a token has no form
        english = env.page(path, EN)
        assert '<html lang="en">' in english and not HAN.search(english.split("<main>")[1]), path


def test_the_search_field_labels_and_the_match_kind_are_chinese(env: Env) -> None:
    golden_id = env.golden_id()
    response = env.client.get(
        f"/?q={golden_id}", headers={"Authorization": f"Bearer {env.token}", **ZH}
    )
    assert response.headers["content-language"] == "zh-Hans"
    assert "Accept-Language" in response.headers["vary"]
    html = response.text
    assert 'placeholder="电子邮箱、电话（任意格式）、记录 ID、黄金 ID 或姓名"' in html
    assert '<button type="submit" class="primary">搜索</button>' in html
    assert '<td data-matched-by="golden_id">黄金 ID</td>' in html


def test_a_hostile_value_is_still_text_on_the_chinese_pages(env: Env) -> None:
    hostile = "<script>window.__zh=1</script>"
    html = env.page(f"/?q={hostile}", ZH)
    assert "没有与“&lt;script&gt;window.__zh=1&lt;/script&gt;”匹配的客户。" in html
    assert hostile not in html
    # The fixture's CRM record with a <script> street line is quarantined: shown, as text.
    quarantine = env.page("/quality/quarantine", ZH).lower()
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in quarantine
    assert "<script>window.__pwned" not in quarantine


def test_the_config_fixes_the_language_unless_the_user_switches(env: Env) -> None:
    chinese = TestClient(create_app(env.config.model_copy(update={"language": "zh_CN"})))
    assert "查找客户" in env.page("/", EN, chinese)
    english = TestClient(create_app(env.config.model_copy(update={"language": "en"})))
    assert "Find a customer" in env.page("/", ZH, english)
    switched = english.get("/language/zh_CN", params={"next": "/quality"}, follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/quality"
    assert "golden_lang=zh_CN" in switched.headers["set-cookie"]
    assert "各来源的数据质量" in env.page("/quality", EN, english)  # the cookie wins
    english.cookies.clear()


def test_the_language_switch_refuses_unknown_languages_and_foreign_redirects(env: Env) -> None:
    client = TestClient(create_app(env.config))
    assert client.get("/language/fr", follow_redirects=False).status_code == 404
    away = client.get("/language/en", params={"next": "//evil.example/"}, follow_redirects=False)
    assert away.headers["location"] == "/"


def test_the_login_page_and_its_errors_follow_the_browser(env: Env) -> None:
    client = TestClient(create_app(env.config))
    form = client.get("/login", headers=ZH)
    assert '<html lang="zh-Hans">' in form.text and "<h1>登录</h1>" in form.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    wrong = client.post(
        "/login",
        data={"username": "ana", "password": "wrong", "csrf_token": token.group(1)},
        headers=ZH,
    )
    assert wrong.status_code == 401 and "用户名或密码错误。" in wrong.text


def test_the_customer_page_says_how_sources_back_each_field_in_chinese(env: Env) -> None:
    golden_id = env.golden_id()
    html = env.page(f"/customers/{golden_id}", ZH)
    statuses = re.findall(r"<td>([^<]*(?:来源|锁定|选定)[^<]*)</td>", html)
    assert statuses and not [s for s in statuses if re.search("[a-z]{3}", s)], statuses
    assert 'data-label="原值"' in html or "标准化前的原值" in html
    # The API keeps its English status text (a contract for other programs).
    api = env.client.get(
        f"/api/customers/{golden_id}", headers={"Authorization": f"Bearer {env.token}", **ZH}
    ).json()
    english = {f["status"] for f in api["fields"]}
    assert english & {"no source has it", "all sources agree", "single source", "chosen"} or any(
        "sources" in s for s in english
    )


def test_an_empty_warehouse_says_nothing_is_published_in_the_readers_language(
    tmp_path: Path,
) -> None:
    import json

    (tmp_path / "crm.csv").write_text("id,first\n1,Ann\n", encoding="utf-8")
    text = {
        "warehouse": {"path": str(tmp_path / "warehouse")},
        "sources": [{"name": "crm", "kind": "file", "path": "crm.csv", "id_column": "id",
                     "mapping": {"first_name": "first"}}],
    }  # fmt: skip
    (tmp_path / "config.yaml").write_text(json.dumps(text))
    config = load_config(tmp_path / "config.yaml")
    store = UserStore(config.warehouse.path)
    store.add("ana", "steward", PASSWORD)
    auth = {"Authorization": f"Bearer {store.new_token('ana')}"}
    client = TestClient(create_app(config))
    chinese = client.get("/quality", headers={**auth, **ZH})
    assert chinese.status_code == 503
    assert '<html lang="zh-Hans">' in chinese.text and "<h1>尚未发布任何数据</h1>" in chinese.text
    english = client.get("/quality", headers={**auth, **EN})
    assert english.status_code == 503 and "<h1>Nothing published yet</h1>" in english.text


def test_the_quality_charts_are_labelled_in_chinese(env: Env) -> None:
    html = env.page("/quality", ZH)
    assert re.search(r'aria-label="\S+ 历次运行的通过率"', html)
    assert re.search(r"<title>[^<]+: 通过率 \d", html)
    assert "over runs" not in html
