"""Column types that behave the same on SQLite and PostgreSQL.

Why these exist: SQLite has no timezone-aware timestamps and no exact decimal type.
A council's figures must come back exactly as the sender gave them, and instants
must compare correctly whichever database is underneath.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Dialect, Numeric, String
from sqlalchemy.types import TypeDecorator, TypeEngine

#: Precision and scale of every stored figure: up to 12 digits before the point, 6 after.
DECIMAL_PRECISION = 18
DECIMAL_SCALE = 6


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes everywhere; naive UTC in SQLite, ``timestamptz`` in PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use the clock")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class ExactDecimal(TypeDecorator[Decimal]):
    """``NUMERIC(18, 6)`` in PostgreSQL; canonical decimal text in SQLite.

    SQLAlchemy's Numeric goes through a float on SQLite, which can change the 15th
    significant digit of a figure. Text keeps every digit; comparisons in SQL are
    not needed on SQLite because all arithmetic happens in Python ``Decimal``.
    """

    impl = Numeric(DECIMAL_PRECISION, DECIMAL_SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(DECIMAL_PRECISION, DECIMAL_SCALE))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = Decimal(value)
        if not value.is_finite():
            raise ValueError(f"not a finite number: {value}")
        if dialect.name == "sqlite":
            return format(canonical_decimal(value), "f")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return canonical_decimal(value if isinstance(value, Decimal) else Decimal(str(value)))


def canonical_decimal(value: Decimal) -> Decimal:
    """Drop trailing zeros without exponent form: 1234.500000 -> 1234.5, 1.2E+3 -> 1200."""
    value = value.normalize()
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int):  # "n", "N" or "F": NaN or infinity
        raise ValueError(f"{value} is not a figure")
    if exponent > 0:
        value = value.quantize(Decimal(1))
    return value
