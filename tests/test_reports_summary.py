"""The run summary and the errors a steward reads say where rows went and which file is at fault:
rows suppressed at ingest are shown, reject reasons are in the summary, and a batch that lacks
the mapped columns names the (empty) file it was read from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.config import PipelineConfig, load_config
from pipelines.errors import SchemaDriftError
from pipelines.ingest import ingest_source
from pipelines.orchestrate import run_pipeline, run_stage, stage_record_path
from pipelines.scorecard.report import report_path
from pipelines.summary import format_summary, summarise_run
from pipelines.validate import validate_source
from pipelines.warehouse import Warehouse, write_json

RUN = "20260301T090000Z-aaaaaa"


def make_config(tmp_path: Path, csv: str) -> PipelineConfig:
    (tmp_path / "crm.csv").write_text(csv, encoding="utf-8")
    text = {
        "warehouse": {"path": str(tmp_path / "warehouse")},
        "sources": [
            {"name": "crm", "kind": "file", "path": str(tmp_path / "crm.csv"), "id_column": "id",
             "mapping": {"first_name": "first", "email": "mail"}},
        ],
    }  # fmt: skip
    (tmp_path / "config.yaml").write_text(json.dumps(text))
    return load_config(tmp_path / "config.yaml")


def test_an_empty_csv_fails_validation_naming_the_file(tmp_path: Path) -> None:
    config = make_config(tmp_path, "")
    ingest_source(config, RUN, "crm")

    with pytest.raises(SchemaDriftError) as raised:
        validate_source(config, RUN, "crm")

    message = str(raised.value)
    assert str(tmp_path / "crm.csv") in message and "is empty" in message
    assert "'first'" in message and "'crm'" in message


def test_the_summary_gives_the_reasons_rows_were_rejected_at_ingest(tmp_path: Path) -> None:
    csv = "id,first,mail\n1,Ann,a@x.org\n,Bo,b@x.org\n2,Cy,c@x.org\n ,Di,d@x.org\n3,Ed,e@x.org\n"
    config = make_config(tmp_path, csv)
    run_stage("ingest", config, RUN, source="crm")

    summary = summarise_run(config, RUN)
    report = format_summary(summary)

    assert summary.sources[0].rejected_at_ingest == 2
    assert "rejected 2: no value in id column 'id'" in report
    assert "(first at crm.csv:3)" in report


def test_the_summary_shows_rows_suppressed_at_ingest(tmp_path: Path) -> None:
    config = make_config(tmp_path, "id,first,mail\n1,Ann,a@x.org\n")
    result = run_stage("ingest", config, RUN, source="crm")
    # The ingest of a run where two rows of erased subjects were read and dropped.
    result.update(rows_read=result["rows_read"] + 2, rows_suppressed=2)
    path = stage_record_path(Warehouse(config.warehouse.path), RUN, "ingest", "crm")
    record = json.loads(path.read_text())
    write_json(path, record | {"result": result})

    report = format_summary(summarise_run(config, RUN))

    assert "2 row(s) of erased subjects suppressed at ingest" in report


def test_a_reject_reason_cannot_drive_the_terminal() -> None:
    from pipelines.summary import RunSummary, SourceCounts

    reason = "bad row \x1b]0;owned\x07\x1b[2J" + "x" * 200
    counts = SourceCounts(source="crm", rejected_at_ingest=1, reject_reasons=[(reason, 1, "a:2")])

    report = format_summary(RunSummary(run_id=RUN, sources=[counts]))

    assert "\x1b" not in report and "\x07" not in report
    assert "rejected 1: bad row ?]0;owned??[2J" in report


@pytest.mark.slow
def test_the_run_summary_links_the_scorecard_report_written_by_the_run(tmp_path: Path) -> None:
    names = ["Ann", "Bo", "Cy", "Di", "Ed", "Flo"]
    rows = [f"{i},{n},{n.lower()}{i}@example.org" for i, n in enumerate(names, 1)]
    (tmp_path / "crm.csv").write_text("id,first,mail\n" + "\n".join(rows) + "\n")
    text = {
        "warehouse": {"path": str(tmp_path / "warehouse")},
        "backup": {"enabled": False},
        "language": "en",  # the summary's labels, whatever the terminal's locale
        "validation": {"expectations_dir": str(Path(__file__).parents[1] / "expectations")},
        "sources": [
            {"name": "crm", "kind": "file", "path": str(tmp_path / "crm.csv"), "id_column": "id",
             "mapping": {"first_name": "first", "email": "mail"}},
        ],
    }  # fmt: skip
    (tmp_path / "config.yaml").write_text(json.dumps(text))
    config = load_config(tmp_path / "config.yaml")

    run_id = run_pipeline(config, skip_backup=True)
    summary = summarise_run(config, run_id)
    report = format_summary(summary)

    links = [line for line in report.splitlines() if line.startswith("quality scorecard:")]
    assert len(links) == 1, report
    target = Path(links[0].removeprefix("quality scorecard:").strip())
    assert target == report_path(config.warehouse.path) and str(target) == (
        summary.dq_scorecard_report
    )
    assert target.is_file()
    page = target.read_text(encoding="utf-8")
    assert run_id in page and "crm" in page
