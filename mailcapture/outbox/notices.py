"""Turning a decision of the timetable into an outbox row: view, render, build, queue."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from mailcapture.clock import LOCAL_TZ
from mailcapture.compose import views
from mailcapture.compose.message import Envelope, build_message, make_message_id
from mailcapture.compose.render import render
from mailcapture.compose.workbook import form_attachments
from mailcapture.db import models as m
from mailcapture.outbox.queue import NewMail, enqueue
from mailcapture.register.mail import reply_address
from mailcapture.register.model import MailSpec

if TYPE_CHECKING:  # the worker imports the sender; the notices need only its protocol
    from mailcapture.outbox.worker import FailureNotifier


@dataclass(frozen=True)
class Outgoing:
    """Everything needed to queue one email except its body."""

    kind: str
    recipient: views.Person
    dedupe_key: str
    person_id: int | None = None
    request_id: int | None = None
    period_id: int | None = None
    reply_token: str | None = None
    message_id: str | None = None
    in_reply_to: str | None = None
    #: The inbound message this answers (confirmations and notices), for the audit trail.
    in_reply_to_id: int | None = None
    #: RFC 3834: "auto-generated" for our own initiative, "auto-replied" for answers.
    auto_submitted: str = "auto-generated"


def to_requested(kind: str, person: m.Person, request: m.DataRequest, dedupe_key: str) -> Outgoing:
    """An email about ``request`` to ``person``, in its thread and answerable like it (a
    reminder, a form forwarded to a delegate, a query on a figure sent in answer)."""
    return Outgoing(
        kind=kind,
        recipient=person_view(person),
        dedupe_key=dedupe_key,
        person_id=person.id,
        request_id=request.id,
        period_id=request.period_id,
        reply_token=request.token,
        in_reply_to=request.message_id,
    )


def council(mail: MailSpec) -> views.Council:
    return views.Council(name=mail.council, performance_team=mail.performance_team)


def person_view(person: m.Person) -> views.Person:
    return views.Person(name=person.name, email=person.email)


def team_view(mail: MailSpec) -> views.Person:
    return views.Person(name="Performance team", email=mail.performance_team)


def when_text(when: datetime) -> str:
    """'Friday 15 May 2026, 5pm' in council local time."""
    local = when.astimezone(LOCAL_TZ)
    hour = local.strftime("%I").lstrip("0")
    minutes = "" if local.minute == 0 else local.strftime(":%M")
    return f"{local:%A} {local.day} {local:%B %Y}, {hour}{minutes}{local:%p}".replace(
        "AM", "am"
    ).replace("PM", "pm")


def queue_email(
    session: Session,
    mail: MailSpec,
    out: Outgoing,
    view: object,
    now: datetime,
    *,
    flush_pending: bool = True,
) -> m.OutboxMessage | None:
    """Render ``view`` as ``out.kind`` and queue it; None if its reason was queued before.

    ``flush_pending``: see :func:`~mailcapture.outbox.queue.enqueue`."""
    # A request carries its spreadsheet form, made from the same view as its words, and
    # its words say so.
    attachments = form_attachments(out.kind, view) if mail.request_workbook else ()
    if attachments and isinstance(view, views.RequestView):
        view = replace(view, workbook=attachments[0].filename)
    rendered = render(out.kind, view)
    message_id = out.message_id or make_message_id(mail.reply_domain)
    envelope = Envelope(
        from_header=mail.from_address,
        to=out.recipient.email,
        to_name=out.recipient.name,
        reply_to=reply_address(mail, out.reply_token) if out.reply_token else None,
        message_id=message_id,
        in_reply_to=out.in_reply_to,
        references=(out.in_reply_to,) if out.in_reply_to else (),
        auto_submitted=out.auto_submitted,
    )
    raw = build_message(envelope, rendered, now, attachments=attachments)
    return enqueue(
        session,
        NewMail(
            kind=out.kind,
            recipient=out.recipient.email,
            subject=rendered.subject,
            message_id=message_id,
            raw=raw,
            dedupe_key=out.dedupe_key,
            person_id=out.person_id,
            request_id=out.request_id,
            period_id=out.period_id,
            in_reply_to_id=out.in_reply_to_id,
        ),
        now,
        flush_pending=flush_pending,
    )


def notify_outbox_failure(mail: MailSpec) -> FailureNotifier:
    """A FailureNotifier that tells the performance team, once per failed row."""

    def notify(session: Session, row: m.OutboxMessage, now: datetime) -> None:
        view = views.FailureView(
            council=council(mail),
            recipient=team_view(mail),
            failed_recipient=row.recipient,
            kind=row.kind,
            subject=row.subject,
            attempts=row.attempts,
            last_error=row.last_error or "unknown error",
            queued_at=when_text(row.created_at),
        )
        queue_email(
            session,
            mail,
            Outgoing(
                kind="outbox_failure",
                recipient=team_view(mail),
                dedupe_key=f"failure:{row.id}",
                period_id=row.period_id,
            ),
            view,
            now,
        )

    return notify
