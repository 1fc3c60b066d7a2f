"""A screenshot of the ``customer_golden_records`` graph view in the Airflow UI (docs/airflow.md).

    .venv/bin/python -m scripts.airflow_graph_screenshot [--out docs/images/airflow-graph.png]

Starts the stack of ``scripts.airflow_stack`` (its own metadata database on the local
PostgreSQL server and broker prefix on the local Redis server), waits until the dag-processor
has stored the DAG, logs in through the UI's login form as a person would, opens the DAG with
the graph view chosen and saves the PNG; then stops every process and drops the database,
also when a step fails. No run is triggered: the picture shows the pipeline's shape, not a
run's states. Needs Debian's ``chromium`` (headless) and Playwright's Python package.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

from scripts.airflow_stack import ROOT, LocalStack, StackSettings, wait_for

DAG_ID = "customer_golden_records"
logger = logging.getLogger("golden.airflow_graph_screenshot")


def screenshot_graph(stack: LocalStack, target: Path, chromium: str) -> None:
    """Log in through the form, open the DAG's graph view, wait for its nodes, save a PNG."""
    from playwright.sync_api import sync_playwright

    settings = stack.settings
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 640}, device_scale_factor=2)
            # The UI keeps the grid/graph choice in local storage; pick the graph up front.
            page.add_init_script("localStorage.setItem('default_dag_view', '\"graph\"')")
            page.goto(f"{settings.api_url}/auth/login", wait_until="networkidle")
            page.locator("input[name=username]").fill("admin")
            page.locator("input[name=password]").fill(settings.admin_password)
            page.locator("button[type=submit]").click()
            page.wait_for_url(lambda url: "/auth/login" not in url, timeout=60_000)
            page.goto(f"{settings.api_url}/dags/{DAG_ID}", wait_until="networkidle")
            # React Flow draws one node per task; wait until the mapped source task is drawn.
            page.locator(".react-flow__node", has_text="ingest_and_validate").first.wait_for(
                timeout=60_000
            )
            # The details panel takes half the width: fold it away and fit the graph to the pane.
            collapse = page.get_by_label("Collapse Details Panel")
            if collapse.count():
                collapse.first.click()
            page.locator(".react-flow__controls-fitview").click()
            page.wait_for_load_state("networkidle")
            target.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(target))
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "airflow-graph.png")
    parser.add_argument("--config", type=Path, default=ROOT / "examples" / "config.yaml")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    with tempfile.TemporaryDirectory(prefix="airflow-graph-") as home:
        settings = StackSettings(
            home=Path(home),
            workers=(),  # nothing runs: the graph view needs the API and the parsed DAG only
            extra_env={
                "GOLDEN_CONFIG": str(args.config.resolve()),
                "GOLDEN_SCHEDULE": "none",
                "GOLDEN_MAINTENANCE_SCHEDULE": "none",
            },
        )
        with LocalStack(settings) as stack:
            wait_for(lambda: stack.api.dag(DAG_ID), f"the DAG {DAG_ID}", 600, stack.check_alive)
            screenshot_graph(stack, args.out.resolve(), args.chromium)
    logger.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
