"""From a real request in the outbox to values in the database, in every client's style.

Each reply is built from the exact bytes we sent, the way that client writes replies, and
goes in through ``Pipeline.ingest`` like any other message. The assertions are on what
was stored (exactly the values the sender meant, nothing else), what was sent back (the
right confirmation or notice, or nothing), and that nothing is applied twice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import as_utc
from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.schedule.tick import tick
from tests.conftest import SampleRegister
from tests.mailflow.world import PipelineWorld

KEVIN = "Kevin Walsh <kevin.walsh@ashdown.example>"
AMY = "Amy Lawson <amy.lawson@ashdown.example>"
FIONA = "Fiona Grant <fiona.grant@ashdown.example>"


class World(PipelineWorld):
    """The sample council after the April 2026 requests went out."""

    def history(self, code: str, period: str = "2026-04") -> list[tuple[object, str, bool]]:
        with self.sessions() as s:
            return [
                (r.value, r.state.value, r.is_current)
                for r in s.scalars(
                    select(m.ComponentValue)
                    .join(m.Component)
                    .join(m.Period)
                    .where(
                        m.Component.code == code,
                        m.Period.code == period,
                        m.ComponentValue.source == "email",
                    )
                    .order_by(m.ComponentValue.id)
                )
            ]

    def message(self, inbound_id: int) -> m.InboundMessage:
        with self.sessions() as s:
            return s.get_one(m.InboundMessage, inbound_id)


@pytest.fixture
def world(sessions: sessionmaker[Session], sample_register: SampleRegister) -> World:
    sample_register.load(sessions, datetime(2026, 4, 20, 12, 0, tzinfo=UTC))
    tick(sessions, as_utc(datetime(2026, 5, 1, 9, 0)))
    return World(sessions)


def _text(row: m.OutboxMessage) -> str:
    return clients.plain_text(clients.parsed(row.raw))


def test_outlook_answers_typed_into_the_quoted_form(world: World) -> None:
    raw = clients.outlook_in_place(
        world.request_raw("kevin.walsh@ashdown.example"),
        KEVIN,
        {"BV8a.1": "1,234", "BV8a.2": "1300", "P09.M0": "on track"},
        top="Hi, April's figures are in the form below.\nKevin",
    )
    result = world.ingest(raw)
    assert (result.state, result.outcome) == ("processed", "applied"), result
    assert world.current("BV8a.1") == (Decimal(1234), "accepted")
    assert world.current("BV8a.2") == (Decimal(1300), "accepted")
    assert world.current("P09.M0") == ("on_track", "accepted")
    row = world.message(result.id)
    assert row.classification.value == "human"
    assert "April's figures" in (row.answer_text or "")
    [confirmation] = world.outbox("confirmation")
    assert confirmation.recipient == "kevin.walsh@ashdown.example"
    text = _text(confirmation)
    assert "1,234" in text and "1,300" in text
    assert clients.parsed(confirmation.raw)["In-Reply-To"].strip("<>") == row.message_id
    assert clients.parsed(confirmation.raw)["Auto-Submitted"] == "auto-replied"


def test_gmail_top_posted_lines_and_an_untouched_quoted_form(world: World) -> None:
    raw = clients.gmail_top_posted(
        world.request_raw("kevin.walsh@ashdown.example"),
        KEVIN,
        "BV8a.1: 1,480\nBV8a.2: 1,512\n\nThanks, Kevin",
    )
    result = world.ingest(raw)
    assert result.outcome == "applied", result
    assert world.current("BV8a.1") == (Decimal(1480), "accepted")
    assert world.current("BV8a.2") == (Decimal(1512), "accepted")
    assert world.current("P09.M0") is None  # not answered: the quoted form is untouched
    text = _text(world.outbox("confirmation")[0])
    assert "P09.M0" in text  # still outstanding, printed as a form to answer


def test_iphone_and_phone_replies(world: World) -> None:
    request = world.request_raw("kevin.walsh@ashdown.example")
    first = world.ingest(clients.iphone(request, KEVIN, "P09.M0: at risk\nBV8a.1: 1400"))
    assert first.outcome == "applied", first
    second = world.ingest(clients.phone(request, KEVIN, "BV8a.2: 1450"))
    assert second.outcome == "applied", second
    assert world.current("P09.M0") == ("at_risk", "accepted")
    assert world.current("BV8a.1") == (Decimal(1400), "accepted")
    assert world.current("BV8a.2") == (Decimal(1450), "accepted")
    with world.sessions() as s:
        request_row = s.scalars(
            select(m.DataRequest)
            .join(m.Person, m.Person.id == m.DataRequest.person_id)
            .where(m.Person.email == "kevin.walsh@ashdown.example")
        ).one()
        assert request_row.state.value == "complete"


def test_outlook_on_the_web_html_only(world: World) -> None:
    raw = clients.outlook_web_html_only(
        world.request_raw("kevin.walsh@ashdown.example"),
        KEVIN,
        ["BV8a.1: 1,111", "BV8a.2: 1,222", "Regards, Kevin"],
    )
    result = world.ingest(raw)
    assert result.outcome == "applied", result
    assert world.current("BV8a.1") == (Decimal(1111), "accepted")
    assert world.current("BV8a.2") == (Decimal(1222), "accepted")
    assert world.current("P09.M0") is None


def test_a_delegate_answers_for_the_updater(world: World) -> None:
    raw = clients.gmail_top_posted(
        world.request_raw("kevin.walsh@ashdown.example"),
        AMY,
        "BV8a.1: 1,001\nBV8a.2: 1,002\nKevin is away this week.",
    )
    result = world.ingest(raw)
    assert result.outcome == "applied", result
    with world.sessions() as s:
        row = s.scalars(
            select(m.ComponentValue)
            .join(m.Component)
            .where(
                m.Component.code == "BV8a.1",
                m.ComponentValue.is_current,
                m.ComponentValue.source == "email",
            )
        ).one()
        assert s.get_one(m.Person, row.submitted_by_id).email == "amy.lawson@ashdown.example"
        assert s.get_one(m.Person, row.on_behalf_of_id).email == "kevin.walsh@ashdown.example"
    assert [c.recipient for c in world.outbox("confirmation")] == ["amy.lawson@ashdown.example"]


def test_a_correction_replaces_the_value_and_keeps_history(world: World) -> None:
    request = world.request_raw("kevin.walsh@ashdown.example")
    world.ingest(clients.phone(request, KEVIN, "BV8a.1: 1234\nBV8a.2: 1300"))
    correction = world.ingest(
        clients.phone(request, KEVIN, "BV8a.1: 1,240\nSorry, a typo in the first one."),
        at=datetime(2026, 5, 6, 9, 0, tzinfo=UTC),
    )
    assert correction.outcome == "applied", correction
    assert world.history("BV8a.1") == [
        (Decimal(1234), "superseded", False),
        (Decimal(1240), "accepted", True),
    ]
    assert world.current("BV8a.2") == (Decimal(1300), "accepted")
    with world.sessions() as s:
        old, new = s.scalars(
            select(m.ComponentValue)
            .join(m.Component)
            .where(m.Component.code == "BV8a.1", m.ComponentValue.source == "email")
            .order_by(m.ComponentValue.id)
        ).all()
        assert new.replaces_id == old.id
    assert "replaces 1,234" in _text(world.outbox("confirmation")[-1])


def test_replying_to_a_confirmation_without_changes_stores_nothing_new(world: World) -> None:
    request = world.request_raw("kevin.walsh@ashdown.example")
    world.ingest(clients.phone(request, KEVIN, "BV8a.1: 1234\nBV8a.2: 1300"))
    confirmation = world.outbox("confirmation")[0]
    reply = clients.gmail_top_posted(confirmation.raw, KEVIN, "Thanks!")
    result = world.ingest(reply, at=datetime(2026, 5, 6, 9, 0, tzinfo=UTC))
    assert result.outcome in {"comment-only", "no-answers"}, result
    assert world.history("BV8a.1") == [(Decimal(1234), "accepted", True)]
    # ...while changing a value shown in the quoted confirmation form does count.
    changed = clients.outlook_in_place(confirmation.raw, KEVIN, {"P09.M0": "delayed"})
    result = world.ingest(changed, at=datetime(2026, 5, 6, 10, 0, tzinfo=UTC))
    assert result.outcome == "applied", result
    assert world.current("P09.M0") == ("delayed", "accepted")


def test_values_that_are_not_clear_are_rejected_with_the_reason(world: World) -> None:
    raw = clients.phone(
        world.request_raw("kevin.walsh@ashdown.example"),
        KEVIN,
        "BV8a.1: 1.234\nBV8a.2: n/a - system down until 20 May\nP09.M0: slipping",
    )
    result = world.ingest(raw)
    assert world.current("BV8a.1") is None
    assert world.current("BV8a.2") == (None, "not_available")
    assert world.current("P09.M0") == ("delayed", "accepted")
    assert result.outcome == "applied"
    with world.sessions() as s:
        rejected = s.scalars(
            select(m.ComponentValue).where(m.ComponentValue.state == "rejected")
        ).one()
        assert rejected.raw_answer == "1.234" and rejected.reason
        item = s.scalars(
            select(m.DataRequestItem).where(m.DataRequestItem.item_code == "BV8a.2")
        ).one()
        assert item.snoozed_until is not None and item.snoozed_until.day == 20
    text = _text(world.outbox("confirmation")[0])
    assert "1.234" in text


def test_someone_else_using_the_token_is_refused_politely(world: World) -> None:
    request = world.request_raw("kevin.walsh@ashdown.example")
    spoof = world.ingest(clients.phone(request, FIONA, "BV8a.1: 9999"))
    assert spoof.outcome == "wrong-person", spoof
    assert world.current("BV8a.1") is None
    # Our receiving host vouches for Mallory's domain: a stranger it does not vouch for
    # gets no notice at all (tests/mailflow/test_hostile_auth.py).
    vouched = (
        b"Authentication-Results: mx.ashdown.example; spf=pass "
        b"smtp.mailfrom=elsewhere.example; dmarc=pass header.from=elsewhere.example\r\n"
    )
    stranger = world.ingest(
        vouched + clients.phone(request, "Mallory <mallory@elsewhere.example>", "BV8a.1: 1")
    )
    again = world.ingest(
        vouched + clients.phone(request, "Mallory <mallory@elsewhere.example>", "BV8a.1: 2")
    )
    assert (stranger.outcome, again.outcome) == ("unknown-sender", "unknown-sender")
    assert world.current("BV8a.1") is None
    notices = world.outbox("rejection_notice")
    assert sorted(n.recipient for n in notices) == [
        "fiona.grant@ashdown.example",
        "mallory@elsewhere.example",
    ]
    assert "kevin.walsh@" not in _text(notices[0])  # the rightful owner's address stays private


def test_out_of_office_passes_the_request_to_the_delegate(world: World) -> None:
    raw = clients.out_of_office(
        world.request_raw("kevin.walsh@ashdown.example"),
        KEVIN,
        "I am out of the office until 18 May 2026 with limited access to email.",
    )
    result = world.ingest(raw)
    assert result.outcome == "auto-reply", result
    assert world.message(result.id).classification.value == "auto-reply"
    [forward] = world.outbox("delegate_forward")
    assert forward.recipient == "amy.lawson@ashdown.example"
    assert "[BV8a.1]" in _text(forward)
    assert [n.recipient for n in world.outbox("delegate_notice")] == ["performance@ashdown.example"]
    assert world.outbox("confirmation") == [] and world.outbox("rejection_notice") == []
    # The delegate can answer the forwarded form.
    answer = clients.gmail_top_posted(forward.raw, AMY, "BV8a.1: 1500")
    assert world.ingest(answer).outcome == "applied"
    assert world.current("BV8a.1") == (Decimal(1500), "accepted")


def test_a_bounce_marks_the_address_failing_and_tells_the_team(world: World) -> None:
    raw = clients.dsn_bounce(
        world.request_raw("kevin.walsh@ashdown.example"), "kevin.walsh@ashdown.example"
    )
    result = world.ingest(raw)
    assert (world.message(result.id).classification.value, result.outcome) == ("bounce", "bounce")
    with world.sessions() as s:
        kevin = s.scalars(
            select(m.Person).where(m.Person.email == "kevin.walsh@ashdown.example")
        ).one()
        assert kevin.mail_failing_since is not None
    [notice] = world.outbox("bounce_notice")
    assert notice.recipient == "performance@ashdown.example"
    assert world.outbox("confirmation") == [] and world.outbox("rejection_notice") == []


def test_the_same_message_delivered_twice_is_applied_once(world: World) -> None:
    raw = clients.phone(world.request_raw("kevin.walsh@ashdown.example"), KEVIN, "BV8a.1: 1234")
    first = world.ingest(raw)
    redelivered = b"Received: from relay2.example by mx.ashdown.example; Tue, 5 May 2026\r\n" + raw
    second = world.ingest(redelivered)
    assert first.outcome == "applied" and second.duplicate and second.outcome == "duplicate"
    assert world.history("BV8a.1") == [(Decimal(1234), "accepted", True)]
    assert len(world.outbox("confirmation")) == 1


def test_our_own_mail_coming_back_is_dropped_silently(world: World) -> None:
    request = world.request_raw("kevin.walsh@ashdown.example")
    result = world.ingest(request)
    assert result.outcome == "own-mail"
    assert world.outbox("confirmation") == [] and world.outbox("rejection_notice") == []
