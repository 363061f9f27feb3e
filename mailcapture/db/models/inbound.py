"""Inbound messages: raw bytes first, then every stage's outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from mailcapture.db.models.base import Base, enum_column
from mailcapture.domain.enums import InboundState, MessageClass


class InboundMessage(Base):
    """A message as received, stored before anything else happens to it.

    ``raw`` is binary (PostgreSQL TEXT refuses NUL, which decoded mail can contain).
    ``dedupe_key`` is a SHA-256 over the normalised Message-ID and sender, or over the
    message without trace headers when the Message-ID is missing or bogus; the partial
    unique index lets exactly one non-duplicate row hold a key, so two processes that
    receive the same message concurrently cannot both apply it.
    """

    __tablename__ = "inbound_messages"
    __table_args__ = (
        Index(
            "uq_inbound_messages_dedupe_key_original",
            "dedupe_key",
            unique=True,
            sqlite_where=text("duplicate_of_id IS NULL"),
            postgresql_where=text("duplicate_of_id IS NULL"),
        ),
        Index("ix_inbound_messages_state_received", "state", "received_at"),
        # The loop check: a sender's messages since the day began (migration 0007).
        Index("ix_inbound_messages_sender_received", "sender", "received_at"),
        # process_batch: is an earlier message from the sender still waiting? (0007)
        Index("ix_inbound_messages_sender_state", "sender", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    #: smtp, lmtp, imap, cli, demo ...
    source: Mapped[str] = mapped_column(String(16))
    #: Where it came from inside that source: IMAP UIDVALIDITY/UID, a file path, a peer.
    source_ref: Mapped[str | None] = mapped_column(String(500))
    envelope_from: Mapped[str | None] = mapped_column(String(320))
    envelope_to: Mapped[list[str] | None] = mapped_column(JSON)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    dedupe_key: Mapped[str] = mapped_column(String(64), index=True)
    message_id: Mapped[str | None] = mapped_column(String(998))
    sender: Mapped[str | None] = mapped_column(String(320), index=True)
    subject: Mapped[str | None] = mapped_column(Text)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))

    state: Mapped[InboundState] = enum_column(InboundState, default=InboundState.RECEIVED)
    classification: Mapped[MessageClass | None] = enum_column(MessageClass)
    classification_rule: Mapped[str | None] = mapped_column(String(200))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("data_requests.id"), index=True)
    #: An answer to a report (an owner's sign-off or commentary), not to a data request.
    #: ``use_alter``: report runs point at the outbox, which points back at inbound messages.
    report_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("report_runs.id", use_alter=True), index=True
    )
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    #: Short machine-readable result, e.g. ``applied``, ``unknown-sender``, ``dmarc-fail``.
    outcome: Mapped[str | None] = mapped_column(String(64))
    outcome_detail: Mapped[str | None] = mapped_column(Text)
    #: One entry per pipeline stage: name, result, detail, time.
    stages: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    decoded_text: Mapped[str | None] = mapped_column(Text)
    answer_text: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    processed_at: Mapped[datetime | None]
