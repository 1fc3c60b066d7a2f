"""Which language a reader gets: the config's setting, a user's own choice, the browser's
``Accept-Language`` or the terminal's locale, in that order of who decides.

``language: en`` or ``zh_CN`` in the config fixes the default for everyone; ``auto`` lets each
reader's software say (the workspace reads the browser's header, ``golden run`` the locale
variables). Files written by a run (Data Docs, the scorecard report) have no reader to ask, so
``auto`` writes them in English: a rerun must give the same pages whatever machine runs it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from pipelines.i18n.catalogue import DEFAULT_LANGUAGE, LANGUAGES, Language

LanguageSetting = Literal["auto", "en", "zh_CN"]
"""The config's choice: one language for everyone, or ``auto`` (each reader's software says)."""

_TRADITIONAL = ("tw", "hk", "mo", "hant")
"""Chinese tags of Traditional-script readers: Simplified is not offered to them unasked."""


def language_of_tag(tag: str) -> Language | None:
    """The catalogue's language for a BCP 47 tag or POSIX locale name (``zh-CN``, ``zh_CN.UTF-8``,
    ``zh-Hans-SG``, ``en-GB``), or None when the catalogue has none for it."""
    tag = tag.strip().split(".")[0].split("@")[0].replace("_", "-").lower()
    if not tag:
        return None
    parts = tag.split("-")
    if parts[0] == "zh":
        return None if any(p in _TRADITIONAL for p in parts[1:]) else "zh_CN"
    if parts[0] == "en" or tag in ("c", "posix"):
        return "en"
    return None


def from_accept_language(header: str | None) -> Language | None:
    """The best language the catalogue holds among a browser's ``Accept-Language`` choices,
    by their q-values (a malformed weight counts as 0, so it never wins); None when it names
    none we hold."""
    if not header:
        return None
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")[:50]):  # a header is not a workload
        tag, _, params = item.partition(";")
        weight = 1.0
        params = params.strip()
        if params:
            name, _, value = params.partition("=")
            try:
                weight = float(value) if name.strip().lower() == "q" else 0.0
            except ValueError:
                weight = 0.0
        if weight > 0:
            weighted.append((-weight, position, tag))
    for _, _, tag in sorted(weighted):
        language = language_of_tag(tag)
        if language is not None:
            return language
    return None


def from_environment(environ: Mapping[str, str] | None = None) -> Language | None:
    """The terminal's language as gettext reads it: ``LC_ALL``, then ``LC_MESSAGES``, then
    ``LANG`` (the first one set decides)."""
    environ = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name, "")
        if value:
            return language_of_tag(value)
    return None


def choose(
    setting: LanguageSetting,
    *,
    user_choice: str | None = None,
    accept_language: str | None = None,
    environ: Mapping[str, str] | None = None,
    ask_environment: bool = False,
) -> Language:
    """The language to show: a user's own valid choice wins, then a fixed setting, then (with
    ``auto``) the browser's header or, when asked, the locale variables; English otherwise."""
    if user_choice in LANGUAGES:
        return user_choice  # type: ignore[return-value]  # checked just above
    if setting != "auto":
        return setting
    found = from_accept_language(accept_language)
    if found is None and ask_environment:
        found = from_environment(environ)
    return found or DEFAULT_LANGUAGE


def for_files(setting: LanguageSetting) -> Language:
    """The language of pages a run writes to disk: the setting, or English for ``auto``."""
    return DEFAULT_LANGUAGE if setting == "auto" else setting
