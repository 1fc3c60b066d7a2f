"""Failure alerts reach the channels the config names: a real SMTP exchange and a real HTTP POST
on loopback, and a broken channel is reported without hiding the alert."""

from __future__ import annotations

import json
import logging
import os
import socket
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import yaml

from pipelines.alerts import FailureAlert, run_overdue, send_failure_alert
from pipelines.config import load_config
from pipelines.errors import ConfigError

ALERT = {
    "dag_id": "customer_golden_records",
    "task_id": "ingest_and_validate",
    "run_id": "scheduled__2026-01-02T00:00:00+00:00",
    "exception": "SourceError: cannot read crm.csv line 7: invalid UTF-8",
    "try_number": 4,
    "log_url": "http://airflow.local/dags/customer_golden_records/runs/x/tasks/ingest",
    "map_index": 0,
    "map_label": "crm",
    "golden_run_id": "20260102T000000Z-abc123",
}


def write_config(tmp_path: Path, alerts: dict[str, object]) -> Path:
    config = {
        "warehouse": {"path": "warehouse"},
        "sources": [
            {
                "name": "crm",
                "kind": "file",
                "path": "crm.csv",
                "id_column": "id",
                "mapping": {"email": "email"},
            }
        ],
        "alerts": alerts,
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


# --- a minimal SMTP server (RFC 5321 subset smtplib speaks) ------------------------------------


class _SMTPHandler(socketserver.StreamRequestHandler):
    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        self.reply("220 localhost test SMTP")
        sender, recipients = "", []
        while raw := self.rfile.readline():
            command = raw.decode().strip()
            verb = command.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 localhost")
            elif verb == "MAIL":
                sender, recipients = command.split(":", 1)[1].strip(), []
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(command.split(":", 1)[1].strip().strip("<>"))
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                lines = []
                while (line := self.rfile.readline()) not in (b".\r\n", b""):
                    lines.append(line[1:] if line.startswith(b"..") else line)
                self.server.messages.append(  # type: ignore[attr-defined]
                    (sender, recipients, message_from_bytes(b"".join(lines), policy=policy.default))
                )
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:  # RSET, NOOP
                self.reply("250 OK")


class _SMTPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SMTPHandler)
        self.messages: list[tuple[str, list[str], EmailMessage]] = []


@pytest.fixture
def smtp_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[_SMTPServer]:
    server = _SMTPServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("GOLDEN_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("GOLDEN_SMTP_PORT", str(server.server_address[1]))
    monkeypatch.setenv("GOLDEN_SMTP_FROM", "pipeline@example.org")
    yield server
    server.shutdown()
    server.server_close()


# --- a webhook receiver ----------------------------------------------------------------------


class _Webhook(HTTPServer):
    def __init__(self, status: int) -> None:
        super().__init__(("127.0.0.1", 0), _WebhookHandler)
        self.status = status
        self.posts: list[tuple[str, str, bytes]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/services/T000/B000/secret"


class _WebhookHandler(BaseHTTPRequestHandler):
    server: _Webhook

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts.append((self.path, self.headers["Content-Type"], body))
        self.send_response(self.server.status)
        self.end_headers()
        self.wfile.write(b"ok" if self.server.status == 200 else b"no_service")

    def log_message(self, *args: object) -> None:  # keep the test output clean
        pass


def _webhook(status: int) -> Iterator[_Webhook]:
    server = _Webhook(status)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def slack_webhook() -> Iterator[_Webhook]:
    yield from _webhook(200)


@pytest.fixture
def broken_webhook() -> Iterator[_Webhook]:
    yield from _webhook(500)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- tests -----------------------------------------------------------------------------------


def test_alert_is_always_logged_at_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = write_config(tmp_path, {"on_failure": ["log"]})
    with caplog.at_level(logging.ERROR, logger="pipelines.alerts"):
        outcome = send_failure_alert(config, **ALERT)
    assert outcome.delivered == ["log"] and outcome.failed == {}
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    assert "customer_golden_records.ingest_and_validate[crm] failed" in logged
    assert "SourceError: cannot read crm.csv line 7" in logged
    assert ALERT["log_url"] in logged and "try:       4" in logged
    assert "runs/20260102T000000Z-abc123/" in logged


def test_email_alert_goes_through_the_smtp_relay(tmp_path: Path, smtp_server: _SMTPServer) -> None:
    config = write_config(
        tmp_path, {"on_failure": ["log", "email"], "email_to": ["ops@example.org", "dq@ex.org"]}
    )
    outcome = send_failure_alert(config, **ALERT)
    assert outcome.delivered == ["log", "email"], outcome.failed
    assert len(smtp_server.messages) == 1
    sender, recipients, message = smtp_server.messages[0]
    assert sender == "<pipeline@example.org>"
    assert recipients == ["ops@example.org", "dq@ex.org"]
    assert message["Subject"] == (
        "[golden-records] customer_golden_records.ingest_and_validate[crm] failed "
        f"(run {ALERT['run_id']})"
    )
    body = message.get_content()
    assert "SourceError: cannot read crm.csv line 7: invalid UTF-8" in body
    assert ALERT["log_url"] in body


def test_slack_alert_posts_json_to_the_webhook_named_by_env(
    tmp_path: Path, slack_webhook: _Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPS_SLACK_WEBHOOK", slack_webhook.url)
    config = write_config(
        tmp_path, {"on_failure": ["slack"], "slack_webhook_env": "OPS_SLACK_WEBHOOK"}
    )
    outcome = send_failure_alert(config, **ALERT)
    assert outcome.delivered == ["log", "slack"], outcome.failed
    [(path, content_type, body)] = slack_webhook.posts
    assert path == "/services/T000/B000/secret"
    assert content_type.startswith("application/json")
    text = json.loads(body)["text"]
    assert text.startswith("[golden-records] customer_golden_records.ingest_and_validate[crm]")
    assert "invalid UTF-8" in text


def test_a_failing_channel_is_reported_and_the_others_still_get_the_alert(
    tmp_path: Path,
    broken_webhook: _Webhook,
    smtp_server: _SMTPServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("OPS_SLACK_WEBHOOK", broken_webhook.url)
    config = write_config(
        tmp_path,
        {
            "on_failure": ["slack", "email"],
            "email_to": ["ops@example.org"],
            "slack_webhook_env": "OPS_SLACK_WEBHOOK",
        },
    )
    with caplog.at_level(logging.ERROR, logger="pipelines.alerts"):
        outcome = send_failure_alert(config, **ALERT)
    assert outcome.delivered == ["log", "email"]
    assert "500" in outcome.failed["slack"]
    assert len(broken_webhook.posts) == 1 and len(smtp_server.messages) == 1
    assert any("could not send the slack alert" in r.getMessage() for r in caplog.records)


def test_unreachable_smtp_relay_does_not_raise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOLDEN_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("GOLDEN_SMTP_PORT", str(_closed_port()))
    config = write_config(tmp_path, {"on_failure": ["email"], "email_to": ["ops@example.org"]})
    outcome = send_failure_alert(config, **ALERT)
    assert outcome.delivered == ["log"]
    assert "ConnectionRefusedError" in outcome.failed["email"]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"GOLDEN_SMTP_PORT": "twenty-five"}, "GOLDEN_SMTP_PORT='twenty-five' is not a port"),
        ({"GOLDEN_SMTP_PORT": "70000"}, "GOLDEN_SMTP_PORT=70000 is not a port"),
    ],
    ids=["not-a-number", "out-of-range"],
)
def test_bad_smtp_port_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    config = write_config(tmp_path, {"on_failure": ["email"], "email_to": ["ops@example.org"]})
    outcome = send_failure_alert(config, **ALERT)
    assert expected in outcome.failed["email"]


def test_missing_webhook_variable_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPS_SLACK_WEBHOOK", raising=False)
    config = write_config(
        tmp_path, {"on_failure": ["slack"], "slack_webhook_env": "OPS_SLACK_WEBHOOK"}
    )
    outcome = send_failure_alert(config, **ALERT)
    assert outcome.delivered == ["log"]
    assert "OPS_SLACK_WEBHOOK" in outcome.failed["slack"]
    assert "alerts.slack_webhook_env" in outcome.failed["slack"]


def test_unreadable_config_still_logs_the_alert(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "nope.yaml"
    with caplog.at_level(logging.ERROR, logger="pipelines.alerts"):
        outcome = send_failure_alert(missing, **ALERT)
    assert outcome.delivered == ["log"]
    assert str(missing) in outcome.failed["config"]
    assert any("ingest_and_validate[crm] failed" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("alerts", "expected"),
    [
        ({"on_failure": ["pager"]}, "alerts.on_failure[0]"),
        ({"on_failure": ["email"]}, "email_to must list recipients"),
        ({"on_failure": ["slack"]}, "slack_webhook_env must name the environment variable"),
    ],
    ids=["unknown-channel", "email-without-recipients", "slack-without-webhook"],
)
def test_alert_config_mistakes_are_caught_at_load(
    tmp_path: Path, alerts: dict[str, object], expected: str
) -> None:
    with pytest.raises(ConfigError, match="alerts") as error:
        load_config(write_config(tmp_path, alerts))
    assert expected in str(error.value)


def test_unmapped_task_label_has_no_index() -> None:
    alert = FailureAlert(dag_id="d", task_id="gate", run_id="r", exception="x", map_index=-1)
    assert alert.task_label == "gate"
    assert FailureAlert(**{**ALERT, "map_label": None}).task_label == "ingest_and_validate[0]"


def test_a_failed_run_is_one_alert_about_the_run(tmp_path: Path, smtp_server: _SMTPServer) -> None:
    config = write_config(tmp_path, {"on_failure": ["email"], "email_to": ["ops@example.org"]})
    problems = "ingest[crm]: SourceError: cannot read crm.csv\n  ingest[shop]: SourceError: x"
    alert = {**ALERT, "task_id": "finish_run", "map_index": -1, "map_label": None}
    send_failure_alert(config, **{**alert, "exception": problems}, scope="run")
    [(_, _, message)] = smtp_server.messages
    subject = " ".join(str(message["Subject"]).split())
    assert subject == f"[golden-records] customer_golden_records run {ALERT['run_id']} failed"
    body = message.get_content()
    assert "ingest[crm]" in body and "ingest[shop]" in body
    assert "task:" not in body  # about the run, not about its bookkeeping task


def test_an_overdue_run_alerts_with_its_own_config(
    tmp_path: Path, smtp_server: _SMTPServer
) -> None:
    default = write_config(tmp_path, {"on_failure": ["log"]})
    (tmp_path / "run").mkdir()
    own = write_config(tmp_path / "run", {"on_failure": ["email"], "email_to": ["ops@ex.org"]})
    context = {"dag_run": {"run_id": "scheduled__2026-01-02", "conf": {"config_path": str(own)}}}
    outcome = run_overdue(
        context, dag_id="customer_golden_records", config_path=str(default), deadline_minutes=480
    )
    assert outcome.delivered == ["log", "email"], outcome.failed
    [(_, _, message)] = smtp_server.messages
    subject = " ".join(str(message["Subject"]).split())
    assert (
        subject == "[golden-records] customer_golden_records run scheduled__2026-01-02 is overdue"
    )
    assert "480 minutes" in message.get_content()


# --- the run deadline, end to end through Airflow's own deadline code -------------------------

# In a child process under a fresh AIRFLOW_HOME (SQLite): the DAG as the dag-processor stores it,
# a queued run created as the scheduler creates one (which records its Deadline row), the
# scheduler's query for missed deadlines asked at two instants relative to the run's queued_at
# (no clock is waited on), Deadline.handle_miss, then the callback run as an executor runs it.
DEADLINE_FLOW = r"""
import json, os, sys
from datetime import timedelta

import structlog
from sqlalchemy import select

from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db
from airflow.models import Deadline
from airflow.models.dagbundle import DagBundleModel
from airflow.models.serialized_dag import SerializedDagModel
from airflow.sdk.execution_time.callback_supervisor import execute_callback
from airflow.utils.db import initdb
from airflow.utils.session import create_session
from airflow.utils.state import DagRunState
from airflow.utils.types import DagRunTriggeredByType, DagRunType

dags, run_config = sys.argv[1], sys.argv[2]
initdb()
bag = BundleDagBag(dag_folder=dags, bundle_path=dags, bundle_name="dags-folder")
assert not bag.import_errors, bag.import_errors
with create_session() as session:
    session.merge(DagBundleModel(name="dags-folder"))
sync_bag_to_db(bag, "dags-folder", None)


def missed_at(session, now):
    # The query of SchedulerJobRunner's loop, with ``now`` given instead of read from the clock.
    query = select(Deadline).where(Deadline.deadline_time < now).where(~Deadline.missed)
    return session.scalars(query).all()


minutes = int(os.environ["GOLDEN_RUN_DEADLINE_MINUTES"])
with create_session() as session:
    dag = SerializedDagModel.get_dag("customer_golden_records", session=session)
    run = dag.create_dagrun(
        run_id="manual__overrun",
        run_type=DagRunType.MANUAL,
        state=DagRunState.QUEUED,
        run_after=None,
        logical_date=None,
        data_interval=None,
        triggered_by=DagRunTriggeredByType.TEST,
        conf={"config_path": run_config},
        session=session,
    )
    session.flush()
    early = missed_at(session, run.queued_at + timedelta(minutes=minutes - 1))
    [deadline] = missed_at(session, run.queued_at + timedelta(minutes=minutes + 1))
    deadline.handle_miss(session)
    data = dict(deadline.callback.data)
ok, error = execute_callback(
    data["path"], data["kwargs"], "customer_golden_records.py", dags, structlog.get_logger()
)
print("DEADLINE-JSON " + json.dumps({
    "missed_one_minute_early": len(early),
    "callback": data["path"],
    "ok": ok,
    "error": error,
}))
"""


@pytest.mark.airflow
def test_the_default_run_deadline_alerts_when_a_run_overruns_it(
    tmp_path: Path, smtp_server: _SMTPServer
) -> None:
    from scripts.airflow_stack import RUN_DEADLINE_MINUTES

    dags = Path(__file__).parents[1] / "dags"
    default = write_config(tmp_path, {"on_failure": ["log"]})
    (tmp_path / "run").mkdir()
    own = write_config(tmp_path / "run", {"on_failure": ["email"], "email_to": ["ops@ex.org"]})
    home = tmp_path / "airflow-home"
    home.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "GOLDEN_"))},
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        "GOLDEN_CONFIG": str(default),
        "GOLDEN_RUN_DEADLINE_MINUTES": str(RUN_DEADLINE_MINUTES),
        "GOLDEN_SMTP_HOST": "127.0.0.1",
        "GOLDEN_SMTP_PORT": str(smtp_server.server_address[1]),
        "GOLDEN_SMTP_FROM": "pipeline@example.org",
    }
    script = tmp_path / "deadline_flow.py"
    script.write_text(DEADLINE_FLOW)
    proc = subprocess.run(
        [sys.executable, str(script), str(dags), str(own)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("DEADLINE-JSON "))
    outcome = json.loads(line.removeprefix("DEADLINE-JSON "))
    assert outcome["missed_one_minute_early"] == 0  # not overdue before its deadline
    assert outcome["callback"] == "pipelines.alerts.run_overdue"
    assert outcome["ok"] is True, outcome["error"]
    # The run's own config (its conf) chose the channel: one email about that run.
    [(_, recipients, message)] = smtp_server.messages
    assert recipients == ["ops@ex.org"]
    subject = " ".join(str(message["Subject"]).split())
    assert subject == "[golden-records] customer_golden_records run manual__overrun is overdue"
    assert f"{RUN_DEADLINE_MINUTES} minutes after it was queued" in message.get_content()
