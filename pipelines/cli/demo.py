"""``golden demo`` (``make demo``): the main job on the bundled sample, through Airflow, with a
local S3 server.

Runs the real ``customer_golden_records`` DAG with ``airflow dags test`` (one DAG run in-process,
SQLite metadata database under ``.airflow/``), backing up to a SeaweedFS server it starts on
127.0.0.1 (data under ``.s3data/``; left running so the backup can be listed, verified and restored;
``make s3-stop`` stops it). Airflow is driven as a command, never imported: ``pipelines/`` does not
depend on Airflow.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import typer

from pipelines.config import load_config
from pipelines.s3server import DATA_DIR_NAME, start_background
from pipelines.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "customer_golden_records"


def airflow_env(airflow_home: Path) -> dict[str, str]:
    """Environment for a local, throwaway Airflow: SQLite metadata, our DAGs, no examples."""
    return {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "NO_PROXY": "*",
    }


def _run(cmd: list[str], env: dict[str, str], log_path: Path) -> int:
    with log_path.open("ab") as log:
        log.write(f"\n$ {' '.join(cmd)}\n".encode())
        log.flush()
        return subprocess.run(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, check=False
        ).returncode


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        config: Path = typer.Option(ROOT / "examples" / "config.yaml", help="Pipeline config."),
        warehouse: Path = typer.Option(Path("warehouse"), help="Warehouse folder."),
        s3_dir: Path = typer.Option(Path(DATA_DIR_NAME), help="Local S3 server data folder."),
        airflow_home: Path = typer.Option(Path(".airflow"), help="Local Airflow home."),
    ) -> None:
        """Run the main job on the bundled sample through Airflow, with a local S3 server."""
        raise typer.Exit(run_demo(config, warehouse, s3_dir, airflow_home))


def run_demo(config: Path, warehouse: Path, s3_dir: Path, airflow_home: Path) -> int:
    for noisy in ("botocore", "boto3", "urllib3", "pipelines.s3server"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    config_path = config.resolve()
    warehouse_path = warehouse.resolve()
    airflow_home = airflow_home.resolve()
    airflow_home.mkdir(parents=True, exist_ok=True)
    log_path = airflow_home / "demo.log"

    endpoint = start_background(s3_dir.resolve())
    print(f"local S3 server (SeaweedFS): {endpoint.endpoint_url}")
    env = {
        **os.environ,
        **endpoint.env(),
        **airflow_env(airflow_home),
        "GOLDEN_WAREHOUSE": str(warehouse_path),
        "GOLDEN_CONFIG": str(config_path),
    }
    os.environ.update({k: env[k] for k in (*endpoint.env(), "GOLDEN_WAREHOUSE")})
    airflow = str(Path(sys.executable).parent / "airflow")

    started = time.monotonic()
    print(f"preparing the Airflow metadata database in {airflow_home}")
    if _run([airflow, "db", "migrate"], env, log_path) != 0:
        print(f"airflow db migrate failed; last lines of {log_path}:\n{_tail(log_path)}")
        return 1
    before = set(Warehouse(warehouse_path).run_ids())
    print(f"running DAG {DAG_ID} on {config_path} (Airflow log: {log_path}) ...")
    conf = json.dumps({"config_path": str(config_path)})
    status = _run([airflow, "dags", "test", DAG_ID, "-c", conf], env, log_path)

    cfg = load_config(config_path)
    new_runs = sorted(set(Warehouse(warehouse_path).run_ids()) - before)
    if not new_runs:
        print(f"the DAG run produced no run folder; last lines of {log_path}:\n{_tail(log_path)}")
        return 1
    from pipelines.i18n import choose
    from pipelines.summary import format_summary, summarise_run

    summary = summarise_run(cfg, new_runs[-1])
    print()
    print(format_summary(summary, choose(cfg.language, ask_environment=True)))
    if status != 0 or summary.errors:
        print(f"\nthe DAG run failed; last lines of {log_path}:\n{_tail(log_path)}")
        return 1

    from pipelines.backup import list_backups

    location = f"s3://{cfg.backup.bucket}/{cfg.backup.prefix}/"
    print(f"\nbackups in {location} on the local S3 server {endpoint.endpoint_url}:")
    for b in (b for b in list_backups(cfg) if b.complete):
        print(f"  {b.run_id}  {b.objects} objects  {b.stored_bytes:,} bytes")
    print(f"\nDone in {time.monotonic() - started:.0f} s.")
    print(f"Golden tables: {warehouse_path / 'golden.duckdb'} (DuckDB) and")
    print(f"               {warehouse_path / 'published' / 'current'}/*.parquet")
    if summary.data_docs:
        print(f"Validation report (open in a browser): {summary.data_docs}")
    print("Verify the backup: .venv/bin/golden backup verify --config " + str(config_path))
    print("Stop the local S3 server: make s3-stop")
    return 0
