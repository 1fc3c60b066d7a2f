"""The scorecard rows of earlier runs, from where the history tables come from too."""

from __future__ import annotations

import polars as pl

from pipelines.errors import StageInputError
from pipelines.publish.reader import current_run_id, read_tables
from pipelines.scorecard.build import empty
from pipelines.warehouse import Warehouse


def load_previous(warehouse: Warehouse, previous_run: str | None) -> pl.DataFrame:
    """``dq_scorecard`` as the run that published the id registry left it (else the current
    published version's; else none)."""
    if previous_run is not None:
        path = warehouse.golden_dir(previous_run) / "dq_scorecard.parquet"
        if path.exists():
            try:
                return pl.read_parquet(path).select(empty().columns).cast(empty().schema)
            except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same error
                raise StageInputError(f"{path} is not a readable dq_scorecard ({exc})") from None
    run = current_run_id(warehouse.root)
    if run is None:
        return empty()
    try:
        table = read_tables(warehouse.root, ["dq_scorecard"], run)["dq_scorecard"]
    except StageInputError:
        return empty()
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame.select(empty().columns).cast(empty().schema)
