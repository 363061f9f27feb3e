"""Records of what the service itself did: register loads, scheduler ticks, reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from mailcapture.db.models.base import Base


class RegisterLoad(Base):
    """One successful ``mailcapture load``: where from, a digest, and what changed."""

    __tablename__ = "register_loads"

    id: Mapped[int] = mapped_column(primary_key=True)
    loaded_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(1000))
    digest: Mapped[str] = mapped_column(String(64))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)


class SchedulerTick(Base):
    __tablename__ = "scheduler_ticks"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The clock's "now" the tick decided for (may differ from wall time in tests).
    tick_time: Mapped[datetime] = mapped_column(index=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    queued: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ReportRun(Base):
    """A report produced for a period (and recipient), once: ``key`` is unique.

    Reports that invite an answer (the owner report: sign-off, query, commentary; the
    department report: commentary) carry a ``token`` like a data request's, in the
    Reply-To address and the subject, so the inbound pipeline can tell whose answer it is
    and to which report. ``message_id`` lets a reply that lost the token still be matched
    by its In-Reply-To/References; after ``expires_at`` the token no longer records
    anything.

    The same machinery carries the owner's choice between differing figures
    (``report_kind`` ``value_choice``, see :mod:`mailcapture.mailflow.value_choices`).
    """

    __tablename__ = "report_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    report_kind: Mapped[str] = mapped_column(String(32))
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    created_at: Mapped[datetime]
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id"))
    token: Mapped[str | None] = mapped_column(String(32), unique=True)
    message_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    expires_at: Mapped[datetime | None]
    #: A ``value_choice`` run (the owner asked to choose between differing figures): the
    #: component; its period is ``period_id``. None for every other kind of report.
    component_id: Mapped[int | None] = mapped_column(ForeignKey("components.id"))


class ServiceSetting(Base):
    """Service-wide settings loaded from the register (e.g. the ``mail`` section)."""

    __tablename__ = "service_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
