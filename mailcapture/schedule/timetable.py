"""When each period's requests go out, fall due, and are chased.

Pure arithmetic over a :class:`Timetable` (the rules loaded from the register) and a
working-day calendar, so the whole reporting year can be laid out without a database.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailcapture.clock import LOCAL_TZ, as_utc
from mailcapture.db.models import BankHoliday, TimetableRule
from mailcapture.domain.enums import Frequency
from mailcapture.domain.frequency import COLLECTED_KIND
from mailcapture.domain.periods import Period, period_of
from mailcapture.domain.workdays import WorkingCalendar


@dataclass(frozen=True)
class Rule:
    frequency: Frequency
    request_working_day: int
    request_time: time
    due_working_day: int
    due_time: time
    reminders: tuple[int, ...]
    escalations: tuple[tuple[str, int], ...]
    summary_after: int


@dataclass(frozen=True)
class PeriodDates:
    """The timetable's instants (aware UTC) for one period of one frequency."""

    frequency: Frequency
    period: Period
    request_at: datetime
    due_at: datetime
    reminders: tuple[datetime, ...]
    escalations: tuple[tuple[str, datetime], ...]
    summary_at: datetime


def reminder_stale_at(dates: PeriodDates, step: int) -> datetime:
    """When reminder ``step`` (0-based) goes stale: a missed reminder is not sent once the
    next event has come (nobody wants three reminders at once).

    A reminder before the deadline is stale after it (escalation takes over); one after the
    deadline is stale once the first escalation is due (or the summary, with none).
    """
    reminders = dates.reminders
    if step + 1 < len(reminders):
        return reminders[step + 1]
    if reminders[step] < dates.due_at:
        return dates.due_at
    escalations = [t for _, t in dates.escalations]
    return escalations[0] if escalations else dates.summary_at


@dataclass(frozen=True)
class DeferredDates:
    """The timetable of one promise: an item answered "not available until ``promised``".

    ``dates.request_at`` is when it is asked for again; ``joins_period``: that is before
    the period's deadline, so the period's own reminders and escalations chase it (and
    ``dates`` holds those); otherwise ``dates`` is a round of its own.
    """

    promised: date
    dates: PeriodDates
    joins_period: bool


class Timetable:
    def __init__(self, rules: list[Rule], calendar: WorkingCalendar) -> None:
        self.rules = {r.frequency: r for r in rules}
        self.calendar = calendar

    def _at(self, day: date, when: time) -> datetime:
        return as_utc(datetime.combine(day, when, tzinfo=LOCAL_TZ))

    def dates(self, frequency: Frequency, period: Period) -> PeriodDates:
        rule = self.rules[frequency]
        cal = self.calendar
        request_day = cal.nth_working_day_after(period.end, rule.request_working_day)
        due_day = cal.nth_working_day_after(period.end, rule.due_working_day)
        return PeriodDates(
            frequency=frequency,
            period=period,
            request_at=self._at(request_day, rule.request_time),
            due_at=self._at(due_day, rule.due_time),
            reminders=tuple(
                self._at(cal.add_working_days(due_day, offset), rule.request_time)
                for offset in rule.reminders
            ),
            escalations=tuple(
                (to, self._at(cal.add_working_days(due_day, after), rule.request_time))
                for to, after in rule.escalations
            ),
            summary_at=self._at(
                cal.add_working_days(due_day, rule.summary_after), rule.request_time
            ),
        )

    def deferred_dates(self, frequency: Frequency, period: Period, promised: date) -> DeferredDates:
        """When an item answered "not available until ``promised``" is asked for again.

        It is asked on the promised day, or the next working day if that is not one, at the
        rule's request time. From there it is chased by the same rule as any item:

        * asked before the period's own deadline, it joins the period's timetable: the
          same deadline, the period's reminders after that day, its escalations;
        * asked on or after the deadline, the rule starts again from that day, shifted:
          due as many working days after it as the period's deadline is after the first
          request, with the reminders and escalations at the rule's offsets from that
          new deadline. Nothing is escalated before the new deadline has passed.
        """
        rule = self.rules[frequency]
        cal = self.calendar
        base = self.dates(frequency, period)
        day = cal.add_working_days(promised, 0)
        request_at = self._at(day, rule.request_time)
        if request_at < base.due_at:
            return DeferredDates(
                promised=promised,
                dates=PeriodDates(
                    frequency=frequency,
                    period=period,
                    request_at=request_at,
                    due_at=base.due_at,
                    reminders=tuple(r for r in base.reminders if r > request_at),
                    escalations=base.escalations,
                    summary_at=base.summary_at,
                ),
                joins_period=True,
            )
        gap = max(rule.due_working_day - rule.request_working_day, 0)
        due_day = cal.add_working_days(day, gap)
        return DeferredDates(
            promised=promised,
            dates=PeriodDates(
                frequency=frequency,
                period=period,
                request_at=request_at,
                due_at=self._at(due_day, rule.due_time),
                reminders=tuple(
                    r
                    for r in (
                        self._at(cal.add_working_days(due_day, offset), rule.request_time)
                        for offset in rule.reminders
                    )
                    if r > request_at
                ),
                escalations=tuple(
                    (to, self._at(cal.add_working_days(due_day, after), rule.request_time))
                    for to, after in rule.escalations
                ),
                summary_at=self._at(
                    cal.add_working_days(due_day, rule.summary_after), rule.request_time
                ),
            ),
            joins_period=False,
        )

    def periods_around(
        self, frequency: Frequency, now: datetime, back: int = 2, ahead: int = 1
    ) -> Iterator[Period]:
        """Periods whose timetable may be live at ``now``: the current one and a few before."""
        current = period_of(now.astimezone(LOCAL_TZ).date(), COLLECTED_KIND[frequency])
        for step in range(-back, ahead + 1):
            yield current.shift(step)

    def next_requests(self, now: datetime) -> list[PeriodDates]:
        """For each frequency, the first period whose requests go out after ``now``."""
        upcoming = []
        for frequency in self.rules:
            for period in self.periods_around(frequency, now, back=1, ahead=2):
                dates = self.dates(frequency, period)
                if dates.request_at > now:
                    upcoming.append(dates)
                    break
        return sorted(upcoming, key=lambda d: d.request_at)


def load_timetable(session: Session) -> Timetable:
    """The timetable and bank holidays as last loaded from the register."""
    rules = [
        Rule(
            frequency=row.frequency,
            request_working_day=row.request_working_day,
            request_time=row.request_time,
            due_working_day=row.due_working_day,
            due_time=row.due_time,
            reminders=tuple(row.reminders),
            escalations=tuple((str(e["to"]), int(str(e["after"]))) for e in row.escalations),
            summary_after=row.summary_after,
        )
        for row in session.scalars(select(TimetableRule))
    ]
    holidays = session.scalars(select(BankHoliday.day)).all()
    return Timetable(rules, WorkingCalendar(holidays))
