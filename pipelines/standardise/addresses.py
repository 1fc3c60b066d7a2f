"""Addresses: single-line addresses split, parts tidied, countries to ISO, matching keys.

A source that keeps the whole address in one field ("12 Main St Apt 4, Springfield, IL 62704,
USA", "Flat 3, 12 High Street, Oxford OX1 4AB", "Hauptstraße 5, 10115 Berlin, Deutschland") is
split on its commas, read from the end, the way a postman reads it: the country (if the last part
names one), then the postcode, which tells the layout (US/Canada ``City, ST 12345``, UK
``Town POSTCODE``, continental ``12345 City``), then the street lines. Parts the source already
keeps in their own columns win over parts parsed from the single line. A single line in Chinese
characters has no commas to read by: :mod:`pipelines.standardise.cn_address` cuts it by its
administrative suffixes instead and keys it in pinyin.

Canonical parts keep the customer's words (tidied, and proper-cased only where the source wrote
all capitals or all lower case); the ``mk_address`` matching key abbreviates street types,
directions and unit designators the USPS way (Street -> st, North -> n, Apartment/Flat/# ->
apt), so "12 North Main Street Apartment 4" and "12 N Main St #4" agree.
"""

from __future__ import annotations

import polars as pl

from pipelines.standardise.cn_address import address_keys, city_key, has_han, parse_chinese_address
from pipelines.standardise.countries import to_alpha2
from pipelines.standardise.postcodes import normalise_postcodes
from pipelines.standardise.text import clean_text, on_distinct, with_distinct, words_key

ADDRESS_FIELDS = ("address_line1", "address_line2", "city", "region", "postcode")
# Countries whose addresses end with the postcode ("Town, ST 12345", "Town POSTCODE").
POSTCODE_LAST_COUNTRIES = frozenset({"US", "CA", "GB", "IE", "AU", "NZ"})

# USPS Publication 28 (C1 street suffixes, B directionals, C2 secondary unit designators) for the
# common words, plus the UK and German forms that share meaning. Applied to folded words.
STREET_WORDS: dict[str, str] = {
    "street": "st",
    "str": "st",
    "strasse": "str",
    "avenue": "ave",
    "av": "ave",
    "road": "rd",
    "boulevard": "blvd",
    "drive": "dr",
    "lane": "ln",
    "court": "ct",
    "place": "pl",
    "square": "sq",
    "terrace": "ter",
    "parkway": "pkwy",
    "highway": "hwy",
    "circle": "cir",
    "crescent": "cres",
    "close": "cl",
    "gardens": "gdns",
    "grove": "grv",
    "trail": "trl",
    "expressway": "expy",
    "freeway": "fwy",
    "turnpike": "tpke",
    "mount": "mt",
    "point": "pt",
    "heights": "hts",
    "center": "ctr",
    "centre": "ctr",
    "park": "park",
    "plaza": "plz",
    "alley": "aly",
    "bridge": "brg",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
    "apartment": "apt",
    "flat": "apt",
    "no": "apt",
    "suite": "ste",
    "floor": "fl",
    "building": "bldg",
    "room": "rm",
    "department": "dept",
    "saint": "st",
    "sainte": "ste",
    "fort": "ft",
}

CITY_WORDS: dict[str, str] = {"saint": "st", "sainte": "ste", "mount": "mt", "fort": "ft"}

US_STATES: dict[str, str] = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "district of columbia": "DC",
    "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID", "illinois": "IL",
    "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA",
    "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI", "minnesota": "MN",
    "mississippi": "MS", "missouri": "MO", "montana": "MT", "nebraska": "NE", "nevada": "NV",
    "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM", "new york": "NY",
    "north carolina": "NC", "north dakota": "ND", "ohio": "OH", "oklahoma": "OK", "oregon": "OR",
    "pennsylvania": "PA", "rhode island": "RI", "south carolina": "SC", "south dakota": "SD",
    "tennessee": "TN", "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA",
    "washington": "WA", "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY",
    "puerto rico": "PR", "guam": "GU", "american samoa": "AS", "virgin islands": "VI",
    "alberta": "AB", "british columbia": "BC", "manitoba": "MB", "new brunswick": "NB",
    "newfoundland and labrador": "NL", "nova scotia": "NS", "ontario": "ON",
    "prince edward island": "PE", "quebec": "QC", "saskatchewan": "SK",
    "northwest territories": "NT", "nunavut": "NU", "yukon": "YT",
}  # fmt: skip
# Australian states come after the postcode-less town the same way ("Sydney NSW 2000").
AU_STATES = ("NSW", "VIC", "QLD", "WA", "SA", "TAS", "ACT", "NT")
AU_STATE_NAMES: dict[str, str] = {
    "new south wales": "NSW", "victoria": "VIC", "queensland": "QLD",
    "western australia": "WA", "south australia": "SA", "tasmania": "TAS",
    "australian capital territory": "ACT", "northern territory": "NT",
}  # fmt: skip
_STATE_CODES = sorted(set(US_STATES.values()) | set(AU_STATES))
_STATE_NAMES = "|".join(sorted(US_STATES, key=len, reverse=True))

_UNIT_WORDS = r"(?:apt|apartment|unit|suite|ste|flat|fl|floor|room|rm|bldg|building|#|no\.?)"
_TRAILING_POSTCODE = (
    r"(?i)^(.*?)[\s,]*(?-u:\b)(\d{4,5}(?:-\d{4})?|[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}|"
    r"[A-Z]\d[A-Z]\s?\d[A-Z]\d)$"
)
_LEADING_POSTCODE = (
    r"(?i)^([1-9]\d{3} ?[A-Z]{2}|(?:[A-Z]{1,2}-)?\d{4,5}|\d{2}-\d{3}|\d{4}-\d{3}|\d{3} \d{2})"
    r"\s+(\D.*)$"
)


# Fixes after title case, as literal replacements in one pass: ordinals are lower case ("1St" ->
# "1st"), compass quadrants upper case ("Nw" -> "NW"). A trailing space is added first so that
# the quadrant patterns can require a space on both sides.
_CASE_FIX: dict[str, str] = {
    f"{d}{suffix}": f"{d}{suffix.lower()}"
    for d in "0123456789"
    for suffix in ("St", "Nd", "Rd", "Th")
}
_CASE_FIX.update({f" {q} ": f" {q.upper()} " for q in ("Ne", "Nw", "Se", "Sw")})


def _tidy_case(expr: pl.Expr) -> pl.Expr:
    """Title case only when the source wrote all capitals or all lower case."""
    shouting = (expr == expr.str.to_uppercase()) | (expr == expr.str.to_lowercase())
    titled = (
        pl.concat_str(expr.str.to_titlecase(), pl.lit(" "))
        .str.replace_many(_CASE_FIX)
        .str.strip_suffix(" ")
    )
    return pl.when(shouting & expr.str.contains(r"\p{L}")).then(titled).otherwise(expr)


_STREET_TYPES = (
    "street|st|avenue|ave|av|road|rd|boulevard|blvd|drive|dr|lane|ln|court|ct|place|pl|square|"
    "sq|terrace|ter|parkway|pkwy|highway|hwy|circle|cir|crescent|cres|close|cl|gardens|gdns|"
    "grove|grv|trail|trl|way|walk|row|mews|hill|park|green|view|rise|wharf|quay|loop|pike|"
    "plaza|plz|alley|aly|broadway|strasse|straße|str|weg|allee|gasse|platz|ring|damm|rue|"
    "chemin|ch|bd|quai|impasse|via|viale|piazza|calle|avenida|paseo|straat|laan|gracht|plein"
)
_DIRECTIONS = "n|s|e|w|ne|nw|se|sw|north|south|east|west"
# Street, then optional direction and unit, then the town: "12 Main St Apt 4 Springfield".
_STREET_THEN_TOWN = (
    rf"(?i)^(.*(?-u:\b)(?:{_STREET_TYPES})\.?(?:\s+(?:{_DIRECTIONS})\.?)?"
    rf"(?:\s+{_UNIT_WORDS}\.?\s*#?\s*[\w-]+)?)\s+(\D+)$"
)
# "4 ch. des Lilas 75005 Paris": street, continental postcode, town.
_MIDDLE_POSTCODE = (
    r"(?i)^(.*?\S)\s+([1-9]\d{3} ?[A-Z]{2}|(?:[A-Z]{1,2}-)?\d{4,5}|\d{2}-\d{3}|\d{4}-\d{3})"
    r"\s+(\D+)$"
)


def _country_words_at_end(df: pl.DataFrame) -> pl.DataFrame:
    """A country written without a comma ("... Leeds LS6 1LP England"): the last one to four
    words of the last part, taken off when they name a country and what is left ends in a
    postcode (or a postcode and a town), so a town that shares a country's name stays a town."""
    last = pl.col("_parts").list.last()
    df = df.with_columns(
        *[
            last.str.extract(rf"^(.*\S)\s+(\S+(?:\s+\S+){{{k - 1}}})$", 2).alias(f"_cw{k}")
            for k in (1, 2, 3, 4)
        ]
    )
    for k in (1, 2, 3, 4):
        df = to_alpha2(df, f"_cw{k}", f"_cc{k}")
    code = pl.coalesce(*[pl.col(f"_cc{k}") for k in (4, 3, 2, 1)])
    words = pl.coalesce(
        *[pl.when(pl.col(f"_cc{k}").is_not_null()).then(pl.col(f"_cw{k}")) for k in (4, 3, 2, 1)]
    )
    df = df.with_columns(code.alias("_cw_code"), words.alias("_cw_words"))
    rest = last.str.slice(
        0, last.str.len_chars() - pl.col("_cw_words").str.len_chars()
    ).str.strip_chars(" ,")
    ends_in_postcode = rest.str.contains(_TRAILING_POSTCODE) | rest.str.contains(_MIDDLE_POSTCODE)
    take = (
        pl.col("_p_country").is_null()
        & pl.col("_cw_code").is_not_null()
        & ~pl.col("_cw_words").str.contains(r"\d")
        & ends_in_postcode.fill_null(False)
    )
    return df.with_columns(
        pl.when(take).then(pl.col("_cw_code")).otherwise(pl.col("_p_country")).alias("_p_country"),
        pl.when(take)
        .then(
            pl.col("_parts")
            .list.slice(0, pl.col("_parts").list.len() - 1)
            .list.concat(pl.concat_list(rest))
        )
        .otherwise(pl.col("_parts"))
        .alias("_parts"),
    ).drop("_cw1", "_cw2", "_cw3", "_cw4", "_cc1", "_cc2", "_cc3", "_cc4", "_cw_code", "_cw_words")


def _split_one_part(df: pl.DataFrame) -> pl.DataFrame:
    """Addresses written without commas ("6 Church Rd Leeds LS6 1LP"): the street ends at its
    last street-type word (Rd, St, Lane, rue, ...), the town follows it."""
    one = pl.col("_n") == 1
    town_split = pl.col("_pre").str.extract_groups(_STREET_THEN_TOWN)
    middle = pl.col("_last").str.extract_groups(_MIDDLE_POSTCODE)
    df = df.with_columns(town_split.alias("_st"), middle.alias("_mid"))
    st, mid = pl.col("_st"), pl.col("_mid")
    trail_found = pl.col("_trail").struct.field("2").is_not_null()
    pre_without_state = (
        pl.when(pl.col("_is_state"))
        .then(pl.col("_state").struct.field("1"))
        .otherwise(pl.col("_pre"))
    )
    df = df.with_columns(
        pre_without_state.str.extract_groups(_STREET_THEN_TOWN).alias("_st"),
    )
    use_trail = one & trail_found
    use_middle = one & ~trail_found & mid.struct.field("2").is_not_null()
    leading = (~trail_found & pl.col("_lead").struct.field("1").is_not_null()) | use_middle
    return df.with_columns(
        leading.fill_null(False).alias("_p_leading"),
        pl.when(use_trail)
        .then(pl.coalesce(st.struct.field("1"), pre_without_state))
        .when(use_middle)
        .then(mid.struct.field("1"))
        .otherwise(pl.col("_p_line1"))
        .alias("_p_line1"),
        pl.when(use_trail)
        .then(st.struct.field("2"))
        .when(use_middle)
        .then(mid.struct.field("3"))
        .otherwise(pl.col("_p_city"))
        .alias("_p_city"),
        pl.when(use_middle)
        .then(mid.struct.field("2"))
        .otherwise(pl.col("_p_postcode"))
        .alias("_p_postcode"),
        pl.when(use_trail | use_middle).then(None).otherwise(pl.col("_p_line2")).alias("_p_line2"),
    ).drop("_st", "_mid")


def _split_parts(df: pl.DataFrame) -> pl.DataFrame:
    """Columns ``_p_line1``..``_p_country_text`` from the single-line ``_addr`` column."""
    parts = pl.col("_addr").str.split(", ")
    df = df.with_columns(parts.alias("_parts"))
    df = df.with_columns(pl.col("_parts").list.last().alias("_last"))
    df = to_alpha2(df, "_last", "_last_country")
    # The last part names a country: take it off.
    has_country = (
        pl.col("_last_country").is_not_null()
        & (pl.col("_parts").list.len() > 1)
        & ~pl.col("_last").str.contains(r"\d")
    )
    df = df.with_columns(
        pl.when(has_country).then(pl.col("_last_country")).alias("_p_country"),
        pl.when(has_country)
        .then(pl.col("_parts").list.slice(0, pl.col("_parts").list.len() - 1))
        .otherwise(pl.col("_parts"))
        .alias("_parts"),
    )
    df = _country_words_at_end(df)
    # Intermediate results are materialised column by column: an expression used in several
    # branches would otherwise be evaluated once per use.
    df = df.with_columns(pl.col("_parts").list.last().alias("_last"))
    last = pl.col("_last")
    df = df.with_columns(
        last.str.extract_groups(_TRAILING_POSTCODE).alias("_trail"),
        last.str.extract_groups(_LEADING_POSTCODE).alias("_lead"),
    )
    trail_postcode = pl.col("_trail").struct.field("2")
    df = df.with_columns(pl.col("_trail").struct.field("1").str.strip_chars(" ,").alias("_pre"))
    df = df.with_columns(
        pl.col("_pre")
        .str.extract_groups(rf"(?i)^(.*?)[\s,]*(?-u:\b)({_STATE_NAMES}|[A-Z]{{2,3}})\.?$")
        .alias("_state")
    )
    state_code = pl.col("_state").struct.field("2")
    # A two-letter word before a US/Canadian postcode is a state or province.
    df = df.with_columns(
        (
            state_code.is_not_null()
            & (
                state_code.str.to_uppercase().is_in(_STATE_CODES)
                | state_code.str.to_lowercase().is_in(list(US_STATES))
            )
        ).alias("_is_state")
    )
    is_state = pl.col("_is_state")
    trail_city = (
        pl.when(is_state)
        .then(pl.col("_state").struct.field("1"))
        .otherwise(pl.col("_pre"))
        .replace("", None)
    )
    lead = pl.col("_lead")
    df = df.with_columns(
        pl.coalesce(trail_postcode, lead.struct.field("1")).alias("_p_postcode"),
        pl.when(trail_postcode.is_not_null() & is_state).then(state_code).alias("_p_region"),
        pl.when(trail_postcode.is_not_null())
        .then(trail_city)
        .otherwise(lead.struct.field("2"))
        .alias("_p_city_in_last"),
        (trail_postcode.is_not_null() | lead.struct.field("1").is_not_null()).alias(
            "_p_has_postcode"
        ),
        pl.col("_parts").list.len().alias("_n"),
        last.str.contains(r"\d").alias("_last_has_digit"),
    )
    n = pl.col("_n")
    # No postcode: "street, city" or "street, city, ST".
    df = df.with_columns(
        (last.str.to_uppercase().is_in(_STATE_CODES) & (n >= 3)).alias("_last_is_state")
    )
    last_is_state = pl.col("_last_is_state")
    df = df.with_columns(
        pl.when(pl.col("_p_has_postcode") & pl.col("_p_city_in_last").is_not_null())
        .then(pl.col("_p_city_in_last"))
        .when(pl.col("_p_has_postcode") & (n >= 2))
        .then(pl.col("_parts").list.get(-2, null_on_oob=True))
        .when(~pl.col("_p_has_postcode") & last_is_state)
        .then(pl.col("_parts").list.get(-2, null_on_oob=True))
        .when(~pl.col("_p_has_postcode") & (n >= 2) & ~pl.col("_last_has_digit"))
        .then(last)
        .alias("_p_city"),
        pl.when(~pl.col("_p_has_postcode") & last_is_state)
        .then(last.str.to_uppercase())
        .otherwise(pl.col("_p_region"))
        .alias("_p_region"),
        pl.when(pl.col("_p_has_postcode") & pl.col("_p_city_in_last").is_not_null())
        .then(n - 1)
        .when(pl.col("_p_has_postcode") & (n >= 2))
        .then(n - 2)
        .when(~pl.col("_p_has_postcode") & last_is_state)
        .then(n - 2)
        .when(~pl.col("_p_has_postcode") & (n >= 2) & ~pl.col("_last_has_digit"))
        .then(n - 1)
        .otherwise(n)
        .alias("_street_parts"),
    )
    df = df.with_columns(pl.col("_parts").list.slice(0, pl.col("_street_parts")).alias("_street"))
    street = pl.col("_street")
    df = df.with_columns(
        street.list.get(0, null_on_oob=True).alias("_first"),
        street.list.get(1, null_on_oob=True).alias("_second"),
        street.list.slice(1).list.join(", ").alias("_rest1"),
        street.list.slice(2).list.join(", ").replace("", None).alias("_rest2"),
    )
    first, second = pl.col("_first"), pl.col("_second")
    rest_after, rest_after_two = pl.col("_rest1"), pl.col("_rest2")
    # "Flat 3, 12 High Street": the unit comes first in UK addresses; the street is line 1.
    df = df.with_columns(
        (first.str.contains(rf"(?i)^{_UNIT_WORDS}\s*\S+$") & second.is_not_null()).alias(
            "_unit_first"
        )
    )
    unit_first = pl.col("_unit_first")
    df = df.with_columns(
        pl.when(unit_first).then(second).otherwise(first).alias("_p_line1"),
        pl.when(unit_first)
        .then(pl.concat_str(first, rest_after_two, separator=", ", ignore_nulls=True))
        .otherwise(rest_after)
        .alias("_p_line2"),
    )
    df = df.with_columns(pl.col("_p_line2").str.strip_chars().replace("", None))
    return _split_one_part(df)


def _key_words(expr: pl.Expr, mapping: dict[str, str]) -> pl.Expr:
    words = words_key(expr.str.replace_all(r"#\s*", " apt "))
    return words.str.split(" ").list.eval(pl.element().replace(mapping)).list.join(" ")


def standardise_addresses(df: pl.DataFrame, default_country: str | None = None) -> pl.DataFrame:
    """Frame in, frame out.

    Reads ``raw_address`` (single line), ``raw_address_line1``, ``raw_address_line2``,
    ``raw_city``, ``raw_region``, ``raw_postcode``, ``raw_country``; adds the canonical address
    parts, ``country`` (ISO alpha-2), ``mk_address``, ``mk_house_number``, ``mk_postcode``,
    ``mk_city`` and ``invalid_<field>`` flags. ``default_country`` (the source's hint) is the
    country of a record that has an address but names no country. Runs once per distinct
    combination of the raw address columns.
    """
    raw = ["raw_address", *(f"raw_{f}" for f in ADDRESS_FIELDS), "raw_country"]
    return on_distinct(df, raw, lambda distinct: _addresses(distinct.select(raw), default_country))


_ZH_PARTS = ("_p_line1", "_p_line2", "_p_city", "_p_region", "_p_postcode", "_p_country")


def _chinese_single_line(df: pl.DataFrame) -> pl.DataFrame:
    """A single line in Chinese characters is read by
    :func:`~pipelines.standardise.cn_address.parse_chinese_address` instead of by its commas:
    its parts replace the ``_p_*`` columns and its keys go to ``_zh_mk_address`` / ``_zh_house``
    (null for every other address). Each row is a distinct address here."""
    # Only a line with a Han character can be one (a vectorised test keeps the others out of
    # the Python parser: most addresses of most sources).
    han = df.select(pl.col("_addr").str.contains(r"\p{Han}").fill_null(False)).to_series()
    parsed = [
        parse_chinese_address(a) if maybe else None
        for a, maybe in zip(df["_addr"].to_list(), han, strict=True)
    ]
    values: dict[str, list[str | None]] = {c: [] for c in _ZH_PARTS}
    keys: list[str | None] = []
    houses: list[str | None] = []
    for parts in parsed:
        row = (
            (parts.line1, parts.building, parts.city, parts.province, parts.postcode, parts.country)
            if parts is not None
            else (None,) * len(_ZH_PARTS)
        )
        for column, value in zip(_ZH_PARTS, row, strict=True):
            values[column].append(value)
        key, house = address_keys(parts) if parts is not None else (None, None)
        keys.append(key)
        houses.append(house)
    found = pl.Series([p is not None for p in parsed], dtype=pl.Boolean)
    return df.with_columns(
        *(
            pl.when(found).then(pl.Series(c, v, dtype=pl.String)).otherwise(pl.col(c)).alias(c)
            for c, v in values.items()
        ),
        pl.when(found).then(pl.lit(False)).otherwise(pl.col("_p_leading")).alias("_p_leading"),
        pl.Series("_zh_mk_address", keys, dtype=pl.String),
        pl.Series("_zh_house", houses, dtype=pl.String),
    )


def _addresses(df: pl.DataFrame, default_country: str | None) -> pl.DataFrame:
    given = set(df.columns)
    single_line = (
        clean_text(pl.col("raw_address").str.replace_all(r"\s*[\r\n]+\s*", ", "))
        .str.replace_all(r"\s*[,;]\s*", ", ")
        .str.replace_all(r"(?:, )+", ", ")
        .str.strip_chars(", ")
    )
    # At this point each row is a distinct address, so the single line is worked on directly.
    df = df.with_columns(single_line.alias("_addr"))

    def split(frame: pl.DataFrame) -> pl.DataFrame:
        out = _split_parts(frame)
        return out.select(
            "_addr",
            "_p_line1",
            "_p_line2",
            "_p_city",
            "_p_region",
            "_p_postcode",
            "_p_country",
            "_p_leading",
        )

    df = pl.concat([df, split(df.select("_addr")).drop("_addr")], how="horizontal")
    df = _chinese_single_line(df)

    for f in ADDRESS_FIELDS:
        cleaned = clean_text(pl.col(f"raw_{f}")).alias(f"_own_{f}")
        if f == "address_line1":  # nearly unique per address
            df = df.with_columns(cleaned)
        else:
            df = with_distinct(df, f"raw_{f}", [cleaned])
    own = {f: pl.col(f"_own_{f}") for f in ADDRESS_FIELDS}
    has_own_street = own["address_line1"].is_not_null()
    df = df.with_columns(
        pl.when(has_own_street)
        .then(own["address_line1"])
        .otherwise(pl.col("_p_line1"))
        .alias("_line1"),
        pl.when(has_own_street)
        .then(own["address_line2"])
        .otherwise(pl.coalesce(own["address_line2"], pl.col("_p_line2")))
        .alias("_line2"),
        pl.coalesce(own["city"], pl.col("_p_city")).alias("_city"),
        pl.coalesce(own["region"], pl.col("_p_region")).alias("_region"),
        pl.coalesce(own["postcode"], pl.col("_p_postcode")).alias("_postcode"),
    )

    # Country: the source's own column, else the one named in the single line, else the
    # source's default for records that have an address at all.
    df = to_alpha2(df, "raw_country", "_country_own")
    has_address = pl.any_horizontal(
        pl.col(c).is_not_null() for c in ("_line1", "_city", "_postcode", "_addr")
    )
    country_present = clean_text(pl.col("raw_country")).is_not_null()
    contradicted = default_country in POSTCODE_LAST_COUNTRIES
    # UK and Canadian postcodes are shaped like no other, and "City, ST 12345" names a US state:
    # stronger evidence than a source-wide default.
    compact_postcode = pl.col("_postcode").str.to_uppercase().str.replace_all(r"\s", "")
    region_code = pl.coalesce(
        pl.when(pl.col("_region").str.to_uppercase().is_in(_STATE_CODES)).then(
            pl.col("_region").str.to_uppercase()
        ),
        pl.col("_region")
        .str.to_lowercase()
        .replace_strict(US_STATES, default=None, return_dtype=pl.String),
    )
    us_codes = sorted(set(US_STATES.values()))
    us_zip = compact_postcode.str.contains(r"^\d{5}(?:-?\d{4})?$")
    if default_country in (None, "US"):
        # A ZIP that lost its leading zeros in a spreadsheet ("6448" for 06448) is weak
        # evidence: against another declared default it is more likely a local postcode
        # with a mistyped region ("VI" for "VIC").
        us_zip = us_zip | (
            compact_postcode.str.contains(r"^\d{3,4}$") & ~region_code.is_in(list(AU_STATES))
        )
    shaped = (
        pl.when(compact_postcode.str.contains(r"^[A-Z]{1,2}\d[A-Z\d]?\d[A-Z]{2}$"))
        .then(pl.lit("GB"))
        .when(compact_postcode.str.contains(r"^[ABCEGHJ-NPRSTVXY]\d[A-Z]\d[A-Z]\d$"))
        .then(pl.lit("CA"))
        .when(region_code.is_in(list(AU_STATES)) & compact_postcode.str.contains(r"^\d{4}$"))
        .then(pl.lit("AU"))
        .when(region_code.is_in(us_codes) & us_zip)
        .then(pl.lit("US"))
    )
    df = df.with_columns(
        pl.coalesce(
            "_country_own",
            "_p_country",
            pl.when(~country_present).then(shaped),
            # A postcode written before the town ("75003 Paris") is a continental layout: it
            # contradicts a default country that writes the postcode last.
            pl.when(
                has_address
                & ~country_present
                & ~(pl.col("_p_leading").fill_null(False) & pl.lit(contradicted))
            ).then(pl.lit(default_country)),
        ).alias("country"),
        (country_present & pl.col("_country_own").is_null()).alias("invalid_country"),
    )

    df = on_distinct(
        df, ["_postcode", "country"], lambda d: normalise_postcodes(d, "_postcode", "country")
    )

    region_upper = pl.col("_region").str.to_uppercase()
    region_name = (
        pl.col("_region")
        .str.to_lowercase()
        .replace_strict(US_STATES, default=None, return_dtype=pl.String)
    )
    north_american = pl.col("country").is_in(["US", "CA"]) | pl.col("country").is_null()
    australian = pl.col("country") == "AU"
    au_name = (
        pl.col("_region")
        .str.to_lowercase()
        .replace_strict(AU_STATE_NAMES, default=None, return_dtype=pl.String)
    )
    region = (
        pl.when(australian & region_upper.is_in(list(AU_STATES)))
        .then(region_upper)
        .when(australian & au_name.is_not_null())
        .then(au_name)
        .when(north_american & region_upper.is_in(_STATE_CODES))
        .then(region_upper)
        .when(north_american & region_name.is_not_null())
        .then(region_name)
        # An abbreviation ("NSW", "QLD") keeps its capitals.
        .when(pl.col("_region").str.contains(r"^[A-Z]{2,3}$"))
        .then(pl.col("_region"))
        .otherwise(_tidy_case(pl.col("_region")))
    )
    df = on_distinct(df, ["_region", "country"], lambda d: d.with_columns(region.alias("region")))

    # A city with no letter in it ("12345", "-") is a mistake in the source, not a city.
    def cities(frame: pl.DataFrame) -> pl.DataFrame:
        city_ok = pl.col("_city").str.contains(r"\p{L}").fill_null(True)
        frame = frame.with_columns(
            pl.when(city_ok).then(_tidy_case(pl.col("_city"))).alias("city"),
            (~city_ok).alias("invalid_city"),
        )
        frame = frame.with_columns(_key_words(pl.col("city"), CITY_WORDS).alias("mk_city"))
        # A city in Chinese characters is keyed on its pinyin without 市: it meets "Taiyuan".
        han_keys = [city_key(c) if has_han(c) else None for c in frame["city"].to_list()]
        return frame.with_columns(
            pl.coalesce(pl.Series("_zh_city", han_keys, dtype=pl.String), "mk_city").alias(
                "mk_city"
            )
        )

    df = on_distinct(df, ["_city"], cities)

    def street_parts(frame: pl.DataFrame) -> pl.DataFrame:
        frame = frame.with_columns(
            _tidy_case(pl.col("_line1")).alias("address_line1"),
            _tidy_case(pl.col("_line2")).alias("address_line2"),
        )
        line1 = pl.col("address_line1")
        street = pl.concat_str(line1, "address_line2", separator=" ", ignore_nulls=True)
        house = pl.coalesce(
            line1.str.extract(r"^(\d+[A-Za-z]?)(?-u:\b)", 1),
            line1.str.extract(r"(?-u:\b)(\d+[A-Za-z]?)$", 1),
            line1.str.extract(r"(?-u:\b)(\d+[A-Za-z]?)(?-u:\b)", 1),
        )
        return frame.with_columns(
            _key_words(street, STREET_WORDS).alias("mk_address"),
            house.str.to_lowercase().alias("mk_house_number"),
        )

    df = street_parts(df)
    chinese = pl.col("_zh_mk_address").is_not_null()
    df = df.with_columns(
        pl.when(chinese).then(pl.col("_zh_mk_address")).otherwise("mk_address").alias("mk_address"),
        pl.when(chinese)
        .then(pl.col("_zh_house"))
        .otherwise("mk_house_number")
        .alias("mk_house_number"),
    )
    df = df.with_columns(
        pl.lit(False).alias("invalid_address_line1"),
        pl.lit(False).alias("invalid_address_line2"),
        pl.lit(False).alias("invalid_region"),
    )
    return df.drop([c for c in df.columns if c.startswith("_") and c not in given])
