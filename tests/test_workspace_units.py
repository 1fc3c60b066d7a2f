"""The workspace's parts that need no server: accounts, masks, throttling, sessions."""

from __future__ import annotations

import json
import stat
from datetime import date
from pathlib import Path

import duckdb
import pytest

from pipelines.privacy.config import PrivacyConfig
from pipelines.privacy.masking import mask_sql
from workspace.data import normalise_name
from workspace.masking import HIDDEN, Masker, apply_mask
from workspace.security import LoginThrottle, open_session_store, same_token
from workspace.service import waterfall
from workspace.users import UserError, UserStore

PASSWORD = "correct horse battery staple"


def test_users_file_is_owner_only_and_holds_no_password_or_token(tmp_path: Path) -> None:
    store = UserStore(tmp_path)
    store.add("ana", "steward", PASSWORD)
    token = store.new_token("ana")
    text = store.path.read_text()
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert PASSWORD not in text and token not in text
    assert json.loads(text)["users"][0]["password_hash"].startswith("$argon2id$")
    assert store.verify_password("ana", PASSWORD).name == "ana"
    assert store.verify_password("ana", PASSWORD + "x") is None
    assert store.verify_password("nobody", PASSWORD) is None
    assert store.verify_token(token).name == "ana"
    assert store.verify_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None


def test_removed_user_loses_password_and_tokens_at_once(tmp_path: Path) -> None:
    store, other = UserStore(tmp_path), UserStore(tmp_path)  # a server and a CLI
    store.add("ana", "viewer", PASSWORD)
    token = store.new_token("ana")
    assert other.verify_token(token) is not None
    store.remove("ana")
    assert other.verify_token(token) is None and other.get("ana") is None


@pytest.mark.parametrize(
    ("name", "role", "password", "message"),
    [
        ("ana", "admin", PASSWORD, "role 'admin' is not one of steward, analyst, viewer"),
        ("ana", "steward", "short", "at least 12 characters"),
        ("../ana", "steward", PASSWORD, "must be 1-64 letters"),
    ],
    ids=["unknown-role", "short-password", "path-like-name"],
)
def test_bad_accounts_are_refused_with_the_reason(
    tmp_path: Path, name: str, role: str, password: str, message: str
) -> None:
    with pytest.raises(UserError, match=message):
        UserStore(tmp_path).add(name, role, password)


def test_adding_an_existing_user_is_refused(tmp_path: Path) -> None:
    store = UserStore(tmp_path)
    store.add("ana", "steward", PASSWORD)
    with pytest.raises(UserError, match="exists already"):
        store.add("ana", "analyst", PASSWORD)


VALUES = {
    "email": "Kim.Lee@Example.COM",
    "phone": "+44 20 7946 0018",
    "first_name": "  émile",
    "address_line1": "1 High St",
    "date_of_birth": date(1987, 6, 5),
}


@pytest.mark.parametrize("column", list(VALUES), ids=list(VALUES))
def test_python_masks_equal_the_published_sql_masks(column: str) -> None:
    """An analyst sees in the workspace exactly what their published copy holds."""
    role = PrivacyConfig().roles["analyst"]
    masker = Masker(role)
    mask = masker.mask_of(column)
    assert mask != "none"
    value = VALUES[column]
    con = duckdb.connect()
    kind = "DATE" if isinstance(value, date) else "VARCHAR"
    sql_value = con.execute(
        f"SELECT {mask_sql(mask, column)} FROM (SELECT CAST(? AS {kind}) AS {column})", [value]
    ).fetchall()[0][0]
    assert masker.value(column, value) == sql_value
    assert masker.value(f"raw_{column}", str(value)) is not None  # raw values are masked too


def test_analyst_masks_source_columns_and_hides_ungranted_ones() -> None:
    masker = Masker(PrivacyConfig().roles["analyst"])
    assert masker.value("raw_email", "kim@example.com") == "***@example.com"
    assert masker.value("email_l", "kim@example.com") == "***@example.com"
    assert masker.value("middle_name", "Ann") == HIDDEN
    assert masker.value("record_key", "crm:1") == "crm:1"
    assert masker.value("raw_date_of_birth", "05/06/1987") == 1987
    assert Masker(None).value("email", "kim@example.com") == "kim@example.com"
    assert apply_mask("last_digits", "+1 212 555 0100") == "*********00"


def test_login_throttle_blocks_after_repeated_failures_until_the_window_passes(
    tmp_path: Path,
) -> None:
    now = [0.0]
    store = open_session_store(tmp_path, clock=lambda: now[0])
    throttle = LoginThrottle(store, max_failures=3, window_s=60)
    for _ in range(3):
        assert not throttle.blocked("user:ana", "addr:1")
        throttle.failed("user:ana", "addr:1")
    assert throttle.blocked("user:ana", "addr:9")  # the name is locked from any address
    assert throttle.blocked("user:bo", "addr:1")  # and the address for any name
    now[0] = 61.0
    assert not throttle.blocked("user:ana", "addr:1")


def test_sessions_expire_and_end(tmp_path: Path) -> None:
    now = [0.0]
    sessions = open_session_store(tmp_path, lifetime_s=10, clock=lambda: now[0])
    one, two = sessions.create("ana"), sessions.create("ana")
    assert sessions.get(one.id) == one and one.csrf != two.csrf
    sessions.end(one.id)
    assert sessions.get(one.id) is None
    now[0] = 11.0
    assert sessions.get(two.id) is None
    assert not same_token("", "") and not same_token("a", None) and same_token("a", "a")


def test_waterfall_starts_at_the_prior_and_ends_at_the_match_weight() -> None:
    steps = waterfall(3.0, json.dumps({"email": 6.5, "dob": -1.5}))
    assert [s["name"] for s in steps] == ["prior", "email", "dob", "match weight"]
    assert steps[0]["end"] == pytest.approx(-2.0)
    assert steps[2]["end"] == pytest.approx(3.0) == steps[-1]["end"]
    assert all(0 <= s["left_pct"] <= 100 for s in steps)


def test_names_compare_without_case_accents_or_punctuation() -> None:
    assert normalise_name("  José-María O'Neil ") == "jose maria o neil"
    assert normalise_name("王小明") == "王小明"


def test_users_cli_reads_the_password_from_stdin_and_never_prints_it(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pipelines.audit import read_audit
    from pipelines.cli import app

    config = tmp_path / "config.yaml"
    config.write_text(
        "warehouse:\n  path: warehouse\n"
        "sources:\n  - {name: crm, kind: file, path: crm.csv, id_column: id, mapping: {email: e}}\n"
    )

    def golden(*args: str, stdin: str | None = None) -> str:
        result = CliRunner().invoke(app, [*args, "--config", str(config)], input=stdin)
        assert result.exit_code == 0, result.output
        return result.output

    assert "added ana (steward)" in golden(
        "users", "add", "ana", "--role", "steward", stdin=PASSWORD + "\n"
    )
    token = golden("users", "token", "ana").strip()
    listed = golden("users", "list")
    assert "ana" in listed and "steward" in listed and token not in listed
    assert PASSWORD not in listed
    store = UserStore(tmp_path / "warehouse")
    assert store.verify_token(token).name == "ana"
    assert store.verify_password("ana", PASSWORD) is not None
    golden("users", "remove", "ana")
    assert store.get("ana") is None
    actions = [e.action for e in read_audit(tmp_path / "warehouse")]
    assert actions == ["workspace.user_added", "workspace.token_issued", "workspace.user_removed"]


def test_review_list_cells_count_wide_characters_as_two_columns() -> None:
    """`golden review list` keeps its columns with full-width names (王小明 beside Ann)."""
    import unicodedata

    from pipelines.cli.review import _cell

    def columns(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)

    for value in ("Ann", "王小明", "王" * 30, "x" * 50, "Ｆｕｌｌ width"):
        assert columns(_cell(value)) == 34, value
    assert _cell("王" * 30).rstrip().endswith("…")
