"""Indicator values, RAG and direction of travel: golden numbers worked out by hand."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailcapture.domain.enums import Aggregation, Frequency, Polarity, ToleranceKind
from mailcapture.domain.formulas import parse_formula, single_component
from mailcapture.domain.periods import parse_period
from mailcapture.reports.values import (
    AggregateResult,
    ComponentPoint,
    ComponentSeries,
    IndicatorValue,
    Rag,
    TargetLevel,
    Trend,
    aggregate,
    direction,
    indicator_value,
    rag,
    target_for,
)

D = Decimal
BV8A = parse_formula("100 * BV8a.1 / BV8a.2")
Q1 = parse_period("2026/27 Q1")
APR, MAY, JUN = parse_period("2026-04"), parse_period("2026-05"), parse_period("2026-06")


def series(
    code: str,
    values: dict[str, object],
    aggregation: Aggregation = Aggregation.SUM,
    frequency: Frequency = Frequency.MONTHLY,
) -> ComponentSeries:
    """Numbers become values; a ComponentPoint is used as given."""
    points = {
        period: value if isinstance(value, ComponentPoint) else ComponentPoint(D(str(value)))
        for period, value in values.items()
    }
    return ComponentSeries(code, aggregation, frequency, points)


def bv8a(paid: dict[str, object], received: dict[str, object]) -> dict[str, ComponentSeries]:
    return {"BV8a.1": series("BV8a.1", paid), "BV8a.2": series("BV8a.2", received)}


# Apr 1480/1520, May 1512/1570, Jun 601/650 (a short month: a system change in June).
PAID = {"2026-04": 1480, "2026-05": 1512, "2026-06": 601}
RECEIVED = {"2026-04": 1520, "2026-05": 1570, "2026-06": 650}


# ------------------------------------------------------------------- golden values


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        (APR, D("97.4")),  # 148000 / 1520 = 97.368...
        (MAY, D("96.3")),  # 151200 / 1570 = 96.305...
        (JUN, D("92.5")),  # 60100 / 650 = 92.461...
    ],
)
def test_bv8a_monthly_values(period, expected):
    result = indicator_value(BV8A, 1, bv8a(PAID, RECEIVED), period, code="BV8a")
    assert result == IndicatorValue("BV8a", period.code, expected, None, frozenset())
    assert str(result.value) == str(expected)  # one decimal place, as published


def test_bv8a_quarter_is_the_ratio_of_the_sums_not_the_mean_of_the_ratios():
    # Paid 1480 + 1512 + 601 = 3593 of 1520 + 1570 + 650 = 3740: 359300 / 3740 = 96.069...
    # The mean of the monthly ratios, (97.368 + 96.306 + 92.462) / 3 = 95.379, would be 95.4.
    result = indicator_value(BV8A, 1, bv8a(PAID, RECEIVED), Q1)
    assert result.value == D("96.1")
    assert result.value != D("95.4")
    assert result.reason is None


def test_bv8a_year_needs_all_twelve_months():
    result = indicator_value(BV8A, 1, bv8a(PAID, RECEIVED), parse_period("2026/27"))
    assert result.value is None
    assert result.reason == (
        "missing component BV8a.1 for 2026-07, 2026-08, 2026-09, 2026-10, 2026-11, "
        "2026-12, 2027-01, 2027-02, 2027-03"
    )
    assert result.flags == {"missing"}


def test_last_component_takes_the_last_month_of_the_period():
    # Households in temporary accommodation at month end: the quarter is June's figure.
    ta = {"TA.1": series("TA.1", {"2026-04": 84, "2026-05": 91, "2026-06": 88}, Aggregation.LAST)}
    result = indicator_value(single_component("TA.1"), 0, ta, Q1)
    assert result.value == D(88)
    # April and May are not needed for the quarter, June is.
    only_june = {"TA.1": series("TA.1", {"2026-06": 88}, Aggregation.LAST)}
    assert indicator_value(single_component("TA.1"), 0, only_june, Q1).value == D(88)
    no_june = {"TA.1": series("TA.1", {"2026-04": 84, "2026-05": 91}, Aggregation.LAST)}
    missing = indicator_value(single_component("TA.1"), 0, no_june, Q1)
    assert missing.value is None
    assert missing.reason == "missing component TA.1 for 2026-06"


def test_last_ignores_flags_and_gaps_of_the_months_it_does_not_use():
    def ta(may: ComponentPoint, june: ComponentPoint) -> ComponentSeries:
        april = ComponentPoint(None, "housing system down")
        return series("TA.1", {"2026-04": april, "2026-05": may, "2026-06": june}, Aggregation.LAST)

    late_may = ta(ComponentPoint(D(91), late=True), ComponentPoint(D(88), estimated=True))
    assert aggregate(late_may, Q1) == AggregateResult(D(88), None, frozenset({"estimated"}))
    estimated_may = ta(ComponentPoint(D(91), estimated=True), ComponentPoint(D(88), late=True))
    assert aggregate(estimated_may, Q1) == AggregateResult(D(88), None, frozenset({"late"}))


def test_last_quarterly_component_over_a_year_takes_q4():
    debt = series(
        "LFIN01.1",
        {"2026/27 Q1": 512430, "2026/27 Q2": 478910, "2026/27 Q3": 455260, "2026/27 Q4": 431875},
        Aggregation.LAST,
        Frequency.QUARTERLY,
    )
    assert aggregate(debt, parse_period("2026/27")).value == D(431875)


def test_average_component_fte_over_a_quarter():
    # Sickness days per FTE: days add up, FTE is the average headcount over the quarter.
    # Days 340 + 355 + 370 = 1065; FTE (510 + 515 + 521) / 3 = 1546 / 3 = 515.333...
    # 1065 / (1546 / 3) = 3195 / 1546 = 2.0666... -> 2.07
    components = {
        "S.1": series("S.1", {"2026-04": 340, "2026-05": 355, "2026-06": 370}),
        "S.2": series("S.2", {"2026-04": 510, "2026-05": 515, "2026-06": 521}, Aggregation.AVERAGE),
    }
    average = aggregate(components["S.2"], Q1).value
    assert average is not None
    assert D("515.3333333") < average < D("515.3333334")
    assert indicator_value(parse_formula("S.1 / S.2"), 2, components, Q1).value == D("2.07")


def test_average_needs_every_month():
    fte = series("S.2", {"2026-04": 510, "2026-06": 521}, Aggregation.AVERAGE)
    result = aggregate(fte, Q1)
    assert result.value is None
    assert result.reason == "missing component S.2 for 2026-05"


def test_sum_of_quarterly_component_over_the_year():
    counts = series(
        "LHN01.1",
        {"2026/27 Q1": 36, "2026/27 Q2": 41, "2026/27 Q3": 44, "2026/27 Q4": 39},
        frequency=Frequency.QUARTERLY,
    )
    assert aggregate(counts, parse_period("2026/27")).value == D(160)  # 36+41+44+39


# ------------------------------------------------------------- cannot be computed


def test_missing_month():
    paid = {"2026-04": 1480, "2026-06": 601}
    result = indicator_value(BV8A, 1, bv8a(paid, RECEIVED), Q1)
    assert result.value is None
    assert result.reason == "missing component BV8a.1 for 2026-05"
    assert result.flags == {"missing"}


def test_first_problem_in_formula_order_is_the_reason():
    # Both components lack May: the numerator comes first in the formula.
    result = indicator_value(
        BV8A, 1, bv8a({"2026-04": 1480}, {"2026-04": 1520, "2026-06": 650}), Q1
    )
    assert result.reason == "missing component BV8a.1 for 2026-05, 2026-06"


def test_not_available_for_the_period_itself_and_within_a_quarter():
    received = dict(RECEIVED, **{"2026-05": ComponentPoint(None, "finance system\nmigration")})
    month = indicator_value(BV8A, 1, bv8a(PAID, received), MAY)
    assert month.value is None
    assert month.reason == "BV8a.2 not available: finance system migration"
    assert month.flags == {"not available"}
    quarter = indicator_value(BV8A, 1, bv8a(PAID, received), Q1)
    assert quarter.reason == "BV8a.2 not available for 2026-05: finance system migration"
    assert quarter.flags == {"not available"}


def test_not_available_without_a_reason():
    received = dict(RECEIVED, **{"2026-05": ComponentPoint(None, "")})
    result = indicator_value(BV8A, 1, bv8a(PAID, received), MAY)
    assert result.reason == "BV8a.2 not available: no reason given"


def test_not_available_wins_over_missing_within_a_component():
    received = {"2026-04": 1520, "2026-06": ComponentPoint(None, "not yet reconciled")}
    result = aggregate(series("BV8a.2", received), Q1)
    assert result.reason == "BV8a.2 not available for 2026-06: not yet reconciled"
    assert result.flags == {"not available"}


def test_division_by_zero():
    result = indicator_value(BV8A, 1, bv8a({"2026-04": 0}, {"2026-04": 0}), APR)
    assert result.value is None
    assert result.reason == "division by zero (BV8a.2 is 0)"
    assert result.flags == frozenset()


@pytest.mark.parametrize(
    ("frequency", "period", "reason"),
    [
        (
            Frequency.QUARTERLY,
            "2026-05",
            "cannot be computed for a month: X.1 is collected quarterly",
        ),
        (Frequency.ANNUAL, "2026-05", "cannot be computed for a month: X.1 is collected annually"),
        (
            Frequency.ANNUAL,
            "2026/27 Q2",
            "cannot be computed for a quarter: X.1 is collected annually",
        ),
    ],
)
def test_period_shorter_than_collection(frequency, period, reason):
    values = {"2026/27": 5, "2026/27 Q1": 1, "2026/27 Q2": 2, "2026-05": 3}
    result = indicator_value(
        single_component("X.1"),
        0,
        {"X.1": series("X.1", values, frequency=frequency)},
        parse_period(period),
    )
    assert (result.value, result.reason, result.flags) == (None, reason, frozenset())


def test_late_and_estimated_flags_come_from_the_values_used():
    paid = dict(PAID, **{"2026-05": ComponentPoint(D(1512), late=True)})
    received = dict(RECEIVED, **{"2026-06": ComponentPoint(D(650), estimated=True)})
    data = bv8a(paid, received)
    assert indicator_value(BV8A, 1, data, Q1).flags == {"late", "estimated"}
    assert indicator_value(BV8A, 1, data, APR).flags == frozenset()
    assert indicator_value(BV8A, 1, data, MAY).flags == {"late"}


# ------------------------------------------------------------------------ rounding


@pytest.mark.parametrize(
    ("a", "b", "formula", "decimals", "expected"),
    [
        (873, 2000, "100 * A / B", 1, "43.7"),  # 43.65: half-even would give 43.6
        (1, 8, "A / B", 2, "0.13"),  # 0.125: half-even would give 0.12
        (5, 2, "A / B", 0, "3"),  # 2.5: half-even would give 2
        (7, 2, "A / B", 0, "4"),  # 3.5
        (1, "2.25", "A - B", 1, "-1.3"),  # -1.25: halves go away from zero
        (1, "1.04", "A - B", 1, "0.0"),  # -0.04 rounds to zero, never "-0.0"
        (2, 3, "A / B", 3, "0.667"),
        (1234, 1, "A / B", 2, "1234.00"),
    ],
)
def test_rounding_half_up(a, b, formula, decimals, expected):
    data = {"A": series("A", {"2026-04": a}), "B": series("B", {"2026-04": b})}
    value = indicator_value(parse_formula(formula), decimals, data, APR).value
    assert str(value) == expected


# ----------------------------------------------------------------------------- RAG


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("17.9", Rag.GREEN),  # better than target
        ("18", Rag.GREEN),  # exactly on target
        ("18.1", Rag.AMBER),  # just above
        ("20", Rag.AMBER),  # exactly target + tolerance
        ("20.1", Rag.RED),  # just beyond
    ],
)
def test_rag_lower_is_better_absolute(value, expected):
    # BV78a: days to process new claims, target 18, tolerance 2.
    assert rag(D(value), D(18), D(2), ToleranceKind.ABSOLUTE, Polarity.LOWER) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (450000, Rag.GREEN),  # exactly on target
        (450001, Rag.AMBER),  # just above
        (495000, Rag.AMBER),  # 450000 + 10% of 450000 = 495000 exactly
        (495001, Rag.RED),  # just beyond
    ],
)
def test_rag_lower_is_better_percent(value, expected):
    # LFIN01: sundry debt, target £450,000, tolerance 10%.
    assert rag(D(value), D(450000), D(10), ToleranceKind.PERCENT, Polarity.LOWER) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("97.1", Rag.GREEN),
        ("97", Rag.GREEN),
        ("96.9", Rag.AMBER),
        ("95", Rag.AMBER),
        ("94.9", Rag.RED),
    ],
)
def test_rag_higher_is_better(value, expected):
    assert rag(D(value), D(97), D(2), ToleranceKind.ABSOLUTE, Polarity.HIGHER) is expected


def test_rag_percent_of_a_negative_target_uses_its_magnitude():
    # Target -10, 10% tolerance: the band is 1 wide, so lower-is-better amber up to -9.
    assert rag(D(-9), D(-10), D(10), ToleranceKind.PERCENT, Polarity.LOWER) is Rag.AMBER
    assert rag(D("-8.9"), D(-10), D(10), ToleranceKind.PERCENT, Polarity.LOWER) is Rag.RED


@pytest.mark.parametrize("tolerance", [None, D(0)])
def test_rag_without_tolerance_has_no_amber(tolerance):
    assert rag(D("18.1"), D(18), tolerance, ToleranceKind.ABSOLUTE, Polarity.LOWER) is Rag.RED
    assert rag(D(18), D(18), tolerance, ToleranceKind.ABSOLUTE, Polarity.LOWER) is Rag.GREEN
    assert rag(D("96.9"), D(97), tolerance, ToleranceKind.PERCENT, Polarity.HIGHER) is Rag.RED


def test_rag_none():
    assert rag(None, D(18), D(2), ToleranceKind.ABSOLUTE, Polarity.LOWER) is Rag.NONE
    assert rag(D(18), None, D(2), ToleranceKind.ABSOLUTE, Polarity.LOWER) is Rag.NONE
    assert rag(D(50), D(18), D(2), ToleranceKind.ABSOLUTE, Polarity.NEUTRAL) is Rag.NONE


def test_rag_rejects_a_negative_tolerance():
    with pytest.raises(ValueError, match="negative"):
        rag(D(18), D(18), D(-1), ToleranceKind.ABSOLUTE, Polarity.LOWER)


# ------------------------------------------------------------------------ direction


@pytest.mark.parametrize(
    ("current", "previous", "polarity", "expected"),
    [
        ("97.4", "96.3", Polarity.HIGHER, Trend.IMPROVING),
        ("96.3", "97.4", Polarity.HIGHER, Trend.WORSENING),
        ("17.5", "18.2", Polarity.LOWER, Trend.IMPROVING),
        ("18.2", "17.5", Polarity.LOWER, Trend.WORSENING),
        ("97.0", "97", Polarity.HIGHER, Trend.STEADY),
        ("18", "18.00", Polarity.LOWER, Trend.STEADY),
        ("7391", "7418", Polarity.NEUTRAL, Trend.DOWN),
        ("7418", "7391", Polarity.NEUTRAL, Trend.UP),
        ("7418", "7418", Polarity.NEUTRAL, Trend.STEADY),
        (None, "1", Polarity.HIGHER, Trend.UNKNOWN),
        ("1", None, Polarity.LOWER, Trend.UNKNOWN),
        (None, None, Polarity.NEUTRAL, Trend.UNKNOWN),
    ],
)
def test_direction(current, previous, polarity, expected):
    as_decimal = lambda x: None if x is None else D(x)  # noqa: E731
    assert direction(as_decimal(current), as_decimal(previous), polarity) is expected


# -------------------------------------------------------------------------- targets


def test_target_falls_back_from_month_to_quarter_to_year():
    year = TargetLevel(D(97), D(2), ToleranceKind.ABSOLUTE, "2026/27")
    q1 = TargetLevel(D(95), D(3), ToleranceKind.ABSOLUTE, "2026/27 Q1")
    may = TargetLevel(D(96), None, ToleranceKind.ABSOLUTE, "2026-05")
    targets = {"2026/27": year, "2026/27 Q1": q1, "2026-05": may}
    assert target_for(targets, MAY) is may
    assert target_for(targets, JUN) is q1
    assert target_for(targets, parse_period("2026-07")) is year
    assert target_for(targets, parse_period("2026/27 Q2")) is year
    assert target_for(targets, Q1) is q1
    assert target_for(targets, parse_period("2026/27")) is year
    assert target_for(targets, parse_period("2025-05")) is None
    assert target_for({}, MAY) is None


# ------------------------------------------------------------------------ property


positive = st.integers(min_value=1, max_value=10**9)


def half_up(value: Fraction, decimals: int) -> Decimal:
    """An independent half-up rounding of an exact fraction (positive values only)."""
    scaled = value * 10**decimals
    whole = scaled.numerator // scaled.denominator
    if scaled - whole >= Fraction(1, 2):
        whole += 1
    return Decimal(whole).scaleb(-decimals)


@given(
    paid=st.lists(positive, min_size=3, max_size=3),
    received=st.lists(positive, min_size=3, max_size=3),
    decimals=st.integers(min_value=0, max_value=4),
)
def test_quarter_is_formula_over_summed_components(paid, received, decimals):
    months = ["2026-04", "2026-05", "2026-06"]
    data = bv8a(dict(zip(months, paid, strict=True)), dict(zip(months, received, strict=True)))
    expected = half_up(Fraction(100 * sum(paid), sum(received)), decimals)
    result = indicator_value(BV8A, decimals, data, Q1)
    assert result.reason is None
    assert result.value == expected
    assert result.value.as_tuple().exponent == -decimals
