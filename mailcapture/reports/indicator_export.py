"""The indicators export: every computed indicator value as a spreadsheet-ready table.

``mailcapture export values`` lists what people sent; this lists what the council
*reports*: each indicator's value for a period as computed by
:func:`mailcapture.reports.queries.indicator_values` (so the export can never disagree
with a report), with its target, RAG status, direction of travel, flags, the reason when
no value can be computed, and the current commentary. Text cells are neutralised by
:mod:`mailcapture.reports.export` like every other export.

Decisions worth knowing:

* With a period, every indicator in the register is listed for it, including those that
  cannot be computed for it (the reason says why), followed by the periods inside it
  (a quarter's months, a year's quarters and months) as the export without a period
  lists them: ``--period`` means the period and what is inside it on every command.
  Without one, the export covers every period that has stored values, each with the
  indicators collected for that kind of period (monthly ones for a month, ...) so the
  file is not padded with "cannot be computed for a month" rows.
* Values are the published, rounded figures; flags are sorted and joined with ", ".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailcapture.db import models as m
from mailcapture.domain.enums import Frequency
from mailcapture.domain.frequency import COLLECTED_KIND
from mailcapture.domain.periods import Period, parse_period, periods_within
from mailcapture.reports.commentary import CommentItem, commentary_for
from mailcapture.reports.export import Table
from mailcapture.reports.queries import IndicatorRow, indicator_values

INDICATOR_COLUMNS = (
    "indicator",
    "title",
    "period",
    "value",
    "unit",
    "target",
    "status",
    "trend",
    "trend_last_year",
    "flags",
    "reason",
    "commentary",
)


def periods_with_values(session: Session) -> list[Period]:
    """Every period some current value or status is stored for, in time order."""
    codes = set(
        session.scalars(
            select(m.Period.code)
            .join(m.ComponentValue, m.ComponentValue.period_id == m.Period.id)
            .where(m.ComponentValue.is_current)
            .distinct()
        )
    )
    return sorted(parse_period(code) for code in codes)


def _comment_text(comments: Sequence[CommentItem]) -> str | None:
    if not comments:
        return None
    return " | ".join(f"{c.author or 'unknown'} ({c.role}): {c.body}" for c in comments)


def _line(row: IndicatorRow, comments: Sequence[CommentItem]) -> tuple[Any, ...]:
    return (
        row.code,
        row.title,
        row.current.period,
        row.value,
        row.unit,
        row.target.value if row.target else None,
        row.rag.value,
        row.trend.value,
        row.trend_year.value,
        ", ".join(sorted(row.flags)) or None,
        row.reason,
        _comment_text(comments),
    )


def indicators_table(session: Session, period: Period | None = None) -> Table:
    """The export for one period (in full) and the periods inside it that have values,
    or for every period with values."""
    rows: list[tuple[Any, ...]] = []
    with_values = periods_with_values(session)
    chosen: list[tuple[Period, bool]]
    if period is None:
        chosen = [(p, False) for p in with_values]
    else:
        inside = set(periods_within(period)[1:])
        chosen = [(period, True)] + [(p, False) for p in with_values if p in inside]
    for p, in_full in chosen:
        comments = commentary_for(session, p)
        for row in indicator_values(session, p):
            if not in_full and COLLECTED_KIND[Frequency(row.frequency)] is not p.kind:
                continue
            rows.append(_line(row, comments.get(row.code, [])))
    return Table(INDICATOR_COLUMNS, rows)
