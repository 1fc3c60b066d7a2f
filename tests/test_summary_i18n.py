"""The run summary in Simplified Chinese: chosen by the config (or, with ``auto``, the
terminal's locale), its columns still lined up in a terminal where a Chinese character is two
columns wide, and the English summary unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

from pipelines.summary import RunSummary, SourceCounts, format_summary

GOLDEN = str(Path(sys.executable).parent / "golden")


def _summary() -> RunSummary:
    crm = SourceCounts(
        source="crm",
        rows_read=1200,
        rejected_at_ingest=3,
        reject_reasons=[("no value in id column '客户编号'", 3, "crm.csv:7")],
        current=1197,
        accepted=1190,
        quarantined=7,
        warned=2,
        new_records=1197,
        changed=0,
    )
    return RunSummary(
        run_id="20261205T100000Z-abcdef",
        sources=[crm],
        staged=1197,
        staged_accepted=1190,
        staged_quarantined=7,
        golden_records=950,
        golden_ids={"created": 950},
        standardisation={"phone": {"standardised": 1100, "invalid": 4, "empty": 93}},
        published_version="/w/published/v1",
        backup_configured=False,
    )


def _columns(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def test_the_chinese_summary_says_everything_in_chinese_with_the_counts() -> None:
    report = format_summary(_summary(), "zh_CN")
    assert report.splitlines()[0] == "运行 20261205T100000Z-abcdef"
    assert "拒收 3 行：no value in id column '客户编号'（首次出现于 crm.csv:7）" in report
    assert "暂存记录：1,197  通过：1,190  隔离：7" in report
    assert "黄金记录：950（黄金 ID：新建 950）" in report
    assert "无：未配置备份存储桶（backup.bucket）" in report
    for english in ("staged records", "golden records", "rejected", "backup:"):
        assert english not in report


def test_the_chinese_tables_line_up_in_a_terminal() -> None:
    lines = format_summary(_summary(), "zh_CN").splitlines()
    header, rule, row = lines[2], lines[3], lines[4]
    assert set(rule) == {"-"} and _columns(header) == len(rule)
    # Each count ends where its heading ends, counted in terminal columns.
    assert _columns(header.rsplit("对账", 1)[0].rstrip()) == _columns(
        row.rsplit("是", 1)[0].rstrip()
    )


def test_the_english_summary_is_the_default_and_unchanged() -> None:
    report = format_summary(_summary())
    assert report == format_summary(_summary(), "en")
    assert "staged records: 1,197  accepted: 1,190  quarantined: 7" in report
    assert "golden records: 950  (ids: created 950)" in report
    assert "backup:            none: no backup bucket configured" in report
    assert "source             rows in  rejected   current  accepted  quarant.    warned" in report


def _deployment(tmp_path: Path, language: str) -> Path:
    lines = ["客户编号,姓名,邮箱,手机"]
    family, given = "王李张刘陈杨", ["小明", "秀英", "伟", "芳", "建国", "丽"]
    lines += [
        f"{i},{family[i % 6]}{given[i % 5]},c{i % 30}@example.cn,1381234{5000 + i % 30}"
        for i in range(60)
    ]
    (tmp_path / "crm.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = {
        "language": language,
        "warehouse": {"path": str(tmp_path / "warehouse")},
        "sources": [
            {
                "name": "crm",
                "kind": "file",
                "path": "crm.csv",
                "id_column": "客户编号",
                "default_country": "CN",
                "default_phone_region": "CN",
                "mapping": {"full_name": "姓名", "email": "邮箱", "phone": "手机"},
            }
        ],
    }
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    return path


def test_golden_run_with_a_chinese_config_prints_a_chinese_summary(tmp_path: Path) -> None:
    config = _deployment(tmp_path, "zh_CN")
    environ = {**os.environ, "LC_ALL": "C.UTF-8"}  # the config wins over an English terminal
    done = subprocess.run(
        [GOLDEN, "run", "--config", str(config), "--skip-backup"],
        capture_output=True,
        text=True,
        timeout=900,
        env=environ,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "运行 " in out and "黄金记录：" in out and "暂存记录：60" in out, out
    assert "校验报告：" in out and "运行目录：" in out, out
    assert "golden records:" not in out and "staged records:" not in out, out
