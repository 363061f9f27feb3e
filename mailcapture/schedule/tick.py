"""``tick(now)``: decide from the timetable what mail is due, and queue each email once.

Idempotent by construction: every email has a unique reason key in the outbox, every
request is unique per person and period, every chase unique per request, kind, step and
person. Running the tick twice, or in two processes at once, queues nothing twice, so
each service process may run its own scheduler.

Catching up: when the service has been down, only the latest step of each chase that
has passed is sent (nobody wants three reminders at once), and a request created late
is not chased for steps that passed before it went out.

Items answered "not available until DATE" are asked for again on that date and chased from
there (:mod:`mailcapture.schedule.deferred`); until then they are neither chased nor
counted as outstanding here, and the returns summary lists them as promised.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.compose import views
from mailcapture.compose.message import make_message_id
from mailcapture.compose.textfmt import count_of, short_day
from mailcapture.db import models as m
from mailcapture.db.engine import transaction
from mailcapture.db.periods import PeriodStore
from mailcapture.domain.enums import ChaseKind, RequestState
from mailcapture.domain.periods import Period
from mailcapture.forms.context import FigureContext
from mailcapture.forms.due import (
    DueItem,
    due_by_person,
    item_key,
    promised_dates,
    returned_keys,
    waiting_for_choice,
)
from mailcapture.outbox.notices import (
    Outgoing,
    council,
    person_view,
    queue_email,
    team_view,
    to_requested,
    when_text,
)
from mailcapture.outbox.queue import already_queued
from mailcapture.progress import NO_PROGRESS, Progress
from mailcapture.register.mail import mail_settings
from mailcapture.register.model import MailSpec
from mailcapture.reports.commentary import needing_commentary, request_indicator_codes
from mailcapture.reports.returns import ReturnsStatus, percent_text, returns_status
from mailcapture.schedule.choice_chase import queue_choice_chases
from mailcapture.schedule.deferred import mark_promised, queue_deferred
from mailcapture.schedule.digest import queue_digests
from mailcapture.schedule.report_reminders import queue_commentary_chases
from mailcapture.schedule.reports import KINDS as REPORT_KINDS
from mailcapture.schedule.reports import queue_reports
from mailcapture.schedule.timetable import (
    PeriodDates,
    Timetable,
    load_timetable,
    reminder_stale_at,
)
from mailcapture.schedule.tokens import new_token

#: How long a request's token keeps accepting returns and corrections after its due date.
TOKEN_LIFETIME_DAYS = 92


@dataclass
class TickReport:
    requests: int = 0
    reminders: int = 0
    escalations: int = 0
    summaries: int = 0
    #: The performance team's daily digests of inbound mail needing attention.
    digests: int = 0
    #: Report emails queued, by kind (owner, department, exception, quarterly, annual).
    reports: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REPORT_KINDS, 0))
    queued_ids: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return (
            self.requests
            + self.reminders
            + self.escalations
            + self.summaries
            + self.digests
            + sum(self.reports.values())
        )

    def __str__(self) -> str:
        """'4 request(s), 0 reminder(s), 0 escalation(s), 0 summary(ies), 0 digest(s),
        7 report(s) (5 owner, 2 department) queued': the report kinds named only when some
        were."""
        reports = sum(self.reports.values())
        kinds = ", ".join(f"{n} {kind}" for kind, n in self.reports.items() if n)
        return (
            f"{self.requests} request(s), {self.reminders} reminder(s), "
            f"{self.escalations} escalation(s), {self.summaries} summary(ies), "
            f"{self.digests} digest(s), {reports} report(s){f' ({kinds})' if kinds else ''} queued"
        )

    def as_dict(self) -> dict[str, int | dict[str, int]]:
        """What ``scheduler_ticks.queued`` keeps and the service logs for each tick."""
        return {
            "requests": self.requests,
            "reminders": self.reminders,
            "escalations": self.escalations,
            "summaries": self.summaries,
            "digests": self.digests,
            "reports": dict(self.reports),
        }


def tick(
    sessions: sessionmaker[Session], now: datetime, progress: Progress = NO_PROGRESS
) -> TickReport:
    """Queue everything the timetable says is due at ``now``, each email exactly once.

    ``progress`` hears of each request composed (the long part of a tick on a large register).
    """
    report = TickReport()
    with transaction(sessions) as session:
        record = m.SchedulerTick(tick_time=now, started_at=now)
        session.add(record)
        session.flush()
        record_id = record.id
        timetable = load_timetable(session)
        mail = mail_settings(session)
    for frequency in timetable.rules:
        for period in timetable.periods_around(frequency, now, back=2, ahead=0):
            dates = timetable.dates(frequency, period)
            if now < dates.request_at:
                continue
            with transaction(sessions) as session:
                _PeriodTick(session, mail, timetable, dates, now, report, progress).run()
    # Items answered "not available until DATE": asked again on that date, then chased.
    with transaction(sessions) as session:
        deferred = queue_deferred(session, mail, timetable, now)
    report.requests += deferred.requests
    report.reminders += deferred.reminders
    report.escalations += deferred.escalations
    report.queued_ids.extend(deferred.queued_ids)
    # Report emails: see mailcapture.schedule.reports.
    report.reports.update(queue_reports(sessions, now).queued)
    # Owners reminded of red or worsening indicators without commentary: report_reminders.py.
    with transaction(sessions) as session:
        report.reminders += queue_commentary_chases(session, mail, timetable, now)
    # Owners asked to choose between differing figures and silent: choice_chase.py.
    with transaction(sessions) as session:
        report.reminders += queue_choice_chases(session, mail, timetable, now)
    # The performance team's daily digest of inbound mail: see mailcapture.schedule.digest.
    with transaction(sessions) as session:
        report.digests = queue_digests(session, mail, now)
    with transaction(sessions) as session:
        record = session.get_one(m.SchedulerTick, record_id)
        record.finished_at = now
        record.queued = report.as_dict()
    return report


def _latest_step(times: list[datetime], now: datetime) -> int | None:
    """Index of the last step whose time has come, or None."""
    passed = [i for i, t in enumerate(times) if t <= now]
    return passed[-1] if passed else None


class _PeriodTick:
    """The decisions for one period of one frequency at one instant."""

    def __init__(
        self,
        session: Session,
        mail: MailSpec,
        timetable: Timetable,
        dates: PeriodDates,
        now: datetime,
        report: TickReport,
        progress: Progress = NO_PROGRESS,
    ) -> None:
        self.session = session
        self.progress = progress
        self.mail = mail
        self.timetable = timetable
        self.dates = dates
        self.period: Period = dates.period
        self.now = now
        self.report = report
        self.period_row = PeriodStore(session).get(self.period)
        self._due: dict[int, list[DueItem]] | None = None
        self._promised: dict[tuple[str, int], date] | None = None
        self._choosing: set[tuple[str, int]] | None = None
        self._people: dict[int, m.Person] = {}
        self._reminders: dict[int, list[date]] | None = None
        #: Reasons already in the outbox for this period: checked before rendering, so a
        #: tick that has nothing new to say costs a query, not a rendered email per step.
        self.queued = set(
            session.scalars(
                select(m.OutboxMessage.dedupe_key).where(
                    m.OutboxMessage.period_id == self.period_row.id
                )
            )
        )

    # ---- shared lookups --------------------------------------------------------------
    @property
    def due(self) -> dict[int, list[DueItem]]:
        if self._due is None:
            self._due = due_by_person(self.session, self.period)
        return self._due

    def person(self, person_id: int) -> m.Person:
        if person_id not in self._people:
            self._people[person_id] = self.session.get_one(m.Person, person_id)
        return self._people[person_id]

    def returned(self, items: list[DueItem]) -> set[tuple[str, int]]:
        return returned_keys(
            self.session,
            self.period_row.id,
            [i.component_id for i in items if i.component_id is not None],
            [i.milestone_id for i in items if i.milestone_id is not None],
        )

    def open_requests(self) -> list[m.DataRequest]:
        return list(
            self.session.scalars(
                select(m.DataRequest)
                .where(m.DataRequest.period_id == self.period_row.id)
                .order_by(m.DataRequest.id)
            )
        )

    @property
    def promised(self) -> dict[tuple[str, int], date]:
        """Items answered "not available until DATE" for this period, with the date."""
        if self._promised is None:
            ids = [i.component_id for v in self.due.values() for i in v if i.component_id]
            self._promised = promised_dates(self.session, self.period_row.id, ids)
        return self._promised

    @property
    def choosing(self) -> set[tuple[str, int]]:
        """Items whose differing figures wait for the owner's choice: not chased here."""
        if self._choosing is None:
            ids = [i.component_id for v in self.due.values() for i in v if i.component_id]
            self._choosing = waiting_for_choice(self.session, self.period_row.id, ids)
        return self._choosing

    def chased_here(self, key: tuple[str, int]) -> bool:
        """Is a promised item chased by this period's steps now (see schedule/deferred.py)?

        Only once its day has come, and only when that day was before the period's
        deadline; a promise for the deadline or later has a round of its own.
        """
        when = self.timetable.deferred_dates(self.dates.frequency, self.period, self.promised[key])
        return when.joins_period and self.now >= when.dates.request_at

    def outstanding(self, requests: list[m.DataRequest]) -> dict[int, list[DueItem]]:
        """Per request, the items not yet returned, not put off to a later date and not
        waiting for the owner's choice between differing figures (those keep the request
        open, but their updaters are not chased: the owner is, by choice_chase.py)."""
        by_key: dict[tuple[int, tuple[str, int]], DueItem] = {}
        for person_id, items in self.due.items():
            for item in items:
                by_key[(person_id, item_key(item))] = item
        all_items = [i for items in self.due.values() for i in items]
        done = self.returned(all_items)
        result: dict[int, list[DueItem]] = {}
        for request in requests:
            owner_id = request.on_behalf_of_id or request.person_id
            pending = []
            waits = False
            for row in request.items:
                key = item_key(row)
                due_item = by_key.get((owner_id, key))
                if due_item is None or key in done:
                    continue
                if key in self.choosing:
                    waits = True  # owed by the owner's choice: open, but not chased here
                    continue
                if key in self.promised:
                    waits = True
                    if not self.chased_here(key):
                        continue
                pending.append(due_item)
            result[request.id] = pending
            if not pending and not waits and request.state is RequestState.OPEN:
                request.state = RequestState.COMPLETE
                request.completed_at = self.now
        return result

    def marked(self, items: list[DueItem]) -> tuple[views.FormItem, ...]:
        """:meth:`form_items`, each promised item carrying its date (for owed lists)."""
        promised = {
            i.code: self.promised[item_key(i)] for i in items if item_key(i) in self.promised
        }
        return mark_promised(self.form_items(items), promised)

    def form_items(self, items: list[DueItem]) -> tuple[views.FormItem, ...]:
        context = FigureContext(self.session, self.period, items)
        return tuple(context.form_item(i) for i in items)

    # ---- the phases ------------------------------------------------------------------
    def run(self) -> None:
        if self.now < self.dates.summary_at:
            self.queue_requests()
        requests = self.open_requests()
        if not requests:
            return  # nothing was asked for this period: nothing to chase or summarise
        outstanding: dict[int, list[DueItem]] | None = None
        if any(self.person(r.person_id).mail_failing_since is not None for r in requests):
            outstanding = self.outstanding(requests)
            self.queue_bounced_chase(requests, outstanding)
        step = _latest_step(list(self.dates.reminders), self.now)
        if step is not None and self.now < reminder_stale_at(self.dates, step):
            outstanding = outstanding or self.outstanding(requests)
            self.queue_reminders(requests, outstanding, step)
        times = [t for _, t in self.dates.escalations]
        step = _latest_step(times, self.now)
        if step is not None:
            outstanding = outstanding or self.outstanding(requests)
            self.queue_escalations(requests, outstanding, step)
        if self.now >= self.dates.summary_at:
            outstanding = outstanding or self.outstanding(requests)
            self.queue_summary(requests, outstanding)

    def queue_requests(self) -> None:
        existing = set(
            self.session.scalars(
                select(m.DataRequest.person_id).where(m.DataRequest.period_id == self.period_row.id)
            )
        )
        waiting = {p: items for p, items in self.due.items() if p not in existing}
        if not waiting:
            return
        done = self.returned([i for items in waiting.values() for i in items])
        context = FigureContext(
            self.session, self.period, [i for items in waiting.values() for i in items]
        )
        self.progress.start(f"requests for {self.period.label}", len(waiting))
        for person_id, items in sorted(waiting.items()):
            pending = [i for i in items if item_key(i) not in done]
            if pending:  # else everything is already in (e.g. loaded history): nothing to ask
                self.queue_request(person_id, pending, context)
            self.progress.advance()

    def queue_request(self, person_id: int, items: list[DueItem], context: FigureContext) -> None:
        person = self.person(person_id)
        token = new_token()
        try:
            with self.session.begin_nested():
                request = m.DataRequest(
                    person_id=person_id,
                    period_id=self.period_row.id,
                    token=token,
                    message_id="",
                    state=RequestState.OPEN,
                    created_at=self.now,
                    due_at=self.dates.due_at,
                    expires_at=self.dates.due_at + timedelta(days=TOKEN_LIFETIME_DAYS),
                )
                for position, item in enumerate(items):
                    request.items.append(
                        m.DataRequestItem(
                            position=position,
                            item_code=item.code,
                            component_id=item.component_id,
                            milestone_id=item.milestone_id,
                            indicator_id=item.indicator_id,
                        )
                    )
                view = views.RequestView(
                    council=council(self.mail),
                    recipient=person_view(person),
                    period_code=self.period.code,
                    period_label=self.period.label,
                    token=token,
                    due=when_text(self.dates.due_at),
                    items=tuple(context.form_item(i) for i in items),
                )
                request.message_id = make_message_id(self.mail.reply_domain)
                self.session.add(request)
                self.session.flush()
                row = queue_email(
                    self.session,
                    self.mail,
                    Outgoing(
                        kind="request",
                        recipient=person_view(person),
                        dedupe_key=f"request:{person_id}:{self.period.code}",
                        person_id=person_id,
                        request_id=request.id,
                        period_id=self.period_row.id,
                        reply_token=token,
                        message_id=request.message_id,
                    ),
                    view,
                    self.now,
                )
                if row is None:
                    raise _AlreadyDone
        except (IntegrityError, _AlreadyDone):
            return  # another process queued this person's request first
        self.report.requests += 1
        self.report.queued_ids.append(row.id)

    def queue_reminders(
        self, requests: list[m.DataRequest], outstanding: dict[int, list[DueItem]], step: int
    ) -> None:
        when = self.dates.reminders[step]
        working_days_left = self.timetable.calendar.working_days_between(
            when.date(), self.dates.due_at.date()
        )
        for request in requests:
            items = outstanding.get(request.id) or []
            if not items and request.state is RequestState.COMPLETE:
                self.queue_commentary_reminder(request, step, when)
                continue
            if not items or request.state is not RequestState.OPEN:
                continue
            if request.created_at > when or f"reminder:{request.id}:{step + 1}" in self.queued:
                continue
            person = self.person(request.person_id)
            if person.mail_failing_since is not None:
                continue  # the address bounces: the owner was told instead (bounced_chase)
            view = views.ReminderView(
                council=council(self.mail),
                recipient=person_view(person),
                period_code=self.period.code,
                period_label=self.period.label,
                token=request.token,
                due=when_text(self.dates.due_at),
                items=self.form_items(items),
                step=step + 1,
                days_left=working_days_left,
            )
            out = to_requested("reminder", person, request, f"reminder:{request.id}:{step + 1}")
            if self._chase(request, ChaseKind.REMINDER, step + 1, person.id, out, view):
                self.report.reminders += 1

    def queue_commentary_reminder(self, request: m.DataRequest, step: int, when: datetime) -> None:
        """Every value is in, but red or worsening figures have no commentary: ask, once.

        One per request (the outbox key has no step), at the first reminder step after the
        return was complete; it is a reminder, so escalations (which look only at
        outstanding items) are unchanged.
        """
        key = f"commentary:{request.id}"
        if request.created_at > when or key in self.queued:
            return
        needed = needing_commentary(
            self.session, self.period, request_indicator_codes(self.session, request.id)
        )
        if not needed:
            return
        person = self.person(request.person_id)
        principal = self.person(request.on_behalf_of_id) if request.on_behalf_of_id else None
        view = views.CommentaryReminderView(
            council=council(self.mail),
            recipient=person_view(person),
            period_code=self.period.code,
            period_label=self.period.label,
            token=request.token,
            due=when_text(self.dates.due_at),
            needed=tuple(views.CommentaryLine(r.code, r.title, why) for r, why in needed),
            on_behalf_of=person_view(principal) if principal else None,
        )
        out = to_requested("commentary_reminder", person, request, key)
        if self._chase(request, ChaseKind.REMINDER, step + 1, person.id, out, view):
            self.report.reminders += 1

    def queue_escalations(
        self, requests: list[m.DataRequest], outstanding: dict[int, list[DueItem]], step: int
    ) -> None:
        level, when = self.dates.escalations[step]
        kind = ChaseKind.ESCALATION_OWNER if level == "owner" else ChaseKind.ESCALATION_HEAD
        # Who owes what, grouped by the person to escalate to.
        by_target: dict[int, dict[int, list[DueItem]]] = defaultdict(lambda: defaultdict(list))
        for request in requests:
            if request.created_at > when or request.state is not RequestState.OPEN:
                continue
            for item in outstanding.get(request.id) or []:
                target_id = item.owner_id if level == "owner" else item.escalation_owner_id
                by_target[target_id][request.id].append(item)
        overdue = self.timetable.calendar.working_days_between(
            self.dates.due_at.date(), when.date()
        )
        by_id = {r.id: r for r in requests}
        for target_id, per_request in sorted(by_target.items()):
            if f"escalation:{self.period.code}:{step + 1}:{target_id}" in self.queued:
                continue
            target = self.person(target_id)
            if target.mail_failing_since is not None:
                continue  # their address bounces too: the performance team was told
            lines = tuple(
                self.overdue_line(by_id[rid], items) for rid, items in sorted(per_request.items())
            )
            view = views.EscalationView(
                council=council(self.mail),
                recipient=person_view(target),
                level="owner" if level == "owner" else "escalation_owner",
                period_code=self.period.code,
                period_label=self.period.label,
                due=when_text(self.dates.due_at),
                working_days_overdue=overdue,
                lines=lines,
            )
            out = Outgoing(
                kind="escalation_owner" if level == "owner" else "escalation_head",
                recipient=person_view(target),
                dedupe_key=f"escalation:{self.period.code}:{step + 1}:{target_id}",
                person_id=target_id,
                period_id=self.period_row.id,
            )
            queued = False
            with self.session.begin_nested():
                row = queue_email(self.session, self.mail, out, view, self.now)
                if row is not None:
                    for request_id in per_request:
                        self.session.add(
                            m.RequestChase(
                                request_id=request_id,
                                kind=kind,
                                step=step + 1,
                                person_id=target_id,
                                queued_at=self.now,
                                outbox_id=row.id,
                            )
                        )
                    queued = True
            if queued:
                self.report.escalations += 1

    def overdue_line(self, request: m.DataRequest, items: list[DueItem]) -> views.OverdueLine:
        """One updater's owed items, with what they were sent and whether their mail bounces."""
        person = self.person(request.person_id)
        bounced = None
        if person.mail_failing_since is not None:
            bounced = f"since {short_day(person.mail_failing_since.date())}"
            if person.mail_failure_reason:
                bounced += f" ({person.mail_failure_reason})"
        return views.OverdueLine(
            updater=person_view(person),
            items=self.marked(items),
            request_token=request.token,
            chased=self.chased_text(request),
            bounced=bounced,
        )

    def chased_text(self, request: m.DataRequest) -> str:
        """'the request on 1 May; reminders on 11 and 13 May' (issue 15: the escalation says
        what was sent, never that reminders went when none did)."""
        if self._reminders is None:
            self._reminders = defaultdict(list)
            for request_id, queued_at in self.session.execute(
                select(m.RequestChase.request_id, m.RequestChase.queued_at)
                .join(m.DataRequest, m.DataRequest.id == m.RequestChase.request_id)
                .where(
                    m.DataRequest.period_id == self.period_row.id,
                    m.RequestChase.kind == ChaseKind.REMINDER,
                )
                .order_by(m.RequestChase.queued_at)
            ):
                self._reminders[request_id].append(queued_at.date())
        sent = f"the request on {short_day(request.created_at.date())}"
        reminders = self._reminders.get(request.id, [])
        if not reminders:
            return f"{sent}; no reminder"
        days = ", ".join(short_day(d) for d in reminders)
        return f"{sent}; {count_of(len(reminders), 'reminder')} on {days}"

    def queue_bounced_chase(
        self, requests: list[m.DataRequest], outstanding: dict[int, list[DueItem]]
    ) -> None:
        """The updater's address bounces: tell the owners of what they owe at once (issue 15).

        Reminders cannot reach them, so the chase moves to each owner straight away, once
        per request, owner and bounce (a later bounce after a successful reply is news
        again). An owner whose own address bounces is not written to.
        """
        for request in requests:
            person = self.person(request.person_id)
            items = outstanding.get(request.id) or []
            if person.mail_failing_since is None or not items:
                continue
            if request.state is not RequestState.OPEN:
                continue
            since = person.mail_failing_since.date().isoformat()
            by_owner: dict[int, list[DueItem]] = defaultdict(list)
            for item in items:
                by_owner[item.owner_id].append(item)
            for owner_id, owed in sorted(by_owner.items()):
                key = f"bounced:{request.id}:{owner_id}:{since}"
                owner = self.person(owner_id)
                if key in self.queued or owner.mail_failing_since is not None:
                    continue
                view = views.EscalationView(
                    council=council(self.mail),
                    recipient=person_view(owner),
                    level="owner",
                    period_code=self.period.code,
                    period_label=self.period.label,
                    due=when_text(self.dates.due_at),
                    working_days_overdue=0,
                    lines=(self.overdue_line(request, owed),),
                    bounced=True,
                )
                out = Outgoing(
                    kind="escalation_owner",
                    recipient=person_view(owner),
                    dedupe_key=key,
                    person_id=owner_id,
                    request_id=request.id,
                    period_id=self.period_row.id,
                )
                # Step 0: before the timetable's own escalations (steps 1 and on), recorded
                # like them, so the returns view counts it against her request.
                if self._chase(request, ChaseKind.ESCALATION_OWNER, 0, owner_id, out, view):
                    self.report.escalations += 1
                self.queued.add(key)

    def _chase(
        self,
        request: m.DataRequest,
        kind: ChaseKind,
        step: int,
        person_id: int,
        out: Outgoing,
        view: object,
    ) -> bool:
        try:
            with self.session.begin_nested():
                row = queue_email(self.session, self.mail, out, view, self.now)
                if row is None:
                    raise _AlreadyDone
                self.session.add(
                    m.RequestChase(
                        request_id=request.id,
                        kind=kind,
                        step=step,
                        person_id=person_id,
                        queued_at=self.now,
                        outbox_id=row.id,
                    )
                )
                self.session.flush()
        except (IntegrityError, _AlreadyDone):
            return False
        self.report.queued_ids.append(row.id)
        return True

    def queue_summary(
        self, requests: list[m.DataRequest], outstanding: dict[int, list[DueItem]]
    ) -> None:
        key = f"summary:{self.period.code}"
        if key in self.queued or already_queued(self.session, key):
            return
        view = self.summary_view(requests, outstanding)
        if (
            queue_email(
                self.session,
                self.mail,
                Outgoing(
                    kind="returns_summary",
                    recipient=team_view(self.mail),
                    dedupe_key=key,
                    period_id=self.period_row.id,
                ),
                view,
                self.now,
            )
            is not None
        ):
            self.report.summaries += 1

    def summary_view(
        self, requests: list[m.DataRequest], outstanding: dict[int, list[DueItem]]
    ) -> views.SummaryView:
        """Counts by service area, then who still owes what, and who promised what for
        later: an item answered "not available until DATE" and not chased yet is shown as
        promised for that date, not counted as outstanding (nor as received)."""
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0])
        due_at = self.dates.due_at
        late_keys = self.late_keys(requests, due_at)
        by_key = {(p, item_key(i)): i for p, items in self.due.items() for i in items}
        done = self.returned([i for items in self.due.values() for i in items])
        owed: list[views.OverdueLine] = []
        promised: list[views.OverdueLine] = []
        choosing: list[views.OverdueLine] = []
        for request in requests:
            pending = {item_key(i) for i in outstanding.get(request.id) or []}
            later: list[DueItem] = []
            waiting: list[DueItem] = []
            for row in request.items:
                item = by_key.get((request.on_behalf_of_id or request.person_id, item_key(row)))
                if item is None:
                    continue
                row_counts = counts[item.group]
                row_counts[0] += 1
                if item_key(row) in pending:
                    row_counts[4] += 1
                elif item_key(row) in self.choosing and item_key(row) not in done:
                    row_counts[4] += 1  # outstanding until the owner chooses
                    waiting.append(item)
                elif item_key(row) in self.promised and item_key(row) not in done:
                    row_counts[5] += 1
                    later.append(item)
                else:
                    row_counts[1] += 1
                    row_counts[3 if item_key(row) in late_keys else 2] += 1
            if outstanding.get(request.id):
                owed.append(self.overdue_line(request, outstanding[request.id]))
            if later:
                promised.append(
                    views.OverdueLine(
                        updater=person_view(self.person(request.person_id)),
                        items=self.marked(later),
                        request_token=request.token,
                    )
                )
            if waiting:
                choosing.append(
                    views.OverdueLine(
                        updater=person_view(self.person(request.person_id)),
                        items=self.form_items(waiting),
                        request_token=request.token,
                    )
                )
        rows = tuple(views.ReturnsRow(group, *values) for group, values in sorted(counts.items()))
        totals = views.ReturnsRow("Total", *(sum(r[i] for r in counts.values()) for i in range(6)))
        return views.SummaryView(
            council=council(self.mail),
            recipient=team_view(self.mail),
            period_code=self.period.code,
            period_label=self.period.label,
            frequency=self.dates.frequency.value,
            due=when_text(due_at),
            rows=rows,
            totals=totals,
            outstanding=tuple(owed),
            as_at=when_text(self.now),
            shares=_share_lines(returns_status(self.session, self.period, self.now, only=True)),
            promised=tuple(promised),
            choosing=tuple(choosing),
        )

    def late_keys(self, requests: list[m.DataRequest], due_at: datetime) -> set[tuple[str, int]]:
        """Items whose current value arrived after the due date."""
        late: set[tuple[str, int]] = set()
        rows = self.session.execute(
            select(m.ComponentValue.component_id, m.ComponentValue.received_at).where(
                m.ComponentValue.period_id == self.period_row.id, m.ComponentValue.is_current
            )
        )
        late.update(("component", cid) for cid, at in rows if at > due_at)
        rows = self.session.execute(
            select(m.MilestoneUpdate.milestone_id, m.MilestoneUpdate.received_at).where(
                m.MilestoneUpdate.period_id == self.period_row.id, m.MilestoneUpdate.is_current
            )
        )
        late.update(("milestone", mid) for mid, at in rows if at > due_at)
        return late


def _share_lines(status: ReturnsStatus) -> tuple[views.ShareLine, ...]:
    """Each department, then its service areas, then the total: share received and on time."""
    lines = []
    for dept in status.departments:
        lines.append(
            views.ShareLine(
                dept.department or "",
                True,
                percent_text(dept.completeness),
                percent_text(dept.timeliness),
            )
        )
        lines.extend(
            views.ShareLine(
                r.service_area or "",
                False,
                percent_text(r.completeness),
                percent_text(r.timeliness),
            )
            for r in status.rows
            if r.department_code == dept.department_code and r.service_area is not None
        )
    if status.total is not None and status.departments:
        total = status.total
        lines.append(
            views.ShareLine(
                "Total", True, percent_text(total.completeness), percent_text(total.timeliness)
            )
        )
    return tuple(lines)


class _AlreadyDone(Exception):
    """Raised inside a savepoint to undo a duplicate; never escapes this module."""
