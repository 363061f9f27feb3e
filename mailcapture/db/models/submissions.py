"""What people sent in: values, milestone statuses, commentary and sign-offs.

Every row records who sent it, when, from which message, and what it replaced. Rows are
never updated in place except to mark them superseded; ``is_current`` marks the one row
per item and period that counts, enforced by a partial unique index.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from mailcapture.db.models.base import Base, enum_column
from mailcapture.db.types import ExactDecimal
from mailcapture.domain.enums import (
    CommentSubject,
    MilestoneStatus,
    SignoffDecision,
    SubmissionSource,
    SubmissionState,
)


def _one_current(table: str, *columns: str) -> Index:
    return Index(
        f"uq_{table}_current",
        *columns,
        unique=True,
        sqlite_where=text("is_current"),
        postgresql_where=text("is_current"),
    )


class _Provenance:
    """Who sent it, on whose behalf, from which message, and when."""

    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    inbound_message_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("data_requests.id"))
    source: Mapped[SubmissionSource] = enum_column(SubmissionSource)
    received_at: Mapped[datetime]
    is_current: Mapped[bool] = mapped_column(default=False)


class ComponentValue(_Provenance, Base):
    __tablename__ = "component_values"
    __table_args__ = (
        _one_current("component_values", "component_id", "period_id"),
        Index("ix_component_values_component_period", "component_id", "period_id"),
        Index("ix_component_values_message", "inbound_message_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    component_id: Mapped[int] = mapped_column(ForeignKey("components.id"))
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"), index=True)
    state: Mapped[SubmissionState] = enum_column(SubmissionState)
    value: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    #: The answer exactly as typed, for the audit trail.
    raw_answer: Mapped[str | None] = mapped_column(Text)
    #: Where an answer that was not typed came from: the spreadsheet form's file, sheet and
    #: cell (``return-2026-04-kevin-walsh.xlsx, Return!H9``); None for a typed one.
    origin: Mapped[str | None] = mapped_column(String(300))
    #: Why rejected, or the updater's reason for "not available".
    reason: Mapped[str | None] = mapped_column(Text)
    estimated: Mapped[bool] = mapped_column(default=False)
    late: Mapped[bool] = mapped_column(default=False)
    available_from: Mapped[date | None]
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("component_values.id"))
    #: Who chose this figure among differing ones sent by different people (the indicator's
    #: owner or the performance team), and when; None for a figure nobody had to choose.
    chosen_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    chosen_at: Mapped[datetime | None]


class MilestoneUpdate(_Provenance, Base):
    __tablename__ = "milestone_updates"
    __table_args__ = (
        _one_current("milestone_updates", "milestone_id", "period_id"),
        Index("ix_milestone_updates_milestone_period", "milestone_id", "period_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    milestone_id: Mapped[int] = mapped_column(ForeignKey("milestones.id"))
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"), index=True)
    state: Mapped[SubmissionState] = enum_column(SubmissionState)
    status: Mapped[MilestoneStatus | None] = enum_column(MilestoneStatus)
    completed_on: Mapped[date | None]
    raw_answer: Mapped[str | None] = mapped_column(Text)
    #: As :attr:`ComponentValue.origin`.
    origin: Mapped[str | None] = mapped_column(String(300))
    reason: Mapped[str | None] = mapped_column(Text)
    late: Mapped[bool] = mapped_column(default=False)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("milestone_updates.id"))


class Commentary(_Provenance, Base):
    """Commentary on an item, a department or the return as a whole."""

    __tablename__ = "commentaries"
    __table_args__ = (Index("ix_commentaries_period_subject", "period_id", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"))
    subject: Mapped[CommentSubject] = enum_column(CommentSubject)
    indicator_id: Mapped[int | None] = mapped_column(ForeignKey("indicators.id"), index=True)
    component_id: Mapped[int | None] = mapped_column(ForeignKey("components.id"), index=True)
    milestone_id: Mapped[int | None] = mapped_column(ForeignKey("milestones.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    #: updater, owner, escalation_owner or performance_team: whose voice this is.
    author_role: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("commentaries.id"))


class Signoff(Base):
    """An owner's approval of (or query on) an indicator's value for a period."""

    __tablename__ = "signoffs"
    __table_args__ = (_one_current("signoffs", "indicator_id", "period_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id"), index=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"), index=True)
    decision: Mapped[SignoffDecision] = enum_column(SignoffDecision)
    reason: Mapped[str | None] = mapped_column(Text)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    inbound_message_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    decided_at: Mapped[datetime]
    is_current: Mapped[bool] = mapped_column(default=True)


class PeriodLock(Base):
    """A period closed for new values once signed off; unlocking is recorded, not deleted."""

    __tablename__ = "period_locks"

    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"), index=True)
    locked_at: Mapped[datetime]
    locked_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    unlocked_at: Mapped[datetime | None]
    unlocked_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
