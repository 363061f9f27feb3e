"""Period locks: once the performance team locks a period, nothing more is recorded for it.

One query, used by everything that asks "is this period closed?": the inbound pipeline
(values and statuses in :mod:`mailcapture.mailflow.apply`, sign-offs and commentary in
:mod:`mailcapture.mailflow.report_replies`) and the ``lock``/``unlock`` commands
(:mod:`mailcapture.reports.period_locks`). A period is locked when it, or a period that
contains it (a month's quarter or year, a quarter's year), has a lock that was not lifted.
Locking a quarter therefore also closes its months, which is what "Q1 is signed off"
means to the people who report on it. The chain is worked out from the period codes, so
the answer does not depend on how the period rows were linked when they were created.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailcapture.clock import LOCAL_TZ
from mailcapture.db import models as m
from mailcapture.domain.periods import Period, parse_period, periods_within

__all__ = ["lock_for", "lock_in_force", "lock_reason", "locks_within"]


def lock_in_force(session: Session, period: Period) -> m.PeriodLock | None:
    """The lock on ``period`` not lifted: its own, else its quarter's, else its year's."""
    chain: list[str] = []
    candidate: Period | None = period
    while candidate is not None:
        chain.append(candidate.code)
        candidate = candidate.parent()
    found: dict[str, m.PeriodLock] = {}
    for lock, code in session.execute(
        select(m.PeriodLock, m.Period.code)
        .join(m.Period, m.Period.id == m.PeriodLock.period_id)
        .where(m.Period.code.in_(chain), m.PeriodLock.unlocked_at.is_(None))
        .order_by(m.PeriodLock.id)
    ):
        found.setdefault(code, lock)
    return next((found[c] for c in chain if c in found), None)


def locks_within(session: Session, period: Period) -> list[tuple[Period, m.PeriodLock]]:
    """Locks in force on periods strictly inside ``period`` (its quarters and months), in
    report order.

    :func:`lock_in_force` answers "is this period closed?"; this answers "would a change
    made for the whole of ``period`` reach into a closed part of it?" -- a year's target,
    for instance, is also the target of every month that has none of its own, so changing
    it would change the status of a signed-off month.
    """
    inside = periods_within(period)[1:]
    if not inside:
        return []
    by_code = {p.code: p for p in inside}
    found: dict[str, m.PeriodLock] = {}
    for lock, code in session.execute(
        select(m.PeriodLock, m.Period.code)
        .join(m.Period, m.Period.id == m.PeriodLock.period_id)
        .where(m.Period.code.in_(list(by_code)), m.PeriodLock.unlocked_at.is_(None))
        .order_by(m.PeriodLock.id)
    ):
        found.setdefault(code, lock)
    return [(by_code[code], found[code]) for code in by_code if code in found]


def lock_for(session: Session, period: m.Period) -> m.PeriodLock | None:
    """:func:`lock_in_force` for a period row."""
    return lock_in_force(session, parse_period(period.code))


def lock_reason(session: Session, lock: m.PeriodLock) -> str:
    """'2026/27 Q1 was locked by the performance team on 14 July 2026', for the sender."""
    period = session.get_one(m.Period, lock.period_id)
    label = parse_period(period.code).label
    when = lock.locked_at.astimezone(LOCAL_TZ)
    return f"{label} was locked by the performance team on {when.day} {when:%B %Y}"
