"""What is due from whom for a period, and what is still outstanding.

Everything for one period is read in a handful of set-based queries (not one query per
person or item), so queueing a period's requests stays fast for a shared service with
tens of thousands of updaters.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CompoundSelect, Select, String, literal, or_, select, union_all
from sqlalchemy.orm import Session

from mailcapture.db import models as m
from mailcapture.domain.completion import StatusAnswer, finished_before
from mailcapture.domain.enums import Frequency, MilestoneStatus, SubmissionState
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
    """Milestones of live projects: started by the period's end, not finished before it.

    Finished means what :func:`~mailcapture.domain.completion.finished_before` says: the
    register's date, or a "complete" answered for an earlier period (unless answered again
    since, or the register edited after it). A project whose overall line was answered
    "complete" is finished as a whole: none of its milestones is asked for.
    """
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
    rows = [
        (project, milestone)
        for project, milestone in session.execute(query)
        if _live(project.start_date, project.completed_on, period)
    ]
    answers = status_answers(session, [ms.id for _, ms in rows], period.start)
    edits = milestone_edits(session) if any(a.complete for a in answers.values()) else {}

    def finished(milestone: m.Milestone) -> bool:
        return finished_before(
            period.start,
            planned=milestone.completed_on,
            answer=answers.get(milestone.id),
            register_edited_at=edits.get(milestone.code.casefold()),
        )

    closed = {project.id for project, ms in rows if ms.is_overall and finished(ms)}
    for project, milestone in rows:
        if project.id in closed:
            continue
        if not milestone.is_overall and (
            (milestone.start_date is not None and milestone.start_date > period.end)
            or finished(milestone)
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


def status_answers(
    session: Session, milestone_ids: list[int], before: date
) -> dict[int, StatusAnswer]:
    """Each milestone's latest current status answered for a period ending before ``before``.

    The latest period wins, and within it the latest row, as in the reports
    (:func:`mailcapture.reports.milestones.latest_statuses`).
    """
    found: dict[int, StatusAnswer] = {}
    for chunk in _chunks(sorted(set(milestone_ids))):
        rows = session.execute(
            select(
                m.MilestoneUpdate.milestone_id,
                m.MilestoneUpdate.status,
                m.MilestoneUpdate.received_at,
            )
            .join(m.Period, m.Period.id == m.MilestoneUpdate.period_id)
            .where(
                m.MilestoneUpdate.milestone_id.in_(chunk),
                m.MilestoneUpdate.is_current,
                m.MilestoneUpdate.state == SubmissionState.ACCEPTED,
                m.Period.end_date < before,
            )
            .order_by(m.Period.end_date, m.MilestoneUpdate.id)
        )
        for milestone_id, status, received_at in rows:
            found[milestone_id] = StatusAnswer(status is MilestoneStatus.COMPLETE, received_at)
    return found


def milestone_edits(session: Session) -> dict[str, datetime]:
    """When the register last added, changed or restored each milestone (code casefolded).

    Read from the loads' records of what changed (``register_loads.changes``), so no column
    is needed for it; a load that changed nothing leaves no record.
    """
    edits: dict[str, datetime] = {}
    loads = session.execute(
        select(m.RegisterLoad.loaded_at, m.RegisterLoad.changes).order_by(
            m.RegisterLoad.loaded_at, m.RegisterLoad.id
        )
    )
    for loaded_at, changes in loads:
        milestones = (changes or {}).get("milestones") or {}
        for what in ("added", "updated", "restored"):
            for code in milestones.get(what) or ():
                edits[str(code).casefold()] = loaded_at
    return edits


def _live(start: date | None, completed: date | None, period: Period) -> bool:
    started = start is None or start <= period.end
    finished = completed is not None and completed < period.start
    return started and not finished


def returned_keys(
    session: Session, period_id: int, component_ids: Iterable[int], milestone_ids: Iterable[int]
) -> set[tuple[str, int]]:
    """Which of these items already have a current value or status for the period.

    "Not available" is a return (the updater answered), but "not available until DATE" is
    not: it is a promise, and the item stays outstanding until the figure comes (see
    :func:`promised_dates` and :mod:`mailcapture.schedule.deferred`).

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
            # "Not available until 8 July" is a promise, not a return: still outstanding.
            or_(
                m.ComponentValue.state != SubmissionState.NOT_AVAILABLE,
                m.ComponentValue.available_from.is_(None),
            ),
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


def promised_dates(
    session: Session, period_id: int, component_ids: Iterable[int]
) -> dict[tuple[str, int], date]:
    """The items answered "not available until DATE" for the period, with that date.

    Read from the current value (not the request line's ``snoozed_until``), so a later
    answer settles it whichever form it came on: a figure or a plain "not available" ends
    the promise, a new date replaces it.
    """
    found: dict[tuple[str, int], date] = {}
    for chunk in _chunks(sorted(set(component_ids))):
        rows = session.execute(
            select(m.ComponentValue.component_id, m.ComponentValue.available_from).where(
                m.ComponentValue.period_id == period_id,
                m.ComponentValue.is_current,
                m.ComponentValue.state == SubmissionState.NOT_AVAILABLE,
                m.ComponentValue.available_from.is_not(None),
                m.ComponentValue.component_id.in_(chunk),
            )
        )
        for component_id, available_from in rows:
            if available_from is not None:  # always, by the query; said for the type checker
                found[("component", component_id)] = available_from
    return found


def waiting_for_choice(
    session: Session, period_id: int, component_ids: Iterable[int]
) -> set[tuple[str, int]]:
    """The items whose differing figures wait for the indicator's owner to choose (issue 15,
    part 9): outstanding, since nothing counts yet, but the updaters have answered, so they
    are not chased for them (``schedule/choice_chase.py`` chases the owner)."""
    found: set[tuple[str, int]] = set()
    for chunk in _chunks(sorted(set(component_ids))):
        found.update(
            ("component", component_id)
            for component_id in session.scalars(
                select(m.ComponentValue.component_id)
                .where(
                    m.ComponentValue.period_id == period_id,
                    m.ComponentValue.state == SubmissionState.CONFLICTING,
                    m.ComponentValue.component_id.in_(chunk),
                )
                .distinct()
            )
        )
    return found


def counts_as_returned(value: m.ComponentValue) -> bool:
    """Whether a current value is a return: the rule of :func:`returned_keys`, for a row
    already in memory (a reply's applier has every item's current value)."""
    return value.state in RETURNED_STATES and not (
        value.state is SubmissionState.NOT_AVAILABLE and value.available_from is not None
    )


def item_key(item: DueItem | m.DataRequestItem) -> tuple[str, int]:
    if item.component_id is not None:
        return ("component", item.component_id)
    assert item.milestone_id is not None
    return ("milestone", item.milestone_id)


def _chunks(ids: list[int], size: int = CHUNK) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]
