"""Delimited text: a fast strict parse, and a precise one that finds the bad lines.

Most files are clean, so the first attempt hands the whole file to pyarrow's multi-threaded
CSV parser with every column typed as text; it refuses any row with the wrong number of fields
and any invalid text. Only when it refuses does the file go through Python's ``csv`` module line
by line, which knows the physical line each record starts on: bad rows become rejects with their
line number and raw text, and the good rows are kept. Both paths read the same dialect, so a
clean file gives the same rows whichever path read it.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from pipelines.errors import SourceError
from pipelines.ingest.chunks import Locator, RawChunk, Reject
from pipelines.ingest.config import CsvOptions

logger = logging.getLogger(__name__)

_UTF8_BOM = b"\xef\xbb\xbf"
_HEADER_PROBE = 1 << 16
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass(frozen=True)
class _Record:
    start: int
    """1-based physical line the record starts on."""
    end: int
    """1-based physical line the record ends on."""
    fields: list[str]
    problem: str | None
    """Why the record cannot be used (bad encoding, unreadable), if it cannot."""


def read_csv(origin: str, data: bytes, options: CsvOptions) -> RawChunk:
    """Parse one delimited-text file (already decompressed) into a chunk."""
    encoding = codecs.lookup(options.encoding).name
    if encoding in ("utf-8", "utf-8-sig"):
        # A byte-order mark is accepted whichever of the two is configured.
        data = data.removeprefix(_UTF8_BOM)
        encoding = "utf-8"
    if not data or data.isspace():
        logger.warning("%s is empty: no header and no rows", origin)
        return RawChunk(origin, pl.DataFrame(), lambda rows: [(None, None) for _ in rows])

    names, simple_header = _header(origin, data, encoding, options)
    utf8 = _as_utf8(data, encoding)
    frame = None
    if utf8 is not None and simple_header:
        frame = _parse_fast(utf8, names, options)
    if frame is not None:
        chunk = RawChunk(origin, frame, _locator(data, encoding, options))
        return _check_last_record(chunk, data, encoding, options)
    logger.info("%s: strict parse failed, reading it line by line to find the bad rows", origin)
    return _parse_precisely(origin, data, encoding, names, options)


# --- header ------------------------------------------------------------------------------------


def _header(origin: str, data: bytes, encoding: str, options: CsvOptions) -> tuple[list[str], bool]:
    """Column names, and whether the header is exactly line 1 (what the fast parser assumes)."""
    if not options.has_header:
        return list(options.column_names or []), True
    probe = data[:_HEADER_PROBE]
    while True:
        text = probe.decode(encoding, errors="replace")
        records = (r for r in _records(io.StringIO(text, newline=""), options, {}) if r.fields)
        first = next(records, None)
        # The first record is whole if another one follows it or the probe is the whole file.
        if len(probe) == len(data) or (first is not None and next(records, None) is not None):
            break
        probe = data[: len(probe) * 4]
    if first is None:
        raise SourceError(f"{origin}: the file has no header row (set csv.has_header: false)")
    names = []
    for position, raw_name in enumerate(first.fields, start=1):
        name = raw_name.replace("\ufeff", "").strip()
        if not name:
            name = f"column_{position}"
            logger.warning(
                "%s: header column %d has no name; calling it %s", origin, position, name
            )
        names.append(name)
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SourceError(
            f"{origin}: header names column(s) {duplicates} more than once; "
            "each column needs a distinct name"
        )
    return names, first.start == 1 and first.end == 1


# --- fast path -----------------------------------------------------------------------------------


def _as_utf8(data: bytes, encoding: str) -> bytes | None:
    """The file as UTF-8 bytes for pyarrow, or None if it does not decode cleanly."""
    if encoding == "utf-8":
        return data  # pyarrow checks UTF-8 itself while converting to strings
    try:
        return data.decode(encoding).encode("utf-8")
    except UnicodeDecodeError:
        return None


def _parse_fast(utf8: bytes, names: list[str], options: CsvOptions) -> pl.DataFrame | None:
    """All rows, or None when any row is malformed (wrong field count, invalid text)."""
    read = pacsv.ReadOptions(
        use_threads=True,
        block_size=1 << 24,
        column_names=[f"c{i}" for i in range(len(names))],
        skip_rows=1 if options.has_header else 0,
    )
    parse = pacsv.ParseOptions(
        delimiter=options.delimiter,
        quote_char=options.quote_char or False,
        double_quote=options.quote_char is not None,
        escape_char=options.escape_char or False,
        newlines_in_values=True,
        ignore_empty_lines=True,
    )
    convert = pacsv.ConvertOptions(
        column_types={f"c{i}": pa.string() for i in range(len(names))},
        null_values=options.null_values,
        strings_can_be_null=bool(options.null_values),
        quoted_strings_can_be_null=bool(options.null_values),
        check_utf8=True,
    )
    try:
        table = pacsv.read_csv(
            pa.py_buffer(utf8), read_options=read, parse_options=parse, convert_options=convert
        )
    except pa.ArrowInvalid as exc:
        logger.debug("strict CSV parse refused the file: %s", exc)
        return None
    return pl.from_arrow(table.rename_columns(names))  # type: ignore[return-value]


def _locator(data: bytes, encoding: str, options: CsvOptions) -> Locator:
    """Find rows of a fast-parsed file by position, by scanning it again (only when asked)."""

    def locate(rows: Sequence[int]) -> list[tuple[int | None, str | None]]:
        wanted = set(rows)
        found: dict[int, tuple[int | None, str | None]] = {}
        lines = _text_lines(data, encoding)[0]
        for position, record in enumerate(_data_records(lines, options)):
            if position in wanted:
                found[position] = (record.start, _raw(lines, record))
                if len(found) == len(wanted):
                    break
        return [found.get(r, (None, None)) for r in rows]

    return locate


def _check_last_record(
    chunk: RawChunk, data: bytes, encoding: str, options: CsvOptions
) -> RawChunk:
    """Catch a quote opened on the last record and never closed.

    Both parsers then read the rest of the file into one field without complaint, so the rows
    it swallowed would vanish; the record is rejected instead, naming the lines it spans.
    """
    frame = chunk.frame
    if frame.height == 0 or options.quote_char is None:
        return chunk
    last = frame.row(frame.height - 1)
    if not any(isinstance(v, str) and ("\n" in v or "\r" in v) for v in last):
        return chunk
    lines = _text_lines(data, encoding)[0]
    record = None
    for record in _data_records(lines, options):  # noqa: B007 - the last one is wanted
        pass
    if record is None or not _unbalanced(_raw(lines, record), options):
        return chunk
    chunk.frame = frame.head(frame.height - 1)
    chunk.rejects.append(_unterminated(chunk.origin, lines, record))
    return chunk


# --- precise path --------------------------------------------------------------------------------


def _parse_precisely(
    origin: str, data: bytes, encoding: str, names: list[str], options: CsvOptions
) -> RawChunk:
    lines, bad_lines = _text_lines(data, encoding, origin)
    null_values = set(options.null_values)
    columns: list[list[str | None]] = [[] for _ in names]
    spans: list[_Record] = []
    rejects: list[Reject] = []
    records = list(_data_records(lines, options, bad_lines))
    for index, record in enumerate(records):
        if record.problem:
            rejects.append(Reject(origin, record.start, record.problem, _raw(lines, record)))
            continue
        if (
            index == len(records) - 1
            and record.end > record.start
            and _unbalanced(_raw(lines, record), options)
        ):
            rejects.append(_unterminated(origin, lines, record))
            continue
        if len(record.fields) != len(names):
            found = len(record.fields)
            reason = f"has {found} field{'' if found == 1 else 's'}, expected {len(names)}"
            rejects.append(Reject(origin, record.start, reason, _raw(lines, record)))
            continue
        for column, value in zip(columns, record.fields, strict=True):
            column.append(None if value in null_values else value)
        spans.append(record)
    frame = pl.DataFrame(
        {
            name: pl.Series(name, values, dtype=pl.String)
            for name, values in zip(names, columns, strict=True)
        }
    )
    if rejects:
        logger.warning("%s: %d row(s) could not be parsed", origin, len(rejects))

    def locate(rows: Sequence[int]) -> list[tuple[int | None, str | None]]:
        return [(spans[r].start, _raw(lines, spans[r])) for r in rows]

    return RawChunk(origin, frame, locate, rejects)


def _text_lines(
    data: bytes, encoding: str, origin: str = "<file>"
) -> tuple[list[str], dict[int, str]]:
    """Physical lines (with their endings) and, per 1-based line number, why it did not decode.

    Lines are cut on ``\\n``, ``\\r\\n`` and ``\\r`` as the ``csv`` module expects. For encodings
    that keep ASCII line breaks each line is decoded on its own, so one bad byte costs one row,
    not the file.
    """
    if "\n".encode(encoding, errors="ignore") != b"\n":
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise SourceError(
                f"{origin}: not valid {encoding} text at byte {exc.start}; "
                "check csv.encoding for this source"
            ) from None
        return list(io.StringIO(text, newline="")), {}
    lines: list[str] = []
    bad: dict[int, str] = {}
    for number, raw in enumerate(data.splitlines(keepends=True), start=1):
        try:
            lines.append(raw.decode(encoding))
        except UnicodeDecodeError as exc:
            lines.append(raw.decode(encoding, errors="backslashreplace"))
            bad[number] = (
                f"not valid {encoding} text (byte 0x{raw[exc.start]:02x} at column "
                f"{exc.start + 1}); check csv.encoding for this source"
            )
    return lines, bad


def _records(
    lines: Iterator[str] | io.StringIO, options: CsvOptions, bad_lines: dict[int, str]
) -> Iterator[_Record]:
    """Every record with the physical lines it spans, blank lines included (as empty)."""
    source = iter(lines)
    consumed_before = 0  # lines read by readers that stopped on an error
    end = 0  # last line of the previous record
    while True:
        reader = csv.reader(
            source,
            delimiter=options.delimiter,
            quotechar=options.quote_char or '"',
            quoting=csv.QUOTE_NONE if options.quote_char is None else csv.QUOTE_MINIMAL,
            doublequote=options.quote_char is not None,
            escapechar=options.escape_char,
            strict=False,
        )
        try:
            for fields in reader:
                start, end = end + 1, consumed_before + reader.line_num
                problem = next(
                    (bad_lines[n] for n in range(start, end + 1) if n in bad_lines), None
                )
                yield _Record(start, end, fields, problem)
            return
        except csv.Error as exc:
            # The reader cannot go on after an error; a new one continues on the next line.
            start, end = end + 1, consumed_before + reader.line_num
            consumed_before = end
            yield _Record(start, end, [], f"unreadable as CSV: {exc}")


def _data_records(
    lines: list[str], options: CsvOptions, bad_lines: dict[int, str] | None = None
) -> Iterator[_Record]:
    """Non-blank records after the header."""
    records = _records(iter(lines), options, bad_lines or {})
    header_skipped = not options.has_header
    for record in records:
        if not record.fields and not record.problem:
            continue
        if not header_skipped:
            header_skipped = True
            continue
        yield record


def _raw(lines: list[str], record: _Record) -> str:
    return "".join(lines[record.start - 1 : record.end]).rstrip("\r\n")


def _unbalanced(raw: str, options: CsvOptions) -> bool:
    """True when a quote opened in ``raw`` is never closed."""
    quote = options.quote_char
    if quote is None:
        return False
    if options.escape_char:
        raw = raw.replace(options.escape_char + quote, "")
    return raw.count(quote) % 2 == 1


def _unterminated(origin: str, lines: list[str], record: _Record) -> Reject:
    return Reject(
        origin,
        record.start,
        f"quoted field opened on line {record.start} is never closed; it swallowed lines "
        f"{record.start}-{record.end} (end of file)",
        _raw(lines, record),
    )
