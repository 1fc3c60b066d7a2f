"""One reader interface for every source kind: ``read_source`` yields :class:`RawChunk`s.

Files and S3 objects are read one at a time (a folder of many files never sits in memory at
once) and parsed by format; databases stream batches from a server-side cursor.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from pipelines.ingest.chunks import RawChunk
from pipelines.ingest.config import SourceConfig
from pipelines.ingest.csv_reader import read_csv
from pipelines.ingest.jsonl_reader import read_jsonl
from pipelines.ingest.objects import SourceObject, local_objects, s3_objects
from pipelines.ingest.parquet_reader import read_parquet

logger = logging.getLogger(__name__)


def read_source(source: SourceConfig, since: datetime | None) -> Iterator[RawChunk]:
    """Every row the source delivers; ``since`` is the watermark of an incremental load
    (databases apply it in SQL; file rows are filtered after parsing, see ``lineage``)."""
    if source.kind in ("postgres", "mysql"):
        from pipelines.ingest.database import read_database

        yield from read_database(source, since)
        return
    objects = local_objects(source) if source.kind == "file" else s3_objects(source)
    logger.info("%s: %d file(s) to read", source.name, len(objects))
    for obj in objects:
        yield from _read_object(source, obj)


def _read_object(source: SourceConfig, obj: SourceObject) -> Iterator[RawChunk]:
    data = obj.read()
    if source.format == "csv":
        yield read_csv(obj.label, data, source.csv)
    elif source.format == "jsonl":
        yield read_jsonl(obj.label, data, source.csv.encoding)
    else:
        yield from read_parquet(obj.label, data)
