"""The service heals itself: a database outage in the middle of the work, and no restart.

Measured from outside (issue 12): during a 25 s PostgreSQL outage every SMTP attempt got 451
and ``serve`` stayed up, but the processing thread died on the first failed message ("Exception
in thread pipeline") and 262 of 305 stored replies waited for a restart. These tests stop the
database while stored replies are waiting to be processed and check that every one of them
is processed, once, after the database comes back, by the same service:

* in process, on SQLite and PostgreSQL, with the outage made by :class:`DatabaseOutage`, where
  the test can see the workers back off and ``health`` say so;
* ``mailcapture serve`` as a subprocess against a PostgreSQL cluster that the test creates,
  stops (``pg_ctl stop -m fast``) and starts again, with replies arriving over SMTP from a
  client that retries after 451 as a real sending server does.
"""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import FixedClock, as_utc
from mailcapture.db import migrate
from mailcapture.db import models as m
from mailcapture.db.engine import is_database_fault, make_engine, session_factory
from mailcapture.demo import clients
from mailcapture.domain.enums import InboundState, OutboxState
from mailcapture.mailflow.pipeline import Pipeline
from mailcapture.mailflow.store import Envelope
from mailcapture.outbox.service import send_due
from mailcapture.outbox.worker import DeliveryLedger
from mailcapture.register.loader import load_folder
from mailcapture.runtime import Runtime
from mailcapture.schedule.tick import tick
from mailcapture.service.config import ServiceConfig
from mailcapture.service.health import check_workers
from mailcapture.service.runner import Service
from mailcapture.service.status import ServiceStatus, read_services
from mailcapture.service.supervisor import BACKING_OFF, RUNNING, WorkerStatus
from mailcapture.settings import Settings
from mailcapture.transport.outbound import SmtpSender, SmtpSettings
from tests.conftest import CONFIG_DIR, CORPUS, IN_CI, SampleRegister
from tests.service.outages import ClusterUnavailable, DatabaseOutage, PostgresCluster
from tests.smtp_servers import RecordingSink, free_port, smtp_sink

LOADED_AT = datetime(2026, 4, 20, tzinfo=UTC)
REQUESTS_AT = as_utc(datetime(2026, 5, 1, 9, 0))
#: Replies per updater: under the 10 automatic emails an hour that one address may get.
REPLIES_EACH = 6
#: How long the cluster stays down in the subprocess test.
OUTAGE_SECONDS = 8.0
#: A reply sent during the outage, to see it refused with 451 (see the corpus's SOURCES.md).
PROBE = (CORPUS / "hostile" / "outage_probe.eml").read_bytes()


def _wait_for(predicate: Callable[[], object], timeout: float, what: str) -> float:
    """Wait until ``predicate()`` is true; returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@dataclass(frozen=True)
class Reply:
    """One reply to a request, with the values it carries (each reply's are its own)."""

    sender: str
    rcpt: str
    raw: bytes
    message_id: str
    values: dict[str, int]


def _near(base: int, k: int) -> int:
    """The ``k``-th figure near ``base``, all different, none ten times off it (nor, for a
    percentage, above 100)."""
    return base - k if base - k >= max(1, base // 5) else base + k


def _replies(sessions: sessionmaker[Session], each: int) -> list[Reply]:
    """``each`` replies from every updater asked for April, up to two figures per reply,
    in the style of a phone (no quote), each with figures no other reply has."""
    with sessions() as s:
        requests = s.execute(
            select(m.Person.email, m.Person.name, m.OutboxMessage.raw, m.DataRequest.id)
            .join(m.DataRequest, m.DataRequest.id == m.OutboxMessage.request_id)
            .join(m.Person, m.Person.id == m.DataRequest.person_id)
            .where(m.OutboxMessage.kind == "request")
            .order_by(m.DataRequest.id)
        ).all()
        codes = {
            request_id: list(
                s.scalars(
                    select(m.DataRequestItem.item_code)
                    .where(
                        m.DataRequestItem.request_id == request_id,
                        m.DataRequestItem.component_id.isnot(None),
                    )
                    .order_by(m.DataRequestItem.position)
                    .limit(2)
                )
            )
            for *_, request_id in requests
        }
        # Near each component's March 2026 figure, so that no reply is held as implausible
        # (mailflow/apply.py) and every one is applied.
        march = {
            code: int(value)
            for code, value in s.execute(
                select(m.Component.code, m.ComponentValue.value)
                .join(m.ComponentValue, m.ComponentValue.component_id == m.Component.id)
                .join(m.Period, m.Period.id == m.ComponentValue.period_id)
                .where(m.Period.code == "2026-03", m.ComponentValue.is_current)
            )
            if value is not None
        }
    replies = []
    for k in range(each):
        for email, name, raw, request_id in requests:
            values = {
                code: _near(march.get(code, 100 * (j + 1)), k)
                for j, code in enumerate(codes[request_id])
            }
            top = "\n".join(f"{code}: {value}" for code, value in values.items())
            built = clients.phone(raw, f"{name} <{email}>", top)
            message = clients.parsed(built)
            replies.append(
                Reply(email, str(message["To"]), built, str(message["Message-ID"]), values)
            )
    assert len({r.message_id for r in replies}) == len(replies)
    return replies


def _check_applied_once(
    sessions: sessionmaker[Session], replies: list[Reply], confirmations: list[bytes]
) -> None:
    """Every reply processed exactly once (one run, no ``failed``), each of its figures
    stored once from it, and exactly one confirmation for it, sent once."""
    wanted = {_bare(r.message_id): r for r in replies}
    with sessions() as s:
        rows = s.scalars(select(m.InboundMessage).order_by(m.InboundMessage.id)).all()
        originals = [r for r in rows if r.state is not InboundState.DUPLICATE]
        assert Counter(r.state.value for r in originals) == {"processed": len(replies)}, [
            (r.id, r.state.value, r.outcome, r.outcome_detail) for r in originals
        ]
        by_message_id = {_bare(r.message_id or ""): r for r in originals}
        assert set(by_message_id) == set(wanted), "a reply is missing or stored twice"
        for message_id, row in by_message_id.items():
            reply = wanted[message_id]
            assert (row.outcome, row.attempts) == ("applied", 1), (row.id, row.outcome_detail)
            stored = dict(
                s.execute(
                    select(m.Component.code, m.ComponentValue.value)
                    .join(m.Component)
                    .where(m.ComponentValue.inbound_message_id == row.id)
                ).all()
            )
            assert stored == reply.values, (row.id, stored)
            assert len(stored) == s.scalar(
                select(func.count())
                .select_from(m.ComponentValue)
                .where(m.ComponentValue.inbound_message_id == row.id)
            )
        confirmation_ids = dict(
            s.execute(
                select(m.OutboxMessage.in_reply_to_id, m.OutboxMessage.message_id).where(
                    m.OutboxMessage.kind == "confirmation", m.OutboxMessage.state == "sent"
                )
            ).all()
        )
    assert set(confirmation_ids) == {r.id for r in originals}
    delivered = Counter(str(clients.parsed(raw)["Message-ID"]) for raw in confirmations)
    assert {mid: delivered[mid] for mid in confirmation_ids.values()} == {
        mid: 1 for mid in confirmation_ids.values()
    }
    assert max(delivered.values(), default=1) == 1, "a confirmation was sent twice"


def _bare(message_id: str) -> str:
    return message_id.strip().strip("<>")


def _confirmations(sink: RecordingSink) -> list[bytes]:
    with sink.lock:
        return [
            raw
            for _, _, raw in sink.messages
            if " ".join(str(clients.parsed(raw)["Subject"]).split()).startswith("Received:")
        ]


# ----------------------------------------------------------------- in process, both backends


@pytest.fixture
def sink() -> Iterator[tuple[str, RecordingSink]]:
    handler = RecordingSink()
    with smtp_sink(handler) as url:
        yield url, handler


def test_the_workers_back_off_during_an_outage_and_finish_the_work_after_it(
    sessions: sessionmaker[Session],
    sample_register: SampleRegister,
    db_url: str,
    tmp_path: Path,
    sink: tuple[str, RecordingSink],
) -> None:
    """Stored replies are in the processing worker's queue when the database goes away.

    The worker backs off with the first message in hand (still ``received``, not
    ``failed``), the status file and ``health`` say so, an SMTP attempt gets 451, and when
    the database is back the same service processes every reply once and confirms each
    once, without a restart.
    """
    sample_register.load(sessions, LOADED_AT)
    tick(sessions, REQUESTS_AT)
    replies = _replies(sessions, 2)
    db_url = _quick(db_url)
    port = free_port()
    config = ServiceConfig.from_environment(
        {
            "MAILCAPTURE_LISTEN": f"127.0.0.1:{port}",
            "MAILCAPTURE_TICK_SECONDS": "3600",
            "MAILCAPTURE_SEND_SECONDS": "1",
            "MAILCAPTURE_SWEEP_SECONDS": "3600",
        }
    )
    clock = FixedClock(datetime(2026, 5, 5, 9, 0, tzinfo=UTC))
    settings = Settings(db_url, CONFIG_DIR, tmp_path / "mail" / "outbox", sink[0])
    service = Service(Runtime(settings, clock=clock), config)
    outage = DatabaseOutage(db_url)
    service.start()
    try:
        # The sweep at start has run (and found nothing): what is stored now waits for us.
        _wait_for(lambda: service.supervisors["sweep"].steps >= 1, 30, "the first sweep")
        store = Pipeline(sessions, clock)
        ids = [
            store.store_only(
                r.raw, Envelope(source="smtp", mail_from=r.sender, rcpt_to=(r.rcpt,))
            ).id
            for r in replies
        ]
        outage.start()
        try:
            for message_id in ids:  # as the listener queues what it stored
                service.work.put(message_id)
            pipeline = service.supervisors["pipeline"]
            _wait_for(lambda: pipeline.status.state == BACKING_OFF, 30, "the worker to back off")
            [worker] = service.processing
            # Kept, to be tried again, in order.
            assert worker.in_hand and worker.in_hand == ids[: len(worker.in_hand)]

            def published() -> WorkerStatus:
                [service_status] = read_services(tmp_path / "mail")
                assert isinstance(service_status, ServiceStatus)
                return {w.name: w for w in service_status.workers}["pipeline"]

            # The file is rewritten just after the state changes, by the same thread.
            _wait_for(lambda: published().state == BACKING_OFF, 30, "the file to say so")
            assert published().last_error
            checks = {c.name: c for c in check_workers(tmp_path / "mail")}
            assert not checks["worker pipeline"].ok
            assert "backing off since" in checks["worker pipeline"].detail
            with (
                smtplib.SMTP("127.0.0.1", port, timeout=30) as client,
                pytest.raises(smtplib.SMTPDataError) as refused,
            ):
                client.sendmail(replies[0].sender, [replies[0].rcpt], PROBE)
            assert refused.value.smtp_code == 451
        finally:
            outage.end()
        _wait_for(
            lambda: (
                len(_confirmations(sink[1])) >= len(replies)
                and not service.work
                and not service.processing[0].in_hand
            ),
            60,
            "every reply processed and confirmed",
        )
        _wait_for(
            lambda: all(s.status.state == RUNNING for s in service.supervisors.values()),
            60,
            "every worker running again",
        )
        [check] = check_workers(tmp_path / "mail")
        assert check.ok and check.detail.startswith(f"pid {os.getpid()}: 5 running")
    finally:
        service.stop()
    assert read_services(tmp_path / "mail") == []  # a clean stop takes its file away
    _check_applied_once(sessions, replies, _confirmations(sink[1]))


def _quick(db_url: str) -> str:
    """The same database, with SQLite writers giving up after 1 s instead of 30."""
    if make_url(db_url).get_backend_name() == "sqlite":
        return f"sqlite:///{make_url(db_url).database}?timeout=1"
    return db_url


def test_a_message_met_by_an_outage_stays_received_and_is_processed_after_it(
    sessions: sessionmaker[Session], sample_register: SampleRegister, db_url: str
) -> None:
    """``Pipeline.process`` during an outage raises the database's error and leaves the
    message ``received`` (no second transaction to mark it failed: that one would fail
    too); after the outage the same call processes it, in one run."""
    sample_register.load(sessions, LOADED_AT)
    tick(sessions, REQUESTS_AT)
    [reply] = _replies(sessions, 1)[:1]
    engine = make_engine(_quick(db_url))
    pipeline = Pipeline(session_factory(engine), FixedClock(datetime(2026, 5, 5, 9, tzinfo=UTC)))
    stored = pipeline.store_only(reply.raw, Envelope(source="smtp", mail_from=reply.sender))
    outage = DatabaseOutage(db_url)
    outage.start()
    try:
        with pytest.raises(OperationalError) as raised:
            pipeline.process(stored.id)
        assert is_database_fault(raised.value)
    finally:
        outage.end()
    with sessions() as s:
        row = s.get_one(m.InboundMessage, stored.id)
        assert (row.state, row.attempts, row.error) == (InboundState.RECEIVED, 0, None)
    assert pipeline.pending() == [stored.id]
    result = pipeline.process(stored.id)
    assert (result.state, result.outcome) == ("processed", "applied")
    with sessions() as s:
        assert s.get_one(m.InboundMessage, stored.id).attempts == 1
    engine.dispose()


def test_our_own_error_marks_the_message_failed(
    sessions: sessionmaker[Session],
    sample_register: SampleRegister,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug in a stage (simulated: the stage raises) marks the message ``failed`` with
    the error, as before: ``failed`` is for our own faults, not the database's."""
    sample_register.load(sessions, LOADED_AT)
    tick(sessions, REQUESTS_AT)
    [reply] = _replies(sessions, 1)[:1]
    pipeline = Pipeline(sessions, FixedClock(datetime(2026, 5, 5, 9, tzinfo=UTC)))
    stored = pipeline.store_only(reply.raw, Envelope(source="smtp", mail_from=reply.sender))

    def bug(run: object) -> None:
        raise KeyError("a bug of ours")

    monkeypatch.setattr("mailcapture.mailflow.pipeline.run_stages", bug)
    result = pipeline.process(stored.id)
    assert (result.state, result.outcome) == ("failed", "failed")
    assert result.detail == "KeyError: 'a bug of ours'"
    with sessions() as s:
        row = s.get_one(m.InboundMessage, stored.id)
        assert row.attempts == 1 and row.error and "KeyError" in row.error


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_bug_met_by_an_outage_leaves_the_message_received(
    sessions: sessionmaker[Session],
    sample_register: SampleRegister,
    db_url: str,
    backend: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same bug while the database goes away must not lose the message or end the
    caller with a second error about the first: marking it failed fails, that error is
    raised (chained to the bug) and the message stays ``received`` for a later try.

    PostgreSQL only: the outage has to begin inside the processing transaction, and on
    SQLite that transaction holds the one write lock the outage would have to take."""
    sample_register.load(sessions, LOADED_AT)
    tick(sessions, REQUESTS_AT)
    [reply] = _replies(sessions, 1)[:1]
    pipeline = Pipeline(sessions, FixedClock(datetime(2026, 5, 5, 9, tzinfo=UTC)))
    stored = pipeline.store_only(reply.raw, Envelope(source="smtp", mail_from=reply.sender))
    outage = DatabaseOutage(db_url)

    def bug_during_an_outage(run: object) -> None:
        outage.start()
        raise KeyError("a bug of ours")

    monkeypatch.setattr("mailcapture.mailflow.pipeline.run_stages", bug_during_an_outage)
    try:
        with pytest.raises(OperationalError) as raised:
            pipeline.process(stored.id)
        assert isinstance(raised.value.__context__, KeyError)
    finally:
        outage.end()
    with sessions() as s:
        row = s.get_one(m.InboundMessage, stored.id)
        assert (row.state, row.attempts) == (InboundState.RECEIVED, 0)
    monkeypatch.undo()
    assert pipeline.process(stored.id).outcome == "applied"


class OutageAfterSending:
    """A real SMTP sender; after its ``n``-th message the database goes away, before the
    outbox can record that it was sent (the window a crash or an outage can hit)."""

    def __init__(self, inner: SmtpSender, outage: DatabaseOutage, n: int) -> None:
        self.inner, self.outage, self.n = inner, outage, n
        self.sent = 0

    def send(self, envelope_from: str, recipients: Sequence[str], message: bytes, hint: str) -> str:
        note = self.inner.send(envelope_from, recipients, message, hint)
        self.sent += 1
        if self.sent == self.n:
            self.outage.start()
        return note

    def close(self) -> None:
        self.inner.close()


def test_what_the_relay_said_outlives_an_outage_and_no_email_is_sent_twice(
    sessions: sessionmaker[Session],
    sample_register: SampleRegister,
    db_url: str,
    sink: tuple[str, RecordingSink],
) -> None:
    """The second email of a batch is handed to the relay, then the database goes: the
    outbox cannot write "sent". The service's ledger keeps that, and the claimed emails
    behind it; once the database is back the next run writes it down and sends the rest,
    at once rather than after their 10-minute lease, and every email leaves exactly once."""
    sample_register.load(sessions, LOADED_AT)
    tick(sessions, REQUESTS_AT)
    with sessions() as s:
        queued = s.scalar(
            select(func.count())
            .select_from(m.OutboxMessage)
            .where(m.OutboxMessage.state == OutboxState.QUEUED)
        )
    assert queued is not None and queued >= 3
    engine = make_engine(_quick(db_url))
    quick = session_factory(engine)
    clock = FixedClock(datetime(2026, 5, 5, 9, tzinfo=UTC))
    outage = DatabaseOutage(db_url)
    sender = OutageAfterSending(SmtpSender(SmtpSettings.from_url(sink[0])), outage, 2)
    ledger = DeliveryLedger()
    try:
        with pytest.raises(OperationalError):
            send_due(quick, sender, clock, ledger=ledger)
    finally:
        outage.end()
    assert len(ledger.outcomes) == 1 and len(ledger.claimed) == queued - 2
    stats = send_due(quick, sender, clock, ledger=ledger)
    sender.close()
    assert not ledger
    assert stats.sent == queued - 1  # the one recorded from the ledger, and the rest
    with sessions() as s:
        rows = s.scalars(select(m.OutboxMessage)).all()
        assert {r.state for r in rows} == {OutboxState.SENT}
        assert {r.attempts for r in rows} == {1}
    ids = sink[1].message_ids()
    assert len(ids) == len(set(ids)) == queued
    engine.dispose()


# ----------------------------------------------------------------- a cluster stopped and started


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster of this test's own; under CI its absence is a failure."""
    try:
        server = PostgresCluster()
        server.start()
    except ClusterUnavailable as exc:
        if IN_CI:
            pytest.fail(f"CI requires a PostgreSQL cluster of the test's own: {exc}", pytrace=False)
        pytest.skip(f"cannot start a PostgreSQL cluster: {exc}")
    try:
        yield server
    finally:
        server.destroy()


@dataclass
class RetryingClient:
    """Delivers replies over SMTP the way a sending server does: a 4xx answer (or no
    connection) keeps the message queued and it is tried again a little later. Every
    attempt is kept: when it began and ended (monotonic seconds) and the answer's code."""

    port: int
    queue: deque[Reply]
    threads: int = 4
    accepted: list[Reply] = field(default_factory=list)
    attempts: list[tuple[float, float, int]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, stop: threading.Event) -> list[threading.Thread]:
        workers = [
            threading.Thread(target=self._deliver, args=(stop,), daemon=True)
            for _ in range(self.threads)
        ]
        for worker in workers:
            worker.start()
        return workers

    def deferred(self) -> Counter[int]:
        with self.lock:
            return Counter(code for _, _, code in self.attempts if code != 250)

    def _deliver(self, stop: threading.Event) -> None:
        while not stop.is_set():
            with self.lock:
                reply = self.queue.popleft() if self.queue else None
            if reply is None:
                time.sleep(0.05)
                continue
            began = time.monotonic()
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=60) as client:
                    client.sendmail(reply.sender, [reply.rcpt], reply.raw)
                code = 250
            except smtplib.SMTPResponseException as exc:
                code = exc.smtp_code
            except (OSError, smtplib.SMTPException) as exc:
                code = 0  # no answer at all: try again, as for a 4xx
                with self.lock:
                    self.unanswered.append(f"{type(exc).__name__}: {exc}")
            with self.lock:
                self.attempts.append((began, time.monotonic(), code))
                if code == 250:
                    self.accepted.append(reply)
                elif code == 0 or 400 <= code < 500:
                    self.queue.append(reply)
                else:
                    self.refused.append(f"{code} for {reply.message_id}")
            if code != 250:
                time.sleep(0.3)


@pytest.mark.slow
def test_serve_processes_every_reply_after_its_postgresql_cluster_is_stopped_and_started(
    cluster: PostgresCluster, tmp_path: Path
) -> None:
    """The issue's measurement, made small: ``mailcapture serve`` on a cluster of the test's
    own; replies arrive over SMTP from four connections at once; the cluster is stopped
    while stored replies wait to be processed, and started again some seconds later. Every
    reply the listener accepted is processed and applied exactly once, with exactly one
    confirmation each, by the same ``serve`` process."""
    db_url = cluster.create_database("mailcapture")
    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    load_folder(CONFIG_DIR, sessions, LOADED_AT)
    tick(sessions, REQUESTS_AT)
    replies = _replies(sessions, REPLIES_EACH)
    state = tmp_path / "state"
    port = free_port()
    sink = RecordingSink()
    figures: dict[str, object] = {"replies": len(replies)}
    log = tmp_path / "serve.log"  # on disk, so a failure can show what the service said
    with smtp_sink(sink) as sink_url, log.open("w") as log_file:
        env = {
            **os.environ,
            "MAILCAPTURE_DATABASE_URL": db_url,
            "MAILCAPTURE_LISTEN": f"127.0.0.1:{port}",
            "MAILCAPTURE_SMTP_URL": sink_url,
            "MAILCAPTURE_MAIL_DIR": str(tmp_path / "mail" / "outbox"),
            "MAILCAPTURE_STATE_DIR": str(state),
            "MAILCAPTURE_SEND_SECONDS": "1",
            "MAILCAPTURE_TICK_SECONDS": "3600",
            "MAILCAPTURE_SWEEP_SECONDS": "60",
        }
        serve = subprocess.Popen(
            [sys.executable, "-m", "mailcapture", "serve", "--now", "2026-05-05T10:00"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
            text=True,
        )
        stop_client = threading.Event()
        # Half the replies go out first; the rest are posted once the cluster is down, so
        # there is mail arriving during the outage whatever the machine's speed.
        client = RetryingClient(port, deque(replies[: len(replies) // 2]))
        threads: list[threading.Thread] = []
        try:
            _wait_for(lambda: read_services(state) and _greets(port), 30, "serve to listen")
            threads = client.run(stop_client)

            def waiting() -> int:
                with sessions() as s:
                    return int(
                        s.scalar(
                            select(func.count())
                            .select_from(m.InboundMessage)
                            .where(m.InboundMessage.state == "received")
                        )
                        or 0
                    )

            # Mid-run: replies coming in, some of them stored and not yet processed.
            _wait_for(
                lambda: len(client.accepted) >= 5 and waiting() > 0,
                60,
                "a backlog of stored replies",
            )
            figures["waiting when stopped"] = waiting()
            engine.dispose()
            down = time.monotonic()
            cluster.stop()
            stopped = time.monotonic()
            with client.lock:
                client.queue.extend(replies[len(replies) // 2 :])
            # The processing worker meets the outage and backs off; health says so.
            _wait_for(lambda: _backing_off(state, "pipeline"), 30, "the pipeline to back off")
            health = subprocess.run(
                [sys.executable, "-m", "mailcapture", "health"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert health.returncode == 1
            assert "worker pipeline: backing off since " in health.stderr, health.stderr
            time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down)))
            restarting = time.monotonic()  # the server may answer before pg_ctl returns
            cluster.start()
            figures["outage seconds"] = round(time.monotonic() - down, 1)

            def drained() -> bool:
                if len(client.accepted) < len(replies):
                    return False
                with sessions() as s:
                    unsent = s.scalar(
                        select(func.count())
                        .select_from(m.OutboxMessage)
                        .where(m.OutboxMessage.state.in_(["queued", "sending"]))
                    )
                return waiting() == 0 and unsent == 0

            figures["seconds to drain after restart"] = round(
                _wait_for(drained, 45, "every reply processed and confirmed"), 1
            )
            _wait_for(
                lambda: not any(_backing_off(state, w) for w in ("pipeline", "send", "tick")),
                30,
                "the workers running again",
            )
            health = subprocess.run(
                [sys.executable, "-m", "mailcapture", "health"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert health.returncode == 0, health.stderr
            assert f"workers: ok (pid {serve.pid}: 5 running" in health.stdout, health.stdout
        finally:
            stop_client.set()
            for thread in threads:
                thread.join(30)
            serve.send_signal(signal.SIGTERM)
            serve.wait(timeout=60)
            err = log.read_text()
            print("serve's log, the last lines:", *err.splitlines()[-60:], sep="\n")
    # Every attempt made while the cluster was down, start to end, was deferred with 451.
    during = [
        code for began, ended, code in client.attempts if stopped <= began and ended <= restarting
    ]
    figures["SMTP attempts while down"] = dict(Counter(during))
    figures["deferred attempts in all"] = dict(client.deferred())
    figures["unanswered attempts"] = client.unanswered
    print("outage figures:", figures)
    assert serve.returncode == 0, err[-3000:]
    assert client.refused == []
    assert during and set(during) == {451}, figures
    assert len(client.accepted) == len(replies)
    assert '"event": "worker.backing_off"' in err
    assert '"event": "worker.resumed"' in err
    assert "Exception in thread" not in err
    try:
        _check_applied_once(sessions, replies, _confirmations(sink))
    finally:
        engine.dispose()


def _greets(port: int) -> bool:
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
            return client.noop()[0] == 250
    except OSError:
        return False


def _backing_off(state: Path, worker: str) -> bool:
    for service in read_services(state):
        if isinstance(service, ServiceStatus):
            return any(w.name == worker and w.state == BACKING_OFF for w in service.workers)
    return False
