"""``mailcapture serve``: everything in one process, each part on its own thread.

* the SMTP/LMTP listener (aiosmtpd's own thread and event loop) stores each message
  and answers 250 only once it is committed; processing follows on the worker thread;
* the IMAP poller (a thread) stores each message, then moves it to the processed folder;
* one processing worker runs the pipeline for stored messages, in order;
* APScheduler runs the timetable tick, the outbox sender and a sweep that picks up any
  message stored but not yet processed (after a crash, or by another process).

Several processes may share one PostgreSQL database: the tick is idempotent, outbox
rows are claimed with SKIP LOCKED, and a message is processed by whoever locks it first.
SIGTERM (or SIGINT) stops the intake first, then finishes the message in hand.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from mailcapture.db.engine import transaction
from mailcapture.logs import event, event_fields
from mailcapture.mailflow.pipeline import Pipeline
from mailcapture.mailflow.store import Envelope
from mailcapture.outbox.service import send_due
from mailcapture.register.mail import mail_settings
from mailcapture.runtime import Runtime
from mailcapture.schedule.tick import tick
from mailcapture.service.config import ServiceConfig
from mailcapture.transport.imap import ImapPoller
from mailcapture.transport.listener import ListenerConfig, start_listener

log = logging.getLogger(__name__)


class Service:
    def __init__(self, runtime: Runtime, config: ServiceConfig) -> None:
        self.runtime = runtime
        self.config = config
        self.pipeline = Pipeline(runtime.sessions, runtime.clock)
        self.stop_event = threading.Event()
        self.work: queue.Queue[int | None] = queue.Queue()
        self.threads: list[threading.Thread] = []
        self.controller: Any = None
        self.scheduler: BackgroundScheduler | None = None
        self.sender = runtime.sender()
        self.send_lock = threading.Lock()

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
        stored = self.pipeline.store_only(raw, Envelope(source="imap", source_ref=ref))
        self._queue(stored.id, stored.duplicate_of)
        return stored.id

    def _queue(self, message_id: int, duplicate_of: int | None) -> None:
        event(log, "message.stored", id=message_id, duplicate_of=duplicate_of)
        if duplicate_of is None:
            self.work.put(message_id)

    # ---- work ------------------------------------------------------------------------
    def worker(self) -> None:
        while True:
            message_id = self.work.get()
            if message_id is None or self.stop_event.is_set():
                return  # anything left stays "received": the next start's sweep takes it
            result = self.pipeline.process(message_id)
            event(
                log,
                "message.processed",
                id=result.id,
                state=result.state,
                outcome=result.outcome,
                detail=result.detail,
            )

    def sweep(self) -> None:
        for message_id in self.pipeline.pending():
            self.work.put(message_id)

    def run_tick(self) -> None:
        report = tick(self.runtime.sessions, self.runtime.clock.now())
        event_fields(log, "tick", report.as_dict())

    def run_send(self) -> None:
        with self.send_lock:
            stats = send_due(self.runtime.sessions, self.sender, self.runtime.clock)
        if stats.sent or stats.failed or stats.retrying:
            event(log, "outbox", sent=stats.sent, retrying=stats.retrying, failed=stats.failed)

    # ---- life cycle ------------------------------------------------------------------
    def accept_domains(self) -> frozenset[str]:
        with transaction(self.runtime.sessions) as session:
            mail = mail_settings(session)
        return frozenset({mail.reply_domain.lower()}) | self.config.extra_domains

    def start(self) -> None:
        self.runtime.require_schema()
        domains = self.accept_domains()
        worker = threading.Thread(target=self.worker, name="pipeline", daemon=True)
        worker.start()
        self.threads.append(worker)
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
        if self.config.imap is not None:
            # The transports log their own events, each at its level (a store or connection
            # failure is a warning), under the same "mailcapture" logger as the service.
            poller = ImapPoller(self.config.imap, self.store_from_imap)
            thread = threading.Thread(
                target=poller.run, args=(self.stop_event,), name="imap", daemon=True
            )
            thread.start()
            self.threads.append(thread)
            event(log, "imap.started", host=self.config.imap.host, folder=self.config.imap.folder)
        self.scheduler = BackgroundScheduler(job_defaults={"coalesce": True, "max_instances": 1})
        self.scheduler.add_job(
            self.run_tick,
            "interval",
            seconds=self.config.tick_seconds,
            id="tick",
            next_run_time=_soon(),
        )
        self.scheduler.add_job(
            self.run_send,
            "interval",
            seconds=self.config.send_seconds,
            id="send",
            next_run_time=_soon(),
        )
        self.scheduler.add_job(
            self.sweep,
            "interval",
            seconds=self.config.sweep_seconds,
            id="sweep",
            next_run_time=_soon(),
        )
        self.scheduler.start()
        event(log, "service.started")

    def stop(self) -> None:
        """Stop taking mail, finish what is in hand, then stop the timers."""
        self.stop_event.set()
        if self.controller is not None:
            self.controller.stop()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
        self.work.put(None)
        for thread in self.threads:
            thread.join(timeout=30)
        self.sender.close()
        self.runtime.close()
        event(log, "service.stopped")

    def run_until_signalled(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stop_event.set())
        self.start()
        try:
            while not self.stop_event.wait(0.5):
                pass
        finally:
            self.stop()


def _soon() -> datetime:
    """APScheduler's "run once now, then every interval"."""
    return datetime.now()
