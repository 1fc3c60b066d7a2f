"""An S3 prefix is a snapshot too (issue 24), on a real S3 server (SeaweedFS on loopback): each
delivery of objects is compared with the current set by id and row hash."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from pipelines.config import PipelineConfig, load_config
from pipelines.errors import ValidationGateError
from pipelines.ingest import IngestResult, ingest_source
from pipelines.s3server import S3Endpoint

pytestmark = pytest.mark.s3

HEADER = "cust_id,first,mail,changed\n"


def make_config(
    tmp_path: Path, bucket: str, name: str = "pipeline.yaml", **source: Any
) -> PipelineConfig:
    spec = {
        "name": "lake",
        "kind": "s3",
        "s3": {"bucket": bucket, "prefix": "export/"},
        "format": "csv",
        "id_column": "cust_id",
        "updated_at_column": "changed",
        "mapping": {"first_name": "first", "email": "mail"},
        **source,
    }
    path = tmp_path / name
    wh = "wh" if name == "pipeline.yaml" else f"wh_{Path(name).stem}"
    path.write_text(yaml.safe_dump({"warehouse": {"path": wh}, "sources": [spec]}))
    return load_config(path)


def people(ids: range, stamp: str = "2024-03-01T00:00:00Z") -> str:
    return HEADER + "".join(f"{i},P{i},p{i}@example.org,{stamp}\n" for i in ids)


def deliver(endpoint: S3Endpoint, bucket: str, objects: dict[str, str]) -> None:
    """Replace the prefix's objects with ``objects`` (name -> CSV text)."""
    client = endpoint.client()
    listed = client.list_objects_v2(Bucket=bucket, Prefix="export/").get("Contents", [])
    for item in listed:
        if item["Key"].removeprefix("export/") not in objects:
            client.delete_object(Bucket=bucket, Key=item["Key"])
    for name, body in objects.items():
        client.put_object(Bucket=bucket, Key=f"export/{name}", Body=body.encode())


def ids(result: IngestResult) -> list[int]:
    return sorted(int(i) for i in pl.read_parquet(result.current_path)["cust_id"])


def records(result: IngestResult) -> pl.DataFrame:
    frame = pl.read_parquet(result.current_path).drop("batch_id", "ingested_at")
    return frame.sort(pl.col("cust_id").cast(pl.Int64))


def test_objects_of_a_prefix_are_compared_as_a_snapshot(
    tmp_path: Path, s3_env: S3Endpoint, s3_bucket: str
) -> None:
    config = make_config(tmp_path, s3_bucket)
    deliver(s3_env, s3_bucket, {"a.csv": people(range(0, 10)), "b.csv": people(range(10, 20))})
    ingest_source(config, "run1", "lake")

    # b.csv is gone (ids 10-19 deleted), c.csv brings two ids stamped years before the watermark
    deliver(
        s3_env,
        s3_bucket,
        {"a.csv": people(range(0, 10)), "c.csv": people(range(50, 52), "2019-01-01T00:00:00Z")},
    )
    second = ingest_source(config, "run2", "lake")

    assert ids(second) == [*range(0, 10), 50, 51]
    assert (second.records_new, second.new_behind_watermark, second.rows_unchanged) == (2, 2, 10)
    assert (second.deleted_at_source, second.retired) == (10, 10)
    fresh = ingest_source(make_config(tmp_path, s3_bucket, "fresh.yaml"), "run9", "lake")
    assert records(second).equals(records(fresh))


def test_review_keeps_records_of_a_vanished_object_until_confirmed(
    tmp_path: Path, s3_env: S3Endpoint, s3_bucket: str
) -> None:
    config = make_config(tmp_path, s3_bucket, deletions={"action": "review"})
    deliver(s3_env, s3_bucket, {"a.csv": people(range(0, 10)), "b.csv": people(range(10, 12))})
    ingest_source(config, "run1", "lake")
    deliver(s3_env, s3_bucket, {"a.csv": people(range(0, 10))})

    queued = ingest_source(config, "run2", "lake")
    assert (queued.queued_for_review, queued.retired, len(ids(queued))) == (2, 0, 12)

    confirmed = ingest_source(config, "run3", "lake", confirm_deletions=True)
    assert (confirmed.retired, ids(confirmed)) == (2, list(range(0, 10)))


def test_a_truncated_object_trips_the_gate(
    tmp_path: Path, s3_env: S3Endpoint, s3_bucket: str
) -> None:
    from pipelines.validate import check_gate, validate_source
    from pipelines.warehouse import Warehouse

    config = make_config(tmp_path, s3_bucket)
    deliver(s3_env, s3_bucket, {"a.csv": people(range(0, 30))})
    ingest_source(config, "run1", "lake")
    validate_source(config, "run1", "lake")
    Warehouse(config.warehouse.path).published_version("run1").mkdir(parents=True)
    deliver(s3_env, s3_bucket, {"a.csv": people(range(0, 20))})  # the upload stopped short

    ingest_source(config, "run2", "lake")
    validate_source(config, "run2", "lake")

    with pytest.raises(ValidationGateError, match=r"10 of the 30 records of run run1 \(33\.3%\)"):
        check_gate(config, "run2")
