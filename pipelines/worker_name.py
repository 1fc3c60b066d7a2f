"""The host name Airflow records for each task instance, for several workers on one machine.

Airflow stores the result of ``[core] hostname_callable`` as a task instance's ``hostname``
(the UI's "Host", the log server it fetches a running task's log from). Workers in separate
containers or machines each have their own name, but two Celery workers on one machine
(``make stack``, the multi-worker test) would both record the machine's name, and nobody could
tell which of them ran a task. Pointing ``AIRFLOW__CORE__HOSTNAME_CALLABLE`` at
:func:`worker_hostname` and giving each worker its own ``GOLDEN_WORKER_NAME`` names them apart.
"""

from __future__ import annotations

import os
import socket

WORKER_NAME_ENV = "GOLDEN_WORKER_NAME"


def worker_hostname() -> str:
    """``$GOLDEN_WORKER_NAME`` when the process has one, else the machine's FQDN (Airflow's
    default), so the setting is harmless on processes that are not workers."""
    return os.environ.get(WORKER_NAME_ENV, "").strip() or socket.getfqdn()
