"""Items answered "not available until DATE": asked for again on that date, then chased.

An updater who writes ``BV8a.1: n/a until 8 July`` has not made a return, they have made a
promise. The item stays outstanding (:func:`mailcapture.forms.due.returned_keys` does not
count it) and, on the promised day (the next working day if it is not one), this module
sends a ``deferred_request``: the promised items, as a form answered like the first
request, on the same token. From there the item is chased by the timetable's rule
(:meth:`mailcapture.schedule.timetable.Timetable.deferred_dates`):

* promised for a day before the period's deadline, it joins the period's own timetable,
  so the period's reminders and escalations (:mod:`mailcapture.schedule.tick`) chase it
  with the rest; and if a reminder for the request has already gone out on or after the
  promised day, that reminder listed it, so no separate email is sent;
* promised for the deadline or later, it gets a round of its own, the rule shifted to
  start on the promised day: reminders before its new deadline, escalations to the owner
  and the head of service after it, each email once (the outbox's dedupe keys below).

The promise is read from the current value, so a figure (or a plain "not available")
ends it, and a new "until" date makes a new round. Locked periods are not chased: nothing
could be recorded for them.

Work per tick: one query for the promises whose day has come (a promise date not yet
reached is not read), then per promise round a few lookups; rounds are rare.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from mailcapture.clock import LOCAL_TZ
from mailcapture.compose import views
from mailcapture.compose.textfmt import day_text, short_day
from mailcapture.db import models as m
from mailcapture.db.locks import lock_for
from mailcapture.domain.enums import RequestState, SubmissionState
from mailcapture.domain.frequency import frequency_of
from mailcapture.domain.periods import Period, parse_period
from mailcapture.forms.context import FigureContext
from mailcapture.forms.due import DueItem, due_by_person, item_key
from mailcapture.outbox.notices import (
    Outgoing,
    council,
    person_view,
    queue_email,
    to_requested,
    when_text,
)
from mailcapture.outbox.queue import already_queued
from mailcapture.register.model import MailSpec
from mailcapture.schedule.timetable import DeferredDates, Timetable, reminder_stale_at

#: How long the request's token keeps accepting answers after a promise round's deadline
#: (as after the first deadline: see ``tick.TOKEN_LIFETIME_DAYS``).
TOKEN_LIFETIME = timedelta(days=92)


@dataclass
class DeferredReport:
    """What one tick queued for promises: counted with the requests, reminders and
    escalations of :class:`mailcapture.schedule.tick.TickReport`."""

    requests: int = 0
    reminders: int = 0
    escalations: int = 0
    queued_ids: list[int] = field(default_factory=list)


def mark_promised(
    items: tuple[views.FormItem, ...], promised: dict[str, date]
) -> tuple[views.FormItem, ...]:
    """The form items, each answered "not available until DATE" carrying that date."""
    return tuple(
        replace(i, promised_for=short_day(promised[i.code])) if i.code in promised else i
        for i in items
    )


@dataclass
class _Round:
    """One request's items promised for one date."""

    request: m.DataRequest
    promised: date
    answered_at: datetime
    keys: set[tuple[str, int]] = field(default_factory=set)


def queue_deferred(
    session: Session, mail: MailSpec, timetable: Timetable, now: datetime
) -> DeferredReport:
    """Ask again for every promise whose day has come, and chase it: each email once."""
    report = DeferredReport()
    today = now.astimezone(LOCAL_TZ).date()
    found = session.execute(
        select(m.DataRequest, m.DataRequestItem, m.ComponentValue)
        .join(m.DataRequestItem, m.DataRequestItem.request_id == m.DataRequest.id)
        .join(
            m.ComponentValue,
            and_(
                m.ComponentValue.component_id == m.DataRequestItem.component_id,
                m.ComponentValue.period_id == m.DataRequest.period_id,
            ),
        )
        .where(
            m.ComponentValue.is_current,
            m.ComponentValue.state == SubmissionState.NOT_AVAILABLE,
            m.ComponentValue.available_from.is_not(None),
            m.ComponentValue.available_from <= today,
            m.DataRequest.state.in_((RequestState.OPEN, RequestState.COMPLETE)),
        )
        .order_by(m.DataRequest.id, m.DataRequestItem.position)
    )
    rounds: dict[tuple[int, date], _Round] = {}
    for request, item, value in found:
        assert value.available_from is not None  # by the query
        key = (request.id, value.available_from)
        if key not in rounds:
            rounds[key] = _Round(request, value.available_from, value.received_at)
        rounds[key].keys.add(item_key(item))
        rounds[key].answered_at = max(rounds[key].answered_at, value.received_at)
    for round_ in rounds.values():
        _DeferredRound(session, mail, timetable, now, report, round_).run()
    return report


class _DeferredRound:
    """The decisions for one round of one request at one instant."""

    def __init__(
        self,
        session: Session,
        mail: MailSpec,
        timetable: Timetable,
        now: datetime,
        report: DeferredReport,
        round_: _Round,
    ) -> None:
        self.session = session
        self.mail = mail
        self.timetable = timetable
        self.now = now
        self.report = report
        self.round = round_
        self.request = round_.request
        self.period: Period = parse_period(self.request.period.code)
        self.tag = f"{self.request.id}:{round_.promised.isoformat()}"

    def run(self) -> None:
        frequency = frequency_of(self.period)
        if frequency not in self.timetable.rules:
            return
        when = self.timetable.deferred_dates(frequency, self.period, self.round.promised)
        if self.now < when.dates.request_at:
            return
        if lock_for(self.session, self.request.period) is not None:
            return  # locked: nothing could be recorded, so nothing is asked for
        items = self.items()
        if not items:
            return  # no longer asked of this person (retired, moved): nothing to chase
        self.ask_again(when, items)
        if when.joins_period:
            return  # the period's own reminders and escalations chase it (tick.py)
        self.remind(when, items)
        self.escalate(when, items)

    def items(self) -> list[DueItem]:
        """The promised items, as the form lists them for the person answerable for them."""
        owner = self.request.on_behalf_of_id or self.request.person_id
        due = due_by_person(self.session, self.period, owner).get(owner, [])
        return [i for i in due if item_key(i) in self.round.keys]

    def form_items(self, items: list[DueItem]) -> tuple[views.FormItem, ...]:
        context = FigureContext(self.session, self.period, items)
        promised = {i.code: self.round.promised for i in items}
        return mark_promised(tuple(context.form_item(i) for i in items), promised)

    def person(self, person_id: int) -> m.Person:
        return self.session.get_one(m.Person, person_id)

    def ask_again(self, when: DeferredDates, items: list[DueItem]) -> None:
        key = f"deferred:{self.tag}"
        if already_queued(self.session, key):
            return
        if when.joins_period and self._reminded_since(when.dates.request_at):
            return  # a reminder on or after the promised day listed it already
        request = self.request
        person = self.person(request.person_id)
        principal = self.person(request.on_behalf_of_id) if request.on_behalf_of_id else None
        view = views.DeferredRequestView(
            council=council(self.mail),
            recipient=person_view(person),
            period_code=self.period.code,
            period_label=self.period.label,
            token=request.token,
            due=when_text(when.dates.due_at),
            items=self.form_items(items),
            on_behalf_of=person_view(principal) if principal else None,
            promised=day_text(self.round.promised),
            answered=day_text(self.round.answered_at.astimezone(LOCAL_TZ).date()),
        )
        row = queue_email(
            self.session,
            self.mail,
            to_requested("deferred_request", person, request, key),
            view,
            self.now,
        )
        if row is None:
            return
        # The form is answered on the first request's token: keep it open for this round.
        request.expires_at = max(request.expires_at, when.dates.due_at + TOKEN_LIFETIME)
        if request.state is RequestState.COMPLETE:
            request.state = RequestState.OPEN
            request.completed_at = None
        self.report.requests += 1
        self.report.queued_ids.append(row.id)

    def _reminded_since(self, since: datetime) -> bool:
        found = self.session.scalar(
            select(m.OutboxMessage.id).where(
                m.OutboxMessage.request_id == self.request.id,
                m.OutboxMessage.kind == "reminder",
                m.OutboxMessage.created_at >= since,
            )
        )
        return found is not None

    def remind(self, when: DeferredDates, items: list[DueItem]) -> None:
        """The latest reminder whose time has come, unless the next event has come too."""
        times = list(when.dates.reminders)
        passed = [i for i, t in enumerate(times) if t <= self.now]
        if not passed:
            return
        step = passed[-1]
        if self.now >= reminder_stale_at(when.dates, step):
            return  # as in tick.py: missed, and the deadline or the next step has come
        key = f"deferred-reminder:{self.tag}:{step + 1}"
        if already_queued(self.session, key):
            return
        request = self.request
        person = self.person(request.person_id)
        principal = self.person(request.on_behalf_of_id) if request.on_behalf_of_id else None
        view = views.ReminderView(
            council=council(self.mail),
            recipient=person_view(person),
            period_code=self.period.code,
            period_label=self.period.label,
            token=request.token,
            due=when_text(when.dates.due_at),
            items=self.form_items(items),
            on_behalf_of=person_view(principal) if principal else None,
            step=step + 1,
            days_left=self.timetable.calendar.working_days_between(
                times[step].astimezone(LOCAL_TZ).date(),
                when.dates.due_at.astimezone(LOCAL_TZ).date(),
            ),
        )
        row = queue_email(
            self.session, self.mail, to_requested("reminder", person, request, key), view, self.now
        )
        if row is not None:
            self.report.reminders += 1
            self.report.queued_ids.append(row.id)

    def escalate(self, when: DeferredDates, items: list[DueItem]) -> None:
        """The latest escalation whose time has come: to each owner (or head) concerned."""
        passed = [i for i, (_, t) in enumerate(when.dates.escalations) if t <= self.now]
        if not passed:
            return
        step = passed[-1]
        level, at = when.dates.escalations[step]
        by_target: dict[int, list[DueItem]] = defaultdict(list)
        for item in items:
            by_target[item.owner_id if level == "owner" else item.escalation_owner_id].append(item)
        updater = self.person(self.request.person_id)
        overdue = self.timetable.calendar.working_days_between(
            when.dates.due_at.astimezone(LOCAL_TZ).date(), at.astimezone(LOCAL_TZ).date()
        )
        for target_id, owed in sorted(by_target.items()):
            key = f"deferred-escalation:{self.tag}:{step + 1}:{target_id}"
            if already_queued(self.session, key):
                continue
            target = self.person(target_id)
            kind = "escalation_owner" if level == "owner" else "escalation_head"
            view = views.EscalationView(
                council=council(self.mail),
                recipient=person_view(target),
                level="owner" if level == "owner" else "escalation_owner",
                period_code=self.period.code,
                period_label=self.period.label,
                due=when_text(when.dates.due_at),
                working_days_overdue=overdue,
                lines=(
                    views.OverdueLine(
                        updater=person_view(updater),
                        items=self.form_items(owed),
                        request_token=self.request.token,
                    ),
                ),
            )
            row = queue_email(
                self.session,
                self.mail,
                Outgoing(
                    kind=kind,
                    recipient=person_view(target),
                    dedupe_key=key,
                    person_id=target_id,
                    request_id=self.request.id,
                    period_id=self.request.period_id,
                ),
                view,
                self.now,
            )
            if row is not None:
                self.report.escalations += 1
                self.report.queued_ids.append(row.id)
