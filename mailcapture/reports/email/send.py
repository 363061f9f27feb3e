"""Queue one report email: render, build with its inline charts, enqueue, record the run.

Every report email is one outbox row and one ``ReportRun`` (``key`` unique), written in
one savepoint: a second tick, or a second process, that tries the same report for the
same recipient finds the key taken and queues nothing. Reports that can be answered (the
owner and department reports) carry a token exactly as a data request does: in the
Reply-To sub-address and as ``[MC-TOKEN]`` in the subject, with our Message-ID kept on
the run so a reply that lost both is still matched by In-Reply-To.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailcapture.compose.message import Envelope, InlineImage, build_message, make_message_id
from mailcapture.compose.render import render
from mailcapture.db import models as m
from mailcapture.outbox.queue import NewMail, enqueue
from mailcapture.register.mail import reply_address
from mailcapture.register.model import MailSpec


@dataclass(frozen=True)
class ReportMail:
    """One report for one recipient, apart from its view."""

    kind: str  # owner / department / exception / quarterly / annual
    key: str  # the ReportRun key, also the outbox dedupe key
    period_id: int
    person: m.Person
    department_id: int | None = None
    token: str | None = None
    message_id: str | None = None
    expires_at: datetime | None = None


def run_keys(session: Session, period_id: int) -> set[str]:
    """The report runs already made for a period: checked before building anything."""
    return set(session.scalars(select(m.ReportRun.key).where(m.ReportRun.period_id == period_id)))


def queue_report(
    session: Session,
    mail: MailSpec,
    report: ReportMail,
    view: object,
    images: Sequence[InlineImage],
    now: datetime,
) -> m.ReportRun | None:
    """Queue ``view`` as ``report_<kind>``; None if this report was queued before."""
    rendered = render(f"report_{report.kind}", view)
    message_id = report.message_id or make_message_id(mail.reply_domain)
    envelope = Envelope(
        from_header=mail.from_address,
        to=report.person.email,
        to_name=report.person.name,
        reply_to=reply_address(mail, report.token) if report.token else None,
        message_id=message_id,
    )
    raw = build_message(envelope, rendered, now, images)
    try:
        with session.begin_nested():
            row = enqueue(
                session,
                NewMail(
                    kind=f"report_{report.kind}",
                    recipient=report.person.email,
                    subject=rendered.subject,
                    message_id=message_id,
                    raw=raw,
                    dedupe_key=f"report:{report.key}",
                    person_id=report.person.id,
                    period_id=report.period_id,
                ),
                now,
            )
            if row is None:
                raise _AlreadyDone
            run = m.ReportRun(
                key=report.key,
                report_kind=report.kind,
                period_id=report.period_id,
                person_id=report.person.id,
                department_id=report.department_id,
                created_at=now,
                outbox_id=row.id,
                token=report.token,
                message_id=message_id,
                expires_at=report.expires_at,
            )
            session.add(run)
            session.flush()
    except (IntegrityError, _AlreadyDone):
        return None
    return run


class _AlreadyDone(Exception):
    """Raised inside the savepoint to undo a duplicate; never escapes this module."""
