"""The seam where erased subjects are kept out of the raw layer (built by the privacy stage).

An erased subject must not come back because a source still sends it. The privacy stage plugs
in by providing ``pipelines/privacy/suppression.py`` with::

    def suppressed_mask(
        config: PipelineConfig, source: SourceConfig, rows: pl.DataFrame
    ) -> pl.Series: ...

``rows`` are landed rows (lineage columns and the source's own columns, as text); the function
returns a boolean Series, True for rows of erased subjects. Ingestion drops those rows before
they are written anywhere and counts them as ``rows_suppressed``.

Until that module exists nothing is suppressed, and a non-empty suppression list fails the
ingest instead: silently re-ingesting erased people would be worse than stopping.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import polars as pl

from pipelines.errors import PrivacyError
from pipelines.warehouse import Warehouse

if TYPE_CHECKING:
    from pipelines.config import PipelineConfig
    from pipelines.ingest.config import SourceConfig

logger = logging.getLogger(__name__)

SuppressedMask = Callable[["PipelineConfig", "SourceConfig", pl.DataFrame], pl.Series]
_HOOK_MODULE = "pipelines.privacy.suppression"


class Suppressor:
    """Applies the privacy stage's filter to each chunk of one source's batch."""

    def __init__(self, config: PipelineConfig, source: SourceConfig) -> None:
        self.config = config
        self.source = source
        self.mask = _installed_mask()
        if self.mask is None:
            suppression_list = Warehouse(config.warehouse.path).suppression
            if suppression_list.is_file() and suppression_list.read_text().strip():
                raise PrivacyError(
                    f"{suppression_list} lists erased subjects but no suppression filter is "
                    f"installed ({_HOOK_MODULE}.suppressed_mask); refusing to ingest source "
                    f"{source.name!r}, which could bring erased people back"
                )

    def apply(self, rows: pl.DataFrame) -> tuple[pl.DataFrame, int]:
        """The rows to land and how many were suppressed."""
        if self.mask is None or rows.height == 0:
            return rows, 0
        mask = self.mask(self.config, self.source, rows)
        suppressed = int(mask.sum())
        if suppressed:
            logger.info("%s: %d row(s) of erased subjects suppressed", self.source.name, suppressed)
        return rows.filter(~mask), suppressed


def _installed_mask() -> SuppressedMask | None:
    try:
        module = importlib.import_module(_HOOK_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != _HOOK_MODULE:
            raise
        return None
    return module.suppressed_mask
