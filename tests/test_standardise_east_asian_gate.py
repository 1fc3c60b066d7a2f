"""The vectorised gate in front of the East Asian name rules changes nothing but their cost:
names it keeps out of the Python loop are exactly names those rules would leave alone."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from pipelines.sample import generate_sample
from pipelines.sample.zh import generate_zh_sample
from pipelines.standardise import names
from pipelines.standardise.nicknames import nickname_table

HAND_MADE = [
    {"raw_full_name": "王小明"},
    {"raw_full_name": "欧阳娜娜"},
    {"raw_full_name": "Xiaoming Wang"},
    {"raw_full_name": "WANG Xiaoming"},
    {"raw_full_name": "wang xiao ming"},
    {"raw_full_name": "Xiao Ming Wang"},
    {"raw_full_name": "Lü Bu"},
    {"raw_full_name": "Lv Bu"},
    {"raw_first_name": "Sean", "raw_last_name": "Li"},
    {"raw_first_name": "Ana", "raw_last_name": "Li"},
    {"raw_full_name": "김민준"},
    {"raw_first_name": "민준", "raw_last_name": "김"},
    {"raw_first_name": "たろう", "raw_last_name": "やまだ"},
    {"raw_full_name": "Nguyễn Văn An"},
    {"raw_full_name": "Nguyen Van An"},
    {"raw_full_name": "Văn An Nguyễn"},
    {"raw_full_name": "  Trần   Thị  Mai "},
    {"raw_full_name": "Đặng Minh"},
    {"raw_full_name": "Mary-Jane O'Neil"},
    {"raw_full_name": "José Ángel García"},
    {"raw_full_name": "Γιώργος Παπαδόπουλος"},
    {"raw_first_name": "Le", "raw_last_name": "Bon"},
    {"raw_full_name": "Hong Gildong"},
    {"raw_first_name": "Ming-Hua", "raw_last_name": "Chen"},
]


def _raw_names(folder: Path) -> pl.DataFrame:
    frames = [pl.DataFrame(HAND_MADE, schema={f"raw_{f}": pl.String for f in names.NAME_FIELDS})]
    generate_sample(folder / "us", 300, seed=5, warehouse=folder / "us" / "warehouse")
    generate_zh_sample(folder / "zh", 300, seed=5)
    for path in (*(folder / "us").glob("*.csv"), *(folder / "zh").glob("*.csv")):
        if path.name in {"ground_truth.csv"}:
            continue
        table = pl.read_csv(path, infer_schema=False)
        for column in table.columns:
            lowered = column.lower()
            if "name" in lowered or "姓名" in column or "名" in column:
                frames.append(table.select(pl.col(column).alias("raw_full_name")))
    raw = pl.concat(frames, how="diagonal_relaxed")
    return raw.select(
        pl.col(f"raw_{f}") if f"raw_{f}" in raw.columns else pl.lit(None, pl.String)
        for f in names.NAME_FIELDS
    )


def test_the_gate_keeps_out_only_names_the_east_asian_rules_leave_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = _raw_names(tmp_path)
    assert raw.height > 300
    nicknames = nickname_table()
    gated = names.standardise_names(raw, nicknames)
    monkeypatch.setattr(
        names, "_may_be_east_asian", lambda distinct, keys: pl.Series([True] * distinct.height)
    )
    every_row = names.standardise_names(raw, nicknames)
    assert gated.equals(every_row)
    # The hand-made names exercise every rule: the gate did let them through.
    han = gated.filter(pl.col("raw_full_name") == "王小明").row(0, named=True)
    assert (han["last_name"], han["first_name"]) == ("王", "小明")


def test_the_gate_rejects_most_western_names() -> None:
    distinct = pl.DataFrame(
        {
            "_first_name": ["Mary", "John", "Sean", "Xiaoming", None],
            "_middle_name": [None] * 5,
            "_last_name": ["Smith", "Brown", "Li", "Wang", None],
            "_full_name": ["Mary Smith", "John Brown", "Sean Li", "Xiaoming Wang", "Nguyen Van An"],
        },
        schema=dict.fromkeys(
            ("_first_name", "_middle_name", "_last_name", "_full_name"), pl.String
        ),
    )
    maybe = names._may_be_east_asian(distinct, list(distinct.columns))
    assert maybe.to_list() == [False, False, True, True, True]
