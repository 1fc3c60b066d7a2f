"""The Chinese sample: three sources with Chinese headers, characters in one, pinyin in
another, same-sound typos in the third; every record in the ground truth; the generator's
config reads; a CRM record and its shop twin standardise to one name key."""

from __future__ import annotations

import csv
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl

from pipelines.config import load_config
from pipelines.sample.zh import SAME_SOUND, generate_zh_sample
from pipelines.schema import MAPPABLE_FIELDS
from pipelines.standardise import standardise_frame
from pipelines.standardise.han import is_han


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_sample_has_characters_pinyin_typos_and_a_complete_truth(tmp_path: Path) -> None:
    counts = generate_zh_sample(tmp_path, 300, seed=5)
    crm, shop, service = (rows(tmp_path / f"{s}.csv") for s in ("crm", "shop", "service"))
    truth = rows(tmp_path / "ground_truth.csv")
    assert (len(crm), len(shop), len(service)) == (counts["crm"], counts["shop"], counts["service"])
    keys = {r["record_key"] for r in truth}
    assert len(keys) == len(truth) == len(crm) + len(shop) + len(service)
    assert {f"crm:{r['客户编号']}" for r in crm} <= keys
    assert all(is_han(r["姓名"]) for r in crm)
    assert all(r["出生日期"].endswith("日") for r in crm)
    assert not any(is_han(r["full_name"] + r["first_name"] + r["last_name"]) for r in shop)
    entity = {r["record_key"]: r["entity_id"] for r in truth}
    crm_name = {entity[f"crm:{r['客户编号']}"]: r["姓名"] for r in crm}
    typed = [
        (crm_name[entity[f"service:{r['工单号']}"]], r["客户姓名"])
        for r in service
        if entity[f"service:{r['工单号']}"] in crm_name
    ]
    changed = [(a, b) for a, b in typed if a != b and len(a) == len(b)]
    assert changed, "some service-desk names are typed by sound"
    assert any(y in SAME_SOUND.get(x, "") for a, b in changed for x, y in zip(a, b, strict=True))
    (tmp_path / "warehouse").mkdir()
    config = load_config(tmp_path / "config.yaml")
    assert [s.name for s in config.sources] == ["crm", "shop", "service"]
    assert (tmp_path / "crm.csv").stat().st_mode & 0o077 == 0


def test_a_crm_record_and_its_shop_twin_get_one_name_key(tmp_path: Path) -> None:
    generate_zh_sample(tmp_path, 200, seed=9)
    truth = {r["record_key"]: r["entity_id"] for r in rows(tmp_path / "ground_truth.csv")}
    crm = {truth[f"crm:{r['客户编号']}"]: r for r in rows(tmp_path / "crm.csv")}
    pairs = [
        (crm[truth[f"shop:{r['id']}"]], r)
        for r in rows(tmp_path / "shop.csv")
        if truth[f"shop:{r['id']}"] in crm
    ][:40]
    records = []
    for c, s in pairs:
        records.append({"full_name": c["姓名"]})
        records.append(
            {
                "full_name": s["full_name"] or None,
                "first_name": s["first_name"] or None,
                "last_name": s["last_name"] or None,
            }
        )
    frame = pl.DataFrame(
        [{f"raw_{f}": r.get(f) for f in MAPPABLE_FIELDS} for r in records],
        schema={f"raw_{f}": pl.String for f in MAPPABLE_FIELDS},
    )
    out = standardise_frame(frame, as_of=date(2026, 1, 1))
    full = out["mk_full_name"].to_list()
    agree = sum(full[i] == full[i + 1] for i in range(0, len(full), 2))
    assert agree == len(pairs), [
        p for p in zip(full[0::2], full[1::2], strict=True) if p[0] != p[1]
    ]


def test_generate_sample_cli_writes_the_chinese_sample(tmp_path: Path) -> None:
    golden = Path(sys.executable).with_name("golden")
    result = subprocess.run(
        [str(golden), "generate-sample", "--out", str(tmp_path / "s"), "--customers", "30",
         "--locale", "zh_CN"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "Chinese sample written" in result.stdout
    assert (tmp_path / "s" / "config.yaml").exists()
