"""Data Docs and the scorecard report in Simplified Chinese when the config says so: Chinese
headings, statuses and rule descriptions, values still escaped, and a site that changes
language renders its old pages again."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl

from pipelines.config import PipelineConfig, load_config
from pipelines.ingest import ingest_source
from pipelines.scorecard.report import render
from pipelines.validate import build_data_docs, validate_source
from pipelines.validate.data_docs import rebuild_data_docs
from pipelines.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[1]
RUN = "20260301T090000Z-aaaaaa"
HOSTILE = "<script>alert(1)</script>@x"


def make_config(tmp_path: Path, language: str) -> PipelineConfig:
    lines = ["id,first,last,mail"]
    for i in range(12):
        mail = HOSTILE if i == 3 else (f"user{i}(at)example" if i % 4 == 1 else f"u{i}@x.org")
        lines.append(f"{i + 1},Ann{i},Lee{i},{mail}")
    (tmp_path / "crm.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    text = {
        "language": language,
        "warehouse": {"path": str(tmp_path / "warehouse")},
        "validation": {"expectations_dir": str(REPO / "expectations")},
        "sources": [
            {"name": "crm", "kind": "file", "path": str(tmp_path / "crm.csv"), "id_column": "id",
             "mapping": {"first_name": "first", "last_name": "last", "email": "mail"}},
        ],
    }  # fmt: skip
    (tmp_path / "config.yaml").write_text(json.dumps(text))
    return load_config(tmp_path / "config.yaml")


def build(config: PipelineConfig) -> Path:
    ingest_source(config, RUN, "crm")
    validate_source(config, RUN, "crm")
    return build_data_docs(config, RUN).parent


def test_a_chinese_site_has_chinese_descriptions_and_escapes_values(tmp_path: Path) -> None:
    site = build(make_config(tmp_path, "zh_CN"))
    (page,) = (site / "validations" / "crm").rglob("*.html")
    html = page.read_text(encoding="utf-8")
    assert '<html lang="zh-Hans">' in html
    assert 'id="status">通过（有警告）<' in html  # only the email warning rule failed
    assert "<th>读入行数</th>" in html and "<h2>规则</h2>" in html
    # Rules described in Chinese, made from the rule itself (columns by canonical name).
    assert "每个 source_record_id 在本批次中只出现一次。" in html
    assert "已填写的 email 符合格式" in html
    assert "email 不符合格式" in html  # what the failure means
    assert "12 行中有 4 行不通过（33.3%）" in html
    # The hostile value is listed as a failing value, as text.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;@x" in html
    assert "<script>" not in html
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "<h1>校验</h1>" in index and "通过（有警告）" in index
    suite = (site / "expectations" / "crm.html").read_text(encoding="utf-8")
    assert "<h1>规则集 crm</h1>" in suite and "不通过时意味着" in suite
    assert not re.search(r"<td>(critical|warning)</td>", suite)


def test_a_rule_with_a_condition_the_sentence_cannot_state_keeps_the_suites_words(
    tmp_path: Path,
) -> None:
    site = build(make_config(tmp_path, "zh_CN"))
    suite = (site / "expectations" / "crm.html").read_text(encoding="utf-8")
    # "a name or contact data" is a not-null rule under an and-condition: no Chinese sentence
    # could say it without the condition, so the suite's own English stays.
    assert "Every record has a name or contact data (email, phone or address)." in suite


def test_changing_the_language_renders_the_old_pages_again_and_an_erasure_keeps_it(
    tmp_path: Path,
) -> None:
    english = build(make_config(tmp_path, "en"))
    (page,) = (english / "validations" / "crm").rglob("*.html")
    assert '<html lang="en">' in page.read_text(encoding="utf-8")
    chinese = make_config(tmp_path, "zh_CN")
    build_data_docs(chinese, RUN)
    assert '<html lang="zh-Hans">' in page.read_text(encoding="utf-8")
    rebuild_data_docs(Warehouse(chinese.warehouse.path))  # no config: the site's language
    assert "通过（有警告）" in page.read_text(encoding="utf-8")


def test_the_scorecard_report_headings_follow_the_language() -> None:
    frame = pl.DataFrame(
        {
            "run_id": ["r1", "r1"],
            "source_system": ["<b>crm</b>", "<b>crm</b>"],
            "field": ["*", "email"],
            "records": [10, 10],
            **{m: [0.9, 0.8] for m in ("completeness", "validity", "uniqueness", "agreement")},
            "freshness": [1.0, 1.0],
            "score": [88.0, 85.0],
        }
    )
    chinese = render(frame, "zh_CN")
    assert '<html lang="zh-Hans">' in chinese and "<h1>数据质量评分卡</h1>" in chinese
    assert "<h2>最近一次运行 r1</h2>" in chinese and "<th>完整性</th>" in chinese
    assert "&lt;b&gt;crm&lt;/b&gt;" in chinese and "<b>crm" not in chinese
    english = render(frame)
    assert "<h1>Data quality scorecard</h1>" in english and "<th>completeness</th>" in english
