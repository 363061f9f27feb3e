"""Is a figure plausible? The check a performance officer makes before believing a number.

An officer who reads "£40" for rent arrears that were £420,960 last month does not put £40
in the report: they ring the sender. The service does the same by email. A figure is
*implausible* when it is more than ``factor`` times larger or smaller than every reference
it can be compared with: the component's last value before this period, and its value for
the same period last year. Both must disagree, because one of them alone can be the odd one
out (a seasonal peak, last month's own mistake).

Magnitudes are compared, so a sign change alone is not held (net figures cross zero), and a
reference of zero is no scale to compare with, so it is left out (a count going from 0 to 5
is ordinary). With nothing to compare, nothing is held: the allowed range, checked
separately, is then the only guard.

Pure functions: no database, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

#: How many times larger or smaller than its references a figure may be before it is held,
#: when the register's ``capture`` section sets no ``plausibility_factor``.
DEFAULT_FACTOR = Decimal(10)


@dataclass(frozen=True)
class Reference:
    """A figure to compare with: ``label`` names it for the sender ("last month", "April
    2025"), ``value`` is the stored figure."""

    label: str
    value: Decimal


def far_apart(value: Decimal, reference: Decimal, factor: Decimal) -> bool:
    """More than ``factor`` times larger or smaller than ``reference``, in magnitude."""
    v, r = abs(value), abs(reference)
    return v > r * factor or v * factor < r


def implausible(
    value: Decimal, references: Sequence[Reference], factor: Decimal = DEFAULT_FACTOR
) -> list[Reference]:
    """The references ``value`` disagrees with, when it disagrees with all of them; else [].

    The references returned are the ones to name in the question to the sender. An empty
    list means the figure may be stored as it is.
    """
    usable = [r for r in references if r.value != 0]
    if usable and all(far_apart(value, r.value, factor) for r in usable):
        return usable
    return []
