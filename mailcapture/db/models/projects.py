"""Projects and their milestones."""

from __future__ import annotations

from datetime import date

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailcapture.db.models.base import Base, Retirable


class Project(Retirable, Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    priority_id: Mapped[int] = mapped_column(ForeignKey("priorities.id"), index=True)
    service_area_id: Mapped[int] = mapped_column(ForeignKey("service_areas.id"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    updater_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    escalation_owner_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    #: Key projects appear in the quarterly report to members.
    is_key: Mapped[bool] = mapped_column(default=False)
    start_date: Mapped[date | None]
    due_date: Mapped[date | None]
    completed_on: Mapped[date | None]

    milestones: Mapped[list[Milestone]] = relationship(
        back_populates="project", order_by="Milestone.code"
    )
    owner = relationship("Person", foreign_keys=[owner_id])
    updater = relationship("Person", foreign_keys=[updater_id])
    escalation_owner = relationship("Person", foreign_keys=[escalation_owner_id])


class Milestone(Retirable, Base):
    """A project milestone; every project has one ``is_overall`` "Overall progress" milestone."""

    __tablename__ = "milestones"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    is_overall: Mapped[bool] = mapped_column(default=False)
    start_date: Mapped[date | None]
    due_date: Mapped[date | None]
    completed_on: Mapped[date | None]

    project: Mapped[Project] = relationship(back_populates="milestones")
