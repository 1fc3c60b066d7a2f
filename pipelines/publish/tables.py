"""The published tables: their names, grain, typed schema and column documentation.

This is the contract downstream readers code against. Every published Parquet file and every
table of ``golden.duckdb`` has exactly the schema given here, in this column order; the
documentation travels with the data (as Arrow field metadata in the Parquet files and as
``COMMENT ON`` in DuckDB) so a reader who only has the file still knows what a column means.

The golden tables' columns come from :mod:`pipelines.schema` (the single definition shared with
the golden stage); the tables fed by validation and matching are defined here, because publish
is where they become a downstream contract.

======================== ==================================================================
table                    grain
======================== ==================================================================
golden_customers         one row per customer (golden id)
customer_xref            one row per accepted source record
golden_field_provenance  one row per golden record and field that has a value
golden_changes           one row per golden id event of the run
golden_customers_history one row per golden id and version of its values, every run
golden_events            one row per run, golden id and event, every run
golden_id_aliases        one row per golden id ever published -> the id carrying it now
customer_profile         one row per customer: segment-ready attributes
dq_scorecard             one row per run, source and field: quality measures and score
quarantine               one row per rejected record and failed expectation, this run
dq_results               one row per run, suite and expectation; kept across runs
match_review_queue       one row per uncertain pair awaiting a steward decision
match_training_pairs     one row per pair suggested for a steward to label, ranked
review_due               one row per record or golden record, reason and field due for review
audit_log                one row per audited event (``state/audit.jsonl``), oldest first
======================== ==================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import pyarrow as pa

from pipelines.history.schema import (
    golden_customers_history_schema,
    golden_events_schema,
    golden_id_aliases_schema,
)
from pipelines.profile.schema import customer_profile_schema
from pipelines.review_due.schema import review_due_schema
from pipelines.schema import (
    CANONICAL_FIELDS,
    customer_xref_schema,
    golden_changes_schema,
    golden_customers_schema,
    golden_field_provenance_schema,
)
from pipelines.scorecard.schema import dq_scorecard_schema

_FIELD_DOCS: Final[dict[str, str]] = {
    "name_prefix": "Title or salutation (Mr, Dr), standardised.",
    "first_name": "Given name, standardised casing.",
    "middle_name": "Middle name(s).",
    "last_name": "Family name, standardised casing.",
    "name_suffix": "Generational or professional suffix (Jr, III, PhD).",
    "full_name": "Whole name as one string.",
    "email": "E-mail address, lower-cased domain, syntax-checked.",
    "phone": "Phone number in E.164 (+<country><number>).",
    "phone_extension": "Phone extension digits, when the source gave one.",
    "address_line1": "Street line (house number and street).",
    "address_line2": "Second address line (flat, unit, building).",
    "city": "City or locality.",
    "region": "State, province or county.",
    "postcode": "Postal code in the country's canonical format.",
    "country": "Country, ISO 3166-1 alpha-2.",
    "date_of_birth": "Date of birth.",
}

COLUMN_DOCS: Final[dict[str, str]] = {
    **_FIELD_DOCS,
    "golden_id": "Stable id of the customer; keeps meaning the same customer across runs.",
    "email_status": (
        "valid, or invalid (the only address the sources hold fails the syntax check); "
        "null without an email."
    ),
    "phone_status": (
        "valid; unverified (a possible number in no assigned range, kept as the sources agree "
        "on it); null without a phone."
    ),
    "address_status": (
        "valid; unverified (no street line, postcode or country); invalid (a part failed its "
        "check); null without an address."
    ),
    "date_of_birth_status": (
        "valid; unverified (another record of the customer gives another date); null without "
        "a date."
    ),
    "source_record_count": "How many accepted source records make up this customer.",
    "source_systems": "Source systems that contributed records, sorted.",
    "first_seen_at": "When a record of this customer was first ingested (UTC).",
    "source_updated_at": (
        "Latest time a source says one of its records changed (UTC); null when no source says."
    ),
    "golden_changed_at": (
        "When the golden values it has now were first published (UTC): the start of the run "
        "that opened its current version in golden_customers_history."
    ),
    "version": "Version of the golden id's values: 1 for the first, one more for each change.",
    "valid_from_run": "Run that published this version.",
    "valid_to_run": "Run that ended this version (null: in force now).",
    "valid_from": "Start of the run that published this version (UTC).",
    "valid_to": "Start of the run that ended it (UTC); null while in force.",
    "opened_by": "What opened the version: created, split, merged or changed.",
    "closed_by": "What ended it: changed, absorbed or retired (null while in force).",
    "event": "created, changed, merged, split, absorbed, retired or erased.",
    "changed_fields": "For changed and merged ids: the golden fields whose value changed.",
    "current_golden_id": (
        "Golden id that carries this customer now (itself when active, the end of the merge "
        "chain when merged); null when retired or erased."
    ),
    "status": "active, merged, retired or erased.",
    "reason": (
        "Why: the rejection, for a steward (quarantine); the actor's reason (audit_log); "
        "stale, invalid_contact, conflicting_sources, placeholder_value or absorbed_id_sent "
        "(review_due)."
    ),
    "detail": ("What makes it due, in counts, field names and golden ids (never record values)."),
    "priority": (
        "1 most urgent (conflicting sources), 2 (invalid contact, placeholder, absorbed id "
        "sent), 3 (stale)."
    ),
    "since": (
        "When the row became due: the age limit passing (stale), the run of the merge "
        "(absorbed_id_sent), else the refresh that found it."
    ),
    "last_confirmed_at": "Latest steward confirmation of the record or golden record, if any.",
    "refreshed_at": "When review_due was computed (the maintenance DAG's refresh_review_due).",
    "first_run": "Run that first published the id.",
    "since_run": "Run from which the status holds.",
    "tenure_days": "Days from first_seen_at to the start of the run.",
    "source_count": "How many source systems hold records of the customer.",
    "has_email": "Whether the golden record has a (standardised, valid) email.",
    "has_phone": "Whether the golden record has a (standardised, valid) phone number.",
    "has_postal_address": "Whether it has a street line, a postcode or city, and a country.",
    "contactable": "Whether it has an email, a phone or a postal address.",
    "age_band": (
        "Age at the run's start, banded (under 18, 18-24, ..., 65+); masked for every role "
        "not granted date_of_birth."
    ),
    "completeness": (
        "Share filled, 0-1: golden_customers, of first/last name, email, phone, street, city, "
        "postcode, country and date of birth holding a value that is not invalid; "
        "customer_profile, of the same fields filled; dq_scorecard, of the source's records "
        "with a value in the field."
    ),
    "last_activity_at": "Latest time any source says one of its records changed (null: none).",
    "records": "Accepted records of the source in the run.",
    "filled": "Records with a value in the field (field '*': summed over fields).",
    "invalid": "Records whose value failed standardisation (field '*': summed).",
    "validity": "filled / (filled + invalid).",
    "uniqueness": "1 - share of the values on records the match put with another record of "
    "the same source (duplicates inside the source).",
    "agreement": "Share of the values equal to the golden record's value.",
    "freshness": "Share of the values whose record changed (else landed) within "
    "scorecard.freshness_days of the run's start.",
    "score": "100 * (0.25 completeness + 0.25 validity + 0.20 uniqueness + 0.20 agreement + "
    "0.10 freshness); field '*': the mean of the source's field scores.",
    "run_id": "Run that published this row.",
    "source_system": "Source system the record came from.",
    "source_record_id": "The record's id in its source system.",
    "record_key": "source_system ':' source_record_id; unique across the warehouse.",
    "match_probability": "Strength of the record's link into its cluster (null: singleton).",
    "field": (
        "Canonical field the row is about (provenance: the golden value it explains; "
        "review_due: the field that is due, null for the whole record; the source's golden-id "
        "column for absorbed_id_sent)."
    ),
    "rule": "Survivorship rule (or steward pin) that chose the value.",
    "change": "created, kept, merged, split, absorbed or retired.",
    "related_golden_ids": (
        "For merges and splits: the other golden ids involved (absorbed: the survivor)."
    ),
    "record_count": "Source records under the golden id after the run.",
    "suite": "Expectation suite (a source's suite, or 'canonical').",
    "expectation": "Great Expectations expectation type.",
    "column": "Column the expectation checks.",
    "value": "Offending value, as text.",
    "severity": "critical (quarantines the row) or warning (counted only).",
    "source": "Source system of a source suite; null for the canonical suite.",
    "rows_in": "Rows the suite validated.",
    "accepted": "Rows that passed every critical expectation.",
    "quarantined": "Rows quarantined by the suite.",
    "warned": "Rows that failed a warning-level expectation only.",
    "suite_success": "Whether the whole suite passed.",
    "success": "Whether this expectation passed.",
    "unexpected_count": "Rows that failed this expectation.",
    "unexpected_percent": "Share of rows that failed this expectation, in percent.",
    "sample_values": "A few offending values, as text.",
    "record_key_l": "Left record of the pair.",
    "record_key_r": "Right record of the pair.",
    "match_weight": "Splink match weight (log2 Bayes factor) of the pair.",
    "weights": "JSON object: comparison -> match weight, to explain the score.",
    "rank": "Order in which labelling the pair teaches the model most (1 first).",
    "suggested_because": "Why the pair is offered: review band, linked near the threshold, "
    "or just below the review band.",
    "pattern": "Comparison vector: the level of each comparison the pair falls in.",
    "at": "When the event happened (UTC); for a run's events, the start of the run.",
    "actor": "Who acted: the --actor given, GOLDEN_ACTOR, or the OS user.",
    "action": "What was done (run.start, publish, erasure, export, decision.pin, ...).",
    "target": "What it was done to: a run id, decision id, or a subject's salted hash.",
    "details": "JSON object with the event's particulars (never cleartext personal data).",
}
for _name, _doc in _FIELD_DOCS.items():
    COLUMN_DOCS[f"{_name}_l"] = f"Left record: {_doc[0].lower()}{_doc[1:]}"
    COLUMN_DOCS[f"{_name}_r"] = f"Right record: {_doc[0].lower()}{_doc[1:]}"


def quarantine_schema() -> pa.Schema:
    """One row per rejected record and failed expectation (``quarantine/<suite>.parquet``)."""
    return pa.schema(
        [
            ("run_id", pa.string()),
            ("suite", pa.string()),
            ("record_key", pa.string()),
            ("source_system", pa.string()),
            ("source_record_id", pa.string()),
            ("expectation", pa.string()),
            ("column", pa.string()),
            ("value", pa.string()),
            ("severity", pa.string()),
            ("reason", pa.string()),
        ]
    )


def dq_results_schema() -> pa.Schema:
    """One row per run, suite and expectation, with the suite's row counts repeated."""
    return pa.schema(
        [
            ("run_id", pa.string()),
            ("suite", pa.string()),
            ("source", pa.string()),
            ("rows_in", pa.int64()),
            ("accepted", pa.int64()),
            ("quarantined", pa.int64()),
            ("warned", pa.int64()),
            ("suite_success", pa.bool_()),
            ("expectation", pa.string()),
            ("column", pa.string()),
            ("severity", pa.string()),
            ("success", pa.bool_()),
            ("unexpected_count", pa.int64()),
            ("unexpected_percent", pa.float64()),
            ("sample_values", pa.list_(pa.string())),
        ]
    )


def match_review_queue_schema() -> pa.Schema:
    """One row per pair in the uncertain band, both records side by side."""
    fields: list[tuple[str, pa.DataType]] = [
        ("record_key_l", pa.string()),
        ("record_key_r", pa.string()),
        ("match_probability", pa.float64()),
        ("match_weight", pa.float64()),
        ("weights", pa.string()),
    ]
    for name in CANONICAL_FIELDS:
        kind = pa.date32() if name == "date_of_birth" else pa.string()
        fields += [(f"{name}_l", kind), (f"{name}_r", kind)]
    fields.append(("run_id", pa.string()))
    return pa.schema(fields)


def match_training_pairs_schema() -> pa.Schema:
    """One row per pair suggested for labelling (``matching.active``), both records side by
    side as in the review queue."""
    queue = match_review_queue_schema()
    head = [("rank", pa.int64())]
    head += [(f.name, f.type) for f in queue if f.name in ("record_key_l", "record_key_r")]
    head += [(n, queue.field(n).type) for n in ("match_probability", "match_weight", "weights")]
    head += [("suggested_because", pa.string()), ("pattern", pa.string())]
    rest = [(f.name, f.type) for f in queue if f.name.endswith(("_l", "_r"))]
    rest = [(n, t) for n, t in rest if n not in ("record_key_l", "record_key_r")]
    return pa.schema([*head, *rest, ("run_id", pa.string())])


def audit_log_schema() -> pa.Schema:
    """One row per audited event (``pipelines.audit``)."""
    return pa.schema(
        [
            ("at", pa.timestamp("us", tz="UTC")),
            ("actor", pa.string()),
            ("action", pa.string()),
            ("target", pa.string()),
            ("details", pa.string()),
            ("reason", pa.string()),
        ]
    )


@dataclass(frozen=True)
class TableSpec:
    """One published table."""

    name: str
    grain: str
    schema: pa.Schema
    required: frozenset[str] = field(default_factory=frozenset)
    """Columns an input file must have; the others are filled with nulls when absent."""
    golden: bool = False
    """Produced by the golden stage: publishing without it is an error, never an empty table."""
    unique_key: tuple[str, ...] = ()
    """Columns whose values identify a row; duplicates are an input error."""

    def documented_schema(self) -> pa.Schema:
        """The schema with each column's documentation as field metadata."""
        fields = [
            f.with_metadata({b"description": COLUMN_DOCS.get(f.name, "").encode()})
            for f in self.schema
        ]
        return pa.schema(fields, metadata={b"grain": self.grain.encode(), b"table": self.name})


def _all_required(schema: pa.Schema) -> frozenset[str]:
    return frozenset(schema.names)


TABLES: Final[dict[str, TableSpec]] = {
    spec.name: spec
    for spec in (
        TableSpec(
            "golden_customers",
            "one row per customer (golden id)",
            golden_customers_schema(),
            _all_required(golden_customers_schema()),
            golden=True,
            unique_key=("golden_id",),
        ),
        TableSpec(
            "customer_xref",
            "one row per accepted source record",
            customer_xref_schema(),
            _all_required(customer_xref_schema()),
            golden=True,
            unique_key=("record_key",),
        ),
        TableSpec(
            "golden_field_provenance",
            "one row per golden record and field that has a value",
            golden_field_provenance_schema(),
            _all_required(golden_field_provenance_schema()),
            golden=True,
            unique_key=("golden_id", "field"),
        ),
        TableSpec(
            "golden_changes",
            "one row per golden id event of the run",
            golden_changes_schema(),
            _all_required(golden_changes_schema()),
            golden=True,
        ),
        TableSpec(
            "golden_customers_history",
            "one row per golden id and version of its values; every run, never truncated",
            golden_customers_history_schema(),
            _all_required(golden_customers_history_schema()),
            golden=True,
            unique_key=("golden_id", "version"),
        ),
        TableSpec(
            "golden_events",
            "one row per run, golden id and event; every run, never truncated",
            golden_events_schema(),
            _all_required(golden_events_schema()),
            golden=True,
            unique_key=("run_id", "golden_id", "event"),
        ),
        TableSpec(
            "golden_id_aliases",
            "one row per golden id ever published",
            golden_id_aliases_schema(),
            _all_required(golden_id_aliases_schema()),
            golden=True,
            unique_key=("golden_id",),
        ),
        TableSpec(
            "customer_profile",
            "one row per customer (golden id): segment-ready attributes",
            customer_profile_schema(),
            _all_required(customer_profile_schema()),
            golden=True,
            unique_key=("golden_id",),
        ),
        TableSpec(
            "dq_scorecard",
            "one row per run, source and field (and '*' per run and source); kept across runs",
            dq_scorecard_schema(),
            _all_required(dq_scorecard_schema()),
            golden=True,
            unique_key=("run_id", "source_system", "field"),
        ),
        TableSpec(
            "quarantine",
            "one row per rejected record and failed expectation, this run",
            quarantine_schema(),
            frozenset({"suite", "record_key", "expectation", "reason"}),
        ),
        TableSpec(
            "dq_results",
            "one row per run, suite and expectation; kept across runs",
            dq_results_schema(),
            frozenset({"run_id", "suite", "rows_in", "accepted", "quarantined"}),
        ),
        TableSpec(
            "match_review_queue",
            "one row per uncertain pair awaiting a steward decision",
            match_review_queue_schema(),
            frozenset({"record_key_l", "record_key_r", "match_probability"}),
            unique_key=("record_key_l", "record_key_r"),
        ),
        TableSpec(
            "match_training_pairs",
            "one row per pair suggested for a steward to label, ranked",
            match_training_pairs_schema(),
            frozenset({"rank", "record_key_l", "record_key_r"}),
        ),
        TableSpec(
            "review_due",
            "one row per record or golden record, reason and field due for periodic review, "
            "as of the last refresh",
            review_due_schema(),
            frozenset({"golden_id", "reason"}),
        ),
        TableSpec(
            "audit_log",
            "one row per audited event, oldest first",
            audit_log_schema(),
            frozenset({"at", "actor", "action", "target"}),
        ),
    )
}
"""Every published table, in publishing order."""

GOLDEN_INPUTS: Final = tuple(name for name, spec in TABLES.items() if spec.golden)


def table_spec(name: str) -> TableSpec:
    """The spec of a published table; a clear error for an unknown name."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(
            f"no published table named {name!r}; tables are: {', '.join(TABLES)}"
        ) from None


def table_schema(name: str) -> pa.Schema:
    """The typed, documented Arrow schema of a published table."""
    return table_spec(name).documented_schema()
