"""Column contracts between stages and for downstream readers.

The staged (canonical) schema and the golden tables are the interfaces other people depend on;
``docs/architecture.md`` describes them in prose and this module is their single definition in
code. Tests check every stage's output against it.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

# --- lineage ---------------------------------------------------------------------------------
LINEAGE_COLUMNS: Final = (
    "record_key",  # source_system + ':' + source_record_id, unique across the warehouse
    "source_system",
    "source_record_id",
    "batch_id",
    "ingested_at",  # UTC timestamp the batch was landed
    "source_updated_at",  # UTC timestamp the source says the record last changed (nullable)
)

# --- canonical customer fields ---------------------------------------------------------------
# The fields a source can map its columns onto. ``address`` and ``full_name`` exist for sources
# that only have one free-text field; standardisation splits them into the parts.
MAPPABLE_FIELDS: Final = (
    "first_name",
    "middle_name",
    "last_name",
    "full_name",
    "name_prefix",
    "name_suffix",
    "email",
    "phone",
    "address",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postcode",
    "country",
    "date_of_birth",
)

# Canonical fields of a staged record (what survivorship chooses between).
CANONICAL_FIELDS: Final = (
    "name_prefix",
    "first_name",
    "middle_name",
    "last_name",
    "name_suffix",
    "full_name",
    "email",
    "phone",
    "phone_extension",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postcode",
    "country",
    "date_of_birth",
)

# Matching keys derived by standardisation, read by matching (never published).
MATCH_KEY_COLUMNS: Final = (
    "mk_first_name",  # folded (no accents, lower case, letters only)
    "mk_first_name_canonical",  # nickname resolved: bob -> robert
    "mk_middle_initial",
    "mk_last_name",
    "mk_full_name",  # first + last, folded, for names recorded in the wrong fields
    "mk_email",  # provider noise removed: plus tags, gmail dots
    "mk_email_user",  # local part of mk_email
    "mk_phone",  # E.164 digits without '+'
    "mk_address",  # line1 folded, street types and units abbreviated
    "mk_house_number",
    "mk_postcode",  # postcode without spaces, upper case; US ZIP5
    "mk_city",
    "mk_dob",  # ISO date string yyyy-mm-dd
    "mk_first_name_glyphs",  # Han given name: one key per look-alike character (list)
    "mk_last_name_glyphs",  # Han family name: the same
)

STAGED_COLUMNS: Final = (
    *LINEAGE_COLUMNS,
    "trust_rank",
    *CANONICAL_FIELDS,
    *(f"raw_{f}" for f in MAPPABLE_FIELDS),
    "invalid_fields",  # list of canonical fields whose raw value was present but unusable
    *MATCH_KEY_COLUMNS,
)


def staged_schema() -> pa.Schema:
    """Arrow schema of ``staged/customers.parquet``."""
    ts = pa.timestamp("us", tz="UTC")
    types: dict[str, pa.DataType] = {
        "ingested_at": ts,
        "source_updated_at": ts,
        "trust_rank": pa.int32(),
        "date_of_birth": pa.date32(),
        "invalid_fields": pa.list_(pa.string()),
        "mk_first_name_glyphs": pa.list_(pa.string()),
        "mk_last_name_glyphs": pa.list_(pa.string()),
    }
    return pa.schema([(c, types.get(c, pa.string())) for c in STAGED_COLUMNS])


# --- golden tables (downstream contract) -------------------------------------------------------
GOLDEN_FIELDS: Final = CANONICAL_FIELDS

GOLDEN_STATUS_COLUMNS: Final = (
    "email_status",
    "phone_status",
    "address_status",
    "date_of_birth_status",
)
"""``valid`` / ``unverified`` / ``invalid`` (null: no value) of a golden field or group."""


def golden_customers_schema() -> pa.Schema:
    """One row per customer.

    Three honest times: ``first_seen_at`` when the pipeline first ingested a record of the
    customer, ``source_updated_at`` the latest time a source says one of its records changed
    (null when no source says), ``golden_changed_at`` when the golden values it has now were
    first published (the run that opened its current version in ``golden_customers_history``).
    """
    ts = pa.timestamp("us", tz="UTC")
    fields = [("golden_id", pa.string())]
    fields += [(f, pa.date32() if f == "date_of_birth" else pa.string()) for f in GOLDEN_FIELDS]
    fields += [(c, pa.string()) for c in GOLDEN_STATUS_COLUMNS]
    fields += [
        ("completeness", pa.float64()),
        ("source_record_count", pa.int64()),
        ("source_systems", pa.list_(pa.string())),
        ("first_seen_at", ts),
        ("source_updated_at", ts),
        ("golden_changed_at", ts),
        ("run_id", pa.string()),
    ]
    return pa.schema(fields)


def customer_xref_schema() -> pa.Schema:
    """One row per accepted source record."""
    return pa.schema(
        [
            ("source_system", pa.string()),
            ("source_record_id", pa.string()),
            ("record_key", pa.string()),
            ("golden_id", pa.string()),
            ("match_probability", pa.float64()),
            ("run_id", pa.string()),
        ]
    )


def golden_field_provenance_schema() -> pa.Schema:
    """One row per golden record and field that has a value."""
    return pa.schema(
        [
            ("golden_id", pa.string()),
            ("field", pa.string()),
            ("source_system", pa.string()),
            ("source_record_id", pa.string()),
            ("rule", pa.string()),
            ("run_id", pa.string()),
        ]
    )


def golden_changes_schema() -> pa.Schema:
    """One row per golden id event in a run: created, kept, merged, split, absorbed, retired.

    ``merged`` rows list the absorbed ids in ``related_golden_ids``; each absorbed id also has an
    ``absorbed`` row naming its survivor, so a reader holding an old id can follow it.
    """
    return pa.schema(
        [
            ("run_id", pa.string()),
            ("golden_id", pa.string()),
            ("change", pa.string()),
            ("related_golden_ids", pa.list_(pa.string())),
            ("record_count", pa.int64()),
        ]
    )


def id_registry_schema() -> pa.Schema:
    """``state/id_registry.parquet``: one row per accepted record of the last publish.

    ``run_id`` is the run that produced the registry; ``first_run_id`` the run that created the
    golden id; ``absorbed_ids`` every id the golden id absorbed over time (pins and downstream
    references to those follow it); ``first_seen_at`` when the record was first ingested.
    """
    return pa.schema(
        [
            ("record_key", pa.string()),
            ("golden_id", pa.string()),
            ("run_id", pa.string()),
            ("first_run_id", pa.string()),
            ("absorbed_ids", pa.list_(pa.string())),
            ("first_seen_at", pa.timestamp("us", tz="UTC")),
        ]
    )
