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
quarantine               one row per rejected record and failed expectation, this run
dq_results               one row per run, suite and expectation; kept across runs
match_review_queue       one row per uncertain pair awaiting a steward decision
audit_log                one row per audited event (``state/audit.jsonl``), oldest first
======================== ==================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import pyarrow as pa

from pipelines.schema import (
    CANONICAL_FIELDS,
    customer_xref_schema,
    golden_changes_schema,
    golden_customers_schema,
    golden_field_provenance_schema,
)

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
    "completeness": (
        "Share of first name, last name, email, phone, street, city, postcode, country and date "
        "of birth that hold a value that is not invalid (0 to 1)."
    ),
    "source_record_count": "How many accepted source records make up this customer.",
    "source_systems": "Source systems that contributed records, sorted.",
    "first_seen_at": "When a record of this customer was first ingested (UTC).",
    "last_updated_at": "Most recent source update of any of its records (UTC).",
    "run_id": "Run that published this row.",
    "source_system": "Source system the record came from.",
    "source_record_id": "The record's id in its source system.",
    "record_key": "source_system ':' source_record_id; unique across the warehouse.",
    "match_probability": "Strength of the record's link into its cluster (null: singleton).",
    "field": "Canonical field whose golden value this row explains.",
    "rule": "Survivorship rule (or steward pin) that chose the value.",
    "change": "created, kept, merged, split or retired.",
    "related_golden_ids": "For merges and splits: the other golden ids involved.",
    "record_count": "Source records under the golden id after the run.",
    "suite": "Expectation suite (a source's suite, or 'canonical').",
    "expectation": "Great Expectations expectation type.",
    "column": "Column the expectation checks.",
    "value": "Offending value, as text.",
    "severity": "critical (quarantines the row) or warning (counted only).",
    "reason": "Why: the rejection, for a steward (quarantine); the actor's reason (audit_log).",
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
    "at": "When the audited event happened (UTC).",
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
