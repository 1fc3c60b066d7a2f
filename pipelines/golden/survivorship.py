"""Survivorship: choose each golden field's value from a customer's source records.

Each *unit* (a field group such as the address, or one field alone) is decided by one sort of the
candidate records, customer by customer, on the unit's rules in order, then record key: the first
row per customer wins and gives all the unit's fields, so a group never mixes two records. That is
a handful of vectorised Polars sorts however many customers there are, never Python per row.

Validity comes before every configured rule: a value the standardiser listed in the record's
``invalid_fields`` never beats a valid one. Steward pins override the outcome field by field.

Provenance names, for every golden field with a value, the record that supplied it and the rule
that decided: the first rule, in order, on which the winner beats the best candidate offering a
*different* value. ``unanimous`` means every candidate agreed, ``only_value`` that one record had
a value, ``record_key`` that the rules tied and the lowest record key won, ``steward_pin`` that a
steward pinned it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NamedTuple

import polars as pl

from pipelines.golden import consensus
from pipelines.golden.config import SurvivalUnit
from pipelines.schema import GOLDEN_FIELDS

ONLY_VALUE: Final = "only_value"
UNANIMOUS: Final = "unanimous"
TIE_BREAK: Final = "record_key"
STEWARD_PIN: Final = "steward_pin"
SWAPPED_NAMES: Final = "swapped_names"
"""The credited record had given and family names swapped and was read the right way round."""
FULL_FORM: Final = "full_form"
"""Every record agreed on the value; its spelling was chosen among theirs (full form, accents)."""
STEWARD_SOURCE: Final = "steward"
"""Provenance ``source_system`` of a pinned value; its ``source_record_id`` is the decision id."""

RECORD_COLUMNS: Final = (
    "golden_id",
    "record_key",
    "source_system",
    "source_record_id",
    "trust_rank",
    "source_updated_at",
    "invalid_fields",
    *GOLDEN_FIELDS,
    "mk_first_name_canonical",
    "mk_last_name",
    "mk_email",
    "mk_phone",
)
"""What survivorship reads of each staged record (plus its golden id)."""

PIN_COLUMNS: Final = ("golden_id", "field", "value", "decision_id")

_SEP: Final = "\x1f"
_NULL: Final = "\x00"


class Survivors(NamedTuple):
    values: pl.DataFrame
    """One row per golden id: ``golden_id`` and every golden field."""
    provenance: pl.DataFrame
    """``golden_id``, ``field``, ``source_system``, ``source_record_id``, ``rule``."""


_KEY_RULES: Final = {
    "valid_first": [("_k_invalid", False)],
    "filled_first": [("_k_filled", True)],
    "agreement": [("_k_support", True)],
    "most_frequent": [("_k_support", True)],
    "full_form": [("_k_form", True)],
    "latest_value": [("_k_latest", True)],
    "most_recent": [("_k_latest", True)],
    "trust_rank": [("_k_trust", False)],
    "most_complete": [("_k_filled", True), ("_k_complete", True)],
    "longest": [("_k_length", True)],
}
"""Each rule as key-level columns (and whether more is better) it compares candidate values on."""

_SINGLE_FILLED: Final = frozenset({"filled_first"})


def _unit_rules(unit: SurvivalUnit) -> list[tuple[str, list[tuple[str, bool]]]]:
    """(rule, columns) in the order the unit's rules apply; ``valid_first`` always first."""
    rules: list[tuple[str, list[tuple[str, bool]]]] = [("valid_first", _KEY_RULES["valid_first"])]
    for rule in unit.rules:
        if rule == "valid_first":
            continue
        columns = _KEY_RULES[rule]
        if rule == "most_complete" and len(unit.fields) == 1:
            columns = [("_k_complete", True)]
        rules.append((rule, columns))
    return rules


def _identity(unit: SurvivalUnit) -> tuple[list[pl.Expr], pl.Expr]:
    """The unit's identity key parts (see :mod:`pipelines.golden.consensus`) and its form score
    (how plausible a record's value is as the real one)."""
    fields = set(unit.fields)
    parts: list[pl.Expr] = []
    form: list[pl.Expr] = []
    if "first_name" in fields:
        parts.append(pl.col("_first_key"))
        first_shown = consensus.fold_key(pl.col("first_name"))
        form.append(
            pl.when(~consensus.initial(pl.col("first_name")))
            .then(
                1
                + consensus.known_given_name(pl.col("_first_key")).cast(pl.Int32)
                + consensus.corroborated(first_shown).cast(pl.Int32)
                + consensus.native_script(pl.col("first_name")).cast(pl.Int32) * 2
            )
            .otherwise(0)
        )
    if "last_name" in fields:
        last = consensus.fold_key(pl.col("last_name"))
        # A family name in another script (王, Иванов) is the same identity as its
        # romanisation (Wang, Ivanov): the standardiser's matching key says how it reads.
        parts.append(
            pl.when(consensus.native_script(pl.col("last_name")))
            .then(pl.coalesce(consensus.fold_key(pl.col("mk_last_name")), last))
            .otherwise(last)
        )
        form.append(
            pl.when(~consensus.initial(pl.col("last_name")))
            .then(
                1
                + consensus.corroborated(last).cast(pl.Int32)
                + consensus.native_script(pl.col("last_name")).cast(pl.Int32) * 2
            )
            .otherwise(0)
        )
    if "email" in fields:
        parts.append(pl.col("_email_key"))
        domain = pl.col("email").str.split("@").list.last()
        form.append(
            domain.is_in(list(consensus.KNOWN_MAIL_DOMAINS)).fill_null(False).cast(pl.Int32)
        )
    if "phone" in fields:
        parts.append(pl.col("phone").str.replace_all(r"\D", ""))
    if "postcode" in fields or "address_line1" in fields:
        if "country" in fields:
            parts.append(pl.col("country"))
        if "postcode" in fields:
            parts.append(consensus.postcode_key(pl.col("postcode"), pl.col("country")))
        if "address_line1" in fields:
            parts.append(consensus.house_number(pl.col("address_line1")))
            # A street line without a number (a PO box, a named house) is its own identity.
            parts.append(
                pl.when(consensus.house_number(pl.col("address_line1")).is_null()).then(
                    consensus.fold_key(pl.col("address_line1"))
                )
            )
    if "date_of_birth" in fields:
        parts.append(pl.col("date_of_birth").cast(pl.String))
    if not parts:
        parts = [consensus.fold_key(pl.col(f).cast(pl.String)) for f in unit.fields]
    score = pl.sum_horizontal(form) if form else pl.lit(0)
    return parts, score


_CORE_FIELDS: Final = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "address_line1",
    "city",
    "postcode",
    "country",
    "date_of_birth",
)
"""Fields that make a value whole: a name without its family name, an address without its
street line is the one with blanks (``filled_first``); a missing title or middle name is not."""


def _core_fields(unit: SurvivalUnit) -> tuple[str, ...]:
    core = tuple(f for f in unit.fields if f in _CORE_FIELDS)
    return core or unit.fields


_DISPLAY_TEXT: Final = frozenset(
    {
        "first_name",
        "last_name",
        "middle_name",
        "full_name",
        "address_line1",
        "address_line2",
        "city",
        "region",
    }
)


def _display_score(field: str) -> pl.Expr:
    """How fit a record's spelling of ``field`` is to show (higher first), among records that
    agree on the unit's identity."""
    value = pl.col(field).cast(pl.String)
    score = pl.lit(0)
    if field in _DISPLAY_TEXT:
        score = consensus.has_letters_beyond_ascii(value).cast(pl.Int32) * 2 + consensus.mixed_case(
            value
        ).cast(pl.Int32)
    if field == "first_name":
        # The full form, not a nickname or an initial (Robert over Bob and R.); a name in its
        # own script is the form its romanisations were made from.
        full = (consensus.fold_key(value) == pl.col("_first_key")).fill_null(
            False
        ) | consensus.native_script(value)
        score = score - value.str.contains(" ").fill_null(False).cast(pl.Int32) * 3
        score = score + full.cast(pl.Int32) * 4
    elif field == "email":
        # The address as its owner writes it: no plus tag, and dots only where they part the
        # customer's own names (veronique.martinez, not ste.warte).
        local = value.str.split("@").list.first()
        score = (
            score
            - local.str.contains("+", literal=True).fill_null(False).cast(pl.Int32) * 4
            + pl.when(~local.str.contains(".", literal=True))
            .then(1)
            .when(pl.col("_email_dots_named"))
            .then(2)
            .otherwise(0)
        )
    elif field == "address_line1":
        score = score - consensus.abbreviations(value) * 3
    elif field == "city":
        abbreviated = consensus.fold_key(value).is_in(list(consensus.CITY_ABBREVIATIONS))
        score = score - abbreviated.fill_null(False).cast(pl.Int32) * 4
    return score


def _field_choice(candidates: pl.DataFrame, winning: pl.DataFrame, field: str) -> pl.DataFrame:
    """Per golden id: the record (``_order``) whose value of ``field`` is shown, among the
    records holding the winning key, and whether several spellings were on offer."""
    rows = candidates.join(winning, on=["_g", "_key"], how="semi").filter(
        pl.col(field).is_not_null()
    )
    value = pl.col(field)
    length = value.cast(pl.String).str.len_chars()
    rows = rows.select(
        "_g",
        "_order",
        "_swapped",
        pl.col("invalid_fields").list.contains(pl.lit(field)).alias("_f_invalid"),
        _display_score(field).alias("_f_score"),
        pl.len().over("_g", value).alias("_f_count"),
        length.alias("_f_length"),
        pl.col("_filled"),
        pl.col("trust_rank").alias("_trust"),
        pl.col("source_updated_at").alias("_updated"),
        value.n_unique().over("_g").alias("_f_forms"),
    )
    # A given name's longer form is its full form (Steven over Steve, when both resolve to
    # Stephen); elsewhere the spelling most records share comes first.
    ranked = ["_f_length", "_f_count"] if field == "first_name" else ["_f_count", "_f_length"]
    rows = rows.sort(
        ["_g", "_f_invalid", "_swapped", "_f_score", ranked[0], "_filled", ranked[1], "_trust",
         "_updated", "_order"],
        descending=[False, False, False, True, True, True, True, False, True, False],
        nulls_last=True,
    )  # fmt: skip
    return rows.filter(pl.col("_g").is_first_distinct()).select(
        "_g", pl.col("_order").alias(f"_o_{field}"), (pl.col("_f_forms") > 1).alias(f"_m_{field}")
    )


def _unit_winners(records: pl.DataFrame, unit: SurvivalUnit) -> pl.DataFrame:
    """Per golden id with a value in the unit: the winning identity, and per field the record
    that supplies its value (``_o_<field>``) and the deciding rule (``_r_<field>``).

    ``records`` carries ``_g`` (an integer per golden id), ``_order`` (rank of the record key),
    ``_record_complete`` and the consensus evidence columns. Candidates are grouped by identity
    key; each rule compares the keys on a key-level figure (agreement: how many records hold
    it; latest_value: its newest record; ...). One sort decides every customer at once.
    """
    fields = list(unit.fields)
    present = [pl.col(f).is_not_null() for f in fields]
    parts, form = _identity(unit)
    invalid = pl.sum_horizontal(
        [
            pl.col(f).is_not_null() & pl.col("invalid_fields").list.contains(pl.lit(f))
            for f in fields
        ]
    )
    length = pl.sum_horizontal(
        [pl.col(f).cast(pl.String).str.len_chars().fill_null(0) for f in fields]
    )
    core = [pl.col(f).is_not_null() for f in _core_fields(unit)]
    candidates = records.filter(pl.any_horizontal(present)).with_columns(
        pl.len().over("_g").alias("_candidates")
    )
    # Most customers have one record with a value: it wins without any evidence or sorting.
    single = candidates.filter(pl.col("_candidates") == 1).select(
        "_g",
        pl.lit(ONLY_VALUE).alias("_rule"),
        *(pl.when(pl.col(f).is_not_null()).then(pl.col("_order")).alias(f"_o_{f}") for f in fields),
        *(pl.lit(False).alias(f"_m_{f}") for f in fields),
    )
    candidates = candidates.filter(pl.col("_candidates") > 1).with_columns(
        pl.struct([p.alias(f"_p{i}") for i, p in enumerate(parts)]).hash(seed=0).alias("_key"),
        pl.sum_horizontal(core).alias("_filled"),
        invalid.alias("_invalid"),
        form.alias("_form"),
        length.alias("_length"),
    )
    key = ["_g", "_key"]
    candidates = candidates.with_columns(
        pl.col("_invalid").min().over(key).alias("_k_invalid"),
        pl.col("_filled").max().over(key).alias("_k_filled"),
        pl.len().over(key).alias("_k_support"),
        pl.col("_form").max().over(key).alias("_k_form"),
        pl.col("source_updated_at").max().over(key).alias("_k_latest"),
        pl.col("trust_rank").min().over(key).alias("_k_trust"),
        pl.col("_record_complete").max().over(key).alias("_k_complete"),
        pl.col("_length").max().over(key).alias("_k_length"),
        pl.col("_order").min().over(key).alias("_k_first"),
    )
    rules = _unit_rules(unit)
    columns = [(c, desc) for _, cols in rules for c, desc in cols]
    names = list(dict.fromkeys(c for c, _ in columns))
    order = {c: desc for c, desc in reversed(columns)}
    keys = (
        candidates.select("_g", "_key", "_candidates", *names, "_k_first")
        .unique(["_g", "_key"])
        .sort(
            ["_g", *names, "_k_first"],
            descending=[False, *(order[n] for n in names), False],
            nulls_last=True,
        )
    )
    first = pl.col("_g").is_first_distinct()
    winning = keys.filter(first)
    runners_up = (
        keys.filter(~first)
        .filter(pl.col("_g").is_first_distinct())
        .select("_g", *(pl.col(n).alias(f"{n}_alt") for n in names))
        .with_columns(pl.lit(True).alias("_has_alt"))
    )
    decided = winning.join(runners_up, on="_g", how="left")
    rule = (
        pl.when(pl.col("_candidates") == 1)
        .then(pl.lit(ONLY_VALUE))
        .when(pl.col("_has_alt").is_null())
        .then(pl.lit(UNANIMOUS))
    )
    for rule_name, cols in rules:
        differs = pl.any_horizontal([pl.col(n).ne_missing(pl.col(f"{n}_alt")) for n, _ in cols])
        rule = rule.when(differs).then(pl.lit(rule_name))
    decided = decided.select("_g", "_key", rule.otherwise(pl.lit(TIE_BREAK)).alias("_rule"))
    out = decided
    for field in fields:
        chosen = _field_choice(candidates, decided.select("_g", "_key"), field)
        out = out.join(chosen, on="_g", how="left")
    return pl.concat([single, out.drop("_key")], how="diagonal_relaxed")


def _prepare(records: pl.DataFrame) -> pl.DataFrame:
    """Records in record-key order with the evidence every unit reads (see module doc)."""
    for column in _EVIDENCE_COLUMNS:
        if column not in records.columns:
            records = records.with_columns(pl.lit(None, pl.String).alias(column))
    prepared = records.sort("record_key").with_columns(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("_order"),
        pl.col("golden_id").cast(pl.Categorical).to_physical().alias("_g"),
        pl.sum_horizontal([pl.col(f).is_not_null() for f in GOLDEN_FIELDS]).alias(
            "_record_complete"
        ),
        pl.col("invalid_fields").fill_null([]),
    )
    # A phone that is possible but in no assigned range: the standardiser flags it and keeps
    # its digits as the matching key. It is the customer's number all the same: kept, as
    # ``unverified``, and it loses to any valid number (valid_first).
    unverified_phone = (
        pl.col("phone").is_null()
        & pl.col("mk_phone").is_not_null()
        & pl.col("invalid_fields").list.contains(pl.lit("phone"))
    )
    prepared = prepared.with_columns(
        unverified_phone.alias("_phone_unverified"),
        pl.when(unverified_phone)
        .then(pl.lit("+") + pl.col("mk_phone"))
        .otherwise(pl.col("phone"))
        .alias("phone"),
        pl.when(pl.col("first_name").is_not_null())
        .then(consensus.first_name_key(pl.col("first_name"), pl.col("mk_first_name_canonical")))
        .alias("_first_key"),
        pl.coalesce("mk_email", pl.col("email").str.to_lowercase()).alias("_email_key"),
    )
    line1, line2 = consensus.split_unit(pl.col("address_line1"), pl.col("address_line2"))
    prepared = prepared.with_columns(
        line1.alias("address_line1"), line2.alias("address_line2")
    ).with_columns((pl.len().over("_g") > 1).alias("_multi"))
    # Evidence that compares a customer's records with each other: only customers with more
    # than one record need it (a single record wins every unit as the only value).
    multi = prepared.filter(pl.col("_multi"))
    multi = consensus.email_dots_named(consensus.unswap_names(multi))
    multi = multi.join(consensus.mail_local_parts(multi), on="_g", how="left")
    single = prepared.filter(~pl.col("_multi")).with_columns(
        pl.lit(False).alias("_swapped"),
        pl.lit(False).alias("_email_dots_named"),
        pl.lit(None, pl.String).alias("_locals"),
    )
    return pl.concat([multi, single.select(multi.columns)]).sort("_order")


_EVIDENCE_COLUMNS: Final = ("mk_first_name_canonical", "mk_last_name", "mk_email", "mk_phone")


def _display(field: str, value: pl.Expr) -> pl.Expr:
    """The golden form of a chosen value: city abbreviations spelled out, unit designators
    written one way."""
    if field == "city":
        return consensus.city_display(value)
    if field in ("address_line1", "address_line2"):
        return consensus.unit_designators(value)
    return value


def survive(
    records: pl.DataFrame, units: Sequence[SurvivalUnit], pins: pl.DataFrame | None = None
) -> Survivors:
    """Golden values, statuses and provenance for every golden id in ``records``.

    ``records`` has :data:`RECORD_COLUMNS`; ``pins`` (optional) has :data:`PIN_COLUMNS`, at most
    one row per golden id and field, values as text (dates ``YYYY-MM-DD``). Fields in no unit
    stay empty (``SurvivorshipConfig.units()`` covers them all).
    """
    prepared = _prepare(records)
    # Outputs are ordered by golden id, then field: integer ranks make that one cheap sort.
    ids = (
        prepared.select("_g", "golden_id")
        .unique(subset="_g")
        .sort("golden_id")
        .with_row_index("_rank")
    )
    values = ids.select("_g")
    provenance_parts = []
    for unit in units:
        winners = _unit_winners(prepared, unit)
        picked = []
        for f in unit.fields:
            order = winners[f"_o_{f}"]
            rule = (
                pl.when(pl.col("_swapped_pick") & pl.lit(f in ("first_name", "last_name")))
                .then(pl.lit(SWAPPED_NAMES))
                .when((pl.col("_rule") == UNANIMOUS) & pl.col(f"_m_{f}").fill_null(False))
                .then(pl.lit(FULL_FORM))
                .otherwise(pl.col("_rule"))
            )
            part = winners.select("_g", "_rule", f"_m_{f}", pl.col(f"_o_{f}").alias("_order"))
            part = part.with_columns(
                prepared[f].gather(order).alias(f),
                prepared["_swapped"].gather(order).fill_null(False).alias("_swapped_pick"),
            )
            picked.append(part.select("_g", _display(f, pl.col(f)).alias(f)))
            provenance_parts.append(
                part.filter(pl.col("_order").is_not_null()).select(
                    "_g", "_order", pl.lit(f).alias("field"), rule.alias("rule")
                )
            )
            values = values.join(winners.select("_g", pl.col(f"_o_{f}")), on="_g", how="left")
        for part in picked:
            values = values.join(part, on="_g", how="left")
    values = _statuses(values, prepared).join(ids, on="_g").sort("_rank")
    values = values.select(
        "golden_id",
        *(
            pl.col(f) if f in values.columns else pl.lit(None, prepared.schema[f]).alias(f)
            for f in GOLDEN_FIELDS
        ),
        *STATUS_COLUMNS,
    )
    if provenance_parts:
        provenance = pl.concat(provenance_parts)
        # ``_order`` is the row of the winning record in ``prepared``: a gather, not a join.
        provenance = (
            provenance.with_columns(
                prepared["source_system"].gather(provenance["_order"]),
                prepared["source_record_id"].gather(provenance["_order"]),
            )
            .join(ids, on="_g")
            .select("golden_id", "_rank", *_PROVENANCE_COLUMNS[1:])
        )
    else:
        provenance = pl.DataFrame(
            schema={"golden_id": pl.String, "_rank": pl.UInt32}
            | dict.fromkeys(_PROVENANCE_COLUMNS[1:], pl.String)
        )
    if pins is not None and pins.height:
        values, provenance = _apply_pins(values, provenance, pins, ids)
    # One integer sort key (golden id rank, then field rank) sorts millions of provenance rows
    # about a third faster than sorting on the two keys.
    field_rank = pl.col("field").replace_strict(_FIELD_RANK, return_dtype=pl.UInt64)
    order = pl.col("_rank").cast(pl.UInt64) * len(_FIELD_RANK) + field_rank
    provenance = provenance.sort(order).select(_PROVENANCE_COLUMNS)
    return Survivors(values, provenance)


STATUS_FIELDS: Final = {
    "email_status": ("email",),
    "phone_status": ("phone",),
    "address_status": ("address_line1", "address_line2", "city", "region", "postcode", "country"),
    "date_of_birth_status": ("date_of_birth",),
}
"""Status columns of ``golden_customers`` and the fields each judges."""

STATUS_COLUMNS: Final = (*STATUS_FIELDS, "completeness")

COMPLETENESS_FIELDS: Final = _CORE_FIELDS
"""The fields a complete customer record has (the same that make a value whole);
``completeness`` is the share of them filled with a value that is not invalid."""


def _statuses(values: pl.DataFrame, prepared: pl.DataFrame) -> pl.DataFrame:
    """Per-field status columns (``valid`` / ``unverified`` / ``invalid``, null without a
    value) and ``completeness``, from the records that supplied the values.

    ``invalid``: the standardiser flagged the value (it is published only because no valid one
    exists). ``unverified``: a phone that is possible but in no assigned range; an address
    without a street line, postcode or country; a birth date another record contradicts.
    """

    def flagged(field: str) -> pl.Expr:
        order = pl.col(f"_o_{field}")
        return (
            pl.lit(prepared["invalid_fields"]).gather(order).list.contains(pl.lit(field))
        ).fill_null(False)

    def status(field: str, unverified: pl.Expr) -> pl.Expr:
        return (
            pl.when(pl.col(field).is_null())
            .then(None)
            .when(unverified)
            .then(pl.lit("unverified"))
            .when(flagged(field))
            .then(pl.lit("invalid"))
            .otherwise(pl.lit("valid"))
        )

    for field in GOLDEN_FIELDS:
        if f"_o_{field}" not in values.columns:
            values = values.with_columns(
                pl.lit(None, pl.UInt32).alias(f"_o_{field}"),
                pl.lit(None, prepared.schema[field]).alias(field),
            )
    dates = (
        prepared.filter(
            pl.col("date_of_birth").is_not_null()
            & ~pl.col("invalid_fields").list.contains(pl.lit("date_of_birth"))
        )
        .group_by("_g")
        .agg((pl.col("date_of_birth").n_unique() > 1).alias("_dob_contested"))
    )
    values = values.join(dates, on="_g", how="left")
    phone_unverified = pl.lit(prepared["_phone_unverified"]).gather(pl.col("_o_phone"))
    address = STATUS_FIELDS["address_status"]
    address_flagged = pl.any_horizontal([flagged(f) & pl.col(f).is_not_null() for f in address])
    incomplete = pl.any_horizontal(
        [pl.col(f).is_null() for f in ("address_line1", "postcode", "country")]
    )
    values = values.with_columns(
        status("email", pl.lit(False)).alias("email_status"),
        status("phone", phone_unverified.fill_null(False)).alias("phone_status"),
        status("date_of_birth", pl.col("_dob_contested").fill_null(False)).alias(
            "date_of_birth_status"
        ),
        pl.when(~pl.any_horizontal([pl.col(f).is_not_null() for f in address]))
        .then(None)
        .when(address_flagged)
        .then(pl.lit("invalid"))
        .when(incomplete)
        .then(pl.lit("unverified"))
        .otherwise(pl.lit("valid"))
        .alias("address_status"),
    )
    return values.with_columns(completeness()).drop(
        "_dob_contested", *(c for c in values.columns if c.startswith("_o_"))
    )


def completeness() -> pl.Expr:
    """``completeness`` of golden rows (their fields and status columns)."""
    usable = []
    for field in COMPLETENESS_FIELDS:
        filled = pl.col(field).is_not_null()
        if f"{field}_status" in STATUS_FIELDS:
            filled = filled & (pl.col(f"{field}_status") != "invalid")
        usable.append(filled.cast(pl.Int32))
    return (pl.sum_horizontal(usable) / len(COMPLETENESS_FIELDS)).round(3).alias("completeness")


_PROVENANCE_COLUMNS: Final = ("golden_id", "field", "source_system", "source_record_id", "rule")
_FIELD_RANK: Final = {field: rank for rank, field in enumerate(sorted(GOLDEN_FIELDS))}


def _apply_pins(
    values: pl.DataFrame, provenance: pl.DataFrame, pins: pl.DataFrame, ids: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    pins = pins.join(ids.select("golden_id", "_rank"), on="golden_id", how="inner")
    for field in pins["field"].unique().sort().to_list():
        value = pl.col("value")
        if values.schema[field] == pl.Date:
            value = value.str.to_date("%Y-%m-%d")
        pinned = pins.filter(pl.col("field") == field).select("golden_id", value.alias("_pinned"))
        status = f"{field}_status"
        values = (
            values.join(pinned, on="golden_id", how="left", maintain_order="left")
            .with_columns(
                pl.coalesce("_pinned", field).alias(field),
                # A steward confirmed the value.
                *(
                    [
                        pl.when(pl.col("_pinned").is_not_null())
                        .then(pl.lit("valid"))
                        .otherwise(pl.col(status))
                        .alias(status)
                    ]
                    if status in values.columns
                    else []
                ),
            )
            .drop("_pinned")
        )
    values = values.with_columns(completeness())
    provenance = pl.concat(
        [
            provenance.join(
                pins.select("golden_id", "field"), on=["golden_id", "field"], how="anti"
            ),
            pins.select(
                "golden_id",
                "_rank",
                "field",
                pl.lit(STEWARD_SOURCE).alias("source_system"),
                pl.col("decision_id").alias("source_record_id"),
                pl.lit(STEWARD_PIN).alias("rule"),
            ),
        ]
    )
    return values, provenance
