"""``mailcapture serve``: everything in one process, each part on its own thread.

* the SMTP/LMTP listener (aiosmtpd's own thread and event loop) stores each message
  and answers 250 only once it is committed; processing follows on the worker thread;
* the IMAP poller (a thread) stores each message, then moves it to the processed folder;
* processing workers (``MAILCAPTURE_WORKERS``, one by default) run the pipeline for stored
  messages in batches (``MAILCAPTURE_BATCH``), in order;
* the timetable tick, the outbox sender and a sweep that picks up any message stored but
  not yet processed (after a crash, an outage, or by another process) run every so often;
* a heartbeat rewrites the workers' status file for ``mailcapture health``.

Every worker runs under a :class:`~mailcapture.service.supervisor.Supervisor`: an exception
is logged and backed off (1 s doubling to 60 s), then the worker resumes; no worker thread
ends before the service stops. When the database goes away, the message in hand stays
``received`` and in hand: the processing worker backs off and tries the same message again
(so replies are still applied in the order they came), and the sweep finds anything else.
The workers' state is published in a file (:mod:`mailcapture.service.status`) that
``mailcapture health`` reads from its own process.

Several processes may share one PostgreSQL database: the tick is idempotent, outbox
rows are claimed with SKIP LOCKED, and a message is processed by whoever locks it first.
SIGTERM (or SIGINT) stops the intake first, then finishes the message in hand.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine

from mailcapture.db.engine import database_answers, is_database_fault, transaction
from mailcapture.errors import UserError
from mailcapture.logs import event, event_fields
from mailcapture.mailflow.pipeline import Pipeline
from mailcapture.mailflow.store import Envelope
from mailcapture.outbox.service import send_due
from mailcapture.outbox.worker import DeliveryLedger
from mailcapture.register.mail import mail_settings
from mailcapture.runtime import Runtime
from mailcapture.schedule.tick import tick
from mailcapture.service.config import ServiceConfig, state_dir
from mailcapture.service.status import HEARTBEAT_SECONDS, StatusFile
from mailcapture.service.supervisor import (
    BACKING_OFF,
    RUNNING,
    Supervisor,
    WorkerStatus,
    reason,
)
from mailcapture.transport.imap import ImapPoller
from mailcapture.transport.imap import _default_log as log_imap_event
from mailcapture.transport.listener import ListenerConfig, start_listener

log = logging.getLogger(__name__)

#: Ids the sweep reads at a time; it pages on until none is left.
SWEEP_PAGE = 500
#: Database faults in a row on one message, with the database answering, before the
#: processing worker sets it aside (it stays received; the sweep offers it again).
SET_ASIDE_AFTER = 5


class StateDirError(UserError):
    """The status file cannot be written: refuse to start rather than run unobserved."""


class WorkQueue:
    """Message ids for the processing worker, in order, each at most once.

    An id stays known from :meth:`put` until :meth:`done`, through the time the worker has
    it in hand, so the listener and the sweep (or two sweeps) never queue one message
    twice. :meth:`close` wakes the worker to stop; what is left stays ``received`` in the
    database for the next start's sweep.
    """

    def __init__(self) -> None:
        self._ids: deque[int] = deque()
        self._known: set[int] = set()
        self._closed = False
        self._ready = threading.Condition()

    def put(self, message_id: int) -> bool:
        """Queue ``message_id`` unless it is queued or in hand already; True if queued."""
        with self._ready:
            if self._closed or message_id in self._known:
                return False
            self._known.add(message_id)
            self._ids.append(message_id)
            self._ready.notify()
            return True

    def get(self, most: int = 1) -> list[int]:
        """Up to ``most`` ids, waiting for the first (each stays known until :meth:`done`);
        an empty list once closed."""
        with self._ready:
            while not self._ids and not self._closed:
                self._ready.wait()
            if self._closed:
                return []
            return [self._ids.popleft() for _ in range(min(most, len(self._ids)))]

    def done(self, message_id: int) -> None:
        with self._ready:
            self._known.discard(message_id)

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()

    def __len__(self) -> int:
        with self._ready:
            return len(self._ids)


class Service:
    """The parts of ``serve`` wired together; :meth:`start`, then :meth:`stop`."""

    def __init__(self, runtime: Runtime, config: ServiceConfig) -> None:
        self.runtime = runtime
        self.config = config
        self.pipeline = Pipeline(runtime.sessions, runtime.clock)
        self.stop_event = threading.Event()
        self.work = WorkQueue()
        self.processing: list[ProcessingWorker] = []
        self.controller: Any = None
        self.sender = runtime.sender()
        self.send_lock = threading.Lock()
        self.ledger = DeliveryLedger()
        # MAILCAPTURE_STATE_DIR, else beside the mail folder (as health finds it).
        self.status = StatusFile(config.state_dir or state_dir({}, runtime.settings.mail_dir))
        self.supervisors: dict[str, Supervisor] = {}
        self.poller: ImapPoller | None = None

    # ---- intake ----------------------------------------------------------------------
    def store_from_smtp(
        self, raw: bytes, mail_from: str | None, rcpt_to: Sequence[str], peer: str
    ) -> int:
        stored = self.pipeline.store_only(
            raw,
            Envelope(
                source="lmtp" if self.config.lmtp else "smtp",
                source_ref=peer,
                mail_from=mail_from,
                rcpt_to=tuple(rcpt_to),
            ),
        )
        self._queue(stored.id, stored.duplicate_of)
        return stored.id

    def store_from_imap(self, raw: bytes, ref: str) -> int:
        imap = self.supervisors.get("imap")
        try:
            stored = self.pipeline.store_only(raw, Envelope(source="imap", source_ref=ref))
        except Exception as exc:
            if imap is not None:  # the message stays in the mailbox; the next poll retries
                imap.report_trouble(f"store failed: {reason(exc)}")
            raise
        if imap is not None:
            imap.report_running()
        self._queue(stored.id, stored.duplicate_of)
        return stored.id

    def _queue(self, message_id: int, duplicate_of: int | None) -> None:
        """Queue a new message; for a copy, its original in case that is not done yet.

        A copy is stored when the sender did not hear our 250 for the first (the
        connection or the database dropped during the commit): the first is then stored
        but was never queued. Queueing the original costs one lookup when it is done.
        A processing worker backing off is woken: the commit says the database is back.
        """
        event(log, "message.stored", id=message_id, duplicate_of=duplicate_of)
        self.work.put(duplicate_of if duplicate_of is not None else message_id)
        for worker in self.processing:
            supervisor = self.supervisors.get(worker.name)
            if supervisor is not None and supervisor.status.state == BACKING_OFF:
                supervisor.wake()  # a message was just committed: the database answers again

    # ---- work ------------------------------------------------------------------------
    def _processing_workers(self) -> list[ProcessingWorker]:
        names = ["pipeline", *(f"pipeline-{n}" for n in range(2, self.config.workers + 1))]
        return [
            ProcessingWorker(
                name,
                self.work,
                self.pipeline,
                batch=self.config.batch,
                engine=self.runtime.engine,
                stop=self.stop_event,
            )
            for name in names
        ]

    def sweep(self) -> None:
        """Queue every stored message not yet processed (those queued already stay put)."""
        after, queued = 0, 0
        while True:
            ids = self.pipeline.pending(SWEEP_PAGE, after=after)
            queued += sum(self.work.put(message_id) for message_id in ids)
            if len(ids) < SWEEP_PAGE:
                break
            after = ids[-1]
        if queued:
            event(log, "sweep.queued", count=queued)

    def run_tick(self) -> None:
        report = tick(self.runtime.sessions, self.runtime.clock.now())
        event_fields(log, "tick", report.as_dict())

    def run_send(self) -> None:
        with self.send_lock:
            stats = send_due(
                self.runtime.sessions, self.sender, self.runtime.clock, ledger=self.ledger
            )
        if stats.sent or stats.failed or stats.retrying:
            event(log, "outbox", sent=stats.sent, retrying=stats.retrying, failed=stats.failed)

    def run_imap(self) -> None:
        """The poller's own loop (it reconnects with back-off by itself); returns on stop."""
        assert self.poller is not None
        self.poller.run(self.stop_event)

    def _imap_event(self, name: str, fields: dict[str, Any]) -> None:
        """The poller's events, logged as it logs them, and its retries published."""
        log_imap_event(name, fields)
        imap = self.supervisors.get("imap")
        if imap is None:
            return
        if name == "imap.connection_failed":
            retry = fields.get("retry_in")
            imap.report_trouble(
                f"connection failed: {fields.get('error')}",
                float(retry) if isinstance(retry, int | float) else None,
            )
        elif name == "imap.connected":
            imap.report_running()

    # ---- supervision -----------------------------------------------------------------
    def _changed(self, status: WorkerStatus) -> None:
        """A worker's state changed: publish it. A worker that recovered is news for the
        others: those backing off try again now rather than at the end of their wait
        (after an outage, the first to get through means the database is back), and a
        recovered pipeline wakes the sweep, for anything stored that never reached it."""
        self.status.update(status)
        if status.state != RUNNING:
            return
        for name, supervisor in self.supervisors.items():
            if name != status.name and supervisor.status.state == BACKING_OFF:
                supervisor.wake()
        if status.name.startswith("pipeline") and "sweep" in self.supervisors:
            self.supervisors["sweep"].wake()

    def _supervise(self, name: str, step: Callable[[], object], interval: float = 0.0) -> None:
        supervisor = Supervisor(
            name, step, stop=self.stop_event, interval=interval, on_change=self._changed
        )
        self.supervisors[name] = supervisor

    # ---- life cycle ------------------------------------------------------------------
    def accept_domains(self) -> frozenset[str]:
        with transaction(self.runtime.sessions) as session:
            mail = mail_settings(session)
        return frozenset({mail.reply_domain.lower()}) | self.config.extra_domains

    def start(self) -> None:
        try:  # first: a service that health cannot see must not run at all
            self.status.remove_leftovers()
            self.status.write()
        except OSError as exc:
            raise StateDirError(
                f"cannot write the service's status in {self.status.directory} "
                f"(MAILCAPTURE_STATE_DIR): {exc.strerror or exc}"
            ) from None
        self.runtime.require_schema()
        domains = self.accept_domains()
        self.processing = self._processing_workers()
        for worker in self.processing:
            self._supervise(worker.name, worker.step)
        self._supervise("sweep", self.sweep, self.config.sweep_seconds)
        self._supervise("tick", self.run_tick, self.config.tick_seconds)
        self._supervise("send", self.run_send, self.config.send_seconds)
        self._supervise("heartbeat", self.status.write, HEARTBEAT_SECONDS)
        if self.config.imap is not None:
            # The transports log their own events, each at its level (a store or connection
            # failure is a warning), under the same "mailcapture" logger as the service.
            self.poller = ImapPoller(
                self.config.imap, self.store_from_imap, on_log=self._imap_event
            )
            self._supervise("imap", self.run_imap)
        for supervisor in self.supervisors.values():
            supervisor.start()
        if self.config.imap is not None:
            event(log, "imap.started", host=self.config.imap.host, folder=self.config.imap.folder)
        if self.config.listening:
            assert self.config.listen_host is not None and self.config.listen_port is not None
            self.controller = start_listener(
                ListenerConfig(
                    host=self.config.listen_host,
                    port=self.config.listen_port,
                    lmtp=self.config.lmtp,
                    max_bytes=self.config.max_bytes,
                    accept_domains=domains,
                    tls_cert=self.config.tls_cert,
                    tls_key=self.config.tls_key,
                ),
                self.store_from_smtp,
            )
            event(
                log,
                "listener.started",
                host=self.config.listen_host,
                port=self.controller.port if hasattr(self.controller, "port") else None,
                mode="lmtp" if self.config.lmtp else "smtp",
                domains=sorted(domains),
            )
        event(log, "service.started", status=str(self.status.path))

    def stop(self) -> None:
        """Stop taking mail, finish what is in hand, then stop the workers."""
        self.stop_event.set()
        if self.controller is not None:
            self.controller.stop()
        self.work.close()
        for supervisor in self.supervisors.values():
            supervisor.wake()
        for supervisor in self.supervisors.values():
            if supervisor.thread is not None:
                supervisor.thread.join(timeout=30)
        self.status.remove()
        self.sender.close()
        self.runtime.close()
        if self.supervisors:  # not after a start that failed before anything ran
            event(log, "service.stopped")

    def run_until_signalled(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stop_event.set())
        try:
            self.start()
            while not self.stop_event.wait(0.5):
                pass
        finally:
            self.stop()  # also after a failed start: its threads and status file go too


class ProcessingWorker:
    """One processing thread of ``serve``: batches of stored messages through the pipeline.

    It takes up to ``MAILCAPTURE_BATCH`` ids from the queue at once and hands them to
    :meth:`Pipeline.process_batch <mailcapture.mailflow.pipeline.Pipeline.process_batch>`: one
    transaction, a savepoint per message, one commit. ``MAILCAPTURE_WORKERS`` of them share the
    queue (and several ``serve`` processes share the database: the claim skips what another
    holds), and a person's later reply waits for their earlier one, so no correction is
    applied before what it corrects.

    On a database fault the batch stays in hand (and ``received``): the supervisor backs off
    and this tries the same batch again, so replies are still applied in the order they
    came. Two things let go instead, so one message cannot hold up the rest: any other
    exception from the pipeline (marking a message failed itself failed), and
    :data:`SET_ASIDE_AFTER` database faults in a row while the database answers (a fault of
    one message's, not an outage). A batch of several is then split: the first is kept in
    hand and the rest go back to the queue, until the one at fault is alone; that one is let
    go, and stays ``received`` for the sweep.
    """

    #: How long a worker whose whole batch waits on earlier replies (in another worker's
    #: hands) pauses before taking from the queue again, rather than spin.
    WAIT_FOR_EARLIER = 0.05

    def __init__(
        self,
        name: str,
        work: WorkQueue,
        pipeline: Pipeline,
        *,
        batch: int,
        engine: Engine,
        stop: threading.Event,
    ) -> None:
        self.name = name
        self.work = work
        self.pipeline = pipeline
        self.batch = batch
        self.engine = engine
        self.stop = stop
        #: The messages this worker is on; kept across a database outage.
        self.in_hand: list[int] = []
        self.faults = 0

    def step(self) -> None:
        work = self.work
        if not self.in_hand:
            self.in_hand = work.get(self.batch)
            self.faults = 0
            if not self.in_hand:
                return  # closed: the service is stopping
        try:
            batch = self.pipeline.process_batch(self.in_hand)
        except Exception as exc:
            if not is_database_fault(exc):
                self._let_go(self.in_hand)
            else:
                self.faults += 1
                if self.faults >= SET_ASIDE_AFTER and database_answers(self.engine):
                    self._set_aside(exc)
            raise
        self._let_go(self.in_hand)
        for message_id in batch.waiting:  # behind an earlier reply: to the back of the queue
            work.put(message_id)
        if batch.waiting and not batch.results:
            self.stop.wait(self.WAIT_FOR_EARLIER)

    def _set_aside(self, exc: Exception) -> None:
        if len(self.in_hand) > 1:
            first, rest = self.in_hand[0], self.in_hand[1:]
            self._let_go(rest)
            for message_id in rest:
                self.work.put(message_id)
            self.in_hand, self.faults = [first], 0
            return
        event(
            log,
            "message.set_aside",
            logging.ERROR,
            id=self.in_hand[0],
            faults=self.faults,
            error=reason(exc),
        )
        self._let_go(self.in_hand)

    def _let_go(self, ids: Sequence[int]) -> None:
        for message_id in list(ids):
            self.work.done(message_id)
        self.in_hand = [i for i in self.in_hand if i not in set(ids)]
