"""The reporting timetable and the bank holidays it skips."""

from __future__ import annotations

from datetime import date, time

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from mailcapture.db.models.base import Base, enum_column
from mailcapture.domain.enums import Frequency


class TimetableRule(Base):
    """When requests for one frequency go out, are due, and are chased.

    Offsets are in working days: ``request_working_day``/``due_working_day`` after the
    period ends, ``reminders`` relative to the due date (negative = before it),
    ``escalations`` a list of ``{"to": "owner"|"escalation_owner", "after": n}``.
    """

    __tablename__ = "timetable_rules"

    frequency: Mapped[Frequency] = enum_column(Frequency, primary_key=True)
    request_working_day: Mapped[int]
    request_time: Mapped[time]
    due_working_day: Mapped[int]
    due_time: Mapped[time]
    reminders: Mapped[list[int]] = mapped_column(JSON)
    escalations: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    summary_after: Mapped[int]


class BankHoliday(Base):
    __tablename__ = "bank_holidays"

    day: Mapped[date] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
