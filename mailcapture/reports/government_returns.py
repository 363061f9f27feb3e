"""Government and benchmarking returns: the LG Inform and Single Data List exports.

``mailcapture export returns --period YEAR --format lginform|sdl``. Each indicator's value
is the published figure :func:`mailcapture.reports.queries.indicator_values` computes for
every report, so a return can never disagree with the council's own reports. The
numerator and denominator are the two sides of the indicator's formula, each evaluated by
:meth:`Formula.evaluate` over the components aggregated for the period by
:func:`mailcapture.reports.values.aggregate` (a ratio of sums, never a sum of ratios).
Text cells are neutralised by :mod:`mailcapture.reports.export` like every other export.

Decisions worth knowing:

* **Numerator and denominator.** A formula ``N / D``, or ``k * N / D`` with a number ``k``
  (``100 * BV8a.1 / BV8a.2``, ``1000 * NI191.1 / HH.1``), has numerator ``N`` and
  denominator ``D``: the raw figures, unscaled and unrounded, as LG Inform publishes them
  beside a rate. Any other formula (a single component: a count, a level) has neither,
  and both cells are empty. They are given only with a value, so the three always agree.
* **LG Inform** (``lginform``): one row per value, long format, for the indicators with an
  ``lg_inform_id``, by metric id: the year, then each quarter followed by its months (the
  order of ``--period`` everywhere), each where the indicator can be computed for it (a
  quarterly indicator has no monthly rows) and has a value. A
  period without a value has no row: an upload must not carry blanks as figures. The
  indicators with no value for the year itself are listed in :attr:`Returns.gaps`, which
  the command prints on standard error. The area code is the register's
  ``council: ons_area_code``; without one the export is refused.
* **Single Data List** (``sdl``): the year's figures, one row per indicator with an
  ``sdl_reference``, in reference order, every one of them (an empty value when it cannot
  be computed yet, listed in :attr:`Returns.gaps` too): it is the list of what is owed. A
  reference names a data collection, which may carry several indicators (WasteDataFlow,
  082-00, carries both NI191 and NI192), so the indicator code is a column.
* Periods are mailcapture's codes (``2026/27``, ``2026/27 Q1``, ``2026-04``); retired
  indicators are left out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailcapture.db import models as m
from mailcapture.domain.enums import SubmissionState
from mailcapture.domain.formulas import (
    BinaryOp,
    Expr,
    Formula,
    FormulaError,
    Number,
    parse_formula,
    render,
)
from mailcapture.domain.periods import Period, PeriodKind, periods_within
from mailcapture.errors import UserError
from mailcapture.register.mail import council_settings
from mailcapture.reports.export import Table
from mailcapture.reports.queries import IndicatorRow, indicator_values
from mailcapture.reports.values import ComponentPoint, ComponentSeries, aggregate

LGINFORM_COLUMNS = (
    "ons_area_code",
    "lg_inform_id",
    "period",
    "value",
    "numerator",
    "denominator",
)
SDL_COLUMNS = (
    "sdl_reference",
    "indicator",
    "title",
    "period",
    "value",
    "numerator",
    "denominator",
)


class ReturnsError(UserError):
    """A government return that cannot be made: a period that is not a year, no area code."""


@dataclass(frozen=True)
class Returns:
    """A return's table, and the indicators it owes a figure for that has none yet."""

    table: Table
    #: ``(indicator code, why there is no value for the year)``, in the table's order.
    gaps: list[tuple[str, str]]


@dataclass(frozen=True)
class Ratio:
    """The two sides of a formula ``[k *] N / D``: what a rate is a rate of."""

    numerator: Formula
    denominator: Formula


def ratio_of(formula: Formula) -> Ratio | None:
    """``N`` and ``D`` of a formula ``N / D`` or ``k * N / D`` (``k`` a number); else None."""
    expr = formula.expr
    if not isinstance(expr, BinaryOp) or expr.op != "/":
        return None
    top: Expr = expr.left
    while isinstance(top, BinaryOp) and top.op == "*":
        if isinstance(top.left, Number):
            top = top.right
        elif isinstance(top.right, Number):
            top = top.left
        else:
            break
    return Ratio(Formula(render(top), top), Formula(render(expr.right), expr.right))


def require_year(period: Period) -> Period:
    if period.kind is not PeriodKind.YEAR:
        raise ReturnsError(
            f"--period: a return is for a financial year (e.g. {period.fy}/"
            f"{(period.fy + 1) % 100:02d}), not {period.code}"
        )
    return period


# ------------------------------------------------------------------------- the exports


def lginform_return(session: Session, year: Period) -> Returns:
    """Every value of the indicators with an LG Inform id, for the year and inside it."""
    require_year(year)
    area = council_settings(session).ons_area_code
    if area is None:
        raise ReturnsError(
            "the register gives no ONS area code: add `council: {ons_area_code: ...}` "
            "(see docs/register.md) and load it again"
        )
    indicators = _indicators(session, m.Indicator.lg_inform_id)
    figures = _Figures(session, indicators, year)
    rows: list[tuple[Any, ...]] = []
    gaps: list[tuple[str, str]] = []
    for ind in sorted(indicators, key=lambda i: (i.lg_inform_id or 0, i.code)):
        for period in periods_within(year):
            row = figures.row(ind, period)
            if row is None or row.value is None:
                if period == year:
                    gaps.append((ind.code, _why(row)))
                continue
            numerator, denominator = figures.parts(ind, period)
            rows.append((area, ind.lg_inform_id, period.code, row.value, numerator, denominator))
    return Returns(Table(LGINFORM_COLUMNS, rows), gaps)


def sdl_return(session: Session, year: Period) -> Returns:
    """The year's figure for every indicator with a Single Data List reference."""
    require_year(year)
    indicators = _indicators(session, m.Indicator.sdl_reference)
    figures = _Figures(session, indicators, year)
    rows: list[tuple[Any, ...]] = []
    gaps: list[tuple[str, str]] = []
    for ind in sorted(indicators, key=lambda i: (i.sdl_reference or "", i.code)):
        row = figures.row(ind, year)
        value = row.value if row is not None else None
        numerator, denominator = figures.parts(ind, year) if value is not None else (None, None)
        if value is None:
            gaps.append((ind.code, _why(row)))
        rows.append(
            (ind.sdl_reference, ind.code, ind.title, year.code, value, numerator, denominator)
        )
    return Returns(Table(SDL_COLUMNS, rows), gaps)


def _why(row: IndicatorRow | None) -> str:
    if row is None:
        return "not computed"
    return row.reason or "no value"


def _indicators(session: Session, column: Any) -> list[m.Indicator]:
    return list(
        session.scalars(
            select(m.Indicator)
            .where(column.is_not(None), m.Indicator.retired_at.is_(None))
            .order_by(m.Indicator.code)
        )
    )


# ------------------------------------------------------------------------- the figures


class _Figures:
    """The values (computed once per period for all the chosen indicators) and the
    components behind them (loaded once for the year)."""

    def __init__(self, session: Session, indicators: Sequence[m.Indicator], year: Period) -> None:
        self.session = session
        self.codes = [ind.code for ind in indicators]
        self.values: dict[Period, dict[str, IndicatorRow]] = {}
        self.series = _component_series(session, [ind.id for ind in indicators], year)

    def row(self, indicator: m.Indicator, period: Period) -> IndicatorRow | None:
        if period not in self.values:
            rows = indicator_values(self.session, period, self.codes) if self.codes else []
            self.values[period] = {r.code: r for r in rows}
        return self.values[period].get(indicator.code)

    def parts(self, indicator: m.Indicator, period: Period) -> tuple[Decimal | None, ...]:
        """The numerator and denominator of the indicator's formula for ``period``."""
        if not indicator.formula:
            return (None, None)
        try:
            ratio = ratio_of(parse_formula(indicator.formula))
        except FormulaError:
            return (None, None)
        if ratio is None:
            return (None, None)
        return (self.side(ratio.numerator, period), self.side(ratio.denominator, period))

    def side(self, formula: Formula, period: Period) -> Decimal | None:
        values: dict[str, Decimal | None] = {}
        for code in formula.ordered_codes:
            series = self.series.get(code)
            values[code] = aggregate(series, period).value if series is not None else None
        return formula.evaluate(values).value


def _component_series(
    session: Session, indicator_ids: Iterable[int], year: Period
) -> dict[str, ComponentSeries]:
    """The current values inside ``year`` of every component the indicators' formulas use:
    accepted values only, as the reports count them (a value for the figure's numerator
    and denominator is only asked for once the figure itself has been computed)."""
    ids = list(indicator_ids)
    if not ids:
        return {}
    components = session.execute(
        select(m.Component.id, m.Component.code, m.Component.aggregation, m.Component.frequency)
        .join(m.IndicatorComponent, m.IndicatorComponent.component_id == m.Component.id)
        .where(m.IndicatorComponent.indicator_id.in_(ids))
        .distinct()
    ).all()
    points: dict[int, dict[str, ComponentPoint]] = defaultdict(dict)
    result = session.execute(
        select(m.ComponentValue.component_id, m.Period.code, m.ComponentValue.value)
        .join(m.Period, m.Period.id == m.ComponentValue.period_id)
        .where(
            m.ComponentValue.is_current,
            m.ComponentValue.state == SubmissionState.ACCEPTED,
            m.Period.code.in_([p.code for p in periods_within(year)]),
            m.ComponentValue.component_id.in_([c.id for c in components]),
        )
    )
    for component_id, period_code, value in result:
        points[component_id][period_code] = ComponentPoint(value)
    return {
        code: ComponentSeries(code, aggregation, frequency, points.get(component_id, {}))
        for component_id, code, aggregation, frequency in components
    }
