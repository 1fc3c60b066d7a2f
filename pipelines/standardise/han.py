"""Chinese names: family/given split of names in Han characters, pinyin matching keys, and the
family-first or given-first order of romanised (pinyin) names.

Why: one customer is ``王小明`` in a CRM, ``Xiaoming Wang`` in a web shop, ``WANG Xiaoming`` on a
form and ``王小鸣`` where an agent typed a same-sound character. Compared as characters these are
four different people; compared as tone-less pinyin (``wang`` / ``xiaoming``) they are one. So
every name in Han characters is keyed on its pinyin, and a romanised name that reads as pinyin is
keyed on its lower-case letters with the family name found by the surname table below, whatever
order it was written in. Display values keep the characters as the source delivered them.

Traditional characters are converted to simplified ones (``zhconv``'s maintained tables) before
surnames are looked up and pinyin is read, so ``陳大文`` and ``陈大文`` get one key. Pinyin comes
from ``pypinyin`` (phrase-aware, so ``重庆`` reads ``chongqing``); a surname whose reading as a
surname differs from its everyday reading (``单`` shàn, ``曾`` zēng, ``解`` xiè) takes the
reading from :data:`SURNAME_READINGS`. ``ü`` is keyed as ``u`` (``吕`` = ``lu``): romanised
sources write ``Lü``, ``Lu`` or ``Lv`` for it.

Limits: a Japanese name written in kanji only is read as Chinese (its key is the Mandarin reading,
the same for every record written in those characters); names with kana or hangul are left to
the general rules. Uyghur and other names joined by ``·`` are not split.
"""

from __future__ import annotations

import re
from functools import cache

from pypinyin import Style, lazy_pinyin
from zhconv import convert


# Compound (two-character) family names, simplified forms. Sources: the compound surnames of the
# 百家姓 and those common today (欧阳, 上官, 司马, 诸葛 ...). A name starting with one of these is
# split after two characters.
def _table(text: str) -> frozenset[str]:
    return frozenset(text.split())


COMPOUND_SURNAMES: frozenset[str] = _table(
    "欧阳 司马 诸葛 上官 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 轩辕 令狐 钟离 闾丘 "
    "澹台 公冶 宗政 濮阳 淳于 单于 太叔 申屠 仲孙 赫连 万俟 端木 呼延 南宫 西门 百里 东郭 拓跋 "
    "独孤 司空 第五 左丘 羊舌 微生 梁丘 谷梁 段干 公羊 乐正 亓官 司寇 巫马 公西 漆雕 壤驷 公良 "
    "颛孙 鲜于 即墨 南门 东门"
)

# Single-character family names in order of frequency (the most common hundred or so cover
# about nine in ten people in China), followed by the rest of the 百家姓. The order decides a
# romanised name whose both ends read as a surname: the more common one is the family name
# ("Li Ming" and "Ming Li" are both 李 + 明).
COMMON_SURNAMES: tuple[str, ...] = tuple(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩邓冯曹彭曾肖田董潘袁蔡蒋余于杜叶程"
    "魏苏吕丁任卢姚沈钟姜崔谭陆范汪廖石金韦贾夏付方邹熊白孟秦邱侯江尹薛闫段雷龙黎史陶贺毛郝"
    "顾龚邵万覃武钱戴严莫孔向常汤康易乔赖文施洪辛柴殷庞牛樊葛温季岳齐耿梅欧聂安申凌蓝包卞"
    "褚卫尤吕施孔严华金魏陶姜戚邹喻柏水窦章云苏奚范郎鲁昌苗凤花俞柳酆鲍费廉岑倪滕毕邬乐时"
    "傅皮齐伍元卜平和穆萧湛祁禹狄米贝明臧计伏成谈茅纪舒屈项祝阮闵席麻强路娄危童颜刁徐骆"
    "霍虞支柯昝管经房裘缪干解应宗宣贲郁单杭诸左吉钮嵇邢滑裴荣翁荀羊於惠甄曲家封芮羿储靳"
    "汲邴糜松井富巫乌焦巴弓牧隗山谷车宓蓬全郗班仰秋仲伊宫宁仇栾暴甘钭厉戎祖符景詹束幸司"
    "韶郜蓟薄印宿怀蒲邰从鄂索咸籍卓蔺屠蒙池阴郁胥能苍双闻莘党翟贡劳逄姬扶堵冉宰郦雍却"
    "璩桑桂濮寿通边扈燕冀郏浦尚农别庄晏瞿阎充慕连茹习宦艾鱼容古慎戈庾终暨居衡步都满"
    "弘匡国寇广禄阙东殳沃利蔚越夔隆师巩厍晁勾敖融冷訾阚那简饶空毋沙乜养鞠须丰巢关"
    "蒯相查后荆红游竺权逯盖益桓公冼"
)
_SURNAME_RANK: dict[str, int] = {}
for _rank, _name in enumerate(COMMON_SURNAMES):
    _SURNAME_RANK.setdefault(_name, _rank)
for _rank, _name in enumerate(sorted(COMPOUND_SURNAMES), start=len(COMMON_SURNAMES)):
    _SURNAME_RANK.setdefault(_name, _rank)
# The most common surnames: a four-character name starting with two of them is read as a
# two-surname form (a married woman's husband's surname before her own, 陈李美玲).
_TOP_SURNAMES = frozenset(COMMON_SURNAMES[:100])

# Family names whose reading as a surname is not their everyday reading.
SURNAME_READINGS: dict[str, str] = {
    "单": "shan",
    "曾": "zeng",
    "解": "xie",
    "仇": "qiu",
    "区": "ou",
    "朴": "piao",
    "查": "zha",
    "覃": "qin",
    "乐": "yue",
    "盖": "ge",
    "缪": "miao",
    "翟": "zhai",
    "褚": "chu",
    "秘": "bi",
    "种": "chong",
    "员": "yun",
    "召": "shao",
    "隗": "wei",
    "句": "gou",
    "柏": "bai",
    "贲": "ben",
    "重": "chong",
    "尉": "wei",
    "那": "na",
    "都": "du",
    "燕": "yan",
    "华": "hua",
    "任": "ren",
    "沈": "shen",
    "车": "che",
    "折": "she",
    "宿": "su",
    "薄": "bo",
    "能": "nai",
    "阚": "kan",
    "繁": "po",
    "冼": "xian",
    "相": "xiang",
    "厍": "she",
    "宁": "ning",
    "长孙": "zhangsun",
    "尉迟": "yuchi",
    "万俟": "moqi",
    "单于": "chanyu",
    "澹台": "tantai",
    "乐正": "yuezheng",
    "令狐": "linghu",
    "亓官": "qiguan",
    "鲜于": "xianyu",
}

_HAN_ONLY = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+$")
_HAN_ANY = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_LATIN_WORD = re.compile(r"^[A-Za-zÜüÚúǗǘ]+$")


def is_han(text: str | None) -> bool:
    """True when ``text`` is nothing but Han characters (no kana, hangul, Latin or spaces)."""
    return bool(text) and _HAN_ONLY.match(text) is not None


def to_simplified(text: str) -> str:
    """Traditional characters to simplified ones; other text unchanged."""
    return convert(text, "zh-cn")


def _fold_pinyin(syllable: str) -> str:
    return syllable.lower().replace("ü", "u").replace("v", "u")


def pinyin_key(text: str | None, surname: bool = False) -> str | None:
    """Tone-less pinyin of Han ``text``, syllables joined, ``ü`` as ``u``.

    ``王小明`` -> ``wangxiaoming``.
    ``surname`` reads the text as a family name (``单`` -> ``shan``, not ``dan``). Characters
    pypinyin cannot read are left out; null when nothing is left.
    """
    if not text:
        return None
    simple = to_simplified(text)
    if surname and simple in SURNAME_READINGS:
        return SURNAME_READINGS[simple]
    syllables = lazy_pinyin(simple, style=Style.NORMAL, errors="ignore")
    key = "".join(_fold_pinyin(s) for s in syllables if s.isalpha())
    return key or None


def split_han_name(name: str) -> tuple[str, str] | None:
    """``(family, given)`` of a full name in Han characters, characters as delivered.

    Compound surnames (:data:`COMPOUND_SURNAMES`) take two characters; a four-character name
    starting with two common single surnames is the two-surname form (陈李美玲 -> 陈李 / 美玲);
    otherwise the family name is the first character. Null for anything but 2+ Han characters.
    """
    if not is_han(name) or len(name) < 2:
        return None
    simple = to_simplified(name)
    if len(name) >= 3 and simple[:2] in COMPOUND_SURNAMES:
        return name[:2], name[2:]
    if len(name) == 4 and simple[0] in _TOP_SURNAMES and simple[1] in _TOP_SURNAMES:
        return name[:2], name[2:]
    return name[:1], name[1:]


@cache
def _surname_pinyin_rank() -> dict[str, int]:
    """Pinyin of every tabled surname -> the rank of its most common character."""
    ranks: dict[str, int] = {}
    for name, rank in sorted(_SURNAME_RANK.items(), key=lambda kv: kv[1]):
        key = pinyin_key(name, surname=True)
        if key:
            ranks.setdefault(key, rank)
    return ranks


@cache
def pinyin_syllables() -> frozenset[str]:
    """Every tone-less pinyin syllable (``ü`` folded to ``u``), from pypinyin's own tables."""
    from pypinyin.contrib.tone_convert import to_normal
    from pypinyin.pinyin_dict import pinyin_dict

    readings = {r for value in pinyin_dict.values() for r in value.split(",")}
    out = {_fold_pinyin(to_normal(r)) for r in readings}
    out = {s for s in out if s.isalpha() and s.isascii()}
    # Interjection-only readings are not syllables of names.
    return frozenset(out - {"m", "n", "ng", "hm", "hng", "r"})


@cache
def is_pinyin_word(word: str) -> bool:
    """True when ``word`` (any case) is one or more pinyin syllables run together."""
    text = _fold_pinyin(word)
    if not text.isascii() or not text.isalpha():
        return False
    syllables = pinyin_syllables()
    ok = [True] + [False] * len(text)
    for end in range(1, len(text) + 1):
        for start in range(max(0, end - 6), end):
            if ok[start] and text[start:end] in syllables:
                ok[end] = True
                break
    return ok[len(text)]


def _words(*parts: str | None) -> list[str]:
    return [w for p in parts if p for w in re.split(r"[\s\-'’]+", p) if w]


def _family_index(words: list[str]) -> int | None:
    """Which end of a romanised name is the family name: 0 (written first), -1 (last), or
    null when neither end reads as a tabled surname."""
    head, tail = words[0], words[-1]
    head_caps = head.isupper() and len(head) > 1
    tail_caps = tail.isupper() and len(tail) > 1
    others_caps = any(w.isupper() for w in words[1:-1])
    if head_caps != tail_caps and not others_caps:
        return 0 if head_caps else -1  # "WANG Xiaoming": the capitals mark the family name
    ranks = _surname_pinyin_rank()
    head_rank, tail_rank = ranks.get(_fold_pinyin(head)), ranks.get(_fold_pinyin(tail))
    if head_rank is None and tail_rank is None:
        return None
    if head_rank is not None and all(w.islower() for w in words):
        return 0  # pinyin typed in lower case is typed family name first ("wu feng chen")
    if tail_rank is None or (head_rank is not None and head_rank < tail_rank):
        return 0
    return -1


def east_asian_name(
    first: str | None, middle: str | None, last: str | None, full: str | None
) -> tuple[str | None, str | None, str | None, str | None, str | None] | None:
    """``(first, middle, last, mk_first, mk_last)`` for a Chinese name, or null for any other.

    * Parts or a full name in Han characters: split (when only the full name is there) and
      keyed on pinyin.
    * A romanised name whose every word is pinyin: the family name is the end marked in
      capitals, else the first word of a name typed all in lower case when it is a tabled
      surname, else the end that is a tabled surname (the more common one when both are);
      the given name is the other words (``wang xiao ming`` -> ``Xiao Ming`` / ``wang``), keyed
      on its letters run together (``xiaoming``).
    """
    if first is None and last is None and middle is None:
        if full is None or not is_han(full):
            return None
        split = split_han_name(full)
        if split is None:
            return None
        family, given = split
        return given, None, family, pinyin_key(given), pinyin_key(family, surname=True)
    han_parts = [p for p in (first, middle, last) if p]
    if all(is_han(p) for p in han_parts):
        given = "".join(p for p in (first, middle) if p) or None
        if given is None and last is not None and len(last) >= 2 and full is None:
            return None
        return given, None, last, pinyin_key(given), pinyin_key(last, surname=True)
    if any(_HAN_ANY.search(p) for p in han_parts):
        return None
    words = _words(first, middle, last)
    if len(words) < 2 or not all(_LATIN_WORD.match(w) and is_pinyin_word(w) for w in words):
        return None
    index = _family_index(words)
    if index is None:
        return None
    family = words[index]
    given_words = words[1:] if index == 0 else words[:-1]
    if index == -1:
        # Written given name first, as Western names are: only a given name spelt syllable by
        # syllable ("Xiao Ming Wang") needs joining; "Ana Li" is left to the general rules.
        syllables = pinyin_syllables()
        if len(given_words) < 2 or not all(_fold_pinyin(w) in syllables for w in given_words):
            return None
    given = " ".join(given_words)
    mk_given = "".join(_fold_pinyin(w) for w in given_words)
    return given, None, family, mk_given, _fold_pinyin(family)
