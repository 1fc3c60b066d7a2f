"""Benchmark of the stewards' workspace: search and customer-page latency at a million customers.

    .venv/bin/python -m bench.bench_serve [--customers N] [--queries N] [--config FILE]
                                          [--json PATH]

Without ``--config`` it builds a warehouse of N customers (default 1,000,000; about 1.25 records
each) in a temporary folder: generated golden, validation and review outputs
(:func:`pipelines.publish.synthetic.write_synthetic_run`) with names drawn from generated
syllables, generated staged source records for them (raw values written the way sources write
them), and the real publish stage. With ``--config`` it measures an existing published
warehouse instead (``make demo``, or ``bench_pipeline --keep DIR``).

It then serves the workspace with uvicorn on a free loopback port, as ``golden serve`` does, and
times HTTP requests one after the other with a steward's API token: searches by e-mail, by a
phone typed in national format, by source record id, by golden id, by a name with a typo, by
the same name narrowed by city, and the customer page (HTML, every section). Before that it
times the first request of the version (which builds the search index). Beside each search it
times the plain-library way to answer it, a DuckDB query on ``golden.duckdb`` (an equality
scan, or Jaro-Winkler over every name), on the same data. Prints p50 / p95 / p99 in
milliseconds; the targets are p95 <= 100 ms for search and <= 300 ms for a customer page.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

SYLLABLES = [
    "ab", "ber", "cal", "dor", "el", "fen", "gar", "hol", "is", "jan", "kel", "lin", "mor",
    "nor", "ol", "pen", "quin", "ros", "sel", "tam", "ul", "van", "wes", "yor", "zan",
]  # fmt: skip
FIRST = [
    "Ana", "Ben", "Chloé", "Dmitri", "Eve", "Farah", "Gus", "Hana", "Ivo", "Jun", "Kofi", "Lena",
    "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Uma", "Viktor", "Wei",
    "Xena", "Yusuf", "Zoë",
]  # fmt: skip
CITIES = ["London", "Leeds", "Cork", "Lyon", "Austin", "Porto", "Kraków", "Osaka", "Graz", "Bath"]


def build_warehouse(root: Path, customers: int, seed: int = 3) -> Path:
    """A published warehouse of ``customers`` generated customers; returns its config file."""
    import polars as pl

    from pipelines.config import load_config
    from pipelines.publish import publish
    from pipelines.publish.synthetic import write_synthetic_run
    from pipelines.warehouse import Warehouse

    config_path = root / "config.yaml"
    config_path.write_text(
        json.dumps(
            {
                "warehouse": {"path": str(root / "warehouse")},
                "sources": [
                    {"name": s, "kind": "file", "path": f"{s}.csv", "id_column": "id",
                     "default_phone_region": "GB", "mapping": {"email": "email"}}
                    for s in ("crm", "web", "shop")
                ],
                "backup": {"enabled": False},
            }
        )
    )  # fmt: skip
    config = load_config(config_path)
    warehouse = Warehouse(config.warehouse.path)
    run_id = "20260101T000000Z-bench0"
    write_synthetic_run(warehouse, run_id, int(customers / 0.8), seed=seed)
    rng = np.random.default_rng(seed)
    golden_path = warehouse.golden_dir(run_id) / "golden_customers.parquet"
    golden = pl.read_parquet(golden_path)
    n = golden.height
    surnames = [a.capitalize() + b + c for a in SYLLABLES for b in SYLLABLES for c in ("", "s")]
    last = pl.Series(surnames).gather(rng.integers(0, len(surnames), n))
    first = pl.Series(FIRST).gather(rng.integers(0, len(FIRST), n))
    golden = golden.with_columns(
        first_name=first,
        last_name=last,
        full_name=first + " " + last,
        city=pl.Series(CITIES).gather(rng.integers(0, len(CITIES), n)),
    )
    golden.write_parquet(golden_path)
    xref = pl.read_parquet(warehouse.golden_dir(run_id) / "customer_xref.parquet")
    records = xref.select("record_key", "source_system", "source_record_id", "golden_id").join(
        golden.drop("run_id", "source_record_count", "source_systems"),
        on="golden_id",
        how="left",
    )
    national = "0" + pl.col("phone").str.slice(3)
    updated = next(c for c in ("source_updated_at", "last_updated_at") if c in records.columns)
    staged = records.with_columns(
        source_updated_at=pl.col(updated),
        ingested_at=pl.col("first_seen_at"),
        trust_rank=pl.lit(1, pl.Int32),
        invalid_fields=pl.lit([], pl.List(pl.String)),
        raw_first_name=pl.col("first_name").str.to_uppercase(),
        raw_last_name=pl.col("last_name").str.to_uppercase(),
        raw_full_name=pl.col("full_name"),
        raw_email=pl.col("email").str.to_uppercase(),
        raw_phone=national.str.slice(0, 3)
        + " "
        + national.str.slice(3, 4)
        + " "
        + national.str.slice(7),
        raw_city=pl.col("city").str.to_lowercase(),
        raw_postcode=pl.col("postcode"),
        raw_country=pl.col("country"),
        raw_address_line1=pl.col("address_line1"),
        raw_date_of_birth=pl.col("date_of_birth").dt.strftime("%d/%m/%Y"),
    ).drop(
        "golden_id",
        "first_seen_at",
        *[c for c in ("last_updated_at", "golden_changed_at") if c in records.columns],
    )
    target = warehouse.staged_accepted(run_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    staged.write_parquet(target)
    publish(config, run_id)
    return config_path


def percentiles(samples: list[float]) -> dict[str, float]:
    values = np.array(samples) * 1000
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 1),
        "p95_ms": round(float(np.percentile(values, 95)), 1),
        "p99_ms": round(float(np.percentile(values, 99)), 1),
        "n": len(samples),
    }


def timed(calls: list[Callable[[], Any]]) -> list[float]:
    out = []
    for call in calls:
        start = time.perf_counter()
        call()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200, help="Requests per kind.")
    parser.add_argument("--config", type=Path, help="Measure this published warehouse instead.")
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    args = parser.parse_args()

    import duckdb
    import httpx
    import uvicorn

    from pipelines.config import load_config
    from workspace import UserStore, create_app

    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    results: dict[str, Any] = {}
    try:
        if args.config:
            config_path = args.config
        else:
            start = time.perf_counter()
            config_path = build_warehouse(work, args.customers)
            results["build_warehouse_s"] = round(time.perf_counter() - start, 1)
            print(f"built and published {args.customers:,} customers in "
                  f"{results['build_warehouse_s']} s")  # fmt: skip
        config = load_config(config_path)
        users = UserStore(config.warehouse.path)
        name = f"bench-{int(time.time())}"
        users.add(name, "steward", "bench password 0123456789")
        token = users.new_token(name)
        app = create_app(config)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=600,
        )
        try:
            start = time.perf_counter()
            first = client.get("/api/search", params={"q": "nobody@example.com"})
            first.raise_for_status()
            results["first_request_builds_index_s"] = round(time.perf_counter() - start, 2)
            print(f"first request (builds the search index): "
                  f"{results['first_request_builds_index_s']} s")  # fmt: skip
            db = duckdb.connect(str(config.warehouse.path / "golden.duckdb"), read_only=True)
            sample = db.execute(
                "SELECT g.golden_id, g.email, g.phone, g.first_name, g.last_name, g.city, "
                "min(x.source_record_id) FROM golden_customers g JOIN customer_xref x "
                "USING (golden_id) WHERE g.email IS NOT NULL AND g.phone IS NOT NULL "
                "AND g.last_name IS NOT NULL GROUP BY ALL "
                f"ORDER BY hash(any_value(g.golden_id)) LIMIT {args.queries}"
            ).fetchall()
            assert sample, "the warehouse has no customer with e-mail, phone and name"

            def national(phone: str) -> str:
                import phonenumbers

                parsed = phonenumbers.parse(phone)
                return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)

            def typo(last: str) -> str:
                return last[:2] + last[3] + last[2] + last[4:] if len(last) > 4 else last + "e"

            def search(q: str, **extra: Any) -> Callable[[], Any]:
                def call() -> None:
                    response = client.get("/api/search", params={"q": q, **extra})
                    response.raise_for_status()
                    assert response.json()["results"], q

                return call

            def plain(sql: str, params: list[Any]) -> Callable[[], Any]:
                return lambda: db.execute(sql, params).fetchall()

            kinds: dict[str, tuple[list[Callable[[], Any]], list[Callable[[], Any]]]] = {
                "search e-mail": (
                    [search(r[1].upper()) for r in sample],
                    [plain("SELECT golden_id FROM golden_customers WHERE lower(email) = ?",
                           [r[1].lower()]) for r in sample],
                ),
                "search phone (national format)": (
                    [search(national(r[2])) for r in sample],
                    [plain("SELECT golden_id FROM golden_customers WHERE phone = ?", [r[2]])
                     for r in sample],
                ),
                "search source record id": (
                    [search(r[6]) for r in sample],
                    [plain("SELECT golden_id FROM customer_xref WHERE source_record_id = ?",
                           [r[6]]) for r in sample],
                ),
                "search golden id": (
                    [search(r[0]) for r in sample],
                    [plain("SELECT * FROM golden_customers WHERE golden_id = ?", [r[0]])
                     for r in sample],
                ),
                "search name with a typo": (
                    [search(f"{r[3]} {typo(r[4])}") for r in sample],
                    [plain("SELECT golden_id FROM golden_customers WHERE jaro_winkler_similarity("
                           "lower(first_name || ' ' || last_name), ?) >= 0.86 ORDER BY 1 LIMIT 25",
                           [f"{r[3]} {typo(r[4])}".lower()]) for r in sample],
                ),
                "search name + city": (
                    [search(f"{r[3]} {typo(r[4])}", city=r[5]) for r in sample],
                    [plain("SELECT golden_id FROM golden_customers WHERE lower(city) = ? AND "
                           "jaro_winkler_similarity(lower(first_name || ' ' || last_name), ?) "
                           ">= 0.86 LIMIT 25", [r[5].lower(), f"{r[3]} {typo(r[4])}".lower()])
                     for r in sample],
                ),
            }  # fmt: skip
            print(f"\n{'request':<34}{'workspace p50/p95/p99 ms':>28}   plain DuckDB p50/p95 ms")
            for kind, (ours, theirs) in kinds.items():
                mine, base = percentiles(timed(ours)), percentiles(timed(theirs))
                results[kind] = {"workspace": mine, "plain_duckdb": base}
                print(
                    f"{kind:<34}{mine['p50_ms']:>10} /{mine['p95_ms']:>7} /{mine['p99_ms']:>7}"
                    f"   {base['p50_ms']:>8} /{base['p95_ms']:>7}"
                )

            def page(golden_id: str) -> Callable[[], Any]:
                def call() -> None:
                    response = client.get(f"/customers/{golden_id}")
                    response.raise_for_status()
                    assert "Source records" in response.text

                return call

            pages = percentiles(timed([page(r[0]) for r in sample]))
            api = percentiles(timed([
                (lambda g=r[0]: client.get(f"/api/customers/{g}").raise_for_status())
                for r in sample
            ]))  # fmt: skip
            results["customer page (HTML)"] = pages
            results["customer 360 (API)"] = api
            for kind, figures in (("customer page (HTML)", pages), ("customer 360 (API)", api)):
                print(
                    f"{kind:<34}{figures['p50_ms']:>10} /{figures['p95_ms']:>7} "
                    f"/{figures['p99_ms']:>7}"
                )
            search_p95 = max(v["workspace"]["p95_ms"] for k, v in results.items()
                             if k.startswith("search"))  # fmt: skip
            print(
                f"\nworst search p95 {search_p95} ms (target <= 100), customer page p95 "
                f"{pages['p95_ms']} ms (target <= 300)"
            )
            db.close()
        finally:
            client.close()
            server.should_exit = True
            thread.join(timeout=60)
            users.remove(name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
