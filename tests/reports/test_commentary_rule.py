"""A red or worsening indicator needs commentary: asked in the confirmation, chased once.

Real replies (built with mailcapture.demo.clients from the emails we sent) to April 2026's
requests, through the one inbound pipeline and the timetable tick. Kevin Walsh's form has
BV8a (invoices paid within 30 days; March 2026 was 98.1%, the 2026/27 target 97.5% with a
tolerance of 2) and the P09.M0 milestone. The monthly timetable reminds 3 and 1 working
days before the 15 May deadline (12 and 14 May) and summarises a working day after it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import FixedClock, as_utc
from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.mailflow.pipeline import Pipeline
from mailcapture.mailflow.store import Envelope
from mailcapture.schedule.tick import tick
from tests.conftest import SampleRegister

KEVIN = "Kevin Walsh <kevin.walsh@ashdown.example>"
KEVIN_ADDRESS = "kevin.walsh@ashdown.example"


def mail(sessions: sessionmaker[Session], kind: str, to: str) -> list[m.OutboxMessage]:
    with sessions() as s:
        return list(
            s.scalars(
                select(m.OutboxMessage)
                .where(m.OutboxMessage.kind == kind, m.OutboxMessage.recipient == to)
                .order_by(m.OutboxMessage.id)
            )
        )


def text(row: m.OutboxMessage) -> str:
    return clients.plain_text(clients.parsed(row.raw))


@pytest.fixture
def april(
    sessions: sessionmaker[Session], sample_register: SampleRegister
) -> sessionmaker[Session]:
    sample_register.load(sessions, datetime(2026, 4, 20, 12, 0, tzinfo=UTC))
    tick(sessions, as_utc(datetime(2026, 5, 1, 9, 0)))
    return sessions


def test_commentary_asked_for_then_chased_once_then_satisfied(april) -> None:
    sessions = april
    clock = FixedClock(datetime(2026, 5, 5, 9, 0, tzinfo=UTC))
    pipeline = Pipeline(sessions, clock)
    [request] = mail(sessions, "request", KEVIN_ADDRESS)

    # 1480 / 1520 = 97.4%: amber (within 2 of 97.5) but below March's 98.1%: worsening.
    first = pipeline.ingest(
        clients.outlook_in_place(
            request.raw, KEVIN, {"BV8a.1": "1480", "BV8a.2": "1520", "P09.M0": "on track"}
        ),
        Envelope(source="test"),
    )
    assert first.outcome == "applied", first
    [confirmed] = mail(sessions, "confirmation", KEVIN_ADDRESS)
    asked = "  - BV8a is worsening since 2026-03: please add a line saying why, as\n"
    assert asked + '    "[BV8a comment]: ..."\n' in text(confirmed)

    # A correction to 1400: 92.1%, red as well as worsening.
    clock.set(datetime(2026, 5, 6, 9, 0, tzinfo=UTC))
    second = pipeline.ingest(
        clients.gmail_top_posted(confirmed.raw, KEVIN, "BV8a.1: 1400"), Envelope(source="test")
    )
    assert second.outcome == "applied", second
    body = text(mail(sessions, "confirmation", KEVIN_ADDRESS)[-1])
    assert "BV8a is red (92.1% against 97.5%) and worsening since 2026-03: please add" in body
    html = clients.html_text(clients.parsed(mail(sessions, "confirmation", KEVIN_ADDRESS)[-1].raw))
    assert "[BV8a comment]: ..." in html

    # Every value is in: the first reminder step chases the commentary, once.
    tick(sessions, as_utc(datetime(2026, 5, 12, 9, 0)))
    tick(sessions, as_utc(datetime(2026, 5, 14, 9, 0)))
    assert mail(sessions, "reminder", KEVIN_ADDRESS) == []
    [chase] = mail(sessions, "commentary_reminder", KEVIN_ADDRESS)
    assert chase.subject.startswith("Commentary needed: BV8a for April 2026 [MC-")
    assert "BV8a is red (92.1% against 97.5%) and worsening since 2026-03" in text(chase)

    clock.set(datetime(2026, 5, 14, 11, 0, tzinfo=UTC))
    answer = pipeline.ingest(
        clients.gmail_top_posted(
            chase.raw, KEVIN, "[BV8a comment]: two of the team were off sick in April"
        ),
        Envelope(source="test"),
    )
    assert answer.outcome == "comment-only", answer
    last = text(mail(sessions, "confirmation", KEVIN_ADDRESS)[-1])
    assert "We also stored 1 comment." in last
    assert "needs a line of commentary" not in last
    with sessions() as s:
        [comment] = s.scalars(
            select(m.Commentary.body).where(m.Commentary.indicator_id.is_not(None))
        ).all()
    assert comment == "two of the team were off sick in April"

    # The summary after the deadline shows shares by department and service area; Kevin
    # owes nothing, so no escalation names him.
    tick(sessions, as_utc(datetime(2026, 5, 19, 9, 0)))
    [summary] = mail(sessions, "returns_summary", "performance@ashdown.example")
    lines = text(summary).splitlines()
    assert "Share received and share on time, by department and service area:" in lines
    assert any(line.split() == ["Resources", "17.6%", "17.6%"] for line in lines)
    assert any(line.split() == ["Finance", "100.0%", "100.0%"] for line in lines)
    assert any(line.split() == ["Total", "5.8%", "5.8%"] for line in lines)  # 3 of 52
    with sessions() as s:
        escalated = s.scalars(
            select(m.OutboxMessage.raw).where(m.OutboxMessage.kind.like("escalation%"))
        ).all()
    assert escalated and not any(b"kevin.walsh" in raw for raw in escalated)
