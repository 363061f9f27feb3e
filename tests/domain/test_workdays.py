"""Tests for working-day arithmetic, using England & Wales bank holidays.

Expected dates here were worked out by hand from a 2026 calendar (1 Jan 2026 is a
Thursday, so 30 Apr is a Thursday, 1 May a Friday, 25 Dec a Friday), not taken from the
code's output.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailcapture.domain.periods import parse_period
from mailcapture.domain.workdays import WorkingCalendar

ONE_DAY = timedelta(days=1)

# England and Wales, 2026, plus New Year's Day 2027 for the year-end cases.
BANK_HOLIDAYS = [
    date(2026, 1, 1),  # New Year's Day (Thu)
    date(2026, 4, 3),  # Good Friday
    date(2026, 4, 6),  # Easter Monday
    date(2026, 5, 4),  # Early May bank holiday
    date(2026, 5, 25),  # Spring bank holiday
    date(2026, 8, 31),  # Summer bank holiday
    date(2026, 12, 25),  # Christmas Day (Fri)
    date(2026, 12, 28),  # Boxing Day substitute (26th is a Saturday)
    date(2027, 1, 1),  # New Year's Day (Fri)
]
EW = WorkingCalendar(BANK_HOLIDAYS)


def d(text: str) -> date:
    return date.fromisoformat(text)


# -- is_working_day -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2026-04-30", True),  # Thursday
        ("2026-05-01", True),  # Friday
        ("2026-05-02", False),  # Saturday
        ("2026-05-03", False),  # Sunday
        ("2026-05-04", False),  # Monday, bank holiday
        ("2026-05-05", True),  # Tuesday
        ("2026-04-03", False),  # Good Friday
        ("2026-12-26", False),  # Boxing Day falls on a Saturday
        ("2026-12-28", False),  # its substitute Monday
        ("2026-12-29", True),
    ],
)
def test_is_working_day(day: str, working: bool) -> None:
    assert EW.is_working_day(d(day)) is working


def test_without_holidays_only_weekends_are_off() -> None:
    plain = WorkingCalendar([])
    assert plain.is_working_day(d("2026-05-04"))
    assert not plain.is_working_day(d("2026-05-09"))


# -- the timetable examples ---------------------------------------------------------


def test_monthly_timetable_for_april_2026() -> None:
    period_end = parse_period("April 2026").end
    assert period_end == d("2026-04-30")
    sent = EW.nth_working_day_after(period_end, 1)
    due = EW.nth_working_day_after(period_end, 10)
    assert sent == d("2026-05-01")  # Friday
    # May 1 (1), skip 2-3 weekend and 4 bank holiday, 5-8 (2-5), 11-15 (6-10).
    assert due == d("2026-05-15")
    assert EW.add_working_days(due, -3) == d("2026-05-12")  # reminder: 14, 13, 12
    assert EW.add_working_days(due, 2) == d("2026-05-19")  # escalation: 18, 19
    assert EW.working_days_between(period_end, due) == 10


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        ("2026-04-30", 1, "2026-05-01"),
        ("2026-04-30", 2, "2026-05-05"),  # over the weekend and the May bank holiday
        ("2026-04-30", 10, "2026-05-15"),
        ("2026-04-02", 1, "2026-04-07"),  # over Good Friday, Easter weekend, Easter Monday
        ("2026-12-24", 1, "2026-12-29"),  # over Christmas, the weekend and the substitute
        ("2026-12-31", 1, "2027-01-04"),  # over New Year's Day 2027 and the weekend
        ("2026-05-22", 1, "2026-05-26"),  # over the Spring bank holiday
        ("2026-05-02", 1, "2026-05-05"),  # from a Saturday: strictly after, skipping the 4th
        ("2026-05-15", -3, "2026-05-12"),
        ("2026-04-07", -1, "2026-04-02"),  # back over Easter
        ("2026-05-05", -1, "2026-05-01"),
        ("2026-05-02", -1, "2026-05-01"),  # from a Saturday: strictly before
        ("2026-05-05", 0, "2026-05-05"),  # a working day stays put
        ("2026-05-02", 0, "2026-05-05"),  # a Saturday rolls on past the bank holiday
        ("2026-05-04", 0, "2026-05-05"),  # a bank holiday rolls on
    ],
)
def test_add_working_days(start: str, n: int, expected: str) -> None:
    assert EW.add_working_days(d(start), n) == d(expected)


def test_twentieth_working_day_reasoned_out() -> None:
    # After 15 May (10th): 18-22 May are 11-15, 25 May is a holiday, 26-29 May are 16-19,
    # so the 20th is Monday 1 June and the 19th is Friday 29 May.
    assert EW.nth_working_day_after(d("2026-04-30"), 19) == d("2026-05-29")
    assert EW.nth_working_day_after(d("2026-04-30"), 20) == d("2026-06-01")


@pytest.mark.parametrize("n", [0, -1])
def test_nth_working_day_after_needs_a_positive_n(n: int) -> None:
    with pytest.raises(ValueError, match="1 or more"):
        EW.nth_working_day_after(d("2026-05-01"), n)


# -- working_days_between -----------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "count"),
    [
        ("2026-04-30", "2026-05-15", 10),
        ("2026-05-15", "2026-04-30", -10),
        ("2026-05-01", "2026-05-01", 0),
        ("2026-05-01", "2026-05-04", 0),  # (Fri, Mon]: weekend and a bank holiday
        ("2026-05-01", "2026-05-05", 1),
        ("2026-04-30", "2026-05-01", 1),  # b counts, a does not
        # 2026 has 365 days starting on a Thursday: 52 weeks plus one Thursday, so 261
        # weekdays, less 8 bank holidays that all fall on weekdays.
        ("2025-12-31", "2026-12-31", 253),
        ("2026-12-24", "2027-01-04", 4),  # 24 Dec excluded; 29, 30, 31 Dec; 4 Jan
    ],
)
def test_working_days_between(a: str, b: str, count: int) -> None:
    assert EW.working_days_between(d(a), d(b)) == count


def test_weekend_holidays_do_not_reduce_the_count() -> None:
    saturday_holiday = WorkingCalendar([d("2026-05-02")])
    assert saturday_holiday.working_days_between(d("2026-04-30"), d("2026-05-07")) == 5


def test_repeated_holidays_count_once() -> None:
    twice = WorkingCalendar([d("2026-05-04"), d("2026-05-04")])
    assert twice.working_days_between(d("2026-04-30"), d("2026-05-07")) == 4
    assert twice.holidays == frozenset({d("2026-05-04")})


def test_holidays_can_be_any_iterable() -> None:
    from_generator = WorkingCalendar(h for h in BANK_HOLIDAYS)
    assert from_generator.holidays == frozenset(BANK_HOLIDAYS)


def test_datetimes_are_refused() -> None:
    with pytest.raises(TypeError, match="expected a date"):
        WorkingCalendar([datetime(2026, 5, 4)])
    with pytest.raises(TypeError, match="expected a date"):
        EW.is_working_day(datetime(2026, 5, 4, 9, 0))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected a date"):
        EW.add_working_days("2026-05-04", 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected a date"):
        EW.working_days_between(d("2026-05-04"), datetime(2026, 5, 8))


# -- properties ----------------------------------------------------------------------

days = st.dates(date(2025, 6, 1), date(2028, 6, 30))
steps = st.integers(-70, 70)
calendars = st.one_of(
    st.just(EW),
    st.sets(st.dates(date(2025, 1, 1), date(2029, 12, 31)), max_size=40).map(WorkingCalendar),
)


def brute_force_count(cal: WorkingCalendar, a: date, b: date) -> int:
    """Count day by day: the independent oracle for the arithmetic in the code."""
    sign = 1 if a <= b else -1
    low, high = min(a, b), max(a, b)
    return sign * sum(
        cal.is_working_day(low + ONE_DAY * k) for k in range(1, (high - low).days + 1)
    )


@given(calendars, days, steps)
def test_result_is_a_working_day_on_the_right_side(cal: WorkingCalendar, day: date, n: int) -> None:
    result = cal.add_working_days(day, n)
    assert cal.is_working_day(result)
    if n > 0:
        assert result > day
    elif n < 0:
        assert result < day
    else:
        assert result >= day
        assert (result == day) == cal.is_working_day(day)


@given(calendars, days, st.integers(1, 70))
def test_counting_up_to_the_result_gives_n(cal: WorkingCalendar, day: date, n: int) -> None:
    result = cal.nth_working_day_after(day, n)
    assert result == cal.add_working_days(day, n)
    assert cal.working_days_between(day, result) == n
    assert brute_force_count(cal, day, result) == n


@given(calendars, days)
def test_nothing_workable_is_skipped(cal: WorkingCalendar, day: date) -> None:
    following = cal.add_working_days(day, 1)
    gap = (following - day).days
    assert not any(cal.is_working_day(day + ONE_DAY * k) for k in range(1, gap))
    preceding = cal.add_working_days(day, -1)
    gap = (day - preceding).days
    assert not any(cal.is_working_day(day - ONE_DAY * k) for k in range(1, gap))


@given(calendars, days, steps)
def test_backwards_inverts_forwards_on_working_days(
    cal: WorkingCalendar, day: date, n: int
) -> None:
    start = cal.add_working_days(day, 0)
    assert cal.add_working_days(cal.add_working_days(start, n), -n) == start
    assert cal.working_days_between(start, cal.add_working_days(start, n)) == n


@given(calendars, days, days)
def test_count_matches_day_by_day(cal: WorkingCalendar, a: date, b: date) -> None:
    assert cal.working_days_between(a, b) == brute_force_count(cal, a, b)
    assert cal.working_days_between(a, b) == -cal.working_days_between(b, a)


@given(calendars, days, days, days)
def test_counts_chain(cal: WorkingCalendar, a: date, b: date, c: date) -> None:
    assert cal.working_days_between(a, b) + cal.working_days_between(
        b, c
    ) == cal.working_days_between(a, c)


@given(calendars, days, days)
def test_moving_by_the_count_lands_on_a_working_target(
    cal: WorkingCalendar, a: date, b: date
) -> None:
    target = cal.add_working_days(b, 0)
    start = cal.add_working_days(a, 0)
    assert cal.add_working_days(start, cal.working_days_between(start, target)) == target


@given(days)
def test_holiday_free_week_has_five_working_days(day: date) -> None:
    plain = WorkingCalendar([])
    assert plain.working_days_between(day, day + timedelta(days=7)) == 5
    assert plain.working_days_between(day, day + timedelta(days=70)) == 50
