"""Answers to reports: owners sign off or query figures, owners and heads comment.

The match stage (``mailflow.stages``) comes here when a reply's token (or
In-Reply-To/References) names no data request but a :class:`~mailcapture.db.models.ReportRun`
(:func:`find_report_run`). The authenticate stage is the one data replies have: only the
run's addressee or their registered delegate (:meth:`ReportReply.may_answer`), DMARC (a fail
or an unreadable result from our receiving host holds the message) and expiry. Then
:class:`ReportReply`, in the pipeline's transaction:

* parse: read it (:func:`mailcapture.parsing.report_reply.read_report_reply`, against the
  text we sent, so an untouched copy of the report is never an answer);
* apply: check each answer (a period lock refuses everything; only an indicator the report
  listed may be signed off, and only by its owner or the performance team; commentary only
  on what the report listed: a department report, the department, its indicators and
  projects), and record ``Signoff`` rows (a later decision supersedes: ``is_current``) and
  ``Commentary`` rows (author_role ``owner`` or ``head_of_service``). A query goes back to
  the updater(s) whose figures make the indicator, by a ``query_notice`` carrying their
  data request's token, so the correction comes in through the normal pipeline (the
  request is reopened for it if it had expired);
* confirm to the sender with ``report_answer_confirmation``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from mailcapture.compose import report_views as rv
from mailcapture.compose import views
from mailcapture.db import models as m
from mailcapture.db.locks import lock_for, lock_reason
from mailcapture.db.periods import PeriodStore
from mailcapture.domain.enums import (
    CommentSubject,
    Role,
    SignoffDecision,
    SubmissionSource,
)
from mailcapture.domain.figures import format_figure
from mailcapture.domain.frequency import COLLECTED_KIND
from mailcapture.domain.periods import Period, covered_periods, parse_period
from mailcapture.mailflow.context import Run
from mailcapture.mailflow.outcomes import Outcome
from mailcapture.mailflow.replies import WITHHELD, over_hourly_limit
from mailcapture.outbox.notices import (
    Outgoing,
    council,
    person_view,
    queue_email,
    to_requested,
    when_text,
)
from mailcapture.parsing.addressing import ReplyAddress, find_tokens
from mailcapture.parsing.mime import DecodedMessage, clean_text
from mailcapture.parsing.quotes import split_reply
from mailcapture.parsing.report_reply import ReportReading, listed_codes, read_report_reply
from mailcapture.reports.queries import IndicatorRow, indicator_values
from mailcapture.reports.values import PROVISIONAL

__all__ = ["ReportReply", "find_report_run", "queue_query_notices"]

#: How long a data request stays open for a correction after a query sent it back.
QUERY_OPEN_DAYS = 14
# --------------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------------


def find_report_run(run: Run, decoded: DecodedMessage) -> tuple[m.ReportRun | None, str]:
    """The report run a reply answers: its token first, then In-Reply-To/References."""
    session, mail = run.session, run.mail
    reply = ReplyAddress(mail.reply_local, mail.separator, mail.reply_domain)
    for found in find_tokens(run.recipients(), decoded.subject, reply):
        report_run = session.scalar(select(m.ReportRun).where(m.ReportRun.token == found.token))
        if report_run is not None:
            return report_run, f"report token in {found.where}"
    bare = [i.strip("<>") for i in (*decoded.in_reply_to, *decoded.references)]
    ids = [*(f"<{i}>" for i in bare), *bare]
    if ids:
        report_run = session.scalars(
            select(m.ReportRun)
            .outerjoin(m.OutboxMessage, m.OutboxMessage.id == m.ReportRun.outbox_id)
            .where(
                or_(m.ReportRun.message_id.in_(ids), m.OutboxMessage.message_id.in_(ids)),
                m.ReportRun.token.isnot(None),
            )
            .order_by(m.ReportRun.id.desc())
        ).first()
        if report_run is not None:
            return report_run, "report references"
    return None, "no token, subject tag or reference matched"


# --------------------------------------------------------------------------------------------
# What the reader may answer
# --------------------------------------------------------------------------------------------


@dataclass
class _Scope:
    """The report's items for this reader, by upper-cased code."""

    indicators: dict[str, m.Indicator]
    milestones: dict[str, m.Milestone]
    departments: dict[str, m.Department]
    listed: set[str]
    performance_team: bool

    def code(self, key: str) -> str:
        """The code as the register writes it (keys are upper-cased)."""
        key = key.upper()
        if key in self.indicators:
            return self.indicators[key].code
        if key in self.departments:
            return self.departments[key].code
        if key in self.milestones:
            milestone = self.milestones[key]
            return milestone.code if milestone.code.upper() == key else milestone.project.code
        return key

    def title(self, code: str) -> str:
        key = code.upper()
        thing = self.indicators.get(key) or self.milestones.get(key)
        if thing is not None:
            return thing.title
        department = self.departments.get(key)
        return department.name if department is not None else ""


#: Anything that may be a code in a sent report's text (``BV8a``, ``P07.M2``).
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z0-9]+)*")


def _scope(session: Session, report_run: m.ReportRun, addressee: m.Person, sent: str) -> _Scope:
    """What the report listed for this reader, loaded by code: a handful of rows, however
    large the register (the sent report's answer lines name them; without the sent text,
    what a report of this kind lists for this reader)."""
    if sent.strip():
        wanted = {code.upper() for code in listed_codes(sent)}
        indicator_filter: ColumnElement[bool] = func.upper(m.Indicator.code).in_(sorted(wanted))
        project_filter = or_(
            func.upper(m.Milestone.code).in_(sorted(wanted)),
            func.upper(m.Project.code).in_(sorted(wanted)),
        )
        department_filter = func.upper(m.Department.code).in_(sorted(wanted))
        if report_run.report_kind == "department":
            # A department report offers one answer line (the department's comment) but
            # lists the department's indicators and projects: its head (or their delegate)
            # may comment on any of those it names (issue 15), and on nothing else.
            named = sorted({word.upper() for word in _WORD.findall(sent)} - wanted)
            wanted |= set(named)
            headed = _departments_answered(session, report_run, addressee)
            areas = select(m.ServiceArea.id).where(m.ServiceArea.department_id.in_(headed))
            indicator_filter = or_(
                indicator_filter,
                and_(
                    m.Indicator.service_area_id.in_(areas),
                    func.upper(m.Indicator.code).in_(named),
                ),
            )
            project_filter = or_(
                project_filter,
                and_(
                    m.Project.service_area_id.in_(areas),
                    or_(
                        func.upper(m.Milestone.code).in_(named),
                        func.upper(m.Project.code).in_(named),
                    ),
                ),
            )
    else:
        departments_headed = _departments_answered(session, report_run, addressee)
        areas = select(m.ServiceArea.id).where(m.ServiceArea.department_id.in_(departments_headed))
        department_filter = m.Department.id.in_(departments_headed)
        if report_run.report_kind == "department":
            indicator_filter = m.Indicator.service_area_id.in_(areas)
            project_filter = m.Project.service_area_id.in_(areas)
        else:
            indicator_filter = m.Indicator.owner_id == addressee.id
            project_filter = m.Project.owner_id == addressee.id
    indicators = {
        i.code.upper(): i
        for i in session.scalars(
            select(m.Indicator).where(m.Indicator.retired_at.is_(None), indicator_filter)
        )
    }
    milestones: dict[str, m.Milestone] = {}
    for milestone, project in session.execute(
        select(m.Milestone, m.Project)
        .join(m.Project, m.Project.id == m.Milestone.project_id)
        .where(m.Milestone.retired_at.is_(None), project_filter)
    ):
        milestones[milestone.code.upper()] = milestone
        if milestone.is_overall:
            milestones.setdefault(project.code.upper(), milestone)  # "[P07 comment]"
    departments = {
        d.code.upper(): d for d in session.scalars(select(m.Department).where(department_filter))
    }
    listed = set(indicators) | set(milestones) | set(departments)
    if sent.strip():
        listed &= wanted
    performance_team = Role.PERFORMANCE_TEAM in {r.role for r in addressee.roles}
    return _Scope(indicators, milestones, departments, listed, performance_team)


def _departments_answered(
    session: Session, report_run: m.ReportRun, addressee: m.Person
) -> list[int]:
    """A department report's department (or those its reader heads); none for others."""
    if report_run.report_kind != "department":
        return []
    if report_run.department_id is not None:
        return [report_run.department_id]
    return list(
        session.scalars(
            select(m.DepartmentHead.department_id).where(m.DepartmentHead.person_id == addressee.id)
        )
    )


# --------------------------------------------------------------------------------------------
# Handling one reply
# --------------------------------------------------------------------------------------------


@dataclass
class _Answers:
    approved: list[rv.AnswerLine] = field(default_factory=list)
    queried: list[rv.AnswerLine] = field(default_factory=list)
    commented: list[rv.AnswerLine] = field(default_factory=list)
    refused: list[rv.AnswerLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _may_answer(session: Session, sender: m.Person, report_run: m.ReportRun) -> bool:
    if sender.id == report_run.person_id:
        return True
    return (
        session.scalar(
            select(m.Delegation.id).where(
                m.Delegation.principal_id == report_run.person_id,
                m.Delegation.delegate_id == sender.id,
                m.Delegation.retired_at.is_(None),
            )
        )
        is not None
    )


class ReportReply:
    """An answer to one report run, from parse to confirm (see :class:`Answering`)."""

    expiring = "report token"

    def __init__(self, session: Session, report_run: m.ReportRun) -> None:
        self.report_run = report_run
        self.addressee = session.get_one(m.Person, report_run.person_id)
        self.period = session.get_one(m.Period, report_run.period_id)
        self.described = f"report run {report_run.id}"
        self.expires_at: datetime | None = report_run.expires_at
        self.answer: _ReportAnswer | None = None

    def may_answer(self, session: Session, sender: m.Person) -> bool:
        return _may_answer(session, sender, self.report_run)

    def period_label(self) -> str:
        return parse_period(self.period.code).label

    def parse(self, run: Run) -> None:
        self.answer = _ReportAnswer(run, self.addressee, self.report_run, self.period)
        self.answer.parse()

    def apply(self, run: Run) -> None:
        assert self.answer is not None, "apply before parse"
        self.answer.apply()

    def confirm(self, run: Run) -> None:
        assert self.answer is not None, "confirm before apply"
        self.answer.confirm()


class _ReportAnswer:
    """One answer to a report being read, checked, recorded and confirmed."""

    def __init__(
        self,
        run: Run,
        addressee: m.Person,
        report_run: m.ReportRun,
        period: m.Period,
    ) -> None:
        self.run = run
        self.session = run.session
        self.decoded = run.message
        self.sender = run.person
        self.addressee = addressee
        self.report_run = report_run
        self.period_row = period
        self.period = parse_period(period.code)
        #: The month, and its quarter and year when it ends them (as the owner report
        #: covers them): each indicator is answered for the period it is collected for.
        self.covered = covered_periods(self.period)
        self.period_rows: dict[str, m.Period] = {period.code: period}
        self.locks: dict[str, str | None] = {}
        self.now = run.now
        self.out = _Answers()
        self.role = "head_of_service" if report_run.report_kind == "department" else "owner"
        self.awaiting: list[rv.AnswerLine] = []

    def sent_text(self) -> str:
        rows = self.session.execute(
            select(m.OutboxMessage.id, m.OutboxMessage.message_id, m.OutboxMessage.raw).where(
                or_(
                    m.OutboxMessage.id == self.report_run.outbox_id,
                    m.OutboxMessage.message_id == self.report_run.message_id,
                )
            )
        )
        sent = self.run.sent
        return "\n".join(sent.text(row_id, mid, raw) for row_id, mid, raw in rows)

    def period_of(self, code: str) -> Period:
        """The period an indicator is answered for: the covered one of its collection kind."""
        indicator = self.scope.indicators.get(code.upper())
        if indicator is None:
            return self.period
        kind = COLLECTED_KIND[indicator.frequency]
        return next((p for p in self.covered if p.kind is kind), self.period)

    def row_of(self, period: Period) -> m.Period:
        row = self.period_rows.get(period.code)
        if row is None:
            row = PeriodStore(self.session).get(period)
            self.period_rows[period.code] = row
        return row

    def locked(self, code: str) -> str | None:
        """Why nothing can be recorded for ``code`` (its period is locked), or None."""
        period = self.period_of(code)
        if period.code not in self.locks:
            lock = lock_for(self.session, self.row_of(period))
            if lock is None and period.code != self.period.code:
                lock = lock_for(self.session, self.period_row)
            self.locks[period.code] = (
                f"{lock_reason(self.session, lock)}; nothing was recorded"
                if lock is not None
                else None
            )
        return self.locks[period.code]

    def rows(self, codes: set[str]) -> dict[str, IndicatorRow]:
        by_period: dict[Period, list[str]] = {}
        for code in codes:
            by_period.setdefault(self.period_of(code), []).append(code)
        found: dict[str, IndicatorRow] = {}
        for period, group in by_period.items():
            for r in indicator_values(self.session, period, sorted(group)):
                found[r.code.upper()] = r
        return found

    def value_text(self, row: IndicatorRow | None) -> str:
        if row is None or row.value is None:
            return (row.reason if row is not None else None) or "no value"
        text = format_figure(row.value, row.unit, row.decimals)
        if row.target is not None:
            text += f" (target {format_figure(row.target.value, row.unit, row.decimals)})"
        return text

    def may_sign(self, indicator: m.Indicator) -> bool:
        return indicator.owner_id == self.addressee.id or self.scope.performance_team

    def parse(self) -> None:
        sent = self.sent_text()
        self.scope = _scope(self.session, self.report_run, self.addressee, sent)
        known = self.scope.listed
        reading = read_report_reply(self.decoded.text, sent or None, known)
        # As for data requests: the sender's own words, beside the whole decoded text.
        self.run.row.answer_text = clean_text(split_reply(self.decoded.text).new_text)
        self.run.stage(
            "parse",
            f"{len(reading.answers)} answer(s)" + (", approve all" if reading.approve_all else ""),
            "; ".join(reading.notes)[:1000] or None,
        )
        self.out.notes.extend(reading.notes)
        self.reading = reading

    def apply(self) -> None:
        reading = self.reading
        signable = {
            c
            for c in self.scope.listed
            if c in self.scope.indicators and self.may_sign(self.scope.indicators[c])
        }
        asked = {a.code.upper() for a in reading.answers if a.verb != "comment"}
        before = self.rows(signable | (asked & self.scope.indicators.keys()))
        self.record(reading, signable, before)
        self.session.flush()
        after = self.rows(signable)
        self.awaiting = [
            rv.AnswerLine(
                self.scope.code(code), self.scope.title(code), self.value_text(after.get(code))
            )
            for code in sorted(signable)
            if code in after and PROVISIONAL in after[code].flags
        ]
        out = self.out
        self.summary = (
            f"{len(out.approved)} approved, {len(out.queried)} queried, "
            f"{len(out.commented)} comment(s), {len(out.refused)} not recorded, "
            f"{len(self.awaiting)} awaiting sign-off"
        )
        self.run.stage(
            "apply",
            "recorded" if out.approved or out.queried or out.commented else "nothing",
            self.summary,
        )

    # ---- recording -------------------------------------------------------------------
    def refuse(self, code: str, answer: str, reason: str) -> None:
        self.out.refused.append(
            rv.AnswerLine(self.scope.code(code), self.scope.title(code), answer, reason)
        )

    def record(
        self, reading: ReportReading, signable: set[str], before: dict[str, IndicatorRow]
    ) -> None:
        approve = [a.code.upper() for a in reading.of("approve")]
        if reading.approve_all:
            waiting = [
                c for c in sorted(signable) if c in before and PROVISIONAL in before[c].flags
            ]
            if not waiting:
                self.out.notes.append("Nothing in this report was awaiting your sign-off")
            approve += [c for c in waiting if c not in approve]
        for code in approve:
            self.sign(code, before, SignoffDecision.APPROVED, None)
        for answer in reading.of("query"):
            self.sign(answer.code.upper(), before, SignoffDecision.QUERIED, answer.text)
        for answer in reading.of("comment"):
            self.comment(answer.code.upper(), answer.text)
        for answer in reading.of("choose"):
            self.refuse(
                answer.code.upper(),
                f"choose: {answer.text}",
                "a figure is chosen by answering the email that asks for the choice",
            )

    def sign_refusal(self, code: str) -> str | None:
        indicator = self.scope.indicators.get(code)
        if indicator is None:
            return (
                f"{self.scope.code(code)} is not an indicator: only indicators' figures are "
                "signed off"
            )
        if code not in self.scope.listed:
            return f"{self.scope.code(code)} was not in this report for you to sign off"
        if not self.may_sign(indicator):
            owner = self.session.get_one(m.Person, indicator.owner_id)
            return (
                f"only {indicator.code}'s owner, {owner.name}, or the performance team can "
                "sign it off"
            )
        return None

    def sign(
        self,
        code: str,
        before: dict[str, IndicatorRow],
        decision: SignoffDecision,
        reason: str | None,
    ) -> None:
        shown = "approve" if decision is SignoffDecision.APPROVED else f"query: {reason}"
        refusal = self.sign_refusal(code)
        row = before.get(code)
        period = self.period_of(code)
        if refusal is None:
            refusal = self.locked(code)
        if refusal is None and (row is None or row.value is None):
            refusal = (
                f"{self.scope.code(code)} has no value for {period.label} yet"
                + (f" ({row.reason})" if row is not None and row.reason else "")
                + ": there is nothing to sign off"
            )
        if refusal is not None:
            self.refuse(code, shown, refusal)
            return
        assert row is not None
        indicator = self.scope.indicators[code]
        current = self.session.scalar(
            select(m.Signoff).where(
                m.Signoff.indicator_id == indicator.id,
                m.Signoff.period_id == self.row_of(period).id,
                m.Signoff.is_current,
            )
        )
        title = indicator.title
        if (
            decision is SignoffDecision.APPROVED
            and current is not None
            and current.decision is SignoffDecision.APPROVED
        ):
            self.out.notes.append(
                f"{self.scope.code(code)} was already signed off for {period.label}"
            )
            return
        if current is not None:
            current.is_current = False
            self.session.flush()
        signoff = m.Signoff(
            indicator_id=indicator.id,
            period_id=self.row_of(period).id,
            decision=decision,
            reason=reason,
            person_id=self.sender.id,
            inbound_message_id=self.run.row.id,
            decided_at=self.now,
            is_current=True,
        )
        self.session.add(signoff)
        self.session.flush()
        if decision is SignoffDecision.APPROVED:
            self.out.approved.append(rv.AnswerLine(indicator.code, title, self.value_text(row)))
            return
        told = queue_query_notices(
            self.session,
            self.run,
            indicator=indicator,
            row=row,
            signoff=signoff,
            owner=self.sender,
            report_period=self.row_of(period),
            reason=reason or "",
        )
        note = (
            ", ".join(told)
            if told
            else ("nobody: no data request for these figures was found; please tell the updater")
        )
        self.out.queried.append(rv.AnswerLine(indicator.code, title, reason or "", note))

    def comment(self, code: str, body: str) -> None:
        if code not in self.scope.listed:
            self.refuse(
                code, f"comment: {body}", f"{self.scope.code(code)} was not in this report for you"
            )
            return
        locked = self.locked(code)
        if locked is not None:
            self.refuse(code, f"comment: {body}", locked)
            return
        target: dict[str, object]
        if code in self.scope.departments:
            department = self.scope.departments[code]
            target = {"subject": CommentSubject.DEPARTMENT, "department_id": department.id}
        elif code in self.scope.indicators:
            indicator = self.scope.indicators[code]
            target = {"subject": CommentSubject.INDICATOR, "indicator_id": indicator.id}
        else:
            milestone = self.scope.milestones[code]
            target = {"subject": CommentSubject.MILESTONE, "milestone_id": milestone.id}
        self.session.add(
            m.Commentary(
                period_id=self.row_of(self.period_of(code)).id,
                author_role=self.role,
                body=body,
                submitted_by_id=self.sender.id,
                on_behalf_of_id=self.addressee.id if self.sender.id != self.addressee.id else None,
                inbound_message_id=self.run.row.id,
                request_id=None,
                source=SubmissionSource.EMAIL,
                received_at=self.now,
                is_current=True,
                **target,
            )
        )
        self.out.commented.append(
            rv.AnswerLine(self.scope.code(code), self.scope.title(code), body)
        )

    # ---- confirming ------------------------------------------------------------------
    def confirm(self) -> None:
        out, awaiting = self.out, self.awaiting
        withheld = True
        if self.run.quiet is not None:
            note = f"confirmation not sent: {self.run.quiet}"
        elif self.run.answers_ours and not (
            out.approved or out.queried or out.commented or out.refused
        ):
            note = (
                "confirmation not sent: an answer to our automatic email with nothing in it "
                "(our email forwarded back to us?)"
            )
        elif over_hourly_limit(
            self.session,
            self.sender.email,
            self.now,
            self.run.settings.reply_limits.hourly_limit,
        ):
            note = "confirmation not sent: hourly limit for this address reached"
        else:
            withheld = False
            definition = self.session.scalar(
                select(m.ReportDefinition)
                .where(m.ReportDefinition.kind == self.report_run.report_kind)
                .order_by(m.ReportDefinition.id)
            )
            title = (
                definition.title[:1].lower() + definition.title[1:]
                if definition is not None
                else f"{self.report_run.report_kind} report"
            )
            view = rv.ReportAnswerConfirmationView(
                council=council(self.run.mail),
                recipient=person_view(self.sender),
                report_title=title,
                period_label=self.period.label,
                token=self.report_run.token or "",
                approved=tuple(out.approved),
                queried=tuple(out.queried),
                commented=tuple(out.commented),
                refused=tuple(out.refused),
                awaiting=tuple(awaiting),
                notes=tuple(out.notes),
                on_behalf_of=(
                    person_view(self.addressee) if self.sender.id != self.addressee.id else None
                ),
            )
            queue_email(
                self.session,
                self.run.mail,
                Outgoing(
                    kind="report_answer_confirmation",
                    recipient=person_view(self.sender),
                    dedupe_key=f"report-answer:{self.run.row.id}",
                    person_id=self.sender.id,
                    period_id=self.period_row.id,
                    reply_token=self.report_run.token,
                    in_reply_to=self.run.row.message_id and f"<{self.run.row.message_id}>",
                    auto_submitted="auto-replied",
                    in_reply_to_id=self.run.row.id,
                ),
                view,
                self.now,
            )
            note = "report answer confirmation queued"
        self.run.stage("confirm", WITHHELD if withheld else "queued", note)
        if out.approved or out.queried or out.commented:
            outcome = Outcome.REPORT_ANSWER
        elif out.refused:
            outcome = Outcome.REPORT_REFUSED
        else:
            outcome = Outcome.REPORT_NO_ANSWERS
        self.run.finish(outcome, self.summary)


# --------------------------------------------------------------------------------------------
# Queries back to the updater
# --------------------------------------------------------------------------------------------


def _period_and_below(session: Session, period_id: int) -> list[int]:
    ids = [period_id]
    frontier = [period_id]
    for _ in range(2):  # year -> quarters -> months
        frontier = list(
            session.scalars(select(m.Period.id).where(m.Period.parent_id.in_(frontier)))
        )
        ids += frontier
    return ids


def queue_query_notices(
    session: Session,
    run: Run,
    *,
    indicator: m.Indicator,
    row: IndicatorRow,
    signoff: m.Signoff,
    owner: m.Person,
    report_period: m.Period,
    reason: str,
) -> list[str]:
    """Send the owner's query to whoever sent the indicator's figures; returns who was told.

    One notice per data request (a quarter's query on a monthly indicator reaches the
    three months' requests), each carrying that request's token, with the request's own
    form lines and the figure held under each, so a corrected figure is read like any
    answer to the request.
    """
    now = run.now
    items = session.execute(
        select(m.DataRequestItem, m.DataRequest, m.Component)
        .join(m.DataRequest, m.DataRequest.id == m.DataRequestItem.request_id)
        .join(m.Component, m.Component.id == m.DataRequestItem.component_id)
        .where(
            m.DataRequestItem.indicator_id == indicator.id,
            m.DataRequest.period_id.in_(_period_and_below(session, report_period.id)),
        )
        .order_by(m.DataRequest.period_id, m.DataRequest.id, m.DataRequestItem.position)
    ).all()
    by_request: dict[int, tuple[m.DataRequest, list[tuple[m.DataRequestItem, m.Component]]]] = {}
    for item, request, component in items:
        by_request.setdefault(request.id, (request, []))[1].append((item, component))
    told: list[str] = []
    report_label = parse_period(report_period.code).label
    value = (
        format_figure(row.value, row.unit, row.decimals) if row.value is not None else "no value"
    )
    for request, pairs in by_request.values():
        figures = []
        for item, component in pairs:
            current = session.scalar(
                select(m.ComponentValue).where(
                    m.ComponentValue.component_id == component.id,
                    m.ComponentValue.period_id == request.period_id,
                    m.ComponentValue.is_current,
                )
            )
            if current is None:
                stored = ""
            elif current.value is None:
                stored = "n/a"
            else:
                stored = format_figure(current.value, component.unit)
            form_item = views.FormItem(
                code=item.item_code,
                title=component.title,
                kind="value",
                unit=component.unit,
                indicator_code=indicator.code,
                indicator_title=indicator.title,
                group="",
                last_period=None,
                same_period_last_year=None,
                target=None,
                allowed=None,
            )
            figures.append(rv.QueriedFigure(form_item, stored))
        if request.expires_at < now + timedelta(days=QUERY_OPEN_DAYS):
            request.expires_at = now + timedelta(days=QUERY_OPEN_DAYS)
        updater = session.get_one(m.Person, request.person_id)
        request_period = session.get_one(m.Period, request.period_id)
        view = rv.QueryNoticeView(
            council=council(run.mail),
            recipient=person_view(updater),
            owner=person_view(owner),
            indicator_code=indicator.code,
            indicator_title=indicator.title,
            indicator_value=value,
            report_period_label=report_label,
            period_label=parse_period(request_period.code).label,
            token=request.token,
            reason=reason,
            figures=tuple(figures),
            open_until=when_text(request.expires_at),
        )
        queued = queue_email(
            session,
            run.mail,
            to_requested("query_notice", updater, request, f"query:{signoff.id}:{request.id}"),
            view,
            now,
        )
        if queued is not None and updater.email not in told:
            told.append(updater.email)
    return told
