"""Who has returned what, live: one line per person and request item, with how they were chased.

The returns summary email (:mod:`mailcapture.schedule.tick`) is sent once, a working day
after the deadline; the shares in :mod:`mailcapture.reports.returns` count items but name
nobody. A performance officer chasing by phone needs, at any moment, each person's items
with where each stands and how often that person has been reminded and escalated. This
module computes that for ``mailcapture returns`` and the site's ``returns.html``, so the
command line and the page never disagree.

Statuses, first match wins:

* ``received`` / ``late``: the item has a current answer for the period (a figure, a plain
  "not available", a milestone status), received by ``now``; ``late`` when it came after the
  request's due time. This is the rule the returns summary email uses
  (:func:`mailcapture.forms.due.returned_keys` and ``late_keys`` in the tick): an item
  answered by another updater of the same indicator counts for both, since nothing more
  is owed on it.
* ``conflict``: no current answer, because people sent differing figures for the item and
  its indicator's owner has not yet chosen between them (issue 15, part 9, see
  :mod:`mailcapture.mailflow.value_choices`): owed still, but by a choice, not by a chase.
  Listed in the counts only when there is one.
* ``promised``: the current value is "not available until DATE" and DATE is still to come
  (council local date), as :func:`mailcapture.forms.due.promised_dates` reads promises. A
  promise is not a return; once its date has come with no figure, the item is owed again.
* ``bounced``: not returned, and mail to the person asked is failing
  (``Person.mail_failing_since``): they probably never saw the request, which calls for a
  different chase (phone, a new address) than a plain missing return.
* ``missing``: anything else not returned, whether or not its deadline has passed (the
  due time is in every line, so "missing, due in three days" can be told apart).

Chasing is per request, not per item: the reminders queued to the person asked and the
escalations queued about their request (to the owner and the head of service), with the
day each went out. An escalation step is one line whatever the number of owners it went
to (a person whose items have two owners is escalated once, to both, not twice). Both
chase paths are counted: the period's own (recorded in ``request_chases``) and the
promise rounds of :mod:`mailcapture.schedule.deferred` (outbox rows carrying the request).
Commentary reminders are not: they chase a comment, not a return. Emails cancelled or
failed for good were never delivered and do not count.

Work: a fixed handful of statements whatever the number of people and periods (the items,
the current values, the milestone statuses, the chases), no query per line.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, func, or_, select, union
from sqlalchemy.orm import Session, aliased

from mailcapture.clock import LOCAL_TZ
from mailcapture.compose.textfmt import short_day
from mailcapture.db import models as m
from mailcapture.domain.enums import OutboxState, RequestState, SubmissionState
from mailcapture.domain.periods import Period, parse_period
from mailcapture.reports.export import Table

#: Outbox kinds that chase a return: a reminder to the person asked, an escalation about it.
REMINDER_KINDS = ("reminder",)
ESCALATION_KINDS = {"escalation_owner": "owner", "escalation_head": "head"}
#: Never delivered: not a chase the person (or their manager) had.
_NOT_SENT = (OutboxState.CANCELLED, OutboxState.FAILED)


@dataclass(frozen=True)
class Escalation:
    """One escalation step about a request: when, and to whom (``owner`` or ``head``)."""

    at: datetime
    level: str

    @property
    def day(self) -> date:
        """The council-local day it went out."""
        return self.at.astimezone(LOCAL_TZ).date()


class ReturnStatus(StrEnum):
    RECEIVED = "received"
    LATE = "late"
    CONFLICT = "conflict"
    PROMISED = "promised"
    MISSING = "missing"
    BOUNCED = "bounced"


#: The order statuses are counted and listed in.
STATUS_ORDER = tuple(ReturnStatus)


@dataclass(frozen=True)
class ReturnLine:
    """One item asked of one person for one period, and where it stands."""

    period: str
    period_label: str
    person: str
    email: str
    #: The person the request was sent on behalf of (an out-of-office redirect), if any.
    on_behalf_of: str | None
    item: str
    title: str
    due_at: datetime
    status: ReturnStatus
    #: When the current answer came in (received or late), else None.
    returned_at: datetime | None
    #: "Not available until DATE": that date, also once it has passed without a figure.
    promised_for: date | None
    reminders: tuple[datetime, ...]
    escalations: tuple[Escalation, ...]
    #: Mail to the person asked failing since (bounced), else None.
    bouncing_since: datetime | None = None

    @property
    def reminder_days(self) -> tuple[date, ...]:
        """The council-local day of each reminder: chases go out once a day at most."""
        return tuple(at.astimezone(LOCAL_TZ).date() for at in self.reminders)

    @property
    def escalation_days(self) -> tuple[date, ...]:
        return tuple(e.day for e in self.escalations)

    @property
    def status_text(self) -> str:
        """As a person reads it: ``promised for 8 July 2026``, else the status word."""
        if self.status is ReturnStatus.PROMISED and self.promised_for is not None:
            return f"promised for {short_day(self.promised_for)}"
        return self.status.value


@dataclass(frozen=True)
class ReturnsByPerson:
    """Every line for the periods asked about, as at ``as_at``."""

    #: The periods that had requests, in report order (codes).
    periods: tuple[str, ...]
    as_at: datetime
    lines: list[ReturnLine] = field(default_factory=list)

    def counts(self) -> dict[ReturnStatus, int]:
        """Lines per status, every status present (zero included; ``conflict`` only when
        there is one), in :data:`STATUS_ORDER`."""
        found = Counter(line.status for line in self.lines)
        return {
            status: found[status]
            for status in STATUS_ORDER
            if found[status] or status is not ReturnStatus.CONFLICT
        }

    def by_period(self) -> list[tuple[str, str, list[ReturnLine]]]:
        """(code, label, lines) per period, in report order: one table each on the site."""
        grouped: dict[str, list[ReturnLine]] = defaultdict(list)
        for line in self.lines:
            grouped[line.period].append(line)
        return [(code, grouped[code][0].period_label, grouped[code]) for code in grouped]


def latest_request_periods(session: Session) -> list[Period]:
    """The default for ``returns`` without ``--period``: the latest round of requests.

    Every period with (uncancelled) requests that ends on the latest such end date: at a
    quarter's end that is the month *and* the quarter (and at the year's end the year),
    whose requests go out together, so the quarterly returns are not hidden behind the
    monthly ones. Empty when nothing has been requested yet.
    """
    latest = session.scalar(
        select(func.max(m.Period.end_date))
        .join(m.DataRequest, m.DataRequest.period_id == m.Period.id)
        .where(m.DataRequest.state != RequestState.CANCELLED)
    )
    if latest is None:
        return []
    codes = session.scalars(
        select(m.Period.code)
        .join(m.DataRequest, m.DataRequest.period_id == m.Period.id)
        .where(m.DataRequest.state != RequestState.CANCELLED, m.Period.end_date == latest)
        .distinct()
    )
    # Longest first: the year, then the quarter, then the month, as periods_within lists them.
    return sorted((parse_period(c) for c in codes), key=lambda p: (p.start, -p.end.toordinal()))


def returns_by_person(
    session: Session, periods: Iterable[Period], now: datetime
) -> ReturnsByPerson:
    """Each person's items for ``periods`` (as given: pass a quarter's months too, see
    :func:`mailcapture.cli.periods.periods_covered`) and where each stands at ``now``."""
    wanted = list(periods)
    order = {p.code: i for i, p in enumerate(wanted)}
    period_rows = {
        row.id: row
        for row in session.scalars(select(m.Period).where(m.Period.code.in_(list(order))))
    }
    if not period_rows:
        return ReturnsByPerson((), now)
    period_ids = list(period_rows)
    today = now.astimezone(LOCAL_TZ).date()

    person, principal = aliased(m.Person), aliased(m.Person)
    items = session.execute(
        select(
            m.DataRequestItem,
            m.DataRequest,
            person,
            principal.email,
            func.coalesce(m.Component.title, m.Milestone.title),
        )
        .join(m.DataRequest, m.DataRequest.id == m.DataRequestItem.request_id)
        .join(person, person.id == m.DataRequest.person_id)
        .outerjoin(principal, principal.id == m.DataRequest.on_behalf_of_id)
        .outerjoin(m.Component, m.Component.id == m.DataRequestItem.component_id)
        .outerjoin(m.Milestone, m.Milestone.id == m.DataRequestItem.milestone_id)
        .where(
            m.DataRequest.period_id.in_(period_ids),
            m.DataRequest.state != RequestState.CANCELLED,
            # Comment slots are not returns: nothing is owed on them.
            or_(
                m.DataRequestItem.component_id.is_not(None),
                m.DataRequestItem.milestone_id.is_not(None),
            ),
        )
    ).all()
    values, conflicts = _current_values(session, period_ids, now)
    statuses = _current_statuses(session, period_ids, now)
    reminders, escalations = _chases(session, period_ids, now)

    lines: list[tuple[tuple[Any, ...], ReturnLine]] = []
    for item, request, asked, principal_email, title in items:
        period = period_rows[request.period_id]
        returned_at: datetime | None = None
        promised_for: date | None = None
        if item.component_id is not None:
            value = values.get((item.component_id, request.period_id))
            if value is not None:
                received_at, available_from = value
                if available_from is not None:
                    promised_for = available_from
                else:
                    returned_at = received_at
        else:
            assert item.milestone_id is not None  # by the query
            returned_at = statuses.get((item.milestone_id, request.period_id))
        bouncing = asked.mail_failing_since
        if bouncing is not None and bouncing > now:
            bouncing = None
        if returned_at is not None:
            status = ReturnStatus.LATE if returned_at > request.due_at else ReturnStatus.RECEIVED
        elif (item.component_id, request.period_id) in conflicts:
            status = ReturnStatus.CONFLICT
        elif promised_for is not None and promised_for > today:
            status = ReturnStatus.PROMISED
        elif bouncing is not None:
            status = ReturnStatus.BOUNCED
        else:
            status = ReturnStatus.MISSING
        line = ReturnLine(
            period=period.code,
            period_label=parse_period(period.code).label,
            person=asked.name,
            email=asked.email,
            on_behalf_of=principal_email,
            item=item.item_code,
            title=title or "",
            due_at=request.due_at,
            status=status,
            returned_at=returned_at,
            promised_for=promised_for,
            reminders=tuple(reminders.get(request.id, ())),
            escalations=tuple(escalations.get(request.id, ())),
            bouncing_since=bouncing if status is ReturnStatus.BOUNCED else None,
        )
        key = (order[period.code], asked.name.casefold(), asked.email, item.position)
        lines.append((key, line))
    lines.sort(key=lambda pair: pair[0])
    present = sorted({line.period for _, line in lines}, key=order.__getitem__)
    return ReturnsByPerson(tuple(present), now, [line for _, line in lines])


def _current_values(
    session: Session, period_ids: Sequence[int], now: datetime
) -> tuple[dict[tuple[int, int], tuple[datetime, date | None]], set[tuple[int, int]]]:
    """(component, period) -> (received at, promised date or None) of each current answer,
    and the (component, period) pairs whose differing figures wait for the owner's choice.

    A figure or a plain "not available" is a return; "not available until DATE" is a promise
    (its date returned instead). Held (unconfirmed) figures are never current, so never here;
    nor are figures waiting for a choice (``conflicting``), read in the same statement.
    """
    rows = session.execute(
        select(
            m.ComponentValue.component_id,
            m.ComponentValue.period_id,
            m.ComponentValue.state,
            m.ComponentValue.received_at,
            m.ComponentValue.available_from,
        ).where(
            m.ComponentValue.period_id.in_(period_ids),
            or_(
                and_(
                    m.ComponentValue.is_current,
                    m.ComponentValue.state.in_(
                        (SubmissionState.ACCEPTED, SubmissionState.NOT_AVAILABLE)
                    ),
                ),
                m.ComponentValue.state == SubmissionState.CONFLICTING,
            ),
            m.ComponentValue.received_at <= now,
        )
    )
    found: dict[tuple[int, int], tuple[datetime, date | None]] = {}
    conflicts: set[tuple[int, int]] = set()
    for component_id, period_id, state, received_at, available_from in rows:
        if state == SubmissionState.CONFLICTING:
            conflicts.add((component_id, period_id))
            continue
        promised = available_from if state == SubmissionState.NOT_AVAILABLE else None
        found[(component_id, period_id)] = (received_at, promised)
    return found, conflicts


def _current_statuses(
    session: Session, period_ids: Sequence[int], now: datetime
) -> dict[tuple[int, int], datetime]:
    """(milestone, period) -> when its current status came in."""
    rows = session.execute(
        select(
            m.MilestoneUpdate.milestone_id,
            m.MilestoneUpdate.period_id,
            m.MilestoneUpdate.received_at,
        ).where(
            m.MilestoneUpdate.period_id.in_(period_ids),
            m.MilestoneUpdate.is_current,
            m.MilestoneUpdate.state == SubmissionState.ACCEPTED,
            m.MilestoneUpdate.received_at <= now,
        )
    )
    return {(mid, pid): at for mid, pid, at in rows}


def _chases(
    session: Session, period_ids: Sequence[int], now: datetime
) -> tuple[dict[int, list[datetime]], dict[int, list[Escalation]]]:
    """Per request: when each reminder, and each escalation step, was queued, oldest first.

    An escalation covers every request it lists (one email to an owner about several
    updaters), so it is linked through ``request_chases``; a promise round's emails carry
    their request on the outbox row. Both are read, each email counted once per request,
    and the emails of one escalation step (one per owner concerned, the same day) as one.
    """
    requests = select(m.DataRequest.id).where(m.DataRequest.period_id.in_(period_ids))
    kinds = [*REMINDER_KINDS, *ESCALATION_KINDS]
    direct = select(m.OutboxMessage.request_id.label("request_id"), m.OutboxMessage.id).where(
        m.OutboxMessage.request_id.in_(requests)
    )
    chased = (
        select(m.RequestChase.request_id.label("request_id"), m.OutboxMessage.id)
        .join(m.OutboxMessage, m.OutboxMessage.id == m.RequestChase.outbox_id)
        .where(m.RequestChase.request_id.in_(requests))
    )
    linked = union(direct, chased).subquery()
    rows = session.execute(
        select(linked.c.request_id, m.OutboxMessage.kind, m.OutboxMessage.created_at)
        .join(m.OutboxMessage, m.OutboxMessage.id == linked.c.id)
        .where(
            m.OutboxMessage.kind.in_(kinds),
            m.OutboxMessage.state.not_in(_NOT_SENT),
            m.OutboxMessage.created_at <= now,
        )
        .order_by(m.OutboxMessage.created_at, m.OutboxMessage.id)
    )
    reminders: dict[int, list[datetime]] = defaultdict(list)
    escalations: dict[int, list[Escalation]] = defaultdict(list)
    steps: set[tuple[int, str, date]] = set()
    for request_id, kind, created_at in rows:
        if kind in REMINDER_KINDS:
            reminders[request_id].append(created_at)
            continue
        step = Escalation(created_at, ESCALATION_KINDS[kind])
        if (request_id, step.level, step.day) not in steps:
            steps.add((request_id, step.level, step.day))
            escalations[request_id].append(step)
    return reminders, escalations


# --------------------------------------------------------------------------- as a table

COLUMNS = (
    "period",
    "person",
    "email",
    "on_behalf_of",
    "item",
    "title",
    "due",
    "status",
    "returned_at",
    "promised_for",
    "reminders",
    "reminder_dates",
    "escalations",
    "escalation_dates",
    "escalated_to",
    "bouncing_since",
)


def local_day(when: datetime) -> str:
    """An instant as its council-local date, ``2026-05-12``: chases go out once a day."""
    return when.astimezone(LOCAL_TZ).date().isoformat()


def local_instant(when: datetime | None) -> str | None:
    """An instant in council local time, ISO 8601 with its offset, or None."""
    return None if when is None else when.astimezone(LOCAL_TZ).isoformat()


def returns_table(view: ReturnsByPerson, *, lists: bool = False) -> Table:
    """The lines as an export table (for :func:`mailcapture.reports.export.to_csv` and
    ``to_json``). ``lists``: chase dates as lists (JSON) rather than one text cell joined
    with spaces (CSV, where a list has no cell of its own)."""
    rows: list[tuple[Any, ...]] = []
    for line in view.lines:
        reminded = [local_day(at) for at in line.reminders]
        escalated = [e.day.isoformat() for e in line.escalations]
        levels = [e.level for e in line.escalations]
        rows.append(
            (
                line.period,
                line.person,
                line.email,
                line.on_behalf_of,
                line.item,
                line.title,
                local_instant(line.due_at),
                line.status.value,
                local_instant(line.returned_at),
                line.promised_for.isoformat() if line.promised_for else None,
                len(line.reminders),
                reminded if lists else " ".join(reminded),
                len(line.escalations),
                escalated if lists else " ".join(escalated),
                levels if lists else " ".join(levels),
                local_instant(line.bouncing_since),
            )
        )
    return Table(COLUMNS, rows)
