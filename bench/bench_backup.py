"""Publish, backup and restore throughput for a golden set of N source records (default 1M).

Run: ``.venv/bin/python -m bench.bench_backup [--records N] [--no-encrypted] [--keep]``.
Builds a synthetic golden run (``pipelines.publish.synthetic``), publishes it, starts a local
SeaweedFS server on loopback, then times a backup, a verify and a restore into an empty
warehouse, first unencrypted and then with client-side AES-256-GCM encryption. MB/s are of the
plaintext bytes in the backup (every published table plus the state).
"""

from __future__ import annotations

import argparse
import filecmp
import logging
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from pipelines.backup import backup, restore, verify_backup
from pipelines.backup.crypto import generate_master_key
from pipelines.config import PipelineConfig
from pipelines.publish import publish
from pipelines.publish.synthetic import synthetic_config, write_synthetic_run
from pipelines.s3server import LocalS3Server
from pipelines.warehouse import Warehouse

RUN_ID = "20240101T000000Z-bench0"
KEY_ENV = "GOLDEN_BENCH_BACKUP_KEY"


def make_config(root: Path, encrypted: bool) -> PipelineConfig:
    return synthetic_config(
        root,
        backup={
            "bucket": "bench-backups",
            "prefix": "encrypted" if encrypted else "plain",
            "client_side_key_env": KEY_ENV if encrypted else None,
        },
    )


def row(label: str, seconds: float, megabytes: float) -> None:
    print(f"  {label:<28} {seconds:8.2f} s {megabytes / seconds:10.1f} MB/s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="Source records.")
    parser.add_argument("--no-encrypted", action="store_true", help="Skip the encrypted pass.")
    parser.add_argument("--keep", action="store_true", help="Keep the working folder.")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)

    workdir = Path(tempfile.mkdtemp(prefix="bench-backup-"))
    try:
        warehouse = Warehouse(workdir / "warehouse")
        clock = time.perf_counter()
        counts = write_synthetic_run(warehouse, RUN_ID, args.records)
        generated = time.perf_counter() - clock
        print(
            f"golden set: {args.records:,} source records, {counts['golden_customers']:,} "
            f"customers, {counts['golden_field_provenance']:,} provenance rows "
            f"(generated in {generated:.1f}s)"
        )

        clock = time.perf_counter()
        published = publish(make_config(warehouse.root, False), RUN_ID)
        seconds = time.perf_counter() - clock
        # The version's tables and manifest (its folder also holds the database and roles).
        tables = [
            p.name for p in published.version_dir.iterdir() if p.suffix in (".parquet", ".json")
        ]
        version_mb = sum((published.version_dir / n).stat().st_size for n in tables) / 1e6
        duckdb_mb = published.duckdb_path.stat().st_size / 1e6
        print(f"published version: {version_mb:.1f} MB Parquet, {duckdb_mb:.1f} MB DuckDB")
        row("publish (Parquet + DuckDB)", seconds, version_mb)

        os.environ[KEY_ENV] = generate_master_key()
        with LocalS3Server(workdir / "s3") as endpoint:
            os.environ.update(endpoint.env())
            passes = [False] if args.no_encrypted else [False, True]
            for encrypted in passes:
                config = make_config(warehouse.root, encrypted)
                print("client-side encrypted (AES-256-GCM):" if encrypted else "unencrypted:")
                result = backup(config, RUN_ID)
                megabytes = result.bytes / 1e6
                print(
                    f"  backup: {result.objects} objects, {megabytes:.1f} MB "
                    f"({result.stored_bytes / 1e6:.1f} MB stored)"
                )
                row("backup", result.seconds, megabytes)
                report = verify_backup(config, RUN_ID)
                assert report.ok, [c for c in report.objects if not c.ok]
                row("verify (download + check)", report.seconds, megabytes)
                target = make_config(workdir / f"restored-{encrypted}", encrypted)
                restored = restore(target, RUN_ID)
                row("restore: download + check", restored.download_seconds, megabytes)
                row("restore: all (+ DuckDB build)", restored.seconds, megabytes)
                for name in tables:
                    assert filecmp.cmp(
                        published.version_dir / name,
                        restored.version_dir / name,
                        shallow=False,
                    ), name
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"restored tables byte-identical; peak memory of this process: {peak:.0f} MB")
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
