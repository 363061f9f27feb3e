"""Period locks: once the performance team locks a period, nothing more is recorded for it.

One check, used for everything that arrives by email (values and statuses in
:mod:`mailcapture.mailflow.apply`, sign-offs and commentary in
:mod:`mailcapture.mailflow.report_replies`): a period is locked when it, or a period that
contains it (a month's quarter or year, a quarter's year), has a lock that was not lifted.
Locking a quarter therefore also closes its months, which is what "Q1 is signed off"
means to the people who report on it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailcapture.clock import LOCAL_TZ
from mailcapture.db import models as m
from mailcapture.domain.periods import parse_period

__all__ = ["lock_for", "lock_reason"]


def _with_ancestors(session: Session, period: m.Period) -> list[m.Period]:
    chain = [period]
    while chain[-1].parent_id is not None and len(chain) < 4:
        chain.append(session.get_one(m.Period, chain[-1].parent_id))
    return chain


def lock_for(session: Session, period: m.Period) -> m.PeriodLock | None:
    """The lock in force on ``period`` (its own, else its quarter's or year's), or None."""
    chain = _with_ancestors(session, period)
    locks = session.scalars(
        select(m.PeriodLock)
        .where(
            m.PeriodLock.period_id.in_([p.id for p in chain]),
            m.PeriodLock.unlocked_at.is_(None),
        )
        .order_by(m.PeriodLock.locked_at, m.PeriodLock.id)
    ).all()
    if not locks:
        return None
    # The period's own lock first, then the nearest containing period's.
    rank = {p.id: i for i, p in enumerate(chain)}
    return min(locks, key=lambda lock: rank[lock.period_id])


def lock_reason(session: Session, lock: m.PeriodLock) -> str:
    """'2026/27 Q1 was locked by the performance team on 14 July 2026', for the sender."""
    period = session.get_one(m.Period, lock.period_id)
    label = parse_period(period.code).label
    when = lock.locked_at.astimezone(LOCAL_TZ)
    return f"{label} was locked by the performance team on {when.day} {when:%B %Y}"
