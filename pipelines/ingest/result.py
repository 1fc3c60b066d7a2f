"""What one ingest of one source did, as stored in ``result.json`` and the run summary."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, model_validator


class IngestResult(BaseModel):
    """Counts reconcile: ``rows_read == rows_landed + rows_rejected + rows_suppressed``.

    ``rows_read`` counts every row the source delivered in this batch, parsable or not. Rows of
    a file source that an incremental load skipped as unchanged since the watermark are not part
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
    rows_unchanged: int = 0
    rows_current: int
    """Records in ``current.parquet`` after this batch."""
    columns: list[str]
    """Source columns of this batch, in order."""
    new_columns: list[str]
    """Columns nobody expected (schema drift; reported, not fatal)."""
    dropped_columns: list[str]
    """Expected, unmapped columns the source no longer sends."""
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
        accounted = self.rows_landed + self.rows_rejected + self.rows_suppressed
        if self.rows_read != accounted:
            raise ValueError(
                f"source {self.source!r}: {self.rows_read} rows read but {accounted} accounted "
                "for (landed + rejected + suppressed); this is a bug, please report it"
            )
        return self
