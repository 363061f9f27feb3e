"""Indicator rows and commentary as report lines: the figures in words, one way everywhere.

The owner report's summary line is also the key to its answer lines, agreed with the
inbound side (:mod:`mailcapture.parsing.report_reply`), so its shape is fixed::

    [BV8a] Invoices paid within 30 days: 97.5 % (target 97 %), green, improving - provisional

Figures are written with a space before the unit ("97.5 %", "12 days"; money as
"£1,234"), the target as the register gives it (no padded decimals), then the RAG status
and the direction of travel when known, then the data-quality flags after " - ". Lines
stay within 78 characters: a long title is shortened with "...", never the figures; if
the figures alone would overflow, the flags move to an indented second line.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from mailcapture.clock import LOCAL_TZ
from mailcapture.compose.textfmt import one_line, truncate
from mailcapture.domain.figures import CURRENCY_UNITS, plain_number
from mailcapture.domain.periods import parse_period
from mailcapture.reports.commentary import CommentItem
from mailcapture.reports.queries import IndicatorRow
from mailcapture.reports.values import Rag, Trend

from .views import ChartRef, Comment, IndicatorLine

LINE_WIDTH = 78
_PLAIN_UNITS = {"", "number", "count", "ratio", "index"}
#: Flags in the order a reader needs them; any others follow alphabetically.
_FLAG_ORDER = ("provisional", "late", "estimated", "missing", "not available", "superseded")
_ROLE_WORDS = {
    "updater": "updater",
    "owner": "owner",
    "escalation_owner": "head of service",
    "performance_team": "performance team",
}


def figure(value: Decimal, unit: str, decimals: int | None = None) -> str:
    """``97.5 %``, ``12 days``, ``£1,234``, ``3,210``: the figure, a space, its unit."""
    text = plain_number(value, decimals)
    key = unit.strip().lower()
    if key in CURRENCY_UNITS:
        return f"£{text}"
    if key in _PLAIN_UNITS:
        return text
    return f"{text} {unit.strip()}"


def trend_word(trend: Trend) -> str:
    return "" if trend is Trend.UNKNOWN else trend.value


def ordered_flags(flags: Iterable[str]) -> tuple[str, ...]:
    known = [f for f in _FLAG_ORDER if f in flags]
    return tuple(known + sorted(set(flags) - set(_FLAG_ORDER)))


def period_label(code: str) -> str:
    return parse_period(code).label


def when_day(at: datetime) -> str:
    local = at.astimezone(LOCAL_TZ)
    return f"{local.day} {local:%B %Y}"


def comment_views(items: Iterable[CommentItem]) -> tuple[Comment, ...]:
    return tuple(
        Comment(
            author=one_line(i.author) or "unknown",
            role=_ROLE_WORDS.get(i.role, i.role.replace("_", " ")),
            body=i.body.strip(),
            when=when_day(i.at),
        )
        for i in items
    )


def summary_line(code: str, title: str, body: str, flags: tuple[str, ...]) -> str:
    """``[CODE] Title: body - flags`` within :data:`LINE_WIDTH` (see the module docstring)."""
    tail = f" - {', '.join(flags)}" if flags else ""
    prefix = f"[{code}] "
    room = LINE_WIDTH - len(prefix) - len(": ") - len(body) - len(tail)
    title = one_line(title)
    if room >= min(len(title), 12):
        return f"{prefix}{truncate(title, room)}: {body}{tail}"
    room = LINE_WIDTH - len(prefix) - len(": ") - len(body)
    head = f"{prefix}{truncate(title, max(room, 12))}: {body}"
    return f"{head}\n    {', '.join(flags)}" if flags else head


def indicator_line(
    row: IndicatorRow,
    *,
    comments: Iterable[CommentItem] = (),
    needs_commentary: str | None = None,
    chart: ChartRef | None = None,
) -> IndicatorLine:
    """One :class:`IndicatorRow` as report text: values, target, status, trend, flags."""
    flags = ordered_flags(row.flags)
    label = period_label(row.current.period)
    value = figure(row.value, row.unit, row.decimals) if row.value is not None else None
    target = figure(row.target.value, row.unit) if row.target is not None else None
    previous = (
        figure(row.previous.value, row.unit, row.decimals)
        if row.previous is not None and row.previous.value is not None
        else None
    )
    last_year = (
        figure(row.last_year.value, row.unit, row.decimals)
        if row.last_year is not None and row.last_year.value is not None
        else None
    )
    rag = "" if row.rag is Rag.NONE else row.rag.value
    if value is None:
        body = "no value"
    else:
        body = value + (f" (target {target})" if target else "")
        body += "".join(f", {w}" for w in (rag, trend_word(row.trend)) if w)
    line = summary_line(row.code, row.title, body, flags)
    return IndicatorLine(
        code=row.code,
        title=one_line(row.title),
        period_label=label,
        value=value,
        target=target,
        rag=rag,
        trend=trend_word(row.trend),
        trend_year=trend_word(row.trend_year),
        previous=previous,
        last_year=last_year,
        flags=flags,
        reason=row.reason,
        line=line,
        words=_words(row, label, value, target, rag, previous, last_year),
        comments=comment_views(comments),
        needs_commentary=needs_commentary,
        awaiting_signoff="provisional" in flags,
        chart=chart,
        title_shortened=f"] {one_line(row.title)}: " not in line,
    )


def _words(
    row: IndicatorRow,
    label: str,
    value: str | None,
    target: str | None,
    rag: str,
    previous: str | None,
    last_year: str | None,
) -> str:
    """The figures as a sentence, for the text part and for anyone who skips the chart."""
    if value is None:
        return f"No value for {label}: {row.reason or 'not yet sent'}."
    text = f"{value} for {label}"
    if target:
        text += f" against a target of {target}" + (f" ({rag})" if rag else "")
    else:
        text += ", no target"
    moves = []
    # A cumulative indicator is compared with the same period last year only: say it once.
    once = row.last_year is not None and row.previous == row.last_year
    if previous is not None and row.previous is not None and not once:
        word = trend_word(row.trend) or "compared with"
        moves.append(f"{word} since {period_label(row.previous.period)} ({previous})")
    if last_year is not None and row.last_year is not None:
        word = trend_word(row.trend_year) or "compared with"
        moves.append(f"{word} on {period_label(row.last_year.period)} ({last_year})")
    if moves:
        text += "; " + ", and ".join(moves)
    return text + "."
