"""An address that bounces gets no more chasing; its owners are told at once (issue 15, part 4),
and every escalation says what was really sent (part 5).

Observed with the sample register: reminders kept going to an address that had just bounced,
and the owner's escalation said "each of them has had the request and reminders" when no
reminder was sent. Here June 2026 runs as the service would (the tick every morning at
09:00) on SQLite and PostgreSQL. Natalie Price's June request bounces (a real-shaped DSN,
``clients.dsn_bounce``) an hour after it went; Kevin Walsh does not answer.

June's timetable (sample register): requested Wednesday 1 July, due Tuesday 14 July 5pm,
reminders 9 and 13 July, returns summary 15 July, escalations 16 July (owner) and 21 July
(head of service).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import LOCAL_TZ, as_utc
from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.schedule.tick import tick
from tests.conftest import SampleRegister
from tests.mailflow.world import PipelineWorld

NATALIE = "natalie.price@ashdown.example"
KEVIN = "kevin.walsh@ashdown.example"
MARK = "mark.ellison@ashdown.example"  # owns BV8a (Kevin's items)
TEAM = "performance@ashdown.example"


def _morning(day: date) -> datetime:
    return as_utc(datetime.combine(day, time(9, 0), tzinfo=LOCAL_TZ))


def _tick_days(sessions: sessionmaker[Session], first: date, last: date) -> None:
    day = first
    while day <= last:
        tick(sessions, _morning(day))
        day += timedelta(days=1)


def _text(row: m.OutboxMessage) -> str:
    return " ".join(clients.plain_text(clients.parsed(row.raw)).split())


def _mail(world: PipelineWorld, after: datetime) -> list[m.OutboxMessage]:
    with world.sessions() as s:
        return list(
            s.scalars(
                select(m.OutboxMessage)
                .where(m.OutboxMessage.created_at >= after)
                .order_by(m.OutboxMessage.id)
            )
        )


@pytest.fixture
def world(sessions: sessionmaker[Session], sample_register: SampleRegister) -> PipelineWorld:
    sample_register.load(sessions, as_utc(datetime(2026, 5, 20, 12, 0)))
    _tick_days(sessions, date(2026, 6, 1), date(2026, 7, 1))
    return PipelineWorld(sessions)


def test_a_bounced_address_is_not_chased_and_its_owners_are_told_at_once(
    world: PipelineWorld,
) -> None:
    request = world.request_raw(NATALIE, "2026-06")
    bounced_at = _morning(date(2026, 7, 1)) + timedelta(hours=1)
    first = world.ingest(clients.dsn_bounce(request, NATALIE), at=bounced_at)
    assert first.outcome == "bounce", first
    again = world.ingest(
        clients.dsn_bounce(request, NATALIE, when=bounced_at + timedelta(days=1)),
        at=bounced_at + timedelta(days=1),
    )
    assert again.outcome == "bounce", again
    _tick_days(world.sessions, date(2026, 7, 2), date(2026, 7, 22))
    sent = _mail(world, bounced_at)

    # The performance team is told once, with who is affected.
    notices = [r for r in sent if r.kind == "bounce_notice"]
    assert [r.recipient for r in notices] == [TEAM]
    assert "Natalie Price" in _text(notices[0])

    # Nothing more goes to the address that bounces: no reminder, no escalation.
    assert [r.kind for r in sent if r.recipient == NATALIE] == []

    # Her items' owners hear at once (the next morning's tick), each once, naming her.
    with world.sessions() as s:
        natalie_id = s.scalars(select(m.Person.id).where(m.Person.email == NATALIE)).one()
        owners = set(
            s.scalars(
                select(m.Person.email)
                .join(m.Indicator, m.Indicator.owner_id == m.Person.id)
                .join(m.DataRequestItem, m.DataRequestItem.indicator_id == m.Indicator.id)
                .join(m.DataRequest, m.DataRequest.id == m.DataRequestItem.request_id)
                .where(m.DataRequest.person_id == natalie_id)
            )
        ) | set(
            s.scalars(
                select(m.Person.email)
                .join(m.Project, m.Project.owner_id == m.Person.id)
                .join(m.Milestone, m.Milestone.project_id == m.Project.id)
                .join(m.DataRequestItem, m.DataRequestItem.milestone_id == m.Milestone.id)
                .join(m.DataRequest, m.DataRequest.id == m.DataRequestItem.request_id)
                .where(m.DataRequest.person_id == natalie_id)
            )
        )
    bounced_escalations = [
        r for r in sent if r.kind == "escalation_owner" and "email bounces" in r.subject
    ]
    # One per owner and period (her June return and her Q1 return are separate requests
    # until part 1 merges a person's mail of one day), never repeated.
    per_period = Counter((r.recipient, r.period_id) for r in bounced_escalations)
    assert owners and {owner for owner, _ in per_period} == owners
    assert set(per_period.values()) == {1}
    with world.sessions() as s:
        june = s.scalars(select(m.Period.id).where(m.Period.code == "2026-06")).one()
    for row in bounced_escalations:
        assert row.created_at.date() == date(2026, 7, 2)
        text = _text(row)
        assert "Natalie Price" in text and "refuses our mail" in text
        assert "Sent: the request on " in text
        if row.period_id == june:
            assert "Sent: the request on 1 July 2026; no reminder" in text
        assert "550 5.1.1" in text  # the server's reason, for the owner to act on
    assert june in {row.period_id for row in bounced_escalations}

    # Kevin is chased as before, and his owner's escalation says what he was really sent.
    kevin_reminders = sorted(
        r.created_at.astimezone(LOCAL_TZ).date()
        for r in sent
        if r.recipient == KEVIN and r.kind == "reminder" and r.period_id == june
    )
    assert kevin_reminders == [date(2026, 7, 9), date(2026, 7, 13)]
    [to_mark] = [
        r
        for r in sent
        if r.recipient == MARK
        and r.kind == "escalation_owner"
        and r.period_id == june
        and "overdue" in r.subject.lower()
    ]
    text = _text(to_mark)
    assert "Sent: the request on 1 July 2026; 2 reminders on 9 July 2026, 13 July 2026" in text
    assert "has had the request and reminders" not in text


def test_a_reply_from_the_address_clears_its_bounce_state(world: PipelineWorld) -> None:
    request = world.request_raw(NATALIE, "2026-06")
    bounced_at = _morning(date(2026, 7, 1)) + timedelta(hours=1)
    world.ingest(clients.dsn_bounce(request, NATALIE), at=bounced_at)
    replied = world.ingest(
        clients.phone(request, f"Natalie Price <{NATALIE}>", "ST04.1: 41"),
        at=bounced_at + timedelta(days=3),
    )
    assert replied.state == "processed", replied
    with world.sessions() as s:
        natalie = s.scalars(select(m.Person).where(m.Person.email == NATALIE)).one()
        assert natalie.mail_failing_since is None and natalie.mail_failure_reason is None
    _tick_days(world.sessions, date(2026, 7, 5), date(2026, 7, 13))
    reminders = [
        r for r in _mail(world, bounced_at) if r.recipient == NATALIE and r.kind == "reminder"
    ]
    assert [r.created_at.astimezone(LOCAL_TZ).date() for r in reminders] == [
        date(2026, 7, 9),
        date(2026, 7, 13),
    ]
