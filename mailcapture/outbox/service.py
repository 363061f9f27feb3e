"""Delivering the outbox with the settings of this installation."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import Clock
from mailcapture.db.engine import transaction
from mailcapture.outbox.notices import notify_outbox_failure
from mailcapture.outbox.worker import (
    DEFAULT_POLICY,
    DeliveryLedger,
    DeliveryStats,
    RetryPolicy,
    deliver_due,
)
from mailcapture.progress import NO_PROGRESS, Progress
from mailcapture.register.mail import mail_settings
from mailcapture.transport.outbound import Sender


def send_due(
    sessions: sessionmaker[Session],
    sender: Sender,
    clock: Clock,
    policy: RetryPolicy = DEFAULT_POLICY,
    limit: int | None = None,
    progress: Progress = NO_PROGRESS,
    ledger: DeliveryLedger | None = None,
) -> DeliveryStats:
    """Deliver every due row; failures are reported to the performance team.

    ``ledger`` carries what the transport said across a database outage (the service's
    sender keeps one; see :class:`~mailcapture.outbox.worker.DeliveryLedger`).
    """
    with transaction(sessions) as session:
        mail = mail_settings(session)
    envelope_from = f"{mail.reply_local}@{mail.reply_domain}"
    return deliver_due(
        sessions,
        sender,
        clock,
        envelope_from=envelope_from,
        notify_failure=notify_outbox_failure(mail),
        policy=policy,
        limit=limit,
        progress=progress,
        ledger=ledger,
    )
