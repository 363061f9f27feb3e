"""Benchmark (issue 12): hostile mail through ``Pipeline.ingest``, beside unmutated mail.

Run from the checkout::

    .venv/bin/python -m benchmarks.fuzz                       # 20,000 cases on SQLite
    .venv/bin/python -m benchmarks.fuzz --db both --label after
    .venv/bin/python -m benchmarks.fuzz --cases 500 --no-write  # a quick look

For each database kind it makes a throw-away database (removed afterwards), loads the sample
council's register, runs the ordinary ``tick`` for 1 May 2026 so the April requests are in
the outbox, and builds the seeds of ``tests/fuzz/mutate.py``: every corpus message and
replies in five clients' styles (plus an out-of-office and a bounce) to each real request.
Then ``--cases`` fuzz cases (seed plus one to four mutations, case ``i`` drawn from
``random.Random(f"{seed}:{i}")``, so a run is reproducible and a case can be rebuilt alone)
go through ``Pipeline.ingest`` one after the other, and after every tenth a *baseline* case:
an unmutated seed (with normal answers), so the baseline is measured in the same run, on the
same database, under the same load. The clock moves 20 s per message (from 5 May 2026 09:00
UTC), so the hourly and daily limits on automatic mail do not hide the confirmation stage.

It reports:

* **escapes**: exceptions out of ``Pipeline.ingest`` (the listener would answer 451), by type;
* **failed**: messages that ended ``failed`` (the pipeline's own error path), by the type of
  the exception it recorded;
* **outcomes**: every message's state and outcome;
* **CPU time per message** (``time.process_time`` around ``ingest``: this process only, not
  the PostgreSQL server's): p50, p95, p99 and max, for the fuzz cases and for the baseline;
* the slowest cases, with their seed and mutations.

``--save DIR`` writes each escaped or failed case's bytes there, for a test or a debugger.
Unless ``--no-write``, the figures go to ``benchmarks/RESULTS.md`` under "## Hostile mail fuzz
(issue 12)", as a subsection named by ``--label`` (a later run with the same label replaces
it; other labels are kept).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: import from the checkout, not benchmarks/
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import os
import platform
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from benchmarks._common import DEFAULT_POSTGRES, log, time_limit
from benchmarks._synthetic import scratch_database
from mailcapture.clock import FixedClock, as_utc
from mailcapture.db.engine import make_engine, session_factory
from mailcapture.db.migrate import upgrade
from mailcapture.mailflow.pipeline import Pipeline
from mailcapture.mailflow.store import Envelope
from mailcapture.register.loader import load_folder
from mailcapture.resources import sample_register
from mailcapture.schedule.tick import tick
from tests.fuzz.mutate import (
    Case,
    baseline_case,
    corpus_seeds,
    make_case,
    reply_seeds,
    sent_requests,
)

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADING = "## Hostile mail fuzz (issue 12)"
LOADED_AT = datetime(2026, 4, 20, 12, 0, tzinfo=UTC)
TICK_AT = as_utc(datetime(2026, 5, 1, 9, 0))
START = datetime(2026, 5, 5, 9, 0, tzinfo=UTC)
STEP = timedelta(seconds=20)
BASELINE_EVERY = 10


@dataclass
class Tally:
    """What one database's run found."""

    kind: str
    cases: int = 0
    escapes: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    cpu: list[float] = field(default_factory=list)
    baseline_cpu: list[float] = field(default_factory=list)
    baseline_outcomes: Counter[str] = field(default_factory=Counter)
    slowest: list[tuple[float, int, str, tuple[str, ...]]] = field(default_factory=list)
    examples: dict[str, str] = field(default_factory=dict)
    wall_s: float = 0.0


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0-100) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def run(kind: str, args: argparse.Namespace) -> Tally:
    tally = Tally(kind)
    with scratch_database(kind, args.postgres) as url:
        upgrade(url)
        engine = make_engine(url)
        try:
            sessions = session_factory(engine)
            log(f"{kind}: loading the sample register and sending April's requests")
            load_folder(sample_register(), sessions, LOADED_AT)
            tick(sessions, TICK_AT)
            seeds = corpus_seeds() + reply_seeds(sent_requests(sessions))
            clock = FixedClock(START)
            pipeline = Pipeline(sessions, clock)
            started = time.perf_counter()
            for i in range(args.cases):
                case = make_case(seeds, random.Random(f"{args.seed}:{i}"), i)
                ingest(pipeline, clock, case, i, tally, args, baseline=False)
                if i % BASELINE_EVERY == BASELINE_EVERY - 1:
                    number = args.cases + i
                    base = baseline_case(seeds, random.Random(f"{args.seed}:b{i}"), number)
                    ingest(pipeline, clock, base, number, tally, args, baseline=True)
                if (i + 1) % 1000 == 0:
                    log(
                        f"{kind}: {i + 1} cases, {sum(tally.escapes.values())} escapes, "
                        f"{sum(tally.failed.values())} failed"
                    )
            tally.wall_s = time.perf_counter() - started
        finally:
            engine.dispose()
    return tally


def ingest(
    pipeline: Pipeline,
    clock: FixedClock,
    case: Case,
    number: int,
    tally: Tally,
    args: argparse.Namespace,
    *,
    baseline: bool,
) -> None:
    clock.advance(STEP)
    label = f"case {number} ({case.seed}; {', '.join(case.mutations) or 'unmutated'})"
    cpu_start = time.process_time()
    try:
        result = pipeline.ingest(case.raw, Envelope(source="fuzz", source_ref=str(number)))
    except Exception as exc:
        cpu = time.process_time() - cpu_start
        key = type(exc).__name__
        tally.escapes[key] += 1
        tally.examples.setdefault(f"escape {key}", f"{label}: {str(exc)[:200]}")
        outcome = "escaped"
        save(args, "escape", number, case)
    else:
        cpu = time.process_time() - cpu_start
        outcome = f"{result.state}/{result.outcome}"
        if result.state == "failed":
            key = (result.detail or "").split(":", 1)[0] or "?"
            if not baseline:
                tally.failed[key] += 1
            tally.examples.setdefault(f"failed {key}", f"{label}: {(result.detail or '')[:200]}")
            save(args, "failed", number, case)
    if baseline:
        tally.baseline_cpu.append(cpu)
        tally.baseline_outcomes[outcome] += 1
        return
    tally.cases += 1
    tally.cpu.append(cpu)
    tally.outcomes[outcome] += 1
    tally.slowest.append((cpu, number, case.seed, case.mutations))
    tally.slowest = sorted(tally.slowest, reverse=True)[:5]


def save(args: argparse.Namespace, what: str, number: int, case: Case) -> None:
    if args.save is not None:
        args.save.mkdir(parents=True, exist_ok=True)
        (args.save / f"{what}-{number}.eml").write_bytes(case.raw)


def report(tallies: list[Tally], args: argparse.Namespace) -> str:
    lines = [
        f"### {args.label}",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, seed {args.seed}, "
        f"`python -m benchmarks.fuzz --cases {args.cases} --db {args.db}`. "
        f"Baseline: an unmutated seed after every {BASELINE_EVERY}th case, in the same run.",
        "",
        "| database | cases | escapes | failed | fuzz CPU ms p50 / p95 / p99 / max "
        "| baseline CPU ms p50 / p95 / p99 / max | wall s |",
        "| --- | ---: | ---: | ---: | --- | --- | ---: |",
    ]
    for t in tallies:
        lines.append(
            f"| {t.kind} | {t.cases} | {sum(t.escapes.values())} | {sum(t.failed.values())} | "
            + " / ".join(ms(percentile(t.cpu, p)) for p in (50, 95, 99, 100))
            + " | "
            + " / ".join(ms(percentile(t.baseline_cpu, p)) for p in (50, 95, 99, 100))
            + f" | {t.wall_s:.0f} |"
        )
    for t in tallies:
        lines += ["", f"{t.kind}:", ""]
        lines.append(f"- escapes by type: {_counts(t.escapes)}")
        lines.append(f"- failed by type: {_counts(t.failed)}")
        lines.append(f"- outcomes (state/outcome): {_counts(t.outcomes)}")
        lines.append(f"- baseline outcomes: {_counts(t.baseline_outcomes)}")
        slowest = "; ".join(
            f"{ms(cpu)} ms case {n} ({seed}: {', '.join(muts)})" for cpu, n, seed, muts in t.slowest
        )
        lines.append(f"- slowest: {slowest}")
        for key, example in sorted(t.examples.items()):
            lines.append(f"- first {key}: {example}")
    return "\n".join(lines) + "\n"


def _counts(counter: Counter[str]) -> str:
    if not counter:
        return "none"
    return ", ".join(f"{name} {count}" for name, count in counter.most_common())


def write_results(section: str, label: str) -> None:
    """Put ``section`` under :data:`HEADING`, replacing an earlier run with the same label."""
    text = RESULTS.read_text() if RESULTS.exists() else ""
    if HEADING not in text:
        intro = (
            f"{HEADING}\n\n`benchmarks/fuzz.py` (see its docstring): mutated messages from "
            "`tests/fuzz/mutate.py` through `Pipeline.ingest`, beside unmutated seeds.\n\n"
        )
        text = intro + text
    start = text.index(HEADING)
    end_match = re.compile(r"^## ", re.M).search(text, start + len(HEADING))
    end = end_match.start() if end_match else len(text)
    body = text[start:end]
    pattern = re.compile(rf"^### {re.escape(label)}\n.*?(?=^### |\Z)", re.M | re.S)
    body = (
        pattern.sub(lambda _m: section + "\n", body)
        if pattern.search(body)
        else (body.rstrip("\n") + "\n\n" + section + "\n")
    )
    RESULTS.write_text(text[:start] + body + text[end:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--seed", default="12")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument(
        "--postgres", default=os.environ.get("MAILCAPTURE_TEST_POSTGRES_URL", DEFAULT_POSTGRES)
    )
    parser.add_argument("--label", default="latest run")
    parser.add_argument("--save", type=Path, default=None)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--time-limit", type=float, default=4 * 3600)
    args = parser.parse_args()
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    with time_limit(args.time_limit):
        tallies = [run(kind, args) for kind in kinds]
    section = report(tallies, args)
    print(section)
    if not args.no_write:
        write_results(section, args.label)


if __name__ == "__main__":
    main()
