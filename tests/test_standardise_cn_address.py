"""Chinese addresses: one string in characters cut into province, city, district, street and
number, building/unit/room and postcode; keys in pinyin so traditional characters, same-sound
typos and romanised cities meet; other addresses are read as before."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from pipelines.schema import MAPPABLE_FIELDS
from pipelines.standardise import standardise_frame
from pipelines.standardise.cn_address import parse_chinese_address

AS_OF = date(2026, 1, 1)


def run_many(records: list[dict[str, str | None]]) -> list[dict[str, object]]:
    rows = [{f"raw_{f}": r.get(f) for f in MAPPABLE_FIELDS} for r in records]
    df = pl.DataFrame(rows, schema={f"raw_{f}": pl.String for f in MAPPABLE_FIELDS})
    return standardise_frame(df, as_of=AS_OF).to_dicts()


@pytest.mark.parametrize(
    ("raw", "parts"),
    [
        pytest.param(
            "广东省深圳市南山区科技园路8号3栋2单元201室 518057",
            ("广东省", "深圳市", "南山区", "科技园路", "8", "3栋2单元201室", "518057"),
            id="province-city-district-street-number-building-postcode",
        ),
        pytest.param(
            "北京市朝阳区建国路88号",
            ("北京市", "北京市", "朝阳区", "建国路", "88", None, None),
            id="municipality-is-its-own-city",
        ),
        pytest.param(
            "中国上海市上海市浦东新区世纪大道100号 200120",
            ("上海市", "上海市", "浦东新区", "世纪大道", "100", None, "200120"),
            id="country-and-repeated-municipality",
        ),
        pytest.param(
            "新疆维吾尔自治区乌鲁木齐市天山区解放北路12号A座1203室",
            ("新疆维吾尔自治区", "乌鲁木齐市", "天山区", "解放北路", "12", "A座1203室", None),
            id="autonomous-region",
        ),
        pytest.param(
            "內蒙古自治區呼和浩特市新城區中山路5號",
            ("內蒙古自治區", "呼和浩特市", "新城區", "中山路", "5", None, None),
            id="traditional-characters",
        ),
        pytest.param(
            "青海省太原市西夏成都街u座",
            ("青海省", "太原市", None, "西夏成都街", None, "u座", None),
            id="no-district-suffix-building-letter",
        ),
        pytest.param(
            "邮编:518057 广东深圳市福田区深南大道1001号",
            ("广东", "深圳市", "福田区", "深南大道", "1001", None, "518057"),
            id="short-province-postcode-first",
        ),
        pytest.param(
            "江苏省苏州市昆山市前进路3号",
            ("江苏省", "苏州市", "昆山市", "前进路", "3", None, None),
            id="county-level-city",
        ),
    ],
)
def test_a_chinese_address_is_cut_into_its_parts(raw: str, parts: tuple[str | None, ...]) -> None:
    p = parse_chinese_address(raw)
    assert p is not None
    got = (p.province, p.city, p.district, p.street, p.number, p.building, p.postcode)
    assert got == parts


def test_staged_record_carries_the_parts_and_displays_the_characters() -> None:
    [out] = run_many([{"address": "广东省深圳市南山区科技园路8号3栋2单元201室 518057"}])
    assert out["region"] == "广东省" and out["city"] == "深圳市"
    assert out["address_line1"] == "南山区科技园路8号"
    assert out["address_line2"] == "3栋2单元201室"
    assert out["postcode"] == "518057" and out["country"] == "CN"
    assert out["mk_address"] == "kejiyuanlu 8 3b 2u 201r"
    assert (out["mk_house_number"], out["mk_city"], out["mk_postcode"]) == (
        "8",
        "shenzhen",
        "518057",
    )


def test_traditional_same_sound_and_romanised_forms_meet_on_the_keys() -> None:
    simplified, traditional, typo, romanised = run_many(
        [
            {"address": "山西省太原市迎泽区建国路12号"},
            {"address": "山西省太原市迎澤區建國路12號"},
            {"address": "山西省太原市迎泽区健国路12号"},
            {"address_line1": "12 Jianguo Lu", "city": "Taiyuan", "country": "CN"},
        ]
    )
    assert simplified["mk_address"] == traditional["mk_address"] == typo["mk_address"]
    assert simplified["mk_city"] == traditional["mk_city"] == romanised["mk_city"] == "taiyuan"
    assert traditional["address_line1"] == "迎澤區建國路12號", "display as delivered"


def test_a_different_street_number_or_building_gives_a_different_key() -> None:
    base, other_number, other_room = run_many(
        [
            {"address": "广东省深圳市南山区科技园路8号3栋201室"},
            {"address": "广东省深圳市南山区科技园路9号3栋201室"},
            {"address": "广东省深圳市南山区科技园路8号3栋202室"},
        ]
    )
    assert len({base["mk_address"], other_number["mk_address"], other_room["mk_address"]}) == 3
    assert other_number["mk_house_number"] == "9"


def test_latin_addresses_are_not_read_as_chinese() -> None:
    assert parse_chinese_address("12 Main St, Springfield, IL 62704") is None
    [out] = run_many([{"address": "12 Main St, Springfield, IL 62704"}])
    assert (out["city"], out["region"], out["mk_house_number"]) == ("Springfield", "IL", "12")
