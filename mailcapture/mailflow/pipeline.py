"""The one inbound pipeline: ``ingest(raw, envelope)`` is the only way a message enters.

    store raw (own transaction, committed first)
      -> classify (human / auto-reply / bounce / unknown; our own mail dropped)
      -> match the request (token in recipient, subject, or references)
      -> authenticate (the addressee or their delegate; DMARC from our own host)
      -> parse (pure functions in ``parsing``)
      -> validate and apply (one transaction)
      -> confirm (outbox)

Every stage appends to the message's ``stages`` list, so the audit trail shows how each
message was handled. An exception rolls back the processing transaction and marks the
message ``failed`` with the error kept: a quarantine the performance team can see and
replay with ``mailcapture reprocess``. A database outage is not the message's fault: the
message stays ``received`` and is tried again (see ``Pipeline.process``). A message that runs
over its time budget (``mailflow.budget``) is rolled back and set aside as ``deferred``, so
that the next one is processed. Nothing is ever deleted.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parseaddr
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload, sessionmaker

from mailcapture.clock import LOCAL_TZ, Clock
from mailcapture.compose.message import LOOP_HEADER, address_problem
from mailcapture.compose.views import RejectionReason
from mailcapture.db import models as m
from mailcapture.db.engine import is_database_fault, transaction
from mailcapture.domain.enums import InboundState, MessageClass, RequestState
from mailcapture.domain.periods import parse_period
from mailcapture.mailflow.apply import Applier, Submitter, outstanding_items
from mailcapture.mailflow.budget import DEFAULT_BUDGET_SECONDS, Budget, OverBudget
from mailcapture.mailflow.complaints import record_complaint
from mailcapture.mailflow.loops import (
    ANSWERS,
    QUIET,
    answered_outbox,
    first_line,
    marker_in_own_text,
    marker_quoted,
    outbox_row_with_id,
    quiet_reason,
)
from mailcapture.mailflow.replies import (
    UNWRITABLE_SENDER,
    WITHHELD,
    Limits,
    queue_bounce_notice,
    queue_confirmation,
    queue_delegate_forward,
    queue_rejection,
)
from mailcapture.mailflow.report_replies import handle_report_reply
from mailcapture.mailflow.sent import SentTexts
from mailcapture.mailflow.store import (
    Envelope,
    StoredMessage,
    same_message_id_note,
    store_raw,
)
from mailcapture.parsing.addressing import (
    Authentication,
    AuthVerdict,
    ReplyAddress,
    find_tokens,
    read_authentication,
)
from mailcapture.parsing.classify import (
    Classification,
    Kind,
    classify,
    classify_headers,
    decode_headers,
)
from mailcapture.parsing.form import read_reply
from mailcapture.parsing.mime import (
    DecodedMessage,
    MessageTooLarge,
    MimeTooDeep,
    clean_text,
    decode_message,
)
from mailcapture.parsing.mime import Limits as MimeLimits
from mailcapture.parsing.quotes import split_reply
from mailcapture.register.mail import mail_settings
from mailcapture.register.model import MailSpec

KIND_TO_CLASS = {
    Kind.HUMAN: MessageClass.HUMAN,
    Kind.AUTO_REPLY: MessageClass.AUTO_REPLY,
    Kind.BOUNCE: MessageClass.BOUNCE,
    # A complaint is automated mail; its rule (``arf:abuse``, ...) and outcome say which.
    Kind.COMPLAINT: MessageClass.AUTO_REPLY,
    Kind.UNKNOWN: MessageClass.UNKNOWN,
}


@dataclass(frozen=True)
class IngestResult:
    id: int
    duplicate: bool
    state: str
    outcome: str
    detail: str | None = None

    def line(self) -> str:
        text = f"#{self.id} {self.state}: {self.outcome}"
        return f"{text} - {self.detail}" if self.detail else text


@dataclass
class Settings:
    mime_limits: MimeLimits = field(default_factory=MimeLimits)
    reply_limits: Limits = field(default_factory=Limits)
    #: Wall-clock seconds one message may take before it is deferred (None: no limit), and
    #: the clock that measures them (see ``mailflow.budget``; tests pass a counting one).
    budget_seconds: float | None = DEFAULT_BUDGET_SECONDS
    timer: Callable[[], float] = time.monotonic


class Pipeline:
    """Holds what every message needs: the database, the clock, the limits."""

    def __init__(
        self, sessions: sessionmaker[Session], clock: Clock, settings: Settings | None = None
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.settings = settings or Settings()
        #: The decoded text of our own outgoing rows, by row: each reply is read against
        #: everything we sent for its request, and those rows never change.
        self.sent = SentTexts()

    def ingest(self, raw: bytes, envelope: Envelope) -> IngestResult:
        """Store, then process. Raises only if the raw message could not be stored, or if
        the database failed while processing it (it then stays ``received``: see process)."""
        with transaction(self.sessions) as session:
            stored = store_raw(session, raw, envelope, self.clock.now())
        if stored.duplicate_of is not None:
            return IngestResult(
                stored.id,
                True,
                InboundState.DUPLICATE.value,
                "duplicate",
                f"same message as #{stored.duplicate_of}",
            )
        return self.process(stored.id)

    def process(self, message_id: int, *, force: bool = False) -> IngestResult:
        """Run every stage after storage; on an error of our own, keep it and mark it failed.

        Only a message still ``received`` is processed (``force`` also takes processed,
        failed or quarantined ones, for ``mailcapture reprocess``). The row is locked for
        the whole transaction (``SKIP LOCKED`` on PostgreSQL), so two service processes
        that both see a stored message never process it twice.

        A database fault (:func:`~mailcapture.db.engine.is_database_fault`: the server gone,
        a connection dropped, SQLite locked past its timeout) is not the message's fault,
        and marking the message failed would need the database that just failed. So it is
        raised as it is and the message stays ``received``: the service's worker backs off
        and tries it again, and the sweep finds it. ``failed`` is for our own errors. If
        marking the message failed fails too (the database went away meanwhile), that error
        is raised, chained to the first, and the message stays ``received`` as well.
        """
        try:
            with transaction(self.sessions) as session:
                claimed = self._claim(session, message_id, force)
                if claimed is not None:
                    row, mail = claimed
                    _Run(session, row, self, self.clock.now(), mail).run()
                    return _result(row)
        except OverBudget as exc:
            return self._defer(message_id, exc)
        except Exception as exc:
            if is_database_fault(exc):
                raise  # an outage: the message stays received for a later attempt
            with transaction(self.sessions) as session:
                row = session.get_one(m.InboundMessage, message_id)
                row.state = InboundState.FAILED
                row.attempts += 1
                row.outcome = "failed"
                row.outcome_detail = f"{type(exc).__name__}: {exc}"[:500]
                row.error = clean_text("".join(traceback.format_exception(exc)))[-8000:]
                row.processed_at = self.clock.now()
                return _result(row)
        # Not ours to process (done already, a duplicate, or locked by another process): say
        # what it is, from a session of its own once ours has ended. Asked inside our own
        # transaction, SQLite's BEGIN IMMEDIATE would wait on the lock this thread holds.
        return self.result_of(message_id)

    def _defer(self, message_id: int, exc: OverBudget) -> IngestResult:
        """Set aside a message that ran over its time budget (issue 12): ``deferred``.

        Its processing was rolled back (nothing applied, no notice queued), its raw bytes
        are kept, and the reason and the stages it got through go in its audit trail. The
        sweep does not take it again (it would only stall again): ``mailcapture reprocess``
        does, on an operator's word, with a larger budget if need be.
        """
        with transaction(self.sessions) as session:
            row = session.get_one(m.InboundMessage, message_id)
            row.state = InboundState.DEFERRED
            row.attempts += 1
            row.outcome = "deferred"
            row.outcome_detail = exc.reason[:500]
            now = self.clock.now()
            stopped = {"stage": "budget", "result": "deferred", "detail": exc.reason}
            stopped["at"] = now.isoformat()
            row.stages = [*(row.stages or []), {"run": row.attempts}, *exc.stages, stopped]
            row.processed_at = now
            row.error = None
            return _result(row)

    def _claim(
        self, session: Session, message_id: int, force: bool
    ) -> tuple[m.InboundMessage, MailSpec | None] | None:
        """The row to process, locked, with the mail settings read in the same statement."""
        mail = (
            select(m.ServiceSetting.value).where(m.ServiceSetting.key == "mail").scalar_subquery()
        )
        query = select(m.InboundMessage, mail).where(m.InboundMessage.id == message_id)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=m.InboundMessage)
        found = session.execute(query).first()
        if found is None:
            return None
        row, settings = found
        if row.state is InboundState.DUPLICATE:
            return None
        if row.state is not InboundState.RECEIVED and not force:
            return None
        return row, MailSpec(**settings) if settings is not None else None

    def result_of(self, message_id: int) -> IngestResult:
        with self.sessions() as session:
            row = session.get_one(m.InboundMessage, message_id)
            return IngestResult(
                row.id,
                row.duplicate_of_id is not None,
                row.state.value,
                row.outcome or "",
                row.outcome_detail,
            )

    def pending(self, limit: int = 100, *, after: int = 0) -> list[int]:
        """Stored messages not processed yet (left by a crash, an outage or a busy listener),
        in order, from the first id above ``after``: page on with the last id returned."""
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(m.InboundMessage.id)
                    .where(
                        m.InboundMessage.state == InboundState.RECEIVED,
                        m.InboundMessage.id > after,
                    )
                    .order_by(m.InboundMessage.id)
                    .limit(limit)
                )
            )

    def store_only(self, raw: bytes, envelope: Envelope) -> StoredMessage:
        """For transports that answer the sender first and process afterwards."""
        with transaction(self.sessions) as session:
            return store_raw(session, raw, envelope, self.clock.now())


def _result(row: m.InboundMessage) -> IngestResult:
    return IngestResult(row.id, False, row.state.value, row.outcome or "", row.outcome_detail)


#: The verdicts of our receiving host that hold a message: its outcome, and why in words.
_HELD_BY_AUTHENTICATION = {
    AuthVerdict.FAIL: ("dmarc-fail", "DMARC failed"),
    AuthVerdict.UNREADABLE: ("auth-unreadable", "unreadable authentication result"),
}


class _Run:
    """One message through the stages, inside one transaction."""

    #: What our receiving host said about the message (read once, before any notice).
    auth: Authentication | None = None
    #: Why the sender gets no automatic mail now (a loop, see ``mailflow.loops``), if so.
    quiet: str | None = None
    #: The message answers one of our automatic emails (threading or our quoted marker).
    answers_ours: bool = False

    def __init__(
        self,
        session: Session,
        row: m.InboundMessage,
        pipeline: Pipeline,
        now: datetime,
        mail: MailSpec | None = None,
    ) -> None:
        self.session = session
        self.row = row
        self.pipeline = pipeline
        self.now = now
        # mail_settings explains a missing mail section; the claim read it when present.
        self.mail: MailSpec = mail if mail is not None else mail_settings(session)
        self.stages: list[dict[str, Any]] = []
        settings = pipeline.settings
        self.budget = Budget(settings.budget_seconds, settings.timer, self.stages)
        row.attempts += 1

    def stage(self, name: str, result: str, detail: str | None = None) -> None:
        self.stages.append(
            {"stage": name, "result": result, "detail": detail, "at": self.now.isoformat()}
        )

    def finish(
        self, outcome: str, detail: str | None = None, state: InboundState = InboundState.PROCESSED
    ) -> None:
        self.row.state = state
        self.row.outcome = outcome
        flagged = same_message_id_note(self.row.stages)  # issue 13: shown beside any outcome
        if flagged:
            detail = f"{detail}; {flagged}" if detail else flagged
        self.row.outcome_detail = detail
        self.row.stages = (self.row.stages or []) + [{"run": self.row.attempts}, *self.stages]
        self.row.processed_at = self.now
        self.row.error = None

    # ---- stages ----------------------------------------------------------------------
    def run(self) -> None:
        raw = self.row.raw
        self.stage("store", "stored", f"{self.row.size} bytes, sha256 {self.row.sha256[:12]}")
        if self.is_own_mail(raw):
            return
        try:
            decoded = decode_message(raw, self.pipeline.settings.mime_limits)
        except (MessageTooLarge, MimeTooDeep) as exc:
            self.stage("decode", "refused", str(exc))
            self.refuse_unreadable(raw, exc)
            return
        self.row.decoded_text = clean_text(decoded.text)
        self.stage(
            "decode",
            decoded.text_source,
            "; ".join(decoded.defects)[:500] if decoded.defects else None,
        )
        self.budget.at("classify")
        if self.is_reflection(decoded):
            return
        verdict = classify(decoded, raw, self.row.envelope_from)
        self.row.classification = KIND_TO_CLASS[verdict.kind]
        self.row.classification_rule = verdict.rule[:200]
        self.stage("classify", verdict.kind.value, verdict.rule)
        self.budget.at("match")
        if not self.authenticated(decoded.headers):
            return
        if verdict.kind is Kind.BOUNCE:
            self.handle_bounce(verdict)
        elif verdict.kind is Kind.COMPLAINT:
            outcome, result, detail = record_complaint(self.session, self.mail, verdict)
            self.stage("complaint", result, detail)
            self.finish(outcome, detail)
        elif verdict.kind is Kind.AUTO_REPLY:
            self.handle_auto_reply(decoded, verdict)
        elif verdict.kind is Kind.UNKNOWN:
            self.finish("unknown", "not recognisably a reply; kept for the performance team")
        else:
            # Only lookups until the reply is applied: the row's new columns are written
            # with the first flush (the applier's), not before every query.
            with self.session.no_autoflush:
                self.handle_reply(decoded)

    def is_own_mail(self, raw: bytes) -> bool:
        """Our own mail coming back (a loop, or a forward of what we sent): drop silently."""
        head = raw.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0].lower()
        ours = {
            self.mail.performance_team.lower(),
            f"{self.mail.reply_local}@{self.mail.reply_domain}".lower(),
            parseaddr(self.mail.from_address)[1].lower(),
        }
        from_ours = self.row.sender is not None and self.row.sender in ours
        if LOOP_HEADER.lower().encode() + b":" in head or from_ours:
            self.row.classification = MessageClass.AUTO_REPLY if not from_ours else None
            self.stage(
                "classify", "own-mail", "loop header" if not from_ours else "from our own address"
            )
            self.finish("own-mail", "our own mail came back; dropped without reply")
            return True
        sent = outbox_row_with_id(self.session, self.row.message_id)
        if sent is not None:
            how = f"Message-ID of our {sent.kind} #{sent.id}"
            self.row.classification = MessageClass.AUTO_REPLY
            self.stage("classify", "own-mail", how)
            self.stage("loop", "reflected", f"{how}, our loop header stripped")
            self.finish(
                "own-mail",
                f"our own {sent.kind} came back without our loop header (a forwarder?); "
                "dropped without reply",
            )
            return True
        return False

    def is_reflection(self, decoded: DecodedMessage) -> bool:
        """Our own confirmation or notice come back with every header of ours stripped.

        A forwarder that rewrites From and drops our loop header and Auto-Submitted leaves
        the words: our marker line in the text its sender wrote (not quoted below an answer)
        is our email, and answering it would start a loop (see ``mailflow.loops``).
        """
        if not marker_in_own_text(decoded.text, first_line(self.mail.council), self.budget.check):
            return False
        how = "our automatic email's marker line, unquoted"
        self.row.classification = MessageClass.AUTO_REPLY
        self.stage("classify", "own-mail", how)
        self.stage("loop", "reflected", f"{how}: our headers stripped by a forwarder")
        self.finish(
            "own-mail",
            "our own automatic email came back with our headers stripped (a forwarder?); "
            "dropped without reply",
        )
        return True

    def authentication(self, headers: tuple[tuple[str, str], ...]) -> Authentication:
        """Our receiving host's word on this message, read once."""
        if self.auth is None:
            self.auth = read_authentication(headers, self.mail.authserv_id)
        return self.auth

    def authenticated(self, headers: tuple[tuple[str, str], ...]) -> bool:
        """False (and the message held) when our receiving host failed it or is unreadable.

        Fail closed: ``dmarc=fail`` from our own authserv-id, however the header is written,
        holds any message before anything is applied or anyone is written to; so does a
        header from our host that cannot be read, since it may say fail.
        """
        auth = self.authentication(headers)
        held = _HELD_BY_AUTHENTICATION.get(auth.verdict)
        if held is None:
            return True
        outcome, why = held
        self.stage("authenticate", "quarantined", auth.detail)
        self.finish(
            outcome,
            f"held for the performance team: {why} ({auth.detail})",
            InboundState.QUARANTINED,
        )
        return False

    def vouched(self, address: str) -> bool:
        """Did our receiving host see DMARC or SPF pass for ``address``'s domain?"""
        return self.auth is not None and self.auth.vouches_for(address)

    def check_loop(self, decoded: DecodedMessage, address: str) -> None:
        """Does this message answer our automatic mail, and may its sender have more?

        Sets :attr:`quiet` when the sender is to get no more automatic mail today; every
        finding is a ``loop`` stage, which later messages from the sender read back.
        """
        answered = answered_outbox(
            self.session, [*decoded.in_reply_to[:20], *decoded.references[-100:]]
        )
        answers_ours = answered is not None or marker_quoted(decoded.text)
        self.answers_ours = answers_ours
        if answers_ours:
            how = (
                f"In-Reply-To/References our {answered.kind} #{answered.id}"
                if answered is not None
                else "quotes our automatic email's marker line"
            )
            self.stage("loop", ANSWERS, how)
        quiet, _ = quiet_reason(
            self.session,
            self.row.sender or address,
            self.now,
            self.row.id,
            answers_ours,
            self.pipeline.settings.reply_limits,
        )
        if quiet is not None:
            self.quiet = quiet
            self.stage("loop", QUIET, quiet)

    def refuse_unreadable(self, raw: bytes, exc: ValueError) -> None:
        """Too large or nested too deep to read: kept, held, and explained only to a person.

        The body is never decoded, so the header section alone decides who wrote it
        (``classify_headers``): a robot (a DSN of 600 parts, an auto-reply nested 25 deep)
        is never answered, a message our host failed is held without a word, and a sender
        not in the register is told only as any stranger is (``replies``).
        """
        try:
            head = decode_headers(raw)
        except Exception as error:  # header decoding is total; if not, write to nobody
            self.stage("classify", "unreadable", f"headers only: {type(error).__name__}")
            self.finish(
                "too-large", f"{exc}; no notice: headers unreadable", InboundState.QUARANTINED
            )
            return
        verdict = classify_headers(head, self.row.envelope_from)
        self.row.classification = KIND_TO_CLASS[verdict.kind]
        self.row.classification_rule = verdict.rule[:200]
        self.stage("classify", verdict.kind.value, f"headers only: {verdict.rule}")
        auth = self.authentication(head.headers)
        address = (head.from_address or self.row.sender or "").lower()
        if verdict.kind is not Kind.HUMAN:
            note = f"no notice: automatic mail ({verdict.rule})"
        elif auth.verdict in (AuthVerdict.FAIL, AuthVerdict.UNREADABLE):
            self.stage("authenticate", "quarantined", auth.detail)
            note = f"no notice: {auth.detail}"
        elif not address:
            note = "no sender to tell"
        else:
            self.check_loop(head, address)
            notice = queue_rejection(
                self.session,
                self.mail,
                inbound=self.row,
                address=address,
                name="",
                reason="too_large",
                now=self.now,
                limits=self.pipeline.settings.reply_limits,
                vouched=self.vouched(address),
                quiet=self.quiet,
            )
            self.stage("reply", notice.result, notice.note)
            note = notice.note
        self.finish("too-large", f"{exc}; {note}", InboundState.QUARANTINED)

    def handle_bounce(self, verdict: Classification) -> None:
        if verdict.temporary:
            self.finish("bounce-temporary", "a delay warning: nothing to do yet")
            return
        marked = []
        for address in verdict.failed_recipients:
            # The remote server's words (issue 13), not the name of the rule that noticed.
            diagnostic = verdict.diagnostic_for(address) or "the bounce gave no reason"
            person = self.session.scalar(select(m.Person).where(m.Person.email == address))
            if person is not None and person.mail_failing_since is None:
                person.mail_failing_since = self.now
                person.mail_failure_reason = diagnostic[:500]
            affected = []
            if person is not None:
                affected = [
                    r.period.code
                    for r in self.session.scalars(
                        select(m.DataRequest).where(
                            m.DataRequest.person_id == person.id,
                            m.DataRequest.state == RequestState.OPEN,
                        )
                    )
                ]
            queue_bounce_notice(
                self.session,
                self.mail,
                address=address,
                person=person,
                diagnostic=diagnostic,
                subject=self.row.subject,
                affected=affected,
                now=self.now,
            )
            marked.append(address)
        detail = ("failed: " + ", ".join(marked)) if marked else "no failed address found"
        said = verdict.diagnostic_for(marked[0] if marked else "")
        if said:
            detail += f" (server said: {said})"
        self.stage("bounce", "recorded", detail)
        self.finish("bounce", detail + "; performance team told" if marked else detail)

    def handle_auto_reply(self, decoded: DecodedMessage, verdict: Classification) -> None:
        """An out-of-office with a return date, from someone with a delegate: pass it on."""
        person = self.sender_person(decoded)
        if person is None or verdict.return_date is None:
            self.finish("auto-reply", "no reply sent to automatic mail")
            return
        delegation = self.session.scalar(
            select(m.Delegation).where(
                m.Delegation.principal_id == person.id, m.Delegation.retired_at.is_(None)
            )
        )
        if delegation is None:
            self.finish(
                "auto-reply",
                f"{person.email} away until {verdict.return_date}; no registered delegate",
            )
            return
        delegate = self.session.get_one(m.Person, delegation.delegate_id)
        forwarded = []
        for request in self.session.scalars(
            select(m.DataRequest).where(
                m.DataRequest.person_id == person.id,
                m.DataRequest.state == RequestState.OPEN,
                m.DataRequest.due_at.isnot(None),
            )
        ):
            if request.expires_at <= self.now:
                continue
            pending = outstanding_items(self.session, request)
            if pending and queue_delegate_forward(
                self.session,
                self.mail,
                request=request,
                absent=person,
                delegate=delegate,
                away_until=f"{verdict.return_date:%-d %B %Y}",
                pending=pending,
                now=self.now,
            ):
                forwarded.append(request.period.code)
        detail = (
            f"away until {verdict.return_date}; request(s) {', '.join(forwarded)} sent "
            f"to delegate {delegate.email}"
            if forwarded
            else f"away until {verdict.return_date}; nothing outstanding to pass on"
        )
        self.stage("delegate", "forwarded" if forwarded else "nothing", detail)
        self.finish("auto-reply", detail)

    def sender_person(self, decoded: DecodedMessage) -> m.Person | None:
        address = decoded.from_address or self.row.sender
        if not address:
            return None
        return self.session.scalar(select(m.Person).where(m.Person.email == address.lower()))

    def find_request(self, decoded: DecodedMessage) -> tuple[m.DataRequest | None, str]:
        reply = ReplyAddress(self.mail.reply_local, self.mail.separator, self.mail.reply_domain)
        recipients = [
            *(self.row.envelope_to or []),
            *decoded.to,
            *decoded.cc,
            *decoded.delivered_to,
            *decoded.x_original_to,
            *decoded.envelope_to,
        ]
        # The request's items and period come in the same statement: every reply needs them.
        request_query = select(m.DataRequest).options(
            joinedload(m.DataRequest.items), joinedload(m.DataRequest.period)
        )
        for found in find_tokens(recipients, decoded.subject, reply):
            request = (
                self.session.execute(request_query.where(m.DataRequest.token == found.token))
                .unique()
                .scalar_one_or_none()
            )
            if request is not None:
                return request, f"token in {found.where}"
        ids = [f"<{i}>" for i in (*decoded.in_reply_to, *decoded.references)]
        if ids:
            request = (
                self.session.execute(request_query.where(m.DataRequest.message_id.in_(ids)))
                .unique()
                .scalars()
                .first()
            )
            if request is None:
                request = (
                    self.session.execute(
                        request_query.join(
                            m.OutboxMessage, m.OutboxMessage.request_id == m.DataRequest.id
                        ).where(m.OutboxMessage.message_id.in_(ids))
                    )
                    .unique()
                    .scalars()
                    .first()
                )
            if request is not None:
                return request, "references"
        return None, "no token, subject tag or reference matched"

    def reject(
        self,
        outcome: str,
        reason: RejectionReason,
        address: str,
        name: str,
        detail: str,
        **extra: Any,
    ) -> None:
        notice = queue_rejection(
            self.session,
            self.mail,
            inbound=self.row,
            address=address,
            name=name,
            reason=reason,
            now=self.now,
            limits=self.pipeline.settings.reply_limits,
            vouched=self.vouched(address),
            quiet=self.quiet,
            **extra,
        )
        self.stage("reply", notice.result, notice.note)
        if address_problem(address) is not None:  # no notice (queue_rejection said why)
            outcome = UNWRITABLE_SENDER
        self.finish(outcome, f"{detail}; {notice.note}")

    def handle_reply(self, decoded: DecodedMessage) -> None:
        sender_address = (decoded.from_address or self.row.sender or "").lower()
        sender = self.sender_person(decoded)
        request, how = self.find_request(decoded)
        self.stage("match", "found" if request else "none", how)
        if not sender_address:
            written = decoded.header("from")
            if written:  # a From header, but no address in it: malformed, nobody to tell
                self.stage("reply", WITHHELD, "no notice: no address in the From header")
                self.finish(
                    UNWRITABLE_SENDER,
                    f"no address we can read in the From header {written[:80]!r}: "
                    "nothing can be recorded and nobody told",
                )
                return
            self.finish("no-sender", "no From address: nothing can be recorded")
            return
        self.check_loop(decoded, sender_address)
        if sender is None or sender.retired_at is not None:
            self.reject(
                "unknown-sender",
                "unknown_sender",
                sender_address,
                "",  # a stranger's display name is their text: never repeated to anyone
                f"{sender_address} is not in the register",
            )
            return
        if request is None:
            # Not a data request: perhaps an answer to a report (sign-off, query, comment).
            if handle_report_reply(self, decoded, sender):
                return
            self.reject("no-request", "no_request", sender.email, sender.name, how)
            return
        self.row.request_id = request.id
        self.row.person_id = sender.id
        if not self.may_answer(sender, request):
            self.reject(
                "wrong-person",
                "wrong_person",
                sender.email,
                sender.name,
                f"request {request.id} belongs to {request.person.email}",
                rightful=request.person,
            )
            return
        self.stage(
            "authenticate",
            "ok",
            "addressee" if sender.id == request.person_id else "registered delegate",
        )
        if not self.authenticated(decoded.headers):
            return  # run() held it already; here too, should this be reached another way
        if self.now > request.expires_at:
            self.reject(
                "expired",
                "expired",
                sender.email,
                sender.name,
                f"token expired {request.expires_at:%Y-%m-%d}",
                period_label=parse_period(request.period.code).label,
                expired_on=request.expires_at,
            )
            return
        if sender.mail_failing_since is not None:
            sender.mail_failing_since = None  # they can clearly receive mail again
            sender.mail_failure_reason = None
        self.apply(decoded, request, sender)

    def may_answer(self, sender: m.Person, request: m.DataRequest) -> bool:
        principals = {request.person_id}
        if request.on_behalf_of_id:
            principals.add(request.on_behalf_of_id)
        if sender.id in principals:
            return True
        delegation = self.session.scalar(
            select(m.Delegation.id).where(
                m.Delegation.principal_id.in_(principals),
                m.Delegation.delegate_id == sender.id,
                m.Delegation.retired_at.is_(None),
            )
        )
        return delegation is not None

    def sent_texts(self, request: m.DataRequest) -> list[str]:
        """Everything we sent about this request: an untouched copy of any of it is no answer."""
        rows = self.session.execute(
            select(m.OutboxMessage.id, m.OutboxMessage.message_id, m.OutboxMessage.raw).where(
                or_(
                    m.OutboxMessage.request_id == request.id,
                    m.OutboxMessage.message_id == request.message_id,
                )
            )
        )
        sent = self.pipeline.sent
        return [sent.text(row_id, mid, raw) for row_id, mid, raw in rows]

    def apply(self, decoded: DecodedMessage, request: m.DataRequest, sender: m.Person) -> None:
        codes = [i.item_code for i in request.items]
        indicator_codes = list(
            self.session.scalars(
                select(m.Indicator.code).where(
                    m.Indicator.id.in_({i.indicator_id for i in request.items if i.indicator_id})
                )
            )
        )
        self.budget.at("parse")
        sent = self.sent_texts(request)
        reading = read_reply(decoded.text, sent, codes + indicator_codes, self.budget.check)
        split = split_reply(decoded.text, self.budget.check)
        self.budget.at("apply")
        self.row.answer_text = clean_text(split.new_text)
        self.stage(
            "parse",
            f"{len(reading.answers)} answer(s)",
            "; ".join([*reading.conflicts, *reading.ignored])[:1000] or None,
        )
        late = self.now > request.due_at
        who = Submitter(
            person_id=sender.id,
            on_behalf_of_id=request.person_id if sender.id != request.person_id else None,
            inbound_id=self.row.id,
            request_id=request.id,
            received_at=self.now,
            late=late,
        )
        result = Applier(self.session, request, who, self.now.astimezone(LOCAL_TZ).date()).apply(
            reading
        )
        pending = outstanding_items(self.session, request)
        if not pending and request.state is RequestState.OPEN:
            request.state = RequestState.COMPLETE
            request.completed_at = self.now
        elif pending and request.state is RequestState.COMPLETE:
            request.state = RequestState.OPEN
            request.completed_at = None
        summary = (
            f"{len(result.accepted)} accepted, {len(result.rejected)} rejected, "
            + (f"{len(result.held)} unconfirmed, " if result.held else "")
            + f"{result.comments} comment(s), {len(pending)} outstanding"
            + (", late" if late else "")
        )
        self.stage("apply", "applied" if result.accepted else "nothing stored", summary)
        notes = [*decoded.truncated, *reading.conflicts, *reading.ignored]
        if result.unchanged:
            notes.append(f"unchanged: {', '.join(result.unchanged)}")
        note = queue_confirmation(
            self.session,
            self.mail,
            inbound=self.row,
            request=request,
            sender=sender,
            result=result,
            pending=pending,
            notes=notes,
            late=late,
            now=self.now,
            limits=self.pipeline.settings.reply_limits,
            quiet=self.quiet,
            answers_ours=self.answers_ours,
        )
        self.stage("confirm", note.result, note.note)
        if result.accepted:
            outcome = "applied"
        elif result.held:
            outcome = "unconfirmed"  # stored, but waiting for the sender to confirm
        elif result.rejected:
            outcome = "rejected"
        elif result.comments or result.general_comment:
            outcome = "comment-only"
        else:
            outcome = "no-answers"
        self.finish(outcome, summary)
