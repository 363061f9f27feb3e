"""Corporate objectives, key priorities, report definitions and the authority table."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailcapture.db.models.base import Base, Retirable, enum_column
from mailcapture.domain.enums import ApproverKind, ChangeKind, ReportKind


class Objective(Retirable, Base):
    __tablename__ = "objectives"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(300))

    priorities: Mapped[list[Priority]] = relationship(back_populates="objective")


class Priority(Retirable, Base):
    """A key priority under a corporate objective."""

    __tablename__ = "priorities"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    objective_id: Mapped[int] = mapped_column(ForeignKey("objectives.id"), index=True)

    objective: Mapped[Objective] = relationship(back_populates="priorities")


class ReportDefinition(Retirable, Base):
    """A report an indicator appears in, e.g. the quarterly report to Cabinet."""

    __tablename__ = "report_definitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[ReportKind] = enum_column(ReportKind)


class ReportRecipient(Base):
    __tablename__ = "report_recipients"

    report_id: Mapped[int] = mapped_column(ForeignKey("report_definitions.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)


class ApprovalRule(Base):
    """One row of the framework's authority table: who may approve a kind of change."""

    __tablename__ = "approval_rules"
    __table_args__ = (UniqueConstraint("change_kind", "approver_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    change_kind: Mapped[ChangeKind] = enum_column(ChangeKind)
    approver_kind: Mapped[ApproverKind] = enum_column(ApproverKind)
