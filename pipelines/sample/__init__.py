"""Seeded, deterministic messy customer data with ground truth.

One population of true customers (look-alikes included) is rendered into three source systems
that differ in shape and format: a CRM export (``crm.csv``), a web shop feed (``shop.jsonl``) and
a billing extract (``billing.parquet``). ``ground_truth.csv`` maps every source record to its true
customer. :func:`mutate_sample` produces the next day of the same sources for incremental runs.
"""

from pipelines.sample.config import SOURCES, NoiseRates, SampleOptions
from pipelines.sample.generate import generate_sample
from pipelines.sample.mutate import mutate_sample
from pipelines.sample.records import customers_for_records
from pipelines.sample.results import MutationInfo, SampleInfo

__all__ = [
    "SOURCES",
    "MutationInfo",
    "NoiseRates",
    "SampleInfo",
    "SampleOptions",
    "customers_for_records",
    "generate_sample",
    "mutate_sample",
]
