"""Deliver due outbox rows through a transport, retrying temporary failures with backoff.

A row is claimed and committed before the network is touched, and its outcome is
written in a second transaction, so two workers never send one row and a crash between
the two leaves a row that is retried after its lease (at-least-once, never lost).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import Clock
from mailcapture.db.engine import transaction
from mailcapture.db.models import OutboxMessage
from mailcapture.domain.enums import OutboxState
from mailcapture.logs import event
from mailcapture.outbox.queue import claim_due
from mailcapture.progress import NO_PROGRESS, Progress
from mailcapture.transport.outbound import DeliveryError, Sender

FAILURE_KIND = "outbox_failure"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    first_delay: timedelta = timedelta(minutes=1)
    factor: float = 4.0
    max_delay: timedelta = timedelta(hours=6)

    def delay(self, attempts: int) -> timedelta:
        """Wait after the ``attempts``-th failure: 1 min, 4 min, 16 min, ... up to 6 h."""
        seconds = self.first_delay.total_seconds() * self.factor ** max(0, attempts - 1)
        return min(timedelta(seconds=seconds), self.max_delay)


DEFAULT_POLICY = RetryPolicy()


@dataclass
class DeliveryStats:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    failed_ids: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.sent} sent, {self.retrying} to retry, {self.failed} failed"


class FailureNotifier(Protocol):
    """Tells the performance team about a row that will not be delivered.

    A protocol so the outbox does not depend on how notices are composed.
    """

    def __call__(self, session: Session, row: OutboxMessage, now: datetime) -> None: ...


def deliver_due(
    sessions: sessionmaker[Session],
    sender: Sender,
    clock: Clock,
    *,
    envelope_from: str,
    notify_failure: FailureNotifier | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
    batch: int = 50,
    limit: int | None = None,
    progress: Progress = NO_PROGRESS,
) -> DeliveryStats:
    """Send every row due now, a batch at a time, until none is left (or ``limit``)."""
    stats = DeliveryStats()
    progress.start("sending", None)
    while limit is None or stats.sent + stats.failed + stats.retrying < limit:
        with transaction(sessions) as session:
            rows = claim_due(session, clock.now(), batch)
            claimed = [(r.id, r.recipient, r.raw, r.kind, r.message_id) for r in rows]
        if not claimed:
            break
        for row_id, recipient, raw, kind, message_id in claimed:
            _deliver_one(
                sessions,
                sender,
                clock,
                row_id,
                recipient,
                raw,
                kind,
                message_id,
                envelope_from,
                notify_failure,
                policy,
                stats,
            )
            progress.advance()
    return stats


def _deliver_one(
    sessions: sessionmaker[Session],
    sender: Sender,
    clock: Clock,
    row_id: int,
    recipient: str,
    raw: bytes,
    kind: str,
    message_id: str,
    envelope_from: str,
    notify_failure: FailureNotifier | None,
    policy: RetryPolicy,
    stats: DeliveryStats,
) -> None:
    hint = f"{row_id:06d}-{kind}"
    try:
        note = sender.send(envelope_from, [recipient], raw, hint)
    except DeliveryError as exc:
        with transaction(sessions) as session:
            row = session.get_one(OutboxMessage, row_id)
            now = clock.now()
            row.last_error = exc.reason
            if exc.temporary and row.attempts < policy.max_attempts:
                row.state = OutboxState.QUEUED
                row.next_attempt_at = now + policy.delay(row.attempts)
                stats.retrying += 1
                event(
                    log,
                    "mail.retry",
                    logging.WARNING,
                    id=row_id,
                    kind=kind,
                    to=recipient,
                    attempts=row.attempts,
                    error=exc.reason,
                )
                return
            event(
                log,
                "mail.failed",
                logging.ERROR,
                id=row_id,
                kind=kind,
                to=recipient,
                attempts=row.attempts,
                error=exc.reason,
            )
            row.state = OutboxState.FAILED
            stats.failed += 1
            stats.failed_ids.append(row_id)
            if notify_failure is not None and row.kind != FAILURE_KIND:
                notify_failure(session, row, now)
        return
    with transaction(sessions) as session:
        row = session.get_one(OutboxMessage, row_id)
        row.state = OutboxState.SENT
        row.sent_at = clock.now()
        row.delivery_note = note
        row.last_error = None
    stats.sent += 1
    event(log, "mail.sent", id=row_id, kind=kind, to=recipient, message_id=message_id, note=note)
