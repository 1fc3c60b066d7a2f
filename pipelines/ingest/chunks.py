"""What every reader hands to the landing step, whatever the source kind.

A reader turns one file, object or result-set batch into a :class:`RawChunk`: the rows it could
parse (every column as text, under the source's own names) and a :class:`Reject` for each row it
could not. Later checks (missing id, unreadable update timestamp) reject parsed rows too, so a
chunk also knows how to point back at a row: ``locate`` gives the line number and raw text of
rows by their position, computed only when someone asks (rarely, and never on the fast path).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import polars as pl

Locator = Callable[[Sequence[int]], list[tuple[int | None, str | None]]]
"""Row positions in ``RawChunk.frame`` -> (1-based line or row number, raw text) of each."""


@dataclass(frozen=True)
class Reject:
    """A row that could not be landed, with enough to find and fix it at the source."""

    origin: str
    """File path, ``s3://`` URL or database table/query label."""
    line: int | None
    """1-based line of a text file, or 1-based row number of a Parquet file or result set."""
    reason: str
    raw: str | None


@dataclass
class RawChunk:
    """Rows of one origin as the source sent them."""

    origin: str
    frame: pl.DataFrame
    """Every source column, as ``pl.String``, in the source's column order."""
    locate: Locator
    rejects: list[Reject] = field(default_factory=list)
    filtered_at_source: bool = False
    """True when the reader already applied the watermark (a SQL ``WHERE``)."""

    @property
    def rows_read(self) -> int:
        """Rows the source delivered in this chunk, parsable or not."""
        return self.frame.height + len(self.rejects)


def positional_locator(
    first_number: int, raw_text: Callable[[int], str | None] | None = None
) -> Locator:
    """A locator for sources whose rows are numbered consecutively (Parquet, result sets)."""

    def locate(rows: Sequence[int]) -> list[tuple[int | None, str | None]]:
        return [(first_number + r, raw_text(r) if raw_text else None) for r in rows]

    return locate
