"""The one clock.

Every piece of code that needs "now" asks a :class:`Clock`, never ``datetime.now()``,
so that a test (or ``mailcapture tick --now``) can move time and run a whole
reporting year in seconds. Times are always timezone-aware UTC; local council time
(Europe/London) is derived where a human reads or writes it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Europe/London")


class Clock(Protocol):
    def now(self) -> datetime:
        """Current instant, timezone-aware UTC."""
        ...


class SystemClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until told to move; for tests and ``--now``."""

    def __init__(self, start: datetime) -> None:
        self._now = as_utc(start)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = as_utc(when)

    def advance(self, delta: timedelta) -> datetime:
        self._now = self._now + delta
        return self._now


class OffsetClock:
    """Wall-clock time shifted to start at a given instant, then running normally.

    For ``mailcapture serve --now``: a service (or a test of one) that lives in May 2026
    while its timers still run in real time.
    """

    def __init__(self, start: datetime, base: Clock | None = None) -> None:
        self._base = base or SystemClock()
        self._offset = as_utc(start) - self._base.now()

    def now(self) -> datetime:
        return self._base.now() + self._offset


def as_utc(when: datetime) -> datetime:
    """Make ``when`` aware UTC; a naive value is read as council local time."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=LOCAL_TZ)
    return when.astimezone(UTC)


_default: Clock = SystemClock()


def get_clock() -> Clock:
    return _default


def set_clock(clock: Clock) -> Clock:
    """Install ``clock`` process-wide; returns the previous one so callers can restore it."""
    global _default
    previous, _default = _default, clock
    return previous
