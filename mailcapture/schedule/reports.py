"""When the report emails go out, and queueing each once.

Every report run belongs to a month and covers the periods that end with it (the month;
its quarter in June, September, December and March; the year in March), so it waits
for the *latest* due date among them. From that date, counted in working days with the
council's calendar, at the monthly requests' time of day (defaults in
:data:`DEFAULT_TIMES`):

* **owner reports**: 3 working days after the due date, the day after the first
  escalation (2 working days after it in the sample timetable), so that returns chased
  then are in. June's owner report therefore comes 3 working days after the
  *quarterly* due date and March's after the *annual* one, with every figure for the
  quarter or year in the one email.
* **department reports** and the **exception report**: 6 working days after the due
  date, when the owners have had three working days to sign off and comment, and the
  day after the escalation to heads of service.
* **the quarterly report to members**: 8 working days after the owner report of the
  quarter's last month (the owners' sign-off window; about 25 working days after the
  quarter ends).
* **the end-of-year report**: with the Q4 report, 8 working days after March's owner
  report (which waits for the annual due date), so it has the year's annual figures.
* **owner report reminders** (issue 15, part 8): 3 and 5 working days after an owner
  report went out (before the quarterly report to members, 8 working days after it), the
  owner is reminded of the indicators the report listed that are red or worsening and
  still have no commentary; none when nothing needs any, none once the report's token has
  expired (the round has closed). See :mod:`mailcapture.schedule.report_reminders`. The
  timetable register has no reminder steps for reports, so these are defaults here.

An owner or department report's token expires when the next month's report of the
same kind goes out (answers after that belong to the newer report), but never sooner
than :data:`MIN_ANSWER_TIME` after it was sent: March's owner report waits for the
annual due date and can go out on the same day as April's.

Catching up after the service was down: a report whose time has come is sent for
:data:`CATCH_UP` (a week); after that it is stale and skipped (a service started today
does not send last winter's reports).
Every email is keyed (``ReportRun.key`` and the outbox dedupe key), so a tick that runs
twice, or in two processes, queues nothing twice. Target changes included in a
quarterly or annual report are marked reported (:func:`.targets.mark_reported`).

The offsets are constants here rather than register settings: the timetable loader
validates every key, and nobody has yet asked to move a report day.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import LOCAL_TZ, as_utc
from mailcapture.compose.views import Person
from mailcapture.db import models as m
from mailcapture.db.engine import transaction
from mailcapture.db.periods import PeriodStore
from mailcapture.domain.enums import Frequency, ReportKind
from mailcapture.domain.frequency import frequency_of
from mailcapture.domain.periods import Period, PeriodKind, month_of
from mailcapture.outbox.notices import council, when_text
from mailcapture.register.mail import mail_settings
from mailcapture.register.model import MailSpec
from mailcapture.reports import content
from mailcapture.reports.email import build
from mailcapture.reports.email.send import ReportMail, queue_report, run_keys
from mailcapture.reports.email.views import IndicatorLine, OwnerReportView, OwnerRoundView
from mailcapture.reports.targets import mark_reported
from mailcapture.schedule.timetable import Timetable, load_timetable
from mailcapture.schedule.tokens import new_token

KINDS = ("owner", "department", "exception", "quarterly", "annual")
#: How long after its time a report is still sent when the service was down.
CATCH_UP = timedelta(days=7)
#: The shortest time an owner or department report can be answered in.
MIN_ANSWER_TIME = timedelta(days=14)


@dataclass(frozen=True)
class ReportTimes:
    """Working-day offsets of the report runs (see the module docstring)."""

    owner_after_due: int = 3
    department_after_due: int = 6
    exception_after_due: int = 6
    members_after_owner: int = 8
    #: The owner report's commentary reminders, in working days after it went out.
    owner_reminders_after: tuple[int, ...] = (3, 5)


DEFAULT_TIMES = ReportTimes()


@dataclass(frozen=True)
class MonthReports:
    """When each report of one month's run goes out (``quarterly``/``annual`` if any)."""

    month: Period
    times: dict[str, datetime]


@dataclass
class ReportTally:
    queued: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))

    @property
    def total(self) -> int:
        return sum(self.queued.values())

    def __str__(self) -> str:
        return ", ".join(f"{n} {kind} report(s)" for kind, n in self.queued.items()) + " queued"


def report_times(
    timetable: Timetable, month: Period, times: ReportTimes = DEFAULT_TIMES
) -> MonthReports:
    """When ``month``'s reports go out, from the timetable's due dates."""
    cal = timetable.calendar
    dues = [
        timetable.dates(frequency_of(p), p).due_at
        for p in build.covered_periods(month)
        if frequency_of(p) in timetable.rules
    ]
    monthly = timetable.rules.get(Frequency.MONTHLY)
    at_time = monthly.request_time if monthly else time(9, 0)
    due_day = max(dues).astimezone(LOCAL_TZ).date() if dues else month.end

    def at(day: date) -> datetime:
        return as_utc(datetime.combine(day, at_time, tzinfo=LOCAL_TZ))

    owner_day = cal.add_working_days(due_day, times.owner_after_due)
    found = {
        "owner": at(owner_day),
        "department": at(cal.add_working_days(due_day, times.department_after_due)),
        "exception": at(cal.add_working_days(due_day, times.exception_after_due)),
    }
    members = at(cal.add_working_days(owner_day, times.members_after_owner))
    if month.end == (month.parent() or month).end:
        found["quarterly"] = members
    if month.end == Period(month.fy, PeriodKind.YEAR, 1).end:
        found["annual"] = members
    return MonthReports(month, found)


def _months_around(now: datetime) -> Iterator[Period]:
    """Months whose reports may be due at ``now``: the annual run waits about 9 weeks."""
    current = month_of(now.astimezone(LOCAL_TZ).date())
    for back in range(4, -1, -1):
        yield current.shift(-back)


def queue_reports(
    sessions: sessionmaker[Session], now: datetime, times: ReportTimes = DEFAULT_TIMES
) -> ReportTally:
    """Queue every report whose time has come and is not yet stale; each exactly once."""
    tally = ReportTally()
    with sessions() as session:
        timetable = load_timetable(session)
    if not timetable.rules:
        return tally
    for month in _months_around(now):
        plan = report_times(timetable, month, times)
        following = report_times(timetable, month.next(), times).times
        due = [kind for kind, at in plan.times.items() if at <= now < at + CATCH_UP]
        if not due:
            continue
        with transaction(sessions) as session:
            _MonthRun(session, plan, following, now, tally).run(due)
    return tally


class _MonthRun:
    """One month's report run at one instant."""

    def __init__(
        self,
        session: Session,
        plan: MonthReports,
        following: dict[str, datetime],
        now: datetime,
        tally: ReportTally,
    ) -> None:
        self.session = session
        self.plan = plan
        self.month = plan.month
        #: When the owner and department reports' tokens expire.
        self.expiry = {
            kind: max(following[kind], plan.times[kind] + MIN_ANSWER_TIME)
            for kind in ("owner", "department")
        }
        self.now = now
        self.tally = tally
        self.mail: MailSpec = mail_settings(session)
        self.council = council(self.mail)
        self.store = PeriodStore(session)
        self.month_row = self.store.get(self.month)
        self.done = run_keys(session, self.month_row.id)
        self._data: build.RunData | None = None
        self.charts = build.ChartMaker(session, self.mail.reply_domain)

    @property
    def data(self) -> build.RunData:
        if self._data is None:
            self._data = build.run_data(self.session, self.month, self.now)
        return self._data

    def run(self, kinds: list[str]) -> None:
        for kind in kinds:
            getattr(self, f"queue_{kind}")()

    def _queue(self, report: ReportMail, view: object, lines: list[IndicatorLine]) -> None:
        images = self.charts.images(lines)
        if queue_report(self.session, self.mail, report, view, images, self.now) is not None:
            self.tally.queued[report.kind] = self.tally.queued.get(report.kind, 0) + 1
            self.done.add(report.key)

    # ---- owner ---------------------------------------------------------------------
    def queue_owner(self) -> None:
        owners = _owners(self.session)
        copies = _recipients(self.session, ReportKind.OWNER)
        sent: list[OwnerReportView] = []
        for owner in owners:
            key = f"owner:{self.month.code}:{owner.id}"
            if key in self.done:
                continue
            token = new_token()
            view = build.owner_view(
                self.session,
                self.data,
                self.council,
                owner,
                owner,
                token=token,
                answer_by=self.expiry["owner"],
                charts=self.charts,
            )
            if view is None:
                continue
            lines = [*view.awaiting, *view.others]
            if key not in self.done:
                self._queue(
                    ReportMail(
                        kind="owner",
                        key=key,
                        period_id=self.month_row.id,
                        person=owner,
                        token=token,
                        expires_at=self.expiry["owner"],
                    ),
                    view,
                    lines,
                )
            sent.append(view)
        self.queue_owner_round(copies, sent)

    def queue_owner_round(self, copies: list[m.Person], views: list[OwnerReportView]) -> None:
        """The round's owner reports in one email to each person copied (issue 15): the
        performance team read one email a month instead of a copy of every owner's report."""
        if not views:
            return
        for person in copies:
            key = f"owner:{self.month.code}:round:{person.id}"
            if key in self.done:
                continue
            view = OwnerRoundView(
                council=self.council,
                recipient=Person(person.name, person.email),
                period_code=self.month.code,
                period_label=self.month.label,
                covered=views[0].covered,
                answer_by=when_text(self.expiry["owner"]),
                reports=tuple(replace(v, token=None) for v in views),
            )
            self._queue(
                ReportMail(kind="owner_round", key=key, period_id=self.month_row.id, person=person),
                view,
                [],
            )

    # ---- department ----------------------------------------------------------------
    def queue_department(self) -> None:
        listed = _recipients(self.session, ReportKind.DEPARTMENT)
        for department, people in _department_recipients(self.session, listed):
            for person in people:
                key = f"department:{self.month.code}:{department.code}:{person.id}"
                if key in self.done:
                    continue
                token = new_token()
                view = build.department_view(
                    self.session,
                    self.data,
                    self.council,
                    department,
                    person,
                    token=token,
                    answer_by=self.expiry["department"],
                    charts=self.charts,
                )
                lines = [i for s in view.sections for i in s.indicators]
                self._queue(
                    ReportMail(
                        kind="department",
                        key=key,
                        period_id=self.month_row.id,
                        person=person,
                        department_id=department.id,
                        token=token,
                        expires_at=self.expiry["department"],
                    ),
                    view,
                    lines,
                )

    # ---- exception -----------------------------------------------------------------
    def queue_exception(self) -> None:
        for person in _recipients(self.session, ReportKind.EXCEPTION):
            key = f"exception:{self.month.code}:{person.id}"
            if key in self.done:
                continue
            view = build.exception_view(self.data, self.council, person)
            self._queue(
                ReportMail(kind="exception", key=key, period_id=self.month_row.id, person=person),
                view,
                [],
            )

    # ---- members -------------------------------------------------------------------
    def queue_quarterly(self) -> None:
        quarter = self.month.parent()
        assert quarter is not None
        self._members("quarterly", quarter, ReportKind.QUARTERLY, annual=False)

    def queue_annual(self) -> None:
        self._members("annual", Period(self.month.fy, PeriodKind.YEAR, 1), ReportKind.ANNUAL, True)

    def _members(self, kind: str, period: Period, report_kind: ReportKind, annual: bool) -> None:
        row = self.store.get(period)
        done = run_keys(self.session, row.id)
        people = [
            p
            for p in _recipients(self.session, report_kind)
            if f"{kind}:{period.code}:{p.id}" not in done
        ]
        if not people:
            return
        report = content.performance_report(self.session, period, self.now, annual=annual)
        queued = 0
        for person in people:
            view = build.performance_view(report, self.council, person, self.charts)
            before = self.tally.queued[kind]
            self._queue(
                ReportMail(
                    kind=kind,
                    key=f"{kind}:{period.code}:{person.id}",
                    period_id=row.id,
                    person=person,
                ),
                view,
                [i for s in view.sections for i in s.indicators],
            )
            queued += self.tally.queued[kind] - before
        if queued and report.target_changes:
            mark_reported(self.session, report.target_changes, self.now)


def _owners(session: Session) -> list[m.Person]:
    """Everyone who owns a live indicator or project, by name."""
    owns = (
        select(m.Indicator.owner_id)
        .where(m.Indicator.retired_at.is_(None))
        .union(select(m.Project.owner_id).where(m.Project.retired_at.is_(None)))
    )
    return list(
        session.scalars(
            select(m.Person)
            .where(m.Person.id.in_(owns), m.Person.retired_at.is_(None))
            .order_by(m.Person.name, m.Person.id)
        )
    )


def _recipients(session: Session, kind: ReportKind) -> list[m.Person]:
    """The live recipients of the live report definitions of ``kind``."""
    return list(
        session.scalars(
            select(m.Person)
            .join(m.ReportRecipient, m.ReportRecipient.person_id == m.Person.id)
            .join(m.ReportDefinition, m.ReportDefinition.id == m.ReportRecipient.report_id)
            .where(
                m.ReportDefinition.kind == kind,
                m.ReportDefinition.retired_at.is_(None),
                m.Person.retired_at.is_(None),
            )
            .distinct()
            .order_by(m.Person.name, m.Person.id)
        )
    )


def _department_recipients(
    session: Session, listed: list[m.Person]
) -> list[tuple[m.Department, list[m.Person]]]:
    """Each live department's head, and the department report's recipients in it.

    A listed recipient belongs to the department they head, else to their service
    area's department.
    """
    heads = {row.department_id: row.person_id for row in session.scalars(select(m.DepartmentHead))}
    headed = {person_id: dept_id for dept_id, person_id in heads.items()}
    found = []
    for department in session.scalars(
        select(m.Department).where(m.Department.retired_at.is_(None)).order_by(m.Department.code)
    ):
        people: dict[int, m.Person] = {}
        head_id = heads.get(department.id)
        if head_id is not None:
            head = session.get_one(m.Person, head_id)
            if head.retired_at is None:
                people[head.id] = head
        for person in listed:
            home = headed.get(person.id) or (
                person.service_area.department_id if person.service_area else None
            )
            if home == department.id:
                people[person.id] = person
        if people:
            found.append((department, sorted(people.values(), key=lambda p: (p.name, p.id))))
    return found
