"""The product's words in English and Simplified Chinese: a message catalogue and the choice
of language (config, the user's own switch, the browser, the terminal).

Pages, reports and the run summary ask :class:`Translator` for message ids; the catalogue
modules (``en``, ``zh_cn``) hold the text. Nothing here imports the stages, so every part of
the product (and the workspace) can use it.
"""

from pipelines.i18n.catalogue import (
    CATALOGUE,
    DEFAULT_LANGUAGE,
    HTML_LANG,
    LANGUAGES,
    NATIVE_NAMES,
    Explained,
    Language,
    MessagePart,
    Translator,
    UnknownMessage,
    explain,
    placeholders,
    say,
    text,
    translator,
)
from pipelines.i18n.choose import (
    LanguageSetting,
    choose,
    for_files,
    from_accept_language,
    from_environment,
    language_of_tag,
)

__all__ = [
    "CATALOGUE",
    "DEFAULT_LANGUAGE",
    "HTML_LANG",
    "LANGUAGES",
    "NATIVE_NAMES",
    "Explained",
    "Language",
    "LanguageSetting",
    "MessagePart",
    "Translator",
    "UnknownMessage",
    "choose",
    "explain",
    "for_files",
    "from_accept_language",
    "from_environment",
    "language_of_tag",
    "placeholders",
    "say",
    "text",
    "translator",
]
