"""Screenshots of the Data Docs site in headless Chromium, offline: the index and one validation.

    .venv/bin/python scripts/data_docs_screenshot.py --config examples/config.yaml [--out DIR]
    .venv/bin/python scripts/data_docs_screenshot.py --site warehouse/reports/data_docs
    .venv/bin/python scripts/data_docs_screenshot.py --demo          # builds a small site first

Writes ``index.png`` (the table of validation results) and ``validation.png`` (the newest
validation page) so a person can see what stewards see, without a browser session. Chromium
runs with name resolution and proxying closed, so the pictures prove the site needs no network.
Needs Debian's ``chromium`` (``apt-get install chromium``) or ``--chromium PATH``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a plain script from a checkout
    sys.path.insert(0, str(REPO))


def screenshot(
    chromium: str, page: Path, target: Path, width: int = 1400, height: int = 1800
) -> None:
    """Render ``page`` offline after its scripts ran and save a PNG."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        command = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--proxy-server=127.0.0.1:9",
            "--virtual-time-budget=15000",
            f"--window-size={width},{height}",
            f"--screenshot={target}",
            page.as_uri(),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    if done.returncode != 0 or not target.is_file():
        raise SystemExit(f"chromium could not screenshot {page}:\n{done.stderr[-2000:]}")


def newest_validation_page(site: Path, suite: str | None = None) -> Path:
    folder = site / "validations" / suite if suite else site / "validations"
    pages = sorted(folder.rglob("*.html"), key=lambda p: p.parts[-3:])
    if not pages:
        raise SystemExit(f"{site} has no validation pages: run the validate stages first")
    return pages[-1]


def demo_site(folder: Path) -> Path:
    """A small site from a generated CSV with faults (malformed emails and phones, a row without
    an id) and generated staged records, for a look without running the whole pipeline."""
    import json

    from pipelines.config import load_config
    from pipelines.ingest import ingest_source
    from pipelines.validate import build_data_docs, validate_source, validate_staged
    from pipelines.validate.synthetic import RUN_ID, staged_frame
    from pipelines.warehouse import Warehouse

    lines = ["id,first,last,mail,phone,updated"]
    for i in range(40):
        mail = f"user{i}(at)example" if i % 6 == 2 else ("" if i % 9 == 4 else f"u{i}@example.org")
        phone = "call me maybe" if i % 11 == 3 else f"+44 20 7946 {i:04d}"
        lines.append(f"{i + 1},Ann{i},Lee{i},{mail},{phone},2026-02-01 10:00:00")
    lines.append(",Nobody,Noid,no@id.org,,2026-02-01 10:00:00")
    (folder / "crm.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config_path = folder / "config.yaml"
    config_path.write_text(
        json.dumps(
            {
                "warehouse": {"path": str(folder / "warehouse")},
                "validation": {"expectations_dir": str(REPO / "expectations")},
                "sources": [
                    {"name": "crm", "kind": "file", "path": str(folder / "crm.csv"),
                     "id_column": "id", "updated_at_column": "updated",
                     "mapping": {"first_name": "first", "last_name": "last", "email": "mail",
                                 "phone": "phone"}}
                ],
            }
        )
    )  # fmt: skip
    config = load_config(config_path)
    ingest_source(config, RUN_ID, "crm")
    validate_source(config, RUN_ID, "crm")
    staged = Warehouse(config.warehouse.path).staged(RUN_ID)
    staged.parent.mkdir(parents=True, exist_ok=True)
    staged_frame(5_000).write_parquet(staged)
    validate_staged(config, RUN_ID)
    return build_data_docs(config, RUN_ID).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--site", type=Path, help="The Data Docs folder (with index.html).")
    where.add_argument("--config", type=Path, help="Pipeline config: use its warehouse's site.")
    where.add_argument(
        "--demo", action="store_true", help="Build a small site from generated data."
    )
    parser.add_argument("--out", type=Path, default=Path("."), help="Folder for the PNG files.")
    parser.add_argument("--suite", help="Screenshot this suite's newest validation page.")
    parser.add_argument(
        "--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser")
    )
    args = parser.parse_args()
    if not args.chromium:
        raise SystemExit("Chromium not found: apt-get install chromium, or pass --chromium PATH")

    with tempfile.TemporaryDirectory(prefix="data-docs-demo-") as scratch:
        if args.demo:
            site = demo_site(Path(scratch))
        elif args.config:
            from pipelines.config import load_config
            from pipelines.warehouse import Warehouse

            site = Warehouse(load_config(args.config).warehouse.path).data_docs
        else:
            site = args.site
        if not (site / "index.html").is_file():
            raise SystemExit(f"{site} has no index.html: build the Data Docs first")

        args.out.mkdir(parents=True, exist_ok=True)
        index_png, validation_png = args.out / "index.png", args.out / "validation.png"
        screenshot(args.chromium, site / "index.html", index_png, height=1000)
        page = newest_validation_page(site, args.suite or ("crm" if args.demo else None))
        screenshot(args.chromium, page, validation_png)
    # A command-line script reports its files on stdout.
    print(f"index:      {index_png.resolve()}")  # noqa: T201
    print(f"validation: {validation_png.resolve()}  ({page.relative_to(site)})")  # noqa: T201


if __name__ == "__main__":
    main()
