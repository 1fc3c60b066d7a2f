"""The pipeline config that ingests a generated sample.

It states what a data engineer would have to know about these three systems: where each file
is, which column is the id and which the update time, the CRM's local time zone, each source's
date format (month-first in the CRM, day-first in billing), and how each maps onto the canonical
fields. It is written, not templated, from one dict so that the example config in ``examples/``
and every generated one agree.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from pipelines.s3server import DATA_DIR_NAME
from pipelines.sample.writers import FILE_NAMES

PROJECT_ROOT = Path(__file__).resolve().parents[2]

SOURCE_SETTINGS: dict[str, dict[str, Any]] = {
    "crm": {
        "format": "csv",
        "id_column": "crm_id",
        "updated_at_column": "last_modified",
        "timezone": "America/New_York",
        "trust_rank": 1,
        "default_phone_region": "US",
        "default_country": "US",
        "date_formats": {"date_of_birth": ["%m/%d/%Y"]},
        "mapping": {
            "first_name": "first_name",
            "middle_name": "middle_name",
            "last_name": "last_name",
            "name_suffix": "suffix",
            "email": "email",
            "phone": "phone",
            "address_line1": "street",
            "address_line2": "street2",
            "city": "city",
            "region": "state",
            "postcode": "zip",
            "country": "country",
            "date_of_birth": "birth_date",
        },
    },
    "shop": {
        "format": "jsonl",
        "id_column": "customer_id",
        "updated_at_column": "updated_at",
        "trust_rank": 3,
        "default_phone_region": "US",
        "default_country": "US",
        "date_formats": {"date_of_birth": ["%Y-%m-%d"]},
        "mapping": {
            "full_name": "name",
            "email": "email",
            "phone": "mobile",
            "address": "shipping_address",
            "date_of_birth": "birthday",
        },
    },
    "billing": {
        "format": "parquet",
        "id_column": "account_no",
        "updated_at_column": "modified",
        "trust_rank": 2,
        "default_phone_region": "US",
        "date_formats": {"date_of_birth": ["%d/%m/%Y"]},
        "mapping": {
            "name_prefix": "title",
            "first_name": "given_name",
            "last_name": "family_name",
            "email": "email_address",
            "phone": "phone_number",
            "address_line1": "addr_line_1",
            "address_line2": "addr_line_2",
            "city": "town",
            "region": "region",
            "postcode": "postal_code",
            "country": "country_name",
            "date_of_birth": "dob",
        },
    },
}


def default_expectations_dir() -> Path | None:
    """The project's committed suites, when running from a checkout."""
    path = PROJECT_ROOT / "expectations"
    return path if path.is_dir() else None


def config_text(
    config_path: Path,
    sample_dir: Path,
    *,
    expectations_dir: Path | None,
    backup_prefix: str,
    warehouse: Path | None,
    project: str,
) -> str:
    """YAML text of the pipeline config; paths are relative to the config file when the
    files sit below it or inside this project, so the folder can be moved or committed."""
    base = config_path.resolve().parent
    config: dict[str, Any] = {"project": project}
    if warehouse is not None:
        config["warehouse"] = {"path": _relative(warehouse, base)}
    config["sources"] = [
        {
            "name": name,
            "kind": "file",
            "path": _relative(sample_dir / FILE_NAMES[name], base),
            **settings,
        }
        for name, settings in SOURCE_SETTINGS.items()
    ]
    if expectations_dir is not None:
        config["validation"] = {"expectations_dir": _relative(expectations_dir, base)}
    config["backup"] = {
        "bucket": "golden-backups",
        "prefix": backup_prefix,
        "local_server_dir": DATA_DIR_NAME,  # beside this file
    }
    header = (
        "# Pipeline config for a generated sample (`golden generate-sample`).\n"
        "# Relative paths are relative to this file. Without a `warehouse` key the pipeline\n"
        "# writes to ./warehouse in the directory it is started from.\n"
        "# Backups go to a local S3 server kept beside this file: start it from this folder\n"
        f"# with `golden s3 start --data-dir {DATA_DIR_NAME}`,\n"
        "# or remove backup.local_server_dir and set backup.endpoint_url and the key variables\n"
        "# for a real store (AWS when no endpoint is set).\n"
    )
    return header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=100)


def local_s3_dir(config_path: Path) -> Path:
    """Where a generated sample's local S3 server keeps its data: beside the config, so the
    sample's backups go with its folder and no credentials are needed to try it out."""
    return config_path.resolve().parent / DATA_DIR_NAME


def _relative(path: Path, base: Path) -> str:
    path = path.resolve()
    for anchor in (base, PROJECT_ROOT):
        if path.is_relative_to(anchor) and base.is_relative_to(anchor):
            return Path(os.path.relpath(path, base)).as_posix()
    return path.as_posix()
