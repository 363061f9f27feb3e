"""Benchmark (issue 5): replies through the whole inbound pipeline, against bare inserts.

Run from the checkout::

    .venv/bin/python -m benchmarks.ingest              # 500 replies; 1,000 and 100,000 components
    .venv/bin/python -m benchmarks.ingest --quick      # 100 replies; 1,000 and 5,000; < 1 min

For each database kind (a throw-away SQLite file, a throw-away PostgreSQL database; both
removed afterwards) it builds two synthetic registers (``benchmarks/_synthetic.py``: the
sample council plus ``components / 5`` synthetic updaters with five components each), runs
the ordinary ``tick`` at 2026-05-01 09:00 Europe/London so that every updater has a real
April 2026 request in the outbox, and writes the replies from those exact request bytes
in three clients' styles (``mailcapture.demo.clients``: Android phone, Gmail top-posted
over the quoted form, Outlook typed into the quoted form), each answering all five lines
(every fourth reply only three, so that its confirmation lists the outstanding two).
Replies go to the same number of people (at most 200, spread over the register) in both
registers; a person's second and third replies are corrections.

Then, in one process, it measures:

1. **pipeline**: ``Pipeline.ingest(raw, Envelope(source="bench"))`` for every reply, one
   after the other: store raw (own transaction), decode, classify, match the token,
   authenticate, read the reply against everything we sent for the request, apply with
   history, queue the confirmation (render, MIME). Every reply must end ``applied``.
2. **baseline**: the same raw messages inserted alone, one transaction each, into the
   ``inbound_messages`` table of a fresh database of the same kind (migrated schema, all
   its indexes): a SQLAlchemy Core ``INSERT`` of exactly the columns ``store_raw`` writes,
   with the values (headers, hashes, de-duplication key) worked out beforehand.

The baseline and both registers' pipelines run interleaved in blocks of 25 messages, so a
change in the machine's load during the run affects all three alike; the figures are
messages per second over all blocks. Per-message cost at both register sizes shows
whether it stays flat as the register grows.
3. **profile**: the small register's replies again, on a copy of its database made before
   the timed run, under pyinstrument (1 ms, wall clock), split by pipeline stage, with the
   database's share of each stage and the number of SQL statements per message.

Everything is on loopback, and the run stops itself after ``--time-limit`` seconds (the
throw-away databases are still removed).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: import from the checkout, not benchmarks/
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import gc
import hashlib
import os
import platform
import re
import time
from collections import Counter, defaultdict
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, insert, select

from benchmarks._common import DATABASE_PATHS, DEFAULT_POSTGRES, log, rate, short_path, time_limit
from benchmarks._synthetic import (
    Shape,
    SyntheticRegister,
    build_database,
    cloned_database,
    generate,
    row_counts,
    scratch_database,
)
from mailcapture.clock import FixedClock
from mailcapture.db import models as m
from mailcapture.db.engine import make_engine, session_factory
from mailcapture.db.migrate import upgrade
from mailcapture.demo import clients
from mailcapture.domain.enums import InboundState
from mailcapture.domain.periods import parse_period
from mailcapture.mailflow.pipeline import Pipeline
from mailcapture.mailflow.sent import sent_text
from mailcapture.mailflow.store import Envelope, dedupe_key, header_facts
from mailcapture.parsing.classify import classify
from mailcapture.parsing.form import read_reply
from mailcapture.parsing.mime import decode_message
from mailcapture.parsing.quotes import split_reply
from mailcapture.schedule.tick import tick

#: 2026-05-01 09:00 Europe/London (BST): April 2026's requests go out.
TICK_AT = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
#: Replies arrive on Tuesday 5 May, before the due date.
INGEST_AT = datetime(2026, 5, 5, 9, 0, tzinfo=UTC)
PERIOD = parse_period("2026-04")
ENVELOPE = Envelope(source="bench")
BLOCK = 25
WARMUP = 5
MAX_PEOPLE = 200
STYLES = ("phone", "gmail", "outlook")


# ------------------------------------------------------------------------- utilities


# ------------------------------------------------------------------------- the workload


@dataclass
class Register:
    """One built database with its replies ready to send.

    The in-memory :class:`SyntheticRegister` (a few hundred thousand objects at 100,000
    components) is only needed to write the replies, so it is not kept for the timed run.
    """

    components: int
    url: str
    updaters: int = 0
    replies: list[bytes] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    build_s: float = 0.0
    tick_s: float = 0.0
    requests: int = 0


def shape_for(components: int) -> Shape:
    updaters = max(1, components // 5)
    return Shape(updaters=updaters, components_per=5, owners=max(10, min(200, updaters // 100)))


def people_for(reg: SyntheticRegister, count: int) -> list[int]:
    """``count`` updater indexes spread evenly over the register (first and last included)."""
    total = len(reg.indicators)
    count = min(count, total)
    if count == 1:
        return [0]
    return sorted({round(k * (total - 1) / (count - 1)) for k in range(count)})


def make_replies(url: str, reg: SyntheticRegister, people: int, total: int) -> list[bytes]:
    """``total`` replies from ``people`` updaters in turn, built from their real requests."""
    picks = people_for(reg, people)
    emails = {reg.updaters[reg.indicators[i].updater].email: i for i in picks}
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            requests = dict(
                session.execute(
                    select(m.Person.email, m.OutboxMessage.raw)
                    .join(m.Person, m.Person.id == m.OutboxMessage.person_id)
                    .where(m.OutboxMessage.kind == "request", m.Person.email.in_(list(emails)))
                ).all()
            )
    finally:
        engine.dispose()
    missing = set(emails) - set(requests)
    if missing:
        raise RuntimeError(f"no request was queued for {len(missing)} updater(s)")
    replies = []
    for j in range(total):
        index = picks[j % len(picks)]
        ind = reg.indicators[index]
        person = reg.updaters[ind.updater]
        sender = f"{person.name} <{person.email}>"
        request = requests[person.email]
        # Every fourth reply answers three lines of five: its confirmation lists the rest.
        answered = ind.components[:3] if j % 4 == 3 else ind.components
        # Figures near the component's last one (or last year's), within its range: the
        # plausibility check (issue 13) would hold one ten times off both as unconfirmed.
        answers = {
            c.code: str(min(c.high, (c.previous or c.last_year or 50) + (j + k) % 3))
            for k, c in enumerate(answered)
        }
        lines = "\n".join(f"{code}: {value}" for code, value in answers.items())
        style = STYLES[j % len(STYLES)]
        if style == "phone":
            raw = clients.phone(request, sender, lines)
        elif style == "gmail":
            raw = clients.gmail_top_posted(request, sender, f"Hi,\n\n{lines}\n\nThanks")
        else:
            try:
                raw = clients.outlook_in_place(request, sender, answers, top="Figures below.")
            except UnicodeEncodeError:  # a name windows-1252 cannot spell: iOS Mail instead
                raw = clients.iphone(request, sender, lines)
        replies.append(raw)
    return replies


def build(kind: str, components: int, url: str, args: argparse.Namespace) -> Register:
    reg = generate(shape_for(components))
    result = Register(reg.components, url, len(reg.indicators))
    log(f"{kind}: building a register of {reg.components:,} synthetic components")
    start = time.perf_counter()
    build_database(url, reg, TICK_AT, PERIOD)
    result.build_s = time.perf_counter() - start
    engine = make_engine(url)
    try:
        log(f"{kind}: tick for April 2026 ({len(reg.indicators):,} updaters)")
        start = time.perf_counter()
        report = tick(session_factory(engine), TICK_AT)
        result.tick_s = time.perf_counter() - start
        result.requests = report.requests
    finally:
        engine.dispose()
    result.rows = row_counts(url)
    result.replies = make_replies(url, reg, min(args.n, MAX_PEOPLE), args.n + WARMUP)
    return result


# ------------------------------------------------------------------------- the runs


class PipelineRun:
    """Feeds one register's replies through ``Pipeline.ingest``, a block at a time."""

    def __init__(self, register: Register) -> None:
        self.register = register
        self.engine = make_engine(register.url)
        self.pipeline = Pipeline(session_factory(self.engine), FixedClock(INGEST_AT))
        self.position = 0
        self.seconds = 0.0
        self.cpu = 0.0
        self.count = 0
        self.outcomes: Counter[str] = Counter()

    def warm_up(self, count: int) -> None:
        self.run(count, timed=False)

    def run(self, count: int, timed: bool = True) -> None:
        replies = self.register.replies[self.position : self.position + count]
        self.position += len(replies)
        clock, cpu = time.perf_counter, time.process_time
        start, cpu_start = clock(), cpu()
        results = [self.pipeline.ingest(raw, ENVELOPE) for raw in replies]
        spent, cpu_spent = clock() - start, cpu() - cpu_start
        if timed:
            self.seconds += spent
            self.cpu += cpu_spent
            self.count += len(replies)
        for result in results:
            self.outcomes[f"{result.state}/{result.outcome}"] += 1

    def close(self) -> None:
        self.engine.dispose()


def baseline_row(raw: bytes) -> dict[str, Any]:
    """The columns ``store_raw`` writes for a new message, worked out before timing."""
    message_id, sender, subject = header_facts(raw)
    return {
        "received_at": INGEST_AT,
        "source": ENVELOPE.source,
        "source_ref": ENVELOPE.source_ref,
        "envelope_from": ENVELOPE.mail_from,
        "envelope_to": None,
        "raw": raw,
        "size": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "dedupe_key": dedupe_key(raw, message_id, sender),
        "message_id": message_id,
        "sender": sender,
        "subject": subject,
        "state": InboundState.RECEIVED,
        "attempts": 0,
    }


class BaselineRun:
    """The same raw messages inserted alone, one transaction each (Core INSERT)."""

    def __init__(self, url: str, replies: list[bytes]) -> None:
        self.engine = make_engine(url)
        self.rows = [baseline_row(raw) for raw in replies]
        self.statement = insert(m.InboundMessage.__table__)
        self.position = 0
        self.seconds = 0.0
        self.cpu = 0.0
        self.count = 0

    def warm_up(self, count: int) -> None:
        self.run(count, timed=False)

    def run(self, count: int, timed: bool = True) -> None:
        rows = self.rows[self.position : self.position + count]
        self.position += len(rows)
        engine, statement = self.engine, self.statement
        clock, cpu = time.perf_counter, time.process_time
        start, cpu_start = clock(), cpu()
        for row in rows:
            with engine.begin() as connection:
                connection.execute(statement, row)
        spent, cpu_spent = clock() - start, cpu() - cpu_start
        if timed:
            self.seconds += spent
            self.cpu += cpu_spent
            self.count += len(rows)

    def close(self) -> None:
        self.engine.dispose()


# ------------------------------------------------------------------------- parsing floor

_TAG = re.compile(r"\[MC-([a-z0-9]+)\]")


@dataclass
class Floor:
    """CPU time per reply of the pipeline's pure functions alone, with no database."""

    messages: int = 0
    parts: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.parts.values())


def parse_floor(register: Register, count: int) -> Floor:
    """Decode, classify, read (against the request's text) and split each reply, no database.

    What every reply costs before any query: the pipeline cannot go faster than this.
    """
    engine = make_engine(register.url)
    try:
        with session_factory(engine)() as session:
            sent = dict(
                session.execute(
                    select(m.DataRequest.token, m.OutboxMessage.raw)
                    .join(m.OutboxMessage, m.OutboxMessage.request_id == m.DataRequest.id)
                    .where(m.OutboxMessage.kind == "request")
                ).all()
            )
            codes: dict[str, list[str]] = defaultdict(list)
            for token, code in session.execute(
                select(m.DataRequest.token, m.DataRequestItem.item_code).join(
                    m.DataRequestItem, m.DataRequestItem.request_id == m.DataRequest.id
                )
            ):
                codes[token].append(code)
            for token, code in session.execute(
                select(m.DataRequest.token, m.Indicator.code)
                .join(m.DataRequestItem, m.DataRequestItem.request_id == m.DataRequest.id)
                .join(m.Indicator, m.Indicator.id == m.DataRequestItem.indicator_id)
                .distinct()
            ):
                codes[token].append(code)
    finally:
        engine.dispose()
    parts = dict.fromkeys(
        ("decode + classify", "decode our request", "read_reply", "split_reply"), 0.0
    )
    cpu = time.process_time
    replies = register.replies[:count]
    for raw in replies:
        t0 = cpu()
        decoded = decode_message(raw)
        classify(decoded, raw, None)
        t1 = cpu()
        found = _TAG.search(decoded.subject)
        assert found is not None
        token = found.group(1)
        ours = sent_text(sent[token])
        t2 = cpu()
        read_reply(decoded.text, ours, codes[token])
        t3 = cpu()
        split_reply(decoded.text)
        t4 = cpu()
        for key, spent in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            parts[key] += spent
    return Floor(len(replies), parts)


# ------------------------------------------------------------------------- profiling

#: (function, file suffix, stage): the innermost match on a sample's stack names its stage.
_STAGES = (
    ("store_raw", f"mailflow{os.sep}store.py", "store raw message (1st transaction)"),
    ("_claim", f"mailflow{os.sep}pipeline.py", "claim the stored row"),
    ("mail_settings", f"register{os.sep}mail.py", "load mail settings"),
    ("decode_message", f"parsing{os.sep}mime.py", "decode the reply (MIME, charsets)"),
    ("sent_texts", f"mailflow{os.sep}data_replies.py", "what we sent: decode outbox rows"),
    ("classify", f"parsing{os.sep}classify.py", "classify"),
    ("find_request", f"mailflow{os.sep}data_replies.py", "match the request, with its rows"),
    ("_sender_person", f"mailflow{os.sep}stages.py", "find the sender"),
    ("_check_loop", f"mailflow{os.sep}stages.py", "loop check (answered mail, recent)"),
    ("may_answer", f"mailflow{os.sep}data_replies.py", "authenticate"),
    ("read_reply", f"parsing{os.sep}form.py", "read the reply (form lines)"),
    ("split_reply", f"parsing{os.sep}quotes.py", "split new text from quote"),
    ("apply", f"mailflow{os.sep}apply.py", "apply values with history"),
    ("commentary_needed", f"mailflow{os.sep}data_replies.py", "confirmation: commentary check"),
    ("outstanding_items", f"mailflow{os.sep}apply.py", "outstanding items"),
    ("queue_confirmation", f"mailflow{os.sep}replies.py", "confirmation: limits, view"),
    ("outstanding_form", f"mailflow{os.sep}replies.py", "confirmation: outstanding form"),
    ("render", f"compose{os.sep}render.py", "confirmation: render templates"),
    ("build_message", f"compose{os.sep}message.py", "confirmation: build MIME"),
    ("enqueue", f"outbox{os.sep}queue.py", "confirmation: outbox insert"),
    ("commit", f"orm{os.sep}session.py", "commit (flush of pending rows)"),
    ("__exit__", f"db{os.sep}engine.py", "commit (flush of pending rows)"),
)
OTHER = "the rest (pipeline bookkeeping)"

Stack = tuple[tuple[str, str], ...]


#: Stages that keep everything under them (decoding our own messages is not the reply's).
_WHOLE = {"what we sent: decode outbox rows"}


def stage_of(stack: Stack) -> str:
    """The innermost stage on the stack, unless an outer one keeps everything under it."""
    found = OTHER
    for function, path in stack:
        for name, suffix, stage in _STAGES:
            if function == name and path.endswith(suffix):
                if stage in _WHOLE:
                    return stage
                found = stage
    return found


def is_database(stack: Stack) -> bool:
    return any(part in path for _, path in stack for part in DATABASE_PATHS)


@dataclass
class Profile:
    messages: int
    total: float
    statements: int
    stages: list[tuple[str, float, float]]  # (stage, seconds, of which database)
    top: list[tuple[str, float]]


def profile_run(register: Register, url: str, count: int) -> Profile:
    from pyinstrument import Profiler

    engine = make_engine(url)
    statements = 0

    def counted(*_: Any) -> None:
        nonlocal statements
        statements += 1

    try:
        pipeline = Pipeline(session_factory(engine), FixedClock(INGEST_AT))
        replies = register.replies[:count]
        for raw in replies[:WARMUP]:
            pipeline.ingest(raw, ENVELOPE)
        measured = replies[WARMUP:]
        event.listen(engine, "before_cursor_execute", counted)
        profiler = Profiler(interval=0.001)
        profiler.start()
        try:
            for raw in measured:
                pipeline.ingest(raw, ENVELOPE)
        finally:
            session = profiler.stop()
            event.remove(engine, "before_cursor_execute", counted)
    finally:
        engine.dispose()
    samples: dict[Stack, float] = defaultdict(float)

    def walk(frame: Any, stack: Stack) -> None:
        here = stack if frame.is_synthetic else (*stack, (frame.function, frame.file_path or ""))
        own = frame.time - sum(child.time for child in frame.children)
        if own > 0:
            samples[here] += own
        for child in frame.children:
            walk(child, here)

    root = session.root_frame(trim_stem=False)
    walk(root, ())
    stages: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    leaves: dict[str, float] = defaultdict(float)
    for stack, seconds in samples.items():
        entry = stages[stage_of(stack)]
        entry[0] += seconds
        if is_database(stack):
            entry[1] += seconds
        if stack:
            function, path = stack[-1]
            leaves[f"{function} ({short_path(path)})"] += seconds
    return Profile(
        len(measured),
        root.time,
        statements,
        sorted(((k, v[0], v[1]) for k, v in stages.items()), key=lambda kv: -kv[1]),
        sorted(leaves.items(), key=lambda kv: -kv[1])[:8],
    )


# ------------------------------------------------------------------------- one database


@dataclass
class DbResult:
    database: str
    registers: list[Register] = field(default_factory=list)
    runs: list[PipelineRun] = field(default_factory=list)
    baseline: BaselineRun | None = None
    profile: Profile | None = None
    floor: Floor | None = None
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)


def run_database(kind: str, args: argparse.Namespace) -> DbResult:
    result = DbResult(kind)
    with ExitStack() as stack:
        urls = [stack.enter_context(scratch_database(kind, args.postgres_url)) for _ in args.sizes]
        result.registers = [
            build(kind, size, url, args) for size, url in zip(args.sizes, urls, strict=True)
        ]
        if args.profile:
            small = result.registers[0]
            with cloned_database(small.url, args.postgres_url) as copy:
                log(f"{kind}: profiling {args.profile_n} replies on a copy")
                result.profile = profile_run(small, copy, args.profile_n + WARMUP)
        baseline_url = stack.enter_context(scratch_database(kind, args.postgres_url))
        upgrade(baseline_url)
        result.baseline = BaselineRun(baseline_url, result.registers[0].replies)
        result.runs = [PipelineRun(r) for r in result.registers]
        try:
            runners: list[Any] = [result.baseline, *result.runs]
            for runner in runners:
                runner.warm_up(WARMUP)
            log(f"{kind}: {args.n} replies per register, interleaved with the baseline")
            gc.collect()
            result.load_before = os.getloadavg()
            done = 0
            while done < args.n:
                step = min(BLOCK, args.n - done)
                for runner in runners:
                    runner.run(step)
                done += step
            result.load_after = os.getloadavg()
        finally:
            for runner in (result.baseline, *result.runs):
                runner.close()
        for run in result.runs:
            bad = {k: v for k, v in run.outcomes.items() if k != "processed/applied"}
            if bad:
                raise RuntimeError(f"{kind}: not every reply was applied: {dict(bad)}")
        log(f"{kind}: the parsing floor (no database)")
        result.floor = parse_floor(result.registers[0], args.n + WARMUP)
    for register in result.registers:
        register.replies = []  # the next database's run need not carry them
    return result


# ------------------------------------------------------------------------- report


def print_report(results: list[DbResult], args: argparse.Namespace, wall: float) -> None:
    print()
    print(
        f"Machine: {os.cpu_count()} CPUs, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.system()} {platform.release()}"
    )
    people = min(args.n, MAX_PEOPLE)
    print(
        f"Replies: {args.n} per register from {people} updaters (styles: "
        f"{', '.join(STYLES)} in turn), five answers each, after {WARMUP} warm-up replies;"
        f" blocks of {BLOCK}, interleaved"
    )
    print(
        "Baseline: SQLAlchemy Core INSERT into inbound_messages of the columns store_raw "
        "writes (precomputed), one transaction per message, fresh migrated database"
    )
    print()
    header = (
        f"{'database':<11}{'components':>11}{'pipeline msg/s':>16}{'ms/msg':>8}{'cpu ms':>8}"
        f"{'baseline msg/s':>16}{'ms/msg':>8}{'cpu ms':>8}{'ratio':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        assert r.baseline is not None
        base = rate(r.baseline.count, r.baseline.seconds)
        base_cpu = r.baseline.cpu / r.baseline.count * 1000
        for run in r.runs:
            pipe = rate(run.count, run.seconds)
            print(
                f"{r.database:<11}{run.register.components:>11,}{pipe:>16.1f}"
                f"{1000 / pipe:>8.2f}{run.cpu / run.count * 1000:>8.2f}{base:>16.1f}"
                f"{1000 / base:>8.2f}{base_cpu:>8.2f}{pipe / base:>7.2f}"
            )
    print("(cpu ms: this process's CPU time per message; the database server's is not in it)")
    print()
    print("Flatness (per-message time, largest register / smallest):")
    for r in results:
        first, last = r.runs[0], r.runs[-1]
        a = first.seconds / first.count
        b = last.seconds / last.count
        print(
            f"  {r.database:<11}{a * 1000:.2f} ms at {first.register.components:,} -> "
            f"{b * 1000:.2f} ms at {last.register.components:,} components: x{b / a:.2f}"
        )
    print()
    print("Parsing floor: the pure functions alone, no database (CPU ms per reply):")
    for r in results:
        if r.floor is None or r.baseline is None:
            continue
        floor = r.floor
        parts = ", ".join(f"{k} {v / floor.messages * 1000:.2f}" for k, v in floor.parts.items())
        per = floor.total / floor.messages
        base = r.baseline.seconds / r.baseline.count
        print(
            f"  {r.database:<11}{per * 1000:.2f} ms ({parts}): at most {1 / per:.0f} msg/s, "
            f"{base / per:.2f} of the baseline's rate"
        )
    for r in results:
        if r.profile is not None:
            print_profile(r.database, r.profile)
    print()
    for r in results:
        for reg in r.registers:
            rows = ", ".join(f"{k} {v:,}" for k, v in reg.rows.items())
            print(
                f"{r.database} {reg.components:,}: built in {reg.build_s:.1f} s, tick "
                f"{reg.tick_s:.1f} s ({reg.requests:,} requests); {rows}"
            )
        loads = " -> ".join(
            " ".join(f"{x:.1f}" for x in load) for load in (r.load_before, r.load_after)
        )
        print(f"{r.database}: load average (1/5/15 min) before -> after the timed run: {loads}")
    print(f"Whole run: {wall:.0f} s")


def print_profile(database: str, profile: Profile) -> None:
    total = profile.total
    per = total / profile.messages * 1000
    print()
    print(
        f"Where the time goes on {database} (pyinstrument, 1 ms; {profile.messages} replies, "
        f"{per:.1f} ms/msg under the profiler; "
        f"{profile.statements / profile.messages:.1f} SQL statements per message):"
    )
    for stage, seconds, db in profile.stages:
        if seconds / total < 0.005:
            continue
        print(
            f"  {seconds / total * 100:5.1f}%  {seconds / profile.messages * 1000:6.2f} ms  "
            f"{stage}  (database {db / seconds * 100:.0f}%)"
        )
    top = "; ".join(f"{k} {t / total * 100:.1f}%" for k, t in profile.top)
    print(f"  top self time: {top}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.ingest", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--n", type=int, help="replies per register (500; 100 with --quick)")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--sizes",
        help="register sizes in components, comma-separated (1000,100000; 1000,5000 with --quick)",
    )
    parser.add_argument("--quick", action="store_true", help="a small run, well under a minute")
    parser.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        help="profile the small register's replies on a copy (default: on, off with --quick)",
    )
    parser.add_argument("--profile-n", type=int, help="replies profiled (200)")
    parser.add_argument("--time-limit", type=int, help="stop after this many seconds (3600)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("MAILCAPTURE_TEST_POSTGRES_URL", DEFAULT_POSTGRES),
        help="a server where a throw-away database may be created and dropped",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    args.n = args.n or (100 if quick else 500)
    sizes = args.sizes or ("1000,5000" if quick else "1000,100000")
    args.sizes = [int(size.replace("_", "")) for size in sizes.split(",")]
    args.profile = (not quick) if args.profile is None else args.profile
    args.profile_n = min(args.profile_n or 200, args.n)
    args.time_limit = args.time_limit or (90 if quick else 3_600)
    if min(args.n, args.time_limit, *args.sizes) < 5:
        parser.error("sizes (at least 5 components), --n and the time limit must be positive")
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    started = time.perf_counter()
    print(f"mailcapture ingest benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", flush=True)
    with time_limit(args.time_limit):
        results = [run_database(kind, args) for kind in kinds]
    print_report(results, args, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
