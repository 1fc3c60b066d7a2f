"""Ways people and systems garble a value: typos, odd case, stray spaces, ASCII folding.

Each function takes the random source explicitly (a seeded :class:`random.Random`), so the
generator stays deterministic, and always returns a value that differs from its input when that
is possible: a "typo" that leaves the name unchanged would make the measured noise rates lie.
"""

from __future__ import annotations

import random
import unicodedata
from functools import lru_cache

from pipelines.sample.vocab import KEYBOARD_NEIGHBOURS

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_TYPO_KINDS = ("insert", "delete", "substitute", "transpose", "adjacent")
# Spaces that creep in from copy-paste and web forms.
_SPACES = (" ", " ", " ", "\u00a0", "\t")


def typo(text: str, rng: random.Random) -> str:
    """One keying error: insert, delete, substitute, transpose or hit a neighbouring key.

    The first character is rarely wrong in real data (people look at the start of a word), so
    errors fall on the rest of it. Strings shorter than three characters are left alone: a typo
    in "Al" or "Li" is indistinguishable from another name.
    """
    if len(text) < 3:
        return text
    for _ in range(6):
        pos = rng.randrange(1, len(text))
        kind = _TYPO_KINDS[rng.randrange(5)]
        ch = text[pos]
        if kind == "insert":
            out = text[:pos] + _neighbour_or_same(ch, rng) + text[pos:]
        elif kind == "delete":
            out = text[:pos] + text[pos + 1 :]
        elif kind == "transpose":
            out = text[: pos - 1] + text[pos] + text[pos - 1] + text[pos + 1 :]
        elif kind == "adjacent":
            out = text[:pos] + _neighbour(ch, rng) + text[pos + 1 :]
        else:
            out = text[:pos] + _random_letter(ch, rng) + text[pos + 1 :]
        if out != text and out.strip():
            return out
    return text[:-1]


def _match_case(new: str, like: str) -> str:
    return new.upper() if like.isupper() else new


def _neighbour(ch: str, rng: random.Random) -> str:
    keys = KEYBOARD_NEIGHBOURS.get(ch.lower())
    if not keys:
        return _random_letter(ch, rng)
    return _match_case(keys[rng.randrange(len(keys))], ch)


def _neighbour_or_same(ch: str, rng: random.Random) -> str:
    """Inserted keys are usually the same key twice or a neighbour of it."""
    return ch if rng.random() < 0.5 or not ch.isascii() else _neighbour(ch, rng)


def _random_letter(ch: str, rng: random.Random) -> str:
    if not ch.isascii() or not ch.isalpha():
        return ch + ch if ch.isalpha() else _LETTERS[rng.randrange(26)]
    return _match_case(_LETTERS[rng.randrange(26)], ch)


def stray_whitespace(text: str, rng: random.Random) -> str:
    """Leading or trailing blanks, a doubled inner space, or a non-breaking space."""
    u = rng.random()
    space = _SPACES[rng.randrange(len(_SPACES))]
    if u < 0.35:
        return text + space
    if u < 0.6:
        return space + text
    if u < 0.8 and " " in text:
        return text.replace(" ", "  ", 1)
    if u < 0.9 and " " in text:
        return text.replace(" ", "\u00a0", 1)
    return " " + text + " "


@lru_cache(maxsize=65536)
def fold_ascii(text: str, german: bool = False) -> str:
    """What an ASCII-only system makes of an accented name: Müller -> Muller (or Mueller when
    ``german``), Søren -> Soren, François -> Francois. Non-Latin scripts are left unchanged
    (they need transliteration, not folding)."""
    if text.isascii():
        return text
    if german:
        for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("Ä", "Ae"), ("Ö", "Oe"), ("Ü", "Ue")):
            text = text.replace(a, b)
    for a, b in (("ß", "ss"), ("ø", "o"), ("Ø", "O"), ("æ", "ae"), ("Æ", "Ae"), ("œ", "oe")):
        text = text.replace(a, b)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def is_latin(text: str) -> bool:
    """True when every letter is Latin script (accented Latin counts)."""
    return all(not c.isalpha() or c.isascii() or "LATIN" in unicodedata.name(c, "") for c in text)


def email_local(text: str) -> str:
    """The ASCII letters and digits of a (Latin) name, lower case, for an email local part."""
    folded = fold_ascii(text).lower()
    return "".join(c for c in folded if c.isascii() and c.isalnum())
