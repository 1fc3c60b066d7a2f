"""A source without a suite file of its own is validated with the shipped default suite, under
its own name; a suite a source names explicitly must exist."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from pipelines.config import PipelineConfig, load_config
from pipelines.errors import ConfigError
from pipelines.validate import validate_source
from pipelines.validate.stage import source_suite
from tests.test_validate_stage import REPO, RUN, write_config, write_current

SHIPPED_DEFAULT = REPO / "expectations" / "source_default.json"

ROWS = [
    {"id": "1", "first": "Ada", "last": "Lovelace", "mail": "ada@example.org", "tel": None},
    {"id": "2", "first": None, "last": None, "mail": None, "tel": None},  # identifies nobody
    {"id": "2", "first": "Alan", "last": "Turing", "mail": None, "tel": "+44 20 7946 0958"},
    {"id": "3", "first": "Grace", "last": "Hopper", "mail": "grace(at)navy", "tel": None},
]


@pytest.fixture
def suites(tmp_path: Path) -> Path:
    folder = tmp_path / "suites"
    folder.mkdir()
    shutil.copy(SHIPPED_DEFAULT, folder)
    return folder


def test_a_source_without_its_own_suite_is_validated_with_the_default_under_its_name(
    tmp_path: Path, suites: Path
) -> None:
    config = write_config(tmp_path, suites)
    write_current(config, RUN, ROWS)

    result = validate_source(config, RUN, "crm")

    assert result.suite == "crm"
    assert result.quarantine_path.name == "crm.parquet"
    quarantine = pl.read_parquet(result.quarantine_path)
    assert set(quarantine["suite"]) == {"crm"}
    # both rows of the repeated id, and the row with nothing to identify anyone by
    assert sorted(set(quarantine["source_record_id"])) == ["2"]
    assert result.rows_in == result.accepted + result.quarantined == 4
    assert result.accepted == 2
    assert result.warned >= 1  # Grace's email is not shaped like one: a warning only


def test_a_source_suite_file_of_its_own_wins_over_the_default(tmp_path: Path, suites: Path) -> None:
    own = suites / "crm.json"
    own.write_text('{"name": "crm", "expectations": []}')
    config = write_config(tmp_path, suites)
    assert source_suite(config, "crm").rules == ()


def test_a_suite_named_in_the_config_must_exist(tmp_path: Path, suites: Path) -> None:
    config = write_config(tmp_path, suites)
    config.sources[0].suite = "crm_v2"
    with pytest.raises(ConfigError, match=r"crm_v2\.json does not exist"):
        source_suite(config, "crm")


def test_without_a_default_a_missing_source_suite_is_an_error_naming_the_file(
    tmp_path: Path, suites: Path
) -> None:
    config = write_config(tmp_path, suites, default_source_suite=None)
    with pytest.raises(ConfigError, match=r"crm\.json does not exist"):
        source_suite(config, "crm")


def test_data_docs_show_the_default_suite_under_the_source_name(
    tmp_path: Path, suites: Path
) -> None:
    from pipelines.validate.data_docs import build_data_docs
    from pipelines.warehouse import Warehouse

    shutil.copy(REPO / "expectations" / "canonical.json", suites)
    config = write_config(tmp_path, suites)
    write_current(config, RUN, ROWS)
    validate_source(config, RUN, "crm")

    build_data_docs(config, RUN)

    pages = Warehouse(config.warehouse.path).data_docs / "expectations"
    assert sorted(p.name for p in pages.glob("*.html")) == ["canonical.html", "crm.html"]
    assert "The record has no name and no contact data" in (pages / "crm.html").read_text()


def _config_naming_only_its_sources(folder: Path) -> PipelineConfig:
    path = folder / "pipeline.yaml"
    path.write_text(
        "sources:\n  - {name: crm, kind: file, path: crm.csv, id_column: id,\n"
        "     mapping: {first_name: first}}\n"
    )
    return load_config(path)


def test_a_config_without_suites_uses_the_bundled_ones_but_never_a_sample_sources(
    tmp_path: Path,
) -> None:
    config = _config_naming_only_its_sources(tmp_path)
    assert config.validation.expectations_dir == REPO / "expectations"
    assert config.validation.bundled_suites
    # The bundled crm.json belongs to the generated sample; this crm gets the default suite.
    suite = source_suite(config, "crm")
    assert (suite.name, suite.path.name) == ("crm", "source_default.json")


def test_an_expectations_folder_beside_the_config_is_used_without_being_named(
    tmp_path: Path, suites: Path
) -> None:
    (tmp_path / "suites").rename(tmp_path / "expectations")
    config = _config_naming_only_its_sources(tmp_path)
    assert config.validation.expectations_dir == tmp_path / "expectations"
    assert not config.validation.bundled_suites
