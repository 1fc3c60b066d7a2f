"""The steward review queue: pairs the model is unsure about, both records side by side.

A pair needs a human when its probability falls in the uncertain band below the match
threshold, or when the model scored it as a match but clustering kept the two records apart
(an identity contradiction elsewhere in the would-be cluster). Pairs a steward has already
decided are left out: the decision, not the model, settles them on every later run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import polars as pl

REVIEW_KEY_COLUMNS = (
    "record_key_l",
    "record_key_r",
    "match_probability",
    "match_weight",
    "weights",
)


def review_queue(
    pairs: pl.DataFrame,
    clusters: pl.DataFrame,
    records: pl.DataFrame | pl.LazyFrame,
    *,
    review_lower: float,
    match_threshold: float,
    decided: Iterable[tuple[str, str]] = (),
    fields: Sequence[str] = (),
) -> pl.DataFrame:
    """``review_queue.parquet``: ``record_key_l``, ``record_key_r``, ``match_probability``,
    ``match_weight``, ``weights`` (JSON: comparison -> match weight in bits), then
    ``<field>_l`` and ``<field>_r`` for each of ``fields`` taken from ``records``.

    Most uncertain first (match weight closest to zero, i.e. probability closest to one half).
    """
    bayes_factors = [c for c in pairs.columns if c.startswith("bf_")]
    # Both sides' clusters in one lookup, so the million cluster rows are hashed once.
    sides = pl.concat([pairs["record_key_l"], pairs["record_key_r"]]).rename("record_key")
    cluster = (
        sides.to_frame()
        .join(
            clusters.select("record_key", "cluster_id"),
            on="record_key",
            how="left",
            maintain_order="left",
        )
        .get_column("cluster_id")
    )
    candidates = pairs.with_columns(
        cluster.head(pairs.height).alias("cluster_l"),
        cluster.tail(pairs.height).alias("cluster_r"),
    ).filter(
        pl.col("match_probability").is_between(review_lower, match_threshold, closed="left")
        | (
            (pl.col("match_probability") >= match_threshold)
            & (pl.col("cluster_l") != pl.col("cluster_r"))
        )
    )
    decided_pairs = [tuple(sorted(pair)) for pair in decided]
    if decided_pairs:
        settled = pl.DataFrame(
            decided_pairs, schema={"a": pl.String, "b": pl.String}, orient="row"
        ).unique()
        candidates = candidates.with_columns(
            pl.min_horizontal("record_key_l", "record_key_r").alias("a"),
            pl.max_horizontal("record_key_l", "record_key_r").alias("b"),
        ).join(settled, on=["a", "b"], how="anti")

    weights = (
        pl.struct(
            [pl.col(bf).log(2).round(3).alias(bf.removeprefix("bf_")) for bf in bayes_factors]
        ).struct.json_encode()
        if bayes_factors
        else pl.lit("{}")
    )
    queue = candidates.select(
        "record_key_l",
        "record_key_r",
        "match_probability",
        "match_weight",
        weights.alias("weights"),
    ).sort(
        [pl.col("match_weight").abs(), "record_key_l", "record_key_r"],
    )

    return side_by_side(queue, records, fields).select(
        *REVIEW_KEY_COLUMNS, *field_columns(records, fields)
    )


def field_columns(records: pl.DataFrame | pl.LazyFrame, fields: Sequence[str]) -> list[str]:
    """``<field>_l``, ``<field>_r`` of each of ``fields`` the records hold, in order."""
    held = records.lazy().collect_schema().names()
    return [c for f in fields if f in held for c in (f"{f}_l", f"{f}_r")]


def side_by_side(
    pairs: pl.DataFrame, records: pl.DataFrame | pl.LazyFrame, fields: Sequence[str]
) -> pl.DataFrame:
    """``pairs`` with ``<field>_l`` and ``<field>_r`` of each of ``fields`` from ``records``
    joined on, for a steward to read both records side by side. ``records`` may be a scan of
    a file: only the pairs' rows are read."""
    held = records.lazy().collect_schema().names()
    available = [f for f in fields if f in held]
    # Only the pairs' records: joining them to every record would hash them all.
    wanted = pl.concat([pairs["record_key_l"], pairs["record_key_r"]]).unique()
    side = (
        records.lazy()
        .select("record_key", *available)
        .filter(pl.col("record_key").is_in(wanted.implode()))
        .collect()
    )
    for suffix in ("l", "r"):
        pairs = pairs.join(
            side.rename({"record_key": f"record_key_{suffix}"}).rename(
                {f: f"{f}_{suffix}" for f in available}
            ),
            on=f"record_key_{suffix}",
            how="left",
            maintain_order="left",
        )
    return pairs
