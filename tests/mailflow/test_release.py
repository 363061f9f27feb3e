"""Held replies (issue 15, part 6): the performance team is told, and can release a genuine one.

A reply that our receiving host says failed DMARC (``dmarc_fail_trailing_semicolon.eml``,
Yahoo's spelling, from ``tests/corpus/hostile/``) is held: nothing applied, the sender not
told. What was a dead end now has two ways out: the performance team gets one notice per
held reply (who, why, the first lines, cleaned of links), and a member of the team who has
checked with the sender can release it with ``Pipeline.release``; it is then applied as it
would have been, with who released it and why in its audit trail. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.mailflow.pipeline import ReleaseRefused
from tests.conftest import SampleRegister
from tests.mailflow.test_hostile_auth import answering, hostile
from tests.mailflow.world import PipelineWorld, april_requests_sent

KEVIN = "Kevin Walsh <kevin.walsh@ashdown.example>"
KEVIN_ADDRESS = "kevin.walsh@ashdown.example"
TEAM_MEMBER = "martin.shaw@ashdown.example"  # performance team in the sample register
HELD = "dmarc_fail_trailing_semicolon.eml"


@pytest.fixture
def world(sessions: sessionmaker[Session], sample_register: SampleRegister) -> PipelineWorld:
    return april_requests_sent(sessions, sample_register)


def _held_reply(world: PipelineWorld, answers: str, sender: str = KEVIN) -> int:
    raw = hostile(
        HELD, **answering(world.request_raw(KEVIN_ADDRESS)), **{"from": sender, "answers": answers}
    )
    result = world.ingest(raw)
    assert (result.state, result.outcome) == ("quarantined", "dmarc-fail"), result
    return result.id


def _text(row: m.OutboxMessage) -> str:
    return " ".join(clients.plain_text(clients.parsed(row.raw)).split())


def test_the_team_is_told_of_a_held_reply_and_the_sender_is_not(world: PipelineWorld) -> None:
    held = _held_reply(
        world, "BV8a.1: 1,870\nBV8a.2: 1,902\nSee http://evil.example/x or mail a@b.example"
    )
    [notice] = world.outbox("quarantine_notice")
    assert notice.recipient == "performance@ashdown.example"
    text = _text(notice)
    assert f"Message: {held}" in text and KEVIN_ADDRESS in text and "DMARC failed" in text
    assert "BV8a.1: 1,870" in text  # the first lines, so the team knows what it says
    assert "evil.example" not in text and "a@b.example" not in text  # never a forger's link
    assert f"mailcapture release {held} --by" in text
    assert world.outbox("confirmation") == [] and world.outbox("rejection_notice") == []
    assert world.current("BV8a.1") is None
    row = world.inbound(held)
    assert "the performance team told" in (row.outcome_detail or "")


def test_a_flood_of_held_replies_is_capped_and_left_to_the_digest(world: PipelineWorld) -> None:
    for n in range(23):
        world.clock.set(datetime(2026, 5, 5, 9, 0, n, tzinfo=UTC))
        _held_reply(world, f"BV8a.1: {1800 + n}")
    assert len(world.outbox("quarantine_notice")) == 20
    with world.sessions() as s:
        withheld = [
            r.id
            for r in s.scalars(select(m.InboundMessage).order_by(m.InboundMessage.id))
            if any(e.get("result") == "withheld" for e in r.stages or [])
        ]
    assert len(withheld) == 3


def test_a_team_member_releases_a_held_reply_and_it_is_applied(world: PipelineWorld) -> None:
    held = _held_reply(world, "BV8a.1: 1,870\nBV8a.2: 1,902")
    result = world.pipeline.release(held, TEAM_MEMBER.upper(), "  Kevin confirmed by phone ")
    assert (result.state, result.outcome) == ("processed", "applied"), result
    assert world.current("BV8a.1") == (Decimal(1870), "accepted")
    assert world.current("BV8a.2") == (Decimal(1902), "accepted")
    [confirmation] = world.outbox("confirmation")
    assert confirmation.recipient == KEVIN_ADDRESS
    released = [e for e in world.inbound(held).stages or [] if e.get("stage") == "release"]
    assert len(released) == 1
    assert released[0]["detail"].startswith(f"by {TEAM_MEMBER}: Kevin confirmed by phone")
    assert "DMARC failed" in released[0]["detail"]
    with pytest.raises(ReleaseRefused, match="not a reply held"):  # once only
        world.pipeline.release(held, TEAM_MEMBER, "again")


@pytest.mark.parametrize(
    ("by", "reason", "refusal"),
    [
        (KEVIN_ADDRESS, "he says it is his", "only the performance team may release"),
        ("nobody@ashdown.example", "confirmed", "not a person in the register"),
        (TEAM_MEMBER, "   ", "say why"),
    ],
)
def test_only_the_team_releases_and_says_why(
    world: PipelineWorld, by: str, reason: str, refusal: str
) -> None:
    held = _held_reply(world, "BV8a.1: 1,870")
    with pytest.raises(ReleaseRefused, match=refusal):
        world.pipeline.release(held, by, reason)
    assert world.inbound(held).state.value == "quarantined"
    assert world.current("BV8a.1") is None


def test_release_does_not_let_anyone_else_answer_for_the_person(world: PipelineWorld) -> None:
    """Releasing overrides only our host's DMARC verdict: a reply from someone who was not
    asked is still refused as it would have been."""
    held = _held_reply(world, "BV8a.1: 1,870", sender="Jason Reid <jason.reid@ashdown.example>")
    result = world.pipeline.release(held, TEAM_MEMBER, "Jason says he sent it for Kevin")
    assert result.outcome == "wrong-person"
    assert world.current("BV8a.1") is None


def test_a_message_not_held_for_authentication_cannot_be_released(world: PipelineWorld) -> None:
    applied = world.ingest(clients.phone(world.request_raw(KEVIN_ADDRESS), KEVIN, "BV8a.1: 1,870"))
    with pytest.raises(ReleaseRefused, match="only those can be released"):
        world.pipeline.release(applied.id, TEAM_MEMBER, "why not")
    with pytest.raises(ReleaseRefused, match="no inbound message"):
        world.pipeline.release(99999, TEAM_MEMBER, "why not")
