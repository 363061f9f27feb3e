"""Working-day arithmetic for England and Wales.

The request timetable is written in working days: a monthly request goes out on the
first working day after the period ends, is due on the tenth, reminders go a few working
days before the due date and escalations a few after it. Council officers do not answer
email at weekends or on bank holidays, so counting calendar days would put deadlines on
days nobody is at work.

The bank holidays themselves are data, not rules (they are announced by proclamation and
change, as in 2022), so a :class:`WorkingCalendar` is given them and never looks them up.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import date, datetime, timedelta

_ONE_DAY = timedelta(days=1)
_SATURDAY = 5


class WorkingCalendar:
    """Monday to Friday, less the holidays it was given.

    Every method takes plain :class:`~datetime.date` values. A ``datetime`` is refused
    because it never equals a ``date``, so a holiday would silently count as a working day.
    """

    def __init__(self, holidays: Iterable[date]) -> None:
        days = [_require_date(d) for d in holidays]
        self._holidays = frozenset(days)
        # Weekday holidays, sorted, so counting over a long range needs no day-by-day walk.
        self._weekday_holidays = sorted(d for d in self._holidays if d.weekday() < _SATURDAY)

    @property
    def holidays(self) -> frozenset[date]:
        """The non-working weekdays (and any weekend dates) this calendar was given."""
        return self._holidays

    def is_working_day(self, d: date) -> bool:
        """Monday to Friday and not a holiday."""
        _require_date(d)
        return d.weekday() < _SATURDAY and d not in self._holidays

    def add_working_days(self, d: date, n: int) -> date:
        """Move ``n`` working days from ``d``, never landing on a non-working day.

        ``add_working_days(d, 1)`` is the first working day strictly after ``d``, and
        ``add_working_days(d, -1)`` the last one strictly before it, whether or not ``d``
        itself is a working day. ``n == 0`` means "``d`` if it is a working day, otherwise
        the next one": the day on which something dated ``d`` can actually happen.
        """
        _require_date(d)
        if n == 0:
            return d if self.is_working_day(d) else self.add_working_days(d, 1)
        step = _ONE_DAY if n > 0 else -_ONE_DAY
        remaining = abs(n)
        while remaining:
            d += step
            if self.is_working_day(d):
                remaining -= 1
        return d

    def nth_working_day_after(self, d: date, n: int) -> date:
        """The ``n``-th working day strictly after ``d``; 1 is the next working day.

        This is how the timetable reads: "due on the 10th working day after the period
        ends" is ``nth_working_day_after(period.end, 10)``.
        """
        if n < 1:
            raise ValueError(f"n must be 1 or more, not {n}")
        return self.add_working_days(d, n)

    def working_days_between(self, a: date, b: date) -> int:
        """Working days in ``(a, b]``: after ``a``, up to and including ``b``.

        Half-open so that counts chain: ``between(a, b) + between(b, c) == between(a, c)``,
        and ``add_working_days(a, between(a, b)) == b`` whenever ``b`` is a working day.
        If ``b`` is before ``a`` the result is ``-working_days_between(b, a)``.
        """
        _require_date(a)
        _require_date(b)
        if b < a:
            return -self.working_days_between(b, a)
        holidays_in_range = bisect.bisect_right(self._weekday_holidays, b) - bisect.bisect_right(
            self._weekday_holidays, a
        )
        return _weekdays_up_to(b) - _weekdays_up_to(a) - holidays_in_range


def _weekdays_up_to(d: date) -> int:
    """Mondays to Fridays from a fixed Monday up to and including ``d``.

    Only differences of this count are used, so the origin does not matter.
    """
    weeks, day_of_week = divmod(d.toordinal() - 1, 7)  # ordinal 1 (0001-01-01) is a Monday
    return weeks * 5 + min(day_of_week + 1, 5)


def _require_date(d: object) -> date:
    if isinstance(d, datetime) or not isinstance(d, date):
        raise TypeError(f"expected a date, not {type(d).__name__}")
    return d
