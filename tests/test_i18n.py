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
