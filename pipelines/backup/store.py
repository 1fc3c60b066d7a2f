"""The object store behind backups: one bucket and prefix, reached with boto3, with retries.

Any S3-compatible store works (AWS S3, SeaweedFS, MinIO, Ceph): the endpoint comes from
``GOLDEN_S3_ENDPOINT`` or the config, keys from the environment variables the config names (or
boto3's usual chain, e.g. an instance role, when neither is set). Transient errors are retried at
two levels: botocore retries each request, and :meth:`ObjectStore.retry` retries a whole object
transfer (all its parts) with exponential backoff, because a multipart upload that lost its
connection half-way is cheaper to redo than to diagnose.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import boto3
import botocore.exceptions as bx
from boto3.exceptions import RetriesExceededError, S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from pipelines.backup.config import BackupConfig
from pipelines.errors import BackupError, ConfigError

logger = logging.getLogger(__name__)

ENDPOINT_ENV = "GOLDEN_S3_ENDPOINT"
MB = 1024 * 1024
T = TypeVar("T")

_TRANSIENT_CODES = {
    "InternalError",
    "ServiceUnavailable",
    "SlowDown",
    "RequestTimeout",
    "RequestTimeoutException",
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "PriorRequestNotComplete",
}


class TransferMismatch(Exception):
    """An object's stored size differs from what was sent: retried like a network error."""


def is_transient(exc: BaseException) -> bool:
    """Whether retrying the same operation later may succeed."""
    if isinstance(
        exc,
        bx.HTTPClientError
        | bx.ConnectionError
        | bx.IncompleteReadError
        | RetriesExceededError
        | TransferMismatch
        | ConnectionError
        | TimeoutError,
    ):
        return True
    if isinstance(exc, S3UploadFailedError):  # boto3 wraps the ClientError it caught
        cause = exc.__cause__ or exc.__context__
        return cause is not None and is_transient(cause)
    if isinstance(exc, bx.ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return error.get("Code") in _TRANSIENT_CODES or int(status) >= 500
    return False


def error_code(exc: BaseException) -> str | None:
    if isinstance(exc, bx.ClientError):
        return exc.response.get("Error", {}).get("Code")
    return None


def _local_server(data_dir: Path):  # -> S3Endpoint
    """The running local server of ``backup.local_server_dir``, or a ConfigError that says how
    to start it (a newcomer's ``golden run`` after ``make demo`` lands here)."""
    from pipelines.s3server import running_server

    endpoint = running_server(data_dir)
    if endpoint is None:
        raise ConfigError(
            f"backup.local_server_dir: no local S3 server is running on {data_dir}; start it "
            f"with `golden s3 start --data-dir {data_dir}` (or run `make demo`), or remove the "
            "key to back up to backup.endpoint_url / AWS"
        )
    return endpoint


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    last_modified: datetime


class ObjectStore:
    """The backup bucket and prefix of one configuration."""

    def __init__(self, config: BackupConfig) -> None:
        if config.bucket is None:
            raise ConfigError(
                "no backup bucket is configured: set backup.bucket (and backup.endpoint_url "
                "for a store other than AWS) in the config"
            )
        self.config = config
        self.bucket: str = config.bucket
        self.prefix = config.prefix
        self.endpoint_url = os.environ.get(ENDPOINT_ENV) or config.endpoint_url
        access = os.environ.get(config.access_key_env)
        secret = os.environ.get(config.secret_key_env)
        if config.local_server_dir is not None and not os.environ.get(ENDPOINT_ENV):
            local = _local_server(config.local_server_dir)
            self.endpoint_url = local.endpoint_url
            if not (access or secret):
                access, secret = local.access_key, local.secret_key
        if bool(access) != bool(secret):
            have, lack = (
                (config.access_key_env, config.secret_key_env)
                if access
                else (config.secret_key_env, config.access_key_env)
            )
            raise ConfigError(
                f"backup credentials: environment variable {have} is set but {lack} is not "
                "(backup.access_key_env / backup.secret_key_env name them)"
            )
        retry = config.retry
        self.client = boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=access or None,
            aws_secret_access_key=secret or None,
            region_name=config.region,
            config=Config(
                retries={"mode": "standard", "max_attempts": retry.request_attempts},
                connect_timeout=retry.connect_timeout_seconds,
                read_timeout=retry.read_timeout_seconds,
                s3={"addressing_style": "path"} if self.endpoint_url else {},
                request_checksum_calculation=config.request_checksums,
                response_checksum_validation=config.request_checksums,
            ),
        )
        self.transfer = TransferConfig(
            multipart_threshold=config.multipart_threshold_mb * MB,
            multipart_chunksize=config.multipart_chunk_mb * MB,
            max_concurrency=config.max_concurrency,
            use_threads=config.max_concurrency > 1,
        )

    # --- naming ------------------------------------------------------------------------------
    @property
    def base_prefix(self) -> str:
        """``<prefix>/``, under which every backup has its own folder."""
        return f"{self.prefix}/" if self.prefix else ""

    def run_prefix(self, run_id: str) -> str:
        return f"{self.base_prefix}{run_id}/"

    def key(self, run_id: str, name: str) -> str:
        return self.run_prefix(run_id) + name

    def uri(self, run_id: str) -> str:
        return f"s3://{self.bucket}/{self.run_prefix(run_id)}"

    def sse_args(self) -> dict[str, str]:
        if self.config.server_side_encryption == "none":
            return {}
        args = {"ServerSideEncryption": self.config.server_side_encryption}
        if self.config.server_side_encryption == "aws:kms" and self.config.kms_key_id:
            args["SSEKMSKeyId"] = self.config.kms_key_id
        return args

    # --- retries ----------------------------------------------------------------------------
    def retry(self, what: str, operation: Callable[[], T]) -> T:
        """Run ``operation``; on a transient error wait (exponential, jittered) and run it again."""
        settings = self.config.retry
        for attempt in range(1, settings.object_attempts + 1):
            try:
                return operation()
            except Exception as exc:
                if not is_transient(exc) or attempt == settings.object_attempts:
                    raise
                wait = min(
                    settings.max_backoff_seconds, settings.backoff_seconds * 2 ** (attempt - 1)
                )
                wait *= 0.5 + random.random() / 2
                logger.warning(
                    "%s failed (attempt %d of %d: %s); retrying in %.1fs",
                    what,
                    attempt,
                    settings.object_attempts,
                    exc,
                    wait,
                )
                time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def failure(self, what: str, exc: BaseException) -> BackupError:
        """A BackupError that says where and why, for any S3 failure."""
        where = f"s3://{self.bucket} at {self.endpoint_url or 'AWS'}"
        return BackupError(f"{what} failed on {where}: {type(exc).__name__}: {exc}")

    # --- operations -------------------------------------------------------------------------
    def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist yet."""

        def run() -> None:
            try:
                self.client.head_bucket(Bucket=self.bucket)
                return
            except bx.ClientError as exc:
                if error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
                    raise
            args: dict[str, Any] = {"Bucket": self.bucket}
            if self.config.region != "us-east-1" and not self.endpoint_url:
                args["CreateBucketConfiguration"] = {"LocationConstraint": self.config.region}
            try:
                self.client.create_bucket(**args)
                logger.info("created bucket %s", self.bucket)
            except bx.ClientError as exc:
                if error_code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise

        self.retry(f"checking bucket {self.bucket}", run)

    def upload_file(self, path: Path, key: str, metadata: dict[str, str] | None = None) -> None:
        """Upload a file (multipart above the threshold) and check the stored size."""
        size = path.stat().st_size
        extra: dict[str, Any] = {**self.sse_args(), "Metadata": metadata or {}}

        def run() -> None:
            self.client.upload_file(
                str(path), self.bucket, key, ExtraArgs=extra, Config=self.transfer
            )
            stored = self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
            if stored != size:
                raise TransferMismatch(f"s3 holds {stored} bytes of {key}, {size} were sent")

        self.retry(f"uploading {key}", run)

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/json") -> None:
        self.retry(
            f"writing {key}",
            lambda: self.client.put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType=content_type, **self.sse_args()
            ),
        )

    def get_bytes(self, key: str) -> bytes | None:
        """An object's content, or None when it does not exist."""

        def run() -> bytes | None:
            try:
                return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            except bx.ClientError as exc:
                if error_code(exc) in ("NoSuchKey", "404", "NotFound"):
                    return None
                raise

        return self.retry(f"reading {key}", run)

    def head(self, key: str) -> dict[str, Any] | None:
        def run() -> dict[str, Any] | None:
            try:
                return self.client.head_object(Bucket=self.bucket, Key=key)
            except bx.ClientError as exc:
                if error_code(exc) in ("NoSuchKey", "404", "NotFound"):
                    return None
                raise

        return self.retry(f"checking {key}", run)

    def download_file(self, key: str, path: Path) -> None:
        self.retry(
            f"downloading {key}",
            lambda: self.client.download_file(self.bucket, key, str(path), Config=self.transfer),
        )

    def list_objects(self, prefix: str | None = None) -> Iterator[StoredObject]:
        """Every object under ``prefix`` (default: the backups' prefix)."""
        prefix = self.base_prefix if prefix is None else prefix

        def page_all() -> list[StoredObject]:
            found = []
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    found.append(StoredObject(item["Key"], item["Size"], item["LastModified"]))
            return found

        yield from self.retry(f"listing s3://{self.bucket}/{prefix}", page_all)

    def delete_keys(self, keys: list[str]) -> None:
        """Delete objects, 1000 per request; every key must go or this raises."""
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]

            def run(batch: list[dict[str, str]] = batch) -> None:
                response = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                )
                errors = response.get("Errors") or []
                if errors:
                    raise BackupError(
                        f"could not delete {len(errors)} object(s) from s3://{self.bucket}, "
                        f"e.g. {errors[0].get('Key')}: {errors[0].get('Message')}"
                    )

            self.retry(f"deleting {len(batch)} object(s)", run)

    def purge_old_versions(self, key: str) -> int:
        """In a versioned bucket, delete every version of ``key`` but the latest; returns how many.

        Needed to destroy a key for good: overwriting an object in a versioned bucket only hides
        the old content. A store without versioning has nothing to purge.
        """

        def run() -> int:
            count = 0
            try:
                paginator = self.client.get_paginator("list_object_versions")
                for page in paginator.paginate(Bucket=self.bucket, Prefix=key):
                    for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
                        if item["Key"] != key or item.get("IsLatest"):
                            continue
                        self.client.delete_object(
                            Bucket=self.bucket, Key=key, VersionId=item["VersionId"]
                        )
                        count += 1
            except bx.ClientError as exc:
                if error_code(exc) not in ("NotImplemented", "MethodNotAllowed"):
                    raise
            return count

        return self.retry(f"purging old versions of {key}", run)
