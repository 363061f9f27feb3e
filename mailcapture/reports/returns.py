"""Completeness and timeliness of returns: how much of what was asked for came in, and when.

A *return* here is one line of a data request (a component value or a milestone status):
``expected`` counts the request items for the period, ``received`` those returned by
``now``, and ``on_time`` those returned by the request's due date. The figures go in the
performance team's returns summary and in the quarterly report, so they are computed in
one place, from the request items themselves rather than from the values table: an item
answered "not available" is a return (the updater answered), and a value loaded from
history is not (nobody was asked for it).

Decisions worth knowing:

* For a quarter or a year, the requests for every period inside it count too (the
  monthly requests of a quarter's three months), since that is what "returns for Q1" means
  to a performance team.
* Both shares are of ``expected``: timeliness is "the share of what was asked for that
  arrived on time", so a late item lowers it even once it has arrived. A share is None
  when nothing was expected (no figure rather than a misleading 100%).
* Cancelled requests are left out: nothing is owed on them.
* An item belongs to the service area of its indicator (component lines) or of its
  project (milestone lines), not to the person asked, who may sit elsewhere.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailcapture.db import models as m
from mailcapture.domain.enums import RequestState
from mailcapture.domain.periods import Period

_SHARE_PLACES = Decimal("0.000001")


@dataclass(frozen=True)
class ReturnsRow:
    """Returns for one service area, one department (``service_area`` None) or the total."""

    department: str | None
    service_area: str | None
    expected: int
    received: int
    on_time: int
    completeness: Decimal | None
    timeliness: Decimal | None
    department_code: str | None = None
    service_area_code: str | None = None


@dataclass(frozen=True)
class ReturnsStatus:
    period: Period
    rows: list[ReturnsRow] = field(default_factory=list)
    departments: list[ReturnsRow] = field(default_factory=list)
    total: ReturnsRow | None = None


def share(part: int, whole: int) -> Decimal | None:
    """``part / whole`` as a 0..1 share, None when ``whole`` is 0.

    Six places, half-up: enough that a percentage rounded to one place from it is the
    one people would work out (3 / 17 is 17.6%, not the 17.7% that four places give).
    """
    if whole == 0:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(_SHARE_PLACES, rounding=ROUND_HALF_UP)


def percent_text(value: Decimal | None) -> str:
    """A share as people read it in an email: ``0.9167`` -> ``91.7%``; None -> ``-``."""
    if value is None:
        return "-"
    return f"{(value * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"


def _row(
    department: tuple[str, str] | None, area: tuple[str, str] | None, counts: list[int]
) -> ReturnsRow:
    expected, received, on_time = counts
    return ReturnsRow(
        department=department[1] if department else None,
        service_area=area[1] if area else None,
        expected=expected,
        received=received,
        on_time=on_time,
        completeness=share(received, expected),
        timeliness=share(on_time, expected),
        department_code=department[0] if department else None,
        service_area_code=area[0] if area else None,
    )


def returns_status(
    session: Session, period: Period, now: datetime, *, only: bool = False
) -> ReturnsStatus:
    """Expected, received and on-time returns for ``period`` by service area and department.

    ``only``: just the requests for ``period`` itself, not those for the periods inside it
    (the quarterly returns summary is about the quarterly returns).
    """
    area_id = func.coalesce(m.Indicator.service_area_id, m.Project.service_area_id)
    query = (
        select(
            area_id,
            m.DataRequestItem.returned_at,
            m.DataRequest.due_at,
        )
        .join(m.DataRequest, m.DataRequest.id == m.DataRequestItem.request_id)
        .join(m.Period, m.Period.id == m.DataRequest.period_id)
        .outerjoin(m.Indicator, m.Indicator.id == m.DataRequestItem.indicator_id)
        .outerjoin(m.Milestone, m.Milestone.id == m.DataRequestItem.milestone_id)
        .outerjoin(m.Project, m.Project.id == m.Milestone.project_id)
        .where(m.DataRequest.state != RequestState.CANCELLED)
    )
    if only:
        query = query.where(m.Period.code == period.code)
    else:
        query = query.where(m.Period.start_date >= period.start, m.Period.end_date <= period.end)
    counts: dict[int | None, list[int]] = defaultdict(lambda: [0, 0, 0])
    for area, returned_at, due_at in session.execute(query):
        tally = counts[area]
        tally[0] += 1
        if returned_at is not None and returned_at <= now:
            tally[1] += 1
            if returned_at <= due_at:
                tally[2] += 1

    # Keyed like ``counts``: items of no service area (None) fall back to the default below.
    names: dict[int | None, tuple[tuple[str, str], tuple[str, str]]] = {
        area.id: ((area.department.code, area.department.name), (area.code, area.name))
        for area in session.scalars(
            select(m.ServiceArea).where(m.ServiceArea.id.in_([a for a in counts if a]))
        )
    }
    rows: list[ReturnsRow] = []
    by_department: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    total = [0, 0, 0]
    for counted_area, tally in counts.items():
        department, service_area = names.get(counted_area, (("", "(no service area)"), ("", "")))
        rows.append(_row(department, service_area if counted_area in names else None, tally))
        for i in range(3):
            by_department[department][i] += tally[i]
            total[i] += tally[i]
    rows.sort(key=lambda r: (r.department or "", r.service_area or ""))
    departments = [
        _row(dept, None, tally) for dept, tally in sorted(by_department.items(), key=_name)
    ]
    return ReturnsStatus(period, rows, departments, _row(None, None, total))


def _name(item: tuple[tuple[str, str], list[int]]) -> str:
    return item[0][1]
