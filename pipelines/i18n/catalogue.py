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
from collections.abc import Iterable, Mapping
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


MessagePart = tuple[str, Mapping[str, object]]
"""A message id and its values: a sentence said by id, so each reader gets it in their language."""

_TERM_VALUES: dict[str, str] = {
    "kind": "decision_kind",
    "existing": "decision_kind",
    "role": "role",
}
"""Message values that name a data term (a decision kind, a role): said in words, as
:meth:`Translator.term` says them, wherever a message carries one."""


def say(language: Language, parts: Iterable[MessagePart]) -> str:
    """Message parts joined in ``language`` (a sentence and its clauses, said by id)."""
    t = Translator(language)
    out = []
    for key, values in parts:
        shown = {
            name: t.term(_TERM_VALUES[name], value) if name in _TERM_VALUES else value
            for name, value in values.items()
        }
        out.append(text(language, key, **shown))
    return "".join(out)


def explain(language: Language, error: BaseException) -> str:
    """An error in the reader's language when it says what it means by message ids (a
    ``message_parts`` attribute of :data:`MessagePart`), else its own text: an error raised
    where no catalogue is known (a library, a damaged file) keeps its words."""
    parts = getattr(error, "message_parts", None)
    if not parts or any(key not in EN for key, _ in parts):
        return str(error)
    return say(language, parts)


class Explained(Exception):
    """An error said by catalogue message ids: ``str()`` is its English text (logs, the CLI,
    the JSON API), :func:`explain` gives it in any language the catalogue holds."""

    def __init__(self, *parts: MessagePart):
        self.message_parts: list[MessagePart] = list(parts)
        super().__init__(say(DEFAULT_LANGUAGE, self.message_parts))


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

    def error(self, error: BaseException) -> str:
        """``error`` in this language (:func:`explain`)."""
        return explain(self.language, error)

    def say(self, parts: Iterable[MessagePart | Mapping[str, object]]) -> str:
        """Message parts in this language; a part may be a mapping with ``id`` and ``values``
        (as the workspace's reads return them to templates)."""
        return say(
            self.language,
            (
                (str(p["id"]), p.get("values") or {})  # type: ignore[misc]
                if isinstance(p, Mapping)
                else p
                for p in parts
            ),
        )

    @property
    def html_lang(self) -> str:
        return HTML_LANG[self.language]


def translator(language: Language = DEFAULT_LANGUAGE) -> Translator:
    return Translator(language)
