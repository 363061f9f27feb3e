"""Several updaters for one indicator (issue 15, part 9): the owner chooses between figures.

When a figure differs from the one *another person* sent for the same component and period
(:class:`~mailcapture.mailflow.apply.Applier`), both are kept as ``conflicting`` rows,
neither current, and :func:`ask_owner` emails the indicator's owner a ``value_choice``
listing every figure, who sent it and when. Until the owner chooses, nothing counts: the
component has no current value for the period (so no indicator value, report, export or
sign-off uses either figure), and the item is outstanding on every request that has it
(returns, reminders, the request's completion; the live returns view says ``conflict``).

The question reuses the machinery of reports that take answers: it is a
:class:`~mailcapture.db.models.ReportRun` of kind ``value_choice`` naming its component,
with its own token (in the Reply-To address and the subject), Message-ID and expiry, so the
match stage finds it as it finds an owner report (:func:`report_replies.find_report_run`)
and the authenticate stage lets in only the addressee, their registered delegate, or (here)
a member of the performance team. :class:`ValueChoiceReply` then reads the answer with the
report reader (``[BV8a.1 choose]: 1,905``, typed above the quote or on the line in the
quoted copy; an untouched copy is no answer), or a figure alone as the new text.

Checks, each refusal explained in the ``value_choice_confirmation``: the period is not
locked; the chooser is the indicator's owner (or answers for them) or the performance team;
a choice is still waiting; the figure is one of the candidates. The chosen row becomes
``accepted`` and current, recording who chose it and when (``chosen_by_id``,
``chosen_at``; the message's audit trail says which rows it chose and superseded); the
others are superseded; each candidate's request line counts as returned again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from mailcapture.clock import LOCAL_TZ
from mailcapture.compose import views
from mailcapture.compose.message import make_message_id
from mailcapture.compose.textfmt import short_day
from mailcapture.db import models as m
from mailcapture.db.locks import lock_for, lock_reason
from mailcapture.domain.enums import Role, SubmissionState
from mailcapture.domain.figures import format_figure
from mailcapture.domain.periods import parse_period
from mailcapture.mailflow.apply import Conflict, candidate_line, reopen_items
from mailcapture.mailflow.context import Run
from mailcapture.mailflow.outcomes import Outcome
from mailcapture.mailflow.replies import WITHHELD, over_hourly_limit
from mailcapture.outbox.notices import (
    Outgoing,
    council,
    person_view,
    queue_email,
    team_view,
    when_text,
)
from mailcapture.parsing.mime import clean_text
from mailcapture.parsing.quotes import split_reply
from mailcapture.parsing.report_reply import read_report_reply
from mailcapture.parsing.values import parse_value
from mailcapture.register.model import MailSpec
from mailcapture.schedule.tokens import new_token

__all__ = ["VALUE_CHOICE", "ValueChoiceReply", "ask_owner", "candidates_of", "choice_view"]

#: The report kind of the question, in ``report_runs.report_kind``.
VALUE_CHOICE = "value_choice"
#: How long the owner's answer is taken.
CHOICE_OPEN_DAYS = 28
#: A figure alone on a line of the new text: "1,905", "£1,905.50", "97.5%".
_BARE_FIGURE = re.compile(r"[£$€]?\s*-?\d[\d,]*(?:\.\d+)?\s*%?")


def candidates_of(session: Session, component_id: int, period_id: int) -> list[m.ComponentValue]:
    """The figures waiting for the owner's choice, in the order they came."""
    return list(
        session.scalars(
            select(m.ComponentValue)
            .where(
                m.ComponentValue.component_id == component_id,
                m.ComponentValue.period_id == period_id,
                m.ComponentValue.state == SubmissionState.CONFLICTING,
            )
            .order_by(m.ComponentValue.id)
        )
    )


def ask_owner(run: Run, period: m.Period, conflict: Conflict) -> str:
    """Queue the ``value_choice`` email to the indicator's owner; a note for the audit trail.

    One question per set of candidates (the run's key names them): a later figure that
    changes the set asks again, listing them all; the same set is never asked twice.
    """
    session = run.session
    candidates = candidates_of(session, conflict.component_id, period.id)
    if len(candidates) < 2:
        return f"{conflict.code}: no choice needed"
    component = session.get_one(m.Component, conflict.component_id)
    indicator = session.get_one(m.Indicator, conflict.indicator_id or component.declared_by_id)
    owner = session.get_one(m.Person, indicator.owner_id)
    key = f"value_choice:{period.id}:{component.id}:" + "-".join(str(c.id) for c in candidates)
    if session.scalar(select(m.ReportRun.id).where(m.ReportRun.key == key)) is not None:
        return f"{conflict.code}: {owner.email} already asked"
    token = new_token()
    message_id = make_message_id(run.mail.reply_domain)
    expires = run.now + timedelta(days=CHOICE_OPEN_DAYS)
    view = choice_view(
        session, run.mail, owner, period, component, indicator, candidates, token, expires
    )
    row = queue_email(
        session,
        run.mail,
        Outgoing(
            kind=VALUE_CHOICE,
            recipient=view.recipient,
            dedupe_key=key,
            person_id=owner.id if view.owner is None else None,
            period_id=period.id,
            reply_token=token,
            message_id=message_id,
        ),
        view,
        run.now,
    )
    if row is None:
        return f"{conflict.code}: {owner.email} already asked"
    asked = owner.email if view.owner is None else f"the performance team ({owner.email} bounces)"
    session.add(
        m.ReportRun(
            key=key,
            report_kind=VALUE_CHOICE,
            period_id=period.id,
            person_id=owner.id,
            component_id=component.id,
            created_at=run.now,
            outbox_id=row.id,
            token=token,
            message_id=message_id,
            expires_at=expires,
        )
    )
    return f"{conflict.code}: {asked} asked to choose (value choice {key})"


def choice_view(
    session: Session,
    mail: MailSpec,
    owner: m.Person,
    period: m.Period,
    component: m.Component,
    indicator: m.Indicator,
    candidates: list[m.ComponentValue],
    token: str,
    expires: datetime,
    asked_on: datetime | None = None,
) -> views.ValueChoiceView:
    """The question (or, with ``asked_on``, its reminder), to the owner; to the performance
    team instead while the owner's address bounces (any member of the team may choose), so
    a figure nobody can choose is never stuck with an address that cannot hear of it."""
    bounces = owner.mail_failing_since is not None
    return views.ValueChoiceView(
        council=council(mail),
        recipient=team_view(mail) if bounces else person_view(owner),
        period_code=period.code,
        period_label=parse_period(period.code).label,
        token=token,
        indicator_code=indicator.code,
        indicator_title=indicator.title,
        code=component.code,
        title=component.title,
        candidates=tuple(candidate_line(session, c, component.unit) for c in candidates),
        answer_by=when_text(expires),
        asked_on=short_day(asked_on.astimezone(LOCAL_TZ).date()) if asked_on else None,
        owner=person_view(owner) if bounces else None,
    )


@dataclass
class _Answer:
    chosen: views.CandidateLine | None = None
    superseded: list[views.CandidateLine] = field(default_factory=list)
    refused: list[views.RejectedLine] = field(default_factory=list)
    waiting: list[views.CandidateLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class ValueChoiceReply:
    """An answer to one ``value_choice`` question, from parse to confirm (``Answering``)."""

    expiring = "choice token"

    def __init__(self, session: Session, report_run: m.ReportRun) -> None:
        assert report_run.component_id is not None, "a value choice names its component"
        self.report_run = report_run
        self.addressee = session.get_one(m.Person, report_run.person_id)
        self.period = session.get_one(m.Period, report_run.period_id)
        self.component = session.get_one(m.Component, report_run.component_id)
        self.described = f"value choice {report_run.id}"
        self.expires_at: datetime | None = report_run.expires_at
        self.choices: list[str] = []
        self.out = _Answer()
        self.summary = ""

    def may_answer(self, session: Session, sender: m.Person) -> bool:
        """The owner it was sent to, their registered delegate, or the performance team."""
        if sender.id == self.addressee.id or Role.PERFORMANCE_TEAM in sender.role_set:
            return True
        return (
            session.scalar(
                select(m.Delegation.id).where(
                    m.Delegation.principal_id == self.addressee.id,
                    m.Delegation.delegate_id == sender.id,
                    m.Delegation.retired_at.is_(None),
                )
            )
            is not None
        )

    def period_label(self) -> str:
        return parse_period(self.period.code).label

    # ---- parse -----------------------------------------------------------------------
    def parse(self, run: Run) -> None:
        rows = run.session.execute(
            select(m.OutboxMessage.id, m.OutboxMessage.message_id, m.OutboxMessage.raw).where(
                or_(
                    m.OutboxMessage.id == self.report_run.outbox_id,
                    m.OutboxMessage.message_id == self.report_run.message_id,
                )
            )
        )
        sent = "\n".join(run.sent.text(row_id, mid, raw) for row_id, mid, raw in rows)
        text = run.message.text
        reading = read_report_reply(text, sent or None, [self.component.code])
        run.row.answer_text = clean_text(split_reply(text).new_text)
        choices = [a.text for a in reading.of("choose")]
        if not choices:
            # "or the value itself": a figure alone on a line of the new text
            choices = [
                line.strip().rstrip(".")
                for line in reading.other_text.splitlines()
                if _BARE_FIGURE.fullmatch(line.strip().rstrip("."))
            ]
        self.out.notes.extend(n for n in reading.notes if "'approved' was not taken" not in n)
        self.choices = list(dict.fromkeys(choices))
        run.stage("parse", f"{len(self.choices)} choice(s)", "; ".join(reading.notes) or None)

    # ---- apply -----------------------------------------------------------------------
    def apply(self, run: Run) -> None:
        session, sender, component = run.session, run.person, self.component
        code, unit = component.code, component.unit
        candidates = candidates_of(session, component.id, self.period.id)
        lines = {c.id: candidate_line(session, c, unit) for c in candidates}
        out = self.out
        if not self.choices:
            out.waiting = list(lines.values())
            self.summary = "no choice found"
            run.stage("apply", "nothing", self.summary)
            return
        answer = " / ".join(self.choices)
        refusal = self.refusal(run, candidates)
        chosen: m.ComponentValue | None = None
        if refusal is None:
            parsed = parse_value(self.choices[0], unit, run.now.astimezone(LOCAL_TZ).date())
            figures = _or_list([lines[c.id].figure for c in candidates])
            if parsed.kind != "number" or parsed.value is None:
                refusal = f"we could not read a figure in it: choose {figures}"
            else:
                matched = [c for c in candidates if c.value == parsed.value]
                if not matched:
                    refusal = (
                        f"{format_figure(parsed.value, unit)} is not one of the figures sent "
                        f"for {code}: choose {figures}, or ask the updaters to send the "
                        "right figure"
                    )
                else:
                    chosen = matched[-1]
        if refusal is not None or chosen is None:
            out.refused.append(views.RejectedLine(code, answer, refusal or ""))
            out.waiting = list(lines.values())
            self.summary = f"choice refused: {refusal}"
            run.stage("apply", "refused", self.summary)
            return
        chosen.state = SubmissionState.ACCEPTED
        chosen.is_current = True
        chosen.chosen_by_id = sender.id
        chosen.chosen_at = run.now
        others = [c for c in candidates if c is not chosen]
        for other in others:
            other.state = SubmissionState.SUPERSEDED
        session.flush()
        reopen_items(session, None, component.id, candidates, returned=True)
        out.chosen = lines[chosen.id]
        out.superseded = [lines[o.id] for o in others]
        self.summary = (
            f"{code}: {lines[chosen.id].figure} chosen by {sender.email} (value #{chosen.id}); "
            f"superseded: {', '.join(f'#{o.id}' for o in others)}"
        )
        run.stage("apply", "chosen", self.summary)

    def refusal(self, run: Run, candidates: list[m.ComponentValue]) -> str | None:
        """Why the choice cannot be recorded (before reading the figure), or None."""
        session, sender, code = run.session, run.person, self.component.code
        if len(self.choices) > 1:
            return "your reply gives more than one figure: choose one"
        lock = lock_for(session, self.period)
        if lock is not None:
            return f"{lock_reason(session, lock)}; nothing was recorded"
        indicator = session.get_one(m.Indicator, self.component.declared_by_id)
        if (
            indicator.owner_id not in (sender.id, self.addressee.id)
            and Role.PERFORMANCE_TEAM not in sender.role_set
        ):
            owner = session.get_one(m.Person, indicator.owner_id)
            return (
                f"only {indicator.code}'s owner, {owner.name}, or the performance team can "
                f"choose {code}'s figure"
            )
        if not candidates:
            current = session.scalar(
                select(m.ComponentValue).where(
                    m.ComponentValue.component_id == self.component.id,
                    m.ComponentValue.period_id == self.period.id,
                    m.ComponentValue.is_current,
                )
            )
            now = (
                f"its figure is {candidate_line(session, current, self.component.unit).figure}"
                if current is not None
                else "it has no figure"
            )
            return f"no choice is waiting for {code} for {self.period_label()}: {now}"
        return None

    # ---- confirm ---------------------------------------------------------------------
    def confirm(self, run: Run) -> None:
        session, sender, out = run.session, run.person, self.out
        withheld = True
        if run.quiet is not None:
            note = f"confirmation not sent: {run.quiet}"
        elif over_hourly_limit(
            session, sender.email, run.now, run.settings.reply_limits.hourly_limit
        ):
            note = "confirmation not sent: hourly limit for this address reached"
        else:
            withheld = False
            view = views.ValueChoiceConfirmationView(
                council=council(run.mail),
                recipient=person_view(sender),
                period_label=self.period_label(),
                token=self.report_run.token or "",
                code=self.component.code,
                title=self.component.title,
                chosen=out.chosen,
                superseded=tuple(out.superseded),
                refused=tuple(out.refused),
                waiting=tuple(out.waiting),
                notes=tuple(out.notes),
                on_behalf_of=(
                    person_view(self.addressee) if sender.id != self.addressee.id else None
                ),
            )
            queue_email(
                session,
                run.mail,
                Outgoing(
                    kind="value_choice_confirmation",
                    recipient=person_view(sender),
                    dedupe_key=f"value-choice:{run.row.id}",
                    person_id=sender.id,
                    period_id=self.period.id,
                    reply_token=self.report_run.token,
                    in_reply_to=run.row.message_id and f"<{run.row.message_id}>",
                    auto_submitted="auto-replied",
                    in_reply_to_id=run.row.id,
                ),
                view,
                run.now,
            )
            note = "value choice confirmation queued"
        run.stage("confirm", WITHHELD if withheld else "queued", note)
        if out.chosen is not None:
            outcome = Outcome.CHOICE_MADE
        elif out.refused:
            outcome = Outcome.CHOICE_REFUSED
        else:
            outcome = Outcome.CHOICE_NO_ANSWERS
        run.finish(outcome, self.summary)


def _or_list(words: list[str]) -> str:
    """'1,900 or 1,905', '1,900, 1,905 or 1,910'."""
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]
