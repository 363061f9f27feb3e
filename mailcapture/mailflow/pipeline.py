"""The one inbound pipeline: ``ingest(raw, envelope)`` is the only way a message enters.

    store raw (own transaction, committed first)
      -> the stages (``mailflow.stages``, one processing transaction):
         classify -> hold -> automatic -> match -> authenticate -> parse -> apply -> confirm

Every stage appends to the message's ``stages`` list, so the audit trail shows how each
message was handled, and the run ends in an :class:`~mailcapture.mailflow.outcomes.Outcome`
(``mailflow/README.md`` has the stages and the outcome table). An exception rolls back the
processing transaction and marks the message ``failed`` with the error kept: a quarantine
the performance team can see and replay with ``mailcapture reprocess``. A database outage
is not the message's fault: the message stays ``received`` and is tried again (see
``Pipeline.process``). A message that runs over its time budget (``mailflow.budget``) is
rolled back and set aside as ``deferred``, so that the next one is processed. Nothing is
ever deleted.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Select, func, literal, select, text
from sqlalchemy.orm import Session, aliased, sessionmaker

from mailcapture.clock import Clock
from mailcapture.db import models as m
from mailcapture.db.engine import is_database_fault, transaction
from mailcapture.domain.enums import InboundState, Role
from mailcapture.errors import UserError
from mailcapture.logs import event
from mailcapture.mailflow.budget import OverBudget
from mailcapture.mailflow.context import Release, Run, Settings
from mailcapture.mailflow.outcomes import OUTCOMES, Outcome
from mailcapture.mailflow.sent import SentTexts
from mailcapture.mailflow.stages import run_stages
from mailcapture.mailflow.store import Envelope, StoredMessage, store_raw
from mailcapture.parsing.mime import clean_text
from mailcapture.register.mail import capture_spec, mail_settings
from mailcapture.register.model import CaptureSpec, MailSpec

__all__ = ["Batch", "IngestResult", "Pipeline", "ReleaseRefused", "Settings", "relax_commit"]

log = logging.getLogger(__name__)

#: The outcomes of a reply held on our receiving host's word, which the team may release.
RELEASABLE = (Outcome.DMARC_FAIL.value, Outcome.AUTH_UNREADABLE.value)


class ReleaseRefused(UserError):
    """A held reply was not released; the message is one line for the person who asked."""


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
            result = IngestResult(
                stored.id,
                True,
                InboundState.DUPLICATE.value,
                Outcome.DUPLICATE.value,
                f"same message as #{stored.duplicate_of}",
            )
            return _logged(result)
        return self.process(stored.id)

    def release(self, message_id: int, by: str, reason: str) -> IngestResult:
        """Apply a reply held on our receiving host's word, on the performance team's word.

        ``by`` must be a current member of the performance team (they have checked with the
        sender another way) and ``reason`` says how; both go in the message's audit trail.
        The reply then goes through every stage as it would have: the sender must still be
        the person asked (or their delegate), in time, and each answer is checked. Only a
        message held for DMARC or an unreadable authentication result can be released.
        Raises :class:`ReleaseRefused` with a one-line reason otherwise.
        """
        reason = " ".join(reason.split())
        if not reason:
            raise ReleaseRefused("say why it may be released (--reason), for the audit trail")
        with self.sessions() as session:
            row = session.get(m.InboundMessage, message_id)
            if row is None:
                raise ReleaseRefused(f"no inbound message #{message_id}")
            if row.state is not InboundState.QUARANTINED or row.outcome not in RELEASABLE:
                held = row.outcome or row.state.value
                raise ReleaseRefused(
                    f"#{message_id} is not a reply held for its authentication ({held}): "
                    "only those can be released"
                )
            person = session.scalar(
                select(m.Person).where(func.lower(m.Person.email) == by.strip().casefold())
            )
            if person is None or person.retired_at is not None:
                raise ReleaseRefused(f"{by} is not a person in the register")
            if Role.PERFORMANCE_TEAM not in person.role_set:
                raise ReleaseRefused(
                    f"refused: only the performance team may release a held reply; "
                    f"{person.email} is not in it"
                )
            released_by = person.email
        return self.process(message_id, force=True, release=Release(released_by, reason))

    def process(
        self, message_id: int, *, force: bool = False, release: Release | None = None
    ) -> IngestResult:
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
        result: IngestResult | None = None
        try:
            with transaction(self.sessions) as session:
                claimed = self._claim(session, message_id, force)
                if claimed is not None:
                    # mail_settings explains a missing mail section; the claim read it.
                    mail = claimed.mail if claimed.mail is not None else mail_settings(session)
                    run = Run(
                        session, claimed.row, mail, self.clock.now(), self.settings, self.sent
                    )
                    run.capture = claimed.capture
                    run.ours = claimed.ours
                    run.release = release
                    run_stages(run)
                    result = _result(claimed.row)
            if result is not None:
                return _logged(result)  # once committed: the outcome is the stored one
        except Exception as exc:  # deliberate: the last resort for our own bugs (docstring)
            if is_database_fault(exc):
                raise  # an outage: the message stays received for a later attempt
            with transaction(self.sessions) as session:
                row = session.get_one(m.InboundMessage, message_id)
                result = _set_aside(row, exc, self.clock.now())
            return _logged(result)
        # Not ours to process (done already, a duplicate, or locked by another process): say
        # what it is, from a session of its own once ours has ended. Asked inside our own
        # transaction, SQLite's BEGIN IMMEDIATE would wait on the lock this thread holds.
        return self.result_of(message_id)

    def _claim(self, session: Session, message_id: int, force: bool) -> Claimed | None:
        """The row to process, locked, with the mail and capture settings read in the same
        statement (every message needs the first; a reply with figures the second, for its
        plausibility factor, which is then not asked for again)."""
        query = _claim_query(session).where(m.InboundMessage.id == message_id)
        found = session.execute(query).first()
        if found is None:
            return None
        claimed = Claimed.of(found)
        if claimed.row.state is InboundState.DUPLICATE:
            return None
        if claimed.row.state is not InboundState.RECEIVED and not force:
            return None
        return claimed

    def process_batch(self, message_ids: Sequence[int]) -> Batch:
        """Process up to ``len(message_ids)`` stored messages in one transaction (issue 14).

        The messages still ``received`` are claimed with one statement (``FOR UPDATE SKIP
        LOCKED`` on PostgreSQL, so several workers and ``serve`` processes share the queue
        without taking one message twice), in the order they were stored, and each runs its
        stages inside a savepoint: a message that raises is rolled back alone and marked
        ``failed`` (or ``deferred``, over its time budget) with its error kept, in the same
        transaction, and the others' work stands. One commit for the lot.

        A message is not taken while an earlier message from the same sender is still
        ``received`` (``Batch.waiting``), even one in this batch: another worker may have it in
        hand, and a person's correction must be applied after the figure it corrects, however
        many workers there are. The worker queues the waiting one again; a person's second
        reply in a burst simply goes in the next batch. Ids another process holds, or that
        are done already, are in ``Batch.skipped``.

        A database fault is raised as in :meth:`process`: the whole batch is rolled back and
        every message stays ``received`` for another try.
        """
        wanted = sorted(set(message_ids))
        results: list[IngestResult] = []
        with transaction(self.sessions) as session:
            relax_commit(session)
            earlier = aliased(m.InboundMessage)
            waits = (
                select(earlier.id)
                .where(
                    earlier.sender == m.InboundMessage.sender,
                    earlier.id < m.InboundMessage.id,
                    # Even one in this batch: it may be in the batch but locked by another
                    # worker (then skipped here), and a claim cannot tell (issue 14: seen
                    # under load with two processes sharing the queue's ids through the sweep).
                    earlier.state == InboundState.RECEIVED,
                )
                .exists()
            )
            query = (
                _claim_query(session, waits.label("waits"))
                .where(
                    m.InboundMessage.id.in_(wanted),
                    m.InboundMessage.state == InboundState.RECEIVED,
                )
                .order_by(m.InboundMessage.id)
            )
            found = [tuple(f) for f in session.execute(query)]
            waiting = [f[0].id for f in found if f[WAITS]]
            for claimed in (Claimed.of(f) for f in found if not f[WAITS]):
                results.append(self._one_of_batch(session, claimed))
        taken = {r.id for r in results}
        for result in results:
            _logged(result)
        return Batch(
            results=results,
            waiting=waiting,
            skipped=[i for i in wanted if i not in taken and i not in waiting],
        )

    def _one_of_batch(self, session: Session, claimed: Claimed) -> IngestResult:
        """One message of a batch, in a savepoint of its own (see :meth:`process_batch`)."""
        row = claimed.row
        try:
            with session.begin_nested():
                spec = claimed.mail if claimed.mail is not None else mail_settings(session)
                run = Run(session, row, spec, self.clock.now(), self.settings, self.sent)
                run.capture = claimed.capture
                run.ours = claimed.ours
                run_stages(run)
        except Exception as exc:  # deliberate: the last resort for our own bugs (process)
            if is_database_fault(exc):
                raise
            return _set_aside(row, exc, self.clock.now())
        return _result(row)

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


@dataclass(frozen=True)
class Claimed:
    """A message claimed for processing, with the settings read in the same statement."""

    row: m.InboundMessage
    mail: MailSpec | None
    capture: Callable[[], CaptureSpec]
    #: The id of our outbox row with the message's own Message-ID (our own mail come back),
    #: or None when there is none.
    ours: int | None

    @classmethod
    def of(cls, found: Sequence[Any]) -> Claimed:
        row, settings, captured, ours = found[0], found[1], found[2], found[3]
        # The capture settings are read when a figure needs them, as capture_settings would
        # (a broken row fails the reply that needs it, not every message).
        return cls(
            row,
            MailSpec(**settings) if settings is not None else None,
            partial(capture_spec, captured),
            ours,
        )


@dataclass(frozen=True)
class Batch:
    """What :meth:`Pipeline.process_batch` did with the ids it was given."""

    #: The messages it processed, in order (processed, quarantined, failed or deferred).
    results: list[IngestResult] = field(default_factory=list)
    #: Left ``received``: an earlier message from the same sender is still waiting.
    waiting: list[int] = field(default_factory=list)
    #: Not ours: processed already, a duplicate, or in another process's hands.
    skipped: list[int] = field(default_factory=list)


#: The claim's columns before the ``extra`` ones: the row, the mail and capture settings,
#: our outbox row with its Message-ID; ``process_batch``'s ``waits`` comes next.
WAITS = 4


def _claim_query(session: Session, *extra: Any) -> Select[Any]:
    """Inbound rows with the mail and capture settings, locked where the database can,
    and the id of our outbox row with the message's own Message-ID (classify's own-mail
    check: every message needs it, and it is nearly always none)."""
    mail, capture = (
        select(m.ServiceSetting.value).where(m.ServiceSetting.key == key).scalar_subquery()
        for key in ("mail", "capture")
    )
    ours = (
        select(m.OutboxMessage.id)
        .where(m.OutboxMessage.message_id == literal("<") + m.InboundMessage.message_id + ">")
        .order_by(m.OutboxMessage.id)
        .limit(1)
        .correlate(m.InboundMessage)
        .scalar_subquery()
    )
    query = select(m.InboundMessage, mail, capture, ours, *extra)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=m.InboundMessage)
    return query


def relax_commit(session: Session) -> None:
    """On PostgreSQL, let this transaction's commit return before its WAL reaches the disk.

    Safe here because processing is redoable: the raw message was committed durably
    (``store_raw``'s own transaction, before anyone was told 250), so a crash in the short
    window after this commit (at most three times ``wal_writer_delay``) loses only the
    processing, never a message, and the rolled-back row is ``received`` again, so the
    sweep processes it once more. No confirmation can have gone out for lost work: the
    outbox row is written in the same transaction. The setting is ``LOCAL``: it ends with
    the transaction, and nothing else of ours is relaxed.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))


def _set_aside(row: m.InboundMessage, exc: Exception, now: datetime) -> IngestResult:
    """Mark a message whose processing raised (and was rolled back): ``deferred`` when it ran
    over its time budget, ``failed`` for any other error of ours.

    A deferred message (issue 12) keeps its raw bytes, and the reason and the stages it got
    through go in its audit trail; the sweep does not take it again (it would only stall
    again): ``mailcapture reprocess`` does, on an operator's word, with a larger budget if
    need be. A failed one keeps the error and its traceback for whoever fixes the bug.
    """
    row.attempts += 1
    row.processed_at = now
    if isinstance(exc, OverBudget):
        row.state = OUTCOMES[Outcome.DEFERRED].state
        row.outcome = Outcome.DEFERRED.value
        row.outcome_detail = exc.reason[:500]
        stopped = {"stage": "budget", "result": "deferred", "detail": exc.reason}
        stopped["at"] = now.isoformat()
        row.stages = [*(row.stages or []), {"run": row.attempts}, *exc.stages, stopped]
        row.error = None
    else:
        row.state = OUTCOMES[Outcome.FAILED].state
        row.outcome = Outcome.FAILED.value
        row.outcome_detail = f"{type(exc).__name__}: {exc}"[:500]
        row.error = clean_text("".join(traceback.format_exception(exc)))[-8000:]
    return _result(row)


def _result(row: m.InboundMessage) -> IngestResult:
    return IngestResult(row.id, False, row.state.value, row.outcome or "", row.outcome_detail)


def _logged(result: IngestResult) -> IngestResult:
    """Log one line for a message this pipeline handled, at its outcome's level (the outcome
    table's: info, warning for a message held or set aside, error for our own fault)."""
    known = result.outcome in OUTCOMES
    level = OUTCOMES[Outcome(result.outcome)].level if known else logging.INFO
    event(
        log,
        "message.outcome",
        level,
        id=result.id,
        state=result.state,
        outcome=result.outcome,
        detail=result.detail,
    )
    return result
