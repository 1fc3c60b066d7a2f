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

Clustering is a pure function of each connected component of pass 1 (its records' matching
columns, the links and decisions inside it, its record keys): nothing outside a component is
read when it is checked or rebuilt, and ties between equally strong links are broken by record
key, never by input order. An incremental run (:func:`cluster_with_state` with a ``base``)
therefore keeps the previous run's clusters for every component that has exactly the same
records, none of them new or changed, and the same decisions, and clusters only the rest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from matching.errors import ConflictingDecisionsError, MatchingInputError

logger = logging.getLogger(__name__)

CLUSTER_SCHEMA = {"record_key": pl.String, "cluster_id": pl.String, "match_probability": pl.Float64}

COMPONENTS_SCHEMA = {
    "record_key": pl.String,
    "component": pl.Int64,
    "size": pl.Int64,
    "cluster_id": pl.String,
}
"""Members of the components clustering checked (``ClusteringState.components``): the
component's run-local number and its number of records, and the record's cluster. The size is
kept beside the rows so that a component that lost a row without the run being told (an
erasure drops records from every file) is never mistaken for an untouched one."""
STATS_SCHEMA = {"component": pl.Int64, "stat": pl.String, "value": pl.Int64}
"""What clustering found in each checked component, one row per non-zero figure."""
DECISIONS_SCHEMA = {"kind": pl.String, "record_key_l": pl.String, "record_key_r": pl.String}
"""Steward decisions a run clustered with, each pair ordered (smaller key on the left)."""

CLUSTERING_SCHEME = 2
"""Version of the clustering rules; a base clustered under another scheme is not reused.
2: links of equal strength are taken in record-key order (1 took them in input order)."""

_LARGE_CLUSTER = 1_000
"""Clusters above this size are logged: every pair inside them is checked for contradictions."""

_CONTRADICTION_PREFIX = "contradiction:"


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
    components_kept: int = 0
    """Checked components taken over from the base run's clustering unchanged."""
    components_reclustered: int = 0
    """Checked components clustered by this run (all of them without a base)."""


@dataclass
class ClusteringState:
    """What a later run needs to keep this run's clusters for the components nothing touched:
    saved beside ``clusters.parquet``, read back as the ``base`` of :func:`cluster_with_state`."""

    settings: dict[str, Any]
    """:func:`clustering_settings` of the run; a base with other settings is not reused."""
    decisions: pl.DataFrame
    """``DECISIONS_SCHEMA``: the must-links and cannot-links the run clustered with."""
    components: pl.DataFrame
    """``COMPONENTS_SCHEMA``: each record of a component that pass 2 checked, the component's
    name and the record's cluster (what a later run keeps)."""
    stats: pl.DataFrame
    """``STATS_SCHEMA``: per checked component, contradictions found (in total and per
    identity field), links refused, clusters split off and cannot-links applied."""


def clustering_settings(threshold: float, contradictions: Mapping[str, str]) -> dict[str, Any]:
    """Everything besides the pairs, decisions and records that decides the clusters."""
    digest = hashlib.sha256(json.dumps(dict(contradictions), sort_keys=True).encode())
    return {
        "scheme": CLUSTERING_SCHEME,
        "match_threshold": threshold,
        "contradictions": digest.hexdigest()[:16],
    }


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

    Returns the ``clusters.parquet`` frame, in the order of ``records``: ``record_key``,
    ``cluster_id`` (run-local, the same for the same input) and ``match_probability`` (the
    record's strongest link into its cluster; 1.0 when a steward must-link put it there; null
    for singletons).

    ``contradictions`` maps a name to a SQL condition on ``<column>_l``/``<column>_r`` that is
    true when two records must not share a cluster; ``None`` uses the model's identity
    contradictions and ``{}`` disables the check. Decisions about records that are not in
    ``records`` are ignored (logged): they refer to records no longer delivered.
    """
    clusters, _ = cluster_with_state(
        records,
        pairs,
        threshold,
        must_link,
        cannot_link,
        contradictions=contradictions,
        report=report,
    )
    return clusters


def cluster_with_state(
    records: pl.DataFrame,
    pairs: pl.DataFrame,
    threshold: float,
    must_link: Iterable[tuple[str, str]] = (),
    cannot_link: Iterable[tuple[str, str]] = (),
    *,
    contradictions: Mapping[str, str] | None = None,
    report: ClusteringReport | None = None,
    base: ClusteringState | None = None,
    touched: pl.Series | None = None,
) -> tuple[pl.DataFrame, ClusteringState]:
    """:func:`cluster_records`, plus the state a later run reuses; with a ``base`` (an
    earlier run's state and clusters) and ``touched`` (record keys whose feature row is new,
    changed or removed since), components untouched since the base keep its clusters.

    The result equals clustering from scratch: a kept component has the same records with the
    same feature rows, hence (the model and term frequencies being frozen) the same links
    inside it, the same decisions and the same settings, and its clusters depend on nothing
    else. The caller must pass a base only when all the pairs between unchanged records are
    the base's pairs (the incremental matching path guarantees it)."""
    report = report if report is not None else ClusteringReport()
    if contradictions is None:
        from matching.settings import contradiction_conditions

        contradictions = contradiction_conditions()
    must_link, cannot_link = list(must_link), list(cannot_link)
    settings = clustering_settings(threshold, contradictions)
    keys, order = _record_keys(records)
    n = keys.len()
    edges = _edges(pairs, keys, threshold)
    must = _decision_pairs(must_link, keys, "must-link", report)
    cannot = _decision_pairs(cannot_link, keys, "cannot-link", report)
    report.must_links_applied = len(must)
    decisions = _decisions_frame(must_link, cannot_link)

    # Pass 1: connected components over model links and must-links.
    components = _components(n, edges, must)
    sizes = np.bincount(components)
    first = _first_members(components, len(sizes))
    steward_apart = [(a, b) for a, b in cannot if components[a] == components[b]]
    checked = sizes > 2 if contradictions else np.zeros(len(sizes), dtype=bool)
    report.clusters_checked = int(checked.sum())
    checked[[components[a] for a, _ in steward_apart]] = True
    if contradictions and int(sizes.max(initial=0)) > _LARGE_CLUSTER:
        logger.warning(
            "%d cluster(s) have more than %d records (largest %d); checking every pair in them",
            int((sizes > _LARGE_CLUSTER).sum()),
            _LARGE_CLUSTER,
            int(sizes.max()),
        )
    in_checked = np.flatnonzero(checked[components])
    checked_frame = pl.DataFrame(
        [
            keys.gather(in_checked).alias("record_key"),
            pl.Series("comp", components[in_checked]),
            pl.Series("idx", in_checked),
        ]
    )
    kept = pl.DataFrame(schema={"comp": pl.Int64, "component": pl.Int64})
    kept_members = pl.DataFrame(schema={"idx": pl.Int64, "cluster_id": pl.String})
    if base is not None and base.settings != settings:
        logger.info(
            "clustering settings changed since the base %s: clustering every component",
            base.settings,
        )
    elif base is not None:
        kept, kept_members = _kept_components(checked_frame, base, touched, decisions)
    report.components_kept = kept.height
    report.components_reclustered = int(checked.sum()) - kept.height

    # Pass 2, on the checked components not kept: which hold a pair that must be apart?
    active = checked.copy()
    active[kept["comp"].to_numpy()] = False
    # Run-local component numbers (never a record key: the state must not keep a key that an
    # erasure removed from the rows).
    names = pl.Series("component", first)
    stats: list[pl.DataFrame] = []
    separated = _contradicting_pairs(
        records, order, components, active & (sizes > 2), contradictions, names, stats
    )
    if separated and edges.height:
        # A pair the model itself linked keeps its link (its score includes the contradiction).
        found = pl.DataFrame(separated, schema={"a": pl.Int64, "b": pl.Int64}, orient="row")
        remaining = found.join(edges.select("a", "b"), on=["a", "b"], how="anti")
        separated = list(remaining.iter_rows())
    steward_apart = [(a, b) for a, b in steward_apart if active[components[a]]]
    stats.append(_count_by_component(steward_apart, components, names, "cannot_links_applied"))
    to_rebuild = {int(components[a]) for a, _ in separated} | {
        int(components[a]) for a, _ in steward_apart
    }
    final = components
    if to_rebuild:
        final = _rebuild(
            components, to_rebuild, edges, must, steward_apart, separated, keys, names, stats
        )
    if kept.height:
        final = _keep(final, kept_members)
        carried = base.stats.join(kept, on="component")
        carried = carried.with_columns(names.gather(carried["comp"]).alias("component"))
        stats.append(carried.select(list(STATS_SCHEMA)))
    stats_frame = pl.concat([s.cast(STATS_SCHEMA) for s in stats])  # type: ignore[arg-type]
    _report_stats(stats_frame, list(contradictions), report)

    clusters = _cluster_frame(keys, order, final, edges, must)
    state = ClusteringState(
        settings=settings,
        decisions=decisions,
        components=checked_frame.select(
            "record_key",
            names.gather(checked_frame["comp"]).alias("component"),
            pl.Series("size", sizes[checked_frame["comp"].to_numpy()]),
            clusters["cluster_id"].gather(order[checked_frame["idx"].to_numpy()]),
        ),
        stats=stats_frame.sort("component", "stat"),
    )
    return clusters, state


def _record_keys(records: pl.DataFrame) -> tuple[pl.Series, np.ndarray]:
    """The record keys sorted (a record's index below is its rank by key) and, per index, the
    record's row in ``records``."""
    if "record_key" not in records.columns:
        raise MatchingInputError("records to cluster need a 'record_key' column")
    keys = records["record_key"].cast(pl.String)
    if keys.null_count():
        raise MatchingInputError("records to cluster have a null record_key")
    order = keys.arg_sort()
    ordered = keys.gather(order)
    if ordered.len() > 1 and bool((ordered.slice(1) == ordered.slice(0, ordered.len() - 1)).any()):
        raise MatchingInputError("records to cluster repeat a record_key")
    return ordered.rename("record_key"), order.to_numpy().astype(np.int64)


def _indices(keys: pl.Series, named: pl.Series) -> pl.Series:
    """Each key of ``named`` as its position in ``keys`` (unique; their order is the index's
    meaning, not a requirement), null when absent. A hash join, not a binary search: the pairs'
    keys come in no order, and a million binary searches over strings at random places cost
    more than hashing the keys once."""
    index = pl.DataFrame(
        [keys.rename("key"), pl.int_range(keys.len(), dtype=pl.Int64, eager=True).alias("index")]
    )
    found = named.rename("key").to_frame().join(index, on="key", how="left", maintain_order="left")
    return found["index"]


def _edges(pairs: pl.DataFrame, keys: pl.Series, threshold: float) -> pl.DataFrame:
    """Model links at or above the threshold as (a, b, p), strongest first (ties broken by
    record key, so the result never depends on input order)."""
    needed = {"record_key_l", "record_key_r", "match_probability"}
    missing = sorted(needed - set(pairs.columns))
    if missing:
        raise MatchingInputError(f"pairs to cluster lack the column(s) {missing}")
    links = pairs.filter(pl.col("match_probability") >= threshold)
    # Both sides in one lookup: the keys are hashed once.
    found = _indices(
        keys,
        pl.concat([links["record_key_l"].cast(pl.String), links["record_key_r"].cast(pl.String)]),
    )
    joined = pl.DataFrame(
        [
            found.head(links.height).alias("a"),
            found.tail(links.height).alias("b"),
            links["match_probability"].cast(pl.Float64).alias("p"),
        ]
    )
    unknown = joined.with_row_index("row").filter(pl.col("a").is_null() | pl.col("b").is_null())
    if unknown.height:
        row = links.row(int(unknown["row"][0]), named=True)
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
    decisions: list[tuple[str, str]],
    keys: pl.Series,
    kind: str,
    report: ClusteringReport,
) -> list[tuple[int, int]]:
    if not decisions:
        return []
    left = _indices(keys, pl.Series([a for a, _ in decisions], dtype=pl.String)).to_list()
    right = _indices(keys, pl.Series([b for _, b in decisions], dtype=pl.String)).to_list()
    out: set[tuple[int, int]] = set()
    ignored = 0
    for a, b in zip(left, right, strict=True):
        if a is None or b is None:
            ignored += 1
            continue
        if a != b:
            out.add((min(a, b), max(a, b)))
    if ignored:
        report.decisions_ignored += ignored
        logger.info("%d %s decision(s) name records not in this run; ignored", ignored, kind)
    return sorted(out)


def _decisions_frame(
    must_link: list[tuple[str, str]], cannot_link: list[tuple[str, str]]
) -> pl.DataFrame:
    rows = [
        (kind, *sorted((str(a), str(b))))
        for kind, pairs in (("must_link", must_link), ("cannot_link", cannot_link))
        for a, b in pairs
    ]
    frame = pl.DataFrame(rows, schema=DECISIONS_SCHEMA, orient="row")
    return frame.unique().sort("kind", "record_key_l", "record_key_r")


def _components(n: int, edges: pl.DataFrame, must: list[tuple[int, int]]) -> np.ndarray:
    a = np.concatenate([edges["a"].to_numpy(), np.array([m[0] for m in must], dtype=np.int64)])
    b = np.concatenate([edges["b"].to_numpy(), np.array([m[1] for m in must], dtype=np.int64)])
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


def _first_members(labels: np.ndarray, count: int) -> np.ndarray:
    """Per label, its smallest record index (the one with the smallest key)."""
    first = np.full(count, len(labels), dtype=np.int64)
    np.minimum.at(first, labels, np.arange(len(labels), dtype=np.int64))
    return first


def _kept_components(
    checked: pl.DataFrame,
    base: ClusteringState,
    touched: pl.Series | None,
    decisions: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The checked components (``comp``, and ``component``, their name) whose records are
    exactly the records of one of the base's checked components, none touched, and no
    decision about any of them added or revoked since the base; and those components' records
    (``idx``, and ``cluster_id``, their cluster in the base run)."""
    changed = pl.concat(
        [
            decisions.join(base.decisions, on=list(DECISIONS_SCHEMA), how="anti"),
            base.decisions.join(decisions, on=list(DECISIONS_SCHEMA), how="anti"),
        ]
    )
    dirty = pl.concat(
        [
            touched.cast(pl.String) if touched is not None else pl.Series([], dtype=pl.String),
            changed["record_key_l"],
            changed["record_key_r"],
        ]
    ).implode()
    base_sizes = base.components.group_by("component").agg(
        pl.len().alias("base_rows"), pl.col("size").first().alias("base_size")
    )
    members = checked.join(base.components.drop("size"), on="record_key", how="left").with_columns(
        pl.col("record_key").is_in(dirty).alias("dirty")
    )
    kept = (
        members.group_by("comp")
        .agg(
            pl.len().alias("size"),
            pl.col("component").count().alias("in_base"),
            pl.col("component").n_unique().alias("names"),
            pl.col("component").first(),
            pl.col("dirty").any(),
        )
        .join(base_sizes, on="component", how="left")
        .filter(
            (pl.col("in_base") == pl.col("size"))
            & (pl.col("names") == 1)
            & (pl.col("base_size") == pl.col("size"))
            & (pl.col("base_rows") == pl.col("size"))
            & ~pl.col("dirty")
        )
        .select("comp", "component")
    )
    return kept, members.join(kept, on="comp", how="semi").select("idx", "cluster_id")


def _keep(labels: np.ndarray, kept: pl.DataFrame) -> np.ndarray:
    """Give the records of the kept components (``idx``, ``cluster_id``) the base's clusters."""
    codes = kept["cluster_id"].cast(pl.Categorical).to_physical().to_numpy().astype(np.int64)
    out = labels.copy()
    out[kept["idx"].to_numpy()] = int(labels.max()) + 1 + codes
    return out


def _contradicting_pairs(
    records: pl.DataFrame,
    order: np.ndarray,
    components: np.ndarray,
    check: np.ndarray,
    contradictions: Mapping[str, str],
    names: pl.Series,
    stats: list[pl.DataFrame],
) -> list[tuple[int, int]]:
    """Every pair of records sharing one of the components flagged in ``check`` that meets a
    contradiction condition (a two-record cluster is one direct link or must-link, which a
    contradiction does not undo, so only larger ones are flagged)."""
    if not contradictions:
        return []
    columns = sorted(referenced_columns(contradictions))
    missing = sorted(set(columns) - set(records.columns))
    if missing:
        raise MatchingInputError(
            f"records lack the column(s) {missing} that the contradiction check reads: pass the "
            "frame from matching.features.matching_frame, or contradictions={} to skip the check"
        )
    idx = np.flatnonzero(check[components])
    if not len(idx):
        return []
    nodes = records.select(columns)[order[idx]].with_columns(
        pl.Series("idx", idx), pl.Series("comp", components[idx])
    )
    select, flags = contradiction_sql(contradictions)
    any_flag = " OR ".join(f'"{name}"' for name in contradictions)
    with duckdb.connect() as con:
        con.register("nodes", nodes.to_arrow())
        found = con.sql(
            f"""
            WITH p AS (
                SELECT l.idx AS a, r.idx AS b, l.comp AS comp, {select}
                FROM nodes l JOIN nodes r ON l.comp = r.comp AND l.idx < r.idx
            ), f AS (SELECT a, b, comp, {flags} FROM p)
            SELECT * FROM f WHERE {any_flag}
            """
        ).pl()
    if found.height:
        named = found.with_columns(names.gather(found["comp"]).alias("component"))
        stats.append(
            named.group_by("component").agg(
                pl.lit("contradictions_found").alias("stat"), pl.len().alias("value")
            )
        )
        for name in contradictions:
            stats.append(
                named.filter(pl.col(name))
                .group_by("component")
                .agg(
                    pl.lit(f"{_CONTRADICTION_PREFIX}{name}").alias("stat"), pl.len().alias("value")
                )
            )
    return list(zip(found["a"].to_list(), found["b"].to_list(), strict=True))


def _count_by_component(
    pairs: list[tuple[int, int]], components: np.ndarray, names: pl.Series, stat: str
) -> pl.DataFrame:
    comps = pl.Series("comp", [int(components[a]) for a, _ in pairs], dtype=pl.Int64)
    return (
        pl.DataFrame([names.gather(comps).alias("component")])
        .group_by("component")
        .agg(pl.lit(stat).alias("stat"), pl.len().alias("value"))
    )


def _report_stats(stats: pl.DataFrame, names: list[str], report: ClusteringReport) -> None:
    totals = dict(stats.group_by("stat").agg(pl.col("value").sum()).iter_rows())
    report.contradictions_found = int(totals.get("contradictions_found", 0))
    report.links_refused = int(totals.get("links_refused", 0))
    report.clusters_split = int(totals.get("clusters_split", 0))
    report.cannot_links_applied = int(totals.get("cannot_links_applied", 0))
    report.contradiction_counts = {
        name: int(totals[f"{_CONTRADICTION_PREFIX}{name}"])
        for name in names
        if totals.get(f"{_CONTRADICTION_PREFIX}{name}")
    }


def referenced_columns(contradictions: Mapping[str, str]) -> set[str]:
    """The feature columns the contradiction conditions read (``<column>_l``/``_r``)."""
    return {m for sql in contradictions.values() for m in re.findall(r"\b(\w+?)_[lr]\b", sql)}


def contradiction_sql(contradictions: Mapping[str, str]) -> tuple[str, str]:
    """SQL select lists for a self-join ``l``/``r`` of a frame of matching features: the
    columns the conditions read, as ``<column>_l``/``<column>_r``, and one boolean per
    condition (``"<field>"``: the pair contradicts in that field). Clustering and the
    stewards' explanation of a split evaluate contradictions with these, so they agree."""
    columns = sorted(referenced_columns(contradictions))
    select = ", ".join(f'l."{c}" AS "{c}_l", r."{c}" AS "{c}_r"' for c in columns)
    flags = ", ".join(
        f'coalesce(({sql}), false) AS "{name}"' for name, sql in contradictions.items()
    )
    return select, flags


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
    keys: pl.Series,
    names: pl.Series,
    stats: list[pl.DataFrame],
) -> np.ndarray:
    """Re-cluster the components that hold a separated pair, honouring the precedence; add
    each one's refused links and extra clusters to ``stats``."""
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
                f"apart (around records {keys[a]!r} and {keys[b]!r}); revoke one of the "
                "decisions"
            )
        groups.union(a, b)

    mask = pl.Series(in_rebuild)
    local = edges.filter(mask.gather(edges["a"]) & mask.gather(edges["b"]))
    refused: list[tuple[int, int]] = []
    for a, b in zip(local["a"].to_list(), local["b"].to_list(), strict=True):
        if groups.find(a) == groups.find(b):
            continue
        if groups.separated(a, b):
            refused.append((a, b))
            continue
        groups.union(a, b)
    stats.append(_count_by_component(refused, components, names, "links_refused"))

    out = components.copy()
    next_label = int(components.max()) + 1
    split_off: list[tuple[int, int]] = []
    seen: set[int] = set()
    for root, members in groups.members.items():
        out[members] = next_label
        next_label += 1
        comp = int(components[root])
        if comp in seen:
            split_off.append((root, root))
        seen.add(comp)
    stats.append(_count_by_component(split_off, components, names, "clusters_split"))
    return out


def _dense_labels(labels: np.ndarray) -> np.ndarray:
    """Each label's rank among the distinct labels (``np.unique``'s inverse). Labels are
    non-negative component numbers below a few times their count, so a presence table and a
    running count give the ranks in linear time instead of sorting a million labels."""
    if len(labels) == 0 or labels.min() < 0 or labels.max() > 4 * len(labels):
        return np.unique(labels, return_inverse=True)[1].astype(np.int64)
    present = np.zeros(int(labels.max()) + 1, dtype=np.int64)
    present[labels] = 1
    return (np.cumsum(present) - 1)[labels]


def _cluster_frame(
    keys: pl.Series,
    order: np.ndarray,
    labels: np.ndarray,
    edges: pl.DataFrame,
    must: list[tuple[int, int]],
) -> pl.DataFrame:
    """The clusters frame in the order of the input records. Run-local ids are numbered in
    order of each cluster's smallest record key: the same input always gives the same ids."""
    n = len(labels)
    dense = _dense_labels(labels)
    first = _first_members(dense, int(dense.max(initial=-1)) + 1)
    ordinal = np.empty(len(first), dtype=np.int64)
    ordinal[np.argsort(first, kind="stable")] = np.arange(1, len(first) + 1)
    size = np.bincount(dense)
    a, b, p = (edges[c].to_numpy() for c in ("a", "b", "p"))
    inside = dense[a] == dense[b]
    strongest = np.full(n, np.nan)
    np.fmax.at(strongest, a[inside], p[inside])
    np.fmax.at(strongest, b[inside], p[inside])
    for x, y in must:
        strongest[x] = strongest[y] = 1.0
    probability = np.where((size[dense] > 1) & ~np.isnan(strongest), strongest, np.nan)
    # Back from key order to the input order.
    by_row = np.empty(n, dtype=np.int64)
    by_row[order] = np.arange(n, dtype=np.int64)
    return (
        pl.DataFrame(
            [
                keys.gather(by_row).alias("record_key"),
                pl.Series("ordinal", ordinal[dense[by_row]]),
                pl.Series("match_probability", probability[by_row], nan_to_null=True),
            ]
        )
        .select(
            "record_key",
            pl.format("c{}", pl.col("ordinal").cast(pl.String).str.zfill(7)).alias("cluster_id"),
            "match_probability",
        )
        .cast(CLUSTER_SCHEMA)
    )  # type: ignore[arg-type]
