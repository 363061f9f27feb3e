"""Issue 13, part 5, through the whole pipeline: complaints, bounce notices, re-used Message-IDs.

- A feedback report about our request is recorded (``complaint``), answered by nobody, and
  listed in the next daily digest; one about someone else's mail says so; a DMARC failure
  report is recorded and not listed.
- The bounce notice to the performance team quotes the remote server's diagnostic, never
  the name of the rule that found the bounce.
- The same Message-ID with different content is processed and flagged; the same content
  delivered again stays a duplicate.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import as_utc
from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.mailflow.store import SAME_MESSAGE_ID
from mailcapture.schedule.digest import DIGEST_KIND
from mailcapture.schedule.tick import tick
from tests.conftest import CORPUS, SampleRegister
from tests.mailflow.world import PipelineWorld, april_requests_sent

KEVIN = "Kevin Walsh <kevin.walsh@ashdown.example>"
KEVIN_ADDRESS = "kevin.walsh@ashdown.example"
#: The world's clock (5 May 2026) and the digest of that day, the next morning.
DIGEST_TIME = as_utc(datetime(2026, 5, 6, 7, 0))


@pytest.fixture
def world(sessions: sessionmaker[Session], sample_register: SampleRegister) -> PipelineWorld:
    return april_requests_sent(sessions, sample_register)


def _outbox_count(world: PipelineWorld) -> int:
    with world.sessions() as s:
        return s.scalar(select(func.count()).select_from(m.OutboxMessage)) or 0


def _text(row: m.OutboxMessage) -> str:
    return clients.plain_text(clients.parsed(row.raw))


def _digest_text(world: PipelineWorld) -> str | None:
    tick(world.sessions, DIGEST_TIME)
    digests = world.outbox(DIGEST_KIND)
    assert len(digests) <= 1
    return _text(digests[0]) if digests else None


def _arf_about(request_raw: bytes) -> bytes:
    """The Terra feedback report of the corpus, about our request to Kevin."""
    request = clients.parsed(request_raw)
    raw = (CORPUS / "auto/arf_terra_returnpath_feedback_report.eml").read_bytes()
    replaced = (
        raw.replace(
            b"Message-ID: <f6fbba8a761ce682e1b00a323a21b372@example.net>",
            f"Message-ID: {request['Message-ID']}".encode(),
        )
        .replace(b"From: Colunex <fake.sender@example.net>", f"From: {request['From']}".encode())
        .replace(b'To: "undisclosed Terra recipient"', f"To: {KEVIN}".encode())
    )
    assert replaced.count(str(request["Message-ID"]).encode()) == 1
    return replaced


# -- complaints ------------------------------------------------------------------------------


def test_a_complaint_about_our_request_is_recorded_unanswered_and_in_the_digest(
    world: PipelineWorld,
) -> None:
    before = _outbox_count(world)
    result = world.ingest(_arf_about(world.request_raw(KEVIN_ADDRESS)))
    assert (result.state, result.outcome) == ("processed", "complaint")
    assert result.detail is not None
    assert "abuse complaint by kevin.walsh@ashdown.example about our request #" in result.detail
    row = world.inbound(result.id)
    assert row.classification is not None and row.classification.value == "auto-reply"
    assert row.classification_rule == "arf:abuse"
    assert row.stages is not None
    assert {"stage": "complaint", "result": "ours"}.items() <= row.stages[-1].items()
    assert _outbox_count(world) == before  # nobody written to: not the reporter, not Kevin
    digest = _digest_text(world)
    assert digest is not None
    assert "Complaints about our mail (1)" in digest
    assert f"#{result.id}," in digest and "Outcome: complaint" in digest


@pytest.mark.parametrize(
    "name",
    [
        "auto/arf_abuse_fw_subject_rfc5965_style.eml",
        "auto/complaint_hotmail_jmrp_multipart_mixed.eml",
    ],
)
def test_a_complaint_about_other_mail_is_listed_as_not_ours(
    world: PipelineWorld, name: str
) -> None:
    before = _outbox_count(world)
    result = world.ingest((CORPUS / name).read_bytes())
    assert result.outcome == "complaint"
    assert result.detail is not None and "does not match any email of ours" in result.detail
    assert _outbox_count(world) == before
    digest = _digest_text(world)
    assert digest is not None and "Complaints about our mail (1)" in digest


def test_a_dmarc_failure_report_is_recorded_and_not_listed(world: PipelineWorld) -> None:
    before = _outbox_count(world)
    result = world.ingest((CORPUS / "auto/arf_dmarc_auth_failure_report.eml").read_bytes())
    assert result.outcome == "feedback-report"
    assert _outbox_count(world) == before
    digest = _digest_text(world)
    assert digest is None or "Complaints about our mail" not in digest


# -- the bounce notice quotes the server -------------------------------------------------------


def test_the_bounce_notice_quotes_the_remote_server(world: PipelineWorld) -> None:
    raw = clients.dsn_bounce(world.request_raw(KEVIN_ADDRESS), KEVIN_ADDRESS)
    result = world.ingest(raw)
    assert result.outcome == "bounce"
    assert result.detail is not None and "server said: 550 5.1.1" in result.detail
    [notice] = world.outbox("bounce_notice")
    text = " ".join(_text(notice).split())
    assert (
        "Server said: 550 5.1.1 <kevin.walsh@ashdown.example>: Recipient address rejected" in text
    )
    assert "dsn:" not in text and "multipart/report" not in text
    with world.sessions() as s:
        kevin = s.scalars(select(m.Person).where(m.Person.email == KEVIN_ADDRESS)).one()
        assert kevin.mail_failure_reason == (
            "550 5.1.1 <kevin.walsh@ashdown.example>: Recipient address rejected"
        )


def test_the_bounce_notice_quotes_a_text_notice_without_its_links(world: PipelineWorld) -> None:
    raw = (
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n"
        "To: returns@returns.ashdown.example\n"
        "Subject: Delivery Status Notification (Failure)\n"
        "Message-ID: <gm-1@mx.google.example>\n\n"
        f"Delivery to the following recipient failed permanently:\n\n     {KEVIN_ADDRESS}\n\n"
        "Technical details of permanent failure:\n"
        "550-5.1.1 The email account that you tried to reach does not exist. Learn more at "
        "https://support.google.com/mail/?p=NoSuchUser\n"
    ).encode()
    result = world.ingest(raw)
    assert result.outcome == "bounce", result
    [notice] = world.outbox("bounce_notice")
    text = " ".join(_text(notice).split())
    assert "Server said: 550-5.1.1 The email account that you tried to reach does not" in text
    assert "[link]" in text and "support.google.com" not in text


# -- the same Message-ID, different content ---------------------------------------------------


def test_same_message_id_with_different_content_is_processed_and_flagged(
    world: PipelineWorld,
) -> None:
    request = world.request_raw(KEVIN_ADDRESS)
    first_raw = clients.phone(request, KEVIN, "BV8a.1: 1234")
    first = world.ingest(first_raw)
    assert first.outcome == "applied"
    message_id = clients.parsed(first_raw)["Message-ID"]
    second_raw = clients.phone(request, KEVIN, "BV8a.1: 1250")
    second_raw = second_raw.replace(
        f"Message-ID: {clients.parsed(second_raw)['Message-ID']}".encode(),
        f"Message-ID: {message_id}".encode(),
    )
    assert clients.parsed(second_raw)["Message-ID"] == message_id
    second = world.ingest(second_raw, at=world.clock.now() + timedelta(minutes=5))
    assert not second.duplicate and second.outcome == "applied", second
    row = world.inbound(second.id)
    flagged = [s for s in row.stages or [] if s.get("result") == SAME_MESSAGE_ID]
    assert len(flagged) == 1 and f"#{first.id}" in flagged[0]["detail"]
    assert second.detail is not None
    assert f"same Message-ID as #{first.id} but different content" in second.detail
    assert row.duplicate_of_id is None
    # That second message delivered again (a relay added a trace header): a duplicate of it.
    again = world.ingest(
        b"Received: from relay2.example by mx.example; Tue, 5 May 2026\r\n" + second_raw
    )
    assert again.duplicate and world.inbound(again.id).duplicate_of_id == second.id
    # And the first, delivered again, is still a duplicate of the first.
    first_again = world.ingest(b"Received: from relay3.example by mx.example\r\n" + first_raw)
    assert first_again.duplicate and world.inbound(first_again.id).duplicate_of_id == first.id
    assert not [
        s for s in world.inbound(first.id).stages or [] if s.get("result") == SAME_MESSAGE_ID
    ]
