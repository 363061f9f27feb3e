"""Period rows: created on first use, so values and targets can refer to any period."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailcapture.db.models import Period as PeriodRow
from mailcapture.domain.periods import Period, parse_period


class PeriodStore:
    """Get-or-create period rows (with their parents), cached for one session."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._cache: dict[str, PeriodRow] = {}

    def get(self, period: Period) -> PeriodRow:
        row = self._cache.get(period.code)
        if row is None:
            row = self._find(period) or self._create(period)
            self._cache[period.code] = row
        return row

    def find(self, period: Period) -> PeriodRow | None:
        """The row if it exists; never creates one (for read-only queries)."""
        return self._cache.get(period.code) or self._find(period)

    def _find(self, period: Period) -> PeriodRow | None:
        return self.session.scalar(select(PeriodRow).where(PeriodRow.code == period.code))

    def _create(self, period: Period) -> PeriodRow:
        parent = period.parent()
        parent_row = self.get(parent) if parent is not None else None
        row = PeriodRow(
            code=period.code,
            kind=period.kind,
            fy=period.fy,
            start_date=period.start,
            end_date=period.end,
            parent_id=parent_row.id if parent_row else None,
        )
        try:
            with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError:  # another process created it first
            found = self._find(period)
            if found is None:
                raise
            return found
        return row


def as_period(row: PeriodRow) -> Period:
    return parse_period(row.code)
