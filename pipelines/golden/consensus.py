"""Evidence for consensus survivorship: identity keys, forms, swapped names, display forms.

Survivorship (:mod:`pipelines.golden.survivorship`) decides a unit (a field, or a group such as
the address) by *agreement* across a customer's records. Records agree when they hold the same
value in identity, not in spelling: each unit has an **identity key**

* names: the given name with nicknames resolved (Bob and Robert agree) and the family name,
  both folded (case, accents, ``ß``/``ss``, ``ü``/``ue``/``u``: Müller, Mueller, MULLER agree);
* the address: country, compact postcode (US: the ZIP5) and house number, so a typo in the
  street, an abbreviated street type or a city spelled Koeln does not make another address;
* email: the matching key (plus tags and Gmail dots removed); phone: its digits;
* any other field or group: its folded values.

Among the records holding the winning key, each field's **display form** is chosen on its own:
the full given name over a nickname, the spelling with diacritics over one without (Köln over
Koeln, Straße over Strasse), mixed case over all capitals, then the spelling most records
share. A key's **form** says how plausible it is as the real value: an initial is not a full
name; a given name found in the bundled name lexicon, or a name found in the customer's own
email addresses, is corroborated; an email at a well-known mail provider is.

Only the customer's own records (and fixed bundled lists) are evidence, never other customers'
records: a customer's golden row depends on its records alone, so the incremental path, which
decides only the customers whose records changed, equals a full rebuild.

Everything is a Polars expression or a join: no Python per record.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Final

import polars as pl

from pipelines.standardise.text import fold

KNOWN_MAIL_DOMAINS: Final = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "yahoo.de",
        "ymail.com",
        "hotmail.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "hotmail.de",
        "outlook.com",
        "outlook.de",
        "outlook.fr",
        "live.com",
        "live.co.uk",
        "live.fr",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "protonmail.com",
        "proton.me",
        "gmx.de",
        "gmx.net",
        "gmx.com",
        "web.de",
        "t-online.de",
        "freenet.de",
        "orange.fr",
        "free.fr",
        "sfr.fr",
        "laposte.net",
        "wanadoo.fr",
        "btinternet.com",
        "sky.com",
        "virginmedia.com",
        "talktalk.net",
        "comcast.net",
        "verizon.net",
        "att.net",
        "sbcglobal.net",
        "cox.net",
        "charter.net",
        "earthlink.net",
        "juno.com",
        "mail.com",
        "zoho.com",
        "fastmail.com",
        "yandex.ru",
        "mail.ru",
        "qq.com",
        "163.com",
        "126.com",
        "naver.com",
    }
)
"""Mailbox providers most addresses are at. An address at one of them is corroborated: of two
addresses of one customer that differ only in the domain, ``gmial.com`` loses to ``gmail.com``."""

CITY_ABBREVIATIONS: Final = {
    "nyc": "New York",
    "la": "Los Angeles",
    "sf": "San Francisco",
    "philly": "Philadelphia",
    "vegas": "Las Vegas",
    "nola": "New Orleans",
}
"""Folded city abbreviations and the name they stand for: the golden ``city`` spells them out
(the source's value stays in its ``raw_city``); another record's full name is preferred."""

_UNIT_DESIGNATORS: Final = (
    (r"(?i)(^|[\s,])(?:apt|apartment|appt)\b\.?\s*", "${1}Apt "),
    (r"(?i)(^|[\s,])(?:ste|suite)\b\.?\s*(\d)", "${1}Suite ${2}"),
    (r"(?i)(^|[\s,])(?:flat|fl)\b\.?\s*", "${1}Flat "),
    (r"(?i)(^|[\s,])unit\b\.?\s*", "${1}Unit "),
)
"""Unit designators written one way in the golden value: ``Apt.``, ``apartment`` -> ``Apt``."""


_UNIT_WORD: Final = r"(?:apt|apartment|appt|flat|fl|unit|suite|ste|#)"
_TRAILING_UNIT: Final = rf"(?i)^(.*?\S)[\s,]+({_UNIT_WORD}\.?\s*[0-9A-Za-z-]+)$"
_ONLY_UNIT: Final = rf"(?i)^{_UNIT_WORD}\.?\s*[0-9A-Za-z-]+$"

_ABBREVIATED_WORDS: Final = (
    r"(?i)(?:^|\s)(?:st|str|rd|av|ave|dr|ln|blvd|ct|pl|sq|ter|pkwy|hwy|cir|cres|cl|gdns|grv|gr"
    r"|trl|mt|pt|hts|ctr|r|bd|boul|ch|imp|n|s|e|w)\.?(?:\s|$)|\Sstr\.?(?:\s|$)"
)
"""Abbreviated street types and directions (USPS, UK, French, the German ``-str.``)."""


def split_unit(line1: pl.Expr, line2: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """A unit written at the end of the street line (``12 Main St Apt 4``) moves to the second
    line when that is empty; a street line that is only a unit (``Fl. 28``) is no street line."""
    parts = line1.str.extract_groups(_TRAILING_UNIT)
    has_unit = parts.struct.field("1").is_not_null() & line2.is_null()
    only_unit = line1.str.contains(_ONLY_UNIT).fill_null(False)
    new1 = (
        pl.when(only_unit).then(None).when(has_unit).then(parts.struct.field("1")).otherwise(line1)
    )
    new2 = (
        pl.when(only_unit & line2.is_null())
        .then(line1)
        .when(has_unit)
        .then(parts.struct.field("2"))
        .otherwise(line2)
    )
    return new1, new2


def abbreviations(expr: pl.Expr) -> pl.Expr:
    """How many abbreviated street words a street line holds (``Rd.``, ``Buchenstr.``, ``bd``)."""
    return expr.str.count_matches(_ABBREVIATED_WORDS).fill_null(0).clip(0, 3).cast(pl.Int32)


def fold_key(expr: pl.Expr) -> pl.Expr:
    """A text value's identity: folded (case, accents, ß -> ss), German umlaut spellings and
    their plain vowels made equal (ue, ü and u), anything but letters and digits dropped."""
    return (
        fold(expr.cast(pl.String))
        .str.replace_all(r"([aou])e", "$1")
        .str.replace_all(r"[^\p{L}\p{N}]", "")
        .replace("", None)
    )


GIVEN_NAMES_FILE: Final = Path(__file__).parent / "data" / "given_names.txt"
"""Common given names of many countries (documented inside)."""

COMMON_GIVEN_NAMES_FILE: Final = (
    Path(__file__).parents[1] / "standardise" / "data" / "common_given_names.txt"
)
"""The standardiser's list of common English formal given names."""


@functools.cache
def _given_names() -> pl.Series:
    """Folded given names: :data:`GIVEN_NAMES_FILE`, :data:`COMMON_GIVEN_NAMES_FILE` and the
    formal names of the standardiser's nickname table with several nicknames (a nickname alone
    can be a family name too: Bell, the nickname of Isabel)."""
    from pipelines.standardise.nicknames import nickname_table

    listed = [
        word
        for path in (GIVEN_NAMES_FILE, COMMON_GIVEN_NAMES_FILE)
        for line in path.read_text(encoding="utf-8").splitlines()
        if not line.startswith("#")
        for word in line.split()
    ]
    table = nickname_table()
    formal = table.group_by("canonical").len().filter(pl.col("len") >= 2)["canonical"]
    names = pl.concat([formal, pl.Series(listed, dtype=pl.String)]).unique().sort()
    return pl.select(fold_key(pl.lit(names))).to_series().drop_nulls().unique().sort()


def first_name_key(first: pl.Expr, canonical: pl.Expr) -> pl.Expr:
    """A given name's identity: its first word (``James John`` is James with a middle name in
    the given-name field), nickname resolved through the standardiser's ``mk_first_name_canonical``
    when the field holds one word."""
    words = first.str.split(" ")
    one_word = words.list.len() == 1
    return fold_key(
        pl.when(one_word).then(pl.coalesce(canonical, first)).otherwise(words.list.first())
    )


def accents(expr: pl.Expr) -> pl.Expr:
    """How many combining accents the value carries (Γιώργος 1, Γιωργος 0)."""
    return (
        (expr.str.normalize("NFD").str.len_chars() - expr.str.len_chars()).fill_null(0).clip(0, 3)
    ).cast(pl.Int32)


def known_given_name(key: pl.Expr) -> pl.Expr:
    """True where a folded given name is in the bundled name lexicon."""
    return key.is_in(_given_names().implode()).fill_null(False)


def has_letters_beyond_ascii(expr: pl.Expr) -> pl.Expr:
    return expr.str.contains(r"[^\x00-\x7f]").fill_null(False)


def initial(expr: pl.Expr) -> pl.Expr:
    """True where a name is one Latin letter, with or without a dot (R, R.): not a full name.
    (One Han character is a whole given name.)"""
    return expr.str.contains(r"^\p{Latin}\.?$").fill_null(False)


def native_script(expr: pl.Expr) -> pl.Expr:
    """True where a name is written in a script other than Latin (王, Ευαγγελία, Андрей): a
    record in Latin letters holds a transliteration of it, a derived form, so the native
    spelling counts more than the email corroborating the Latin one."""
    return expr.str.contains(r"[\p{L}--\p{Latin}]").fill_null(False)


def mixed_case(expr: pl.Expr) -> pl.Expr:
    """Neither all capitals nor all lower case (what a careful typist writes)."""
    return ((expr != expr.str.to_uppercase()) & (expr != expr.str.to_lowercase())).fill_null(False)


def house_number(line1: pl.Expr) -> pl.Expr:
    """The first number of a street line (``12b`` of ``12b High St``, ``5`` of ``Hauptstr 5``)."""
    return line1.str.extract(r"(\d+[a-zA-Z]?)\b", 1).str.to_lowercase()


def postcode_key(postcode: pl.Expr, country: pl.Expr) -> pl.Expr:
    compact = postcode.str.to_uppercase().str.replace_all(r"[^0-9A-Z]", "")
    return pl.when(country == "US").then(compact.str.slice(0, 5)).otherwise(compact)


def city_display(city: pl.Expr) -> pl.Expr:
    """A city with a known abbreviation spelled out."""
    key = fold(city).str.replace_all(r"[^a-z]", "")
    return pl.coalesce(key.replace_strict(CITY_ABBREVIATIONS, default=None), city)


def unit_designators(expr: pl.Expr) -> pl.Expr:
    out = expr
    for pattern, replacement in _UNIT_DESIGNATORS:
        out = out.str.replace_all(pattern, replacement)
    return out.str.replace_all(r" {2,}", " ").str.strip_chars()


def unswap_names(records: pl.DataFrame) -> pl.DataFrame:
    """Records whose given and family names are swapped, read the right way round.

    A record is read swapped when other records of its customer hold its given name as the
    family name (or its family name as the given name), and the evidence says swapped: its
    family name is a given name of the name lexicon and its given name is not; or, when the
    lexicon does not tell, more of the customer's records hold the names the other way round.
    ``_swapped`` marks them.
    """
    first = fold_key(pl.col("first_name"))
    last = fold_key(pl.col("last_name"))
    work = records.with_columns(first.alias("_f"), last.alias("_l"))
    as_first = (
        work.filter(pl.col("_f").is_not_null())
        .group_by("_g", "_f")
        .agg(pl.len().alias("_n"))
        .rename({"_f": "_name"})
    )
    as_last = (
        work.filter(pl.col("_l").is_not_null())
        .group_by("_g", "_l")
        .agg(pl.len().alias("_n"))
        .rename({"_l": "_name"})
    )

    def count(table: pl.DataFrame, column: str, alias: str) -> pl.DataFrame:
        return table.rename({"_name": column, "_n": alias})

    candidates = work.filter(pl.col("_f").is_not_null() & pl.col("_l").is_not_null()).select(
        "_order", "_g", "_f", "_l"
    )
    votes = (
        candidates.join(count(as_first, "_f", "_first_f"), on=["_g", "_f"], how="left")
        .join(count(as_last, "_l", "_last_l"), on=["_g", "_l"], how="left")
        .join(
            count(as_first, "_l", "_first_l"), on=["_g", "_l"], how="left"
        )  # my last as others' first
        .join(count(as_last, "_f", "_last_f"), on=["_g", "_f"], how="left")
        .with_columns(pl.col("^_first_.$|^_last_.$").fill_null(0))
    )
    straight = pl.col("_first_f") + pl.col("_last_l")
    swapped = pl.col("_first_l") + pl.col("_last_f")
    known_first, known_last = known_given_name(pl.col("_f")), known_given_name(pl.col("_l"))
    flips = votes.filter(
        (pl.col("_f") != pl.col("_l"))
        & (swapped > 0)
        & ((known_last & ~known_first) | (~(known_first & ~known_last) & (swapped > straight)))
    ).select("_order", pl.lit(True).alias("_swapped"))
    out = work.drop("_f", "_l").join(flips, on="_order", how="left")
    flip = pl.col("_swapped").fill_null(False)
    return out.with_columns(
        flip.alias("_swapped"),
        pl.when(flip).then(pl.col("last_name")).otherwise(pl.col("first_name")).alias("first_name"),
        pl.when(flip).then(pl.col("first_name")).otherwise(pl.col("last_name")).alias("last_name"),
        pl.when(flip)
        .then(fold_key(pl.col("last_name")))
        .otherwise(pl.col("_first_key"))
        .alias("_first_key"),
        pl.when(flip)
        .then(
            pl.concat_str(
                "last_name", "middle_name", "first_name", separator=" ", ignore_nulls=True
            )
        )
        .otherwise(pl.col("full_name"))
        .alias("full_name"),
    )


def mail_local_parts(records: pl.DataFrame) -> pl.DataFrame:
    """``_g`` and ``_locals``: the folded local parts of all the customer's email addresses."""
    local = fold_key(pl.col("email").str.split("@").list.first())
    return (
        records.filter(pl.col("email").is_not_null())
        .group_by("_g")
        .agg(local.drop_nulls().unique().sort().str.join("|").alias("_locals"))
    )


def corroborated(key: pl.Expr) -> pl.Expr:
    """True where a folded name of two letters or more is part of one of the customer's email
    addresses (``_locals``): smith.liam@… corroborates Smith and Liam."""
    return (
        (key.str.len_chars() >= 2) & pl.col("_locals").str.contains(key, literal=True)
    ).fill_null(False)


def email_dots_named(records: pl.DataFrame) -> pl.DataFrame:
    """``_email_dots_named``: the email's local part is split by dots into the customer's own
    names (``veronique.martinez``, ``j.rogers``, ``smith.liam``), initials, and digits only."""
    local = pl.col("email").str.split("@").list.first()
    names = (
        pl.concat(
            [
                records.select("_g", fold_key(pl.col(c).str.split(" ").list.first()).alias("_name"))
                for c in ("first_name", "last_name")
            ]
        )
        .drop_nulls()
        .unique()
    )
    pieces = (
        records.filter(local.str.contains(".", literal=True).fill_null(False))
        .select("_order", "_g", local.str.split(".").alias("_piece"))
        .explode("_piece")
        .with_columns(
            fold_key(pl.col("_piece").str.replace_all(r"\d", "")).alias("_name"),
        )
    )
    known = names.with_columns(pl.lit(True).alias("_known"))
    verdict = (
        pieces.join(known, on=["_g", "_name"], how="left")
        .with_columns(
            (
                pl.col("_known").fill_null(False)
                | pl.col("_name").is_null()
                | (pl.col("_name").str.len_chars() == 1)
            ).alias("_ok")
        )
        .group_by("_order")
        .agg(pl.col("_ok").all().alias("_email_dots_named"))
    )
    return records.join(verdict, on="_order", how="left").with_columns(
        pl.col("_email_dots_named").fill_null(False)
    )
