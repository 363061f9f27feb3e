"""How figures are written for people, and which figures can be stored at all.

Every stored figure is ``NUMERIC(18,6)`` in PostgreSQL (exact decimal text in SQLite, held to
the same bounds so that both databases keep the same figures): at most 12 digits before the
point and 6 after. A figure outside those bounds cannot be stored as given -- PostgreSQL
refuses a larger one and silently rounds a seventh decimal place -- so it is refused with the
limit where it enters (:func:`figure_problem`), never rounded and never left to fail in the
database.

Arithmetic here is exact whatever the number of digits: ``Decimal``'s default context rounds
at 28 significant digits, and raises ``InvalidOperation`` when a quantized result would need
more, so each operation that could round gets a context wide enough for its operand.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal

CURRENCY_UNITS = {"£", "gbp", "pounds"}
PERCENT_UNITS = {"%", "percent", "per cent"}

#: Digits before the decimal point a stored figure may have (``NUMERIC(18,6)``: 18 - 6).
MAX_WHOLE_DIGITS = 12
#: Decimal places a stored figure may have (``NUMERIC(18,6)``).
MAX_DECIMAL_PLACES = 6
#: The largest figure that can be stored; its negative is the smallest.
LARGEST_FIGURE = Decimal("999999999999.999999")
#: A figure with more digits than this before the point or zeros after it is shown in
#: scientific form: nobody reads sixty digits, and writing out ``1E+999999999`` would take a
#: gigabyte.
_LONGEST_WRITTEN = 60


def figure_problem(value: Decimal) -> str | None:
    """Why ``value`` cannot be stored as a figure, in words for the sender; None if it can.

    Comparisons of ``Decimal`` are exact, so a 29-digit answer is refused as too large rather
    than rounded first, and ``12.5000000`` (a seventh place that is zero) is accepted.
    """
    if not value.is_finite():
        return "not a figure (infinity or NaN)"
    if value.copy_abs() > LARGEST_FIGURE:
        limit = plain_number(LARGEST_FIGURE)
        return f"too large: we can store figures from -{limit} to {limit}"
    step = Decimal(1).scaleb(-MAX_DECIMAL_PLACES)
    if value.quantize(step, context=_wide(value, MAX_DECIMAL_PLACES)) != value:
        return (
            f"more than {MAX_DECIMAL_PLACES} decimal places: we store figures to at most "
            f"{MAX_DECIMAL_PLACES} places; please round it"
        )
    return None


def _wide(value: Decimal, decimals: int = 0) -> Context:
    """A context in which normalising or quantizing ``value`` to ``decimals`` is exact."""
    digits = len(value.as_tuple().digits)
    return Context(prec=max(28, digits, value.adjusted() + 1 + decimals) + 1)


def plain_number(value: Decimal, decimals: int | None = None) -> str:
    """``1234.5`` -> ``"1,234.5"``; with ``decimals``, rounded half-up to that many places.

    Total over finite values of any size (see the module docstring); a figure of more than
    sixty digits (or sixty zeros after the point) is shown as ``9.999999E+99``. Raises
    ValueError for NaN or infinity.
    """
    if not value.is_finite():
        raise ValueError(f"{value} is not a figure")
    if value and not -_LONGEST_WRITTEN < value.adjusted() < _LONGEST_WRITTEN:
        return f"{value:.6E}"
    context = _wide(value, decimals or 0)
    if decimals is not None:
        value = value.quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP, context)
    else:
        value = value.normalize(context)
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent > 0:
            value = value.quantize(Decimal(1), context=context)
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
