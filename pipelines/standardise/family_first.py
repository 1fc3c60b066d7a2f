"""Korean, Japanese and Vietnamese names written family name first: their parts, the order they
are shown in, and matching keys in Latin letters that meet the romanised forms.

Why: the same customer is ``김민준`` in one system and ``Minjun Kim`` in another, ``やまだ たろう``
and ``Taro Yamada``, ``Nguyễn Văn An`` and ``An Nguyen``. Compared letter by letter a Hangul or
kana name cannot meet its romanisation (the model calls two scripts "not comparable"), and a
Vietnamese name split the Western way makes ``Nguyễn`` the first name. So, as for Chinese names
(:mod:`pipelines.standardise.han`): the display keeps the script's own order, and the matching
keys are the romanised given and family names, which meet the Latin forms in either order (the
swapped-names level and the order-free full-name key do the rest).

* **Korean (Hangul).** A full name without a space is split after its family name: the first
  syllable, or two for the compound surnames (남궁, 황보, 제갈, 선우, 독고 ...). Keys are the
  Revised Romanisation of each syllable on its own (``korean_romanizer``; names are romanised
  syllable by syllable, without the sound changes between syllables that words undergo:
  ``석민`` -> ``seokmin``), except that a family name whose own spelling is near universal and
  differs from Revised Romanisation (김 Kim, 이 Lee, 박 Park ...) is keyed on that spelling
  (:data:`KOREAN_SURNAME_SPELLINGS`).
* **Japanese (kana).** A name in hiragana or katakana, family and given name given apart (two
  columns, or one column with a space): keys are the Hepburn romanisation (``jaconv``) with long
  vowels written short, as passports write them (``たろう`` -> ``taro``, ``おおたに`` ->
  ``otani``). A kana name without a space is not split: where the family name ends cannot be
  read from kana. Names in kanji are not romanised: a kanji name has several readings and only
  its bearer knows which (山田 is Yamada, 東海林 Shōji or Tōkairin); a name all in kanji is
  keyed as Chinese characters are, on their Mandarin reading, which still meets the same
  characters in another source.
* **Vietnamese.** A Latin-script full name whose first word is a Vietnamese family name
  (:data:`VIETNAMESE_SURNAMES`) and whose last word is not, and which shows it is Vietnamese
  (Vietnamese letters or tone marks, the middle names Văn/Thị, or ``Nguyen``): family name the
  first word, given name the last, middle names between (``Nguyễn Văn An`` -> An / Văn /
  Nguyễn), shown as written. Keys are the folded letters (``nguyen``, ``an``), so ``An Nguyen``
  and ``Nguyen Van An`` meet it.
"""

from __future__ import annotations

import re
from functools import cache
from typing import NamedTuple

from pipelines.standardise.text import fold_word

_HANGUL_ONLY = re.compile(r"^[\uac00-\ud7a3]+$")
_KANA_ONLY = re.compile(r"^[\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f]+$")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


KOREAN_COMPOUND_SURNAMES: frozenset[str] = _words(
    "남궁 황보 제갈 선우 독고 사공 서문 동방 어금 망절"
)

# The most common family names whose customary spelling (passports, the great majority of
# bearers) is not their Revised Romanisation. Others are keyed on Revised Romanisation.
KOREAN_SURNAME_SPELLINGS: dict[str, str] = {
    "김": "kim",
    "이": "lee",
    "박": "park",
    "최": "choi",
    "정": "jung",
    "조": "cho",
    "윤": "yoon",
    "임": "lim",
    "신": "shin",
    "권": "kwon",
    "황": "hwang",
    "안": "ahn",
    "유": "yoo",
    "전": "jeon",
    "고": "ko",
    "노": "noh",
    "우": "woo",
    "류": "ryu",
    "구": "koo",
    "곽": "kwak",
    "엄": "um",
    "오": "oh",
}

# Vietnamese family names, folded; the first fourteen are borne by about nine in ten people.
VIETNAMESE_SURNAMES: frozenset[str] = _words(
    "nguyen tran le pham hoang huynh phan vu vo dang bui do ho ngo duong ly "
    "dinh doan trinh truong lam mai cao quach luong ta thai chau ha kieu"
)
_VIETNAMESE_MIDDLE = frozenset({"van", "thi"})
# Letters only Vietnamese uses among Latin scripts, and vowels with its tone marks.
_VIETNAMESE_LETTERS = re.compile(
    r"[ăâđêôơưĂÂĐÊÔƠƯ]|[ảạằắẳẵặầấẩẫậẻẽẹềếểễệỉĩịỏọồốổỗộờớởỡợủũụừứửữựỳỷỹỵ]",
    re.IGNORECASE,
)
_LATIN_NAME_WORD = re.compile(r"^[^\W\d_]+$")


class FamilyFirstName(NamedTuple):
    """A family-first name's parts and keys; null keys mean "the usual folded letters"."""

    first: str | None
    middle: str | None
    last: str | None
    mk_first: str | None
    mk_last: str | None
    display: str | None


def is_hangul(text: str | None) -> bool:
    """True when ``text`` is nothing but Hangul syllables."""
    return bool(text) and _HANGUL_ONLY.match(text) is not None


def is_kana(text: str | None) -> bool:
    """True when ``text`` is nothing but hiragana and katakana (with the long-vowel mark)."""
    return bool(text) and _KANA_ONLY.match(text) is not None


@cache
def _romanizer() -> type:
    from korean_romanizer.romanizer import Romanizer

    return Romanizer


def korean_key(text: str | None, surname: bool = False) -> str | None:
    """Revised Romanisation of a Hangul name part, syllable by syllable, lower case;
    ``surname`` uses the customary spelling of :data:`KOREAN_SURNAME_SPELLINGS`."""
    if not is_hangul(text):
        return None
    assert text is not None
    if surname and text in KOREAN_SURNAME_SPELLINGS:
        return KOREAN_SURNAME_SPELLINGS[text]
    romanizer = _romanizer()
    key = "".join(romanizer(syllable).romanize() for syllable in text).lower()
    return re.sub(r"[^a-z]", "", key) or None


def split_korean_name(name: str) -> tuple[str, str] | None:
    """``(family, given)`` of a Hangul full name written without a space (2 to 5 syllables)."""
    if not is_hangul(name) or not 2 <= len(name) <= 5:
        return None
    if len(name) >= 3 and name[:2] in KOREAN_COMPOUND_SURNAMES:
        return name[:2], name[2:]
    return name[:1], name[1:]


def kana_key(text: str | None) -> str | None:
    """Hepburn romanisation of a kana name part with long vowels written short
    (``きょうこ`` -> ``kyoko``), lower case."""
    if not is_kana(text):
        return None
    import jaconv

    assert text is not None
    roman = jaconv.kana2alphabet(jaconv.kata2hira(text.replace("ー", ""))).lower()
    roman = re.sub(r"xtsu([bcdfghjkmnprstwz])", r"\1\1", roman)  # small tsu: doubled consonant
    roman = roman.replace("cch", "tch").replace("xtsu", "")
    roman = re.sub(r"ou|oo", "o", roman)
    roman = roman.replace("uu", "u")
    return re.sub(r"[^a-z]", "", roman) or None


def _vietnamese(words: list[str]) -> FamilyFirstName | None:
    """A Vietnamese full name's parts (module docstring), or null."""
    if len(words) < 2:
        return None
    head, tail = fold_word(words[0]), fold_word(words[-1])
    # Most names are neither: two look-ups settle them before any other work.
    if head not in VIETNAMESE_SURNAMES and tail not in VIETNAMESE_SURNAMES:
        return None
    if not all(_LATIN_NAME_WORD.match(w) for w in words):
        return None
    folded = [fold_word(w) for w in words]
    marked = any(_VIETNAMESE_LETTERS.search(w) for w in words)
    middle_marker = len(words) >= 3 and folded[1] in _VIETNAMESE_MIDDLE
    family_first = folded[0] in VIETNAMESE_SURNAMES and folded[-1] not in VIETNAMESE_SURNAMES
    if family_first and (marked or middle_marker or folded[0] == "nguyen"):
        middle = " ".join(words[1:-1]) or None
        return FamilyFirstName(words[-1], middle, words[0], None, None, " ".join(words))
    # Written given name first with the middle name leading ("Văn An Nguyễn").
    if (
        len(words) >= 3
        and folded[-1] in VIETNAMESE_SURNAMES
        and folded[0] in _VIETNAMESE_MIDDLE
        and folded[0] not in VIETNAMESE_SURNAMES
    ):
        middle = " ".join(words[:-2])
        return FamilyFirstName(words[-2], middle, words[-1], None, None, None)
    return None


def family_first_name(
    first: str | None, middle: str | None, last: str | None, full: str | None
) -> FamilyFirstName | None:
    """Parts and keys of a Korean, Japanese (kana) or Vietnamese name, or null for any other.

    ``first``/``middle``/``last`` are the parts as split so far (from the source's columns or
    its full name), ``full`` the full name (no honorifics).
    """
    parts = [p for p in (first, middle, last) if p]
    if not parts and full and is_hangul(full):
        split = split_korean_name(full)
        if split is None:
            return None
        family, given = split
        return FamilyFirstName(
            given, None, family, korean_key(given), korean_key(family, surname=True), None
        )
    if parts and all(is_hangul(p) for p in parts):
        given = "".join(p for p in (first, middle) if p) or None
        if given is None and last is not None and len(last) >= 2 and full is None:
            split = split_korean_name(last)
            if split is None:
                return None
            last, given = split
        return FamilyFirstName(
            given, None, last, korean_key(given), korean_key(last, surname=True), None
        )
    if parts and all(is_kana(p) for p in parts) and first and last:
        given = "".join(p for p in (first, middle) if p)
        # Shown family name first with a space, as a kana name is written.
        display = f"{last} {given}"
        return FamilyFirstName(given, None, last, kana_key(given), kana_key(last), display)
    if full and (not (first or last) or len(parts) >= 2):
        return _vietnamese(full.split())
    return None
