"""Configuration of one source system: where it lives, how to parse it, how it maps."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from pipelines.config_base import Name, StrictModel
from pipelines.schema import MAPPABLE_FIELDS

SourceKind = Literal["file", "s3", "postgres", "mysql"]
FileFormat = Literal["csv", "jsonl", "parquet"]
Delivery = Literal["snapshot", "delta"]
DeletionAction = Literal["retire", "review"]


class CsvOptions(StrictModel):
    """Parsing hints for delimited text."""

    delimiter: str = Field(",", min_length=1, max_length=1)
    """Field separator, one character (``\t`` for tab-separated files)."""
    quote_char: str | None = Field('"', max_length=1)
    """``None`` (YAML ``null``) for files that never quote fields."""
    escape_char: str | None = Field(None, min_length=1, max_length=1)
    """Character that escapes a quote or delimiter (e.g. ``\\``); ``None``: quotes are doubled."""
    encoding: str = "utf-8"
    """Any codec Python knows; ``utf-8`` also accepts a byte-order mark."""
    has_header: bool = True
    """The first line names the columns."""
    column_names: list[str] | None = None
    """Column names for a file without a header row."""
    null_values: list[str] = Field(default_factory=lambda: [""])
    """Cell values read as missing."""

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError as exc:
            raise ValueError(f"unknown text encoding {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _names_without_header(self) -> CsvOptions:
        if not self.has_header and not self.column_names:
            raise ValueError("has_header is false, so column_names must list the columns")
        return self


class S3Location(StrictModel):
    """Files in S3-compatible object storage. Keys come from the environment variables named."""

    bucket: str
    """Bucket holding the source files."""
    prefix: str = ""
    """Key prefix; every object under it with the source's format is read."""
    pattern: str | None = None
    """Optional glob on the key below the prefix, e.g. ``*.csv``."""
    endpoint_url: str | None = None
    """S3 endpoint; omit for AWS. ``GOLDEN_S3_ENDPOINT`` overrides it."""
    region: str = "us-east-1"
    """Region name sent to the S3 API."""
    access_key_env: str = "AWS_ACCESS_KEY_ID"
    """Environment variable holding the access key id."""
    secret_key_env: str = "AWS_SECRET_ACCESS_KEY"
    """Environment variable holding the secret access key."""


class DatabaseLocation(StrictModel):
    """A PostgreSQL or MySQL/MariaDB table or query. The password comes from the environment."""

    host: str = "127.0.0.1"
    """Database server host."""
    port: int | None = None
    """Server port (default: 5432 for PostgreSQL, 3306 for MySQL/MariaDB)."""
    database: str
    """Database name."""
    user: str
    """User to connect as."""
    password_env: str | None = None
    """Environment variable holding the password (none: trust/socket auth)."""
    table: str | None = None
    """Table to read (optionally ``schema.table``); or give ``query``."""
    query: str | None = None
    """SELECT to read instead of a table; the incremental filter wraps it."""
    batch_size: int = Field(50_000, ge=1)
    """Rows fetched per round trip (server-side cursor) and landed per raw part file."""
    lookback_minutes: int = Field(60, ge=0)
    """An incremental read asks for rows changed after the watermark minus this many minutes,
    so a transaction that committed late (or a replica whose clock lags) is still read; rows
    read again unchanged are recognised by their hash and not landed twice."""
    tombstone_table: str | None = None
    """Table (optionally ``schema.table``) listing ids deleted at the source; read on every
    ingest. Ids in it leave the current record set as ``deletions.action`` says."""
    tombstone_id_column: str | None = None
    """Id column of ``tombstone_table`` (default: the source's ``id_column``)."""
    reconcile_every_days: float = Field(7, gt=0)
    """How often the maintenance DAG's ``reconcile_database_sources`` has the next ingest
    compare every id of the table with the current set (rows behind the watermark, ids deleted
    at the source); ``golden ingest --reconcile`` does it on demand."""

    @model_validator(mode="after")
    def _table_or_query(self) -> DatabaseLocation:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of 'table' or 'query'")
        return self


class DeletionConfig(StrictModel):
    """What happens to a record the source no longer holds."""

    action: DeletionAction = "retire"
    """``retire``: the record leaves the current set, so it leaves its golden record (a
    golden id with no records left is retired, its alias kept). ``review``: the record stays
    until a steward confirms (``golden deletions`` lists the queue, ``golden ingest
    --confirm-deletions`` applies it). Either way the deletion is counted and shown."""
    flag_column: str | None = None
    """Soft-delete column: a delivered row whose value in it is one of ``flag_values`` is a
    deletion of that id, not a record to load."""
    flag_values: list[str] = Field(default_factory=lambda: ["1", "true", "t", "yes", "y"])
    """Values of ``flag_column`` (compared as text, ignoring case) that mean deleted."""


class SourceConfig(StrictModel):
    """One source system."""

    name: Name
    """Source system name: folder, table and record-key prefix (``crm:123``)."""
    kind: SourceKind
    """Where the records live: files on disk, files in S3, a PostgreSQL or a MySQL/MariaDB table."""
    format: FileFormat | None = None
    """File format for ``file`` and ``s3`` sources; guessed from the extension when omitted."""
    path: str | None = None
    """For ``file``: a file, a folder or a glob (relative to the config file)."""
    s3: S3Location | None = None
    """For ``s3``: bucket, prefix and credentials."""
    database: DatabaseLocation | None = None
    """For ``postgres`` and ``mysql``: connection and table or query."""
    csv: CsvOptions = Field(default_factory=CsvOptions)
    """Parsing hints for CSV files."""

    id_column: str
    """The source's own record id; becomes ``source_record_id``."""
    updated_at_column: str | None = None
    """The source's last-modified timestamp; enables incremental loads."""
    incremental: bool = True
    """Load only rows changed since the last batch (needs ``updated_at_column``). A source
    without it is read in full every run, and each batch replaces its current record set."""
    delivery: Delivery = "snapshot"
    """For ``file`` and ``s3`` sources: ``snapshot`` (each delivery is every record the source
    holds: rows are compared with the current set by id and row hash, new ids load whatever
    their timestamps, ids missing from it are deleted at the source) or ``delta`` (a delivery
    holds changed rows only; deletions come from ``deletions.flag_column``). Database sources
    read changes by watermark and find deletions with ``golden ingest --reconcile``."""
    deletions: DeletionConfig = Field(default_factory=DeletionConfig)
    """What a record deleted at the source does, and how the source marks deletions."""
    updated_at_formats: list[str] = Field(default_factory=list)
    """Formats of ``updated_at_column`` tried before ISO 8601 (Polars/chrono ``strftime``
    syntax, e.g. ``"%d/%m/%Y %H:%M"``; a format with ``%z`` reads the offset), or ``epoch_s`` /
    ``epoch_ms`` for Unix times."""
    columns: list[str] | None = None
    """Columns the source is expected to send; others are reported as new (schema drift).
    Default: the columns of the last successful batch."""
    mapping: dict[str, str | list[str]]
    """Canonical field -> source column, or a list of columns whose values are joined with a
    space, skipping empty ones (a house number and a street name, ``[street_number, street]``).
    ``name.first`` or ``contact.phones[0]`` reads inside a nested JSON Lines object or list
    (or a Parquet struct) when no column has that whole name. A mapped column missing from a
    delivery stops the source (schema drift), except a JSON Lines key that no record of the
    batch carries: that is null for the batch, and reported as the ingest's ``absent_keys``."""

    attributes: dict[str, str | list[str]] = Field(default_factory=dict)
    """Extra matching attribute -> source column (or columns joined with a space): a national
    id, customer or loyalty number, any column the model should compare. Each attribute is
    described (kind, blocking) under ``matching.attributes``."""

    date_formats: dict[str, list[str]] = Field(default_factory=dict)
    """Canonical date field -> strftime formats tried in order, e.g. ``["%d/%m/%Y"]``."""
    timezone: str = "UTC"
    """Zone of source timestamps that carry no offset."""
    default_phone_region: str = "US"
    """ISO country used to read phone numbers written without a country code."""
    default_country: str | None = None
    """ISO country assumed for addresses without a country."""
    trust_rank: int = Field(100, ge=0)
    """Lower is more trusted; survivorship's ``trust_rank`` rule prefers lower ranks."""
    suite: Name | None = None
    """Expectation suite for this source's raw shape; defaults to the source name."""

    @field_validator("mapping")
    @classmethod
    def _known_fields(cls, value: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        unknown = sorted(set(value) - set(MAPPABLE_FIELDS))
        if unknown:
            raise ValueError(
                f"unknown canonical field(s) {unknown}; mappable fields are {list(MAPPABLE_FIELDS)}"
            )
        for field, columns in value.items():
            if isinstance(columns, list) and (not columns or len(set(columns)) != len(columns)):
                raise ValueError(
                    f"{field}: a list of columns must name at least one column, each once"
                )
        return value

    @field_validator("attributes")
    @classmethod
    def _attribute_columns(cls, value: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        for name, columns in value.items():
            if isinstance(columns, list) and (not columns or len(set(columns)) != len(columns)):
                raise ValueError(
                    f"{name}: a list of columns must name at least one column, each once"
                )
        return value

    @field_validator("path")
    @classmethod
    def _resolve_path(cls, value: str | None, info: ValidationInfo) -> str | None:
        # A plain string (not ConfigPath) because it may hold glob characters.
        if value is None:
            return None
        path = Path(value).expanduser()
        base = (info.context or {}).get("base_dir")
        if not path.is_absolute() and base is not None:
            path = Path(base) / path
        return str(path)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name such as 'UTC' or 'Europe/Paris'"
            ) from exc
        return value

    @field_validator("updated_at_formats")
    @classmethod
    def _formats_look_like_formats(cls, value: list[str]) -> list[str]:
        for fmt in value:
            if fmt not in ("epoch_s", "epoch_ms") and "%" not in fmt:
                raise ValueError(
                    f"{fmt!r} is not a timestamp format: use strftime codes such as "
                    "'%Y-%m-%d %H:%M:%S', or 'epoch_s' / 'epoch_ms'"
                )
        return value

    @field_validator("default_phone_region")
    @classmethod
    def _region_code(cls, value: str) -> str:
        if len(value) != 2 or not value.isalpha():
            raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 region code like 'US'")
        return value.upper()

    @model_validator(mode="after")
    def _location_matches_kind(self) -> SourceConfig:
        needs = {"file": "path", "s3": "s3", "postgres": "database", "mysql": "database"}[self.kind]
        if getattr(self, needs) is None:
            raise ValueError(f"a source of kind '{self.kind}' needs '{needs}'")
        if self.kind in ("file", "s3") and self.format is None:
            hint = self.path if self.kind == "file" else (self.s3.pattern or self.s3.prefix)
            self.format = _guess_format(hint or "")
            if self.format is None:
                raise ValueError(
                    f"cannot tell the file format from {hint!r}: "
                    "set 'format' to csv, jsonl or parquet"
                )
        if self.incremental and self.updated_at_column is None:
            self.incremental = False
        if self.database is not None and "delivery" in self.model_fields_set:
            raise ValueError(
                "'delivery' is for file and s3 sources; a database source is read by watermark "
                "and reconciled by id (golden ingest --reconcile)"
            )
        if self.deletions.flag_column is not None and self.deletions.flag_column == self.id_column:
            raise ValueError("deletions.flag_column cannot be the id column")
        if not self.mapping and not self.attributes:
            # Every record of such a source would stage empty: nothing to validate, match on or
            # survive, and no error until stewards find customers made of blank rows.
            raise ValueError(
                "mapping maps no field and attributes names no column, so every record would "
                "stage empty: map at least one canonical field (e.g. mapping: {email: <column>})"
            )
        return self

    @property
    def snapshot(self) -> bool:
        """Each delivery holds every record the source has (so a missing id is a deletion):
        file and S3 sources unless ``delivery: delta``, and database sources read in full."""
        if self.kind in ("file", "s3"):
            return self.delivery == "snapshot"
        return not self.incremental

    @property
    def suite_name(self) -> str:
        return self.suite or self.name

    def columns_of(self, field: str) -> list[str]:
        """The source columns mapped to a canonical field, in joining order ([] if unmapped)."""
        columns = self.mapping.get(field, [])
        return [columns] if isinstance(columns, str) else list(columns)

    def attribute_columns(self, name: str) -> list[str]:
        """The source columns of an extra matching attribute, in joining order."""
        columns = self.attributes.get(name, [])
        return [columns] if isinstance(columns, str) else list(columns)

    @property
    def omits_empty_keys(self) -> bool:
        """JSON Lines: a record leaves out a key it has no value for (a shop API that omits an
        unknown birthday), so a mapped key that no record of a batch carries is read as null
        and reported (``IngestResult.absent_keys``), not failed as schema drift: a small delta
        where nobody gave a birthday is ordinary data, not a changed export."""
        return self.format == "jsonl"

    @property
    def mapped_columns(self) -> list[str]:
        """Every source column the mapping and the attributes read, each once, in order."""
        return list(
            dict.fromkeys(
                [
                    *(c for field in self.mapping for c in self.columns_of(field)),
                    *(c for name in self.attributes for c in self.attribute_columns(name)),
                ]
            )
        )


def _guess_format(hint: str) -> FileFormat | None:
    lowered = hint.lower()
    for suffixes, fmt in (
        ((".csv", ".tsv", ".txt", ".csv.gz"), "csv"),
        ((".jsonl", ".ndjson", ".json"), "jsonl"),
        ((".parquet", ".pq"), "parquet"),
    ):
        if lowered.endswith(suffixes):
            return fmt  # type: ignore[return-value]
    return None
