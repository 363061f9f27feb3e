"""Locking and unlocking a period: the performance team closes it once it is signed off.

A locked period accepts nothing more by email (the inbound pipeline and this module ask
:func:`mailcapture.db.locks.lock_in_force`: the period's own lock, else its quarter's or
year's); this module writes the rows.
The rules are the framework's: only the performance team locks or unlocks; a period is
locked only when every indicator value in it is signed off, unless the lock is forced
with a reason (a value that will never be signed off must not hold the year open); and
nothing is deleted: unlocking stamps the lock with who and when and keeps its history,
so the record of what was closed when survives a reopening.

Decisions worth knowing:

* "Every indicator value signed off" means: no indicator that has a value for the
  period is still provisional (see :func:`mailcapture.reports.queries.indicator_values`).
  An indicator with no value has nothing to sign off.
* The lock row has one ``reason`` column; the reason for unlocking is appended to it
  (``locked: ...`` / ``unlocked: ...``) rather than lost.
* Locking a period that is already locked (itself, or through its quarter or year) is
  not an error: it says so and changes nothing, so a script may run it twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailcapture.clock import LOCAL_TZ
from mailcapture.db import models as m
from mailcapture.db.locks import lock_in_force
from mailcapture.db.periods import PeriodStore
from mailcapture.domain.enums import Role
from mailcapture.domain.periods import Period
from mailcapture.errors import UserError
from mailcapture.reports.queries import indicator_values
from mailcapture.reports.values import PROVISIONAL


class LockRefused(UserError, ValueError):
    """The lock or unlock was not made; the message is one line for the user."""


@dataclass(frozen=True)
class LockOutcome:
    changed: bool
    message: str


def _team_member(session: Session, email: str, action: str) -> m.Person:
    person = session.scalar(
        select(m.Person).where(func.lower(m.Person.email) == email.strip().casefold())
    )
    if person is None or person.retired_at is not None:
        raise LockRefused(f"{email} is not a person in the register")
    if Role.PERFORMANCE_TEAM not in person.role_set:
        raise LockRefused(
            f"refused: only the performance team may {action} a period; {person.email} is not in it"
        )
    return person


def not_signed_off(session: Session, period: Period) -> list[str]:
    """Codes of indicators with a value for ``period`` that is still provisional."""
    return [
        row.code
        for row in indicator_values(session, period)
        if row.value is not None and PROVISIONAL in row.flags
    ]


def _describe(session: Session, lock: m.PeriodLock) -> str:
    period = session.get_one(m.Period, lock.period_id)
    who = session.get(m.Person, lock.locked_by_id) if lock.locked_by_id else None
    when = lock.locked_at.astimezone(LOCAL_TZ)
    by = f" by {who.name}" if who else ""
    return f"{period.code} on {when:%Y-%m-%d %H:%M}{by}"


def lock_period(
    session: Session,
    period: Period,
    *,
    by: str,
    now: datetime,
    reason: str | None = None,
    force: bool = False,
) -> LockOutcome:
    """Lock ``period`` for ``by`` (performance team), or raise :class:`LockRefused`."""
    person = _team_member(session, by, "lock")
    row = PeriodStore(session).get(period)
    existing = lock_in_force(session, period)
    if existing is not None:
        return LockOutcome(
            False, f"{period.code} is already locked ({_describe(session, existing)})"
        )
    reason = " ".join((reason or "").split()) or None
    if force and reason is None:
        raise LockRefused("--force needs a reason (--reason) saying why the period is closed")
    pending = not_signed_off(session, period)
    if pending and not force:
        shown = ", ".join(pending[:10]) + (
            f" and {len(pending) - 10} more" if len(pending) > 10 else ""
        )
        raise LockRefused(
            f"refused: {len(pending)} indicator value(s) for {period.code} not signed off "
            f"({shown}); lock anyway with --force --reason TEXT"
        )
    text = f"locked: {reason}" if reason else None
    if force and pending:
        text = f"locked with {len(pending)} value(s) not signed off: {reason}"
    session.add(m.PeriodLock(period_id=row.id, locked_at=now, locked_by_id=person.id, reason=text))
    session.flush()
    return LockOutcome(True, f"{period.code} locked by {person.name}")


def unlock_period(
    session: Session, period: Period, *, by: str, reason: str, now: datetime
) -> LockOutcome:
    """Lift the lock on ``period`` (kept, stamped), or raise :class:`LockRefused`."""
    person = _team_member(session, by, "unlock")
    reason = " ".join(reason.split())
    if not reason:
        raise LockRefused("unlocking needs a reason (--reason)")
    row = PeriodStore(session).find(period)
    existing = lock_in_force(session, period)
    if existing is None:
        return LockOutcome(False, f"{period.code} is not locked")
    if row is None or existing.period_id != row.id:
        raise LockRefused(
            f"{period.code} is locked through {_describe(session, existing)}; "
            "unlock that period instead"
        )
    existing.unlocked_at = now
    existing.unlocked_by_id = person.id
    existing.reason = "; ".join(p for p in (existing.reason, f"unlocked: {reason}") if p)
    session.flush()
    return LockOutcome(True, f"{period.code} unlocked by {person.name}")


def locks_in_force(session: Session) -> list[str]:
    """One line per lock in force, for ``mailcapture status``."""
    locks = session.scalars(
        select(m.PeriodLock).where(m.PeriodLock.unlocked_at.is_(None)).order_by(m.PeriodLock.id)
    ).all()
    return [_describe(session, lock) for lock in locks]
