"""How figures are written for people: thousands separators, units, no float noise."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CURRENCY_UNITS = {"£", "gbp", "pounds"}
PERCENT_UNITS = {"%", "percent", "per cent"}


def plain_number(value: Decimal, decimals: int | None = None) -> str:
    """``1234.5`` -> ``"1,234.5"``; with ``decimals``, rounded half-up to that many places."""
    if decimals is not None:
        value = value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    else:
        value = value.normalize()
        exponent = value.as_tuple().exponent
        if not isinstance(exponent, int):  # "n", "N" or "F": NaN or infinity
            raise ValueError(f"{value} is not a figure")
        if exponent > 0:
            value = value.quantize(Decimal(1))
    return f"{value:,f}"


def format_figure(value: Decimal, unit: str, decimals: int | None = None) -> str:
    """A value with its unit as a council report writes it: 97.5%, £1,234.50, 12 days."""
    unit_key = unit.strip().lower()
    if unit_key in CURRENCY_UNITS:
        places = 2 if decimals is None and value != value.to_integral() else decimals
        return f"£{plain_number(value, places)}"
    text = plain_number(value, decimals)
    if unit_key in PERCENT_UNITS:
        return f"{text}%"
    if unit_key in {"", "number", "count", "ratio", "index"}:
        return text
    return f"{text} {unit}"


def format_range(low: Decimal | None, high: Decimal | None, unit: str) -> str | None:
    if low is None:
        return None if high is None else f"up to {format_figure(high, unit)}"
    if high is None:
        return f"{format_figure(low, unit)} or more"
    return f"{format_figure(low, unit)} to {format_figure(high, unit)}"
