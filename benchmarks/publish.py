"""Benchmark (issue 14, part 4): ``publish`` of a large register, cold and warm.

Run from the checkout::

    .venv/bin/python -m benchmarks.publish                    # 1,000 synthetic indicators
    .venv/bin/python -m benchmarks.publish --indicators 200   # smaller
    .venv/bin/python -m benchmarks.publish --checkout /tmp/before   # and an older checkout

It builds a throw-away SQLite database with the sample register (54 indicators, 2025/26
history) plus ``--indicators`` synthetic monthly indicators (``benchmarks/_synthetic.py``)
with a value for every month from April 2025 to June 2026, so every chart of the
2026/27 Q1 report has five quarters of figures, and then measures, in this process:

1. **baseline**: drawing one chart in this process (the mean of ``--sample`` of the
   report's own charts, with no cache), times the number of charts: what drawing
   alone costs one core, the floor a one-process publish could not beat.
2. **cold**: ``publish`` into an empty folder with an empty chart cache, with
   ``--workers`` drawing processes (default: this process's CPUs).
3. **warm**: ``publish`` again into the same folder with the same cache and nothing
   changed: no chart is drawn, no file is rewritten (checked: the same bytes as cold).
4. optionally **in-process** (``--in-process``): cold again with one process, no pool.
5. optionally **checkout** (``--checkout DIR``): ``mailcapture publish`` of another
   checkout of the code (e.g. ``git worktree add /tmp/before HEAD``) on the same
   database, in a subprocess, with the same clock: the "before" of a change, measured
   beside the "after" on the same machine and data.
6. optionally **profile** (``--profile``): a warm publish once more under cProfile, its
   25 most expensive mailcapture functions (cumulative) printed to stderr.

Beside each wall time, the CPU seconds of the run (this process and the drawing
processes): on a shared machine the wall time depends on the others' load, the CPU
time much less.

Each publish prints its stages (figures, charts, pages, PDF) from its progress calls, and
the load average before and after, as the machine is shared.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: import from the checkout, not benchmarks/
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import insert, select

from benchmarks._common import log, time_limit
from benchmarks._synthetic import (
    Shape,
    SyntheticRegister,
    build_database,
    generate,
    scratch_database,
)
from mailcapture.db import models as m
from mailcapture.db.engine import make_engine, session_factory, transaction
from mailcapture.db.periods import PeriodStore
from mailcapture.domain.enums import SubmissionSource, SubmissionState
from mailcapture.domain.periods import parse_period
from mailcapture.settings import usable_cpus

#: The report: 2026/27 Q1, published a week after its due date.
PERIOD = parse_period("2026/27 Q1")
NOW = datetime(2026, 7, 27, 8, 0, tzinfo=UTC)
#: The synthetic register is built for July 2026 (values for June 2026 and July 2025);
#: the other months of the chart's five quarters are added here.
BUILD_PERIOD = parse_period("2026-07")
MONTHS = [f"2025-{m:02d}" for m in range(4, 13)] + [f"2026-{m:02d}" for m in range(1, 7)]


@dataclass
class Run:
    """One publish: wall time, its stages, the load around it."""

    name: str
    seconds: float = 0.0
    #: CPU seconds of this process and of the drawing processes it waited for: what the
    #: run costs whatever else the machine is doing.
    cpu: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    note: str = ""


class StageTimes:
    """A :class:`mailcapture.progress.Progress` that times each stage publish announces."""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}
        # Until publish announces its first stage: checking the folder, the report's queries.
        self._current: str | None = "queries"
        self._since = time.perf_counter()

    def start(self, description: str, total: int | None = None) -> None:
        self._close()
        self._current, self._since = description, time.perf_counter()

    def advance(self, steps: int = 1) -> None:
        return None

    def finish(self) -> dict[str, float]:
        self._close()
        return self.stages

    def _close(self) -> None:
        if self._current is not None:
            spent = time.perf_counter() - self._since
            self.stages[self._current] = self.stages.get(self._current, 0.0) + spent
        self._current = None


def add_months(url: str, reg: SyntheticRegister) -> int:
    """A value for every synthetic component in each of :data:`MONTHS` not yet filled."""
    engine = make_engine(url)
    try:
        sessions = session_factory(engine)
        with transaction(sessions) as session:
            store = PeriodStore(session)
            period_ids = {code: store.get(parse_period(code)).id for code in MONTHS}
        skip = {BUILD_PERIOD.previous().code, BUILD_PERIOD.same_period_last_year().code}
        with engine.begin() as conn:
            found = select(m.Component.code, m.Component.id).where(m.Component.code.like("SYN%"))
            ids: dict[str, int] = {code: id_ for code, id_ in conn.execute(found)}
            rows = []
            for n, ind in enumerate(reg.indicators):
                for c in ind.components:
                    for i, month in enumerate(MONTHS):
                        if month in skip:
                            continue
                        # Between the component's two real values, varying by month.
                        share = Decimal((n * 7 + i * 3) % 11) / 10
                        value = (c.last_year + (c.previous - c.last_year) * share).quantize(
                            Decimal(1)
                        )
                        rows.append(
                            {
                                "component_id": ids[c.code],
                                "period_id": period_ids[month],
                                "state": SubmissionState.ACCEPTED,
                                "value": value,
                                "raw_answer": None,
                                "reason": None,
                                "estimated": False,
                                "late": False,
                                "source": SubmissionSource.HISTORY,
                                "received_at": NOW,
                                "is_current": True,
                            }
                        )
            for start in range(0, len(rows), 10_000):
                conn.execute(insert(m.ComponentValue.__table__), rows[start : start + 10_000])
        return len(rows)
    finally:
        engine.dispose()


def library_publish(url: str, out: Path, cache: Path | None, workers: int, name: str) -> Run:
    """``publish`` called as the command calls it, timed, with its stages."""
    from mailcapture.publish.charts import ChartOptions
    from mailcapture.publish.site import publish

    run = Run(name, load_before=os.getloadavg())
    engine = make_engine(url)
    try:
        stages = StageTimes()
        cpu = cpu_seconds()
        start = time.perf_counter()
        with session_factory(engine)() as session:
            publish(session, PERIOD, NOW, out, stages, ChartOptions(cache=cache, workers=workers))
        run.seconds = time.perf_counter() - start
        run.cpu = cpu_seconds() - cpu
        run.stages = stages.finish()
    finally:
        engine.dispose()
    run.load_after = os.getloadavg()
    return run


def checkout_publish(url: str, checkout: Path, out: Path) -> Run:
    """``mailcapture publish`` of the code in ``checkout`` (this venv's libraries), timed.

    The editable install's import hook would find this checkout's package first, so a
    plain path finder is put in front of it for the subprocess.
    """
    run = Run(f"checkout {checkout}", load_before=os.getloadavg())
    cpu = cpu_seconds()
    code = (
        "import sys, importlib.machinery;"
        f"sys.path.insert(0, {str(checkout)!r});"
        "sys.meta_path.insert(0, importlib.machinery.PathFinder);"
        "import mailcapture; assert mailcapture.__file__.startswith(sys.path[0]), mailcapture;"
        "from mailcapture.cli.main import run; sys.argv[0] = 'mailcapture'; run()"
    )
    env = {
        **os.environ,
        "MAILCAPTURE_DATABASE_URL": url,
        "MAILCAPTURE_MAIL_DIR": str(out.parent / "checkout-mail" / "outbox"),
    }
    start = time.perf_counter()
    command = ["publish", "--period", PERIOD.code, "--out", str(out), "--now", NOW.isoformat()]
    done = subprocess.run(
        [sys.executable, "-c", code, *command],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    run.seconds = time.perf_counter() - start
    run.cpu = cpu_seconds() - cpu
    run.load_after = os.getloadavg()
    if done.returncode != 0:
        raise SystemExit(f"publish of {checkout} failed:\n{done.stderr}")
    return run


def cpu_seconds() -> float:
    """User and system CPU time of this process and its finished children."""
    me, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def baseline(url: str, sample: int) -> tuple[float, float, int]:
    """Seconds (wall, CPU) to draw one of the report's charts in this process, and how
    many charts the report has."""
    from mailcapture.reports.charts import draw
    from mailcapture.reports.content import performance_report

    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            report = performance_report(session, PERIOD, NOW, everything=True)
    finally:
        engine.dispose()
    charts = [e.chart for e in report.indicators]
    step = max(1, len(charts) // sample)
    chosen = charts[::step][:sample]
    draw(chosen[0].data)  # matplotlib imported and its fonts loaded, as in a warm worker
    times, cpus = [], []
    for chart in chosen:
        start, cpu = time.perf_counter(), time.process_time()
        draw(chart.data)
        times.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return statistics.fmean(times), statistics.fmean(cpus), len(charts)


def same_files(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir())
    if names != sorted(p.name for p in b.iterdir()):
        return False
    return all((a / n).read_bytes() == (b / n).read_bytes() for n in names)


def show(run: Run) -> None:
    stages = ", ".join(f"{k} {v:.1f}" for k, v in run.stages.items())
    loads = f"load {run.load_before[0]:.2f} -> {run.load_after[0]:.2f}"
    extra = f"; {run.note}" if run.note else ""
    print(f"| {run.name} | {run.seconds:.1f} | {run.cpu:.1f} | {stages or '-'} | {loads}{extra} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--indicators", type=int, default=1000, help="synthetic indicators")
    parser.add_argument("--workers", type=int, default=usable_cpus(), help="drawing processes")
    parser.add_argument("--sample", type=int, default=40, help="charts timed for the baseline")
    parser.add_argument("--in-process", action="store_true", help="also cold with 1 process")
    parser.add_argument("--checkout", type=Path, help="also publish with this checkout's code")
    parser.add_argument("--profile", action="store_true", help="profile a warm publish")
    parser.add_argument("--time-limit", type=float, default=1800)
    args = parser.parse_args()

    import matplotlib

    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {usable_cpus()} CPUs "
        f"({platform.processor() or platform.machine()}), Python {platform.python_version()}, "
        f"matplotlib {matplotlib.__version__}, load {os.getloadavg()[0]:.2f}"
    )
    reg = generate(Shape(updaters=args.indicators, components_per=2, owners=50))
    work = Path(tempfile.mkdtemp(prefix="mailcapture-publish-"))
    try:
        with time_limit(args.time_limit), scratch_database("sqlite", "") as url:
            log(f"building {args.indicators} synthetic indicators and their history")
            build_database(url, reg, datetime(2026, 7, 1, 8, 0, tzinfo=UTC), BUILD_PERIOD)
            log(f"{add_months(url, reg)} more monthly values")
            log("baseline: drawing charts one by one in this process")
            per_chart, per_chart_cpu, charts = baseline(url, args.sample)
            runs: list[Run] = []
            log(f"cold publish, {args.workers} worker(s)")
            cold = library_publish(url, work / "site", work / "cache", args.workers, "cold")
            cold.note = f"{args.workers} worker(s), empty cache"
            runs.append(cold)
            shutil.copytree(work / "site", work / "cold-copy")
            log("warm publish: nothing changed")
            warm = library_publish(url, work / "site", work / "cache", args.workers, "warm")
            warm.note = "same folder and cache; same bytes: " + str(
                same_files(work / "site", work / "cold-copy")
            )
            runs.append(warm)
            if args.profile:
                import cProfile
                import pstats

                log("warm publish again, under cProfile")
                profiler = cProfile.Profile()
                profiler.enable()
                library_publish(url, work / "site", work / "cache", args.workers, "profiled")
                profiler.disable()
                stats = pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative")
                stats.print_stats("mailcapture", 25)
            if args.in_process:
                log("cold publish in this process")
                solo = library_publish(url, work / "solo", None, 1, "cold, in-process")
                solo.note = "1 process, no cache; same bytes: " + str(
                    same_files(work / "solo", work / "cold-copy")
                )
                runs.append(solo)
            if args.checkout:
                log(f"publish with the code in {args.checkout}")
                runs.append(checkout_publish(url, args.checkout, work / "checkout"))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"{charts} indicators ({args.indicators} synthetic + the sample register's)")
    print(
        f"baseline: one chart drawn in-process {per_chart * 1000:.1f} ms "
        f"(mean of {min(args.sample, charts)}) x {charts} = {per_chart * charts:.1f} s; "
        f"CPU {per_chart_cpu * 1000:.1f} ms x {charts} = {per_chart_cpu * charts:.1f} s"
    )
    print()
    print("| run | seconds | CPU s | stages (s) | notes |")
    print("| --- | ---: | ---: | --- | --- |")
    for run in runs:
        show(run)
    print()
    print(
        f"cold / baseline: {cold.seconds / (per_chart * charts):.2f}; "
        f"warm / baseline: {warm.seconds / (per_chart * charts):.2f}"
    )


if __name__ == "__main__":
    main()
