"""The quarterly (or end-of-year) performance report's content, computed once.

:func:`performance_report` gathers everything the report to members says: per department
its indicators (value, target, RAG, trend, commentary, a history chart) and its projects
with their milestones, the exceptions, the target changes, and completeness of returns.
The report email (:mod:`.mailings`, helper C's) and the published site and PDF
(:mod:`mailcapture.publish`) both render this one object, so the email and the website
can never disagree about a figure.

Decisions worth knowing:

* **Which indicators.** By default those the register links to the report of the
  matching kind (``quarterly`` for a quarter, ``annual`` for the end-of-year report),
  and only *key* projects, as a report to members is selective. ``everything=True``
  takes every live indicator and project instead: the published site is the whole
  register for the period, the PDF the report (:func:`report_part` of the same object).
* **End of year.** ``annual=True`` reports on the financial year containing ``period``
  (asking for "2026/27 Q4" or "2026/27" gives the same report).
* **History** is the last five quarters (so the same quarter last year is on the chart),
  three years, or thirteen months, ending with the period; the chart and the history
  table show the same rows, with the same rounding and flags as every other report.
* **Milestones** show the latest status sent for a period ending by the report period's
  end, so a report on a past quarter says what was known then; "overdue" comes from
  :func:`.exceptions.exceptions` so the exception list and the project tables agree.
* **No staff prompts.** This content goes to members and the public (the quarterly and
  end-of-year emails, the site, the PDF), so it carries no "Commentary needed: red (33
  against 40)": that is a prompt for the owner, chased in the staff-facing owner and
  department reports (:mod:`.email.build`). An indicator without commentary says "No
  commentary provided" instead; :class:`IndicatorEntry` has no field that could carry
  the prompt, so no template can print it by mistake.
* **Target changes** are :func:`.targets.target_changes_for` the period (not yet reported,
  or reported for this period). Computing the content never marks them reported: the
  report email does that when it is queued, so publishing can be repeated freely.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailcapture.db import models as m
from mailcapture.domain.completion import completion_date
from mailcapture.domain.enums import MilestoneStatus, ReportKind
from mailcapture.domain.periods import Period, PeriodKind
from mailcapture.progress import NO_PROGRESS, Progress
from mailcapture.reports.charts import Chart, history_chart
from mailcapture.reports.commentary import DEPARTMENT_PREFIX, CommentItem, commentary_for
from mailcapture.reports.exceptions import Exceptions, exceptions
from mailcapture.reports.history import indicator_history_rows
from mailcapture.reports.milestones import latest_statuses, milestone_comments
from mailcapture.reports.queries import IndicatorRow
from mailcapture.reports.returns import ReturnsRow, ReturnsStatus, returns_status
from mailcapture.reports.targets import TargetChangeItem, target_changes_for
from mailcapture.reports.values import Rag

#: How many periods of history each kind of report shows (five quarters: the same
#: quarter last year is on the chart).
HISTORY_LENGTH = {PeriodKind.MONTH: 13, PeriodKind.QUARTER: 5, PeriodKind.YEAR: 3}

#: RAG in report order, worst first.
RAG_ORDER = (Rag.RED, Rag.AMBER, Rag.GREEN, Rag.NONE)


@dataclass(frozen=True)
class IndicatorEntry:
    """One indicator in the report: its row for the period, history, commentary, chart."""

    row: IndicatorRow
    description: str | None
    department_code: str
    service_area: str
    owner: str
    #: Rows for the history periods, oldest first, ending with ``row``.
    history: list[IndicatorRow]
    #: Current commentary; empty means "No commentary provided" (never a staff prompt).
    comments: list[CommentItem]
    chart: Chart
    #: Whether the register puts the indicator in this (quarterly or annual) report.
    in_report: bool = True

    @property
    def code(self) -> str:
        return self.row.code

    @property
    def title(self) -> str:
        return self.row.title


@dataclass(frozen=True)
class MilestoneEntry:
    code: str
    title: str
    is_overall: bool
    due: date | None
    #: The actual completion date as known at the period's end: the one sent with
    #: "complete" wins over the register's (see :mod:`mailcapture.domain.completion`).
    completed_on: date | None
    #: Latest status sent for a period ending by the report period's end.
    status: MilestoneStatus | None
    status_period: str | None
    comments: list[CommentItem]
    overdue: bool


@dataclass(frozen=True)
class ProjectEntry:
    code: str
    title: str
    description: str | None
    department_code: str
    service_area: str
    objective: str
    priority: str
    owner: str
    is_key: bool
    due: date | None
    completed_on: date | None
    milestones: list[MilestoneEntry]


@dataclass(frozen=True)
class DepartmentSection:
    code: str
    name: str
    indicators: list[IndicatorEntry]
    projects: list[ProjectEntry]
    #: Commentary from the head of service on the department report.
    comments: list[CommentItem]
    returns: ReturnsRow | None

    @property
    def rag_counts(self) -> dict[Rag, int]:
        return rag_counts(e.row for e in self.indicators)


@dataclass(frozen=True)
class PerformanceReport:
    council: str
    period: Period
    annual: bool
    #: "data as at": the caller's clock, never the wall clock.
    as_at: datetime
    departments: list[DepartmentSection]
    exceptions: Exceptions
    target_changes: list[TargetChangeItem]
    returns: ReturnsStatus
    history_periods: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        if self.annual:
            return f"Annual performance report {self.period.code}"
        return f"Quarterly performance report {self.period.label}"

    @property
    def indicators(self) -> list[IndicatorEntry]:
        return [e for d in self.departments for e in d.indicators]

    @property
    def projects(self) -> list[ProjectEntry]:
        return [p for d in self.departments for p in d.projects]

    @property
    def rag_counts(self) -> dict[Rag, int]:
        return rag_counts(e.row for e in self.indicators)


def rag_counts(rows: Iterable[IndicatorRow]) -> dict[Rag, int]:
    """How many rows are red, amber, green and without a status, in that order."""
    counted = Counter(r.rag for r in rows)
    return {rag: counted.get(rag, 0) for rag in RAG_ORDER}


def performance_report(
    session: Session,
    period: Period,
    now: datetime,
    *,
    annual: bool = False,
    everything: bool = False,
    progress: Progress = NO_PROGRESS,
) -> PerformanceReport:
    """The report's content for ``period`` (its financial year when ``annual``).

    ``progress`` hears of each indicator's figures. The charts are not drawn here: each
    :class:`~.charts.Chart` draws itself when its picture is first read, unless the caller
    draws them all first (``publish`` does, in a process pool and from its cache).
    """
    if annual and period.kind is not PeriodKind.YEAR:
        period = Period(period.fy, PeriodKind.YEAR, 1)
    kind = ReportKind.ANNUAL if annual else ReportKind.QUARTERLY
    meta = _indicator_meta(session, kind, everything=everything)
    codes = sorted(meta)
    history = (
        indicator_history_rows(session, period, HISTORY_LENGTH[period.kind], codes) if codes else {}
    )
    comments = commentary_for(session, period)
    found = exceptions(session, period, now)
    overdue = {o.code for o in found.overdue_milestones}
    returns = returns_status(session, period, now)
    projects = _projects(session, period, key_only=not everything, overdue=overdue)

    entries: dict[str, list[IndicatorEntry]] = defaultdict(list)
    progress.start("figures", len(codes))
    for code in codes:
        rows = history[code]
        row = rows[-1]
        info = meta[code]
        said = comments.get(row.code, [])
        entries[info["department"]].append(
            IndicatorEntry(
                row=row,
                description=info["description"],
                department_code=info["department"],
                service_area=info["service_area"],
                owner=info["owner"],
                history=rows,
                comments=said,
                chart=chart_for(row, rows),
                in_report=info["in_report"],
            )
        )
        progress.advance()
    by_department: dict[str, list[ProjectEntry]] = defaultdict(list)
    for project in projects:
        by_department[project.department_code].append(project)
    returns_by_department = {r.department_code: r for r in returns.departments}

    departments = []
    for dept in session.scalars(
        select(m.Department).where(m.Department.retired_at.is_(None)).order_by(m.Department.name)
    ):
        if not entries.get(dept.code) and not by_department.get(dept.code):
            continue
        departments.append(
            DepartmentSection(
                code=dept.code,
                name=dept.name,
                indicators=entries.get(dept.code, []),
                projects=by_department.get(dept.code, []),
                comments=comments.get(f"{DEPARTMENT_PREFIX}{dept.code}", []),
                returns=returns_by_department.get(dept.code),
            )
        )
    first = next(iter(history.values()), [])
    return PerformanceReport(
        council=_council(session),
        period=period,
        annual=annual,
        as_at=now,
        departments=departments,
        exceptions=found,
        target_changes=target_changes_for(session, period),
        returns=returns,
        history_periods=[r.current.period for r in first],
    )


def report_part(report: PerformanceReport) -> PerformanceReport:
    """Of an ``everything=True`` report, what the report itself holds: the indicators the
    register puts in it and the key projects (one computation serves site and PDF)."""
    departments = []
    for dept in report.departments:
        indicators = [e for e in dept.indicators if e.in_report]
        projects = [p for p in dept.projects if p.is_key]
        if indicators or projects:
            departments.append(replace(dept, indicators=indicators, projects=projects))
    return replace(report, departments=departments)


def chart_for(row: IndicatorRow, history: Sequence[IndicatorRow]) -> Chart:
    """The indicator's history chart, titled with its code and title (not drawn yet)."""
    return history_chart(
        f"{row.code} {row.title}",
        [(r.current.period, r.value) for r in history],
        target=[r.target.value if r.target else None for r in history],
        unit=row.unit,
        polarity=row.polarity,
        decimals=row.decimals,
    )


# -------------------------------------------------------------------------- queries


def _indicator_meta(
    session: Session, kind: ReportKind, *, everything: bool
) -> dict[str, dict[str, Any]]:
    """Department, service area, owner, description and report membership of the live
    indicators (only those in the report of ``kind`` unless ``everything``)."""
    in_report = (
        select(m.IndicatorReport.indicator_id)
        .join(m.ReportDefinition, m.ReportDefinition.id == m.IndicatorReport.report_id)
        .where(m.ReportDefinition.kind == kind, m.ReportDefinition.retired_at.is_(None))
    )
    member = m.Indicator.id.in_(in_report)
    query = (
        select(
            m.Indicator.code,
            m.Indicator.description,
            m.Department.code,
            m.ServiceArea.name,
            m.Person.name,
            member,
        )
        .join(m.ServiceArea, m.ServiceArea.id == m.Indicator.service_area_id)
        .join(m.Department, m.Department.id == m.ServiceArea.department_id)
        .join(m.Person, m.Person.id == m.Indicator.owner_id)
        .where(m.Indicator.retired_at.is_(None))
    )
    if not everything:
        query = query.where(member)
    return {
        code: {
            "description": description,
            "department": dept,
            "service_area": area,
            "owner": owner,
            "in_report": bool(in_it),
        }
        for code, description, dept, area, owner, in_it in session.execute(query)
    }


def _projects(
    session: Session, period: Period, *, key_only: bool, overdue: set[str]
) -> list[ProjectEntry]:
    query = (
        select(m.Project, m.Department.code, m.ServiceArea.name, m.Person.name)
        .join(m.ServiceArea, m.ServiceArea.id == m.Project.service_area_id)
        .join(m.Department, m.Department.id == m.ServiceArea.department_id)
        .join(m.Person, m.Person.id == m.Project.owner_id)
        .where(m.Project.retired_at.is_(None))
        .order_by(m.Project.code)
    )
    if key_only:
        query = query.where(m.Project.is_key)
    found = list(session.execute(query))
    if not found:
        return []
    priorities = {p.id: (p.objective.title, p.title) for p in session.scalars(select(m.Priority))}
    milestone_ids = [
        ms.id for project, *_ in found for ms in project.milestones if ms.retired_at is None
    ]
    statuses = latest_statuses(session, milestone_ids, period.end)
    notes = milestone_comments(session, milestone_ids, period)
    projects = []
    for project, dept, area, owner in found:
        objective, priority = priorities.get(project.priority_id, ("", ""))
        milestones = [
            MilestoneEntry(
                code=ms.code,
                title=ms.title,
                is_overall=ms.is_overall,
                due=ms.due_date,
                completed_on=completion_date(
                    statuses[ms.id].completed_on if ms.id in statuses else None,
                    ms.completed_on,
                    period.end,
                ),
                status=statuses.get(ms.id, (None, None))[0],
                status_period=statuses.get(ms.id, (None, None))[1],
                comments=notes.get(ms.id, []),
                overdue=ms.code in overdue,
            )
            for ms in sorted(project.milestones, key=lambda ms: (not ms.is_overall, ms.code))
            if ms.retired_at is None
        ]
        projects.append(
            ProjectEntry(
                code=project.code,
                title=project.title,
                description=project.description,
                department_code=dept,
                service_area=area,
                objective=objective,
                priority=priority,
                owner=owner,
                is_key=project.is_key,
                due=project.due_date,
                # No project-level answer exists: the register's date, once it has passed.
                completed_on=completion_date(None, project.completed_on, period.end),
                milestones=milestones,
            )
        )
    return projects


def _council(session: Session) -> str:
    row = session.get(m.ServiceSetting, "mail")
    if row is None:
        return "the council"
    return str(row.value.get("council") or "the council")
