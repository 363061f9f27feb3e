"""Exceptions for a period: what the management team has to look at.

One function, :func:`exceptions`, shared by the exception report email, the department
report (for one department) and the quarterly report to members (through
:mod:`.content`), so every report names the same indicators as exceptions.

Decisions worth knowing:

* **Red** is :attr:`Rag.RED` for the period as :func:`.queries.indicator_values` computes
  it (so an indicator that cannot be computed for the period, say a quarterly one in a
  month, is never red: it has no value).
* **Worsening for two periods running**: the direction of travel is "worsening" for the
  period *and* was "worsening" for the previous period of the same kind. One bad month is
  noise; two in a row is a trend. Neutral indicators (statistics) never worsen.
* **Overdue milestones** are judged at the end of the period, not at ``now``, so a report
  on a past period says what was overdue then: a milestone of a live project due on or
  before the period's last day, with no completion date on or before that day and no
  "complete" status in any update up to the period. The latest status sent is shown.
* **Missing returns** are items on data requests for the period (or for shorter periods
  inside it: a quarter's exceptions include its months' requests) whose due date has
  passed at ``now`` and which still have no current value or status. They are grouped by
  person and by the service area the item belongs to (the indicator's or the project's),
  which is where a head of service looks for them.
* A ``department`` code limits everything to that department's service areas.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailcapture.db import models as m
from mailcapture.domain.enums import MilestoneStatus
from mailcapture.domain.periods import Period, PeriodError
from mailcapture.forms.due import returned_keys
from mailcapture.reports.milestones import latest_statuses
from mailcapture.reports.queries import IndicatorRow, indicator_values
from mailcapture.reports.values import Rag, Trend


@dataclass(frozen=True)
class OverdueMilestone:
    code: str
    title: str
    project_code: str
    project_title: str
    department: str
    owner: str
    due: date
    #: The latest status sent up to the period ("delayed"), or None when none was sent.
    status: MilestoneStatus | None
    #: The period of that latest status.
    status_period: str | None


@dataclass(frozen=True)
class MissingReturn:
    """What one person still owes for one service area after the due date."""

    person_id: int
    person: str
    email: str
    department: str
    service_area: str
    period: str
    due_at: datetime
    #: Item codes as printed on the form (``BV8a.1``, ``P07.M0``).
    items: tuple[str, ...]


@dataclass(frozen=True)
class Exceptions:
    period: Period
    red: list[IndicatorRow] = field(default_factory=list)
    worsening: list[IndicatorRow] = field(default_factory=list)
    overdue_milestones: list[OverdueMilestone] = field(default_factory=list)
    missing_returns: list[MissingReturn] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.red or self.worsening or self.overdue_milestones or self.missing_returns)

    @property
    def count(self) -> int:
        return (
            len(self.red)
            + len(self.worsening)
            + len(self.overdue_milestones)
            + len(self.missing_returns)
        )


def exceptions(
    session: Session, period: Period, now: datetime, *, department: str | None = None
) -> Exceptions:
    """Red and twice-worsening indicators, overdue milestones and missing returns."""
    codes = _department_codes(session, department)
    rows = indicator_values(session, period, codes) if codes != [] else []
    red = [r for r in rows if r.rag is Rag.RED]
    worsening = _worsening_twice(session, period, rows)
    return Exceptions(
        period=period,
        red=red,
        worsening=worsening,
        overdue_milestones=_overdue_milestones(session, period, department),
        missing_returns=_missing_returns(session, period, now, department),
    )


def _department_codes(session: Session, department: str | None) -> list[str] | None:
    """Live indicator codes of the department, or None for every indicator."""
    if department is None:
        return None
    return list(
        session.scalars(
            select(m.Indicator.code)
            .join(m.ServiceArea, m.ServiceArea.id == m.Indicator.service_area_id)
            .join(m.Department, m.Department.id == m.ServiceArea.department_id)
            .where(m.Department.code == department, m.Indicator.retired_at.is_(None))
            .order_by(m.Indicator.code)
        )
    )


def _worsening_twice(
    session: Session, period: Period, rows: list[IndicatorRow]
) -> list[IndicatorRow]:
    candidates = [r for r in rows if r.trend is Trend.WORSENING]
    if not candidates:
        return []
    try:
        previous = period.previous()
    except PeriodError:
        return []
    before = {r.code: r for r in indicator_values(session, previous, [r.code for r in candidates])}
    return [r for r in candidates if before[r.code].trend is Trend.WORSENING]


def _overdue_milestones(
    session: Session, period: Period, department: str | None
) -> list[OverdueMilestone]:
    end = period.end
    query = (
        select(m.Milestone, m.Project, m.Department.code, m.Person.name)
        .join(m.Project, m.Project.id == m.Milestone.project_id)
        .join(m.ServiceArea, m.ServiceArea.id == m.Project.service_area_id)
        .join(m.Department, m.Department.id == m.ServiceArea.department_id)
        .join(m.Person, m.Person.id == m.Project.owner_id)
        .where(
            m.Milestone.retired_at.is_(None),
            m.Project.retired_at.is_(None),
            m.Milestone.due_date.is_not(None),
            m.Milestone.due_date <= end,
        )
        .order_by(m.Project.code, m.Milestone.code)
    )
    if department is not None:
        query = query.where(m.Department.code == department)
    candidates = [
        (milestone, project, dept, owner)
        for milestone, project, dept, owner in session.execute(query)
        if not (milestone.completed_on is not None and milestone.completed_on <= end)
        and not (project.completed_on is not None and project.completed_on <= end)
    ]
    if not candidates:
        return []
    latest = latest_statuses(session, [ms.id for ms, *_ in candidates], end)
    found = []
    for milestone, project, dept, owner in candidates:
        status, status_period, completed_on = latest.get(milestone.id, (None, None, None))
        if status is MilestoneStatus.COMPLETE or (completed_on is not None and completed_on <= end):
            continue
        assert milestone.due_date is not None
        found.append(
            OverdueMilestone(
                code=milestone.code,
                title=milestone.title,
                project_code=project.code,
                project_title=project.title,
                department=dept,
                owner=owner,
                due=milestone.due_date,
                status=status,
                status_period=status_period,
            )
        )
    return found


def _missing_returns(
    session: Session, period: Period, now: datetime, department: str | None
) -> list[MissingReturn]:
    requests = list(
        session.scalars(
            select(m.DataRequest)
            .join(m.Period, m.Period.id == m.DataRequest.period_id)
            .where(
                m.Period.start_date >= period.start,
                m.Period.end_date <= period.end,
                m.DataRequest.due_at < now,
            )
            .order_by(m.Period.start_date, m.DataRequest.id)
        )
    )
    if not requests:
        return []
    areas = _item_areas(session)
    found: list[MissingReturn] = []
    today = now.date()
    for request in requests:
        items = request.items
        done = returned_keys(
            session,
            request.period_id,
            [i.component_id for i in items if i.component_id is not None],
            [i.milestone_id for i in items if i.milestone_id is not None],
        )
        owed: dict[tuple[str, str], list[str]] = defaultdict(list)
        for item in items:
            key = (
                ("component", item.component_id)
                if item.component_id is not None
                else ("milestone", item.milestone_id)
            )
            if key in done or (item.snoozed_until is not None and item.snoozed_until > today):
                continue
            area = areas.get(key, ("", ""))
            if department is not None and area[0] != department:
                continue
            owed[area].append(item.item_code)
        person = request.person
        for (dept, area_name), codes in sorted(owed.items()):
            found.append(
                MissingReturn(
                    person_id=person.id,
                    person=person.name,
                    email=person.email,
                    department=dept,
                    service_area=area_name,
                    period=request.period.code,
                    due_at=request.due_at,
                    items=tuple(codes),
                )
            )
    return found


def _item_areas(session: Session) -> dict[tuple[str, int | None], tuple[str, str]]:
    """(department code, service area name) for every component and milestone."""
    areas: dict[tuple[str, int | None], tuple[str, str]] = {}
    for component_id, dept, area in session.execute(
        select(m.Component.id, m.Department.code, m.ServiceArea.name)
        .join(m.Indicator, m.Indicator.id == m.Component.declared_by_id)
        .join(m.ServiceArea, m.ServiceArea.id == m.Indicator.service_area_id)
        .join(m.Department, m.Department.id == m.ServiceArea.department_id)
    ):
        areas[("component", component_id)] = (dept, area)
    for milestone_id, dept, area in session.execute(
        select(m.Milestone.id, m.Department.code, m.ServiceArea.name)
        .join(m.Project, m.Project.id == m.Milestone.project_id)
        .join(m.ServiceArea, m.ServiceArea.id == m.Project.service_area_id)
        .join(m.Department, m.Department.id == m.ServiceArea.department_id)
    ):
        areas[("milestone", milestone_id)] = (dept, area)
    return areas
