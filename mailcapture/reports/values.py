"""Indicator values, RAG status and direction of travel, from component values.

Pure functions over plain data: no database and no clock, so that every report (owner,
department, exception, the quarterly report to members) computes a figure the same way
and the rules can be tested with numbers worked out by hand. :mod:`.queries` loads the
inputs from the database.

Decisions worth knowing:

* **Ratio of aggregates, never an average of ratios.** An indicator for a longer period
  than its components are collected for is its formula applied to each component
  aggregated over that period: BV8a for a quarter is ``100 * (sum of invoices paid in
  time) / (sum of invoices)``, which weights each month by its volume, as the statutory
  definitions do. Averaging three monthly percentages would not.
* **How a component aggregates** is the register's ``aggregation``: ``sum`` adds every
  collected period inside the longer one, ``average`` takes their mean, ``last`` takes the
  value of the last one (a stock "at quarter end"). ``sum`` and ``average`` need every
  collected period; ``last`` needs only the last one. A period shorter than the
  collection frequency (a month of a quarterly figure) cannot be computed.
* **One reason, in formula order.** When a value cannot be computed the reason names the
  first problem in the formula's order of components, as :meth:`Formula.evaluate` does,
  so a report shows one concrete thing to chase. Within one component "not available"
  wins over "missing": a missing month can still arrive, but while any needed period is
  reported not available the figure cannot be computed at all. The texts are
  ``missing component X for 2026-05, 2026-06``, ``X not available: <reason>`` (with
  ``for <period>`` when the unavailable period is inside a longer one), ``division by
  zero (X is 0)`` and ``cannot be computed for a month: X is collected quarterly``.
* **Rounding** is half-up to the indicator's decimals (97.45 -> 97.5), as people round
  by hand and as spreadsheets do; the unrounded value is never shown. RAG and direction
  of travel compare the rounded, published figures, so a report never shows "97.0
  against a target of 97: red", nor "97.0 -> 97.0: worsening".
* **RAG** boundaries are inclusive in the council's favour: exactly on target is green
  and exactly on the edge of the tolerance is amber. A percentage tolerance is that
  percentage of the target's magnitude. No tolerance (or zero) means no amber band.
  Neutral polarity (statistics), no target or no value give :attr:`Rag.NONE`.
* **Direction of travel** for a neutral indicator is :attr:`Trend.UP` or
  :attr:`Trend.DOWN` (or steady / unknown): a statistic has no better or worse, so calling
  a rise "improving" would be a judgement the framework does not make, yet a report still
  needs to say which way the figure moved.
* **Targets** fall back from the period to its quarter to its year (:func:`target_for`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Context, Decimal
from enum import StrEnum
from typing import TypeVar

from mailcapture.domain.enums import Aggregation, Frequency, Polarity, ToleranceKind
from mailcapture.domain.formulas import PRECISION, Formula
from mailcapture.domain.frequency import COLLECTED_KIND
from mailcapture.domain.periods import Period, PeriodKind

#: The kind of period each collection frequency stores its values under.
_ADVERB = {
    Frequency.MONTHLY: "monthly",
    Frequency.QUARTERLY: "quarterly",
    Frequency.ANNUAL: "annually",
}

# Flags on an IndicatorValue.
LATE = "late"
ESTIMATED = "estimated"
MISSING = "missing"
NOT_AVAILABLE = "not available"
PROVISIONAL = "provisional"
#: A figure changed by a correction that arrived after a report had already shown it.
REVISED = "revised after reporting"


def _context() -> Context:
    """A fresh context per calculation (contexts carry mutable flags); formulas' precision."""
    return Context(prec=PRECISION)


# --------------------------------------------------------------------- components


@dataclass(frozen=True)
class ComponentPoint:
    """One stored value of a component for one collected period.

    ``value`` None with ``not_available`` set is the updater's "not available" (the reason
    as they gave it, possibly empty); ``value`` None without it counts as missing.
    """

    value: Decimal | None
    not_available: str | None = None
    late: bool = False
    estimated: bool = False
    #: Loaded from the register's history: a figure published before mailcapture, final.
    historical: bool = False
    #: When a correction replaced an earlier value (None for a first value).
    corrected_at: datetime | None = None


@dataclass(frozen=True)
class ComponentSeries:
    """A component's values by the code of each collected period (``2026-05``, ...)."""

    code: str
    aggregation: Aggregation
    frequency: Frequency
    values: Mapping[str, ComponentPoint] = field(default_factory=dict)

    @property
    def collected_kind(self) -> PeriodKind:
        return COLLECTED_KIND[Frequency(self.frequency)]


@dataclass(frozen=True)
class AggregateResult:
    """A component's value over a period, or why there is none.

    ``flags`` holds ``late`` / ``estimated`` when any value used was, and ``missing`` or
    ``not available`` when that is why there is no value.
    """

    value: Decimal | None
    reason: str | None = None
    flags: frozenset[str] = frozenset()


def collected_periods(kind: PeriodKind, period: Period) -> list[Period] | None:
    """The periods of ``kind`` that tile ``period``, in order; None if ``kind`` is longer."""
    if kind is period.kind:
        return [period]
    if kind is PeriodKind.MONTH:
        return period.months()
    if kind is PeriodKind.QUARTER and period.kind is PeriodKind.YEAR:
        return period.children()
    return None


def aggregate(series: ComponentSeries, period: Period) -> AggregateResult:
    """The value of a component over ``period`` (see the module docstring for the rules)."""
    frequency = Frequency(series.frequency)
    parts = collected_periods(series.collected_kind, period)
    if parts is None:
        return AggregateResult(
            None,
            f"cannot be computed for a {period.kind.value}: "
            f"{series.code} is collected {_ADVERB[frequency]}",
        )
    aggregation = Aggregation(series.aggregation)
    needed = parts[-1:] if aggregation is Aggregation.LAST else parts
    points = [(p, series.values.get(p.code)) for p in needed]
    present = [point for _, point in points if point is not None]
    flags = set()
    if any(point.late for point in present):
        flags.add(LATE)
    if any(point.estimated for point in present):
        flags.add(ESTIMATED)

    for p, point in points:
        if point is not None and point.value is None and point.not_available is not None:
            given = " ".join(point.not_available.split()) or "no reason given"
            where = "" if p == period else f" for {p.code}"
            return AggregateResult(
                None,
                f"{series.code} not available{where}: {given}",
                frozenset(flags | {NOT_AVAILABLE}),
            )
    missing = [p.code for p, point in points if point is None or point.value is None]
    if missing:
        return AggregateResult(
            None,
            f"missing component {series.code} for {', '.join(missing)}",
            frozenset(flags | {MISSING}),
        )

    values = [point.value for _, point in points if point is not None and point.value is not None]
    context = _context()
    if aggregation is Aggregation.LAST:
        return AggregateResult(values[-1], None, frozenset(flags))
    total = Decimal(0)
    for v in values:
        total = context.add(total, v)
    if aggregation is Aggregation.AVERAGE:
        total = context.divide(total, len(values))
    return AggregateResult(total, None, frozenset(flags))


# ---------------------------------------------------------------------- indicators


@dataclass(frozen=True)
class IndicatorValue:
    """An indicator's published (rounded) value for a period, or the reason it has none.

    ``flags``: ``late`` and ``estimated`` (some component value used was), ``missing`` and
    ``not available`` (why there is no value), ``provisional`` (not signed off; set by the
    caller, who knows about sign-offs).
    """

    code: str
    period: str
    value: Decimal | None
    reason: str | None
    flags: frozenset[str] = frozenset()

    def with_flags(self, *extra: str) -> IndicatorValue:
        return IndicatorValue(
            self.code, self.period, self.value, self.reason, self.flags | set(extra)
        )


def round_half_up(value: Decimal, decimals: int) -> Decimal:
    """``value`` to ``decimals`` places, halves away from zero; never ``-0``."""
    rounded = value.quantize(
        Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP, context=_context()
    )
    return rounded.copy_abs() if rounded.is_zero() else rounded


def indicator_value(
    formula: Formula,
    decimals: int,
    series: Mapping[str, ComponentSeries],
    period: Period,
    *,
    code: str = "",
) -> IndicatorValue:
    """The indicator's value for ``period``: its formula over the aggregated components.

    Every component is aggregated, so ``late`` and ``estimated`` cover everything used;
    the first problem in formula order, if any, becomes the reason (and gives the
    ``missing`` or ``not available`` flag).
    """
    values: dict[str, Decimal] = {}
    flags: set[str] = set()
    problem: AggregateResult | None = None
    for component in formula.ordered_codes:
        if component in series:
            result = aggregate(series[component], period)
        else:
            result = AggregateResult(None, f"unknown component {component}")
        flags |= result.flags & {LATE, ESTIMATED}
        if result.value is not None:
            values[component] = result.value
        elif problem is None:
            problem = result
    if problem is not None:
        flags |= problem.flags
        return IndicatorValue(code, period.code, None, problem.reason, frozenset(flags))
    evaluation = formula.evaluate(values)
    if evaluation.value is None:
        return IndicatorValue(code, period.code, None, evaluation.reason, frozenset(flags))
    value = round_half_up(evaluation.value, decimals)
    return IndicatorValue(code, period.code, value, None, frozenset(flags))


# ----------------------------------------------------------------------------- RAG


class Rag(StrEnum):
    RED = "red"
    AMBER = "amber"
    GREEN = "green"
    NONE = "none"


def amber_band(target: Decimal, tolerance: Decimal | None, kind: ToleranceKind) -> Decimal | None:
    """How far from target a value may be and still be amber; None when there is no band."""
    if tolerance is None or tolerance.is_zero():
        return None
    if tolerance < 0:
        raise ValueError(f"a tolerance cannot be negative ({tolerance})")
    if ToleranceKind(kind) is ToleranceKind.PERCENT:
        context = _context()
        return context.divide(context.multiply(abs(target), tolerance), 100)
    return tolerance


def rag(
    value: Decimal | None,
    target: Decimal | None,
    tolerance: Decimal | None,
    kind: ToleranceKind,
    polarity: Polarity,
) -> Rag:
    """Red, amber or green against the target (see the module docstring)."""
    polarity = Polarity(polarity)
    if value is None or target is None or polarity is Polarity.NEUTRAL:
        return Rag.NONE
    band = amber_band(target, tolerance, kind)
    # Distance on the wrong side of the target: <= 0 is on or better than target.
    shortfall = target - value if polarity is Polarity.HIGHER else value - target
    if shortfall <= 0:
        return Rag.GREEN
    if band is not None and shortfall <= band:
        return Rag.AMBER
    return Rag.RED


# ------------------------------------------------------------------------- trends


class Trend(StrEnum):
    IMPROVING = "improving"
    WORSENING = "worsening"
    STEADY = "steady"
    UNKNOWN = "unknown"
    #: Neutral polarity only: the figure rose or fell, with no judgement.
    UP = "up"
    DOWN = "down"


def direction(current: Decimal | None, previous: Decimal | None, polarity: Polarity) -> Trend:
    """Direction of travel from ``previous`` to ``current`` (both the published values)."""
    if current is None or previous is None:
        return Trend.UNKNOWN
    if current == previous:
        return Trend.STEADY
    rose = current > previous
    polarity = Polarity(polarity)
    if polarity is Polarity.NEUTRAL:
        return Trend.UP if rose else Trend.DOWN
    better = rose if polarity is Polarity.HIGHER else not rose
    return Trend.IMPROVING if better else Trend.WORSENING


# ------------------------------------------------------------------------ targets


@dataclass(frozen=True)
class TargetLevel:
    """A target as it applies to a period; ``period`` is the code of the one it was set for."""

    value: Decimal
    tolerance: Decimal | None
    tolerance_kind: ToleranceKind
    period: str


T = TypeVar("T")


def target_for(targets: Mapping[str, T], period: Period) -> T | None:
    """The target for ``period``: its own, else its quarter's, else its year's.

    Why fall back: the register sets most targets once, for the year (BV8a: 97% of
    invoices paid in time), and for a rate or a level that figure is what every month and
    quarter is measured against. Where a part of the year cannot be compared with the
    year-end figure (cumulative collection rates, counts, sickness days per FTE) the
    register gives each quarter its own target, which then wins. A count collected monthly
    with only quarter or year targets would be compared with a longer period's figure:
    that is a register mistake this rule cannot detect.
    """
    candidate: Period | None = period
    while candidate is not None:
        if candidate.code in targets:
            return targets[candidate.code]
        candidate = candidate.parent()
    return None
