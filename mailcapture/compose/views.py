"""View models: everything a template may show, already decided and formatted.

Templates only lay these out. Every figure, date and name arrives as display text chosen by
the caller (which has the database, the clock and the council's formatting rules), so the
same view always renders to the same email, and a template can never run a query, read
the clock or format a number differently from the reports.

All are frozen dataclasses of plain values so that a rendered email can be reproduced from
the view alone (tests build them by hand; the outbox can log them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "Council",
    "EscalationView",
    "FailureView",
    "FormItem",
    "OverdueLine",
    "Person",
    "ReminderView",
    "RequestView",
    "ReturnsRow",
    "SummaryView",
]


@dataclass(frozen=True)
class Person:
    name: str
    email: str


@dataclass(frozen=True)
class Council:
    """The sending council; ``performance_team`` is the address people should contact."""

    name: str
    performance_team: str


@dataclass(frozen=True)
class FormItem:
    """One answer asked for: a component value or a milestone status.

    ``unit`` is the component's unit ("number", "%", "£", "days"); for a status item it is
    the text of the allowed answers, shown on the context line instead of in brackets.
    ``target`` is the *indicator's* target, shown for context only.
    """

    code: str
    title: str
    kind: Literal["value", "status"]
    unit: str
    indicator_code: str | None
    indicator_title: str | None
    group: str
    last_period: str | None
    same_period_last_year: str | None
    target: str | None
    allowed: str | None
    outstanding: bool = True


@dataclass(frozen=True)
class RequestView:
    """The one email per updater and period listing everything due from them."""

    council: Council
    recipient: Person
    period_code: str
    period_label: str
    token: str
    due: str
    items: tuple[FormItem, ...]
    on_behalf_of: Person | None = None


@dataclass(frozen=True)
class ReminderView(RequestView):
    """A reminder; ``items`` holds only what is still outstanding, so it can be answered too.

    ``days_left`` is in working days: 0 means due today, negative means already overdue.
    """

    step: int = 1
    days_left: int = 0


@dataclass(frozen=True)
class OverdueLine:
    """What one updater still owes; ``request_token`` identifies their request email."""

    updater: Person
    items: tuple[FormItem, ...]
    request_token: str


@dataclass(frozen=True)
class EscalationView:
    """Overdue returns, to an indicator owner or (later, firmer) to the head of service.

    Added beyond the first design, all optional: ``department`` names the head of
    service's department, and ``owners_told`` / ``owners_told_on`` let the escalation to
    the head say which owners were already told, and when.
    """

    council: Council
    recipient: Person
    level: Literal["owner", "escalation_owner"]
    period_code: str
    period_label: str
    due: str
    working_days_overdue: int
    lines: tuple[OverdueLine, ...]
    department: str | None = None
    owners_told: tuple[Person, ...] = ()
    owners_told_on: str | None = None


@dataclass(frozen=True)
class ReturnsRow:
    group: str
    expected: int
    received: int
    on_time: int
    late: int
    outstanding: int


@dataclass(frozen=True)
class SummaryView:
    """The returns-status summary to the performance team for one period and frequency.

    Added beyond the first design, both optional: ``group_label`` heads the first column
    ("Service area", "Department"), and ``as_at`` says when the counts were taken.
    """

    council: Council
    recipient: Person
    period_code: str
    period_label: str
    frequency: str
    due: str
    rows: tuple[ReturnsRow, ...]
    totals: ReturnsRow
    outstanding: tuple[OverdueLine, ...]
    group_label: str = "Service area"
    as_at: str | None = None


@dataclass(frozen=True)
class FailureView:
    """An outgoing email the outbox gave up on, reported to the performance team."""

    council: Council
    recipient: Person
    failed_recipient: str
    kind: str
    subject: str
    attempts: int
    last_error: str
    queued_at: str
