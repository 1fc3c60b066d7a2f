"""Privacy: masked views per role, erasure, access requests, retention, suppression.

Entry points: :func:`forget` (``golden forget``), :func:`export_subject`
(``golden export-subject``), :func:`apply_record_retention` (maintenance DAG),
:func:`enforce_backup_erasures`, :func:`reapply_erasures` (after a restore), and
:class:`RoleArtefacts` (built by publish). The audit trail is :mod:`pipelines.audit`; the policy
is described in ``docs/privacy.md``.

Names are imported on first use: :mod:`pipelines.config` imports this package's ``config``
module, and loading a config must not pull in Polars or DuckDB.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.privacy.backups import BackupErasureResult, enforce_backup_erasures
    from pipelines.privacy.export import ExportResult, export_subject
    from pipelines.privacy.forgetting import ErasureResult, ReapplyResult, forget, reapply_erasures
    from pipelines.privacy.retention import RecordRetentionResult, apply_record_retention
    from pipelines.privacy.roles import RoleArtefacts, add_masked_views, role_dir

_EXPORTS = {
    "BackupErasureResult": "pipelines.privacy.backups",
    "enforce_backup_erasures": "pipelines.privacy.backups",
    "ExportResult": "pipelines.privacy.export",
    "export_subject": "pipelines.privacy.export",
    "ErasureResult": "pipelines.privacy.forgetting",
    "ReapplyResult": "pipelines.privacy.forgetting",
    "forget": "pipelines.privacy.forgetting",
    "reapply_erasures": "pipelines.privacy.forgetting",
    "RecordRetentionResult": "pipelines.privacy.retention",
    "apply_record_retention": "pipelines.privacy.retention",
    "RoleArtefacts": "pipelines.privacy.roles",
    "add_masked_views": "pipelines.privacy.roles",
    "role_dir": "pipelines.privacy.roles",
}

__all__ = [
    "BackupErasureResult",
    "ErasureResult",
    "ExportResult",
    "ReapplyResult",
    "RecordRetentionResult",
    "RoleArtefacts",
    "add_masked_views",
    "apply_record_retention",
    "enforce_backup_erasures",
    "export_subject",
    "forget",
    "reapply_erasures",
    "role_dir",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
