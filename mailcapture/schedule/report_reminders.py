"""The owner report's reminders: red or worsening indicators still without commentary.

Issue 15, part 8: members reading the reports want to know *why* a figure is off target or
getting worse, and the owner report asks its owner for that line. An owner who has not
written it is reminded, on the round's reminder days, until a comment arrives or the
round closes:

* **when**: :attr:`~mailcapture.schedule.reports.ReportTimes.owner_reminders_after`
  working days after the owner report went out (3 and 5 by default: the register's
  timetable has no reminder steps for reports), at the monthly requests' time of day;
* **what**: only the indicators the report listed that still need commentary, with the
  reason in the words of :func:`~mailcapture.reports.commentary.needing_commentary`
  ("red (33 against 40)"); no email when nothing needs any;
* **answered** on the report's own token (Reply-To and subject) and in its thread, so
  ``[BV8a comment]: ...`` is read exactly as an answer to the report;
* **until** the report's token expires (``ReportRun.expires_at``: the next month's owner
  report, and never less than two weeks): after that an answer would not be recorded, so
  asking for one would be wrong.

As in the data requests' chase, after downtime only the latest step that has come is
sent (nobody wants two reminders at once), each step at most once per report (the outbox
dedupe key), and nobody whose address is bouncing is written to. Indicators whose period
is locked are left out: a comment on them would be refused.

Each tick costs one query for the open owner reports; the commentary rule runs only for
reports with a reminder step due and not yet queued, once per period for all their
owners, and the sent report is decoded only for an owner with something to chase.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailcapture.clock import LOCAL_TZ, as_utc
from mailcapture.compose import views
from mailcapture.db import models as m
from mailcapture.db.locks import lock_in_force
from mailcapture.domain.enums import Frequency
from mailcapture.domain.frequency import COLLECTED_KIND
from mailcapture.domain.periods import Period, covered_periods, parse_period
from mailcapture.outbox.notices import Outgoing, council, person_view, queue_email, when_text
from mailcapture.outbox.queue import already_queued
from mailcapture.parsing.mime import decode_message
from mailcapture.parsing.report_reply import listed_codes
from mailcapture.register.model import MailSpec
from mailcapture.reports.commentary import needing_commentary
from mailcapture.reports.email.build import covered_text
from mailcapture.schedule.reports import DEFAULT_TIMES, ReportTimes
from mailcapture.schedule.timetable import Timetable

KIND = "owner_commentary_reminder"


def dedupe_key(run_id: int, step: int) -> str:
    """The outbox reason of reminder ``step`` (1-based) for one owner report."""
    return f"owner-commentary:{run_id}:{step}"


def reminder_times(
    timetable: Timetable, sent_at: datetime, times: ReportTimes = DEFAULT_TIMES
) -> tuple[datetime, ...]:
    """When an owner report sent at ``sent_at`` is followed up, as aware UTC instants.

    Counted in working days from the day it went out (a report caught up late is chased
    from when it was really sent), at the time of day the report runs use.
    """
    monthly = timetable.rules.get(Frequency.MONTHLY)
    at_time = monthly.request_time if monthly else time(9, 0)
    day = sent_at.astimezone(LOCAL_TZ).date()
    return tuple(
        as_utc(
            datetime.combine(
                timetable.calendar.add_working_days(day, offset), at_time, tzinfo=LOCAL_TZ
            )
        )
        for offset in times.owner_reminders_after
    )


def due_step(steps: tuple[datetime, ...], closes: datetime, now: datetime) -> int | None:
    """The 0-based step to send at ``now``: the latest that has come, until the next one
    comes or the round closes; None when none is due."""
    passed = [i for i, at in enumerate(steps) if at <= now]
    if not passed or now >= closes:
        return None
    return passed[-1]


def queue_commentary_chases(
    session: Session,
    mail: MailSpec,
    timetable: Timetable,
    now: datetime,
    times: ReportTimes = DEFAULT_TIMES,
) -> int:
    """Queue the owner reports' commentary reminders due at ``now``; how many were queued."""
    if not times.owner_reminders_after:
        return 0
    runs = session.scalars(
        select(m.ReportRun)
        .where(
            m.ReportRun.report_kind == "owner",
            m.ReportRun.token.is_not(None),
            m.ReportRun.person_id.is_not(None),
            m.ReportRun.expires_at > now,
            m.ReportRun.created_at <= now,
        )
        .order_by(m.ReportRun.id)
    ).all()
    due: list[tuple[m.ReportRun, int]] = []
    for run in runs:
        assert run.expires_at is not None
        steps = reminder_times(timetable, run.created_at, times)
        step = due_step(steps, run.expires_at, now)
        if step is not None:
            due.append((run, step))
    if not due:
        return 0
    taken = set(
        session.scalars(
            select(m.OutboxMessage.dedupe_key).where(
                m.OutboxMessage.dedupe_key.in_([dedupe_key(r.id, s + 1) for r, s in due])
            )
        )
    )
    due = [(r, s) for r, s in due if dedupe_key(r.id, s + 1) not in taken]
    by_period: dict[int, list[tuple[m.ReportRun, int]]] = defaultdict(list)
    for run, step in due:
        by_period[run.period_id].append((run, step))
    queued = 0
    for period_id, chased in by_period.items():
        period_row = session.get_one(m.Period, period_id)
        month = parse_period(period_row.code)
        needed = _needed_by_owner(session, month, {r.person_id for r, _ in chased if r.person_id})
        for run, step in chased:
            lines = needed.get(run.person_id or 0, [])
            if lines and _chase(session, mail, run, month, lines, step, now, times):
                queued += 1
    return queued


def _needed_by_owner(
    session: Session, month: Period, owner_ids: set[int]
) -> dict[int, list[views.OwnerCommentaryLine]]:
    """For each owner, their indicators in ``month``'s report still needing commentary.

    Each indicator in the period it is collected for, as the owner report shows it; one
    :func:`needing_commentary` per period for all the owners.
    """
    periods = covered_periods(month)
    by_kind = {p.kind: p for p in periods}
    owner_of: dict[str, int] = {}
    codes: dict[Period, list[str]] = defaultdict(list)
    for code, frequency, owner_id in session.execute(
        select(m.Indicator.code, m.Indicator.frequency, m.Indicator.owner_id)
        .where(m.Indicator.owner_id.in_(sorted(owner_ids)), m.Indicator.retired_at.is_(None))
        .order_by(m.Indicator.code)
    ):
        period = by_kind.get(COLLECTED_KIND[frequency])
        if period is not None:
            owner_of[code] = owner_id
            codes[period].append(code)
    month_locked = lock_in_force(session, month) is not None
    found: dict[int, list[views.OwnerCommentaryLine]] = defaultdict(list)
    for period in periods:  # month first, then quarter, then year: the report's order
        if not codes.get(period) or month_locked or lock_in_force(session, period) is not None:
            continue  # a locked period's comments are refused: nothing to ask for
        for row, reason in needing_commentary(session, period, codes[period]):
            found[owner_of[row.code]].append(
                views.OwnerCommentaryLine(row.code, row.title, period.label, reason)
            )
    return dict(found)


def _listed(session: Session, run: m.ReportRun) -> set[str] | None:
    """The codes the sent report offered answer lines for (upper-cased); None if unknown."""
    raw = session.scalar(select(m.OutboxMessage.raw).where(m.OutboxMessage.id == run.outbox_id))
    if raw is None:
        return None
    codes = listed_codes(decode_message(raw).text)
    return {c.upper() for c in codes} or None


def _chase(
    session: Session,
    mail: MailSpec,
    run: m.ReportRun,
    month: Period,
    lines: list[views.OwnerCommentaryLine],
    step: int,
    now: datetime,
    times: ReportTimes,
) -> bool:
    """Queue reminder ``step`` (0-based) of one owner report; False if nothing was sent."""
    owner = session.get_one(m.Person, run.person_id)
    if owner.retired_at is not None or owner.mail_failing_since is not None:
        return False  # a bouncing address is not chased (issue 15, part 4)
    listed = _listed(session, run)
    if listed is not None:  # only what the report listed can be answered on its token
        lines = [line for line in lines if line.code.upper() in listed]
    if not lines:
        return False
    key = dedupe_key(run.id, step + 1)
    if already_queued(session, key):
        return False
    assert run.token is not None and run.expires_at is not None
    view = views.OwnerCommentaryReminderView(
        council=council(mail),
        recipient=person_view(owner),
        period_code=month.code,
        period_label=month.label,
        covered=covered_text(covered_periods(month)),
        token=run.token,
        sent_on=when_text(run.created_at),
        answer_by=when_text(run.expires_at),
        needed=tuple(lines),
        step=step + 1,
        final=step + 1 == len(times.owner_reminders_after),
    )
    out = Outgoing(
        kind=KIND,
        recipient=person_view(owner),
        dedupe_key=key,
        person_id=owner.id,
        period_id=run.period_id,
        reply_token=run.token,
        in_reply_to=run.message_id,
    )
    return queue_email(session, mail, out, view, now) is not None
