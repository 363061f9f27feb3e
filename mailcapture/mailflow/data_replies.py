"""Replies to data requests: the figures, statuses and comments a person sends back.

The match stage finds the request (:func:`find_request`); once the authenticate stage has
let the sender answer it, :class:`DataReply` is read against everything we sent for the
request (parse), checked and recorded answer by answer (apply, by
:class:`~mailcapture.mailflow.apply.Applier`) and confirmed (confirm). Answers to reports
take the same match and authenticate stages and differ here (``report_replies``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session, aliased, contains_eager, joinedload

from mailcapture.clock import LOCAL_TZ
from mailcapture.db import models as m
from mailcapture.domain.enums import RequestState, SubmissionState
from mailcapture.domain.periods import parse_period
from mailcapture.mailflow.apply import Applier, ApplyResult, Preloaded, Submitter
from mailcapture.mailflow.context import Run
from mailcapture.mailflow.loops import about_request
from mailcapture.mailflow.outcomes import Outcome
from mailcapture.mailflow.replies import queue_confirmation
from mailcapture.mailflow.value_choices import ask_owner
from mailcapture.parsing.addressing import ReplyAddress, find_tokens
from mailcapture.parsing.form import FormReading, read_reply
from mailcapture.parsing.mime import DEFAULT_LIMITS, DecodedMessage, clean_text, may_be_sheet
from mailcapture.parsing.quotes import split_reply
from mailcapture.parsing.sheet_answers import merge_sheet_answers
from mailcapture.parsing.workbook import WorkbookReading, read_workbook
from mailcapture.reports.commentary import needing_commentary, still_needing_commentary
from mailcapture.reports.queries import IndicatorRow

__all__ = ["DataReply", "FoundRequest", "find_request"]


@dataclass(frozen=True)
class FoundRequest:
    """The request a reply answers, and what its statement read beside it for apply."""

    request: m.DataRequest
    preloaded: Preloaded


def find_request(run: Run, decoded: DecodedMessage) -> tuple[FoundRequest | None, str]:
    """The data request a reply answers: its token first, then In-Reply-To/References."""
    session, mail = run.session, run.mail
    reply = ReplyAddress(mail.reply_local, mail.separator, mail.reply_domain)
    query = _request_query()
    for found in find_tokens(run.recipients(), decoded.subject, reply):
        request = _read_request(session, query.where(m.DataRequest.token == found.token))
        if request is not None:
            return request, f"token in {found.where}"
    ids = [f"<{i}>" for i in (*decoded.in_reply_to, *decoded.references)]
    if ids:
        request = _read_request(session, query.where(m.DataRequest.message_id.in_(ids)))
        if request is None:
            sent = select(m.OutboxMessage.request_id).where(m.OutboxMessage.message_id.in_(ids))
            request = _read_request(session, query.where(m.DataRequest.id.in_(sent)))
        if request is not None:
            return request, "references"
    return None, "no token, subject tag or reference matched"


@cache
def _request_query() -> Select[Any]:
    """The request with everything a reply to it needs, in one statement (issue 14): its
    period, addressee and items (with each item's indicator code), the lock in force on the
    period (its own, its quarter's or its year's: the innermost that contains it), and
    each item's component or milestone with its rows for the period."""
    item = m.DataRequestItem
    indicator_code = (
        select(m.Indicator.code)
        .where(m.Indicator.id == item.indicator_id)
        .correlate(item)
        .scalar_subquery()
    )
    locked, asked = aliased(m.Period), aliased(m.Period)
    lock_id = (
        select(m.PeriodLock.id)
        .join(locked, locked.id == m.PeriodLock.period_id)
        .where(
            asked.id == m.DataRequest.period_id,
            m.PeriodLock.unlocked_at.is_(None),
            locked.start_date <= asked.start_date,
            locked.end_date >= asked.end_date,
        )
        .order_by(locked.start_date.desc(), locked.end_date, m.PeriodLock.id)
        .limit(1)
        .correlate(m.DataRequest)
        .scalar_subquery()
    )
    value_rows = and_(
        m.ComponentValue.component_id == item.component_id,
        m.ComponentValue.period_id == m.DataRequest.period_id,
        or_(
            m.ComponentValue.is_current,
            m.ComponentValue.state.in_((SubmissionState.UNCONFIRMED, SubmissionState.CONFLICTING)),
        ),
    )
    status_row = and_(
        m.MilestoneUpdate.milestone_id == item.milestone_id,
        m.MilestoneUpdate.period_id == m.DataRequest.period_id,
        m.MilestoneUpdate.is_current,
    )
    return (
        select(
            m.DataRequest, lock_id, m.Component, m.ComponentValue, m.Milestone, m.MilestoneUpdate
        )
        .outerjoin(item, item.request_id == m.DataRequest.id)
        .outerjoin(m.Component, m.Component.id == item.component_id)
        .outerjoin(m.ComponentValue, value_rows)
        .outerjoin(m.Milestone, m.Milestone.id == item.milestone_id)
        .outerjoin(m.MilestoneUpdate, status_row)
        .options(
            contains_eager(m.DataRequest.items).with_expression(
                item.indicator_code, indicator_code
            ),
            joinedload(m.DataRequest.period),
            # The addressee is nearly always the sender: match then need not look them up.
            joinedload(m.DataRequest.person),
        )
        .order_by(m.DataRequest.id, item.position, m.ComponentValue.id)
    )


def _read_request(session: Session, query: Select[Any]) -> FoundRequest | None:
    """The first request ``query`` finds, with the rows read beside it."""
    rows = session.execute(query).unique().all()
    if not rows:
        return None
    request = rows[0][0]
    components: dict[int, m.Component] = {}
    values: dict[int, m.ComponentValue] = {}
    milestones: dict[int, m.Milestone] = {}
    statuses: dict[int, m.MilestoneUpdate] = {}
    for found, _, component, value, milestone, status in rows:
        if found is not request:
            break  # ordered by request: the first one's rows are all before
        if component is not None:
            components[component.id] = component
        if value is not None:
            values.setdefault(value.id, value)
        if milestone is not None:
            milestones[milestone.id] = milestone
        if status is not None:
            statuses[status.milestone_id] = status
    preloaded = Preloaded(
        lock_id=rows[0][1],
        components=components,
        values=tuple(values[i] for i in sorted(values)),
        milestones=milestones,
        statuses=statuses,
    )
    return FoundRequest(request, preloaded)


class DataReply:
    """A reply to one data request, from parse to confirm (see :class:`Answering`)."""

    expiring = "token"

    def __init__(
        self,
        request: m.DataRequest,
        sent: list[m.OutboxMessage] | None = None,
        preloaded: Preloaded | None = None,
    ) -> None:
        """``sent``: what we sent about the request, if match read it already;
        ``preloaded``: what :func:`find_request` read with it."""
        self.preloaded = preloaded
        self.request = request
        self.sent = sent
        self.addressee = request.person
        self.described = f"request {request.id}"
        self.expires_at: datetime | None = request.expires_at
        self.reading: FormReading | None = None
        self.result: ApplyResult | None = None
        self.applier: Applier | None = None
        self.pending: list[m.DataRequestItem] = []
        #: The codes of the request's indicators, read once by parse, reused by confirm.
        self.indicator_codes: list[str] = []
        self.late = False
        self.summary = ""

    def may_answer(self, session: Session, sender: m.Person) -> bool:
        request = self.request
        principals = {request.person_id}
        if request.on_behalf_of_id:
            principals.add(request.on_behalf_of_id)
        if sender.id in principals:
            return True
        delegation = session.scalar(
            select(m.Delegation.id).where(
                m.Delegation.principal_id.in_(principals),
                m.Delegation.delegate_id == sender.id,
                m.Delegation.retired_at.is_(None),
            )
        )
        return delegation is not None

    def period_label(self) -> str:
        return parse_period(self.request.period.code).label

    def sent_texts(self, run: Run) -> list[str]:
        """Everything we sent about this request: an untouched copy of any of it is no answer."""
        request = self.request
        if self.sent is not None:
            return [run.sent.text(row.id, row.message_id, row.raw) for row in self.sent]
        rows = run.session.execute(
            select(m.OutboxMessage.id, m.OutboxMessage.message_id, m.OutboxMessage.raw).where(
                about_request(request)
            )
        )
        return [run.sent.text(row_id, mid, raw) for row_id, mid, raw in rows]

    def sheets(self, decoded: DecodedMessage, codes: list[str]) -> list[WorkbookReading]:
        """Each attachment that may be a spreadsheet, read against this request (our own
        form is read; anything else is named in the confirmation, never guessed at)."""
        found = []
        for attachment in decoded.attachments:
            if not may_be_sheet(attachment.filename, attachment.content_type):
                continue
            name = attachment.filename or "the attachment"
            if attachment.data is None:
                found.append(
                    WorkbookReading(
                        name,
                        "refused",
                        f"{name} is too large to read ({attachment.size:,} bytes; at most "
                        f"{DEFAULT_LIMITS.max_sheet_bytes // 2**20} MB of spreadsheets are "
                        "read from one message)",
                    )
                )
                continue
            found.append(
                read_workbook(
                    attachment.data,
                    name,
                    reference=self.request.token,
                    codes=codes,
                    content_type=attachment.content_type,
                )
            )
        return found

    def parse(self, run: Run) -> None:
        request, decoded = self.request, run.message
        codes = [i.item_code for i in request.items]
        # Loaded with the items (find_request); a request found another way reads them here.
        indicator_codes = sorted({i.indicator_code for i in request.items if i.indicator_code})
        if not indicator_codes and any(i.indicator_id for i in request.items):
            indicator_codes = list(
                run.session.scalars(
                    select(m.Indicator.code).where(
                        m.Indicator.id.in_(
                            {i.indicator_id for i in request.items if i.indicator_id}
                        )
                    )
                )
            )
        self.indicator_codes = indicator_codes
        run.budget.at("parse")
        sent = self.sent_texts(run)
        reading = read_reply(decoded.text, sent, codes + indicator_codes, run.budget.check)
        reading = merge_sheet_answers(reading, self.sheets(decoded, codes))
        split = split_reply(decoded.text, run.budget.check)
        run.budget.at("apply")
        run.row.answer_text = clean_text(split.new_text)
        run.stage(
            "parse",
            f"{len(reading.answers)} answer(s)",
            "; ".join([*reading.conflicts, *reading.ignored])[:1000] or None,
        )
        self.reading = reading

    def apply(self, run: Run) -> None:
        """Each answer checked (lock, units, ranges, plausibility) and recorded if it holds.

        :class:`Applier` still validates and records in one pass, answer by answer, so the
        validate stage of the stage list is part of this one for data replies (see
        ``mailflow/README.md``, "What is left")."""
        request, sender, now = self.request, run.person, run.now
        assert self.reading is not None, "apply before parse"
        self.late = now > request.due_at
        who = Submitter(
            person_id=sender.id,
            on_behalf_of_id=request.person_id if sender.id != request.person_id else None,
            inbound_id=run.row.id,
            request_id=request.id,
            received_at=now,
            late=self.late,
        )
        today = now.astimezone(LOCAL_TZ).date()
        applier = Applier(run.session, request, who, today, run.capture, self.preloaded)
        result = applier.apply(self.reading)
        self.applier = applier
        if result.conflicts:
            run.session.flush()  # the owner's question lists the candidates as stored
        for conflict in result.conflicts:  # differing figures: the owner chooses (issue 15)
            run.stage("value-choice", "asked", ask_owner(run, request.period, conflict))
        pending = applier.outstanding()
        if not pending and request.state is RequestState.OPEN:
            request.state = RequestState.COMPLETE
            request.completed_at = now
        elif pending and request.state is RequestState.COMPLETE:
            request.state = RequestState.OPEN
            request.completed_at = None
        self.summary = (
            f"{len(result.accepted)} accepted, {len(result.rejected)} rejected, "
            + (f"{len(result.held)} unconfirmed, " if result.held else "")
            + (f"{len(result.conflicts)} for the owner to choose, " if result.conflicts else "")
            + f"{result.comments} comment(s), {len(pending)} outstanding"
            + (", late" if self.late else "")
        )
        run.stage("apply", "applied" if result.accepted else "nothing stored", self.summary)
        self.result, self.pending = result, pending

    def commentary_needed(self, session: Session) -> list[tuple[IndicatorRow, str]]:
        """The request's indicators that are red or worsening with this reply counted and
        have no commentary, with the reason: from what the apply stage read and wrote
        (:meth:`Applier.indicator_rows`), else (nothing was preloaded) from the reports."""
        period = parse_period(self.request.period.code)
        rows = self.applier.indicator_rows() if self.applier is not None else None
        if rows is None or (self.result is not None and self.result.comments):
            # The reports' queries read the commentary (and without rows, the figures) from
            # the database: what the reply recorded goes there first.
            session.flush()
        if rows is None:
            return needing_commentary(session, period, self.indicator_codes)
        return still_needing_commentary(session, period, rows)

    def confirm(self, run: Run) -> None:
        result, reading = self.result, self.reading
        assert result is not None and reading is not None, "confirm before apply"
        notes = [*run.message.truncated, *reading.conflicts, *reading.ignored]
        if result.unchanged:
            notes.append(f"unchanged: {', '.join(result.unchanged)}")
        note = queue_confirmation(
            run.session,
            run.mail,
            inbound=run.row,
            request=self.request,
            sender=run.person,
            result=result,
            pending=self.pending,
            commentary=self.commentary_needed,
            notes=notes,
            late=self.late,
            now=run.now,
            limits=run.settings.reply_limits,
            quiet=run.quiet,
            answers_ours=run.answers_ours,
            sent_last_hour=run.sent_to(run.person.email),
        )
        run.stage("confirm", note.result, note.note)
        if result.accepted:
            outcome = Outcome.APPLIED
        elif result.conflicts:
            outcome = Outcome.CONFLICT  # kept beside another person's figure; owner asked
        elif result.held:
            outcome = Outcome.UNCONFIRMED  # stored, but waiting for the sender to confirm
        elif result.rejected:
            outcome = Outcome.REJECTED
        elif result.comments or result.general_comment:
            outcome = Outcome.COMMENT_ONLY
        else:
            outcome = Outcome.NO_ANSWERS
        run.finish(outcome, self.summary)
