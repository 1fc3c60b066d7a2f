"""Synthetic outputs of the stages before publish, following their file contracts.

Publish and backup are tested and benchmarked on their own, without running matching on real
records: this writes what the golden, validation and matching stages would have left in a run
folder, at any size (vectorised, a million records in seconds). The values are plausible but
not meant to be matched; the shapes and types are exactly those of the contracts.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.history.schema import (
    golden_customers_history_schema,
    golden_events_schema,
    golden_id_aliases_schema,
)
from pipelines.history.store import load_published
from pipelines.history.timeline import advance, run_time
from pipelines.profile.build import build_profile
from pipelines.profile.schema import customer_profile_schema
from pipelines.publish.tables import quarantine_schema
from pipelines.schema import (
    CANONICAL_FIELDS,
    GOLDEN_STATUS_COLUMNS,
    customer_xref_schema,
    golden_changes_schema,
    golden_customers_schema,
    golden_field_provenance_schema,
    id_registry_schema,
)
from pipelines.scorecard.build import run_scorecard, with_history
from pipelines.scorecard.schema import dq_scorecard_schema
from pipelines.scorecard.store import load_previous as load_scorecard
from pipelines.warehouse import Warehouse

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig


def _polars(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


_FIRST = ["Ana", "Ben", "Chloé", "Dmitri", "Eve", "Farah", "Gus", "Hana", "Ivo", "Jun", "Kofi"]
_LAST = ["Okafor", "Smith", "Nguyen", "García", "Müller", "Kowalski", "Ito", "Brown", "O'Neil"]
_CITY = ["London", "Leeds", "Cork", "Lyon", "Austin", "Porto", "Kraków", "Osaka"]
_COUNTRY = ["GB", "GB", "IE", "FR", "US", "PT", "PL", "JP"]
_SOURCES = ["crm", "web", "shop"]
_PROVENANCE_FIELDS = ("first_name", "last_name", "email", "phone", "city", "country")


def synthetic_config(root: Path, **sections: Any) -> PipelineConfig:
    """The smallest valid config for a warehouse at ``root`` holding synthetic runs: one file
    source that publish and backup never read; ``sections`` adds or replaces top-level
    sections (``publish``, ``backup``, ``privacy``...)."""
    from pipelines.config import PipelineConfig

    source = {
        "name": "crm",
        "kind": "file",
        "path": "crm.csv",
        "id_column": "id",
        "mapping": {"email": "email"},
    }
    return PipelineConfig.model_validate(
        {"warehouse": {"path": str(root)}, "sources": [source], **sections}
    )


def _pick(rng: np.random.Generator, values: list[str], size: int) -> pa.Array:
    indices = pa.array(rng.integers(0, len(values), size, dtype=np.int32))
    return pa.DictionaryArray.from_arrays(indices, pa.array(values)).dictionary_decode()


def _text(prefix: str, numbers: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers), pa.string()), "")


def _write(table: pa.Table, schema: pa.Schema, path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.select(schema.names).cast(schema), path)


def write_synthetic_run(
    warehouse: Warehouse, run_id: str, records: int, *, seed: int = 0
) -> dict[str, int]:
    """Write a run's golden, quarantine, dq and review-queue outputs; returns row counts.

    Golden ids depend only on ``seed`` and position, so two runs with the same seed share
    customers the way consecutive real runs do.
    """
    if records < 1:
        raise ValueError("records must be at least 1")
    rng = np.random.default_rng(seed)
    customers = max(1, int(records * 0.8))
    golden_dir = warehouse.golden_dir(run_id)
    run = pa.array([run_id] * customers, pa.string())
    ts = pa.timestamp("us", tz="UTC")
    base = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)

    # Every customer gets one record; the rest join random customers.
    owner = np.concatenate([np.arange(customers), rng.integers(0, customers, records - customers)])
    golden_ids = _text(f"G{seed}-", np.arange(customers))
    sources = _pick(rng, _SOURCES, records)
    record_ids = pc.cast(pa.array(np.arange(records) + 1_000_000), pa.string())
    record_keys = pc.binary_join_element_wise(sources, record_ids, ":")
    record_count = np.bincount(owner, minlength=customers)
    xref = pa.table(
        {
            "source_system": sources,
            "source_record_id": record_ids,
            "record_key": record_keys,
            "golden_id": pc.take(golden_ids, pa.array(owner)),
            "match_probability": pa.array(
                np.where(record_count[owner] > 1, rng.uniform(0.9, 1.0, records), np.nan),
                from_pandas=True,
            ),
            "run_id": pa.array([run_id] * records, pa.string()),
        }
    )
    _write(xref, customer_xref_schema(), golden_dir / "customer_xref.parquet")
    registry = xref.select(["record_key", "golden_id", "run_id"]).append_column(
        "first_run_id", pa.array([run_id] * records, pa.string())
    )
    registry = registry.append_column("absorbed_ids", pa.nulls(records, pa.list_(pa.string())))
    registry = registry.append_column(
        "first_seen_at", pa.array(np.full(records, base), pa.int64()).cast(ts)
    )
    _write(registry, id_registry_schema(), golden_dir / "id_registry.parquet")

    first, last = _pick(rng, _FIRST, customers), _pick(rng, _LAST, customers)
    numbers = np.arange(customers)
    city_index = rng.integers(0, len(_CITY), customers)
    values: dict[str, pa.Array] = {
        "first_name": first,
        "last_name": last,
        "full_name": pc.binary_join_element_wise(first, last, " "),
        "email": _text("customer", numbers),
        "phone": _text("+4420", 70_000_000 + numbers % 9_999_999),
        "address_line1": _text("", 1 + numbers % 300),
        "city": pa.array(np.array(_CITY)[city_index]),
        "postcode": _text("PC", numbers % 99_999),
        "country": pa.array(np.array(_COUNTRY)[city_index]),
        "date_of_birth": pa.array(rng.integers(-15_000, 12_000, customers), pa.int32()).cast(
            pa.date32()
        ),
    }
    values["email"] = pc.binary_join_element_wise(values["email"], "example.com", "@")
    values["address_line1"] = pc.binary_join_element_wise(values["address_line1"], "High St", " ")
    golden_customers = pa.table(
        {
            "golden_id": golden_ids,
            **{f: values.get(f, pa.nulls(customers, pa.string())) for f in CANONICAL_FIELDS},
            **{c: pa.array(["valid"] * customers, pa.string()) for c in GOLDEN_STATUS_COLUMNS},
            "completeness": pa.array(np.full(customers, 1.0), pa.float64()),
            "source_record_count": pa.array(record_count, pa.int64()),
            "source_systems": pa.array([[s] for s in _SOURCES]).take(
                pa.array(rng.integers(0, 3, customers))
            ),
            "first_seen_at": pa.array(base + rng.integers(0, 10**13, customers), pa.int64()).cast(
                ts
            ),
            "source_updated_at": pa.array(base + 10**13 + rng.integers(0, 10**12, customers)).cast(
                ts
            ),
            "golden_changed_at": pa.nulls(customers, ts),
            "run_id": run,
        }
    )

    n_fields = len(_PROVENANCE_FIELDS)
    provenance = pa.table(
        {
            "golden_id": pc.take(golden_ids, pa.array(np.repeat(numbers, n_fields))),
            "field": pa.array(np.tile(np.array(_PROVENANCE_FIELDS), customers)),
            "source_system": pc.take(sources, pa.array(np.repeat(numbers, n_fields))),
            "source_record_id": pc.take(record_ids, pa.array(np.repeat(numbers, n_fields))),
            "rule": _pick(
                rng, ["valid_first", "most_frequent", "trust_rank"], customers * n_fields
            ),
            "run_id": pa.array([run_id] * (customers * n_fields), pa.string()),
        }
    )
    _write(
        provenance,
        golden_field_provenance_schema(),
        golden_dir / "golden_field_provenance.parquet",
    )

    changes = pa.table(
        {
            "run_id": run,
            "golden_id": golden_ids,
            "change": _pick(rng, ["created", "kept"], customers),
            "related_golden_ids": pa.nulls(customers, pa.list_(pa.string())),
            "record_count": pa.array(record_count, pa.int64()),
        }
    )
    _write(changes, golden_changes_schema(), golden_dir / "golden_changes.parquet")
    step = advance(
        load_published(warehouse.root),
        _polars(golden_customers),
        _polars(changes),
        run_id,
        run_time(run_id),
    )
    _write(
        step.golden.to_arrow(),
        golden_customers_schema(),
        golden_dir / "golden_customers.parquet",
    )
    profile = build_profile(step.golden, run_id, run_time(run_id))
    # Every record scored as if it held its golden record's values (no staged records here).
    scored = (
        _polars(xref.select(["record_key", "golden_id", "source_system"]))
        .join(step.golden.drop("source_updated_at"), on="golden_id")
        .with_columns(
            pl.lit([], dtype=pl.List(pl.String)).alias("invalid_fields"),
            pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("source_updated_at"),
            pl.lit(run_time(run_id)).cast(pl.Datetime("us", "UTC")).alias("ingested_at"),
        )
    )
    scorecard = with_history(
        load_scorecard(warehouse, None),
        run_scorecard(scored, step.golden, run_id, run_time(run_id), 365),
        run_id,
    )
    for name, frame, schema in (
        ("golden_customers_history", step.tables.history, golden_customers_history_schema()),
        ("golden_events", step.tables.events, golden_events_schema()),
        ("golden_id_aliases", step.tables.aliases, golden_id_aliases_schema()),
        ("customer_profile", profile, customer_profile_schema()),
        ("dq_scorecard", scorecard, dq_scorecard_schema()),
    ):
        _write(frame.to_arrow(), schema, golden_dir / f"{name}.parquet")

    bad = max(1, records // 100)
    quarantine = pa.table(
        {
            "run_id": pa.array([run_id] * bad, pa.string()),
            "suite": pa.array(["crm"] * bad),
            "record_key": _text("crm:q", np.arange(bad)),
            "source_system": pa.array(["crm"] * bad),
            "source_record_id": _text("q", np.arange(bad)),
            "expectation": pa.array(["expect_column_values_to_not_be_null"] * bad),
            "column": pa.array(["email"] * bad),
            "value": pa.nulls(bad, pa.string()),
            "severity": pa.array(["critical"] * bad),
            "reason": pa.array(["email is required"] * bad),
        }
    )
    _write(quarantine, quarantine_schema(), warehouse.quarantine(run_id, "crm"))
    for suite, source in (("crm", "crm"), ("canonical", None)):
        payload = {
            "suite": suite,
            "run_id": run_id,
            "rows_in": records + bad,
            "accepted": records,
            "quarantined": bad if suite == "crm" else 0,
            "warned": 0,
            "success": suite != "crm",
            "expectations": [
                {
                    "expectation": "expect_column_values_to_not_be_null",
                    "column": "email",
                    "severity": "critical",
                    "success": suite != "crm",
                    "unexpected_count": bad if suite == "crm" else 0,
                    "unexpected_percent": 100.0 * bad / (records + bad) if suite == "crm" else 0.0,
                    "sample_values": [None] if suite == "crm" else [],
                }
            ],
        }
        if source:
            payload["source"] = source
        path = warehouse.dq_result(run_id, suite)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload))

    pairs = max(1, records // 200)
    left = pa.array(rng.integers(0, records, pairs))
    review = {
        "record_key_l": pc.take(record_keys, left),
        "record_key_r": _text("web:r", np.arange(pairs)),
        "match_probability": pa.array(rng.uniform(0.5, 0.9, pairs)),
        "match_weight": pa.array(rng.uniform(-1, 3, pairs)),
        "weights": pa.array([json.dumps({"first_name": 1.5, "email": -2.0})] * pairs),
    }
    for side in ("l", "r"):
        review[f"first_name_{side}"] = _pick(rng, _FIRST, pairs)
        review[f"last_name_{side}"] = _pick(rng, _LAST, pairs)
    review_path = warehouse.match_dir(run_id) / "review_queue.parquet"
    review_path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(review), review_path)

    return {
        "golden_customers": customers,
        "golden_customers_history": step.tables.history.height,
        "golden_events": step.tables.events.height,
        "golden_id_aliases": step.tables.aliases.height,
        "customer_profile": profile.height,
        "dq_scorecard": scorecard.height,
        "customer_xref": records,
        "golden_field_provenance": customers * n_fields,
        "golden_changes": customers,
        "quarantine": bad,
        "match_review_queue": pairs,
        "match_training_pairs": 0,
    }
