"""What one ingest of one source did, as stored in ``result.json`` and the run summary."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, model_validator


class IngestResult(BaseModel):
    """Counts reconcile: ``rows_read == rows_landed + rows_rejected + rows_suppressed +
    rows_flagged_deleted``.

    ``rows_read`` counts every row the source delivered in this batch, parsable or not. Rows an
    incremental load found unchanged (same id and row hash as in the current set) are not part
    of the batch; they are counted in ``rows_unchanged``.
    """

    source: str
    run_id: str
    batch_id: str
    kind: str
    incremental: bool
    """True when only rows changed after ``watermark_before`` were loaded."""
    full_reload: bool
    rows_read: int
    rows_landed: int
    rows_rejected: int
    rows_suppressed: int = 0
    rows_flagged_deleted: int = 0
    """Rows the source sent flagged deleted (``deletions.flag_column``): deletions, not records."""
    rows_unchanged: int = 0
    rows_current: int
    """Records in ``current.parquet`` after this batch."""
    records_new: int = 0
    """Rows landed whose id the current set did not hold."""
    new_behind_watermark: int = 0
    """New ids whose update time is at or before the watermark: late or backdated records a
    timestamp filter would have skipped."""
    records_changed: int = 0
    """Rows landed whose id the current set held with other values."""
    deleted_at_source: int = 0
    """Records of the current set found deleted at the source in this batch."""
    retired: int = 0
    """Records that left the current set as deleted at the source in this batch (including
    confirmed ones from the review queue)."""
    queued_for_review: int = 0
    """Deleted records newly queued for steward review (``deletions.action: review``)."""
    pending_review: int = 0
    """The review queue after this batch: deleted at the source, still in the current set."""
    restored: int = 0
    """Queued records the source delivered again (taken off the queue)."""
    deletions_held_for_review: bool = False
    """Deletions were queued although the action is ``retire``: rows rejected without a
    readable id might have been the missing records."""
    reconciled_ids: bool = False
    """A database source's ids were reconciled in full (``--reconcile``)."""
    columns: list[str]
    """Source columns of this batch, in order."""
    new_columns: list[str]
    """Columns nobody expected (schema drift; reported, not fatal)."""
    dropped_columns: list[str]
    """Expected, unmapped columns the source no longer sends."""
    absent_keys: list[str] = Field(default_factory=list)
    """Mapped keys of a JSON Lines source that no record of this batch carries, read as null
    (``SourceConfig.omits_empty_keys``)."""
    watermark_before: datetime | None
    watermark_after: datetime | None
    origins: list[str]
    """Files, objects or tables read."""
    ingested_at: datetime
    reused_batch: bool
    """True when this run id's identical raw batch was already committed (idempotent rerun)."""
    raw_path: str
    current_path: str
    rejects_path: str

    @model_validator(mode="after")
    def _counts_reconcile(self) -> IngestResult:
        accounted = (
            self.rows_landed + self.rows_rejected + self.rows_suppressed + self.rows_flagged_deleted
        )
        if self.rows_read != accounted:
            raise ValueError(
                f"source {self.source!r}: {self.rows_read} rows read but {accounted} accounted "
                "for (landed + rejected + suppressed + flagged deleted); this is a bug, please "
                "report it"
            )
        return self
