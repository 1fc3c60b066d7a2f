"""The message catalogue and the choice of language (pipelines.i18n)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipelines.i18n import (
    CATALOGUE,
    LANGUAGES,
    Translator,
    UnknownMessage,
    choose,
    for_files,
    from_accept_language,
    from_environment,
    language_of_tag,
    placeholders,
    text,
)

ROOT = Path(__file__).parents[1]
TEMPLATE_DIRS = (ROOT / "workspace" / "templates", ROOT / "pipelines" / "validate" / "templates")
_CALL = re.compile(r"""(?<![\w.])t\(\s*['"]([\w.]+)['"]\s*[,)]""")
"""A template's ``t('id')`` or ``t('id', name=...)``; ``t('prefix.' ~ value)`` is not a whole id."""


def test_every_message_id_exists_in_every_language() -> None:
    english = set(CATALOGUE["en"])
    for language in LANGUAGES:
        held = set(CATALOGUE[language])
        assert held - english == set(), f"{language} has ids English lacks"
        assert english - held == set(), f"{language} lacks ids"


@pytest.mark.parametrize("language", [x for x in LANGUAGES if x != "en"])
def test_every_translation_has_the_same_placeholders_as_english(language: str) -> None:
    wrong = {
        key: (placeholders(english), placeholders(CATALOGUE[language][key]))  # type: ignore[index]
        for key, english in CATALOGUE["en"].items()
        if placeholders(english) != placeholders(CATALOGUE[language][key])  # type: ignore[index]
    }
    assert wrong == {}


def test_chinese_messages_are_written_in_chinese() -> None:
    # A copy-pasted English string left in the Chinese catalogue is a missing translation.
    untranslated = [
        key
        for key, message in CATALOGUE["zh_CN"].items()
        if re.search("[A-Za-z]{3}", message) and not re.search("[\u4e00-\u9fff]", message)
    ]
    assert untranslated == []


def test_every_message_id_a_template_asks_for_exists() -> None:
    asked = {
        (path.name, key)
        for folder in TEMPLATE_DIRS
        for path in folder.iterdir()
        for key in _CALL.findall(path.read_text(encoding="utf-8"))
    }
    assert len(asked) > 50  # the pattern finds the calls: the check below is not vacuous
    missing = sorted((name, key) for name, key in asked if key not in CATALOGUE["en"])
    assert missing == []


def test_text_fills_placeholders_and_refuses_an_unknown_id() -> None:
    assert text("zh_CN", "search.none", q="王小明") == "没有与“王小明”匹配的客户。"
    assert text("en", "customer.records", count=3) == "3 source record(s)"
    with pytest.raises(UnknownMessage):
        text("en", "no.such.message")


def test_term_words_a_known_value_and_passes_an_unknown_one_through() -> None:
    t = Translator("zh_CN")
    assert t.term("role", "steward") == "数据管理员"
    assert t.term("match_kind", "a-new-kind") == "a-new-kind"
    assert t.term("severity", None) == ""
    assert t.html_lang == "zh-Hans"


@pytest.mark.parametrize(
    ("tag", "language"),
    [
        ("zh-CN", "zh_CN"),
        ("zh_CN.UTF-8", "zh_CN"),
        ("zh-Hans-SG", "zh_CN"),
        ("zh", "zh_CN"),
        ("ZH-cn", "zh_CN"),
        ("zh-TW", None),
        ("zh-Hant-HK", None),
        ("en-GB", "en"),
        ("C", "en"),
        ("C.UTF-8", "en"),
        ("fr-FR", None),
        ("", None),
    ],
)
def test_language_of_tag(tag: str, language: str | None) -> None:
    assert language_of_tag(tag) == language


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh_CN"),
        ("en-US,en;q=0.9,zh-CN;q=0.8", "en"),
        ("fr-FR, de;q=0.9, zh-CN;q=0.5", "zh_CN"),
        ("en;q=0.4, zh-CN;q=0.6", "zh_CN"),
        ("zh-CN;q=0, en", "en"),
        ("zh-CN;q=abc, en;q=0.1", "en"),
        ("zh-TW, fr", None),
        ("*", None),
        ("", None),
        (None, None),
    ],
)
def test_accept_language_picks_the_best_weighted_language_we_hold(
    header: str | None, language: str | None
) -> None:
    assert from_accept_language(header) == language


def test_locale_variables_are_read_in_gettext_order() -> None:
    assert from_environment({"LANG": "zh_CN.UTF-8"}) == "zh_CN"
    assert from_environment({"LC_ALL": "en_US.UTF-8", "LANG": "zh_CN.UTF-8"}) == "en"
    assert from_environment({"LC_MESSAGES": "zh_CN.UTF-8", "LANG": "en_GB.UTF-8"}) == "zh_CN"
    assert from_environment({}) is None


def test_choose_user_choice_then_config_then_reader_software() -> None:
    zh = "zh-CN,zh;q=0.9"
    assert choose("auto", accept_language=zh) == "zh_CN"
    assert choose("auto", accept_language="en-US") == "en"
    assert choose("auto") == "en"
    assert choose("en", accept_language=zh) == "en"  # the config fixes it for everyone...
    assert choose("en", user_choice="zh_CN", accept_language="en") == "zh_CN"  # ...but a user
    assert choose("zh_CN", user_choice="klingon") == "zh_CN"  # a forged cookie is ignored
    assert choose("auto", environ={"LANG": "zh_CN.UTF-8"}) == "en"  # not asked
    assert choose("auto", environ={"LANG": "zh_CN.UTF-8"}, ask_environment=True) == "zh_CN"


def test_files_a_run_writes_are_english_unless_a_language_is_set() -> None:
    assert for_files("auto") == "en"
    assert for_files("zh_CN") == "zh_CN"


def test_refusals_said_by_id_read_as_their_english_text_and_in_chinese(tmp_path: Path) -> None:
    """matching.decisions cannot import the catalogue, so it writes its English beside the
    message id: the two must say the same, and the id must have a Chinese text."""
    from matching.decisions import DecisionError, DecisionStore
    from pipelines.i18n import explain

    store = DecisionStore(tmp_path / "decisions.jsonl")
    first = store.add_must_link("crm:1", "web:2", "ana", "same")
    store.add_must_link("web:2", "shop:3", "ana", "same")
    store.add_cannot_link("crm:9", "web:8", "ana", "apart")
    refusals = [
        ("error.no_decision", lambda: store.revoke("D-nope", "ana", "r")),
        ("error.same_record", lambda: store.add_cannot_link("crm:1", "crm:1", "ana", "r")),
        ("error.link_exists", lambda: store.add_cannot_link("web:2", "crm:1", "ana", "r")),
        (
            "error.new_cannot_link_contradiction",
            lambda: store.add_cannot_link("crm:1", "shop:3", "ana", "r"),
        ),
        ("error.contradiction", lambda: store.add_must_link("shop:3", "crm:9", "ana", "r")),
    ]
    store.add_must_link("web:8", "shop:3", "ana", "same")  # crm:9 ~ web:8 is a cannot-link
    revocation = None

    def revoke_twice() -> None:
        nonlocal revocation
        revocation = store.revoke(first.decision_id, "ana", "undo")
        store.revoke(first.decision_id, "ana", "r")

    refusals += [
        ("error.already_revoked", revoke_twice),
        ("error.revoke_revocation", lambda: store.revoke(revocation.decision_id, "ana", "r")),
    ]
    for expected, refuse in refusals:
        with pytest.raises(DecisionError) as caught:
            refuse()
        ((key, _),) = caught.value.message_parts
        assert key == expected
        assert explain("en", caught.value) == str(caught.value), key
        chinese = explain("zh_CN", caught.value)
        assert re.search("[\u4e00-\u9fff]", chinese) and not re.search(
            "[a-z]{4,} [a-z]{4,}", chinese
        ), chinese
    assert explain("zh_CN", ValueError("a library's own words")) == "a library's own words"


def test_a_decision_described_by_id_reads_as_describe_in_english() -> None:
    from datetime import UTC, datetime

    from matching.decisions import Decision

    at = datetime(2026, 1, 2, tzinfo=UTC)
    common = {"actor": "ana", "reason": "r", "decided_at": at}
    decisions = [
        Decision(decision_id="D-1", kind="must_link", record_key_l="a:1", record_key_r="b:2",
                 **common),
        Decision(decision_id="D-2", kind="cannot_link", record_key_l="a:1", record_key_r="b:2",
                 **common),
        Decision(decision_id="D-3", kind="pin", golden_id="G-1", field="city", value="Köln",
                 **common),
        Decision(decision_id="D-4", kind="revoke", revokes="D-1", **common),
    ]  # fmt: skip
    t = Translator("zh_CN")
    for decision in decisions:
        key, values = decision.message()
        assert text("en", key, **values) == decision.describe()
    assert t.say([decisions[1].message()]) == "不得关联 a:1 ~ b:2"
    assert t.say([decisions[2].message()]) == "锁定 G-1.city = 'Köln'"


def test_a_refused_steward_decision_says_why_in_either_language(tmp_path: Path) -> None:
    from pipelines.errors import UsageError
    from pipelines.i18n import explain
    from pipelines.stewardship import Link, write_decisions

    with pytest.raises(UsageError) as caught:
        write_decisions(tmp_path, [Link("crm:1", "web:2", True)], "ana", "  ")
    assert str(caught.value) == "a decision needs a reason (kept with it for the audit trail)"
    assert explain("zh_CN", caught.value) == "决定需要填写原因（与决定一起记入审计日志）"
