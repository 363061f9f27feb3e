"""An indicator's recent history: the last few periods of the same kind, for charts.

The values come from :func:`.queries.indicator_values`, period by period, so a chart and
a history table show exactly the figures (rounding, flags, targets, RAG) every other
report shows for those periods. That is a handful of statements per period, independent
of the register's size; a history of eight quarters is forty small queries, fine for a
report run and not worth a second way of computing a value.

Periods before the supported range (the first financial year the calendar knows) are
left out rather than failing: a history near the start is simply shorter.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from mailcapture.domain.periods import Period, PeriodError
from mailcapture.reports.queries import IndicatorRow, indicator_values
from mailcapture.reports.values import IndicatorValue


def history_periods(period: Period, count: int) -> list[Period]:
    """The ``count`` periods of ``period``'s kind ending with it, oldest first."""
    if count < 1:
        raise ValueError(f"a history needs at least one period, not {count}")
    found = []
    for steps in range(count - 1, -1, -1):
        try:
            found.append(period.shift(-steps))
        except PeriodError:
            continue
    return found


def indicator_history_rows(
    session: Session, period: Period, count: int, codes: Iterable[str] | None = None
) -> dict[str, list[IndicatorRow]]:
    """Each indicator's full report row for each of the ``count`` periods, oldest first.

    Without ``codes`` the indicators are those current now (not retired), as in
    :func:`indicator_values`; earlier periods are asked for the same codes so every list
    has one row per period.
    """
    periods = history_periods(period, count)
    latest = indicator_values(session, period, codes)
    chosen = [row.code for row in latest]
    history: dict[str, list[IndicatorRow]] = {code: [] for code in chosen}
    for p in periods[:-1]:
        for row in indicator_values(session, p, chosen) if chosen else []:
            history[row.code].append(row)
    for row in latest:
        history[row.code].append(row)
    return history


def indicator_history(
    session: Session, period: Period, count: int, codes: Iterable[str] | None = None
) -> dict[str, list[IndicatorValue]]:
    """Each indicator's values for the ``count`` periods ending with ``period``, oldest first."""
    rows = indicator_history_rows(session, period, count, codes)
    return {code: [row.current for row in series] for code, series in rows.items()}
