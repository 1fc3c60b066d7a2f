"""Run a suite's Python regular expressions on Polars' Rust regex engine, with Python's meaning.

GX's pandas engine evaluates ``regex`` arguments with Python's ``re`` (search semantics). Polars
uses Rust's ``regex`` crate, whose syntax looks the same but means different things at the edges:
``$`` also matches before a final newline in Python, ``\\s`` includes ``\\x1c``-``\\x1f`` in
Python, ``\\w`` follows ``str.isalnum`` in Python but Unicode properties in Rust, ``[[:alpha:]]``
is a POSIX class in Rust and a plain character set in Python. Passing the text through would
flag different rows than GX does.

So the pattern is not passed through: it is parsed by Python's own regex parser and rebuilt as a
Rust pattern from that parse tree, with every literal escaped and every class (``\\d``, ``\\s``,
``\\w``, ``.``) spelled out as the exact set of code points Python's ``re`` uses. Constructs
with no exact Rust equivalent (look-around, back-references, ``\\b``, inline flags, a ``$``
followed by more pattern) are refused, and the caller evaluates those with Python's ``re`` over
the column's distinct values instead; both paths give Python's answer.
"""

from __future__ import annotations

import re
import re._constants as sre_c
import re._parser as sre_p
import sys
from functools import cache
from typing import Any

import numpy as np


class UntranslatableRegex(ValueError):
    """The pattern uses a construct whose Python meaning has no exact Rust spelling."""


def to_rust_regex(pattern: str) -> str:
    """A Rust ``regex`` pattern that matches (searches) exactly where Python's ``re`` does.

    Raises :class:`UntranslatableRegex` for constructs outside the translated subset and
    :class:`re.error` for a pattern Python itself rejects.
    """
    parsed = sre_p.parse(pattern, 0)
    flags = parsed.state.flags & ~sre_c.SRE_FLAG_UNICODE
    if flags:
        raise UntranslatableRegex(f"inline flags are not translated: {pattern!r}")
    return _sequence(list(parsed), at_tail=True)


def _sequence(items: list[tuple[Any, Any]], *, at_tail: bool) -> str:
    out = []
    for position, (op, arg) in enumerate(items):
        tail = at_tail and position == len(items) - 1
        out.append(_node(op, arg, at_tail=tail))
    return "".join(out)


def _node(op: Any, arg: Any, *, at_tail: bool) -> str:
    if op is sre_c.LITERAL:
        return _char(arg)
    if op is sre_c.NOT_LITERAL:
        return f"[^{_char(arg)}]"
    if op is sre_c.ANY:
        return "[^\\n]"  # no DOTALL: anything but a newline
    if op is sre_c.IN:
        return _char_class(arg)
    if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
        low, high, body = arg
        # A repeated group that ends the pattern can still end in '$': keep at_tail for it.
        inner = _sequence(list(body), at_tail=at_tail)
        bound = f"{{{low},}}" if high is sre_c.MAXREPEAT else f"{{{low},{high}}}"
        lazy = "?" if op is sre_c.MIN_REPEAT else ""
        return f"(?:{inner}){bound}{lazy}"
    if op is sre_c.SUBPATTERN:
        _group, add_flags, del_flags, body = arg
        if add_flags or del_flags:
            raise UntranslatableRegex("scoped inline flags are not translated")
        return f"(?:{_sequence(list(body), at_tail=at_tail)})"
    if op is sre_c.BRANCH:
        _none, alternatives = arg
        parts = [_sequence(list(alt), at_tail=at_tail) for alt in alternatives]
        return "(?:" + "|".join(parts) + ")"
    if op is sre_c.AT:
        if arg in (sre_c.AT_BEGINNING, sre_c.AT_BEGINNING_STRING):
            return "\\A"
        if arg is sre_c.AT_END_STRING:
            return "\\z"
        if arg is sre_c.AT_END and at_tail:
            # Python's '$' matches at the end or before a final newline. With nothing after it,
            # consuming that newline finds a match exactly when the assertion would.
            return "(?:\\n?\\z)"
        raise UntranslatableRegex(f"{arg} is not translated here")
    raise UntranslatableRegex(f"{op} is not translated")


def _char(code: int) -> str:
    return f"\\x{{{code:x}}}"


def _char_class(items: list[tuple[Any, Any]]) -> str:
    negate = False
    parts: list[str] = []
    for op, arg in items:
        if op is sre_c.NEGATE:
            negate = True
        elif op is sre_c.LITERAL:
            parts.append(_char(arg))
        elif op is sre_c.RANGE:
            low, high = arg
            parts.append(f"{_char(low)}-{_char(high)}")
        elif op is sre_c.CATEGORY:
            parts.append(_category(arg))
        else:
            raise UntranslatableRegex(f"{op} inside a character class is not translated")
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


def _category(category: Any) -> str:
    """A nested Rust class holding exactly the code points of Python's ``re`` category."""
    sets = {
        sre_c.CATEGORY_DIGIT: ("", "decimal"),
        sre_c.CATEGORY_NOT_DIGIT: ("^", "decimal"),
        sre_c.CATEGORY_SPACE: ("", "space"),
        sre_c.CATEGORY_NOT_SPACE: ("^", "space"),
        sre_c.CATEGORY_WORD: ("", "word"),
        sre_c.CATEGORY_NOT_WORD: ("^", "word"),
    }
    if category not in sets:
        raise UntranslatableRegex(f"{category} is not translated")
    negate, name = sets[category]
    return f"[{negate}{_ranges(name)}]"


@cache
def _ranges(name: str) -> str:
    """Python ``re``'s own definition of a category for ``str`` patterns, as Rust class ranges.

    Python's matcher is asked directly: every run of code points ``\\d``, ``\\s`` or ``\\w``
    matches in a string of all of Unicode is one range, so the answer follows the Unicode
    version and the rules (``str.isdecimal``, ``str.isspace``, ``str.isalnum`` or ``_``) of the
    running Python.
    """
    pattern = {"decimal": r"\d+", "space": r"\s+", "word": r"\w+"}[name]
    out: list[str] = []
    for match in re.finditer(pattern, _all_code_points()):
        start, end = ord(match.group()[0]), ord(match.group()[-1])
        out.append(_char(start) if start == end else f"{_char(start)}-{_char(end)}")
    return "".join(out)


@cache
def _all_code_points() -> str:
    # Surrogates cannot occur in text Polars holds (valid UTF-8), so they split no range.
    codes = np.concatenate([np.arange(0xD800), np.arange(0xE000, sys.maxunicode + 1)])
    return codes.astype("<u4").tobytes().decode("utf-32-le")


def python_search(pattern: str) -> Any:
    """Python's own matcher for a pattern, as GX's pandas engine uses it."""
    return re.compile(pattern).search
