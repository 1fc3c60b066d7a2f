"""Messages by id, in every language the product speaks, and one way to look them up.

A page or report never holds its own words: it asks for a message id (``nav.customers``) in a
language and fills the named placeholders (``{count}``). The catalogue is plain Python
dictionaries, one module per language, so it needs no compile step and no extra package, and a
test can check that every id exists in every language with the same placeholders. Values
filled in are the caller's to escape: templates autoescape the whole message, placeholders and
all, so a source value placed in a message stays text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from string import Formatter
from typing import Literal, get_args

from pipelines.i18n.en import MESSAGES as EN
from pipelines.i18n.zh_cn import MESSAGES as ZH_CN

logger = logging.getLogger(__name__)

Language = Literal["en", "zh_CN"]
"""A language the catalogue holds."""
LANGUAGES: tuple[Language, ...] = get_args(Language)
DEFAULT_LANGUAGE: Language = "en"

CATALOGUE: dict[Language, dict[str, str]] = {"en": EN, "zh_CN": ZH_CN}

HTML_LANG: dict[Language, str] = {"en": "en", "zh_CN": "zh-Hans"}
"""The ``lang`` attribute of a page in each language (BCP 47: Simplified Chinese script)."""

NATIVE_NAMES: dict[Language, str] = {"en": "English", "zh_CN": "中文"}
"""Each language named in itself, for the language switch."""


class UnknownMessage(KeyError):
    """A message id no language holds: a typo in a template or in code, caught by tests."""


def placeholders(message: str) -> set[str]:
    """The named fields of a message (``{count:,}`` counts as ``count``)."""
    return {name for _, name, _, _ in Formatter().parse(message) if name}


def text(language: Language, key: str, /, **values: object) -> str:
    """The message ``key`` in ``language`` with ``values`` filled in.

    A message missing from a language falls back to English (logged, so a half-translated
    catalogue still renders); an id missing from English too is an error."""
    messages = CATALOGUE.get(language, EN)
    template = messages.get(key)
    if template is None:
        template = EN.get(key)
        if template is None:
            raise UnknownMessage(key)
        logger.warning("message %r has no %s text; English shown", key, language)
    return template.format(**values) if values else template


@dataclass(frozen=True)
class Translator:
    """The catalogue bound to one language: ``t("nav.customers")`` in templates and code."""

    language: Language = DEFAULT_LANGUAGE

    def __call__(self, key: str, /, **values: object) -> str:
        return text(self.language, key, **values)

    def term(self, group: str, value: object) -> str:
        """A data term (a role, a match kind, a status) in words when the catalogue has
        ``group.value``; otherwise the value as the data says it, never an error."""
        key = f"{group}.{value}"
        if key in CATALOGUE.get(self.language, EN) or key in EN:
            return text(self.language, key)
        return "" if value is None else str(value)

    @property
    def html_lang(self) -> str:
        return HTML_LANG[self.language]


def translator(language: Language = DEFAULT_LANGUAGE) -> Translator:
    return Translator(language)
