"""Failure alerts: tell the people who operate the pipeline that a task failed, and where to look.

The Airflow DAGs call :func:`send_failure_alert` from their failure callback; nothing here knows
Airflow, so the same alert can be sent by any scheduler. Channels come from the ``alerts``
section of the config (``on_failure``: ``log``, ``email``, ``slack``). An alert is always logged
at ERROR, whatever else is configured, and sending never raises: a broken mail relay must not
hide the failure it was reporting, so delivery problems are logged and returned instead.

Secrets and endpoints stay out of the config file: the SMTP relay comes from ``GOLDEN_SMTP_HOST``
/ ``GOLDEN_SMTP_PORT`` (and the sender from ``GOLDEN_SMTP_FROM``), the Slack webhook URL from the
environment variable that ``alerts.slack_webhook_env`` names.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage
from typing import Any, Literal

from pydantic import BaseModel, Field

from pipelines.config import PipelineConfig, load_config
from pipelines.errors import ConfigError

logger = logging.getLogger(__name__)

SMTP_HOST_ENV = "GOLDEN_SMTP_HOST"
SMTP_PORT_ENV = "GOLDEN_SMTP_PORT"
SMTP_FROM_ENV = "GOLDEN_SMTP_FROM"
NETWORK_TIMEOUT_SECONDS = 15.0


class FailureAlert(BaseModel):
    """The essentials of one failed task: what failed, in which run, and where its log is."""

    project: str = "golden-records"
    dag_id: str
    task_id: str
    run_id: str
    """The scheduler's run id (Airflow's ``dag_run.run_id``)."""
    exception: str
    try_number: int | None = None
    log_url: str | None = None
    map_index: int | None = None
    """Index of a mapped task instance (one per source), ``None`` for unmapped tasks."""
    map_label: str | None = None
    """What a mapped instance works on (its source name), shown instead of the index."""
    golden_run_id: str | None = None
    """The pipeline's run id: ``runs/<golden_run_id>/`` in the warehouse holds the details."""
    scope: Literal["task", "run", "overdue"] = "task"
    """What the alert is about: one task, a whole run's verdict (every failure of the run in
    one alert), or a run still going past its deadline."""

    @property
    def task_label(self) -> str:
        if self.map_label:
            return f"{self.task_id}[{self.map_label}]"
        mapped = self.map_index is not None and self.map_index >= 0
        return f"{self.task_id}[{self.map_index}]" if mapped else self.task_id

    @property
    def subject(self) -> str:
        if self.scope == "run":
            return f"[{self.project}] {self.dag_id} run {self.run_id} failed"
        if self.scope == "overdue":
            return f"[{self.project}] {self.dag_id} run {self.run_id} is overdue"
        return f"[{self.project}] {self.dag_id}.{self.task_label} failed (run {self.run_id})"

    def text(self) -> str:
        """The alert as plain text: the same words in the log, the email and Slack."""
        lines = [
            self.subject,
            "",
            f"DAG:       {self.dag_id}",
            *([f"task:      {self.task_label}"] if self.scope == "task" else []),
            f"run:       {self.run_id}",
        ]
        if self.golden_run_id:
            lines.append(f"run id:    {self.golden_run_id} (warehouse runs/{self.golden_run_id}/)")
        if self.try_number is not None:
            lines.append(f"try:       {self.try_number}")
        if self.log_url:
            lines.append(f"log:       {self.log_url}")
        lines += ["", "error:", self.exception]
        return "\n".join(lines)


class AlertOutcome(BaseModel):
    """Which channels got the alert, and why the others did not."""

    delivered: list[str] = Field(default_factory=list)
    failed: dict[str, str] = Field(default_factory=dict)


def send_failure_alert(
    config_path: str | os.PathLike[str] | PipelineConfig | None,
    *,
    dag_id: str,
    task_id: str,
    run_id: str,
    exception: str,
    try_number: int | None = None,
    log_url: str | None = None,
    map_index: int | None = None,
    map_label: str | None = None,
    golden_run_id: str | None = None,
    scope: Literal["task", "run", "overdue"] = "task",
) -> AlertOutcome:
    """Log the failure at ERROR and send it to every channel in ``alerts.on_failure``.

    ``config_path`` may be unloadable (the failure being reported may be exactly that): the
    alert is then logged, the config problem is logged beside it and returned as a failed
    ``config`` channel, and nothing else is attempted.
    """
    outcome = AlertOutcome()
    config: PipelineConfig | None = None
    problem: str | None = None
    if isinstance(config_path, PipelineConfig):
        config = config_path
    elif config_path is None:
        problem = "no config path was given, so only the log channel is used"
    else:
        try:
            config = load_config(config_path)
        except ConfigError as exc:
            problem = f"cannot read the alert settings, so only the log channel is used: {exc}"
    alert = FailureAlert(
        project=config.project if config else "golden-records",
        dag_id=dag_id,
        task_id=task_id,
        run_id=run_id,
        exception=exception,
        try_number=try_number,
        log_url=log_url,
        map_index=map_index,
        map_label=map_label,
        golden_run_id=golden_run_id,
        scope=scope,
    )
    logger.error("ALERT %s", alert.text())
    outcome.delivered.append("log")
    if config is None:
        logger.error("alert for %s: %s", alert.task_label, problem)
        outcome.failed["config"] = problem or ""
        return outcome

    for channel in config.alerts.on_failure:
        if channel == "log":
            continue
        try:
            if channel == "email":
                send_email(alert, config.alerts.email_to)
            elif channel == "slack":
                post_to_slack(alert, _slack_webhook_url(config))
        except (OSError, smtplib.SMTPException, ValueError) as exc:
            # OSError covers refused connections, DNS failures, timeouts and urllib's URLError.
            message = f"{type(exc).__name__}: {exc}"
            logger.error(
                "could not send the %s alert for %s: %s", channel, alert.task_label, message
            )
            outcome.failed[channel] = message
        else:
            outcome.delivered.append(channel)
            logger.info("sent the %s alert for %s", channel, alert.task_label)
    return outcome


def run_overdue(
    context: dict[str, Any] | None = None,
    *,
    dag_id: str,
    config_path: str | None,
    deadline_minutes: int,
) -> AlertOutcome:
    """Deadline callback: a scheduled run is still going ``deadline_minutes`` after it was
    queued (a hung task, a starved worker pool). The scheduler calls it by its dotted path with
    the run in ``context["dag_run"]``; the run's own ``config_path`` (its conf) wins over the
    deployment default, so the alert goes where that run's config says."""
    dag_run = (context or {}).get("dag_run") or {}
    conf = dag_run.get("conf") or {}
    return send_failure_alert(
        conf.get("config_path") or config_path,
        dag_id=dag_id,
        task_id="(run)",
        run_id=str(dag_run.get("run_id") or dag_run.get("dag_run_id") or "unknown"),
        exception=(
            f"the run has not finished {deadline_minutes} minutes after it was queued; look for "
            "a task that is still running or waiting for a worker"
        ),
        scope="overdue",
    )


def smtp_relay() -> tuple[str, int]:
    """The SMTP relay alerts go through, from ``GOLDEN_SMTP_HOST`` / ``GOLDEN_SMTP_PORT``."""
    host = os.environ.get(SMTP_HOST_ENV, "").strip() or "localhost"
    raw_port = os.environ.get(SMTP_PORT_ENV, "").strip() or "25"
    try:
        port = int(raw_port)
    except ValueError:
        raise ValueError(
            f"environment variable {SMTP_PORT_ENV}={raw_port!r} is not a port number"
        ) from None
    if not 0 < port < 65536:
        raise ValueError(f"environment variable {SMTP_PORT_ENV}={port} is not a port number")
    return host, port


def send_email(alert: FailureAlert, recipients: list[str]) -> None:
    """Send the alert as a plain-text email through the relay named by the environment."""
    if not recipients:
        raise ValueError("alerts.email_to lists no recipients")
    host, port = smtp_relay()
    message = EmailMessage()
    message["Subject"] = alert.subject
    message["From"] = os.environ.get(SMTP_FROM_ENV, "").strip() or "golden-records@localhost"
    message["To"] = ", ".join(recipients)
    message.set_content(alert.text())
    with smtplib.SMTP(host, port, timeout=NETWORK_TIMEOUT_SECONDS) as smtp:
        smtp.send_message(message)


def _slack_webhook_url(config: PipelineConfig) -> str:
    name = config.alerts.slack_webhook_env
    if not name:
        raise ValueError("alerts.slack_webhook_env is not set")
    url = os.environ.get(name, "").strip()
    if not url:
        raise ValueError(
            f"environment variable {name} (named by alerts.slack_webhook_env) is not set; "
            "it must hold the Slack incoming-webhook URL"
        )
    return url


def post_to_slack(alert: FailureAlert, webhook_url: str) -> None:
    """POST the alert to a Slack incoming webhook (``{"text": ...}``)."""
    if not webhook_url.startswith(("https://", "http://")):
        raise ValueError("the Slack webhook URL must start with https:// (or http:// locally)")
    body = json.dumps({"text": alert.text()}).encode("utf-8")
    request = urllib.request.Request(
        webhook_url,
        data=body,
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="POST",
    )
    # urlopen raises HTTPError (an OSError) for any non-2xx answer.
    with urllib.request.urlopen(request, timeout=NETWORK_TIMEOUT_SECONDS) as response:
        response.read()
