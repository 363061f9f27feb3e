"""The pipeline's stages, in order: each small, with one job, over one :class:`Run`.

:data:`STAGES` is the list (the shape of ``parsing.classify``'s tuple of named rules): each
stage reads the run, writes what it found into it and its audit trail, and may end the run
(:meth:`Run.finish`, :meth:`Run.reject`) with an :class:`Outcome`; :func:`run_stages` stops
at the first that does. The raw message was stored before any of them (``store.store_raw``,
its own transaction); these run in the processing transaction.

A data reply and an answer to a report share ``match`` and ``authenticate``; ``parse``,
``apply`` and ``confirm`` hand over to what ``match`` found
(:class:`~mailcapture.mailflow.data_replies.DataReply`,
:class:`~mailcapture.mailflow.report_replies.ReportReply`). See ``mailflow/README.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from email.utils import parseaddr
from typing import NamedTuple

from sqlalchemy import select

from mailcapture.compose.message import LOOP_HEADER
from mailcapture.db import models as m
from mailcapture.domain.enums import MessageClass, RequestState
from mailcapture.errors import SystemFault
from mailcapture.mailflow.apply import outstanding_items
from mailcapture.mailflow.complaints import record_complaint
from mailcapture.mailflow.context import UNKNOWN, Run
from mailcapture.mailflow.data_replies import DataReply, find_request
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
from mailcapture.mailflow.outcomes import OUTCOMES, Outcome
from mailcapture.mailflow.replies import (
    WITHHELD,
    queue_bounce_notice,
    queue_delegate_forward,
    queue_quarantine_notice,
    queue_rejection,
)
from mailcapture.mailflow.report_replies import ReportReply, find_report_run
from mailcapture.mailflow.value_choices import VALUE_CHOICE, ValueChoiceReply
from mailcapture.parsing.addressing import AuthVerdict
from mailcapture.parsing.classify import (
    Classification,
    Kind,
    classify_headers,
    decode_headers,
)
from mailcapture.parsing.classify import classify as classify_message
from mailcapture.parsing.mime import (
    DecodedMessage,
    MessageTooLarge,
    MimeTooDeep,
    clean_text,
    decode_message,
)

__all__ = ["STAGES", "Stage", "run_stages"]

KIND_TO_CLASS = {
    Kind.HUMAN: MessageClass.HUMAN,
    Kind.AUTO_REPLY: MessageClass.AUTO_REPLY,
    Kind.BOUNCE: MessageClass.BOUNCE,
    # A complaint is automated mail; its rule (``arf:abuse``, ...) and outcome say which.
    Kind.COMPLAINT: MessageClass.AUTO_REPLY,
    Kind.UNKNOWN: MessageClass.UNKNOWN,
}

#: The verdicts of our receiving host that hold a message: its outcome, and why in words.
HELD_BY_AUTHENTICATION = {
    AuthVerdict.FAIL: (Outcome.DMARC_FAIL, "DMARC failed"),
    AuthVerdict.UNREADABLE: (Outcome.AUTH_UNREADABLE, "unreadable authentication result"),
}


class Stage(NamedTuple):
    """One named step. ``autoflush``: False for the reply stages, which only look things up
    until the reply is applied, so the row's new columns are written with the first flush
    (the applier's), not before every query."""

    name: str
    run: Callable[[Run], None]
    autoflush: bool = True


# --------------------------------------------------------------------------- classify


def classify(run: Run) -> None:
    """Our own mail dropped; the message decoded (or held, too large to); its kind."""
    raw = run.row.raw
    run.stage("store", "stored", f"{run.row.size} bytes, sha256 {run.row.sha256[:12]}")
    if _own_mail(run, raw):
        return
    try:
        decoded = decode_message(raw, run.settings.mime_limits)
    except (MessageTooLarge, MimeTooDeep) as exc:
        run.stage("decode", "refused", str(exc))
        _refuse_unreadable(run, raw, exc)
        return
    run.decoded = decoded
    run.row.decoded_text = clean_text(decoded.text)
    run.stage(
        "decode",
        decoded.text_source,
        "; ".join(decoded.defects)[:500] if decoded.defects else None,
    )
    run.budget.at("classify")
    if _reflection(run, decoded):
        return
    verdict = classify_message(decoded, raw, run.row.envelope_from)
    run.verdict = verdict
    run.row.classification = KIND_TO_CLASS[verdict.kind]
    run.row.classification_rule = clean_text(verdict.rule)[:200]
    run.stage("classify", verdict.kind.value, verdict.rule)
    run.budget.at("match")


def _own_mail(run: Run, raw: bytes) -> bool:
    """Our own mail coming back (a loop, or a forward of what we sent): drop silently."""
    head = raw.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0].lower()
    mail = run.mail
    ours = {
        mail.performance_team.lower(),
        f"{mail.reply_local}@{mail.reply_domain}".lower(),
        parseaddr(mail.from_address)[1].lower(),
    }
    from_ours = run.row.sender is not None and run.row.sender in ours
    if LOOP_HEADER.lower().encode() + b":" in head or from_ours:
        run.row.classification = MessageClass.AUTO_REPLY if not from_ours else None
        run.stage(
            "classify", "own-mail", "loop header" if not from_ours else "from our own address"
        )
        run.finish(Outcome.OWN_MAIL, "our own mail came back; dropped without reply")
        return True
    # The claim looked for our row with the message's Message-ID already (nearly always
    # none): asked again only for a run that was not claimed so, or to read the row found.
    if run.ours is UNKNOWN:
        sent = outbox_row_with_id(run.session, run.row.message_id)
    else:
        sent = run.session.get(m.OutboxMessage, run.ours) if run.ours is not None else None
    if sent is not None:
        how = f"Message-ID of our {sent.kind} #{sent.id}"
        run.row.classification = MessageClass.AUTO_REPLY
        run.stage("classify", "own-mail", how)
        run.stage("loop", "reflected", f"{how}, our loop header stripped")
        run.finish(
            Outcome.OWN_MAIL,
            f"our own {sent.kind} came back without our loop header (a forwarder?); "
            "dropped without reply",
        )
        return True
    return False


def _reflection(run: Run, decoded: DecodedMessage) -> bool:
    """Our own confirmation or notice come back with every header of ours stripped.

    A forwarder that rewrites From and drops our loop header and Auto-Submitted leaves
    the words: our marker line in the text its sender wrote (not quoted below an answer)
    is our email, and answering it would start a loop (see ``mailflow.loops``).
    """
    if not marker_in_own_text(decoded.text, first_line(run.mail.council), run.budget.check):
        return False
    how = "our automatic email's marker line, unquoted"
    run.row.classification = MessageClass.AUTO_REPLY
    run.stage("classify", "own-mail", how)
    run.stage("loop", "reflected", f"{how}: our headers stripped by a forwarder")
    run.finish(
        Outcome.OWN_MAIL,
        "our own automatic email came back with our headers stripped (a forwarder?); "
        "dropped without reply",
    )
    return True


def _refuse_unreadable(run: Run, raw: bytes, exc: ValueError) -> None:
    """Too large or nested too deep to read: kept, held, and explained only to a person.

    The body is never decoded, so the header section alone decides who wrote it
    (``classify_headers``): a robot (a DSN of 600 parts, an auto-reply nested 25 deep)
    is never answered, a message our host failed is held without a word, and a sender
    not in the register is told only as any stranger is (``replies``).
    """
    try:
        head = decode_headers(raw)
    except Exception as error:  # deliberate: header decoding is total; if not, tell nobody
        run.stage("classify", "unreadable", f"headers only: {type(error).__name__}")
        run.finish(Outcome.TOO_LARGE, f"{exc}; no notice: headers unreadable")
        return
    verdict = classify_headers(head, run.row.envelope_from)
    run.row.classification = KIND_TO_CLASS[verdict.kind]
    run.row.classification_rule = clean_text(verdict.rule)[:200]
    run.stage("classify", verdict.kind.value, f"headers only: {verdict.rule}")
    auth = run.authentication(head.headers)
    address = (head.from_address or run.row.sender or "").lower()
    reason = OUTCOMES[Outcome.TOO_LARGE].reason
    if verdict.kind is not Kind.HUMAN:
        note = f"no notice: automatic mail ({verdict.rule})"
    elif auth.verdict in HELD_BY_AUTHENTICATION:
        run.stage("authenticate", "quarantined", auth.detail)
        note = f"no notice: {auth.detail}"
    elif not address or reason is None:
        note = "no sender to tell"
    else:
        _check_loop(run, head, address, None)
        notice = queue_rejection(
            run.session,
            run.mail,
            inbound=run.row,
            address=address,
            name="",
            reason=reason,
            now=run.now,
            limits=run.settings.reply_limits,
            vouched=run.vouched(address),
            quiet=run.quiet,
        )
        run.stage("reply", notice.result, notice.note)
        note = notice.note
    run.finish(Outcome.TOO_LARGE, f"{exc}; {note}")


# --------------------------------------------------------------------------- hold


def hold(run: Run) -> None:
    """Fail closed on our receiving host's word, for every kind of message.

    ``dmarc=fail`` from our own authserv-id, however the header is written, holds the
    message before anything is applied or anyone is written to; so does a header from our
    host that cannot be read, since it may say fail.
    """
    auth = run.authentication(run.message.headers)
    held = HELD_BY_AUTHENTICATION.get(auth.verdict)
    if held is None:
        return
    outcome, why = held
    if run.release is not None:  # the performance team's word, recorded (Pipeline.release)
        if any(entry.get("stage") == "release" for entry in run.stages):
            return  # recorded by the hold stage; authenticate checks again
        run.stage(
            "release",
            "released",
            f"by {run.release.by}: {run.release.reason} (held because {why}: {auth.detail})",
        )
        return
    run.stage("authenticate", "quarantined", auth.detail)
    told = ""
    if run.verdict is not None and run.verdict.kind is Kind.HUMAN:
        notice = queue_quarantine_notice(
            run.session,
            run.mail,
            inbound=run.row,
            decoded=run.message,
            sender_name=run.message.from_name,
            why=why,
            now=run.now,
            limits=run.settings.reply_limits,
        )
        run.stage("team", notice.result, notice.note)
        told = f"; {notice.note}"
    run.finish(outcome, f"held for the performance team: {why} ({auth.detail}){told}")


# --------------------------------------------------------------------------- automatic mail


def automatic(run: Run) -> None:
    """Bounces, complaints, auto-replies and the unrecognisable: recorded, never answered."""
    assert run.verdict is not None, "automatic before classify"
    verdict = run.verdict
    if verdict.kind is Kind.BOUNCE:
        _bounce(run, verdict)
    elif verdict.kind is Kind.COMPLAINT:
        outcome, result, detail = record_complaint(run.session, run.mail, verdict)
        run.stage("complaint", result, detail)
        run.finish(outcome, detail)
    elif verdict.kind is Kind.AUTO_REPLY:
        _auto_reply(run, verdict)
    elif verdict.kind is Kind.UNKNOWN:
        run.finish(Outcome.UNKNOWN, "not recognisably a reply; kept for the performance team")


def _bounce(run: Run, verdict: Classification) -> None:
    if verdict.temporary:
        run.finish(Outcome.BOUNCE_TEMPORARY, "a delay warning: nothing to do yet")
        return
    session = run.session
    marked = []
    for address in verdict.failed_recipients:
        # The remote server's words (issue 13), not the name of the rule that noticed.
        diagnostic = verdict.diagnostic_for(address) or "the bounce gave no reason"
        person = session.scalar(select(m.Person).where(m.Person.email == address))
        if person is not None and person.mail_failing_since is None:
            person.mail_failing_since = run.now
            person.mail_failure_reason = diagnostic[:500]
        affected = []
        if person is not None:
            affected = [
                r.period.code
                for r in session.scalars(
                    select(m.DataRequest).where(
                        m.DataRequest.person_id == person.id,
                        m.DataRequest.state == RequestState.OPEN,
                    )
                )
            ]
        queue_bounce_notice(
            session,
            run.mail,
            address=address,
            person=person,
            diagnostic=diagnostic,
            subject=run.row.subject,
            affected=affected,
            now=run.now,
            since=person.mail_failing_since if person is not None else None,
        )
        marked.append(address)
    detail = ("failed: " + ", ".join(marked)) if marked else "no failed address found"
    said = verdict.diagnostic_for(marked[0] if marked else "")
    if said:
        detail += f" (server said: {said})"
    run.stage("bounce", "recorded", detail)
    run.finish(Outcome.BOUNCE, detail + "; performance team told" if marked else detail)


def _auto_reply(run: Run, verdict: Classification) -> None:
    """An out-of-office with a return date, from someone with a delegate: pass it on."""
    session = run.session
    person = _sender_person(run, run.message, None)
    if person is None or verdict.return_date is None:
        run.finish(Outcome.AUTO_REPLY, "no reply sent to automatic mail")
        return
    delegation = session.scalar(
        select(m.Delegation).where(
            m.Delegation.principal_id == person.id, m.Delegation.retired_at.is_(None)
        )
    )
    if delegation is None:
        run.finish(
            Outcome.AUTO_REPLY,
            f"{person.email} away until {verdict.return_date}; no registered delegate",
        )
        return
    delegate = session.get_one(m.Person, delegation.delegate_id)
    forwarded = []
    for request in session.scalars(
        select(m.DataRequest).where(
            m.DataRequest.person_id == person.id,
            m.DataRequest.state == RequestState.OPEN,
            m.DataRequest.due_at.isnot(None),
        )
    ):
        if request.expires_at <= run.now:
            continue
        pending = outstanding_items(session, request)
        if pending and queue_delegate_forward(
            session,
            run.mail,
            request=request,
            absent=person,
            delegate=delegate,
            away_until=f"{verdict.return_date:%-d %B %Y}",
            pending=pending,
            now=run.now,
        ):
            forwarded.append(request.period.code)
    detail = (
        f"away until {verdict.return_date}; request(s) {', '.join(forwarded)} sent "
        f"to delegate {delegate.email}"
        if forwarded
        else f"away until {verdict.return_date}; nothing outstanding to pass on"
    )
    run.stage("delegate", "forwarded" if forwarded else "nothing", detail)
    run.finish(Outcome.AUTO_REPLY, detail)


# --------------------------------------------------------------------------- match


def match(run: Run) -> None:
    """The sender and what they answer: a data request, else a report run.

    A message with no sender address, or from someone not in the register, or answering
    nothing we sent, ends here (told why when we may write to them). Whether it answers our
    automatic mail is decided here too, before anyone is written to (``mailflow.loops``).
    """
    decoded = run.message
    sender_address = (decoded.from_address or run.row.sender or "").lower()
    found, how = find_request(run, decoded)
    request = found.request if found is not None else None
    sender = _sender_person(run, decoded, request)
    run.stage("match", "found" if request else "none", how)
    if not sender_address:
        written = decoded.header("from")
        if written:  # a From header, but no address in it: malformed, nobody to tell
            run.stage("reply", WITHHELD, "no notice: no address in the From header")
            run.finish(
                Outcome.UNWRITABLE_SENDER,
                f"no address we can read in the From header {written[:80]!r}: "
                "nothing can be recorded and nobody told",
            )
            return
        run.finish(Outcome.NO_SENDER, "no From address: nothing can be recorded")
        return
    sent = _check_loop(run, decoded, sender_address, request)
    if sender is None or sender.retired_at is not None:
        run.reject(
            Outcome.UNKNOWN_SENDER,
            sender_address,
            "",  # a stranger's display name is their text: never repeated to anyone
            f"{sender_address} is not in the register",
        )
        return
    run.sender = sender
    if request is not None:
        run.row.request_id = request.id
        run.row.person_id = sender.id
        run.answering = DataReply(request, sent, found.preloaded if found else None)
        return
    # Not a data request: perhaps an answer to a report (sign-off, query, comment).
    report_run, report_how = find_report_run(run, decoded)
    if report_run is None:
        run.reject(Outcome.NO_REQUEST, sender.email, sender.name, how)
        return
    run.stage("match", "report", f"{report_how}: report run {report_run.id} ({report_run.key})")
    run.row.report_run_id = report_run.id
    run.row.person_id = sender.id
    if report_run.report_kind == VALUE_CHOICE:  # the owner's choice between figures
        run.answering = ValueChoiceReply(run.session, report_run)
        return
    run.answering = ReportReply(run.session, report_run)


def _sender_person(
    run: Run, decoded: DecodedMessage, request: m.DataRequest | None
) -> m.Person | None:
    """The register's person with the sender's address: the request's addressee (read
    with the request) when it is them, as it nearly always is; else looked up."""
    address = decoded.from_address or run.row.sender
    if not address:
        return None
    if request is not None and request.person.email == address.lower():
        return request.person
    return run.session.scalar(select(m.Person).where(m.Person.email == address.lower()))


def _check_loop(
    run: Run, decoded: DecodedMessage, address: str, request: m.DataRequest | None
) -> list[m.OutboxMessage] | None:
    """Does this message answer our automatic mail, and may its sender have more?

    Sets :attr:`Run.quiet` when the sender is to get no more automatic mail today; every
    finding is a ``loop`` stage, which later messages from the sender read back. Returns
    what we sent about ``request`` (read in the same statement, for its parse), if any.
    """
    answered, sent = answered_outbox(
        run.session, [*decoded.in_reply_to[:20], *decoded.references[-100:]], request
    )
    answers_ours = answered is not None or marker_quoted(decoded.text)
    run.answers_ours = answers_ours
    if answers_ours:
        how = (
            f"In-Reply-To/References our {answered.kind} #{answered.id}"
            if answered is not None
            else "quotes our automatic email's marker line"
        )
        run.stage("loop", ANSWERS, how)
    watched = run.row.sender or address
    quiet, _, recent = quiet_reason(
        run.session, watched, run.now, run.row.id, answers_ours, run.settings.reply_limits
    )
    run.sent_last_hour = (watched, recent.automatic_last_hour)
    if quiet is not None:
        run.quiet = quiet
        run.stage("loop", QUIET, quiet)
    return sent


# --------------------------------------------------------------------------- authenticate


def authenticate(run: Run) -> None:
    """Only the addressee or their registered delegate may answer, and only in time."""
    answer, sender = run.answer, run.person
    addressee = answer.addressee
    if not answer.may_answer(run.session, sender):
        run.reject(
            Outcome.WRONG_PERSON,
            sender.email,
            sender.name,
            f"{answer.described} belongs to {addressee.email}",
            rightful=addressee,
        )
        return
    run.stage(
        "authenticate", "ok", "addressee" if sender.id == addressee.id else "registered delegate"
    )
    hold(run)  # the hold stage held it already; a value or a sign-off must never pass it
    if run.outcome is not None:
        return
    expires = answer.expires_at
    if expires is not None and run.now > expires:
        run.reject(
            Outcome.EXPIRED,
            sender.email,
            sender.name,
            f"{answer.expiring} expired {expires:%Y-%m-%d}",
            period_label=answer.period_label(),
            expired_on=expires,
        )
        return
    if sender.mail_failing_since is not None:
        sender.mail_failing_since = None  # they can clearly receive mail again
        sender.mail_failure_reason = None


# --------------------------------------------------------------------------- the rest


def parse(run: Run) -> None:
    """Read the answers (pure parsing, against what we sent, under the time budget)."""
    run.answer.parse(run)


def apply(run: Run) -> None:
    """Check each answer and record those that hold (validation included, see README)."""
    run.answer.apply(run)


def confirm(run: Run) -> None:
    """Tell the sender what was recorded (within the limits) and end the run."""
    run.answer.confirm(run)


#: The stages after the raw store, in order; the first to end the run stops it.
STAGES: tuple[Stage, ...] = (
    Stage("classify", classify),
    Stage("hold", hold),
    Stage("automatic", automatic),
    Stage("match", match, autoflush=False),
    Stage("authenticate", authenticate, autoflush=False),
    Stage("parse", parse, autoflush=False),
    Stage("apply", apply, autoflush=False),
    Stage("confirm", confirm, autoflush=False),
)


def run_stages(run: Run, stages: tuple[Stage, ...] = STAGES) -> None:
    """Run ``stages`` in order until one ends the run; every run must end in an outcome."""
    for stage in stages:
        if stage.autoflush:
            stage.run(run)
        else:
            with run.session.no_autoflush:
                stage.run(run)
        if run.outcome is not None:
            return
    raise SystemFault(f"no stage ended message #{run.row.id}: a stage is missing its outcome")
