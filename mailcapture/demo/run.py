"""The demo: a month of returns for the sample council, through the real parts.

A fresh SQLite database in a folder; the sample register loaded; the timetable ticked for
April 2026's returns; replies written from the real request emails in the styles of
Outlook, Gmail, iPhone, Outlook on the web and a phone, plus a delegate, a correction, an
unclear value, a stranger, an out-of-office and a bounce; every reply delivered through the
real SMTP listener on loopback; then the clock moved past the deadline so the escalations
and the returns summary go out. The database and every email (as .eml files) are left in
the folder to look at.
"""

from __future__ import annotations

import smtplib
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import func, select

from mailcapture.clock import LOCAL_TZ, FixedClock, as_utc
from mailcapture.db import migrate
from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.domain.enums import SubmissionState
from mailcapture.mailflow.pipeline import Pipeline
from mailcapture.mailflow.store import Envelope
from mailcapture.outbox.service import send_due
from mailcapture.register.loader import load_folder
from mailcapture.resources import sample_register
from mailcapture.runtime import Runtime
from mailcapture.schedule.tick import tick
from mailcapture.settings import Settings
from mailcapture.transport.listener import ListenerConfig, start_listener

REQUESTS_GO_OUT = datetime(2026, 5, 1, 9, 0)
AFTER_DEADLINE = datetime(2026, 5, 19, 9, 0)


@dataclass(frozen=True)
class Scenario:
    """One email to deliver: who sends it, in what style, and why it is in the demo."""

    label: str
    updater: str  # whose request it answers
    build: Callable[[bytes], bytes]
    at: datetime


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _scenarios(people: dict[str, str]) -> list[Scenario]:
    def who(email: str) -> str:
        return f"{people[email]} <{email}>"

    kevin, amy = "kevin.walsh@ashdown.example", "amy.lawson@ashdown.example"
    jason, natalie = "jason.reid@ashdown.example", "natalie.price@ashdown.example"
    fiona = "fiona.grant@ashdown.example"
    day = lambda d, h=10: datetime(2026, 5, d, h, 0, tzinfo=LOCAL_TZ)  # noqa: E731
    return [
        Scenario(
            "out-of-office (delegate gets the form)",
            kevin,
            lambda r: clients.out_of_office(
                r,
                who(kevin),
                "I am on leave until 11 May 2026. For urgent matters contact Amy Lawson.",
            ),
            day(1, 9),
        ),
        Scenario(
            "delegate answers in Gmail",
            kevin,
            lambda r: clients.gmail_top_posted(
                r,
                who(amy),
                "BV8a.1: 1,702\nBV8a.2: 1,749\nP09.M0: on track\n\nKevin is on "
                "leave, so I'm sending these for him.\nAmy",
            ),
            day(5),
        ),
        Scenario(
            "Outlook, typed into the quoted form",
            jason,
            lambda r: clients.outlook_in_place(
                r,
                who(jason),
                {code: answer for code, answer in _answers(r).items()},
                top="Hi, figures below. The homelessness numbers are provisional.\nJason",
            ),
            day(6),
        ),
        Scenario(
            "iPhone, with an unclear value",
            natalie,
            lambda r: clients.iphone(r, who(natalie), _top_lines(r, unclear=True)),
            day(7),
        ),
        Scenario(
            "iPhone, the correction",
            natalie,
            lambda r: clients.iphone(r, who(natalie), _top_lines(r, correction=True)),
            day(8),
        ),
        Scenario(
            "Outlook on the web (HTML only)",
            fiona,
            lambda r: clients.outlook_web_html_only(r, who(fiona), _top_lines(r).split("\n")),
            day(8, 15),
        ),
        Scenario(
            "a stranger replies to Fiona's form",
            fiona,
            # As the council's receiving host stamps it: DMARC passed for the stranger's own
            # domain, so they are told (a stranger nothing vouches for gets no notice at all).
            lambda r: (
                b"Authentication-Results: mx.ashdown.example; spf=pass "
                b"smtp.mailfrom=elsewhere.example; dmarc=pass header.from=elsewhere.example\r\n"
                + clients.phone(r, "Pat Smith <pat.smith@elsewhere.example>", "P01.M0: complete")
            ),
            day(9),
        ),
        Scenario(
            "a bounce for Jason's address", jason, lambda r: clients.dsn_bounce(r, jason), day(1, 9)
        ),
    ]


def _answers(request_raw: bytes) -> dict[str, str]:
    """Plausible answers for every item on a request: last period's figure, nudged."""
    answers = {}
    text = clients.plain_text(clients.parsed(request_raw))
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if not line.startswith("[") or " comment]" in line or not line.rstrip().endswith(":"):
            continue
        code = line[1 : line.index("]")]
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if "Answer one of" in following:
            answers[code] = "on track"
            continue
        last = (
            following.split("Last period: ")[1].split(" |")[0].strip()
            if ("Last period: " in following)
            else "10"
        )
        digits = "".join(ch for ch in last if ch.isdigit() or ch == ".")
        value = float(digits) * 1.02 if digits else 10.0
        answers[code] = f"{value:,.0f}" if value >= 100 else f"{value:.1f}"
    return answers


def _changed(answer: str) -> str:
    digits = answer.replace(",", "")
    try:
        return f"{float(digits) + 1:,.0f}" if "." not in digits else f"{float(digits) + 0.1:.1f}"
    except ValueError:
        return answer


def _top_lines(request_raw: bytes, unclear: bool = False, correction: bool = False) -> str:
    answers = _answers(request_raw)
    items = list(answers.items())
    if correction:  # the unclear first figure again, and a changed second one
        items = items[:1] + [(code, _changed(answer)) for code, answer in items[1:2]]
    lines = [f"{code}: {answer}" for code, answer in items]
    if unclear and lines:
        code = items[0][0]
        lines[0] = f"{code}: about 1.234 I think"
    return "\n".join(lines)


def run_demo(folder: Path, console: Console) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / "mailcapture.db"
    mail_dir = folder / "mail" / "outbox"
    if database.exists():  # a previous demo's folder: start afresh
        for path in [database, *folder.glob("mailcapture.db-*"), *mail_dir.glob("*.eml")]:
            path.unlink()
    settings = Settings(
        database_url=f"sqlite:///{database}",
        config_dir=sample_register(),
        mail_dir=mail_dir,
        smtp_url=None,
    )
    clock = FixedClock(as_utc(datetime(2026, 4, 20, 12, 0)))
    runtime = Runtime(settings, clock=clock)
    console.print(f"[bold]mailcapture demo[/bold] in {folder}")
    migrate.upgrade(settings.database_url)
    load_folder(settings.config_dir, runtime.sessions, clock.now())
    console.print("  loaded the sample register of Ashdown District Council")

    clock.set(as_utc(REQUESTS_GO_OUT))
    report = tick(runtime.sessions, clock.now())
    sender = runtime.sender()
    send_due(runtime.sessions, sender, clock)
    console.print(f"  1 May 2026, 09:00: {report}; written to {mail_dir}")

    pipeline = Pipeline(runtime.sessions, clock)
    port = _free_port()
    listener = start_listener(
        ListenerConfig(
            host="127.0.0.1", port=port, accept_domains=frozenset({"returns.ashdown.example"})
        ),
        lambda raw, mail_from, rcpt, peer: pipeline.ingest(
            raw, Envelope(source="smtp", source_ref=peer, mail_from=mail_from, rcpt_to=tuple(rcpt))
        ),
    )
    outcomes: list[tuple[str, str, str]] = []
    with runtime.sessions() as session:
        people = dict(session.execute(select(m.Person.email, m.Person.name)).all())
        requests = {
            email: raw
            for email, raw in session.execute(
                select(m.Person.email, m.OutboxMessage.raw)
                .join(m.Person, m.Person.id == m.OutboxMessage.person_id)
                .where(m.OutboxMessage.kind == "request")
            )
        }
    scenarios = [s for s in _scenarios(people) if s.updater in requests]
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(
                "delivering replies through the SMTP listener", total=len(scenarios)
            )
            for scenario in scenarios:
                clock.set(as_utc(scenario.at))
                raw = scenario.build(requests[scenario.updater])
                message = clients.parsed(raw)
                with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                    client.sendmail(str(message["From"]), [str(message["To"])], raw)
                outcomes.append((scenario.label, *_latest_outcome(runtime)))
                send_due(runtime.sessions, sender, clock)
                progress.advance(task)
    finally:
        listener.stop()

    clock.set(as_utc(AFTER_DEADLINE))
    late = tick(runtime.sessions, clock.now())
    send_due(runtime.sessions, sender, clock)
    sender.close()
    console.print(f"  19 May 2026, 09:00 (two working days after the deadline): {late}")
    _summary(runtime, outcomes, folder, console)
    runtime.close()


def _latest_outcome(runtime: Runtime) -> tuple[str, str]:
    """The outcome and detail of the message stored last: the reply just delivered, as the
    listener answers 250 only once the message is stored."""
    with runtime.sessions() as session:
        row = session.scalars(select(m.InboundMessage).order_by(m.InboundMessage.id.desc())).first()
    if row is None:
        raise RuntimeError("the listener accepted a reply but no message was stored")
    return row.outcome or "", (row.outcome_detail or "")[:70]


def _summary(
    runtime: Runtime, outcomes: list[tuple[str, str, str]], folder: Path, console: Console
) -> None:
    table = Table(title="Replies delivered through the SMTP listener")
    for column in ("reply", "outcome", "detail"):
        table.add_column(column)
    for row in outcomes:
        table.add_row(*row)
    console.print(table)
    with runtime.sessions() as session:
        states = Counter(
            dict(
                session.execute(
                    select(m.ComponentValue.state, func.count())
                    .where(m.ComponentValue.source == "email")
                    .group_by(m.ComponentValue.state)
                ).all()
            )
        )
        statuses = Counter(
            dict(
                session.execute(
                    select(m.MilestoneUpdate.state, func.count())
                    .where(m.MilestoneUpdate.source == "email")
                    .group_by(m.MilestoneUpdate.state)
                ).all()
            )
        )
        kinds = Counter(
            dict(
                session.execute(
                    select(m.OutboxMessage.kind, func.count()).group_by(m.OutboxMessage.kind)
                ).all()
            )
        )
    totals = Table(title="What happened")
    totals.add_column("what")
    totals.add_column("count", justify="right")
    for label, count in (
        ("figures captured", states[SubmissionState.ACCEPTED] + states[SubmissionState.SUPERSEDED]),
        ("figures 'not available', with the reason", states[SubmissionState.NOT_AVAILABLE]),
        ("figures held until the sender confirms them", states[SubmissionState.UNCONFIRMED]),
        (
            "milestone statuses captured",
            statuses[SubmissionState.ACCEPTED] + statuses[SubmissionState.SUPERSEDED],
        ),
        (
            "answers rejected with a reason",
            states[SubmissionState.REJECTED] + statuses[SubmissionState.REJECTED],
        ),
        ("values corrected (history kept)", states[SubmissionState.SUPERSEDED]),
        ("requests sent", kinds.get("request", 0)),
        ("confirmations sent", kinds.get("confirmation", 0)),
        ("notices to strangers", kinds.get("rejection_notice", 0)),
        ("forms passed to a delegate", kinds.get("delegate_forward", 0)),
        ("bounce notices to the performance team", kinds.get("bounce_notice", 0)),
        ("escalations to owners", kinds.get("escalation_owner", 0)),
        ("returns summaries", kinds.get("returns_summary", 0)),
    ):
        totals.add_row(label, str(count))
    console.print(totals)
    console.print(
        f"Everything is in {folder}: the database (mailcapture.db) and every email "
        f"as an .eml file in {folder / 'mail' / 'outbox'}.\nLook around with:\n"
        f"  MAILCAPTURE_DATABASE_URL=sqlite:///{folder / 'mailcapture.db'} "
        "mailcapture export values\n"
        f"  MAILCAPTURE_DATABASE_URL=sqlite:///{folder / 'mailcapture.db'} "
        "mailcapture messages"
    )
