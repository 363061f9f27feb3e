"""Stage 6: the emails the pipeline sends back, and the limits on them.

Never to a bounce or an auto-reply (the pipeline does not call these for them); at most
one notice per sender, reason and day; at most ``hourly_limit`` automatic emails to any
one address per hour, so two robots cannot keep each other busy.

No backscatter: anyone can put any address in From, so a notice to a sender who is not in
the register would go to whoever a forger named. Such a notice goes out only when our own
receiving host vouches for the sender (DMARC or SPF passed for their domain, see
:meth:`~mailcapture.parsing.addressing.Authentication.vouches_for`), or, for a council
whose register names no authserv-id (nothing to vouch), while fewer than
``stranger_hourly_limit`` such notices went out in the last hour, for all strangers
together. A notice never repeats more of the sender's words than a short :func:`excerpt` of
their subject, with links and control characters taken out.

Every email not sent for one of these reasons is *withheld*: the :class:`Notice` says so and
why, the pipeline records it in the message's stages, and the performance team's daily
digest lists it (:mod:`mailcapture.schedule.digest`). Nothing is dropped silently.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from mailcapture.compose import views
from mailcapture.compose.message import address_problem
from mailcapture.compose.textfmt import one_line, truncate
from mailcapture.db import models as m
from mailcapture.domain.periods import parse_period
from mailcapture.forms.context import FigureContext
from mailcapture.forms.due import due_by_person, item_key
from mailcapture.mailflow.apply import ApplyResult
from mailcapture.mailflow.outcomes import Outcome
from mailcapture.outbox.notices import (
    Outgoing,
    council,
    person_view,
    queue_email,
    team_view,
    to_requested,
    when_text,
)
from mailcapture.parsing.mime import DecodedMessage
from mailcapture.register.model import MailSpec
from mailcapture.reports.queries import IndicatorRow

#: Our automatic answers, counted together against the hourly limit per address, so that
#: two robots answering each other cannot keep either busy.
AUTOMATIC_KINDS = (
    "confirmation",
    "rejection_notice",
    "report_answer_confirmation",
    "value_choice_confirmation",
)


@dataclass(frozen=True)
class Limits:
    #: Automatic emails to any one address per hour.
    hourly_limit: int = 10
    #: Notices to senders not in the register, all of them together, per hour, when the
    #: register names no authserv-id (so no receiving host can vouch for a sender).
    stranger_hourly_limit: int = 20
    #: Answers to our automatic mail from one sender in an hour before that sender gets no
    #: more automatic mail for the rest of the day (a loop through a forwarder).
    answers_per_hour: int = 2
    #: Held-reply notices to the performance team per hour: a flood of forged mail must not
    #: become a flood in the team's inbox (the rest are in the daily digest).
    quarantine_hourly_limit: int = 20


@dataclass(frozen=True)
class Notice:
    """What became of one automatic email: queued, not needed, or withheld and why.

    ``withheld`` is for an email a person should have had but did not get (a stranger we
    may not write to, a limit reached, a loop): the daily digest lists those messages.
    An email not needed (already explained today) is not withheld: the sender was told.
    """

    queued: bool
    note: str
    withheld: bool = False

    @property
    def result(self) -> str:
        """The stage result recorded for it: ``queued``, ``withheld`` or ``not-needed``."""
        if self.queued:
            return "queued"
        return "withheld" if self.withheld else "not-needed"


#: What a withheld email's stage result is: the digest looks for it.
WITHHELD = "withheld"
#: The outcome of a message whose sender would have had a notice but whose From address we
#: cannot write to (``compose.message.address_problem``): the digest lists these too.
UNWRITABLE_SENDER = Outcome.UNWRITABLE_SENDER.value


def excerpt(text: str | None, limit: int = 40) -> str:
    """At most ``limit`` characters of a sender's text, safe to repeat to anyone.

    Links and addresses become ``[link]`` and ``[address]`` (a notice must never carry a
    spammer's URL), control and formatting characters (bidirectional overrides, zero-width
    joiners) go, whitespace becomes single spaces, and a longer text is cut with "...".
    The links are replaced before the cut, so no fragment of one survives it.
    """
    if not text:
        return ""
    cleaned = "".join(
        " " if unicodedata.category(c) in ("Zl", "Zp") else c
        for c in text[: limit * 50]
        if unicodedata.category(c) not in ("Cf", "Co", "Cs", "Cn") or c in "\t\n"
    )
    cleaned = _ADDRESS.sub("[address]", cleaned)
    cleaned = _LINK.sub("[link]", cleaned)
    return truncate(one_line(cleaned), limit)


_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
_LINK = re.compile(
    r"(?i)(?:\b[a-z][a-z0-9+.-]{1,20}:/{1,3}|\bwww\d{0,3}\.)[^\s<>\"]*"
    r"|\b\d{1,3}(?:\.\d{1,3}){3}\b(?:[/:][^\s<>\"]*)?"
    r"|(?:\b[^\W_](?:[\w-]{0,62})\.)+(?:xn--[a-z0-9-]+|[^\W\d_]{2,63})\b(?:[/:?#][^\s<>\"]*)?"
)


def hourly_count(address: str, now: datetime) -> Select[int]:
    """Our automatic emails to ``address`` in the hour before ``now``: the hourly limit's
    count (a statement, so the loop check can read it with the sender's recent messages)."""
    return (
        select(func.count())
        .select_from(m.OutboxMessage)
        .where(
            m.OutboxMessage.recipient == address,
            m.OutboxMessage.kind.in_(AUTOMATIC_KINDS),
            m.OutboxMessage.created_at > now - timedelta(hours=1),
        )
    )


def over_hourly_limit(
    session: Session, address: str, now: datetime, limit: int, known: int | None = None
) -> bool:
    """Has ``address`` had ``limit`` automatic emails from us in the last hour? ``known``:
    that count, read earlier in the same run (by the loop check), so not asked again."""
    sent = known if known is not None else session.scalar(hourly_count(address, now))
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
    commentary: Callable[[Session], list[tuple[IndicatorRow, str]]],
    notes: list[str],
    late: bool,
    now: datetime,
    limits: Limits,
    quiet: str | None = None,
    answers_ours: bool = False,
    sent_last_hour: int | None = None,
) -> Notice:
    """Queue the confirmation; says what happened, for the message's audit trail.

    ``quiet`` is why this sender gets no automatic mail now (a loop, see
    :mod:`mailcapture.mailflow.loops`): the confirmation is withheld, the reply still applied.
    ``answers_ours``: the reply answers one of our automatic emails. If it also brought
    nothing (no value, correction or comment: our email forwarded back whole, as a
    forwarder that wraps what it reflects does), a confirmation would only feed the loop,
    so it is withheld too. ``commentary``: the request's indicators that need commentary,
    with the reason, asked only when the confirmation is sent.
    ``sent_last_hour``: the hourly limit's count for the sender, if already read.
    """
    if quiet is not None:
        return Notice(False, f"confirmation not sent: {quiet}", withheld=True)
    if answers_ours and not (
        result.accepted
        or result.rejected
        or result.held
        or result.conflicts
        or result.unchanged
        or result.comments
        or result.general_comment
    ):
        return Notice(
            False,
            "confirmation not sent: an answer to our automatic email with nothing in it "
            "(our email forwarded back to us?)",
            withheld=True,
        )
    if over_hourly_limit(session, sender.email, now, limits.hourly_limit, sent_last_hour):
        return Notice(
            False, "confirmation not sent: hourly limit for this address reached", withheld=True
        )
    principal = request.person if request.person_id != sender.id else None
    # Red or worsening indicators on this form with no commentary yet: ask for a line.
    needed = commentary(session)
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
        held=tuple(views.HeldLine(h.code, h.title, h.wrote, h.why) for h in result.held),
        conflicts=tuple(
            views.ConflictLine(c.code, c.title, c.stored, c.others, c.owner)
            for c in result.conflicts
        ),
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
        # What the reply recorded is written with the run's one flush at its end: the
        # confirmation's row does not depend on it (issue 14: one update of the inbound row).
        flush_pending=False,
    )
    return Notice(True, "confirmation queued")


def keyed(address: str) -> str:
    """``address`` as it goes into an outbox de-duplication key (200 characters): itself
    when short enough, else ``sha256:`` and a digest of it, so that a valid address of up
    to 254 characters (RFC 5321), or a long one in a bounce, cannot overflow the key."""
    if len(address) <= 120:
        return address
    return "sha256:" + hashlib.sha256(address.encode("utf-8", "replace")).hexdigest()


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
    vouched: bool = False,
    quiet: str | None = None,
) -> Notice:
    """A short polite notice that nothing was recorded, once per sender, reason and day.

    ``vouched``: our receiving host said DMARC or SPF passed for ``address``'s domain. A
    sender not in the register gets the notice only then, or (no authserv-id configured)
    within the hourly cap for all strangers; otherwise it is withheld (see the module
    docstring). ``quiet`` withholds it too (a loop). Only a register person is greeted by
    name: a stranger's display name is their own text, and is not repeated.
    """
    address = address.strip().lower()
    problem = address_problem(address)  # a From we cannot write to: no notice, recorded
    if problem is not None:
        return Notice(False, f"no notice: {problem} ({address[:80]!r})", withheld=True)
    key = f"notice:{reason}:{keyed(address)}:{now.date().isoformat()}"
    if session.scalar(select(m.OutboxMessage.id).where(m.OutboxMessage.dedupe_key == key)):
        return Notice(False, f"no notice: {reason} already explained to {address} today")
    if quiet is not None:
        return Notice(False, f"no notice: {quiet}", withheld=True)
    if over_hourly_limit(session, address, now, limits.hourly_limit):
        return Notice(False, "no notice: hourly limit for this address reached", withheld=True)
    person = session.scalar(
        select(m.Person).where(m.Person.email == address, m.Person.retired_at.is_(None))
    )
    if person is None:
        refusal = _stranger_refusal(session, mail, now, limits, vouched)
        if refusal is not None:
            return Notice(False, f"no notice: {refusal}", withheld=True)
    recipient = views.Person(name=person.name if person else "", email=address)
    view = views.RejectionView(
        council=council(mail),
        recipient=recipient,
        reason=reason,
        their_subject=excerpt(inbound.subject),
        period_label=period_label,
        expired_on=when_text(expired_on) if expired_on else None,
        rightful=person_view(rightful) if rightful is not None else None,
    )
    queue_email(
        session,
        mail,
        Outgoing(
            kind="rejection_notice",
            recipient=recipient,
            dedupe_key=key,
            person_id=person.id if person else None,
            in_reply_to=inbound.message_id and f"<{inbound.message_id}>",
            auto_submitted="auto-replied",
            in_reply_to_id=inbound.id,
        ),
        view,
        now,
    )
    return Notice(True, f"notice sent: {reason}")


def _stranger_refusal(
    session: Session, mail: MailSpec, now: datetime, limits: Limits, vouched: bool
) -> str | None:
    """Why a sender not in the register may not have a notice now; None when they may."""
    if mail.authserv_id:
        if vouched:
            return None
        return (
            f"sender not in the register and not verified by our receiving host "
            f"({mail.authserv_id}: no DMARC or SPF pass for their domain)"
        )
    sent = session.scalar(
        select(func.count())
        .select_from(m.OutboxMessage)
        .where(
            m.OutboxMessage.kind == "rejection_notice",
            m.OutboxMessage.person_id.is_(None),
            m.OutboxMessage.created_at > now - timedelta(hours=1),
        )
    )
    if int(sent or 0) >= limits.stranger_hourly_limit:
        return (
            f"sender not in the register, and the cap of {limits.stranger_hourly_limit} "
            "notices an hour to unknown senders is reached"
        )
    return None


#: A link with a scheme, or starting "www.", in a server's diagnostic.
_DIAGNOSTIC_LINK = re.compile(r"(?i)\b[a-z][a-z0-9+.-]{1,20}:/{1,3}[^\s<>\"']*|\bwww\.[^\s<>\"']*")
#: The most of a server's diagnostic a bounce notice quotes.
DIAGNOSTIC_LIMIT = 300


def server_words(diagnostic: str) -> str:
    """The remote server's diagnostic as a bounce notice may quote it.

    It names hosts, addresses and SMTP codes, which the performance team needs ("550 5.1.1
    <j.smith@example.org>: Recipient address rejected"), so unlike a stranger's subject
    (:func:`excerpt`) those stay; anyone can send a bounce, so links go (``[link]``), and
    control and formatting characters, and the text is one line of at most
    :data:`DIAGNOSTIC_LIMIT` characters.
    """
    cleaned = "".join(
        " " if unicodedata.category(c) in ("Zl", "Zp", "Cc") else c
        for c in diagnostic[: DIAGNOSTIC_LIMIT * 4]
        if unicodedata.category(c) not in ("Cf", "Co", "Cs", "Cn")
    )
    return truncate(one_line(_DIAGNOSTIC_LINK.sub("[link]", cleaned)), DIAGNOSTIC_LIMIT)


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
    since: datetime | None = None,
) -> None:
    """Tell the performance team that mail to ``address`` bounced, quoting the server."""
    view = views.BounceView(
        council=council(mail),
        recipient=team_view(mail),
        failed_address=address,
        person_name=person.name if person else None,
        diagnostic=server_words(diagnostic) or "the bounce gave no reason",
        original_subject=excerpt(subject) or None,
        requests_affected=tuple(affected),
    )
    queue_email(
        session,
        mail,
        Outgoing(
            kind="bounce_notice",
            recipient=team_view(mail),
            # Once per bounce state (issue 15): a person's address keeps the day it first
            # failed until a reply from it clears it; an address not in the register, daily.
            dedupe_key=f"bounce:{keyed(address)}:{(since or now).date().isoformat()}",
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


#: Lines of a held reply's text shown to the performance team, and characters of each.
QUARANTINE_LINES = 5
QUARANTINE_LINE_CHARS = 100


def queue_quarantine_notice(
    session: Session,
    mail: MailSpec,
    *,
    inbound: m.InboundMessage,
    decoded: DecodedMessage,
    sender_name: str | None,
    why: str,
    now: datetime,
    limits: Limits,
) -> Notice:
    """Tell the performance team that a reply was held on our receiving host's word (issue 15).

    Once per message. The text may be a forger's, so the team sees who it claims to be from,
    why it was held and its first few non-blank lines as :func:`excerpt` cleans them (no
    links, no addresses); the sender is never told. Past ``quarantine_hourly_limit`` such
    notices in an hour, the message is left to the daily digest.
    """
    sent_lately = session.scalar(
        select(func.count())
        .select_from(m.OutboxMessage)
        .where(
            m.OutboxMessage.kind == "quarantine_notice",
            m.OutboxMessage.created_at > now - timedelta(hours=1),
        )
    )
    if (sent_lately or 0) >= limits.quarantine_hourly_limit:
        return Notice(False, "the hourly limit of held-reply notices: in the daily digest", True)
    lines = [line.strip() for line in decoded.text.split("\n")[:200] if line.strip()]
    first = tuple(
        shown
        for line in lines[:QUARANTINE_LINES]
        if (shown := excerpt(line, QUARANTINE_LINE_CHARS))
    )
    view = views.QuarantineView(
        council=council(mail),
        recipient=team_view(mail),
        message_number=inbound.id,
        sender=one_line(decoded.from_address or inbound.sender or "no address")[:320],
        sender_name=excerpt(sender_name, 60) or None,
        subject=excerpt(inbound.subject, 80) or None,
        received=when_text(inbound.received_at),
        why=why,
        first_lines=first,
        release_command=(
            f'mailcapture release {inbound.id} --by YOUR-EMAIL --reason "confirmed by telephone"'
        ),
    )
    row = queue_email(
        session,
        mail,
        Outgoing(
            kind="quarantine_notice",
            recipient=team_view(mail),
            dedupe_key=f"quarantine:{inbound.id}",
        ),
        view,
        now,
    )
    return Notice(row is not None, "the performance team told" if row else "told before")
