"""Departments, service areas, people, their roles and delegates."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailcapture.db.models.base import Base, Retirable, enum_column
from mailcapture.domain.enums import Role


class Department(Retirable, Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))

    service_areas: Mapped[list[ServiceArea]] = relationship(back_populates="department")


class ServiceArea(Retirable, Base):
    __tablename__ = "service_areas"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)

    department: Mapped[Department] = relationship(back_populates="service_areas")


class Person(Retirable, Base):
    """Someone who sends or receives mail; identified by their (lower-cased) address."""

    __tablename__ = "people"
    #: Addresses typed by the team are matched in any case (``lower(email) = ...``).
    __table_args__ = (Index("ix_people_email_lower", func.lower(text("email"))),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    job_title: Mapped[str | None] = mapped_column(String(200))
    service_area_id: Mapped[int | None] = mapped_column(ForeignKey("service_areas.id"), index=True)
    #: Set when mail to the address bounces permanently; cleared when they next write in.
    mail_failing_since: Mapped[datetime | None]
    mail_failure_reason: Mapped[str | None] = mapped_column(Text)

    service_area: Mapped[ServiceArea | None] = relationship()
    roles: Mapped[list[PersonRole]] = relationship(
        back_populates="person", cascade="all, delete-orphan"
    )

    @property
    def role_set(self) -> frozenset[Role]:
        return frozenset(r.role for r in self.roles)


class PersonRole(Base):
    """One role a person holds; ``declared`` when the register says so, else derived."""

    __tablename__ = "person_roles"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    role: Mapped[Role] = enum_column(Role, primary_key=True)
    declared: Mapped[bool] = mapped_column(default=False)

    person: Mapped[Person] = relationship(back_populates="roles")


class DepartmentHead(Base):
    """The head of service for a department: the default escalation owner."""

    __tablename__ = "department_heads"

    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)


class Delegation(Retirable, Base):
    """``delegate`` may reply (and approve) on behalf of ``principal``."""

    __tablename__ = "delegations"
    __table_args__ = (UniqueConstraint("principal_id", "delegate_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    principal_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    delegate_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)

    principal: Mapped[Person] = relationship(foreign_keys=[principal_id])
    delegate: Mapped[Person] = relationship(foreign_keys=[delegate_id])
