"""The figures printed beside each form line: last period, same period last year, target.

People fill in a return better when they see what they sent before and what the target
is; it is also the cheapest check against a mistyped digit.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailcapture.compose import views
from mailcapture.db import models as m
from mailcapture.domain.figures import format_figure, format_range
from mailcapture.domain.periods import Period
from mailcapture.forms.due import DueItem


class FigureContext:
    """Loads, in a few queries, the context figures for a set of items in one period."""

    def __init__(self, session: Session, period: Period, items: Iterable[DueItem]) -> None:
        items = list(items)
        codes = [period.previous().code, period.same_period_last_year().code]
        ancestors = [period.code]
        parent = period.parent()
        while parent is not None:
            ancestors.append(parent.code)
            parent = parent.parent()
        ids = dict(
            session.execute(
                select(m.Period.code, m.Period.id).where(m.Period.code.in_(codes + ancestors))
            ).all()
        )
        self.previous_id = ids.get(codes[0])
        self.last_year_id = ids.get(codes[1])
        component_ids = sorted({i.component_id for i in items if i.component_id is not None})
        indicator_ids = sorted({i.indicator_id for i in items if i.indicator_id is not None})
        self.values: dict[tuple[int, int], Decimal | None] = {}
        wanted_periods = [p for p in (self.previous_id, self.last_year_id) if p is not None]
        if component_ids and wanted_periods:
            for start in range(0, len(component_ids), 5000):
                rows = session.execute(
                    select(
                        m.ComponentValue.component_id,
                        m.ComponentValue.period_id,
                        m.ComponentValue.value,
                    ).where(
                        m.ComponentValue.is_current,
                        m.ComponentValue.period_id.in_(wanted_periods),
                        m.ComponentValue.component_id.in_(component_ids[start : start + 5000]),
                    )
                )
                for component_id, period_id, value in rows:
                    self.values[(component_id, period_id)] = value
        # The most specific target wins: the period's own, then its quarter, then the year.
        self.targets: dict[int, Decimal] = {}
        rank = {ids[c]: i for i, c in enumerate(ancestors) if c in ids}
        best: dict[int, int] = {}
        if indicator_ids and rank:
            for start in range(0, len(indicator_ids), 5000):
                target_rows = session.execute(
                    select(m.Target.indicator_id, m.Target.period_id, m.Target.value).where(
                        m.Target.period_id.in_(list(rank)),
                        m.Target.indicator_id.in_(indicator_ids[start : start + 5000]),
                    )
                )
                for indicator_id, period_id, target in target_rows:
                    if indicator_id not in best or rank[period_id] < best[indicator_id]:
                        best[indicator_id] = rank[period_id]
                        self.targets[indicator_id] = target

    def _number(self, item: DueItem, period_id: int | None) -> Decimal | None:
        if item.component_id is None or period_id is None:
            return None
        return self.values.get((item.component_id, period_id))

    def _value(self, item: DueItem, period_id: int | None) -> str | None:
        value = self._number(item, period_id)
        return None if value is None else format_figure(value, item.unit)

    def form_item(self, item: DueItem, outstanding: bool = True) -> views.FormItem:
        target = None
        target_number = None
        if item.indicator_id is not None and item.indicator_id in self.targets:
            target_number = self.targets[item.indicator_id]
            target = format_figure(
                target_number, item.indicator_unit or "", item.indicator_decimals
            )
        figures = None
        if item.kind == "value":
            figures = views.ItemFigures(
                last_period=self._number(item, self.previous_id),
                same_period_last_year=self._number(item, self.last_year_id),
                target=target_number,
                target_unit=item.indicator_unit or "",
                target_decimals=item.indicator_decimals,
                low=item.low,
                high=item.high,
            )
        return views.FormItem(
            code=item.code,
            title=item.title,
            kind="value" if item.kind == "value" else "status",
            unit=item.unit,
            indicator_code=item.indicator_code,
            indicator_title=item.indicator_title,
            group=item.group,
            last_period=self._value(item, self.previous_id),
            same_period_last_year=self._value(item, self.last_year_id),
            target=target,
            allowed=format_range(item.low, item.high, item.unit) if item.kind == "value" else None,
            outstanding=outstanding,
            figures=figures,
        )
