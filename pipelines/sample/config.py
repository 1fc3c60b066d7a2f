"""Knobs of the sample generator: population shape and per-record noise rates.

Every rate is a probability per record (or per field of a record) and is validated to lie in
[0, 1], so a test can hold the written files to the rates that produced them. Defaults are chosen
from what customer-data teams report for hand-keyed and self-entered records (a few percent of
typos, about one in ten records with a nickname or odd casing, a third of web-shop birthdays
missing); they make matching honestly hard rather than tuned to pass.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, model_validator

from pipelines.config_base import StrictModel

Rate = float

SOURCES = ("crm", "shop", "billing")
"""The three generated source systems, in the order files and ground truth list them."""


def _rate(default: float, doc: str) -> Rate:
    return Field(default, ge=0.0, le=1.0, description=doc)


class NoiseRates(StrictModel):
    """Per-record probabilities of each kind of noise (before each source's multiplier)."""

    typo_name: Rate = _rate(0.025, "a first or last name has one typo (per field)")
    typo_street: Rate = _rate(0.02, "the street name has one typo")
    typo_city: Rate = _rate(0.01, "the city name has one typo")
    nickname: Rate = _rate(0.15, "a nickname replaces the given name (when one exists)")
    case: Rate = _rate(0.08, "a name or address field is upper- or lower-cased")
    whitespace: Rate = _rate(0.05, "a field gets stray spaces (leading, trailing, doubled, NBSP)")
    name_swap: Rate = _rate(0.015, "first and last name are swapped")
    middle_dropped: Rate = _rate(0.35, "a known middle name is left out")
    middle_initial: Rate = _rate(0.4, "a middle name that is shown is cut to its initial")
    accent_folded: Rate = _rate(0.15, "an accented name is written in ASCII (Müller -> Mueller)")
    transliterated: Rate = _rate(0.4, "a non-Latin name is written in Latin script")
    suffix_shown: Rate = _rate(0.5, "a generational suffix (Jr, Sr, III) is written at all")
    missing_email: Rate = _rate(0.08, "email is empty")
    missing_phone: Rate = _rate(0.1, "phone is empty")
    missing_dob: Rate = _rate(0.07, "date of birth is empty")
    missing_address: Rate = _rate(0.02, "the address is empty")
    dob_transposed: Rate = _rate(0.02, "day and month of birth swapped (when the day is <= 12)")
    dob_placeholder: Rate = _rate(0.002, "a placeholder birth date such as 01/01/1900")
    email_plus_tag: Rate = _rate(0.04, "a plus tag on providers that allow them")
    email_gmail_dots: Rate = _rate(0.1, "dots added or removed in a Gmail local part")
    email_domain_typo: Rate = _rate(0.012, "a mistyped email domain (gmial.com)")
    email_case: Rate = _rate(0.04, "the email is in mixed or upper case")
    shared_family_email: Rate = _rate(0.12, "a household member gives the family's email")
    phone_landline: Rate = _rate(0.35, "the landline is given instead of the mobile (if any)")
    phone_extension: Rate = _rate(0.03, "an extension is added (x123, ext. 123)")
    phone_typo: Rate = _rate(0.005, "one digit of the phone number is wrong")
    unit_dropped: Rate = _rate(0.1, "a known apartment/unit is left out")
    zip_plus4: Rate = _rate(0.25, "a US ZIP is written as ZIP+4")
    zip_leading_zero_lost: Rate = _rate(0.3, "a leading zero of a postcode is lost (crm only)")
    postcode_no_space: Rate = _rate(0.25, "a UK postcode is written without its space")
    missing_commas: Rate = _rate(0.03, "a one-line address typed without its commas")
    street_type_abbreviated: Rate = _rate(0.6, "the street type is abbreviated (Street -> St)")
    city_variant: Rate = _rate(0.15, "a city is written in another common form (Saint Louis)")
    region_full_name: Rate = _rate(0.1, "a US state is written in full (IL -> Illinois)")


class SampleOptions(StrictModel):
    """Shape of the true population and how it shows up in the sources."""

    as_of: datetime = datetime(2025, 1, 31, 22, 0, 0)
    """Extraction time (UTC, naive): every timestamp in the files is at or before it."""
    countries: dict[str, float] = Field(
        default_factory=lambda: {"US": 0.78, "GB": 0.10, "DE": 0.06, "FR": 0.06}
    )
    """Share of customers per country (ISO alpha-2 among US, GB, DE, FR)."""
    source_counts: tuple[float, float, float] = (0.40, 0.35, 0.25)
    """Share of customers present in 1, 2 and 3 of the sources."""
    source_weights: dict[str, float] = Field(
        default_factory=lambda: {"crm": 0.42, "shop": 0.33, "billing": 0.25}
    )
    """How likely each source is to hold a customer (when not all three do)."""
    duplicate_rates: dict[str, float] = Field(
        default_factory=lambda: {"crm": 0.05, "shop": 0.08, "billing": 0.03}
    )
    """Share of a source's customers entered twice (a third time for a tenth of those)."""
    source_noise: dict[str, float] = Field(
        default_factory=lambda: {"crm": 1.0, "shop": 1.5, "billing": 0.6}
    )
    """Multiplier on the noise rates per source: web shops are typed by customers, billing is
    keyed carefully. Missing-value rates are not multiplied."""
    missing_dob_by_source: dict[str, float] = Field(default_factory=lambda: {"shop": 0.55})
    """Sources that collect a birth date less often than ``noise.missing_dob`` says."""
    household_share: float = Field(0.12, ge=0, le=0.5)
    """Share of customers living in a multi-person household (2-4 people, same address,
    shared landline and usually the same last name)."""
    twin_share: float = Field(0.012, ge=0, le=0.2)
    """Share of customers who are one of a pair of twins (same last name, birth date, address)."""
    jr_sr_share: float = Field(0.015, ge=0, le=0.2)
    """Share of customers who are one of a father/son pair with the same first and last name
    and address but different birth dates."""
    namesake_share: float = Field(0.01, ge=0, le=0.2)
    """Share of customers given the same common first and last name as an unrelated customer."""
    moved_share: float = Field(0.15, ge=0, le=1)
    """Share of customers who moved: sources updated before the move hold the old address."""
    email_changed_share: float = Field(0.15, ge=0, le=1)
    """Share of customers who changed email address."""
    landline_share: float = Field(0.3, ge=0, le=1)
    """Share of single-person households with a landline (households always have one)."""
    doctor_share: float = Field(0.02, ge=0, le=1)
    """Share of customers with the title Dr."""
    history_years: float = Field(10.0, gt=0, le=50)
    """How far back customer relationships go."""
    noise: NoiseRates = Field(default_factory=NoiseRates)

    @model_validator(mode="after")
    def _check(self) -> SampleOptions:
        from pipelines.sample.vocab import CULTURE_MIX

        unknown = sorted(set(self.countries) - set(CULTURE_MIX))
        if unknown:
            raise ValueError(f"countries {unknown} are not generated; use {sorted(CULTURE_MIX)}")
        for key in ("source_weights", "duplicate_rates", "source_noise"):
            given = getattr(self, key)
            if sorted(given) != sorted(SOURCES):
                raise ValueError(f"{key} must give a value for each of {list(SOURCES)}")
        if any(v < 0 for v in self.countries.values()) or sum(self.countries.values()) <= 0:
            raise ValueError("countries must have non-negative shares with a positive sum")
        if any(v < 0 for v in self.source_counts) or sum(self.source_counts) <= 0:
            raise ValueError("source_counts must have non-negative shares with a positive sum")
        for key in ("duplicate_rates", "missing_dob_by_source"):
            for name, value in getattr(self, key).items():
                if name not in SOURCES or not 0 <= value <= 1:
                    raise ValueError(f"{key}.{name} must name a source and lie in [0, 1]")
        if any(not 0 <= v <= 5 for v in self.source_noise.values()):
            raise ValueError("source_noise multipliers must lie in [0, 5]")
        return self
