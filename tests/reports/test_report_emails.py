"""The report emails the timetable sends, after real replies, on both databases.

The sample council: April 2026's requests go out, Kevin Walsh replies (Outlook style)
with BV8a's components and a comment, and the ticks on the report days queue the owner,
department and exception reports. Recipients are worked out here from the register files
(mailcapture/register/sample/), figures by hand from its history-2025-26.yaml and the reply,
and compared with :func:`indicator_values`. The quarterly and end-of-year reports are built from the
2025/26 history.
"""

from __future__ import annotations

import email
import functools
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email import policy
from email.message import EmailMessage

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import FixedClock, as_utc
from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.domain.enums import ReportKind
from mailcapture.domain.periods import parse_period
from mailcapture.mailflow.pipeline import Pipeline
from mailcapture.mailflow.store import Envelope
from mailcapture.register.model import Register
from mailcapture.register.validate import load_register
from mailcapture.reports.queries import indicator_values
from mailcapture.reports.targets import set_target
from mailcapture.schedule.reports import queue_reports, report_times
from mailcapture.schedule.tick import tick
from mailcapture.schedule.timetable import load_timetable
from tests.conftest import CONFIG_DIR, SampleRegister

KEVIN = "Kevin Walsh <kevin.walsh@ashdown.example>"
MARK = "mark.ellison@ashdown.example"
HOSTILE = '<script>alert("x")</script> Invoices & bills'
TOKEN = re.compile(r"returns\+([a-z2-7]{16})@returns\.ashdown\.example")


@functools.cache
def _register() -> Register:
    return load_register(CONFIG_DIR)


def _listed(kind: ReportKind) -> set[str]:
    return {p for r in _register().reports if r.kind is kind for p in r.recipients}


def _owners() -> set[str]:
    reg = _register()
    return {i.owner for i in reg.indicators} | {p.owner for p in reg.projects}


def _heads() -> dict[str, str]:
    return {d.code: d.head for d in _register().departments}


def _outbox(
    sessions: sessionmaker[Session], kind: str, period: str | None = None
) -> list[m.OutboxMessage]:
    query = (
        select(m.OutboxMessage)
        .join(m.Period, m.Period.id == m.OutboxMessage.period_id)
        .where(m.OutboxMessage.kind == f"report_{kind}")
        .order_by(m.OutboxMessage.id)
    )
    if period is not None:
        query = query.where(m.Period.code == period)
    with sessions() as s:
        return list(s.scalars(query))


def _parsed(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]


def _text(raw: bytes) -> str:
    return clients.plain_text(clients.parsed(raw))


def _html(raw: bytes) -> str:
    return clients.html_text(clients.parsed(raw))


def _check_lines(raw: bytes) -> None:
    long = [line for line in _text(raw).splitlines() if len(line) > 78]
    assert long == []


@pytest.fixture
def april(
    sessions: sessionmaker[Session], sample_register: SampleRegister
) -> sessionmaker[Session]:
    """April 2026 requested, BV8a's title made hostile, Kevin's reply ingested."""
    sample_register.load(sessions, datetime(2026, 4, 20, 12, 0, tzinfo=UTC))
    with sessions.begin() as s:
        s.scalars(select(m.Indicator).where(m.Indicator.code == "BV8a")).one().title = HOSTILE
    tick(sessions, as_utc(datetime(2026, 5, 1, 9, 0)))
    with sessions() as s:
        request = s.scalars(
            select(m.OutboxMessage.raw)
            .join(m.Person)
            .where(
                m.Person.email == "kevin.walsh@ashdown.example", m.OutboxMessage.kind == "request"
            )
        ).one()
    pipeline = Pipeline(sessions, FixedClock(as_utc(datetime(2026, 5, 5, 10, 0))))
    reply = clients.outlook_in_place(
        request,
        KEVIN,
        {"BV8a.1": "1400", "BV8a.2": "1600", "BV8a comment": "Invoice system down for a week."},
    )
    assert pipeline.ingest(reply, Envelope(source="test")).outcome == "applied"
    return sessions


def test_owner_department_and_exception_reports(april: sessionmaker[Session]) -> None:
    sessions = april
    with sessions() as s:
        times = report_times(load_timetable(s), parse_period("2026-04")).times
    # Monthly returns are due 15 May (10th working day; 4 May is a bank holiday): owner
    # reports 3 working days later, department and exception reports 6 (25 May is one).
    assert times["owner"] == as_utc(datetime(2026, 5, 20, 9, 0))
    assert times["department"] == times["exception"] == as_utc(datetime(2026, 5, 26, 9, 0))
    assert "quarterly" not in times

    tick(sessions, times["owner"])
    # March 2026's reports go the same day: they waited for 2025/26's annual due date.
    assert {r.period_id for r in _outbox(sessions, "owner")} == {
        _period_id(sessions, "2026-03"),
        _period_id(sessions, "2026-04"),
    }
    owner_mail = _outbox(sessions, "owner", "2026-04")
    assert _outbox(sessions, "department") == []
    with sessions() as s:
        runs = {r.outbox_id: r for r in s.scalars(select(m.ReportRun))}
        people = {p.id: p.email for p in s.scalars(select(m.Person))}
        [bv8a] = indicator_values(s, parse_period("2026-04"), ["BV8a"])
    # Every owner gets their own report, with a token; the OWN recipients one email with
    # the whole round (issue 15), not a copy of each owner's report.
    answerable = [r.recipient for r in owner_mail if runs[r.id].token]
    assert sorted(answerable) == sorted(_owners())
    assert all(runs[r.id].token for r in owner_mail)
    rounds = _outbox(sessions, "owner_round", "2026-04")
    assert sorted(r.recipient for r in rounds) == sorted(_listed(ReportKind.OWNER))
    for row in rounds:
        text = " ".join(_text(row.raw).split())
        assert row.subject.startswith("Owner reports for April 2026: 9 owners")
        assert "Mark Ellison: 1 figure to sign off" in text
        assert "[MC-" not in row.subject and _parsed(row.raw)["Reply-To"] is None
    for row in owner_mail:
        run = runs[row.id]
        message = _parsed(row.raw)
        assert people[run.person_id] == row.recipient and run.report_kind == "owner"
        assert run.message_id == message["Message-ID"]
        if run.token:
            assert TOKEN.fullmatch(message["Reply-To"]).group(1) == run.token
            assert f"[MC-{run.token}]" in row.subject
            assert run.expires_at is not None and run.expires_at > times["owner"]
        else:
            assert message["Reply-To"] is None and "[MC-" not in row.subject
            assert "[BV8a approve]" not in _text(row.raw)
        _check_lines(row.raw)

    # Mark Ellison owns BV8a: 1400 of 1600 invoices = 87.5 % against 97.5 %: red, and
    # worse than March 2026 (1854 / 1890 = 98.1 %); not signed off yet.
    assert (bv8a.value, bv8a.previous.value) == (Decimal("87.5"), Decimal("98.1"))
    [mark] = [r for r in owner_mail if r.recipient == MARK and runs[r.id].token]
    text = _text(mark.raw)
    # The title is shortened so that the line keeps within 78 characters; the figures never.
    block = (
        "[BV8a] <script>alert(...: 87.5 % (target 97.5 %), red, worsening - provisional\n"
        "[BV8a approve]:\n[BV8a query]:\n[BV8a comment]:\n"
    )
    assert block in text
    assert "Awaiting your sign-off (1)" in text
    assert "Kevin Walsh (updater, 5 May 2026): Invoice system down for a week." in text
    assert "Commentary needed:" not in text  # Kevin's commentary covers the red figure
    assert "1 figure to sign off" in mark.subject
    # The figures in words for the text part, the chart in the HTML.
    assert "worsening since March 2026 (98.1 %)" in " ".join(text.split())
    html = _html(mark.raw)
    assert HOSTILE not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    cid = re.search(r'<img src="cid:([^"]+)" alt="([^"]+)"', html)
    assert cid is not None and "87.5" in cid.group(2)
    message = _parsed(mark.raw)
    images = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert [p["Content-ID"] for p in images] == [f"<{cid.group(1)}>"]
    assert images[0].get_content().startswith(b"\x89PNG")
    assert message.get_content_type() == "multipart/alternative"
    assert any(p.get_content_type() == "multipart/related" for p in message.walk())

    # Department and exception reports, five days later.
    tick(sessions, times["department"])
    department = _outbox(sessions, "department", "2026-04")
    exception = _outbox(sessions, "exception", "2026-04")
    with sessions() as s:
        runs = {r.outbox_id: r for r in s.scalars(select(m.ReportRun))}
        departments = {d.id: d.code for d in s.scalars(select(m.Department))}
    # Each department's head; the DEPT recipients are the four heads, one department each.
    assert sorted((departments[runs[r.id].department_id], r.recipient) for r in department) == (
        sorted(_heads().items())
    )
    assert all(runs[r.id].token and f"[MC-{runs[r.id].token}]" in r.subject for r in department)
    [resources] = [r for r in department if departments[runs[r.id].department_id] == "RES"]
    text = _text(resources.raw)
    assert "[RES comment]:\n" in text
    assert "87.5 % (target 97.5 %), red, worsening - provisional" in text
    assert "Red against target (1)" in text
    assert "&lt;script&gt;" in _html(resources.raw)
    assert {r.recipient for r in exception} == _listed(ReportKind.EXCEPTION)
    text = _text(exception[0].raw)
    assert "Red against target (1)\n[BV8a]" in text
    # Kevin sent BV8a but not P09.M0; Amy Lawson sent nothing.
    missing = " ".join(text.split("Missing returns")[1].split())
    assert "Kevin Walsh <kevin.walsh@ashdown.example>, HR and Organisational" in missing
    assert "P09.M0" in missing and "BV8a.1" not in missing
    assert "Amy Lawson" in missing
    for row in department + exception:
        _check_lines(row.raw)

    # A second tick, the same day or the next, queues no report again.
    before = sum(len(_outbox(sessions, k)) for k in ("owner", "department", "exception"))
    queue_reports(sessions, times["department"] + timedelta(minutes=5))
    tick(sessions, times["department"] + timedelta(days=1))
    after = sum(len(_outbox(sessions, k)) for k in ("owner", "department", "exception"))
    assert after == before


def test_quarterly_and_end_of_year_reports_from_the_history(
    sessions: sessionmaker[Session], sample_register: SampleRegister
) -> None:
    sample_register.load(sessions, datetime(2026, 3, 20, 12, 0, tzinfo=UTC))
    with sessions.begin() as s:
        change = set_target(
            s,
            "BV8a",
            parse_period("2025/26"),
            Decimal("96.5"),
            reason="Invoice system migration",
            approved_by="helen.marsden@ashdown.example",
            now=as_utc(datetime(2026, 3, 25, 12, 0)),
        )
        timetable = load_timetable(s)
    times = report_times(timetable, parse_period("2026-03")).times
    assert times["quarterly"] == times["annual"]
    queue_reports(sessions, times["annual"])

    quarterly = _outbox(sessions, "quarterly")
    annual = _outbox(sessions, "annual")
    assert {r.recipient for r in quarterly} == _listed(ReportKind.QUARTERLY)
    assert {r.recipient for r in annual} == _listed(ReportKind.ANNUAL)
    assert len(quarterly) == len(_listed(ReportKind.QUARTERLY))
    q4 = parse_period("2025/26 Q4")
    year = parse_period("2025/26")
    in_qpr = {i.code for i in _register().indicators if "QPR" in i.reports}
    with sessions() as s:
        q4_rows = {r.code: r for r in indicator_values(s, q4, sorted(in_qpr))}
        runs = {r.outbox_id: r for r in s.scalars(select(m.ReportRun))}
        reported = s.get_one(m.TargetChange, change.id).reported_at
    assert {runs[r.id].period_id for r in quarterly} == {_period_id(sessions, "2025/26 Q4")}
    assert reported == times["annual"]  # the change was in these reports

    text = _text(quarterly[0].raw)
    assert "Quarterly performance report" in quarterly[0].subject
    html = _html(quarterly[0].raw)
    charts = re.findall(r'<img src="cid:([^"]+)" alt="([^"]+)"', html)
    message = _parsed(quarterly[0].raw)
    parts = {p["Content-ID"]: p for p in message.walk() if p.get_content_type() == "image/png"}
    assert {f"<{cid}>" for cid, _ in charts} == set(parts)
    # The charts go as palette PNGs, a quarter of the bytes of the site's full-colour ones,
    # so two dozen of them leave the email at about 270 KB (950 KB in full colour).
    assert all(p.get_payload(decode=True)[25] == 3 for p in parts.values())
    assert len(quarterly[0].raw) < 400_000
    shown = {code for code, row in q4_rows.items() if row.value is not None}
    # One chart per indicator in the report (shown again under Exceptions when red).
    assert len({cid for cid, _ in charts}) == len(in_qpr) and shown
    assert all(f"[{code}] " in text for code in shown)
    # BV8a Q4: 1655 + 1601 + 1854 = 5110 of 1720 + 1640 + 1890 = 5250 -> 97.3 %.
    assert q4_rows["BV8a"].value == Decimal("97.3")
    assert "97.3 % (target 96.5 %), green" in text
    assert "BV8a 2025/26: target changed from 97 to 96.5" in " ".join(text.split())
    _check_lines(quarterly[0].raw)

    text = _text(annual[0].raw)
    assert annual[0].subject == "End-of-year performance report 2025/26"
    in_ann = {i.code for i in _register().indicators if "ANN" in i.reports}
    with sessions() as s:
        year_rows = {r.code: r for r in indicator_values(s, year, sorted(in_ann))}
    assert all(f"[{code}] " in text for code in in_ann)
    # LHR02 appraisals: 498 of 561 staff -> 88.8 %, against a target of 95 %.
    assert year_rows["LHR02"].value == Decimal("88.8")
    assert "88.8 % (target 95 %)" in text
    assert "BV8a 2025/26: target changed from 97 to 96.5" in " ".join(text.split())
    _check_lines(annual[0].raw)

    # Queued once: the same instant again, or the next day, adds nothing.
    queue_reports(sessions, times["annual"])
    queue_reports(sessions, times["annual"] + timedelta(days=1))
    assert len(_outbox(sessions, "quarterly")) == len(quarterly)
    assert len(_outbox(sessions, "annual")) == len(annual)


def _period_id(sessions: sessionmaker[Session], code: str) -> int:
    with sessions() as s:
        return s.scalars(select(m.Period.id).where(m.Period.code == code)).one()
