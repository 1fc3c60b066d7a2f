"""Configuration of roles, masking, erasure and personal-data retention."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from pipelines.config_base import Name, StrictModel

Mask = Literal["none", "initial", "email_domain", "last_digits", "year_only", "redact", "drop"]
"""How a role sees a column: ``none`` as published; ``initial`` the first letter and a dot;
``email_domain`` the local part masked (``***@example.com``); ``last_digits`` every digit but
the last two masked; ``year_only`` a date or time generalised to its year; ``redact`` the text
``[redacted]`` where there is a value; ``drop`` (or leaving the column out) removes it."""

_RESERVED_ROLES = frozenset({"main", "temp", "system", "information_schema", "pg_catalog"})


class RoleConfig(StrictModel):
    """What one kind of reader is given: a copy of the published tables, masked for it."""

    tables: list[str] | None = None
    """Published tables the role receives (``None``: every table)."""
    columns: dict[str, Mask] | None = None
    """Column -> mask, applied in every table of the role (a review-queue column ``email_l``
    follows ``email``); unlisted columns are dropped. ``None``: all columns, unmasked."""


def _default_roles() -> dict[str, RoleConfig]:
    return {
        "steward": RoleConfig(columns=None),
        "analyst": RoleConfig(
            tables=[
                "golden_customers",
                "golden_changes",
                # The history tables are as large as golden_customers and grow every run: a
                # masked copy each publish costs as much again. Stewards have them; add
                # golden_customers_history / golden_events here to give analysts them too,
                # and list their own columns below as well (event, at, changed_fields,
                # version, valid_from_run, valid_to_run ...): unlisted columns are dropped.
                "golden_id_aliases",
                "customer_profile",
                "dq_scorecard",
            ],
            columns={
                "golden_id": "none",
                "first_name": "initial",
                "last_name": "initial",
                "email": "email_domain",
                "phone": "last_digits",
                "address_line1": "redact",
                "city": "none",
                "region": "none",
                "postcode": "none",
                "country": "none",
                "date_of_birth": "year_only",
                "email_status": "none",
                "phone_status": "none",
                "address_status": "none",
                "date_of_birth_status": "none",
                "source_record_count": "none",
                "source_systems": "none",
                "first_seen_at": "none",
                "source_updated_at": "none",
                "golden_changed_at": "none",
                "run_id": "none",
                "change": "none",
                "related_golden_ids": "none",
                "record_count": "none",
                "current_golden_id": "none",
                "status": "none",
                "first_run": "none",
                "since_run": "none",
                "tenure_days": "none",
                "source_count": "none",
                "has_email": "none",
                "has_phone": "none",
                "has_postal_address": "none",
                "contactable": "none",
                "age_band": "none",
                "completeness": "none",
                "last_activity_at": "none",
                "source_system": "none",
                "field": "none",
                "records": "none",
                "filled": "none",
                "invalid": "none",
                "validity": "none",
                "uniqueness": "none",
                "agreement": "none",
                "freshness": "none",
                "score": "none",
            },
        ),
        "service": RoleConfig(
            tables=["golden_customers"],
            columns={
                "golden_id": "none",
                "first_name": "none",
                "last_name": "none",
                "email": "none",
                "phone": "none",
                "country": "none",
                "email_status": "none",
                "phone_status": "none",
                "source_updated_at": "none",
            },
        ),
    }


class PrivacyConfig(StrictModel):
    roles: dict[Name, RoleConfig] = Field(default_factory=_default_roles)
    """Reader roles. Each gets ``published/roles/<role>/`` (a DuckDB file and Parquet files
    holding only its masked tables) and a schema of masked views in ``golden.duckdb``."""
    suppression_salt_env: str = "GOLDEN_SUPPRESSION_SALT"
    """Environment variable with the salt for hashed suppression entries (erasure refuses to
    run without it; keep it stable, like a key: a new salt cannot recognise old entries)."""
    record_retention_days: int | None = Field(None, ge=1)
    """Source records not seen for this many days are retired and erased (None: keep)."""
    erased_backup_grace_days: int = Field(30, ge=0)
    """Backups taken before an erasure that may hold the subject stay restorable for this many
    days after it (disaster recovery), then their data keys are destroyed (encrypted backups)
    or they are deleted (unencrypted ones). 0: at once. ``golden forget --purge-backups``
    skips the wait for one erasure."""

    @field_validator("roles")
    @classmethod
    def _role_names(cls, value: dict[str, RoleConfig]) -> dict[str, RoleConfig]:
        reserved = sorted(set(value) & _RESERVED_ROLES)
        if reserved:
            raise ValueError(
                f"role name(s) {reserved} are reserved by DuckDB (a role becomes a schema)"
            )
        return value

    @model_validator(mode="after")
    def _roles_name_published_columns(self) -> PrivacyConfig:
        # Imported here: the table contract lives with publish, and importing it at module level
        # would tie loading any config to it before the publish package is initialised.
        from pipelines.privacy.masking import check_role

        for name, role in self.roles.items():
            check_role(name, role)
        return self
