"""The whole pipeline end to end on a generated sample, every stage in its own process.

    .venv/bin/python -m bench.bench_pipeline [--records N] [--sizes 250000,500000,1000000]
                                             [--spark] [--json PATH] [--keep DIR]

Generates the seeded three-source sample (``pipelines.sample``) of ``--records`` source records
(default 1,000,000), starts a local SeaweedFS server for the backup, then runs ingest and
validate (one process per source, as the DAG's mapped ``ingest_and_validate`` task), standardise,
validate staged, gate, match, golden, publish and backup (data docs beside gate and match, as the
DAG runs them), each as ``python -m bench.bench_pipeline --worker ...`` calling
:func:`pipelines.orchestrate.run_stage`, the way an Airflow worker runs one task: each stage pays
its own imports and reads its inputs from disk, so its wall time and peak memory are what a
deployment sees. Sources fan out ``--fan-out`` at a time (default 2), as the DAG's mapped task
does on parallel workers. Peak memory is the child's own high-water mark (``wait4``'s
``ru_maxrss``) or the sampled sum over its process tree (a Spark JVM), whichever is larger; CPU
seconds are the child's and those of the descendants it waited for (not a Spark JVM's).

After the full run, the plain Splink job (``bench.bench_matching.run_baseline``: stock Splink
on DuckDB, match and cluster only) runs in its own process on the same accepted records,
cleaned beforehand (``baseline_frame``, outside the timing), and the whole pipeline's wall time
and peak memory, and later the incremental run's wall time, are printed as ratios to it beside
the targets (:data:`PLAIN_TARGETS`).

Then it changes 1% of the records (``mutate_sample``: the next day) and runs the pipeline again:
the sources are re-ingested from their watermarks. Then the full run again at every smaller size
of ``--sizes`` so the growth of peak memory is visible. ``--spark`` also runs the match stage on
local Spark (``matching.engine: spark``) over the full run's staged records, for comparison.

The machine may be shared: beside each wall time it prints the stage's CPU seconds (all its
threads), the 1-minute load average and the CPU seconds other processes used meanwhile. Results
go to ``bench/results/pipeline-<timestamp>.json`` (or ``--json``). Targets on a 2-core machine:
1M records under 240 s end to end with peak memory under 6 GiB; the 1% incremental run under
60 s. Nothing here asserts a time: it prints.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "bench" / "results"
GIB = 1024**3
TARGETS = {"full_seconds": 240.0, "peak_rss_gib": 6.0, "incremental_seconds": 60.0}
PLAIN_TARGETS = {"full_wall": 2.0, "full_peak_rss": 1.3, "incremental_wall": 0.5}
"""Issue 22's targets as ratios to the plain Splink job on the same data: the whole pipeline
at most 2x its wall time and 1.3x its peak memory, the 1% incremental run at most 0.5x its
wall time."""
TASKS = {"ingest_and_validate": ("ingest", "validate_source")}
"""DAG tasks that run several stages in one process (the mapped per-source task)."""
(PER_SOURCE,) = TASKS  # the one task mapped over sources
AFTER_SOURCES = (
    "standardise",
    "validate_staged",
    "gate",
    "match",
    "golden",
    "publish",
    "backup",
)
BESIDE = {"validate_staged": "data_docs"}
"""A stage the DAG starts beside the main chain once its upstream (the key) is done."""


@dataclass
class StageFigure:
    """One stage process: what it cost and how much it handled."""

    stage: str
    source: str | None
    seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    load_1m: float
    others_cpu_seconds: float
    """CPU seconds the rest of the machine used while this stage ran (a shared machine)."""
    rows: int | None = None
    bytes: int | None = None
    status: str = "succeeded"
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.stage}[{self.source}]" if self.source else self.stage


@dataclass
class RunFigures:
    """One pipeline run: its stages and the totals."""

    label: str
    run_id: str
    records: int
    stages: list[StageFigure]
    wall_seconds: float
    """From the first stage's start to the last one's end, process starts included."""

    @property
    def cpu_seconds(self) -> float:
        return sum(s.cpu_seconds for s in self.stages)

    @property
    def peak_rss_mib(self) -> float:
        return max((s.peak_rss_mib for s in self.stages), default=0.0)

    @property
    def succeeded(self) -> bool:
        return all(s.status == "succeeded" for s in self.stages)

    def as_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "run_id": self.run_id,
            "records": self.records,
            "wall_seconds": round(self.wall_seconds, 2),
            "stage_seconds": round(sum(s.seconds for s in self.stages), 2),
            "cpu_seconds": round(self.cpu_seconds, 2),
            "peak_rss_mib": round(self.peak_rss_mib),
            "succeeded": self.succeeded,
            "stages": [asdict(s) for s in self.stages],
        }


# --- running one process and measuring it ------------------------------------------------------


class _TreeSampler(threading.Thread):
    """Samples the resident memory of a process and all its descendants (a Spark JVM too)."""

    def __init__(self, pid: int, interval: float = 0.1, ceiling_bytes: int | None = None) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak_bytes = 0
        self.ceiling_bytes = ceiling_bytes
        self.over_ceiling = False
        self._halt = threading.Event()

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._halt.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                total = 0
                for proc in procs:
                    with contextlib.suppress(psutil.Error):
                        total += proc.memory_info().rss
            except psutil.Error:
                return
            self.peak_bytes = max(self.peak_bytes, total)
            if self.ceiling_bytes is not None and total > self.ceiling_bytes:
                # A stage past the ceiling is stopped before the machine's OOM killer picks
                # a victim among everything else running (a shared box).
                self.over_ceiling = True
                for proc in reversed(procs):
                    with contextlib.suppress(psutil.Error):
                        proc.kill()
                return
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=2)


def _busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores)."""
    import psutil

    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


MEMORY_CEILING_GIB = 20.0
"""Resident memory (process tree) past which a measured process is killed: a stage that needs
more than this on a 24 GiB box would otherwise take the machine's other work down with it."""


def measure_process(
    cmd: list[str], env: dict[str, str], log_path: Path, ceiling_gib: float | None = None
) -> dict[str, Any]:
    """Run ``cmd`` to completion; its wall and CPU seconds, peak memory and exit status.
    ``ceiling_gib`` (default :data:`MEMORY_CEILING_GIB`) kills it when its tree grows past."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    busy_before = _busy_cpu_seconds()
    with log_path.open("ab") as log:
        log.write(f"\n$ {' '.join(cmd)}\n".encode())
        log.flush()
        clock = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        ceiling = MEMORY_CEILING_GIB if ceiling_gib is None else ceiling_gib
        sampler = _TreeSampler(proc.pid, ceiling_bytes=int(ceiling * 2**30))
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - clock
        sampler.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    others = max(0.0, _busy_cpu_seconds() - busy_before - cpu)
    peak = max(usage.ru_maxrss * 1024, sampler.peak_bytes)  # ru_maxrss is in KiB on Linux
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_rss_mib": peak / 2**20,
        "returncode": proc.returncode,
        "over_memory_ceiling": sampler.over_ceiling,
        "load_1m": os.getloadavg()[0],
        "others_cpu_seconds": others,
    }


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# --- the pipeline, one process per stage ---------------------------------------------------------


@dataclass
class Bench:
    """Where one benchmark works and how its child processes are started."""

    work: Path
    env: dict[str, str]
    overrides: list[str] = field(default_factory=list)
    """``key=value`` config overrides every stage process gets (``matching.engine=spark``)."""
    fan_out: int = 1
    """Sources ingested and validated at a time (Airflow's mapped tasks on parallel workers)."""
    memory_ceiling_gib: float = MEMORY_CEILING_GIB
    """Resident memory past which a child process is killed (see :func:`measure_process`)."""

    @property
    def logs(self) -> Path:
        return self.work / "logs"

    def worker(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "bench.bench_pipeline", "--worker", *args]

    def run_worker(self, label: str, *args: str) -> dict[str, Any]:
        """A helper process (sample generation, run bookkeeping) that must succeed."""
        figures = measure_process(
            self.worker(*args), self.env, self.logs / f"{label}.log", self.memory_ceiling_gib
        )
        if figures["returncode"] != 0:
            log_path = self.logs / f"{label}.log"
            raise RuntimeError(f"{label} failed; last lines of {log_path}:\n{_tail(log_path)}")
        return figures

    def stage(
        self,
        stage: str,
        config_path: Path,
        run_id: str,
        source: str | None = None,
        overrides: list[str] | None = None,
    ) -> StageFigure:
        label = f"{stage}[{source}]" if source else stage
        args = ["stage", stage, "--config", str(config_path), "--run-id", run_id]
        if source:
            args += ["--source", source]
        for item in [*self.overrides, *(overrides or [])]:
            args += ["--set", item]
        log_path = self.logs / run_id / f"{label}.log"
        measured = measure_process(self.worker(*args), self.env, log_path, self.memory_ceiling_gib)
        stages = TASKS.get(stage, (stage,))
        figure = StageFigure(
            stage=stage,
            source=source,
            seconds=round(measured["seconds"], 2),
            cpu_seconds=round(measured["cpu_seconds"], 2),
            peak_rss_mib=round(measured["peak_rss_mib"], 1),
            load_1m=round(measured["load_1m"], 2),
            others_cpu_seconds=round(measured["others_cpu_seconds"], 1),
        )
        records = {name: _stage_record(config_path, run_id, name, source) for name in stages}
        failed = [r for r in records.values() if r.get("status") != "succeeded"]
        if measured["returncode"] != 0 or failed:
            figure.status = "failed"
            error = next((r.get("error") for r in failed if r.get("error")), None)
            if measured["over_memory_ceiling"]:
                error = f"killed past the memory ceiling of {self.memory_ceiling_gib:g} GiB"
            figure.error = error or f"exit status {measured['returncode']}"
            sys.stdout.write(f"  {label} FAILED: {figure.error}\n  log {log_path}:\n")
            sys.stdout.write(_tail(log_path) + "\n")
            return figure
        if len(stages) == 1:
            _fill_counts(figure, records[stage].get("result") or {})
            return figure
        # A task of several stages: the first stage's rows, every stage's own figures.
        for name in stages:
            part = StageFigure(
                stage=name,
                source=source,
                seconds=records[name].get("seconds") or 0.0,
                cpu_seconds=0.0,
                peak_rss_mib=0.0,
                load_1m=0.0,
                others_cpu_seconds=0.0,
            )
            _fill_counts(part, records[name].get("result") or {})
            figure.details[name] = {"seconds": part.seconds, "rows": part.rows, **part.details}
        figure.rows = figure.details[stages[0]]["rows"]
        return figure


def _stage_record(config_path: Path, run_id: str, stage: str, source: str | None) -> dict:
    from pipelines.orchestrate import stage_record_path
    from pipelines.warehouse import Warehouse

    warehouse = Warehouse(_warehouse_of(config_path))
    path = stage_record_path(warehouse, run_id, stage, source)
    return json.loads(path.read_text()) if path.exists() else {}


def _warehouse_of(config_path: Path) -> Path:
    """The warehouse a generated sample config names (``GOLDEN_WAREHOUSE`` is not used here)."""
    import yaml

    data = yaml.safe_load(config_path.read_text())
    return (config_path.parent / data["warehouse"]["path"]).resolve()


def _fill_counts(figure: StageFigure, result: dict[str, Any]) -> None:
    """Rows (or bytes) the stage handled, from the result it recorded."""
    stage = figure.stage
    if stage == "ingest":
        figure.rows = result.get("rows_read")
        figure.details = {
            k: result.get(k) for k in ("rows_landed", "rows_unchanged", "rows_current")
        }
    elif stage in ("validate_source", "validate_staged"):
        figure.rows = result.get("rows_in")
        figure.details = {
            "accepted": result.get("accepted"),
            "quarantined": result.get("quarantined"),
        }
    elif stage == "standardise":
        figure.rows = result.get("rows_in")
    elif stage == "match":
        figure.rows = result.get("records")
        figure.details = {
            k: result.get(k) for k in ("pairs_linked", "clusters", "review_pairs") if k in result
        }
    elif stage == "golden":
        figure.rows = result.get("xref_rows")
        figure.details = {
            k: result.get(k) for k in ("golden_records", "created", "kept", "merged", "retired")
        }
    elif stage == "publish":
        figure.rows = (result.get("tables") or {}).get("customer_xref")
    elif stage == "backup":
        figure.bytes = result.get("bytes")
        figure.details = {"objects": result.get("objects")}


def fan_out_sources(
    bench: Bench, config_path: Path, run_id: str, sources: list[str]
) -> list[StageFigure]:
    """Each source's ``ingest`` then ``validate_source`` in one process, ``bench.fan_out``
    sources at a time.

    This is the Airflow DAG's mapped task ``ingest_and_validate``: one task (one process) per
    source, and sources share nothing but the warehouse, so they can run side by side on
    separate workers. Figures come back in source order.
    """

    def task(source: str) -> StageFigure:
        figure = bench.stage(PER_SOURCE, config_path, run_id, source)
        _show(figure)
        return figure

    with ThreadPoolExecutor(max_workers=max(1, bench.fan_out)) as pool:
        return list(pool.map(task, sources))


_PRINT_LOCK = threading.Lock()


def _show(figure: StageFigure) -> None:
    with _PRINT_LOCK:
        sys.stdout.write(f"  {_row(figure)}\n")
        sys.stdout.flush()


def run_pipeline_processes(
    bench: Bench, config_path: Path, label: str, records: int, sources: list[str]
) -> RunFigures:
    """One pipeline run, each stage in its own process; stops at a failure.

    Sources fan out as in the Airflow DAG (:func:`fan_out_sources`); the stages after them run
    one by one, except ``data_docs``, which the DAG runs beside ``gate`` and ``match`` once
    ``validate_staged`` is done (:data:`BESIDE`).
    """
    from pipelines.warehouse import new_run_id

    run_id = new_run_id()
    sys.stdout.write(f"\n{label}: run {run_id} ({records:,} source records)\n")
    clock = time.perf_counter()
    stages = fan_out_sources(bench, config_path, run_id, sources)
    if all(s.status == "succeeded" for s in stages):
        with ThreadPoolExecutor(max_workers=len(BESIDE)) as pool:
            beside = []
            for stage in AFTER_SOURCES:
                stages.append(bench.stage(stage, config_path, run_id))
                _show(stages[-1])
                if stages[-1].status != "succeeded":
                    break
                if stage in BESIDE:
                    beside.append(pool.submit(bench.stage, BESIDE[stage], config_path, run_id))
            for future in beside:
                stages.append(future.result())
                _show(stages[-1])
    wall = time.perf_counter() - clock
    bench.run_worker(f"finish-{run_id}", "finish", "--config", str(config_path), "--run-id", run_id)
    return RunFigures(label, run_id, records, stages, wall)


# --- printing ----------------------------------------------------------------------------------

_HEADER = (
    f"{'stage':<30}{'wall s':>8}{'cpu s':>8}{'rows':>11}{'rows/s':>10}"
    f"{'peak RSS':>10}{'load':>6}{'others':>8}"
)


def _row(figure: StageFigure) -> str:
    rows = f"{figure.rows:,}" if figure.rows is not None else ""
    if figure.rows and figure.seconds:
        rate = f"{figure.rows / figure.seconds:,.0f}"
    elif figure.bytes and figure.seconds:
        rate = f"{figure.bytes / figure.seconds / 1e6:,.0f} MB/s"
        rows = f"{figure.bytes / 1e6:,.0f} MB"
    else:
        rate = ""
    return (
        f"{figure.label:<30}{figure.seconds:>8.1f}{figure.cpu_seconds:>8.1f}{rows:>11}"
        f"{rate:>10}{figure.peak_rss_mib:>7,.0f} MiB{figure.load_1m:>6.1f}"
        f"{figure.others_cpu_seconds:>8.0f}"
    )


def format_run(run: RunFigures) -> str:
    lines = [f"{run.label}: {run.records:,} records, run {run.run_id}", _HEADER]
    lines += [_row(s) for s in run.stages]
    stage_total = sum(s.seconds for s in run.stages)
    lines.append(
        f"{'total':<30}{stage_total:>8.1f}{run.cpu_seconds:>8.1f}{run.records:>11,}"
        f"{run.records / stage_total if stage_total else 0:>10,.0f}"
        f"{run.peak_rss_mib:>7,.0f} MiB"
    )
    lines.append(
        f"end to end {run.wall_seconds:.1f} s wall (process starts included), "
        f"{run.cpu_seconds:.1f} CPU s, peak RSS {run.peak_rss_mib / 1024:.2f} GiB"
        + ("" if run.succeeded else "  (FAILED)")
    )
    return "\n".join(lines)


def format_growth(runs: list[RunFigures]) -> str:
    """Peak memory of each stage (and the whole run) at each size, side by side."""
    runs = sorted(runs, key=lambda r: r.records)
    labels = [s.label for s in runs[-1].stages]
    head = f"{'peak RSS MiB':<30}" + "".join(f"{r.records:>12,}" for r in runs)
    lines = ["peak memory by size (full runs)", head]
    for label in labels:
        cells = []
        for run in runs:
            match = next((s for s in run.stages if s.label == label), None)
            cells.append(f"{match.peak_rss_mib:>12,.0f}" if match else f"{'-':>12}")
        lines.append(f"{label:<30}" + "".join(cells))
    lines.append(f"{'whole run (max)':<30}" + "".join(f"{r.peak_rss_mib:>12,.0f}" for r in runs))
    lines.append(f"{'end to end s':<30}" + "".join(f"{r.wall_seconds:>12,.1f}" for r in runs))
    return "\n".join(lines)


def format_targets(full: RunFigures, incremental: RunFigures | None) -> str:
    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    lines = [
        f"full run {full.wall_seconds:.0f} s (target < {TARGETS['full_seconds']:.0f} s): "
        f"{verdict(full.wall_seconds < TARGETS['full_seconds'])}",
        f"peak RSS {full.peak_rss_mib / 1024:.2f} GiB (target < {TARGETS['peak_rss_gib']} GiB): "
        f"{verdict(full.peak_rss_mib / 1024 < TARGETS['peak_rss_gib'])}",
    ]
    if incremental is not None:
        lines.append(
            f"1% incremental run {incremental.wall_seconds:.0f} s "
            f"(target < {TARGETS['incremental_seconds']:.0f} s): "
            f"{verdict(incremental.wall_seconds < TARGETS['incremental_seconds'])}"
        )
    return "\n".join(lines)


def plain_ratios(
    full: RunFigures, incremental: RunFigures | None, plain: StageFigure
) -> dict[str, float]:
    """The pipeline's figures as multiples of the plain job's (issue 22's targets)."""
    ratios = {
        "full_wall": full.wall_seconds / plain.seconds,
        "full_cpu": full.cpu_seconds / plain.cpu_seconds,
        "full_peak_rss": full.peak_rss_mib / plain.peak_rss_mib,
    }
    if incremental is not None:
        ratios["incremental_wall"] = incremental.wall_seconds / plain.seconds
        ratios["incremental_cpu"] = incremental.cpu_seconds / plain.cpu_seconds
    return ratios


def format_plain(full: RunFigures, incremental: RunFigures | None, plain: StageFigure) -> str:
    """The pipeline beside the plain Splink job: wall, CPU, peak memory and their ratios."""
    if plain.status != "succeeded":
        return f"plain Splink job FAILED ({plain.error}): no ratios"
    ratios = plain_ratios(full, incremental, plain)

    def cells(run: RunFigures) -> str:
        return f"{run.wall_seconds:>8.1f}{run.cpu_seconds:>8.1f}{run.peak_rss_mib / 1024:>9.2f} GiB"

    def against(name: str) -> str:
        if name not in PLAIN_TARGETS:
            return ""
        ok = ratios[name] <= PLAIN_TARGETS[name]
        return f" (target <= {PLAIN_TARGETS[name]}x: {'met' if ok else 'MISSED'})"

    phases = plain.details.get("phase_seconds", {})
    lines = [
        "against a plain Splink job on the same records (stock Splink on DuckDB, match and "
        "cluster only, on pre-cleaned columns)",
        f"{'':<28}{'wall s':>8}{'cpu s':>8}{'peak RSS':>13}",
        f"{'plain Splink job':<28}{plain.seconds:>8.1f}{plain.cpu_seconds:>8.1f}"
        f"{plain.peak_rss_mib / 1024:>9.2f} GiB  ({plain.rows:,} records, "
        f"{plain.details.get('clusters', 0):,} clusters; phases {phases})",
        f"{'whole pipeline, full run':<28}{cells(full)}",
    ]
    if incremental is not None:
        lines.append(f"{'whole pipeline, 1% changed':<28}{cells(incremental)}")
    lines += [
        f"full run / plain: wall {ratios['full_wall']:.2f}x{against('full_wall')}, "
        f"CPU {ratios['full_cpu']:.2f}x, peak memory {ratios['full_peak_rss']:.2f}x"
        f"{against('full_peak_rss')}",
    ]
    if incremental is not None:
        lines.append(
            f"1% incremental / plain: wall {ratios['incremental_wall']:.2f}x"
            f"{against('incremental_wall')}, CPU {ratios['incremental_cpu']:.2f}x"
        )
    return "\n".join(lines)


# --- the benchmark -------------------------------------------------------------------------------


def _sample(
    bench: Bench, records: int, seed: int, name: str, given: Path | None = None
) -> tuple[Path, float]:
    """A fresh sample of ``records`` source records in the work folder: generated, or copied
    from ``given`` (a folder ``golden generate-sample`` wrote, without its warehouse; the 1%
    run changes the copy, never the original)."""
    folder = bench.work / name
    clock = time.perf_counter()
    if given is not None:
        from pipelines.sample import customers_for_records

        facts = json.loads((given / "sample.json").read_text())
        customers = customers_for_records(records)
        if facts["customers"] != customers or facts["seed"] != seed:
            raise SystemExit(
                f"{given / 'sample.json'}: {facts['customers']:,} customers of seed "
                f"{facts['seed']}, not the {customers:,} of seed {seed} that --records "
                f"{records:,} generates"
            )
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(given, folder, ignore=shutil.ignore_patterns("warehouse"))
        _own_warehouse(folder / "config.yaml")
        return folder / "config.yaml", time.perf_counter() - clock
    bench.run_worker(
        f"generate-{name}", "generate", "--out", str(folder), "--records", str(records),
        "--seed", str(seed), "--warehouse", str(folder / "warehouse"),
    )  # fmt: skip
    return folder / "config.yaml", time.perf_counter() - clock


def _own_warehouse(config_path: Path) -> None:
    """Point a copied sample's config at the warehouse beside it: the original may name none
    (``golden generate-sample`` without ``--warehouse``) or one at an absolute path, which the
    copy's runs must never write to."""
    import yaml

    data = yaml.safe_load(config_path.read_text())
    data["warehouse"] = {**(data.get("warehouse") or {}), "path": "warehouse"}
    config_path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def _spark_match(
    bench: Bench, config_path: Path, full: RunFigures, spark_memory: str | None
) -> StageFigure:
    """The match stage on local Spark over the full run's staged records, in a run of its own."""
    from pipelines.warehouse import Warehouse, new_run_id

    warehouse = Warehouse(_warehouse_of(config_path))
    run_id = new_run_id()
    target = warehouse.staged_accepted(run_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.link(warehouse.staged_accepted(full.run_id), target)
    overrides = ["matching.engine=spark"]
    if spark_memory:
        overrides.append(f"matching.spark_driver_memory={spark_memory}")
    return bench.stage("match", config_path, run_id, overrides=overrides)


def _plain_job(bench: Bench, config_path: Path, full: RunFigures) -> StageFigure:
    """The plain Splink job on the full run's accepted records, in a process of its own.

    Its input is cleaned first, in a separate process outside the figures (the job is "on
    pre-cleaned columns"); the measured process reads that file, trains, predicts, clusters
    and writes the clusters, as a competent user's script with stock Splink on DuckDB would.
    """
    folder = bench.work / "plain"
    folder.mkdir(parents=True, exist_ok=True)
    cleaned, clusters = folder / "cleaned.parquet", folder / "clusters.parquet"
    bench.run_worker(
        "plain-input", "plain-input", "--config", str(config_path), "--run-id", full.run_id,
        "--out", str(cleaned),
    )  # fmt: skip
    cmd = bench.worker(
        "plain", "--config", str(config_path), "--input", str(cleaned), "--out", str(clusters)
    )
    log_path = bench.logs / "plain.log"
    measured = measure_process(cmd, bench.env, log_path, bench.memory_ceiling_gib)
    figure = StageFigure(
        stage="plain Splink job",
        source=None,
        seconds=round(measured["seconds"], 2),
        cpu_seconds=round(measured["cpu_seconds"], 2),
        peak_rss_mib=round(measured["peak_rss_mib"], 1),
        load_1m=round(measured["load_1m"], 2),
        others_cpu_seconds=round(measured["others_cpu_seconds"], 1),
    )
    if measured["returncode"] != 0:
        figure.status = "failed"
        figure.error = f"exit status {measured['returncode']}"
        sys.stdout.write(f"  plain Splink job FAILED; log {log_path}:\n{_tail(log_path)}\n")
        return figure
    facts = json.loads(clusters.with_suffix(".json").read_text())
    figure.rows = facts["records"]
    figure.details = {"clusters": facts["clusters"], "phase_seconds": facts["phases"]}
    return figure


def _compile_sources() -> None:
    """Byte-compile the project's modules once, as ``pip install`` does in a deployed image.

    With ``PYTHONDONTWRITEBYTECODE`` set (common in containers and CI) an editable checkout
    never gets ``.pyc`` files, and every stage process would compile the project's modules
    again: a cost a deployment does not pay.
    """
    import compileall

    for package in ("pipelines", "matching", "bench"):
        compileall.compile_dir(REPO / package, quiet=1)


def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    from pipelines.s3server import LocalS3Server

    _compile_sources()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    work.mkdir(parents=True, exist_ok=True)
    sizes = sorted({*args.sizes, args.records})
    report: dict[str, Any] = {
        "benchmark": "pipeline",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "records": args.records,
        "seed": args.seed,
        "fan_out": args.fan_out,
        "targets": TARGETS,
        "runs": [],
    }
    sys.stdout.write(f"working in {work}\n")
    try:
        with LocalS3Server(work / "s3") as endpoint:
            env = {**os.environ, **endpoint.env(), "PYTHONPATH": str(REPO)}
            env.pop("GOLDEN_WAREHOUSE", None)
            bench = Bench(work, env, fan_out=args.fan_out, memory_ceiling_gib=args.memory_ceiling)
            sources = ["crm", "shop", "billing"]

            config_path, took = _sample(
                bench, args.records, args.seed, f"sample-{args.records}", args.sample
            )
            done = "copied" if args.sample else "generated"
            sys.stdout.write(f"{done} {args.records:,} source records in {took:.0f} s\n")
            report["generate_seconds"] = round(took, 1)
            full = run_pipeline_processes(bench, config_path, "full run", args.records, sources)
            report["runs"].append(full.as_json())

            plain = None
            if full.succeeded and not args.no_plain:
                sys.stdout.write("\nplain Splink job on the full run's accepted records\n")
                plain = _plain_job(bench, config_path, full)
                sys.stdout.write(f"  {_row(plain)}\n")
                report["plain_job"] = asdict(plain)

            incremental = None
            if full.succeeded and not args.no_incremental:
                clock = time.perf_counter()
                bench.run_worker(
                    "mutate", "mutate", "--sample", str(config_path.parent),
                    "--fraction", "0.01", "--seed", str(args.seed + 1),
                )  # fmt: skip
                report["mutate_seconds"] = round(time.perf_counter() - clock, 1)
                incremental = run_pipeline_processes(
                    bench, config_path, "1% changed (incremental)", args.records, sources
                )
                report["runs"].append(incremental.as_json())

            growth = [full]
            for size in sizes:
                if size == args.records:
                    continue
                size_config, _ = _sample(bench, size, args.seed, f"sample-{size}")
                run = run_pipeline_processes(
                    bench, size_config, f"full run {size:,}", size, sources
                )
                report["runs"].append(run.as_json())
                growth.append(run)
                if not args.keep:
                    shutil.rmtree(size_config.parent, ignore_errors=True)

            spark = None
            if args.spark and full.succeeded:
                sys.stdout.write("\nmatch stage on local Spark (matching.engine: spark)\n")
                spark = _spark_match(bench, config_path, full, args.spark_memory)
                sys.stdout.write(f"  {_row(spark)}\n")
                report["spark_match"] = asdict(spark)

        sys.stdout.write("\n" + format_run(full) + "\n")
        if incremental is not None:
            sys.stdout.write("\n" + format_run(incremental) + "\n")
        if spark is not None:
            duck = next(s for s in full.stages if s.stage == "match")
            sys.stdout.write(
                f"\nmatch on DuckDB {duck.seconds:.1f} s / {duck.peak_rss_mib:,.0f} MiB; "
                f"on local Spark {spark.seconds:.1f} s / {spark.peak_rss_mib:,.0f} MiB "
                f"({spark.status})\n"
            )
        if len(growth) > 1:
            sys.stdout.write("\n" + format_growth(growth) + "\n")
        sys.stdout.write("\n" + format_targets(full, incremental) + "\n")
        if plain is not None:
            sys.stdout.write("\n" + format_plain(full, incremental, plain) + "\n")
            if plain.status == "succeeded":
                report["plain_ratios"] = {
                    k: round(v, 3) for k, v in plain_ratios(full, incremental, plain).items()
                }
        return report
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def _machine() -> dict[str, Any]:
    import platform

    import psutil

    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / GIB, 1),
        "python": platform.python_version(),
        "load_at_start": [round(x, 2) for x in os.getloadavg()],
    }


# --- the child processes -------------------------------------------------------------------------


def _worker(argv: list[str]) -> int:
    """What a child process does: one stage (as an Airflow task would), or a helper step."""
    parser = argparse.ArgumentParser(prog="bench_pipeline --worker")
    parser.add_argument(
        "task", choices=("stage", "finish", "generate", "mutate", "plain-input", "plain")
    )
    parser.add_argument("stage", nargs="?")
    parser.add_argument("--config", type=Path)
    parser.add_argument("--run-id")
    parser.add_argument("--source")
    parser.add_argument("--set", action="append", default=[], help="key=value config override")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--sample", type=Path)
    parser.add_argument("--records", type=int)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fraction", type=float)
    parser.add_argument("--warehouse", type=Path)
    parser.add_argument("--input", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer", "py4j"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    if args.task == "generate":
        from pipelines.sample import customers_for_records, generate_sample

        customers = customers_for_records(args.records)
        generate_sample(args.out, customers, args.seed, warehouse=args.warehouse)
        return 0
    if args.task == "mutate":
        from pipelines.sample import mutate_sample

        mutate_sample(args.sample, args.fraction, args.seed)
        return 0

    from pipelines.config import load_config

    overrides = dict(item.split("=", 1) for item in args.set)
    config = load_config(args.config, overrides)
    if args.task == "finish":
        from pipelines.orchestrate import finish_run, stage_records
        from pipelines.warehouse import Warehouse

        records = stage_records(Warehouse(config.warehouse.path), args.run_id)
        failed = [r for r in records if r.get("status") != "succeeded"]
        finish_run(config, args.run_id, error=RuntimeError(failed[0]["error"]) if failed else None)
        return 0

    if args.task == "plain-input":
        _write_plain_input(config, args.run_id, args.out)
        return 0
    if args.task == "plain":
        _run_plain(config, args.input, args.out)
        return 0

    from pipelines.orchestrate import run_stage

    for stage in TASKS.get(args.stage, (args.stage,)):
        run_stage(stage, config, args.run_id, **({"source": args.source} if args.source else {}))
    return 0


def _write_plain_input(config: Any, run_id: str, out: Path) -> None:
    """The plain job's input: the run's accepted records, lightly cleaned as a first
    hand-written Splink script would (``bench_matching.baseline_frame``)."""
    import polars as pl

    from bench.bench_matching import baseline_frame
    from pipelines.schema import MAPPABLE_FIELDS
    from pipelines.warehouse import Warehouse

    columns = ["record_key", "source_system", *(f"raw_{f}" for f in MAPPABLE_FIELDS)]
    staged = pl.read_parquet(Warehouse(config.warehouse.path).staged_accepted(run_id))
    staged = staged.select(c for c in dict.fromkeys(columns) if c in staged.columns)
    date_formats = {s.name: s.date_formats.get("date_of_birth", []) for s in config.sources}
    baseline_frame(staged, date_formats).write_parquet(out)


def _run_plain(config: Any, cleaned: Path, out: Path) -> None:
    """The plain job itself: read, train, predict, cluster, write the clusters (and beside
    them what it did, as JSON)."""
    import polars as pl

    from bench.bench_matching import run_baseline

    frame = pl.read_parquet(cleaned)
    clusters, phases = run_baseline(frame, config.matching)
    clusters.write_parquet(out)
    facts = {"records": frame.height, "clusters": clusters["cluster_id"].n_unique()}
    out.with_suffix(".json").write_text(json.dumps({**facts, "phases": phases}))


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        raise SystemExit(_worker(argv[1:]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="Source records.")
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(x) for x in text.split(",") if x.strip()],
        default=[250_000, 500_000, 1_000_000],
        help="Comma-separated sizes for the peak-memory growth table ('' for none).",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--spark", action="store_true", help="Also match on local Spark.")
    parser.add_argument(
        "--spark-memory",
        help="Spark driver memory for --spark (matching.spark_driver_memory; default: the "
        "config's). Local mode runs everything in the driver JVM (see docs/scaling.md).",
    )
    parser.add_argument("--no-incremental", action="store_true", help="Skip the 1%% rerun.")
    parser.add_argument(
        "--no-plain", action="store_true", help="Skip the plain Splink job and the ratios."
    )
    parser.add_argument(
        "--fan-out",
        type=int,
        default=2,
        help="Sources ingested and validated at a time, as Airflow's parallel workers would "
        "(default 2, one per core; 1 runs every stage alone, for clean per-stage figures).",
    )
    parser.add_argument("--json", type=Path, help="Where to write the figures (JSON).")
    parser.add_argument("--keep", type=Path, help="Work in this folder and keep it.")
    parser.add_argument(
        "--sample",
        type=Path,
        help="Copy this generated sample (a `golden generate-sample` folder of --records "
        "records and --seed) instead of generating one: the sample is the same, minutes "
        "sooner at ten million records.",
    )
    parser.add_argument(
        "--memory-ceiling",
        type=float,
        default=MEMORY_CEILING_GIB,
        help="GiB of resident memory past which a stage is killed and reported failed "
        f"(default {MEMORY_CEILING_GIB:g}).",
    )
    args = parser.parse_args(argv)
    report = run_benchmark(args)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = args.json or RESULTS_DIR / f"pipeline-{stamp}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(report, indent=2) + "\n")
    sys.stdout.write(f"\nfigures written to {target}\n")


if __name__ == "__main__":
    main()
