"""Indicators, their components, periods, targets and approved target changes."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, false, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mailcapture.db.models.base import Base, Retirable, enum_column
from mailcapture.db.types import ExactDecimal
from mailcapture.domain.enums import (
    Aggregation,
    ApproverKind,
    ChangeKind,
    Frequency,
    IndicatorType,
    Polarity,
    ToleranceKind,
)
from mailcapture.domain.periods import PeriodKind


class Indicator(Retirable, Base):
    __tablename__ = "indicators"
    #: Codes are looked up as written by people, in any case (``lower(code) IN (...)`` in
    #: the reports' queries, on every reply's commentary check): without this index that
    #: is a scan of the whole register.
    __table_args__ = (Index("ix_indicators_code_lower", func.lower(text("code"))),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    type: Mapped[IndicatorType] = enum_column(IndicatorType)
    frequency: Mapped[Frequency] = enum_column(Frequency)
    polarity: Mapped[Polarity] = enum_column(Polarity)
    #: A year-to-date figure: its direction of travel is against the same period last year.
    cumulative: Mapped[bool] = mapped_column(default=False, server_default=false())
    unit: Mapped[str] = mapped_column(String(32))
    decimals: Mapped[int] = mapped_column(default=0)
    #: Arithmetic over component codes; NULL means "the value of its single component".
    formula: Mapped[str | None] = mapped_column(String(500))
    service_area_id: Mapped[int] = mapped_column(ForeignKey("service_areas.id"), index=True)
    priority_id: Mapped[int | None] = mapped_column(ForeignKey("priorities.id"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    escalation_owner_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    default_tolerance: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    default_tolerance_kind: Mapped[ToleranceKind] = enum_column(
        ToleranceKind, default=ToleranceKind.ABSOLUTE
    )
    #: The LG Inform metric this indicator is (``export returns --format lginform``).
    lg_inform_id: Mapped[int | None]
    #: The Single Data List collection it is returned in, e.g. ``082-00``.
    sdl_reference: Mapped[str | None] = mapped_column(String(16))

    owner = relationship("Person", foreign_keys=[owner_id])
    escalation_owner = relationship("Person", foreign_keys=[escalation_owner_id])
    service_area = relationship("ServiceArea")
    updaters = relationship("Person", secondary="indicator_updaters", order_by="Person.email")
    components = relationship(
        "Component", secondary="indicator_components", order_by="Component.code"
    )
    reports = relationship("ReportDefinition", secondary="indicator_reports")


class IndicatorUpdater(Base):
    __tablename__ = "indicator_updaters"

    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True, index=True)


class IndicatorReport(Base):
    __tablename__ = "indicator_reports"

    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id"), primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report_definitions.id"), primary_key=True)


class Component(Retirable, Base):
    """A raw figure an updater sends in; indicators are computed from components."""

    __tablename__ = "components"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    unit: Mapped[str] = mapped_column(String(32))
    min_value: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    max_value: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    aggregation: Mapped[Aggregation] = enum_column(Aggregation)
    #: How often it is collected: that of the indicator that declares it.
    frequency: Mapped[Frequency] = enum_column(Frequency)
    declared_by_id: Mapped[int] = mapped_column(ForeignKey("indicators.id"), index=True)


class IndicatorComponent(Base):
    """Which components an indicator's formula uses (may cross indicators)."""

    __tablename__ = "indicator_components"

    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id"), primary_key=True)
    component_id: Mapped[int] = mapped_column(
        ForeignKey("components.id"), primary_key=True, index=True
    )


class Period(Base):
    """A month, quarter or financial year, stored so values and targets can refer to it."""

    __tablename__ = "periods"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[PeriodKind] = enum_column(PeriodKind)
    fy: Mapped[int]
    start_date: Mapped[date]
    end_date: Mapped[date]
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("periods.id"), index=True)


class Target(Base):
    __tablename__ = "targets"
    __table_args__ = (UniqueConstraint("indicator_id", "period_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicators.id"))
    period_id: Mapped[int] = mapped_column(ForeignKey("periods.id"), index=True)
    value: Mapped[Decimal] = mapped_column(ExactDecimal)
    tolerance: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    tolerance_kind: Mapped[ToleranceKind] = enum_column(
        ToleranceKind, default=ToleranceKind.ABSOLUTE
    )
    updated_at: Mapped[datetime]


class TargetChange(Base):
    """An approved change to a target or a project date, with the authority it rests on."""

    __tablename__ = "target_changes"
    __table_args__ = (Index("ix_target_changes_indicator_period", "indicator_id", "period_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    change_kind: Mapped[ChangeKind] = enum_column(ChangeKind)
    indicator_id: Mapped[int | None] = mapped_column(ForeignKey("indicators.id"))
    period_id: Mapped[int | None] = mapped_column(ForeignKey("periods.id"))
    milestone_id: Mapped[int | None] = mapped_column(ForeignKey("milestones.id"), index=True)
    old_value: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    new_value: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    old_date: Mapped[date | None]
    new_date: Mapped[date | None]
    reason: Mapped[str] = mapped_column(Text)
    approved_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    authority: Mapped[ApproverKind] = enum_column(ApproverKind)
    recorded_at: Mapped[datetime]
    #: Set once the change has appeared in a report's commentary.
    reported_at: Mapped[datetime | None]
