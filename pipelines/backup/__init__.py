"""Backups of the published golden tables and the warehouse state to S3-compatible storage.

Entry points: :func:`backup`, :func:`list_backups`, :func:`verify_backup`, :func:`restore`,
:func:`apply_retention`, and :func:`destroy_backup_key` (crypto-shredding one encrypted backup,
for erasure). The bucket layout is described in :mod:`pipelines.backup.manifest`, encryption in
:mod:`pipelines.backup.crypto`.

Names are imported on first use, so that loading the configuration (which imports this
package's ``config`` module) does not import boto3.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.backup.catalog import BackupInfo, list_backups
    from pipelines.backup.check import ObjectCheck
    from pipelines.backup.keys import destroy_backup_key
    from pipelines.backup.recovery import RestoreResult, restore
    from pipelines.backup.retention import RetentionResult, apply_retention, plan_retention
    from pipelines.backup.upload import BackupResult, backup
    from pipelines.backup.verify import VerifyReport, verify_backup

_EXPORTS = {
    "BackupInfo": "pipelines.backup.catalog",
    "list_backups": "pipelines.backup.catalog",
    "ObjectCheck": "pipelines.backup.check",
    "destroy_backup_key": "pipelines.backup.keys",
    "RestoreResult": "pipelines.backup.recovery",
    "restore": "pipelines.backup.recovery",
    "RetentionResult": "pipelines.backup.retention",
    "apply_retention": "pipelines.backup.retention",
    "plan_retention": "pipelines.backup.retention",
    "BackupResult": "pipelines.backup.upload",
    "backup": "pipelines.backup.upload",
    "VerifyReport": "pipelines.backup.verify",
    "verify_backup": "pipelines.backup.verify",
}

__all__ = [
    "BackupInfo",
    "BackupResult",
    "ObjectCheck",
    "RestoreResult",
    "RetentionResult",
    "VerifyReport",
    "apply_retention",
    "backup",
    "destroy_backup_key",
    "list_backups",
    "plan_retention",
    "restore",
    "verify_backup",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
