"""Building blocks shared by every section of the pipeline configuration.

Kept apart from :mod:`pipelines.config` so that each stage can declare its own section next to
its code without importing the whole configuration (and without import cycles).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo


class StrictModel(BaseModel):
    """A config section: unknown keys are errors; attribute docstrings document each key."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


def _resolve(value: Path, info: ValidationInfo) -> Path:
    """Resolve a relative path against the directory of the config file that named it.

    A config file can then be moved together with its data, and the pipeline behaves the same
    whatever directory it is started from.
    """
    value = Path(value).expanduser()
    base = (info.context or {}).get("base_dir")
    if value.is_absolute() or base is None:
        return value
    return (Path(base) / value).resolve()


ConfigPath = Annotated[Path, AfterValidator(_resolve)]
"""A path in the config file; relative paths are relative to the config file's directory."""

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def _check_name(value: str) -> str:
    if not _NAME_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid name: use lower-case letters, digits and '_', "
            "starting with a letter (it becomes a folder and table name)"
        )
    return value


Name = Annotated[str, AfterValidator(_check_name)]
"""A name used in folder and table names (sources, suites, roles)."""
