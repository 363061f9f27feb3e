"""Declarative base, naming convention and shared column helpers."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import Enum, MetaData
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mailcapture.db.types import UTCDateTime

#: Deterministic constraint names, so migrations can name what they alter on any database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


def enum_column(enum: type[StrEnum], **kwargs: object) -> Mapped:
    """A VARCHAR column holding an enum's *values*, validated in Python, no DB enum type.

    Native enums and CHECK constraints would make adding a member a migration; a
    council's register evolves, so the vocabulary is checked by the application.
    """
    return mapped_column(
        Enum(
            enum,
            native_enum=False,
            create_constraint=False,
            length=32,
            values_callable=lambda members: [m.value for m in members],
            validate_strings=True,
        ),
        **kwargs,  # type: ignore[arg-type]
    )


class Retirable:
    """Register rows are never deleted once loaded: they are retired, keeping their history."""

    retired_at: Mapped[datetime | None] = mapped_column(default=None)

    @property
    def is_retired(self) -> bool:
        return self.retired_at is not None
