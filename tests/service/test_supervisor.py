"""The supervisor every worker of ``serve`` runs under: an exception is logged, backed off
and the worker resumes; nothing but the stop event ends it.

The loop is driven with a fake wait (it records each wait and never sleeps) and a fake
clock, except in the last test, which runs a real thread with real (short) waits.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import OperationalError

from mailcapture.service.supervisor import (
    BACKING_OFF,
    RUNNING,
    STOPPED,
    Backoff,
    Supervisor,
    WorkerStatus,
)

T0 = datetime(2026, 5, 5, 9, 0, tzinfo=UTC)


class FakeTime:
    """A clock that moves only when the supervisor waits; records every wait."""

    def __init__(self) -> None:
        self.now = T0
        self.waits: list[float] = []

    def clock(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += timedelta(seconds=seconds)


def scripted(outcomes: list[BaseException | None], stop: threading.Event) -> Callable[[], None]:
    """A step that raises (or not) as scripted, then sets ``stop`` when the script ends."""
    remaining = list(outcomes)

    def step() -> None:
        outcome = remaining.pop(0)
        if not remaining:
            stop.set()
        if outcome is not None:
            raise outcome

    return step


def outage() -> OperationalError:
    return OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == name]


def test_backoff_doubles_from_one_second_and_stops_at_sixty() -> None:
    delays = [Backoff().delay(n) for n in range(1, 10)]
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert Backoff().delay(10_000) == 60


def test_a_failing_step_is_logged_backed_off_and_resumed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Three database faults (warnings, 1, 2, 4 s), a success (resumed, no wait: the
    pipeline's step waits for work itself), a bug (an error with its traceback, and the
    wait starts again from 1 s), a success, and the stop."""
    caplog.set_level(logging.INFO, logger="mailcapture")
    stop = threading.Event()
    fake = FakeTime()
    changes: list[WorkerStatus] = []
    step = scripted(
        [outage(), outage(), outage(), None, ValueError("our bug"), None, None],
        stop,
    )
    supervisor = Supervisor(
        "pipeline", step, stop=stop, clock=fake.clock, sleep=fake.sleep, on_change=changes.append
    )
    supervisor.run()

    assert fake.waits == [1, 2, 4, 1]
    assert supervisor.steps == 3
    backing_off = events(caplog, "worker.backing_off")
    assert [r.levelno for r in backing_off] == [logging.WARNING] * 3 + [logging.ERROR]
    first = backing_off[0].fields  # type: ignore[attr-defined]
    assert first["worker"] == "pipeline"
    assert first["error"] == "OperationalError: connection refused"
    assert (first["failures"], first["retry_in"], first["database"]) == (1, 1.0, True)
    assert backing_off[0].exc_info is None  # an outage needs no traceback ...
    assert backing_off[3].exc_info is not None  # ... a bug keeps it
    assert backing_off[3].fields["error"] == "ValueError: our bug"  # type: ignore[attr-defined]
    resumed = events(caplog, "worker.resumed")
    assert [r.fields["failures"] for r in resumed] == [3, 1]  # type: ignore[attr-defined]
    assert resumed[0].fields["down_seconds"] == 7.0  # type: ignore[attr-defined]

    assert [(c.state, c.failures) for c in changes] == [
        (RUNNING, 0),
        (BACKING_OFF, 1),
        (BACKING_OFF, 2),
        (BACKING_OFF, 3),
        (RUNNING, 0),
        (BACKING_OFF, 1),
        (RUNNING, 0),
        (STOPPED, 0),
    ]
    third = changes[3]
    assert third.since == T0  # backing off since the first failure
    assert third.next_attempt == T0 + timedelta(seconds=3 + 4)
    assert third.last_error == "OperationalError: connection refused"


def test_a_periodic_worker_waits_its_interval_after_success_and_backs_off_after_failure() -> None:
    stop = threading.Event()
    fake = FakeTime()
    step = scripted([None, outage(), None, None], stop)
    Supervisor("tick", step, stop=stop, interval=300, clock=fake.clock, sleep=fake.sleep).run()
    assert fake.waits == [300, 1, 300]  # no wait after the last step: stop was set


def test_a_status_that_cannot_be_published_does_not_stop_the_worker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(status: WorkerStatus) -> None:
        raise OSError(28, "No space left on device")

    stop = threading.Event()
    fake = FakeTime()
    step = scripted([outage(), None, None], stop)
    supervisor = Supervisor(
        "send", step, stop=stop, clock=fake.clock, sleep=fake.sleep, on_change=broken
    )
    supervisor.run()
    assert supervisor.steps == 2
    warnings = events(caplog, "worker.status_not_published")
    assert warnings and {r.levelno for r in warnings} == {logging.WARNING}


def test_a_worker_with_its_own_retries_reports_them() -> None:
    """The IMAP poller retries by itself; it tells its supervisor, which publishes it."""
    fake = FakeTime()
    changes: list[WorkerStatus] = []
    supervisor = Supervisor(
        "imap", lambda: None, stop=threading.Event(), clock=fake.clock, on_change=changes.append
    )
    supervisor.report_trouble("connection failed: ConnectionRefusedError", retry_in=4)
    supervisor.report_running()
    supervisor.report_running()  # no change, nothing published
    assert [(c.state, c.last_error, c.next_attempt) for c in changes] == [
        (BACKING_OFF, "connection failed: ConnectionRefusedError", T0 + timedelta(seconds=4)),
        (RUNNING, None, None),
    ]


def test_a_real_thread_survives_its_exceptions_and_stops_when_told() -> None:
    """Real waits (a short backoff) on a real thread: the thread outlives three exceptions,
    does its work, and ends at once when stopped in the middle of a long interval."""
    stop = threading.Event()
    done = threading.Event()
    calls: list[int] = []

    def step() -> None:
        calls.append(1)
        if len(calls) <= 3:
            raise RuntimeError(f"failure {len(calls)}")
        done.set()

    supervisor = Supervisor(
        "sweep", step, stop=stop, interval=3600, backoff=Backoff(first=0.01, cap=0.05)
    )
    thread = supervisor.start()
    assert done.wait(10), "the worker did not resume"
    assert thread.is_alive()
    assert supervisor.status.state == RUNNING
    stop.set()
    supervisor.wake()
    thread.join(10)
    assert not thread.is_alive()
    assert supervisor.status.state == STOPPED
    assert len(calls) == 4


def test_the_wait_ends_early_when_woken() -> None:
    """The service wakes the sweep when the pipeline recovers, rather than wait a minute."""
    stop = threading.Event()
    runs: list[float] = []
    supervisor = Supervisor(
        "sweep", lambda: runs.append(time.monotonic()), stop=stop, interval=3600
    )
    thread = supervisor.start()
    try:
        deadline = time.monotonic() + 10
        while not runs and time.monotonic() < deadline:
            time.sleep(0.01)
        supervisor.wake()
        while len(runs) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(runs) == 2
    finally:
        stop.set()
        supervisor.wake()
        thread.join(10)


def test_a_worker_ended_by_something_that_is_not_an_exception_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``SystemExit`` from a step ends the thread (it is not an ``Exception``): the worker
    is published as stopped, with the reason, so ``health`` fails, and the log says it died."""
    fake = FakeTime()
    changes: list[WorkerStatus] = []

    def leave() -> None:
        raise SystemExit("a library called sys.exit")

    supervisor = Supervisor(
        "tick", leave, stop=threading.Event(), clock=fake.clock, on_change=changes.append
    )
    with pytest.raises(SystemExit):
        supervisor.run()
    assert (changes[-1].state, changes[-1].last_error) == (
        STOPPED,
        "SystemExit: a library called sys.exit",
    )
    [died] = events(caplog, "worker.died")
    assert died.levelno == logging.CRITICAL
