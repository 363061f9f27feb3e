"""parse_value, parse_status, parse_uk_date: every accepted and rejected spelling we decided on."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailcapture.parsing.values import (
    MilestoneStatus,
    ParsedStatus,
    ParsedValue,
    parse_status,
    parse_uk_date,
    parse_value,
)

TODAY = date(2026, 5, 20)

# --------------------------------------------------------------------------------------------
# parse_value: accepted
# --------------------------------------------------------------------------------------------

ACCEPTED: list[tuple[str, str, str, bool]] = [
    # (answer, unit, expected value, estimated)
    ("1234", "number", "1234", False),
    ("0", "number", "0", False),
    ("  1234  ", "number", "1234", False),
    ("1,234", "number", "1234", False),
    ("1,234,567", "number", "1234567", False),
    ("1,234.5", "number", "1234.5", False),
    ("1 234", "number", "1234", False),
    ("1\u00a0234", "number", "1234", False),
    ("1\u202f234.75", "number", "1234.75", False),
    ("1234.567", "number", "1234.567", False),
    ("0.125", "number", "0.125", False),
    ("12.5", "number", "12.5", False),
    (".5", "number", "0.5", False),
    ("1234.", "number", "1234", False),
    ("１２３４", "number", "1234", False),
    ("-12", "number", "-12", False),
    ("- 12", "number", "-12", False),
    ("\u221212", "number", "-12", False),
    ("+12", "number", "12", False),
    ("-0", "number", "0", False),
    ("nil", "number", "0", False),
    ("Nil", "number", "0", False),
    ("none", "number", "0", False),
    ("zero", "number", "0", False),
    ("nought", "number", "0", False),
    ("97.5%", "%", "97.5", False),
    ("97.5 %", "%", "97.5", False),
    ("97.5", "%", "97.5", False),
    ("97.5 percent", "%", "97.5", False),
    ("97.5 per cent", "%", "97.5", False),
    ("100%", "%", "100", False),
    ("£1,234.50", "£", "1234.50", False),
    ("£ 1,234.50", "£", "1234.50", False),
    ("1234 GBP", "£", "1234", False),
    ("£1234 pounds", "£", "1234", False),
    ("-£12", "£", "-12", False),
    ("£-12", "£", "-12", False),
    ("1234", "£", "1234", False),
    ("12 days", "days", "12", False),
    ("12 day", "days", "12", False),
    ("12", "days", "12", False),
    ("3 hrs", "hours", "3", False),
    ("2 weeks", "weeks", "2", False),
    ("340 kg", "kg", "340", False),
    ("340kg", "kg", "340", False),
    ("2.5 tonnes", "tonnes", "2.5", False),
    ("2.5t", "tonnes", "2.5", False),
    ("12 m", "m", "12", False),
    ("12 working days", "working days", "12", False),
    ("0.5 FTE", "FTE", "0.5", False),
    ("1,480 invoices", "number", "1480", False),
    ("1480 complaints", "number", "1480", False),
    ("approx 120", "number", "120", True),
    ("approx. 120", "number", "120", True),
    ("approximately 120", "number", "120", True),
    ("c. 120", "number", "120", True),
    ("c.120", "number", "120", True),
    ("c 120", "number", "120", True),
    ("ca. 120", "number", "120", True),
    ("circa 120", "number", "120", True),
    ("about 120", "number", "120", True),
    ("around 120", "number", "120", True),
    ("~120", "number", "120", True),
    ("est. 120", "number", "120", True),
    ("estimated 120", "number", "120", True),
    ("120 (estimate)", "number", "120", True),
    ("120 (est)", "number", "120", True),
    ("120 (est.)", "number", "120", True),
    ("120 estimated", "number", "120", True),
    ("120 approx", "number", "120", True),
    ("approx 97.5%", "%", "97.5", True),
    ("c. £1,200", "£", "1200", True),
]


@pytest.mark.parametrize(("answer", "unit", "expected", "estimated"), ACCEPTED)
def test_accepted_values(answer: str, unit: str, expected: str, estimated: bool) -> None:
    parsed = parse_value(answer, unit, TODAY)
    assert parsed == ParsedValue(kind="number", value=Decimal(expected), estimated=estimated)
    assert str(parsed.value) == expected  # exact, trailing zeros kept


def test_value_is_decimal_not_float() -> None:
    parsed = parse_value("0.1", "number", TODAY)
    assert parsed.value == Decimal("0.1")
    assert isinstance(parsed.value, Decimal)


@pytest.mark.parametrize("answer", ["", "   ", "\n", "."])
def test_empty(answer: str) -> None:
    assert parse_value(answer, "number", TODAY) == ParsedValue(kind="empty")


# --------------------------------------------------------------------------------------------
# parse_value: not available
# --------------------------------------------------------------------------------------------

NOT_AVAILABLE: list[tuple[str, date | None]] = [
    ("n/a", None),
    ("N/A", None),
    ("na", None),
    ("NA", None),
    ("n.a.", None),
    ("not available", None),
    ("Not available", None),
    ("not applicable", None),
    ("tbc", None),
    ("TBC", None),
    ("tba", None),
    ("to be confirmed", None),
    ("unknown", None),
    ("not known", None),
    ("not yet known", None),
    ("no data", None),
    ("pending", None),
    ("n/a - service closed for refurbishment", None),
    ("tbc (awaiting the contractor)", None),
    ("not available until 15 May", date(2026, 5, 15)),
    ("not available until 15/06/2026", date(2026, 6, 15)),
    ("n/a until 1 July", date(2026, 7, 1)),
    ("tbc - expected 3 June 2026", date(2026, 6, 3)),
    ("available from 15 June", date(2026, 6, 15)),
    ("not available until next month", None),
    ("n/a - system down until the 20th", None),
    ("n/a - system down until 20 June", date(2026, 6, 20)),
    ("N/A: data due from the contractor on 3 June 2026", date(2026, 6, 3)),
    ("tbc, probably around 1234", None),
]


@pytest.mark.parametrize(("answer", "available_from"), NOT_AVAILABLE)
def test_not_available(answer: str, available_from: date | None) -> None:
    parsed = parse_value(answer, "number", TODAY)
    assert parsed.kind == "not_available"
    assert parsed.reason == answer.strip()
    assert parsed.available_from == available_from
    assert parsed.value is None


# --------------------------------------------------------------------------------------------
# parse_value: rejected, with the reason the sender will read
# --------------------------------------------------------------------------------------------

REJECTED: list[tuple[str, str, str]] = [
    # (answer, unit, fragment of the reason)
    ("(12)", "number", "accounting"),
    ("(£12)", "£", "accounting"),
    ("12-", "number", "trailing minus"),
    ("1234 or 1240", "number", "alternative"),
    ("12/15", "number", "'/'"),
    ("1234 (was 1200)", "number", "brackets contains another number"),
    ("1234 (see note)", "number", "comment line"),
    ("1234 (provisional)", "number", "comment line"),
    ("10-12", "number", "range"),
    ("10 - 12", "number", "range"),
    ("10 to 12", "number", "range"),
    ("10–12", "number", "range"),
    ("between 10 and 12", "number", "range"),
    ("12 15", "number", "more than one number"),
    ("1234 5678", "number", "more than one number"),
    ("1.234", "number", "could mean 1234"),
    ("12.500", "number", "could mean 12500"),
    ("1,23", "number", "European"),
    ("1,2345", "number", "European"),
    ("1.234,5", "number", "European"),
    ("1.234.567", "number", "European"),
    ("12,5%", "%", "European"),
    ("1'234", "number", "commas for thousands"),
    ("1234,567", "number", "could not read"),
    ("15/05/2026", "number", "'/'"),
    ("15.5.26", "number", "date"),
    ("£12", "%", "percentage"),
    ("12%", "number", "count"),
    ("12%", "£", "in £"),
    ("12 days", "number", "count"),
    ("12 weeks", "days", "measured in days"),
    ("12 tons", "tonnes", "measured in tonnes"),
    ("12 kg", "tonnes", "measured in tonnes"),
    ("£12", "days", "measured in days"),
    ("$12", "£", "in £"),
    ("£1,234", "£000", "in £000"),
    ("12 working days", "days", "unexpected words"),
    ("abc", "number", "could not find a number"),
    ("about half", "number", "could not find a number"),
    ("twelve", "number", "could not find a number"),
    ("?", "number", "could not find a number"),
    ("-", "number", "dash alone"),
    ("—", "number", "dash alone"),
    ("1234 more", "number", "unexpected words"),
    ("1234 ytd", "number", "unexpected words"),
    ("1234 so far", "number", "unexpected words"),
    ("1,480 invoices paid", "number", "unexpected words"),
    ("1234 - see comment", "number", "trailing minus"),
    ("total 1234", "number", "before the number"),
    ("was 1234", "number", "before the number"),
    ("120+", "number", "at least"),
    ("12k", "number", "in full"),
    ("1.2m", "£", "in full"),
    ("£1.2 million", "£", "in full"),
    ("1e3", "number", "scientific"),
    ("1.2E+3", "number", "scientific"),
    ("1.2 x 10^3", "number", "scientific"),
    ("£12 %", "%", "both a currency sign and '%'"),
    ("100²", "number", "plain digits"),
    ("½", "number", "plain digits"),
    ("١٢٣", "number", "could not find a number"),
]


@pytest.mark.parametrize(("answer", "unit", "fragment"), REJECTED)
def test_rejected_values(answer: str, unit: str, fragment: str) -> None:
    parsed = parse_value(answer, unit, TODAY)
    assert parsed.kind == "rejected", parsed
    assert parsed.value is None
    assert parsed.reason is not None and fragment in parsed.reason


# --------------------------------------------------------------------------------------------
# parse_value: properties
# --------------------------------------------------------------------------------------------

_big_decimals = st.decimals(
    min_value=Decimal(1000), max_value=Decimal("1e15"), places=3, allow_nan=False
) | st.decimals(min_value=Decimal(1000), max_value=Decimal("1e12"), places=0, allow_nan=False)


@given(_big_decimals, st.booleans())
def test_thousands_separated_decimals_parse_back_exactly(value: Decimal, negative: bool) -> None:
    """Any figure of 1,000 or more, written with comma separators, parses back exactly."""
    if negative:
        value = -value
    assert parse_value(f"{value:,}", "number", TODAY) == ParsedValue("number", value)


@given(st.integers(min_value=0, max_value=10**15))
def test_integers_with_comma_or_space_separators(n: int) -> None:
    assert parse_value(f"{n:,}", "number", TODAY).value == Decimal(n)
    assert parse_value(f"{n:,}".replace(",", " "), "number", TODAY).value == Decimal(n)
    assert parse_value(str(n), "number", TODAY).value == Decimal(n)


@given(st.decimals(min_value=0, max_value=100, places=2, allow_nan=False))
def test_percentages_with_and_without_sign(value: Decimal) -> None:
    for answer in (f"{value}", f"{value}%", f"{value} %"):
        assert parse_value(answer, "%", TODAY) == ParsedValue("number", value)


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=10**6))
def test_two_numbers_are_never_one(a: int, b: int) -> None:
    for sep in (" or ", "/", " - ", " to ", " and "):
        assert parse_value(f"{a:,}{sep}{b:,}", "number", TODAY).kind == "rejected"


@given(st.text(max_size=30))
def test_never_raises_and_never_invents_a_number(text: str) -> None:
    parsed = parse_value(text, "number", TODAY)
    assert parsed.kind in {"number", "not_available", "rejected", "empty"}
    if parsed.kind == "number":
        assert parsed.value is not None
        assert any(ch.isdigit() for ch in text) or text.strip().casefold() in {
            "nil",
            "none",
            "zero",
            "nought",
            "nothing",
        }
    if parsed.kind == "rejected":
        assert parsed.reason


# --------------------------------------------------------------------------------------------
# parse_uk_date
# --------------------------------------------------------------------------------------------

DATES: list[tuple[str, date | None]] = [
    ("15 May", date(2026, 5, 15)),
    ("15 may", date(2026, 5, 15)),
    ("15th May", date(2026, 5, 15)),
    ("15th May 2026", date(2026, 5, 15)),
    ("15 May 26", date(2026, 5, 15)),
    ("15 May, 2026", date(2026, 5, 15)),
    ("15-May-2026", date(2026, 5, 15)),
    ("1st of June 2026", date(2026, 6, 1)),
    ("2 Sept 2026", date(2026, 9, 2)),
    ("2 Sep. 2026", date(2026, 9, 2)),
    ("May 15 2026", date(2026, 5, 15)),
    ("May 15, 2026", date(2026, 5, 15)),
    ("May 15th", date(2026, 5, 15)),
    ("15/05/2026", date(2026, 5, 15)),
    ("15/5/26", date(2026, 5, 15)),
    ("15.5.26", date(2026, 5, 15)),
    ("15.05.2026", date(2026, 5, 15)),
    ("15-05-2026", date(2026, 5, 15)),
    ("05/06/2026", date(2026, 6, 5)),  # UK: day first
    ("2026-05-15", date(2026, 5, 15)),
    ("2026/05/15", date(2026, 5, 15)),
    ("Friday 15 May 2026", date(2026, 5, 15)),
    ("Fri, 15 May 2026", date(2026, 5, 15)),
    ("on 15 May 2026", date(2026, 5, 15)),
    ("15 May 2026.", date(2026, 5, 15)),
    ("today", TODAY),
    ("yesterday", date(2026, 5, 19)),
    # No year: the next such date on or after today minus six months (2025-11-20).
    ("3 Jan", date(2026, 1, 3)),
    ("20 Nov", date(2025, 11, 20)),
    ("19 Nov", date(2026, 11, 19)),
    ("1 Nov", date(2026, 11, 1)),
    ("25 December", date(2025, 12, 25)),
    ("15/05", date(2026, 5, 15)),
    ("29 Feb", date(2028, 2, 29)),
    # Not dates, or not unambiguous ones.
    ("12/25/2026", None),  # no 25th month: not flipped to US order
    ("31/02/2026", None),
    ("Thursday 15 May 2026", None),  # 15 May 2026 is a Friday
    ("mid May", None),
    ("end of June", None),
    ("May", None),
    ("next week", None),
    ("15 Foo 2026", None),
    ("", None),
    ("15 May 2026 or 16 May", None),
]


@pytest.mark.parametrize(("text", "expected"), DATES)
def test_parse_uk_date(text: str, expected: date | None) -> None:
    assert parse_uk_date(text, TODAY) == expected


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_dates_round_trip_in_every_written_form(day: date) -> None:
    for form in ("%d/%m/%Y", "%d.%m.%Y", "%Y-%m-%d", "%d %B %Y", "%d %b %Y", "%B %d %Y",
                 "%A %d %B %Y"):  # fmt: skip
        assert parse_uk_date(day.strftime(form), TODAY) == day


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)))
def test_no_year_is_within_the_window(today: date) -> None:
    parsed = parse_uk_date("1 March", today)
    assert parsed is not None
    assert (parsed.month, parsed.day) == (3, 1)
    assert (today - parsed).days <= 184
    assert (parsed - today).days <= 366


# --------------------------------------------------------------------------------------------
# parse_status
# --------------------------------------------------------------------------------------------

STATUSES: list[tuple[str, MilestoneStatus, date | None]] = [
    ("on track", MilestoneStatus.ON_TRACK, None),
    ("On Track", MilestoneStatus.ON_TRACK, None),
    ("on-track", MilestoneStatus.ON_TRACK, None),
    ("on track.", MilestoneStatus.ON_TRACK, None),
    ("on schedule", MilestoneStatus.ON_TRACK, None),
    ("on target", MilestoneStatus.ON_TRACK, None),
    ("on time", MilestoneStatus.ON_TRACK, None),
    ("green", MilestoneStatus.ON_TRACK, None),
    ("Green", MilestoneStatus.ON_TRACK, None),
    ("currently on track", MilestoneStatus.ON_TRACK, None),
    ("still on track", MilestoneStatus.ON_TRACK, None),
    ("it's on track", MilestoneStatus.ON_TRACK, None),
    ("at risk", MilestoneStatus.AT_RISK, None),
    ("At Risk", MilestoneStatus.AT_RISK, None),
    ("amber", MilestoneStatus.AT_RISK, None),
    ("some risk", MilestoneStatus.AT_RISK, None),
    ("delayed", MilestoneStatus.DELAYED, None),
    ("slipping", MilestoneStatus.DELAYED, None),
    ("slipped", MilestoneStatus.DELAYED, None),
    ("behind", MilestoneStatus.DELAYED, None),
    ("behind schedule", MilestoneStatus.DELAYED, None),
    ("late", MilestoneStatus.DELAYED, None),
    ("running late", MilestoneStatus.DELAYED, None),
    ("red", MilestoneStatus.DELAYED, None),
    ("overdue", MilestoneStatus.DELAYED, None),
    ("off track", MilestoneStatus.DELAYED, None),
    ("complete", MilestoneStatus.COMPLETE, None),
    ("Completed", MilestoneStatus.COMPLETE, None),
    ("done", MilestoneStatus.COMPLETE, None),
    ("finished", MilestoneStatus.COMPLETE, None),
    ("achieved", MilestoneStatus.COMPLETE, None),
    ("complete on 3 May", MilestoneStatus.COMPLETE, date(2026, 5, 3)),
    ("completed 3 May 2026", MilestoneStatus.COMPLETE, date(2026, 5, 3)),
    ("completed on 03/05/2026", MilestoneStatus.COMPLETE, date(2026, 5, 3)),
    ("done (3/5/26)", MilestoneStatus.COMPLETE, date(2026, 5, 3)),
    ("complete - 2026-05-03", MilestoneStatus.COMPLETE, date(2026, 5, 3)),
    ("finished today", MilestoneStatus.COMPLETE, TODAY),
    ("not started", MilestoneStatus.NOT_STARTED, None),
    ("not yet started", MilestoneStatus.NOT_STARTED, None),
    ("yet to start", MilestoneStatus.NOT_STARTED, None),
    ("not started yet", MilestoneStatus.NOT_STARTED, None),
    ("amber (at risk)", MilestoneStatus.AT_RISK, None),
    ("On track / green", MilestoneStatus.ON_TRACK, None),
    ("Green - on track.", MilestoneStatus.ON_TRACK, None),
]


@pytest.mark.parametrize(("answer", "status", "completed_on"), STATUSES)
def test_accepted_statuses(answer: str, status: MilestoneStatus, completed_on: date | None) -> None:
    assert parse_status(answer, TODAY) == ParsedStatus(status, completed_on, None)


def test_empty_status_is_not_a_rejection() -> None:
    assert parse_status("  ", TODAY) == ParsedStatus(None, None, None)


REJECTED_STATUSES: list[tuple[str, str]] = [
    ("on track but delayed", "both delayed and on track"),
    ("green/amber", "both at risk and on track"),
    ("complete and on track", "both complete and on track"),
    ("completed on time", "both complete and on track"),
    ("red / green", "both delayed and on track"),
    ("not on track", "negative"),
    ("isn't delayed", "negative"),
    ("no longer at risk", "negative"),
    ("no", "negative"),
    ("in progress", "not a status we recognise"),
    ("ok", "not a status we recognise"),
    ("yes", "not a status we recognise"),
    ("on track for June", "other words"),
    ("delayed until September", "other words"),
    ("complete in May", "completion date"),
    ("completed last week", "completion date"),
    ("complete on 3 June", "in the future"),
    ("completed 31/02/2026", "completion date"),
]


@pytest.mark.parametrize(("answer", "fragment"), REJECTED_STATUSES)
def test_rejected_statuses(answer: str, fragment: str) -> None:
    parsed = parse_status(answer, TODAY)
    assert parsed.status is None
    assert parsed.completed_on is None
    assert parsed.reason is not None and fragment in parsed.reason, parsed.reason


@pytest.mark.parametrize(
    "answer", ["99999999999999999999999999999", "-99999999999999999999999999999", "-" + "9" * 400]
)
def test_a_long_number_is_read_exactly_never_rounded(answer: str) -> None:
    """Whether it can be stored is the applier's question (``domain.figures``); reading it
    must not round it first (unary minus rounds to the context's 28 digits), or a 29-digit
    answer would be judged, and reported, as a number the sender never wrote."""
    parsed = parse_value(answer, "number", TODAY)
    assert parsed == ParsedValue("number", Decimal(answer))
