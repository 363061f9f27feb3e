"""The pipeline's rules about trust and limits, each shown with a real request's reply."""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import FixedClock, as_utc
from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.mailflow.pipeline import Pipeline, Settings
from mailcapture.mailflow.replies import Limits
from mailcapture.mailflow.store import Envelope
from mailcapture.parsing.mime import Limits as MimeLimits
from mailcapture.schedule.tick import tick
from mailcapture.transport.files import iter_path
from tests.conftest import SampleRegister

KEVIN = "Kevin Walsh <kevin.walsh@ashdown.example>"


@pytest.fixture
def request_raw(sessions: sessionmaker[Session], sample_register: SampleRegister) -> bytes:
    sample_register.load(sessions, datetime(2026, 4, 20, tzinfo=UTC))
    tick(sessions, as_utc(datetime(2026, 5, 1, 9, 0)))
    with sessions() as s:
        return s.scalars(
            select(m.OutboxMessage.raw)
            .join(m.Person)
            .where(
                m.Person.email == "kevin.walsh@ashdown.example", m.OutboxMessage.kind == "request"
            )
        ).one()


def _pipeline(sessions: sessionmaker[Session], when: datetime, **settings: object) -> Pipeline:
    return Pipeline(sessions, FixedClock(when), Settings(**settings))  # type: ignore[arg-type]


def _stored(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return len(
            s.scalars(select(m.ComponentValue).where(m.ComponentValue.source == "email")).all()
        )


def _kinds(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as s:
        return list(
            s.scalars(
                select(m.OutboxMessage.kind)
                .where(m.OutboxMessage.kind.not_in(["request"]))
                .order_by(m.OutboxMessage.id)
            )
        )


def test_an_expired_token_is_answered_not_dropped(
    sessions: sessionmaker[Session], request_raw: bytes
) -> None:
    late = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)  # the request was due 15 May
    result = _pipeline(sessions, late).ingest(
        clients.phone(request_raw, KEVIN, "BV8a.1: 1234", when=late), Envelope(source="test")
    )
    assert result.outcome == "expired"
    assert _stored(sessions) == 0
    assert _kinds(sessions) == ["rejection_notice"]


def test_dmarc_fail_from_our_own_host_is_quarantined(
    sessions: sessionmaker[Session], request_raw: bytes
) -> None:
    raw = clients.phone(request_raw, KEVIN, "BV8a.1: 1234")
    forged = (
        b"Authentication-Results: mx.ashdown.example; spf=fail "
        b"smtp.mailfrom=ashdown.example; dmarc=fail (p=none) header.from=ashdown.example\r\n" + raw
    )
    result = _pipeline(sessions, datetime(2026, 5, 5, 9, tzinfo=UTC)).ingest(
        forged, Envelope(source="test")
    )
    assert (result.state, result.outcome) == ("quarantined", "dmarc-fail")
    # Nothing stored, nothing to the sender; the performance team is told it is held.
    assert _stored(sessions) == 0 and _kinds(sessions) == ["quarantine_notice"]


def test_a_dmarc_verdict_from_someone_elses_host_is_ignored(
    sessions: sessionmaker[Session], request_raw: bytes
) -> None:
    raw = clients.phone(request_raw, KEVIN, "BV8a.1: 1234")
    injected = (
        b"Authentication-Results: mx.elsewhere.example; dmarc=fail "
        b"header.from=ashdown.example\r\n" + raw
    )
    result = _pipeline(sessions, datetime(2026, 5, 5, 9, tzinfo=UTC)).ingest(
        injected, Envelope(source="test")
    )
    assert result.outcome == "applied"


def test_automatic_emails_to_one_address_are_capped_per_hour(
    sessions: sessionmaker[Session], request_raw: bytes
) -> None:
    pipeline = _pipeline(
        sessions, datetime(2026, 5, 5, 9, tzinfo=UTC), reply_limits=Limits(hourly_limit=2)
    )
    for n in range(4):
        pipeline.ingest(
            clients.phone(request_raw, KEVIN, f"BV8a.1: {1000 + n}"), Envelope(source="test")
        )
    assert _kinds(sessions) == ["confirmation", "confirmation"]
    assert _stored(sessions) == 4  # the values are still recorded, only the emails stop
    pipeline.clock.advance(timedelta(hours=1, minutes=1))  # type: ignore[attr-defined]
    pipeline.ingest(clients.phone(request_raw, KEVIN, "BV8a.1: 2000"), Envelope(source="test"))
    assert _kinds(sessions) == ["confirmation"] * 3


def test_oversized_and_too_deep_messages_are_kept_and_explained(
    sessions: sessionmaker[Session], request_raw: bytes
) -> None:
    pipeline = _pipeline(
        sessions, datetime(2026, 5, 5, 9, tzinfo=UTC), mime_limits=MimeLimits(max_bytes=2000)
    )
    raw = clients.phone(request_raw, KEVIN, "BV8a.1: 1234\n" + "padding " * 400)
    result = pipeline.ingest(raw, Envelope(source="test"))
    assert (result.state, result.outcome) == ("quarantined", "too-large")
    with sessions() as s:
        assert s.get_one(m.InboundMessage, result.id).raw == raw  # nothing lost
    assert _kinds(sessions) == ["rejection_notice"] and _stored(sessions) == 0
    nested = b"From: kevin.walsh@ashdown.example\r\nSubject: deep\r\nMessage-ID: <deep@x>\r\n"
    body = b"hello\r\n"
    for depth in range(30):
        boundary = f"b{depth}".encode()
        body = (
            b"Content-Type: multipart/mixed; boundary="
            + boundary
            + b"\r\n\r\n--"
            + boundary
            + b"\r\n"
            + body
            + b"\r\n--"
            + boundary
            + b"--\r\n"
        )
    deep = _pipeline(sessions, datetime(2026, 5, 5, 9, tzinfo=UTC)).ingest(
        nested + body, Envelope(source="test")
    )
    assert deep.state == "quarantined"


def test_not_available_until_a_date_holds_back_the_chasing(
    sessions: sessionmaker[Session], request_raw: bytes
) -> None:
    _pipeline(sessions, datetime(2026, 5, 5, 9, tzinfo=UTC)).ingest(
        clients.phone(
            request_raw, KEVIN, "BV8a.1: 1234\nBV8a.2: not available until 25 May\nP09.M0: on track"
        ),
        Envelope(source="test"),
    )
    report = tick(sessions, as_utc(datetime(2026, 5, 12, 9, 0)))  # first reminder day
    with sessions() as s:
        kevin = s.scalars(
            select(m.Person).where(m.Person.email == "kevin.walsh@ashdown.example")
        ).one()
        reminders = s.scalars(
            select(m.OutboxMessage).where(
                m.OutboxMessage.kind == "reminder", m.OutboxMessage.person_id == kevin.id
            )
        ).all()
    assert report.reminders > 0 and reminders == []


def test_files_transport_reads_maildir_mbox_and_folders(tmp_path: Path) -> None:
    messages = [b"From: a@x\nSubject: one\n\nbody one\n", b"From: b@x\nSubject: two\n\nbody\n"]
    maildir = mailbox.Maildir(tmp_path / "Maildir")
    for raw in messages:
        maildir.add(raw)
    box = mailbox.mbox(tmp_path / "box.mbox")
    for raw in messages:
        box.add(raw)
    box.close()
    (tmp_path / "folder").mkdir()
    for n, raw in enumerate(messages):
        (tmp_path / "folder" / f"{n}.eml").write_bytes(raw)
    for path in ("Maildir", "box.mbox", "folder"):
        found = sorted(msg.raw.replace(b"\r\n", b"\n") for msg in iter_path(tmp_path / path))
        assert [b"Subject: one" in raw for raw in found].count(True) == 1, path
        assert len(found) == 2, path
