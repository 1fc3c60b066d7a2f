"""The suppression list: erased subjects are recognised in whatever spelling a source sends them,
only with the right salt, and ingestion counts what it keeps out."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from pipelines.config import PipelineConfig
from pipelines.errors import PrivacyError
from pipelines.ingest import ingest_source
from pipelines.privacy.identifiers import identifier_hash, salt_id
from pipelines.privacy.suppression import SuppressionEntry, add_entry, suppressed_mask
from pipelines.warehouse import Warehouse

SALT = "a-long-random-test-salt-0123456789"
SALT_ENV = "GOLDEN_SUPPRESSION_SALT"
RUN = "20250301T000000Z-aaaaaa"


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PipelineConfig:
    monkeypatch.setenv(SALT_ENV, SALT)
    (tmp_path / "crm.csv").write_text(
        "id,name,email,phone,country\n"
        "1,Ann Lee,ANN.LEE+News@Gmail.com ,(212) 555-0100,US\n"
        "2,Bob Roe,bob@example.org,+1 212 555 0199,US\n"
        "3,Ann Lee,annlee@googlemail.com,,US\n"
        "4,Cy Poe,cy@example.org,212.555.0100,US\n"
        "5,Di Fox,di@example.org,,US\n"
    )
    return PipelineConfig.model_validate(
        {
            "warehouse": {"path": str(tmp_path / "warehouse")},
            "sources": [
                {
                    "name": "crm",
                    "kind": "file",
                    "path": str(tmp_path / "crm.csv"),
                    "id_column": "id",
                    "mapping": {
                        "full_name": "name",
                        "email": "email",
                        "phone": "phone",
                        "country": "country",
                    },
                }
            ],
        }
    )


def suppress(config: PipelineConfig, salt: str = SALT, **values: list[str]) -> None:
    key = salt.encode()
    add_entry(
        Warehouse(config.warehouse.path),
        SuppressionEntry(
            erasure_id="E-test",
            at=datetime.now(UTC),
            salt_id=salt_id(key),
            hashes={
                kind: [identifier_hash(key, kind, v) for v in items]  # type: ignore[arg-type]
                for kind, items in values.items()
            },
        ),
    )


def landed(config: PipelineConfig) -> pl.DataFrame:
    frame = pl.read_csv(config.sources[0].path, infer_schema=False)
    return frame.with_columns(
        pl.concat_str(pl.lit("crm:"), "id").alias("record_key"),
        pl.lit("crm").alias("source_system"),
        pl.col("id").alias("source_record_id"),
        pl.lit(RUN).alias("batch_id"),
        pl.lit(datetime.now(UTC)).alias("ingested_at"),
        pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("source_updated_at"),
    )


@pytest.mark.parametrize(
    ("listed", "expected"),
    [
        ({"record_key": ["crm:2"]}, [False, True, False, False, False]),
        # the canonical address, whatever case, spaces or plus tag the source used
        ({"email": ["ann.lee+news@gmail.com"]}, [True, False, False, False, False]),
        # the matching key: Gmail dots and plus tags and googlemail.com are one mailbox
        ({"email_key": ["annlee@gmail.com"]}, [True, False, True, False, False]),
        # E.164, however the number was written
        ({"phone": ["+12125550100"]}, [True, False, False, True, False]),
        ({"email": ["nobody@example.org"], "phone": ["+442079460000"]}, [False] * 5),
    ],
    ids=["record-key", "email", "email-key", "phone", "unlisted"],
)
def test_listed_identifiers_are_recognised_in_any_spelling(
    config: PipelineConfig, listed: dict[str, list[str]], expected: list[bool]
) -> None:
    suppress(config, **listed)
    mask = suppressed_mask(config, config.sources[0], landed(config))
    assert mask.to_list() == expected


def test_an_empty_list_needs_no_salt(config: PipelineConfig, monkeypatch) -> None:
    monkeypatch.delenv(SALT_ENV)
    assert not suppressed_mask(config, config.sources[0], landed(config)).any()


def test_without_the_salt_or_with_another_nothing_is_ingested(
    config: PipelineConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    suppress(config, record_key=["crm:2"])
    monkeypatch.delenv(SALT_ENV)
    with pytest.raises(PrivacyError, match=f"{SALT_ENV} .*is not set"):
        ingest_source(config, RUN, "crm")
    monkeypatch.setenv(SALT_ENV, "another-salt-just-as-long-0123456789")
    with pytest.raises(PrivacyError, match=r"made with salt .* Restore the original salt"):
        ingest_source(config, RUN, "crm")
    monkeypatch.setenv(SALT_ENV, "short")
    with pytest.raises(PrivacyError, match="at least 16"):
        ingest_source(config, RUN, "crm")
    assert not Warehouse(config.warehouse.path).raw_batch("crm", RUN).exists()


def test_a_damaged_entry_is_reported_with_its_line(config: PipelineConfig) -> None:
    suppress(config, record_key=["crm:2"])
    path = Warehouse(config.warehouse.path).suppression
    with path.open("a") as handle:
        handle.write('{"erasure_id": "E-x", "hashes": "oops"}\n')
    with pytest.raises(PrivacyError, match=r"suppression.jsonl line 2 is not a suppression entry"):
        suppressed_mask(config, config.sources[0], landed(config))


def test_ingest_keeps_suppressed_rows_out_of_raw_and_counts_them(config: PipelineConfig) -> None:
    suppress(config, record_key=["crm:2"], email_key=["annlee@gmail.com"])
    result = ingest_source(config, RUN, "crm")

    assert (result.rows_read, result.rows_landed, result.rows_suppressed) == (5, 2, 3)
    warehouse = Warehouse(config.warehouse.path)
    raw = pl.read_parquet(warehouse.raw_batch("crm", RUN) / "part-00000.parquet")
    assert sorted(raw["record_key"]) == ["crm:4", "crm:5"]
    current = pl.read_parquet(warehouse.current_records(RUN, "crm"))
    assert sorted(current["record_key"]) == ["crm:4", "crm:5"]
    stored = json.loads((warehouse.ingest_dir(RUN, "crm") / "result.json").read_text())
    assert stored["rows_suppressed"] == 3


def test_a_chunk_without_a_mapped_column_is_still_checked(config: PipelineConfig) -> None:
    suppress(config, email=["bob@example.org"])
    rows = landed(config).drop("phone")
    assert suppressed_mask(config, config.sources[0], rows).to_list() == [
        False,
        True,
        False,
        False,
        False,
    ]


def test_bulk_hashing_equals_one_by_one_and_depends_on_salt_and_kind() -> None:
    from pipelines.privacy.identifiers import hash_values

    salt = SALT.encode()
    values = ["ann@x.com", None, "", "bo@x.com", "ann@x.com"]
    single = identifier_hash(salt, "email", "ann@x.com")
    assert hash_values(salt, "email", values) == [
        single,
        None,
        None,
        identifier_hash(salt, "email", "bo@x.com"),
        single,
    ]
    assert single != identifier_hash(b"another-salt-of-enough-length", "email", "ann@x.com")
    assert single != identifier_hash(salt, "email_key", "ann@x.com")
    assert "ann" not in single and len(single) == 64
