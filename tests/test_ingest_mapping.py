"""A source's mapping: one column per canonical field, or several joined with a space."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import yaml

from pipelines.config import PipelineConfig, load_config
from pipelines.errors import ConfigError, SchemaDriftError
from pipelines.ingest import ingest_source
from pipelines.ingest.mapping import column_reference, mapped_frame
from pipelines.schema import LINEAGE_COLUMNS


def make_config(tmp_path: Path, mapping: dict) -> PipelineConfig:
    spec = {"name": "crm", "kind": "file", "path": "crm.csv", "id_column": "id"}
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        yaml.safe_dump({"warehouse": {"path": "wh"}, "sources": [{**spec, "mapping": mapping}]})
    )
    return load_config(path)


def landed(rows: dict[str, list]) -> pl.DataFrame:
    """Rows as ingestion lands them: lineage columns, then the source's own columns."""
    height = len(next(iter(rows.values())))
    lineage = {c: [f"{c}-{i}" for i in range(height)] for c in LINEAGE_COLUMNS}
    return pl.DataFrame({**lineage, **rows})


def test_columns_listed_for_one_field_are_joined_with_a_space_skipping_blank_parts(
    tmp_path: Path,
) -> None:
    config = make_config(
        tmp_path,
        {"address_line1": ["street_number", "street"], "first_name": "given"},
    )
    frame = landed(
        {
            "street_number": ["8", None, " ", "12", None],
            "street": ["stanley street", "corin place", "carpenter close", None, ""],
            "given": ["michaela", "kate", None, "ann", "bo"],
        }
    )
    out = mapped_frame(frame, config.source("crm"))
    assert out["raw_address_line1"].to_list() == [
        "8 stanley street",
        "corin place",
        "carpenter close",
        "12",
        None,
    ]
    assert out["raw_first_name"].to_list() == ["michaela", "kate", None, "ann", "bo"]
    assert out["raw_email"].null_count() == frame.height


def test_a_single_column_keeps_its_value_exactly_as_sent(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"address_line1": "street"})
    out = mapped_frame(landed({"street": [" 8  stanley st ", ""]}), config.source("crm"))
    assert out["raw_address_line1"].to_list() == [" 8  stanley st ", ""]


def test_a_missing_column_of_a_joined_field_is_drift_naming_the_column(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"address_line1": ["street_number", "street"]})
    (tmp_path / "crm.csv").write_text("id,street\n1,corin place\n")
    with pytest.raises(
        SchemaDriftError, match=r"column 'street_number' \(mapped to address_line1\)"
    ):
        ingest_source(config, "run1", "crm")


@pytest.mark.parametrize(
    "columns", [pytest.param([], id="empty"), pytest.param(["a", "a"], id="repeated")]
)
def test_a_bad_column_list_is_a_config_error_naming_the_field(
    tmp_path: Path, columns: list[str]
) -> None:
    with pytest.raises(ConfigError, match=r"sources\[0\]\.mapping.*address_line1: a list"):
        make_config(tmp_path, {"address_line1": columns})


def test_mapped_columns_lists_every_source_column_once(tmp_path: Path) -> None:
    source = make_config(
        tmp_path, {"address_line1": ["no", "street"], "address_line2": "street", "city": "town"}
    ).source("crm")
    assert source.mapped_columns == ["no", "street", "town"]
    assert source.columns_of("address_line1") == ["no", "street"]
    assert source.columns_of("email") == []


def test_a_dotted_reference_reads_inside_a_nested_json_lines_object(tmp_path: Path) -> None:
    (tmp_path / "shop.jsonl").write_text(
        '{"id": 1, "name": {"first": "Ann", "last": "Lee"}, "contact": {"phones": ["+1 212 '
        '555 0100", "x"]}, "addr.line1": "1 Main St"}\n'
        '{"id": 2, "name": {"first": "Bo"}, "contact": {"phones": []}, "addr.line1": null}\n'
    )
    config = make_config(
        tmp_path,
        {
            "first_name": "name.first",
            "last_name": "name.last",
            "phone": "contact.phones[0]",
            "address_line1": "addr.line1",  # a column whose name has a dot: read whole
        },
    )
    config.sources[0].path = str(tmp_path / "shop.jsonl")
    config.sources[0].format = "jsonl"
    result = ingest_source(config, "run1", "crm")
    out = mapped_frame(pl.read_parquet(result.current_path), config.source("crm")).sort(
        "source_record_id"
    )
    assert out["raw_first_name"].to_list() == ["Ann", "Bo"]
    assert out["raw_last_name"].to_list() == ["Lee", None]
    assert out["raw_phone"].to_list() == ["+1 212 555 0100", None]
    assert out["raw_address_line1"].to_list() == ["1 Main St", None]


def test_a_nested_reference_into_a_missing_column_is_drift_naming_it(tmp_path: Path) -> None:
    (tmp_path / "crm.csv").write_text("id,fullname\n1,Ann Lee\n")
    config = make_config(tmp_path, {"first_name": "name.first"})
    with pytest.raises(SchemaDriftError, match=r"column 'name\.first' \(mapped to first_name\)"):
        ingest_source(config, "run1", "crm")


@pytest.mark.parametrize(
    ("reference", "resolved"),
    [
        ("name", ("name", None)),
        ("name.first", ("name", "$.first")),
        ("contact.phones[0]", ("contact", "$.phones[0]")),
        ("addr.line1", ("addr.line1", None)),
        ("missing.first", None),
        ("name.", None),
    ],
)
def test_column_references_resolve_whole_names_first(reference: str, resolved: object) -> None:
    assert column_reference(reference, ["name", "contact", "addr.line1"]) == resolved
