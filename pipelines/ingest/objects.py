"""Find the files a file or S3 source points at, and fetch their bytes.

A ``file`` source names one file, a folder or a glob; an ``s3`` source names a bucket and prefix
with an optional glob on the key. Either way the reader gets the same thing: a sorted list of
:class:`SourceObject` (sorted, so a batch lands in the same order every time it is read).
Folders and prefixes only yield files of the source's format; names starting with ``.`` or
``_`` (temporary files, ``_SUCCESS`` markers) are skipped.
"""

from __future__ import annotations

import bz2
import fnmatch
import glob
import gzip
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pipelines.errors import SourceError
from pipelines.ingest.config import FileFormat, S3Location, SourceConfig

logger = logging.getLogger(__name__)

EXTENSIONS: dict[str, tuple[str, ...]] = {
    "csv": (".csv", ".tsv", ".txt"),
    "jsonl": (".jsonl", ".ndjson", ".json"),
    "parquet": (".parquet", ".pq"),
}
_COMPRESSED = {".gz": gzip.decompress, ".bz2": bz2.decompress}


@dataclass(frozen=True)
class SourceObject:
    label: str
    """What rejects and errors call it: a path or an ``s3://bucket/key`` URL."""
    fetch: Callable[[], bytes]

    def read(self) -> bytes:
        """The object's bytes, decompressed when its name ends in ``.gz`` or ``.bz2``."""
        data = self.fetch()
        decompress = _COMPRESSED.get(PurePosixPath(self.label).suffix.lower())
        if decompress is None:
            return data
        try:
            return decompress(data)
        except (OSError, EOFError, ValueError) as exc:
            raise SourceError(f"{self.label}: cannot decompress: {exc}") from exc


def wanted_name(name: str, fmt: FileFormat) -> bool:
    """A data file of this format (possibly compressed), not a hidden or marker file."""
    base = PurePosixPath(name).name.lower()
    if not base or base.startswith((".", "_")):
        return False
    for suffix in _COMPRESSED:
        base = base.removesuffix(suffix)
    return base.endswith(EXTENSIONS[fmt])


# --- local files ---------------------------------------------------------------------------------


def local_objects(source: SourceConfig) -> list[SourceObject]:
    """The files of a ``file`` source."""
    assert source.path is not None and source.format is not None
    path = Path(source.path)
    if glob.has_magic(source.path):
        paths = [Path(p) for p in glob.glob(source.path, recursive=True) if Path(p).is_file()]
        paths = [p for p in paths if not p.name.startswith((".", "_"))]
        what = f"glob {source.path}"
    elif path.is_dir():
        paths = [p for p in path.iterdir() if p.is_file() and wanted_name(p.name, source.format)]
        what = f"folder {path} (files ending {', '.join(EXTENSIONS[source.format])})"
    elif path.is_file():
        paths = [path]
        what = str(path)
    else:
        raise SourceError(f"source {source.name!r}: {path} does not exist (check its 'path')")
    if not paths:
        raise SourceError(f"source {source.name!r}: no files match {what}")
    return [SourceObject(str(p), p.read_bytes) for p in sorted(paths)]


# --- S3 ------------------------------------------------------------------------------------------


def s3_client(source: SourceConfig, location: S3Location):  # -> botocore S3 client
    """A boto3 client for the source: endpoint from config or ``GOLDEN_S3_ENDPOINT``, keys
    from the environment variables the config names (else boto3's usual credential chain)."""
    import boto3

    key_id = os.environ.get(location.access_key_env)
    secret = os.environ.get(location.secret_key_env)
    custom_names = (location.access_key_env, location.secret_key_env) != (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    )
    if custom_names and not (key_id and secret):
        missing = [
            n for n in (location.access_key_env, location.secret_key_env) if not os.environ.get(n)
        ]
        raise SourceError(
            f"source {source.name!r}: environment variable(s) {missing} named in "
            "s3.access_key_env / s3.secret_key_env are not set"
        )
    return boto3.client(
        "s3",
        endpoint_url=location.endpoint_url or os.environ.get("GOLDEN_S3_ENDPOINT") or None,
        region_name=location.region,
        aws_access_key_id=key_id or None,
        aws_secret_access_key=secret or None,
    )


def s3_objects(source: SourceConfig) -> list[SourceObject]:
    """The objects of an ``s3`` source."""
    from botocore.exceptions import BotoCoreError, ClientError

    location = source.s3
    assert location is not None and source.format is not None
    client = s3_client(source, location)
    where = f"s3://{location.bucket}/{location.prefix}"
    keys: list[str] = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=location.bucket, Prefix=location.prefix
        ):
            keys.extend(item["Key"] for item in page.get("Contents", []))
    except (BotoCoreError, ClientError) as exc:
        raise SourceError(f"source {source.name!r}: cannot list {where}: {exc}") from exc
    if location.pattern:
        selected = [
            k
            for k in keys
            if fnmatch.fnmatchcase(k[len(location.prefix) :].lstrip("/"), location.pattern)
            and not PurePosixPath(k).name.startswith((".", "_"))
        ]
        what = f"{where} matching {location.pattern!r}"
    else:
        selected = [k for k in keys if wanted_name(k, source.format)]
        what = f"{where} ending {', '.join(EXTENSIONS[source.format])}"
    if not selected:
        raise SourceError(f"source {source.name!r}: no objects under {what}")

    def fetcher(key: str) -> Callable[[], bytes]:
        def fetch() -> bytes:
            try:
                return client.get_object(Bucket=location.bucket, Key=key)["Body"].read()
            except (BotoCoreError, ClientError) as exc:
                raise SourceError(f"cannot read s3://{location.bucket}/{key}: {exc}") from exc

        return fetch

    return [SourceObject(f"s3://{location.bucket}/{k}", fetcher(k)) for k in sorted(selected)]
