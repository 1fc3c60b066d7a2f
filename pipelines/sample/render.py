"""Turn a true customer into one source's record, the way that system would hold it.

A record is assembled from facets (name, email, phone, address, birth date), each drawn with
its own noise, so that a later day can change one facet of a record (a move, a new email)
without touching the rest. Per-source differences are data, not code paths: the web shop's
customers type their own details (more noise, one free-text name and address line, E.164
mobiles), the CRM is keyed by agents (US-style phones, month-first dates), billing is careful
but ASCII-minded (day-first dates, full country names).

Rendering is a tight Python loop over rows with a seeded :class:`random.Random`; every choice is
drawn in a fixed order, so the same seed gives the same bytes.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace
from typing import Any

import polars as pl

from pipelines.sample import vocab
from pipelines.sample.config import SampleOptions
from pipelines.sample.noise import fold_ascii, stray_whitespace, typo
from pipelines.sample.population import ROLE_CHILD, ROLE_SPOUSE
from pipelines.sample.records import epoch_column, head_rows

CRM_COLUMNS = (
    "crm_id", "first_name", "middle_name", "last_name", "suffix", "email", "phone", "street",
    "street2", "city", "state", "zip", "country", "birth_date", "created_at", "last_modified",
)  # fmt: skip
SHOP_COLUMNS = (
    "customer_id", "name", "email", "mobile", "shipping_address", "birthday", "updated_at",
)  # fmt: skip
BILLING_COLUMNS = (
    "account_no", "title", "given_name", "family_name", "email_address", "phone_number",
    "addr_line_1", "addr_line_2", "town", "region", "postal_code", "country_name", "dob",
    "modified",
)  # fmt: skip
COLUMNS = {"crm": CRM_COLUMNS, "shop": SHOP_COLUMNS, "billing": BILLING_COLUMNS}
ID_COLUMN = {"crm": "crm_id", "shop": "customer_id", "billing": "account_no"}
UPDATED_COLUMN = {"crm": "last_modified", "shop": "updated_at", "billing": "modified"}
# The columns each facet writes, per source (a day-two change rewrites exactly these).
FACET_COLUMNS = {
    "crm": {
        "name": ("first_name", "middle_name", "last_name", "suffix"),
        "email": ("email",),
        "phone": ("phone",),
        "address": ("street", "street2", "city", "state", "zip", "country"),
        "dob": ("birth_date",),
    },
    "shop": {
        "name": ("name",),
        "email": ("email",),
        "phone": ("mobile",),
        "address": ("shipping_address",),
        "dob": ("birthday",),
    },
    "billing": {
        "name": ("title", "given_name", "family_name"),
        "email": ("email_address",),
        "phone": ("phone_number",),
        "address": (
            "addr_line_1", "addr_line_2", "town", "region", "postal_code", "country_name",
        ),
        "dob": ("dob",),
    },
}  # fmt: skip


def _identifiers(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Noise that a source's multiplier scales; the other rates are habits of the data, not errors.
_SCALED = _identifiers(
    "typo_name typo_street typo_city nickname case whitespace name_swap accent_folded "
    "dob_transposed dob_placeholder email_plus_tag email_gmail_dots email_domain_typo email_case "
    "phone_typo unit_dropped city_variant postcode_no_space missing_commas"
)
_NATIVE_SCRIPT = frozenset(c.key for c in vocab.CULTURES if c.native_script)
_PLACEHOLDER_DOB = (1900, 1, 1)


@dataclass
class Address:
    """A rendered address, before a source lays it out in its columns."""

    line1: str
    unit: str | None
    city: str
    region: str | None
    postcode: str | None
    country: str  # ISO code; the source decides how to write it


_PERSON_COLUMNS = _identifiers(
    "culture first_name first_name_latin middle_name middle_name_latin last_name "
    "last_name_latin suffix doctor sex country email old_email mobile mobile_area_len "
    "landline landline_area_len group_role"
)
_ADDRESS_PARTS = _identifiers(
    "city_idx house street street_type direction unit_kind unit postcode plus4"
)


class PopulationView:
    """The population as plain Python lists, built once and shared by every renderer.

    Row access into lists is what the render loop does millions of times; a Polars frame is
    the right store but the wrong thing to index one cell at a time.
    """

    def __init__(self, population: pl.DataFrame):
        self.size = population.height
        for name in _PERSON_COLUMNS:
            setattr(self, name, _shared(population[name]))
        # One tuple per customer and address (current, previous): one index per render.
        self.address = list(zip(*(_shared(population[k]) for k in _ADDRESS_PARTS), strict=True))
        self.prev_address = list(
            zip(*(_shared(population[f"prev_{k}"]) for k in _ADDRESS_PARTS), strict=True)
        )
        days = population.select(pl.col("date_of_birth").cast(pl.Int32)).to_series()
        offset = date(1970, 1, 1).toordinal()
        self.dob_ordinal = [None if d is None else d + offset for d in days.to_list()]
        self.head = head_rows(population).tolist()
        self.moved_at = epoch_column(population, "moved_at").tolist()
        self.email_changed_at = epoch_column(population, "email_changed_at").tolist()


def _shared(series: pl.Series) -> list[Any]:
    """The column as a list in which equal values are one object: names, streets and cities
    repeat across a million customers, and a fresh string per cell would cost gigabytes."""
    pool: dict[Any, Any] = {}
    return [pool.setdefault(v, v) for v in series.to_list()]


class Renderer:
    """Renders records of one source from the population."""

    def __init__(
        self, source: str, view: PopulationView, options: SampleOptions, rng: random.Random
    ):
        self.source = source
        self.rng = rng
        rates = options.noise.model_dump()
        mult = options.source_noise[source]
        for key in _SCALED:
            rates[key] = min(1.0, rates[key] * mult)
        if source in options.missing_dob_by_source:
            rates["missing_dob"] = options.missing_dob_by_source[source]
        if source == "shop":
            rates["phone_landline"] /= 3  # the shop asks for a mobile number
        if source != "crm":
            rates["zip_leading_zero_lost"] = 0.0  # only the CRM goes through spreadsheets
        self.r = SimpleNamespace(**rates)
        self.counts: dict[str, int] = defaultdict(int)
        for name in _PERSON_COLUMNS:
            setattr(self, f"p_{name}", getattr(view, name))  # p_: population column
        self.view = view
        self.head = view.head
        self.moved_at = view.moved_at
        self.email_changed_at = view.email_changed_at
        self.dob_ordinal = view.dob_ordinal

    # --- whole records -------------------------------------------------------------------------
    def record(self, i: int, modified: int) -> dict[str, Any]:
        """All columns of one record except its id and timestamps."""
        old_address = 0 <= modified < self.moved_at[i]
        old_email = 0 <= modified < self.email_changed_at[i]
        row = self.names(i)
        row.update(self.email(i, old_email))
        row.update(self.phone(i))
        row.update(self.address(i, old_address))
        row.update(self.dob(i))
        return row

    def facet(self, name: str, i: int, *, clean: bool = False) -> dict[str, Any]:
        """One facet of a record of customer ``i`` as of now, for a day-two change: a change
        is news, so it is never rendered as a missing value."""
        if name == "name":
            return self.names(i, clean=clean)
        if name == "email":
            return self.email(i, False, present=True)
        if name == "phone":
            return self.phone(i, present=True)
        if name == "address":
            return self.address(i, False, present=True)
        return self.dob(i)

    # --- names ---------------------------------------------------------------------------------
    def names(self, i: int, *, clean: bool = False) -> dict[str, Any]:
        r, rnd, counts = self.r, self.rng.random, self.counts
        latin = self.p_culture[i] in _NATIVE_SCRIPT and rnd() < r.transliterated
        if latin:
            counts["transliterated"] += 1
            first, middle, last = (
                self.p_first_name_latin[i],
                self.p_middle_name_latin[i],
                self.p_last_name_latin[i],
            )
        else:
            first, middle, last = self.p_first_name[i], self.p_middle_name[i], self.p_last_name[i]
        if not clean:
            if rnd() < r.accent_folded and not (first + last).isascii():
                counts["accent_folded"] += 1
                german = self.p_culture[i] == "german" and rnd() < 0.6
                first, last = fold_ascii(first, german), fold_ascii(last, german)
                middle = fold_ascii(middle, german) if middle else middle
            nicknames = vocab.NICKNAMES.get(first)
            if nicknames and rnd() < r.nickname:
                counts["nickname"] += 1
                first = nicknames[int(rnd() * len(nicknames))]
            if rnd() < r.typo_name:
                counts["typo_first_name"] += 1
                first = typo(first, self.rng)
            if rnd() < r.typo_name:
                counts["typo_last_name"] += 1
                last = typo(last, self.rng)
        # A clean (corrected) record spells the middle name and suffix out in full.
        if middle is not None and not clean:
            if rnd() < r.middle_dropped:
                middle = None
            elif rnd() < r.middle_initial:
                middle = middle[0]
        suffix = self.p_suffix[i]
        if suffix is not None:
            forms = vocab.SUFFIX_FORMS[suffix]
            if clean:
                suffix = forms[0]
            else:
                suffix = forms[int(rnd() * len(forms))] if rnd() < r.suffix_shown else None
        if not clean:
            if rnd() < r.case:
                # Caps lock or a legacy screen: the whole name in one case.
                counts["case_name"] += 1
                recase = str.upper if rnd() < 0.6 else str.lower
                first, last = recase(first), recase(last)
                middle = recase(middle) if middle else middle
            if rnd() < r.whitespace:
                counts["whitespace_name"] += 1
                if rnd() < 0.5:
                    first = stray_whitespace(first, self.rng)
                else:
                    last = stray_whitespace(last, self.rng)
            if rnd() < r.name_swap:
                counts["name_swap"] += 1
                first, last = last, first
        return self._lay_out_name(i, first, middle, last, suffix, latin)

    def _lay_out_name(
        self, i: int, first: str, middle: str | None, last: str, suffix: str | None, latin: bool
    ) -> dict[str, Any]:
        rnd = self.rng.random
        if self.source == "crm":
            if middle and len(middle) == 1 and rnd() < 0.5:
                middle += "."
            return {"first_name": first, "middle_name": middle, "last_name": last, "suffix": suffix}
        if self.source == "billing":
            title = self._title(i)
            if middle and rnd() < 0.15:
                first = f"{first} {middle}." if len(middle) == 1 else f"{first} {middle}"
            if suffix and rnd() < 0.6:
                last = f"{last} {suffix}"  # no suffix column: it lands in the family name
            return {"title": title, "given_name": first, "family_name": last}
        return {"name": self._full_name(i, first, middle, last, suffix, latin)}

    def _title(self, i: int) -> str | None:
        u = self.rng.random()
        if self.p_doctor[i] and u < 0.7:
            return "Dr"
        if u < 0.3:
            return None
        if self.p_sex[i] == "M":
            return "Mr"
        return ("Mrs", "Ms")[int(self.rng.random() * 2)]

    def _full_name(
        self, i: int, first: str, middle: str | None, last: str, suffix: str | None, latin: bool
    ) -> str:
        """One free-text name, as customers type it into a web form."""
        rnd = self.rng.random
        if self.p_culture[i] == "chinese" and not latin:
            return f"{last}{first}"  # family name first, no space
        u = rnd()
        if u < 0.12:
            text = f"{last.upper() if rnd() < 0.5 else last}, {first}"
        elif u < 0.27 and middle:
            text = f"{first} {middle[0]}. {last}"
        elif u < 0.33 and middle:
            text = f"{first} {middle} {last}"
        else:
            text = f"{first} {last}"
        if suffix:
            text = f"{text}, {suffix}" if rnd() < 0.3 else f"{text} {suffix}"
        if self.p_doctor[i] and rnd() < 0.6:
            text = ("Dr. " if rnd() < 0.7 else "Dr ") + text
        elif rnd() < 0.03:
            text = ("Mr. " if self.p_sex[i] == "M" else "Ms. ") + text
        return text

    # --- email ---------------------------------------------------------------------------------
    def email(self, i: int, old: bool, *, present: bool = False) -> dict[str, Any]:
        return {FACET_COLUMNS[self.source]["email"][0]: self._email(i, old, present)}

    def _email(self, i: int, old: bool, present: bool) -> str | None:
        r, rnd, counts = self.r, self.rng.random, self.counts
        if rnd() < r.missing_email and not present:
            return None
        address = self.p_old_email[i] if old and self.p_old_email[i] else self.p_email[i]
        if old and self.p_old_email[i]:
            counts["old_email"] += 1
        role = self.p_group_role[i]
        if role in (ROLE_SPOUSE, ROLE_CHILD) and rnd() < r.shared_family_email:
            counts["shared_family_email"] += 1
            address = self.p_email[self.head[i]]
        local, _, domain = address.partition("@")
        if domain == "gmail.com" and rnd() < r.email_gmail_dots:
            counts["email_gmail_dots"] += 1
            if "." in local:
                local = local.replace(".", "")
            else:
                cut = 1 + int(rnd() * (len(local) - 1)) if len(local) > 1 else 1
                local = f"{local[:cut]}.{local[cut:]}"
        if domain in vocab.PLUS_TAG_DOMAINS and rnd() < r.email_plus_tag:
            counts["email_plus_tag"] += 1
            local = f"{local}+{vocab.PLUS_TAGS[int(rnd() * len(vocab.PLUS_TAGS))]}"
        if rnd() < r.email_domain_typo:
            counts["email_domain_typo"] += 1
            typos = vocab.DOMAIN_TYPOS.get(domain)
            domain = typos[int(rnd() * len(typos))] if typos else typo(domain, self.rng)
        text = f"{local}@{domain}"
        if rnd() < r.email_case:
            counts["email_case"] += 1
            text = text.upper() if rnd() < 0.3 else text[0].upper() + text[1:]
        if rnd() < r.whitespace:
            counts["whitespace_email"] += 1
            text = text + " "
        return text

    # --- phone ---------------------------------------------------------------------------------
    def phone(self, i: int, *, present: bool = False) -> dict[str, Any]:
        return {FACET_COLUMNS[self.source]["phone"][0]: self._phone(i, present)}

    def _phone(self, i: int, present: bool) -> str | None:
        r, rnd = self.r, self.rng.random
        if rnd() < r.missing_phone and not present:
            return None
        # A new number on day two is a new mobile.
        landline = self.p_landline[i] is not None and rnd() < r.phone_landline and not present
        if landline:
            self.counts["landline"] += 1
            number, area_len = self.p_landline[i], self.p_landline_area_len[i]
        else:
            number, area_len = self.p_mobile[i], self.p_mobile_area_len[i]
        country = self.p_country[i]
        nsn = number[1 + len(vocab.CALLING_CODES[country]) :]
        if rnd() < r.phone_typo:
            self.counts["phone_typo"] += 1
            pos = area_len + int(rnd() * (len(nsn) - area_len))
            digit = str((int(nsn[pos]) + 1 + int(rnd() * 9)) % 10)
            nsn = nsn[:pos] + digit + nsn[pos + 1 :]
        text = self._format_phone(country, nsn, area_len)
        if (landline and rnd() < r.phone_extension * 3) or rnd() < r.phone_extension / 3:
            self.counts["phone_extension"] += 1
            ext = str(int(rnd() * 9000) + 10)[: 2 + int(rnd() * 3)]
            text += (" x", " x", " ext. ", " ext ", " #")[int(rnd() * 5)] + ext
        return text

    def _format_phone(self, country: str, nsn: str, area_len: int) -> str:
        u = self.rng.random()
        cc = vocab.CALLING_CODES[country]
        if country == "US":
            a, b, c = nsn[:3], nsn[3:6], nsn[6:]
            styles = {
                "crm": (
                    (0.35, f"({a}) {b}-{c}"), (0.55, f"{a}-{b}-{c}"), (0.65, f"{a}.{b}.{c}"),
                    (0.75, nsn), (0.85, f"+1 {a} {b} {c}"), (0.9, f"1-{a}-{b}-{c}"),
                    (0.95, f"+1 ({a}) {b}-{c}"), (1.0, f"{a} {b} {c}"),
                ),
                "shop": (
                    (0.6, f"+1{nsn}"), (0.7, f"+1 {a}-{b}-{c}"), (0.9, f"({a}) {b}-{c}"),
                    (1.0, nsn),
                ),
                "billing": (
                    (0.5, f"{a}-{b}-{c}"), (0.7, f"+1 {a} {b} {c}"), (0.9, f"({a}) {b}-{c}"),
                    (1.0, nsn),
                ),
            }[self.source]  # fmt: skip
            return next(text for limit, text in styles if u < limit)
        national, international = _group_phone(country, nsn, area_len)
        if self.source == "shop":
            if u < 0.5:
                return f"+{cc} {international}"
            return f"+{cc}{nsn}" if u < 0.8 else national
        if self.source == "crm":
            if u < 0.7:
                return national if country != "DE" or u < 0.5 else national.replace(" ", "/", 1)
            return f"+{cc} {international}" if u < 0.95 else f"00{cc}{nsn}"
        if u < 0.6:
            return f"+{cc} {international}"
        return national if u < 0.9 else f"+{cc} (0){international}"

    # --- address -------------------------------------------------------------------------------
    def address(self, i: int, old: bool, *, present: bool = False) -> dict[str, Any]:
        addr = self._address(i, old, present)
        if old:
            self.counts["old_address"] += 1
        if self.source == "shop":
            return {"shipping_address": None if addr is None else self._one_line(addr)}
        if addr is None:
            return dict.fromkeys(FACET_COLUMNS[self.source]["address"])
        rnd = self.rng.random
        line1, line2 = addr.line1, addr.unit
        if line2 and rnd() < 0.3:
            line1, line2 = f"{line1} {line2}" if rnd() < 0.8 else f"{line1}, {line2}", None
        if self.source == "crm":
            postcode = addr.postcode
            if postcode and postcode[0] == "0" and rnd() < self.r.zip_leading_zero_lost:
                self.counts["zip_leading_zero_lost"] += 1
                postcode = postcode.lstrip("0")
            forms = vocab.COUNTRY_FORMS[addr.country]
            u, country = rnd(), None
            for form, share in forms:
                u -= share
                if u < 0:
                    country = form
                    break
            return {
                "street": line1,
                "street2": line2,
                "city": addr.city,
                "state": addr.region,
                "zip": postcode,
                "country": country if rnd() > 0.03 else None,
            }
        return {
            "addr_line_1": line1,
            "addr_line_2": line2,
            "town": addr.city,
            "region": addr.region,
            "postal_code": addr.postcode,
            "country_name": vocab.COUNTRY_NAMES[addr.country],
        }

    def _one_line(self, a: Address) -> str:
        """ "12 Main St Apt 4, Springfield, IL 62704, USA" and each country's own layout."""
        rnd = self.rng.random
        street = f"{a.line1} {a.unit}" if a.unit else a.line1
        postcode = a.postcode or ""
        if a.country == "US":
            text = f"{street}, {a.city}, {a.region or ''} {postcode}".rstrip()
            country = ("USA", "United States", "US")[int(rnd() * 3)] if rnd() < 0.7 else None
        elif a.country == "GB":
            if a.unit:
                street = f"{a.unit}, {a.line1}"
            text = f"{street}, {a.city} {postcode}".rstrip()
            country = ("United Kingdom", "UK", "England")[int(rnd() * 3)] if rnd() < 0.9 else None
        else:
            text = f"{street}, {postcode} {a.city}"
            names = ("Germany", "Deutschland") if a.country == "DE" else ("France",)
            country = names[int(rnd() * len(names))] if rnd() < 0.9 else None
        if country:
            text = f"{text}, {country}"
        if rnd() < self.r.missing_commas:
            self.counts["missing_commas"] += 1
            text = text.replace(",", "")  # typed without punctuation
        return text

    def _address(self, i: int, old: bool, present: bool) -> Address | None:
        r, rnd, counts = self.r, self.rng.random, self.counts
        if rnd() < r.missing_address and not present:
            return None
        (city_idx, house, street, stype, direction, unit_kind, unit_no, postcode, plus4) = (
            self.view.prev_address if old else self.view.address
        )[i]
        country = self.p_country[i]
        city = vocab.CITIES[city_idx]
        if rnd() < r.typo_street:
            counts["typo_street"] += 1
            street = typo(street, self.rng)
        abbreviate = rnd() < r.street_type_abbreviated
        if country == "US":
            forms = vocab.US_STREET_TYPES[stype]
            kind = forms[1 + int(rnd() * (len(forms) - 1))] if abbreviate else forms[0]
            words = [house]
            if direction >= 0:
                full, short = vocab.DIRECTIONS[direction]
                words.append(short if abbreviate else full)
            words += [street, kind]
            line1 = " ".join(words)
        elif country == "GB":
            forms = vocab.GB_STREET_TYPES[stype]
            kind = forms[1 + int(rnd() * (len(forms) - 1))] if abbreviate else forms[0]
            line1 = f"{house} {street} {kind}"
        elif country == "DE":
            forms = vocab.DE_STREET_TYPES[stype]
            kind = forms[1 + int(rnd() * (len(forms) - 1))] if abbreviate else forms[0]
            line1 = f"{street}{kind} {house}"
        else:
            forms = vocab.FR_STREET_TYPES[stype]
            kind = forms[1 + int(rnd() * (len(forms) - 1))] if abbreviate else forms[0]
            line1 = f"{house} {kind} {street}"
        unit = None
        if unit_kind >= 0:
            if rnd() < r.unit_dropped:
                counts["unit_dropped"] += 1
            else:
                unit = self._unit(country, unit_kind, unit_no)
        city_name = city.name
        if city.variants and rnd() < r.city_variant:
            counts["city_variant"] += 1
            city_name = city.variants[int(rnd() * len(city.variants))]
        if rnd() < r.typo_city:
            counts["typo_city"] += 1
            city_name = typo(city_name, self.rng)
        if rnd() < r.accent_folded and not (line1 + city_name).isascii():
            counts["accent_folded_address"] += 1
            german = country == "DE" and rnd() < 0.6
            line1, city_name = fold_ascii(line1, german), fold_ascii(city_name, german)
            unit = fold_ascii(unit) if unit else unit
        region = self._region(city)
        if country == "US" and rnd() < r.zip_plus4:
            postcode = f"{postcode}-{plus4}" if rnd() < 0.9 else f"{postcode}{plus4}"
        elif country == "GB" and rnd() < r.postcode_no_space:
            counts["postcode_no_space"] += 1
            postcode = postcode.replace(" ", "")
        if rnd() < r.case:
            counts["case_address"] += 1
            upper = rnd() < 0.7
            line1 = line1.upper() if upper else line1.lower()
            city_name = city_name.upper() if upper else city_name.lower()
            unit = (unit.upper() if upper else unit.lower()) if unit else unit
            postcode = postcode.upper() if upper else postcode.lower()
        if rnd() < r.whitespace:
            counts["whitespace_address"] += 1
            line1 = stray_whitespace(line1, self.rng)
        return Address(line1, unit, city_name, region, postcode, country)

    def _unit(self, country: str, kind: int, number: str) -> str:
        u = self.rng.random()
        if country == "US":
            forms = vocab.US_UNITS[kind]
            form = forms[int(u * len(forms))]
            if form == "#":
                return f"#{number}" if self.rng.random() < 0.7 else f"# {number}"
            return f"{form} {number}"
        if country == "GB":
            forms = vocab.GB_UNITS[kind]
            return f"{forms[int(u * len(forms))]} {number}"
        forms = vocab.FR_UNITS[kind]
        return f"{forms[int(u * len(forms))]} {number}"

    def _region(self, city: vocab.City) -> str | None:
        u = self.rng.random()
        if city.country == "US":
            if u < self.r.region_full_name:
                return city.region
            return city.region_code
        if city.country == "GB":
            return (city.region or None) if u < 0.4 else None
        if city.country == "DE":
            return city.region if u < 0.4 else None
        return city.region if u < 0.2 else None

    # --- date of birth -------------------------------------------------------------------------
    def dob(self, i: int) -> dict[str, Any]:
        ymd = self._dob(i)
        column = FACET_COLUMNS[self.source]["dob"][0]
        if ymd is None:
            return {column: None}
        y, m, d = ymd
        if self.source == "crm":
            return {column: f"{m:02d}/{d:02d}/{y:04d}"}
        if self.source == "billing":
            return {column: f"{d:02d}/{m:02d}/{y:04d}"}
        return {column: f"{y:04d}-{m:02d}-{d:02d}"}

    def _dob(self, i: int) -> tuple[int, int, int] | None:
        r, rnd = self.r, self.rng.random
        ordinal = self.dob_ordinal[i]
        if ordinal is None or rnd() < r.missing_dob:
            return None
        if rnd() < r.dob_placeholder:
            self.counts["dob_placeholder"] += 1
            return _PLACEHOLDER_DOB
        born = date.fromordinal(ordinal)
        if born.day <= 12 and born.day != born.month and rnd() < r.dob_transposed:
            self.counts["dob_transposed"] += 1
            return born.year, born.day, born.month
        return born.year, born.month, born.day


def _group_phone(country: str, nsn: str, area_len: int) -> tuple[str, str]:
    """National ("020 7946 0123") and international ("20 7946 0123") groupings."""
    if country == "FR":
        pairs = " ".join(nsn[k : k + 2] for k in range(1, len(nsn), 2))
        return f"0{nsn[0]} {pairs}", f"{nsn[0]} {pairs}"
    area, rest = nsn[:area_len], nsn[area_len:]
    if country == "GB" and len(rest) == 8:
        rest = f"{rest[:4]} {rest[4:]}"
    elif country == "GB" and len(rest) == 7 and area_len == 3:
        rest = f"{rest[:3]} {rest[3:]}"
    return f"0{area} {rest}", f"{area} {rest}"
