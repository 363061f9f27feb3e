"""Every real sample in the corpus goes through the whole pipeline and ends recorded."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import FixedClock
from mailcapture.db import models as m
from mailcapture.mailflow.pipeline import Pipeline
from mailcapture.mailflow.store import Envelope
from tests.conftest import CORPUS, SampleRegister

SAMPLES = sorted(CORPUS.rglob("*.eml"))
EXPECTED_CLASS = {"auto": "auto-reply", "bounces": "bounce", "replies": "human"}


def test_the_corpus_is_all_there() -> None:
    assert len(SAMPLES) >= 65
    folders = {"auto", "bounces", "hostile", "malformed", "replies"}
    assert {p.parent.name for p in SAMPLES} == folders


@pytest.fixture
def pipeline(sessions: sessionmaker[Session], sample_register: SampleRegister) -> Pipeline:
    sample_register.load(sessions, datetime(2026, 4, 20, tzinfo=UTC))
    return Pipeline(sessions, FixedClock(datetime(2026, 5, 5, 9, 0, tzinfo=UTC)))


def test_every_sample_is_stored_classified_and_recorded(
    pipeline: Pipeline, sessions: sessionmaker[Session]
) -> None:
    results = {}
    for path in SAMPLES:
        raw = path.read_bytes()
        result = pipeline.ingest(raw, Envelope(source="test", source_ref=str(path)))
        results[path] = result
        assert result.state in {"processed", "quarantined", "duplicate"}, (path, result)
    with sessions() as session:
        stored = session.scalar(select(func.count()).select_from(m.InboundMessage))
        assert stored == len(SAMPLES)
        for path, result in results.items():
            row = session.get_one(m.InboundMessage, result.id)
            assert row.raw == path.read_bytes()  # byte for byte, whatever happened next
            expected = EXPECTED_CLASS.get(path.parent.name)
            if expected is not None and not result.duplicate:
                assert row.classification is not None, path
                assert row.classification.value == expected, (path, row.classification_rule)
            assert row.stages or result.duplicate
        # Nobody in the corpus is in the register: nothing may be stored as a value.
        assert (
            session.scalar(
                select(func.count())
                .select_from(m.ComponentValue)
                .where(m.ComponentValue.source == "email")
            )
            == 0
        )
        # Never a reply to a bounce or an auto-reply.
        answered = set(
            session.scalars(
                select(m.OutboxMessage.in_reply_to_id).where(
                    m.OutboxMessage.in_reply_to_id.is_not(None)
                )
            )
        )
        for path, result in results.items():
            row = session.get_one(m.InboundMessage, result.id)
            if row.classification is not None and row.classification.value != "human":
                assert row.id not in answered, path


def test_text_with_nul_bytes_is_stored_on_every_database(
    pipeline: Pipeline, sessions: sessionmaker[Session]
) -> None:
    raw = (
        b"From: someone@elsewhere.example\r\nTo: returns@returns.ashdown.example\r\n"
        b"Subject: nul\r\nMessage-ID: <nul@x>\r\n\r\nBV8a.1: 12\x00 34\r\n"
    )
    result = pipeline.ingest(raw, Envelope(source="test"))
    with sessions() as session:
        row = session.get_one(m.InboundMessage, result.id)
        assert row.raw == raw
        assert "\x00" not in (row.decoded_text or "")


def test_a_re_delivered_sample_is_a_duplicate(pipeline: Pipeline) -> None:
    path = CORPUS / "replies" / "apple_mail_iso8859-1_on_date_wrote.eml"
    first = pipeline.ingest(path.read_bytes(), Envelope(source="test"))
    second = pipeline.ingest(
        b"Received: from somewhere; Tue, 5 May 2026 09:00:00 +0000\n" + path.read_bytes(),
        Envelope(source="test"),
    )
    assert not first.duplicate and second.duplicate
    assert str(first.id) in (second.detail or "")


def test_messages_without_message_id_deduplicate_on_content(pipeline: Pipeline) -> None:
    raw = Path(CORPUS / "replies" / "yahoo_classic_base64_dashes_on_wrote.eml").read_bytes()
    first = pipeline.ingest(raw, Envelope(source="test"))
    second = pipeline.ingest(
        b"X-Original-To: returns@returns.ashdown.example\n" + raw, Envelope(source="test")
    )
    assert second.duplicate, (first, second)
