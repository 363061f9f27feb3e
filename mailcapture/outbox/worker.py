"""Deliver due outbox rows through a transport, retrying temporary failures with backoff.

A row is claimed and committed before the network is touched, and its outcome is
written in a second transaction, so two workers never send one row and a crash between
the two leaves a row that is retried after its lease (at-least-once, never lost). A
database outage between the two is not a crash: with a :class:`DeliveryLedger` the outcome
is kept in memory and written once the database is back, so the row is not sent twice.
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


@dataclass(frozen=True)
class _Outcome:
    """What the transport said about one row, until the database has it."""

    row_id: int
    kind: str
    recipient: str
    message_id: str
    note: str | None = None  # delivered: the transport's note
    error: DeliveryError | None = None  # not delivered


@dataclass
class DeliveryLedger:
    """What this sender knows and the database does not yet, kept from one run to the next.

    A row is claimed (committed as ``sending``, with a lease) before the network is touched,
    and what the transport said is written afterwards. If the database fails in between,
    the outcome would be lost with the exception: a delivered row would be sent again when
    its lease ran out, and the rows claimed behind it would wait out their 10-minute lease
    before anyone tried them (so would the rows of a claim whose commit went through but
    whose answer was lost with the connection). The service keeps one ledger for its
    sender, so the next run (once the database answers) first writes the outcomes it holds,
    then hands the rows it claimed but never tried back to the queue, if still ours.
    Without a ledger (``mailcapture send``) each run has its own, and a run that fails
    loses only what a crash would.
    """

    outcomes: dict[int, _Outcome] = field(default_factory=dict)
    #: Row id -> the end of our lease on it: claimed by us, not yet given to the transport.
    claimed: dict[int, datetime] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.outcomes or self.claimed)


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
    ledger: DeliveryLedger | None = None,
) -> DeliveryStats:
    """Send every row due now, a batch at a time, until none is left (or ``limit``).

    A database error propagates; with a ``ledger`` (see :class:`DeliveryLedger`) nothing the
    transport said is lost by it, and the next call writes it down first.
    """
    ledger = DeliveryLedger() if ledger is None else ledger
    stats = DeliveryStats()
    _settle(sessions, clock, ledger, notify_failure, policy, stats)
    progress.start("sending", None)
    while limit is None or stats.sent + stats.failed + stats.retrying < limit:
        with transaction(sessions) as session:
            rows = claim_due(session, clock.now(), batch)
            claimed = [(r.id, r.recipient, r.raw, r.kind, r.message_id) for r in rows]
            # Noted before the commit: if the commit's answer is lost with the connection,
            # the claim may have been made all the same, and the next run undoes it.
            ledger.claimed.update({r.id: r.next_attempt_at for r in rows})
        if not claimed:
            break
        for row_id, recipient, raw, kind, message_id in claimed:
            # Given to the transport: if it raises something unforeseen, the row keeps its
            # lease and is tried again when that runs out, as after a crash.
            del ledger.claimed[row_id]
            outcome = _send(sender, row_id, recipient, raw, kind, message_id, envelope_from)
            ledger.outcomes[row_id] = outcome
            _record(sessions, clock, outcome, notify_failure, policy, stats)
            del ledger.outcomes[row_id]
            progress.advance()
    return stats


def _settle(
    sessions: sessionmaker[Session],
    clock: Clock,
    ledger: DeliveryLedger,
    notify_failure: FailureNotifier | None,
    policy: RetryPolicy,
    stats: DeliveryStats,
) -> None:
    """Write down what an earlier run could not, and release the rows it never tried."""
    for row_id, outcome in list(ledger.outcomes.items()):
        _record(sessions, clock, outcome, notify_failure, policy, stats)
        del ledger.outcomes[row_id]
    if ledger.claimed:
        released = []
        with transaction(sessions) as session:
            now = clock.now()
            for row_id, lease in ledger.claimed.items():
                row = session.get_one(OutboxMessage, row_id)
                # Still our claim (nobody took it over after the lease): never tried, so the
                # claim's attempt did not happen either.
                if row.state is OutboxState.SENDING and row.next_attempt_at == lease:
                    row.state = OutboxState.QUEUED
                    row.next_attempt_at = now
                    row.attempts = max(0, row.attempts - 1)
                    released.append(row_id)
        if released:
            event(log, "outbox.released", rows=released)
        ledger.claimed.clear()


def _send(
    sender: Sender,
    row_id: int,
    recipient: str,
    raw: bytes,
    kind: str,
    message_id: str,
    envelope_from: str,
) -> _Outcome:
    hint = f"{row_id:06d}-{kind}"
    try:
        note = sender.send(envelope_from, [recipient], raw, hint)
    except DeliveryError as exc:
        return _Outcome(row_id, kind, recipient, message_id, error=exc)
    return _Outcome(row_id, kind, recipient, message_id, note=note)


def _record(
    sessions: sessionmaker[Session],
    clock: Clock,
    outcome: _Outcome,
    notify_failure: FailureNotifier | None,
    policy: RetryPolicy,
    stats: DeliveryStats,
) -> None:
    row_id, kind, recipient = outcome.row_id, outcome.kind, outcome.recipient
    exc = outcome.error
    if exc is not None:
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
        row.delivery_note = outcome.note
        row.last_error = None
    stats.sent += 1
    event(
        log,
        "mail.sent",
        id=row_id,
        kind=kind,
        to=recipient,
        message_id=outcome.message_id,
        note=outcome.note,
    )
