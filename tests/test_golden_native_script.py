"""A name written in its native script survives over its romanisation (issue 18's consensus
survivorship with issue 23's "the golden record shows the name in characters when any source
has it").

Records are made by the standardiser itself from the raw values each source sends, then decided
by survivorship as the golden build does.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import pytest

from pipelines.golden.config import SurvivorshipConfig
from pipelines.golden.survivorship import RECORD_COLUMNS, survive
from pipelines.schema import MAPPABLE_FIELDS
from pipelines.standardise import standardise_frame
from tests.test_golden_survivorship import SCHEMA


def standardised_records(*sources: tuple[str, int, dict[str, str]]) -> pl.DataFrame:
    """One customer's records: (record key, year last updated, raw values) per source record,
    standardised as the standardise stage does."""
    raw = pl.DataFrame(
        [{f"raw_{f}": values.get(f) for f in MAPPABLE_FIELDS} for _, _, values in sources],
        schema={f"raw_{f}": pl.String for f in MAPPABLE_FIELDS},
    )
    staged = standardise_frame(raw, as_of=date(2026, 1, 1)).to_dicts()
    rows: list[dict[str, Any]] = []
    for (key, year, _), values in zip(sources, staged, strict=True):
        source, record_id = key.split(":")
        row = {c: values.get(c) for c in RECORD_COLUMNS}
        row.update(
            golden_id="G-1",
            record_key=key,
            source_system=source,
            source_record_id=record_id,
            trust_rank=2,
            source_updated_at=datetime(year, 1, 1, tzinfo=UTC),
            invalid_fields=values.get("invalid_fields") or [],
        )
        rows.append(row)
    return pl.DataFrame(rows, schema=SCHEMA)


@pytest.mark.parametrize("pinyin", ["Xiaoming Wang", "WANG Xiaoming"])
def test_a_han_name_in_one_source_beats_its_pinyin_in_two_newer_sources(pinyin: str) -> None:
    records = standardised_records(
        ("crm:1", 2019, {"full_name": "王小明", "email": "xm.wang@example.cn"}),
        ("web:1", 2023, {"full_name": pinyin, "email": "xm.wang@example.cn"}),
        ("shop:1", 2024, {"full_name": pinyin}),
    )
    # As the standardiser leaves them: characters split family name first, all on one key.
    crm = records.filter(pl.col("record_key") == "crm:1").row(0, named=True)
    assert (crm["last_name"], crm["first_name"], crm["full_name"]) == ("王", "小明", "王小明")
    assert set(records["mk_first_name_canonical"]) == {"xiaoming"}

    result = survive(records, SurvivorshipConfig().units())
    row = result.values.row(0, named=True)
    provenance = {r["field"]: r for r in result.provenance.to_dicts()}
    assert (row["last_name"], row["first_name"], row["full_name"]) == ("王", "小明", "王小明")
    assert {provenance[f]["source_system"] for f in ("first_name", "last_name")} == {"crm"}
