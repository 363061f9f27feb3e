"""Benchmark (issue 6): replies per second through the SMTP listener into the database.

Run from the checkout::

    .venv/bin/python -m benchmarks.listener               # 400 messages per case
    .venv/bin/python -m benchmarks.listener --quick       # 100 messages per case
    .venv/bin/python -m benchmarks.listener --db sqlite --connections 1,2,4,8

For each database (a throw-away SQLite file and a throw-away PostgreSQL database, both
removed afterwards) it builds a synthetic register (``benchmarks/_synthetic.py``: one
monthly indicator with five components per updater), runs the tick that sends April 2026's
requests, and builds one reply per updater in a phone's style
(:func:`mailcapture.demo.clients.phone`), answering every component of the request. Then,
with 1 and 4 client connections (threads, each with its own ``smtplib.SMTP`` connection,
reused for all its messages; a few warm-up messages each before the clock starts), it
measures, all in the same run and on loopback:

* **bare**: a bare aiosmtpd handler that only answers 250 (the ceiling of SMTP itself);
* **no-op store**: the real listener (:func:`start_listener`) with a store that does
  nothing: its recipient check and the hop to the executor thread;
* **store_only**: the real listener with ``Pipeline.store_only`` as the store: what a
  sending server waits for in production (the raw message committed, then 250);
* **ingest**: the listener with ``Pipeline.ingest`` as the store: store and process
  (classify, match, authenticate, parse, apply, queue the confirmation) before the 250,
  i.e. the rate at which the whole pipeline keeps up;
* **service**: wired as ``mailcapture serve`` wires it (``service/runner.py``):
  ``store_only`` answers the client, one worker thread runs ``Pipeline.process`` on the
  queued ids. Reported twice: the rate the clients are answered, and the rate the worker
  finishes processing (from the first message sent to the last one processed).

Each database case runs on a fresh copy of the same database (the same requests, the same
replies), so every case does the same work. Rates are messages / wall-clock seconds from
the first timed message to the last; latencies are per message as the client sees them
(``sendmail``); "in store" is the server-side time inside the store callable.

Clients run in the benchmark's own process by default, so they share the GIL (and the two
cores) with the server; ``--client-process`` runs the same client threads in a child
process instead, as a real sending server would be.

Everything is on loopback, and the run stops itself after ``--time-limit`` seconds.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: import from the checkout, not benchmarks/
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import multiprocessing
import os
import platform
import queue
import re
import smtplib
import sqlite3
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from benchmarks._common import DEFAULT_POSTGRES, TimeLimit, free_port, log, time_limit
from benchmarks._synthetic import (
    DOMAIN,
    Shape,
    build_database,
    cloned_database,
    generate,
    scratch_database,
)
from mailcapture.clock import FixedClock
from mailcapture.db import models as m
from mailcapture.db.engine import make_engine, session_factory, transaction
from mailcapture.demo import clients
from mailcapture.domain.periods import parse_period
from mailcapture.mailflow.pipeline import Pipeline
from mailcapture.mailflow.store import Envelope
from mailcapture.register.mail import mail_settings
from mailcapture.schedule.tick import tick
from mailcapture.transport.listener import DEFAULT_MAX_BYTES, ListenerConfig, start_listener

#: 2026-05-01 09:00 Europe/London (BST): April 2026's requests go out.
NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
#: The replies arrive a few days later, well before the deadline.
REPLY_AT = datetime(2026, 5, 5, 9, 0, tzinfo=UTC)
PERIOD = parse_period("2026-04")
WARMUP = 5  # messages per connection before the clock starts
DB_CASES = ("store_only", "ingest", "service")
CASES = ("bare", "no-op store", *DB_CASES)
FORM_LINE = re.compile(r"^\[([^\]\s]+\.\d+)\]", re.MULTILINE)


# ------------------------------------------------------------------------- utilities


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ------------------------------------------------------------------------- the clients

Message = tuple[str, str, bytes]  # (envelope sender, recipient, raw bytes)


@dataclass
class ClientPlan:
    port: int
    warmups: list[list[Message]]  # one list per connection
    batches: list[list[Message]]  # one list per connection, timed
    deadline: float  # time.time() after which no new message is sent


@dataclass
class ConnectionResult:
    start: float = 0.0  # time.time() of the first timed message
    end: float = 0.0  # time.time() after the last answer
    sent: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cut_short: bool = False


def run_clients(plan: ClientPlan, between: Callable[[], None]) -> list[ConnectionResult]:
    """One thread per connection: warm up, wait for ``between()``, then send the batch."""
    connections = len(plan.batches)
    warmed = threading.Barrier(connections + 1)
    go = threading.Event()
    results = [ConnectionResult() for _ in range(connections)]

    def send(client: smtplib.SMTP, message: Message) -> str | None:
        sender, rcpt, raw = message
        try:
            refused = client.sendmail(sender, [rcpt], raw)
        except smtplib.SMTPResponseException as exc:
            return f"{exc.smtp_code} {exc.smtp_error!r}"[:200]
        return f"refused {refused}" if refused else None

    def connection(index: int) -> None:
        result = results[index]
        try:
            with smtplib.SMTP("127.0.0.1", plan.port, timeout=120) as client:
                client.ehlo()
                for message in plan.warmups[index]:
                    error = send(client, message)
                    if error:
                        result.errors.append(f"warm-up: {error}")
                warmed.wait()
                go.wait()
                result.start = time.time()
                for message in plan.batches[index]:
                    if time.time() > plan.deadline:
                        result.cut_short = True
                        break
                    t0 = time.perf_counter()
                    error = send(client, message)
                    result.latencies.append(time.perf_counter() - t0)
                    if error:
                        result.errors.append(error)
                    else:
                        result.sent += 1
                result.end = time.time()
        except (OSError, smtplib.SMTPException, threading.BrokenBarrierError) as exc:
            result.errors.append(f"{type(exc).__name__}: {exc}"[:200])
            result.end = result.end or time.time()
            warmed.abort()

    threads = [
        threading.Thread(target=connection, args=(i,), name=f"client-{i}", daemon=True)
        for i in range(connections)
    ]
    for thread in threads:
        thread.start()
    try:
        warmed.wait()
        between()
    except threading.BrokenBarrierError:
        pass
    finally:
        go.set()
    for thread in threads:
        thread.join()
    return results


def _client_process(plan: ClientPlan, pipe: Any) -> None:
    """The same clients in a child process: 'ready' after warm-up, wait for 'go'."""

    def between() -> None:
        pipe.send("ready")
        pipe.recv()

    pipe.send(run_clients(plan, between))
    pipe.close()


def drive_clients(
    plan: ClientPlan, between: Callable[[], None], in_process: bool
) -> list[ConnectionResult]:
    if in_process:
        return run_clients(plan, between)
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_client_process, args=(plan, child), daemon=True)
    process.start()
    try:
        first = parent.recv()
        if first == "ready":
            between()
            parent.send("go")
            return list(parent.recv())
        return list(first)  # every connection failed before the warm-up ended
    finally:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()


# ------------------------------------------------------------------------- the servers


class BareHandler:
    """The ceiling: aiosmtpd accepts every recipient and answers 250 at once."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 2.0.0 OK"


class TimedStore:
    """Wraps a store callable to record the server-side time spent in it."""

    def __init__(self, store: Callable[..., object]) -> None:
        self.store = store
        self.times: list[float] = []
        self.lock = threading.Lock()

    def __call__(self, raw: bytes, mail_from: str | None, rcpt_tos: Any, peer: str) -> object:
        t0 = time.perf_counter()
        try:
            return self.store(raw, mail_from, rcpt_tos, peer)
        finally:
            elapsed = time.perf_counter() - t0
            with self.lock:
                self.times.append(elapsed)


class Worker:
    """The service's processing worker, reduced to what this benchmark measures: one thread
    taking ids in order, as ``Service.process_next`` does under its supervisor (without the
    supervisor's back-off and the sweep, which only matter when the database fails)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.work: queue.Queue[int | None] = queue.Queue()
        self.last_done = 0.0
        self.processed = 0
        self.thread = threading.Thread(target=self.run, name="pipeline", daemon=True)
        self.thread.start()

    def store(self, raw: bytes, mail_from: str | None, rcpt_tos: Any, peer: str) -> int:
        stored = self.pipeline.store_only(raw, envelope(mail_from, rcpt_tos, peer))
        if stored.duplicate_of is None:
            self.work.put(stored.id)
        return stored.id

    def run(self) -> None:
        while True:
            message_id = self.work.get()
            try:
                if message_id is None:
                    return
                self.pipeline.process(message_id)
                self.processed += 1
                self.last_done = time.time()
            finally:
                self.work.task_done()

    def drain(self, deadline: float) -> bool:
        """Wait until the queue is empty and the message in hand is done (or the deadline)."""
        while time.time() < deadline:
            if self.work.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False

    def stop(self) -> None:
        self.work.put(None)
        self.thread.join(timeout=60)


def envelope(mail_from: str | None, rcpt_tos: Any, peer: str) -> Envelope:
    return Envelope(source="smtp", source_ref=peer, mail_from=mail_from, rcpt_to=tuple(rcpt_tos))


# ------------------------------------------------------------------------- one case


@dataclass
class CaseResult:
    database: str
    case: str
    connections: int
    messages: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    store_times: list[float] = field(default_factory=list)
    processed_rate: float | None = None
    errors: list[str] = field(default_factory=list)
    cut_short: bool = False
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else float("nan")


def run_case(
    database: str,
    case: str,
    connections: int,
    messages: list[Message],
    accept: frozenset[str],
    template_url: str | None,
    args: argparse.Namespace,
    deadline: float,
) -> CaseResult:
    result = CaseResult(database, case, connections)
    warm = [messages[args.n + i * WARMUP : args.n + (i + 1) * WARMUP] for i in range(connections)]
    timed = [messages[i : args.n : connections] for i in range(connections)]
    port = free_port()
    plan = ClientPlan(port, warm, timed, deadline)
    if case == "bare":
        controller = Controller(
            BareHandler(),
            hostname="127.0.0.1",
            port=port,
            ready_timeout=10,
            data_size_limit=DEFAULT_MAX_BYTES,
            decode_data=False,
            enable_SMTPUTF8=True,
        )
        controller.start()
        try:
            connection_results = drive_clients(plan, lambda: None, not args.client_process)
        finally:
            controller.stop()
        collect(result, connection_results)
        return result
    config = ListenerConfig(host="127.0.0.1", port=port, accept_domains=accept)
    if case == "no-op store":
        timed_store = TimedStore(lambda raw, mail_from, rcpt_tos, peer: None)
        controller = start_listener(config, timed_store)
        try:
            connection_results = drive_clients(plan, lambda: None, not args.client_process)
        finally:
            controller.stop()
        collect(result, connection_results)
        result.store_times = timed_store.times[connections * WARMUP :]
        return result
    assert template_url is not None
    with cloned_database(template_url, args.postgres_url) as url:
        engine = make_engine(url)
        try:
            sessions = session_factory(engine)
            pipeline = Pipeline(sessions, FixedClock(REPLY_AT))
            worker: Worker | None = None
            between: Callable[[], None] = lambda: None  # noqa: E731
            if case == "store_only":
                store: Callable[..., object] = lambda raw, frm, rcpt, peer: pipeline.store_only(  # noqa: E731
                    raw, envelope(frm, rcpt, peer)
                )
            elif case == "ingest":
                store = lambda raw, frm, rcpt, peer: pipeline.ingest(  # noqa: E731
                    raw, envelope(frm, rcpt, peer)
                )
            else:
                worker = Worker(pipeline)
                store = worker.store
                between = lambda: worker.drain(deadline) and None  # noqa: E731
            timed_store = TimedStore(store)
            controller = start_listener(config, timed_store)
            try:
                connection_results = drive_clients(plan, between, not args.client_process)
            finally:
                controller.stop()
            collect(result, connection_results)
            result.store_times = timed_store.times[connections * WARMUP :]
            if case == "ingest":
                result.processed_rate = result.rate
            if worker is not None:
                processed_before = connections * WARMUP
                drained = worker.drain(deadline + 5)
                worker.stop()
                first = min((r.start for r in connection_results if r.start), default=0.0)
                done = worker.processed - processed_before
                if not drained:
                    result.cut_short = True
                if first and worker.last_done > first and done > 0:
                    result.processed_rate = done / (worker.last_done - first)
            result.outcomes = outcomes(sessions)
            expected = result.messages + connections * WARMUP
            stored = sum(result.outcomes.values())
            if stored != expected:
                result.errors.append(f"{stored} rows stored for {expected} messages answered 250")
        finally:
            engine.dispose()
    return result


def collect(result: CaseResult, connection_results: list[ConnectionResult]) -> None:
    starts = [r.start for r in connection_results if r.start]
    ends = [r.end for r in connection_results if r.end]
    result.messages = sum(r.sent for r in connection_results)
    result.seconds = (max(ends) - min(starts)) if starts and ends else 0.0
    for r in connection_results:
        result.latencies.extend(r.latencies)
        result.errors.extend(r.errors)
        result.cut_short = result.cut_short or r.cut_short


def outcomes(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        rows = session.execute(
            select(m.InboundMessage.state, m.InboundMessage.outcome, func.count()).group_by(
                m.InboundMessage.state, m.InboundMessage.outcome
            )
        ).all()
    return {
        f"{state.value if hasattr(state, 'value') else state}/{outcome or '-'}": n
        for state, outcome, n in rows
    }


# ------------------------------------------------------------------------- one database


def prepare(url: str, args: argparse.Namespace) -> tuple[list[Message], frozenset[str]]:
    """Build the register, send the requests, and write one reply per updater."""
    updaters = args.n + WARMUP * max(args.connections)
    reg = generate(
        Shape(updaters=updaters, components_per=5, owners=max(10, min(200, updaters // 10)))
    )
    build_database(url, reg, NOW, PERIOD)
    engine = make_engine(url)
    try:
        sessions = session_factory(engine)
        report = tick(sessions, NOW)
        with transaction(sessions) as session:
            accept = frozenset({mail_settings(session).reply_domain.lower()})
            rows = session.execute(
                select(m.OutboxMessage.raw, m.Person.email, m.Person.name)
                .join(m.Person, m.OutboxMessage.person_id == m.Person.id)
                .where(m.OutboxMessage.kind == "request", m.Person.email.like(f"%@{DOMAIN}"))
                .order_by(m.OutboxMessage.id)
            ).all()
    finally:
        engine.dispose()
    if len(rows) < updaters:
        raise RuntimeError(f"the tick queued {report.total} requests, {len(rows)} for updaters")
    messages: list[Message] = []
    for i, (request_raw, email_address, name) in enumerate(rows[:updaters]):
        form = clients.plain_text(clients.parsed(request_raw))
        answers = "\n".join(
            f"{code}: {10 + (i + j) % 80}" for j, code in enumerate(FORM_LINE.findall(form))
        )
        reply = clients.phone(request_raw, f"{name} <{email_address}>", answers)
        messages.append((email_address, str(clients.parsed(reply)["To"]), reply))
    return messages, accept


def server_version(url: str) -> str:
    """The database and the settings that decide what a commit costs."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            if make_url(url).get_backend_name() == "sqlite":
                sync = connection.exec_driver_sql("PRAGMA synchronous").scalar()
                names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
                return (
                    f"SQLite {sqlite3.sqlite_version}, WAL, synchronous={names.get(sync, sync)}, "
                    "BEGIN IMMEDIATE (one writer at a time)"
                )
            show = {
                name: connection.execute(text(f"SHOW {name}")).scalar()
                for name in ("server_version", "fsync", "synchronous_commit")
            }
            return (
                f"PostgreSQL {show['server_version']}, fsync={show['fsync']}, "
                f"synchronous_commit={show['synchronous_commit']}"
            )
    finally:
        engine.dispose()


def run_database(
    kind: str, args: argparse.Namespace, deadline: float
) -> tuple[str, list[CaseResult]]:
    results: list[CaseResult] = []
    with scratch_database(kind, args.postgres_url) as url:
        started = time.perf_counter()
        log(f"{kind}: building the register, the requests and the replies")
        messages, accept = prepare(url, args)
        label = server_version(url)
        log(f"{kind}: ready in {time.perf_counter() - started:.1f} s; {label}")
        label += f"; load average at the start {os.getloadavg()[0]:.2f}"
        for connections in args.connections:
            for case in CASES:
                if time.time() > deadline:
                    log(f"{kind}: time limit reached, skipping {case} x{connections}")
                    continue
                log(f"{kind}: {case}, {connections} connection(s), {args.n} messages")
                # The cases without a database take well under a second, so a moment of
                # load elsewhere moves them a lot: take the best of a few runs.
                repeats = 1 if case in DB_CASES else args.baseline_repeats
                result = max(
                    (
                        run_case(kind, case, connections, messages, accept, url, args, deadline)
                        for _ in range(repeats)
                    ),
                    key=lambda r: r.rate if r.rate == r.rate else -1.0,
                )
                results.append(result)
                note = f"{result.rate:.1f} msg/s"
                if result.processed_rate is not None:
                    note += f", processed {result.processed_rate:.1f}/s"
                if result.errors:
                    note += f", {len(result.errors)} error(s): {result.errors[0]}"
                log(f"{kind}: {case} x{connections}: {note}")
    return label, results


# ------------------------------------------------------------------------- report


def print_report(
    sections: list[tuple[str, str, list[CaseResult]]], args: argparse.Namespace, took: float
) -> None:
    print()
    print(
        f"messages per case: {args.n} (+{WARMUP} warm-up per connection, not timed); "
        f"bare and no-op store: best of {args.baseline_repeats} runs"
    )
    print(
        "clients: "
        + ("a child process" if args.client_process else "threads in this process")
        + "; one smtplib connection per thread, reused"
    )
    for kind, label, results in sections:
        print()
        print(f"{kind}: {label}")
        header = (
            f"  {'case':<12} {'conns':>5} {'msgs/s':>8} {'x bare':>7} {'p50 ms':>7} "
            f"{'p95 ms':>7} {'store ms':>8} {'processed/s':>11}"
        )
        print(header)
        print("  " + "-" * (len(header) - 2))
        bare = {r.connections: r.rate for r in results if r.case == "bare"}
        for r in results:
            ratio = r.rate / bare[r.connections] if bare.get(r.connections) else float("nan")
            store_ms = (
                f"{statistics.median(r.store_times) * 1000:8.2f}" if r.store_times else "       -"
            )
            processed = f"{r.processed_rate:11.1f}" if r.processed_rate is not None else ""
            flag = " (cut short)" if r.cut_short else ""
            print(
                f"  {r.case:<12} {r.connections:>5} {r.rate:8.1f} {ratio:7.3f} "
                f"{percentile(r.latencies, 0.5) * 1000:7.2f} "
                f"{percentile(r.latencies, 0.95) * 1000:7.2f} {store_ms} {processed}{flag}"
            )
        for r in results:
            if r.errors:
                print(f"  ! {r.case} x{r.connections}: {len(r.errors)} error(s): {r.errors[0]}")
        for r in results:
            if r.outcomes:
                rows = ", ".join(f"{k} {v}" for k, v in sorted(r.outcomes.items()))
                print(f"  rows after {r.case} x{r.connections} (state/outcome): {rows}")
    print()
    print(f"load average now {' '.join(f'{x:.2f}' for x in os.getloadavg())}; total {took:.0f} s")


def machine() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            names = [line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line]
        model = names[0] if names else platform.processor()
    except OSError:
        model = platform.processor()
    return (
        f"{os.cpu_count()} CPUs ({model}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, aiosmtpd {version('aiosmtpd')}, "
        f"SQLAlchemy {version('sqlalchemy')}, psycopg {version('psycopg')}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.listener", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("-n", type=int, help="timed messages per case (400; 100 with --quick)")
    parser.add_argument(
        "--connections", default="1,4", help="client connection counts, comma-separated (1,4)"
    )
    parser.add_argument("--quick", action="store_true", help="100 messages per case")
    parser.add_argument(
        "--client-process",
        action="store_true",
        help="run the client threads in a child process (not sharing the server's GIL)",
    )
    parser.add_argument(
        "--baseline-repeats",
        type=int,
        default=3,
        help="runs of the bare and no-op cases; the best counts (3)",
    )
    parser.add_argument("--time-limit", type=int, help="stop after this many seconds (900)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("MAILCAPTURE_TEST_POSTGRES_URL", DEFAULT_POSTGRES),
        help="a server where a throw-away database may be created and dropped",
    )
    args = parser.parse_args(argv)
    args.n = args.n or (100 if args.quick else 400)
    args.time_limit = args.time_limit or (300 if args.quick else 900)
    try:
        args.connections = [int(c) for c in args.connections.split(",") if c.strip()]
    except ValueError:
        parser.error("--connections takes numbers, e.g. 1,4")
    if (
        not args.connections
        or min([args.n, args.time_limit, args.baseline_repeats, *args.connections]) < 1
    ):
        parser.error("sizes, repeats, connections and the time limit must be positive")
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    started = time.perf_counter()
    print(f"mailcapture listener benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", flush=True)
    print(machine())
    print(
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
        f"executor default threads min(32, cpus + 4) = {min(32, (os.cpu_count() or 1) + 4)}"
    )
    deadline = time.time() + args.time_limit
    sections: list[tuple[str, str, list[CaseResult]]] = []
    try:
        with time_limit(args.time_limit + 120):
            for kind in kinds:
                label, results = run_database(kind, args, deadline)
                sections.append((kind, label, results))
    except TimeLimit as exc:
        print(f"mailcapture: error: {exc}", file=sys.stderr)
        print_report(sections, args, time.perf_counter() - started)
        return 1
    print_report(sections, args, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
