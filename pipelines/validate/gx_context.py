"""GX Data Contexts the pipeline uses: ephemeral, analytics off, no progress bars.

One function builds them so that every place that touches GX gets the same settings: usage
statistics never leave the machine (customer-data teams often run air-gapped), and GX's metric
progress bars stay out of CLI and Airflow logs. Stores are in memory; GX renders nothing for the
pipeline (the Data Docs pages are :mod:`pipelines.validate.report_pages`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from great_expectations.data_context import AbstractDataContext


def gx_context() -> AbstractDataContext:
    """An ephemeral GX context with in-memory stores."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    return gx.get_context(project_config=config, mode="ephemeral")
