"""Retention keeps the newest backup of the last N days and M ISO weeks, and deletes the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipelines.backup import BackupInfo, apply_retention, backup, list_backups, plan_retention
from pipelines.backup.config import RetentionConfig
from pipelines.config import PipelineConfig
from pipelines.errors import BackupError
from pipelines.publish import publish
from pipelines.publish.synthetic import write_synthetic_run
from pipelines.s3server import S3Endpoint
from pipelines.warehouse import Warehouse

NOW = datetime(2024, 3, 22, 12, 0, tzinfo=UTC)


def info(run_id: str, at: datetime, complete: bool = True, touched: datetime | None = None):
    return BackupInfo(
        run_id=run_id,
        uri=f"s3://b/p/{run_id}/",
        complete=complete,
        created_at=at,
        last_modified=touched or at,
        objects=3,
        stored_bytes=10,
    )


def day(d: int, hour: int = 10) -> datetime:
    return datetime(2024, 3, d, hour, tzinfo=UTC)


def kept(backups: list[BackupInfo], **rules) -> set[str]:
    plan = plan_retention(backups, RetentionConfig(**rules), NOW)
    assert set(plan) == {b.run_id for b in backups}
    return {run_id for run_id, (keep, _) in plan.items() if keep}


def test_newest_of_each_of_the_last_days_and_weeks_is_kept() -> None:
    # 1..20 March 2024, one backup a day at 10:00, and an earlier one on the 20th.
    # The 20th is a Wednesday of ISO week 12 (18-24 March); week 11 ends on Sunday the 17th.
    backups = [info(f"d{d:02d}", day(d)) for d in range(1, 21)]
    backups.append(info("d20-early", day(20, 8)))
    assert kept(backups, daily=3, weekly=2) == {"d20", "d19", "d18", "d17"}
    assert kept(backups, daily=1, weekly=3) == {"d20", "d17", "d10"}
    assert kept(backups, daily=1, weekly=0) == {"d20"}


def test_days_without_a_backup_do_not_use_up_the_daily_allowance() -> None:
    backups = [
        info("jan", datetime(2024, 1, 5, tzinfo=UTC)),
        info("feb", day(1)),
        info("mar", day(20)),
    ]
    assert kept(backups, daily=3, weekly=0) == {"jan", "feb", "mar"}


def test_the_newest_complete_backup_is_never_deleted_even_when_dated_in_the_past() -> None:
    old = datetime(2020, 1, 1, tzinfo=UTC)
    backups = [info("only", old), info("broken", day(21), complete=False)]
    plan = plan_retention(backups, RetentionConfig(daily=1, weekly=0), NOW)
    assert plan["only"][0] is True
    assert plan["broken"] == (True, "incomplete and newer than the newest complete one")


def test_incomplete_backups_go_when_stale_and_stay_while_possibly_running() -> None:
    backups = [
        info("complete", day(20)),
        info("stale", day(10), complete=False),
        info("running", day(19), complete=False, touched=NOW - timedelta(minutes=5)),
        info("newer", day(21), complete=False),
    ]
    plan = plan_retention(backups, RetentionConfig(daily=1, weekly=0), NOW)
    assert {r: keep for r, (keep, _) in plan.items()} == {
        "complete": True,
        "stale": False,
        "running": True,
        "newer": True,
    }
    no_grace = RetentionConfig(daily=1, weekly=0, incomplete_grace_minutes=0)
    assert plan_retention(backups, no_grace, NOW)["running"][0] is False


@pytest.mark.s3
@pytest.mark.slow
def test_apply_retention_deletes_exactly_what_the_plan_says(
    tmp_path: Path, s3_env: S3Endpoint, s3_bucket: str
) -> None:
    warehouse = Warehouse(tmp_path / "warehouse")
    config = PipelineConfig.model_validate(
        {
            "warehouse": {"path": str(warehouse.root)},
            "sources": [
                {
                    "name": "crm",
                    "kind": "file",
                    "path": "crm.csv",
                    "id_column": "id",
                    "mapping": {"email": "email"},
                }
            ],
            "backup": {
                "bucket": s3_bucket,
                "prefix": "retention",
                "retention": {"daily": 2, "weekly": 2, "incomplete_grace_minutes": 0},
            },
        }
    )
    # backups taken (by their recorded time) on Mon 4, Sun 10, Mon 11, Tue 12 and Tue 12 March;
    # then an interrupted one on the 5th.
    taken = {
        "20240304T100000Z-000001": day(4),
        "20240310T100000Z-000002": day(10),
        "20240311T100000Z-000003": day(11),
        "20240312T080000Z-000004": day(12, 8),
        "20240312T100000Z-000005": day(12),
    }
    for index, (run_id, at) in enumerate(taken.items()):
        write_synthetic_run(warehouse, run_id, 20, seed=index)
        publish(config, run_id)
        backup(config, run_id, created_at=at)
    interrupted = "20240315T100000Z-000006"
    write_synthetic_run(warehouse, interrupted, 20, seed=9)
    publish(config, interrupted)

    def stop(name: str, size: int) -> None:
        raise ConnectionAbortedError("simulated crash after the first object")

    with pytest.raises(BackupError):
        backup(config, interrupted, created_at=day(5), progress=stop)
    foreign = "retention/notes/readme.txt"  # not a backup: neither listed nor ever deleted
    s3_env.client().put_object(Bucket=s3_bucket, Key=foreign, Body=b"hands off")
    assert [b.complete for b in list_backups(config)] == [True, False, True, True, True, True]

    preview = apply_retention(config, dry_run=True)
    assert len(list_backups(config)) == 6
    result = apply_retention(config)

    # daily=2: the 12th (10:00) and the 11th; weekly=2: week 11 (the 12th) and week 10 (the 10th)
    assert sorted(result.kept) == [
        "20240310T100000Z-000002",
        "20240311T100000Z-000003",
        "20240312T100000Z-000005",
    ]
    assert sorted(result.deleted) == sorted(preview.deleted)
    assert sorted(result.deleted) == [
        "20240304T100000Z-000001",
        "20240312T080000Z-000004",
        interrupted,
    ]
    remaining = list_backups(config)
    assert sorted(b.run_id for b in remaining) == sorted(result.kept)
    assert all(b.complete for b in remaining)
    left = s3_env.client().list_objects_v2(Bucket=s3_bucket, Prefix="retention/")["Contents"]
    # the suppression list beside the backups (when there is one) is not a backup
    assert {o["Key"].split("/")[1] for o in left} - {"_suppression"} == {*result.kept, "notes"}
