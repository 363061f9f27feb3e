"""What a reply's figures are compared with, read once for the apply and confirm stages.

Two stages of a data reply look at a component's past: ``apply`` compares a new figure
with the component's last one and its figure a year before (plausibility, in
:class:`~mailcapture.mailflow.apply.Applier`), and ``confirm`` asks for commentary on the
request's indicators that are red or worsening once the reply is counted (the reports'
own rule, :func:`~mailcapture.reports.commentary.still_needing_commentary`). Both read
current values of the same components, so :func:`read_history` reads them in one
statement (issue 14), and :func:`rows_after_reply` computes the indicators from it and from
what the reply itself recorded, which is not flushed yet: the reports' computation
(:func:`~mailcapture.reports.queries.computed_rows`) without their queries, save one for
the indicators with their components and targets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, or_, select
from sqlalchemy.orm import Session

from mailcapture.db import models as m
from mailcapture.domain.enums import SubmissionState
from mailcapture.domain.periods import PeriodKind, parse_period
from mailcapture.domain.plausibility import Reference
from mailcapture.reports.queries import (
    POINT_COLUMNS,
    Compared,
    IndicatorRow,
    component_point,
    computed_rows,
    indicators_with_targets,
    series_of,
    used_codes,
)
from mailcapture.reports.values import ComponentPoint

__all__ = ["History", "read_history", "rows_after_reply"]

#: "last month", "last quarter", "last year": the period before, in the sender's words.
_KIND_WORDS = {PeriodKind.MONTH: "month", PeriodKind.QUARTER: "quarter", PeriodKind.YEAR: "year"}

#: The states a report counts (a current row in any other state is not a figure).
_COUNTED = (SubmissionState.ACCEPTED, SubmissionState.NOT_AVAILABLE)


@dataclass
class History:
    """Each component's references (for plausibility), and the stored points of the
    periods an indicator for the request's period is computed from (for commentary)."""

    references: dict[int, list[Reference]] = field(default_factory=dict)
    points: dict[int, dict[str, ComponentPoint]] = field(default_factory=lambda: defaultdict(dict))


def read_history(
    session: Session,
    period: m.Period,
    answered: Iterable[int],
    indicator_ids: Iterable[int] = (),
    compared: Compared | None = None,
) -> History:
    """One statement: the references of the ``answered`` components, and (with
    ``compared``) every current counted value of the indicators' components in the
    periods their figures for ``period`` are computed from.

    Only figures that count (current and accepted) are references: a held or rejected
    figure is no evidence of what is normal. They are the last one before this period
    (of the same length) and the one for the same period last year.
    """
    answered = sorted(set(answered))
    indicator_ids = sorted(set(indicator_ids))
    this = parse_period(period.code)
    year_before = this.same_period_last_year().code
    with_series = compared is not None and bool(indicator_ids)
    history = History()
    if not answered and not with_series:
        return history
    last: dict[int, tuple[str, Decimal]] = {}
    year: dict[int, Decimal] = {}
    params: dict[str, object] = {}
    if answered:
        params |= {"answered": answered, "kind": period.kind, "start": period.start_date}
    if with_series:
        assert compared is not None
        params |= {"indicators": indicator_ids, "stored": compared.stored_codes}
    rows = session.execute(_history_query(bool(answered), with_series), params)
    stored = set(compared.stored_codes) if compared is not None else set()
    for component_id, code, kind, end_date, *point in rows:
        state, value = point[0], point[1]
        if code in stored:
            history.points[component_id][code] = component_point(*point)
        if (
            component_id in answered
            and state is SubmissionState.ACCEPTED
            and value is not None
            and kind == period.kind
            and end_date < period.start_date
        ):
            last[component_id] = (code, value)  # ordered by end date: the latest wins
            if code == year_before:
                year[component_id] = value
    for component_id in answered:
        found: list[Reference] = []
        if component_id in last:
            code, value = last[component_id]
            label = (
                f"last {_KIND_WORDS[PeriodKind(period.kind)]}"
                if code == this.previous().code
                else parse_period(code).label
            )
            found.append(Reference(label, value))
        if component_id in year and last[component_id][0] != year_before:
            found.append(Reference(parse_period(year_before).label, year[component_id]))
        history.references[component_id] = found
    return history


@cache
def _history_query(references: bool, series: bool) -> Select[*tuple[Any, ...]]:
    """:func:`read_history`'s statement, built once per shape with bound parameters
    (``answered``, ``kind``, ``start``; ``indicators``, ``stored``): building it cost more
    than running it."""
    wanted = []
    if references:
        wanted.append(
            and_(
                m.ComponentValue.component_id.in_(bindparam("answered", expanding=True)),
                m.ComponentValue.state == SubmissionState.ACCEPTED,
                m.ComponentValue.value.is_not(None),
                m.Period.kind == bindparam("kind", type_=m.Period.kind.type),
                m.Period.end_date < bindparam("start", type_=m.Period.end_date.type),
            )
        )
    if series:
        linked = select(m.IndicatorComponent.component_id).where(
            m.IndicatorComponent.indicator_id.in_(bindparam("indicators", expanding=True))
        )
        wanted.append(
            and_(
                m.ComponentValue.component_id.in_(linked),
                m.Period.code.in_(bindparam("stored", expanding=True)),
            )
        )
    return (
        select(
            m.ComponentValue.component_id,
            m.Period.code,
            m.Period.kind,
            m.Period.end_date,
            *POINT_COLUMNS,
        )
        .join(m.Period, m.Period.id == m.ComponentValue.period_id)
        .where(m.ComponentValue.is_current, m.ComponentValue.state.in_(_COUNTED), or_(*wanted))
        .order_by(m.Period.end_date)
    )


def rows_after_reply(
    session: Session,
    compared: Compared,
    indicator_ids: Iterable[int],
    history: History,
    current: Mapping[int, m.ComponentValue | None],
) -> list[IndicatorRow]:
    """The indicators as they stand with the reply counted: ``history``'s stored points,
    with the request period's point of each component in ``current`` (the apply stage's
    current value after the reply, None for none) taking the place of the stored one."""
    indicators, links, targets = indicators_with_targets(
        session, indicator_ids, compared.target_codes
    )
    code = compared.period.code
    points = {component_id: dict(found) for component_id, found in history.points.items()}
    for component_id, value in current.items():
        here = points.setdefault(component_id, {})
        here.pop(code, None)
        if value is not None and value.is_current and value.state in _COUNTED:
            here[code] = component_point(
                value.state,
                value.value,
                value.reason,
                bool(value.late),
                bool(value.estimated),
                value.source,
                value.replaces_id,
                value.received_at,
            )
    return computed_rows(compared, indicators, used_codes(links), series_of(links, points), targets)
