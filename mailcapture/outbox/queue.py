"""Putting mail in the outbox, and claiming it for delivery without double-sending.

Idempotence lives in the database, not in the caller: ``dedupe_key`` is unique, so the
same reason for an email (a request, a reminder step, a summary) can be queued by any
number of ticks in any number of processes and is stored once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from mailcapture.db.models import OutboxMessage
from mailcapture.domain.enums import OutboxState

#: How long a claimed row stays with the process that claimed it. A process that dies
#: mid-send gives its rows back after this, so nothing is stuck for ever.
CLAIM_LEASE = timedelta(minutes=10)


@dataclass(frozen=True)
class NewMail:
    kind: str
    recipient: str
    subject: str
    message_id: str
    raw: bytes
    dedupe_key: str | None = None
    person_id: int | None = None
    request_id: int | None = None
    period_id: int | None = None
    in_reply_to_id: int | None = None


def already_queued(session: Session, dedupe_key: str) -> bool:
    found = session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key))
    return found is not None


def enqueue(
    session: Session, mail: NewMail, now: datetime, *, flush_pending: bool = True
) -> OutboxMessage | None:
    """Queue ``mail``; None when its ``dedupe_key`` was queued before (by anyone).

    ``flush_pending`` False leaves the session's pending changes for a later flush: for a
    caller whose row depends on none of them (a reply's confirmation, whose run writes
    everything it changed with one flush at its end).

    A keyed row is one ``INSERT ... ON CONFLICT (dedupe_key) DO NOTHING RETURNING``, as
    ``store_raw`` stores a message: no savepoint around it (two statements saved on every
    reply's confirmation), and PostgreSQL waits for a concurrent insert of the same key to
    commit or roll back exactly as the unique index itself would. Any other constraint
    still raises, as before.
    """
    values = {
        "kind": mail.kind,
        "recipient": mail.recipient,
        "person_id": mail.person_id,
        "subject": mail.subject,
        "message_id": mail.message_id,
        "raw": mail.raw,
        "dedupe_key": mail.dedupe_key,
        "request_id": mail.request_id,
        "period_id": mail.period_id,
        "in_reply_to_id": mail.in_reply_to_id,
        "state": OutboxState.QUEUED,
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
    }
    if mail.dedupe_key is None:
        row = OutboxMessage(**values)
        session.add(row)
        session.flush()
        return row
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    if flush_pending:  # what is pending goes first, as the savepoint this replaces flushed it
        session.flush()
    statement = (
        insert(OutboxMessage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[OutboxMessage.dedupe_key])
        .returning(OutboxMessage)
    )
    return session.scalars(statement).first()


def claim_due(session: Session, now: datetime, limit: int) -> list[OutboxMessage]:
    """Take up to ``limit`` due rows for this process, inside the caller's transaction.

    On PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets concurrent senders take disjoint rows
    without waiting; SQLite has one writer at a time, so the same statement (without the
    lock clause) is already exclusive. Claimed rows become ``sending`` with a lease.
    """
    query = (
        select(OutboxMessage)
        .where(
            or_(
                OutboxMessage.state == OutboxState.QUEUED,
                OutboxMessage.state == OutboxState.SENDING,  # an expired lease
            ),
            OutboxMessage.next_attempt_at <= now,
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(session.scalars(query))
    for row in rows:
        row.state = OutboxState.SENDING
        row.attempts += 1
        row.next_attempt_at = now + CLAIM_LEASE
    session.flush()
    return rows
