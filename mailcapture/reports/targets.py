"""Target changes: recording them with the authority they rest on, and reporting them.

A target is the council's promise to members; changing one mid-year without saying so
would make a red indicator quietly green. So every change made with ``mailcapture target
set`` is checked against the framework's authority table (who may approve it, see
:mod:`mailcapture.domain.authority`) and recorded as a :class:`TargetChange` with the old
and new value, the reason and the approver, and the next quarterly report lists the
changes not yet reported (:func:`target_changes_for`, then :func:`mark_reported`).

Decisions worth knowing:

* The *old* value is the target that applied to the period before the change, falling
  back from the period to its quarter to its year as reports do: setting a Q3 target
  where only a year target existed is a change from the year's figure, and a report
  should say so.
* A change counts as "reported for a period" when it was marked reported after that
  period ended and no later than the end of the next period of the same kind: re-running
  the Q1 report in August shows the same changes it showed in July, and the Q2 report
  does not repeat them. The end-of-year report (a year period) lists every change to
  the year's targets, reported before or not: it is the record of the year.
* A new target without ``--tolerance`` keeps the indicator's default tolerance; an
  existing target keeps its own.
* **Locks cover targets.** A locked period's figures are signed off and reported; its
  RAG status must not move afterwards, so a change is refused (nothing written, the lock
  named, as a value for a locked period is) when it would change the target that applies
  to a locked period: the period itself is locked (or its quarter or year is), or a
  locked period inside it has no target of its own between it and this one (a year's
  target is April's target when April and Q1 have none). ``unlock`` reopens targets and
  values alike; the refusal says which period to unlock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, aliased

from mailcapture.db import models as m
from mailcapture.db.locks import lock_in_force, lock_reason, locks_within
from mailcapture.db.periods import PeriodStore
from mailcapture.domain.authority import (
    allowed_kinds,
    approver_kinds,
    authority_for,
    refusal,
    target_change_kind,
)
from mailcapture.domain.enums import ApproverKind, ToleranceKind
from mailcapture.domain.periods import Period, PeriodError, PeriodKind, parse_period, periods_within
from mailcapture.errors import UserError


class TargetError(UserError, ValueError):
    """A target change that cannot be recorded; the message is one line for the user."""


@dataclass(frozen=True)
class TargetChangeItem:
    """One recorded target change, as a report shows it."""

    code: str
    period: str
    old: Decimal | None
    new: Decimal | None
    reason: str
    approved_by: str
    authority: str
    recorded_at: datetime
    id: int = 0
    reported_at: datetime | None = None


# ------------------------------------------------------------------------- reporting


def target_changes_for(session: Session, period: Period) -> list[TargetChangeItem]:
    """Target changes for ``period``'s financial year not yet reported (or reported for it).

    For a year, every change to that year's targets.
    """
    window_end = _next_end(period)
    reported_here = m.TargetChange.reported_at > _end_of(period.end)
    if window_end is not None:
        reported_here = reported_here & (m.TargetChange.reported_at <= _end_of(window_end))
    query = (
        _changes_query()
        .where(m.Period.fy == period.fy)
        .order_by(m.TargetChange.recorded_at, m.TargetChange.id)
    )
    if period.kind is not PeriodKind.YEAR:
        query = query.where(or_(m.TargetChange.reported_at.is_(None), reported_here))
    return [_item(*row) for row in session.execute(query)]


def mark_reported(session: Session, changes: Iterable[TargetChangeItem], now: datetime) -> int:
    """Stamp the changes not yet reported as reported ``now``; returns how many were."""
    ids = [c.id for c in changes if c.reported_at is None]
    if not ids:
        return 0
    rows = session.scalars(
        select(m.TargetChange).where(
            m.TargetChange.id.in_(ids), m.TargetChange.reported_at.is_(None)
        )
    ).all()
    for row in rows:
        row.reported_at = now
    session.flush()
    return len(rows)


def changes_recorded(session: Session, period: Period | None = None) -> list[TargetChangeItem]:
    """Every recorded target change, oldest first; with ``period``, the changes to targets
    for it and for the periods inside it (a quarter's months), as ``--period`` means."""
    query = _changes_query().order_by(m.TargetChange.recorded_at, m.TargetChange.id)
    if period is not None:
        query = query.where(m.Period.code.in_([p.code for p in periods_within(period)]))
    return [_item(*row) for row in session.execute(query)]


if TYPE_CHECKING:  # SQLAlchemy 2.1's form; only the checker reads it
    #: A recorded change as :func:`_item` takes it: id, indicator, period, old and new
    #: value, reason, approver, authority, when recorded and when reported.
    _ChangeQuery = Select[
        int,
        str,
        str,
        Decimal | None,
        Decimal | None,
        str,
        str,
        ApproverKind,
        datetime,
        datetime | None,
    ]


def _changes_query() -> _ChangeQuery:
    approver = aliased(m.Person)
    return (
        select(
            m.TargetChange.id,
            m.Indicator.code,
            m.Period.code,
            m.TargetChange.old_value,
            m.TargetChange.new_value,
            m.TargetChange.reason,
            approver.name,
            m.TargetChange.authority,
            m.TargetChange.recorded_at,
            m.TargetChange.reported_at,
        )
        .join(m.Indicator, m.Indicator.id == m.TargetChange.indicator_id)
        .join(m.Period, m.Period.id == m.TargetChange.period_id)
        .join(approver, approver.id == m.TargetChange.approved_by_id)
    )


def _item(
    change_id: int,
    code: str,
    period: str,
    old: Decimal | None,
    new: Decimal | None,
    reason: str,
    approver: str,
    authority: ApproverKind,
    recorded_at: datetime,
    reported_at: datetime | None,
) -> TargetChangeItem:
    return TargetChangeItem(
        code,
        period,
        old,
        new,
        reason,
        approver,
        str(authority),
        recorded_at,
        change_id,
        reported_at,
    )


def _next_end(period: Period) -> date | None:
    try:
        return period.next().end
    except PeriodError:
        return None


def _end_of(day: date) -> datetime:
    """The first instant after ``day`` (UTC), for comparing stamps with period ends."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


# ------------------------------------------------------------------------- recording


@dataclass(frozen=True)
class Tolerance:
    value: Decimal
    kind: ToleranceKind


def parse_decimal(text: str, what: str) -> Decimal:
    cleaned = text.strip().replace(",", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise TargetError(f"{what} {text!r} is not a number") from None
    if not value.is_finite():
        raise TargetError(f"{what} {text!r} is not a number")
    return value


def parse_tolerance(text: str) -> Tolerance:
    """``2`` is an absolute tolerance; ``10%`` a percentage of the target."""
    stripped = text.strip()
    if stripped.endswith("%"):
        kind, stripped = ToleranceKind.PERCENT, stripped[:-1]
    else:
        kind = ToleranceKind.ABSOLUTE
    value = parse_decimal(stripped, "tolerance")
    if value < 0:
        raise TargetError(f"tolerance {text!r} cannot be negative")
    return Tolerance(value, kind)


def set_target(
    session: Session,
    code: str,
    period: Period,
    value: Decimal,
    *,
    reason: str,
    approved_by: str,
    now: datetime,
    tolerance: Tolerance | None = None,
) -> TargetChangeItem:
    """Check the approver's authority, then update or create the target and record the change.

    Raises :class:`TargetError` (nothing written) when the indicator or person is unknown,
    the reason is empty, or the approver may not approve this kind of change.
    """
    if not reason.strip():
        raise TargetError("a target change needs a reason (--reason)")
    indicator = session.scalar(
        select(m.Indicator).where(func.lower(m.Indicator.code) == code.strip().casefold())
    )
    if indicator is None:
        raise TargetError(f"unknown indicator {code!r}")
    person = session.scalar(
        select(m.Person).where(func.lower(m.Person.email) == approved_by.strip().casefold())
    )
    if person is None or person.retired_at is not None:
        raise TargetError(f"{approved_by} is not a person in the register")

    locked = lock_refusal(session, indicator, period)
    if locked is not None:
        raise TargetError(locked)

    change = target_change_kind(period)
    department = indicator.service_area.department
    head = session.scalar(
        select(m.Person)
        .join(m.DepartmentHead, m.DepartmentHead.person_id == m.Person.id)
        .where(m.DepartmentHead.department_id == department.id)
    )
    delegates = (
        list(
            session.scalars(
                select(m.Person)
                .join(m.Delegation, m.Delegation.delegate_id == m.Person.id)
                .where(m.Delegation.principal_id == head.id, m.Delegation.retired_at.is_(None))
                .order_by(m.Person.name)
            )
        )
        if head is not None
        else []
    )
    kinds = approver_kinds(
        roles=person.role_set,
        person_id=person.id,
        head_id=head.id if head else None,
        head_delegate_ids={d.id for d in delegates},
        owner_id=indicator.owner_id,
    )
    rules = session.execute(select(m.ApprovalRule.change_kind, m.ApprovalRule.approver_kind))
    allowed = allowed_kinds(change, [(c, a) for c, a in rules])
    authority = authority_for(kinds, allowed)
    if authority is None:
        holders = {ApproverKind.OWNER: indicator.owner.name}
        if head is not None:
            holders[ApproverKind.HEAD_OF_SERVICE] = f"{department.name}: {head.name}"
        if delegates:
            holders[ApproverKind.HEAD_OF_SERVICE_DELEGATE] = ", ".join(d.name for d in delegates)
        raise TargetError(refusal(change, indicator.code, allowed, holders, person.email, kinds))

    periods = PeriodStore(session)
    period_row = periods.get(period)
    old = _applying_target(session, indicator.id, period)
    target = session.scalar(
        select(m.Target).where(
            m.Target.indicator_id == indicator.id, m.Target.period_id == period_row.id
        )
    )
    if target is None:
        target = m.Target(
            indicator_id=indicator.id,
            period_id=period_row.id,
            value=value,
            tolerance=tolerance.value if tolerance else indicator.default_tolerance,
            tolerance_kind=tolerance.kind if tolerance else indicator.default_tolerance_kind,
            updated_at=now,
        )
        session.add(target)
    else:
        target.value = value
        if tolerance is not None:
            target.tolerance, target.tolerance_kind = tolerance.value, tolerance.kind
        target.updated_at = now
    record = m.TargetChange(
        change_kind=change,
        indicator_id=indicator.id,
        period_id=period_row.id,
        old_value=old,
        new_value=value,
        reason=" ".join(reason.split()),
        approved_by_id=person.id,
        authority=authority,
        recorded_at=now,
    )
    session.add(record)
    session.flush()
    return TargetChangeItem(
        indicator.code,
        period.code,
        old,
        value,
        record.reason,
        person.name,
        str(authority),
        now,
        record.id,
    )


def lock_refusal(session: Session, indicator: m.Indicator, period: Period) -> str | None:
    """Why ``indicator``'s target for ``period`` may not change (a lock), else None.

    See "Locks cover targets" in the module docstring: the period's own lock (or its
    quarter's or year's), else the first locked period inside it that takes this target
    because it has none of its own.
    """
    lock = lock_in_force(session, period)
    if lock is not None:
        closed = _locked_period(session, lock)
        return (
            f"refused: {lock_reason(session, lock)}; {indicator.code}'s target for "
            f"{period.code} was not changed: {_unlock_hint(closed)}"
        )
    inside = locks_within(session, period)
    if not inside:
        return None
    own = set(
        session.scalars(
            select(m.Period.code)
            .join(m.Target, m.Target.period_id == m.Period.id)
            .where(
                m.Target.indicator_id == indicator.id,
                m.Period.code.in_([p.code for p in periods_within(period)[1:]]),
            )
        )
    )
    for closed, lock in inside:
        between: list[str] = []
        candidate: Period | None = closed
        while candidate is not None and candidate != period:
            between.append(candidate.code)
            candidate = candidate.parent()
        if not own.intersection(between):
            return (
                f"refused: {lock_reason(session, lock)} and has no {indicator.code} target "
                f"of its own, so the {period.code} target is its target and its status would "
                f"change; nothing was changed: {_unlock_hint(closed)}"
            )
    return None


def _locked_period(session: Session, lock: m.PeriodLock) -> Period:
    return parse_period(session.get_one(m.Period, lock.period_id).code)


def _unlock_hint(closed: Period) -> str:
    """How to reopen it, with the period quoted when it has a space ("2026/27 Q1")."""
    code = f'"{closed.code}"' if " " in closed.code else closed.code
    return f"unlock {code} first (mailcapture unlock) if it must change"


def _applying_target(session: Session, indicator_id: int, period: Period) -> Decimal | None:
    """The target that applies to ``period``: its own, else its quarter's, else its year's."""
    chain: list[str] = []
    candidate: Period | None = period
    while candidate is not None:
        chain.append(candidate.code)
        candidate = candidate.parent()
    found = dict(
        session.execute(
            select(m.Period.code, m.Target.value)
            .join(m.Period, m.Period.id == m.Target.period_id)
            .where(m.Target.indicator_id == indicator_id, m.Period.code.in_(chain))
        ).all()
    )
    return next((found[c] for c in chain if c in found), None)


@dataclass(frozen=True)
class TargetLine:
    code: str
    period: str
    value: Decimal
    tolerance: Decimal | None
    tolerance_kind: ToleranceKind


def targets_listed(session: Session, period: Period | None = None) -> Sequence[TargetLine]:
    """Every target, by indicator code then period; with ``period``, the targets for it and
    for the periods inside it (a year's quarters and months), as ``--period`` means."""
    query = (
        select(
            m.Indicator.code,
            m.Period.code,
            m.Target.value,
            m.Target.tolerance,
            m.Target.tolerance_kind,
        )
        .join(m.Indicator, m.Indicator.id == m.Target.indicator_id)
        .join(m.Period, m.Period.id == m.Target.period_id)
        .order_by(m.Indicator.code, m.Period.start_date, m.Period.end_date.desc())
    )
    if period is not None:
        query = query.where(m.Period.code.in_([p.code for p in periods_within(period)]))
    return [TargetLine(*row) for row in session.execute(query)]
