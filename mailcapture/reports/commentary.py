"""Commentary for reports, and the rule that a red or worsening indicator needs some.

Members reading a performance report want to know *why* a figure is off target or getting
worse; the framework therefore asks for a line of commentary on every red or worsening
indicator. :func:`commentary_for` gathers the current commentary for a period (what the
updaters, owners and heads of service wrote), and :func:`commentary_needed` says, in
words fit for an email, why an indicator still needs some. The confirmation email, the
reminders and the reports all use these, so they never disagree about what is missing.

Decisions worth knowing:

* Only *current* commentary counts (a corrected comment replaces the earlier one).
* Commentary on a component (``[BV8a.1 comment]``) counts for the indicator that the
  form line belongs to, as does commentary on the indicator itself (``[BV8a comment]``).
* For a quarter or year, commentary sent for any period inside it counts as well: the
  explanation given with June's figures explains Q1.
* Department commentary (from a head of service on the department report) is keyed
  ``"dept:<CODE>"`` so it can travel in the same mapping.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from mailcapture.db import models as m
from mailcapture.domain.enums import CommentSubject
from mailcapture.domain.figures import format_figure
from mailcapture.domain.periods import Period
from mailcapture.reports.queries import IndicatorRow, indicator_values
from mailcapture.reports.values import Rag, Trend

DEPARTMENT_PREFIX = "dept:"


@dataclass(frozen=True)
class CommentItem:
    """One piece of commentary: who wrote it, in which capacity, what, and when."""

    author: str
    role: str
    body: str
    at: datetime


def commentary_for(
    session: Session, period: Period, codes: Iterable[str] | None = None
) -> dict[str, list[CommentItem]]:
    """Current commentary in ``period`` by indicator code, plus ``dept:<CODE>`` entries.

    With ``codes``, only those indicators (matched case-insensitively) and no department
    entries. Each list is in the order the comments were received.
    """
    author = select(m.Person.name).where(m.Person.id == m.Commentary.submitted_by_id)
    query = (
        select(
            m.Indicator.code,
            m.Department.code,
            author.scalar_subquery(),
            m.Commentary.author_role,
            m.Commentary.body,
            m.Commentary.received_at,
        )
        .join(m.Period, m.Period.id == m.Commentary.period_id)
        .outerjoin(m.Indicator, m.Indicator.id == m.Commentary.indicator_id)
        .outerjoin(m.Department, m.Department.id == m.Commentary.department_id)
        .where(
            m.Commentary.is_current,
            m.Period.start_date >= period.start,
            m.Period.end_date <= period.end,
        )
        .order_by(m.Commentary.received_at, m.Commentary.id)
    )
    if codes is None:
        query = query.where(
            or_(
                m.Commentary.indicator_id.is_not(None),
                m.Commentary.subject == CommentSubject.DEPARTMENT,
            )
        )
    else:
        wanted = sorted({c.casefold() for c in codes})
        query = query.where(func.lower(m.Indicator.code).in_(wanted))
    found: dict[str, list[CommentItem]] = defaultdict(list)
    for code, department, name, role, body, at in session.execute(query):
        key = code if code is not None else f"{DEPARTMENT_PREFIX}{department}"
        found[key].append(CommentItem(name or "", role, body, at))
    return dict(found)


def commentary_needed(row: IndicatorRow, comments: list[CommentItem]) -> str | None:
    """Why ``row`` still needs commentary ("red (92.1% against 97%)", ...), else None."""
    if comments:
        return None
    reasons = []
    if row.rag is Rag.RED and row.value is not None and row.target is not None:
        value = format_figure(row.value, row.unit, row.decimals)
        target = format_figure(row.target.value, row.unit)
        reasons.append(f"red ({value} against {target})")
    if row.trend is Trend.WORSENING and row.previous is not None:
        reasons.append(f"worsening since {row.previous.period}")
    return " and ".join(reasons) or None


def needing_commentary(
    session: Session, period: Period, codes: Iterable[str]
) -> list[tuple[IndicatorRow, str]]:
    """The indicators among ``codes`` that need commentary for ``period``, with the reason.

    What the confirmation asks for and the commentary reminder chases; in code order.
    """
    wanted = sorted(set(codes))
    if not wanted:
        return []
    return still_needing_commentary(
        session, period, indicator_values(session, period, wanted, flags=False)
    )


def still_needing_commentary(
    session: Session, period: Period, rows: Iterable[IndicatorRow]
) -> list[tuple[IndicatorRow, str]]:
    """Those of ``rows`` (computed for ``period``) that need commentary, with the reason.

    The commentary is read only for the red or worsening rows, so a form whose figures
    are all well needs no statement at all (a reply's confirmation: issue 14).
    """
    candidates = [(row, commentary_needed(row, [])) for row in rows]
    wanted = [(row, reason) for row, reason in candidates if reason is not None]
    if not wanted:
        return []
    said = commentary_for(session, period, [row.code for row, _ in wanted])
    return [(row, reason) for row, reason in wanted if not said.get(row.code)]


def request_indicator_codes(session: Session, request_id: int) -> list[str]:
    """Codes of the indicators whose figures a data request asks for."""
    return list(
        session.scalars(
            select(m.Indicator.code)
            .join(m.DataRequestItem, m.DataRequestItem.indicator_id == m.Indicator.id)
            .where(m.DataRequestItem.request_id == request_id)
            .distinct()
        )
    )
