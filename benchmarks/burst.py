"""Benchmark (issue 14, part 3): a burst of replies through the service path, 1 and 2 processes.

Run from the checkout::

    .venv/bin/python -m benchmarks.burst                  # 20,000 replies; 1, then 2 processes
    .venv/bin/python -m benchmarks.burst --replies 2000 --no-write  # a quick look

It builds one throw-away PostgreSQL database (removed afterwards): a synthetic register
(``benchmarks/_synthetic.py``: the sample council plus ``--components / 5`` updaters with five
components each), the ordinary ``tick`` for April 2026 so every updater has a real request,
and ``--replies`` replies written from those exact request bytes by ``benchmarks.ingest``'s
``make_replies`` (three clients' styles, spread over ``--people`` updaters; a person's later
replies are corrections). Then, for each process count, on a fresh copy of that database
(``CREATE DATABASE ... TEMPLATE``), it starts that many processes at once, each doing what one
``mailcapture serve`` does with mail: an intake thread stores its share of the replies
(``Pipeline.store_only``, as the SMTP listener does, one commit each, every ``--processes``-th
reply) and queues each id, while ``--workers`` processing threads take them from the queue in
batches of ``--batch`` (the service's own ``ProcessingWorker`` and ``WorkQueue``:
``Pipeline.process_batch``, one transaction and one commit per batch, ``synchronous_commit``
off). A process ends when its share is stored and processed.

The figure is the burst's wall time, from the moment every process is ready to the last
one's end, and its rate: replies stored and processed per second. Every reply must end
``applied``/``unconfirmed``/``rejected`` (processed) and none ``received`` or ``failed``.
The machine's load average (1 min) is printed before and after each run: the goal is a
ratio (two processes at >= 1.6 times one) on a machine that may be busy.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: import from the checkout, not benchmarks/
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import multiprocessing as mp
import os
import platform
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from benchmarks._common import DEFAULT_POSTGRES, log, rate, time_limit
from benchmarks._synthetic import build_database, cloned_database, generate, scratch_database
from benchmarks.ingest import INGEST_AT, PERIOD, TICK_AT, make_replies, shape_for
from mailcapture.clock import FixedClock
from mailcapture.db import models as m
from mailcapture.db.engine import make_engine, session_factory
from mailcapture.db.migrate import upgrade
from mailcapture.mailflow.pipeline import Pipeline
from mailcapture.mailflow.store import Envelope
from mailcapture.schedule.tick import tick
from mailcapture.service.runner import ProcessingWorker, WorkQueue

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADING = "## Burst through the service path (issue 14)"


@dataclass
class Run:
    processes: int
    wall_s: float
    load_before: float
    load_after: float
    states: Counter[str]

    @property
    def rate(self) -> float:
        return rate(sum(self.states.values()), self.wall_s)


def serve_share(
    url: str, replies: list[bytes], workers: int, batch: int, ready: Any, go: Any
) -> None:
    """One process: store its replies as the listener would, process them as serve does."""
    engine = make_engine(url, pool_size=workers + 2)
    sessions = session_factory(engine)
    pipeline = Pipeline(sessions, FixedClock(INGEST_AT))
    work = WorkQueue()
    stop = threading.Event()
    stored: list[int] = []
    intake_done = threading.Event()
    processing = [
        ProcessingWorker(f"pipeline-{n}", work, pipeline, batch=batch, engine=engine, stop=stop)
        for n in range(workers)
    ]

    def intake() -> None:
        for raw in replies:
            found = pipeline.store_only(raw, Envelope(source="smtp", source_ref="burst"))
            work.put(found.id)
            stored.append(found.id)
        intake_done.set()

    def all_done() -> bool:
        with sessions() as session:
            return not session.scalar(
                select(func.count())
                .select_from(m.InboundMessage)
                .where(m.InboundMessage.id.in_(stored), m.InboundMessage.state == "received")
            )

    def process(worker: ProcessingWorker) -> None:
        while not stop.is_set():
            worker.step()

    ready.wait()
    go.wait()
    threads = [threading.Thread(target=intake)] + [
        threading.Thread(target=process, args=(w,), daemon=True) for w in processing
    ]
    for thread in threads:
        thread.start()
    intake_done.wait()
    while len(work) or any(w.in_hand for w in processing) or not all_done():
        time.sleep(0.05)
    stop.set()
    work.close()
    for thread in threads:
        thread.join(timeout=30)
    engine.dispose()


def run_burst(url: str, replies: list[bytes], processes: int, args: argparse.Namespace) -> Run:
    ctx = mp.get_context("spawn")
    ready = ctx.Barrier(processes + 1)
    go = ctx.Barrier(processes + 1)
    children = [
        ctx.Process(
            target=serve_share,
            args=(url, replies[n::processes], args.workers, args.batch, ready, go),
        )
        for n in range(processes)
    ]
    for child in children:
        child.start()
    ready.wait()  # every process has imported everything and is waiting
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    go.wait()
    for child in children:
        child.join()
    wall = time.perf_counter() - start
    load_after = os.getloadavg()[0]
    if any(child.exitcode != 0 for child in children):
        raise RuntimeError(f"a process failed: {[c.exitcode for c in children]}")
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            states = Counter(
                {
                    f"{state.value}/{outcome}": count
                    for state, outcome, count in session.execute(
                        select(
                            m.InboundMessage.state, m.InboundMessage.outcome, func.count()
                        ).group_by(m.InboundMessage.state, m.InboundMessage.outcome)
                    )
                }
            )
    finally:
        engine.dispose()
    return Run(processes, wall, load_before, load_after, states)


def report(runs: list[Run], args: argparse.Namespace, build_s: float) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"{when}, {os.cpu_count()} CPUs, Python {platform.python_version()}, PostgreSQL, "
        f"`python -m benchmarks.burst --replies {args.replies} --people {args.people} "
        f"--components {args.components} --batch {args.batch} --workers {args.workers}` "
        f"(register built in {build_s:.0f} s).",
        "",
        "| processes | replies | wall s | replies/s | × one process | load 1 min before / after |",
        "| ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    one = next((r.rate for r in runs if r.processes == 1), None)
    for r in runs:
        ratio = f"{r.rate / one:.2f}" if one else "-"
        lines.append(
            f"| {r.processes} | {sum(r.states.values()):,} | {r.wall_s:.1f} | {r.rate:.1f} "
            f"| {ratio} | {r.load_before:.1f} / {r.load_after:.1f} |"
        )
    lines.append("")
    for r in runs:
        lines.append(
            f"- {r.processes} process(es), outcomes: "
            + ", ".join(f"{key} {count}" for key, count in r.states.most_common())
        )
    return "\n".join(lines) + "\n"


def write_results(section: str, label: str) -> None:
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
    block = f"### {label}\n\n{section}"
    if HEADING not in text:
        intro = (
            f"{HEADING}\n\nReplies stored and processed as `serve` does it, by one process "
            "and by two, on PostgreSQL (`benchmarks/burst.py`). Goal: two processes at "
            ">= 1.6 times the rate of one, and 20,000 replies in under 3 minutes.\n\n"
        )
        text = intro + block + "\n" + text
    else:
        head, _, rest = text.partition(HEADING)
        marker = f"### {label}\n"
        if marker in rest:
            before, _, after = rest.partition(marker)
            nxt = after.find("\n### ")
            nxt2 = after.find("\n## ")
            cut = min(x for x in (nxt, nxt2, len(after)) if x >= 0)
            rest = before + block + after[cut:]
        else:
            first = rest.find("\n### ")
            rest = rest[: first + 1] + block + "\n" + rest[first + 1 :] if first >= 0 else rest
        text = head + HEADING + rest
    RESULTS.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replies", type=int, default=20_000)
    parser.add_argument("--people", type=int, default=4_000)
    parser.add_argument("--components", type=int, default=20_000)
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument(
        "--postgres", default=os.environ.get("MAILCAPTURE_TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    )
    parser.add_argument("--label", default="latest run")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--time-limit", type=float, default=3 * 3600)
    args = parser.parse_args()
    counts = [int(n) for n in args.processes.split(",")]
    runs = []
    with time_limit(args.time_limit), scratch_database("postgresql", args.postgres) as url:
        upgrade(url)
        register = generate(shape_for(args.components))
        log(f"building a register of {register.components:,} components")
        start = time.perf_counter()
        build_database(url, register, TICK_AT, PERIOD)
        engine = make_engine(url)
        try:
            tick(session_factory(engine), TICK_AT)
        finally:
            engine.dispose()
        build_s = time.perf_counter() - start
        log(f"writing {args.replies:,} replies from {args.people:,} people")
        replies = make_replies(url, register, args.people, args.replies)
        del register
        for processes in counts:
            with cloned_database(url, args.postgres) as copy:
                log(f"{processes} process(es): {len(replies):,} replies")
                run = run_burst(copy, replies, processes, args)
                log(f"{processes} process(es): {run.wall_s:.1f} s, {run.rate:.1f}/s")
                runs.append(run)
    section = report(runs, args, build_s)
    print(section)
    if not args.no_write:
        write_results(section, args.label)


if __name__ == "__main__":
    main()
