"""The confirmation's commentary check, computed from what the reply itself recorded.

Since issue 14 the confirm stage no longer asks the reports' queries for the request's
indicators: it computes them from the rows the apply stage read and wrote, before they are
flushed (``mailflow.history``). These tests hold it to the reports' own answer, read
independently from the database once the reply is committed: a reply that makes BV8a red
and worse is asked for commentary in the reports' words; one that brings the comment with
it, or a figure that is on target, is not.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import FixedClock, as_utc
from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.domain.periods import parse_period
from mailcapture.mailflow.pipeline import Pipeline
from mailcapture.mailflow.store import Envelope
from mailcapture.reports.commentary import needing_commentary
from mailcapture.schedule.tick import tick
from tests.conftest import SampleRegister

KEVIN = "Kevin Walsh <kevin.walsh@ashdown.example>"
APRIL = parse_period("2026-04")
#: How the confirmation asks for commentary (templates/emails/confirmation.txt).
ASKS = ("needs a line of commentary", "Please add a comment on")


@pytest.fixture
def april(
    sessions: sessionmaker[Session], sample_register: SampleRegister
) -> sessionmaker[Session]:
    sample_register.load(sessions, datetime(2026, 4, 20, 12, 0, tzinfo=UTC))
    tick(sessions, as_utc(datetime(2026, 5, 1, 9, 0)))
    return sessions


def reply(sessions: sessionmaker[Session], answers: str) -> str:
    """Kevin's reply with ``answers``; the text of the confirmation it got."""
    with sessions() as s:
        raw = s.scalars(
            select(m.OutboxMessage.raw).where(
                m.OutboxMessage.kind == "request",
                m.OutboxMessage.recipient == "kevin.walsh@ashdown.example",
            )
        ).one()
    pipeline = Pipeline(sessions, FixedClock(datetime(2026, 5, 5, 9, 0, tzinfo=UTC)))
    result = pipeline.ingest(clients.gmail_top_posted(raw, KEVIN, answers), Envelope(source="test"))
    assert result.outcome == "applied", result
    with sessions() as s:
        [confirmation] = s.scalars(
            select(m.OutboxMessage.raw).where(
                m.OutboxMessage.kind == "confirmation", m.OutboxMessage.in_reply_to_id == result.id
            )
        ).all()
    return _plain_text(message_from_bytes(confirmation))


def _plain_text(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return " ".join(payload.decode(part.get_content_charset() or "utf-8").split())
    raise AssertionError("no text part")


def needed_now(sessions: sessionmaker[Session]) -> list[tuple[str, str]]:
    """The reports' own answer, from the committed database."""
    with sessions() as s:
        return [(row.code, why) for row, why in needing_commentary(s, APRIL, ["BV8a"])]


def test_a_red_and_worsening_figure_is_asked_for_commentary_in_the_reports_words(
    april: sessionmaker[Session],
) -> None:
    text = reply(april, "BV8a.1: 1,400\nBV8a.2: 1,520")
    # 1400 / 1520 = 92.1%: red against 97.5%, and below March's figure.
    assert needed_now(april) == [("BV8a", "red (92.1% against 97.5%) and worsening since 2026-03")]
    assert "BV8a is red (92.1% against 97.5%) and worsening since 2026-03" in text
    assert ASKS[0] in text


def test_a_reply_that_brings_its_comment_is_not_asked_again(
    april: sessionmaker[Session],
) -> None:
    text = reply(april, "BV8a.1: 1,400\nBV8a.2: 1,520\n[BV8a comment]: two of the team were off")
    assert needed_now(april) == []
    assert not any(ask in text for ask in ASKS), text


def test_a_figure_on_target_is_not_asked_for_commentary(april: sessionmaker[Session]) -> None:
    text = reply(april, "BV8a.1: 1,500\nBV8a.2: 1,510")  # 99.3%: green
    assert needed_now(april) == []
    assert not any(ask in text for ask in ASKS), text
