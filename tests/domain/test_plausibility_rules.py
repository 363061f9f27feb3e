"""The plausibility rule and the completion-date rule, as pure functions (issue 13, 3 and 4)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from mailcapture.domain.completion import completion_date
from mailcapture.domain.plausibility import Reference, far_apart, implausible

D = Decimal
LAST = Reference("last month", D(420960))
YEAR = Reference("April 2025", D(478150))


@pytest.mark.parametrize(
    ("value", "held"),
    [
        (D(40), True),  # the issue's £40 against £420,960 and £478,150
        (D(42095), True),  # just more than ten times smaller than both
        (D(42096), False),  # exactly ten times smaller than last month: not *more*
        (D(415000), False),
        (D(4209601), False),  # ten times last month plus 1 is not ten times last year
        (D(4781501), True),  # more than ten times larger than both
        (D(0), True),  # zero against two large figures is asked about
        (D(-420960), False),  # a sign change alone is not held: magnitudes are compared
    ],
)
def test_held_only_when_far_from_both(value: Decimal, held: bool) -> None:
    assert bool(implausible(value, [LAST, YEAR])) is held


def test_one_agreeing_reference_is_enough_to_store() -> None:
    # Far from last month (a seasonal spike?) but close to the same month last year.
    assert implausible(D(480000), [Reference("last month", D(40000)), YEAR]) == []


def test_the_references_disagreed_with_are_named() -> None:
    assert implausible(D(40), [LAST, YEAR]) == [LAST, YEAR]
    assert implausible(D(40), [LAST]) == [LAST]


def test_nothing_to_compare_holds_nothing() -> None:
    assert implausible(D(40), []) == []
    # A zero reference is no scale: a count going from 0 to 5 is ordinary.
    assert implausible(D(5), [Reference("last month", D(0))]) == []


def test_the_factor_is_a_parameter() -> None:
    assert implausible(D(4000), [LAST, YEAR], D(10))
    assert not implausible(D(4000), [LAST, YEAR], D(200))
    assert far_apart(D(1), D(3), D(2)) and not far_apart(D(2), D(3), D(2))


def test_a_reported_completion_date_wins_over_the_register() -> None:
    april_end = date(2026, 4, 30)
    assert completion_date(date(2026, 4, 20), date(2026, 10, 12), april_end) == date(2026, 4, 20)
    assert completion_date(date(2026, 4, 20), date(2026, 3, 1), april_end) == date(2026, 4, 20)


def test_a_register_date_counts_only_once_it_has_passed() -> None:
    april_end = date(2026, 4, 30)
    assert completion_date(None, date(2026, 10, 12), april_end) is None
    assert completion_date(None, date(2026, 4, 30), april_end) == date(2026, 4, 30)
    assert completion_date(None, None, april_end) is None
