"""Compute the report emails' views from the database.

A monthly report run covers every period that ends with the month: the month itself
(monthly indicators), the quarter when the month ends one (quarterly indicators) and the
year in March (annual indicators). Each indicator is shown for the period it is collected
for, so June's owner report has BV8a for June and LFIN01 for Q1, never BV8a twice.

Charts cost a few database statements and a matplotlib render each, so the owner and
department reports draw them only where a reader should look (red or worsening); the
report to members draws one for every indicator (through :mod:`..content`). A
:class:`ChartMaker` keeps each chart for the whole run: the same chart for BV8a appears
in its owner's, its department's and the exception report without being drawn thrice.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailcapture.compose.message import InlineImage
from mailcapture.compose.views import Council, Person
from mailcapture.db import models as m
from mailcapture.domain.completion import completion_date
from mailcapture.domain.enums import MilestoneStatus
from mailcapture.domain.frequency import COLLECTED_KIND
from mailcapture.domain.periods import Period, PeriodKind, covered_periods
from mailcapture.outbox.notices import when_text
from mailcapture.reports import content
from mailcapture.reports.charts import Chart
from mailcapture.reports.commentary import (
    DEPARTMENT_PREFIX,
    CommentItem,
    commentary_for,
    commentary_needed,
)
from mailcapture.reports.exceptions import Exceptions, OverdueMilestone, exceptions
from mailcapture.reports.history import indicator_history_rows
from mailcapture.reports.milestones import latest_statuses, milestone_comments
from mailcapture.reports.queries import IndicatorRow, indicator_values
from mailcapture.reports.returns import ReturnsRow, percent_text, returns_status
from mailcapture.reports.values import Rag, Trend

from .lines import comment_views, figure, indicator_line, period_label
from .views import (
    ChartRef,
    DepartmentReportView,
    DepartmentSection,
    ExceptionReportView,
    ExceptionsBlock,
    IndicatorLine,
    MilestoneLine,
    MissingLine,
    OverdueMilestoneLine,
    OwnerReportView,
    PerformanceReportView,
    ProjectBlock,
    ReturnsLine,
    TargetChangeLine,
)

_STATUS_WORDS = {s: s.value.replace("_", " ") for s in MilestoneStatus}


def covered_text(periods: Sequence[Period]) -> str:
    labels = [p.label if p.kind is PeriodKind.MONTH else _short(p) for p in periods]
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def _short(period: Period) -> str:
    return period.code if period.kind is PeriodKind.YEAR else period.label.split(" (")[0]


@dataclass
class ChartMaker:
    """History charts for a report run, each drawn once and referenced by Content-ID."""

    session: Session
    domain: str
    _charts: dict[tuple[str, str], Chart] = field(default_factory=dict)

    def prepare(self, period: Period, rows: Iterable[IndicatorRow]) -> None:
        """Draw the charts of ``rows`` (all for ``period``) in one history query."""
        wanted = [r.code for r in rows if (r.code, period.code) not in self._charts]
        if not wanted:
            return
        count = content.HISTORY_LENGTH[period.kind]
        for code, history in indicator_history_rows(self.session, period, count, wanted).items():
            self._charts[(code, period.code)] = content.chart_for(history[-1], history)

    def add(self, period: Period, chart: Chart, code: str) -> None:
        self._charts.setdefault((code, period.code), chart)

    def ref(self, code: str, period: Period) -> ChartRef | None:
        chart = self._charts.get((code, period.code))
        if chart is None:
            return None
        return ChartRef(cid=chart.content_id(self.domain), alt=chart.alt)

    def images(self, lines: Iterable[IndicatorLine]) -> list[InlineImage]:
        """The inline parts for the charts these lines refer to, each once."""
        by_cid = {c.content_id(self.domain): c for c in self._charts.values()}
        found: dict[str, InlineImage] = {}
        for line in lines:
            if line.chart is None or line.chart.cid in found:
                continue
            chart = by_cid[line.chart.cid]
            found[line.chart.cid] = InlineImage(
                cid=line.chart.cid, data=chart.email_png, subtype="png", filename=chart.filename
            )
        return list(found.values())


def wants_chart(row: IndicatorRow) -> bool:
    """Owner and department reports chart what needs a look: red or worsening."""
    return row.value is not None and (row.rag is Rag.RED or row.trend is Trend.WORSENING)


# ----------------------------------------------------------------------- run data


@dataclass
class RunData:
    """What every report of one monthly run shares: rows, commentary, exceptions."""

    month: Period
    now: datetime
    periods: list[Period]
    #: (period, row) for each live indicator in the period it is collected for.
    rows: list[tuple[Period, IndicatorRow]]
    #: Commentary by period code, then by indicator code (and ``dept:<CODE>``).
    comments: dict[str, dict[str, list[CommentItem]]]
    session: Session
    meta: dict[str, tuple[int, str, str, str]]  # code -> (owner id, dept, area, area name)

    @functools.cached_property
    def exceptions(self) -> Exceptions:
        """Computed on first use: owner reports do not need them."""
        return merged_exceptions(self.session, self.periods, self.now)


def run_data(session: Session, month: Period, now: datetime) -> RunData:
    periods = covered_periods(month)
    rows: list[tuple[Period, IndicatorRow]] = []
    comments: dict[str, dict[str, list[CommentItem]]] = {}
    for period in periods:
        for row in indicator_values(session, period):
            if COLLECTED_KIND[row.frequency] is period.kind:
                rows.append((period, row))
        comments[period.code] = commentary_for(session, period)
    meta = {
        code: (owner_id, dept, area, name)
        for code, owner_id, dept, area, name in session.execute(
            select(
                m.Indicator.code,
                m.Indicator.owner_id,
                m.Department.code,
                m.ServiceArea.code,
                m.ServiceArea.name,
            )
            .join(m.ServiceArea, m.ServiceArea.id == m.Indicator.service_area_id)
            .join(m.Department, m.Department.id == m.ServiceArea.department_id)
        )
    }
    return RunData(
        month=month,
        now=now,
        periods=periods,
        rows=rows,
        comments=comments,
        session=session,
        meta=meta,
    )


def merged_exceptions(session: Session, periods: Sequence[Period], now: datetime) -> Exceptions:
    """Exceptions over the run's periods: each indicator in its own collection period.

    Red and worsening come from each period for the indicators collected for it;
    overdue milestones and missing returns from the longest period (its missing returns
    include the months inside it).
    """
    red: list[IndicatorRow] = []
    worsening: list[IndicatorRow] = []
    for period in periods:
        found = exceptions(session, period, now)
        red.extend(r for r in found.red if COLLECTED_KIND[r.frequency] is period.kind)
        worsening.extend(r for r in found.worsening if COLLECTED_KIND[r.frequency] is period.kind)
    longest = found  # periods run from the month to the longest
    return Exceptions(
        period=periods[0],
        red=red,
        worsening=worsening,
        overdue_milestones=longest.overdue_milestones,
        missing_returns=longest.missing_returns,
    )


def _line(
    data: RunData, period: Period, row: IndicatorRow, charts: ChartMaker | None
) -> IndicatorLine:
    said = data.comments[period.code].get(row.code, [])
    return indicator_line(
        row,
        comments=said,
        needs_commentary=commentary_needed(row, said),
        chart=charts.ref(row.code, period) if charts else None,
    )


def _prepare_charts(charts: ChartMaker, chosen: Iterable[tuple[Period, IndicatorRow]]) -> None:
    by_period: dict[str, tuple[Period, list[IndicatorRow]]] = {}
    for period, row in chosen:
        if wants_chart(row):
            by_period.setdefault(period.code, (period, []))[1].append(row)
    for period, rows in by_period.values():
        charts.prepare(period, rows)


# ----------------------------------------------------------------------- owner


def owner_view(
    session: Session,
    data: RunData,
    council: Council,
    owner: m.Person,
    recipient: m.Person,
    *,
    token: str | None,
    answer_by: datetime,
    charts: ChartMaker,
) -> OwnerReportView | None:
    """The owner report of ``owner`` (sent to ``recipient``); None if there is nothing."""
    mine = [(p, r) for p, r in data.rows if data.meta[r.code][0] == owner.id]
    projects = project_blocks(session, data, owner_id=owner.id)
    if not mine and not projects:
        return None
    _prepare_charts(charts, mine)
    lines = [_line(data, p, r, charts) for p, r in mine]
    return OwnerReportView(
        council=council,
        recipient=Person(recipient.name, recipient.email),
        owner=Person(owner.name, owner.email),
        period_code=data.month.code,
        period_label=data.month.label,
        covered=covered_text(data.periods),
        token=token,
        answer_by=when_text(answer_by),
        awaiting=tuple(x for x in lines if x.awaiting_signoff),
        others=tuple(x for x in lines if not x.awaiting_signoff),
        projects=tuple(projects),
    )


def project_blocks(
    session: Session,
    data: RunData,
    *,
    owner_id: int | None = None,
    department: str | None = None,
) -> list[ProjectBlock]:
    """Live projects (of an owner or a department) with each milestone's latest status."""
    end = data.month.end
    query = (
        select(m.Project, m.Person.name)
        .join(m.Person, m.Person.id == m.Project.owner_id)
        .join(m.ServiceArea, m.ServiceArea.id == m.Project.service_area_id)
        .join(m.Department, m.Department.id == m.ServiceArea.department_id)
        .where(m.Project.retired_at.is_(None))
        .order_by(m.Project.code)
    )
    if owner_id is not None:
        query = query.where(m.Project.owner_id == owner_id)
    if department is not None:
        query = query.where(m.Department.code == department)
    found = [
        (p, name)
        for p, name in session.execute(query)
        if _live(p.start_date, p.completed_on, data.month)
    ]
    if not found:
        return []
    ids = [ms.id for p, _ in found for ms in p.milestones if ms.retired_at is None]
    statuses = latest_statuses(session, ids, end)
    notes = milestone_comments(session, ids, data.month)
    blocks = []
    for project, owner in found:
        milestones = []
        for ms in sorted(project.milestones, key=lambda x: (not x.is_overall, x.code)):
            status = statuses.get(ms.id)
            # The date sent with "complete" wins over the register's; a register date still
            # to come at the period's end is a plan, not a completion.
            completed = completion_date(
                status.completed_on if status else None, ms.completed_on, end
            )
            if ms.retired_at is not None or (
                not ms.is_overall and not _live(ms.start_date, completed, data.month)
            ):
                continue
            milestones.append(
                MilestoneLine(
                    code=ms.code,
                    title=ms.title,
                    due=_day(ms.due_date) if ms.due_date else "no date",
                    status=_STATUS_WORDS[status[0]] + f" ({period_label(status[1])})"
                    if status and status[0]
                    else "not reported",
                    completed=_day(completed) if completed else None,
                    comments=comment_views(notes.get(ms.id, [])),
                )
            )
        blocks.append(
            ProjectBlock(
                code=project.code,
                title=project.title,
                owner=owner,
                milestones=tuple(milestones),
                is_key=project.is_key,
            )
        )
    return blocks


def _live(start: date | None, completed: date | None, period: Period) -> bool:
    return (start is None or start <= period.end) and not (
        completed is not None and completed < period.start
    )


def _day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


# ----------------------------------------------------------------------- department


def department_view(
    session: Session,
    data: RunData,
    council: Council,
    department: m.Department,
    recipient: m.Person,
    *,
    token: str | None,
    answer_by: datetime,
    charts: ChartMaker,
) -> DepartmentReportView:
    code = department.code
    ours = [(p, r) for p, r in data.rows if data.meta[r.code][1] == code]
    _prepare_charts(charts, ours)
    by_area: dict[str, list[IndicatorLine]] = defaultdict(list)
    for period, row in ours:
        by_area[data.meta[row.code][3]].append(_line(data, period, row, charts))
    returns: list[ReturnsLine] = []
    for period in data.periods:
        status = returns_status(session, period, data.now)
        for r in status.rows:
            if r.department_code == code and r.expected:
                returns.append(_returns_line(r.service_area or "", period, r))
        for r in status.departments:
            if r.department_code == code and r.expected:
                returns.append(_returns_line("All service areas", period, r))
    return DepartmentReportView(
        council=council,
        recipient=Person(recipient.name, recipient.email),
        department_code=code,
        department_name=department.name,
        period_code=data.month.code,
        period_label=data.month.label,
        covered=covered_text(data.periods),
        token=token,
        answer_by=when_text(answer_by),
        sections=tuple(
            DepartmentSection(heading=area, indicators=tuple(lines))
            for area, lines in sorted(by_area.items())
        ),
        projects=tuple(project_blocks(session, data, department=code)),
        returns=tuple(returns),
        exceptions=exceptions_block(data, charts, department=code),
        comments=comment_views(
            data.comments[data.month.code].get(f"{DEPARTMENT_PREFIX}{code}", [])
        ),
    )


def _returns_line(label: str, period: Period, r: ReturnsRow) -> ReturnsLine:
    return ReturnsLine(
        label=label,
        period_label=_short(period) if period.kind is not PeriodKind.MONTH else period.label,
        expected=r.expected,
        received=r.received,
        on_time=r.on_time,
        completeness=percent_text(r.completeness),
        timeliness=percent_text(r.timeliness),
    )


# ----------------------------------------------------------------------- exceptions


def exceptions_block(
    data: RunData, charts: ChartMaker | None, *, department: str | None = None
) -> ExceptionsBlock:
    found = data.exceptions

    def keep(row: IndicatorRow) -> bool:
        return department is None or data.meta[row.code][1] == department

    def line(row: IndicatorRow) -> IndicatorLine:
        period = next(p for p in data.periods if p.code == row.current.period)
        return _line(data, period, row, charts)

    return ExceptionsBlock(
        red=tuple(line(r) for r in found.red if keep(r)),
        worsening=tuple(line(r) for r in found.worsening if keep(r)),
        overdue=tuple(
            _overdue_line(o, with_period=True)
            for o in found.overdue_milestones
            if department is None or o.department == department
        ),
        missing=tuple(
            MissingLine(
                person=Person(r.person, r.email),
                department=r.department,
                service_area=r.service_area,
                period_label=period_label(r.period),
                due=when_text(r.due_at),
                items=r.items,
            )
            for r in found.missing_returns
            if department is None or r.department == department
        ),
    )


def _overdue_line(o: OverdueMilestone, *, with_period: bool) -> OverdueMilestoneLine:
    """An overdue milestone, its status with the period it was sent for if ``with_period``
    (the members' reports name the status alone)."""
    if not o.status:
        status = "no status sent"
    elif with_period and o.status_period:
        status = _STATUS_WORDS[o.status] + f" ({period_label(o.status_period)})"
    elif with_period:
        status = "no status sent"
    else:
        status = _STATUS_WORDS[o.status]
    return OverdueMilestoneLine(
        code=o.code,
        title=o.title,
        project=f"{o.project_code} {o.project_title}",
        department=o.department,
        owner=o.owner,
        due=_day(o.due),
        status=status,
    )


def exception_view(data: RunData, council: Council, recipient: m.Person) -> ExceptionReportView:
    return ExceptionReportView(
        council=council,
        recipient=Person(recipient.name, recipient.email),
        period_code=data.month.code,
        period_label=data.month.label,
        covered=covered_text(data.periods),
        as_at=when_text(data.now),
        exceptions=exceptions_block(data, None),
    )


# ----------------------------------------------------------------------- members


def performance_view(
    report: content.PerformanceReport,
    council: Council,
    recipient: m.Person,
    charts: ChartMaker,
) -> PerformanceReportView:
    """D's :class:`~..content.PerformanceReport` as an email view (charts inline)."""
    period = report.period
    for entry in report.indicators:
        charts.add(period, entry.chart, entry.code)

    def line(entry: content.IndicatorEntry) -> IndicatorLine:
        # No needs_commentary: members get "No commentary provided", not the staff prompt.
        return indicator_line(
            entry.row, comments=entry.comments, chart=charts.ref(entry.code, period)
        )

    sections = tuple(
        DepartmentSection(
            heading=dept.name,
            indicators=tuple(line(e) for e in dept.indicators),
            projects=tuple(_project_block(p) for p in dept.projects),
            comments=comment_views(dept.comments),
            returns=_returns_line(dept.name, period, dept.returns)
            if dept.returns and dept.returns.expected
            else None,
        )
        for dept in report.departments
    )
    found = report.exceptions
    known = {e.code: e for e in report.indicators}
    block = ExceptionsBlock(
        red=tuple(line(known[r.code]) for r in found.red if r.code in known),
        worsening=tuple(line(known[r.code]) for r in found.worsening if r.code in known),
        overdue=tuple(_overdue_line(o, with_period=False) for o in found.overdue_milestones),
    )
    counts = report.rag_counts
    summary = ", ".join(
        f"{n} {'without a status' if rag is Rag.NONE else rag.value}"
        for rag, n in counts.items()
        if n
    )
    return PerformanceReportView(
        council=council,
        recipient=Person(recipient.name, recipient.email),
        report_title=report.title,
        period_code=period.code,
        period_label=period.label if not report.annual else f"the year {period.code}",
        annual=report.annual,
        as_at=when_text(report.as_at),
        sections=sections,
        exceptions=block,
        target_changes=tuple(
            TargetChangeLine(
                code=c.code,
                period_label=period_label(c.period),
                old=figure(c.old, "") if c.old is not None else "none",
                new=figure(c.new, "") if c.new is not None else "none",
                reason=c.reason,
                approved_by=c.approved_by,
                authority=str(c.authority).replace("_", " "),
            )
            for c in report.target_changes
        ),
        returns=_members_returns(report),
        summary=summary,
    )


def _members_returns(report: content.PerformanceReport) -> tuple[ReturnsLine, ...]:
    """Each department's completeness and the total; nothing when nothing was asked."""
    total = report.returns.total
    if total is None or not total.expected:
        return ()
    rows = [
        _returns_line(r.department or "", report.period, r)
        for r in report.returns.departments
        if r.expected
    ]
    return (*rows, _returns_line("Total", report.period, total))


def _project_block(project: content.ProjectEntry) -> ProjectBlock:
    return ProjectBlock(
        code=project.code,
        title=project.title,
        owner=project.owner,
        is_key=project.is_key,
        milestones=tuple(
            MilestoneLine(
                code=ms.code,
                title=ms.title,
                due=_day(ms.due) if ms.due else "no date",
                status=(_STATUS_WORDS[ms.status] if ms.status else "not reported")
                + (" - overdue" if ms.overdue else ""),
                completed=_day(ms.completed_on) if ms.completed_on else None,
                comments=comment_views(ms.comments),
            )
            for ms in project.milestones
        ),
    )
