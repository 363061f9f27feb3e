"""The owner's choice between differing figures, chased (issue 15, part 9).

When two people send different figures for one component and period, neither counts and
the indicator's owner is asked to choose (:mod:`mailcapture.mailflow.value_choices`). Until
they do, the indicator has no value in any report, so a question left unanswered is a gap
in the council's figures that nobody is told about. It is followed up as an owner report
is (:func:`~mailcapture.schedule.report_reminders.reminder_times`):

* **when**: 3 and 5 working days after it was asked (``ReportTimes.owner_reminders_after``),
  at the monthly requests' time of day; after downtime only the latest step that has come,
  each at most once (the outbox dedupe key);
* **while** the figures still wait (two or more ``conflicting`` rows), the question is the
  latest for its component and period (a later figure asks again, listing them all, and
  only that question is chased), and its token has not expired;
* **what**: the same question, answerable on the same token and in its thread, saying when
  it was first asked;
* **to whom**: the owner; while the owner's address bounces, the performance team instead,
  whose members may choose (as for the question itself, :func:`choice_view`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailcapture.db import models as m
from mailcapture.mailflow.value_choices import VALUE_CHOICE, candidates_of, choice_view
from mailcapture.outbox.notices import Outgoing, queue_email
from mailcapture.outbox.queue import already_queued
from mailcapture.register.model import MailSpec
from mailcapture.schedule.report_reminders import reminder_times
from mailcapture.schedule.timetable import Timetable

__all__ = ["KIND", "dedupe_key", "queue_choice_chases"]

KIND = "value_choice_reminder"


def dedupe_key(run_id: int, step: int) -> str:
    """The outbox reason of reminder ``step`` (1-based) for one question."""
    return f"value-choice-chase:{run_id}:{step}"


def queue_choice_chases(
    session: Session, mail: MailSpec, timetable: Timetable, now: datetime
) -> int:
    """Queue the reminders due at ``now`` for unanswered choices; how many were queued."""
    latest: dict[tuple[int, int | None], m.ReportRun] = {}
    for run in session.scalars(
        select(m.ReportRun)
        .where(m.ReportRun.report_kind == VALUE_CHOICE, m.ReportRun.expires_at > now)
        .order_by(m.ReportRun.id)
    ):
        latest[(run.period_id, run.component_id)] = run  # a later question replaces it
    queued = 0
    for run in latest.values():
        times = reminder_times(timetable, run.created_at)
        steps = [i for i, at in enumerate(times) if at <= now]
        if not steps or run.component_id is None or run.person_id is None:
            continue
        key = dedupe_key(run.id, steps[-1] + 1)
        if already_queued(session, key):
            continue
        candidates = candidates_of(session, run.component_id, run.period_id)
        if len(candidates) < 2:
            continue  # chosen, or settled by the updaters agreeing
        if _queue(session, mail, run, candidates, key, now):
            queued += 1
    return queued


def _queue(
    session: Session,
    mail: MailSpec,
    run: m.ReportRun,
    candidates: list[m.ComponentValue],
    key: str,
    now: datetime,
) -> bool:
    assert run.component_id is not None and run.person_id is not None and run.expires_at
    component = session.get_one(m.Component, run.component_id)
    owner = session.get_one(m.Person, run.person_id)
    period = session.get_one(m.Period, run.period_id)
    indicator = _owned_indicator(session, component, owner)
    assert run.token is not None
    view = choice_view(
        session,
        mail,
        owner,
        period,
        component,
        indicator,
        candidates,
        run.token,
        run.expires_at,
        asked_on=run.created_at,
    )
    row = queue_email(
        session,
        mail,
        Outgoing(
            kind=KIND,
            recipient=view.recipient,
            dedupe_key=key,
            person_id=owner.id if view.owner is None else None,
            period_id=period.id,
            reply_token=run.token,
            in_reply_to=run.message_id,
        ),
        view,
        now,
    )
    return row is not None


def _owned_indicator(session: Session, component: m.Component, owner: m.Person) -> m.Indicator:
    """The indicator the question was about: the owner's, among those using the component
    (the one that declared it when several owners share it)."""
    owned = session.scalar(
        select(m.Indicator)
        .join(m.IndicatorComponent, m.IndicatorComponent.indicator_id == m.Indicator.id)
        .where(
            m.IndicatorComponent.component_id == component.id,
            m.Indicator.owner_id == owner.id,
        )
        .order_by(m.Indicator.id)
        .limit(1)
    )
    return owned or session.get_one(m.Indicator, component.declared_by_id)
