"""One run's step of the history: the previous history tables and this run's golden rows in,
the next history tables out. Pure functions over frames, so a full rebuild and an incremental
run that reach the same golden rows write the same history.

* ``golden_customers_history``: a customer's open version (``valid_to_run`` null) is closed
  when its values change (``changed``), it is absorbed (``absorbed``) or retired
  (``retired``); a new version opens for changed and new ids. Only values count: a new record
  that changes no golden value opens no version.
* ``golden_events``: the previous events, then this run's: every id event of the run's change
  log except ``kept`` ones, plus ``changed`` for a kept id whose values changed (with the
  fields that did).
* ``golden_id_aliases``: replayed from all events and the ids published now, so chains (a
  merged into b, later b into c) resolve to the id that carries the customer today.

Rebuilding a run that already published (a cleared-and-rerun scheduler run) first rolls the
previous tables back to before that run (:func:`roll_back`), so it is not counted twice.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl

from pipelines.history.schema import (
    golden_customers_history_schema,
    golden_events_schema,
    golden_id_aliases_schema,
)
from pipelines.schema import GOLDEN_FIELDS

logger = logging.getLogger(__name__)

_RUN_TIME_FORMAT = "%Y%m%dT%H%M%SZ"


def run_time(run_id: str, fallback: datetime | None = None) -> datetime:
    """When a run started: the time its id begins with (``new_run_id``'s format).

    A run id that does not begin with a time (one given by hand) gets ``fallback`` (or now);
    deriving it from the id keeps a rerun of the same run at the same time.
    """
    try:
        return datetime.strptime(run_id[:16], _RUN_TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return fallback or datetime.now(UTC)


def empty(schema_of: str) -> pl.DataFrame:
    """An empty frame of one history table."""
    schemas = {
        "golden_customers_history": golden_customers_history_schema,
        "golden_events": golden_events_schema,
        "golden_id_aliases": golden_id_aliases_schema,
    }
    frame = pl.from_arrow(schemas[schema_of]().empty_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


@functools.cache
def _polars_schema(table: str) -> pl.Schema:
    return empty(table).schema


def conform(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """``frame`` with the table's columns, in order and type (absent columns null)."""
    schema = _polars_schema(table)
    return frame.select(
        pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype).alias(name)
        for name, dtype in schema.items()
    )


@dataclass(frozen=True)
class History:
    """The three history tables."""

    history: pl.DataFrame
    events: pl.DataFrame
    aliases: pl.DataFrame

    @classmethod
    def empty(cls) -> History:
        return cls(
            empty("golden_customers_history"), empty("golden_events"), empty("golden_id_aliases")
        )


@dataclass(frozen=True)
class Step:
    """What one run adds: the next history tables and its golden rows with
    ``golden_changed_at`` set."""

    tables: History
    golden: pl.DataFrame
    versions_opened: int
    events: int


def roll_back(previous: History, run_id: str) -> History:
    """The history as it was before ``run_id`` (and every later run) published.

    Versions opened by those runs go, versions they closed are open again, their events go;
    ``erased`` events stay (an erasure is not undone by rebuilding a run).
    """
    history = previous.history
    if history.height and (history["valid_from_run"] >= run_id).any():
        history = history.filter(pl.col("valid_from_run") < run_id)
    reopen = pl.col("valid_to_run") >= run_id
    if history.height and history.select(reopen.any()).item():
        history = history.with_columns(
            pl.when(reopen).then(None).otherwise(pl.col(c)).alias(c)
            for c in ("valid_to_run", "valid_to", "closed_by")
        )
    events = previous.events.filter((pl.col("run_id") < run_id) | (pl.col("event") == "erased"))
    return History(history, events, previous.aliases)


def _same(field: str) -> pl.Expr:
    return pl.col(field).eq_missing(pl.col(f"{field}__previous"))


def advance(
    previous: History,
    golden: pl.DataFrame,
    changes: pl.DataFrame,
    run_id: str,
    run_at: datetime,
    unchanged: pl.Series | None = None,
) -> Step:
    """The history after run ``run_id`` built ``golden`` (``golden_customers`` rows) with the
    change log ``changes`` (``golden_changes`` rows).

    ``unchanged`` (optional) names golden ids whose rows are known to equal the previous run's
    (the golden stage's reused survivors): their values are not compared again. The result is
    the same with or without it; it only saves comparing every field of ~99% of the customers
    on an incremental run.
    """
    base = roll_back(previous, run_id)
    history = base.history
    fields = list(GOLDEN_FIELDS)
    open_versions = history.filter(pl.col("valid_to_run").is_null())
    kinds = changes.select("golden_id", "change").unique(subset="golden_id", keep="first")
    known = pl.lit(False) if unchanged is None else pl.col("golden_id").is_in(unchanged.implode())
    # One narrow row per golden id: its open version, its change, whether it is known unchanged.
    # The values are compared only for ids with an open version not known unchanged, and never
    # carried through the joins: every frame that holds them is as large as the golden table.
    current = (
        golden.select("golden_id", known.alias("_known"))
        .join(
            open_versions.select("golden_id", "version", "valid_from"), on="golden_id", how="left"
        )
        .join(kinds, on="golden_id", how="left")
    )
    differing = pl.concat_list(
        [pl.when(~_same(f)).then(pl.lit(f)).otherwise(pl.lit(None, pl.String)) for f in fields]
    ).list.drop_nulls()
    touched = (
        golden.select("golden_id", *fields)
        .join(
            current.filter(~pl.col("_known") & pl.col("version").is_not_null()),
            on="golden_id",
            how="semi",
        )
        .join(
            open_versions.select("golden_id", *(pl.col(f).alias(f"{f}__previous") for f in fields)),
            on="golden_id",
        )
        .select("golden_id", differing.alias("changed_fields"))
        .filter(pl.col("changed_fields").list.len() > 0)
    )
    current = current.join(touched, on="golden_id", how="left").with_columns(
        (pl.col("version").is_not_null() & pl.col("changed_fields").is_null()).alias("_unchanged")
    )
    run_events = _run_events(changes, touched, run_id, run_at)
    del touched
    # Versions opened by this run: new ids and ids whose values changed.
    opened = current.filter(~pl.col("_unchanged")).select("golden_id", "version", "change")
    unchanged_since = current.filter("_unchanged").select(
        "golden_id", pl.col("valid_from").alias("_at")
    )
    del current
    last_version = history.group_by("golden_id").agg(pl.col("version").max().alias("_last"))
    new_versions = (
        opened.join(last_version, on="golden_id", how="left").join(
            golden.select("golden_id", *fields), on="golden_id", how="left"
        )
    ).with_columns(
        (pl.col("_last").fill_null(0) + 1).cast(pl.Int64).alias("version"),
        pl.lit(run_id).alias("valid_from_run"),
        pl.lit(run_at).cast(pl.Datetime("us", "UTC")).alias("valid_from"),
        pl.when(pl.col("_last").is_null())
        .then(
            pl.when(pl.col("change") == "split").then(pl.lit("split")).otherwise(pl.lit("created"))
        )
        .when(pl.col("change") == "merged")
        .then(pl.lit("merged"))
        .otherwise(pl.lit("changed"))
        .alias("opened_by"),
    )
    # Versions this run closes: changed values, and ids no longer published.
    absorbed = changes.filter(pl.col("change") == "absorbed")["golden_id"]
    ended = open_versions.join(golden.select("golden_id"), on="golden_id", how="anti")["golden_id"]
    closing = pl.concat([opened.filter(pl.col("version").is_not_null())["golden_id"], ended])
    del opened
    if closing.len():
        closes = pl.col("golden_id").is_in(closing.implode()) & pl.col("valid_to_run").is_null()
        history = history.with_columns(
            pl.when(closes)
            .then(pl.lit(run_id))
            .otherwise(pl.col("valid_to_run"))
            .alias("valid_to_run"),
            pl.when(closes)
            .then(pl.lit(run_at).cast(pl.Datetime("us", "UTC")))
            .otherwise(pl.col("valid_to"))
            .alias("valid_to"),
            pl.when(closes & pl.col("golden_id").is_in(absorbed.implode()))
            .then(pl.lit("absorbed"))
            .when(closes & pl.col("golden_id").is_in(ended.implode()))
            .then(pl.lit("retired"))
            .when(closes)
            .then(pl.lit("changed"))
            .otherwise(pl.col("closed_by"))
            .alias("closed_by"),
        )
    history = pl.concat([history, conform(new_versions, "golden_customers_history")]).sort(
        "golden_id", "version"
    )
    opened_count = new_versions.height

    # golden_changed_at: when the values a customer has now were first published.
    changed_at = pl.concat(
        [unchanged_since, new_versions.select("golden_id", pl.col("valid_from").alias("_at"))]
    )
    del new_versions, unchanged_since
    golden = (
        golden.drop("golden_changed_at", strict=False)
        .join(changed_at, on="golden_id", how="left", maintain_order="left")
        .rename({"_at": "golden_changed_at"})
    )

    latest = base.events["run_id"].max()
    if latest is None or str(latest) < run_id:  # appended after every earlier run: no re-sort
        events = pl.concat([base.events, run_events.sort("golden_id", "event")])
    else:
        events = pl.concat([base.events, run_events]).sort(
            "run_id", "golden_id", "event", maintain_order=True
        )
    aliases = replay_aliases(events, golden["golden_id"], history)
    logger.info(
        "history of run %s: %d version(s) opened, %d closed, %d event(s)",
        run_id,
        opened_count,
        closing.len(),
        run_events.height,
    )
    return Step(History(history, events, aliases), golden, opened_count, run_events.height)


def _run_events(
    changes: pl.DataFrame, touched: pl.DataFrame, run_id: str, run_at: datetime
) -> pl.DataFrame:
    """This run's events: the change log without ``kept``, plus ``changed`` for kept ids whose
    values changed; ``changed_fields`` (from ``touched``: ``golden_id``, ``changed_fields`` of
    ids whose open version's values differ) on every kept or merged id whose values changed."""
    log = changes.join(touched, on="golden_id", how="left")
    log = log.filter(
        (pl.col("change") != "kept") | pl.col("changed_fields").is_not_null()
    ).with_columns(
        pl.when(pl.col("change") == "kept")
        .then(pl.lit("changed"))
        .otherwise(pl.col("change"))
        .alias("event"),
        pl.lit(run_id).alias("run_id"),
        pl.lit(run_at).cast(pl.Datetime("us", "UTC")).alias("at"),
    )
    return conform(log, "golden_events")


def replay_aliases(
    events: pl.DataFrame, published: pl.Series, history: pl.DataFrame | None = None
) -> pl.DataFrame:
    """``golden_id_aliases`` from every event and the ids published now.

    Each id's last ending event (absorbed, retired, erased) decides its status; an absorbed
    id follows its survivor, and the survivor's own ending, to the end of the chain.
    """
    ids = [
        events.select("golden_id", "run_id"),
        pl.DataFrame(
            {"golden_id": published, "run_id": None},
            schema={"golden_id": pl.String, "run_id": pl.String},
        ),
    ]
    if history is not None:
        ids.append(history.select("golden_id", pl.col("valid_from_run").alias("run_id")))
    ever = pl.concat(ids).group_by("golden_id").agg(pl.col("run_id").min().alias("first_run"))
    endings = (
        events.filter(pl.col("event").is_in(["absorbed", "retired", "erased"]))
        .sort("run_id", "at", maintain_order=True)
        .group_by("golden_id", maintain_order=True)
        .agg(pl.all().last())
        .select(
            "golden_id",
            pl.col("event").alias("_end"),
            pl.col("run_id").alias("_end_run"),
            pl.col("related_golden_ids").list.first().alias("_into"),
        )
    )
    is_published = pl.col("golden_id").is_in(published.implode())
    table = ever.join(endings, on="golden_id", how="left").with_columns(
        pl.when(is_published).then(pl.lit("active")).otherwise(pl.col("_end")).alias("_end"),
        pl.when(is_published).then(None).otherwise(pl.col("_into")).alias("_into"),
    )
    # Follow absorbed ids to the end of their chain (depth = merges in a row; few).
    step = table.select(
        pl.col("golden_id").alias("_next"),
        pl.col("_end").alias("_next_end"),
        pl.col("_into").alias("_next_into"),
        pl.col("_end_run").alias("_next_run"),
    )
    chain = table.with_columns(
        pl.col("_into").alias("_at"),
        pl.col("_end").alias("_final"),
        pl.col("_end_run").alias("_final_run"),
    )
    for _ in range(64):
        following = chain.filter((pl.col("_final") == "absorbed") & pl.col("_at").is_not_null())
        if following.is_empty():
            break
        chain = (
            chain.join(step, left_on="_at", right_on="_next", how="left")
            .with_columns(
                pl.when(pl.col("_final") == "absorbed")
                .then(pl.col("_next_end"))
                .otherwise(pl.col("_final"))
                .alias("_final"),
                pl.when(
                    (pl.col("_final") == "absorbed")
                    & pl.col("_next_end").is_in(["retired", "erased"])
                )
                .then(pl.col("_next_run"))
                .otherwise(pl.col("_final_run"))
                .alias("_final_run"),
                pl.when((pl.col("_final") == "absorbed") & (pl.col("_next_end") == "absorbed"))
                .then(pl.col("_next_into"))
                .otherwise(pl.col("_at"))
                .alias("_at"),
            )
            .drop("_next_end", "_next_into", "_next_run")
        )
    else:  # pragma: no cover - a cycle would need an id to be absorbed by its own absorber
        raise ValueError("golden_events hold an absorption cycle; cannot resolve aliases")
    out = chain.with_columns(
        pl.when(pl.col("_final") == "active")
        .then(
            pl.when(pl.col("_end") == "active").then(pl.col("golden_id")).otherwise(pl.col("_at"))
        )
        .otherwise(None)
        .alias("current_golden_id"),
        pl.when(pl.col("_end") == "active")
        .then(pl.lit("active"))
        .when(pl.col("_final") == "active")
        .then(pl.lit("merged"))
        .when(pl.col("_final").is_null())
        .then(pl.lit("retired"))
        .otherwise(pl.col("_final"))
        .alias("status"),
        pl.when(pl.col("_end") == "active")
        .then(pl.col("first_run"))
        .when(pl.col("_final") == "active")
        .then(pl.col("_end_run"))
        .otherwise(pl.max_horizontal("_end_run", "_final_run"))
        .alias("since_run"),
    )
    return conform(out, "golden_id_aliases").sort("golden_id")
