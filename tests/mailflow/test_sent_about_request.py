"""A reply is read against a bounded set of what we sent about its request.

Every reply to a request gets a confirmation, without end, and a reply is read against what
we sent about the request (an untouched copy of ours is no answer). Reading every one of
them made each reply to a request cost more than the one before: past 2,000 confirmations
in the fuzz run, one reply decoded about 430 of them (issue 14, bounded cost). A reply is
now read against the request, the other emails about it that are not automatic, the latest
:data:`SENT_ABOUT_LATEST` automatic ones, and any its In-Reply-To/References name.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.mailflow.loops import SENT_ABOUT_LATEST, answered_outbox
from tests.conftest import SampleRegister
from tests.mailflow.world import PipelineWorld, april_requests_sent

KEVIN = "Kevin Walsh <kevin.walsh@ashdown.example>"
REPLIES = SENT_ABOUT_LATEST + 4


@pytest.fixture
def world(sessions: sessionmaker[Session], sample_register: SampleRegister) -> PipelineWorld:
    return april_requests_sent(sessions, sample_register)


def test_a_reply_reads_only_the_latest_confirmations_about_its_request(
    world: PipelineWorld,
) -> None:
    request_raw = world.request_raw("kevin.walsh@ashdown.example")
    start = world.clock.now()
    for n in range(REPLIES):  # an hour apart: each gets its confirmation
        result = world.ingest(
            clients.gmail_top_posted(request_raw, KEVIN, f"BV8a.1: {1870 + n}"),
            at=start + timedelta(hours=n),
        )
        assert result.outcome == "applied", result
    with world.sessions() as s:
        request = s.scalars(
            select(m.DataRequest)
            .join(m.Person, m.Person.id == m.DataRequest.person_id)
            .where(m.Person.email == "kevin.walsh@ashdown.example")
        ).one()
        confirmations = s.scalars(
            select(m.OutboxMessage.id)
            .where(m.OutboxMessage.request_id == request.id, m.OutboxMessage.kind == "confirmation")
            .order_by(m.OutboxMessage.id)
        ).all()
        assert len(confirmations) == REPLIES
        oldest = confirmations[0]
        message_id = s.scalar(
            select(m.OutboxMessage.message_id).where(m.OutboxMessage.id == oldest)
        )
        assert message_id is not None

        _, sent = answered_outbox(s, [], request)
        assert sent is not None
        kinds = sorted(row.kind for row in sent)
        assert kinds == ["confirmation"] * SENT_ABOUT_LATEST + ["request"]
        assert {row.id for row in sent if row.kind == "confirmation"} == set(
            confirmations[-SENT_ABOUT_LATEST:]
        )

        # The oldest, named in In-Reply-To, is still what the reply answers.
        answered, sent = answered_outbox(s, [message_id.strip("<>")], request)
        assert answered is not None and answered.id == oldest
