"""The match stage's shortcuts give what the long way gives.

Each shortcut here replaces a lookup over every record (or every term-frequency value) with
one over the few rows that matter; each test compares the shortcut with the long way on small
generated data: term frequencies looked up in Polars against Splink's own lookup, filtered
term-frequency tables against whole ones, hashed key lookups against a plain dictionary, and
the review queue's cluster and field lookups against a reference built row by row.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from matching.clustering import _dense_labels, _edges, _indices
from matching.config import MatchingConfig
from matching.engine import open_engine
from matching.features import KEY_COLUMNS, matching_frame
from matching.incremental import collect_tf_tables, register_tf_tables, tf_columns
from matching.matcher import (
    _explained_pairs,
    _linker,
    _set_aside,
    _tf_rows_of,
    _with_term_frequencies,
)
from matching.review import review_queue
from matching.settings import IDENTITY_COMPARISONS

FIRST = ["anna", "ben", "carla", "dmitri", "eva", "femi", "gus", "hana"]
LAST = ["smith", "jones", "okafor", "novak", "garcia", "lee"]


def generated_records(count: int, seed: int) -> pl.DataFrame:
    """Staged-schema records over a small vocabulary, so that values repeat (term
    frequencies above the minimum) and some keys are missing (null lookups)."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        row = dict.fromkeys(KEY_COLUMNS, "")
        row.update(
            record_key=f"r{i:04d}",
            source_system=rng.choice(["crm", "shop"]),
            mk_first_name=first,
            mk_first_name_canonical=first,
            mk_last_name=last,
            mk_email=f"{first}.{last}@example.com" if rng.random() < 0.7 else "",
            mk_email_user=f"{first}.{last}",
            mk_phone=f"+4470000{rng.randrange(30):04d}" if rng.random() < 0.8 else "",
            mk_address=f"{rng.randrange(1, 9)} high street",
            mk_house_number=str(rng.randrange(1, 9)),
            mk_postcode=rng.choice(["ab1 2cd", "ef3 4gh", "ij5 6kl"]),
            mk_city=rng.choice(["leeds", "york"]),
            mk_dob=f"19{rng.randrange(50, 99)}-0{rng.randrange(1, 9)}-1{rng.randrange(9)}",
        )
        rows.append(row)
    return pl.DataFrame(rows)


@pytest.fixture
def features() -> pl.DataFrame:
    return matching_frame(generated_records(60, seed=7), max_key_frequency=1000)


def test_explained_pairs_with_looked_up_term_frequencies_equal_splinks_own_lookup(
    features: pl.DataFrame, tmp_path: Path
) -> None:
    config = MatchingConfig()
    keys = features["record_key"].head(12).to_list()
    pairs = [(keys[i], keys[i + 1]) for i in range(0, len(keys), 2)]
    with open_engine(config, tmp_path) as engine:
        linker = _linker(engine, features, None, None)
        model = linker.misc.save_model_to_json()
        assert tf_columns(model), "the model adjusts by term frequencies"
        tables = collect_tf_tables(linker, engine, model)
        register_tf_tables(linker, engine, tables)
        splinks = _explained_pairs(linker, engine, features, pairs)
        ours = _explained_pairs(linker, engine, features, list(pairs), tables)
    assert len(ours) == len(pairs)
    assert ours == splinks
    assert any(row["tf_mk_last_name_l"] is not None for row in ours)


def test_term_frequency_lookup_gives_null_for_null_and_unknown_values() -> None:
    records = pl.DataFrame({"record_key": ["a", "b", "c"], "mk_city": ["leeds", None, "hull"]})
    table = pl.DataFrame({"mk_city": ["leeds", "york"], "tf_mk_city": [0.25, 0.75]})
    looked_up = _with_term_frequencies(records, {"mk_city": table})
    assert looked_up["record_key"].to_list() == ["a", "b", "c"]
    assert looked_up["tf_mk_city"].to_list() == [0.25, None, None]


def test_filtered_term_frequency_tables_hold_every_value_the_records_look_up(
    features: pl.DataFrame,
) -> None:
    subset = features.sample(15, seed=3)
    tables = {}
    for column in ("mk_last_name", "mk_email"):
        values = pl.concat(
            [
                features.select(column).drop_nulls().unique().sort(column),
                pl.DataFrame({column: [f"other{i}" for i in range(50)]}),
            ]
        )
        tables[column] = values.with_columns(
            (pl.int_range(values.height) / values.height).alias(f"tf_{column}")
        )
    filtered = _tf_rows_of(subset, tables)
    for column, table in tables.items():
        assert filtered[column].height < table.height
        whole = _with_term_frequencies(subset, {column: table})
        part = _with_term_frequencies(subset, {column: filtered[column]})
        assert whole.equals(part)


def test_key_indices_are_positions_in_the_keys_and_null_for_unknown_or_null_keys() -> None:
    keys = pl.Series(["a", "c", "e", "g"])
    named = pl.Series(["g", "x", None, "a", "c", "c"], dtype=pl.String)
    assert _indices(keys, named).to_list() == [3, None, None, 0, 1, 1]
    assert _indices(keys.clear(), named).to_list() == [None] * named.len()


def test_edges_do_not_depend_on_the_order_of_the_pairs() -> None:
    rng = random.Random(5)
    keys = pl.Series([f"k{i:03d}" for i in range(200)])
    rows = [
        (f"k{a:03d}", f"k{b:03d}", round(rng.random(), 2))
        for a, b in ((rng.randrange(200), rng.randrange(200)) for _ in range(500))
        if a != b
    ]
    pairs = pl.DataFrame(
        rows, schema=["record_key_l", "record_key_r", "match_probability"], orient="row"
    ).unique(["record_key_l", "record_key_r"])
    edges = _edges(pairs, keys, 0.5)
    assert edges.equals(_edges(pairs.sample(fraction=1.0, shuffle=True, seed=1), keys, 0.5))
    position = {k: i for i, k in enumerate(keys.to_list())}
    expected = {
        (min(position[left], position[right]), max(position[left], position[right]))
        for left, right, p in pairs.iter_rows()
        if p >= 0.5
    }
    assert set(edges.select("a", "b").iter_rows()) == expected


def test_review_queue_looks_up_each_sides_cluster_and_fields() -> None:
    rng = random.Random(11)
    record_keys = [f"r{i:03d}" for i in range(120)]
    records = pl.DataFrame(
        {
            "record_key": record_keys,
            "first_name": [rng.choice(FIRST) for _ in record_keys],
            "city": [rng.choice(["leeds", None]) for _ in record_keys],
        }
    ).sample(fraction=1.0, shuffle=True, seed=2)
    cluster_of = {k: f"c{rng.randrange(40)}" for k in record_keys}
    clusters = pl.DataFrame(
        {"record_key": list(cluster_of), "cluster_id": list(cluster_of.values())}
    )
    rows = {
        tuple(sorted(rng.sample(record_keys, 2))): rng.choice([0.2, 0.55, 0.7, 0.95, 0.99])
        for _ in range(300)
    }
    pairs = pl.DataFrame(
        [(a, b, p, p - 0.5, 2.0) for (a, b), p in rows.items()],
        schema=["record_key_l", "record_key_r", "match_probability", "match_weight", "bf_x"],
        orient="row",
    )
    queue = review_queue(
        pairs,
        clusters,
        records,
        review_lower=0.5,
        match_threshold=0.9,
        fields=["first_name", "city"],
    )
    field = {r["record_key"]: r for r in records.iter_rows(named=True)}
    expected = {
        (a, b)
        for (a, b), p in rows.items()
        if 0.5 <= p < 0.9 or (p >= 0.9 and cluster_of[a] != cluster_of[b])
    }
    assert set(zip(queue["record_key_l"], queue["record_key_r"], strict=True)) == expected
    for row in queue.iter_rows(named=True):
        for side in ("l", "r"):
            source = field[row[f"record_key_{side}"]]
            assert row[f"first_name_{side}"] == source["first_name"]
            assert row[f"city_{side}"] == source["city"]


@pytest.mark.parametrize(
    "labels",
    [
        [5, 3, 3, 9, 0, 5],
        [],
        [7],
        [-1, 4, 4, 2],  # not component numbers: the sorting way
        [10**9, 2, 2],  # far above the count: the sorting way
    ],
)
def test_dense_labels_are_the_ranks_np_unique_gives(labels: list[int]) -> None:
    array = np.array(labels, dtype=np.int64)
    assert _dense_labels(array).tolist() == np.unique(array, return_inverse=True)[1].tolist()


def test_dense_labels_of_a_million_component_numbers_are_the_ranks_np_unique_gives() -> None:
    labels = np.random.default_rng(0).integers(0, 600_000, 1_000_000)
    assert np.array_equal(_dense_labels(labels), np.unique(labels, return_inverse=True)[1])


def test_set_aside_features_keep_what_clustering_reads_and_give_whole_rows_back(
    features: pl.DataFrame, tmp_path: Path
) -> None:
    fields = [*IDENTITY_COMPARISONS, "email", "phone", "address"]
    narrow, whole = _set_aside(features, fields, tmp_path)
    assert narrow["record_key"].equals(features["record_key"])
    assert {"record_key", "source_system", "mk_dob", "mk_first_name"} <= set(narrow.columns)
    assert not {"mk_email", "mk_phone", "address_words", "bk_email"} & set(narrow.columns)
    keys = pl.Series(["r0042", "r0007", "r0042", "missing"])
    expected = features.filter(pl.col("record_key").is_in(["r0007", "r0042"]))
    assert whole.rows(keys).equals(expected)
