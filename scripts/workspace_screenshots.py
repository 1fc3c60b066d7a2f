"""Screenshots of the stewards' workspace's main pages, for the README and docs/workspace.md.

    .venv/bin/python scripts/workspace_screenshots.py --config examples/config.yaml [--out DIR]

Needs a published warehouse (``make demo`` or ``golden run``) and Debian's ``chromium``. Serves
the workspace in this process on a free loopback port with a throw-away steward account (added
to the warehouse's users and removed again), opens the search, customer, cluster, review and
quality pages in headless Chromium, and writes ``workspace-<page>.png`` into ``--out``
(default ``docs/images``).
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
    args = parser.parse_args()

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
            page = browser.new_page(viewport={"width": 1360, "height": 900})
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
            page.goto(f"{url}/?q={row['last_name']}")
            page.wait_for_selector("table.results")
            page.screenshot(path=str(args.out / "workspace-search.png"))
            page.goto(f"{url}/customers/{row['golden_id']}")
            page.wait_for_selector("table.records")
            page.screenshot(path=str(args.out / "workspace-customer.png"), full_page=True)
            page.goto(f"{url}/clusters/{row['golden_id']}")
            page.wait_for_selector("table.members")
            page.screenshot(path=str(args.out / "workspace-cluster.png"))
            page.goto(f"{url}/review")
            page.wait_for_selector("#review-body")
            page.screenshot(path=str(args.out / "workspace-review.png"), full_page=True)
            page.goto(f"{url}/quality")
            page.wait_for_selector(".cards")
            page.screenshot(path=str(args.out / "workspace-quality.png"), full_page=True)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        store.remove(name)
    for page_name in PAGES:
        print(args.out / f"workspace-{page_name}.png")  # noqa: T201 - a script's output


if __name__ == "__main__":
    main()
