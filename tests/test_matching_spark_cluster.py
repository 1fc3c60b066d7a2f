"""The match stage on a real Spark standalone cluster: a master and two workers, each its own
JVM process on 127.0.0.1, started from the pyspark distribution in the venv (nothing is
downloaded). Local mode runs driver and executors in one JVM, so it cannot show that the stage's
files, jars and settings reach executors in other processes; this test can.

The cluster waits on the master's JSON status (both workers ALIVE), never on a sleep, and every
process group is killed in the fixture's teardown.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.spark]

WORKERS = 2
# Generous: two JVMs start on a busy 2-core box. The wait ends as soon as both workers register.
START_DEADLINE_S = 180


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    master_url: str
    status_url: str
    logs: Path

    def status(self) -> dict:
        with urllib.request.urlopen(self.status_url, timeout=5) as response:
            return json.load(response)


def _spark_home() -> Path:
    pyspark = pytest.importorskip("pyspark")
    return Path(pyspark.__file__).parent


def _log_tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"


@pytest.fixture(scope="module")
def spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if shutil.which("java") is None:
        from conftest import skip_or_fail

        skip_or_fail("Java is not installed; a Spark standalone cluster needs it")
    home = _spark_home()
    spark_class = home / "bin" / "spark-class"
    root = tmp_path_factory.mktemp("spark-cluster")
    env = {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOG_DIR": str(root / "logs"),
        "SPARK_NO_DAEMONIZE": "1",
        # Executors run Python with the same interpreter and packages as the test.
        "PYSPARK_PYTHON": sys.executable,
    }
    port, webui = _free_port(), _free_port()
    master_url = f"spark://127.0.0.1:{port}"
    commands = {
        "master": [
            "org.apache.spark.deploy.master.Master",
            *("--host", "127.0.0.1", "--port", str(port), "--webui-port", str(webui)),
        ]
    }
    for n in range(WORKERS):
        commands[f"worker{n}"] = [
            "org.apache.spark.deploy.worker.Worker",
            *("--host", "127.0.0.1", "--webui-port", str(_free_port())),
            *("--cores", "1", "--memory", "1g", "--work-dir", str(root / f"work{n}")),
            master_url,
        ]
    cluster = Cluster(master_url, f"http://127.0.0.1:{webui}/json/", root)
    processes: dict[str, subprocess.Popen] = {}
    try:
        for name, args in commands.items():
            log = (root / f"{name}.log").open("wb")
            processes[name] = subprocess.Popen(
                [str(spark_class), *args],
                env=env,
                cwd=root,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group: the JVM and its launcher die together.
                start_new_session=True,
            )
            log.close()
            if name == "master":
                _wait_for(cluster, processes, lambda s: s.get("status") == "ALIVE")
        _wait_for(
            cluster,
            processes,
            lambda s: sum(w.get("state") == "ALIVE" for w in s.get("workers", [])) == WORKERS,
        )
        yield cluster
    finally:
        for process in processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_for(cluster: Cluster, processes: dict[str, subprocess.Popen], ready) -> None:
    """Poll the master's JSON until ``ready``; fail early with the log if a JVM exits."""
    deadline = time.monotonic() + START_DEADLINE_S
    last: object = None
    while time.monotonic() < deadline:
        for name, process in processes.items():
            if process.poll() is not None:
                pytest.fail(
                    f"Spark {name} exited ({process.returncode}):\n"
                    + _log_tail(cluster.logs / f"{name}.log")
                )
        try:
            last = cluster.status()
            if ready(last):
                return
        except (OSError, json.JSONDecodeError) as exc:
            # The web UI is not listening yet, or answers with its HTML page before the JSON
            # endpoint is up (seen once on a loaded CI machine).
            last = exc
        # Waits on the master process (returns early if it exits): the poll interval, not a
        # wait for readiness.
        with contextlib.suppress(subprocess.TimeoutExpired):
            processes["master"].wait(timeout=0.25)
    logs = "\n".join(f"--- {n}\n{_log_tail(cluster.logs / f'{n}.log')}" for n in processes)
    pytest.fail(f"the Spark cluster did not come up in {START_DEADLINE_S}s: {last}\n{logs}")


def partition(clusters: pl.DataFrame) -> set[frozenset[str]]:
    return {
        frozenset(keys)
        for keys in clusters.group_by("cluster_id").agg("record_key")["record_key"].to_list()
    }


def test_the_match_stage_on_a_standalone_cluster_gives_duckdbs_clusters(
    spark_cluster: Cluster, tmp_path: Path
) -> None:
    """The same saved model scores the same run's records on DuckDB and on the cluster: the
    same pairs, probabilities within 1e-5 and identical clusters."""
    from test_matching_stage import staged_run

    from pipelines.match import match

    # A small generated sample through the real stages, matched and trained on DuckDB.
    duck = staged_run(tmp_path, customers=300, seed=41)
    assert duck.result.engine == "duckdb"
    model = tmp_path / "model.json"
    shutil.copyfile(duck.match_dir / "model.json", model)
    # DuckDB scores the run again from the saved model, as the cluster will.
    config = duck.config.model_copy(
        update={"matching": duck.config.matching.model_copy(update={"incremental": False})}
    )
    match(config, duck.run_id, model_path=model)
    duck_clusters = duck.clusters()
    duck_pairs = pl.read_parquet(duck.match_dir / "pairs.parquet")

    # The same run's records scored with that model on the cluster.
    spark_config = config.model_copy(
        update={
            "matching": config.matching.model_copy(
                update={
                    "engine": "spark",
                    "incremental": False,
                    "spark_master": spark_cluster.master_url,
                    "spark_driver_memory": "1g",
                    "spark_conf": {
                        # Executors connect back to the driver on loopback.
                        "spark.driver.host": "127.0.0.1",
                        "spark.driver.bindAddress": "127.0.0.1",
                        "spark.executor.memory": "768m",
                        "spark.executor.cores": "1",
                        "spark.cores.max": str(WORKERS),
                        "spark.sql.shuffle.partitions": "4",
                        "spark.ui.enabled": "false",
                        "spark.pyspark.python": sys.executable,
                    },
                }
            )
        }
    )
    spark = match(spark_config, duck.run_id, model_path=model)
    assert spark.engine == "spark"

    # The job ran as an application of the standalone master, not in local mode.
    apps = spark_cluster.status().get("completedapps", [])
    assert any(app.get("name") == "golden-records-matching" for app in apps), apps

    spark_pairs = pl.read_parquet(duck.match_dir / "pairs.parquet")
    assert spark_pairs.height == duck_pairs.height > 0
    both = duck_pairs.join(spark_pairs, on=["record_key_l", "record_key_r"], suffix="_spark")
    assert both.height == duck_pairs.height
    worst = (both["match_probability"] - both["match_probability_spark"]).abs().max()
    # On this sample the worst pair differs by 3.8e-6, the same on every run (the backends
    # compute some similarities and term-frequency weights separately); clusters must be equal.
    assert worst is not None and worst < 1e-5, worst
    spark_clusters = duck.clusters()
    assert partition(spark_clusters) == partition(duck_clusters)
    assert spark_clusters.height == duck_clusters.height
