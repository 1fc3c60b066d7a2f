"""The workspace's JSON API and form posts, on a warehouse a real run published.

Every endpoint is called with a token of each kind of user it treats differently; requests
without credentials get 401, forged form posts 403, and decisions land in the same decisions
file and audit trail as ``golden review``'s.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from matching.decisions import DecisionStore
from pipelines.audit import read_audit
from pipelines.config import load_config
from pipelines.warehouse import Warehouse
from tests.workspace_support import PASSWORD, WorkspaceEnv
from workspace import UserStore, create_app

pytestmark = pytest.mark.slow


class Env(WorkspaceEnv):
    def get(self, who: str, path: str, **params: Any) -> Any:
        response = self.client.get(path, params=params, headers=self.auth(who))
        assert response.status_code == 200, response.text
        return response.json()

    def auth(self, who: str) -> dict[str, str]:
        return self.bearer(who)


@pytest.fixture(scope="module")
def env(
    copy_workspace: Callable[[Path], Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Env]:
    config = copy_workspace(tmp_path_factory.mktemp("api") / "copy")
    yield Env(load_config(config))


def customer_with_records(env: Env, records: int = 2) -> tuple[str, str, str]:
    """(golden id, e-mail, a record key) of a customer with at least ``records`` records."""
    return env.sql(
        "SELECT g.golden_id, g.email, min(x.record_key) FROM golden_customers g "
        "JOIN customer_xref x USING (golden_id) WHERE g.email IS NOT NULL "
        f"AND g.source_record_count >= {records} GROUP BY ALL ORDER BY 1 LIMIT 1"
    )[0]


def test_every_api_endpoint_needs_a_session_or_a_token(env: Env) -> None:
    for path in (
        "/api/me",
        "/api/search?q=x",
        "/api/customers/G-1",
        "/api/customers/G-1/cluster",
        "/api/review/pairs",
        "/api/review/pair?left=a&right=b",
        "/api/review/suggestions",
        "/api/decisions",
        "/api/quality/scorecards",
        "/api/quality/quarantine",
        "/api/quality/review-due",
    ):
        response = env.client.get(path)
        assert response.status_code == 401, path
        bad = env.client.get(path, headers={"Authorization": "Bearer gw_nope_nope"})
        assert bad.status_code == 401, path
    assert env.client.post("/api/decisions", json={}).status_code == 401
    assert env.client.get("/").status_code == 401  # pages too: a login form with 401
    assert env.client.get("/healthz").json()["status"] == "ok"


def test_openapi_documents_the_api(env: Env) -> None:
    spec = env.client.get("/api/openapi.json").json()
    assert {"/api/search", "/api/customers/{golden_id}", "/api/decisions"} <= set(spec["paths"])
    assert env.client.get("/docs").status_code == 404  # Swagger UI would load from a CDN


def test_me_says_who_and_what_they_may_do(env: Env) -> None:
    assert env.get("ana", "/api/me") == {"name": "ana", "role": "steward", "can_decide": True}
    assert env.get("al", "/api/me")["can_decide"] is False


def test_search_finds_a_customer_by_every_identifier(env: Env) -> None:
    golden_id, email, record_key = customer_with_records(env)
    source_record_id = record_key.split(":", 1)[1]
    for query in (golden_id, email.upper(), record_key, source_record_id):
        found = env.get("ana", "/api/search", q=query)["results"]
        assert golden_id in [r["golden_id"] for r in found], query
    # A phone that one customer alone holds, on the golden record and on every source record:
    # household members share a landline, and the search rightly lists every holder.
    (staged,) = env.root.glob("runs/*/staged/accepted.parquet")
    ((phone, phone_owner),) = env.sql(
        "WITH holders AS (SELECT phone, golden_id FROM golden_customers UNION "
        f"SELECT r.phone, x.golden_id FROM read_parquet('{staged}') r "
        "JOIN customer_xref x USING (record_key)) "
        "SELECT phone, any_value(golden_id) FROM holders WHERE phone LIKE '+1%' "
        "GROUP BY phone HAVING count(DISTINCT golden_id) = 1 ORDER BY 1 LIMIT 1"
    )
    typed = f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}"
    found = env.get("ana", "/api/search", q=typed)["results"]
    assert [r["golden_id"] for r in found] == [phone_owner]
    assert found[0]["matched_by"] == "phone"
    shared = env.sql(
        "SELECT phone, list(golden_id ORDER BY golden_id) FROM golden_customers "
        "WHERE phone LIKE '+1%' GROUP BY phone HAVING count(*) > 1 ORDER BY 1 LIMIT 1"
    )
    if shared:  # a shared number finds every customer holding it
        ((phone, holders),) = shared
        found = env.get("ana", "/api/search", q=phone)["results"]
        assert set(holders) <= {r["golden_id"] for r in found}


def test_name_search_is_fuzzy_and_narrowed_by_city_and_birth_year(env: Env) -> None:
    ((golden_id, first, last, city, born),) = env.sql(
        "SELECT golden_id, first_name, last_name, city, year(date_of_birth) FROM golden_customers "
        "WHERE length(last_name) >= 5 AND first_name IS NOT NULL AND city IS NOT NULL "
        "AND date_of_birth IS NOT NULL AND last_name SIMILAR TO '[A-Za-z]+' ORDER BY 1 LIMIT 1"
    )
    typo = last[:-2] + last[-1] + last[-2]  # two letters swapped
    found = env.get("ana", "/api/search", q=f"{first} {typo}")["results"]
    assert golden_id in [r["golden_id"] for r in found]
    assert all(r["matched_by"] == "name" for r in found)
    narrowed = env.get("ana", "/api/search", q=f"{first} {typo}", city=city, birth_year=born)
    assert golden_id in [r["golden_id"] for r in narrowed["results"]]
    elsewhere = env.get("ana", "/api/search", q=f"{first} {typo}", birth_year=born + 1)
    assert golden_id not in [r["golden_id"] for r in elsewhere["results"]]


def test_customer_360_shows_provenance_sources_history_and_masks_for_analysts(env: Env) -> None:
    golden_id, email, _ = customer_with_records(env)
    data = env.get("ana", f"/api/customers/{golden_id}")
    assert data["golden"]["email"] == email
    fields = {f["field"]: f for f in data["fields"]}
    assert fields["email"]["value"] == email and fields["email"]["rule"]
    assert fields["email"]["source"] and fields["email"]["status"]
    assert len(data["records"]) >= 2
    assert all(len(r["cells"]) == len(data["fields"]) for r in data["records"])
    assert {h["change"] for h in data["history"]} <= {"created", "kept", "merged", "split"}
    masked = env.get("al", f"/api/customers/{golden_id}")
    assert masked["golden"]["email"] == "***@" + email.split("@")[1]
    cells = [c for r in masked["records"] for c in r["cells"] if c["field"] == "email"]
    assert all(c["value"] is None or c["value"].startswith("***") for c in cells)
    assert email not in str(masked)
    assert env.client.get("/api/customers/G-NOPE", headers=env.auth("ana")).status_code == 404


def test_cluster_lists_every_record_and_the_links_between_them(env: Env) -> None:
    golden_id, _, _ = customer_with_records(env)
    data = env.get("vi", f"/api/customers/{golden_id}/cluster")
    keys = {m["record_key"] for m in data["members"]}
    expected = {
        r[0]
        for r in env.sql(f"SELECT record_key FROM customer_xref WHERE golden_id = '{golden_id}'")
    }
    assert keys == expected
    assert data["links"] and all(
        {k["record_key_l"], k["record_key_r"]} <= keys for k in data["links"]
    )


def test_review_pairs_come_with_evidence_and_why_they_were_held_apart(env: Env) -> None:
    queue = env.get("ana", "/api/review/pairs")
    assert queue["pairs"], "the sample's review queue is empty"
    first = queue["pairs"][0]
    pair = env.get(
        "ana", "/api/review/pair", left=first["record_key_l"], right=first["record_key_r"]
    )
    assert pair["waterfall"][0]["name"] == "prior"
    assert pair["waterfall"][-1]["end"] == pytest.approx(pair["match_weight"])
    assert pair["why_apart"] and isinstance(pair["share_golden_id"], bool)
    assert pair["fields"]


def test_quality_endpoints_read_the_published_results(env: Env) -> None:
    cards = env.get("al", "/api/quality/scorecards")
    assert set(cards["suites"]) >= {s.name for s in env.config.sources} | {"canonical"}
    quarantine = env.get("ana", "/api/quality/quarantine")
    assert quarantine["total"] == env.sql("SELECT count(*) FROM quarantine")[0][0]
    due = env.get("ana", "/api/quality/review-due")
    assert due["available"] == bool(
        env.sql("SELECT count(*) FROM information_schema.tables WHERE table_name = 'review_due'")[
            0
        ][0]
    )


def test_only_stewards_decide_and_decisions_are_recorded_and_audited_with_the_user(
    env: Env,
) -> None:
    first = env.get("ana", "/api/review/pairs")["pairs"][0]
    body = {
        "kind": "no_link",
        "record_key_l": first["record_key_l"],
        "record_key_r": first["record_key_r"],
        "reason": "different people",
    }
    for who in ("al", "vi"):
        refused = env.client.post("/api/decisions", json=body, headers=env.auth(who))
        assert refused.status_code == 403
    recorded = env.client.post("/api/decisions", json=body, headers=env.auth("ana"))
    assert recorded.status_code == 201, recorded.text
    (decision,) = recorded.json()["recorded"]
    store = DecisionStore(Warehouse(env.root).decisions)
    assert [(d.decision_id, d.actor, d.kind) for d in store.active()] == [
        (decision["decision_id"], "ana", "cannot_link")
    ]
    events = [e for e in read_audit(env.root) if e.target == decision["decision_id"]]
    assert [(e.actor, e.action, e.reason) for e in events] == [
        ("ana", "decision.cannot_link", "different people")
    ]
    pending = env.get("ana", "/api/review/pairs")
    assert (first["record_key_l"], first["record_key_r"]) not in {
        (p["record_key_l"], p["record_key_r"]) for p in pending["pairs"]
    }
    listed = env.get("vi", "/api/decisions")["decisions"]
    assert listed[0]["decision_id"] == decision["decision_id"] and listed[0]["active"]

    revoke = {"kind": "revoke", "decision_id": decision["decision_id"], "reason": "undo"}
    assert (
        env.client.post("/api/decisions", json=revoke, headers=env.auth("ana")).status_code == 201
    )
    assert store.active() == []


def test_bad_decisions_are_refused_with_the_reason_and_nothing_is_written(env: Env) -> None:
    golden_id, _, record_key = customer_with_records(env)
    before = DecisionStore(Warehouse(env.root).decisions).history()
    cases = [
        ({"kind": "link", "record_key_l": record_key, "record_key_r": "crm:nope"}, "crm:nope"),
        ({"kind": "pin", "golden_id": golden_id, "field": "phone", "value": "555"}, "E.164"),
        ({"kind": "pin", "golden_id": "G-NOPE", "field": "city", "value": "Leeds"}, "G-NOPE"),
        ({"kind": "split_out", "golden_id": golden_id, "record_key": "crm:nope"}, "not a record"),
        ({"kind": "link", "record_key_l": record_key}, "needs record_key_r"),
    ]
    for body, message in cases:
        response = env.client.post(
            "/api/decisions", json={**body, "reason": "test"}, headers=env.auth("ana")
        )
        assert response.status_code == 400 and message in response.json()["detail"], body
    assert DecisionStore(Warehouse(env.root).decisions).history() == before


def test_split_out_separates_a_record_from_every_other_record_of_its_customer(env: Env) -> None:
    golden_id, _, record_key = customer_with_records(env)
    others = {
        r[0]
        for r in env.sql(f"SELECT record_key FROM customer_xref WHERE golden_id = '{golden_id}'")
    } - {record_key}
    body = {
        "kind": "split_out",
        "golden_id": golden_id,
        "record_key": record_key,
        "reason": "moved",
    }
    response = env.client.post("/api/decisions", json=body, headers=env.auth("ana"))
    assert response.status_code == 201, response.text
    _, cannot = DecisionStore(Warehouse(env.root).decisions).links()
    assert {tuple(sorted((record_key, o))) for o in others} <= set(cannot)


def login(client: TestClient, name: str) -> str:
    """Logs in through the form; returns the session's CSRF token."""
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    done = client.post(
        "/login",
        data={"username": name, "password": PASSWORD, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    page = client.get("/")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def test_form_posts_need_the_session_csrf_token(env: Env) -> None:
    client = TestClient(env.client.app)
    csrf = login(client, "ana")
    golden_id, _, _ = customer_with_records(env)
    form = {"field": "city", "value": "Springfield", "reason": "customer called"}
    forged = client.post(f"/customers/{golden_id}/pin", data=form, follow_redirects=False)
    assert forged.status_code == 403
    wrong = client.post(
        f"/customers/{golden_id}/pin", data={**form, "csrf_token": "x" * 43}, follow_redirects=False
    )
    assert wrong.status_code == 403
    assert not [d for d in DecisionStore(Warehouse(env.root).decisions).pins()]
    done = client.post(
        f"/customers/{golden_id}/pin", data={**form, "csrf_token": csrf}, follow_redirects=False
    )
    assert done.status_code == 303
    (pin,) = DecisionStore(Warehouse(env.root).decisions).pins()
    assert (pin.golden_id, pin.value, pin.actor) == (golden_id, "Springfield", "ana")


def test_login_refuses_a_forged_form_and_throttles_guessing(
    env: Env, copy_workspace: Callable[[Path], Path], tmp_path: Path
) -> None:
    # A warehouse of its own: the throttle is shared by every server on a warehouse, and
    # this test locks the test client's address out.
    config = load_config(copy_workspace(tmp_path / "copy"))
    UserStore(config.warehouse.path).add("vi", "viewer", PASSWORD)
    client = TestClient(create_app(config))
    no_token = client.post("/login", data={"username": "vi", "password": PASSWORD})
    assert no_token.status_code == 403
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    codes = [
        client.post(
            "/login", data={"username": "vi", "password": f"wrong {n}", "csrf_token": token}
        ).status_code
        for n in range(6)
    ]
    assert codes == [401] * 5 + [429]
    right = client.post(
        "/login", data={"username": "vi", "password": PASSWORD, "csrf_token": token}
    )
    assert right.status_code == 429  # locked for the window, even with the right password


def test_ticked_queue_pairs_are_decided_together(env: Env) -> None:
    client = TestClient(env.client.app)
    csrf = login(client, "ana")
    queue = env.get("ana", "/api/review/pairs")["pairs"][:2]
    assert len(queue) == 2
    ticked = [json.dumps([p["record_key_l"], p["record_key_r"]]) for p in queue]
    page = client.get("/review")
    offered = [html.unescape(v) for v in re.findall(r'name="pair" value="([^"]+)"', page.text)]
    assert set(ticked) <= set(offered)  # the checkboxes the page offers
    done = client.post(
        "/review/bulk",
        data={"pair": ticked, "decision": "no_link", "reason": "bulk", "csrf_token": csrf},
    )
    assert done.status_code == 200 and "Recorded 2 cannot_link decision(s)" in done.text
    _, cannot = DecisionStore(Warehouse(env.root).decisions).links()
    assert {tuple(sorted((p["record_key_l"], p["record_key_r"]))) for p in queue} <= set(cannot)


def test_pairs_suggested_for_training_are_served_masked_and_decided_like_any_pair(
    env: Env,
) -> None:
    suggested = env.get("ana", "/api/review/suggestions")
    assert suggested["queue"] == "training" and suggested["pairs"], "nothing suggested"
    ranks = [p["rank"] for p in suggested["pairs"]]
    assert ranks == sorted(ranks)
    first = suggested["pairs"][0]
    keys = {"left": first["record_key_l"], "right": first["record_key_r"]}
    pair = env.get("ana", "/api/review/pair", queue="training", **keys)
    assert pair["suggested_because"] == first["suggested_because"] and pair["pattern"]
    assert pair["waterfall"][-1]["end"] == pytest.approx(pair["match_weight"])
    # An analyst sees the same pair with masked values, a page without a decide button.
    masked = env.get("al", "/api/review/pair", queue="training", **keys)
    shown = {f["field"]: f for f in pair["fields"]}
    hidden = {f["field"]: f for f in masked["fields"]}
    assert any(
        shown[name]["left"] and hidden[name]["left"] != shown[name]["left"] for name in shown
    ), "no value of the pair is masked for analysts"
    analyst = TestClient(env.client.app)
    login(analyst, "al")
    page = analyst.get("/review", params={"queue": "training"})
    assert "Suggested for training" in page.text and 'id="btn-link"' not in page.text

    client = TestClient(env.client.app)
    csrf = login(client, "ana")
    page = client.get("/review", params={"queue": "training"})
    assert 'name="queue" value="training"' in page.text and 'id="btn-link"' in page.text
    done = client.post(
        "/review/decide",
        data={**{"left": keys["left"], "right": keys["right"]}, "decision": "link",
              "reason": "taught the model", "queue": "training", "csrf_token": csrf},
        headers={"hx-request": "true"},
    )  # fmt: skip
    assert done.status_code == 200 and "Recorded" in done.text, done.text
    assert "Suggested for training by run" in done.text  # the same queue, next pair
    must, _ = DecisionStore(Warehouse(env.root).decisions).links()
    assert tuple(sorted(keys.values())) in must
    events = [e for e in read_audit(env.root) if e.action == "decision.must_link"]
    assert events[-1].actor == "ana" and events[-1].reason == "taught the model"
    after = env.get("ana", "/api/review/suggestions")
    assert after["undecided"] == suggested["undecided"] - 1
    gone = env.client.get(
        "/api/review/pair", params={"queue": "nope", **keys}, headers=env.auth("ana")
    )
    assert gone.status_code == 422


def test_confirming_a_due_record_clears_it_from_the_work_queue(env: Env) -> None:
    from pipelines.review_due.compute import refresh_review_due

    refresh_review_due(env.root, env.config.review_due)
    due = env.get("vi", "/api/quality/review-due")
    assert due["available"] and due["rows"], "the sample has nothing due for review"
    row = due["rows"][0]
    target = row["record_key"] or row["golden_id"]
    body = {"kind": "confirm", "reason": "called the customer"}
    body |= {"record_key": target} if row["record_key"] else {"golden_id": target}
    refused = env.client.post("/api/decisions", json=body, headers=env.auth("al"))
    assert refused.status_code == 403
    done = env.client.post("/api/decisions", json=body, headers=env.auth("ana"))
    assert done.status_code == 201, done.text
    assert done.json()["review_due_cleared"] >= 1
    after = env.get("vi", "/api/quality/review-due")["rows"]
    assert target not in {r["record_key"] or r["golden_id"] for r in after}
    events = [e for e in read_audit(env.root) if e.action == "review.confirm"]
    assert [(e.actor, e.target, e.reason) for e in events] == [
        ("ana", target, "called the customer")
    ]


@pytest.mark.parametrize("who", ["ana", "al", "vi"])
def test_every_page_renders_for_every_role(env: Env, who: str) -> None:
    golden_id, _, _ = customer_with_records(env)
    pages = {
        "/": "Find a customer",
        f"/?q={golden_id}": golden_id,
        f"/customers/{golden_id}": "Source records",
        f"/clusters/{golden_id}": "Links between them",
        "/review": "Review queue of run",
        "/quality": "Quality by source",
        "/quality/quarantine": "Quarantine",
        "/quality/review-due": "Periodic review",
        "/decisions": "Steward decisions",
    }
    for path, text in pages.items():
        page = env.client.get(path, headers=env.auth(who))
        assert page.status_code == 200, path
        assert text in page.text, path
        assert page.text.count("<html") == 1 and len(page.text) < 500_000, path
    quality = env.client.get("/quality", headers=env.auth(who)).text
    assert all(s.name in quality for s in env.config.sources)


def test_an_erased_customer_leaves_the_search_index(env: Env) -> None:
    """Erasure drops the workspace's index; the version it republishes no longer finds them."""
    from pipelines.privacy.erase import ErasurePlan, erase_records

    golden_id, email, _ = customer_with_records(env)
    assert env.get("ana", "/api/search", q=email)["results"]
    cache = Path(env.root) / "cache" / "workspace"
    assert any(cache.rglob("keys.parquet"))
    keys = {
        r[0]
        for r in env.sql(f"SELECT record_key FROM customer_xref WHERE golden_id = '{golden_id}'")
    }
    erase_records(env.config, ErasurePlan(frozenset(keys), frozenset({email})))
    assert not any(cache.rglob("keys.parquet"))  # gone even before a request notices
    env.client.app.state.workspace.reader.snapshot(wait=True)
    assert env.get("ana", "/api/search", q=email)["results"] == []
    assert env.client.get(f"/api/customers/{golden_id}", headers=env.auth("ana")).status_code == 404


def test_reports_are_served_behind_the_login_and_never_outside_their_folder(env: Env) -> None:
    report = Path(env.root) / "reports" / "dq_scorecard" / "index.html"
    assert report.is_file(), "the run writes the scorecard report"
    secret = Path(env.root) / "reports" / ".." / "state" / "workspace_users.json"
    assert secret.is_file()

    response = env.client.get("/reports/dq_scorecard/index.html", headers=env.auth("ana"))
    assert response.status_code == 200 and response.content == report.read_bytes()
    assert "script-src 'none'" in response.headers["content-security-policy"]
    assert env.client.get("/reports/dq_scorecard/", headers=env.auth("vi")).status_code == 200
    # Analysts see masked values everywhere; the reports are not masked.
    assert env.client.get("/reports/dq_scorecard/", headers=env.auth("al")).status_code == 403
    assert env.client.get("/reports/dq_scorecard/index.html").status_code == 401
    for escape in ("..%2Fstate%2Fworkspace_users.json", "%2E%2E/state/workspace_users.json"):
        response = env.client.get(f"/reports/{escape}", headers=env.auth("ana"))
        assert response.status_code == 404, escape
        assert b"password" not in response.content
