"""The files of one match run's folder (``runs/<run_id>/match/``), named once.

A plain-constants module: the pipeline's stages and the privacy workflows address these files
without importing Splink.
"""

from __future__ import annotations

from typing import Final

RESULT_FILE: Final = "result.json"
"""The run's :class:`~matching.matcher.MatchSummary` and paths; written last, so a folder that
has it is complete."""
MODEL_FILE: Final = "model.json"
PAIRS_FILE: Final = "pairs.parquet"
CLUSTERS_FILE: Final = "clusters.parquet"
REVIEW_QUEUE_FILE: Final = "review_queue.parquet"
TRAINING_PAIRS_FILE: Final = "training_pairs.parquet"
"""The pairs suggested for stewards to label, ranked (:mod:`matching.active`)."""
FEATURES_FILE: Final = "features.parquet"
"""Per-record feature hashes of a match run (``record_key``, ``feature_hash``)."""
TF_DIR: Final = "tf"
"""Folder of a match run's term-frequency tables, one ``<column>.parquet`` per column."""
CLUSTERING_DIR: Final = "clustering"
"""Folder of a match run's clustering state (:class:`matching.clustering.ClusteringState`):
``settings.json``, ``decisions.parquet``, ``components.parquet`` and ``stats.parquet``."""
