"""Privacy end to end on a generated sample run through the real stages.

A module fixture builds a warehouse with two published runs of a generated sample (matching
replaced by the sample's ground truth, so golden records are exactly the true customers). One
subject also has a record quarantined by the CRM suite. Each test works on its own copy.

Pinned here: an analyst is given no raw email, phone or date of birth anywhere; an erased subject
is gone from every layer and from the next publish and backup, and is not ingested again when
the source sends them again; the audit trail records the erasure without the identifier;
export-subject returns every record of the subject; old backups holding the subject become
unreadable once the grace period is over (or at once with purge) and a restore of one fails
clearly, while a restore inside the grace period is cleaned again; retention erases records no
source delivers any more.

Client-side encryption itself (objects unreadable without the key, restore with it) is pinned by
``tests/test_backup_roundtrip.py::test_encrypted_objects_are_unreadable_without_the_key`` and
``tests/test_backup_crypto.py``; this file relies on it and does not repeat it.
"""

from __future__ import annotations

import json
import shutil
import stat
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from matching.decisions import DecisionStore
from pipelines.audit import read_audit
from pipelines.backup import backup, list_backups, restore
from pipelines.backup.crypto import generate_master_key
from pipelines.cli import app
from pipelines.config import PipelineConfig, load_config
from pipelines.errors import BackupError, PrivacyError
from pipelines.golden import build_golden
from pipelines.ingest import ingest_source
from pipelines.privacy import (
    apply_record_retention,
    enforce_backup_erasures,
    export_subject,
    forget,
)
from pipelines.privacy.roles import role_dir
from pipelines.publish import current_run_id, publish, read_table
from pipelines.s3server import S3Endpoint
from pipelines.standardise import standardise
from pipelines.validate import validate_source, validate_staged
from pipelines.warehouse import Warehouse

pytestmark = pytest.mark.slow

RUN1 = "20250110T020000Z-aaaaaa"
RUN2 = "20250111T020000Z-bbbbbb"
RUN3 = "20250112T020000Z-cccccc"
SALT_ENV = "GOLDEN_SUPPRESSION_SALT"
KEY_ENV = "GOLDEN_PRIVACY_TEST_KEY"
EXPECTATIONS = Path(__file__).parents[1] / "expectations"
QUARANTINED_ID = "C999999"
DROPPED = 2
"""CRM records the source stops sending before run 2 (for retention)."""


@dataclass(frozen=True)
class Base:
    sample: Path
    run1: Path
    """The warehouse after run 1."""
    run2: Path
    """The warehouse after run 2."""
    subject_email: str
    subject_keys: frozenset[str]
    """Every record of the subject: their true customer's records and the quarantined one."""
    dropped_keys: frozenset[str]


def make_config(sample: Path, warehouse: Path, **overrides: object) -> PipelineConfig:
    return load_config(
        sample / "config.yaml",
        {
            "warehouse.path": str(warehouse),
            "validation.expectations_dir": str(EXPECTATIONS),
            "backup.enabled": False,
            **overrides,
        },
    )


def write_config(base: Base, target: Path, warehouse: Path, **sections: dict[str, object]) -> Path:
    """A config file for the CLI: the sample's, with absolute source paths and ``sections``."""
    data = yaml.safe_load((base.sample / "config.yaml").read_text())
    for source in data["sources"]:
        source["path"] = str(base.sample / source["path"])
    data["warehouse"] = {"path": str(warehouse)}
    data["validation"] = {"expectations_dir": str(EXPECTATIONS)}
    data["backup"] = {"enabled": False}
    data.update(sections)
    target.write_text(yaml.safe_dump(data))
    return target


def run_through_golden(config: PipelineConfig, run_id: str, truth: pl.DataFrame) -> None:
    """Every stage up to publish, with clusters taken from the ground truth."""
    for source in config.source_names:
        ingest_source(config, run_id, source, full_reload=True)
        validate_source(config, run_id, source)
    standardise(config, run_id)
    validate_staged(config, run_id)
    warehouse = Warehouse(config.warehouse.path)
    accepted = pl.read_parquet(warehouse.staged_accepted(run_id), columns=["record_key"])
    clusters = accepted.join(truth, on="record_key", how="left").select(
        "record_key",
        pl.coalesce("customer_id", "record_key").alias("cluster_id"),
        pl.lit(None, dtype=pl.Float64).alias("match_probability"),
    )
    warehouse.match_dir(run_id).mkdir(parents=True, exist_ok=True)
    clusters.write_parquet(warehouse.match_dir(run_id) / "clusters.parquet")
    build_golden(config, run_id)
    publish(config, run_id)


def truth_of(sample: Path) -> pl.DataFrame:
    truth = pl.read_csv(sample / "ground_truth.csv", infer_schema=False)
    return truth.select(
        pl.concat_str("source_system", pl.lit(":"), "source_record_id").alias("record_key"),
        "customer_id",
        "lookalike_group",
    )


def pick_subject(sample: Path, truth: pl.DataFrame) -> tuple[str, pl.DataFrame]:
    """A customer with records in three sources, no look-alike, and an email nobody else uses."""
    crm = pl.read_csv(sample / "crm.csv", infer_schema=False)
    crm = crm.with_columns(pl.concat_str(pl.lit("crm:"), "crm_id").alias("record_key"))
    with_email = crm.join(truth, on="record_key").filter(
        pl.col("email").str.contains("@") & pl.col("lookalike_group").is_null()
    )
    sizes = truth.group_by("customer_id").agg(
        pl.col("record_key").str.extract(r"^(\w+):").n_unique()
    )
    full = set(sizes.filter(pl.col("record_key") == 3)["customer_id"].to_list())
    emails = crm.select(pl.col("email").str.strip_chars().str.to_lowercase()).to_series()
    for row in with_email.sort("record_key").iter_rows(named=True):
        email = row["email"].strip().lower()
        if row["customer_id"] in full and (emails == email).sum() == 1:
            return row["email"].strip(), crm.filter(pl.col("record_key") == row["record_key"])
    raise AssertionError("the sample has no suitable subject")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    from pipelines.sample import generate_sample

    root = tmp_path_factory.mktemp("privacy")
    sample = root / "sample"
    generate_sample(sample, customers=40, seed=5)
    truth = truth_of(sample)
    email, subject_row = pick_subject(sample, truth)
    customer = truth.filter(pl.col("record_key") == subject_row["record_key"][0])["customer_id"][0]

    # One more CRM record of the subject, from the future: the CRM suite quarantines it.
    crm = pl.read_csv(sample / "crm.csv", infer_schema=False)
    extra = subject_row.drop("record_key").with_columns(
        pl.lit(QUARANTINED_ID).alias("crm_id"), pl.lit("2099-01-01 00:00:00").alias("last_modified")
    )
    crm = pl.concat([crm, extra.select(crm.columns)])
    crm.write_csv(sample / "crm.csv")

    warehouse = root / "warehouse"
    config = make_config(sample, warehouse)
    run_through_golden(config, RUN1, truth)
    run1 = root / "after-run1"
    shutil.copytree(warehouse, run1, symlinks=True)

    # The CRM stops sending two records of other customers (retention finds them later).
    others = crm.filter(
        ~pl.concat_str(pl.lit("crm:"), "crm_id").is_in(
            truth.filter(pl.col("customer_id") == customer)["record_key"].to_list()
        )
        & (pl.col("crm_id") != QUARANTINED_ID)
    )
    dropped = others.head(DROPPED)["crm_id"].to_list()
    crm.filter(~pl.col("crm_id").is_in(dropped)).write_csv(sample / "crm.csv")
    run_through_golden(config, RUN2, truth)
    run2 = root / "after-run2"
    shutil.copytree(warehouse, run2, symlinks=True)

    keys = set(truth.filter(pl.col("customer_id") == customer)["record_key"].to_list())
    return Base(
        sample=sample,
        run1=run1,
        run2=run2,
        subject_email=email,
        subject_keys=frozenset(keys | {f"crm:{QUARANTINED_ID}"}),
        dropped_keys=frozenset(f"crm:{i}" for i in dropped),
    )


@pytest.fixture
def salt(monkeypatch: pytest.MonkeyPatch) -> str:
    value = "test-salt-" + "s" * 32
    monkeypatch.setenv(SALT_ENV, value)
    return value


def copy_of(state: Path, tmp_path: Path, name: str = "warehouse") -> Path:
    target = tmp_path / name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(state, target, symlinks=True)
    return target


# --- scanning for values ------------------------------------------------------------------


def _text_cells(frame: pl.DataFrame) -> list[pl.Series]:
    out = []
    for name, dtype in frame.schema.items():
        column = frame[name]
        if isinstance(dtype, pl.List):
            column = column.cast(pl.List(pl.String)).list.join("|")
        out.append(column.cast(pl.String).drop_nulls().rename(name))
    return out


def find_values(root: Path, values: set[str]) -> list[tuple[str, str, str]]:
    """Every (file, column, value) where a value occurs, in any file format the warehouse has."""
    hits: list[tuple[str, str, str]] = []
    wanted = sorted(values)
    for path in sorted(root.rglob("*")):
        if path.is_dir():
            continue
        where = str(path.relative_to(root))
        if path.suffix == ".parquet":
            for column in _text_cells(pl.read_parquet(path, hive_partitioning=False)):
                hits += [
                    (where, column.name, v)
                    for v in wanted
                    if column.str.contains(v, literal=True).any()
                ]
        elif path.suffix == ".duckdb":
            with duckdb.connect(str(path), read_only=True) as con:
                relations = con.execute(
                    "SELECT table_schema, table_name FROM information_schema.tables"
                ).fetchall()
                for schema, table in relations:
                    frame = con.sql(f'SELECT * FROM "{schema}"."{table}"').pl()
                    for column in _text_cells(frame):
                        hits += [
                            (where, f"{schema}.{table}.{column.name}", v)
                            for v in wanted
                            if column.str.contains(v, literal=True).any()
                        ]
        elif path.suffix in (".json", ".jsonl", ".html", ".csv", ".tmp"):
            text = path.read_text(errors="replace")
            hits += [(where, "text", v) for v in wanted if v in text]
    return hits


def subject_values(root: Path, keys: frozenset[str]) -> set[str]:
    """The subject's identifying values (as sent and standardised) that no one else has."""
    wh = Warehouse(root)
    fields = ("email", "phone", "address_line1", "date_of_birth")
    staged = pl.concat(
        [pl.read_parquet(wh.staged(r)) for r in wh.run_ids()], how="diagonal_relaxed"
    ).with_columns(pl.col("date_of_birth").cast(pl.String))
    mine = staged.filter(pl.col("record_key").is_in(sorted(keys)))
    theirs = staged.filter(~pl.col("record_key").is_in(sorted(keys)))
    values: set[str] = set()
    for name in (*fields, *(f"raw_{f}" for f in fields), "raw_address"):
        values |= {v.strip() for v in mine[name].drop_nulls().to_list() if len(v.strip()) >= 6}
        values -= {v.strip() for v in theirs[name].drop_nulls().to_list()}
    assert values, "the subject has identifying values to look for"
    return values


# --- roles ----------------------------------------------------------------------------------


def test_analyst_artefacts_hold_no_raw_email_phone_or_dob(base: Base, tmp_path: Path) -> None:
    root = copy_of(base.run2, tmp_path)
    wh = Warehouse(root)
    staged = pl.read_parquet(wh.staged(RUN2)).with_columns(pl.col("date_of_birth").cast(pl.String))
    real: set[str] = set()
    for column in (
        "email",
        "raw_email",
        "phone",
        "raw_phone",
        "date_of_birth",
        "raw_date_of_birth",
    ):
        real |= {v.strip() for v in staged[column].drop_nulls().to_list() if len(v.strip()) >= 6}
    assert len(real) > 50

    analyst = role_dir(wh, "analyst")
    assert find_values(analyst, real) == []
    with duckdb.connect(str(analyst / "golden.duckdb"), read_only=True) as con:
        tables = {
            row[0]
            for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        kinds = {
            row[0]
            for row in con.execute("SELECT table_type FROM information_schema.tables").fetchall()
        }
        customers = con.sql("SELECT * FROM golden_customers").pl()
    assert tables == {
        "golden_customers",
        "golden_changes",
        "golden_id_aliases",
        "customer_profile",
        "dq_scorecard",
        "publish_info",
    }
    assert kinds == {"BASE TABLE"}, "copies, not views over tables a reader could reach"
    assert customers["email"].drop_nulls().str.starts_with("***@").all()
    assert customers["date_of_birth"].dtype == pl.Int16
    initials = customers["first_name"].drop_nulls()
    assert (initials.str.len_chars() == 2).all() and initials.str.ends_with(".").all()
    for path in analyst.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path  # warehouse.access: owner

    # The same masks in golden.duckdb's analyst views, and the scan does find real values.
    with duckdb.connect(str(wh.duckdb_path), read_only=True) as con:
        view = con.sql("SELECT * FROM analyst.golden_customers").pl()
        full = con.sql("SELECT * FROM main.golden_customers").pl()
    assert view.sort("golden_id").equals(customers.sort("golden_id"))
    assert set(full["email"].drop_nulls()) & real
    assert find_values(role_dir(wh, "steward"), real)
    service = pl.read_parquet(role_dir(wh, "service") / "golden_customers.parquet")
    assert "date_of_birth" not in service.columns and "email" in service.columns


# --- erasure ------------------------------------------------------------------------------


def test_forget_refuses_to_run_without_a_salt(base: Base, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(SALT_ENV, raising=False)
    config = make_config(base.sample, copy_of(base.run2, tmp_path))
    with pytest.raises(PrivacyError, match=f"{SALT_ENV} .*is not set"):
        forget(config, base.subject_email, reason="art. 17", requester="ticket 1")
    assert not Warehouse(config.warehouse.path).suppression.exists()


def test_an_erased_subject_is_gone_everywhere_and_stays_out(
    base: Base, tmp_path: Path, salt: str
) -> None:
    root = copy_of(base.run2, tmp_path)
    config = make_config(base.sample, root)
    values = subject_values(root, base.subject_keys)
    assert find_values(root, values), "the subject is there before the erasure"
    xref = pl.from_arrow(read_table(root, "customer_xref"))
    first = sorted(base.subject_keys - {f"crm:{QUARANTINED_ID}"})[0]
    golden_id = xref.filter(pl.col("record_key") == first)["golden_id"][0]

    config_file = write_config(base, tmp_path / "config.yaml", root)
    result = CliRunner().invoke(
        app,
        [
            "forget",
            "--config",
            str(config_file),
            "--subject",
            f"  {base.subject_email.upper()} ",
            "--reason",
            "GDPR art. 17 request",
            "--requester",
            "ticket DSR-42",
            "--actor",
            "dpo",
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"{len(base.subject_keys)} source record(s) of 1 customer(s) erased" in result.output
    assert golden_id in result.output

    # Gone from every layer: raw, runs, published versions, DuckDB, role artefacts, state.
    assert find_values(root, values) == []
    assert find_values(root, set(base.subject_keys)) == []
    assert golden_id not in set(read_table(root, "golden_customers")["golden_id"].to_pylist())
    assert golden_id not in pl.read_parquet(Warehouse(root).id_registry)["golden_id"].to_list()

    # Recorded: who, why, the request, the subject as a hash; no identifier in clear anywhere.
    [event] = [e for e in read_audit(root) if e.action == "erasure"]
    assert (event.actor, event.reason) == ("dpo", "GDPR art. 17 request")
    assert event.details["requester"] == "ticket DSR-42"
    assert event.details["golden_ids"] == [golden_id]
    assert event.target.startswith("subject:") and len(event.target) == len("subject:") + 64
    state = Warehouse(root).state
    for log in ("audit.jsonl", "suppression.jsonl", "erasures.jsonl"):
        text = (state / log).read_text().lower()
        assert base.subject_email.lower() not in text and "crm:c" not in text, log

    # The sources still send the subject: the next run does not bring them back.
    run_through_golden(config, RUN3, truth_of(base.sample))
    suppressed = {
        s: json.loads((Warehouse(root).ingest_dir(RUN3, s) / "result.json").read_text())
        for s in config.source_names
    }
    expected = {s: sum(k.startswith(f"{s}:") for k in base.subject_keys) for s in suppressed}
    assert {s: r["rows_suppressed"] for s, r in suppressed.items()} == expected
    for result_json in suppressed.values():
        assert result_json["rows_read"] == (
            result_json["rows_landed"]
            + result_json["rows_rejected"]
            + result_json["rows_suppressed"]
        )
    assert current_run_id(root) == RUN3
    assert find_values(root, values) == []
    assert find_values(root, set(base.subject_keys)) == []


def test_export_subject_returns_every_record_of_the_subject(
    base: Base, tmp_path: Path, salt: str
) -> None:
    root = copy_of(base.run2, tmp_path)
    config = make_config(base.sample, root)
    xref = pl.from_arrow(read_table(root, "customer_xref"))
    accepted = sorted(base.subject_keys - {f"crm:{QUARANTINED_ID}"})
    golden_id = xref.filter(pl.col("record_key") == accepted[0])["golden_id"][0]
    store = DecisionStore(Warehouse(root).decisions)
    pin = store.add_pin(golden_id, "city", "Leeds", "steward", "moved")
    link = store.add_must_link(accepted[0], accepted[1], "steward", "same person")
    strangers = xref.filter(~pl.col("record_key").is_in(sorted(base.subject_keys)))["record_key"]
    store.add_must_link(strangers[0], strangers[1], "steward", "not about the subject")

    out = tmp_path / "export.json"
    result = export_subject(config, base.subject_email, out, actor="dpo", reason="art. 15")
    payload = json.loads(out.read_text())

    assert {r["record_key"] for r in payload["source_records"]} == set(base.subject_keys)
    assert all(r["raw"] for r in payload["source_records"]), "every record as the source sent it"
    assert all(r["standardised"] for r in payload["source_records"])
    assert [g["golden_id"] for g in payload["published"]["golden_records"]] == [golden_id]
    assert {x["record_key"] for x in payload["published"]["xref"]} == set(accepted)
    assert {p["golden_id"] for p in payload["published"]["provenance"]} == {golden_id}
    assert {d["decision_id"] for d in payload["steward_decisions"]} == {
        pin.decision_id,
        link.decision_id,
    }
    quarantined = {q["record_key"] for q in payload["quarantine"]}
    assert quarantined == {f"crm:{QUARANTINED_ID}"}
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert result.counts["source_records"] == len(base.subject_keys)

    [event] = [e for e in read_audit(root) if e.action == "export"]
    assert (event.actor, event.reason, event.target) == (
        "dpo",
        "art. 15",
        f"subject:{result.subject}",
    )
    assert base.subject_email.lower() not in Warehouse(root).audit_log.read_text().lower()

    # The same subject named by golden id or by one record key.
    for subject in (golden_id, accepted[-1]):
        again = export_subject(config, subject, tmp_path / "again.json")
        keys = {
            r["record_key"]
            for r in json.loads((tmp_path / "again.json").read_text())["source_records"]
        }
        assert keys == set(accepted), subject
        assert again.golden_ids == [golden_id]


# --- backups ------------------------------------------------------------------------------


def backup_config(base: Base, root: Path, bucket: str, encrypted: bool) -> PipelineConfig:
    overrides: dict[str, object] = {
        "backup.enabled": True,
        "backup.bucket": bucket,
        "backup.prefix": "privacy",
        "privacy.erased_backup_grace_days": 30,
    }
    if encrypted:
        overrides["backup.client_side_key_env"] = KEY_ENV
    return make_config(base.sample, root, **overrides)


def two_backups(base: Base, tmp_path: Path, bucket: str, encrypted: bool) -> PipelineConfig:
    """Backups of run 1 and run 2, taken when each was current; the warehouse at run 2."""
    root = copy_of(base.run1, tmp_path)
    backup(backup_config(base, root, bucket, encrypted), RUN1)
    root = copy_of(base.run2, tmp_path)
    config = backup_config(base, root, bucket, encrypted)
    backup(config, RUN2)
    return config


def test_old_encrypted_backups_are_shredded_after_the_grace_period(
    base: Base,
    tmp_path: Path,
    salt: str,
    s3_env: S3Endpoint,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY_ENV, generate_master_key())
    config = two_backups(base, tmp_path, s3_bucket, encrypted=True)
    root = config.warehouse.path
    values = subject_values(root, base.subject_keys)

    result = forget(config, base.subject_email, reason="art. 17", requester="ticket 7")
    assert result.problems == []
    assert result.backup_run_id == RUN2, "a fresh backup of the cleaned current version"
    assert result.backups is not None and result.erasure_id in result.backups.waiting
    by_run = {b.run_id: b for b in list_backups(config)}
    assert not by_run[RUN1].key_destroyed, "restorable during the grace period"

    # Inside the grace period a restore of the old backup brings the subject back: the CLI's
    # restore erases them again at once.
    config_file = write_config(
        base,
        tmp_path / "restore.yaml",
        root,
        backup={"bucket": s3_bucket, "prefix": "privacy", "client_side_key_env": KEY_ENV},
    )
    restored = CliRunner().invoke(
        app, ["restore", RUN1, "--config", str(config_file), "--force", "--actor", "ops"]
    )
    assert restored.exit_code == 0, restored.output
    assert "erased again" in restored.output
    assert find_values(root, values) == []
    assert [(e.action, e.actor) for e in read_audit(root)][-2:] == [
        ("restore", "ops"),
        ("erasure.reapplied", "ops"),
    ]

    # After the grace period the old backup's key is destroyed: it cannot be restored at all.
    later = enforce_backup_erasures(config, result.backups_due_at + timedelta(minutes=1))
    assert later.done == {result.erasure_id: {RUN1: "key destroyed"}}
    by_run = {b.run_id: b for b in list_backups(config)}
    assert by_run[RUN1].key_destroyed and not by_run[RUN2].key_destroyed
    with pytest.raises(BackupError, match=f"data key of backup {RUN1} was destroyed"):
        restore(config, RUN1, force=True)
    assert any(e.action == "backup_key.destroyed" and e.target == RUN1 for e in read_audit(root))
    assert enforce_backup_erasures(config, result.backups_due_at + timedelta(days=1)).done == {}

    # The backup taken after the erasure restores, without the subject.
    fresh = make_config(
        base.sample,
        tmp_path / "fresh",
        **{
            "backup.enabled": True,
            "backup.bucket": s3_bucket,
            "backup.prefix": "privacy",
            "backup.client_side_key_env": KEY_ENV,
        },
    )
    restore(fresh, RUN2)
    assert current_run_id(tmp_path / "fresh") == RUN2
    assert find_values(tmp_path / "fresh", values) == []
    assert find_values(tmp_path / "fresh", set(base.subject_keys)) == []


def test_unencrypted_backups_holding_the_subject_are_deleted_on_purge(
    base: Base, tmp_path: Path, salt: str, s3_env: S3Endpoint, s3_bucket: str
) -> None:
    config = two_backups(base, tmp_path, s3_bucket, encrypted=False)
    result = forget(
        config, base.subject_email, reason="art. 17", requester="ticket 8", purge_backups=True
    )
    assert result.backups is not None
    assert result.backups.done == {result.erasure_id: {RUN1: "deleted"}}
    assert [b.run_id for b in list_backups(config)] == [RUN2]
    assert any(e.action == "backup.deleted" for e in read_audit(config.warehouse.path))


# --- retention ----------------------------------------------------------------------------


def test_retention_erases_records_no_source_delivers_any_more(base: Base, tmp_path: Path) -> None:
    root = copy_of(base.run2, tmp_path)
    config = make_config(base.sample, root, **{"privacy.record_retention_days": 30})
    wh = Warehouse(root)
    batch = pl.read_parquet(wh.raw_batch("crm", RUN2) / "part-00000.parquet")
    seen_last = batch["ingested_at"].max()
    raw_before = pl.read_parquet(wh.raw_batch("crm", RUN1) / "part-00000.parquet").height

    # Not yet: everything was seen within the period.
    assert apply_record_retention(config, seen_last + timedelta(days=29)).records == 0
    result = apply_record_retention(config, seen_last + timedelta(days=30))

    assert result.records == DROPPED
    raw_after = pl.read_parquet(wh.raw_batch("crm", RUN1) / "part-00000.parquet")
    assert raw_after.height == raw_before - DROPPED
    assert find_values(root, set(base.dropped_keys)) == []
    assert json.loads((wh.raw_batch("crm", RUN1) / "_batch.json").read_text())["rows"] == (
        raw_before - DROPPED
    )
    [event] = [e for e in read_audit(root) if e.action == "retention"]
    assert event.details["records"] == DROPPED and "30 days" in (event.reason or "")
    # Nothing else was touched: run 2 still publishes every customer it had.
    assert (
        read_table(root, "golden_customers").num_rows
        == read_table(base.run2, "golden_customers").num_rows
    )


def test_the_maintenance_dag_finds_the_retention_entry_point() -> None:
    import pipelines.privacy

    assert callable(getattr(pipelines.privacy, "apply_record_retention", None))


def test_a_run_in_flight_is_flagged_and_the_weekly_task_erases_what_it_brings_back(
    base: Base, tmp_path: Path, salt: str
) -> None:
    root = copy_of(base.run2, tmp_path)
    config = make_config(base.sample, root)
    (Warehouse(root).run(RUN3) / "stages").mkdir(parents=True)  # started, not finished

    result = forget(config, base.subject_email, reason="art. 17", requester="ticket 9")
    assert any(RUN3 in w and "golden privacy reapply" in w for w in result.warnings)

    # The run publishes what it had ingested before the erasure: the registry has them again.
    shutil.copyfile(Warehouse(base.run2).id_registry, Warehouse(root).id_registry)
    accepted = base.subject_keys - {f"crm:{QUARANTINED_ID}"}
    swept = apply_record_retention(config)
    assert swept.cutoff is None and swept.records == 0, "no retention period configured"
    assert swept.reapplied == len(accepted)
    registry = pl.read_parquet(Warehouse(root).id_registry)
    assert not set(registry["record_key"]) & set(base.subject_keys)
