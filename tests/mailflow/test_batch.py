"""Batches (issue 14, part 3): several stored messages processed in one transaction.

``Pipeline.process_batch`` claims the stored messages it is given in one statement and runs
each in a savepoint of its own, so one that raises is rolled back alone, marked ``failed``
with its error kept, and the others' work is committed with it. Run on SQLite and
PostgreSQL over the sample council after the April requests went out.

The fault is a real one, not a stand-in: the stored ``capture`` settings are made unreadable
(as a hand-edited database or a half-finished migration could leave them), and only a reply
with a figure to check for plausibility reads them. So Kevin's milestone status and Natalie's
out-of-office go through, and Amy's figures fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.mailflow.store import Envelope
from tests.conftest import SampleRegister
from tests.mailflow.world import PipelineWorld, april_requests_sent

KEVIN = "kevin.walsh@ashdown.example"
AMY = "amy.lawson@ashdown.example"
NATALIE = "natalie.price@ashdown.example"


@pytest.fixture
def world(sessions: sessionmaker[Session], sample_register: SampleRegister) -> PipelineWorld:
    return april_requests_sent(sessions, sample_register)


def _store(world: PipelineWorld, raw: bytes) -> int:
    return world.pipeline.store_only(raw, Envelope(source="test")).id


def _kinds(world: PipelineWorld, email: str) -> list[str]:
    with world.sessions() as s:
        return list(
            s.scalars(
                select(m.OutboxMessage.kind).where(
                    m.OutboxMessage.recipient.contains(email), m.OutboxMessage.kind != "request"
                )
            )
        )


@contextmanager
def counting_commits(engine: Engine) -> Iterator[list[int]]:
    commits: list[int] = []

    def commit(_conn: object) -> None:
        commits.append(1)

    event.listen(engine, "commit", commit)
    try:
        yield commits
    finally:
        event.remove(engine, "commit", commit)


def test_a_message_that_raises_mid_batch_fails_alone_and_the_others_are_applied(
    world: PipelineWorld,
) -> None:
    kevin = _store(world, clients.iphone(world.request_raw(KEVIN), KEVIN, "P09.M0: at risk"))
    # Amy's status for P10.M0 is recorded before her figure is checked: the savepoint must
    # take it back when the figure raises.
    amy = _store(
        world, clients.phone(world.request_raw(AMY), AMY, "P10.M0: on track\nLCS01.1: 1,200")
    )
    natalie = _store(
        world, clients.out_of_office(world.request_raw(NATALIE), NATALIE, "I am away.")
    )
    with world.sessions.begin() as s:
        s.merge(m.ServiceSetting(key="capture", value={"unreadable": True}))
    engine = world.sessions.kw["bind"]
    with counting_commits(engine) as commits:
        batch = world.pipeline.process_batch([natalie, amy, kevin])
    assert len(commits) == 1  # the whole batch, one commit
    by_id = {r.id: r for r in batch.results}
    assert [r.id for r in batch.results] == [kevin, amy, natalie]  # in the order stored
    assert (by_id[kevin].state, by_id[kevin].outcome) == ("processed", "applied")
    assert (by_id[natalie].state, by_id[natalie].outcome) == ("processed", "auto-reply")
    assert (by_id[amy].state, by_id[amy].outcome) == ("failed", "failed")
    assert "capture settings cannot be read" in (by_id[amy].detail or "")
    # The failed message's own work is rolled back, its error and traceback kept.
    failed = world.inbound(amy)
    assert failed.attempts == 1
    assert failed.error is not None and "Traceback" in failed.error
    assert "SettingsError" in failed.error
    assert world.current("P10.M0") is None and world.current("LCS01.1") is None
    assert _kinds(world, AMY) == []
    # The others' work is committed with it: Kevin's status and his confirmation.
    assert world.current("P09.M0") == ("at_risk", "accepted")
    assert _kinds(world, KEVIN) == ["confirmation"]
    assert batch.waiting == [] and batch.skipped == []


def test_a_later_reply_waits_for_an_earlier_one_from_the_same_sender(
    world: PipelineWorld,
) -> None:
    """A person's correction must never be applied before the figure it corrects: a batch
    that holds the later reply but not the earlier one (another worker has it, or the
    queue is out of order) leaves it waiting, and takes it once the earlier one is done."""
    request = world.request_raw(KEVIN)
    first = _store(world, clients.phone(request, KEVIN, "BV8a.1: 1,400"))
    second = _store(world, clients.phone(request, KEVIN, "BV8a.1: 1,450"))
    batch = world.pipeline.process_batch([second])
    assert batch.results == [] and batch.waiting == [second]
    assert world.inbound(second).state.value == "received"
    done = world.pipeline.process_batch([first])
    assert [r.outcome for r in done.results] == ["applied"]
    later = world.pipeline.process_batch([second, first])
    assert [r.id for r in later.results] == [second] and later.skipped == [first]
    assert world.current("BV8a.1") == (Decimal(1450), "accepted")


def test_a_persons_second_reply_in_a_batch_waits_for_the_next(world: PipelineWorld) -> None:
    """Both of Kevin's replies in one batch: the first is applied, the second waits (the
    first might have been another worker's, locked and skipped: a claim cannot tell), and the
    next batch applies it, after the first."""
    request = world.request_raw(KEVIN)
    first = _store(world, clients.phone(request, KEVIN, "BV8a.1: 1,400"))
    second = _store(world, clients.phone(request, KEVIN, "BV8a.1: 1,450"))
    amy = _store(world, clients.phone(world.request_raw(AMY), AMY, "P10.M0: on track"))
    batch = world.pipeline.process_batch([second, first, amy])
    assert [r.id for r in batch.results] == [first, amy] and batch.waiting == [second]
    assert world.current("BV8a.1") == (Decimal(1400), "accepted")
    again = world.pipeline.process_batch(batch.waiting)
    assert [r.id for r in again.results] == [second]
    assert world.current("BV8a.1") == (Decimal(1450), "accepted")
