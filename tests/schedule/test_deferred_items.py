""" "Not available until DATE" keeps the item outstanding: asked again on the date, then chased.

Observed with the sample register (issue 15): Kevin answered his June 2026 return with
``BV8a.1: n/a until 8 July``; the date was stored but BV8a.1 was never asked for again,
and was missing from the 13 July reminder. Here Kevin answers his real June request
through the pipeline, the tick runs every morning at 09:00 as the service would, and the
mail that follows is read back from the outbox.

June's timetable (sample register): requested Wednesday 1 July, due Tuesday 14 July 5pm,
reminders 9 and 13 July, returns summary 15 July, escalations 16 July (owner) and
21 July (head of service).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import LOCAL_TZ, as_utc
from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.domain.enums import Frequency
from mailcapture.domain.periods import parse_period
from mailcapture.domain.workdays import WorkingCalendar
from mailcapture.schedule.tick import tick
from mailcapture.schedule.timetable import Rule, Timetable
from tests.conftest import SampleRegister
from tests.mailflow.world import PipelineWorld

KEVIN_EMAIL = "kevin.walsh@ashdown.example"
KEVIN = f"Kevin Walsh <{KEVIN_EMAIL}>"
MARK_EMAIL = "mark.ellison@ashdown.example"  # owns BV8a
RICHARD_EMAIL = "richard.okafor@ashdown.example"  # BV8a's head of service
JUNE = "2026-06"


@pytest.fixture
def world(sessions: sessionmaker[Session], sample_register: SampleRegister) -> PipelineWorld:
    """The sample register, ticked every morning from 1 June to 1 July 2026 (June requested)."""
    sample_register.load(sessions, as_utc(datetime(2026, 5, 20, 12, 0)))
    _tick_days(sessions, date(2026, 6, 1), date(2026, 7, 1))
    return PipelineWorld(sessions)


def _morning(day: date) -> datetime:
    return as_utc(datetime.combine(day, time(9, 0), tzinfo=LOCAL_TZ))


def _tick_days(sessions: sessionmaker[Session], first: date, last: date) -> None:
    day = first
    while day <= last:
        tick(sessions, _morning(day))
        day += timedelta(days=1)


def _answer(world: PipelineWorld, raw_request: bytes, answers: dict[str, str], day: date) -> None:
    when = as_utc(datetime.combine(day, time(11, 30), tzinfo=LOCAL_TZ))
    raw = clients.outlook_in_place(raw_request, KEVIN, answers, when=when)
    result = world.ingest(raw, at=when)
    assert result.outcome == "applied", result


def _mail(world: PipelineWorld, *recipients: str) -> list[tuple[str, date, str]]:
    """(kind, local day queued, plain text) of June's emails to ``recipients``, in order."""
    with world.sessions() as s:
        rows = s.scalars(
            select(m.OutboxMessage)
            .join(m.Period, m.Period.id == m.OutboxMessage.period_id)
            .where(m.Period.code == JUNE, m.OutboxMessage.recipient.in_(recipients))
            .order_by(m.OutboxMessage.id)
        ).all()
        return [
            (
                r.kind,
                r.created_at.astimezone(LOCAL_TZ).date(),
                clients.plain_text(clients.parsed(r.raw)),
            )
            for r in rows
        ]


def _summary(world: PipelineWorld) -> str:
    with world.sessions() as s:
        raw = s.scalars(
            select(m.OutboxMessage.raw)
            .join(m.Period, m.Period.id == m.OutboxMessage.period_id)
            .where(m.Period.code == JUNE, m.OutboxMessage.kind == "returns_summary")
        ).one()
    return clients.plain_text(clients.parsed(raw))


def _kevins_block(text: str, heading: str) -> str:
    """Kevin's lines under ``heading`` in the returns summary ('' when he is not there)."""
    if heading not in text:
        return ""
    section = text.split(heading, 1)[1]
    for other in ("Promised for a later date:", "Still outstanding:"):
        if other != heading:
            section = section.split(other, 1)[0]
    blocks = section.strip().split("\n\n")
    return next((b for b in blocks if KEVIN_EMAIL in b), "")


def _current(world: PipelineWorld, code: str) -> tuple[str, Decimal | None, date | None]:
    with world.sessions() as s:
        row = s.scalars(
            select(m.ComponentValue)
            .join(m.Component)
            .join(m.Period, m.Period.id == m.ComponentValue.period_id)
            .where(m.Component.code == code, m.Period.code == JUNE, m.ComponentValue.is_current)
        ).one()
        return row.state.value, row.value, row.available_from


def test_promised_before_the_deadline_it_is_asked_again_that_day_and_chased_with_the_period(
    world: PipelineWorld, sessions: sessionmaker[Session]
) -> None:
    june = world.request_raw(KEVIN_EMAIL, JUNE)
    _answer(
        world,
        june,
        {
            "BV8a.1": "n/a until 8 July",
            "BV8a.2": "1,234",
            "P09.M0": "on track",
            "P09.M2": "on track",
        },
        date(2026, 7, 2),
    )
    assert _current(world, "BV8a.1") == ("not_available", None, date(2026, 7, 8))
    _tick_days(sessions, date(2026, 7, 2), date(2026, 7, 24))

    kevin = _mail(world, KEVIN_EMAIL)
    chase = [(kind, day) for kind, day, _ in kevin if kind != "confirmation"]
    assert chase == [
        ("request", date(2026, 7, 1)),
        ("deferred_request", date(2026, 7, 8)),
        ("reminder", date(2026, 7, 9)),
        ("reminder", date(2026, 7, 13)),
    ]
    asked_again = next(text for kind, _, text in kevin if kind == "deferred_request")
    assert "[BV8a.1]" in asked_again and "BV8a.2" not in asked_again
    assert "would not be available until Wednesday 8 July 2026" in asked_again
    assert max(len(line) for line in asked_again.splitlines()) <= 78
    for kind, day, text in kevin:
        if kind == "reminder":  # the 13 July reminder the issue found without it
            assert "[BV8a.1]" in text and "[BV8a.2]" not in text, day

    # Past the deadline it is missing: summary, then the owner and the head of service.
    owed = _kevins_block(_summary(world), "Still outstanding:")
    assert "BV8a.1" in owed and "(promised for 8 July 2026)" in owed
    assert _kevins_block(_summary(world), "Promised for a later date:") == ""
    escalations = [
        (kind, day)
        for kind, day, text in _mail(world, MARK_EMAIL, RICHARD_EMAIL)
        if kind.startswith("escalation") and "BV8a.1" in text
    ]
    assert escalations == [
        ("escalation_owner", date(2026, 7, 16)),
        ("escalation_head", date(2026, 7, 21)),
    ]


def test_promised_after_the_deadline_it_is_shown_as_promised_then_gets_its_own_round(
    world: PipelineWorld, sessions: sessionmaker[Session]
) -> None:
    june = world.request_raw(KEVIN_EMAIL, JUNE)
    # Saturday 18 July: asked again on the next working day, Monday 20 July.
    _answer(
        world,
        june,
        {
            "BV8a.1": "not available until 18 July",
            "BV8a.2": "1,234",
            "P09.M0": "on track",
            "P09.M2": "on track",
        },
        date(2026, 7, 2),
    )
    _tick_days(sessions, date(2026, 7, 2), date(2026, 7, 19))

    # Nothing outstanding before its day: no reminder, no escalation, promised in the summary.
    assert [k for k, _, _ in _mail(world, KEVIN_EMAIL) if k != "confirmation"] == ["request"]
    assert not [
        kind
        for kind, _, text in _mail(world, MARK_EMAIL, RICHARD_EMAIL)
        if kind.startswith("escalation") and "BV8a.1" in text
    ]
    summary = _summary(world)
    promised = _kevins_block(summary, "Promised for a later date:")
    assert "BV8a.1" in promised and "(promised for 18 July 2026)" in promised
    assert "BV8a.1" not in _kevins_block(summary, "Still outstanding:")

    # Its own round from Monday 20 July: due 31 July, reminders 28 and 30 July,
    # escalations 4 August (owner) and 7 August (head of service).
    _tick_days(sessions, date(2026, 7, 20), date(2026, 8, 12))
    chase = [(kind, day) for kind, day, _ in _mail(world, KEVIN_EMAIL) if kind != "confirmation"]
    assert chase == [
        ("request", date(2026, 7, 1)),
        ("deferred_request", date(2026, 7, 20)),
        ("reminder", date(2026, 7, 28)),
        ("reminder", date(2026, 7, 30)),
    ]
    asked_again = next(t for k, _, t in _mail(world, KEVIN_EMAIL) if k == "deferred_request")
    assert "Friday 31 July 2026, 5pm" in asked_again
    escalations = [
        (kind, day, "(promised for 18 July 2026)" in text)
        for kind, day, text in _mail(world, MARK_EMAIL, RICHARD_EMAIL)
        if kind.startswith("escalation") and "BV8a.1" in text
    ]
    assert escalations == [
        ("escalation_owner", date(2026, 8, 4), True),
        ("escalation_head", date(2026, 8, 7), True),
    ]
    # The same morning again queues nothing.
    assert tick(sessions, _morning(date(2026, 8, 7)) + timedelta(minutes=1)).total == 0


def test_the_figure_sent_in_answer_to_the_second_request_ends_the_chase(
    world: PipelineWorld, sessions: sessionmaker[Session]
) -> None:
    june = world.request_raw(KEVIN_EMAIL, JUNE)
    _answer(
        world,
        june,
        {
            "BV8a.1": "n/a until 20 July",
            "BV8a.2": "1,234",
            "P09.M0": "on track",
            "P09.M2": "on track",
        },
        date(2026, 7, 2),
    )
    _tick_days(sessions, date(2026, 7, 2), date(2026, 7, 28))
    with sessions() as s:
        asked_again = s.scalars(
            select(m.OutboxMessage.raw).where(
                m.OutboxMessage.kind == "deferred_request",
                m.OutboxMessage.recipient == KEVIN_EMAIL,
            )
        ).one()
    # Answered on the form of the second request, after the first reminder.
    _answer(world, asked_again, {"BV8a.1": "1,250"}, date(2026, 7, 29))
    assert _current(world, "BV8a.1") == ("accepted", Decimal("1250"), None)
    _tick_days(sessions, date(2026, 7, 29), date(2026, 8, 12))

    chase = [(kind, day) for kind, day, _ in _mail(world, KEVIN_EMAIL) if kind != "confirmation"]
    assert chase == [
        ("request", date(2026, 7, 1)),
        ("deferred_request", date(2026, 7, 20)),
        ("reminder", date(2026, 7, 28)),
    ]
    assert not [
        kind
        for kind, _, text in _mail(world, MARK_EMAIL, RICHARD_EMAIL)
        if kind.startswith("escalation") and "BV8a.1" in text
    ]
    with sessions() as s:
        request = s.scalars(
            select(m.DataRequest)
            .join(m.Person, m.Person.id == m.DataRequest.person_id)
            .join(m.Period, m.Period.id == m.DataRequest.period_id)
            .where(m.Person.email == KEVIN_EMAIL, m.Period.code == JUNE)
        ).one()
        assert request.state.value == "complete"


# ---- the promise's timetable, without a database ---------------------------------------

MONTHLY = Rule(
    frequency=Frequency.MONTHLY,
    request_working_day=1,
    request_time=time(9, 0),
    due_working_day=10,
    due_time=time(17, 0),
    reminders=(-3, -1),
    escalations=(("owner", 2), ("escalation_owner", 5)),
    summary_after=1,
)
TIMETABLE = Timetable([MONTHLY], WorkingCalendar([date(2026, 8, 31)]))  # summer bank holiday


def _local(when: datetime) -> tuple[date, time]:
    local = when.astimezone(LOCAL_TZ)
    return local.date(), local.time()


def test_a_promise_before_the_deadline_joins_the_periods_own_timetable() -> None:
    june = TIMETABLE.dates(Frequency.MONTHLY, parse_period(JUNE))
    when = TIMETABLE.deferred_dates(Frequency.MONTHLY, parse_period(JUNE), date(2026, 7, 8))
    assert when.joins_period
    assert _local(when.dates.request_at) == (date(2026, 7, 8), time(9, 0))
    assert when.dates.due_at == june.due_at
    # Only the period's reminders after the promised day; its escalations unchanged.
    assert [_local(r)[0] for r in when.dates.reminders] == [date(2026, 7, 9), date(2026, 7, 13)]
    assert when.dates.escalations == june.escalations
    later = TIMETABLE.deferred_dates(Frequency.MONTHLY, parse_period(JUNE), date(2026, 7, 10))
    assert [_local(r)[0] for r in later.dates.reminders] == [date(2026, 7, 13)]


def test_a_promise_for_a_holiday_after_the_deadline_starts_its_own_round_after_it() -> None:
    # Monday 31 August 2026 is a bank holiday: asked on Tuesday 1 September, due nine working
    # days later (as June's deadline is nine after its request), chased from that deadline.
    when = TIMETABLE.deferred_dates(Frequency.MONTHLY, parse_period(JUNE), date(2026, 8, 31))
    assert not when.joins_period
    assert _local(when.dates.request_at) == (date(2026, 9, 1), time(9, 0))
    assert _local(when.dates.due_at) == (date(2026, 9, 14), time(17, 0))
    assert [_local(r)[0] for r in when.dates.reminders] == [date(2026, 9, 9), date(2026, 9, 11)]
    assert [(to, _local(t)[0]) for to, t in when.dates.escalations] == [
        ("owner", date(2026, 9, 16)),
        ("escalation_owner", date(2026, 9, 21)),
    ]
