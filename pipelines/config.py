"""The pipeline configuration: one YAML file describes a deployment.

``load_config`` is the only way configuration enters the pipeline. Every problem it finds is a
:class:`~pipelines.errors.ConfigError` that names the file, the key (as a dotted path such as
``sources[1].mapping``) and, where the YAML has one, the line, so a user can fix it without
reading code. Secrets never live in the file: it names the environment variables that hold them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from matching.config import MatchingConfig
from pipelines.backup.config import BackupConfig
from pipelines.config_base import ConfigPath, StrictModel
from pipelines.config_yaml import load_yaml, short_repr, shorten
from pipelines.errors import ConfigError
from pipelines.golden.config import GoldenConfig
from pipelines.i18n.choose import LanguageSetting
from pipelines.ingest.config import SourceConfig
from pipelines.privacy.config import PrivacyConfig
from pipelines.publish.config import PublishConfig
from pipelines.review_due.config import ReviewDueConfig
from pipelines.scorecard.config import ScorecardConfig
from pipelines.standardise.config import StandardiseConfig
from pipelines.validate.config import BUNDLED_EXPECTATIONS, ValidationConfig
from pipelines.warehouse_root import check_root

MAX_LISTED_PROBLEMS = 20
"""Problems listed in one config error; the count of the rest follows."""


class WarehouseConfig(StrictModel):
    path: ConfigPath = Field(default_factory=lambda: Path.cwd() / "warehouse")
    """Root of every artefact; relative paths are relative to the config file. Refused: `/`,
    system folders, the home folder itself, and a non-empty folder that is not a warehouse
    (a warehouse holds the marker file `.golden-warehouse`, written on first use)."""
    duckdb_memory_limit: str = "4GB"
    """Memory limit of each DuckDB outside matching (publish runs two at once); DuckDB spills
    to disk beyond it."""
    access: Literal["owner", "group"] = "owner"
    """Who may read the warehouse's files, whatever the umask: ``owner`` (files 0600, folders
    0700) or ``group`` (0640 / 0750: the owner's group reads, e.g. role readers)."""

    @field_validator("path")
    @classmethod
    def _a_place_of_its_own(cls, value: Path) -> Path:
        # Not /, a system folder, the home folder itself, or a folder holding other things.
        return check_root(value)


SCHEDULED_TASKS = (
    "start_run",
    "ingest_and_validate",
    "standardise",
    "validate_staged",
    "data_docs",
    "gate",
    "match",
    "golden",
    "publish",
    "backup",
    "finish_run",
)
"""The tasks of the scheduled run (the ``customer_golden_records`` DAG), one per stage or step."""


class OrchestrationConfig(StrictModel):
    task_timeout_minutes: dict[str, int] = Field(default_factory=dict)
    """Per task of the scheduled run (``match: 480``), the minutes after which the scheduler
    stops it as hung and fails it; tasks not named keep the DAG's defaults (docs/airflow.md).
    ``golden run`` on the command line is not limited."""

    @field_validator("task_timeout_minutes")
    @classmethod
    def _known_tasks(cls, value: dict[str, int]) -> dict[str, int]:
        for task, minutes in value.items():
            if task not in SCHEDULED_TASKS:
                raise ValueError(
                    f"{task!r} is not a task of the scheduled run; use one of "
                    + ", ".join(SCHEDULED_TASKS)
                )
            if not 1 <= minutes <= 7 * 24 * 60:
                raise ValueError(f"{task}: {minutes} minutes is outside 1..10080")
        return value


class AlertsConfig(StrictModel):
    on_failure: list[Literal["log", "email", "slack"]] = Field(default_factory=lambda: ["log"])
    """Where failure alerts go: ``log``, ``email``, ``slack``."""
    email_to: list[str] = Field(default_factory=list)
    """Recipients of ``email`` alerts; the relay is ``GOLDEN_SMTP_HOST``/``GOLDEN_SMTP_PORT``."""
    slack_webhook_env: str | None = None
    """Environment variable holding the Slack incoming-webhook URL."""

    @model_validator(mode="after")
    def _channels_have_targets(self) -> AlertsConfig:
        # Caught at load time: an alert channel without a target would only fail mid-incident.
        if "email" in self.on_failure and not self.email_to:
            raise ValueError("on_failure includes 'email', so email_to must list recipients")
        if "slack" in self.on_failure and not self.slack_webhook_env:
            raise ValueError(
                "on_failure includes 'slack', so slack_webhook_env must name the environment "
                "variable that holds the webhook URL"
            )
        return self


class PipelineConfig(StrictModel):
    """A whole deployment."""

    project: str = "golden-records"
    """A label for logs, alerts and the audit trail."""
    warehouse: WarehouseConfig = Field(default_factory=WarehouseConfig)
    """Where every artefact of every run is kept."""
    sources: list[SourceConfig] = Field(min_length=1)
    """The source systems to ingest, each with its column mapping and parsing hints."""
    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    """Expectation suites, Data Docs and the quality gate."""
    standardise: StandardiseConfig = Field(default_factory=StandardiseConfig)
    """Standardisation options shared by every source."""
    matching: MatchingConfig = Field(default_factory=MatchingConfig)
    """The Splink model, thresholds and engine."""
    golden: GoldenConfig = Field(default_factory=GoldenConfig)
    """Survivorship rules and golden ids."""
    publish: PublishConfig = Field(default_factory=PublishConfig)
    """Published versions of the golden tables."""
    backup: BackupConfig = Field(default_factory=BackupConfig)
    """Backups to S3-compatible object storage."""
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    """Roles and masking, erasure, retention of personal data."""
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    """Where failure alerts go."""
    orchestration: OrchestrationConfig = Field(default_factory=OrchestrationConfig)
    """Limits the scheduler applies to a scheduled run."""
    review_due: ReviewDueConfig = Field(default_factory=ReviewDueConfig)
    """What makes records due for periodic review, and how often the table is refreshed."""
    scorecard: ScorecardConfig = Field(default_factory=ScorecardConfig)
    """The per-source quality scorecard (``dq_scorecard``)."""
    language: LanguageSetting = "auto"
    """Language of the stewards' workspace, the run summary and the reports (Data Docs, the
    scorecard report): ``en``, ``zh_CN`` (Simplified Chinese) or ``auto``. With ``auto`` the
    workspace follows each browser's ``Accept-Language``, ``golden run`` its terminal's locale
    (``LC_ALL`` / ``LC_MESSAGES`` / ``LANG``), and the reports a run writes are in English. A
    workspace user's own choice (the language links in its header) wins over all of these."""

    config_path: Path | None = Field(default=None, exclude=True)
    """Where this config was loaded from (set by ``load_config``, not by the file)."""

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, value: list[SourceConfig]) -> list[SourceConfig]:
        seen: set[str] = set()
        for source in value:
            if source.name in seen:
                raise ValueError(f"two sources are named {source.name!r}; names must be unique")
            seen.add(source.name)
        return value

    @model_validator(mode="after")
    def _attributes_described_and_mapped(self) -> PipelineConfig:
        described = set(self.matching.attributes)
        for index, source in enumerate(self.sources):
            unknown = sorted(set(source.attributes) - described)
            if unknown:
                raise ValueError(
                    f"sources[{index}].attributes names {unknown}, which matching.attributes "
                    f"does not describe (add e.g. matching.attributes.{unknown[0]}: "
                    "{kind: identifier})"
                )
        mapped = {name for source in self.sources for name in source.attributes}
        unmapped = sorted(described - mapped)
        if unmapped:
            raise ValueError(
                f"matching.attributes.{unmapped[0]} is mapped by no source "
                f"(add it to a source's attributes: {{{unmapped[0]}: <column>}})"
            )
        return self

    @model_validator(mode="after")
    def _review_sources_exist(self) -> PipelineConfig:
        review = self.review_due
        for key in ("stale_after_days_by_source", "golden_id_columns"):
            unknown = sorted(set(getattr(review, key)) - set(self.source_names))
            if unknown:
                raise ValueError(
                    f"review_due.{key} names unknown source(s) {unknown}; "
                    f"sources are {self.source_names}"
                )
        return self

    @model_validator(mode="after")
    def _resolve_model_path(self) -> PipelineConfig:
        # matching/ cannot import the path helpers of pipelines/, so its path is resolved here.
        model_path = self.matching.model_path
        if model_path is not None and not model_path.is_absolute() and self.config_path:
            self.matching.model_path = (self.config_path.parent / model_path).resolve()
        return self

    @model_validator(mode="after")
    def _default_suites_beside_the_config_or_bundled(self) -> PipelineConfig:
        if "expectations_dir" in self.validation.model_fields_set:
            return self
        base = self.config_path.parent if self.config_path else Path.cwd()
        beside = (base / "expectations").resolve()
        if not beside.is_dir() and BUNDLED_EXPECTATIONS.is_dir():
            self.validation.use_bundled_suites()
        else:
            self.validation.expectations_dir = beside
        return self

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources)
        raise ConfigError(f"no source named {name!r} in {self.config_path}; sources are: {known}")

    @property
    def source_names(self) -> list[str]:
        return [s.name for s in self.sources]


def load_config(
    path: str | os.PathLike[str], overrides: dict[str, Any] | None = None
) -> PipelineConfig:
    """Read, validate and resolve a pipeline config file.

    ``overrides`` are dotted keys applied on top of the file (``{"warehouse.path": "/tmp/w"}``),
    for the CLI's flags and for tests. The ``GOLDEN_WAREHOUSE`` environment variable sets
    ``warehouse.path`` (below explicit overrides), so one file serves several environments.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist (give the path of a YAML file)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    data, root = load_yaml(text, path)
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of keys at the top level")
    env_warehouse = os.environ.get("GOLDEN_WAREHOUSE")
    if env_warehouse:
        _set_dotted(data, "warehouse.path", env_warehouse)
    for key, value in (overrides or {}).items():
        _set_dotted(data, key, value)
    data["config_path"] = str(path.resolve())
    try:
        return PipelineConfig.model_validate(data, context={"base_dir": path.resolve().parent})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path, root)) from None


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def _describe(exc: ValidationError, path: Path, root: yaml.Node | None) -> str:
    lines = [f"config file {path} has {exc.error_count()} problem(s):"]
    for listed, error in enumerate(exc.errors()):
        if listed == MAX_LISTED_PROBLEMS:
            lines.append(f"  … and {exc.error_count() - listed} more")
            break
        loc = error["loc"]
        key = _dotted(loc)
        line = _line_of(root, loc)
        where = f" (line {line})" if line else ""
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (check its spelling; see docs/configuration.md)"
        elif error["type"] == "missing":
            message = "required key is missing"
        elif "input" in error and error["type"] not in ("model_type", "dict_type"):
            message = f"{message} (got {short_repr(error['input'])})"
        # A validator's own message may quote the value: never echo a huge input whole.
        lines.append(f"  - {key or '<top level>'}{where}: {shorten(message, 300)}")
    return "\n".join(lines)


def _dotted(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_of(node: yaml.Node | None, loc: Sequence[int | str]) -> int | None:
    """Line number (1-based) of the deepest YAML node on ``loc`` that exists in the file."""
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((kv for kv in node.value if kv[0].value == part), None)
            if match is None:
                break
            line = match[0].start_mark.line + 1
            node = match[1]
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line
