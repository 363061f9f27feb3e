"""Tests for UK financial-year periods and the parser people's replies go through."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from mailcapture.domain.periods import (
    MAX_FY,
    MIN_FY,
    Period,
    PeriodError,
    PeriodKind,
    financial_year_of,
    month_of,
    parse_period,
    period_of,
    periods_between,
    quarter_of,
    year_of,
)

MONTH, QUARTER, YEAR = PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.YEAR
ONE_DAY = timedelta(days=1)
ABBR = ["", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
FIRST_DAY = date(MIN_FY, 4, 1)
LAST_DAY = date(MAX_FY + 1, 3, 31)

fys = st.integers(MIN_FY, MAX_FY)
inner_fys = st.integers(MIN_FY + 1, MAX_FY - 1)
dates = st.dates(FIRST_DAY, LAST_DAY)
LIMITS = {MONTH: 12, QUARTER: 4, YEAR: 1}


@st.composite
def periods(draw: st.DrawFn, kinds: st.SearchStrategy[PeriodKind] | None = None) -> Period:
    kind = draw(kinds if kinds is not None else st.sampled_from(PeriodKind))
    return Period(draw(fys), kind, draw(st.integers(1, LIMITS[kind])))


def fy_short(fy: int) -> str:
    return f"{fy}/{(fy + 1) % 100:02d}"


# -- construction, dates, names ----------------------------------------------------


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        (Period(2026, MONTH, 1), date(2026, 4, 1), date(2026, 4, 30)),
        (Period(2026, MONTH, 9), date(2026, 12, 1), date(2026, 12, 31)),
        (Period(2026, MONTH, 10), date(2027, 1, 1), date(2027, 1, 31)),
        (Period(2026, MONTH, 11), date(2027, 2, 1), date(2027, 2, 28)),
        (Period(2027, MONTH, 11), date(2028, 2, 1), date(2028, 2, 29)),
        (Period(2026, MONTH, 12), date(2027, 3, 1), date(2027, 3, 31)),
        (Period(2026, QUARTER, 1), date(2026, 4, 1), date(2026, 6, 30)),
        (Period(2026, QUARTER, 3), date(2026, 10, 1), date(2026, 12, 31)),
        (Period(2026, QUARTER, 4), date(2027, 1, 1), date(2027, 3, 31)),
        (Period(2026, YEAR, 1), date(2026, 4, 1), date(2027, 3, 31)),
    ],
)
def test_start_and_end(period: Period, start: date, end: date) -> None:
    assert (period.start, period.end) == (start, end)


@pytest.mark.parametrize(
    ("period", "code", "label"),
    [
        (Period(2026, MONTH, 2), "2026-05", "May 2026"),
        (Period(2026, MONTH, 10), "2027-01", "January 2027"),
        (Period(2026, QUARTER, 1), "2026/27 Q1", "Q1 2026/27 (Apr-Jun 2026)"),
        (Period(2026, QUARTER, 4), "2026/27 Q4", "Q4 2026/27 (Jan-Mar 2027)"),
        (Period(2026, YEAR, 1), "2026/27", "2026/27"),
        (Period(1999, YEAR, 1), "1999/00", "1999/00"),
        (Period(2009, QUARTER, 2), "2009/10 Q2", "Q2 2009/10 (Jul-Sep 2009)"),
    ],
)
def test_code_label_and_str(period: Period, code: str, label: str) -> None:
    assert (period.code, period.label, str(period)) == (code, label, code)


def test_month_span_of_each_kind() -> None:
    assert Period(2026, MONTH, 2).month_span == "May 2026"
    assert Period(2026, QUARTER, 4).month_span == "Jan-Mar 2027"
    assert Period(2026, YEAR, 1).month_span == "Apr 2026-Mar 2027"


def test_kind_given_as_text_is_normalised() -> None:
    period = Period(2026, "quarter", 2)  # type: ignore[arg-type]
    assert period.kind is QUARTER
    assert period == Period(2026, QUARTER, 2)
    assert hash(period) == hash(Period(2026, QUARTER, 2))


@pytest.mark.parametrize(
    ("fy", "kind", "index", "fragment"),
    [
        (2026, MONTH, 0, "1 to 12"),
        (2026, MONTH, 13, "1 to 12"),
        (2026, QUARTER, 5, "1 to 4"),
        (2026, YEAR, 2, "1 to 1"),
        (2026, "week", 1, "not a period kind"),
        (MIN_FY - 1, YEAR, 1, "outside the supported range"),
        (MAX_FY + 1, MONTH, 1, "outside the supported range"),
        (2026.0, YEAR, 1, "must be an integer"),
        (2026, MONTH, 1.0, "must be an integer"),
        (True, YEAR, 1, "must be an integer"),
    ],
)
def test_impossible_periods_are_refused(
    fy: object, kind: object, index: object, fragment: str
) -> None:
    with pytest.raises(PeriodError, match=fragment):
        Period(fy, kind, index)  # type: ignore[arg-type]


def test_periods_work_as_set_members_and_dict_keys() -> None:
    assert len({Period(2026, MONTH, 1), Period(2026, MONTH, 1), Period(2026, QUARTER, 1)}) == 2
    assert {Period(2026, YEAR, 1): "x"}[parse_period("2026/27")] == "x"


# -- hierarchy and stepping ---------------------------------------------------------


def test_parent_chain() -> None:
    june = Period(2026, MONTH, 3)
    assert june.parent() == Period(2026, QUARTER, 1)
    assert Period(2026, MONTH, 4).parent() == Period(2026, QUARTER, 2)
    assert Period(2026, MONTH, 12).parent() == Period(2026, QUARTER, 4)
    assert Period(2026, QUARTER, 4).parent() == Period(2026, YEAR, 1)
    assert Period(2026, YEAR, 1).parent() is None


def test_children_and_months() -> None:
    year = Period(2026, YEAR, 1)
    assert [q.code for q in year.children()] == [f"2026/27 Q{q}" for q in range(1, 5)]
    assert [m.code for m in Period(2026, QUARTER, 4).children()] == [
        "2027-01",
        "2027-02",
        "2027-03",
    ]
    assert Period(2026, MONTH, 5).children() == []
    assert Period(2026, MONTH, 5).months() == [Period(2026, MONTH, 5)]
    assert year.months()[0].code == "2026-04"
    assert year.months()[-1].code == "2027-03"


def test_stepping_across_year_ends() -> None:
    march = parse_period("2027-03")
    assert march.next() == parse_period("2027-04")
    assert march.next().fy == 2027
    assert parse_period("2027-04").previous() == march
    assert parse_period("2026-12").next() == parse_period("2027-01")
    assert Period(2026, QUARTER, 1).previous() == Period(2025, QUARTER, 4)
    assert Period(2026, QUARTER, 4).next() == Period(2027, QUARTER, 1)
    assert Period(2026, YEAR, 1).next() == Period(2027, YEAR, 1)
    assert Period(2026, MONTH, 1).shift(25) == parse_period("2028-05")
    assert Period(2026, QUARTER, 2).shift(-6) == Period(2024, QUARTER, 4)


def test_stepping_out_of_range_is_an_error() -> None:
    with pytest.raises(PeriodError, match="outside the supported range"):
        Period(MIN_FY, MONTH, 1).previous()
    with pytest.raises(PeriodError, match="outside the supported range"):
        Period(MAX_FY, QUARTER, 4).next()
    with pytest.raises(PeriodError, match="outside the supported range"):
        Period(MIN_FY, YEAR, 1).same_period_last_year()


def test_same_period_last_year() -> None:
    assert parse_period("2026-02").same_period_last_year() == parse_period("2025-02")
    assert Period(2026, QUARTER, 3).same_period_last_year() == Period(2025, QUARTER, 3)


def test_contains_is_inclusive_at_both_ends() -> None:
    q1 = Period(2026, QUARTER, 1)
    assert q1.contains(date(2026, 4, 1))
    assert q1.contains(date(2026, 6, 30))
    assert not q1.contains(date(2026, 3, 31))
    assert not q1.contains(date(2026, 7, 1))


# -- from dates ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("d", "fy"),
    [(date(2026, 3, 31), 2025), (date(2026, 4, 1), 2026), (date(2026, 12, 31), 2026)],
)
def test_financial_year_of(d: date, fy: int) -> None:
    assert financial_year_of(d) == fy


def test_periods_of_a_date() -> None:
    d = date(2027, 2, 14)
    assert month_of(d).code == "2027-02"
    assert quarter_of(d).code == "2026/27 Q4"
    assert year_of(d).code == "2026/27"
    assert period_of(d, QUARTER) == quarter_of(d)
    assert period_of(d, "month") == month_of(d)
    assert period_of(d, "year") == year_of(d)


def test_period_of_refuses_unknown_kind_and_out_of_range_dates() -> None:
    with pytest.raises(PeriodError, match="not a period kind"):
        period_of(date(2026, 5, 1), "week")
    with pytest.raises(PeriodError, match="outside the supported range"):
        period_of(date(1990, 3, 31), "month")


# -- ranges -------------------------------------------------------------------------


def test_periods_between_months_across_a_year_end() -> None:
    got = periods_between(parse_period("2027-02"), parse_period("2027-05"))
    assert [p.code for p in got] == ["2027-02", "2027-03", "2027-04", "2027-05"]


def test_periods_between_single_and_quarters() -> None:
    q = Period(2026, QUARTER, 3)
    assert periods_between(q, q) == [q]
    got = periods_between(Period(2025, QUARTER, 4), Period(2026, QUARTER, 2))
    assert [p.code for p in got] == ["2025/26 Q4", "2026/27 Q1", "2026/27 Q2"]


def test_periods_between_refuses_mixed_kinds_and_reversed_ranges() -> None:
    with pytest.raises(PeriodError, match=r"is a month but .* is a quarter"):
        periods_between(Period(2026, MONTH, 1), Period(2026, QUARTER, 2))
    with pytest.raises(PeriodError, match="comes before"):
        periods_between(Period(2026, YEAR, 1), Period(2025, YEAR, 1))


# -- ordering -----------------------------------------------------------------------


def test_outline_order_parent_before_children() -> None:
    year = Period(2026, YEAR, 1)
    shuffled = [*reversed(year.months()), *year.children(), year]
    expected = [year]
    for quarter in year.children():
        expected += [quarter, *quarter.months()]
    assert sorted(shuffled) == expected


def test_ordering_is_chronological_not_by_kind_name() -> None:
    # Field order (fy, kind, index) would put every month before any quarter.
    assert Period(2026, QUARTER, 1) < Period(2026, MONTH, 4)
    assert Period(2026, MONTH, 12) > Period(2026, QUARTER, 3)
    assert Period(2026, YEAR, 1) <= Period(2026, YEAR, 1)
    assert Period(2027, YEAR, 1) >= Period(2026, MONTH, 12)


def test_ordering_against_other_types_is_refused() -> None:
    with pytest.raises(TypeError):
        _ = Period(2026, YEAR, 1) < "2026/27"  # type: ignore[operator]


# -- parsing: every accepted spelling -------------------------------------------------

ACCEPTED = [
    # months
    ("2026-05", "2026-05"),
    ("2026-5", "2026-05"),
    ("2027-01", "2027-01"),
    ("05/2026", "2026-05"),
    ("5/2026", "2026-05"),
    ("05-2026", "2026-05"),
    ("May 2026", "2026-05"),
    ("may 2026", "2026-05"),
    ("MAY 2026", "2026-05"),
    ("May-2026", "2026-05"),
    ("May - 2026", "2026-05"),
    ("May, 2026", "2026-05"),
    ("May2026", "2026-05"),
    ("May 26", "2026-05"),
    ("May-26", "2026-05"),
    ("January 2027", "2027-01"),
    ("Sept 2026", "2026-09"),
    ("Sept. 2026", "2026-09"),
    ("Sep-26", "2026-09"),
    ("  march   2027 ", "2027-03"),
    ("2010-11", "2010-11"),  # the month code wins over the financial year 2010/11
    ("2000-01", "2000-01"),
    # quarters by number
    ("2026/27 Q1", "2026/27 Q1"),
    ("Q1 2026/27", "2026/27 Q1"),
    ("q1 2026/27", "2026/27 Q1"),
    ("2026-27 Q1", "2026/27 Q1"),
    ("Q1 2026-27", "2026/27 Q1"),
    ("2026/2027 Q1", "2026/27 Q1"),
    ("Q1 2026/2027", "2026/27 Q1"),
    ("Q1 26/27", "2026/27 Q1"),
    ("26-27 Q3", "2026/27 Q3"),
    ("Q2 FY2026/27", "2026/27 Q2"),
    ("FY 2026-27 Q4", "2026/27 Q4"),
    ("Quarter 3 2026/27", "2026/27 Q3"),
    ("Q 4 2026 / 27", "2026/27 Q4"),
    ("Q1 2010-11", "2010/11 Q1"),
    ("Q4 99/00", "2099/00 Q4"),
    # quarters by months
    ("Apr-Jun 2026", "2026/27 Q1"),
    ("April - June 2026", "2026/27 Q1"),
    ("April to June 2026", "2026/27 Q1"),
    ("April \u2013 June 2026", "2026/27 Q1"),
    ("Jul-Sep 2026", "2026/27 Q2"),
    ("Oct-Dec 2026", "2026/27 Q3"),
    ("Jan-Mar 2027", "2026/27 Q4"),
    ("jan-mar 27", "2026/27 Q4"),
    ("Jan-Mar 2026/27", "2026/27 Q4"),
    ("Apr-Jun 2026/27", "2026/27 Q1"),
    ("Oct 2026 - Dec 2026", "2026/27 Q3"),
    ("Q1 2026/27 (Apr-Jun 2026)", "2026/27 Q1"),
    ("q4 2026/27 ( jan - mar 2027 )", "2026/27 Q4"),
    # years
    ("2026/27", "2026/27"),
    ("2026-27", "2026/27"),
    ("2026/2027", "2026/27"),
    ("2026-2027", "2026/27"),
    ("FY2026/27", "2026/27"),
    ("FY 2026-27", "2026/27"),
    ("fy 26/27", "2026/27"),
    ("FY2026/2027", "2026/27"),
    ("2026 / 27", "2026/27"),
    ("1999/00", "1999/00"),
    ("1999/2000", "1999/00"),
    ("2010/11", "2010/11"),
    ("FY 2010-11", "2010/11"),
    ("Apr 2026 - Mar 2027", "2026/27"),
    ("April 2026 to March 2027", "2026/27"),
    ("Apr-Mar 2026/27", "2026/27"),
    # range limits
    ("1990/91", "1990/91"),
    ("Apr 1990", "1990-04"),
    ("2100/01", "2100/01"),
    ("Mar 2101", "2101-03"),
]


@pytest.mark.parametrize(("text", "code"), ACCEPTED)
def test_accepted_spellings(text: str, code: str) -> None:
    assert parse_period(text).code == code


def test_parsed_values_are_real_periods() -> None:
    assert parse_period("May 2026") == Period(2026, MONTH, 2)
    assert parse_period("Jan-Mar 2027") == Period(2026, QUARTER, 4)
    assert parse_period("FY 2026-27") == Period(2026, YEAR, 1)


# -- parsing: every rejected spelling, with its reason ----------------------------------

REJECTED = [
    ("", "'' is empty"),
    ("   ", "'' is empty"),
    ("banana", "'banana' is not a period: write one such as"),
    ("hello world 2026", "'hello world 2026' is not a period"),
    ("Mai 2026", "'mai' is not a month name"),
    ("Q1 2026", "is ambiguous: write 2026/27 Q1 (Apr-Jun 2026) or 2025/26 Q4 (Jan-Mar 2026)"),
    ("2026 Q1", "is ambiguous: write 2026/27 Q1 (Apr-Jun 2026) or 2025/26 Q4 (Jan-Mar 2026)"),
    ("Q3 2026", "is ambiguous: write 2026/27 Q3 (Oct-Dec 2026) or 2026/27 Q2 (Jul-Sep 2026)"),
    ("Q1 26", "is ambiguous: write 2026/27 Q1"),
    ("Q2 FY2026", "is ambiguous"),
    ("2026", "'2026' is ambiguous: write 2026/27 (Apr 2026-Mar 2027) or 2025/26"),
    ("FY2026", "'FY2026' is ambiguous"),
    ("FY 26", "'FY 26' is ambiguous: write 2026/27"),
    ("2026/28", "'2026/28' is not a financial year: 2026 must be followed by 27 (write 2026/27)"),
    ("2026/2028", "2026 must be followed by 2027"),
    ("2026-2025", "2026 must be followed by 2027"),
    ("FY 2026-05", "is not a financial year"),
    ("Q1 2026/28", "is not a financial year"),
    ("2026/05", "a slash after a four-digit year starts a financial year (2026/27); for May 2026"),
    ("2026/5", "for May 2026 write 2026-05"),
    ("2026-13", "is neither a month (13 is not a month number) nor a financial year"),
    ("2026-00", "is neither a month"),
    ("13/2026", "13 is not a month number"),
    ("00/2026", "0 is not a month number"),
    ("26/27", "is too short to read safely: write 2026/27 for the financial year"),
    ("05/26", "is too short to read safely: write 2026-05 for May 2026"),
    ("11/12", "write 2011/12 for the financial year or 2012-11 for November 2012"),
    ("45/67", "'45/67' is not a period"),
    ("Q5 2026/27", "there is no quarter 5"),
    ("Q0 2026/27", "there is no quarter 0"),
    ("Feb-Apr 2026", "'Feb-Apr 2026' is not a quarter: financial quarters are Apr-Jun, Jul-Sep"),
    ("Jan-Mar 2026/27 Q1", "is not a period"),
    ("May-Jul 2026/27", "is not a quarter"),
    ("Mar-May 2026/27", "ends before it starts"),  # March 2027 to May 2026
    ("Nov 2026 - Jan 2027", "is not a quarter"),
    ("Apr-Jul 2026", "covers 4 months"),
    ("Apr 2026 - Apr 2027", "covers 13 months"),
    ("Jun-Apr 2026", "ends before it starts"),
    ("Q1 2026/27 (Jul-Sep 2026)", "contradicts itself: 2026/27 Q1 is Apr-Jun 2026"),
    ("May 2026 (2026-06)", "contradicts itself"),
    ("Q1 2026/27 (banana)", "is not a period"),
    ("Jan 1990", "'Jan 1990' is outside the supported range 1990/91 to 2100/01"),
    ("1989/90", "outside the supported range"),
    ("2101/02", "outside the supported range"),
    ("Apr 2101", "outside the supported range"),
    ("12345", "is not a period"),
    ("2026-05-01", "is not a period"),
    ("\u0662\u0660\u0662\u0666-\u0660\u0665", "is not a period"),  # Arabic-Indic digits
]


@pytest.mark.parametrize(("text", "fragment"), REJECTED)
def test_rejected_spellings_say_why(text: str, fragment: str) -> None:
    with pytest.raises(PeriodError) as caught:
        parse_period(text)
    assert fragment in str(caught.value)


def test_reason_quotes_the_input_as_written_on_one_line() -> None:
    with pytest.raises(PeriodError) as caught:
        parse_period("  Apr -\nJUL  2026 ")
    assert str(caught.value).startswith("'Apr - JUL 2026' covers 4 months")


def test_brief_example_message_exactly() -> None:
    with pytest.raises(PeriodError) as caught:
        parse_period("Q1 2026")
    assert str(caught.value) == (
        "'Q1 2026' is ambiguous: write 2026/27 Q1 (Apr-Jun 2026) or 2025/26 Q4 (Jan-Mar 2026)"
    )


def test_long_input_is_shortened_in_the_reason() -> None:
    with pytest.raises(PeriodError) as caught:
        parse_period("x" * 500)
    message = str(caught.value)
    assert message.startswith("'" + "x" * 57 + "...'")
    assert len(message) < 200


def test_period_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_period("nonsense")


# -- properties ----------------------------------------------------------------------


@given(periods())
def test_code_round_trips(p: Period) -> None:
    assert parse_period(p.code) == p


@given(periods(), st.sampled_from([str, str.upper, str.lower]), st.sampled_from([" ", "   "]))
def test_label_round_trips_in_any_case_and_spacing(p: Period, case: object, gap: str) -> None:
    text = case(p.label).replace(" ", gap)  # type: ignore[operator]
    assert parse_period(f" {text} ") == p


@given(periods(st.just(QUARTER)))
def test_month_span_of_a_quarter_parses_to_it(p: Period) -> None:
    assert parse_period(p.month_span) == p


@given(periods(st.just(YEAR)))
def test_month_span_of_a_year_parses_to_it(p: Period) -> None:
    assert parse_period(p.month_span) == p


@given(st.integers(MIN_FY, MAX_FY), st.integers(1, 4), st.data())
def test_every_quarter_spelling_round_trips(fy: int, q: int, data: st.DataObject) -> None:
    expected = Period(fy, QUARTER, q)
    pair = data.draw(
        st.sampled_from(
            [f"{fy}/{(fy + 1) % 100:02d}", f"{fy}-{(fy + 1) % 100:02d}", f"{fy}/{fy + 1}"]
        )
    )
    prefix = data.draw(st.sampled_from(["", "FY", "FY "]))
    text = data.draw(st.sampled_from([f"Q{q} {prefix}{pair}", f"{prefix}{pair} Q{q}"]))
    assert parse_period(text) == expected


@given(st.integers(2000, 2099), st.integers(1, 4))
def test_two_digit_financial_years_mean_this_century(fy: int, q: int) -> None:
    short = f"{fy % 100:02d}/{(fy + 1) % 100:02d}"
    assert parse_period(f"Q{q} {short}") == Period(fy, QUARTER, q)
    assert parse_period(f"FY {short}") == Period(fy, YEAR, 1)


@given(dates)
def test_month_spellings_round_trip(d: date) -> None:
    expected = month_of(d)
    assert parse_period(f"{d.month:02d}/{d.year}") == expected
    assert parse_period(f"{d.month}-{d.year}") == expected
    assert parse_period(f"{d.year}-{d.month}") == expected
    assert parse_period(f"{ABBR[d.month]}-{d.year}") == expected
    if 2000 <= d.year <= 2099:
        assert parse_period(f"{ABBR[d.month]} {d.year % 100:02d}") == expected


@given(fys)
def test_year_spellings_round_trip(fy: int) -> None:
    expected = Period(fy, YEAR, 1)
    for text in (f"{fy}/{fy + 1}", f"{fy}-{fy + 1}", f"FY {fy}-{(fy + 1) % 100:02d}"):
        assert parse_period(text) == expected
    if not 1 <= (fy + 1) % 100 <= 12:
        assert parse_period(f"{fy}-{(fy + 1) % 100:02d}") == expected


@given(st.integers(2000, 2011))
def test_hyphen_pair_that_could_be_a_month_is_the_month(fy: int) -> None:
    second = (fy + 1) % 100
    assert parse_period(f"{fy}-{second:02d}") == month_of(date(fy, second, 1))
    assert parse_period(f"{fy}/{second:02d}") == Period(fy, YEAR, 1)


@given(st.integers(MIN_FY, MAX_FY), st.integers(1990, 2100))
def test_non_consecutive_years_are_refused(fy: int, other: int) -> None:
    assume(other != fy + 1)
    with pytest.raises(PeriodError, match="is not a financial year"):
        parse_period(f"{fy}/{other}")


@given(st.integers(1991, 2100), st.integers(1, 4))
def test_bare_quarter_and_year_is_always_ambiguous(year: int, q: int) -> None:
    calendar_reading = quarter_of(date(year, 3 * q - 2, 1))
    with pytest.raises(PeriodError) as caught:
        parse_period(f"Q{q} {year}")
    message = str(caught.value)
    assert "ambiguous" in message
    assert f"{fy_short(year)} Q{q}" in message
    assert calendar_reading.code in message


@given(st.integers(1, 10), st.integers(1991, 2100))
def test_three_month_run_is_a_quarter_only_if_aligned(first: int, year: int) -> None:
    text = f"{ABBR[first]}-{ABBR[first + 2]} {year}"
    if first in (1, 4, 7, 10):
        got = parse_period(text)
        assert got.kind is QUARTER
        assert (got.start, got.end) == (date(year, first, 1), quarter_of(date(year, first, 1)).end)
    else:
        with pytest.raises(PeriodError, match="is not a quarter"):
            parse_period(text)


@given(st.text(max_size=40))
def test_any_text_gives_a_period_or_a_one_line_reason(text: str) -> None:
    try:
        result = parse_period(text)
    except PeriodError as error:
        message = str(error)
        assert message.startswith("'")
        assert len(message.splitlines()) == 1
    else:
        assert isinstance(result, Period)


@given(st.text(alphabet="0123456789/- qQfFyYaApPrRjJuUnN()", max_size=20))
def test_period_like_text_gives_a_period_or_a_reason(text: str) -> None:
    try:
        result = parse_period(text)
    except PeriodError:
        return
    assert parse_period(result.code) == result


@given(periods(st.just(MONTH)))
def test_month_rolls_up_to_the_year_containing_its_start(m: Period) -> None:
    quarter = m.parent()
    assert quarter is not None and quarter.kind is QUARTER
    assert quarter.contains(m.start) and quarter.contains(m.end)
    year = quarter.parent()
    assert year == year_of(m.start)
    assert m in quarter.months()
    assert quarter in year.children()


@given(periods(st.just(YEAR)))
def test_year_months_are_april_to_march_consecutive(y: Period) -> None:
    months = y.months()
    assert len(months) == 12
    assert months[0].start == date(y.fy, 4, 1)
    assert months[-1].end == date(y.fy + 1, 3, 31)
    for earlier, later in itertools.pairwise(months):
        assert earlier.next() == later


@given(periods())
def test_months_and_children_tile_the_period(p: Period) -> None:
    for parts in (p.months(), p.children() or [p]):
        assert parts[0].start == p.start
        assert parts[-1].end == p.end
        for earlier, later in itertools.pairwise(parts):
            assert earlier.end + ONE_DAY == later.start
    assert all(m.kind is MONTH for m in p.months())
    assert all(child.parent() == p for child in p.children())
    assert sum((m.end - m.start).days + 1 for m in p.months()) == (p.end - p.start).days + 1


@given(periods())
def test_previous_and_next_invert(p: Period) -> None:
    assume(MIN_FY < p.fy < MAX_FY)
    assert p.previous().next() == p
    assert p.next().previous() == p
    assert p.next().start == p.end + ONE_DAY
    assert p.previous().end == p.start - ONE_DAY
    assert p.next().kind is p.kind


@given(periods())
def test_same_period_last_year_starts_a_year_earlier(p: Period) -> None:
    assume(p.fy > MIN_FY)
    last = p.same_period_last_year()
    assert last.start == p.start.replace(year=p.start.year - 1)
    assert (last.kind, last.index) == (p.kind, p.index)


@given(periods(), st.integers(-30, 30))
def test_shift_moves_by_whole_periods(p: Period, steps: int) -> None:
    moved_fy = p.fy + (p.index - 1 + steps) // LIMITS[p.kind]
    assume(MIN_FY <= moved_fy <= MAX_FY)
    moved = p.shift(steps)
    assert moved.shift(-steps) == p
    assert len(periods_between(min(p, moved), max(p, moved))) == abs(steps) + 1


@given(dates)
def test_every_date_is_in_its_periods(d: date) -> None:
    assert month_of(d).contains(d)
    assert quarter_of(d).contains(d)
    assert year_of(d).contains(d)
    assert month_of(d).parent() == quarter_of(d)
    assert quarter_of(d).parent() == year_of(d)
    assert financial_year_of(d) == year_of(d).fy
    for kind in PeriodKind:
        assert period_of(d, kind).contains(d)


@given(periods(), dates)
def test_contains_matches_the_date_range(p: Period, d: date) -> None:
    assert p.contains(d) == (p.start <= d <= p.end)
    assert not p.contains(p.start - ONE_DAY)
    assert not p.contains(p.end + ONE_DAY)


@given(periods(), periods())
def test_ordering_is_chronological_and_total(p: Period, q: Period) -> None:
    assert sum([p < q, p == q, p > q]) == 1
    assert (p <= q) == (p < q or p == q)
    assert (p >= q) == (p > q or p == q)
    if p.start < q.start:
        assert p < q
    if p.start == q.start and p.kind != q.kind:
        longer, shorter = (p, q) if p.end > q.end else (q, p)
        assert longer < shorter


@given(periods(), st.integers(0, 40))
def test_periods_between_is_consecutive_and_inclusive(first: Period, steps: int) -> None:
    last_fy = first.fy + (first.index - 1 + steps) // LIMITS[first.kind]
    assume(last_fy <= MAX_FY)
    last = first.shift(steps)
    got = periods_between(first, last)
    assert len(got) == steps + 1
    assert got[0] == first and got[-1] == last
    for earlier, later in itertools.pairwise(got):
        assert earlier.next() == later
