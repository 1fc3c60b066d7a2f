"""Exceptions the pipeline raises on purpose.

Every message names the thing a user has to fix (file, row, config key, source) so that an
operator reading an Airflow log or a CLI error knows where to look without a traceback. Each
class carries the ``golden`` command's exit status for it (``exit_code``), so a scheduler or a
script can tell a bad config from a failed source, a tripped gate or a held lock.
"""

from __future__ import annotations


class GoldenError(Exception):
    """Base class for errors the pipeline reports to its user."""

    exit_code: int = 1
    """The ``golden`` command's exit status for this error (the README's table): 2 usage or
    config, 3 a source failed, 4 a quality gate tripped, 5 the run lock is held, 1 the rest."""


class UsageError(GoldenError):
    """A command was given something it cannot use (a folder, an option's value)."""

    exit_code = 2


class ConfigError(GoldenError):
    """The configuration file is missing, unreadable or has a bad value."""

    exit_code = 2


class SourceError(GoldenError):
    """A source cannot be read, or its data does not fit its configured mapping."""

    exit_code = 3


class SchemaDriftError(SourceError):
    """A mapped column is missing from a source."""


class ValidationGateError(GoldenError):
    """A quality gate tripped: the run stops before anything is published."""

    exit_code = 4


class StageInputError(GoldenError):
    """A stage was asked to run but the output of the stage before it is missing."""

    exit_code = 2  # the command was run before the one that produces its input


class PublishError(GoldenError):
    """Publishing failed; the previously published version is still in place."""


class BackupError(GoldenError):
    """A backup, verify or restore failed."""


class PrivacyError(GoldenError):
    """An erasure, export or masking request cannot be carried out."""
