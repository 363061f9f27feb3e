"""Keep each of the service's workers alive: catch, log, back off, resume.

``serve`` runs its workers (the processing worker, the outbox sender, the timetable tick,
the sweep, the IMAP poller, the status heartbeat) on threads of their own. An exception
used to end a worker's thread for good while the rest of the process carried on: during a
PostgreSQL outage the processing worker died, the listener kept answering (451, then 250
once the database was back) and the stored replies waited for a restart.

A :class:`Supervisor` runs one worker's *step* again and again until the service stops.
When a step raises, the reason is logged (``worker.backing_off``: a warning for a database
fault, which is waited out; an error with the traceback for anything else, which is a bug),
the worker waits (1 s, doubling up to 60 s) and tries again; the first step that succeeds
logs ``worker.resumed`` and the wait starts again from 1 s. Nothing but the stop event
ends the loop. A periodic worker (tick, sender, sweep) waits its interval between steps;
the processing worker's step waits for work itself.

Every change of a worker's state (running, backing off, stopped) goes to ``on_change``,
which the service uses to publish its workers' state for ``mailcapture health`` in another
process (:mod:`mailcapture.service.status`). The clock and the wait are parameters, so a
test can run the loop without waiting.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from mailcapture.db.engine import is_database_fault
from mailcapture.logs import event

log = logging.getLogger(__name__)

RUNNING = "running"
BACKING_OFF = "backing-off"
STOPPED = "stopped"

#: Longest reason kept in a log line or the status file.
REASON_LIMIT = 300


@dataclass(frozen=True)
class Backoff:
    """Capped exponential: ``first`` seconds after the first failure, times ``factor`` after
    each further one, never more than ``cap``."""

    first: float = 1.0
    factor: float = 2.0
    cap: float = 60.0

    def delay(self, failures: int) -> float:
        """The wait after the ``failures``-th failure in a row (1, 2, 4, ... 60 s)."""
        exponent = max(0, failures - 1)
        if exponent > 64:  # far past the cap; avoids an overflowing power
            return self.cap
        return min(self.cap, self.first * self.factor**exponent)


DEFAULT_BACKOFF = Backoff()


@dataclass(frozen=True)
class WorkerStatus:
    """One worker's state as published: what it is doing, since when, and why not more."""

    name: str
    state: str
    since: datetime
    failures: int = 0
    last_error: str | None = None
    next_attempt: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "since": self.since.isoformat(),
            "failures": self.failures,
            "last_error": self.last_error,
            "next_attempt": self.next_attempt.isoformat() if self.next_attempt else None,
        }


def reason(exc: BaseException) -> str:
    """One line for a log or the status file: the type and the first line of the message.

    For SQLAlchemy's errors, the driver's message (``exc.orig``) without the SQL statement
    and the link to SQLAlchemy's documentation that its own text appends.
    """
    shown = getattr(exc, "orig", None) or exc
    lines = str(shown).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0].strip() if lines else type(shown).__name__}"
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 1] + "…"


def utc_now() -> datetime:
    return datetime.now(UTC)


class Supervisor:
    """Runs ``step`` on a thread of its own until ``stop`` is set; see the module docstring.

    ``interval`` is the wait after a step that succeeded (0: run the next one at once).
    ``sleep``, when given, replaces the wait (a test's fake); otherwise a wait ends early on
    :meth:`wake` (the service wakes every worker when it stops, and the sweep when the
    processing worker recovers).
    """

    def __init__(
        self,
        name: str,
        step: Callable[[], object],
        *,
        stop: threading.Event,
        interval: float = 0.0,
        backoff: Backoff = DEFAULT_BACKOFF,
        on_change: Callable[[WorkerStatus], None] | None = None,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self.name = name
        self.step = step
        self.stop = stop
        self.interval = interval
        self.backoff = backoff
        self.on_change = on_change
        self.clock = clock
        self._sleep = sleep
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self.status = WorkerStatus(name, RUNNING, clock())
        self.thread: threading.Thread | None = None
        #: Steps that went through, since the start (for tests and diagnostics).
        self.steps = 0

    # ---- the loop --------------------------------------------------------------------
    def start(self) -> threading.Thread:
        self.thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self.thread.start()
        return self.thread

    def run(self) -> None:
        """Step, and on an exception log, back off and step again, until stopped."""
        self._publish(self.status)
        ended: BaseException | None = None
        try:
            while not self.stop.is_set():
                try:
                    self.step()
                except Exception as exc:
                    self._pause(self.failed(exc))
                    continue
                self.steps += 1
                self.succeeded()
                if self.interval > 0 and not self.stop.is_set():
                    self._pause(self.interval)
        except BaseException as exc:  # SystemExit or the like raised in a step: say so
            ended = exc
            raise
        finally:
            self._ended(ended)

    def failed(self, exc: BaseException) -> float:
        """Log the failure, mark the worker backing off; returns the seconds to wait."""
        database = is_database_fault(exc)
        with self._lock:
            failures = self.status.failures + 1
            delay = self.backoff.delay(failures)
            now = self.clock()
            status = WorkerStatus(
                self.name,
                BACKING_OFF,
                self.status.since if self.status.state == BACKING_OFF else now,
                failures,
                reason(exc),
                now + timedelta(seconds=delay),
            )
            self.status = status
        fields = {
            "worker": self.name,
            "error": status.last_error,
            "failures": failures,
            "retry_in": delay,
            "database": database,
        }
        if database:  # an outage: expected, waited out, no traceback needed
            event(log, "worker.backing_off", logging.WARNING, **fields)
        else:  # a bug: keep the traceback
            log.error("worker.backing_off", extra={"fields": fields}, exc_info=exc)
        self._publish(status)
        return delay

    def succeeded(self) -> None:
        """A step went through: back to running, and the next failure waits 1 s again."""
        with self._lock:
            before = self.status
            if before.state == RUNNING:
                return
            now = self.clock()
            self.status = WorkerStatus(self.name, RUNNING, now)
        event(
            log,
            "worker.resumed",
            worker=self.name,
            failures=before.failures,
            down_seconds=round((now - before.since).total_seconds(), 3),
        )
        self._publish(self.status)

    # ---- for workers with a retry loop of their own (the IMAP poller) -------------------
    def report_trouble(self, why: str, retry_in: float | None = None) -> None:
        """The worker is retrying by itself: publish it as backing off (it logs on its own)."""
        with self._lock:
            now = self.clock()
            before = self.status
            status = WorkerStatus(
                self.name,
                BACKING_OFF,
                before.since if before.state == BACKING_OFF else now,
                before.failures + 1,
                why[:REASON_LIMIT],
                now + timedelta(seconds=retry_in) if retry_in is not None else None,
            )
            self.status = status
        self._publish(status)

    def report_running(self) -> None:
        """The worker's own retry went through."""
        with self._lock:
            if self.status.state == RUNNING:
                return
            self.status = WorkerStatus(self.name, RUNNING, self.clock())
            status = self.status
        self._publish(status)

    # ---- waiting ---------------------------------------------------------------------
    def wake(self) -> None:
        """End the current wait now (on stop, or when there is work for a periodic step)."""
        self._wake.set()

    def _pause(self, seconds: float) -> None:
        if self._sleep is not None:
            self._sleep(seconds)
            return
        self._wake.wait(seconds)
        self._wake.clear()

    # ---- publishing ------------------------------------------------------------------
    def _ended(self, error: BaseException | None) -> None:
        with self._lock:
            self.status = replace(
                self.status,
                state=STOPPED,
                since=self.clock(),
                last_error=reason(error) if error is not None else self.status.last_error,
                next_attempt=None,
            )
            status = self.status
        if error is not None:
            log.critical("worker.died", extra={"fields": {"worker": self.name}}, exc_info=error)
        self._publish(status)

    def _publish(self, status: WorkerStatus) -> None:
        """Tell ``on_change``; a failure to publish is logged, never fatal to the worker."""
        if self.on_change is None:
            return
        try:
            self.on_change(status)
        except Exception as exc:
            event(
                log,
                "worker.status_not_published",
                logging.WARNING,
                worker=self.name,
                error=reason(exc),
            )
