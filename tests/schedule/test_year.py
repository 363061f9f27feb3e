"""A whole reporting year with the clock: exactly the mail the timetable implies.

The expected counts are worked out here from the register files and the timetable's dates,
independently of how ``tick`` finds people and items; the tick then runs every day at
09:00 from April 2026 to June 2027, and some returns arrive along the way.
"""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import LOCAL_TZ, as_utc
from mailcapture.db import models as m
from mailcapture.db.periods import PeriodStore
from mailcapture.domain.enums import Frequency, MilestoneStatus, SubmissionSource, SubmissionState
from mailcapture.domain.frequency import COLLECTED_KIND
from mailcapture.domain.periods import Period, parse_period
from mailcapture.register.model import Register
from mailcapture.register.validate import load_register
from mailcapture.schedule.tick import tick
from mailcapture.schedule.timetable import Timetable, load_timetable
from tests.conftest import CONFIG_DIR, SampleRegister

START = date(2026, 4, 1)
END = date(2027, 6, 30)
KEVIN = "kevin.walsh@ashdown.example"
AMY = "amy.lawson@ashdown.example"
#: Returns that arrive during the year: (when, person, period, item codes).
RETURNS = [
    (datetime(2026, 5, 5, 12, 0), KEVIN, "2026-04", {"BV8a.1", "BV8a.2", "P09.M0"}),
]


@dataclass(frozen=True)
class Item:
    code: str
    owner: str
    head: str
    is_milestone: bool


@functools.cache
def _register() -> Register:
    return load_register(CONFIG_DIR)


def _items_by_person(period: Period) -> dict[str, list[Item]]:
    """From the register files: who is asked for what in ``period``."""
    reg = _register()
    frequency = {v: k for k, v in COLLECTED_KIND.items()}[period.kind]
    items: dict[str, list[Item]] = defaultdict(list)
    for indicator in reg.indicators:
        if indicator.frequency is not frequency:
            continue
        for component in reg.components:
            if component.declared_by == indicator.code:
                for updater in indicator.updaters:
                    items[updater].append(
                        Item(component.code, indicator.owner, indicator.escalation_owner, False)
                    )
    if frequency is Frequency.MONTHLY:
        for project in reg.projects:
            if project.start and project.start > period.end:
                continue
            if project.completed and project.completed < period.start:
                continue
            for ms in project.milestones:
                live = ms.is_overall or (
                    (ms.start is None or ms.start <= period.end)
                    and not (ms.completed and ms.completed < period.start)
                )
                if live:
                    items[project.updater].append(
                        Item(ms.code, project.owner, project.escalation_owner, True)
                    )
    return items


def _history() -> set[tuple[str, str]]:
    return {(h.component, h.period.code) for h in _register().history}


def _expected(timetable: Timetable) -> Counter[str]:
    start = as_utc(datetime.combine(START, time(0, 0), tzinfo=LOCAL_TZ))
    end = as_utc(datetime.combine(END, time(23, 59), tzinfo=LOCAL_TZ))
    history = _history()
    returned_at = {
        (person, period, code): as_utc(when)
        for when, person, period, codes in RETURNS
        for code in codes
    }
    counts: Counter[str] = Counter()
    for frequency in timetable.rules:
        first = parse_period("2025/26").months()[0] if frequency is Frequency.MONTHLY else None
        period = first or (
            parse_period("2025/26 Q1")
            if frequency is Frequency.QUARTERLY
            else parse_period("2025/26")
        )
        while period.start < END:
            dates = timetable.dates(frequency, period)
            period_items = _items_by_person(period)
            if not start <= dates.request_at <= end:
                period = period.next()
                continue

            def pending(
                person: str, at: datetime, items: list[Item], period_code: str = period.code
            ) -> list[Item]:
                return [
                    i
                    for i in items
                    if (i.code, period_code) not in history
                    and not (returned_at.get((person, period_code, i.code), end) <= at)
                ]

            requested = {
                p: items for p, items in period_items.items() if pending(p, dates.request_at, items)
            }
            counts["request"] += len(requested)
            for when in dates.reminders:
                if when <= end:
                    counts["reminder"] += sum(
                        1 for p, items in requested.items() if pending(p, when, items)
                    )
            for level, when in dates.escalations:
                if when <= end:
                    targets = {
                        (i.owner if level == "owner" else i.head)
                        for p, items in requested.items()
                        for i in pending(p, when, items)
                    }
                    counts[f"escalation_{'owner' if level == 'owner' else 'head'}"] += len(targets)
            if requested and dates.summary_at <= end:
                counts["returns_summary"] += 1
            period = period.next()
    return counts


def _record_return(
    session: Session, email: str, period_code: str, codes: set[str], when: datetime
) -> None:
    """Store values as the capture pipeline will: current, accepted, from the person."""
    person = session.scalars(select(m.Person).where(m.Person.email == email)).one()
    period = PeriodStore(session).get(parse_period(period_code))
    for code in codes:
        component = session.scalar(select(m.Component).where(m.Component.code == code))
        if component is not None:
            session.add(
                m.ComponentValue(
                    component_id=component.id,
                    period_id=period.id,
                    state=SubmissionState.ACCEPTED,
                    value=Decimal(10),
                    submitted_by_id=person.id,
                    source=SubmissionSource.EMAIL,
                    received_at=as_utc(when),
                    is_current=True,
                )
            )
            continue
        milestone = session.scalars(select(m.Milestone).where(m.Milestone.code == code)).one()
        session.add(
            m.MilestoneUpdate(
                milestone_id=milestone.id,
                period_id=period.id,
                state=SubmissionState.ACCEPTED,
                status=MilestoneStatus.ON_TRACK,
                submitted_by_id=person.id,
                source=SubmissionSource.EMAIL,
                received_at=as_utc(when),
                is_current=True,
            )
        )


@pytest.mark.slow
def test_a_year_of_ticks_queues_exactly_what_the_timetable_implies(
    sessions: sessionmaker[Session], sample_register: SampleRegister
) -> None:
    sample_register.load(sessions, as_utc(datetime(2026, 3, 20, 12, 0)))
    with sessions() as session:
        expected = _expected(load_timetable(session))
    pending_returns = sorted(RETURNS)
    day = START
    while day <= END:
        now = as_utc(datetime.combine(day, time(9, 0), tzinfo=LOCAL_TZ))
        while pending_returns and as_utc(pending_returns[0][0]) <= now:
            when, email, period_code, codes = pending_returns.pop(0)
            with sessions.begin() as session:
                _record_return(session, email, period_code, codes, when)
        tick(sessions, now)
        if day.day == 15:  # a second tick the same day changes nothing
            assert tick(sessions, now + timedelta(minutes=1)).total == 0
        day += timedelta(days=1)

    with sessions() as session:
        actual = Counter(
            dict(
                session.execute(
                    select(m.OutboxMessage.kind, func.count())
                    .where(m.OutboxMessage.kind.not_like("report_%"))  # test_year_reports.py
                    # Follow the figures (history's red March 2026), not the timetable alone:
                    # tests/schedule/test_commentary_chase.py.
                    .where(m.OutboxMessage.kind != "owner_commentary_reminder")
                    .group_by(m.OutboxMessage.kind)
                ).all()
            )
        )
        assert actual == expected
        assert expected["request"] > 60 and expected["reminder"] > 100
        assert expected["escalation_owner"] > 20 and expected["escalation_head"] > 20
        # Kevin returned April on 5 May: no reminder or escalation names his April items.
        kevin = session.scalars(select(m.Person).where(m.Person.email == KEVIN)).one()
        april = session.scalars(select(m.Period).where(m.Period.code == "2026-04")).one()
        request = session.scalars(
            select(m.DataRequest).where(
                m.DataRequest.person_id == kevin.id, m.DataRequest.period_id == april.id
            )
        ).one()
        chases = session.scalars(
            select(m.RequestChase).where(m.RequestChase.request_id == request.id)
        ).all()
        assert chases == []
        assert request.state.value == "complete"
        escalations = session.scalars(
            select(m.OutboxMessage).where(
                m.OutboxMessage.period_id == april.id, m.OutboxMessage.kind.like("escalation%")
            )
        ).all()
        assert escalations and all(b"BV8a.1" not in e.raw for e in escalations)
