"""Data Docs a steward reads right: rules stated as they should hold, a severity column, a
status that tells warnings from failures, counts that agree with the quality gate, the record
keys of failing rows, rows rejected at ingest with file, line and reason, canonical column
names, no NaN and no newsletter footer."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import polars as pl
import pytest

from pipelines.config import PipelineConfig, load_config
from pipelines.ingest import ingest_source
from pipelines.validate import build_data_docs, check_gate, validate_source
from pipelines.validate.report_pages import REJECTED_AT_INGEST, render_validation, validation_view
from pipelines.validate.results import read_suite_result
from pipelines.validate.suites import load_suite, suite_files
from pipelines.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[1]
RUN = "20260301T090000Z-aaaaaa"
ROWS = 29
BAD_EMAIL = {2, 5, 9, 13, 17, 21, 25}  # 7 of 29 rows
NO_EMAIL = {3, 7, 11, 15, 19}  # empty: the email rule does not judge them


def make_config(tmp_path: Path, nameless: bool = False) -> PipelineConfig:
    lines = ["id,first,last,mail,updated"]
    for i in range(ROWS):
        mail = "" if i in NO_EMAIL else (f"user{i}(at)example" if i in BAD_EMAIL else f"u{i}@x.org")
        name = ",," if nameless and i == 0 else f"Ann{i},Lee{i},"
        lines.append(f"{i + 1},{name}{'' if nameless and i == 0 else mail},2026-02-01 10:00:00")
    lines.append(",Nobody,Noid,no@id.org,2026-02-01 10:00:00")  # no id: rejected at ingest
    (tmp_path / "crm.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    text = {
        "warehouse": {"path": str(tmp_path / "warehouse")},
        "validation": {"expectations_dir": str(REPO / "expectations")},
        "sources": [
            {"name": "crm", "kind": "file", "path": str(tmp_path / "crm.csv"), "id_column": "id",
             "updated_at_column": "updated",
             "mapping": {"first_name": "first", "last_name": "last", "email": "mail"}},
        ],
    }  # fmt: skip
    (tmp_path / "config.yaml").write_text(json.dumps(text))
    return load_config(tmp_path / "config.yaml")


def run_validation(tmp_path: Path, nameless: bool = False) -> tuple[PipelineConfig, Path]:
    config = make_config(tmp_path, nameless)
    ingest_source(config, RUN, "crm")
    validate_source(config, RUN, "crm")
    site = build_data_docs(config, RUN).parent
    return config, next((site / "validations" / "crm").rglob("*.html"))


@pytest.fixture(scope="module")
def warned(tmp_path_factory: pytest.TempPathFactory) -> tuple[PipelineConfig, Path]:
    """Only warning rules fail (malformed emails); one row was rejected at ingest."""
    return run_validation(tmp_path_factory.mktemp("warned"))


def text_of(page: Path) -> str:
    html = page.read_text(encoding="utf-8")
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'")


def expectation_rows(page: Path) -> list[str]:
    body = page.read_text(encoding="utf-8").split('<table id="expectations">', 1)[1]
    return re.findall(r"<tr class=\"(?:passed|warning|failed)\">(.*?)</tr>", body, re.DOTALL)


def test_every_shipped_rule_is_stated_as_it_should_hold_and_its_problem_kept_apart() -> None:
    problem_words = re.compile(r"^(The \w+( \w+)? (is|has) not|Fewer than|.* is empty or )")
    for path in suite_files(REPO / "expectations"):
        for rule in load_suite(path):
            statement = rule.checked.description
            assert statement and not problem_words.match(statement), (path.name, statement)
            assert rule.checked.meta.get("failure_reason"), (path.name, rule.label)
            assert rule.reason == rule.checked.meta["failure_reason"]  # what quarantine says


def test_only_warnings_failing_reads_passed_with_warnings_with_a_severity_column(
    warned: tuple[PipelineConfig, Path],
) -> None:
    _, page = warned
    html = page.read_text(encoding="utf-8")
    assert 'id="status">Passed with warnings<' in html
    assert "<th>Severity</th>" in html
    rows = expectation_rows(page)
    suite = load_suite(REPO / "expectations" / "crm.json")
    assert len(rows) == len(suite.rules)
    for row, rule in zip(rows, suite, strict=True):
        assert f'<span class="badge {rule.severity}">{rule.severity}</span>' in row
    index = (page.parents[4] / "index.html").read_text(encoding="utf-8")
    assert "Passed with warnings" in index


def test_a_failing_critical_rule_reads_failed(tmp_path: Path) -> None:
    _, page = run_validation(tmp_path, nameless=True)

    assert 'id="status">Failed<' in page.read_text(encoding="utf-8")


def test_counts_are_over_the_batch_rows_as_the_gate_counts(
    warned: tuple[PipelineConfig, Path],
) -> None:
    config, page = warned
    dq = json.loads(Warehouse(config.warehouse.path).dq_result(RUN, "crm").read_text())
    email = next(e for e in dq["expectations"] if e["expectation"].endswith("match_regex")
                 and e["column"] == "raw_email")  # fmt: skip
    assert (email["unexpected_count"], dq["rows_in"]) == (7, ROWS)
    assert check_gate(config, RUN).passed

    text = text_of(page)
    assert "7 of 29 rows fail (24.1%)" in text  # GX said 29.2%: 7 of the 24 non-empty
    assert "29.2%" not in text
    assert "5 empty, which this rule does not judge" in text


def test_failing_rows_are_listed_with_their_record_keys(
    warned: tuple[PipelineConfig, Path],
) -> None:
    _, page = warned
    row = next(r for r in expectation_rows(page) if "(at)example" in r)
    keys = re.findall(r"<code>(crm:\d+)</code>", row)
    assert sorted(keys) == sorted(f"crm:{i + 1}" for i in BAD_EMAIL)


def test_rows_rejected_at_ingest_are_quarantined_and_shown_with_file_line_and_reason(
    warned: tuple[PipelineConfig, Path],
) -> None:
    config, page = warned
    warehouse = Warehouse(config.warehouse.path)
    quarantine = pl.read_parquet(warehouse.quarantine(RUN, "crm"))
    rejected = quarantine.filter(pl.col("expectation") == REJECTED_AT_INGEST)
    assert rejected.height == 1
    reason = rejected["reason"][0]
    assert "crm.csv" in reason and f"line {ROWS + 2}" in reason and "no value in id" in reason
    assert rejected["source_system"].to_list() == ["crm"]

    html = page.read_text(encoding="utf-8")
    section = html.split('<table id="rejects">', 1)[1].split("</table>", 1)[0]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", section)
    assert cells[0].endswith("crm.csv</code>") and cells[1] == str(ROWS + 2)
    assert "no value in id" in cells[2]
    assert "Rows rejected at ingest (1)" in html


def test_columns_go_by_their_canonical_names(warned: tuple[PipelineConfig, Path]) -> None:
    _, page = warned
    html = page.read_text(encoding="utf-8")
    assert "raw_" not in html
    assert "<td>email</td>" in html


def test_no_page_carries_a_newsletter_footer_or_nan(warned: tuple[PipelineConfig, Path]) -> None:
    _, page = warned
    for path in page.parents[4].rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert "Subscribe" not in text and "newsletter" not in text.lower(), path
        assert "NaN" not in text, path


def test_a_rule_observed_over_no_rows_shows_no_nan() -> None:
    document = {
        "suite_name": "crm",
        "meta": {"batch_spec": {"rows": {"rows_in": 0}}, "run_id": {"run_name": RUN}},
        "results": [
            {
                "success": True,
                "expectation_config": {
                    "type": "expect_column_proportion_of_non_null_values_to_be_between",
                    "kwargs": {"column": "raw_email", "min_value": 0.2},
                    "meta": {"severity": "warning"},
                    "description": "At least a fifth of the records have an email address.",
                },
                "result": {"observed_value": math.nan},
            }
        ],
    }
    page = render_validation(validation_view(document, "validations/crm/x/y/crm.html"))

    assert "NaN" not in page and "no value" in page


def test_stored_results_still_load_in_gx(warned: tuple[PipelineConfig, Path]) -> None:
    """The record keys and ingest rejects added to the results keep GX's own format."""
    config, _ = warned
    result = read_suite_result(Warehouse(config.warehouse.path).gx_result(RUN, "crm"))
    assert result.meta["ingest_rejects"]["total"] == 1
    assert any(r.meta.get("record_keys") for r in result.results)


def test_erasure_takes_the_record_keys_out_of_the_reports(tmp_path: Path) -> None:
    from pipelines.privacy.erase import ErasurePlan, erase_records

    config, page = run_validation(tmp_path)
    erased = f"crm:{min(BAD_EMAIL) + 1}"
    kept = f"crm:{max(BAD_EMAIL) + 1}"
    assert f"<code>{erased}</code>" in page.read_text(encoding="utf-8")

    erase_records(config, ErasurePlan(record_keys=frozenset({erased})))

    reports = Path(config.warehouse.path) / "reports"
    for path in [*reports.rglob("*.html"), *reports.rglob("*.json")]:
        text = path.read_text(encoding="utf-8")
        assert f'"{erased}"' not in text and f">{erased}<" not in text, path
    assert f"<code>{kept}</code>" in page.read_text(encoding="utf-8")
    assert "<code>[erased]</code>" in page.read_text(encoding="utf-8")


def test_rows_rejected_at_ingest_reach_the_published_quarantine_table(
    warned: tuple[PipelineConfig, Path],
) -> None:
    import pyarrow as pa

    from pipelines.publish.inputs import quarantine_batches

    config, _ = warned
    table = pa.concat_tables(quarantine_batches(Warehouse(config.warehouse.path), RUN))
    rows = [r for r in table.to_pylist() if r["expectation"] == REJECTED_AT_INGEST]
    assert len(rows) == 1 and "crm.csv, line" in rows[0]["reason"]
