"""Period locks: which lock applies, and that a locked period takes nothing by email.

A month is locked by its own lock or by its quarter's or year's; a lifted lock no longer
counts. Through the pipeline, a reply for a locked month has its value, its comment and its
general comment refused with the reason in the confirmation, and nothing current stored;
after unlocking, the same reply is taken.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import FixedClock, as_utc
from mailcapture.db import models as m
from mailcapture.db.locks import lock_for, lock_reason
from mailcapture.db.periods import PeriodStore
from mailcapture.demo import clients
from mailcapture.domain.periods import parse_period
from mailcapture.mailflow.pipeline import Pipeline
from mailcapture.mailflow.store import Envelope
from mailcapture.schedule.tick import tick
from tests.conftest import SampleRegister

KEVIN = "Kevin Walsh <kevin.walsh@ashdown.example>"


def _lock(session: Session, code: str, at: datetime) -> m.PeriodLock:
    period = PeriodStore(session).get(parse_period(code))
    lock = m.PeriodLock(period_id=period.id, locked_at=at)
    session.add(lock)
    session.flush()
    return lock


def test_which_lock_applies(sessions: sessionmaker[Session]) -> None:
    with sessions() as s, s.begin():
        store = PeriodStore(s)
        may, june, q1 = (store.get(parse_period(c)) for c in ("2026-05", "2026-06", "2026/27 Q1"))
        july = store.get(parse_period("2026-07"))
        assert lock_for(s, may) is None
        quarter = _lock(s, "2026/27 Q1", as_utc(datetime(2026, 7, 14, 16, 0)))
        assert lock_for(s, may) is quarter and lock_for(s, q1) is quarter
        assert lock_for(s, july) is None
        # The month's own lock is named before its quarter's.
        own = _lock(s, "2026-06", as_utc(datetime(2026, 7, 20, 9, 0)))
        assert lock_for(s, june) is own
        assert lock_reason(s, quarter) == (
            "Q1 2026/27 (Apr-Jun 2026) was locked by the performance team on 14 July 2026"
        )
        # Lifted locks do not count; a year's lock closes every month in it.
        quarter.unlocked_at = own.unlocked_at = as_utc(datetime(2026, 7, 21, 9, 0))
        s.flush()
        assert lock_for(s, may) is None and lock_for(s, june) is None
        year = _lock(s, "2026/27", as_utc(datetime(2027, 6, 1, 9, 0)))
        assert lock_for(s, july) is year


def test_locked_month_refuses_value_and_comments_until_unlocked(
    sessions: sessionmaker[Session], sample_register: SampleRegister
) -> None:
    sample_register.load(sessions, datetime(2026, 4, 20, 12, 0, tzinfo=UTC))
    tick(sessions, as_utc(datetime(2026, 5, 1, 9, 0)))
    with sessions() as s, s.begin():
        lock = _lock(s, "2026-04", as_utc(datetime(2026, 5, 4, 17, 0)))
        lock_id = lock.id
        request_raw = s.scalars(
            select(m.OutboxMessage.raw)
            .join(m.Person, m.Person.id == m.OutboxMessage.person_id)
            .where(
                m.OutboxMessage.kind == "request", m.Person.email == "kevin.walsh@ashdown.example"
            )
        ).one()
    pipeline = Pipeline(sessions, FixedClock(as_utc(datetime(2026, 5, 5, 9, 0))))
    top = "BV8a.1: 1,234\nBV8a.1 comment: Late invoices from the depot.\n\nFigures for April."
    result = pipeline.ingest(
        clients.gmail_top_posted(request_raw, KEVIN, top), Envelope(source="test")
    )
    assert result.outcome == "rejected", result
    with sessions() as s:
        current = s.scalars(select(m.ComponentValue).where(m.ComponentValue.is_current)).all()
        assert [v for v in current if v.source.value == "email"] == []
        assert s.scalars(select(m.Commentary)).all() == []
        confirmation = s.scalars(
            select(m.OutboxMessage).where(m.OutboxMessage.kind == "confirmation")
        ).one()
    text = " ".join(clients.plain_text(clients.parsed(confirmation.raw)).split())
    assert "April 2026 was locked by the performance team on 4 May 2026" in text
    assert "Late invoices from the depot." in text  # the refused comment, echoed back

    with sessions() as s, s.begin():
        s.get_one(m.PeriodLock, lock_id).unlocked_at = as_utc(datetime(2026, 5, 5, 9, 30))
    again = pipeline.ingest(
        clients.gmail_top_posted(
            request_raw, KEVIN, top, when=datetime(2026, 5, 5, 10, tzinfo=UTC)
        ),
        Envelope(source="test"),
    )
    assert again.outcome == "applied", again
    with sessions() as s:
        value = s.scalar(
            select(m.ComponentValue.value)
            .join(m.Component)
            .where(m.Component.code == "BV8a.1", m.ComponentValue.is_current)
            .join(m.Period, m.Period.id == m.ComponentValue.period_id)
            .where(m.Period.code == "2026-04")
        )
        assert value == Decimal(1234)
        assert len(s.scalars(select(m.Commentary)).all()) == 2
