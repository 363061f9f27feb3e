"""Our own automatic mail coming back, even through a forwarder that strips our headers.

Every email we send carries :data:`~mailcapture.compose.message.LOOP_HEADER` and
``Auto-Submitted``, and the pipeline drops anything with the first and never answers the
second. A forwarder that rewrites From and strips those headers defeats both: each
confirmation it reflects back reads as a fresh reply from a register person, and is
answered by another confirmation. So our own mail is also recognised by what a forwarder
keeps:

* **its Message-ID**: a message whose Message-ID is one of our outbox rows' is our own;
* **its words**: our confirmations and notices end with a marker line (:data:`MARKER`, in
  the templates' footer). A message whose own text (no ``>`` quote, nothing after an
  attribution or a forwarded-message header) starts with our emails' first line and carries
  the marker *is* our email, come back; quoted below an answer, or below words of the
  sender's, the marker only means the message answers ours;
* **its threading**: ``In-Reply-To`` or ``References`` naming one of our *automatic*
  emails (a confirmation or notice; never a request, whose replies are the answers we
  ask for) means the message answers our automatic mail.

A sender who answers our automatic mail more than ``answers_per_hour`` times in an hour
gets no more automatic mail that day (:func:`quiet_reason`): a loop that gets past the
recognition above still stops, and a person correcting a figure three times in an hour
still has every value applied, only without a third confirmation. Each decision is a
``loop`` stage of the message, which is how later messages (and the daily digest) see it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session, aliased

from mailcapture.clock import LOCAL_TZ
from mailcapture.db import models as m
from mailcapture.mailflow.replies import AUTOMATIC_KINDS, Limits, hourly_count
from mailcapture.parsing.quotes import line_roles, normalise_text, quote_depth

__all__ = [
    "ANSWERS",
    "MARKER",
    "QUIET",
    "about_request",
    "answered_outbox",
    "first_line",
    "last_run",
    "marker_in_own_text",
    "marker_quoted",
    "outbox_row_with_id",
    "quiet_reason",
]

#: The marker line our automatic emails end with (written by the templates' ``marker``
#: block; keep the two in step).
MARKER = "Ref. MC-AUTO"
#: The marker as a line of its own, however a client or an HTML converter dressed it.
_MARKER_LINE = re.compile(r"^[\s*_|>]*ref\.?\s*:?\s*mc-auto\b[\s*_.|]*$", re.IGNORECASE)
_MARKER_WORD = re.compile(r"mc-auto\b", re.IGNORECASE)

#: ``loop`` stage results, read back from earlier messages.
ANSWERS = "answers-automatic-mail"
QUIET = "quiet-for-the-day"

#: How many of a sender's recent messages are looked at (an hour, or today): enough for
#: any person, and a bound on the work for a flood.
_RECENT = 200


def _no_checkpoint() -> None:
    return None


def first_line(council: str) -> str:
    """The first line of every email we send (``_layout.txt``): "<council>: performance team"."""
    return f"{council}: performance team"


def marker_in_own_text(
    text: str, first: str, checkpoint: Callable[[], None] = _no_checkpoint
) -> bool:
    """The message *is* one of our automatic emails, come back whole.

    Its own text (before the first quoted ``>`` line and before anything the quote reader
    counts as the message replied to: an attribution, an Outlook header block, a
    forwarded-message separator) starts with our emails' first line ``first`` (nothing but
    blank lines above it) and carries our marker line further down; our footer, marker
    included, sits below a ``-- `` line, which the quote reader counts as the sender's
    signature, so it is in their own text. A person's reply never starts with our first line:
    if a reader misses where their quote begins, their own words above it still keep their
    reply from being taken for ours. ``checkpoint`` is called as the quote reader goes (the
    pipeline's time budget).
    """
    if not _MARKER_WORD.search(text):
        return False  # the common case, without reading the quotes
    lines = normalise_text(text).split("\n")
    started = False
    for line, role in zip(lines, line_roles(text, checkpoint), strict=False):
        if quote_depth(line) > 0 or role == "replied-to":
            return False
        if not started:
            if not line.strip():
                continue
            if line.strip().lower() != first.strip().lower():
                return False  # the sender wrote something above our first line
            started = True
        elif _MARKER_LINE.match(line):
            return True
    return False


def marker_quoted(text: str) -> bool:
    """Our marker anywhere (quoted below an answer): the message answers our automatic mail."""
    return any(
        _MARKER_LINE.match(line)
        for line in normalise_text(text).split("\n")
        if _MARKER_WORD.search(line)
    )


def outbox_row_with_id(session: Session, message_id: str | None) -> m.OutboxMessage | None:
    """Our outbox row whose Message-ID is ``message_id`` (normalised, without brackets)."""
    if not message_id:
        return None
    return session.scalars(
        select(m.OutboxMessage).where(m.OutboxMessage.message_id == f"<{message_id}>")
    ).first()


#: Of our automatic emails about a request (a confirmation for every reply, without end), a
#: reply is read against the latest few, and any it names in In-Reply-To/References: a reply
#: quotes what it answers, and a forwarder reflects what we sent last. Reading them all made
#: each reply to a request cost more than the one before.
SENT_ABOUT_LATEST = 5


def about_request(request: m.DataRequest) -> ColumnElement[bool]:
    """Our outbox rows about ``request`` that a reply to it is read against: the request and
    what else about it is not automatic mail (reminders, forwards: a few, by the timetable),
    and the latest :data:`SENT_ABOUT_LATEST` automatic emails about it."""
    return _about_request().params(_about(request))


def _about(request: m.DataRequest) -> dict[str, object]:
    return {"about_id": request.id, "about_message_id": request.message_id}


@cache
def _about_request() -> ColumnElement[bool]:
    """:func:`about_request` with the request's id and Message-ID as bound parameters
    (:func:`_about`), built once: building a statement costs more than running it here.

    The latest are those from the oldest of them on (one scalar subquery, read once), so
    each branch of the condition stays an index lookup on both databases.
    """
    request_id = bindparam("about_id", type_=Integer)
    ours = aliased(m.OutboxMessage)
    latest = (
        select(ours.id)
        .where(ours.request_id == request_id, ours.kind.in_(AUTOMATIC_KINDS))
        .order_by(ours.id.desc())
        .limit(SENT_ABOUT_LATEST)
        .subquery()
    )
    oldest_kept = select(func.min(latest.c.id)).scalar_subquery()
    return or_(
        and_(
            m.OutboxMessage.request_id == request_id,
            or_(
                m.OutboxMessage.kind.not_in(AUTOMATIC_KINDS),
                m.OutboxMessage.id >= oldest_kept,
            ),
        ),
        m.OutboxMessage.message_id == bindparam("about_message_id", type_=String),
    )


@cache
def _sent_about(with_answered: bool) -> Select[m.OutboxMessage]:
    """What :func:`answered_outbox` reads for a request, built once (parameters: those of
    :func:`_about`, and ``wanted``, the Message-IDs the reply names, ``with_answered``)."""
    about = _about_request()
    if with_answered:
        named = and_(
            m.OutboxMessage.message_id.in_(bindparam("wanted", expanding=True)),
            m.OutboxMessage.kind.in_(AUTOMATIC_KINDS),
        )
        about = or_(named, about)
    return select(m.OutboxMessage).where(about).order_by(m.OutboxMessage.id)


def answered_outbox(
    session: Session, ids: Iterable[str], request: m.DataRequest | None = None
) -> tuple[m.OutboxMessage | None, list[m.OutboxMessage] | None]:
    """The automatic email of ours (confirmation or notice) that these ids point at, if any;
    with ``request``, everything we sent about it too (else None), in the same statement.

    Requests, reminders and other emails that ask for an answer are not counted as
    answered: replies to them are the answers we want. What we sent about the request is
    what its parse compares the reply with (an untouched copy of ours is no answer).
    """
    wanted = sorted({f"<{i}>" for i in ids if i})[:200]
    if request is None:
        if not wanted:
            return None, None
        automatic = and_(
            m.OutboxMessage.message_id.in_(wanted), m.OutboxMessage.kind.in_(AUTOMATIC_KINDS)
        )
        return session.scalars(
            select(m.OutboxMessage).where(automatic).order_by(m.OutboxMessage.id)
        ).first(), None
    params = _about(request) | ({"wanted": wanted} if wanted else {})
    rows = list(session.scalars(_sent_about(bool(wanted)), params))
    answered = next((r for r in rows if r.message_id in wanted and r.kind in AUTOMATIC_KINDS), None)
    sent = [r for r in rows if r.request_id == request.id or r.message_id == request.message_id]
    return answered, sent


def last_run(stages: Sequence[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The stages of a message's latest run (``reprocess`` appends a run after the first)."""
    stages = list(stages or [])
    starts = [i for i, s in enumerate(stages) if "run" in s]
    return stages[starts[-1] + 1 :] if starts else stages


@dataclass(frozen=True)
class Recent:
    """What the sender did, and what we sent them, lately (read in one statement)."""

    answers_last_hour: int
    quiet_today: bool
    #: Our automatic emails to the address in the last hour (the hourly limit's count).
    automatic_last_hour: int


def _recent(session: Session, sender: str, now: datetime, exclude: int) -> Recent:
    day_start = datetime.combine(now.astimezone(LOCAL_TZ).date(), time(0), tzinfo=LOCAL_TZ)
    hour_ago = now - timedelta(hours=1)
    since = min(day_start, hour_ago)
    recent = (
        select(m.InboundMessage.received_at, m.InboundMessage.stages)
        .where(
            m.InboundMessage.sender == sender,
            m.InboundMessage.received_at >= since,
            m.InboundMessage.id != exclude,
            m.InboundMessage.duplicate_of_id.is_(None),
        )
        # Newest first along ix_inbound_messages_sender_received (migration 0007), so
        # the database stops after _RECENT rows of the window.
        .order_by(m.InboundMessage.received_at.desc(), m.InboundMessage.id.desc())
        .limit(_RECENT)
        .subquery()
    )
    automatic = hourly_count(sender, now).scalar_subquery()
    # One row even when the sender sent nothing lately: the count, outer-joined to them.
    one = select(literal(1).label("one")).subquery()
    rows = session.execute(
        select(automatic, recent.c.received_at, recent.c.stages).select_from(
            one.outerjoin(recent, true())
        )
    ).all()
    answers = 0
    quiet = False
    for _, received_at, stages in rows:
        if received_at is None:
            continue
        loop = {s.get("result") for s in last_run(stages) if s.get("stage") == "loop"}
        if QUIET in loop and received_at >= day_start:
            quiet = True
        if ANSWERS in loop and received_at > hour_ago:
            answers += 1
    return Recent(answers, quiet, int(rows[0][0] or 0) if rows else 0)


def quiet_reason(
    session: Session,
    sender: str,
    now: datetime,
    exclude: int,
    answers_ours: bool,
    limits: Limits,
) -> tuple[str | None, bool, Recent]:
    """Why ``sender`` gets no automatic mail now (None: they may), whether this message is
    the one that made it so (``answers_ours``: it answers our automatic mail), and what was
    read to tell (with the hourly limit's count, for the confirmation).

    Quiet for the rest of the (council's) day once they answered our automatic mail more
    than ``limits.answers_per_hour`` times in an hour, this message included.
    """
    recent = _recent(session, sender, now, exclude)
    if recent.quiet_today:
        return f"{sender} answered our automatic mail too often today (a loop?)", False, recent
    if answers_ours and recent.answers_last_hour + 1 > limits.answers_per_hour:
        return (
            f"{sender} answered our automatic mail {recent.answers_last_hour + 1} times "
            f"within an hour (a loop?): no more automatic mail to them today",
            True,
            recent,
        )
    return None, False, recent
