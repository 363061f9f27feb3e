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
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import Clock
from mailcapture.db import models as m
from mailcapture.db.engine import is_database_fault, transaction
from mailcapture.domain.enums import InboundState
from mailcapture.logs import event
from mailcapture.mailflow.budget import OverBudget
from mailcapture.mailflow.context import Run, Settings
from mailcapture.mailflow.outcomes import OUTCOMES, Outcome
from mailcapture.mailflow.sent import SentTexts
from mailcapture.mailflow.stages import run_stages
from mailcapture.mailflow.store import Envelope, StoredMessage, store_raw
from mailcapture.parsing.mime import clean_text
from mailcapture.register.mail import capture_spec, mail_settings
from mailcapture.register.model import CaptureSpec, MailSpec

__all__ = ["IngestResult", "Pipeline", "Settings"]

log = logging.getLogger(__name__)


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
        result: IngestResult | None = None
        try:
            with transaction(self.sessions) as session:
                claimed = self._claim(session, message_id, force)
                if claimed is not None:
                    row, mail, capture = claimed
                    # mail_settings explains a missing mail section; the claim read it.
                    spec = mail if mail is not None else mail_settings(session)
                    now = self.clock.now()
                    run = Run(session, row, spec, now, self.settings, self.sent)
                    run.capture = capture
                    run_stages(run)
                    result = _result(row)
            if result is not None:
                return _logged(result)  # once committed: the outcome is the stored one
        except OverBudget as exc:
            return _logged(self._defer(message_id, exc))
        except Exception as exc:  # deliberate: the last resort for our own bugs (docstring)
            if is_database_fault(exc):
                raise  # an outage: the message stays received for a later attempt
            with transaction(self.sessions) as session:
                row = session.get_one(m.InboundMessage, message_id)
                row.state = OUTCOMES[Outcome.FAILED].state
                row.attempts += 1
                row.outcome = Outcome.FAILED.value
                row.outcome_detail = f"{type(exc).__name__}: {exc}"[:500]
                row.error = clean_text("".join(traceback.format_exception(exc)))[-8000:]
                row.processed_at = self.clock.now()
                result = _result(row)
            return _logged(result)
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
            row.state = OUTCOMES[Outcome.DEFERRED].state
            row.attempts += 1
            row.outcome = Outcome.DEFERRED.value
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
    ) -> tuple[m.InboundMessage, MailSpec | None, Callable[[], CaptureSpec]] | None:
        """The row to process, locked, with the mail and capture settings read in the same
        statement (every message needs the first; a reply with figures the second, for its
        plausibility factor, which is then not asked for again)."""
        mail, capture = (
            select(m.ServiceSetting.value).where(m.ServiceSetting.key == key).scalar_subquery()
            for key in ("mail", "capture")
        )
        query = select(m.InboundMessage, mail, capture).where(m.InboundMessage.id == message_id)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=m.InboundMessage)
        found = session.execute(query).first()
        if found is None:
            return None
        row, settings, captured = found
        if row.state is InboundState.DUPLICATE:
            return None
        if row.state is not InboundState.RECEIVED and not force:
            return None
        # Read when a figure needs it, as capture_settings would (a broken row fails the
        # reply that needs it, not every message).
        return (
            row,
            MailSpec(**settings) if settings is not None else None,
            partial(capture_spec, captured),
        )

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
