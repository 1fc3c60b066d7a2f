"""Survivorship configuration: every field decided once, mistakes named by key."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.config import load_config
from pipelines.errors import ConfigError
from pipelines.golden.config import SurvivorshipConfig
from pipelines.schema import GOLDEN_FIELDS

BASE = """\
sources:
  - name: crm
    kind: file
    path: crm.csv
    id_column: id
    mapping: {email: email}
golden:
  survivorship:
"""


def test_units_cover_every_golden_field_exactly_once() -> None:
    units = SurvivorshipConfig().units()
    fields = [f for unit in units for f in unit.fields]
    assert sorted(fields) == sorted(GOLDEN_FIELDS)
    by_name = {unit.name: unit for unit in units}
    assert by_name["name"].fields[-1] == "full_name"  # the full name travels with its parts
    assert by_name["email"].rules == (
        "valid_first",
        "full_form",
        "latest_value",
        "agreement",
        "trust_rank",
    )
    assert by_name["date_of_birth"].rules[:3] == ("valid_first", "filled_first", "agreement")


def test_group_and_field_overrides_apply() -> None:
    config = SurvivorshipConfig(
        fields={"address": ["most_recent"], "email": ["trust_rank", "most_recent"]}
    )
    by_name = {unit.name: unit for unit in config.units()}
    assert by_name["address"].rules == ("most_recent",)
    assert by_name["email"].rules == ("trust_rank", "most_recent")


@pytest.mark.parametrize(
    ("yaml", "key", "message"),
    [
        pytest.param(
            "    fields: {city: [most_recent]}\n",
            "golden.survivorship",
            "survives with its group 'address'; set the rules under fields.address",
            id="member-of-group",
        ),
        pytest.param(
            "    fields: {shoe_size: [longest]}\n",
            "golden.survivorship",
            "unknown field or group",
            id="unknown-field",
        ),
        pytest.param(
            "    fields: {email: [newest]}\n",
            "golden.survivorship.fields.email",
            "newest",
            id="unknown-rule",
        ),
        pytest.param(
            "    default: []\n",
            "golden.survivorship.default",
            "at least one rule",
            id="no-rules",
        ),
        pytest.param(
            "    default: [trust_rank, trust_rank]\n",
            "golden.survivorship.default",
            "more than once",
            id="repeated-rule",
        ),
        pytest.param(
            "    groups: {a: [city], b: [city]}\n",
            "golden.survivorship.groups",
            "one group only",
            id="field-in-two-groups",
        ),
        pytest.param(
            "    groups: {home: [city, planet]}\n",
            "golden.survivorship.groups",
            "unknown field(s) ['planet']",
            id="unknown-group-field",
        ),
    ],
)
def test_bad_survivorship_config_names_the_key(
    tmp_path: Path, yaml: str, key: str, message: str
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(BASE + yaml)
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    text = str(excinfo.value)
    assert str(path) in text and key in text and message in text


def test_id_prefix_must_be_capital_letters(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(BASE.replace("  survivorship:\n", "  id_prefix: cust\n"))
    with pytest.raises(ConfigError, match=r"golden\.id_prefix"):
        load_config(path)
