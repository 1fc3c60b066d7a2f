"""The config loader: every bad input is an error naming the file, the key and the line."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from textwrap import dedent

import pytest

from pipelines.config import load_config
from pipelines.errors import ConfigError

GOOD = """\
sources:
  - name: crm
    kind: file
    path: data/crm.csv
    id_column: crm_id
    mapping:
      first_name: fname
      email: mail
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(dedent(text))
    return path


def test_good_config_loads_with_defaults_and_guessed_format(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    source = config.source("crm")
    assert source.format == "csv"
    assert source.suite_name == "crm"
    assert config.matching.engine == "duckdb"
    assert config.config_path == (tmp_path / "pipeline.yaml").resolve()


def test_relative_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    text = GOOD + "warehouse:\n  path: wh\nvalidation:\n  expectations_dir: ../suites\n"
    config = load_config(write(tmp_path, text))
    assert config.warehouse.path == (tmp_path / "wh").resolve()
    assert config.validation.expectations_dir == (tmp_path.parent / "suites").resolve()


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "sources: [\n")
    with pytest.raises(ConfigError, match="is not valid YAML") as err:
        load_config(path)
    assert str(path) in str(err.value)


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mapping of keys"):
        load_config(write(tmp_path, "- a\n- b\n"))


@pytest.mark.parametrize(
    ("text", "key", "line", "message"),
    [
        pytest.param(
            GOOD + "    bogus: 1\n", "sources[0].bogus", 9, "unknown key", id="unknown-source-key"
        ),
        pytest.param(
            GOOD + "matching:\n  match_threshold: 2\n",
            "matching.match_threshold",
            10,
            "less than 1",
            id="threshold-out-of-range",
        ),
        pytest.param(
            GOOD.replace("first_name: fname", "frist_name: fname"),
            "sources[0].mapping",
            6,
            "unknown canonical field",
            id="misspelt-canonical-field",
        ),
        pytest.param(
            GOOD.replace("name: crm", "name: CRM Export"),
            "sources[0].name",
            2,
            "not a valid name",
            id="bad-source-name",
        ),
        pytest.param(
            GOOD.replace("    id_column: crm_id\n", ""),
            "sources[0].id_column",
            2,
            "required key is missing",
            id="missing-required",
        ),
        pytest.param(
            GOOD + "backup:\n  server_side_encryption: aws:kms\n",
            "backup",
            9,
            "needs kms_key_id",
            id="kms-without-key",
        ),
        pytest.param(
            GOOD + "validation:\n  gate:\n    max_critical_failure_rate: 1.5\n",
            "validation.gate.max_critical_failure_rate",
            11,
            "less than or equal to 1",
            id="gate-rate-above-one",
        ),
        pytest.param(
            GOOD.replace("    kind: file\n", "    kind: ftp\n"),
            "sources[0].kind",
            3,
            "'file', 's3', 'postgres' or 'mysql'",
            id="unknown-kind",
        ),
        pytest.param(
            GOOD + "    csv:\n      encoding: klingon\n",
            "sources[0].csv.encoding",
            10,
            "unknown text encoding",
            id="unknown-encoding",
        ),
    ],
)
def test_bad_value_names_key_line_and_file(
    tmp_path: Path, text: str, key: str, line: int, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text_of_error = str(err.value)
    assert str(path) in text_of_error
    assert f"{key} (line {line})" in text_of_error
    assert message in text_of_error


def test_source_kind_needs_its_location(tmp_path: Path) -> None:
    text = GOOD.replace("    kind: file\n    path: data/crm.csv\n", "    kind: postgres\n")
    with pytest.raises(ConfigError, match="a source of kind 'postgres' needs 'database'"):
        load_config(write(tmp_path, text))


def test_a_source_that_maps_nothing_is_rejected_but_one_attribute_is_enough(
    tmp_path: Path,
) -> None:
    empty = GOOD.replace(
        "    mapping:\n      first_name: fname\n      email: mail\n", "    mapping: {}\n"
    )
    with pytest.raises(ConfigError, match="mapping maps no field") as err:
        load_config(write(tmp_path, empty))
    assert "sources[0] (line 2)" in str(err.value)
    text = (
        empty
        + "    attributes: {loyalty_no: card}\n"
        + "matching:\n  attributes:\n    loyalty_no: {kind: identifier}\n"
    )
    assert load_config(write(tmp_path, text)).source("crm").attributes == {"loyalty_no": "card"}


def test_duplicate_source_names_are_rejected(tmp_path: Path) -> None:
    text = GOOD + "".join(GOOD.splitlines(keepends=True)[1:])
    with pytest.raises(ConfigError, match="two sources are named 'crm'"):
        load_config(write(tmp_path, text))


def test_review_band_must_sit_below_the_match_threshold(tmp_path: Path) -> None:
    text = GOOD + "matching:\n  match_threshold: 0.6\n  review_lower: 0.7\n"
    with pytest.raises(ConfigError, match=r"review_lower \(0.7\) must be below"):
        load_config(write(tmp_path, text))


def test_overrides_apply_dotted_keys(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), {"warehouse.path": str(tmp_path / "elsewhere")})
    assert config.warehouse.path == tmp_path / "elsewhere"


def test_unknown_source_lookup_lists_the_known_ones(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    with pytest.raises(ConfigError, match="sources are: crm"):
        config.source("erp")


def test_bundled_example_config_loads() -> None:
    example = Path(__file__).parents[1] / "examples" / "config.yaml"
    if not example.exists():
        pytest.fail("examples/config.yaml is missing: the demo needs it")
    config = load_config(example)
    assert len(config.sources) >= 3


def test_a_task_timeout_for_an_unknown_task_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.yaml"
    path.write_text(
        "sources:\n- {name: crm, kind: file, path: crm.csv, id_column: id, "
        "mapping: {email: e}}\norchestration:\n  task_timeout_minutes: {matching: 60}\n"
    )
    with pytest.raises(
        ConfigError, match=r"orchestration\.task_timeout_minutes.*'matching' is not a task"
    ):
        load_config(path)


def test_the_documented_chinese_header_config_loads_and_reads_its_columns(
    tmp_path: Path,
) -> None:
    """The example in docs/configuration.md: Chinese headers map onto canonical fields, the
    `%Y年%m月%d日` dates and CN defaults apply to a file read with it."""
    import polars as pl

    from pipelines.config_reference import CHINESE_HEADERS_EXAMPLE
    from pipelines.ingest.mapping import mapped_frame, unresolved_references
    from pipelines.ingest.readers import read_source
    from pipelines.standardise import standardise_frame
    from pipelines.standardise.frame import SourceHints

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "crm.csv").write_text(
        "客户编号,姓名,手机,地址,出生日期\n"
        "1001,王小明,13812345678,北京市朝阳区建国路88号,1990年03月07日\n",
        encoding="utf-8",
    )
    path = tmp_path / "pipeline.yaml"
    path.write_text(CHINESE_HEADERS_EXAMPLE, encoding="utf-8")
    source = load_config(path).source("crm")
    assert source.id_column == "客户编号"
    assert {f: source.columns_of(f) for f in source.mapping} == {
        "full_name": ["姓名"],
        "phone": ["手机"],
        "address": ["地址"],
        "date_of_birth": ["出生日期"],
    }

    (chunk,) = list(read_source(source, None))
    assert unresolved_references(source, chunk.frame.columns) == []
    lineage = chunk.frame.with_columns(
        pl.lit("crm:1001").alias("record_key"),
        pl.lit("crm").alias("source_system"),
        pl.col("客户编号").alias("source_record_id"),
        pl.lit("b1").alias("batch_id"),
        pl.lit(None, dtype=pl.Datetime("us")).alias("ingested_at"),
        pl.lit(None, dtype=pl.Datetime("us")).alias("source_updated_at"),
    )
    raw = mapped_frame(lineage, source)
    assert raw.row(0, named=True)["raw_full_name"] == "王小明"
    hints = SourceHints.from_source(source)
    staged = standardise_frame(raw, hints, as_of=date(2026, 1, 1)).row(0, named=True)
    assert staged["date_of_birth"] == date(1990, 3, 7)
    assert staged["country"] == "CN"
    assert staged["phone"] == "+8613812345678"
    assert staged["invalid_fields"] == []
