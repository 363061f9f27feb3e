"""View models: everything a template may show, already decided and formatted.

Templates only lay these out. Every figure, date and name arrives as display text chosen by
the caller (which has the database, the clock and the council's formatting rules), so the
same view always renders to the same email, and a template can never run a query, read
the clock or format a number differently from the reports.

All are frozen dataclasses of plain values so that a rendered email can be reproduced from
the view alone (tests build them by hand; the outbox can log them).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, get_args

__all__ = [
    "BounceView",
    "CandidateLine",
    "ConfirmationView",
    "ConfirmedLine",
    "ConflictLine",
    "Council",
    "DelegateForwardView",
    "DelegateNoticeView",
    "EscalationView",
    "FailureView",
    "FormItem",
    "ItemFigures",
    "OverdueLine",
    "Person",
    "QuarantineView",
    "RejectedLine",
    "RejectionReason",
    "RejectionView",
    "ReminderView",
    "RequestView",
    "ReturnsRow",
    "SummaryView",
    "ValueChoiceConfirmationView",
    "ValueChoiceView",
]


@dataclass(frozen=True)
class Person:
    name: str
    email: str


@dataclass(frozen=True)
class Council:
    """The sending council; ``performance_team`` is the address people should contact."""

    name: str
    performance_team: str


@dataclass(frozen=True)
class ItemFigures:
    """The numbers behind a value item's display text, for the spreadsheet form.

    The text form prints ``last_period``, ``target`` and ``allowed`` as words; the workbook
    attached to a request (:mod:`mailcapture.compose.workbook`) writes them as number cells
    with a format, and checks answers against ``low`` and ``high`` (the bounds printed as
    "Allowed"). ``target_unit`` and ``target_decimals`` are the indicator's, as the target is.
    """

    last_period: Decimal | None = None
    same_period_last_year: Decimal | None = None
    target: Decimal | None = None
    target_unit: str = ""
    target_decimals: int | None = None
    low: Decimal | None = None
    high: Decimal | None = None


@dataclass(frozen=True)
class FormItem:
    """One answer asked for: a component value or a milestone status.

    ``unit`` is the component's unit ("number", "%", "£", "days"); for a status item it is
    the text of the allowed answers, shown on the context line instead of in brackets.
    ``target`` is the *indicator's* target, shown for context only.
    """

    code: str
    title: str
    kind: Literal["value", "status"]
    unit: str
    indicator_code: str | None
    indicator_title: str | None
    group: str
    last_period: str | None
    same_period_last_year: str | None
    target: str | None
    allowed: str | None
    outstanding: bool = True
    #: "not available until DATE" was answered: the date, as display text ("8 July 2026"),
    #: shown beside the item where it is listed as owed (escalations, returns summary).
    promised_for: str | None = None
    #: The same figures as numbers, for the spreadsheet form; None for a status item, or
    #: where the view was made without them (then the workbook shows the display text).
    figures: ItemFigures | None = None


@dataclass(frozen=True)
class RequestView:
    """The one email per updater and period listing everything due from them."""

    council: Council
    recipient: Person
    period_code: str
    period_label: str
    token: str
    due: str
    items: tuple[FormItem, ...]
    on_behalf_of: Person | None = None
    #: The file name of the spreadsheet form attached to this email, if one is (set by
    #: the outbox when it attaches it), so the words can say it may be used instead.
    workbook: str = ""


@dataclass(frozen=True)
class ReminderView(RequestView):
    """A reminder; ``items`` holds only what is still outstanding, so it can be answered too.

    ``days_left`` is in working days: 0 means due today, negative means already overdue.
    """

    step: int = 1
    days_left: int = 0


@dataclass(frozen=True)
class DeferredRequestView(RequestView):
    """Items answered "not available until DATE", asked for again on that date.

    Answered like the first request (same token): ``items`` are the promised items now
    due, ``promised`` the date they were promised for and ``answered`` when that was said,
    as display text.
    """

    promised: str = ""
    answered: str = ""


@dataclass(frozen=True)
class OverdueLine:
    """What one updater still owes; ``request_token`` identifies their request email.

    ``chased`` says what they were sent and when ("request 1 May; reminders 11 and 13 May"),
    so an escalation never claims reminders that did not go (issue 15); ``bounced`` is the
    reason their address refuses our mail, when it does (no more is sent to it).
    """

    updater: Person
    items: tuple[FormItem, ...]
    request_token: str
    chased: str | None = None
    bounced: str | None = None


@dataclass(frozen=True)
class EscalationView:
    """Overdue returns, to an indicator owner or (later, firmer) to the head of service.

    Added beyond the first design, all optional: ``department`` names the head of
    service's department, and ``owners_told`` / ``owners_told_on`` let the escalation to
    the head say which owners were already told, and when.
    """

    council: Council
    recipient: Person
    level: Literal["owner", "escalation_owner"]
    period_code: str
    period_label: str
    due: str
    working_days_overdue: int
    lines: tuple[OverdueLine, ...]
    department: str | None = None
    owners_told: tuple[Person, ...] = ()
    owners_told_on: str | None = None
    #: Sent at once, before or after the deadline, because the updater's address bounces:
    #: the chase cannot reach them, so it moves to the owner (issue 15).
    bounced: bool = False


@dataclass(frozen=True)
class ReturnsRow:
    group: str
    expected: int
    received: int
    on_time: int
    late: int
    outstanding: int
    #: Answered "not available until DATE", that date still to come: not counted as
    #: outstanding (a promise is not a missing return).
    promised: int = 0


@dataclass(frozen=True)
class SummaryView:
    """The returns-status summary to the performance team for one period and frequency.

    Added beyond the first design, both optional: ``group_label`` heads the first column
    ("Service area", "Department"), and ``as_at`` says when the counts were taken.
    """

    council: Council
    recipient: Person
    period_code: str
    period_label: str
    frequency: str
    due: str
    rows: tuple[ReturnsRow, ...]
    totals: ReturnsRow
    outstanding: tuple[OverdueLine, ...]
    group_label: str = "Service area"
    as_at: str | None = None
    #: Completeness and timeliness by department and service area (share received, share
    #: on time, as "91.7%"), from :func:`mailcapture.reports.returns.returns_status`.
    shares: tuple[ShareLine, ...] = ()
    #: Who answered "not available until DATE" for a date still to come: listed apart
    #: from what is outstanding, each item with its ``promised_for`` date.
    promised: tuple[OverdueLine, ...] = ()
    #: Items whose updaters sent differing figures, waiting for the indicator's owner to
    #: choose (issue 15, part 9): counted as outstanding, listed apart, since the updaters
    #: have answered and are not chased for them.
    choosing: tuple[OverdueLine, ...] = ()


@dataclass(frozen=True)
class ShareLine:
    """One department (``department`` True) or service area line of the shares table."""

    label: str
    department: bool
    received: str
    on_time: str


@dataclass(frozen=True)
class FailureView:
    """An outgoing email the outbox gave up on, reported to the performance team."""

    council: Council
    recipient: Person
    failed_recipient: str
    kind: str
    subject: str
    attempts: int
    last_error: str
    queued_at: str


# ---------------------------------------------------------------------------- capture kinds


@dataclass(frozen=True)
class ConfirmedLine:
    """One answer stored from a reply, shown back exactly as stored.

    ``stored`` is the stored value as display text ("1,234", "97.5%", "not available -
    system down until 20th", "on track", "complete (3 May 2026)", a comment excerpt);
    ``note`` qualifies it ("late", "replaces 1,230", "estimate") and is shown in brackets.
    """

    code: str
    title: str
    stored: str
    note: str | None = None


@dataclass(frozen=True)
class RejectedLine:
    """One answer that could not be stored: ``answer`` exactly as typed, ``reason`` in
    plain words ("outside the allowed range 0 to 20,000").

    The text part folds a long answer onto at most a few indented lines and cuts the
    rest with "..."; the HTML part shows it whole (see ``confirmation.txt``).
    """

    code: str
    answer: str
    reason: str


@dataclass(frozen=True)
class HeldLine:
    """A figure stored but not counted until the sender confirms it: ``wrote`` as we read it
    ("£40", "£40 (estimate)"), ``why`` what it was compared with ("last month was
    £420,960", "the allowed range is 0% to 100%")."""

    code: str
    title: str
    wrote: str
    why: str


@dataclass(frozen=True)
class CandidateLine:
    """One of two or more differing figures for an item (issue 15, part 9), as display text:
    ``figure`` as stored ("1,900"), who sent it, on what day ("5 May 2026"), and whose
    return it was when a delegate sent it for someone (else None)."""

    figure: str
    sent_by: str
    sent_on: str
    for_whom: str | None = None


@dataclass(frozen=True)
class ConflictLine:
    """A figure kept, not counted, beside the differing one(s) others sent for the item:
    ``stored`` is the sender's ("1,905"), ``others`` what it differs from, ``owner`` the
    name of the indicator's owner, who has been asked to choose."""

    code: str
    title: str
    stored: str
    others: tuple[CandidateLine, ...]
    owner: str


@dataclass(frozen=True)
class ConfirmationView:
    """What a reply did: to the person who replied (or their delegate), once it was read.

    ``outstanding`` is printed as the request form again, so the confirmation can be
    answered like the request; ``notes`` are things noticed and ignored (a code not on the
    form, conflicting answers); ``commentary_needed`` lists codes whose indicator is red or
    getting worse, for which a comment is asked. ``comments`` counts the item comments
    stored, ``general_comment`` says whether a general comment was stored.
    """

    council: Council
    recipient: Person
    period_code: str
    period_label: str
    token: str
    due: str
    accepted: tuple[ConfirmedLine, ...]
    rejected: tuple[RejectedLine, ...]
    outstanding: tuple[FormItem, ...]
    notes: tuple[str, ...] = ()
    #: Figures held for confirmation (see ``mailflow/apply.py``); each asked about plainly.
    held: tuple[HeldLine, ...] = ()
    comments: int = 0
    general_comment: bool = False
    on_behalf_of: Person | None = None
    late: bool = False
    commentary_needed: tuple[str, ...] = ()
    #: Why each code in ``commentary_needed`` needs it ("red (92.1% against 97.5%)"),
    #: in the same order; may be empty, and then only the codes are named.
    commentary_reasons: tuple[str, ...] = ()
    #: Figures that differ from another person's for the same item: kept, not counted,
    #: and the indicator's owner asked to choose (see ``mailflow/value_choices.py``).
    conflicts: tuple[ConflictLine, ...] = ()


@dataclass(frozen=True)
class ValueChoiceView:
    """To an indicator's owner: different people sent different figures for one component
    and period, and none counts until the owner chooses (issue 15, part 9).

    ``candidates`` are the figures in the order they came; the owner answers by replying
    with ``[CODE choose]: FIGURE`` (the line is in the email, empty after its colon) or
    with the figure alone. ``token`` is the question's own (a ``value_choice`` report run);
    ``answer_by`` is when it stops taking answers, as display text.
    """

    council: Council
    recipient: Person
    period_code: str
    period_label: str
    token: str
    indicator_code: str
    indicator_title: str
    code: str
    title: str
    candidates: tuple[CandidateLine, ...]
    answer_by: str
    #: A reminder: when the question was first asked, as display text (None: the question).
    asked_on: str | None = None
    #: The owner, when the email goes to the performance team because the owner's address
    #: bounces (None: it goes to the owner, ``recipient``).
    owner: Person | None = None


@dataclass(frozen=True)
class ValueChoiceConfirmationView:
    """To whoever answered a :class:`ValueChoiceView`: what their answer did.

    ``chosen`` is the figure that now counts (None when nothing was chosen), ``superseded``
    the others; ``refused`` is (their answer, why) when the answer could not be taken, and
    then ``waiting`` lists the figures still to choose from.
    """

    council: Council
    recipient: Person
    period_label: str
    token: str
    code: str
    title: str
    chosen: CandidateLine | None
    superseded: tuple[CandidateLine, ...] = ()
    refused: tuple[RejectedLine, ...] = ()
    waiting: tuple[CandidateLine, ...] = ()
    notes: tuple[str, ...] = ()
    on_behalf_of: Person | None = None


@dataclass(frozen=True)
class CommentaryLine:
    """An indicator that is red or getting worse and has no commentary for the period."""

    code: str
    title: str
    reason: str


@dataclass(frozen=True)
class CommentaryReminderView:
    """Every value is in, but red or worsening indicators still need a line of commentary.

    Sent once, at the next reminder step after the return was complete; answered like a
    request (the token is the request's).
    """

    council: Council
    recipient: Person
    period_code: str
    period_label: str
    token: str
    due: str
    needed: tuple[CommentaryLine, ...]
    on_behalf_of: Person | None = None


RejectionReason = Literal[
    "unknown_sender", "wrong_person", "expired", "no_request", "quarantined", "too_large"
]


@dataclass(frozen=True)
class RejectionView:
    """To a sender whose email could not be recorded, saying why and whom to contact.

    ``recipient.name`` may be "" when the sender is unknown. ``rightful`` (for
    ``wrong_person``) is whose form it was: only the name is shown, never the address.
    ``expired_on`` (for ``expired``) is the closing date as display text.
    """

    council: Council
    recipient: Person
    reason: RejectionReason
    their_subject: str
    period_label: str | None = None
    expired_on: str | None = None
    rightful: Person | None = None

    def __post_init__(self) -> None:
        if self.reason not in get_args(RejectionReason):
            raise ValueError(f"unknown rejection reason {self.reason!r}")


@dataclass(frozen=True)
class BounceView:
    """To the performance team: mail to a person bounced permanently.

    ``person_name`` is None when the address is not a person in the register;
    ``requests_affected`` are the period labels of requests that did not arrive.
    """

    council: Council
    recipient: Person
    failed_address: str
    person_name: str | None
    diagnostic: str
    original_subject: str | None
    requests_affected: tuple[str, ...] = ()


@dataclass(frozen=True)
class DelegateForwardView(RequestView):
    """The request form again, to a registered delegate while the person is away.

    ``recipient`` is the delegate and ``on_behalf_of`` the absent person (required);
    ``away_until`` is the return date named in their out-of-office, as display text.
    """

    away_until: str | None = None

    def __post_init__(self) -> None:
        if self.on_behalf_of is None:
            raise ValueError("a delegate forward needs on_behalf_of: the person who is away")


@dataclass(frozen=True)
class DelegateNoticeView:
    """To the performance team: a request was passed to the absent person's delegate."""

    council: Council
    recipient: Person
    absent: Person
    delegate: Person
    away_until: str | None
    period_label: str


@dataclass(frozen=True)
class QuarantineView:
    """To the performance team: a reply was held because our receiving host could not vouch
    for its sender (issue 15). It may be forged, so what it says is shown only as a short,
    sanitised excerpt (no links, no addresses in the text), never applied, and never answered;
    ``release_command`` is how a member of the team applies it once they have checked with
    the sender another way.
    """

    council: Council
    recipient: Person
    message_number: int
    sender: str
    sender_name: str | None
    subject: str | None
    received: str
    why: str
    first_lines: tuple[str, ...]
    release_command: str


@dataclass(frozen=True)
class OwnerCommentaryLine:
    """One indicator of an owner report that is red or getting worse and has no commentary.

    ``period_label`` is the period it is reported for (June's report has BV8a for June and
    LFIN01 for the quarter), ``reason`` the words of :func:`commentary_needed`.
    """

    code: str
    title: str
    period_label: str
    reason: str


@dataclass(frozen=True)
class OwnerCommentaryReminderView:
    """The owner report's chase for commentary (issue 15, part 8).

    Sent on the report round's reminder days while indicators the report listed are red or
    worsening without commentary; ``needed`` lists only those still without any. It carries
    the report's own token, so the answer is read exactly as an answer to the report.
    ``final``: the last reminder of the round, said so the owner knows no more will come.
    """

    council: Council
    recipient: Person
    period_code: str
    period_label: str
    covered: str
    token: str
    sent_on: str
    answer_by: str
    needed: tuple[OwnerCommentaryLine, ...]
    step: int
    final: bool
