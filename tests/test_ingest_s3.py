"""S3 sources on a real S3 server (SeaweedFS on loopback): the same files, the same results."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from pipelines.config import PipelineConfig, load_config
from pipelines.errors import SourceError
from pipelines.ingest import ingest_source
from pipelines.s3server import S3Endpoint

pytestmark = pytest.mark.s3

CSV = (
    "\ufeffcust_id;first;mail;changed\r\n"
    "1;Zoë;z@x;2024-01-01T00:00:00Z\r\n"
    "2;Renée;r@x;2024-01-02T00:00:00Z\r\n"
    "3;Too;few\r\n"
    "4;Åsa;a@x;2024-01-03T00:00:00Z\r\n"
)


def make_config(tmp_path: Path, s3: dict[str, Any], **source: Any) -> PipelineConfig:
    spec = {
        "name": "lake",
        "kind": "s3",
        "s3": s3,
        "id_column": "cust_id",
        "mapping": {"first_name": "first", "email": "mail"},
        **source,
    }
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump({"warehouse": {"path": "wh"}, "sources": [spec]}))
    return load_config(path)


def put(endpoint: S3Endpoint, bucket: str, key: str, body: bytes) -> None:
    endpoint.client().put_object(Bucket=bucket, Key=key, Body=body)


def test_csv_objects_under_a_prefix_land_like_local_files(
    tmp_path: Path, s3_env: S3Endpoint, s3_bucket: str
) -> None:
    put(s3_env, s3_bucket, "exports/crm/part-1.csv", CSV.encode("utf-8"))
    put(
        s3_env,
        s3_bucket,
        "exports/crm/part-2.csv.gz",
        gzip.compress("cust_id;first;mail;changed\n5;Émile;e@x;2024-01-04T00:00:00Z\n".encode()),
    )
    put(s3_env, s3_bucket, "exports/crm/_SUCCESS", b"")
    put(s3_env, s3_bucket, "exports/other/ignored.csv", b"cust_id\n99\n")
    config = make_config(
        tmp_path,
        {"bucket": s3_bucket, "prefix": "exports/crm/"},
        format="csv",
        csv={"delimiter": ";"},
        updated_at_column="changed",
    )

    result = ingest_source(config, "run1", "lake")

    assert result.origins == [
        f"s3://{s3_bucket}/exports/crm/part-1.csv",
        f"s3://{s3_bucket}/exports/crm/part-2.csv.gz",
    ]
    assert (result.rows_read, result.rows_landed, result.rows_rejected) == (5, 4, 1)
    df = pl.read_parquet(result.current_path)
    assert df["first"].to_list() == ["Zoë", "Renée", "Åsa", "Émile"]
    (reject,) = pl.read_parquet(result.rejects_path).to_dicts()
    assert reject["file"] == f"s3://{s3_bucket}/exports/crm/part-1.csv"
    assert reject["line"] == 4 and reject["raw"] == "3;Too;few"


def test_pattern_selects_jsonl_and_parquet_objects(
    tmp_path: Path, s3_env: S3Endpoint, s3_bucket: str
) -> None:
    put(s3_env, s3_bucket, "shop/2024/01.jsonl", b'{"cust_id": 1, "first": "A", "mail": "a@x"}\n')
    put(
        s3_env,
        s3_bucket,
        "shop/2024/02.jsonl",
        b'{"cust_id": 2, "first": "B", "mail": "b@x"}\n{oops\n',
    )
    put(s3_env, s3_bucket, "shop/2024/readme.txt", b"not data")
    jsonl = make_config(
        tmp_path, {"bucket": s3_bucket, "prefix": "shop/", "pattern": "2024/*.jsonl"}
    )
    result = ingest_source(jsonl, "run1", "lake")
    assert pl.read_parquet(result.current_path)["cust_id"].to_list() == ["1", "2"]
    assert pl.read_parquet(result.rejects_path)["line"].to_list() == [2]

    buffer = pa.BufferOutputStream()
    pq.write_table(pa.table({"cust_id": [7, 8], "first": ["G", "H"], "mail": ["g", "h"]}), buffer)
    put(s3_env, s3_bucket, "billing/customers.parquet", buffer.getvalue().to_pybytes())
    parquet = make_config(tmp_path, {"bucket": s3_bucket, "prefix": "billing/"}, format="parquet")
    assert pl.read_parquet(ingest_source(parquet, "run2", "lake").current_path)[
        "cust_id"
    ].to_list() == ["7", "8"]


def test_keys_come_from_the_environment_variables_the_config_names(
    tmp_path: Path, s3_server: S3Endpoint, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(s3_server, s3_bucket, "crm/a.csv", b"cust_id,first,mail\n1,A,a@x\n")
    location = {
        "bucket": s3_bucket,
        "prefix": "crm/",
        "endpoint_url": s3_server.endpoint_url,
        "access_key_env": "LAKE_KEY_ID",
        "secret_key_env": "LAKE_SECRET",
    }
    config = make_config(tmp_path, location, format="csv")
    monkeypatch.delenv("LAKE_KEY_ID", raising=False)
    with pytest.raises(SourceError, match="LAKE_KEY_ID"):
        ingest_source(config, "run1", "lake")

    monkeypatch.setenv("LAKE_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("LAKE_SECRET", "wrong-secret")
    with pytest.raises(SourceError, match="cannot list"):
        ingest_source(config, "run1", "lake")

    monkeypatch.setenv("LAKE_SECRET", s3_server.secret_key)
    assert ingest_source(config, "run1", "lake").rows_landed == 1


def test_empty_prefix_is_a_clear_error(tmp_path: Path, s3_env: S3Endpoint, s3_bucket: str) -> None:
    config = make_config(tmp_path, {"bucket": s3_bucket, "prefix": "nothing/"}, format="csv")
    with pytest.raises(SourceError, match=f"no objects under s3://{s3_bucket}/nothing/"):
        ingest_source(config, "run1", "lake")


SAME_FILES: dict[str, tuple[str, bytes, dict[str, Any]]] = {
    "csv-latin1": (
        "crm.csv",
        "cust_id;first;mail\n1;Renée;r@x\n2;José;j@x;extra\n3;Åsa;a@x\n".encode("latin-1"),
        {"format": "csv", "csv": {"delimiter": ";", "encoding": "latin-1"}},
    ),
    "jsonl": (
        "shop.jsonl",
        b'{"cust_id": 1, "first": "A", "mail": "a@x", "n": 1.5}\n{broken\n{"cust_id": 2}\n',
        {"format": "jsonl"},
    ),
}


@pytest.mark.parametrize("case", sorted(SAME_FILES), ids=sorted(SAME_FILES))
def test_the_same_file_on_disk_and_in_s3_lands_the_same_rows_and_rejects(
    tmp_path: Path, s3_env: S3Endpoint, s3_bucket: str, case: str
) -> None:
    name, body, options = SAME_FILES[case]
    local_dir, remote_dir = tmp_path / "local", tmp_path / "remote"
    local_dir.mkdir()
    remote_dir.mkdir()
    (local_dir / name).write_bytes(body)
    put(s3_env, s3_bucket, f"in/{name}", body)

    local_spec = {
        "name": "lake",
        "kind": "file",
        "path": name,
        "id_column": "cust_id",
        "mapping": {"first_name": "first"},
        **options,
    }
    (local_dir / "pipeline.yaml").write_text(
        yaml.safe_dump({"warehouse": {"path": "wh"}, "sources": [local_spec]})
    )
    local = ingest_source(load_config(local_dir / "pipeline.yaml"), "run1", "lake")
    remote = ingest_source(
        make_config(
            remote_dir,
            {"bucket": s3_bucket, "prefix": "in/"},
            mapping={"first_name": "first"},
            **options,
        ),
        "run1",
        "lake",
    )

    assert (remote.rows_read, remote.rows_landed, remote.rows_rejected) == (
        local.rows_read,
        local.rows_landed,
        local.rows_rejected,
    )
    assert local.rows_rejected == 1
    drop = ["ingested_at"]
    assert (
        pl.read_parquet(remote.current_path)
        .drop(drop)
        .equals(pl.read_parquet(local.current_path).drop(drop))
    )
    columns = ["line", "reason", "raw"]
    assert (
        pl.read_parquet(remote.rejects_path)
        .select(columns)
        .equals(pl.read_parquet(local.rejects_path).select(columns))
    )
