"""The one object every stage takes: a message on its way through the pipeline.

:class:`Run` holds what the stages share: the database session and the message's row, the
mail settings, the clock's "now", the limits, the time budget, the audit trail being
written, and what earlier stages found (the decoded message, its classification, our
receiving host's verdict, the sender, the request or report run it answers). A stage reads
what it needs from it, adds what it found, and may end the run with :meth:`Run.finish` or
:meth:`Run.reject`; the pipeline then stops (see :mod:`mailcapture.mailflow.stages`).

It lives in a module of its own, below both the stages and the report replies, so that
neither needs the pipeline's private names (issue 14: ``report_replies`` used to import
``pipeline._Run`` back, a cycle).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from mailcapture.compose.message import address_problem
from mailcapture.db import models as m
from mailcapture.mailflow.budget import DEFAULT_BUDGET_SECONDS, Budget
from mailcapture.mailflow.outcomes import OUTCOMES, Outcome
from mailcapture.mailflow.replies import Limits, queue_rejection
from mailcapture.mailflow.sent import SentTexts
from mailcapture.mailflow.store import same_message_id_note
from mailcapture.parsing.addressing import Authentication, read_authentication
from mailcapture.parsing.classify import Classification
from mailcapture.parsing.mime import DecodedMessage
from mailcapture.parsing.mime import Limits as MimeLimits
from mailcapture.register.model import CaptureSpec, MailSpec

__all__ = ["Answering", "Run", "Settings"]


@dataclass
class Settings:
    mime_limits: MimeLimits = field(default_factory=MimeLimits)
    reply_limits: Limits = field(default_factory=Limits)
    #: Wall-clock seconds one message may take before it is deferred (None: no limit), and
    #: the clock that measures them (see ``mailflow.budget``; tests pass a counting one).
    budget_seconds: float | None = DEFAULT_BUDGET_SECONDS
    timer: Callable[[], float] = time.monotonic


class Answering(Protocol):
    """What a reply answers, a data request or a report run, and how it is read.

    The match and authenticate stages are the same for both (who may answer it, until
    when); the parse, apply and confirm stages hand over to it, since a form's answers and a
    report's sign-offs are read and recorded differently
    (:mod:`~mailcapture.mailflow.data_replies`, :mod:`~mailcapture.mailflow.report_replies`).
    """

    #: The person it was sent to: the one who may answer it, besides their delegate.
    addressee: m.Person
    #: It in words, for the audit trail ("request 12", "report run 3").
    described: str
    #: After this it no longer takes answers (None: never), and what expires in words.
    expires_at: datetime | None
    expiring: str

    def may_answer(self, session: Session, sender: m.Person) -> bool:
        """The addressee, or someone registered to answer for them."""
        ...

    def period_label(self) -> str:
        """The period it asks about, as a notice names it."""
        ...

    def parse(self, run: Run) -> None:
        """Read the answers in the message (pure parsing, under the time budget)."""
        ...

    def apply(self, run: Run) -> None:
        """Check each answer and record those that hold."""
        ...

    def confirm(self, run: Run) -> None:
        """Tell the sender what was recorded, and end the run."""
        ...


@dataclass(frozen=True)
class Release:
    """A member of the performance team's word that a held reply is genuine (issue 15)."""

    by: str
    reason: str


class Unknown(enum.Enum):
    """Not looked up yet (a one-member enum, so the type checker can tell it from None)."""

    UNKNOWN = "unknown"


UNKNOWN = Unknown.UNKNOWN


class Run:
    """One message through the stages, inside one transaction."""

    #: The message decoded (classify; None only if classify ended the run first).
    decoded: DecodedMessage | None = None
    #: What the classifier said (classify).
    verdict: Classification | None = None
    #: What our receiving host said about the message (read once, before any notice).
    auth: Authentication | None = None
    #: Why the sender gets no automatic mail now (a loop, see ``mailflow.loops``), if so.
    quiet: str | None = None
    #: The message answers one of our automatic emails (threading or our quoted marker).
    answers_ours: bool = False
    #: The sender, from the register (match).
    sender: m.Person | None = None
    #: The data request or report run the message answers, and how it is read (match).
    answering: Answering | None = None
    #: How the run ended (set by :meth:`finish`); the pipeline stops at the first.
    outcome: Outcome | None = None
    #: The capture settings as the pipeline's claim read them (None: read them from the
    #: database when a figure needs them).
    capture: Callable[[], CaptureSpec] | None = None
    #: Our outbox row with the message's own Message-ID, as the claim read it: its id, or
    #: None when there is none; ``UNKNOWN`` when the run was not claimed that way (the
    #: classify stage then asks).
    ours: int | Unknown | None = UNKNOWN
    #: Our automatic emails to an address in the last hour, as the loop check read them
    #: (the address and the count), for the confirmation's hourly limit.
    sent_last_hour: tuple[str, int] | None = None
    #: A held reply released by the performance team (``Pipeline.release``): the hold stage
    #: records who released it and why, and lets it through.
    release: Release | None = None

    def __init__(
        self,
        session: Session,
        row: m.InboundMessage,
        mail: MailSpec,
        now: datetime,
        settings: Settings,
        sent: SentTexts,
    ) -> None:
        self.session = session
        self.row = row
        self.mail = mail
        self.now = now
        self.settings = settings
        #: The decoded text of our own outgoing rows (the pipeline's cache, see ``sent``).
        self.sent = sent
        self.stages: list[dict[str, Any]] = []
        self.budget = Budget(settings.budget_seconds, settings.timer, self.stages)

    @property
    def message(self) -> DecodedMessage:
        """The decoded message, for the stages after classify (which always sets it)."""
        assert self.decoded is not None, "a stage ran before classify decoded the message"
        return self.decoded

    @property
    def person(self) -> m.Person:
        """The sender from the register, for the stages after match (which sets it)."""
        assert self.sender is not None, "a stage ran before match found the sender"
        return self.sender

    @property
    def answer(self) -> Answering:
        """What the message answers, for the stages after match (which sets it)."""
        assert self.answering is not None, "a stage ran before match found what it answers"
        return self.answering

    def recipients(self) -> list[str]:
        """Every address the message was sent to, where a token may be: envelope and
        headers (a reply's token is in the address it was sent to, or its subject)."""
        decoded = self.message
        return [
            *(self.row.envelope_to or []),
            *decoded.to,
            *decoded.cc,
            *decoded.delivered_to,
            *decoded.x_original_to,
            *decoded.envelope_to,
        ]

    def sent_to(self, address: str) -> int | None:
        """Our automatic emails to ``address`` in the last hour, if the loop check read them
        for that address (None: ask)."""
        known = self.sent_last_hour
        if known is not None and known[0].lower() == address.lower():
            return known[1]
        return None

    def stage(self, name: str, result: str, detail: str | None = None) -> None:
        """One entry of the message's audit trail."""
        self.stages.append(
            {"stage": name, "result": result, "detail": detail, "at": self.now.isoformat()}
        )

    def finish(self, outcome: Outcome, detail: str | None = None) -> None:
        """End the run: the outcome, its detail, and the state the outcome table gives."""
        self.outcome = outcome
        # Counted here, not when the run starts: a run that does not finish is rolled back
        # (the pipeline counts a failed or deferred attempt in a transaction of its own),
        # and a change made before the first lookup would cost an UPDATE of its own.
        self.row.attempts += 1
        self.row.state = OUTCOMES[outcome].state
        self.row.outcome = outcome.value  # the stored string, not the enum
        flagged = same_message_id_note(self.row.stages)  # issue 13: shown beside any outcome
        if flagged:
            detail = f"{detail}; {flagged}" if detail else flagged
        self.row.outcome_detail = detail
        self.row.stages = (self.row.stages or []) + [{"run": self.row.attempts}, *self.stages]
        self.row.processed_at = self.now
        self.row.error = None

    def reject(self, outcome: Outcome, address: str, name: str, detail: str, **extra: Any) -> None:
        """End the run with a rejection, queueing the outcome's notice to ``address``.

        The notice's reason is the outcome table's; ``queue_rejection`` decides whether it
        may go (once a day, the limits, a stranger unvouched for, a loop) and says why not.
        """
        reason = OUTCOMES[outcome].reason
        assert reason is not None, f"{outcome} is no rejection: it has no notice reason"
        notice = queue_rejection(
            self.session,
            self.mail,
            inbound=self.row,
            address=address,
            name=name,
            reason=reason,
            now=self.now,
            limits=self.settings.reply_limits,
            vouched=self.vouched(address),
            quiet=self.quiet,
            **extra,
        )
        self.stage("reply", notice.result, notice.note)
        if address_problem(address) is not None:  # no notice (queue_rejection said why)
            outcome = Outcome.UNWRITABLE_SENDER
        self.finish(outcome, f"{detail}; {notice.note}")

    def authentication(self, headers: tuple[tuple[str, str], ...]) -> Authentication:
        """Our receiving host's word on this message, read once."""
        if self.auth is None:
            self.auth = read_authentication(headers, self.mail.authserv_id)
        return self.auth

    def vouched(self, address: str) -> bool:
        """Did our receiving host see DMARC or SPF pass for ``address``'s domain?"""
        return self.auth is not None and self.auth.vouches_for(address)
