"""Two workers on one machine record different task hosts; any other process keeps the FQDN."""

from __future__ import annotations

import socket

import pytest

from pipelines.worker_name import WORKER_NAME_ENV, worker_hostname


def test_a_named_worker_records_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WORKER_NAME_ENV, "worker2")
    assert worker_hostname() == "worker2"


@pytest.mark.parametrize("value", [None, "", "   "])
def test_without_a_name_the_host_is_the_fqdn(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv(WORKER_NAME_ENV, raising=False)
    else:
        monkeypatch.setenv(WORKER_NAME_ENV, value)
    assert worker_hostname() == socket.getfqdn()
