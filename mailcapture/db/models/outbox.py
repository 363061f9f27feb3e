"""Outgoing mail: every email is a row before it is a packet."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mailcapture.db.models.base import Base, enum_column
from mailcapture.domain.enums import OutboxState


class OutboxMessage(Base):
    """One rendered email to one recipient, delivered (and retried) by the sender.

    ``dedupe_key`` (unique) names the *reason* for the email, e.g. ``request:17`` or
    ``summary:2026-04:monthly``: queueing the same reason twice is a no-op, which is what
    makes the timetable tick idempotent across processes.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_messages_due", "state", "next_attempt_at"),
        Index("ix_outbox_messages_recipient_created", "recipient", "created_at"),
        # The hourly counts of one kind of automatic mail (migration 0007).
        Index("ix_outbox_messages_kind_created", "kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(320))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    subject: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("data_requests.id"), index=True)
    period_id: Mapped[int | None] = mapped_column(ForeignKey("periods.id"), index=True)
    #: The inbound message this answers (confirmations, rejections).
    in_reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    state: Mapped[OutboxState] = enum_column(OutboxState, default=OutboxState.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    #: What the transport said: the SMTP reply or the file written.
    delivery_note: Mapped[str | None] = mapped_column(Text)
