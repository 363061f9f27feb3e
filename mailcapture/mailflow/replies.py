"""Stage 6: the emails the pipeline sends back, and the limits on them.

Never to a bounce or an auto-reply (the pipeline does not call these for them); at most
one notice per sender, reason and day; at most ``hourly_limit`` automatic emails to any
one address per hour, so two robots cannot keep each other busy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailcapture.compose import views
from mailcapture.db import models as m
from mailcapture.domain.periods import parse_period
from mailcapture.forms.context import FigureContext
from mailcapture.forms.due import due_by_person, item_key
from mailcapture.mailflow.apply import ApplyResult
from mailcapture.outbox.notices import (
    Outgoing,
    council,
    person_view,
    queue_email,
    team_view,
    to_requested,
    when_text,
)
from mailcapture.register.model import MailSpec
from mailcapture.reports.commentary import needing_commentary, request_indicator_codes

#: Our automatic answers, counted together against the hourly limit per address, so that
#: two robots answering each other cannot keep either busy.
AUTOMATIC_KINDS = ("confirmation", "rejection_notice", "report_answer_confirmation")


@dataclass(frozen=True)
class Limits:
    hourly_limit: int = 10


def over_hourly_limit(session: Session, address: str, now: datetime, limit: int) -> bool:
    sent = session.scalar(
        select(func.count())
        .select_from(m.OutboxMessage)
        .where(
            m.OutboxMessage.recipient == address,
            m.OutboxMessage.kind.in_(AUTOMATIC_KINDS),
            m.OutboxMessage.created_at > now - timedelta(hours=1),
        )
    )
    return int(sent or 0) >= limit


def outstanding_form(
    session: Session, request: m.DataRequest, pending: list[m.DataRequestItem]
) -> tuple[views.FormItem, ...]:
    """The still-outstanding items as form lines, with their context figures."""
    if not pending:
        return ()
    period = parse_period(request.period.code)
    owner = request.on_behalf_of_id or request.person_id
    due = due_by_person(session, period, owner).get(owner, [])
    wanted = {item_key(i) for i in pending}
    items = [d for d in due if item_key(d) in wanted]
    context = FigureContext(session, period, items)
    return tuple(context.form_item(i) for i in items)


def queue_confirmation(
    session: Session,
    mail: MailSpec,
    *,
    inbound: m.InboundMessage,
    request: m.DataRequest,
    sender: m.Person,
    result: ApplyResult,
    pending: list[m.DataRequestItem],
    notes: list[str],
    late: bool,
    now: datetime,
    limits: Limits,
) -> str:
    """Queue the confirmation; returns what happened, for the message's audit trail."""
    if over_hourly_limit(session, sender.email, now, limits.hourly_limit):
        return "confirmation not sent: hourly limit for this address reached"
    principal = request.person if request.person_id != sender.id else None
    # Red or worsening indicators on this form with no commentary yet: ask for a line.
    needed = needing_commentary(
        session, parse_period(request.period.code), request_indicator_codes(session, request.id)
    )
    view = views.ConfirmationView(
        council=council(mail),
        recipient=person_view(sender),
        period_code=request.period.code,
        period_label=parse_period(request.period.code).label,
        token=request.token,
        due=when_text(request.due_at),
        accepted=tuple(
            views.ConfirmedLine(a.code, a.title, a.stored, a.note) for a in result.accepted
        ),
        rejected=tuple(views.RejectedLine(r.code, r.answer, r.reason) for r in result.rejected),
        outstanding=outstanding_form(session, request, pending),
        notes=tuple(notes),
        comments=result.comments,
        general_comment=result.general_comment,
        on_behalf_of=person_view(principal) if principal is not None else None,
        late=late,
        commentary_needed=tuple(row.code for row, _ in needed),
        commentary_reasons=tuple(reason for _, reason in needed),
    )
    queue_email(
        session,
        mail,
        Outgoing(
            kind="confirmation",
            recipient=person_view(sender),
            dedupe_key=f"confirm:{inbound.id}",
            person_id=sender.id,
            request_id=request.id,
            period_id=request.period_id,
            reply_token=request.token,
            in_reply_to=inbound.message_id and f"<{inbound.message_id}>",
            auto_submitted="auto-replied",
            in_reply_to_id=inbound.id,
        ),
        view,
        now,
    )
    return "confirmation queued"


def queue_rejection(
    session: Session,
    mail: MailSpec,
    *,
    inbound: m.InboundMessage,
    address: str,
    name: str,
    reason: views.RejectionReason,
    now: datetime,
    limits: Limits,
    period_label: str | None = None,
    expired_on: datetime | None = None,
    rightful: m.Person | None = None,
) -> str:
    """A short polite notice that nothing was recorded, once per sender, reason and day."""
    key = f"notice:{reason}:{address}:{now.date().isoformat()}"
    if session.scalar(select(m.OutboxMessage.id).where(m.OutboxMessage.dedupe_key == key)):
        return f"no notice: {reason} already explained to {address} today"
    if over_hourly_limit(session, address, now, limits.hourly_limit):
        return "no notice: hourly limit for this address reached"
    view = views.RejectionView(
        council=council(mail),
        recipient=views.Person(name=name, email=address),
        reason=reason,
        their_subject=inbound.subject or "(no subject)",
        period_label=period_label,
        expired_on=when_text(expired_on) if expired_on else None,
        rightful=person_view(rightful) if rightful is not None else None,
    )
    queue_email(
        session,
        mail,
        Outgoing(
            kind="rejection_notice",
            recipient=views.Person(name=name, email=address),
            dedupe_key=key,
            in_reply_to=inbound.message_id and f"<{inbound.message_id}>",
            auto_submitted="auto-replied",
            in_reply_to_id=inbound.id,
        ),
        view,
        now,
    )
    return f"notice sent: {reason}"


def queue_bounce_notice(
    session: Session,
    mail: MailSpec,
    *,
    address: str,
    person: m.Person | None,
    diagnostic: str,
    subject: str | None,
    affected: list[str],
    now: datetime,
) -> None:
    view = views.BounceView(
        council=council(mail),
        recipient=team_view(mail),
        failed_address=address,
        person_name=person.name if person else None,
        diagnostic=diagnostic,
        original_subject=subject,
        requests_affected=tuple(affected),
    )
    queue_email(
        session,
        mail,
        Outgoing(
            kind="bounce_notice",
            recipient=team_view(mail),
            dedupe_key=f"bounce:{address}:{now.date().isoformat()}",
        ),
        view,
        now,
    )


def queue_delegate_forward(
    session: Session,
    mail: MailSpec,
    *,
    request: m.DataRequest,
    absent: m.Person,
    delegate: m.Person,
    away_until: str | None,
    pending: list[m.DataRequestItem],
    now: datetime,
) -> bool:
    """Send the absent person's form to their delegate, and tell the performance team."""
    period = parse_period(request.period.code)
    view = views.DelegateForwardView(
        council=council(mail),
        recipient=person_view(delegate),
        period_code=period.code,
        period_label=period.label,
        token=request.token,
        due=when_text(request.due_at),
        items=outstanding_form(session, request, pending),
        on_behalf_of=person_view(absent),
        away_until=away_until,
    )
    row = queue_email(
        session,
        mail,
        to_requested("delegate_forward", delegate, request, f"delegate:{request.id}:{delegate.id}"),
        view,
        now,
    )
    if row is None:
        return False
    notice = views.DelegateNoticeView(
        council=council(mail),
        recipient=team_view(mail),
        absent=person_view(absent),
        delegate=person_view(delegate),
        away_until=away_until,
        period_label=period.label,
    )
    queue_email(
        session,
        mail,
        Outgoing(
            kind="delegate_notice",
            recipient=team_view(mail),
            dedupe_key=f"delegate-notice:{request.id}:{delegate.id}",
            period_id=request.period_id,
        ),
        notice,
        now,
    )
    return True
