"""A message handed to the pipeline a second time is left as it is, at once.

The service can queue one stored message twice (the listener's hand-off and the sweep both
see it). Asking for a processed message's result used to open a second transaction inside
the first; on SQLite, whose transactions begin IMMEDIATE, that waited on this thread's own
lock for the whole busy timeout and then marked the processed reply *failed*.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.mailflow.store import Envelope
from tests.conftest import SampleRegister
from tests.mailflow.world import PipelineWorld, april_requests_sent

KEVIN = "Kevin Walsh <kevin.walsh@ashdown.example>"


@pytest.fixture
def world(sessions: sessionmaker[Session], sample_register: SampleRegister) -> PipelineWorld:
    return april_requests_sent(sessions, sample_register)


def test_processing_a_processed_message_again_changes_nothing(world: PipelineWorld) -> None:
    request = world.request_raw("kevin.walsh@ashdown.example")
    stored = world.pipeline.store_only(
        clients.phone(request, KEVIN, "BV8a.1: 1234"), Envelope(source="test")
    )
    first = world.pipeline.process(stored.id)
    assert (first.state, first.outcome) == ("processed", "applied")

    started = time.monotonic()
    again = world.pipeline.process(stored.id)
    assert time.monotonic() - started < 5  # not a wait on our own lock
    assert again == first
    with world.sessions() as s:
        row = s.get_one(m.InboundMessage, stored.id)
        assert (row.state.value, row.outcome, row.attempts) == ("processed", "applied", 1)
