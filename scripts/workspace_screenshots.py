"""Screenshots of the stewards' workspace's main pages, for the README and docs/workspace.md.

    .venv/bin/python scripts/workspace_screenshots.py --config examples/config.yaml [--out DIR]
        [--language zh_CN] [--pages search,customer]

Needs a published warehouse (``make demo`` or ``golden run``) and Debian's ``chromium``. Serves
the workspace in this process on a free loopback port with a throw-away steward account (added
to the warehouse's users and removed again), opens the search, customer, cluster, review and
quality pages in headless Chromium, and writes ``workspace-<page>.png`` into ``--out``
(default ``docs/images``). With ``--language zh_CN`` the browser asks for Simplified Chinese
(``Accept-Language``) and the files are ``workspace-<page>.zh_CN.png``; Chinese text needs a
CJK font installed for Chromium (Debian: ``fonts-wqy-microhei`` or ``fonts-noto-cjk``).
"""

from __future__ import annotations

import argparse
import secrets
import socket
import threading
from pathlib import Path

PAGES = ("search", "customer", "cluster", "review", "quality")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--language", choices=("en", "zh_CN"), default="en")
    parser.add_argument("--pages", default=",".join(PAGES), help="comma-separated subset")
    args = parser.parse_args()
    wanted = [p for p in args.pages.split(",") if p]
    unknown = sorted(set(wanted) - set(PAGES))
    if unknown:
        parser.error(f"unknown page(s) {unknown}; choose from {', '.join(PAGES)}")
    suffix = "" if args.language == "en" else f".{args.language}"

    def shot(name: str) -> Path | None:
        return args.out / f"workspace-{name}{suffix}.png" if name in wanted else None

    import uvicorn
    from playwright.sync_api import sync_playwright

    from pipelines.config import load_config
    from workspace import UserStore, create_app

    config = load_config(args.config)
    store = UserStore(config.warehouse.path)
    name, password = f"screenshots-{secrets.token_hex(3)}", secrets.token_urlsafe(16)
    store.add(name, "steward", password)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(config)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
            page = browser.new_page(
                viewport={"width": 1360, "height": 900},
                locale="zh-CN" if args.language == "zh_CN" else "en-GB",  # Accept-Language
            )
            page.set_default_timeout(120_000)
            page.goto(f"{url}/login")
            page.fill("input[name=username]", name)
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.wait_for_selector("form.search")
            (row,) = app.state.workspace.reader.snapshot().query(
                "SELECT golden_id, last_name FROM golden_customers WHERE last_name IS NOT NULL "
                "ORDER BY source_record_count DESC, golden_id LIMIT 1"
            )
            steps = (
                ("search", f"/?q={row['last_name']}", "table.results", False),
                ("customer", f"/customers/{row['golden_id']}", "table.records", True),
                ("cluster", f"/clusters/{row['golden_id']}", "table.members", False),
                ("review", "/review", "#review-body", True),
                ("quality", "/quality", ".cards", True),
            )
            for page_name, path, ready, full in steps:
                target = shot(page_name)
                if target is None:
                    continue
                page.goto(f"{url}{path}")
                page.wait_for_selector(ready)
                page.screenshot(path=str(target), full_page=full)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        store.remove(name)
    for page_name in wanted:
        print(shot(page_name))  # noqa: T201 - a script's output


if __name__ == "__main__":
    main()
