"""The true customers behind every generated source record, look-alikes included.

Built with numpy over whole columns (one draw per attribute for everyone), so a million
customers take seconds. Look-alike groups are laid out first, because their members share what
makes them hard to tell apart (address, landline, last name, birth date); everything else is drawn
independently. The result is one Polars frame, written beside the sample as
``true_customers.parquet``: it is what the sources were rendered from, and what
:func:`~pipelines.sample.mutate.mutate_sample` re-renders changed records from.

Timestamps are integer seconds since the Unix epoch (UTC); dates are days since the epoch.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from functools import lru_cache

import numpy as np
import polars as pl

from pipelines.sample import vocab
from pipelines.sample.config import SampleOptions
from pipelines.sample.noise import email_local

DAY = 86_400
YEAR = 365.25 * DAY
EPOCH_DATE = date(1970, 1, 1)

# Look-alike group kinds as written in the ground truth.
HOUSEHOLD, TWIN, JR_SR = "household", "twin", "jr_sr"

# Roles of a customer inside its group.
ROLE_NONE, ROLE_HEAD, ROLE_SPOUSE, ROLE_CHILD, ROLE_TWIN, ROLE_SENIOR, ROLE_JUNIOR = range(7)

_GB_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
_HANDLE_WORDS = vocab.words(
    "sunny blue happy tiger eagle rocket pixel coffee ocean maple river storm lucky silver "
    "golden wolf falcon panda cosmic nova shadow ranger jazz"
)


def epoch_seconds(at: datetime) -> int:
    """Seconds since the epoch of a naive-UTC or aware datetime."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return int(at.timestamp())


def zipf_weights(size: int, exponent: float = 0.9) -> np.ndarray:
    """Weights that make the first entries of a list common and the last ones rare."""
    w = 1.0 / np.arange(1, size + 1, dtype=np.float64) ** exponent
    return w / w.sum()


def build_population(
    n: int,
    options: SampleOptions,
    rng: np.random.Generator,
    *,
    first_number: int = 1,
    with_groups: bool = True,
    used_emails: set[str] | None = None,
) -> pl.DataFrame:
    """``n`` true customers with ids ``P<first_number>`` onwards.

    ``used_emails`` lets a later batch of new customers avoid addresses already taken.
    """
    as_of = epoch_seconds(options.as_of)
    layout = _group_layout(n, options, rng) if with_groups else _Layout.singles(n)
    head = layout.head

    country_codes = np.array(sorted(options.countries))
    shares = np.array([options.countries[c] for c in country_codes], dtype=np.float64)
    country = country_codes[rng.choice(len(country_codes), size=n, p=shares / shares.sum())]
    # Fathers and sons who share a name are an American (and British) custom.
    jr_sr = np.isin(layout.role, (ROLE_SENIOR, ROLE_JUNIOR))
    country = np.where(jr_sr, np.where(rng.random(n) < 0.9, "US", "GB"), country)
    country = country[head]

    culture = _draw_cultures(country, rng)
    culture = np.where(
        jr_sr,
        np.where(
            rng.random(n) < 0.85, vocab.CULTURE_INDEX["anglo"], vocab.CULTURE_INDEX["hispanic"]
        ),
        culture,
    )
    culture = culture[head]

    sex = (rng.random(n) < 0.5).astype(np.int8)  # 1 = female
    spouse = layout.role == ROLE_SPOUSE
    sex = np.where(spouse & (rng.random(n) < 0.92), 1 - sex[head], sex)
    sex = np.where(jr_sr, 0, sex).astype(np.int8)

    first_idx = _draw_given(culture, sex, rng)
    middle_idx = _draw_given(culture, sex, rng)
    middle_rate = np.array([c.middle_rate for c in vocab.CULTURES])[culture]
    has_middle = rng.random(n) < middle_rate
    last_idx = _draw_index(culture, rng, lambda c: len(c.last))

    # Members take the head's family name: spouses mostly, children and twins always.
    keeps_name = (spouse & (rng.random(n) < 0.85)) | np.isin(
        layout.role, (ROLE_CHILD, ROLE_TWIN, ROLE_JUNIOR)
    )
    last_idx = np.where(keeps_name, last_idx[head], last_idx)
    # A junior is named after his father; half also share the middle name.
    junior = layout.role == ROLE_JUNIOR
    first_idx = np.where(junior, first_idx[head], first_idx)
    same_middle = junior & (rng.random(n) < 0.5)
    middle_idx = np.where(same_middle, middle_idx[head], middle_idx)
    has_middle = np.where(same_middle, has_middle[head], has_middle)
    # Twins get different given names (a quarter of them alliterative is left to chance).
    twin_b = (layout.role == ROLE_TWIN) & (head != np.arange(n))
    clash = twin_b & (first_idx == first_idx[head]) & (sex == sex[head])
    first_idx = np.where(clash, first_idx + 1, first_idx)
    first_idx = _wrap_given(first_idx, culture, sex)
    middle_idx = np.where(
        middle_idx == first_idx, _wrap_given(middle_idx + 1, culture, sex), middle_idx
    )

    namesake_group = _make_namesakes(n, options, layout, culture, sex, first_idx, last_idx, rng)
    middle_idx = _wrap_given(middle_idx, culture, sex)  # a namesake may have changed sex

    first, first_latin = _given_strings(first_idx, culture, sex)
    middle, middle_latin = _given_strings(middle_idx, culture, sex)
    middle = np.where(has_middle, middle, None)
    middle_latin = np.where(has_middle, middle_latin, None)
    last, last_latin = _last_strings(last_idx, culture, sex)

    suffix = np.full(n, None, dtype=object)
    suffix[junior] = "Jr"
    suffix[(layout.role == ROLE_SENIOR) & (rng.random(n) < 0.5)] = "Sr"
    anglo_man = (culture == vocab.CULTURE_INDEX["anglo"]) & (sex == 0) & (layout.role == ROLE_NONE)
    u = rng.random(n)
    suffix[anglo_man & (u < 0.006)] = "Jr"
    suffix[anglo_man & (u >= 0.006) & (u < 0.01)] = "III"
    suffix[anglo_man & (u >= 0.01) & (u < 0.012)] = "II"

    age = _ages(n, layout, rng)
    as_of_day = as_of // DAY
    dob = as_of_day - np.round(age * 365.25).astype(np.int64)
    dob = np.where(layout.role == ROLE_TWIN, dob[head], dob)
    doctor = (rng.random(n) < options.doctor_share) & (age >= 28)

    city = draw_cities(country, rng)
    current = draw_addresses(country, city, rng)
    same_city = rng.random(n) < 0.4
    prev_city = np.where(same_city, city, draw_cities(country, rng))
    previous = draw_addresses(country, prev_city, rng)
    since = as_of - (rng.random(n) * options.history_years * YEAR).astype(np.int64) - DAY
    moved = rng.random(n) < options.moved_share
    moved_at = np.where(moved, since + (rng.random(n) * (as_of - since)).astype(np.int64), -1)
    # A household lives (and moved) together.
    grouped = layout.role != ROLE_NONE
    moved_at = np.where(grouped, moved_at[head], moved_at)
    city, prev_city = city[head], prev_city[head]
    current = {k: v[head] for k, v in current.items()}
    previous = {k: v[head] for k, v in previous.items()}

    mobile, mobile_area = draw_phones(country, city, rng, mobile=True)
    landline, landline_area = draw_phones(country, city, rng, mobile=False)
    has_landline = grouped | (rng.random(n) < options.landline_share)
    landline = np.where(has_landline, landline[head], None)
    landline_area = np.where(has_landline, landline_area[head], 0)

    email_changed = rng.random(n) < options.email_changed_share
    email_changed_at = np.where(
        email_changed, since + (rng.random(n) * (as_of - since)).astype(np.int64), -1
    )
    py_rng = random.Random(int(rng.integers(2**62)))
    email, old_email = draw_emails(
        first_latin, middle_latin, last_latin, dob, country, email_changed, py_rng, used_emails
    )

    # Shuffle, so customer ids and file order say nothing about groups.
    perm = rng.permutation(n)
    inverse = np.empty(n, dtype=np.int64)
    inverse[perm] = np.arange(n)
    ids = np.array([f"P{first_number + k:07d}" for k in range(n)], dtype=object)
    head_id = np.where(grouped, ids[inverse[head]], None)

    frame = {
        "customer_id": ids,
        "culture": np.array([c.key for c in vocab.CULTURES], dtype=object)[culture][perm],
        "sex": np.where(sex == 1, "F", "M")[perm],
        "first_name": first[perm],
        "first_name_latin": first_latin[perm],
        "middle_name": middle[perm],
        "middle_name_latin": middle_latin[perm],
        "last_name": last[perm],
        "last_name_latin": last_latin[perm],
        "suffix": suffix[perm],
        "doctor": doctor[perm],
        "date_of_birth": dob[perm],
        "country": country[perm],
        "city_idx": city[perm].astype(np.int32),
        **{k: v[perm] for k, v in current.items()},
        "prev_city_idx": prev_city[perm].astype(np.int32),
        **{f"prev_{k}": v[perm] for k, v in previous.items()},
        "moved_at": moved_at[perm],
        "email": email[perm],
        "old_email": old_email[perm],
        "email_changed_at": email_changed_at[perm],
        "mobile": mobile[perm],
        "mobile_area_len": mobile_area[perm].astype(np.int8),
        "landline": landline[perm],
        "landline_area_len": landline_area[perm].astype(np.int8),
        "customer_since": since[perm],
        "group_id": layout.group_id[perm],
        "group_kind": layout.group_kind[perm],
        "group_role": layout.role[perm].astype(np.int8),
        "group_head": head_id[perm],
        "namesake_group": namesake_group[perm],
    }
    return _to_frame(frame)


def _to_frame(columns: dict[str, np.ndarray]) -> pl.DataFrame:
    series = []
    for name, values in columns.items():
        if values.dtype == object or values.dtype.kind in "US":
            series.append(pl.Series(name, values.tolist(), dtype=pl.String))
        else:
            series.append(pl.Series(name, values))
    frame = pl.DataFrame(series)
    return frame.with_columns(
        pl.col("date_of_birth").cast(pl.Int32).cast(pl.Date),
        *(
            pl.when(pl.col(c) >= 0).then(pl.from_epoch(pl.col(c), time_unit="s")).alias(c)
            for c in ("moved_at", "email_changed_at", "customer_since")
        ),
    )


# --- look-alike groups -------------------------------------------------------------------------
class _Layout:
    """Which slot belongs to which group, in which role, and who heads it."""

    def __init__(self, role: np.ndarray, head: np.ndarray, group_id: np.ndarray, kind: np.ndarray):
        self.role = role
        self.head = head
        self.group_id = group_id
        self.group_kind = kind

    @classmethod
    def singles(cls, n: int) -> _Layout:
        return cls(
            np.zeros(n, dtype=np.int64),
            np.arange(n),
            np.full(n, None, dtype=object),
            np.full(n, None, dtype=object),
        )


def _count(n: int, share: float, size: float) -> int:
    """Groups needed for ``share`` of ``n`` customers; at least one once the sample is big
    enough to hold one, so even a small demo sample has every kind of look-alike."""
    if share <= 0:
        return 0
    return max(1 if n >= 40 else 0, round(n * share / size))


def _group_layout(n: int, options: SampleOptions, rng: np.random.Generator) -> _Layout:
    layout = _Layout.singles(n)
    households = rng.choice(
        [2, 3, 4], size=_count(n, options.household_share, 2.6), p=[0.55, 0.3, 0.15]
    )
    twins = _count(n, options.twin_share, 2)
    jr_sr = _count(n, options.jr_sr_share, 2)
    while households.size and households.sum() + 2 * (twins + jr_sr) > n:
        households = households[:-1]
    if 2 * (twins + jr_sr) > n:
        twins = jr_sr = 0
    slot = 0
    for number, size in enumerate(households.tolist(), start=1):
        _place(
            layout,
            slot,
            size,
            f"H{number:06d}",
            HOUSEHOLD,
            [ROLE_HEAD, ROLE_SPOUSE] + [ROLE_CHILD] * (size - 2),
        )
        slot += size
    for number in range(1, twins + 1):
        _place(layout, slot, 2, f"T{number:06d}", TWIN, [ROLE_TWIN, ROLE_TWIN])
        slot += 2
    for number in range(1, jr_sr + 1):
        _place(layout, slot, 2, f"J{number:06d}", JR_SR, [ROLE_SENIOR, ROLE_JUNIOR])
        slot += 2
    return layout


def _place(
    layout: _Layout, start: int, size: int, group_id: str, kind: str, roles: list[int]
) -> None:
    layout.role[start : start + size] = roles
    layout.head[start : start + size] = start
    layout.group_id[start : start + size] = group_id
    layout.group_kind[start : start + size] = kind


def _make_namesakes(
    n: int,
    options: SampleOptions,
    layout: _Layout,
    culture: np.ndarray,
    sex: np.ndarray,
    first_idx: np.ndarray,
    last_idx: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Pairs of unrelated customers given one very common first and last name (two John
    Smiths): same name, nothing else in common. Edits the index arrays in place."""
    out = np.full(n, None, dtype=object)
    pairs = _count(n, options.namesake_share, 2)
    anglo = vocab.CULTURE_INDEX["anglo"]
    candidates = np.flatnonzero((layout.role == ROLE_NONE) & (culture == anglo))
    pairs = min(pairs, candidates.size // 2)
    if pairs == 0:
        return out
    chosen = rng.choice(candidates, size=2 * pairs, replace=False)
    a, b = chosen[0::2], chosen[1::2]
    sex[b] = sex[a]
    first_idx[a] = first_idx[b] = rng.integers(0, 6, size=pairs)
    last_idx[a] = last_idx[b] = rng.integers(0, 4, size=pairs)
    labels = np.array([f"N{k:06d}" for k in range(1, pairs + 1)], dtype=object)
    out[a] = labels
    out[b] = labels
    return out


def _ages(n: int, layout: _Layout, rng: np.random.Generator) -> np.ndarray:
    """Ages in years (float). Parents are old enough for their adult children."""
    age = 18 + 70 * rng.beta(1.6, 2.4, size=n)
    role, head = layout.role, layout.head
    has_child = np.zeros(n, dtype=bool)
    has_child[head[role == ROLE_CHILD]] = True
    parent_age = 42 + 38 * rng.beta(2, 2, size=n)
    age = np.where((role == ROLE_HEAD) & has_child, parent_age, age)
    senior_age = 46 + 38 * rng.beta(2, 2, size=n)
    age = np.where(role == ROLE_SENIOR, senior_age, age)
    head_age = age[head]
    age = np.where(role == ROLE_SPOUSE, np.clip(head_age + rng.normal(0, 3.5, n), 18, 95), age)
    child_age = 18 + rng.random(n) * np.maximum(head_age - 20 - 18, 0.5)
    age = np.where(role == ROLE_CHILD, child_age, age)
    junior_age = np.maximum(head_age - rng.uniform(20, 36, n), 18)
    age = np.where(role == ROLE_JUNIOR, junior_age, age)
    return np.where(role == ROLE_TWIN, head_age, age)


# --- names -------------------------------------------------------------------------------------
def _draw_cultures(country: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(country.size, dtype=np.int64)
    for code, mix in vocab.CULTURE_MIX.items():
        mask = country == code
        if not mask.any():
            continue
        keys = list(mix)
        p = np.array([mix[k] for k in keys])
        picks = rng.choice(len(keys), size=int(mask.sum()), p=p / p.sum())
        out[mask] = np.array([vocab.CULTURE_INDEX[k] for k in keys])[picks]
    return out


def _draw_index(culture: np.ndarray, rng: np.random.Generator, size_of) -> np.ndarray:
    out = np.zeros(culture.size, dtype=np.int64)
    for ci, c in enumerate(vocab.CULTURES):
        mask = culture == ci
        if mask.any():
            size = size_of(c)
            out[mask] = rng.choice(size, size=int(mask.sum()), p=zipf_weights(size))
    return out


def _draw_given(culture: np.ndarray, sex: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    male = _draw_index(culture, rng, lambda c: len(c.male))
    female = _draw_index(culture, rng, lambda c: len(c.female))
    return np.where(sex == 1, female, male)


def _wrap_given(idx: np.ndarray, culture: np.ndarray, sex: np.ndarray) -> np.ndarray:
    sizes = np.array([[len(c.male), len(c.female)] for c in vocab.CULTURES])[culture, sex]
    return idx % sizes


def _given_strings(
    idx: np.ndarray, culture: np.ndarray, sex: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    native = np.empty(idx.size, dtype=object)
    latin = np.empty(idx.size, dtype=object)
    for ci, c in enumerate(vocab.CULTURES):
        for s, pool in ((0, c.male), (1, c.female)):
            mask = (culture == ci) & (sex == s)
            if mask.any():
                table = np.array(pool, dtype=object)
                native[mask] = table[idx[mask], 0]
                latin[mask] = table[idx[mask], 1]
    return native, latin


def _last_strings(
    idx: np.ndarray, culture: np.ndarray, sex: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    native = np.empty(idx.size, dtype=object)
    latin = np.empty(idx.size, dtype=object)
    for ci, c in enumerate(vocab.CULTURES):
        mask = culture == ci
        if not mask.any():
            continue
        table = np.array(c.last, dtype=object)
        native[mask] = table[idx[mask], 0]
        latin[mask] = table[idx[mask], 1]
        if c.gendered_last:
            fem = mask & (sex == 1)
            native[fem] = native[fem] + "а"
            latin[fem] = latin[fem] + "a"
    return native, latin


# --- places ------------------------------------------------------------------------------------
def draw_cities(country: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(country.size, dtype=np.int64)
    for code in np.unique(country).tolist():
        mask = country == code
        idx = np.array([i for i, c in enumerate(vocab.CITIES) if c.country == code])
        w = np.array([vocab.CITIES[i].weight for i in idx])
        out[mask] = idx[rng.choice(idx.size, size=int(mask.sum()), p=w / w.sum())]
    return out


def _pick(
    table: tuple[str, ...], k: int, rng: np.random.Generator, exponent: float = 0.6
) -> np.ndarray:
    return np.array(table, dtype=object)[
        rng.choice(len(table), size=k, p=zipf_weights(len(table), exponent))
    ]


def _weighted(weights: tuple[int, ...], k: int, rng: np.random.Generator) -> np.ndarray:
    w = np.array(weights, dtype=np.float64)
    return rng.choice(len(weights), size=k, p=w / w.sum())


def draw_addresses(
    country: np.ndarray, city: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Street address components; a renderer turns them into each source's text forms."""
    n = country.size
    house = np.empty(n, dtype=object)
    street = np.empty(n, dtype=object)
    street_type = np.zeros(n, dtype=np.int16)
    direction = np.full(n, -1, dtype=np.int8)
    unit_kind = np.full(n, -1, dtype=np.int8)
    unit = np.full(n, None, dtype=object)
    postcode = np.empty(n, dtype=object)
    plus4 = np.full(n, None, dtype=object)

    for code in ("US", "GB", "DE", "FR"):
        mask = country == code
        k = int(mask.sum())
        if not k:
            continue
        top = {"US": 4.0, "GB": 2.3, "DE": 2.2, "FR": 2.3}[code]
        numbers = np.maximum(1, np.floor(10 ** rng.uniform(0, top, k))).astype(np.int64)
        houses = _formatted(numbers, "{}")
        has_unit = np.zeros(k, dtype=bool)
        if code == "US":
            street[mask] = _pick(vocab.US_STREETS, k, rng)
            street_type[mask] = _weighted(vocab.US_STREET_TYPE_WEIGHTS, k, rng)
            direction[mask] = np.where(rng.random(k) < 0.15, rng.integers(0, 4, k), -1)
            has_unit = rng.random(k) < 0.3
            kinds = _weighted((70, 20, 10), k, rng)
            plus4[mask] = _formatted(rng.integers(1, 10000, k), "{:04d}")
        elif code == "GB":
            street[mask] = _pick(vocab.GB_STREETS, k, rng)
            street_type[mask] = _weighted(vocab.GB_STREET_TYPE_WEIGHTS, k, rng)
            has_unit = rng.random(k) < 0.22
            kinds = np.where(rng.random(k) < 0.85, 0, 1)
        elif code == "DE":
            street[mask] = _pick(vocab.DE_STREETS, k, rng)
            street_type[mask] = _weighted(vocab.DE_STREET_TYPE_WEIGHTS, k, rng)
            letter = rng.random(k) < 0.08
            houses = np.where(letter, houses + np.where(rng.random(k) < 0.7, "a", "b"), houses)
            kinds = np.zeros(k, dtype=np.int64)
        else:
            street[mask] = _pick(vocab.FR_STREETS, k, rng)
            street_type[mask] = _weighted(vocab.FR_STREET_TYPE_WEIGHTS, k, rng)
            bis = rng.random(k) < 0.04
            houses = np.where(bis, houses + " bis", houses)
            has_unit = rng.random(k) < 0.15
            kinds = np.where(rng.random(k) < 0.7, 0, 1)
        house[mask] = houses
        unit_kind[mask] = np.where(has_unit, kinds, -1)
        unit[mask] = np.where(has_unit, _unit_numbers(code, kinds, k, rng), None)
        postcode[mask] = _postcodes(city[mask], rng)
    return {
        "house": house,
        "street": street,
        "street_type": street_type,
        "direction": direction,
        "unit_kind": unit_kind,
        "unit": unit,
        "postcode": postcode,
        "plus4": plus4,
    }


def _formatted(values: np.ndarray, pattern: str) -> np.ndarray:
    """Numbers as text, one string object per distinct value: house numbers and postcodes
    repeat across a million customers."""
    distinct, inverse = np.unique(values, return_inverse=True)
    texts = np.array([pattern.format(v) for v in distinct.tolist()], dtype=object)
    return texts[inverse]


def _unit_numbers(code: str, kinds: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    number = rng.integers(1, 41, k)
    floor = rng.integers(1, 12, k)
    letter = np.array(list("ABCDEF"), dtype=object)[rng.integers(0, 6, k)]
    style = rng.random(k)
    out = np.empty(k, dtype=object)
    for j in range(k):
        if code == "FR" and kinds[j] == 1:
            out[j] = str(letter[j])
        elif style[j] < 0.7:
            out[j] = str(int(number[j]))
        elif style[j] < 0.9 and code != "FR":
            out[j] = f"{int(floor[j])}{letter[j]}"
        else:
            out[j] = f"{int(floor[j])}{int(number[j]):02d}"
    return out


def _postcodes(city: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = np.empty(city.size, dtype=object)
    u = rng.random(city.size)
    digit = rng.integers(0, 10, city.size)
    letters = np.array(list(_GB_INWARD_LETTERS), dtype=object)[
        rng.integers(0, len(_GB_INWARD_LETTERS), (city.size, 2))
    ]
    for ci in np.unique(city).tolist():
        mask = city == ci
        c = vocab.CITIES[ci]
        pick = (u[mask] * len(c.postcodes)).astype(np.int64)
        if c.country == "GB":
            outward = np.array(c.postcodes, dtype=object)[pick]
            inward = digit[mask].astype(str).astype(object) + letters[mask, 0] + letters[mask, 1]
            out[mask] = outward + " " + inward
        elif c.country == "FR":
            out[mask] = np.array(c.postcodes, dtype=object)[pick]
        else:
            lo, hi = int(c.postcodes[0]), int(c.postcodes[1])
            values = lo + (u[mask] * (hi - lo + 1)).astype(np.int64)
            out[mask] = _formatted(values, "{:05d}")
    return out


def draw_phones(
    country: np.ndarray, city: np.ndarray, rng: np.random.Generator, *, mobile: bool
) -> tuple[np.ndarray, np.ndarray]:
    """E.164 numbers and the length of their area code (or mobile prefix) for grouping."""
    n = country.size
    cc = np.empty(n, dtype=object)
    area = np.empty(n, dtype=object)
    first = np.empty(n, dtype=object)
    length = np.zeros(n, dtype=np.int64)
    area_len = np.zeros(n, dtype=np.int64)
    u = rng.random((n, 2))
    # Mobile numbers keep the area code of wherever they were first bought.
    home = np.where(mobile & (rng.random(n) < 0.1), draw_cities(country, rng), city)
    for code, calling in vocab.CALLING_CODES.items():
        in_country = country == code
        cc[in_country] = calling
        if mobile and code != "US":
            prefixes = vocab.MOBILE_PREFIXES[code]
            pick = (u[in_country, 0] * len(prefixes)).astype(np.int64)
            area[in_country] = np.array([p for p, _ in prefixes], dtype=object)[pick]
            first[in_country] = ""
            length[in_country] = np.array([r for _, r in prefixes])[pick]
            area_len[in_country] = {"GB": 4, "DE": 3, "FR": 1}[code]
            in_country[:] = False
        for ci in np.unique(home[in_country]).tolist():
            mask = in_country & (home == ci)
            codes = [a.partition(":") for a in vocab.CITIES[ci].area_codes]
            pick = (u[mask, 0] * len(codes)).astype(np.int64)
            area[mask] = np.array([c for c, _, _ in codes], dtype=object)[pick]
            starts = [d for _, _, d in codes]
            first[mask] = [
                starts[k][int(v * len(starts[k]))]
                for k, v in zip(pick.tolist(), u[mask, 1].tolist(), strict=True)
            ]
            lengths = np.array([vocab.NATIONAL_LENGTH[code] - len(c) - 1 for c, _, _ in codes])
            length[mask] = lengths[pick]
            area_len[mask] = np.array([len(c) for c, _, _ in codes])[pick]
    rest = rng.integers(0, 10**9, n) % (10**length)
    out = np.array(
        [
            f"+{c}{a}{f}{r:0{w}d}"
            for c, a, f, r, w in zip(
                cc.tolist(),
                area.tolist(),
                first.tolist(),
                rest.tolist(),
                length.tolist(),
                strict=True,
            )
        ],
        dtype=object,
    )
    if (country == "US").any():
        # North American exchanges never end in 11 and 555 is reserved.
        us = country == "US"
        out[us] = [_fix_exchange(v) for v in out[us].tolist()]
    return out, area_len


def _fix_exchange(number: str) -> str:
    exchange = number[5:8]
    if exchange[1:] == "11" or exchange == "555":
        return number[:6] + "2" + number[7:]
    return number


# --- email -------------------------------------------------------------------------------------
def draw_emails(
    first: np.ndarray,
    middle: np.ndarray,
    last: np.ndarray,
    dob: np.ndarray,
    country: np.ndarray,
    changed: np.ndarray,
    rng: random.Random,
    used: set[str] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's email (unique, as providers enforce) and, for some, an older one.

    Unique by mailbox, not by spelling: Gmail ignores dots, so ``amy.smith@gmail.com`` and
    ``amysmith@gmail.com`` are one mailbox and never two customers' addresses."""
    used = {_mailbox(address) for address in used or ()}
    n = first.size
    email = np.empty(n, dtype=object)
    old = np.full(n, None, dtype=object)
    domain = np.empty(n, dtype=object)
    nprng = np.random.default_rng(rng.getrandbits(62))
    for code, table in vocab.EMAIL_DOMAINS.items():
        mask = country == code
        names = np.array([d for d, _ in table], dtype=object)
        w = np.array([w for _, w in table])
        domain[mask] = names[nprng.choice(names.size, size=int(mask.sum()), p=w / w.sum())]
    legacy = np.array(vocab.LEGACY_DOMAINS, dtype=object)[
        nprng.integers(0, len(vocab.LEGACY_DOMAINS), n)
    ]
    years = (np.datetime64("1970-01-01") + dob.astype("timedelta64[D]")).astype("datetime64[Y]")
    yy = years.astype(np.int64) + 1970
    local = _ascii_local
    suffixes: dict[str, int] = {}
    for j, (f, m, la, y, d, ch) in enumerate(
        zip(
            first.tolist(),
            middle.tolist(),
            last.tolist(),
            yy.tolist(),
            domain.tolist(),
            changed.tolist(),
            strict=True,
        )
    ):
        f, la = local(f) or "user", local(la) or "mail"
        m = local(m) if m else ""
        email[j] = _unique(_local_part(f, m, la, y, rng) + "@" + d, used, suffixes)
        if ch:
            old[j] = _unique(_local_part(f, m, la, y, rng) + "@" + legacy[j], used, suffixes)
    return email, old


@lru_cache(maxsize=65536)
def _ascii_local(name: str) -> str:
    return email_local(name)


def _local_part(f: str, m: str, la: str, yy: int, rng: random.Random) -> str:
    u = rng.random()
    if u < 0.26:
        return f"{f}.{la}"
    if u < 0.40:
        return f"{f}{la}"
    if u < 0.53:
        return f"{f[0]}{la}"
    if u < 0.58:
        return f"{f}_{la}"
    if u < 0.68:
        return f"{f}.{la}{yy % 100:02d}"
    if u < 0.74:
        return f"{f}{rng.randrange(1, 999)}"
    if u < 0.78:
        return f"{la}.{f}"
    if u < 0.82 and m:
        return f"{f}.{m[0]}.{la}"
    if u < 0.87:
        return f"{f[0]}.{la}"
    if u < 0.92:
        return f"{la}{f[0]}{yy}"
    return f"{_HANDLE_WORDS[rng.randrange(len(_HANDLE_WORDS))]}{f[:3]}{rng.randrange(10, 99)}"


def _mailbox(address: str) -> str:
    """The mailbox an address names: Gmail ignores dots in the local part."""
    local, _, domain = address.partition("@")
    if domain in ("gmail.com", "googlemail.com"):
        return local.replace(".", "") + "@gmail.com"
    return address


def _unique(address: str, used: set[str], next_suffix: dict[str, int]) -> str:
    """Providers hand out each mailbox once (``used`` holds :func:`_mailbox` keys): the
    second John Smith gets john.smith2."""
    if _mailbox(address) not in used:
        used.add(_mailbox(address))
        return address
    local, _, domain = address.partition("@")
    k = next_suffix.get(address, 2)
    while _mailbox(f"{local}{k}@{domain}") in used:
        k += 1
    next_suffix[address] = k + 1
    address = f"{local}{k}@{domain}"
    used.add(_mailbox(address))
    return address
