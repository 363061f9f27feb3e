"""Words and figures for published pages: the same text a council report would print.

Status and direction are always written as words as well as shown in colour, so a
reader who cannot tell red from green (or prints in black and white) loses nothing.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

from mailcapture.clock import LOCAL_TZ
from mailcapture.domain.enums import MilestoneStatus
from mailcapture.domain.figures import format_figure
from mailcapture.reports.queries import IndicatorRow
from mailcapture.reports.values import Rag, Trend

RAG_WORDS = {Rag.RED: "Red", Rag.AMBER: "Amber", Rag.GREEN: "Green", Rag.NONE: "No status"}

TREND_WORDS = {
    Trend.IMPROVING: "Improving",
    Trend.WORSENING: "Worsening",
    Trend.STEADY: "No change",
    Trend.UNKNOWN: "Not known",
    Trend.UP: "Up",
    Trend.DOWN: "Down",
}

MILESTONE_WORDS = {
    MilestoneStatus.NOT_STARTED: "Not started",
    MilestoneStatus.ON_TRACK: "On track",
    MilestoneStatus.AT_RISK: "At risk",
    MilestoneStatus.DELAYED: "Delayed",
    MilestoneStatus.COMPLETE: "Complete",
}

_SLUG = re.compile(r"[^a-z0-9]+")


def slug(code: str) -> str:
    """A file-name-safe form of a register code: ``NI 191`` -> ``ni-191``."""
    return _SLUG.sub("-", code.casefold()).strip("-") or "item"


def figure(value: Decimal | None, row: IndicatorRow) -> str:
    """A value as the report prints it, with the indicator's unit and decimals."""
    if value is None:
        return "-"
    return format_figure(value, row.unit, row.decimals)


def target_text(row: IndicatorRow) -> str:
    return format_figure(row.target.value, row.unit) if row.target else "-"


def notes(row: IndicatorRow) -> str:
    """Flags and the reason there is no value, in words: "late; estimated".

    "provisional" is left out: it is printed beside the value itself.
    """
    parts = sorted(row.flags - {"missing", "not available", "provisional"})
    if row.reason:
        parts.append(row.reason)
    return "; ".join(parts)


def rag_word(rag: Rag) -> str:
    return RAG_WORDS[Rag(rag)]


def trend_word(trend: Trend) -> str:
    return TREND_WORDS[Trend(trend)]


def milestone_word(status: MilestoneStatus | None) -> str:
    return "No update" if status is None else MILESTONE_WORDS[MilestoneStatus(status)]


def day(value: date | None) -> str:
    """``14 July 2026``; a dash when there is no date."""
    if value is None:
        return "-"
    return f"{value.day} {value:%B %Y}"


def local_time(value: datetime) -> str:
    """An instant in council local time: ``20 July 2026, 10:00``."""
    local = value.astimezone(LOCAL_TZ)
    return f"{local.day} {local:%B %Y, %H:%M}"


def percent(share: Decimal | None) -> str:
    """A 0..1 share as a percentage to one place; a dash when there is nothing to share."""
    if share is None:
        return "-"
    return format_figure(share * 100, "%", 1)
