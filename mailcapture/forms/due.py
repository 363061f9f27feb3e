"""What is due from whom for a period, and what is still outstanding.

Everything for one period is read in a handful of set-based queries (not one query per
person or item), so queueing a period's requests stays fast for a shared service with
tens of thousands of updaters.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import CompoundSelect, Select, String, literal, select, union_all
from sqlalchemy.orm import Session

from mailcapture.db import models as m
from mailcapture.domain.enums import Frequency, SubmissionState
from mailcapture.domain.frequency import frequency_of
from mailcapture.domain.periods import Period

#: The most ids in one ``IN (...)``, well under SQLite's and PostgreSQL's parameter limits
#: even two to a statement.
CHUNK = 5000

RETURNED_STATES = (SubmissionState.ACCEPTED, SubmissionState.NOT_AVAILABLE)
STATUS_ANSWERS = "on track / at risk / delayed / complete (with the date)"


@dataclass(frozen=True)
class DueItem:
    """One line of a request form, with who answers for it."""

    code: str
    title: str
    kind: str  # "value" | "status"
    unit: str
    group: str
    component_id: int | None
    milestone_id: int | None
    indicator_id: int | None
    indicator_code: str | None
    indicator_title: str | None
    owner_id: int
    escalation_owner_id: int
    low: Decimal | None = None
    high: Decimal | None = None
    indicator_unit: str | None = None
    indicator_decimals: int = 0


def due_by_person(
    session: Session, period: Period, person_id: int | None = None
) -> dict[int, list[DueItem]]:
    """Every active updater's items for ``period`` (or one person's), in form order."""
    frequency = frequency_of(period)
    by_person: dict[int, list[DueItem]] = defaultdict(list)
    query = (
        select(m.IndicatorUpdater.person_id, m.Indicator, m.Component, m.ServiceArea.name)
        .join(m.Indicator, m.Indicator.id == m.IndicatorUpdater.indicator_id)
        .join(m.Component, m.Component.declared_by_id == m.Indicator.id)
        .join(m.ServiceArea, m.ServiceArea.id == m.Indicator.service_area_id)
        .join(m.Person, m.Person.id == m.IndicatorUpdater.person_id)
        .where(
            m.Indicator.frequency == frequency,
            m.Indicator.retired_at.is_(None),
            m.Component.retired_at.is_(None),
            m.Person.retired_at.is_(None),
        )
        .order_by(m.ServiceArea.name, m.Indicator.code, m.Component.code)
    )
    if person_id is not None:
        query = query.where(m.IndicatorUpdater.person_id == person_id)
    for updater_id, indicator, component, area in session.execute(query):
        by_person[updater_id].append(
            DueItem(
                code=component.code,
                title=component.title,
                kind="value",
                unit=component.unit,
                group=area,
                component_id=component.id,
                milestone_id=None,
                indicator_id=indicator.id,
                indicator_code=indicator.code,
                indicator_title=indicator.title,
                owner_id=indicator.owner_id,
                escalation_owner_id=indicator.escalation_owner_id,
                low=component.min_value,
                high=component.max_value,
                indicator_unit=indicator.unit,
                indicator_decimals=indicator.decimals,
            )
        )
    if frequency is Frequency.MONTHLY:
        for updater_id, item in _milestones_due(session, period, person_id):
            by_person[updater_id].append(item)
    return dict(by_person)


def _milestones_due(
    session: Session, period: Period, person_id: int | None
) -> Iterable[tuple[int, DueItem]]:
    """Milestones of live projects: started by the period's end, not completed before it."""
    query = (
        select(m.Project, m.Milestone)
        .join(m.Milestone, m.Milestone.project_id == m.Project.id)
        .join(m.Person, m.Person.id == m.Project.updater_id)
        .where(
            m.Project.retired_at.is_(None),
            m.Milestone.retired_at.is_(None),
            m.Person.retired_at.is_(None),
        )
        .order_by(m.Project.code, m.Milestone.is_overall.desc(), m.Milestone.code)
    )
    if person_id is not None:
        query = query.where(m.Project.updater_id == person_id)
    for project, milestone in session.execute(query):
        if not _live(project.start_date, project.completed_on, period):
            continue
        if not milestone.is_overall and not _live(
            milestone.start_date, milestone.completed_on, period
        ):
            continue
        yield (
            project.updater_id,
            DueItem(
                code=milestone.code,
                title=milestone.title,
                kind="status",
                unit=STATUS_ANSWERS,
                group=f"{project.code} {project.title}",
                component_id=None,
                milestone_id=milestone.id,
                indicator_id=None,
                indicator_code=None,
                indicator_title=None,
                owner_id=project.owner_id,
                escalation_owner_id=project.escalation_owner_id,
            ),
        )


def _live(start: date | None, completed: date | None, period: Period) -> bool:
    started = start is None or start <= period.end
    finished = completed is not None and completed < period.start
    return started and not finished


def returned_keys(
    session: Session, period_id: int, component_ids: Iterable[int], milestone_ids: Iterable[int]
) -> set[tuple[str, int]]:
    """Which of these items already have a current value or status for the period.

    One statement per chunk of ids; when both kinds fit in one chunk each (every reply's
    form does), both are asked in one statement (``UNION ALL``), not two.
    """
    component_ids, milestone_ids = list(component_ids), list(milestone_ids)

    def values(chunk: list[int]) -> Select[str, int]:
        return select(literal("component", String), m.ComponentValue.component_id).where(
            m.ComponentValue.period_id == period_id,
            m.ComponentValue.is_current,
            m.ComponentValue.state.in_(RETURNED_STATES),
            m.ComponentValue.component_id.in_(chunk),
        )

    def statuses(chunk: list[int]) -> Select[str, int]:
        return select(literal("milestone", String), m.MilestoneUpdate.milestone_id).where(
            m.MilestoneUpdate.period_id == period_id,
            m.MilestoneUpdate.is_current,
            m.MilestoneUpdate.milestone_id.in_(chunk),
        )

    queries: list[Select[str, int] | CompoundSelect[str, int]]
    queries = [values(chunk) for chunk in _chunks(component_ids)]
    queries += [statuses(chunk) for chunk in _chunks(milestone_ids)]
    if len(queries) == 2 and max(len(component_ids), len(milestone_ids)) <= CHUNK:
        queries = [union_all(*queries)]
    found: set[tuple[str, int]] = set()
    for query in queries:
        found.update((kind, item_id) for kind, item_id in session.execute(query))
    return found


def item_key(item: DueItem | m.DataRequestItem) -> tuple[str, int]:
    if item.component_id is not None:
        return ("component", item.component_id)
    assert item.milestone_id is not None
    return ("milestone", item.milestone_id)


def _chunks(ids: list[int], size: int = CHUNK) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]
