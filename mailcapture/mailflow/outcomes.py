"""How an inbound message ended: every outcome, and one table of what each one means.

An outcome is stored in ``inbound_messages.outcome`` and asserted by tests, the daily
digest and the operators' ``mailcapture messages`` listing, so its string never changes:
:class:`Outcome` only gives each string a name the type checker knows, so a misspelt
outcome (``"wrong_person"`` for ``"wrong-person"``) fails before it is stored.

:data:`OUTCOMES` says, for each, what the pipeline does with it: the state the message is
left in, the level it is logged at, the email it is answered with (if any) and whether that
email goes to the sender. A rejection's notice reason comes from here too, so a stage
rejects with an outcome alone. Adding a rejection reason is one member here and its row,
and the reason's wording in ``templates/emails/rejection_notice.*`` (plus its name in
:data:`mailcapture.compose.views.RejectionReason`); see ``mailflow/README.md``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from mailcapture.compose.views import RejectionReason
from mailcapture.domain.enums import InboundState

__all__ = ["OUTCOMES", "Outcome", "Treatment", "treatment"]


class Outcome(StrEnum):
    """Every way an inbound message can end; the values are the stored strings."""

    # Before or beside the stages (store.py, pipeline.py).
    DUPLICATE = "duplicate"
    FAILED = "failed"
    DEFERRED = "deferred"
    # classify
    OWN_MAIL = "own-mail"
    TOO_LARGE = "too-large"
    # hold: our receiving host's verdict
    DMARC_FAIL = "dmarc-fail"
    AUTH_UNREADABLE = "auth-unreadable"
    # automatic mail
    BOUNCE = "bounce"
    BOUNCE_TEMPORARY = "bounce-temporary"
    COMPLAINT = "complaint"
    FEEDBACK_REPORT = "feedback-report"
    AUTO_REPLY = "auto-reply"
    UNKNOWN = "unknown"
    # match
    NO_SENDER = "no-sender"
    UNWRITABLE_SENDER = "unwritable-sender"
    UNKNOWN_SENDER = "unknown-sender"
    NO_REQUEST = "no-request"
    # authenticate
    WRONG_PERSON = "wrong-person"
    EXPIRED = "expired"
    # confirm: a data reply
    APPLIED = "applied"
    UNCONFIRMED = "unconfirmed"
    REJECTED = "rejected"
    COMMENT_ONLY = "comment-only"
    NO_ANSWERS = "no-answers"
    #: A figure differing from another person's for the same item: both kept, the owner
    #: asked to choose (issue 15, part 9), nothing else stored.
    CONFLICT = "conflict"
    # confirm: an answer to a report
    REPORT_ANSWER = "report-answer"
    REPORT_REFUSED = "report-refused"
    REPORT_NO_ANSWERS = "report-no-answers"
    # confirm: the owner's choice between differing figures (``value_choices``)
    CHOICE_MADE = "choice-made"
    CHOICE_REFUSED = "choice-refused"
    CHOICE_NO_ANSWERS = "choice-no-answers"


@dataclass(frozen=True)
class Treatment:
    """What an outcome means for the message, the log and the sender.

    ``email`` is the outbox kind (the template) the outcome is answered with, and
    ``reason`` the rejection notice's reason when that email is a ``rejection_notice``.
    ``tells_sender``: that email goes to the message's sender (subject to the limits in
    :mod:`mailcapture.mailflow.replies`: a stranger unvouched for, the hourly cap, a loop);
    a bounce's email goes to the performance team instead. ``level`` is the level the
    outcome is logged at: info for what a person did and was told, warning for a message
    held or listed for a person to look at, error for our own fault.
    """

    state: InboundState = InboundState.PROCESSED
    level: int = logging.INFO
    email: str | None = None
    reason: RejectionReason | None = None
    tells_sender: bool = False


_CONFIRMED = Treatment(email="confirmation", tells_sender=True)
_REPORT_CONFIRMED = Treatment(email="report_answer_confirmation", tells_sender=True)
_CHOICE_CONFIRMED = Treatment(email="value_choice_confirmation", tells_sender=True)
#: Held on our receiving host's word; the performance team is told (not the sender).
_HELD = Treatment(InboundState.QUARANTINED, logging.WARNING, email="quarantine_notice")


def _rejected(reason: RejectionReason, state: InboundState = InboundState.PROCESSED) -> Treatment:
    return Treatment(state, email="rejection_notice", reason=reason, tells_sender=True)


#: Every outcome's treatment; a test holds it complete.
OUTCOMES: dict[Outcome, Treatment] = {
    Outcome.DUPLICATE: Treatment(InboundState.DUPLICATE),
    Outcome.FAILED: Treatment(InboundState.FAILED, logging.ERROR),
    Outcome.DEFERRED: Treatment(InboundState.DEFERRED, logging.WARNING),
    Outcome.OWN_MAIL: Treatment(),
    # Told only when the headers say a person wrote it (robots are never answered).
    Outcome.TOO_LARGE: Treatment(
        InboundState.QUARANTINED,
        logging.WARNING,
        email="rejection_notice",
        reason="too_large",
        tells_sender=True,
    ),
    Outcome.DMARC_FAIL: _HELD,
    Outcome.AUTH_UNREADABLE: _HELD,
    Outcome.BOUNCE: Treatment(email="bounce_notice"),  # to the performance team
    Outcome.BOUNCE_TEMPORARY: Treatment(),
    Outcome.COMPLAINT: Treatment(level=logging.WARNING),  # in the daily digest
    Outcome.FEEDBACK_REPORT: Treatment(),
    Outcome.AUTO_REPLY: Treatment(),  # an absent person's form may go to their delegate
    Outcome.UNKNOWN: Treatment(),
    Outcome.NO_SENDER: Treatment(),
    Outcome.UNWRITABLE_SENDER: Treatment(level=logging.WARNING),  # in the daily digest
    Outcome.UNKNOWN_SENDER: _rejected("unknown_sender"),
    Outcome.NO_REQUEST: _rejected("no_request"),
    Outcome.WRONG_PERSON: _rejected("wrong_person"),
    Outcome.EXPIRED: _rejected("expired"),
    Outcome.APPLIED: _CONFIRMED,
    Outcome.UNCONFIRMED: _CONFIRMED,
    Outcome.REJECTED: _CONFIRMED,
    Outcome.COMMENT_ONLY: _CONFIRMED,
    Outcome.NO_ANSWERS: _CONFIRMED,
    Outcome.CONFLICT: _CONFIRMED,  # and a value_choice email to the indicator's owner
    Outcome.REPORT_ANSWER: _REPORT_CONFIRMED,
    Outcome.REPORT_REFUSED: _REPORT_CONFIRMED,
    Outcome.REPORT_NO_ANSWERS: _REPORT_CONFIRMED,
    Outcome.CHOICE_MADE: _CHOICE_CONFIRMED,
    Outcome.CHOICE_REFUSED: _CHOICE_CONFIRMED,
    Outcome.CHOICE_NO_ANSWERS: _CHOICE_CONFIRMED,
}


def treatment(outcome: str) -> Treatment:
    """The treatment of a stored outcome (a plain string read back from the database)."""
    return OUTCOMES[Outcome(outcome)]
