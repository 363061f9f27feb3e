"""Data requests sent to updaters, the items on them, and how they were chased."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from mailcapture.db.models.base import Base, enum_column
from mailcapture.domain.enums import ChaseKind, RequestState


class DataRequest(Base):
    """One email per person per period listing everything due from them.

    ``token`` is the credential in the Reply-To address and subject: random, at least
    80 bits, never derived from the address. Unique per (person, period) so that a
    second scheduler tick cannot queue the request twice.
    """

    __tablename__ = "data_requests"
    __table_args__ = (UniqueConstraint("person_id", "period_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"), index=True)
    token: Mapped[str] = mapped_column(String(32), unique=True)
    #: Our Message-ID on the request, so In-Reply-To/References find it.
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    state: Mapped[RequestState] = enum_column(RequestState, default=RequestState.OPEN)
    #: Sent on behalf of another person (an out-of-office redirect to a delegate).
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime]
    due_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    #: After this the token answers "expired" instead of recording values.
    expires_at: Mapped[datetime]

    items: Mapped[list[DataRequestItem]] = relationship(
        back_populates="request", order_by="DataRequestItem.position"
    )
    person = relationship("Person", foreign_keys=[person_id])
    period = relationship("Period")


class DataRequestItem(Base):
    """One line of the form: a component value, a milestone status, or a comment slot."""

    __tablename__ = "data_request_items"
    __table_args__ = (UniqueConstraint("request_id", "item_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("data_requests.id"))
    position: Mapped[int]
    #: The code as printed on the form, e.g. ``BV8a.1`` or ``P07.M0``.
    item_code: Mapped[str] = mapped_column(String(48))
    component_id: Mapped[int | None] = mapped_column(ForeignKey("components.id"), index=True)
    milestone_id: Mapped[int | None] = mapped_column(ForeignKey("milestones.id"), index=True)
    indicator_id: Mapped[int | None] = mapped_column(ForeignKey("indicators.id"), index=True)
    returned_at: Mapped[datetime | None]
    #: "Not available until 15 May": no chasing before this date.
    snoozed_until: Mapped[date | None]

    request: Mapped[DataRequest] = relationship(back_populates="items")
    #: The item's indicator code, when a query asks for it with ``with_expression`` (the
    #: pipeline loads it with the request's items: one statement instead of two per reply).
    indicator_code: Mapped[str | None] = query_expression()


class RequestChase(Base):
    """A reminder or escalation, queued at most once per request, kind, step and person."""

    __tablename__ = "request_chases"
    __table_args__ = (UniqueConstraint("request_id", "kind", "step", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("data_requests.id"))
    kind: Mapped[ChaseKind] = enum_column(ChaseKind)
    step: Mapped[int]
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    queued_at: Mapped[datetime]
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id"), index=True)
