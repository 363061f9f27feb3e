"""The validated register: plain data, every reference already checked.

This is what :mod:`validate` produces and :mod:`sync` writes to the database. Emails are
normalised (lower-case), periods parsed, formulas parsed, defaults filled in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal

from mailcapture.domain.enums import (
    Aggregation,
    ApproverKind,
    ChangeKind,
    Frequency,
    IndicatorType,
    Polarity,
    ReportKind,
    Role,
    ToleranceKind,
)
from mailcapture.domain.formulas import Formula
from mailcapture.domain.periods import Period


@dataclass(frozen=True)
class ServiceAreaSpec:
    code: str
    name: str
    department: str


@dataclass(frozen=True)
class DepartmentSpec:
    code: str
    name: str
    head: str | None


@dataclass(frozen=True)
class PersonSpec:
    email: str
    name: str
    job_title: str | None
    service_area: str | None
    roles: frozenset[Role]
    delegates: tuple[str, ...]


@dataclass(frozen=True)
class PrioritySpec:
    code: str
    title: str
    objective: str


@dataclass(frozen=True)
class ObjectiveSpec:
    code: str
    title: str


@dataclass(frozen=True)
class ReportSpec:
    code: str
    title: str
    kind: ReportKind
    recipients: tuple[str, ...]


@dataclass(frozen=True)
class ComponentSpec:
    code: str
    title: str
    unit: str
    min_value: Decimal | None
    max_value: Decimal | None
    aggregation: Aggregation
    frequency: Frequency
    declared_by: str


@dataclass(frozen=True)
class TargetSpec:
    period: Period
    value: Decimal
    tolerance: Decimal | None
    tolerance_kind: ToleranceKind


@dataclass(frozen=True)
class IndicatorSpec:
    code: str
    title: str
    description: str | None
    type: IndicatorType
    frequency: Frequency
    polarity: Polarity
    unit: str
    decimals: int
    formula: Formula
    formula_text: str | None
    service_area: str
    priority: str | None
    owner: str
    updaters: tuple[str, ...]
    escalation_owner: str
    reports: tuple[str, ...]
    tolerance: Decimal | None
    tolerance_kind: ToleranceKind
    targets: tuple[TargetSpec, ...]
    cumulative: bool = False
    #: LG Inform metric id and Single Data List reference, for the government returns.
    lg_inform_id: int | None = None
    sdl_reference: str | None = None


@dataclass(frozen=True)
class MilestoneSpec:
    code: str
    title: str
    is_overall: bool
    start: date | None
    due: date | None
    completed: date | None


@dataclass(frozen=True)
class ProjectSpec:
    code: str
    title: str
    description: str | None
    priority: str
    service_area: str
    owner: str
    updater: str
    escalation_owner: str
    key: bool
    start: date | None
    due: date | None
    completed: date | None
    milestones: tuple[MilestoneSpec, ...]


@dataclass(frozen=True)
class EscalationStep:
    to: str
    after: int


@dataclass(frozen=True)
class TimetableSpec:
    frequency: Frequency
    request_working_day: int
    request_time: time
    due_working_day: int
    due_time: time
    reminders: tuple[int, ...]
    escalations: tuple[EscalationStep, ...]
    summary_after: int


@dataclass(frozen=True)
class MailSpec:
    council: str
    from_address: str
    reply_domain: str
    reply_local: str
    separator: str
    performance_team: str
    authserv_id: str | None
    #: Attach the spreadsheet form to every data request (``mail: request_workbook``).
    request_workbook: bool = True


@dataclass(frozen=True)
class CaptureSpec:
    """The register's ``capture`` section; the defaults hold when it has none."""

    plausibility_factor: Decimal = Decimal(10)


@dataclass(frozen=True)
class CouncilSpec:
    """The register's ``council`` section: how government returns identify the council."""

    ons_area_code: str | None = None


@dataclass(frozen=True)
class HistoryValue:
    component: str
    period: Period
    value: Decimal


@dataclass
class Register:
    departments: list[DepartmentSpec] = field(default_factory=list)
    service_areas: list[ServiceAreaSpec] = field(default_factory=list)
    people: list[PersonSpec] = field(default_factory=list)
    objectives: list[ObjectiveSpec] = field(default_factory=list)
    priorities: list[PrioritySpec] = field(default_factory=list)
    reports: list[ReportSpec] = field(default_factory=list)
    indicators: list[IndicatorSpec] = field(default_factory=list)
    components: list[ComponentSpec] = field(default_factory=list)
    projects: list[ProjectSpec] = field(default_factory=list)
    authority: list[tuple[ChangeKind, ApproverKind]] = field(default_factory=list)
    timetable: list[TimetableSpec] = field(default_factory=list)
    bank_holidays: list[tuple[date, str]] = field(default_factory=list)
    history: list[HistoryValue] = field(default_factory=list)
    mail: MailSpec | None = None
    capture: CaptureSpec = field(default_factory=CaptureSpec)
    council: CouncilSpec = field(default_factory=CouncilSpec)

    def derived_roles(self) -> dict[str, set[Role]]:
        """Roles that follow from indicators and projects, by person."""
        roles: dict[str, set[Role]] = {}
        for ind in self.indicators:
            roles.setdefault(ind.owner, set()).add(Role.OWNER)
            roles.setdefault(ind.escalation_owner, set()).add(Role.ESCALATION_OWNER)
            for updater in ind.updaters:
                roles.setdefault(updater, set()).add(Role.UPDATER)
        for project in self.projects:
            roles.setdefault(project.owner, set()).add(Role.OWNER)
            roles.setdefault(project.updater, set()).add(Role.UPDATER)
            roles.setdefault(project.escalation_owner, set()).add(Role.ESCALATION_OWNER)
        for dept in self.departments:
            if dept.head:
                roles.setdefault(dept.head, set()).add(Role.ESCALATION_OWNER)
        return roles
