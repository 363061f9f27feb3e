"""The performance team's daily digest: the day's inbound mail nobody was told about.

The pipeline never writes to a robot, a forged stranger or a loop, and holds what it cannot
trust; each of those decisions is right, and each leaves a message that no one hears of
unless someone looks. The digest is that look, once a day: at :data:`DIGEST_AT` (council
time) the tick queues one email to the performance team listing the day before's

* messages **held** for a person: DMARC failed or an unreadable authentication result from
  our receiving host, too large or nested too deep to read, deferred as too costly;
* messages that **failed** (a fault of ours: ``mailcapture reprocess`` runs them again);
* senders we **could not write to** (an address no email can be built for,
  ``unwritable-sender``);
* senders **not answered**: a stranger our receiving host did not vouch for or past the
  hourly cap for strangers, an address at its hourly limit, a sender in a loop (the
  message's ``withheld`` stage, see :class:`mailcapture.mailflow.replies.Notice`);
* **our own emails come back** with our headers stripped (a forwarder to fix);
* **complaints about our mail**: a feedback report (ARF) or another complaint notice, which
  is never answered (``mailflow/complaints.py`` says why the digest, and not an email of its
  own, is where the team hears of one).

Each message is listed once, in the first of those groups it belongs to, with its time,
sender, a short sanitised excerpt of its subject and the pipeline's reason. A day with
nothing to list sends nothing. Idempotent like every timetable email: the outbox reason
key ``digest:<date>`` lets any number of ticks, in any number of processes, queue one. A
tick looks back :data:`LOOKBACK_DAYS` days, so a digest missed while the service was down
goes out when it is back.

A message belongs to the day it was processed on (council time), so one received before
midnight and processed after it is in the next day's digest rather than in none.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.orm import Session

from mailcapture.clock import LOCAL_TZ
from mailcapture.compose import views
from mailcapture.compose.textfmt import one_line, truncate
from mailcapture.db import models as m
from mailcapture.domain.enums import InboundState
from mailcapture.mailflow.complaints import COMPLAINT
from mailcapture.mailflow.loops import last_run
from mailcapture.mailflow.replies import UNWRITABLE_SENDER, WITHHELD, excerpt
from mailcapture.outbox.notices import Outgoing, council, queue_email, team_view
from mailcapture.register.model import MailSpec

__all__ = [
    "DIGEST_AT",
    "DIGEST_KIND",
    "DigestLine",
    "DigestSection",
    "DigestView",
    "digest_view",
    "queue_digests",
]

DIGEST_KIND = "daily_digest"
#: When (council time) the digest of the day before is queued.
DIGEST_AT = time(7, 0)
#: Days a tick looks back for a digest not yet queued (a service that was down).
LOOKBACK_DAYS = 7
#: Messages listed per group; the rest are counted ("and 250 more").
MAX_LINES = 100
#: A message processed this long after it arrived is not looked for (an outage of a week).
_LATE_PROCESSING = timedelta(days=1)


@dataclass(frozen=True)
class DigestLine:
    """One inbound message, as the performance team sees it in the digest."""

    message_id: int
    received: str
    sender: str
    subject: str
    outcome: str
    why: str


@dataclass(frozen=True)
class DigestSection:
    key: str
    title: str
    about: str
    lines: tuple[DigestLine, ...]
    more: int = 0

    @property
    def count(self) -> int:
        return len(self.lines) + self.more


@dataclass(frozen=True)
class DigestView:
    council: views.Council
    recipient: views.Person
    day: str
    day_label: str
    sections: tuple[DigestSection, ...]

    @property
    def total(self) -> int:
        return sum(s.count for s in self.sections)


_GROUPS: tuple[tuple[str, str, str], ...] = (
    (
        "complaints",
        "Complaints about our mail",
        "A recipient's mailbox provider reported one of these emails as spam (a feedback "
        "report, or another complaint notice). Nobody replied to the report: answering one "
        "is how a sender gets blocklisted. Check who complained and why, and whether they "
        "should still receive our requests; many complaints at once can stop the council's "
        "mail being delivered at all, so tell IT.",
    ),
    (
        "held",
        "Held for a person",
        "Nothing from these was applied and the sender was not told why. Check each one "
        "(`mailcapture messages`); `mailcapture reprocess ID` runs one again once it is "
        "safe to.",
    ),
    (
        "failed",
        "Failed",
        "A fault of ours stopped these: `mailcapture reprocess --failed` runs them again "
        "after a fix.",
    ),
    (
        "unwritable",
        "Senders we could not write to",
        "No email can be built for these From addresses, so the senders were not told "
        "what became of their messages.",
    ),
    (
        "unanswered",
        "Not answered",
        "These were recorded as shown, but no email went back: a sender not in the "
        "register whom our receiving host did not vouch for (or past the hourly cap for "
        "unknown senders), an address at its hourly limit, or a sender in a loop. Tell a "
        "real person another way if it matters.",
    ),
    (
        "loops",
        "Our own emails came back",
        "A forwarder sent our automatic emails back to us with our headers stripped; they "
        "were dropped. The sender's mailbox rules need fixing.",
    ),
)


_SCHEME_LINK = re.compile(r"(?i)\b[a-z][a-z0-9+.-]{1,20}:/{1,3}[^\s<>\"]*")


def _plain(text: str | None, limit: int) -> str:
    """Our own words about a message (an address, a reason) on one line, cut short.

    Unlike a sender's subject (:func:`excerpt`), these name addresses and hosts the team
    needs to see; only a link with a scheme, which a reason may quote from the message,
    is taken out.
    """
    return truncate(one_line(_SCHEME_LINK.sub("[link]", (text or "")[: limit * 20])), limit)


def _group(
    state: InboundState, outcome: str | None, stages: Sequence[dict[str, Any]] | None
) -> tuple[str, str] | None:
    """The group a message belongs in and the reason to show, or None (nothing to tell)."""
    run = last_run(stages)
    if state is InboundState.FAILED:
        return "failed", ""
    if state not in (InboundState.PROCESSED, InboundState.RECEIVED, InboundState.DUPLICATE):
        return "held", ""  # quarantined, deferred, or any later kind of holding
    if outcome == COMPLAINT:
        return "complaints", ""
    if outcome == UNWRITABLE_SENDER:
        return "unwritable", ""
    for stage in run:
        if stage.get("result") == WITHHELD:
            return "unanswered", str(stage.get("detail") or "")
    for stage in run:
        if stage.get("stage") == "loop" and stage.get("result") == "reflected":
            return "loops", str(stage.get("detail") or "")
    return None


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=LOCAL_TZ)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=LOCAL_TZ)
    return start, end


def _due_days(now: datetime) -> list[date]:
    """The days whose digest is due at ``now``: yesterday once it is DIGEST_AT, and before."""
    local = now.astimezone(LOCAL_TZ)
    latest = local.date() - timedelta(days=1 if local.time() >= DIGEST_AT else 2)
    return [latest - timedelta(days=n) for n in range(LOOKBACK_DAYS - 1, -1, -1)]


def _candidates(session: Session, start: datetime, end: datetime) -> list[Any]:
    """Messages processed in [start, end) that might need telling, cheaply narrowed."""
    done_at = func.coalesce(m.InboundMessage.processed_at, m.InboundMessage.received_at)
    stages_text = cast(m.InboundMessage.stages, Text)
    return list(
        session.execute(
            select(
                m.InboundMessage.id,
                m.InboundMessage.received_at,
                done_at.label("done_at"),
                m.InboundMessage.sender,
                m.InboundMessage.subject,
                m.InboundMessage.state,
                m.InboundMessage.outcome,
                m.InboundMessage.outcome_detail,
                m.InboundMessage.stages,
            )
            .where(
                m.InboundMessage.received_at >= start - _LATE_PROCESSING,
                m.InboundMessage.received_at < end,
                done_at >= start,
                done_at < end,
                m.InboundMessage.duplicate_of_id.is_(None),
                m.InboundMessage.state.not_in([InboundState.RECEIVED, InboundState.DUPLICATE]),
                or_(
                    m.InboundMessage.state != InboundState.PROCESSED,
                    m.InboundMessage.outcome == UNWRITABLE_SENDER,
                    m.InboundMessage.outcome == COMPLAINT,
                    stages_text.like(f'%"{WITHHELD}"%'),
                    stages_text.like('%"reflected"%'),
                ),
            )
            .order_by(m.InboundMessage.id)
        )
    )


def digest_view(session: Session, mail: MailSpec, day: date) -> DigestView:
    """What the digest for ``day`` (council time) lists; its sections may all be empty."""
    start, end = _day_bounds(day)
    lines: dict[str, list[DigestLine]] = {key: [] for key, _, _ in _GROUPS}
    for row in _candidates(session, start, end):
        found = _group(row.state, row.outcome, row.stages)
        if found is None:
            continue
        key, why = found
        lines[key].append(
            DigestLine(
                message_id=row.id,
                received=f"{row.received_at.astimezone(LOCAL_TZ):%H:%M}",
                sender=_plain(row.sender, 60) or "(no sender)",
                subject=excerpt(row.subject, 60) or "(no subject)",
                outcome=row.outcome or row.state.value,
                why=_plain(why or row.outcome_detail, 200),
            )
        )
    sections = tuple(
        DigestSection(
            key, title, about, tuple(lines[key][:MAX_LINES]), max(0, len(lines[key]) - MAX_LINES)
        )
        for key, title, about in _GROUPS
        if lines[key]
    )
    return DigestView(
        council=council(mail),
        recipient=team_view(mail),
        day=day.isoformat(),
        day_label=f"{day:%A} {day.day} {day:%B %Y}",
        sections=sections,
    )


def queue_digests(session: Session, mail: MailSpec, now: datetime) -> int:
    """Queue the digest of each day due at ``now`` that has something to list and was not
    queued before; returns how many were queued."""
    days = _due_days(now)
    keys = {f"digest:{d.isoformat()}": d for d in days}
    done = set(
        session.scalars(
            select(m.OutboxMessage.dedupe_key).where(m.OutboxMessage.dedupe_key.in_(keys))
        )
    )
    queued = 0
    for key, day in keys.items():
        if key in done:
            continue
        view = digest_view(session, mail, day)
        if not view.sections:
            continue
        row = queue_email(
            session,
            mail,
            Outgoing(kind=DIGEST_KIND, recipient=team_view(mail), dedupe_key=key),
            view,
            now,
        )
        if row is not None:
            queued += 1
    return queued
