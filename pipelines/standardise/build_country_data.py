"""Regenerate ``data/countries.csv`` from the Unicode CLDR data that Babel ships.

A maintainer's tool, not run by the pipeline: the CSV is committed so that standardisation needs
no network and no Babel at run time. Run ``python -m pipelines.standardise.build_country_data``
after a Babel upgrade and review the diff. CLDR is under the Unicode licence, which allows this
redistribution with attribution (see ``data/README.md``).
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

log = logging.getLogger(__name__)

DATA_FILE = Path(__file__).parent / "data" / "countries.csv"

# Languages whose country names customer data is likely to carry.
LOCALES = (
    "en", "de", "fr", "es", "it", "pt", "nl", "pl", "sv", "da", "nb", "fi", "cs", "sk", "hu",
    "ro", "el", "ru", "uk", "bg", "tr", "hr", "sl", "lt", "lv", "et", "ga", "ca", "ja", "zh",
    "zh_Hant", "ko", "ar", "he",
)  # fmt: skip

# Names people write that are not ISO names (English first, as in CLDR's own alt forms).
EXTRA_ALIASES: dict[str, str] = {
    "UK": "GB",
    "U.K.": "GB",
    "Great Britain": "GB",
    "Britain": "GB",
    "England": "GB",
    "Scotland": "GB",
    "Wales": "GB",
    "Northern Ireland": "GB",
    "United Kingdom of Great Britain and Northern Ireland": "GB",
    "USA": "US",
    "U.S.A.": "US",
    "U.S.": "US",
    "United States of America": "US",
    "America": "US",
    "the United States": "US",
    "Holland": "NL",
    "The Netherlands": "NL",
    "Republic of Ireland": "IE",
    "Eire": "IE",
    "Éire": "IE",
    "South Korea": "KR",
    "Republic of Korea": "KR",
    "Korea": "KR",
    "North Korea": "KP",
    "Russian Federation": "RU",
    "Czech Republic": "CZ",
    "Czechia": "CZ",
    "Slovak Republic": "SK",
    "Ivory Coast": "CI",
    "Cote d'Ivoire": "CI",
    "Burma": "MM",
    "Swaziland": "SZ",
    "Macedonia": "MK",
    "Viet Nam": "VN",
    "Türkiye": "TR",
    "Turkey": "TR",
    "PRC": "CN",
    "People's Republic of China": "CN",
    "Mainland China": "CN",
    "Republic of China": "TW",
    "UAE": "AE",
    "U.A.E.": "AE",
    "Emirates": "AE",
    "Vatican": "VA",
    "Vatican City": "VA",
    "Holy See": "VA",
    "Deutschland": "DE",
    "BRD": "DE",
    "Bundesrepublik Deutschland": "DE",
    "Schweiz": "CH",
    "Suisse": "CH",
    "Svizzera": "CH",
    "Österreich": "AT",
    "España": "ES",
    "Italia": "IT",
    "Sverige": "SE",
    "Norge": "NO",
    "Danmark": "DK",
    "Suomi": "FI",
    "Polska": "PL",
    "Nederland": "NL",
    "België": "BE",
    "Belgique": "BE",
    "Brasil": "BR",
    "México": "MX",
    "Méjico": "MX",
    "Magyarország": "HU",
    "Hellas": "GR",
    "Ellada": "GR",
    "EL": "GR",
    "Nippon": "JP",
    "Nihon": "JP",
    # ISO 3166 short names written "Name, qualifier", as exported by many systems.
    "Korea, Republic of": "KR",
    "Korea, Democratic People's Republic of": "KP",
    "Iran, Islamic Republic of": "IR",
    "Bolivia, Plurinational State of": "BO",
    "Venezuela, Bolivarian Republic of": "VE",
    "Tanzania, United Republic of": "TZ",
    "Moldova, Republic of": "MD",
    "Taiwan, Province of China": "TW",
    "Congo, The Democratic Republic of the": "CD",
    "Micronesia, Federated States of": "FM",
    "Palestine, State of": "PS",
    "Lao People's Democratic Republic": "LA",
    "Syrian Arab Republic": "SY",
    "Brunei Darussalam": "BN",
    "Cabo Verde": "CV",
    "Holy See (Vatican City State)": "VA",
    "Virgin Islands, British": "VG",
    "Virgin Islands, U.S.": "VI",
    "Macedonia, the Former Yugoslav Republic of": "MK",
}


def build() -> list[tuple[str, str]]:
    """(alias, alpha2) pairs: codes, English and local names, common aliases."""
    import babel.core
    from babel import Locale

    english = Locale("en").territories
    countries = sorted(c for c in english if len(c) == 2 and c.isalpha() and c not in ("ZZ",))
    pairs: list[tuple[str, str]] = [(c, c) for c in countries]
    aliases = babel.core.get_global("territory_aliases")
    for code, targets in aliases.items():
        # Alpha-3 codes and retired alpha-2 codes that point at exactly one country.
        if code.isalpha() and len(targets) == 1 and targets[0] in countries and code != "UK":
            pairs.append((code, targets[0]))
    pairs += list(EXTRA_ALIASES.items())
    for locale in LOCALES:
        names = Locale.parse(locale).territories
        pairs += [(names[c], c) for c in countries if c in names]
    return pairs


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    from pipelines.standardise.countries import alias_key

    # First claim wins: codes, then the aliases above, then English, then other languages in
    # the order of LOCALES, so a local name never takes over an English or ISO one.
    seen: dict[str, str] = {}
    conflicts: set[str] = set()
    rows: list[tuple[str, str]] = []
    for alias, code in build():
        key = alias_key(alias)
        if not key:
            continue
        if key in seen:
            if seen[key] != code:
                conflicts.add(key)
            continue
        seen[key] = code
        rows.append((alias, code))
    with DATA_FILE.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["alias", "alpha2"])
        writer.writerows(rows)
    log.info(
        "wrote %d aliases to %s (%d names claimed by two countries kept their first claim)",
        len(rows),
        DATA_FILE,
        len(conflicts),
    )


if __name__ == "__main__":
    main()
