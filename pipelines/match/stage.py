"""``match(config, run_id)``: read the run's accepted staged records and the steward decisions,
call :func:`matching.matcher.match_records`, write its outputs under ``runs/<id>/match/``.

Outputs (``docs/architecture.md``): ``model.json`` (the Splink model, reusable with
``--model``), ``tf/<column>.parquet`` (the term-frequency tables the scores used),
``features.parquet`` (a hash of each record's matching features), ``pairs.parquet``,
``clusters.parquet``, ``review_queue.parquet``, ``training_pairs.parquet``, ``charts/*.html``
and ``result.json``. Each is written through ``atomic_path``, so a rerun for the same run id
overwrites and a crash leaves no half-written file; ``result.json`` comes last, so a match
folder with one is complete.

Unless a full rebuild is asked for, the latest earlier run with a complete match is handed to
the matcher as the base of an incremental match (``matching.incremental``).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow.parquet as pq

from matching.clustering import ClusteringState
from matching.errors import ConflictingDecisionsError, MatchingInputError
from matching.features import GLYPH_COLUMNS, OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from matching.layout import (
    CLUSTERING_DIR,
    CLUSTERS_FILE,
    FEATURES_FILE,
    MODEL_FILE,
    PAIRS_FILE,
    RESULT_FILE,
    REVIEW_QUEUE_FILE,
    TF_DIR,
    TRAINING_PAIRS_FILE,
)
from matching.matcher import MatchOutput, MatchSummary, match_records
from pipelines.errors import GoldenError, StageInputError
from pipelines.schema import CANONICAL_FIELDS
from pipelines.warehouse import Warehouse, atomic_path, write_json

if TYPE_CHECKING:  # pipelines.config imports matching.config: no cycle at run time
    from pipelines.config import PipelineConfig

logger = logging.getLogger(__name__)

_PARQUET: dict[str, Any] = {"compression": "zstd", "compression_level": 1}
"""How the match outputs are written: zstd's fastest level makes files as small as its default
level does for these columns (keys, ids and probabilities) in about half the time."""


class MatchResult(MatchSummary):
    """What the match stage did; stored as ``match/result.json`` and in the run summary."""

    run_id: str
    model_path: str | None
    """The model this run wrote (``match/model.json``); reuse it with ``--model``."""
    reused_model: str | None = None
    """The saved model this run scored with instead of training, if any."""
    charts_dir: str
    charts: list[str]
    outputs: dict[str, str]


def match(
    config: PipelineConfig,
    run_id: str,
    model_path: Path | None = None,
    full_rebuild: bool = False,
) -> MatchResult:
    """Match the run's accepted staged records. ``model_path`` (or ``matching.model_path`` in
    the config) reuses a saved Splink model instead of training on this run's records;
    ``full_rebuild`` scores every pair even when an earlier run's match could be built on."""
    warehouse = Warehouse(config.warehouse.path)
    staged_path = warehouse.require(warehouse.staged_accepted(run_id), "validate_staged")
    model_path = model_path or config.matching.model_path
    if model_path is not None and not Path(model_path).is_file():
        raise StageInputError(
            f"saved model {model_path} does not exist (given with --model or matching.model_path)"
        )
    # A scan: matching reads the file whole once for the features, then only the rows the
    # review queue shows (the records are not held beside their features for the stage).
    records = _with_attributes(_scan_staged(staged_path), config, warehouse, run_id)
    must_link, cannot_link = _decisions(warehouse)
    out_dir = warehouse.match_dir(run_id)
    out_dir.mkdir(parents=True, exist_ok=True)
    previous = None if full_rebuild else previous_match_dir(warehouse, run_id)
    logger.info(
        "run %s: matching %d records (%d must-link, %d cannot-link decisions)",
        run_id,
        pq.read_metadata(staged_path).num_rows,
        len(must_link),
        len(cannot_link),
    )
    with tempfile.TemporaryDirectory(prefix=".work-", dir=out_dir) as work:
        try:
            output = match_records(
                records,
                config.matching,
                work_dir=Path(work),
                must_link=must_link,
                cannot_link=cannot_link,
                model_path=Path(model_path) if model_path else None,
                review_fields=CANONICAL_FIELDS,
                previous=previous,
                full_rebuild=full_rebuild,
            )
        except ConflictingDecisionsError as exc:
            raise GoldenError(f"{warehouse.decisions}: {exc}") from None
        except MatchingInputError as exc:
            raise StageInputError(f"{staged_path}: {exc}") from None

    paths = {
        "model": out_dir / MODEL_FILE,
        "pairs": out_dir / PAIRS_FILE,
        "clusters": out_dir / CLUSTERS_FILE,
        "review_queue": out_dir / REVIEW_QUEUE_FILE,
        "training_pairs": out_dir / TRAINING_PAIRS_FILE,
        "features": out_dir / FEATURES_FILE,
        "tf": out_dir / TF_DIR,
        "clustering": out_dir / CLUSTERING_DIR,
    }
    # A rerun for the same run id may be about to overwrite the base it read: result.json
    # goes first, so an interrupted rewrite leaves an incomplete folder, never a mixed one.
    (out_dir / RESULT_FILE).unlink(missing_ok=True)
    if output.model is not None:
        with atomic_path(paths["model"]) as tmp:
            tmp.write_text(json.dumps(output.model, indent=2) + "\n", encoding="utf-8")
    else:
        # A rerun on fewer records must not leave an earlier attempt's model behind.
        paths["model"].unlink(missing_ok=True)
    for name in ("pairs", "clusters", "review_queue", "training_pairs"):
        frame: pl.DataFrame | None = getattr(output, name)
        if frame is None:
            paths[name].unlink(missing_ok=True)
            continue
        with atomic_path(paths[name]) as tmp:
            frame.write_parquet(tmp, **_PARQUET)
    if output.feature_hashes is not None:
        with atomic_path(paths["features"]) as tmp:
            output.feature_hashes.write_parquet(tmp, **_PARQUET)
    else:
        paths["features"].unlink(missing_ok=True)
    _write_tf_tables(paths["tf"], output.tf_tables, output.tf_source)
    _write_clustering_state(paths["clustering"], output.clustering_state)
    charts_dir = out_dir / "charts"
    chart_paths = _write_charts(charts_dir, output.charts)

    result = MatchResult(
        **output.summary.model_dump(),
        run_id=run_id,
        model_path=str(paths["model"]) if output.model is not None else None,
        reused_model=_reused_model(output, model_path, previous),
        charts_dir=str(charts_dir),
        charts=[str(p) for p in chart_paths],
        outputs={name: str(path) for name, path in paths.items()},
    )
    write_json(out_dir / RESULT_FILE, result.model_dump(mode="json"))
    logger.info(
        "run %s: %s match: %d clusters (%d records in multi-record clusters), %d pairs for review",
        run_id,
        result.incremental.path,
        result.clusters,
        result.records_in_multi_record_clusters,
        result.review_pairs,
    )
    return result


def previous_match_dir(warehouse: Warehouse, run_id: str) -> Path | None:
    """The match folder of the latest run before ``run_id`` whose match completed (its
    ``result.json`` is written last); None when there is none. Run ids sort by time."""
    runs = warehouse.run(run_id).parent
    if not runs.is_dir():
        return None
    earlier = sorted((p for p in runs.iterdir() if p.name < run_id), reverse=True)
    for run in earlier:
        folder = warehouse.match_dir(run.name)
        if (folder / RESULT_FILE).is_file():
            return folder
    return None


def _reused_model(output: MatchOutput, given: Path | None, previous: Path | None) -> str | None:
    if output.summary.incremental.path == "incremental" and previous is not None:
        return str(previous / MODEL_FILE)
    return str(given) if given else None


def _write_tf_tables(
    folder: Path, tables: dict[str, pl.DataFrame], source: Path | None = None
) -> None:
    """Write the term-frequency tables and remove any a previous attempt left that this run
    did not use. Tables read unchanged from ``source`` are hard-linked from there when the
    file system allows (at a million records they are millions of rows, and never change)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = set()
    for column, table in tables.items():
        target = folder / f"{column}.parquet"
        with atomic_path(target) as tmp:
            original = source / target.name if source is not None else None
            try:
                if original is None:
                    raise FileNotFoundError
                tmp.unlink(missing_ok=True)
                os.link(original, tmp)
            except OSError:
                table.write_parquet(tmp)
        written.add(target)
    for stale in set(folder.glob("*.parquet")) - written:
        stale.unlink()


def _write_clustering_state(folder: Path, state: ClusteringState | None) -> None:
    """Write what the next run needs to keep untouched components' clusters; without a state
    (nothing was matched) remove any a previous attempt left, so none is trusted."""
    if state is None:
        if folder.is_dir():
            for stale in folder.iterdir():
                stale.unlink()
        return
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("decisions", "components", "stats"):
        frame: pl.DataFrame = getattr(state, name)
        with atomic_path(folder / f"{name}.parquet") as tmp:
            frame.write_parquet(tmp)
    write_json(folder / "settings.json", state.settings)


def _scan_staged(path: Path) -> pl.LazyFrame:
    """The columns matching and the review queue read, with a clear error for a file that
    lacks the matching keys or cannot be read."""
    try:
        present = set(pq.read_schema(path).names)
    except (OSError, ValueError) as exc:
        raise StageInputError(f"{path} is not a readable Parquet file: {exc}") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in present]
    if missing:
        raise StageInputError(
            f"{path} has no column(s) {missing}: the standardise stage writes them "
            "(see pipelines/schema.py)"
        )
    wanted = dict.fromkeys(
        [*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS, *GLYPH_COLUMNS, *CANONICAL_FIELDS]
    )
    return pl.scan_parquet(path).select([c for c in wanted if c in present])


def _with_attributes(
    records: pl.LazyFrame, config: PipelineConfig, warehouse: Warehouse, run_id: str
) -> pl.LazyFrame:
    """``records`` with ``attr_<name>`` for every extra matching attribute
    (``sources[].attributes``), read from each source's ingested records of the run (the
    staged schema keeps only canonical fields): raw text, several columns joined with a
    space; null for sources that do not map it."""
    from pipelines.ingest.mapping import column_reference

    names = list(config.matching.attributes)
    if not names:
        return records
    parts = []
    for source in config.sources:
        if not source.attributes:
            continue
        path = warehouse.current_records(run_id, source.name)
        if not path.is_file():
            raise StageInputError(
                f"{path} is missing: the attributes of source {source.name!r} are read from "
                "the run's ingested records (run its ingest stage)"
            )
        columns = pq.read_schema(path).names
        wanted: dict[str, list[tuple[str, str | None]]] = {}
        for name in names:
            refs = []
            for reference in source.attribute_columns(name):
                resolved = column_reference(reference, columns)
                if resolved is None and source.omits_empty_keys:
                    continue  # no record of the source carries the key: null
                if resolved is None:
                    raise StageInputError(
                        f"{path}: source {source.name!r} has no column {reference!r} named "
                        f"in its attributes.{name}"
                    )
                refs.append(resolved)
            wanted[name] = refs
        read = {c for refs in wanted.values() for c, _ in refs}
        frame = pl.read_parquet(path, columns=["record_key", *sorted(read)])
        parts.append(
            frame.select(
                "record_key",
                *(_joined(refs).alias(f"attr_{name}") for name, refs in wanted.items()),
            )
        )
    if not parts:
        return records
    attributes = pl.concat(parts, how="diagonal_relaxed")
    return records.join(attributes.lazy(), on="record_key", how="left", maintain_order="left")


def _joined(refs: list[tuple[str, str | None]]) -> pl.Expr:
    """One attribute's value as text: its columns (or JSON paths inside them) joined with a
    space, blanks skipped; null when the source does not map it."""
    if not refs:
        return pl.lit(None, dtype=pl.String)
    values = []
    for column, path in refs:
        text = pl.col(column).cast(pl.String)
        values.append((text if path is None else text.str.json_path_match(path)).str.strip_chars())
    joined = pl.concat_str(values, separator=" ", ignore_nulls=True)
    return pl.when(joined != "").then(joined)


def _decisions(warehouse: Warehouse) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Active must-link and cannot-link pairs; none before any steward decided anything."""
    if not warehouse.decisions.exists():
        return [], []
    from matching.decisions import DecisionError, DecisionStore

    try:
        return DecisionStore(warehouse.decisions).links()
    except DecisionError as exc:
        raise StageInputError(f"{warehouse.decisions}: {exc}") from None


def _write_charts(charts_dir: Path, charts: dict[str, str]) -> list[Path]:
    """Write this run's charts and remove any a previous attempt left that this one did not
    produce (a rerun must not show a stale waterfall)."""
    charts_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, html in charts.items():
        target = charts_dir / f"{name}.html"
        with atomic_path(target) as tmp:
            tmp.write_text(html, encoding="utf-8")
        written.append(target)
    for stale in set(charts_dir.glob("*.html")) - set(written):
        stale.unlink()
    return sorted(written)
