"""``--period`` on every command: read once, meaning the same everywhere.

A quarter or a year is made of months, and most figures are stored against the month they
were asked for. ``export values --period "2026/27 Q1"`` used to match the quarter's code
only and print the header alone although April's rows were there. So every command that
takes ``--period`` reads it here, and one that lists rows lists those of the period *and of
every period inside it* (:func:`mailcapture.domain.periods.periods_within`): a year gives
the year, its quarters and its months. ``publish`` computes a quarter or a year from the
months inside it already, and reads the option here so its error reads like the others.

A period that cannot be read is a :class:`~mailcapture.errors.UserError`: one line,
``mailcapture: error: --period: reason``, exit 1.
"""

from __future__ import annotations

from mailcapture.domain.periods import Period, PeriodError, parse_period, periods_within
from mailcapture.errors import UserError

__all__ = ["period_argument", "periods_covered"]


class PeriodOptionError(UserError, ValueError):
    """A ``--period`` (or PERIOD argument) that does not name exactly one period."""


def period_argument(text: str, option: str = "--period") -> Period:
    """The one period ``text`` names, or a one-line error naming the option."""
    try:
        return parse_period(text)
    except PeriodError as exc:
        raise PeriodOptionError(f"{option}: {exc}") from None


def periods_covered(text: str | None, option: str = "--period") -> list[Period] | None:
    """The periods a ``--period`` covers (itself and every period inside it, in report
    order), or None when the option was not given (every period)."""
    if text is None:
        return None
    return periods_within(period_argument(text, option))
