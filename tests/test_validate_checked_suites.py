"""Suites checked with GX once per file content and GX version: later validation processes load
the kept check without importing GX and write exactly what a GX-checked run writes.

The shortcut is only worth having if it is invisible: the kept check must give the same rules
(types, arguments as GX typed them, severities, descriptions), a damaged entry must be checked
again rather than trusted, errors must still name the file and the expectation, and a rule only
GX's engine evaluates must still import GX and run there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from pipelines.config import PipelineConfig, load_config
from pipelines.errors import ConfigError
from pipelines.validate import checked, validate_source
from pipelines.validate.engine import evaluate_rule, resolve_arguments, run_parameters
from pipelines.validate.suites import Suite, load_suite, suite_files
from pipelines.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[1]
RUN_1 = "20260301T090000Z-aaaaaa"
RUN_2 = "20260302T090000Z-bbbbbb"
MAPPING = {"first_name": "first", "last_name": "last", "email": "mail", "phone": "tel"}

SUITE: dict[str, Any] = {
    "name": "crm",
    "meta": {"owner": "crm team"},
    "expectations": [
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1},
         "meta": {"severity": "warning"}},
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "source_record_id"},
         "meta": {"severity": "critical"}},
        {"type": "expect_column_values_to_match_regex",
         "kwargs": {"column": "raw_email", "regex": r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$"},
         "meta": {"severity": "critical"}, "description": "The email address is malformed."},
        {"type": "expect_column_values_to_match_regex",
         "kwargs": {"column": "raw_phone", "regex": r"^\+[0-9]{8,15}$", "mostly": 0.9},
         "meta": {"severity": "warning"}, "notes": "Local numbers are fixed by standardise."},
        {"type": "expect_column_values_to_not_be_null",
         "kwargs": {"column": "raw_email", "row_condition": {"type": "and", "conditions": [
             {"type": "nullity", "column": {"name": "raw_phone"}, "is_null": True},
             {"type": "comparison", "column": {"name": "raw_first_name"}, "operator": "IN",
              "parameter": ["Ada", "Alan"]}]}},
         "meta": {"severity": "critical"}, "description": "No way to reach the customer."},
        {"type": "expect_column_value_lengths_to_be_between",
         "kwargs": {"column": "raw_last_name", "min_value": 2, "max_value": 30},
         "meta": {"severity": "critical"}},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "source_updated_at", "max_value": {"$PARAMETER": "run_time"}},
         "meta": {"severity": "warning"}},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "ingested_at", "min_value": "2020-01-01T00:00:00+00:00"},
         "meta": {"severity": "warning"}},
        {"type": "expect_column_proportion_of_non_null_values_to_be_between",
         "kwargs": {"column": "raw_phone", "min_value": 0.5}, "meta": {"severity": "warning"}},
    ],
}  # fmt: skip
"""Every kind of argument the cache keeps: row conditions (nested, with a list parameter), a run
parameter, ``mostly``, notes, descriptions, model defaults (strict bounds)."""

GX_ONLY = {
    "type": "expect_column_mean_to_be_between",
    "kwargs": {"column": "trust_rank", "min_value": 0, "max_value": 0.5},
    "meta": {"severity": "warning"},
}
"""A rule the Polars engine has no implementation of: GX's engine evaluates it."""


def _config(tmp_path: Path, suite: dict[str, Any] = SUITE) -> PipelineConfig:
    suites = tmp_path / "suites"
    suites.mkdir(exist_ok=True)
    (suites / "crm.json").write_text(json.dumps(suite, indent=1))
    text = {
        "warehouse": {"path": str(tmp_path / "warehouse")},
        "validation": {"expectations_dir": str(suites)},
        "sources": [{"name": "crm", "kind": "file", "path": "crm.csv", "id_column": "id",
                     "mapping": MAPPING}],
    }  # fmt: skip
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(text))
    return load_config(path)


def _write_current(config: PipelineConfig, run_id: str, rows: int) -> None:
    """A source's current records with a fair share of rows breaking each rule; the first rows
    are the same records (from the first batch) in every run, as ingest keeps them."""

    def batch(n: int) -> str:
        return RUN_1 if n < 100 else run_id

    def loaded(n: int) -> datetime:
        return datetime.strptime(batch(n)[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)

    ids = [str(n) if n % 50 else "dup" for n in range(rows)]  # a few duplicate ids
    frame = pl.DataFrame(
        {
            "record_key": [f"crm:{i}:{n}" for n, i in enumerate(ids)],
            "source_system": "crm",
            "source_record_id": ids,
            "batch_id": [batch(n) for n in range(rows)],
            "ingested_at": [loaded(n) for n in range(rows)],
            "source_updated_at": [
                None if n % 7 == 0 else loaded(n) + timedelta(hours=(n % 5) * 20 - 50)
                for n in range(rows)
            ],
            "id": ids,
            "first": [["Ada", "Alan", None, "Grace"][n % 4] for n in range(rows)],
            "last": [["Lovelace", "X", None, "Hopper"][n % 4] for n in range(rows)],
            "mail": [[f"p{n}@example.org", "bad(at)example.org", None][n % 3] for n in range(rows)],
            "tel": [["+442071234567", "555-0100", None][(n // 3) % 3] for n in range(rows)],
        },
        schema_overrides={
            "ingested_at": pl.Datetime("us", "UTC"),
            "source_updated_at": pl.Datetime("us", "UTC"),
        },
    )
    path = Warehouse(config.warehouse.path).current_records(run_id, "crm")
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path)


def _rules_equal(a: Suite, b: Suite) -> None:
    assert [r.checked for r in a] == [r.checked for r in b]
    assert [(r.severity, r.label, r.reason, r.columns) for r in a] == [
        (r.severity, r.label, r.reason, r.columns) for r in b
    ]
    parameters = run_parameters(RUN_1)
    for left, right in zip(a, b, strict=True):
        assert repr(resolve_arguments(left, parameters)) == repr(
            resolve_arguments(right, parameters)
        )


@pytest.mark.parametrize("path", suite_files(REPO / "expectations"), ids=lambda p: p.stem)
def test_a_kept_check_gives_the_rules_gx_gives_for_every_shipped_suite(
    tmp_path: Path, path: Path
) -> None:
    first = load_suite(path, tmp_path)
    kept = list(tmp_path.iterdir())
    second = load_suite(path, tmp_path)

    assert [p.name for p in kept] == [checked.cache_file(tmp_path, path.read_bytes()).name]
    assert first.gx_object is not None and second.gx_object is None  # second: no GX check
    _rules_equal(first, second)
    assert len(second.gx_suite.expectations) == len(first.rules)  # GX's suite, built lazily


def test_a_kept_check_keeps_typed_arguments_conditions_and_parameters(tmp_path: Path) -> None:
    config = _config(tmp_path)
    path = config.validation.expectations_dir / "crm.json"
    first = load_suite(path, tmp_path / "cache")
    second = load_suite(path, tmp_path / "cache")

    _rules_equal(first, second)
    condition = second.rules[4].checked.args["row_condition"]
    assert condition.kind == "and" and condition.conditions[1].parameter == ["Ada", "Alan"]
    assert "max_value" not in second.rules[6].checked.args  # a run parameter stays unresolved
    assert second.rules[8].checked.defaults == {"strict_min": False, "strict_max": False}
    assert second.rules[2].expectation.configuration.to_json_dict() == (
        first.rules[2].expectation.configuration.to_json_dict()
    )


def test_a_damaged_kept_check_is_checked_again_and_rewritten(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = _config(tmp_path)
    path = config.validation.expectations_dir / "crm.json"
    cache_dir = tmp_path / "cache"
    reference = load_suite(path, cache_dir)
    entry = checked.cache_file(cache_dir, path.read_bytes())
    good = entry.read_text()
    damaged = [
        "{not json",
        json.dumps({**json.loads(good), "format": 0}),
        json.dumps({**json.loads(good), "expectations": json.loads(good)["expectations"][:3]}),
        good.replace('"kwargs"', '"kwargz"', 1),
        good.replace('"row_condition"', '"__golden_type__"', 1),
        good.replace('"id": null', '"id": 5', 1),
    ]
    for text in damaged:
        entry.write_text(text)
        with caplog.at_level("WARNING", logger="pipelines.validate.checked"):
            again = load_suite(path, cache_dir)

        assert again.gx_object is not None  # checked with GX again
        assert "ignoring the checked-suite cache entry" in caplog.text
        _rules_equal(reference, again)
        assert entry.read_text() == good  # rewritten
        caplog.clear()


def test_errors_still_name_the_file_and_expectation_and_are_never_kept(tmp_path: Path) -> None:
    suite = {
        **SUITE,
        "expectations": [
            *SUITE["expectations"][:2],
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "x", "min_value": 1, "bogus": 2},
                "meta": {"severity": "critical"},
            },
        ],
    }
    config = _config(tmp_path, suite)
    path = config.validation.expectations_dir / "crm.json"
    cache_dir = tmp_path / "cache"

    for _ in range(2):
        with pytest.raises(ConfigError, match=r"expectation #3 of .*crm\.json \(expect_column_va"):
            load_suite(path, cache_dir)
    assert not cache_dir.exists()
    path.write_text(json.dumps({**suite, "name": "shop"}))
    with pytest.raises(ConfigError, match=r"crm\.json is named 'shop'"):
        load_suite(path, cache_dir)


def test_a_suite_whose_values_json_cannot_keep_is_checked_every_time(tmp_path: Path) -> None:
    suite = {**SUITE, "expectations": [{
        "type": "expect_column_values_to_be_between",
        "kwargs": {"column": "trust_rank", "min_value": float("nan")},
        "meta": {"severity": "warning"}}]}  # fmt: skip
    config = _config(tmp_path, suite)
    path = config.validation.expectations_dir / "crm.json"

    first, second = load_suite(path, tmp_path / "cache"), load_suite(path, tmp_path / "cache")

    assert not (tmp_path / "cache").exists()
    assert first.gx_object is not None and second.gx_object is not None


def test_a_cache_folder_that_cannot_be_written_does_not_fail_the_load(tmp_path: Path) -> None:
    config = _config(tmp_path)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder would be")

    suite = load_suite(config.validation.expectations_dir / "crm.json", blocked / "cache")

    assert len(suite.rules) == len(SUITE["expectations"])


_WORKER = """
import json, sys
from pipelines.config import load_config
from pipelines.validate import validate_source
config = load_config(sys.argv[1])
result = validate_source(config, sys.argv[2], "crm")
print(json.dumps({"gx_imported": "great_expectations" in sys.modules, "path": result.path}))
"""


def _python(script: str, *args: str | Path) -> Any:
    """Run ``script`` in a fresh Python process, as an Airflow worker runs a stage; its last
    line of output is JSON. (A file, not ``-c``: PySpark, which GX imports, exits a process
    whose main module has no file, taking it for a doctest run.)"""
    path = Path(str(args[0])).parent / "worker.py"
    path.write_text(script)
    done = subprocess.run(
        [sys.executable, str(path), *map(str, args)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _run_in_process(config: PipelineConfig, run_id: str) -> dict[str, Any]:
    """``validate_source`` in a fresh process."""
    return _python(_WORKER, config.config_path, run_id)


def _outputs(config: PipelineConfig, run_id: str) -> dict[str, Any]:
    warehouse = Warehouse(config.warehouse.path)
    return {
        "accepted": pl.read_parquet(warehouse.accepted(run_id, "crm")),
        "verdicts": pl.read_parquet(warehouse.row_verdicts(run_id, "crm")),
        "quarantine": pl.read_parquet(warehouse.quarantine(run_id, "crm")),
        "dq": warehouse.dq_result(run_id, "crm").read_bytes(),
        "gx": warehouse.gx_result(run_id, "crm").read_bytes(),
    }


def _assert_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    for name in ("accepted", "verdicts", "quarantine"):
        assert a[name].equals(b[name]), name
    assert (a["dq"], a["gx"]) == (b["dq"], b["gx"])


def test_validate_source_imports_gx_only_to_check_a_new_suite_and_writes_the_same(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    _write_current(config, RUN_1, 100)
    _write_current(config, RUN_2, 130)
    cache_dir = Warehouse(config.warehouse.path).checked_suites

    first = _run_in_process(config, RUN_1)
    kept = sorted(p.name for p in cache_dir.iterdir())
    second = _run_in_process(config, RUN_2)
    with_cache = {RUN_1: _outputs(config, RUN_1), RUN_2: _outputs(config, RUN_2)}

    assert first == {"gx_imported": True, "path": "full"}  # checks the new suite with GX
    assert second == {"gx_imported": False, "path": "incremental"}
    assert len(kept) == 1
    assert with_cache[RUN_1]["quarantine"].height > 0  # the suite rejects some rows
    for run_id in (RUN_1, RUN_2):  # the same runs again, the suite checked with GX each time
        for entry in cache_dir.iterdir():
            entry.unlink()
        again = validate_source(config, run_id, "crm")
        assert again.path == ("full" if run_id == RUN_1 else "incremental")
        _assert_same(_outputs(config, run_id), with_cache[run_id])


_FALLBACK_WORKER = """
import json, sys
import polars as pl
from pipelines.validate.engine import evaluate_rule, run_parameters
from pipelines.validate.suites import load_suite
frame = pl.read_parquet(sys.argv[1])
suite = load_suite(sys.argv[2], sys.argv[3])
parameters = run_parameters(sys.argv[4])
report = {}
for rule in suite:
    outcome = evaluate_rule(rule, frame, parameters)
    report[rule.index] = {"engine": outcome.engine, "rows": outcome.rows.tolist(),
                          "result": outcome.to_json_dict(),
                          "gx_imported": "great_expectations" in sys.modules}
print(json.dumps(report))
"""


def test_a_rule_only_gx_evaluates_still_runs_on_gx_when_the_suite_is_kept(tmp_path: Path) -> None:
    suite = {**SUITE, "expectations": [*SUITE["expectations"][1:5], GX_ONLY]}
    config = _config(tmp_path, suite)
    path = config.validation.expectations_dir / "crm.json"
    cache_dir = tmp_path / "cache"
    reference_suite = load_suite(path, cache_dir)  # checked with GX, kept
    frame = pl.DataFrame(
        {
            "source_record_id": ["1", "2", "2", "3"],
            "raw_email": ["a@x.org", "bad", None, None],
            "raw_phone": ["+442071234567", None, "555", None],
            "raw_first_name": ["Ada", "Alan", "Ada", "Grace"],
            "trust_rank": [1, 1, 2, 2],
        }
    )
    data = tmp_path / "frame.parquet"
    frame.write_parquet(data)

    report = _python(_FALLBACK_WORKER, data, path, cache_dir, RUN_1)

    engines = [report[str(i)]["engine"] for i in range(5)]
    assert engines == ["polars"] * 4 + ["gx"]
    assert [report[str(i)]["gx_imported"] for i in range(5)] == [False] * 4 + [True]
    parameters = run_parameters(RUN_1)
    for rule in reference_suite:
        expected = evaluate_rule(rule, frame, parameters)
        assert report[str(rule.index)]["rows"] == expected.rows.tolist()
        assert report[str(rule.index)]["result"] == json.loads(json.dumps(expected.to_json_dict()))
    assert report["4"]["result"]["result"]["observed_value"] == 1.5
