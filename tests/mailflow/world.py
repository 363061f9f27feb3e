"""The pipeline over the sample council, for the mail-flow tests: a fixed clock, the
requests sent, and messages fed in as the listener would."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import FixedClock, as_utc
from mailcapture.db import models as m
from mailcapture.mailflow.pipeline import Pipeline
from mailcapture.mailflow.store import Envelope
from mailcapture.schedule.tick import tick
from tests.conftest import SampleRegister


class PipelineWorld:
    """The sample council after the April 2026 requests went out."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.clock = FixedClock(datetime(2026, 5, 5, 9, 0, tzinfo=UTC))
        self.pipeline = Pipeline(sessions, self.clock)

    def ingest(self, raw: bytes, at: datetime | None = None):  # type: ignore[no-untyped-def]
        if at is not None:
            self.clock.set(at)
        return self.pipeline.ingest(raw, Envelope(source="test"))

    def request_raw(self, email: str, period: str = "2026-04") -> bytes:
        """The request email sent to ``email`` for ``period``, as sent."""
        with self.sessions() as s:
            return s.scalars(
                select(m.OutboxMessage.raw)
                .join(m.Person)
                .join(m.Period, m.Period.id == m.OutboxMessage.period_id)
                .where(
                    m.Person.email == email,
                    m.Period.code == period,
                    m.OutboxMessage.kind == "request",
                )
            ).one()

    def current(self, code: str, period: str = "2026-04") -> tuple[object, str] | None:
        """The current value (figure or milestone status) of ``code`` and its state."""
        with self.sessions() as s:
            row = s.scalar(
                select(m.ComponentValue)
                .join(m.Component)
                .join(m.Period)
                .where(
                    m.Component.code == code, m.Period.code == period, m.ComponentValue.is_current
                )
            )
            if row is not None:
                return row.value, row.state.value
            status = s.scalar(
                select(m.MilestoneUpdate)
                .join(m.Milestone)
                .join(m.Period)
                .where(
                    m.Milestone.code == code, m.Period.code == period, m.MilestoneUpdate.is_current
                )
            )
            return (status.status.value, status.state.value) if status is not None else None

    def inbound(self, message_id: int) -> m.InboundMessage:
        """The stored inbound message ``message_id`` (an ``IngestResult.id``), detached."""
        with self.sessions() as s:
            row = s.get_one(m.InboundMessage, message_id)
            s.expunge(row)
            return row

    def outbox(self, kind: str) -> list[m.OutboxMessage]:
        """The outbox rows of one kind, in the order they were queued."""
        with self.sessions() as s:
            return list(
                s.scalars(
                    select(m.OutboxMessage)
                    .where(m.OutboxMessage.kind == kind)
                    .order_by(m.OutboxMessage.id)
                )
            )


def april_requests_sent(
    sessions: sessionmaker[Session], sample_register: SampleRegister
) -> PipelineWorld:
    """The sample register loaded on 20 April 2026 and the April requests sent on 1 May."""
    sample_register.load(sessions, datetime(2026, 4, 20, 12, 0, tzinfo=UTC))
    tick(sessions, as_utc(datetime(2026, 5, 1, 9, 0)))
    return PipelineWorld(sessions)
