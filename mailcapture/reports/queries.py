"""Load what :mod:`.values` needs from the database, in a fixed handful of queries.

:func:`indicator_values` computes every indicator (or a chosen few) for one period, with
the previous period and the same period last year for the direction of travel. It issues
the same five statements however many indicators there are: the indicators with the
components their formulas use, the current component values, the targets, the sign-offs
and when reports first covered the periods (the last two only for the flags), each
filtered by a sub-select of the chosen indicators rather than by a list of ids, so no
statement grows with the register either.

Decisions worth knowing:

* ``revised after reporting``: a correction behind the figure (a component value that
  replaced an earlier one) arrived after a report first covered the period or a part of it.
* A **cumulative** indicator (a year-to-date collection rate) is compared with the same
  period last year for its direction of travel: against the previous period it would
  "worsen" every April and "improve" every other month.
* Only the *current* row of each component and period counts, and only if it is accepted
  or "not available"; rejected and superseded rows are history.
* Without ``codes`` retired indicators are left out; asking for codes explicitly returns
  them even if retired (a report on last year may need them). Codes are matched
  case-insensitively, as the register compares them; an unknown code is an error.
* ``provisional``: a value is final once its owner's current sign-off for the period is
  an approval, or every period the indicator is collected for within it is approved (a
  quarter of a monthly indicator whose three months are signed off), or every value behind
  it came from the register's history (figures published before mailcapture) and no
  owner has queried it. A period with no value is not flagged provisional: there is
  nothing to sign off.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from mailcapture.db import models as m
from mailcapture.domain.enums import (
    Aggregation,
    Frequency,
    Polarity,
    SignoffDecision,
    SubmissionSource,
    SubmissionState,
    ToleranceKind,
)
from mailcapture.domain.formulas import Formula, FormulaError, parse_formula, single_component
from mailcapture.domain.frequency import COLLECTED_KIND
from mailcapture.domain.periods import Period, PeriodError, PeriodKind
from mailcapture.reports.values import (
    PROVISIONAL,
    REVISED,
    ComponentPoint,
    ComponentSeries,
    IndicatorValue,
    Rag,
    TargetLevel,
    Trend,
    collected_periods,
    direction,
    indicator_value,
    rag,
    target_for,
)

#: An indicator's id and one component its formula uses: id, code, aggregation, frequency.
_Link = tuple[int, int, str, Aggregation, Frequency]


@dataclass(frozen=True)
class IndicatorRow:
    """One indicator for one period, ready for a report."""

    code: str
    title: str
    unit: str
    decimals: int
    polarity: Polarity
    frequency: Frequency
    current: IndicatorValue
    #: What the direction of travel compares with: the previous period, or for a
    #: cumulative (year-to-date) indicator the same period last year.
    previous: IndicatorValue | None
    last_year: IndicatorValue | None
    #: The target that applies (the period's own, else its quarter's, else the year's).
    target: TargetLevel | None
    rag: Rag
    #: Direction of travel since ``previous``.
    trend: Trend
    #: Direction of travel since the same period last year.
    trend_year: Trend

    @property
    def value(self) -> Decimal | None:
        return self.current.value

    @property
    def reason(self) -> str | None:
        return self.current.reason

    @property
    def flags(self) -> frozenset[str]:
        return self.current.flags


def indicator_values(
    session: Session, period: Period, codes: Iterable[str] | None = None, *, flags: bool = True
) -> list[IndicatorRow]:
    """Every chosen indicator's value, target, RAG and trends for ``period``, by code.

    ``flags=False`` leaves out the provisional and revised flags, and the two statements
    (sign-offs, first reports) that find them: for a caller that needs only the figures,
    the RAG and the trend (a reply's confirmation asking for commentary).
    """
    previous = _safely(period.previous)
    last_year = _safely(period.same_period_last_year)
    compared = [p for p in (period, previous, last_year) if p is not None]
    stored_codes = sorted({p.code for c in compared for p in _stored_periods(c)})
    target_codes = [p.code for p in _with_ancestors(period)]

    chosen = select(m.Indicator.id)
    if codes is None:
        chosen = chosen.where(m.Indicator.retired_at.is_(None))
    else:
        wanted = sorted({c.casefold() for c in codes})
        chosen = chosen.where(func.lower(m.Indicator.code).in_(wanted))

    indicators, links = _load_indicators(session, chosen, codes)
    series, used = _load_series(session, chosen, stored_codes, links)
    targets = _load_targets(session, chosen, target_codes)
    decisions = _load_approvals(session, chosen, stored_codes) if flags else {}
    reported = (
        _first_reports(session, sorted({p.code for p in compared} | set(stored_codes)))
        if flags
        else {}
    )

    rows = []
    for ind in indicators:
        formula = _formula(ind, used.get(ind.id, []))
        computed = {}
        for p in compared:
            if isinstance(formula, str):
                value = IndicatorValue(ind.code, p.code, None, formula)
            else:
                value = indicator_value(formula, ind.decimals, series, p, code=ind.code)
            if (
                flags
                and value.value is not None
                and _provisional(decisions[ind.id], ind.frequency, p, series, used.get(ind.id, []))
            ):
                value = value.with_flags(PROVISIONAL)
            if value.value is not None and _revised(series, used.get(ind.id, []), p, reported):
                value = value.with_flags(REVISED)
            computed[p] = value
        current = computed[period]
        year_ago = computed.get(last_year) if last_year else None
        # A year-to-date figure always falls from Q4 to Q1 and rises within the year:
        # only the same point of last year says whether it is doing better.
        before = year_ago if ind.cumulative else computed.get(previous) if previous else None
        target = target_for(targets[ind.id], period)
        rows.append(
            IndicatorRow(
                code=ind.code,
                title=ind.title,
                unit=ind.unit,
                decimals=ind.decimals,
                polarity=ind.polarity,
                frequency=ind.frequency,
                current=current,
                previous=before,
                last_year=year_ago,
                target=target,
                rag=rag(
                    current.value,
                    target.value if target else None,
                    target.tolerance if target else None,
                    target.tolerance_kind if target else ToleranceKind.ABSOLUTE,
                    ind.polarity,
                ),
                trend=direction(current.value, before.value if before else None, ind.polarity),
                trend_year=direction(
                    current.value, year_ago.value if year_ago else None, ind.polarity
                ),
            )
        )
    return rows


# -------------------------------------------------------------------------- queries


def _load_indicators(
    session: Session, chosen: Select[int], codes: Iterable[str] | None
) -> tuple[list[m.Indicator], list[_Link]]:
    """The chosen indicators in code order, with the components their formulas use.

    One statement: each indicator comes once per component (an outer join, so one with no
    component still comes), and the identity map makes the repeats one object.
    """
    result = session.execute(
        select(
            m.Indicator,
            m.Component.id,
            m.Component.code,
            m.Component.aggregation,
            m.Component.frequency,
        )
        .outerjoin(m.IndicatorComponent, m.IndicatorComponent.indicator_id == m.Indicator.id)
        .outerjoin(m.Component, m.Component.id == m.IndicatorComponent.component_id)
        .where(m.Indicator.id.in_(chosen))
        .order_by(m.Indicator.code, m.Component.code)
    )
    indicators: dict[int, m.Indicator] = {}
    links: list[_Link] = []
    for indicator, component_id, code, aggregation, frequency in result:
        indicators.setdefault(indicator.id, indicator)
        if component_id is not None:
            links.append((indicator.id, component_id, code, aggregation, frequency))
    if codes is not None:
        found = {code.casefold() for code in (ind.code for ind in indicators.values())}
        unknown = sorted({c for c in codes if c.casefold() not in found})
        if unknown:
            raise LookupError(f"unknown indicator code(s): {', '.join(unknown)}")
    return list(indicators.values()), links


def _load_series(
    session: Session, chosen: Select[int], stored_codes: list[str], links: list[_Link]
) -> tuple[dict[str, ComponentSeries], dict[int, list[str]]]:
    """Each used component's current values, and which component codes each indicator uses."""
    used: dict[int, list[str]] = defaultdict(list)
    kinds: dict[int, tuple[str, Aggregation, Frequency]] = {}
    for indicator_id, component_id, code, aggregation, frequency in links:
        used[indicator_id].append(code)
        kinds[component_id] = (code, aggregation, frequency)

    component_ids = select(m.IndicatorComponent.component_id).where(
        m.IndicatorComponent.indicator_id.in_(chosen)
    )
    points: dict[int, dict[str, ComponentPoint]] = defaultdict(dict)
    if stored_codes:
        result = session.execute(
            select(
                m.ComponentValue.component_id,
                m.Period.code,
                m.ComponentValue.state,
                m.ComponentValue.value,
                m.ComponentValue.reason,
                m.ComponentValue.late,
                m.ComponentValue.estimated,
                m.ComponentValue.source,
                m.ComponentValue.replaces_id,
                m.ComponentValue.received_at,
            )
            .join(m.Period, m.Period.id == m.ComponentValue.period_id)
            .where(
                m.ComponentValue.is_current,
                m.ComponentValue.state.in_(
                    [SubmissionState.ACCEPTED, SubmissionState.NOT_AVAILABLE]
                ),
                m.Period.code.in_(stored_codes),
                m.ComponentValue.component_id.in_(component_ids),
            )
        )
        for row in result:
            component_id, period_code, state, value, reason, late, estimated, source = row[:8]
            historical = source is SubmissionSource.HISTORY
            corrected = row.received_at if row.replaces_id is not None else None
            if state is SubmissionState.NOT_AVAILABLE:
                point = ComponentPoint(
                    None, reason or "", late, estimated, historical, corrected_at=corrected
                )
            else:
                point = ComponentPoint(
                    value, None, late, estimated, historical, corrected_at=corrected
                )
            points[component_id][period_code] = point
    series = {
        code: ComponentSeries(code, aggregation, frequency, points.get(component_id, {}))
        for component_id, (code, aggregation, frequency) in kinds.items()
    }
    return series, used


def _load_targets(
    session: Session, chosen: Select[int], target_codes: list[str]
) -> dict[int, dict[str, TargetLevel]]:
    targets: dict[int, dict[str, TargetLevel]] = defaultdict(dict)
    result = session.execute(
        select(
            m.Target.indicator_id,
            m.Period.code,
            m.Target.value,
            m.Target.tolerance,
            m.Target.tolerance_kind,
        )
        .join(m.Period, m.Period.id == m.Target.period_id)
        .where(m.Period.code.in_(target_codes), m.Target.indicator_id.in_(chosen))
    )
    for indicator_id, period_code, value, tolerance, kind in result:
        targets[indicator_id][period_code] = TargetLevel(value, tolerance, kind, period_code)
    return targets


def _load_approvals(
    session: Session, chosen: Select[int], stored_codes: list[str]
) -> dict[int, dict[str, SignoffDecision]]:
    """The current sign-off decision per indicator and period code."""
    decisions: dict[int, dict[str, SignoffDecision]] = defaultdict(dict)
    if not stored_codes:
        return decisions
    result = session.execute(
        select(m.Signoff.indicator_id, m.Period.code, m.Signoff.decision)
        .join(m.Period, m.Period.id == m.Signoff.period_id)
        .where(
            m.Signoff.is_current,
            m.Period.code.in_(stored_codes),
            m.Signoff.indicator_id.in_(chosen),
        )
    )
    for indicator_id, period_code, decision in result:
        decisions[indicator_id][period_code] = decision
    return decisions


# -------------------------------------------------------------------------- helpers


def _formula(indicator: m.Indicator, components: list[str]) -> Formula | str:
    """The indicator's parsed formula, or the reason it has none."""
    try:
        if indicator.formula:
            return parse_formula(indicator.formula)
        if len(components) == 1:
            return single_component(components[0])
    except FormulaError as error:
        return f"formula cannot be read: {error}"
    return "no formula and not exactly one component"


def _provisional(
    decisions: dict[str, SignoffDecision],
    frequency: Frequency,
    period: Period,
    series: dict[str, ComponentSeries],
    codes: list[str],
) -> bool:
    """Not yet final: not signed off, and either queried or not all from the history."""
    approved = {code for code, d in decisions.items() if d is SignoffDecision.APPROVED}
    if _signed_off(approved, frequency, period):
        return False
    parts = collected_periods(COLLECTED_KIND[Frequency(frequency)], period) or [period]
    if any(decisions.get(p.code) is SignoffDecision.QUERIED for p in {period, *parts}):
        return True  # an owner's query reopens even a historical figure
    return not _historical(series, codes, period)


def _signed_off(approved: set[str], frequency: Frequency, period: Period) -> bool:
    if period.code in approved:
        return True
    parts = collected_periods(COLLECTED_KIND[Frequency(frequency)], period)
    return parts is not None and len(parts) > 1 and all(p.code in approved for p in parts)


def _first_reports(session: Session, codes: list[str]) -> dict[str, datetime]:
    """When a report first covered each period (any report email queued for it)."""
    if not codes:
        return {}
    return dict(
        session.execute(
            select(m.Period.code, func.min(m.ReportRun.created_at))
            .join(m.ReportRun, m.ReportRun.period_id == m.Period.id)
            .where(
                m.Period.code.in_(codes),
                # An owner asked to choose between figures (mailflow.value_choices) was
                # shown no report: the question does not make the period reported.
                m.ReportRun.report_kind != "value_choice",
            )
            .group_by(m.Period.code)
        ).all()
    )


def _revised(
    series: dict[str, ComponentSeries],
    codes: list[str],
    period: Period,
    reported: dict[str, datetime],
) -> bool:
    """A correction behind the figure arrived after a report first showed the period.

    The period counts as reported once a report covered it or any part of it (an owner
    report for June shows the quarter too), so a member who read the earlier figure can
    be told it has since changed.
    """
    codes_in = (period.code, *(p.code for p in _stored_periods(period)))
    times = [reported[c] for c in codes_in if c in reported]
    if not times:
        return False
    first = min(times)
    return any(
        point.corrected_at is not None and point.corrected_at > first
        for point in _points_behind(series, codes, period)
    )


def _historical(series: dict[str, ComponentSeries], codes: list[str], period: Period) -> bool:
    """Every value behind the figure came from the register's history, so it is final.

    History is what the council published before mailcapture (``history-*.yaml``): there
    is no owner's sign-off to wait for, and calling last year's outturn "provisional"
    would be wrong in a report to members.
    """
    points = list(_points_behind(series, codes, period))
    return bool(points) and all(point.historical for point in points)


def _points_behind(
    series: dict[str, ComponentSeries], codes: list[str], period: Period
) -> Iterator[ComponentPoint]:
    """The stored component values a figure for ``period`` is computed from."""
    for code in codes:
        one = series.get(code)
        if one is None:
            continue
        for part in collected_periods(one.collected_kind, period) or []:
            point = one.values.get(part.code)
            if point is not None:
                yield point


def _stored_periods(period: Period) -> list[Period]:
    """Every period a value inside ``period`` may be stored under, whatever its frequency."""
    found: list[Period] = []
    for kind in (PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.YEAR):
        found.extend(collected_periods(kind, period) or [])
    return found


def _with_ancestors(period: Period) -> list[Period]:
    chain: list[Period] = []
    candidate: Period | None = period
    while candidate is not None:
        chain.append(candidate)
        candidate = candidate.parent()
    return chain


def _safely(step: Callable[[], Period]) -> Period | None:
    """``period.previous()`` and the like, or None at the edge of the supported range."""
    try:
        return step()
    except PeriodError:
        return None
