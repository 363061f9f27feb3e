"""Reporting periods in the UK public-sector financial year (April to March).

Councils report monthly, quarterly and yearly, always against the financial year that
starts on 1 April. A :class:`Period` names one such month, quarter or year; every other
part of mailcapture stores and compares periods through this type, so the April-to-March
arithmetic lives in exactly one place.

People write periods in many ways in their replies ("May-26", "Q1 2026/27",
"Apr-Jun 2026", "FY 2026-27"). :func:`parse_period` accepts the common spellings but
never guesses: anything with two plausible readings ("Q1 2026", "2026") is rejected with
a reason that names both, so the sender can be asked to say which they meant.

Decisions worth knowing:

* ``2026-05`` (four-digit year, hyphen, month) is the canonical month code and always
  means a month. ``2026-27`` is a financial year only because 27 cannot be a month. For
  2000-01 up to 2011-12 both readings exist; the month code wins (it is what mailcapture
  itself writes) and the financial year must be written with a slash, ``2010/11``.
* ``2026/05`` is rejected: a slash after a four-digit year is the financial-year
  notation, so ``2004/05`` is the year 2004/05 and ``2026/05`` is a malformed year, not
  May 2026.
* Two-digit years mean 20YY ("May 26" is May 2026). A bare two-digit pair ("26/27") is
  rejected as too short to read safely; with a prefix ("FY 26/27", "Q1 26/27") it is fine.
* Supported financial years are 1990/91 to 2100/01.
"""

from __future__ import annotations

import calendar
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

MIN_FY = 1990
MAX_FY = 2100

_MONTHS_IN = {"month": 1, "quarter": 3, "year": 12}
_INDEX_LIMIT = {"month": 12, "quarter": 4, "year": 1}
# English names, spelled out rather than taken from ``calendar`` (which follows the locale).
_NAMES = (
    "",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_ABBR = tuple(name[:3] for name in _NAMES)
_QUARTER_RANGES = "Apr-Jun, Jul-Sep, Oct-Dec and Jan-Mar"
_EXAMPLES = "2026-05, May 2026, 2026/27 Q1, Apr-Jun 2026 or 2026/27"


class PeriodKind(StrEnum):
    """How long a period is; the value is what gets stored."""

    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class PeriodError(ValueError):
    """A period that cannot exist or text that does not name exactly one period.

    The message is a one-line reason fit to quote back to the person who wrote it.
    """


@dataclass(frozen=True)
class Period:
    """One month, quarter or year of a UK financial year.

    ``fy`` is the calendar year in which the financial year starts (2026 means 2026/27).
    ``index`` counts within that year: months 1..12 with 1 = April and 12 = March,
    quarters 1..4, and always 1 for a year.

    Periods sort chronologically by start date; when two start on the same day the longer
    one comes first (2026/27, then Q1 2026/27, then April 2026), which is the order of a
    report's outline: each parent is followed by its children.
    """

    fy: int
    kind: PeriodKind
    index: int

    def __post_init__(self) -> None:
        kind = _as_kind(self.kind)
        object.__setattr__(self, "kind", kind)
        _check_fy(self.fy)
        limit = _INDEX_LIMIT[kind]
        if isinstance(self.index, bool) or not isinstance(self.index, int):
            raise PeriodError(f"a {kind} index must be an integer, not {self.index!r}")
        if not 1 <= self.index <= limit:
            raise PeriodError(f"a {kind} index must be 1 to {limit}, not {self.index}")

    # -- naming --------------------------------------------------------------------

    @functools.cached_property
    def code(self) -> str:
        """Canonical stored form: ``2026-05``, ``2026/27 Q1`` or ``2026/27``.

        Kept once worked out (the fields are frozen): reports look it up for every value of
        every indicator, hundreds of thousands of times when publishing a large register.
        """
        if self.kind is PeriodKind.MONTH:
            return f"{self.start.year:04d}-{self.start.month:02d}"
        if self.kind is PeriodKind.QUARTER:
            return f"{_fy_code(self.fy)} Q{self.index}"
        return _fy_code(self.fy)

    @property
    def label(self) -> str:
        """Human form for emails; quarters spell out their months to avoid any doubt."""
        if self.kind is PeriodKind.MONTH:
            return f"{_NAMES[self.start.month]} {self.start.year}"
        if self.kind is PeriodKind.QUARTER:
            return f"Q{self.index} {_fy_code(self.fy)} ({self.month_span})"
        return _fy_code(self.fy)

    @property
    def month_span(self) -> str:
        """The months covered, e.g. ``Apr-Jun 2026`` or ``Apr 2026-Mar 2027``."""
        first, last = self.start, self.end
        if first.month == last.month and first.year == last.year:
            return f"{_ABBR[first.month]} {first.year}"
        if first.year == last.year:
            return f"{_ABBR[first.month]}-{_ABBR[last.month]} {last.year}"
        return f"{_ABBR[first.month]} {first.year}-{_ABBR[last.month]} {last.year}"

    def __str__(self) -> str:
        return self.code

    # -- dates ---------------------------------------------------------------------

    @property
    def start(self) -> date:
        """First day of the period."""
        year, month = _calendar_month(self.fy, self._first_month_index)
        return date(year, month, 1)

    @property
    def end(self) -> date:
        """Last day of the period (inclusive), because councils say "to 30 June"."""
        year, month = _calendar_month(self.fy, self._first_month_index + self.month_count - 1)
        return date(year, month, calendar.monthrange(year, month)[1])

    @property
    def month_count(self) -> int:
        """Length in months: 1, 3 or 12."""
        return _MONTHS_IN[self.kind]

    def contains(self, d: date) -> bool:
        """Whether ``d`` falls within the period, both ends included."""
        return self.start <= d <= self.end

    @property
    def _first_month_index(self) -> int:
        return (self.index - 1) * self.month_count + 1

    # -- hierarchy -----------------------------------------------------------------

    def parent(self) -> Period | None:
        """The next longer period containing this one: month -> quarter -> year -> None."""
        if self.kind is PeriodKind.MONTH:
            return Period(self.fy, PeriodKind.QUARTER, (self.index - 1) // 3 + 1)
        if self.kind is PeriodKind.QUARTER:
            return Period(self.fy, PeriodKind.YEAR, 1)
        return None

    def children(self) -> list[Period]:
        """The next shorter periods tiling this one: year -> quarters -> months -> []."""
        if self.kind is PeriodKind.YEAR:
            return [Period(self.fy, PeriodKind.QUARTER, q) for q in range(1, 5)]
        if self.kind is PeriodKind.QUARTER:
            return self.months()
        return []

    def months(self) -> list[Period]:
        """The months covered, in order; a month returns ``[self]`` (an equal period)."""
        return list(_months(self.fy, self.kind, self.index))

    # -- stepping ------------------------------------------------------------------

    def shift(self, steps: int) -> Period:
        """The period ``steps`` places later (earlier if negative), of the same kind.

        Raises :class:`PeriodError` when the result leaves the supported range.
        """
        per_year = _INDEX_LIMIT[self.kind]
        fy, index0 = divmod(self.fy * per_year + self.index - 1 + steps, per_year)
        return Period(fy, self.kind, index0 + 1)

    def previous(self) -> Period:
        """The period just before, of the same kind (March's previous is February)."""
        return self.shift(-1)

    def next(self) -> Period:
        """The period just after, of the same kind (March's next is April)."""
        return self.shift(1)

    def same_period_last_year(self) -> Period:
        """The matching period a year earlier, for year-on-year comparisons."""
        return Period(self.fy - 1, self.kind, self.index)

    # -- ordering ------------------------------------------------------------------

    def _sort_key(self) -> tuple[date, int]:
        return (self.start, -self.month_count)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Period):
            return NotImplemented
        return self._sort_key() < other._sort_key()

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Period):
            return NotImplemented
        return self._sort_key() <= other._sort_key()

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Period):
            return NotImplemented
        return self._sort_key() > other._sort_key()

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Period):
            return NotImplemented
        return self._sort_key() >= other._sort_key()


# -- periods from dates ------------------------------------------------------------


def financial_year_of(d: date) -> int:
    """The financial year containing ``d``, as its first calendar year."""
    return d.year if d.month >= 4 else d.year - 1


def month_of(d: date) -> Period:
    """The month containing ``d``."""
    return Period(financial_year_of(d), PeriodKind.MONTH, _fy_month_index(d.month))


def quarter_of(d: date) -> Period:
    """The financial quarter containing ``d``."""
    return Period(financial_year_of(d), PeriodKind.QUARTER, (_fy_month_index(d.month) - 1) // 3 + 1)


def year_of(d: date) -> Period:
    """The financial year containing ``d``."""
    return Period(financial_year_of(d), PeriodKind.YEAR, 1)


def period_of(d: date, kind: PeriodKind | str) -> Period:
    """The period of ``kind`` containing ``d``."""
    finders = {PeriodKind.MONTH: month_of, PeriodKind.QUARTER: quarter_of, PeriodKind.YEAR: year_of}
    return finders[_as_kind(kind)](d)


def covered_periods(month: Period) -> list[Period]:
    """The month, its quarter if it ends one, its year if it ends one.

    What a report sent after ``month`` covers (the owner report and its answers).
    """
    found = [month]
    parent = month.parent()
    while parent is not None:
        if parent.end == month.end:
            found.append(parent)
        parent = parent.parent()
    return found


def periods_within(period: Period) -> list[Period]:
    """``period`` and every period inside it, in report order (each parent before its children).

    A year gives itself, its four quarters and its twelve months; a quarter gives itself
    and its three months; a month gives itself. This is what ``--period`` means on every
    command that takes one: asking for "2026/27 Q1" must not silently leave out April's
    rows just because they are stored against the month, not the quarter.
    """
    found = [period]
    for child in period.children():
        found.extend(periods_within(child))
    return found


def periods_between(first: Period, last: Period) -> list[Period]:
    """Every period from ``first`` to ``last`` inclusive; both must be of the same kind.

    A reversed range is an error rather than an empty list: it is almost always a slip.
    """
    if first.kind is not last.kind:
        raise PeriodError(f"{first} is a {first.kind} but {last} is a {last.kind}")
    if last < first:
        raise PeriodError(f"{last} comes before {first}")
    per_year = _INDEX_LIMIT[first.kind]
    steps = (last.fy - first.fy) * per_year + last.index - first.index
    return [first.shift(i) for i in range(steps + 1)]


# -- parsing -----------------------------------------------------------------------


class _Unreadable(Exception):
    """Internal: the reason text, to follow the quoted input in a PeriodError."""


_MONTH_NAMES = {
    name.lower(): number for number in range(1, 13) for name in (_NAMES[number], _ABBR[number])
} | {"sept": 9}

_YEAR = r"(\d{4}|\d{2})"
_PAIR = r"(\d{4}|\d{2})[/-](\d{4}|\d{2})"
_QUARTER = r"q(?:uarter)? ?(\d)"
_FY = rf"(?:fy ?)?{_PAIR}"

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (name, re.compile(f"^{regex}$", re.ASCII))
    for name, regex in [
        ("iso_month", r"(\d{4})-(\d{1,2})"),
        ("slash_pair", r"(\d{4})/(\d{4}|\d{1,2})"),
        ("hyphen_year_pair", r"(\d{4})-(\d{4})"),
        ("month_year", r"(\d{1,2})[/-](\d{4})"),
        ("short_pair", r"(\d{2})[/-](\d{2})"),
        ("fy_prefixed", rf"fy ?{_PAIR}"),
        ("bare_year", r"(?:fy ?)?(\d{4}|\d{2})"),
        ("quarter_fy", rf"{_QUARTER}[ -]?{_FY}"),
        ("fy_quarter", rf"{_FY}[ -]?{_QUARTER}"),
        ("quarter_year", rf"{_QUARTER}[ -]?(?:fy ?)?{_YEAR}"),
        ("year_quarter", rf"(?:fy ?)?{_YEAR}[ -]?{_QUARTER}"),
        ("named_month", rf"([a-z]+)[ -]?{_YEAR}"),
        ("month_range", rf"([a-z]+)(?: ?{_YEAR})?-([a-z]+) ?{_YEAR}"),
        ("month_range_fy", rf"([a-z]+)-([a-z]+) ?{_FY}"),
    ]
]


def parse_period(text: str) -> Period:
    """Read a period as a person might write it; raise :class:`PeriodError` if unsure.

    Case and spacing do not matter. See the module docstring for the decisions on
    ambiguous spellings; the accepted forms are, for example: ``2026-05``, ``05/2026``,
    ``May 2026``, ``May-26``, ``2026/27 Q1``, ``Q1 2026-27``, ``Q1 26/27``,
    ``Apr-Jun 2026``, ``April to June 2026``, ``Jan-Mar 2026/27``,
    ``Q1 2026/27 (Apr-Jun 2026)``, ``2026/27``, ``2026/2027``, ``FY 2026-27`` and
    ``Apr 2026 - Mar 2027``.
    """
    shown = " ".join(str(text).split())
    if len(shown) > 60:
        shown = shown[:57] + "..."
    try:
        return _parse_normalised(_normalise(str(text)))
    except _Unreadable as reason:
        raise PeriodError(f"'{shown}' {reason}") from None


def _normalise(text: str) -> str:
    """Lower-case, unify dashes, and drop the spacing people put around separators."""
    s = text.lower().replace("\u2013", "-").replace("\u2014", "-").replace(",", " ")
    s = re.sub(r"\s+to\s+", "-", f" {s} ")
    s = re.sub(r"\s*([/-])\s*", r"\1", s)
    s = re.sub(r"([a-z])\.", r"\1", s)
    s = re.sub(r"\(\s*", "(", re.sub(r"\s*\)", ")", s))
    return " ".join(s.split())


def _parse_normalised(s: str) -> Period:
    if not s:
        raise _Unreadable(f"is empty: write a period such as {_EXAMPLES}")
    labelled = re.fullmatch(r"(.+?) ?\((.+)\)", s)
    if labelled:
        return _parse_labelled(labelled[1], labelled[2])
    for name, pattern in _PATTERNS:
        match = pattern.fullmatch(s)
        if match:
            return _READERS[name](*match.groups())
    raise _Unreadable(f"is not a period: write one such as {_EXAMPLES}")


def _parse_labelled(main: str, aside: str) -> Period:
    """``Q1 2026/27 (Apr-Jun 2026)``: both halves must name the same period."""
    period, again = _parse_normalised(main), _parse_normalised(aside)
    if period != again:
        raise _Unreadable(f"contradicts itself: {period.code} is {period.month_span}")
    return period


def _read_iso_month(year: str, month: str) -> Period:
    """``2026-05`` is a month; ``2026-27`` can only be a financial year."""
    if 1 <= int(month) <= 12:
        return _month(int(year), int(month))
    if _consecutive(year, month):
        return _read_fy(year, month)
    raise _Unreadable(
        f"is neither a month ({int(month)} is not a month number) nor a financial year "
        f"({year} is followed by {_next_year_text(year, month)}: write {_fy_code(int(year))})"
    )


def _read_slash_pair(year: str, second: str) -> Period:
    if len(second) <= 2 and 1 <= int(second) <= 12 and not _consecutive(year, second):
        month = int(second)
        raise _Unreadable(
            f"is not a period: a slash after a four-digit year starts a financial year "
            f"({_fy_code(int(year))}); for {_NAMES[month]} {year} "
            f"write {year}-{month:02d}"
        )
    return _read_fy(year, second)


def _read_month_year(month: str, year: str) -> Period:
    return _month(int(year), int(month))


def _read_short_pair(first: str, second: str) -> Period:
    """``26/27`` or ``05/26``: without a four-digit year, say what to write instead."""
    readings = []
    if _consecutive(first, second):
        readings.append(f"{_fy_code(2000 + int(first))} for the financial year")
    if 1 <= int(first) <= 12:
        readings.append(f"20{second}-{first} for {_NAMES[int(first)]} 20{second}")
    if not readings:
        raise _Unreadable(f"is not a period: write one such as {_EXAMPLES}")
    raise _Unreadable(f"is too short to read safely: write {' or '.join(readings)}")


def _read_bare_year(year: str) -> Period:
    y = _full_year(year)
    raise _Unreadable(
        f"is ambiguous: write {_fy_code(y)} (Apr {y}-Mar {y + 1}) "
        f"or {_fy_code(y - 1)} (Apr {y - 1}-Mar {y})"
    )


def _read_quarter(quarter: str, first: str, second: str) -> Period:
    fy = _fy_from_pair(first, second)
    return _make(fy, PeriodKind.QUARTER, _quarter_number(quarter))


def _read_fy_quarter(first: str, second: str, quarter: str) -> Period:
    return _read_quarter(quarter, first, second)


def _read_quarter_year(quarter: str, year: str) -> Period:
    """``Q1 2026`` could be a calendar or a financial quarter: name both, pick neither."""
    q, y = _quarter_number(quarter), _full_year(year)
    financial = _describe_quarter(y, q)
    calendar_reading = _describe_quarter(y - 1 if q == 1 else y, 4 if q == 1 else q - 1)
    raise _Unreadable(f"is ambiguous: write {financial} or {calendar_reading}")


def _read_year_quarter(year: str, quarter: str) -> Period:
    return _read_quarter_year(quarter, year)


def _read_named_month(name: str, year: str) -> Period:
    return _month(_full_year(year), _month_number(name))


def _read_month_range(first: str, first_year: str | None, last: str, last_year: str) -> Period:
    end_year = _full_year(last_year)
    start_year = _full_year(first_year) if first_year else end_year
    return _from_span(start_year, _month_number(first), end_year, _month_number(last))


def _read_month_range_fy(first: str, last: str, fy_first: str, fy_second: str) -> Period:
    fy = _fy_from_pair(fy_first, fy_second)
    m1, m2 = _month_number(first), _month_number(last)
    return _from_span(
        *_calendar_month(fy, _fy_month_index(m1)), *_calendar_month(fy, _fy_month_index(m2))
    )


def _read_fy(first: str, second: str) -> Period:
    return _make(_fy_from_pair(first, second), PeriodKind.YEAR, 1)


#: Each pattern's reader, called with the pattern's groups (None for an optional one
#: that did not match).
_READERS: dict[str, Callable[..., Period]] = {
    "iso_month": _read_iso_month,
    "slash_pair": _read_slash_pair,
    "hyphen_year_pair": _read_fy,
    "month_year": _read_month_year,
    "short_pair": _read_short_pair,
    "fy_prefixed": _read_fy,
    "bare_year": _read_bare_year,
    "quarter_fy": _read_quarter,
    "fy_quarter": _read_fy_quarter,
    "quarter_year": _read_quarter_year,
    "year_quarter": _read_year_quarter,
    "named_month": _read_named_month,
    "month_range": _read_month_range,
    "month_range_fy": _read_month_range_fy,
}


def _from_span(start_year: int, start_month: int, end_year: int, end_month: int) -> Period:
    """A run of calendar months, accepted only if it is exactly one period."""
    length = (end_year * 12 + end_month) - (start_year * 12 + start_month) + 1
    if length < 1:
        raise _Unreadable("is not a period: it ends before it starts")
    first = _month(start_year, start_month)
    if length == 1:
        return first
    if length == 3:
        if first.index % 3 != 1:
            raise _Unreadable(f"is not a quarter: financial quarters are {_QUARTER_RANGES}")
        return _make(first.fy, PeriodKind.QUARTER, (first.index - 1) // 3 + 1)
    if length == 12 and first.index == 1:
        return _make(first.fy, PeriodKind.YEAR, 1)
    raise _Unreadable(
        f"covers {length} months: a period is one month, a quarter ({_QUARTER_RANGES}) "
        f"or a financial year (Apr-Mar)"
    )


def _month(year: int, month: int) -> Period:
    if not 1 <= month <= 12:
        raise _Unreadable(f"is not a period: {month} is not a month number")
    fy = year if month >= 4 else year - 1
    return _make(fy, PeriodKind.MONTH, _fy_month_index(month))


def _make(fy: int, kind: PeriodKind, index: int) -> Period:
    """Build a parsed period, turning a range failure into a reason about the input."""
    if not MIN_FY <= fy <= MAX_FY:
        raise _Unreadable(
            f"is outside the supported range {_fy_code(MIN_FY)} to {_fy_code(MAX_FY)}"
        )
    return Period(fy, kind, index)


def _fy_from_pair(first: str, second: str) -> int:
    """The financial year named by ``2026/27``, ``2026/2027`` or ``26/27``."""
    fy = _full_year(first)
    if not _consecutive(first, second):
        raise _Unreadable(
            f"is not a financial year: {first} must be followed by "
            f"{_next_year_text(first, second)} (write {_fy_code(fy)})"
        )
    return fy


def _consecutive(first: str, second: str) -> bool:
    if len(second) not in (2, 4):
        return False
    following = int(first) + 1
    return int(second) == (following if len(second) == 4 else following % 100)


def _next_year_text(first: str, second: str) -> str:
    following = int(first) + 1
    return str(following) if len(second) == 4 else f"{following % 100:02d}"


def _quarter_number(text: str) -> int:
    q = int(text)
    if not 1 <= q <= 4:
        raise _Unreadable(f"is not a period: there is no quarter {q} (quarters are Q1 to Q4)")
    return q


def _month_number(name: str) -> int:
    try:
        return _MONTH_NAMES[name]
    except KeyError:
        raise _Unreadable(f"is not a period: '{name}' is not a month name") from None


def _full_year(text: str) -> int:
    """Two-digit years mean 20YY: mailcapture handles this century's returns."""
    return 2000 + int(text) if len(text) == 2 else int(text)


def _describe_quarter(fy: int, q: int) -> str:
    """``2026/27 Q1 (Apr-Jun 2026)`` without needing the quarter to be in range."""
    first_year, first_month = _calendar_month(fy, (q - 1) * 3 + 1)
    last_month = first_month + 2
    return f"{_fy_code(fy)} Q{q} ({_ABBR[first_month]}-{_ABBR[last_month]} {first_year})"


# -- small calendar helpers --------------------------------------------------------


@functools.cache
def _months(fy: int, kind: PeriodKind, index: int) -> tuple[Period, ...]:
    """:meth:`Period.months`, made once per period: reports ask for the months of the same
    few periods for every value they aggregate. Bounded by the supported years."""
    count = _MONTHS_IN[kind]
    first = (index - 1) * count + 1
    return tuple(Period(fy, PeriodKind.MONTH, i) for i in range(first, first + count))


def _as_kind(kind: object) -> PeriodKind:
    if not isinstance(kind, str):
        raise PeriodError(f"{kind!r} is not a period kind")
    try:
        return PeriodKind(kind)
    except ValueError:
        raise PeriodError(f"{kind!r} is not a period kind") from None


def _check_fy(fy: int) -> None:
    if isinstance(fy, bool) or not isinstance(fy, int):
        raise PeriodError(f"financial year must be an integer, not {fy!r}")
    if not MIN_FY <= fy <= MAX_FY:
        raise PeriodError(
            f"financial year {_fy_code(fy)} is outside the supported range "
            f"{_fy_code(MIN_FY)} to {_fy_code(MAX_FY)}"
        )


def _fy_code(fy: int) -> str:
    return f"{fy}/{(fy + 1) % 100:02d}"


def _fy_month_index(month: int) -> int:
    """Calendar month number (1 = January) to financial month index (1 = April)."""
    return (month - 4) % 12 + 1


def _calendar_month(fy: int, index: int) -> tuple[int, int]:
    """Financial month index (1 = April) to calendar (year, month)."""
    month = (index + 2) % 12 + 1
    return (fy if month >= 4 else fy + 1, month)
