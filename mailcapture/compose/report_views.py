"""View models for the emails that answer a report reply, and for a query on a figure.

Kept apart from :mod:`mailcapture.compose.views` (the capture emails) so the report work
can grow without crowding it; the same rules hold: frozen dataclasses of display text,
decided by the caller, so a template only lays them out.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailcapture.compose.views import Council, FormItem, Person

__all__ = [
    "AnswerLine",
    "QueriedFigure",
    "QueryNoticeView",
    "ReportAnswerConfirmationView",
]


@dataclass(frozen=True)
class AnswerLine:
    """One item of a report answer: ``detail`` is the value, the reason or the comment."""

    code: str
    title: str
    detail: str
    #: Who was told (a query), or why nothing was recorded (a refusal).
    note: str | None = None


@dataclass(frozen=True)
class ReportAnswerConfirmationView:
    """To the owner or head of service who answered a report: what their reply did."""

    council: Council
    recipient: Person
    report_title: str
    period_label: str
    token: str
    approved: tuple[AnswerLine, ...]
    queried: tuple[AnswerLine, ...]
    commented: tuple[AnswerLine, ...]
    #: Answers not recorded, with the reason (a lock, not theirs, no value yet).
    refused: tuple[AnswerLine, ...]
    #: What still awaits this reader's sign-off in the report, with its value.
    awaiting: tuple[AnswerLine, ...]
    notes: tuple[str, ...]
    #: The report's addressee, when a registered delegate answered for them.
    on_behalf_of: Person | None = None


@dataclass(frozen=True)
class QueriedFigure:
    """A figure the updater sent: its request form line (empty after the colon, so only a
    typed correction counts) and what we hold, shown under it."""

    item: FormItem
    stored: str


@dataclass(frozen=True)
class QueryNoticeView:
    """To an updater: the owner queried an indicator built from figures they sent.

    ``token`` is the *data request's* token, so a reply goes through the normal capture
    pipeline and a corrected figure is taken like any other answer.
    """

    council: Council
    recipient: Person
    owner: Person
    indicator_code: str
    indicator_title: str
    indicator_value: str
    report_period_label: str
    period_label: str
    token: str
    reason: str
    figures: tuple[QueriedFigure, ...]
    open_until: str
