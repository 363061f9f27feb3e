"""How often a figure is collected, and the kind of period that frequency means."""

from __future__ import annotations

from mailcapture.domain.enums import Frequency
from mailcapture.domain.periods import Period, PeriodKind

#: A monthly figure is collected for months, a quarterly one for quarters, and so on.
COLLECTED_KIND: dict[Frequency, PeriodKind] = {
    Frequency.MONTHLY: PeriodKind.MONTH,
    Frequency.QUARTERLY: PeriodKind.QUARTER,
    Frequency.ANNUAL: PeriodKind.YEAR,
}
_FREQUENCY_OF = {kind: frequency for frequency, kind in COLLECTED_KIND.items()}


def frequency_of(period: Period) -> Frequency:
    """The collection frequency whose periods are of ``period``'s kind."""
    return _FREQUENCY_OF[period.kind]
