"""Schema drift: a missing needed column stops the source by name; a new one is reported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from pipelines.config import PipelineConfig, load_config
from pipelines.errors import SchemaDriftError, SourceError
from pipelines.ingest import ingest_source
from pipelines.ingest.mapping import mapped_frame


def make_config(tmp_path: Path, **source: Any) -> PipelineConfig:
    spec = {
        "name": "crm",
        "kind": "file",
        "path": "crm.csv",
        "id_column": "id",
        "mapping": {"first_name": "fname", "email": "mail"},
        **source,
    }
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump({"warehouse": {"path": "wh"}, "sources": [spec]}))
    return load_config(path)


@pytest.mark.parametrize(
    ("header", "column", "why"),
    [
        ("id,fname,email_address", "mail", "mapped to email"),
        ("customer,fname,mail", "id", "its id_column"),
    ],
    ids=["mapped-column", "id-column"],
)
def test_missing_needed_column_is_an_error_naming_source_file_and_column(
    tmp_path: Path, header: str, column: str, why: str
) -> None:
    (tmp_path / "crm.csv").write_text(f"{header}\n1,Ann,a@x\n")
    with pytest.raises(SchemaDriftError) as err:
        ingest_source(make_config(tmp_path), "run1", "crm")
    message = str(err.value)
    assert "source 'crm'" in message
    assert f"column {column!r} ({why})" in message
    assert str(tmp_path / "crm.csv") in message


def test_missing_update_column_is_drift_too(tmp_path: Path) -> None:
    (tmp_path / "crm.csv").write_text("id,fname,mail\n1,Ann,a@x\n")
    config = make_config(tmp_path, updated_at_column="modified")
    with pytest.raises(SchemaDriftError, match=r"column 'modified' \(its updated_at_column\)"):
        ingest_source(config, "run1", "crm")


def test_one_file_of_a_folder_missing_a_mapped_column_names_that_file(tmp_path: Path) -> None:
    folder = tmp_path / "crm"
    folder.mkdir()
    (folder / "2024-01.csv").write_text("id,fname,mail\n1,Ann,a@x\n")
    (folder / "2024-02.csv").write_text("id,fname\n2,Bo\n")
    with pytest.raises(SchemaDriftError, match=r"2024-02\.csv has no column 'mail'"):
        ingest_source(make_config(tmp_path, path="crm", format="csv"), "run1", "crm")


def test_a_json_lines_batch_where_no_record_has_a_mapped_key_reads_it_as_null(
    tmp_path: Path,
) -> None:
    """A shop API that leaves out an unknown birthday sends a delta where nobody has one: the
    key is absent from the whole file, which is data, not a changed export."""
    mapping = {"first_name": "fname", "email": "mail", "date_of_birth": "birthday"}
    config = make_config(tmp_path, path="shop.jsonl", mapping=mapping, delivery="delta")
    shop = tmp_path / "shop.jsonl"
    shop.write_text('{"id": "1", "fname": "Ann", "mail": "a@x"}\n{"id": "2", "fname": "Bo"}\n')
    first = ingest_source(config, "run1", "crm")
    assert first.absent_keys == ["birthday"]
    assert first.rows_landed == 2
    mapped = mapped_frame(pl.read_parquet(first.current_path), config.source("crm"))
    assert mapped["raw_date_of_birth"].to_list() == [None, None]
    assert mapped["raw_email"].to_list() == ["a@x", None]

    shop.write_text('{"id": "3", "fname": "Cy", "mail": "c@x", "birthday": "1990-01-02"}\n')
    second = ingest_source(config, "run2", "crm")
    assert second.absent_keys == []
    mapped = mapped_frame(pl.read_parquet(second.current_path), config.source("crm"))
    by_key = dict(mapped.select("record_key", "raw_date_of_birth").iter_rows())
    assert by_key == {"crm:1": None, "crm:2": None, "crm:3": "1990-01-02"}


def test_a_json_lines_batch_without_its_id_key_is_still_drift(tmp_path: Path) -> None:
    (tmp_path / "shop.jsonl").write_text('{"customer": "1", "fname": "Ann", "mail": "a@x"}\n')
    with pytest.raises(SchemaDriftError, match=r"column 'id' \(its id_column\)"):
        ingest_source(make_config(tmp_path, path="shop.jsonl"), "run1", "crm")


def test_new_columns_are_reported_against_the_last_batch_and_landed(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    (tmp_path / "crm.csv").write_text("id,fname,mail,city\n1,Ann,a@x,Oslo\n")
    first = ingest_source(config, "run1", "crm")
    assert first.new_columns == []  # nothing is expected of a first batch

    (tmp_path / "crm.csv").write_text("id,fname,mail,loyalty_tier,segment\n1,Ann,a@x,gold,b2c\n")
    second = ingest_source(config, "run2", "crm")
    assert second.new_columns == ["loyalty_tier", "segment"]
    assert second.dropped_columns == ["city"]
    df = pl.read_parquet(second.current_path)
    assert df["loyalty_tier"].to_list() == ["gold"]


def test_expected_columns_in_config_report_drift_from_the_first_batch(tmp_path: Path) -> None:
    (tmp_path / "crm.csv").write_text("id,fname,mail,surprise\n1,Ann,a@x,?\n")
    config = make_config(tmp_path, columns=["id", "fname", "mail"])
    assert ingest_source(config, "run1", "crm").new_columns == ["surprise"]


def test_new_column_in_an_incremental_batch_joins_the_current_set_with_nulls(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path, updated_at_column="ts")
    (tmp_path / "crm.csv").write_text("id,fname,mail,ts\n1,Ann,a@x,2024-01-01\n")
    ingest_source(config, "run1", "crm")
    (tmp_path / "crm.csv").write_text(
        "id,fname,mail,ts,vip\n1,Ann,a@x,2024-01-01,\n2,Bo,b@x,2024-01-02,yes\n"
    )
    second = ingest_source(config, "run2", "crm")
    assert second.new_columns == ["vip"]
    df = pl.read_parquet(second.current_path).sort("id")
    assert df["vip"].to_list() == [None, "yes"]


def test_columns_named_like_lineage_columns_are_refused(tmp_path: Path) -> None:
    (tmp_path / "crm.csv").write_text("id,fname,mail,batch_id\n1,Ann,a@x,7\n")
    with pytest.raises(SourceError, match=r"\['batch_id'\].*reserved for lineage"):
        ingest_source(make_config(tmp_path), "run1", "crm")


def test_duplicate_header_names_are_refused(tmp_path: Path) -> None:
    (tmp_path / "crm.csv").write_text("id,fname,mail,mail\n1,Ann,a@x,b@x\n")
    with pytest.raises(SourceError, match=r"\['mail'\] more than once"):
        ingest_source(make_config(tmp_path), "run1", "crm")


def test_mapped_frame_of_the_current_set_keeps_working(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    (tmp_path / "crm.csv").write_text("id,fname,mail\n1,Ann,a@x\n")
    result = ingest_source(config, "run1", "crm")
    mapped = mapped_frame(pl.read_parquet(result.current_path), config.source("crm"))
    assert mapped["raw_first_name"].to_list() == ["Ann"]
    assert mapped["raw_email"].to_list() == ["a@x"]
    assert mapped["record_key"].to_list() == ["crm:1"]


@pytest.mark.parametrize(("separator", "named"), [(";", "';'"), ("\t", "a tab"), ("|", "'|'")])
def test_a_header_read_as_one_column_names_the_delimiter_to_set(
    tmp_path: Path, separator: str, named: str
) -> None:
    header = separator.join(["id", "fname", "mail"])
    (tmp_path / "crm.csv").write_text(f"{header}\n{separator.join(['1', 'Ann', 'a@x'])}\n")
    with pytest.raises(SchemaDriftError) as err:
        ingest_source(make_config(tmp_path), "run1", "crm")
    assert f"The header looks delimited by {named}" in str(err.value)
    assert "csv.delimiter" in str(err.value)
