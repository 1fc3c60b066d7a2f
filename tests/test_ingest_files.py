"""File sources: every format, encoding and layout lands every row, with lineage, as text."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from pipelines.config import PipelineConfig, load_config
from pipelines.ingest import IngestResult, ingest_source
from pipelines.schema import LINEAGE_COLUMNS

ROWS = [
    {
        "cust_id": "1",
        "first": "Zoë",
        "last": "Ångström",
        "mail": "zoe@example.com",
        "seen": "2024-01-05 10:00:00",
    },
    {"cust_id": "2", "first": "José", "last": "Müller", "mail": "", "seen": "2024-01-06 11:30:00"},
    {
        "cust_id": "3",
        "first": "Ann",
        "last": "O'Hara; Jr",
        "mail": "ann@example.com",
        "seen": "2024-01-07 09:15:00",
    },
]
MAPPING = {"first_name": "first", "last_name": "last", "email": "mail"}


def make_config(tmp_path: Path, **source: Any) -> PipelineConfig:
    spec = {"name": "crm", "kind": "file", "id_column": "cust_id", "mapping": MAPPING, **source}
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump({"warehouse": {"path": "wh"}, "sources": [spec]}))
    return load_config(path)


def csv_text(rows: list[dict[str, str]], delimiter: str = ",", header: bool = True) -> str:
    lines = [delimiter.join(rows[0])] if header else []
    for row in rows:
        lines.append(
            delimiter.join(f'"{v}"' if delimiter in v or "'" in v else v for v in row.values())
        )
    return "\r\n".join(lines) + "\r\n"


def current(result: IngestResult) -> pl.DataFrame:
    return pl.read_parquet(result.current_path)


def raw(result: IngestResult) -> pl.DataFrame:
    return pl.read_parquet(Path(result.raw_path) / "part-*.parquet", hive_partitioning=False)


def rejects(result: IngestResult) -> pl.DataFrame:
    return pl.read_parquet(result.rejects_path)


def assert_reconciles(result: IngestResult) -> None:
    assert result.rows_read == result.rows_landed + result.rows_rejected


@pytest.mark.parametrize(
    ("encoding", "bom", "delimiter"),
    [
        ("utf-8", b"", ","),
        ("utf-8", b"\xef\xbb\xbf", ","),
        ("utf-8-sig", b"\xef\xbb\xbf", ";"),
        ("latin-1", b"", ";"),
        ("cp1252", b"", "\t"),
        ("utf-16", b"", ","),
    ],
    ids=["utf8", "utf8-bom", "utf8-sig-semicolon", "latin1-semicolon", "cp1252-tab", "utf16"],
)
def test_csv_encodings_and_delimiters_land_every_row_as_sent(
    tmp_path: Path, encoding: str, bom: bytes, delimiter: str
) -> None:
    path = tmp_path / "crm.csv"
    path.write_bytes(bom + csv_text(ROWS, delimiter).encode(encoding))
    config = make_config(
        tmp_path, path="crm.csv", csv={"encoding": encoding, "delimiter": delimiter}
    )

    result = ingest_source(config, "run1", "crm")

    assert (result.rows_read, result.rows_landed, result.rows_rejected) == (3, 3, 0)
    df = current(result)
    assert df.columns == [*LINEAGE_COLUMNS, "cust_id", "first", "last", "mail", "seen"]
    assert df["first"].to_list() == ["Zoë", "José", "Ann"]
    assert df["last"].to_list() == ["Ångström", "Müller", "O'Hara; Jr"]
    assert df["mail"].to_list() == ["zoe@example.com", None, "ann@example.com"]
    assert df["record_key"].to_list() == ["crm:1", "crm:2", "crm:3"]
    assert set(df["batch_id"]) == {"run1"}
    assert df["source_updated_at"].null_count() == 3  # no updated_at_column configured
    assert raw(result).equals(df)


def test_csv_without_header_uses_configured_names(tmp_path: Path) -> None:
    (tmp_path / "crm.txt").write_text(csv_text(ROWS, "|", header=False))
    config = make_config(
        tmp_path,
        path="crm.txt",
        csv={"delimiter": "|", "has_header": False, "column_names": list(ROWS[0])},
    )
    result = ingest_source(config, "run1", "crm")
    assert current(result)["cust_id"].to_list() == ["1", "2", "3"]


def test_csv_keeps_quoted_newlines_and_values_verbatim(tmp_path: Path) -> None:
    (tmp_path / "crm.csv").write_text(
        'cust_id,first,last,mail\n1,"Mary\nAnn"," Smith ",007\n2,"say ""hi""",x,+44 20\n'
    )
    result = ingest_source(make_config(tmp_path, path="crm.csv"), "run1", "crm")
    df = current(result)
    assert df["first"].to_list() == ["Mary\nAnn", 'say "hi"']
    assert df["last"].to_list() == [" Smith ", "x"]  # whitespace is the source's, kept
    assert df["mail"].to_list() == ["007", "+44 20"]  # never typed: leading zeros survive


def test_malformed_csv_rows_are_rejected_with_their_line_and_the_rest_lands(
    tmp_path: Path,
) -> None:
    (tmp_path / "crm.csv").write_bytes(
        b"cust_id,first,last,mail\n"  # line 1
        b"1,Ann,Lee,a@x.com\n"  # 2
        b'2,"Multi\nline",Day,b@x.com\n'  # 3-4
        b"3,Too,Few\n"  # 5
        b"\n"  # 6 (blank: not a row)
        b"4,Too,Many,c@x.com,extra\n"  # 7
        b"5,Bad\xff\xfebytes,Kim,d@x.com\n"  # 8
        b"6,Ok,Last,e@x.com\n"  # 9
    )
    result = ingest_source(make_config(tmp_path, path="crm.csv"), "run1", "crm")

    assert (result.rows_read, result.rows_landed, result.rows_rejected) == (6, 3, 3)
    assert_reconciles(result)
    assert current(result)["cust_id"].to_list() == ["1", "2", "6"]
    bad = rejects(result).sort("line")
    assert bad["line"].to_list() == [5, 7, 8]
    assert bad["raw"].to_list()[:2] == ["3,Too,Few", "4,Too,Many,c@x.com,extra"]
    reasons = bad["reason"].to_list()
    assert "has 3 fields, expected 4" in reasons[0]
    assert "has 5 fields, expected 4" in reasons[1]
    assert "not valid utf-8" in reasons[2] and "0xff" in reasons[2]
    assert set(bad["file"]) == {str(tmp_path / "crm.csv")}
    assert set(bad["source_system"]) == {"crm"} and set(bad["run_id"]) == {"run1"}


def test_unterminated_quote_at_end_of_file_is_rejected_not_swallowed(tmp_path: Path) -> None:
    (tmp_path / "crm.csv").write_text('cust_id,first\n1,Ann\n2,"Bo\n3,Cy\n4,Di\n')
    config = make_config(tmp_path, path="crm.csv", mapping={"first_name": "first"})
    result = ingest_source(config, "run1", "crm")
    assert current(result)["cust_id"].to_list() == ["1"]
    (reject,) = rejects(result).to_dicts()
    assert reject["line"] == 3
    assert "never closed" in reject["reason"] and "3-5" in reject["reason"]
    assert_reconciles(result)


def test_rows_without_an_id_are_rejected_with_their_line(tmp_path: Path) -> None:
    (tmp_path / "crm.csv").write_text(
        'cust_id,first,last,mail\n1,A,B,c\n,No,Id,x\n"multi\nline",fine,row,y\n  ,Blank,Id,z\n'
    )
    result = ingest_source(make_config(tmp_path, path="crm.csv"), "run1", "crm")
    assert current(result)["cust_id"].to_list() == ["1", "multi\nline"]
    bad = rejects(result).sort("line")
    assert bad["line"].to_list() == [3, 6]
    assert bad["raw"].to_list() == [",No,Id,x", "  ,Blank,Id,z"]
    assert all("no value in id column 'cust_id'" in r for r in bad["reason"])


JSONL_GOOD = [
    '{"cust_id": 1, "first": "Ann", "last": "Lee", "mail": null, "vip": true}',
    '{"cust_id": 2, "first": "Bo", "last": "Ray", "mail": "b@x", '
    '"score": 1.10, "big": 12345678901234567890}',
    '{"cust_id": 4, "first": "Di", "last": "Fox", "mail": "d@x", "tags": {"a": [1, 2.50]}}',
    '{"cust_id": 6, "cust_id": 7, "first": "E", "last": "F", "mail": "g"}',
]


def test_jsonl_values_land_as_json_text(tmp_path: Path) -> None:
    (tmp_path / "shop.jsonl").write_text("\n".join(JSONL_GOOD) + "\n")
    result = ingest_source(make_config(tmp_path, path="shop.jsonl"), "run1", "crm")
    df = current(result)
    assert df["cust_id"].to_list() == ["1", "2", "4", "6"]  # a repeated key keeps its first value
    assert df["vip"].to_list() == ["true", None, None, None]
    assert df["score"].to_list() == [None, "1.1", None, None]
    assert df["big"].to_list() == [None, "12345678901234567890", None, None]
    assert json.loads(df["tags"][2]) == {"a": [1, 2.5]}


def test_bad_jsonl_lines_are_rejected_and_the_rest_reads_as_if_the_file_were_clean(
    tmp_path: Path,
) -> None:
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "shop.jsonl").write_text("\n".join(JSONL_GOOD) + "\n")
    expected = current(ingest_source(make_config(clean, path="shop.jsonl"), "run1", "crm"))

    lines = [
        JSONL_GOOD[0].encode(),  # 1
        JSONL_GOOD[1].encode(),  # 2
        b"",  # 3 (blank: not a row)
        b'{"cust_id": 3, "first": "Cy", "last": "Day", "mail": "c@x"',  # 4 truncated
        b"[1, 2]",  # 5
        JSONL_GOOD[2].encode(),  # 6
        b'{"cust_id": 5, "first": "\xff"}',  # 7 not UTF-8
        b'{"cust_id": 8, "score": NaN}',  # 8 not JSON
        JSONL_GOOD[3].encode(),  # 9
    ]
    (tmp_path / "shop.jsonl").write_bytes(b"\r\n".join(lines) + b"\r\n")
    result = ingest_source(make_config(tmp_path, path="shop.jsonl"), "run1", "crm")

    assert (result.rows_read, result.rows_landed, result.rows_rejected) == (8, 4, 4)
    assert current(result).drop("ingested_at").equals(expected.drop("ingested_at"))
    bad = rejects(result).sort("line")
    assert bad["line"].to_list() == [4, 5, 7, 8]
    reasons = bad["reason"].to_list()
    assert "not valid JSON" in reasons[0]
    assert "not a JSON object" in reasons[1]
    assert "not valid utf-8" in reasons[2]
    assert "NaN is not a JSON value" in reasons[3]
    assert bad["raw"].to_list()[0] == lines[3].decode()


def test_parquet_typed_values_land_as_iso_text(tmp_path: Path) -> None:
    table = pa.table(
        {
            "cust_id": pa.array([10, 11], pa.int64()),
            "first": ["Ann", None],
            "last": ["Lee", "Ray"],
            "mail": ["a@x", "b@x"],
            "born": pa.array([date(1980, 2, 29), None], pa.date32()),
            "changed": pa.array(
                [
                    datetime(2024, 1, 5, 10, 0, tzinfo=UTC),
                    datetime(2024, 1, 6, 11, 30, 15, 250000, tzinfo=UTC),
                ],
                pa.timestamp("us", tz="UTC"),
            ),
            "active": [True, False],
            "balance": pa.array([1.5, None], pa.float64()),
        }
    )
    pq.write_table(table, tmp_path / "billing.parquet")
    config = make_config(tmp_path, path="billing.parquet", updated_at_column="changed")
    result = ingest_source(config, "run1", "crm")
    df = current(result)
    assert df["cust_id"].to_list() == ["10", "11"]
    assert df["born"].to_list() == ["1980-02-29", None]
    assert df["changed"].to_list() == ["2024-01-05T10:00:00+00:00", "2024-01-06T11:30:15.250+00:00"]
    assert df["active"].to_list() == ["true", "false"]
    assert df["balance"].to_list() == ["1.5", None]
    assert df.schema["source_updated_at"] == pl.Datetime("us", "UTC")
    assert df["source_updated_at"].to_list() == [
        datetime(2024, 1, 5, 10, 0, tzinfo=UTC),
        datetime(2024, 1, 6, 11, 30, 15, 250000, tzinfo=UTC),
    ]
    assert result.watermark_after == datetime(2024, 1, 6, 11, 30, 15, 250000, tzinfo=UTC)


def test_folder_and_glob_read_every_matching_file_and_count_every_row(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "a.csv").write_text(csv_text(ROWS[:2]))
    with gzip.open(folder / "b.csv.gz", "wt", encoding="utf-8") as f:
        f.write(csv_text(ROWS[2:]))
    (folder / "_SUCCESS").write_text("")
    (folder / ".partial.csv").write_text("garbage")
    (folder / "notes.md").write_text("not data")

    by_folder = ingest_source(make_config(tmp_path, path="exports", format="csv"), "run1", "crm")
    assert by_folder.origins == [str(folder / "a.csv"), str(folder / "b.csv.gz")]
    assert by_folder.rows_landed == 3 == current(by_folder).height
    assert len(list(Path(by_folder.raw_path).glob("part-*.parquet"))) == 2

    by_glob = ingest_source(make_config(tmp_path, path="exports/*.csv"), "run2", "crm")
    assert by_glob.origins == [str(folder / "a.csv")]
    assert current(by_glob)["cust_id"].to_list() == ["1", "2"]


def test_raw_row_count_equals_source_row_count_on_a_larger_file(tmp_path: Path) -> None:
    n = 20_000
    ids = [f"C{i:06d}" for i in range(n)]
    frame = pl.DataFrame(
        {"cust_id": ids, "first": ["x"] * n, "last": ["y"] * n, "mail": [f"{i}@x" for i in ids]}
    )
    frame.write_csv(tmp_path / "crm.csv")
    result = ingest_source(make_config(tmp_path, path="crm.csv"), "run1", "crm")
    assert result.rows_read == result.rows_landed == raw(result).height == n
    assert raw(result)["cust_id"].to_list() == ids


def test_missing_path_and_empty_folder_are_clear_errors(tmp_path: Path) -> None:
    from pipelines.errors import SourceError

    with pytest.raises(SourceError, match=r"nothere\.csv does not exist"):
        ingest_source(make_config(tmp_path, path="nothere.csv"), "run1", "crm")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no files match"):
        ingest_source(make_config(tmp_path, path="empty", format="csv"), "run1", "crm")


def test_header_only_file_lands_an_empty_batch_with_its_columns(tmp_path: Path) -> None:
    (tmp_path / "crm.csv").write_text("cust_id,first,last,mail\n")
    result = ingest_source(make_config(tmp_path, path="crm.csv"), "run1", "crm")
    assert result.rows_read == result.rows_landed == 0
    assert current(result).columns == [*LINEAGE_COLUMNS, "cust_id", "first", "last", "mail"]


def test_result_and_state_files_are_written(tmp_path: Path) -> None:
    (tmp_path / "crm.csv").write_text(csv_text(ROWS))
    config = make_config(tmp_path, path="crm.csv")
    result = ingest_source(config, "run1", "crm")
    stored = json.loads((Path(result.current_path).parent / "result.json").read_text())
    assert IngestResult.model_validate(stored) == result
    state = json.loads((config.warehouse.path / "state" / "sources" / "crm.json").read_text())
    assert state["last_batch_id"] == state["last_run_id"] == "run1"
    assert state["last_row_count"] == 3
    assert state["columns"] == ["cust_id", "first", "last", "mail", "seen"]
    assert state["watermark"] is None
