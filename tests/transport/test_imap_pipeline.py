"""The IMAP poller feeding the real pipeline, on SQLite and PostgreSQL, from a real Dovecot.

The replies are built from the requests the April 2026 tick really queued, the way mail
clients write them, and are APPENDed to the mailbox. ``store`` is what the service wires:
``Pipeline.ingest`` with ``Envelope(source="imap", source_ref=ref)``. The assertions are on
the database: every value lands exactly once, and a message the poller hands over twice
(a crash between commit and move, a renumbered folder, a re-delivery) is recorded as a
duplicate and never applied again.
"""

from __future__ import annotations

import imaplib
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import FixedClock, as_utc
from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.mailflow.pipeline import IngestResult, Pipeline
from mailcapture.mailflow.store import Envelope
from mailcapture.schedule.tick import tick
from mailcapture.transport.imap import ImapPoller, ImapSettings
from tests.conftest import SampleRegister
from tests.dovecot import DovecotServer, dovecot_fixture

pytestmark = pytest.mark.db

dovecot = dovecot_fixture()

# What a dropped connection looks like to the poller: imaplib's abort or a socket error.
CONNECTION_LOST = (imaplib.IMAP4.abort, OSError)

# (sender, request of, answer line, component, value): one reply each, nine in all, from
# the five people who got an April request; every reply answers a different component,
# with a figure near the sample history's (an implausible one would be held, not applied).
REPLIES = [
    ("Kevin Walsh <kevin.walsh@ashdown.example>", "kevin.walsh", "BV8a.1: 1,480", 1480),
    ("Amy Lawson <amy.lawson@ashdown.example>", "amy.lawson", "LCS01.1: 16,520", 16520),
    ("Jason Reid <jason.reid@ashdown.example>", "jason.reid", "BV212.1: 790", 790),
    ("Natalie Price <natalie.price@ashdown.example>", "natalie.price", "LWR01.1: 300", 300),
    ("Fiona Grant <fiona.grant@ashdown.example>", "fiona.grant", "ST03.1: 2,402", 2402),
    ("Kevin Walsh <kevin.walsh@ashdown.example>", "kevin.walsh", "BV8a.2: 1,512", 1512),
    ("Amy Lawson <amy.lawson@ashdown.example>", "amy.lawson", "LCS01.2: 19,480", 19480),
    ("Jason Reid <jason.reid@ashdown.example>", "jason.reid", "BV212.2: 20", 20),
    ("Natalie Price <natalie.price@ashdown.example>", "natalie.price", "LWR01.2: 503,400", 503400),
]


class World:
    """The sample council after the April 2026 requests went out, and a mailbox."""

    def __init__(self, sessions: sessionmaker[Session], server: DovecotServer) -> None:
        self.sessions = sessions
        self.server = server
        self.pipeline = Pipeline(sessions, FixedClock(datetime(2026, 5, 5, 9, 0, tzinfo=UTC)))
        self.results: list[IngestResult] = []
        self.logs: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def request_raw(self, local: str) -> bytes:
        with self.sessions() as s:
            return s.scalars(
                select(m.OutboxMessage.raw)
                .join(m.Person)
                .where(
                    m.Person.email == f"{local}@ashdown.example",
                    m.OutboxMessage.kind == "request",
                )
            ).one()

    def replies(self) -> list[bytes]:
        return [
            clients.phone(self.request_raw(local), sender, line)
            for sender, local, line, _ in REPLIES
        ]

    def store(self, raw: bytes, ref: str) -> IngestResult:
        """What the service wires: commit (and here also process) before returning."""
        result = self.pipeline.ingest(raw, Envelope(source="imap", source_ref=ref))
        with self.lock:
            self.results.append(result)
        return result

    def poller(self, hook: Callable[[int], None] | None = None, **kwargs: Any) -> ImapPoller:
        """A poller whose store runs ``hook(n)`` right after the n-th commit (all pollers
        of this world counted together)."""

        def store(raw: bytes, ref: str) -> IngestResult:
            result = self.store(raw, ref)
            if hook is not None:
                hook(len(self.results))
            return result

        return ImapPoller(
            ImapSettings.from_url(self.server.url()),
            store,
            on_log=lambda event, fields: self.logs.append((event, fields)),
            **kwargs,
        )

    # ---- what is in the database -----------------------------------------------------
    def email_values(self, code: str) -> list[tuple[Decimal | None, str, bool, int | None]]:
        with self.sessions() as s:
            return [
                (r.value, r.state.value, r.is_current, r.inbound_message_id)
                for r in s.scalars(
                    select(m.ComponentValue)
                    .join(m.Component)
                    .join(m.Period)
                    .where(
                        m.Component.code == code,
                        m.Period.code == "2026-04",
                        m.ComponentValue.source == "email",
                    )
                    .order_by(m.ComponentValue.id)
                )
            ]

    def inbound(self) -> list[m.InboundMessage]:
        with self.sessions() as s:
            return list(s.scalars(select(m.InboundMessage).order_by(m.InboundMessage.id)))

    def assert_every_value_landed_once(self) -> None:
        for _, _, line, value in REPLIES:
            code = line.split(":")[0]
            rows = self.email_values(code)
            assert len(rows) == 1, (code, rows)
            assert rows[0][:3] == (Decimal(value), "accepted", True), (code, rows)


@pytest.fixture
def world(
    sessions: sessionmaker[Session], sample_register: SampleRegister, dovecot: DovecotServer
) -> World:
    sample_register.load(sessions, datetime(2026, 4, 20, 12, 0, tzinfo=UTC))
    tick(sessions, as_utc(datetime(2026, 5, 1, 9, 0)))
    return World(sessions, dovecot)


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def run_until(poller: ImapPoller, done: Callable[[], bool], stop: threading.Event) -> None:
    thread = threading.Thread(target=poller.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert wait_until(done, timeout=20)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive(), "run() did not return within 10 s of stop"


# ---------------------------------------------------------------------------- tests


def test_replies_in_the_mailbox_are_captured_and_moved(world: World) -> None:
    replies = world.replies()
    uids = [world.server.append(raw) for raw in replies]
    uidvalidity = world.server.uidvalidity()
    poller = world.poller()
    try:
        assert poller.poll_once() == len(replies)
    finally:
        poller.close()

    assert [r.outcome for r in world.results] == ["applied"] * len(replies), world.results
    world.assert_every_value_landed_once()
    rows = world.inbound()
    assert [(r.source, r.source_ref) for r in rows] == [
        ("imap", f"imap:{uidvalidity}:{uid}") for uid in uids
    ]
    assert [bytes(r.raw) for r in rows] == replies  # the exact bytes, as fetched
    assert all(r.duplicate_of_id is None for r in rows)
    assert world.server.messages("INBOX") == {}
    assert sorted(world.server.messages("Processed").values()) == sorted(replies)
    with world.sessions() as s:
        confirmations = s.scalars(
            select(m.OutboxMessage).where(m.OutboxMessage.kind == "confirmation")
        ).all()
        assert len(confirmations) == len(replies)


def test_restarting_the_poller_mid_run_applies_nothing_twice_and_misses_nothing(
    world: World,
) -> None:
    replies = world.replies()
    for raw in replies:
        world.server.append(raw)

    # 1. A graceful stop (SIGTERM) while the 3rd message is in hand.
    stop = threading.Event()
    first = world.poller(lambda n: stop.set() if n == 3 else None, idle_timeout=30)
    run_until(first, stop.is_set, stop)
    assert len(world.results) == 3
    assert len(world.server.messages("Processed")) == 3  # the one in hand was finished

    # 2. A crash at the worst moment: the 5th is committed, then the connection dies
    #    before it is moved. Delivery is at least once...
    def crash_after_fifth(n: int) -> None:
        if n == 5:
            world.server.stop()

    second = world.poller(crash_after_fifth)
    with pytest.raises(CONNECTION_LOST):
        second.poll_once()
    second.close()
    world.server.start()
    assert len(world.server.messages("Processed")) == 4

    # 3. A new poller (a restarted service) finishes the job.
    stop = threading.Event()
    third = world.poller(idle_timeout=30)
    run_until(third, lambda: len(world.results) == len(replies) + 1, stop)

    # ...and exactly-once application comes from the pipeline's de-duplication.
    world.assert_every_value_landed_once()
    rows = world.inbound()
    assert len(rows) == len(replies) + 1
    [duplicate] = [r for r in rows if r.duplicate_of_id is not None]
    original = next(r for r in rows if r.id == duplicate.duplicate_of_id)
    assert duplicate.state.value == "duplicate"
    assert bytes(duplicate.raw) == bytes(original.raw) == replies[4]
    assert duplicate.source_ref == original.source_ref  # the same UID, fetched twice
    assert sorted(bytes(r.raw) for r in rows if r.duplicate_of_id is None) == sorted(replies)
    assert world.server.messages("INBOX") == {}
    assert len(world.server.messages("Processed")) == len(replies)


def test_a_uidvalidity_change_records_a_duplicate_not_a_second_application(
    world: World,
) -> None:
    replies = world.replies()[:3]
    for raw in replies:
        world.server.append(raw)
    before = world.server.uidvalidity()

    def crash_after_third(n: int) -> None:
        if n == 3:
            world.server.stop()

    poller = world.poller(crash_after_third)
    try:
        with pytest.raises(CONNECTION_LOST):
            poller.poll_once()
        # While it is down the server loses its UID list (an index rebuild, a restore):
        # the same message files come back under a new UIDVALIDITY with new UIDs.
        world.server.renumber()
        world.server.start()
        after = world.server.uidvalidity()
        assert after != before
        assert poller.poll_once() == 1  # the same poller carries on
    finally:
        poller.close()

    [change] = [f for e, f in world.logs if e == "imap.uidvalidity_changed"]
    assert (change["old"], change["new"]) == (before, after)
    rows = world.inbound()
    assert len(rows) == 4
    assert [r.duplicate_of_id for r in rows] == [None, None, None, rows[2].id]
    assert rows[3].state.value == "duplicate"
    assert rows[2].source_ref.startswith(f"imap:{before}:")
    assert rows[3].source_ref.startswith(f"imap:{after}:")
    code = REPLIES[2][2].split(":")[0]
    assert len(world.email_values(code)) == 1  # applied once
    assert world.server.messages("INBOX") == {}


def test_a_message_delivered_again_is_a_duplicate(world: World) -> None:
    """The other way a UID stops meaning "this message": it was moved away (or deleted)
    and the same message arrives again, under a new UID."""
    [raw] = world.replies()[:1]
    world.server.append(raw)
    poller = world.poller()
    try:
        assert poller.poll_once() == 1
        world.server.append(raw)  # re-delivered, e.g. somebody moved it back
        assert poller.poll_once() == 1
    finally:
        poller.close()
    first, second = world.inbound()
    assert (first.duplicate_of_id, second.duplicate_of_id) == (None, first.id)
    assert first.source_ref != second.source_ref
    assert [r.outcome for r in world.results] == ["applied", "duplicate"]
    assert world.email_values("BV8a.1")[0][:3] == (Decimal(1480), "accepted", True)
    assert len(world.email_values("BV8a.1")) == 1
    assert len(world.server.messages("Processed")) == 2
