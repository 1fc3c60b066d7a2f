"""Turn scored pairs and steward decisions into clusters of records (one per customer).

Plain connected components at a threshold lets one weakly described record bridge two people:
a record with only "J Smith" and a household phone links to John and to his twin Jane, and the
twins end up in one cluster although the model scored them apart. Clustering therefore works in
two passes. The first joins every pair at or above the threshold plus every must-link. The
second looks inside each resulting cluster for pairs that must not be together, steward
cannot-links and identity contradictions (``settings.contradiction_conditions``) evaluated on
*every* pair in the cluster, not only the scored ones, and rebuilds just those clusters
greedily: must-links first, then the strongest links, skipping any link that would put a
separated pair back together.

Precedence, strongest first: a steward cannot-link (never joined, whatever the chain), a
steward must-link (always joined, even across a model contradiction), a model contradiction
(unless the model scored that very pair at or above the threshold: its weight is part of the
score, and the other evidence overruled it), a model link at or above the threshold.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import duckdb
import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from matching.errors import ConflictingDecisionsError, MatchingInputError

logger = logging.getLogger(__name__)

CLUSTER_SCHEMA = {"record_key": pl.String, "cluster_id": pl.String, "match_probability": pl.Float64}

_LARGE_CLUSTER = 1_000
"""Clusters above this size are logged: every pair inside them is checked for contradictions."""


@dataclass
class ClusteringReport:
    """What clustering did beyond connected components, for the run summary."""

    clusters_checked: int = 0
    contradictions_found: int = 0
    clusters_split: int = 0
    links_refused: int = 0
    must_links_applied: int = 0
    cannot_links_applied: int = 0
    decisions_ignored: int = 0
    contradiction_counts: dict[str, int] = field(default_factory=dict)


def cluster_records(
    records: pl.DataFrame,
    pairs: pl.DataFrame,
    threshold: float,
    must_link: Iterable[tuple[str, str]] = (),
    cannot_link: Iterable[tuple[str, str]] = (),
    *,
    contradictions: Mapping[str, str] | None = None,
    report: ClusteringReport | None = None,
) -> pl.DataFrame:
    """Cluster ``records`` (``record_key`` plus, for the contradiction check, the matching
    feature columns of :func:`matching.features.matching_frame`) from ``pairs``
    (``record_key_l``, ``record_key_r``, ``match_probability``).

    Returns the ``clusters.parquet`` frame: ``record_key``, ``cluster_id`` (run-local, the same
    for the same input) and ``match_probability`` (the record's strongest link into its
    cluster; 1.0 when a steward must-link put it there; null for singletons).

    ``contradictions`` maps a name to a SQL condition on ``<column>_l``/``<column>_r`` that is
    true when two records must not share a cluster; ``None`` uses the model's identity
    contradictions and ``{}`` disables the check. Decisions about records that are not in
    ``records`` are ignored (logged): they refer to records no longer delivered.
    """
    report = report if report is not None else ClusteringReport()
    if contradictions is None:
        from matching.settings import contradiction_conditions

        contradictions = contradiction_conditions()
    keys = _record_keys(records)
    n = len(keys)
    index = pl.DataFrame(
        [
            pl.Series("record_key", keys, dtype=pl.String),
            pl.Series("idx", np.arange(n, dtype=np.int64)),
        ]
    )

    edges = _edges(pairs, index, threshold)
    must = _decision_pairs(must_link, index, "must-link", report)
    cannot = _decision_pairs(cannot_link, index, "cannot-link", report)
    report.must_links_applied = len(must)

    # Pass 1: connected components over model links and must-links.
    components = _components(n, edges, must)

    # Pass 2: which clusters hold a pair that must be apart?
    separated = _contradicting_pairs(records, components, contradictions, report)
    if separated and edges.height:
        # A pair the model itself linked keeps its link (its score includes the contradiction).
        found = pl.DataFrame(separated, schema={"a": pl.Int64, "b": pl.Int64}, orient="row")
        remaining = found.join(edges.select("a", "b"), on=["a", "b"], how="anti")
        separated = list(remaining.iter_rows())
    steward_apart = [(a, b) for a, b in cannot if components[a] == components[b]]
    report.cannot_links_applied = len(steward_apart)
    to_rebuild = {int(components[a]) for a, _ in separated} | {
        int(components[a]) for a, _ in steward_apart
    }
    if to_rebuild:
        components = _rebuild(components, to_rebuild, edges, must, steward_apart, separated, report)

    return _cluster_frame(keys, components, edges, must)


def _record_keys(records: pl.DataFrame) -> np.ndarray:
    if "record_key" not in records.columns:
        raise MatchingInputError("records to cluster need a 'record_key' column")
    keys = records["record_key"].cast(pl.String)
    if keys.null_count():
        raise MatchingInputError("records to cluster have a null record_key")
    if keys.n_unique() != keys.len():
        raise MatchingInputError("records to cluster repeat a record_key")
    return keys.to_numpy()


def _edges(pairs: pl.DataFrame, index: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """Model links at or above the threshold as (a, b, p), strongest first (ties broken by
    record index, so the result never depends on input order)."""
    needed = {"record_key_l", "record_key_r", "match_probability"}
    missing = sorted(needed - set(pairs.columns))
    if missing:
        raise MatchingInputError(f"pairs to cluster lack the column(s) {missing}")
    links = pairs.filter(pl.col("match_probability") >= threshold).select(
        "record_key_l", "record_key_r", pl.col("match_probability").cast(pl.Float64).alias("p")
    )
    joined = links.join(
        index.rename({"record_key": "record_key_l", "idx": "a"}), on="record_key_l", how="left"
    ).join(index.rename({"record_key": "record_key_r", "idx": "b"}), on="record_key_r", how="left")
    unknown = joined.filter(pl.col("a").is_null() | pl.col("b").is_null())
    if unknown.height:
        row = unknown.row(0, named=True)
        raise MatchingInputError(
            f"{unknown.height} scored pair(s) name records that are not among the records to "
            f"cluster, e.g. {row['record_key_l']!r} - {row['record_key_r']!r}"
        )
    return (
        joined.select(
            pl.min_horizontal("a", "b").alias("a"), pl.max_horizontal("a", "b").alias("b"), "p"
        )
        .filter(pl.col("a") != pl.col("b"))
        .sort(["p", "a", "b"], descending=[True, False, False])
    )


def _decision_pairs(
    decisions: Iterable[tuple[str, str]],
    index: pl.DataFrame,
    kind: str,
    report: ClusteringReport,
) -> list[tuple[int, int]]:
    decisions = list(decisions)
    if not decisions:
        return []
    named = {key for pair in decisions for key in pair}
    found = index.filter(pl.col("record_key").is_in(list(named)))
    lookup = dict(zip(found["record_key"].to_list(), found["idx"].to_list(), strict=True))
    out: set[tuple[int, int]] = set()
    ignored = 0
    for left, right in decisions:
        a, b = lookup.get(left), lookup.get(right)
        if a is None or b is None:
            ignored += 1
            continue
        if a != b:
            out.add((min(a, b), max(a, b)))
    if ignored:
        report.decisions_ignored += ignored
        logger.info("%d %s decision(s) name records not in this run; ignored", ignored, kind)
    return sorted(out)


def _components(n: int, edges: pl.DataFrame, must: list[tuple[int, int]]) -> np.ndarray:
    a = np.concatenate([edges["a"].to_numpy(), np.array([m[0] for m in must], dtype=np.int64)])
    b = np.concatenate([edges["b"].to_numpy(), np.array([m[1] for m in must], dtype=np.int64)])
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


def _contradicting_pairs(
    records: pl.DataFrame,
    components: np.ndarray,
    contradictions: Mapping[str, str],
    report: ClusteringReport,
) -> list[tuple[int, int]]:
    """Every pair of records sharing a cluster that meets a contradiction condition."""
    if not contradictions:
        return []
    columns = sorted(_referenced(contradictions))
    missing = sorted(set(columns) - set(records.columns))
    if missing:
        raise MatchingInputError(
            f"records lack the column(s) {missing} that the contradiction check reads: pass the "
            "frame from matching.features.matching_frame, or contradictions={} to skip the check"
        )
    sizes = np.bincount(components)
    # A two-record cluster is one direct link (or a must-link), which a contradiction does not
    # undo (see the precedence above); only larger clusters can join records through others.
    in_multi = sizes[components] > 2
    if not in_multi.any():
        return []
    nodes = records.select(columns).with_columns(
        pl.Series("idx", np.arange(len(components), dtype=np.int64)),
        pl.Series("comp", components),
    )
    nodes = nodes.filter(pl.Series(in_multi))
    report.clusters_checked = int((sizes > 2).sum())
    large = int((sizes > _LARGE_CLUSTER).sum())
    if large:
        logger.warning(
            "%d cluster(s) have more than %d records (largest %d); checking every pair in them",
            large,
            _LARGE_CLUSTER,
            int(sizes.max()),
        )
    select = ", ".join(f'l."{c}" AS "{c}_l", r."{c}" AS "{c}_r"' for c in columns)
    flags = ", ".join(
        f'coalesce(({sql}), false) AS "{name}"' for name, sql in contradictions.items()
    )
    any_flag = " OR ".join(f'"{name}"' for name in contradictions)
    with duckdb.connect() as con:
        con.register("nodes", nodes.to_arrow())
        found = con.sql(
            f"""
            WITH p AS (
                SELECT l.idx AS a, r.idx AS b, {select}
                FROM nodes l JOIN nodes r ON l.comp = r.comp AND l.idx < r.idx
            ), f AS (SELECT a, b, {flags} FROM p)
            SELECT * FROM f WHERE {any_flag}
            """
        ).pl()
    for name in contradictions:
        count = int(found[name].sum())
        if count:
            report.contradiction_counts[name] = report.contradiction_counts.get(name, 0) + count
    report.contradictions_found = found.height
    return list(zip(found["a"].to_list(), found["b"].to_list(), strict=True))


def _referenced(contradictions: Mapping[str, str]) -> set[str]:
    return {m for sql in contradictions.values() for m in re.findall(r"\b(\w+?)_[lr]\b", sql)}


class _Groups:
    """Union-find that keeps, per group, the records it must never be joined with."""

    def __init__(self, nodes: Iterable[int]) -> None:
        self.parent = {v: v for v in nodes}
        self.members = {v: [v] for v in self.parent}
        self.apart: dict[int, set[int]] = {v: set() for v in self.parent}
        self.steward_apart: dict[int, set[int]] = {v: set() for v in self.parent}

    def find(self, v: int) -> int:
        root = v
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[v] != root:
            self.parent[v], v = root, self.parent[v]
        return root

    def separated(self, a: int, b: int, steward_only: bool = False) -> bool:
        ra, rb = self.find(a), self.find(b)
        small, other = (ra, rb) if len(self.members[ra]) <= len(self.members[rb]) else (rb, ra)
        for table in (self.steward_apart,) if steward_only else (self.steward_apart, self.apart):
            if any(self.find(x) == other for x in table[small]):
                return True
        return False

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if len(self.members[ra]) < len(self.members[rb]):
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.members[ra].extend(self.members.pop(rb))
        self.apart[ra] |= self.apart.pop(rb)
        self.steward_apart[ra] |= self.steward_apart.pop(rb)


def _rebuild(
    components: np.ndarray,
    to_rebuild: set[int],
    edges: pl.DataFrame,
    must: list[tuple[int, int]],
    steward_apart: list[tuple[int, int]],
    separated: list[tuple[int, int]],
    report: ClusteringReport,
) -> np.ndarray:
    """Re-cluster the clusters that hold a separated pair, honouring the precedence."""
    in_rebuild = np.isin(components, np.fromiter(to_rebuild, dtype=np.int64))
    nodes = np.flatnonzero(in_rebuild).tolist()
    groups = _Groups(nodes)
    for a, b in steward_apart:
        groups.steward_apart[a].add(b)
        groups.steward_apart[b].add(a)
    for a, b in separated:
        groups.apart[a].add(b)
        groups.apart[b].add(a)

    for a, b in must:
        if not in_rebuild[a]:
            continue
        if groups.separated(a, b, steward_only=True):
            raise ConflictingDecisionsError(
                "steward decisions conflict: must-links join records that a cannot-link keeps "
                f"apart (around record indices {a} and {b}); revoke one of the decisions"
            )
        groups.union(a, b)

    mask = pl.Series(in_rebuild)
    local = edges.filter(mask.gather(edges["a"]) & mask.gather(edges["b"]))
    for a, b in zip(local["a"].to_list(), local["b"].to_list(), strict=True):
        if groups.find(a) == groups.find(b):
            continue
        if groups.separated(a, b):
            report.links_refused += 1
            continue
        groups.union(a, b)

    out = components.copy()
    next_label = int(components.max()) + 1
    for root, members in groups.members.items():
        del root
        out[members] = next_label
        next_label += 1
    report.clusters_split = len({int(out[v]) for v in nodes}) - len(to_rebuild)
    return out


def _cluster_frame(
    keys: np.ndarray, components: np.ndarray, edges: pl.DataFrame, must: list[tuple[int, int]]
) -> pl.DataFrame:
    frame = pl.DataFrame(
        [pl.Series("record_key", keys, dtype=pl.String), pl.Series("comp", components)]
    )
    sizes = frame.group_by("comp").agg(
        pl.len().alias("size"), pl.col("record_key").min().alias("first_key")
    )
    # Run-local ids numbered in order of each cluster's smallest record key: the same input
    # always gives the same ids.
    sizes = sizes.sort("first_key").with_row_index("ordinal", offset=1)
    comp = pl.Series(components)
    strongest = (
        edges.filter(comp.gather(edges["a"]) == comp.gather(edges["b"]))
        .select(pl.concat_list("a", "b").alias("idx"), "p")
        .explode("idx")
        .group_by("idx")
        .agg(pl.col("p").max())
    )
    if must:
        forced = pl.DataFrame(
            {"idx": [v for pair in must for v in pair], "p": 1.0},
            schema={"idx": pl.Int64, "p": pl.Float64},
        )
        strongest = pl.concat([strongest, forced]).group_by("idx").agg(pl.col("p").max())
    return (
        frame.with_row_index("idx")
        .with_columns(pl.col("idx").cast(pl.Int64))
        .join(sizes, on="comp", how="left")
        .join(strongest, on="idx", how="left")
        .select(
            "record_key",
            pl.format("c{}", pl.col("ordinal").cast(pl.String).str.zfill(7)).alias("cluster_id"),
            pl.when(pl.col("size") > 1).then(pl.col("p")).alias("match_probability"),
        )
        .cast(CLUSTER_SCHEMA)  # type: ignore[arg-type]
    )
