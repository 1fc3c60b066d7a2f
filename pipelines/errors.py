"""Exceptions the pipeline raises on purpose.

Every message names the thing a user has to fix (file, row, config key, source) so that an
operator reading an Airflow log or a CLI error knows where to look without a traceback.
"""

from __future__ import annotations


class GoldenError(Exception):
    """Base class for errors the pipeline reports to its user."""


class ConfigError(GoldenError):
    """The configuration file is missing, unreadable or has a bad value."""


class SourceError(GoldenError):
    """A source cannot be read, or its data does not fit its configured mapping."""


class SchemaDriftError(SourceError):
    """A mapped column is missing from a source."""


class ValidationGateError(GoldenError):
    """A quality gate tripped: the run stops before anything is published."""


class StageInputError(GoldenError):
    """A stage was asked to run but the output of the stage before it is missing."""


class PublishError(GoldenError):
    """Publishing failed; the previously published version is still in place."""


class BackupError(GoldenError):
    """A backup, verify or restore failed."""


class PrivacyError(GoldenError):
    """An erasure, export or masking request cannot be carried out."""
