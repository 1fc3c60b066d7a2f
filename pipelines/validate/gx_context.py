"""GX Data Contexts the pipeline uses: ephemeral, analytics off, no progress bars.

One function builds them so that every place that touches GX gets the same settings: usage
statistics never leave the machine (customer-data teams often run air-gapped), and GX's metric
progress bars stay out of CLI and Airflow logs. Stores are in memory unless a folder is given
for validation results (the Data Docs site reads every run's results from there).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from great_expectations.data_context import AbstractDataContext

DATA_DOCS_SITE = "local_site"


def gx_context(
    validation_results_dir: Path | None = None, data_docs_dir: Path | None = None
) -> AbstractDataContext:
    """An ephemeral GX context; filesystem-backed where folders are given."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    defaults = InMemoryStoreBackendDefaults()
    stores = dict(defaults.stores)
    if validation_results_dir is not None:
        stores[defaults.validation_results_store_name] = {
            "class_name": "ValidationResultsStore",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(Path(validation_results_dir).resolve()),
            },
        }
    sites = {}
    if data_docs_dir is not None:
        sites[DATA_DOCS_SITE] = {
            "class_name": "SiteBuilder",
            # The how-to buttons link to GX's website: nothing a steward needs.
            "show_how_to_buttons": False,
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(Path(data_docs_dir).resolve()),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    config = DataContextConfig(
        store_backend_defaults=defaults,
        stores=stores,
        data_docs_sites=sites,
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
    )
    return gx.get_context(project_config=config, mode="ephemeral")
