"""docs/configuration.md is generated from the config models and must not drift from them."""

from __future__ import annotations

from pathlib import Path

from pipelines.config import PipelineConfig
from pipelines.config_reference import render_reference

DOC = Path(__file__).parents[1] / "docs" / "configuration.md"


def test_committed_reference_matches_the_models() -> None:
    assert DOC.read_text() == render_reference(), (
        "docs/configuration.md is stale: "
        "run `golden config reference --write docs/configuration.md`"
    )


def test_every_config_key_is_documented() -> None:
    schema = PipelineConfig.model_json_schema()
    undocumented = [
        f"{model}.{key}"
        for model, definition in schema["$defs"].items()
        for key, prop in definition.get("properties", {}).items()
        if not prop.get("description")
    ]
    assert undocumented == [], f"add an attribute docstring to: {undocumented}"
