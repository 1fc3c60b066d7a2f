"""JSON Lines: one object per line, every top-level key a column.

Polars reads the file with every column typed as text, which keeps strings as sent, integers
with every digit, ``true``/``false`` as such and nested values as JSON text; floats are written
in their shortest exact form (``1.10`` becomes ``1.1``). When Polars refuses the file, each line
is checked on its own with the ``json`` module: bad lines become rejects with their line number
and the good ones are read by Polars exactly as a clean file would be. A key that appears twice
in one object keeps its first value.
"""

from __future__ import annotations

import codecs
import json
import logging
from collections.abc import Sequence

import polars as pl

from pipelines.ingest.chunks import Locator, RawChunk, Reject

logger = logging.getLogger(__name__)


def read_jsonl(origin: str, data: bytes, encoding: str = "utf-8") -> RawChunk:
    """Parse one JSON Lines file (already decompressed) into a chunk."""
    encoding = codecs.lookup(encoding).name
    if encoding in ("utf-8", "utf-8-sig"):
        data = data.removeprefix(b"\xef\xbb\xbf")
        encoding = "utf-8"
    utf8 = _as_utf8(data, encoding)
    if utf8 is not None:
        try:
            frame = _read(utf8, list(_schema(utf8)))
        except pl.exceptions.PolarsError as exc:
            logger.info("%s: fast JSON parse failed (%s); checking it line by line", origin, exc)
        else:
            return RawChunk(origin, frame, _locator(data, encoding))
    return _parse_precisely(origin, data, encoding)


def _as_utf8(data: bytes, encoding: str) -> bytes | None:
    if encoding == "utf-8":
        return data  # Polars checks UTF-8 itself
    try:
        return data.decode(encoding).encode("utf-8")
    except UnicodeDecodeError:
        return None


def _schema(utf8: bytes) -> pl.Schema:
    """Every key of every line (Polars' inference reads them all)."""
    if not utf8.strip():
        return pl.Schema()
    return pl.scan_ndjson(utf8, infer_schema_length=None).collect_schema()


def _read(utf8: bytes, columns: list[str]) -> pl.DataFrame:
    if not columns:  # only empty objects: rows without a single column
        return pl.DataFrame(height=sum(1 for line in utf8.splitlines() if line.strip()))
    return pl.read_ndjson(utf8, schema={c: pl.String for c in columns})


def _locator(data: bytes, encoding: str) -> Locator:
    """Line numbers and text of rows by position (blank lines hold no row)."""

    def locate(rows: Sequence[int]) -> list[tuple[int | None, str | None]]:
        wanted = set(rows)
        found: dict[int, tuple[int | None, str | None]] = {}
        position = 0
        for number, raw in enumerate(data.splitlines(), start=1):
            if not raw.strip():
                continue
            if position in wanted:
                found[position] = (number, raw.decode(encoding, errors="backslashreplace"))
                if len(found) == len(wanted):
                    break
            position += 1
        return [found.get(r, (None, None)) for r in rows]

    return locate


def _parse_precisely(origin: str, data: bytes, encoding: str) -> RawChunk:
    rejects: list[Reject] = []
    decoded: list[tuple[int, str]] = []
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            decoded.append((number, raw.decode(encoding)))
        except UnicodeDecodeError as exc:
            reason = (
                f"not valid {encoding} text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
            )
            rejects.append(Reject(origin, number, reason, raw.decode(encoding, "backslashreplace")))

    good: list[tuple[int, str]] = []
    for number, text, problem in _hunt(decoded):
        if problem is None:
            good.append((number, text))
        else:
            rejects.append(Reject(origin, number, _reason(text, problem), text))

    frames: list[pl.DataFrame] = []
    kept: list[tuple[int, str]] = []
    try:  # the column order a clean file of the good lines would have
        columns = list(_schema(_joined(good)))
    except pl.exceptions.PolarsError:
        columns = list(dict.fromkeys(k for _, t in good for k in _keys(t)))
    _read_good(origin, good, columns, frames, kept, rejects)
    frame = (
        pl.concat(frames, how="vertical")
        if frames
        else pl.DataFrame(schema={c: pl.String for c in columns})
    )
    rejects.sort(key=lambda r: r.line or 0)
    if rejects:
        logger.warning("%s: %d line(s) could not be parsed", origin, len(rejects))

    def locate(rows: Sequence[int]) -> list[tuple[int | None, str | None]]:
        return [kept[r] for r in rows]

    return RawChunk(origin, frame, locate, rejects)


def _hunt(lines: list[tuple[int, str]]) -> list[tuple[int, str, str | None]]:
    """Each line with the parser's complaint, or None. Groups the parser accepts are done in one
    call; a refused group is halved until the refused lines are alone, so a few bad lines in a
    large file cost a few extra passes, not a Python parse of every line."""
    if not lines:
        return []
    try:
        _schema(_joined(lines))
        return [(n, t, None) for n, t in lines]
    except pl.exceptions.PolarsError as exc:
        if len(lines) == 1:
            return [(lines[0][0], lines[0][1], str(exc))]
    middle = len(lines) // 2
    return _hunt(lines[:middle]) + _hunt(lines[middle:])


def _reason(text: str, parser_error: str) -> str:
    """Why a line is not a JSON object, in the ``json`` module's precise words."""
    try:
        value = json.loads(text, parse_constant=_not_json)
    except json.JSONDecodeError as exc:
        return f"not valid JSON: {exc.msg} at column {exc.colno}"
    except ValueError as exc:
        return f"not valid JSON: {exc}"
    if not isinstance(value, dict):
        kind = "an array" if isinstance(value, list) else "a scalar value"
        return f"is {kind}, not a JSON object"
    return f"not readable as JSON: {parser_error}"


def _keys(text: str) -> list[str]:
    value = json.loads(text)
    return list(value) if isinstance(value, dict) else []


def _joined(lines: list[tuple[int, str]]) -> bytes:
    return "\n".join(t for _, t in lines).encode("utf-8")


def _read_good(
    origin: str,
    lines: list[tuple[int, str]],
    columns: list[str],
    frames: list[pl.DataFrame],
    kept: list[tuple[int, str]],
    rejects: list[Reject],
) -> None:
    """Read lines the ``json`` module accepted; halve any group Polars still refuses until the
    line it refuses is found, so one odd line never costs the others."""
    if not lines:
        return
    try:
        frames.append(_read(_joined(lines), columns))
        kept.extend(lines)
    except pl.exceptions.PolarsError as exc:
        if len(lines) == 1:
            number, text = lines[0]
            rejects.append(Reject(origin, number, f"not readable as JSON: {exc}", text))
            return
        middle = len(lines) // 2
        _read_good(origin, lines[:middle], columns, frames, kept, rejects)
        _read_good(origin, lines[middle:], columns, frames, kept, rejects)


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not a JSON value")
