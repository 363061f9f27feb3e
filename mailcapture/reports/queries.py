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
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import BindParameter, Select, bindparam, func, select
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


@dataclass(frozen=True)
class Compared:
    """The periods a figure for ``period`` is compared with, and the codes to read for it."""

    period: Period
    previous: Period | None
    last_year: Period | None
    #: Every period a value behind the three figures may be stored under.
    stored_codes: list[str]
    #: The period and its ancestors: the targets that may apply.
    target_codes: list[str]

    @property
    def periods(self) -> list[Period]:
        return [p for p in (self.period, self.previous, self.last_year) if p is not None]


def compared_with(period: Period) -> Compared:
    previous = _safely(period.previous)
    last_year = _safely(period.same_period_last_year)
    periods = [p for p in (period, previous, last_year) if p is not None]
    return Compared(
        period,
        previous,
        last_year,
        sorted({p.code for c in periods for p in _stored_periods(c)}),
        [p.code for p in _with_ancestors(period)],
    )


def indicator_values(
    session: Session, period: Period, codes: Iterable[str] | None = None, *, flags: bool = True
) -> list[IndicatorRow]:
    """Every chosen indicator's value, target, RAG and trends for ``period``, by code.

    ``flags=False`` leaves out the provisional and revised flags, and the two statements
    (sign-offs, first reports) that find them: for a caller that needs only the figures,
    the RAG and the trend.
    """
    compared = compared_with(period)
    stored_codes = compared.stored_codes

    chosen = select(m.Indicator.id)
    if codes is None:
        chosen = chosen.where(m.Indicator.retired_at.is_(None))
    else:
        wanted = sorted({c.casefold() for c in codes})
        chosen = chosen.where(func.lower(m.Indicator.code).in_(wanted))

    indicators, links = _load_indicators(session, chosen, codes)
    series, used = _load_series(session, chosen, stored_codes, links)
    targets = _load_targets(session, chosen, compared.target_codes)
    decisions = _load_approvals(session, chosen, stored_codes) if flags else {}
    reported = (
        _first_reports(session, sorted({p.code for p in compared.periods} | set(stored_codes)))
        if flags
        else {}
    )
    return computed_rows(
        compared, indicators, used, series, targets, decisions if flags else None, reported
    )


def computed_rows(
    compared: Compared,
    indicators: Iterable[m.Indicator],
    used: Mapping[int, list[str]],
    series: dict[str, ComponentSeries],
    targets: Mapping[int, dict[str, TargetLevel]],
    decisions: Mapping[int, dict[str, SignoffDecision]] | None = None,
    reported: dict[str, datetime] | None = None,
) -> list[IndicatorRow]:
    """The rows of :func:`indicator_values` from what was read, asking the database nothing.

    ``decisions`` None: no provisional flag (the caller did not read the sign-offs); an
    empty ``reported``: no revised flag. A reply's commentary check calls this with the
    figures its apply stage read and wrote (``mailflow.data_replies``).
    """
    period, previous, last_year = compared.period, compared.previous, compared.last_year
    reported = reported or {}
    rows = []
    for ind in indicators:
        formula = _formula(ind, used.get(ind.id, []))
        computed = {}
        for p in compared.periods:
            if isinstance(formula, str):
                value = IndicatorValue(ind.code, p.code, None, formula)
            else:
                value = indicator_value(formula, ind.decimals, series, p, code=ind.code)
            if (
                decisions is not None
                and value.value is not None
                and _provisional(
                    decisions.get(ind.id, {}), ind.frequency, p, series, used.get(ind.id, [])
                )
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
        target = target_for(targets.get(ind.id, {}), period)
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
    result = session.execute(_with_components().where(m.Indicator.id.in_(chosen)))
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
    used = used_codes(links)
    component_ids = select(m.IndicatorComponent.component_id).where(
        m.IndicatorComponent.indicator_id.in_(chosen)
    )
    points: dict[int, dict[str, ComponentPoint]] = defaultdict(dict)
    if stored_codes:
        result = session.execute(
            select(m.ComponentValue.component_id, m.Period.code, *POINT_COLUMNS)
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
        for component_id, period_code, *point in result:
            points[component_id][period_code] = component_point(*point)
    return series_of(links, points), used


#: The columns :func:`component_point` takes, in its order (after component id and code).
POINT_COLUMNS = (
    m.ComponentValue.state,
    m.ComponentValue.value,
    m.ComponentValue.reason,
    m.ComponentValue.late,
    m.ComponentValue.estimated,
    m.ComponentValue.source,
    m.ComponentValue.replaces_id,
    m.ComponentValue.received_at,
)


def component_point(
    state: SubmissionState,
    value: Decimal | None,
    reason: str | None,
    late: bool,
    estimated: bool,
    source: SubmissionSource,
    replaces_id: int | None,
    received_at: datetime | None,
) -> ComponentPoint:
    """A current accepted or "not available" value as the reports compute with it."""
    historical = source is SubmissionSource.HISTORY
    corrected = received_at if replaces_id is not None else None
    if state is SubmissionState.NOT_AVAILABLE:
        return ComponentPoint(
            None, reason or "", late, estimated, historical, corrected_at=corrected
        )
    return ComponentPoint(value, None, late, estimated, historical, corrected_at=corrected)


def series_of(
    links: Iterable[_Link], points: Mapping[int, Mapping[str, ComponentPoint]]
) -> dict[str, ComponentSeries]:
    """Each linked component's series, by component code, from its points by period code."""
    return {
        code: ComponentSeries(code, aggregation, frequency, dict(points.get(component_id, {})))
        for _, component_id, code, aggregation, frequency in links
    }


def used_codes(links: Iterable[_Link]) -> dict[int, list[str]]:
    """The component codes each indicator's formula may use, by indicator id."""
    used: dict[int, list[str]] = defaultdict(list)
    for indicator_id, _, code, _, _ in links:
        used[indicator_id].append(code)
    return used


@cache
def _with_targets() -> Select[Any]:
    """:func:`indicators_with_targets`'s statement, built once with bound parameters
    (``ids``, ``target_codes``): a reply's confirmation runs it, and building it cost more
    than running it."""
    ids: BindParameter[list[int]] = bindparam("ids", expanding=True)
    target = (
        select(m.Target.indicator_id, m.Period.code, *TARGET_COLUMNS)
        .join(m.Period, m.Period.id == m.Target.period_id)
        .where(
            m.Period.code.in_(bindparam("target_codes", expanding=True)),
            m.Target.indicator_id.in_(ids),
        )
        .subquery()
    )
    return (
        _with_components(target.c.code, target.c.value, target.c.tolerance, target.c.tolerance_kind)
        .outerjoin(target, target.c.indicator_id == m.Indicator.id)
        .where(m.Indicator.id.in_(ids))
    )


def _with_components(*extra: Any) -> Select[Any]:
    """Indicators in code order, each once per component its formula uses (outer joins, so
    one with no component still comes), with ``extra`` columns."""
    return (
        select(
            m.Indicator,
            m.Component.id,
            m.Component.code,
            m.Component.aggregation,
            m.Component.frequency,
            *extra,
        )
        .outerjoin(m.IndicatorComponent, m.IndicatorComponent.indicator_id == m.Indicator.id)
        .outerjoin(m.Component, m.Component.id == m.IndicatorComponent.component_id)
        .order_by(m.Indicator.code, m.Component.code)
    )


def indicators_with_targets(
    session: Session, indicator_ids: Iterable[int], target_codes: list[str]
) -> tuple[list[m.Indicator], list[_Link], dict[int, dict[str, TargetLevel]]]:
    """Indicators by id, in code order, with their components and their targets for
    ``target_codes``, in one statement (a reply's commentary check: few indicators, each
    with a few components and at most one target per code, so the outer joins' repeats
    are few and the identity map folds them)."""
    ids = sorted(set(indicator_ids))
    if not ids:
        return [], [], {}
    result = session.execute(_with_targets(), {"ids": ids, "target_codes": target_codes})
    indicators: dict[int, m.Indicator] = {}
    links: dict[tuple[int, int], _Link] = {}
    targets: dict[int, dict[str, TargetLevel]] = defaultdict(dict)
    for indicator, component_id, code, aggregation, frequency, *level in result:
        indicators.setdefault(indicator.id, indicator)
        if component_id is not None:
            links.setdefault(
                (indicator.id, component_id),
                (indicator.id, component_id, code, aggregation, frequency),
            )
        period_code, value, tolerance, kind = level
        if period_code is not None:
            targets[indicator.id][period_code] = TargetLevel(value, tolerance, kind, period_code)
    return list(indicators.values()), list(links.values()), targets


TARGET_COLUMNS = (m.Target.value, m.Target.tolerance, m.Target.tolerance_kind)


def _load_targets(
    session: Session, chosen: Select[int], target_codes: list[str]
) -> dict[int, dict[str, TargetLevel]]:
    targets: dict[int, dict[str, TargetLevel]] = defaultdict(dict)
    result = session.execute(
        select(m.Target.indicator_id, m.Period.code, *TARGET_COLUMNS)
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
