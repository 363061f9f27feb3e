"""Benchmark (issue 4): queueing a period's requests with one tick, and delivering them.

Run from the checkout::

    .venv/bin/python -m benchmarks.requests            # 20,000 updaters x 5 components
    .venv/bin/python -m benchmarks.requests --quick    # 500 updaters, no profile
    .venv/bin/python -m benchmarks.requests --workbook-only   # the request's .xlsx alone

For each database (a throw-away SQLite file and a throw-away PostgreSQL database, both
removed afterwards) it builds a synthetic register (``benchmarks/_synthetic.py``) and
measures, in the same process:

1. **tick**: one ``tick(sessions, now)`` at the moment a monthly period's requests go out
   (2026-05-01 09:00 Europe/London, April 2026's requests), which queues every request.
2. **baseline**: the same views, workbooks, templates and MIME bytes for the same people
   with no database at all (built as ``queue_email`` builds them: the workbook attachment,
   the view naming it, ``render("request", view)`` and ``build_message`` called directly).
   Tick-rate / baseline-rate says how much of the tick is composing the emails. A few of
   the tick's emails are checked to have exactly the baseline's text and workbook ("views
   ok"), and ``build_message`` is timed against the ``EmailMessage`` construction it
   replaced, on a sample that must give identical bytes (boundaries aside).
3. **profile**: the same tick again on a copy of the database, under a low-overhead
   sampling profiler (see :class:`SignalSampler`; ``--profiler pyinstrument`` for
   pyinstrument), split into database / rendering / MIME building / the rest.
4. **SMTP**: ``send_due`` delivering N queued rows to a local aiosmtpd sink, beside a bare
   ``smtplib`` loop sending the same bytes over one connection to the same sink.

Everything is on loopback, and the run stops itself after ``--time-limit`` seconds.

``--workbook-only`` measures just the spreadsheet form every request carries
(:func:`~mailcapture.compose.workbook.request_workbook`), no database: ``--updaters`` forms
(500 with ``--quick``) for the synthetic register's requests, figures included as the tick
gives them, built by the module and, when the checkout's tests are importable, by the openpyxl
builder it replaced (``tests/compose/workbook_reference.py``), in alternating rounds; the
bytes must be the same.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file: import from the checkout, not benchmarks/
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import email
import gc
import os
import platform
import re
import signal
import smtplib
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from benchmarks._common import (
    DATABASE_PATHS,
    DEFAULT_POSTGRES,
    TimeLimit,
    free_port,
    log,
    rate,
    short_path,
    time_limit,
)
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
from mailcapture.compose import message as compose_message
from mailcapture.compose import render as render_module
from mailcapture.compose import views
from mailcapture.compose.message import (
    Attachment,
    Envelope,
    InlineImage,
    build_message,
    make_message_id,
)
from mailcapture.compose.render import Rendered, environment, render
from mailcapture.compose.textfmt import reflow
from mailcapture.compose.workbook import form_attachments
from mailcapture.db import models as m
from mailcapture.db.engine import make_engine, session_factory, transaction
from mailcapture.domain.enums import Frequency
from mailcapture.domain.figures import format_figure, format_range
from mailcapture.domain.periods import Period, parse_period
from mailcapture.outbox.notices import council, when_text
from mailcapture.outbox.service import send_due
from mailcapture.register.mail import mail_settings, reply_address
from mailcapture.register.model import MailSpec
from mailcapture.schedule.tick import new_token, tick
from mailcapture.schedule.timetable import load_timetable
from mailcapture.transport.outbound import SmtpSender, SmtpSettings

#: 2026-05-01 09:00 Europe/London (BST): April 2026's requests go out.
NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
PERIOD = parse_period("2026-04")


# ------------------------------------------------------------------------- utilities


@dataclass
class DbResult:
    database: str
    rows: dict[str, int] = field(default_factory=dict)
    build_s: float = 0.0
    tick_s: float = 0.0
    tick_messages: int = 0
    tick_bytes: int = 0
    baseline_s: float = 0.0
    baseline_messages: int = 0
    baseline_bytes: int = 0
    baseline_parts: dict[str, float] = field(default_factory=dict)
    compose_sample: int = 0
    compose_best: dict[str, float] = field(default_factory=dict)
    render_identical: int = 0
    mime_identical: int = 0
    ab: dict[str, list[float]] = field(default_factory=dict)
    ab_messages: int = 0
    views_match: str = ""
    tick_profile: Profile | None = None
    smtp_n: int = 0
    send_due_s: float = 0.0
    bare_s: float = 0.0
    sink_received: int = 0
    send_profile: Profile | None = None
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def tick_rate(self) -> float:
        return rate(self.tick_messages, self.tick_s)

    @property
    def baseline_rate(self) -> float:
        return rate(self.baseline_messages, self.baseline_s)


# ------------------------------------------------------------------------- baseline


@dataclass(frozen=True)
class Setting:
    """What the tick reads from the database once, read once here too (outside timing)."""

    mail: MailSpec
    due_text: str
    area_names: tuple[str, ...]


def read_setting(url: str, reg: SyntheticRegister, period: Period) -> Setting:
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as session:
            mail = mail_settings(session)
            dates = load_timetable(session).dates(Frequency.MONTHLY, period)
    finally:
        engine.dispose()
    return Setting(mail, when_text(dates.due_at), tuple(name for _, name, _ in reg.areas))


def request_view(
    reg: SyntheticRegister, index: int, setting: Setting, period: Period, token: str
) -> views.RequestView:
    """Updater ``index``'s request, built as the tick builds it but from memory: its
    figures as numbers too (``forms.context``), for the workbook."""
    ind = reg.indicators[index]
    person = reg.updaters[ind.updater]
    group = setting.area_names[ind.service_area]
    target = format_figure(ind.target, ind.unit, ind.decimals)
    items = tuple(
        views.FormItem(
            code=c.code,
            title=c.title,
            kind="value",
            unit=c.unit,
            indicator_code=ind.code,
            indicator_title=ind.title,
            group=group,
            last_period=format_figure(c.previous, c.unit),
            same_period_last_year=format_figure(c.last_year, c.unit),
            target=target,
            allowed=format_range(c.low, c.high, c.unit),
            outstanding=True,
            figures=views.ItemFigures(
                last_period=c.previous,
                same_period_last_year=c.last_year,
                target=ind.target,
                target_unit=ind.unit,
                target_decimals=ind.decimals,
                low=c.low,
                high=c.high,
            ),
        )
        for c in sorted(ind.components, key=lambda c: c.code)
    )
    return views.RequestView(
        council=council(setting.mail),
        recipient=views.Person(name=person.name, email=person.email),
        period_code=period.code,
        period_label=period.label,
        token=token,
        due=setting.due_text,
        items=items,
    )


def request_email(
    reg: SyntheticRegister, index: int, setting: Setting, period: Period, token: str
) -> tuple[views.RequestView, tuple[Attachment, ...]]:
    """The view and attachments ``queue_email`` makes for updater ``index``'s request: the
    workbook, when the register attaches one, and the view naming it (its words say the
    form is attached)."""
    view = request_view(reg, index, setting, period, token)
    attachments = form_attachments("request", view) if setting.mail.request_workbook else ()
    if attachments:
        view = replace(view, workbook=attachments[0].filename)
    return view, attachments


def envelope_for(view: views.RequestView, mail: MailSpec) -> Envelope:
    """The envelope ``queue_email`` makes for a request."""
    return Envelope(
        from_header=mail.from_address,
        to=view.recipient.email,
        to_name=view.recipient.name,
        reply_to=reply_address(mail, view.token),
        message_id=make_message_id(mail.reply_domain),
        in_reply_to=None,
        references=(),
    )


@contextmanager
def old_compose() -> Iterator[None]:
    """The compose layer as it was before the speed-ups, for before/after figures.

    ``build_message`` builds with ``EmailMessage`` again (its checks unchanged) and the
    templates' ``reflow`` filter is the plain, uncached one.
    """
    env = environment()
    saved = getattr(compose_message, "_build_direct", None), env.filters["reflow"]
    reference = getattr(compose_message, "_build_with_email_package", None)
    if saved[0] is not None and reference is not None:

        def with_email_package(
            envelope: Envelope,
            rendered: Rendered,
            now: datetime,
            images: Sequence[InlineImage] = (),
            attachments: Sequence[Attachment] = (),
        ) -> bytes:
            return bytes(reference(envelope, rendered, now, images, attachments))

        compose_message._build_direct = with_email_package
    env.filters["reflow"] = reflow
    try:
        yield
    finally:
        if saved[0] is not None:
            compose_message._build_direct = saved[0]
        env.filters["reflow"] = saved[1]


def run_baseline(reg: SyntheticRegister, setting: Setting, result: DbResult, sample: int) -> None:
    """Views and workbooks, render and MIME for every updater, no database; then
    before/after on a sample."""
    clock = time.perf_counter
    spent = {"views": 0.0, "render": 0.0, "mime": 0.0}
    size = 0
    kept: list[Kept] = []
    gc.collect()
    start = clock()
    for index in range(len(reg.indicators)):
        t0 = clock()
        view, attachments = request_email(reg, index, setting, PERIOD, new_token())
        t1 = clock()
        rendered = render("request", view)
        t2 = clock()
        envelope = envelope_for(view, setting.mail)
        raw = build_message(envelope, rendered, NOW, attachments=attachments)
        t3 = clock()
        spent["views"] += t1 - t0
        spent["render"] += t2 - t1
        spent["mime"] += t3 - t2
        size += len(raw)
        if len(kept) < sample:
            kept.append((view, envelope, attachments))
    result.baseline_s = clock() - start
    result.baseline_messages = len(reg.indicators)
    result.baseline_bytes = size
    result.baseline_parts = spent
    compare_compose(kept, result)


#: A request as the baseline builds it: its view, envelope and attachments.
Kept = tuple[views.RequestView, Envelope, tuple[Attachment, ...]]


def compare_compose(kept: list[Kept], result: DbResult) -> None:
    """Render and build the same messages with the old and the new compose code.

    Three alternating rounds, the fastest of each kept (the machine may be shared); the
    texts must be equal and the bytes identical but for the random MIME boundaries (two
    with an attachment: the multipart/mixed's and the alternative's inside it).
    """
    boundary = re.compile(rb'boundary="([^"]+)"')

    def normal(raw: bytes) -> bytes:
        for rank, found in enumerate(dict.fromkeys(boundary.findall(raw))):
            raw = raw.replace(found, b"BOUNDARY-%d" % rank)
        return raw

    def timed(work: Callable[[], list[Any]]) -> tuple[float, list[Any]]:
        start = time.perf_counter()
        out = work()
        return time.perf_counter() - start, out

    best: dict[str, float] = defaultdict(lambda: float("inf"))
    out: dict[str, list[Any]] = {}
    # The new render remembers reflowed prose: forget it before each round, or the later
    # rounds would find every message's prose remembered, which no tick does.
    forget = getattr(getattr(render_module, "_reflow_text", None), "cache_clear", lambda: None)
    for _ in range(3):
        for variant in ("new", "old"):
            forget()
            with old_compose() if variant == "old" else _nothing():
                took, texts = timed(lambda: [render("request", v) for v, _, _ in kept])
                best[f"render {variant}"] = min(best[f"render {variant}"], took)
                out[f"render {variant}"] = texts
                took, raws = timed(
                    lambda texts=texts: [
                        build_message(e, r, NOW, attachments=a)
                        for (_, e, a), r in zip(kept, texts, strict=True)
                    ]
                )
                best[f"mime {variant}"] = min(best[f"mime {variant}"], took)
                out[f"mime {variant}"] = [normal(raw) for raw in raws]
    result.compose_sample = len(kept)
    result.compose_best = dict(best)
    result.render_identical = sum(
        a == b for a, b in zip(out["render new"], out["render old"], strict=True)
    )
    result.mime_identical = sum(
        a == b for a, b in zip(out["mime new"], out["mime old"], strict=True)
    )


def check_views_match(url: str, reg: SyntheticRegister, setting: Setting) -> str:
    """Do the baseline's views give the text and the workbook the tick queued? Compared
    for a few people."""
    last = len(reg.indicators) - 1
    picks = sorted({0, 1, last // 3, last // 2, last})
    engine = make_engine(url)
    same = 0
    try:
        with session_factory(engine)() as session:
            for index in picks:
                person = reg.updaters[reg.indicators[index].updater]
                row = session.execute(
                    select(m.DataRequest.token, m.OutboxMessage.raw)
                    .join(m.Person, m.Person.id == m.DataRequest.person_id)
                    .join(m.OutboxMessage, m.OutboxMessage.request_id == m.DataRequest.id)
                    .where(m.Person.email == person.email)
                ).one()
                parsed = email.message_from_bytes(row.raw)
                plain = next(p for p in parsed.walk() if p.get_content_type() == "text/plain")
                sent = plain.get_payload(decode=True).decode("utf-8").replace("\r\n", "\n")
                sent_files = [
                    (p.get_filename(), p.get_payload(decode=True))
                    for p in parsed.walk()
                    if p.get_content_disposition() == "attachment"
                ]
                view, attachments = request_email(reg, index, setting, PERIOD, row.token)
                ours = render("request", view)
                files = [(a.filename, a.data) for a in attachments]
                same += sent == ours.text and sent_files == files
    finally:
        engine.dispose()
    return f"{same}/{len(picks)}"


# ------------------------------------------------------------------------- profiling

Stack = tuple[tuple[str, str], ...]  # (function, file), outermost first


class SignalSampler:
    """A wall-clock sampling profiler: SIGALRM every ``interval``, the main thread's stack.

    Why not pyinstrument or cProfile: both hook every Python call, which doubled the tick's
    run time here (pyinstrument at 1 ms: x2.1; at 10 ms with its timing thread: x1.8) and
    inflates call-heavy code (templates) against the database. A timer signal costs nothing
    between samples: the handler runs in the main thread at the next bytecode, so time in
    a C call (sqlite3 executing a statement) goes to the Python frame that made it, and
    time waiting on a socket (psycopg, smtplib) to the frame waiting. Each sample is
    weighted by the wall time since the previous one. Main thread only.
    """

    name = "signal sampler (SIGALRM every 5 ms, wall clock)"

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.samples: dict[Stack, float] = defaultdict(float)
        self.total = 0.0

    def _sample(self, signum: int, frame: Any) -> None:
        now = time.perf_counter()
        stack = []
        while frame is not None:
            stack.append((frame.f_code.co_name, frame.f_code.co_filename))
            frame = frame.f_back
        stack.reverse()
        self.samples[tuple(stack[:-1])] += now - self._last  # less this handler's frame
        self._last = now

    def __enter__(self) -> SignalSampler:
        self._previous = signal.signal(signal.SIGALRM, self._sample)
        self._started = self._last = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, self.interval, self.interval)
        return self

    def __exit__(self, *exc_info: object) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, self._previous)
        self.total = time.perf_counter() - self._started


def pyinstrument_samples(work: Callable[[], object]) -> tuple[str, dict[Stack, float], float]:
    """The same samples from pyinstrument (``--profiler pyinstrument``), for comparison."""
    from importlib.metadata import version

    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001)
    profiler.start()
    try:
        work()
    finally:
        session = profiler.stop()
    samples: dict[Stack, float] = defaultdict(float)

    def walk(frame: Any, stack: Stack) -> None:
        here = stack if frame.is_synthetic else (*stack, (frame.function, frame.file_path or ""))
        if not frame.children:
            samples[here] += frame.time
        for child in frame.children:
            walk(child, here)

    root = session.root_frame(trim_stem=False)
    walk(root, ())
    return f"pyinstrument {version('pyinstrument')} (1 ms)", samples, root.time


#: Entry points that decide a sample's category, looked for from the outermost frame in.
_MARKERS = (
    ("render", f"compose{os.sep}render.py", "rendering (jinja templates, form lines)"),
    ("build_message", f"compose{os.sep}message.py", "MIME building (build_message)"),
    ("send", f"transport{os.sep}outbound.py", "SMTP (SmtpSender.send, smtplib, socket)"),
)
DATABASE = "database (SQLAlchemy, driver, server)"


def category(stack: Stack) -> str:
    """Where a sample's time goes."""
    for function, path in stack:
        for marker, suffix, name in _MARKERS:
            if function == marker and path.endswith(suffix):
                return name
        if any(part in path for part in DATABASE_PATHS):
            return DATABASE
    return "the rest: tick logic, views, tokens (Python)"


class DbApiTimer:
    """Wall time inside the DB-API calls of one engine: the driver's and the server's part.

    The sampler cannot tell SQLAlchemy's Python from sqlite3's C (a signal is handled only
    once the C call returns), so the dialect's execute and commit calls are timed too.
    """

    _CALLS = ("do_execute", "do_executemany", "do_execute_no_params", "do_commit", "do_rollback")

    def __init__(self, engine: Any) -> None:
        self.dialect = engine.dialect
        self.seconds = 0.0
        self.calls = 0

    def _timed(self, call: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
                self.calls += 1

        return timed

    def __enter__(self) -> DbApiTimer:
        for name in self._CALLS:
            setattr(self.dialect, name, self._timed(getattr(self.dialect, name)))
        return self

    def __exit__(self, *exc_info: object) -> None:
        for name in self._CALLS:
            delattr(self.dialect, name)  # the class's method shows through again


_INCLUSIVE = (
    ("due_by_person", "due.py"),
    ("__init__", "context.py"),
    ("queue_request", "tick.py"),
    ("queue_email", "notices.py"),
    ("render", "render.py"),
    ("build_message", "message.py"),
    ("enqueue", "queue.py"),
    ("flush", f"orm{os.sep}session.py"),
    ("commit", f"orm{os.sep}session.py"),
    ("send", "outbound.py"),
    ("claim_due", "queue.py"),
)


@dataclass
class Profile:
    tool: str
    total: float
    categories: list[tuple[str, float]]
    top: list[tuple[str, float]]
    inclusive: list[tuple[str, float]]
    dbapi_seconds: float = 0.0
    dbapi_calls: int = 0


def profiled(work: Callable[[], object], tool: str, engine: Any) -> Profile:
    with DbApiTimer(engine) as dbapi:
        if tool == "pyinstrument":
            name, samples, total = pyinstrument_samples(work)
        else:
            with SignalSampler() as sampler:
                work()
            name, samples, total = sampler.name, sampler.samples, sampler.total
    categories: dict[str, float] = defaultdict(float)
    leaves: dict[str, float] = defaultdict(float)
    inclusive: dict[str, float] = defaultdict(float)
    for stack, seconds in samples.items():
        categories[category(stack)] += seconds
        if stack:
            function, path = stack[-1]
            if path == __file__:  # DbApiTimer's wrapper: the time is the driver's
                leaves["DB-API calls (driver, server)"] += seconds
            else:
                leaves[f"{function} ({short_path(path)})"] += seconds
        seen = set()
        for function, path in stack:
            for wanted, suffix in _INCLUSIVE:
                key = f"{wanted} ({suffix.rsplit(os.sep, 1)[-1]})"
                if function == wanted and path.endswith(suffix) and key not in seen:
                    seen.add(key)
                    inclusive[key] += seconds
    return Profile(
        name,
        total,
        sorted(categories.items(), key=lambda kv: -kv[1]),
        sorted(leaves.items(), key=lambda kv: -kv[1])[:10],
        sorted(inclusive.items(), key=lambda kv: -kv[1]),
        dbapi.seconds,
        dbapi.calls,
    )


# ------------------------------------------------------------------------- SMTP


class CountingSink:
    """aiosmtpd handler that accepts every message with 250 and only counts them."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.count += 1
        return "250 2.0.0 OK"


@contextmanager
def smtp_sink() -> Iterator[tuple[int, CountingSink]]:
    from aiosmtpd.controller import Controller

    sink = CountingSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port(), ready_timeout=10)
    controller.start()
    try:
        yield controller.port, sink
    finally:
        controller.stop()


def run_smtp(url: str, count: int, result: DbResult, profile_count: int, tool: str) -> None:
    engine = make_engine(url)
    sessions = session_factory(engine)
    try:
        with transaction(sessions) as session:
            mail = mail_settings(session)
            rows = session.execute(
                select(m.OutboxMessage.recipient, m.OutboxMessage.raw)
                .order_by(m.OutboxMessage.next_attempt_at, m.OutboxMessage.id)
                .limit(count)
            ).all()
        envelope_from = f"{mail.reply_local}@{mail.reply_domain}"
        with smtp_sink() as (port, sink):
            # Bare smtplib over one connection, the same bytes, the same sink.
            start = time.perf_counter()
            smtp = smtplib.SMTP("127.0.0.1", port, timeout=10)
            try:
                for recipient, raw in rows:
                    smtp.sendmail(envelope_from, [recipient], raw)
            finally:
                smtp.quit()
            result.bare_s = time.perf_counter() - start
            # send_due: claim, send through SmtpSender (one connection, RSET between), mark.
            sender = SmtpSender(SmtpSettings.from_url(f"smtp://127.0.0.1:{port}?timeout=10"))
            clock = FixedClock(NOW + timedelta(minutes=1))
            start = time.perf_counter()
            try:
                stats = send_due(sessions, sender, clock, limit=len(rows))
            finally:
                sender.close()
            result.send_due_s = time.perf_counter() - start
            if stats.sent != len(rows):
                raise RuntimeError(f"send_due sent {stats.sent} of {len(rows)}: {stats}")
            result.smtp_n = len(rows)
            if profile_count:
                # The next rows of the queue, under the profiler: where send_due's time goes.
                sender = SmtpSender(SmtpSettings.from_url(f"smtp://127.0.0.1:{port}?timeout=10"))
                try:
                    prof = profiled(
                        lambda: send_due(sessions, sender, clock, limit=profile_count), tool, engine
                    )
                finally:
                    sender.close()
                result.send_profile = prof
            time.sleep(0.2)  # let the sink's thread count the last message
            result.sink_received = sink.count
    finally:
        engine.dispose()


# ------------------------------------------------------------------------- one database


def run_database(kind: str, reg: SyntheticRegister, args: argparse.Namespace) -> DbResult:
    result = DbResult(kind, load_before=os.getloadavg())
    with scratch_database(kind, args.postgres_url) as url:
        log(f"{kind}: building the synthetic register")
        start = time.perf_counter()
        build_database(url, reg, NOW, PERIOD)
        result.build_s = time.perf_counter() - start
        result.rows = row_counts(url)
        setting = read_setting(url, reg, PERIOD)
        with cloned_database(url, args.postgres_url) if args.profile else _nothing() as copy:
            log(f"{kind}: baseline (no database), {len(reg.indicators)} messages")
            run_baseline(reg, setting, result, sample=min(args.mime_sample, len(reg.indicators)))
            log(f"{kind}: one tick")
            engine = make_engine(url)
            try:
                sessions = session_factory(engine)
                gc.collect()
                start = time.perf_counter()
                report = tick(sessions, NOW)
                result.tick_s = time.perf_counter() - start
                result.tick_messages = report.total
                with sessions() as session:
                    raws = session.scalars(select(m.OutboxMessage.raw)).all()
                    result.tick_bytes = sum(len(r) for r in raws)
                    del raws
            finally:
                engine.dispose()
            result.views_match = check_views_match(url, reg, setting)
            if copy is not None:
                log(f"{kind}: the same tick under the profiler, on a copy")
                engine = make_engine(copy)
                try:
                    sessions = session_factory(engine)
                    result.tick_profile = profiled(
                        lambda: tick(sessions, NOW), args.profiler, engine
                    )
                finally:
                    engine.dispose()
        log(f"{kind}: SMTP delivery of {args.smtp} messages")
        profile_count = args.smtp_profile if args.profile else 0
        run_smtp(url, args.smtp, result, profile_count, args.profiler)
    if args.ab:
        run_ab(kind, args, result)
    return result


def run_ab(kind: str, args: argparse.Namespace, result: DbResult) -> None:
    """Ticks with the old and the new compose code, alternating, on copies of one database."""
    reg = generate(Shape(updaters=args.ab_updaters, components_per=args.components_per, owners=20))
    with scratch_database(kind, args.postgres_url) as url:
        log(f"{kind}: before/after ticks, {args.ab} rounds of {args.ab_updaters} updaters")
        build_database(url, reg, NOW, PERIOD)
        result.ab = {"old": [], "new": []}
        for round_ in range(args.ab):
            order = ("old", "new") if round_ % 2 == 0 else ("new", "old")
            for variant in order:
                with cloned_database(url, args.postgres_url) as copy:
                    engine = make_engine(copy)
                    try:
                        sessions = session_factory(engine)
                        with old_compose() if variant == "old" else _nothing():
                            gc.collect()
                            start = time.perf_counter()
                            report = tick(sessions, NOW)
                            result.ab[variant].append(time.perf_counter() - start)
                        result.ab_messages = report.total
                    finally:
                        engine.dispose()


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


# ------------------------------------------------------------------------- workbook only


def workbook_views(reg: SyntheticRegister) -> list[views.RequestView]:
    """Each updater's request as the tick builds it, figures and bounds included, for the
    workbook (the due text and council are fixed: the form only prints them)."""
    out = []
    for ind in reg.indicators:
        person = reg.updaters[ind.updater]
        group = reg.areas[ind.service_area][1]
        items = tuple(
            views.FormItem(
                code=c.code,
                title=c.title,
                kind="value",
                unit=c.unit,
                indicator_code=ind.code,
                indicator_title=ind.title,
                group=group,
                last_period=format_figure(c.previous, c.unit),
                same_period_last_year=format_figure(c.last_year, c.unit),
                target=format_figure(ind.target, ind.unit, ind.decimals),
                allowed=format_range(c.low, c.high, c.unit),
                figures=views.ItemFigures(
                    last_period=c.previous,
                    same_period_last_year=c.last_year,
                    target=ind.target,
                    target_unit=ind.unit,
                    target_decimals=ind.decimals,
                    low=c.low,
                    high=c.high,
                ),
            )
            for c in sorted(ind.components, key=lambda c: c.code)
        )
        out.append(
            views.RequestView(
                council=views.Council("Synthetic District Council", "performance@example.org"),
                recipient=views.Person(name=person.name, email=person.email),
                period_code=PERIOD.code,
                period_label=PERIOD.label,
                token=new_token(),
                due="Friday 15 May 2026, 5pm",
                items=items,
            )
        )
    return out


def run_workbook_only(shape: Shape, rounds: int = 3) -> None:
    """ms per request workbook, the module's and (if importable) the openpyxl builder's."""
    from mailcapture.compose.workbook import request_workbook

    builders: dict[str, Callable[[views.RequestView], bytes]] = {"new": request_workbook}
    try:
        from tests.compose.workbook_reference import reference_workbook
    except ImportError:  # not a checkout with its tests
        log("the openpyxl reference builder is not importable: timing the module alone")
    else:
        builders["openpyxl (before)"] = reference_workbook
    forms = workbook_views(generate(shape))
    for build in builders.values():  # imports and caches, outside the timing
        build(forms[0])
    best: dict[str, float] = defaultdict(lambda: float("inf"))
    made: dict[str, list[bytes]] = {}
    for round_ in range(rounds):
        order = list(builders) if round_ % 2 == 0 else list(reversed(builders))
        for name in order:
            gc.collect()
            start = time.perf_counter()
            made[name] = [builders[name](view) for view in forms]
            best[name] = min(best[name], time.perf_counter() - start)
    sizes = [len(data) for data in made["new"]]
    print(
        f"{len(forms)} workbooks of {shape.components_per} items, best of {rounds} rounds, "
        f"load {os.getloadavg()[0]:.2f}; {statistics.mean(sizes):,.0f} bytes each"
    )
    for name, took in best.items():
        print(f"  {name:<18} {took / len(forms) * 1000:7.2f} ms per workbook")
    if len(builders) > 1:
        same = sum(a == b for a, b in zip(*made.values(), strict=True))
        print(f"  identical bytes: {same} of {len(forms)}")


# ------------------------------------------------------------------------- report


def print_report(results: list[DbResult], reg: SyntheticRegister, wall: float) -> None:
    shape = reg.shape
    print()
    print(
        f"Synthetic register: {shape.updaters:,} updaters, {reg.components:,} components "
        f"({shape.components_per} per indicator), {shape.owners} owners, "
        f"{shape.departments} departments, {shape.service_areas} service areas"
    )
    print(
        f"Machine: {os.cpu_count()} CPUs, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.system()} {platform.release()}"
    )
    print()
    header = (
        f"{'database':<11}{'messages':>9}{'tick s':>9}{'msg/s':>9}"
        f"{'baseline msg/s':>16}{'tick/base':>11}{'views ok':>10}"
    )
    print("Requests: one tick vs composing the same emails with no database")
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.database:<11}{r.tick_messages:>9,}{r.tick_s:>9.1f}{r.tick_rate:>9.0f}"
            f"{r.baseline_rate:>16.0f}{r.tick_rate / r.baseline_rate:>11.2f}{r.views_match:>10}"
        )
    print()
    print(
        "Baseline per message (ms): views and workbook / render / MIME, every message, no database"
    )
    for r in results:
        n = r.baseline_messages
        parts = " / ".join(
            f"{r.baseline_parts[k] / n * 1000:.2f}" for k in ("views", "render", "mime")
        )
        print(
            f"  {r.database:<11}{parts}   average email {r.baseline_bytes / n:,.0f} B "
            f"(the tick's: {r.tick_bytes / max(r.tick_messages, 1):,.0f} B)"
        )
    print()
    print("Compose before -> after, ms per message (same messages, fastest of 3 rounds)")
    for r in results:
        n, best = r.compose_sample, r.compose_best
        print(
            f"  {r.database:<11}render {best['render old'] / n * 1000:.2f} -> "
            f"{best['render new'] / n * 1000:.2f} (same text {r.render_identical}/{n}); "
            f"MIME {best['mime old'] / n * 1000:.2f} -> {best['mime new'] / n * 1000:.2f} "
            f"(same bytes {r.mime_identical}/{n})"
        )
    for r in results:
        if r.ab:
            old, new = statistics.median(r.ab["old"]), statistics.median(r.ab["new"])
            runs = ", ".join(
                f"{v} " + " ".join(f"{t:.1f}" for t in r.ab[v]) for v in ("old", "new")
            )
            print(
                f"  {r.database:<11}tick of {r.ab_messages:,}: old compose "
                f"{rate(r.ab_messages, old):.0f} msg/s -> new {rate(r.ab_messages, new):.0f} "
                f"msg/s (x{old / new:.2f}; medians of s: {runs})"
            )
    for r in results:
        if r.tick_profile is not None:
            print()
            print_profile(f"Where one tick's time goes on {r.database}", r.tick_profile)
    print()
    header = (
        f"{'database':<11}{'messages':>9}{'send_due msg/s':>16}{'bare smtplib msg/s':>20}"
        f"{'ratio':>8}{'sink got':>10}"
    )
    print("SMTP delivery to a local aiosmtpd sink (250 to everything), one connection")
    print(header)
    print("-" * len(header))
    for r in results:
        due_rate, bare_rate = rate(r.smtp_n, r.send_due_s), rate(r.smtp_n, r.bare_s)
        print(
            f"{r.database:<11}{r.smtp_n:>9,}{due_rate:>16.0f}{bare_rate:>20.0f}"
            f"{due_rate / bare_rate:>8.2f}{r.sink_received:>10,}"
        )
    for r in results:
        if r.send_profile is not None:
            print()
            print_profile(f"Where send_due's time goes on {r.database}", r.send_profile)
    print()
    for r in results:
        rows = ", ".join(f"{k} {v:,}" for k, v in r.rows.items())
        print(f"{r.database}: built in {r.build_s:.1f} s ({rows})")
    loads = ", ".join(
        f"{r.database} {' '.join(f'{x:.1f}' for x in r.load_before)}" for r in results
    )
    print(f"Load average (1/5/15 min) when each database's run began: {loads}")
    print(f"Whole run: {wall:.0f} s")


def print_profile(title: str, profile: Profile) -> None:
    total = profile.total
    print(f"{title} ({profile.tool}, {total:.1f} s profiled):")
    for name, seconds in profile.categories:
        print(f"  {seconds / total * 100:5.1f}%  {name}")
        if name == DATABASE:
            print(
                f"           of which {profile.dbapi_seconds / total * 100:.1f}% inside DB-API "
                f"calls (driver and server; {profile.dbapi_calls:,} calls, timed) and "
                f"{(seconds - profile.dbapi_seconds) / total * 100:.1f}% SQLAlchemy's Python"
            )
    inclusive = ", ".join(f"{k} {t / total * 100:.0f}%" for k, t in profile.inclusive)
    print(f"  inclusive: {inclusive}")
    top = "; ".join(f"{k} {t / total * 100:.1f}%" for k, t in profile.top[:8])
    print(f"  top self time: {top}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.requests", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--updaters", type=int, help="updaters, one indicator each (20000)")
    parser.add_argument("--components-per", type=int, default=5, help="per indicator (5)")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--smtp", type=int, help="queued rows to deliver (2000)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="500 updaters, 200 deliveries, no profile: under a minute",
    )
    parser.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        help="profile a second tick on a copy of the database (default: on, off with --quick)",
    )
    parser.add_argument("--profiler", choices=("sampler", "pyinstrument"), default="sampler")
    parser.add_argument("--smtp-profile", type=int, help="rows delivered under the profiler")
    parser.add_argument("--mime-sample", type=int, help="messages built both ways (1000)")
    parser.add_argument(
        "--ab", type=int, default=0, metavar="ROUNDS", help="before/after ticks, old vs new compose"
    )
    parser.add_argument("--ab-updaters", type=int, default=2_000, help="register size for --ab")
    parser.add_argument(
        "--workbook-only",
        action="store_true",
        help="time the request workbook alone (no database), before and after",
    )
    parser.add_argument("--time-limit", type=int, help="stop after this many seconds (5400)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("MAILCAPTURE_TEST_POSTGRES_URL", DEFAULT_POSTGRES),
        help="a server where a throw-away database may be created and dropped",
    )
    args = parser.parse_args(argv)
    quick = args.quick
    args.updaters = args.updaters or (500 if quick else 20_000)
    args.smtp = args.smtp or (200 if quick else 2_000)
    args.profile = (not quick) if args.profile is None else args.profile
    args.smtp_profile = args.smtp_profile or max(50, args.smtp // 4)
    args.mime_sample = args.mime_sample or (200 if quick else 1_000)
    args.time_limit = args.time_limit or (300 if quick else 5_400)
    if min(args.updaters, args.components_per, args.smtp, args.time_limit) < 1:
        parser.error("sizes and the time limit must be positive")
    args.smtp = min(args.smtp, args.updaters)
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    shape = Shape(
        updaters=args.updaters,
        components_per=args.components_per,
        owners=max(10, min(200, args.updaters // 100)),
    )
    started = time.perf_counter()
    print(f"mailcapture requests benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", flush=True)
    if args.workbook_only:
        with time_limit(args.time_limit):
            run_workbook_only(shape)
        return 0
    try:
        with time_limit(args.time_limit):
            reg = generate(shape)
            results = [run_database(kind, reg, args) for kind in kinds]
    except TimeLimit as exc:
        print(f"benchmarks.requests: {exc} (--time-limit); nothing to report", file=sys.stderr)
        return 2
    print_report(results, reg, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
