"""CSV dialects: the fast parser and the line-by-line one read every dialect the same way.

A file with one bad row goes through the precise path; the same file without it through the
fast one. The good rows must come out identical, or a single bad line would change the data.
"""

from __future__ import annotations

from typing import Any

import pytest

from pipelines.ingest.config import CsvOptions
from pipelines.ingest.csv_reader import read_csv

DIALECTS: dict[str, tuple[bytes, dict[str, Any], list[dict[str, str | None]]]] = {
    "crlf-quoted-newlines": (
        b'id,note\r\n1,"two\r\nlines"\r\n2,"say ""hi"""\r\n',
        {},
        [{"id": "1", "note": "two\r\nlines"}, {"id": "2", "note": 'say "hi"'}],
    ),
    "backslash-escapes": (
        b'id,note\n1,"a \\"b\\""\n2,c\\,d\n',
        {"escape_char": "\\"},
        [{"id": "1", "note": 'a "b"'}, {"id": "2", "note": "c,d"}],
    ),
    "no-quoting": (
        b'id\tnote\n1\t"as is\n2\t5\'10"\n',
        {"delimiter": "\t", "quote_char": None},
        [{"id": "1", "note": '"as is'}, {"id": "2", "note": "5'10\""}],
    ),
    "custom-nulls": (
        b'id,note\n1,NULL\n2,N/A\n3,\n4,""\n5, \n',
        {"null_values": ["NULL", "N/A", ""]},
        [
            {"id": "1", "note": None},
            {"id": "2", "note": None},
            {"id": "3", "note": None},
            {"id": "4", "note": None},
            {"id": "5", "note": " "},
        ],
    ),
    "empty-strings-kept": (
        b"id,note\n1,\n",
        {"null_values": []},
        [{"id": "1", "note": ""}],
    ),
    "pipe-no-header": (
        b"1|x\n\n2|y\n",
        {"delimiter": "|", "has_header": False, "column_names": ["id", "note"]},
        [{"id": "1", "note": "x"}, {"id": "2", "note": "y"}],
    ),
}


@pytest.mark.parametrize("name", sorted(DIALECTS), ids=sorted(DIALECTS))
def test_fast_and_precise_paths_read_a_dialect_alike(name: str) -> None:
    data, options, expected = DIALECTS[name]
    csv_options = CsvOptions(**options)
    delimiter = csv_options.delimiter.encode()
    bad_row = delimiter.join([b"99", b"too", b"many"]) + b"\n"

    fast = read_csv("clean.csv", data, csv_options)
    precise = read_csv("dirty.csv", data + bad_row, csv_options)

    assert fast.rejects == []
    assert fast.frame.to_dicts() == expected
    assert precise.frame.to_dicts() == expected
    assert [r.reason for r in precise.rejects] == ["has 3 fields, expected 2"]
    assert precise.locate(list(range(len(expected)))) == fast.locate(list(range(len(expected))))


def test_rows_point_back_to_their_first_line_and_raw_text() -> None:
    data = b'id,note\n\n1,"a\nb"\n2,c\n'
    chunk = read_csv("f.csv", data, CsvOptions())
    assert chunk.locate([0, 1]) == [(3, '1,"a\nb"'), (5, "2,c")]
