"""The local S3 server takes as many buckets as a test session or a demo creates.

SeaweedFS keeps each bucket in its own collection of volumes. Left to size its volume count
from free disk, the server ran out after about 80 buckets on a 78 GB disk: every later
``PutObject`` failed with ``InternalError`` ("no free volumes left"), which failed unrelated
backup tests late in a CI run.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from pipelines.s3server import LocalS3Server


@pytest.mark.slow
def test_a_fresh_server_stores_an_object_in_each_of_150_buckets(tmp_path: Path) -> None:
    with LocalS3Server(tmp_path / "s3") as endpoint:
        client = endpoint.client()
        buckets = [f"many-{index:03d}-{uuid.uuid4().hex[:8]}" for index in range(150)]
        for bucket in buckets:
            client.create_bucket(Bucket=bucket)
            client.put_object(Bucket=bucket, Key="probe", Body=bucket.encode())
        for bucket in (buckets[0], buckets[-1]):
            stored = client.get_object(Bucket=bucket, Key="probe")["Body"].read()
            assert stored == bucket.encode()
