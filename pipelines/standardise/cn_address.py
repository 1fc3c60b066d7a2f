"""Chinese addresses: one string in characters into province, city, district, street and number,
building/unit/room and postcode; matching keys in pinyin.

Why: a Chinese address is written largest part first with no commas (``广东省深圳市南山区科技园路
8号3栋201室 518057``); the comma reader in :mod:`pipelines.standardise.addresses` finds no city or
region in it. The administrative levels end in their own characters (省/自治区/特别行政区 for a
province, 市/自治州/地区/盟 for a city, 区/县/旗/市 for a district), the street ends in 路/街/道/巷
..., the house number in 号, and the building, unit and room in 座/栋/幢/号楼, 单元 and 室.

Display values are the source's characters, cut into those parts. Keys are read in tone-less
pinyin after converting traditional characters to simplified ones, so a traditional-character
source, a same-sound typo (城都街 for 成都街) and a romanised city (``Taiyuan``) meet.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from pypinyin import Style, lazy_pinyin

from pipelines.standardise.han import to_simplified

# Provinces, autonomous regions, municipalities and special administrative regions, full names.
_PROVINCE_NAMES = (
    "北京市 天津市 上海市 重庆市 河北省 山西省 辽宁省 吉林省 黑龙江省 江苏省 浙江省 安徽省 福建省 "
    "江西省 山东省 河南省 湖北省 湖南省 广东省 海南省 四川省 贵州省 云南省 陕西省 甘肃省 青海省 "
    "台湾省 内蒙古自治区 广西壮族自治区 西藏自治区 宁夏回族自治区 新疆维吾尔自治区 "
    "香港特别行政区 澳门特别行政区"
)
PROVINCES: tuple[str, ...] = tuple(_PROVINCE_NAMES.split())
MUNICIPALITIES = frozenset({"北京", "天津", "上海", "重庆"})
_NOT_MAINLAND = ("台湾", "香港", "澳门")


def _short(province: str) -> str:
    for suffix in ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市"):
        if province.endswith(suffix):
            return province[: -len(suffix)]
    return province


# Longest first, so 黑龙江省 wins over a shorter prefix.
_PROVINCE_FORMS = sorted(
    ((form, _short(p)) for p in PROVINCES for form in {p, _short(p)}),
    key=lambda pair: len(pair[0]),
    reverse=True,
)
_COUNTRY_RE = re.compile(r"^(?:中华人民共和国|中國|中国)")
_POSTCODE_RE = re.compile(r"(?:邮政编码|郵政編碼|邮编|郵編)?[:：]?\s*(?<!\d)(\d{6})(?!\d)")
_CITY_RE = re.compile(r"^([^区县路街道号巷弄村镇\d\s]{1,7}?(?:市|自治州|地区|盟))")
_DISTRICT_RE = re.compile(r"^([^路街道号巷弄村镇\d\s]{1,8}?(?:区|县|旗|市))")
_NUMBER_RE = re.compile(r"(\d+(?:-\d+)?)号(?!楼)")
_UNIT_RE = re.compile(
    r"([0-9A-Za-z甲乙丙丁一二三四五六七八九十]+)\s*(号楼|座|栋|幢|单元|室|层|楼|房)"
)
_DESIGNATORS = {
    "号楼": "b",
    "座": "b",
    "栋": "b",
    "幢": "b",
    "楼": "f",
    "层": "f",
    "单元": "u",
    "室": "r",
    "房": "r",
}
_HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class ChineseAddress:
    """The parts of one Chinese address, characters as delivered."""

    province: str | None
    city: str | None
    district: str | None
    street: str | None
    number: str | None
    building: str | None
    """Building, unit, floor and room, e.g. ``3栋2单元201室``."""
    postcode: str | None
    country: str | None
    """``CN`` when the address names China or a mainland province, else null."""
    line1: str | None
    """District, street and number as delivered: the street line."""


def has_han(text: str | None) -> bool:
    return bool(text) and _HAN_RE.search(text) is not None


def parse_chinese_address(text: str | None) -> ChineseAddress | None:
    """The parts of a Chinese address string, or null when it holds no Han character."""
    if not has_han(text):
        return None
    assert text is not None
    value = unicodedata.normalize("NFKC", text).strip()
    postcode = None
    found = None
    for match in _POSTCODE_RE.finditer(value):
        found = match  # the last six-digit group: a postcode follows the address
    at_edge = found is not None and (found.start() == 0 or found.end() == len(value))
    if found is not None and (at_edge or found.group(0)[0] in "邮郵"):
        postcode = found.group(1)
        value = value[: found.start()] + value[found.end() :]
    value = re.sub(r"[\s,，、]+", "", value)
    country = None
    if (m := _COUNTRY_RE.match(value)) is not None:
        country = "CN"
        value = value[m.end() :]
    simple = to_simplified(value)
    if len(simple) != len(value):  # a phrase conversion changed the length: cut the converted
        value = simple
    province = None
    for form, short in _PROVINCE_FORMS:
        if simple.startswith(form):
            province = value[: len(form)]
            value, simple = value[len(form) :], simple[len(form) :]
            if short not in _NOT_MAINLAND:
                country = country or "CN"
            break
    city = None
    if province is not None and _short(to_simplified(province)) in MUNICIPALITIES:
        city = province  # a municipality is its own city
        short = _short(to_simplified(province))
        for repeat in (short + "市", short):
            if simple.startswith(repeat):  # "北京市北京市朝阳区"
                value, simple = value[len(repeat) :], simple[len(repeat) :]
                break
    elif (m := _CITY_RE.match(simple)) is not None:
        city = value[: m.end()]
        value, simple = value[m.end() :], simple[m.end() :]
    district = None
    if (m := _DISTRICT_RE.match(simple)) is not None and m.end() < len(simple):
        district = value[: m.end()]
        value = value[m.end() :]
        simple = simple[m.end() :]
    number = None
    building = None
    rest_start = 0
    if (m := _NUMBER_RE.search(simple)) is not None:
        number = m.group(1)
        street = value[: m.start()] or None
        rest_start = m.end()
    else:
        street = value or None
    unit = _UNIT_RE.search(simple, rest_start)
    if unit is not None and (number is not None or unit.start() > 0):
        building = value[unit.start() :]
        if number is None:
            street = value[: unit.start()] or None
    elif number is not None and value[rest_start:]:
        building = value[rest_start:]
    line1 = (district or "") + value[:rest_start] if number is not None else None
    return ChineseAddress(
        line1=line1 or ("".join(p for p in (district, street) if p) or None),
        province=province,
        city=city,
        district=district,
        street=street,
        number=number,
        building=building,
        postcode=postcode,
        country=country,
    )


def _pinyin_words(text: str | None) -> str:
    if not text:
        return ""
    parts = lazy_pinyin(to_simplified(text), style=Style.NORMAL, errors="default")
    return "".join(p.lower().replace("ü", "u") for p in parts)


def city_key(city: str | None) -> str | None:
    """Pinyin of a city without its 市 suffix: 太原市, 太原 and 太原市 in traditional -> taiyuan."""
    if not city:
        return None
    simple = to_simplified(city)
    for suffix in ("市", "自治州", "地区", "盟"):
        if simple.endswith(suffix) and len(simple) > len(suffix) + 1:
            simple = simple[: -len(suffix)]
            break
    return _pinyin_words(simple) or None


def building_key(building: str | None) -> str | None:
    """Building/unit/room as ``<number><designator>`` words: 3栋2单元201室 -> ``3b 2u 201r``."""
    if not building:
        return None
    words = [
        f"{m.group(1).lower()}{_DESIGNATORS[m.group(2)]}"
        for m in _UNIT_RE.finditer(to_simplified(unicodedata.normalize("NFKC", building)))
    ]
    return " ".join(words) or None


def address_keys(parts: ChineseAddress) -> tuple[str | None, str | None]:
    """``(mk_address, mk_house_number)``: the street in pinyin, the number and the building
    key; the house number, else the building's own number. The district is left out of the
    key: one source writes it and another does not."""
    street = _pinyin_words(parts.street)
    building = building_key(parts.building)
    words = [w for w in (street, parts.number, building) if w]
    house = parts.number
    if house is None and building:
        house = building.split(" ")[0][:-1]
    return (" ".join(words) or None), house
