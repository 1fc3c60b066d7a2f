"""Chinese customer sample (``golden generate-sample --locale zh_CN``): three sources of one
population of Chinese customers, with ground truth.

Why a sibling generator: the main generator's cultures are Western-shaped (given name first,
comma addresses). Chinese data differs in every field that matching leans on, so it gets its own
small generator that makes what issue 23 describes:

- ``crm.csv``: Chinese column headers, the name in characters (some in traditional characters),
  the address as one Chinese string (some with the postcode), birth dates as ``1990年5月3日``;
- ``shop.csv``: the same people in pinyin, written ``Xiaoming Wang``, ``WANG Xiaoming``,
  ``wang xiao ming`` or split into first/last columns; +86 mobiles in several formats;
- ``service.csv``: a service desk whose agents type names by sound: same-sound characters
  (王小鸣 for 王小明) and now and then a look-alike one (晴 for 睛);
- households (family members at one address and landline) and movers (a new address in a
  later source);
- optionally (``look_alike_rate``) look-alike typos in CRM and service-desk names, family name
  or given name, from :data:`LOOK_ALIKE_TYPOS`: classic 形近字 pairs from Chinese teaching
  lists, written down here and not derived from the product's look-alike table, so the
  benchmark measures that table rather than reproducing it.

Readings come from hand-written ``character|pinyin`` tables, not from the product's pinyin code,
so the sample does not grade the product against itself.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import yaml

# Family names with their pinyin; compound ones included.
SURNAMES = (
    "王|Wang 李|Li 张|Zhang 刘|Liu 陈|Chen 杨|Yang 黄|Huang 赵|Zhao 吴|Wu 周|Zhou 徐|Xu 孙|Sun "
    "马|Ma 朱|Zhu 胡|Hu 郭|Guo 何|He 林|Lin 高|Gao 罗|Luo 郑|Zheng 梁|Liang 谢|Xie 宋|Song "
    "唐|Tang 许|Xu 韩|Han 冯|Feng 邓|Deng 曹|Cao 彭|Peng 曾|Zeng 萧|Xiao 田|Tian 董|Dong 潘|Pan "
    "袁|Yuan 蔡|Cai 蒋|Jiang 欧阳|Ouyang 司马|Sima 诸葛|Zhuge 上官|Shangguan"
)
# Given-name characters with pinyin; each may have same-sound and look-alike replacements.
GIVEN = (
    "伟|wei 芳|fang 娜|na 敏|min 静|jing 丽|li 强|qiang 磊|lei 军|jun 洋|yang 勇|yong 艳|yan "
    "杰|jie 涛|tao 明|ming 超|chao 秀|xiu 霞|xia 平|ping 刚|gang 桂|gui 英|ying 华|hua 玉|yu "
    "兰|lan 建|jian 国|guo 文|wen 辉|hui 鹏|peng 晨|chen 宇|yu 浩|hao 欣|xin 怡|yi 婷|ting "
    "雪|xue 梅|mei 红|hong 海|hai 峰|feng 晴|qing 志|zhi 小|xiao 春|chun 龙|long 凯|kai 琳|lin"
)
SAME_SOUND = {
    "明": "鸣铭", "伟": "玮炜", "丽": "莉俪", "华": "桦骅", "芳": "方", "静": "婧靖", "军": "君钧",
    "杰": "洁", "平": "萍", "红": "虹鸿", "峰": "锋枫", "婷": "庭", "辉": "晖", "鹏": "朋",
    "玉": "钰", "兰": "岚", "英": "瑛", "晨": "辰", "宇": "雨", "浩": "昊", "欣": "馨", "怡": "宜",
    "雪": "学", "梅": "玫", "志": "智", "春": "纯", "龙": "隆", "凯": "恺", "琳": "林", "敏": "民",
}  # fmt: skip
LOOK_ALIKE = {"晴": "睛", "玉": "王", "春": "椿", "明": "朋", "洋": "样", "峰": "蜂", "浩": "皓"}
# Character -> characters a hurried hand or eye writes for it (形近字), for the surnames and given
# names above. Some differ by a stroke (王/玉), some by a component (晴/睛, 杨/扬).
_LOOK_ALIKE_TYPOS = (
    "王|玉主 李|季 张|涨 刘|浏 陈|阵 杨|扬汤 吴|昊 孙|逊 马|乌 胡|湖 林|材 罗|萝 梁|粱 唐|塘 "
    "许|浒 曹|曾 曾|曹 彭|膨 田|由甲 董|懂 袁|衰 蔡|祭 蒋|将 徐|涂 郭|廓 "
    "伟|传 娜|哪 静|睁 军|车 洋|样详 勇|甬 秀|季 桂|佳挂 英|央 玉|王主 建|健 国|固 "
    "辉|挥 宇|字 浩|皓 怡|恰 婷|停 雪|雷 梅|海 海|梅 峰|锋蜂 晴|睛请 志|忐 小|少 春|椿秦 "
    "龙|尤 琳|淋 明|朋 红|江 平|苹 晨|晟"
)
LOOK_ALIKE_TYPOS: dict[str, str] = dict(p.split("|") for p in _LOOK_ALIKE_TYPOS.split())  # type: ignore[misc]
_TRADITIONAL_PAIRS = (
    "陈|陳 张|張 刘|劉 杨|楊 黄|黃 赵|趙 吴|吳 伟|偉 丽|麗 华|華 国|國 龙|龍 红|紅 辉|輝 "
    "欧阳|歐陽 诸葛|諸葛 马|馬 郑|鄭 冯|馮 邓|鄧"
)
TRADITIONAL = dict(pair.split("|") for pair in _TRADITIONAL_PAIRS.split())
# Province, city, city pinyin, postcode prefix, districts.
PLACES = (
    ("广东省", "深圳市", "518", "南山区 福田区 罗湖区 宝安区"),
    ("广东省", "广州市", "510", "天河区 越秀区 海珠区 白云区"),
    ("浙江省", "杭州市", "310", "西湖区 上城区 拱墅区 滨江区"),
    ("江苏省", "南京市", "210", "玄武区 秦淮区 鼓楼区 建邺区"),
    ("四川省", "成都市", "610", "锦江区 青羊区 武侯区 成华区"),
    ("湖北省", "武汉市", "430", "江岸区 武昌区 洪山区 汉阳区"),
    ("北京市", "北京市", "100", "朝阳区 海淀区 东城区 西城区"),
    ("上海市", "上海市", "200", "浦东新区 徐汇区 静安区 黄浦区"),
    ("陕西省", "西安市", "710", "雁塔区 碑林区 莲湖区 新城区"),
    ("山东省", "济南市", "250", "历下区 市中区 槐荫区 天桥区"),
)
_STREET_NAMES = "人民 解放 中山 建设 和平 新华 胜利 文化 朝阳 光明 幸福 科技 学府 青年 东风 长江"
STREETS = _STREET_NAMES.split()
STREET_TYPES = ("路", "街", "大道")
SOURCE_NAMES = ("crm", "shop", "service")


def _table(text: str) -> list[tuple[str, str]]:
    return [tuple(item.split("|")) for item in text.split()]  # type: ignore[misc]


@dataclass
class Person:
    entity_id: int
    family: str
    family_py: str
    given: str
    given_py: list[str]
    dob: date
    mobile: str
    email: str
    address: str
    address_parts: tuple[str, str, str, str, str]
    moved_to: str | None


def _address(rng: random.Random) -> tuple[str, tuple[str, str, str, str, str]]:
    province, city, prefix, districts = rng.choice(PLACES)
    district = rng.choice(districts.split())
    street = rng.choice(STREETS) + rng.choice(STREET_TYPES)
    number = f"{rng.randint(1, 300)}号"
    unit = f"{rng.randint(1, 20)}栋{rng.randint(1, 30)}0{rng.randint(1, 4)}室"
    postcode = f"{prefix}{rng.randint(0, 999):03d}"
    province_part = "" if province == city else province
    return (
        f"{province_part}{city}{district}{street}{number}{unit}",
        (province, city, district, street + number + unit, postcode),
    )


def _people(n: int, rng: random.Random) -> list[Person]:
    surnames = _table(SURNAMES)
    weights = [1.0 / (i + 3) for i in range(len(surnames))]
    given_chars = _table(GIVEN)
    people: list[Person] = []
    while len(people) < n:
        family, family_py = rng.choices(surnames, weights)[0]
        chosen = rng.sample(given_chars, 1 if rng.random() < 0.3 else 2)
        given = "".join(c for c, _ in chosen)
        address, parts = _address(rng)
        dob = date(1950, 1, 1) + timedelta(days=rng.randint(0, 365 * 55))
        mobile = f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}"
        handle = f"{''.join(p for _, p in chosen)}.{family_py.lower()}{rng.randint(1, 999)}"
        email = f"{handle}@{rng.choice(['qq.com', '163.com', '126.com', 'sina.com'])}"
        moved = _address(rng)[0] if rng.random() < 0.08 else None
        person = Person(len(people), family, family_py, given, [p for _, p in chosen], dob,
                        mobile, email, address, parts, moved)  # fmt: skip
        people.append(person)
        if rng.random() < 0.1 and len(people) < n:  # a family member at the same address
            relative_given = rng.sample(given_chars, 2)
            people.append(
                Person(
                    len(people),
                    family,
                    family_py,
                    "".join(c for c, _ in relative_given),
                    [p for _, p in relative_given],
                    date(1950, 1, 1) + timedelta(days=rng.randint(0, 365 * 55)),
                    f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}",
                    f"{family_py.lower()}{rng.randint(1000, 9999)}@qq.com",
                    address,
                    parts,
                    None,
                )
            )
    return people


def _typed_by_sound(name: str, rng: random.Random, look_alike: float) -> str:
    chars = list(name)
    positions = [i for i, c in enumerate(chars) if c in SAME_SOUND or c in LOOK_ALIKE]
    if not positions:
        return name
    i = rng.choice(positions)
    if chars[i] in LOOK_ALIKE and rng.random() < look_alike:
        chars[i] = LOOK_ALIKE[chars[i]]
    elif chars[i] in SAME_SOUND:
        chars[i] = rng.choice(SAME_SOUND[chars[i]])
    return "".join(chars)


def _look_alike_typo(name: str, rng: random.Random) -> str:
    """``name`` with one character replaced by a look-alike (family or given name)."""
    positions = [i for i, c in enumerate(name) if c in LOOK_ALIKE_TYPOS]
    if not positions:
        return name
    i = rng.choice(positions)
    return name[:i] + rng.choice(LOOK_ALIKE_TYPOS[name[i]]) + name[i + 1 :]


def _traditional(text: str) -> str:
    for simple, trad in TRADITIONAL.items():
        text = text.replace(simple, trad)
    return text


def _phone(mobile: str, rng: random.Random) -> str:
    formats = (
        mobile,
        f"+86 {mobile[:3]} {mobile[3:7]} {mobile[7:]}",
        f"+86-{mobile}",
        f"86{mobile}",
        f"{mobile[:3]}-{mobile[3:7]}-{mobile[7:]}",
        f"(+86){mobile}",
    )
    return rng.choice(formats)


def _pinyin_name(p: Person, rng: random.Random) -> tuple[str, str, str]:
    """(full_name, first_name, last_name) as a web shop stores them: one of the two is set."""
    given = "".join(p.given_py).capitalize()
    style = rng.random()
    if style < 0.3:
        return "", given, p.family_py
    if style < 0.55:
        return f"{given} {p.family_py}", "", ""
    if style < 0.8:
        return f"{p.family_py.upper()} {given}", "", ""
    return f"{p.family_py.lower()} {' '.join(p.given_py)}", "", ""


def generate_zh_sample(
    out: Path, customers: int = 800, seed: int = 42, look_alike_rate: float = 0.0
) -> dict[str, object]:
    """Write ``crm.csv``, ``shop.csv``, ``service.csv``, ``ground_truth.csv`` and
    ``config.yaml`` under ``out``; return counts per file. ``look_alike_rate`` is the share of
    CRM and service-desk names given one look-alike character typo (a separate random stream,
    so the rest of the sample is the same whatever the rate)."""
    rng = random.Random(seed)
    typo_rng = random.Random(seed + 1)

    def look_alike(name: str) -> str:
        if look_alike_rate and typo_rng.random() < look_alike_rate:
            return _look_alike_typo(name, typo_rng)
        return name

    out.mkdir(parents=True, exist_ok=True)
    people = _people(customers, rng)
    crm: list[list[str]] = []
    shop: list[list[str]] = []
    service: list[list[str]] = []
    truth: list[tuple[str, int]] = []
    for p in people:
        present = [s for s, rate in zip(SOURCE_NAMES, (0.8, 0.6, 0.4), strict=True)
                   if rng.random() < rate] or [rng.choice(SOURCE_NAMES)]  # fmt: skip
        full = p.family + p.given
        if "crm" in present:
            name = look_alike(_traditional(full) if rng.random() < 0.1 else full)
            address = p.address + (f" {p.address_parts[4]}" if rng.random() < 0.5 else "")
            dob = f"{p.dob.year}年{p.dob.month}月{p.dob.day}日"
            row_id = f"C{len(crm) + 1:06d}"
            crm.append([row_id, name, address, _phone(p.mobile, rng), dob,
                        p.email if rng.random() < 0.7 else ""])  # fmt: skip
            truth.append((f"crm:{row_id}", p.entity_id))
        if "shop" in present:
            full_py, first, last = _pinyin_name(p, rng)
            address = p.moved_to or p.address
            row_id = f"W{len(shop) + 1:06d}"
            shop.append([row_id, full_py, first, last, p.email.upper() if rng.random() < 0.2
                         else p.email, _phone(p.mobile, rng) if rng.random() < 0.8 else "",
                         p.dob.isoformat() if rng.random() < 0.7 else "",
                         address if rng.random() < 0.9 else ""])  # fmt: skip
            truth.append((f"shop:{row_id}", p.entity_id))
        if "service" in present:
            name = look_alike(_typed_by_sound(full, rng, 0.25) if rng.random() < 0.35 else full)
            row_id = f"S{len(service) + 1:06d}"
            service.append([row_id, name, _phone(p.mobile, rng), p.moved_to or p.address])
            truth.append((f"service:{row_id}", p.entity_id))
    rng.shuffle(shop)
    _write(out / "crm.csv", ["客户编号", "姓名", "地址", "手机", "出生日期", "电子邮箱"], crm)
    _write(out / "shop.csv", ["id", "full_name", "first_name", "last_name", "email", "phone",
                              "birthday", "address"], shop)  # fmt: skip
    _write(out / "service.csv", ["工单号", "客户姓名", "联系电话", "地址"], service)
    _write(out / "ground_truth.csv", ["record_key", "entity_id"], [[k, str(e)] for k, e in truth])
    (out / "config.yaml").write_text(
        yaml.safe_dump(zh_config(), allow_unicode=True, sort_keys=False)
    )
    return {"crm": len(crm), "shop": len(shop), "service": len(service), "people": len(people)}


def zh_config(warehouse: str = "warehouse") -> dict[str, object]:
    """The pipeline config of the three sources (Chinese headers, CN defaults)."""
    hints = {"kind": "file", "default_country": "CN", "default_phone_region": "CN"}
    return {
        "warehouse": {"path": warehouse},
        "sources": [
            {"name": "crm", "path": "crm.csv", "id_column": "客户编号", **hints,
             "date_formats": {"date_of_birth": ["%Y年%m月%d日"]},
             "mapping": {"full_name": "姓名", "address": "地址", "phone": "手机",
                         "date_of_birth": "出生日期", "email": "电子邮箱"}},
            {"name": "shop", "path": "shop.csv", "id_column": "id", **hints,
             "date_formats": {"date_of_birth": ["%Y-%m-%d"]},
             "mapping": {"full_name": "full_name", "first_name": "first_name",
                         "last_name": "last_name", "email": "email", "phone": "phone",
                         "date_of_birth": "birthday", "address": "address"}},
            {"name": "service", "path": "service.csv", "id_column": "工单号", **hints,
             "mapping": {"full_name": "客户姓名", "phone": "联系电话", "address": "地址"}},
        ],
    }  # fmt: skip


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    path.chmod(0o600)  # personal data: owner only
