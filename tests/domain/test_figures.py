"""Which figures can be stored, and writing any figure for people without raising (issue 12)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailcapture.db.types import DECIMAL_PRECISION, DECIMAL_SCALE
from mailcapture.domain.figures import (
    LARGEST_FIGURE,
    MAX_DECIMAL_PLACES,
    MAX_WHOLE_DIGITS,
    figure_problem,
    format_figure,
    plain_number,
)


def test_the_bounds_are_the_columns() -> None:
    """NUMERIC(18,6): 12 digits before the point and 6 after, both databases alike."""
    assert MAX_WHOLE_DIGITS == DECIMAL_PRECISION - DECIMAL_SCALE
    assert MAX_DECIMAL_PLACES == DECIMAL_SCALE
    assert Decimal(10) ** MAX_WHOLE_DIGITS - LARGEST_FIGURE == Decimal("0.000001")


@pytest.mark.parametrize(
    "value",
    ["0", "-0", "12.5", "999999999999.999999", "-999999999999.999999", "0.000001", "12.5000000"],
)
def test_figures_that_fit(value: str) -> None:
    assert figure_problem(Decimal(value)) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("99999999999999999999999999999", "too large"),  # 29 digits: past Decimal's 28
        ("-99999999999999999999999999999", "too large"),
        ("1000000000000", "too large"),
        ("-1000000000000", "too large"),
        ("1E+999", "too large"),
        ("9" * 5000, "too large"),
        ("0.0000001", "more than 6 decimal places"),
        ("999999999999.9999999", "too large"),
        ("123456789012.1234567", "more than 6 decimal places"),
        ("1E-999", "more than 6 decimal places"),
        ("NaN", "not a figure"),
        ("Infinity", "not a figure"),
        ("-Infinity", "not a figure"),
    ],
)
def test_figures_that_do_not_fit_say_why(value: str, reason: str) -> None:
    problem = figure_problem(Decimal(value))
    assert problem is not None and problem.startswith(reason)
    if reason == "too large":
        assert "999,999,999,999.999999" in problem  # the limit, for the sender


def test_plain_number_is_exact_past_28_digits() -> None:
    """The default context rounds at 28 digits, and quantize raised InvalidOperation: the
    range check's message for a 29-digit answer lost the whole reply."""
    assert plain_number(Decimal("99999999999999999999999999999")) == (
        "99,999,999,999,999,999,999,999,999,999"
    )
    assert format_figure(Decimal("99999999999999999999999999999.5"), "£") == (
        "£99,999,999,999,999,999,999,999,999,999.50"
    )
    assert plain_number(Decimal("1234.5"), 0) == "1,235"
    assert plain_number(Decimal("1.2E+3")) == "1,200"


def test_plain_number_shows_absurd_sizes_in_scientific_form() -> None:
    assert plain_number(Decimal("1E+999999999")) == "1.000000E+999999999"
    assert plain_number(Decimal("1E-999999999")) == "1.000000E-999999999"


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_plain_number_never_raises_on_a_finite_value(value: Decimal) -> None:
    assert plain_number(value)
    assert format_figure(value, "£")


@given(st.decimals(allow_nan=False, allow_infinity=False, places=6))
def test_a_figure_that_fits_is_written_exactly(value: Decimal) -> None:
    if figure_problem(value) is None:
        assert Decimal(plain_number(value).replace(",", "")) == value
