"""Configuration of backups to S3-compatible object storage."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from pipelines.config_base import ConfigPath, StrictModel


class RetentionConfig(StrictModel):
    daily: int = Field(7, ge=1)
    """Keep the newest complete backup of each of the last N days that have one."""
    weekly: int = Field(4, ge=0)
    """Also keep the newest complete backup of each of the last M ISO weeks that have one."""
    incomplete_grace_minutes: int = Field(60, ge=0)
    """An incomplete backup touched this recently may still be running: retention spares it."""


class RetryConfig(StrictModel):
    """Transient errors (timeouts, dropped connections, 5xx, throttling) are retried twice over:
    botocore retries each request, and a whole object (all its parts) is retried on top."""

    request_attempts: int = Field(5, ge=1)
    """Attempts per S3 request (botocore ``standard`` retry mode, with its own backoff)."""
    object_attempts: int = Field(4, ge=1)
    """Attempts per whole-object upload or download."""
    backoff_seconds: float = Field(1.0, ge=0)
    """Wait before the second whole-object attempt; doubles each time, with jitter."""
    max_backoff_seconds: float = Field(30.0, ge=0)
    """Longest wait between two attempts (exponential backoff up to this)."""
    connect_timeout_seconds: float = Field(10.0, gt=0)
    """Seconds to wait for a connection to the store."""
    read_timeout_seconds: float = Field(60.0, gt=0)
    """Seconds to wait for a response from the store."""


class BackupConfig(StrictModel):
    enabled: bool = True
    """Back up every published version; the run fails if the backup fails. Off when no
    ``bucket`` is set: runs then publish without a backup and say so."""
    bucket: str | None = Field(None, min_length=3, max_length=63)
    """The backup bucket, created when missing. There is no default: personal data goes only
    to a bucket someone named."""
    prefix: str = "golden-records"
    """Key prefix; each backup lives under ``<prefix>/<run_id>/``."""
    endpoint_url: str | None = None
    """S3 endpoint; omit for AWS. The GOLDEN_S3_ENDPOINT environment variable overrides it."""
    local_server_dir: ConfigPath | None = None
    """Data folder of the local S3 server that ``golden s3 start`` or ``golden demo`` runs
    (``.s3data`` in the project). When set (and ``GOLDEN_S3_ENDPOINT`` is not), backups go to that
    server, with its keys unless the key variables are set; a run fails with the command to start
    it when it is not running. For trying the product on one machine, never for production."""
    region: str = "us-east-1"
    """Region name sent to the S3 API (any value works for most S3-compatible stores)."""
    access_key_env: str = "AWS_ACCESS_KEY_ID"
    """Environment variable holding the S3 access key id."""
    secret_key_env: str = "AWS_SECRET_ACCESS_KEY"
    """Environment variable holding the S3 secret access key."""
    server_side_encryption: Literal["none", "AES256", "aws:kms"] = "none"
    """Server-side encryption asked of the store: none, SSE-S3 (``AES256``) or SSE-KMS."""
    kms_key_id: str | None = None
    """KMS key id or ARN for ``aws:kms``."""
    client_side_key_env: str | None = None
    """Environment variable holding a base64 AES-256 master key. Each backup then gets its own
    random data key, stored wrapped by the master key, and every object is encrypted with
    AES-256-GCM before upload (see ``pipelines/backup/crypto.py``)."""
    multipart_threshold_mb: int = Field(64, ge=5)
    """Files at least this large are uploaded in parts, in parallel."""
    multipart_chunk_mb: int = Field(16, ge=5)
    """Size of each part of a multipart upload or ranged download."""
    max_concurrency: int = Field(4, ge=1)
    """Parallel part transfers per object."""
    request_checksums: Literal["when_supported", "when_required"] = "when_supported"
    """botocore's CRC checksums on uploads; ``when_required`` for stores that reject them."""
    retry: RetryConfig = Field(default_factory=RetryConfig)
    """Retries and timeouts for transient storage errors."""
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    """Which complete backups to keep; the newest complete one is never deleted."""

    @field_validator("prefix")
    @classmethod
    def _clean_prefix(cls, value: str) -> str:
        value = value.strip("/")
        if any(part in ("", ".", "..") for part in value.split("/")) and value:
            raise ValueError(f"{value!r} is not a usable key prefix (empty or dot segments)")
        return value

    @model_validator(mode="after")
    def _bucket_when_enabled(self) -> BackupConfig:
        if self.bucket is None:
            if "enabled" in self.model_fields_set and self.enabled:
                raise ValueError("enabled is true but no bucket is set: name the backup bucket")
            self.enabled = False
        return self

    @model_validator(mode="after")
    def _kms_needs_key(self) -> BackupConfig:
        if self.server_side_encryption == "aws:kms" and not self.kms_key_id:
            raise ValueError("server_side_encryption 'aws:kms' needs kms_key_id")
        return self
