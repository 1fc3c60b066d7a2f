"""``state/sources/<source>.json``: what the next batch of a source builds on.

Written only after a batch succeeded, so a failed run leaves the watermark where it was and the
next run loads the same changes again. Each batch also records what it started from, so the
latest run can be rerun (same run id) from exactly the same starting point.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from pipelines.errors import SourceError
from pipelines.warehouse import read_json, write_json

_HISTORY = 20


class BatchRecord(BaseModel):
    """One committed batch and what it was built on."""

    model_config = ConfigDict(extra="allow")

    run_id: str
    batch_id: str
    full_reload: bool
    watermark_before: datetime | None
    watermark_after: datetime | None
    previous_run_id: str | None
    """Run whose current record set this batch was merged into (None: it replaced it)."""
    compared_run_id: str | None = None
    """Run whose current record set this batch was compared with to find deletions."""
    reconciled: bool = False
    """The batch includes a database id reconciliation (a rerun does it again)."""
    confirmed_deletions: bool = False
    """The batch retired the review queue (a rerun does it again)."""
    columns_before: list[str] | None
    rows_read: int
    rows_landed: int
    rows_rejected: int
    rows_current: int


class SourceState(BaseModel):
    # Other stages may add keys of their own; they are kept.
    model_config = ConfigDict(extra="allow")

    watermark: datetime | None = None
    """Latest update time landed: the next incremental load asks for rows changed after it."""
    last_batch_id: str | None = None
    last_run_id: str | None = None
    last_row_count: int | None = None
    """Records in the source's current set after the last batch (what the gate compares)."""
    columns: list[str] | None = None
    """Source columns of the last batch: new ones in the next batch are reported as drift."""
    history: list[BatchRecord] = []
    """The last batches, oldest first."""
    reconciled_at: datetime | None = None
    """When a database source's ids were last reconciled in full."""


class Baseline(BaseModel):
    """What a batch starts from."""

    watermark: datetime | None = None
    previous_run_id: str | None = None
    """The run whose current set the batch builds on or compares with (None: the first)."""
    columns: list[str] | None = None
    rerun_of_committed: bool = False
    reconciled: bool = False
    confirmed_deletions: bool = False


def load_state(path: Path) -> SourceState:
    if not path.exists():
        return SourceState()
    try:
        return SourceState.model_validate(read_json(path))
    except (ValueError, ValidationError) as exc:
        raise SourceError(
            f"source state {path} is unreadable ({exc}); restore it from a backup, or delete it "
            "to reload the source in full"
        ) from exc


def baseline(state: SourceState, run_id: str, source: str) -> Baseline:
    """Where a batch for ``run_id`` starts: after the last batch, or for a rerun of the last
    batch, where that batch started."""
    if state.last_run_id == run_id and state.history and state.history[-1].run_id == run_id:
        record = state.history[-1]
        return Baseline(
            watermark=record.watermark_before,
            previous_run_id=record.compared_run_id or record.previous_run_id,
            columns=record.columns_before,
            rerun_of_committed=True,
            reconciled=record.reconciled,
            confirmed_deletions=record.confirmed_deletions,
        )
    if any(r.run_id == run_id for r in state.history):
        raise SourceError(
            f"source {source!r}: run {run_id} landed a batch that later runs (last: "
            f"{state.last_run_id}) have built on; rerunning it would roll the source back. "
            "Start a new run instead."
        )
    return Baseline(
        watermark=state.watermark, previous_run_id=state.last_run_id, columns=state.columns
    )


def save_state(
    path: Path,
    state: SourceState,
    record: BatchRecord,
    columns: list[str],
    *,
    reconciled: bool = False,
) -> None:
    history = [r for r in state.history if r.run_id != record.run_id] + [record]
    extra = {"reconciled_at": datetime.now(UTC)} if reconciled else {}
    updated = state.model_copy(
        update={
            **extra,
            "watermark": record.watermark_after,
            "last_batch_id": record.batch_id,
            "last_run_id": record.run_id,
            "last_row_count": record.rows_current,
            "columns": columns,
            "history": history[-_HISTORY:],
        }
    )
    write_json(path, updated.model_dump(mode="json"))
