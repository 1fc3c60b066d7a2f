"""Reading the config file's YAML within bounds.

YAML aliases let a few lines stand for an enormous structure: nine aliases of nine aliases
("billion laughs") compose in microseconds, but every later walk of the result (validation,
an error message that shows the value) visits each alias again, for minutes, until memory runs
out. A config is a few hundred values written by hand, so the file is refused before anything
walks it when its values, aliases expanded, exceed :data:`MAX_VALUES`, when it uses more than
:data:`MAX_ALIASES` aliases, nests deeper than the parser can follow, or is larger than
:data:`MAX_BYTES`. Each refusal names the file and, where there is one, the line.
"""

from __future__ import annotations

import reprlib
from pathlib import Path
from typing import Any

import yaml

from pipelines.errors import ConfigError

MAX_BYTES = 4 * 1024 * 1024
"""Largest config file read (a real one is a few kilobytes)."""
MAX_VALUES = 100_000
"""Most scalars, lists and mappings the document may hold with every alias expanded."""
MAX_ALIASES = 1_000
"""Most alias uses (``*name``) in one document."""


class _CountingLoader(yaml.SafeLoader):
    """A safe loader that counts alias uses as it composes, and stops past the limit."""

    def __init__(self, stream: str, path: Path) -> None:
        super().__init__(stream)
        self.path = path
        self.aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                line = self.peek_event().start_mark.line + 1
                raise ConfigError(
                    f"config file {self.path} uses more than {MAX_ALIASES:,} YAML aliases "
                    f"(line {line}): write the values out instead"
                )
        return super().compose_node(parent, index)  # type: ignore[misc]


def load_yaml(text: str, path: Path) -> tuple[Any, yaml.Node | None]:
    """The document in ``text`` as Python data, and its node tree (for line numbers)."""
    if len(text) > MAX_BYTES:
        raise ConfigError(
            f"config file {path} is {len(text):,} characters; a config is at most "
            f"{MAX_BYTES:,} (is it the right file?)"
        )
    loader = _CountingLoader(text, path)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, None
        _check_expanded_size(root, path)
        return loader.construct_document(root), root
    except yaml.YAMLError as exc:
        problem = shorten(str(exc), 500)
        raise ConfigError(f"config file {path} is not valid YAML: {problem}") from exc
    except RecursionError:
        raise ConfigError(
            f"config file {path} nests lists or mappings too deeply to read"
        ) from None
    finally:
        loader.dispose()


def _check_expanded_size(root: yaml.Node, path: Path) -> None:
    """Count the values of the document with every alias expanded, without expanding any.

    Each node's expanded size is computed once (memoised by identity), so a bomb is measured in
    time proportional to its text, and refused as soon as the running total passes the limit.
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in on_path:
            raise ConfigError(
                f"config file {path} has a YAML alias inside its own anchor "
                f"(line {node.start_mark.line + 1}): a value cannot contain itself"
            )
        on_path.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            children: list[yaml.Node] = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            children = []
        for child in children:
            total += size(child)
            if total > MAX_VALUES:
                raise ConfigError(
                    f"config file {path} holds more than {MAX_VALUES:,} values once its YAML "
                    f"aliases are expanded (from line {node.start_mark.line + 1}): an alias "
                    "bomb? A config needs a few hundred; write the values out"
                )
        on_path.discard(key)
        sizes[key] = total
        return total

    size(root)


def shorten(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr(value)`` for an error message, bounded whatever the value's size.

    :mod:`reprlib` renders at most a few items per container and two levels deep, so a large
    value costs nothing to describe; the result is then cut to about ``limit`` characters.
    """
    shown = _REPR.repr(value)
    if isinstance(value, str) and len(value) > limit:
        return f"{shown[: limit + 1]}… ({len(value):,} characters)"
    return shorten(shown, limit)


_REPR = reprlib.Repr()
_REPR.maxlevel = 2
_REPR.maxdict = _REPR.maxlist = _REPR.maxtuple = _REPR.maxset = 4
_REPR.maxstring = _REPR.maxother = 120
