"""View models of the report emails: every figure already formatted, as in compose.views.

Frozen dataclasses of plain values, so a report email can be reproduced from its view
alone and a template never queries or formats anything itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailcapture.compose.views import Council, Person


@dataclass(frozen=True)
class ChartRef:
    """An inline chart: ``cid:`` reference for the HTML, and its alt text."""

    cid: str
    alt: str


@dataclass(frozen=True)
class Comment:
    author: str
    role: str
    body: str
    when: str


@dataclass(frozen=True)
class IndicatorLine:
    """One indicator for one period, as every report shows it."""

    code: str
    title: str
    period_label: str
    #: "97.5 %", or None when it cannot be computed (``reason`` says why).
    value: str | None
    target: str | None
    rag: str  # red / amber / green / "" (no status)
    trend: str  # improving / worsening / steady / up / down / "" (unknown)
    trend_year: str
    previous: str | None
    last_year: str | None
    flags: tuple[str, ...]
    reason: str | None
    #: The one-line summary ``[BV8a] Title: 97.5 % (target 97 %), green, improving``.
    line: str
    #: The figures in words, for the text part (and instead of the chart).
    words: str
    comments: tuple[Comment, ...] = ()
    needs_commentary: str | None = None
    awaiting_signoff: bool = False
    chart: ChartRef | None = None
    #: The title in ``line`` was cut short to keep it within 78 characters.
    title_shortened: bool = False


@dataclass(frozen=True)
class MilestoneLine:
    code: str
    title: str
    due: str
    status: str  # "on track", "not reported"
    completed: str | None
    comments: tuple[Comment, ...] = ()


@dataclass(frozen=True)
class ProjectBlock:
    code: str
    title: str
    owner: str
    milestones: tuple[MilestoneLine, ...]
    is_key: bool = False


@dataclass(frozen=True)
class OverdueMilestoneLine:
    code: str
    title: str
    project: str
    department: str
    owner: str
    due: str
    status: str


@dataclass(frozen=True)
class MissingLine:
    person: Person
    department: str
    service_area: str
    period_label: str
    due: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class ExceptionsBlock:
    red: tuple[IndicatorLine, ...] = ()
    worsening: tuple[IndicatorLine, ...] = ()
    overdue: tuple[OverdueMilestoneLine, ...] = ()
    missing: tuple[MissingLine, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.red or self.worsening or self.overdue or self.missing)


@dataclass(frozen=True)
class ReturnsLine:
    """Completeness and timeliness of one service area (or a total) for one period."""

    label: str
    period_label: str
    expected: int
    received: int
    on_time: int
    completeness: str
    timeliness: str


@dataclass(frozen=True)
class TargetChangeLine:
    code: str
    period_label: str
    old: str
    new: str
    reason: str
    approved_by: str
    authority: str


@dataclass(frozen=True)
class OwnerReportView:
    council: Council
    recipient: Person
    #: The owner whose report this is (the recipient, or someone else for a copy).
    owner: Person
    period_code: str
    period_label: str
    #: Every period covered: "May 2026", or "June 2026 and Q1 2026/27".
    covered: str
    #: None for a copy: a copy cannot be answered.
    token: str | None
    answer_by: str
    awaiting: tuple[IndicatorLine, ...]
    others: tuple[IndicatorLine, ...]
    projects: tuple[ProjectBlock, ...]


@dataclass(frozen=True)
class OwnerRoundView:
    """To the performance team: a round's owner reports in one email (issue 15), for
    information, instead of a copy of each (18 copies a month each, before)."""

    council: Council
    recipient: Person
    period_code: str
    period_label: str
    covered: str
    answer_by: str
    reports: tuple[OwnerReportView, ...]


@dataclass(frozen=True)
class DepartmentSection:
    """Indicators (and projects, commentary, returns) under one heading."""

    heading: str
    indicators: tuple[IndicatorLine, ...]
    projects: tuple[ProjectBlock, ...] = ()
    comments: tuple[Comment, ...] = ()
    returns: ReturnsLine | None = None


@dataclass(frozen=True)
class DepartmentReportView:
    council: Council
    recipient: Person
    department_code: str
    department_name: str
    period_code: str
    period_label: str
    covered: str
    token: str | None
    answer_by: str
    sections: tuple[DepartmentSection, ...]
    projects: tuple[ProjectBlock, ...]
    returns: tuple[ReturnsLine, ...]
    exceptions: ExceptionsBlock
    comments: tuple[Comment, ...] = ()


@dataclass(frozen=True)
class ExceptionReportView:
    council: Council
    recipient: Person
    period_code: str
    period_label: str
    covered: str
    as_at: str
    exceptions: ExceptionsBlock


@dataclass(frozen=True)
class PerformanceReportView:
    """The quarterly report to members, or the end-of-year report (``annual``)."""

    council: Council
    recipient: Person
    report_title: str
    period_code: str
    period_label: str
    annual: bool
    as_at: str
    sections: tuple[DepartmentSection, ...]
    exceptions: ExceptionsBlock
    target_changes: tuple[TargetChangeLine, ...] = ()
    returns: tuple[ReturnsLine, ...] = ()
    #: "12 green, 3 amber, 2 red, 4 without a status".
    summary: str = ""
