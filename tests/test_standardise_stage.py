"""The standardisation stage end to end: accepted.parquet files of two sources in a temporary
warehouse -> staged/customers.parquet with exactly the staged schema, no row lost, and a
report whose counts match the data."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from pipelines.config import PipelineConfig
from pipelines.errors import SourceError, StageInputError
from pipelines.schema import LINEAGE_COLUMNS, MAPPABLE_FIELDS, staged_schema
from pipelines.standardise import stage, standardise
from pipelines.warehouse import Warehouse

RUN_ID = "20260301T120000Z-abc123"


def _config(root: Path) -> PipelineConfig:
    source = {"kind": "file", "format": "csv", "id_column": "id"}
    return PipelineConfig.model_validate(
        {
            "warehouse": {"path": str(root)},
            "sources": [
                {
                    **source,
                    "name": "crm",
                    "path": "crm.csv",
                    "mapping": {"full_name": "name"},
                    "default_phone_region": "US",
                    "default_country": "US",
                    "trust_rank": 1,
                },
                {
                    **source,
                    "name": "shop",
                    "path": "shop.csv",
                    "mapping": {"first_name": "fn"},
                    "default_phone_region": "GB",
                    "date_formats": {"date_of_birth": ["%d/%m/%Y"]},
                    "timezone": "Europe/London",
                    "trust_rank": 2,
                },
            ],
        }
    )


def _accepted(source: str, trust_rank: int, records: list[dict[str, str | None]]) -> pl.DataFrame:
    rows = []
    for i, raw in enumerate(records):
        row: dict[str, object] = {
            "record_key": f"{source}:{i}",
            "source_system": source,
            "source_record_id": str(i),
            "batch_id": RUN_ID,
            "ingested_at": datetime(2026, 3, 1, 12, tzinfo=UTC),
            "source_updated_at": datetime(2026, 2, 1, 9, 30),  # naive: the source's zone
        }
        row.update({f"raw_{f}": raw.get(f) for f in MAPPABLE_FIELDS})
        row["trust_rank"] = trust_rank
        rows.append(row)
    schema = {c: pl.String for c in LINEAGE_COLUMNS}
    schema.update(ingested_at=pl.Datetime("us", "UTC"), source_updated_at=pl.Datetime("us"))
    schema.update({f"raw_{f}": pl.String for f in MAPPABLE_FIELDS})
    schema["trust_rank"] = pl.Int32
    return pl.DataFrame(rows, schema=schema)


CRM = [
    {
        "full_name": "Dr. Robert Smith Jr.",
        "email": "Bob.Smith+crm@GMail.com",
        "phone": "(212) 555-0100 x12",
        "address": "12 Main St, Boston, MA 02134",
        "date_of_birth": "03/04/1980",
    },
    {
        "full_name": "王小明",
        "email": "not-an-email",
        "phone": "+1 555 0100",
        "address": "Hauptstraße 5, 10115 Berlin, Germany",
        "date_of_birth": "1975-13-01",
    },
    {
        "full_name": "SMITH, MARY",
        "email": None,
        "phone": None,
        "address": None,
        "date_of_birth": "25/12/1990",
    },
]
SHOP = [
    {
        "first_name": "bob",
        "last_name": "smith",
        "email": "bobsmith@googlemail.com",
        "phone": "020 7946 0958",
        "postcode": "sw1a2aa",
        "city": "london",
        "country": "UK",
        "date_of_birth": "03/04/1980",
    },
    {
        "first_name": "Иван",
        "last_name": "Петров",
        "email": "ivan@example.ru",
        "phone": "+7 495 123-45-67",
        "country": "Россия",
        "date_of_birth": "31/02/1980",
    },
]


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    wh = Warehouse(tmp_path / "wh")
    for name, rank, records in (("crm", 1, CRM), ("shop", 2, SHOP)):
        path = wh.accepted(RUN_ID, name)
        path.parent.mkdir(parents=True)
        _accepted(name, rank, records).write_parquet(path)
    return wh


def test_stage_writes_the_staged_schema_and_a_truthful_report(warehouse: Warehouse) -> None:
    result = standardise(_config(warehouse.root), RUN_ID)

    assert result.rows_in == result.rows_out == 5
    assert result.staged_path == warehouse.staged(RUN_ID)
    assert pq.read_schema(result.staged_path).remove_metadata() == staged_schema()

    staged = pl.read_parquet(result.staged_path)
    assert staged["record_key"].to_list() == ["crm:0", "crm:1", "crm:2", "shop:0", "shop:1"]
    by_key = {r["record_key"]: r for r in staged.iter_rows(named=True)}

    crm0, crm1, crm2 = by_key["crm:0"], by_key["crm:1"], by_key["crm:2"]
    shop0, shop1 = by_key["shop:0"], by_key["shop:1"]
    assert (crm0["name_prefix"], crm0["first_name"], crm0["last_name"], crm0["name_suffix"]) == (
        "Dr",
        "Robert",
        "Smith",
        "Jr",
    )
    assert crm0["phone"] == "+12125550100" and crm0["phone_extension"] == "12"
    assert crm0["country"] == "US" and crm0["postcode"] == "02134"
    assert crm0["date_of_birth"] is None  # 03/04/1980 with no format: ambiguous
    assert crm0["invalid_fields"] == ["date_of_birth"]
    assert crm1["full_name"] == "王小明" and crm1["country"] == "DE"
    assert set(crm1["invalid_fields"]) == {"email", "phone", "date_of_birth"}
    assert crm1["email"] == "not-an-email"  # kept and flagged
    assert crm2["date_of_birth"] == date(1990, 12, 25)
    assert shop0["date_of_birth"] == date(1980, 4, 3)  # the shop's configured format
    assert shop0["phone"] == "+442079460958" and shop0["postcode"] == "SW1A 2AA"
    assert shop0["mk_email"] == crm0["mk_email"] == "bobsmith@gmail.com"
    assert shop0["mk_first_name_canonical"] == crm0["mk_first_name_canonical"] == "robert"
    assert shop1["full_name"] == "Иван Петров" and shop1["country"] == "RU"
    assert shop1["phone"] == "+74951234567"
    assert shop1["invalid_fields"] == ["date_of_birth"]
    # Raw values are kept beside the canonical ones.
    assert crm0["raw_full_name"] == "Dr. Robert Smith Jr."
    assert shop1["raw_date_of_birth"] == "31/02/1980"
    # Lineage timestamps in UTC; the shop's naive time was London time (GMT in February).
    assert shop0["source_updated_at"] == datetime(2026, 2, 1, 9, 30, tzinfo=UTC)
    assert shop0["trust_rank"] == 2

    report = json.loads(result.report_path.read_text())
    assert report["rows_in"] == report["rows_out"] == 5
    assert report["fields"]["email"] == {"standardised": 3, "invalid": 1, "empty": 1}
    assert report["fields"]["phone"] == {"standardised": 3, "invalid": 1, "empty": 1}
    assert report["fields"]["date_of_birth"] == {"standardised": 2, "invalid": 3, "empty": 0}
    assert report["fields"]["country"] == {"standardised": 4, "invalid": 0, "empty": 1}
    assert report["ambiguous_dates"] == 1
    assert report["sources"]["crm"]["ambiguous_dates"] == 1
    assert report["sources"]["shop"]["ambiguous_dates"] == 0
    for stats in report["fields"].values():
        assert stats["standardised"] + stats["invalid"] + stats["empty"] == 5


def test_rerun_overwrites_with_the_same_result(warehouse: Warehouse) -> None:
    config = _config(warehouse.root)
    first = standardise(config, RUN_ID)
    before = pl.read_parquet(first.staged_path)
    second = standardise(config, RUN_ID)
    assert pl.read_parquet(second.staged_path).equals(before)
    assert first.model_dump() == second.model_dump()


def test_missing_accepted_file_names_the_path(warehouse: Warehouse) -> None:
    warehouse.accepted(RUN_ID, "shop").unlink()
    with pytest.raises(StageInputError, match=r"validated/shop/accepted\.parquet"):
        standardise(_config(warehouse.root), RUN_ID)
    assert not warehouse.staged(RUN_ID).exists()


def test_accepted_file_without_a_contract_column_names_file_and_column(
    warehouse: Warehouse,
) -> None:
    path = warehouse.accepted(RUN_ID, "crm")
    pl.read_parquet(path).drop("raw_email").write_parquet(path)
    with pytest.raises(StageInputError, match=r"crm/accepted\.parquet.*raw_email"):
        standardise(_config(warehouse.root), RUN_ID)


def test_empty_sources_give_an_empty_staged_file_with_the_schema(tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "wh")
    for name in ("crm", "shop"):
        path = wh.accepted(RUN_ID, name)
        path.parent.mkdir(parents=True)
        _accepted(name, 1, []).write_parquet(path)
    result = standardise(_config(wh.root), RUN_ID)
    assert result.rows_out == 0
    assert pq.read_schema(result.staged_path).remove_metadata() == staged_schema()
    assert result.fields["email"].empty == 0


@pytest.mark.parametrize(
    ("override", "message"),
    [
        pytest.param(
            {"date_formats": {"date_of_birth": ["%Q"]}}, r"date_of_birth.*%Q", id="format"
        ),
        pytest.param(
            {"date_formats": {"date_of_birth": ["%m/%Y"]}}, r"day, month and year", id="no-day"
        ),
        pytest.param({"timezone": "Mars/Olympus"}, r"sources\[shop\]\.timezone", id="zone"),
        pytest.param({"default_country": "Narnia"}, r"default_country.*Narnia", id="country"),
    ],
)
def test_bad_source_hints_are_config_errors_naming_the_key(
    warehouse: Warehouse, override: dict, message: str
) -> None:
    from pipelines.errors import ConfigError

    config = _config(warehouse.root)
    shop = config.sources[1].model_copy(update=override)
    config = config.model_copy(update={"sources": [config.sources[0], shop]})
    with pytest.raises(ConfigError, match=message):
        standardise(config, RUN_ID)


def test_country_names_are_accepted_as_default_country() -> None:
    from pipelines.standardise import SourceHints

    config = _config(Path("/nonexistent"))
    source = config.sources[0].model_copy(update={"default_country": "United Kingdom"})
    assert SourceHints.from_source(source).default_country == "GB"


def _staged_rows(warehouse: Warehouse) -> pl.DataFrame:
    """Staged rows as the full path produces them (every type of column, some nulls)."""
    result = standardise(_config(warehouse.root), RUN_ID)
    return pl.read_parquet(result.staged_path)


def test_write_staged_gives_what_pyarrow_would_write_in_row_groups(
    warehouse: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Polars writes the file, but an Arrow reader sees the staged schema (``string``, not
    Polars' ``large_string``) and the very table pyarrow's writer would have stored."""
    rows = pl.concat([_staged_rows(warehouse)] * 3)
    monkeypatch.setattr(stage, "ROW_GROUP_ROWS", 4)
    target = tmp_path / "staged.parquet"

    stage.write_staged(rows, target)

    expected = rows.to_arrow().cast(staged_schema())
    assert pq.read_schema(target).remove_metadata() == staged_schema()
    assert pq.read_table(target).equals(expected)
    assert pl.read_parquet(target).equals(rows)
    metadata = pq.ParquetFile(target).metadata
    assert metadata.num_row_groups == 4  # 15 rows in groups of 4
    assert metadata.row_group(0).column(0).compression == "ZSTD"
    assert not list(tmp_path.glob(".staged.parquet.*"))  # no temporary file left behind


def test_write_staged_falls_back_to_pyarrow_when_polars_records_other_types(
    warehouse: Warehouse,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Without the schema metadata Polars records ``large_string``: the check after writing
    catches it and the file is written again with the staged schema."""
    rows = _staged_rows(warehouse)
    monkeypatch.setattr(stage, "_schema_metadata", dict)
    target = tmp_path / "staged.parquet"

    with caplog.at_level(logging.WARNING, logger=stage.__name__):
        stage.write_staged(rows, target)

    assert "writing it again with pyarrow" in caplog.text
    assert pq.read_schema(target).remove_metadata() == staged_schema()
    assert pq.read_table(target).equals(rows.to_arrow().cast(staged_schema()))


def test_staged_types_are_the_polars_reading_of_the_staged_schema(tmp_path: Path) -> None:
    """The stage casts to these types instead of round-tripping through Arrow: they are what
    Polars reads from a file pyarrow wrote with the staged schema, and they cast back to it."""
    path = tmp_path / "empty.parquet"
    pq.write_table(staged_schema().empty_table(), path)
    assert pl.read_parquet(path).schema == stage._STAGED_TYPES
    empty = pl.DataFrame(schema=stage._STAGED_TYPES)
    assert empty.to_arrow().cast(staged_schema()).schema == staged_schema()


def test_write_staged_gives_an_all_null_column_its_staged_type(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    """A column Polars holds as ``Null`` (a source that never has the field) is written with
    the staged type, as the Arrow cast did."""
    rows = _staged_rows(warehouse).with_columns(pl.lit(None).alias("phone_extension"))
    assert rows.schema["phone_extension"] == pl.Null
    target = tmp_path / "staged.parquet"

    stage.write_staged(rows, target)

    table = pq.read_table(target)
    assert table.schema == staged_schema()
    assert table.column("phone_extension").null_count == rows.height


def _dotted_dates_warehouse(root: Path, dates: list[str]) -> Warehouse:
    wh = Warehouse(root)
    for name, rank, records in (
        ("crm", 1, [{"full_name": "Ann Lee", "date_of_birth": d} for d in dates]),
        ("shop", 2, SHOP),
    ):
        path = wh.accepted(RUN_ID, name)
        path.parent.mkdir(parents=True)
        _accepted(name, rank, records).write_parquet(path)
    return wh


def _config_with_crm_format(root: Path, fmt: str, **standardise_settings: object) -> PipelineConfig:
    data = _config(root).model_dump(mode="json", exclude_unset=True)
    data["sources"][0]["date_formats"] = {"date_of_birth": [fmt]}
    data["standardise"] = standardise_settings
    return PipelineConfig.model_validate(data)


DOTTED = [f"{day:02d}.{month:02d}.19{70 + day % 20}" for day in range(1, 29) for month in (3, 11)]


def test_a_date_format_that_reads_few_of_a_sources_dates_stops_the_run_naming_it(
    tmp_path: Path,
) -> None:
    wh = _dotted_dates_warehouse(tmp_path / "wh", [*DOTTED, "1980-05-06", "1981-07-08"])
    with pytest.raises(SourceError) as caught:
        standardise(_config_with_crm_format(wh.root, "%Y-%m-%d"), RUN_ID)
    message = str(caught.value)
    assert "'crm'" in message and "56 of 58 dates of birth" in message
    assert "%Y-%m-%d" in message and "date_formats.date_of_birth" in message
    assert "'01.03.1971'" in message  # an example value, as delivered
    assert not wh.staged(RUN_ID).exists()


def test_the_right_date_format_or_an_accepted_share_lets_the_run_through(tmp_path: Path) -> None:
    wh = _dotted_dates_warehouse(tmp_path / "wh", DOTTED)
    result = standardise(_config_with_crm_format(wh.root, "%d.%m.%Y"), RUN_ID)
    staged = pl.read_parquet(result.staged_path).filter(pl.col("source_system") == "crm")
    assert staged["date_of_birth"].null_count() == 0

    accepted = _config_with_crm_format(wh.root, "%Y-%m-%d", max_unparsed_date_share=1.0)
    staged = pl.read_parquet(standardise(accepted, RUN_ID).staged_path)
    assert staged.filter(pl.col("source_system") == "crm")["date_of_birth"].null_count() == 56


def test_a_few_unreadable_dates_in_a_small_source_are_flagged_not_fatal(tmp_path: Path) -> None:
    wh = _dotted_dates_warehouse(tmp_path / "wh", DOTTED[:5])
    result = standardise(_config_with_crm_format(wh.root, "%Y-%m-%d"), RUN_ID)
    staged = pl.read_parquet(result.staged_path).filter(pl.col("source_system") == "crm")
    assert staged["invalid_fields"].to_list() == [["date_of_birth"]] * 5
