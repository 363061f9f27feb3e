"""Hostile mail, authentication and robots (issue 12), through the real ``Pipeline.ingest``.

Each test feeds messages from ``tests/corpus/hostile/`` (see its SOURCES.md, "Authentication
and robots") to the sample council after the April 2026 requests went out, and asserts what
was stored, what was queued in the outbox and what the performance team's daily digest says.

The stored messages are answers to *our* request or report, so they carry placeholders that
are filled with this run's values before they are ingested: ``@TOKEN@`` (the token of the
request or report answered), ``@IN_REPLY_TO@`` (its Message-ID), ``@FROM@`` (the sender),
``@ANSWERS@`` (the answer lines) and ``@N@`` (a number, for a series of messages).
"""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import as_utc
from mailcapture.compose.message import LOOP_HEADER
from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.mailflow import pipeline as pipeline_module
from mailcapture.mailflow.context import Run
from mailcapture.mailflow.loops import first_line, marker_in_own_text, marker_quoted
from mailcapture.mailflow.pipeline import IngestResult
from mailcapture.mailflow.replies import AUTOMATIC_KINDS
from mailcapture.parsing.mime import Limits as MimeLimits
from mailcapture.parsing.mime import decode_message
from mailcapture.schedule.digest import DIGEST_KIND
from mailcapture.schedule.tick import tick
from tests.conftest import CORPUS, SampleRegister
from tests.mailflow.test_report_replies import World

HOSTILE = CORPUS / "hostile"
KEVIN = "Kevin Walsh <kevin.walsh@ashdown.example>"
MARK = "Mark Ellison <mark.ellison@ashdown.example>"
KEVIN_ADDRESS = "kevin.walsh@ashdown.example"
#: The one email a held reply causes: to the performance team, never to the sender.
HELD_NOTICE = ("quarantine_notice", "performance@ashdown.example")
DMARC_FAIL_SPELLINGS = [
    "dmarc_fail_trailing_semicolon.eml",  # Yahoo: a trailing ";"
    "dmarc_fail_empty_reason.eml",  # reason=""
    "dmarc_fail_microsoft.eml",  # Microsoft 365: ";" without spaces, comments, action=
    "dmarc_fail_folded_comments_case.eml",  # folded over lines, comments, DMARC=Fail
]
#: The day the messages arrive (the fixture's clock), and the digest for it the next morning.
DAY = datetime(2026, 5, 5, 9, 0, tzinfo=UTC)
DIGEST_TIME = as_utc(datetime(2026, 5, 6, 7, 0))


def hostile(name: str, **values: str) -> bytes:
    """A stored hostile message with its placeholders filled (see the module docstring)."""
    raw = (HOSTILE / name).read_bytes()
    for key, value in values.items():
        raw = raw.replace(f"@{key.upper()}@".encode(), value.encode())
    assert b"@TOKEN@" not in raw and b"@FROM@" not in raw, "a placeholder was left unfilled"
    return raw


def answering(raw_we_sent: bytes) -> dict[str, str]:
    """The placeholders for a message that answers ``raw_we_sent`` (a request or report)."""
    sent = clients.parsed(raw_we_sent)
    token = re.search(r"\+([a-z2-7]{16})@", str(sent["Reply-To"]))
    assert token is not None
    return {"token": token.group(1), "in_reply_to": str(sent["Message-ID"])}


@pytest.fixture
def world(sessions: sessionmaker[Session], sample_register: SampleRegister) -> World:
    """The April requests sent and Kevin's BV8a answered (so a report on BV8a can go out)."""
    sample_register.load(sessions, datetime(2026, 4, 20, 12, 0, tzinfo=UTC))
    tick(sessions, as_utc(datetime(2026, 5, 1, 9, 0)))
    w = World(sessions)
    kevin = w.ingest(
        clients.phone(w.request_raw(KEVIN_ADDRESS), KEVIN, "BV8a.1: 1234\nBV8a.2: 1300"),
        at=DAY,
    )
    assert kevin.outcome == "applied", kevin
    return w


def _automatic(world: World, recipient: str | None = None) -> list[m.OutboxMessage]:
    """Our automatic emails (confirmations, notices), optionally to one address."""
    rows = [r for kind in AUTOMATIC_KINDS for r in world.outbox(kind)]
    return sorted(
        (r for r in rows if recipient is None or r.recipient == recipient), key=lambda r: r.id
    )


def _not_requests(world: World) -> list[tuple[str, str]]:
    """Every outbox row that is not one of the timetable's requests: (kind, recipient)."""
    with world.sessions() as s:
        return [
            (r.kind, r.recipient)
            for r in s.scalars(
                select(m.OutboxMessage)
                .where(m.OutboxMessage.kind != "request")
                .order_by(m.OutboxMessage.id)
            )
        ]


def _value(world: World, code: str) -> Decimal | None:
    with world.sessions() as s:
        return s.scalar(
            select(m.ComponentValue.value)
            .join(m.Component)
            .join(m.Period)
            .where(
                m.Component.code == code, m.Period.code == "2026-04", m.ComponentValue.is_current
            )
        )


def _set_authserv_id(world: World, authserv_id: str | None) -> None:
    with world.sessions() as s, s.begin():
        row = s.get_one(m.ServiceSetting, "mail")
        row.value = {**row.value, "authserv_id": authserv_id}


def _digests(world: World) -> list[m.OutboxMessage]:
    return world.outbox(DIGEST_KIND)


def _text(row: m.OutboxMessage) -> str:
    return clients.plain_text(clients.parsed(row.raw))


def _html(row: m.OutboxMessage) -> str:
    return clients.html_text(clients.parsed(row.raw))


# --------------------------------------------------------------------------------------------
# Fail closed on authentication
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DMARC_FAIL_SPELLINGS)
def test_each_dmarc_fail_spelling_is_held_for_data_and_report_replies(
    world: World, name: str
) -> None:
    """``dmarc=fail`` from our own host in each spelling real receivers write (authres
    refuses the first three) holds a forged data reply and a forged report sign-off: nothing
    applied, nothing signed, nobody written to."""
    before = _not_requests(world)
    data = world.ingest(
        hostile(
            name,
            **answering(world.request_raw(KEVIN_ADDRESS)),
            **{"from": KEVIN, "answers": "BV8a.1: 9999\nBV8a.2: 9999"},
        )
    )
    assert (data.state, data.outcome) == ("quarantined", "dmarc-fail"), data
    assert _value(world, "BV8a.1") == Decimal(1234)  # the forged 9999 was not applied
    # Nothing to the sender; the performance team is told it is held (issue 15).
    assert _not_requests(world) == [*before, HELD_NOTICE]

    report = world.send_report("mark.ellison@ashdown.example", ["BV8a"])
    before = _not_requests(world)
    signoff = world.ingest(
        hostile(name, **answering(report), **{"from": MARK, "answers": "[BV8a approve]: yes"})
    )
    assert (signoff.state, signoff.outcome) == ("quarantined", "dmarc-fail"), signoff
    assert world.signoffs("BV8a") == [] and world.provisional("BV8a")
    assert _not_requests(world) == [*before, HELD_NOTICE]
    assert "DMARC failed" in (signoff.detail or "")


def test_an_unreadable_result_from_our_host_is_held_with_its_reason(world: World) -> None:
    """An Authentication-Results header from our host cut off mid-way (``spf pass ...;
    dmarc``): neither authres nor the lenient reader can read it, so it may hide a fail,
    and the reply is held with the reason "unreadable authentication result"."""
    before = _not_requests(world)
    data = world.ingest(
        hostile(
            "auth_unreadable.eml",
            **answering(world.request_raw(KEVIN_ADDRESS)),
            **{"from": KEVIN, "answers": "BV8a.1: 9999"},
        )
    )
    before.append(HELD_NOTICE)
    report = world.send_report("mark.ellison@ashdown.example", ["BV8a"])
    before.append(("report_owner", "mark.ellison@ashdown.example"))
    signoff = world.ingest(
        hostile("auth_unreadable.eml", **answering(report), **{"from": MARK, "answers": "approved"})
    )
    for held in (data, signoff):
        assert (held.state, held.outcome) == ("quarantined", "auth-unreadable"), held
        assert "unreadable authentication result" in (held.detail or "")
    assert _value(world, "BV8a.1") == Decimal(1234) and world.signoffs("BV8a") == []
    assert _not_requests(world) == [*before, HELD_NOTICE]  # the team told, nobody else


def test_a_result_from_another_host_is_ignored(world: World) -> None:
    """``dmarc=fail`` (and an unreadable header) from someone else's host is no evidence:
    anyone can write one into a message. The reply is applied and confirmed."""
    result = world.ingest(
        hostile(
            "auth_other_host_fail.eml",
            **answering(world.request_raw(KEVIN_ADDRESS)),
            **{"from": KEVIN, "answers": "BV8a.1: 1250"},
        )
    )
    assert (result.state, result.outcome) == ("processed", "applied"), result
    assert _value(world, "BV8a.1") == Decimal(1250)
    assert [r.kind for r in _automatic(world, KEVIN_ADDRESS)] == ["confirmation"] * 2


# --------------------------------------------------------------------------------------------
# Robots: classified on their headers before any notice
# --------------------------------------------------------------------------------------------


def test_a_600_part_dsn_gets_no_notice(world: World) -> None:
    """A delivery report with 600 MIME parts is over the part limit, so its body is never
    decoded; its headers (null sender, MAILER-DAEMON, multipart/report) say robot, and no
    notice goes to mailer-daemon (the fault measured against ``serve``)."""
    before = _not_requests(world)
    result = world.ingest(hostile("dsn_600_parts.eml"))
    row = world.message(result.id)
    assert row.classification is not None and row.classification.value == "bounce", row
    assert not any(kind == "rejection_notice" for kind, _ in _not_requests(world))
    assert not any("mailer-daemon" in to.lower() for _, to in _not_requests(world))
    if result.outcome == "too-large":  # refused undecoded: kept, held, and why is recorded
        assert result.state == "quarantined" and "no notice: automatic mail" in (
            result.detail or ""
        )
        assert _not_requests(world) == before


def test_a_25_deep_auto_reply_gets_no_notice(world: World) -> None:
    """An Exchange out-of-office from a register person, nested 25 MIME levels deep: too
    deep to decode, and its headers (Auto-Submitted, the Exchange rules agent) say robot,
    so Kevin is not sent a "too large" notice."""
    before = _not_requests(world)
    result = world.ingest(
        hostile("autoreply_nested_25.eml", **answering(world.request_raw(KEVIN_ADDRESS)))
    )
    row = world.message(result.id)
    assert row.classification is not None and row.classification.value == "auto-reply", row
    assert _not_requests(world) == before
    if result.outcome == "too-large":
        assert "Auto-Submitted" in (row.classification_rule or "")


def test_a_message_too_large_to_read_is_explained_only_to_a_sender_we_may_write_to(
    world: World,
) -> None:
    """Too large to decode, from a person by its headers: a forged stranger still gets no
    "too large" notice (nothing vouches for them), a stranger our host vouches for does."""
    world.pipeline.settings.mime_limits = MimeLimits(max_bytes=2000)
    padding = b"padding " * 400
    forged = world.ingest(
        hostile("forged_stranger_spam.eml", n="1", **{"from": "victim1@v.example"}) + padding
    )
    assert (forged.state, forged.outcome) == ("quarantined", "too-large"), forged
    assert "no notice: sender not in the register and not verified" in (forged.detail or "")
    assert world.outbox("rejection_notice") == []
    vouched = world.ingest(hostile("stranger_vouched_dmarc_pass.eml") + padding)
    assert (vouched.state, vouched.outcome) == ("quarantined", "too-large"), vouched
    [notice] = world.outbox("rejection_notice")
    assert notice.recipient == "jo@partner.example" and "too large" in _text(notice)
    assert "http" not in notice.subject


# --------------------------------------------------------------------------------------------
# No backscatter
# --------------------------------------------------------------------------------------------


def _forged(world: World, count: int) -> list[IngestResult]:
    return [
        world.ingest(
            hostile("forged_stranger_spam.eml", n=str(n), **{"from": f"victim{n}@v.example"})
        )
        for n in range(count)
    ]


def test_100_forged_strangers_get_no_mail_when_unverified(world: World) -> None:
    """100 messages with forged strangers' From addresses and no word from our receiving
    host: no notice to any of them (it would go to whoever the forger named). Each is
    recorded with the reason, and the next morning's digest lists all 100."""
    before = _not_requests(world)
    results = _forged(world, 100)
    assert {r.outcome for r in results} == {"unknown-sender"}
    assert all(
        "no notice: sender not in the register and not verified" in (r.detail or "")
        for r in results
    )
    assert _not_requests(world) == before
    assert _value(world, "BV8a.1") == Decimal(1234)

    tick(world.sessions, DIGEST_TIME)
    [digest] = _digests(world)
    text = _text(digest)
    assert "Not answered (100)" in text
    assert all(f"victim{n}@v.example" in text for n in range(100))
    assert "http://spam.example" not in text and "spam.example/" not in text


def test_without_an_authserv_id_strangers_are_answered_within_the_hourly_cap(
    world: World,
) -> None:
    """A register with no authserv-id (nothing can vouch for a sender): at most 20 notices
    an hour go to strangers, all of them together; the other 80 are recorded as withheld
    and listed in the digest. Each notice repeats only a short, link-free excerpt."""
    _set_authserv_id(world, None)
    results = _forged(world, 100)
    notices = world.outbox("rejection_notice")
    assert len(notices) == 20
    withheld = [r for r in results if "cap of 20 notices an hour" in (r.detail or "")]
    assert len(withheld) == 80
    for notice in notices:
        body = _text(notice)
        assert "http" not in notice.subject and "spam.example" not in notice.subject
        assert (
            "http" not in body
            and "spam.example" not in body
            and "CHEAP PILLS" not in body.split("Hello,")[0]
        )
        assert "Hello," in body  # their display name (a spam slogan) is not repeated
        assert len(notice.subject) <= len("Not recorded: ") + 40

    # An hour later the cap has room again.
    later = world.ingest(
        hostile("forged_stranger_spam.eml", n="100", **{"from": "victim100@v.example"}),
        at=DAY + timedelta(hours=1, minutes=1),
    )
    assert "notice sent" in (later.detail or "")
    tick(world.sessions, DIGEST_TIME)
    [digest] = _digests(world)
    assert "Not answered (80)" in _text(digest)


@pytest.mark.parametrize(
    "name", ["stranger_vouched_dmarc_pass.eml", "stranger_vouched_spf_pass.eml"]
)
def test_a_stranger_our_host_vouches_for_gets_one_sanitised_notice(world: World, name: str) -> None:
    """Our receiving host saw DMARC (or SPF) pass for the stranger's own domain, so the
    notice reaches the real sender, once a day; it quotes at most 40 characters of their
    subject, with the link taken out and the right-to-left override character gone."""
    first = world.ingest(hostile(name))
    again = world.ingest(hostile(name).replace(b"<vouched-", b"<again-"))
    assert (first.outcome, again.outcome) == ("unknown-sender", "unknown-sender")
    [notice] = world.outbox("rejection_notice")
    assert notice.recipient == "jo@partner.example"
    quoted = notice.subject.removeprefix("Not recorded: ")
    assert len(quoted) <= 40 and quoted.startswith("Re: Quarterly figures [link]")
    body = _text(notice)
    for text in (notice.subject, body, _html(notice)):
        assert "http" not in text and "partner.example/files" not in text
        assert "\u202e" not in text and "gnp.exe" not in text
    assert "Hello," in body and "Jo Partner" not in body
    assert "already explained" in (again.detail or "")


def test_a_pass_for_another_domain_does_not_vouch_for_the_sender(world: World) -> None:
    """SPF and DMARC passed for forger.example, but the From (where a notice would go) is
    at partner.example: that is no evidence the victim sent it, so no notice."""
    result = world.ingest(hostile("stranger_pass_for_other_domain.eml"))
    assert result.outcome == "unknown-sender"
    assert "not verified by our receiving host" in (result.detail or "")
    assert world.outbox("rejection_notice") == []


# --------------------------------------------------------------------------------------------
# Loops through forwarders
# --------------------------------------------------------------------------------------------


def test_a_confirmation_reflected_by_a_header_stripping_forwarder_is_dropped(
    world: World,
) -> None:
    """A real confirmation of ours, sent back by a forwarder that rewrote From to Kevin and
    stripped our loop header, Auto-Submitted and threading: our marker line in its own
    text says what it is, so it is dropped, not answered."""
    raw = hostile(
        "forwarder_stripped_confirmation.eml", **answering(world.request_raw(KEVIN_ADDRESS))
    )
    assert LOOP_HEADER.encode() not in raw and b"Auto-Submitted" not in raw
    before = _not_requests(world)
    result = world.ingest(raw)
    assert result.outcome == "own-mail", result
    assert "headers stripped" in (result.detail or "")
    assert _not_requests(world) == before


def test_our_marker_means_our_own_email_only_in_a_whole_reflection() -> None:
    """The stored reflection's text is ours from its first line to the marker: our own mail.
    The same text below a person's words, or quoted, only answers our mail (and is read)."""
    raw = hostile("forwarder_stripped_confirmation.eml", token="abcdefghijklmnop")
    text = decode_message(raw).text
    first = first_line("Ashdown District Council")
    assert marker_in_own_text(text, first)
    assert not marker_in_own_text("BV8a.2: 1300\n\n" + text, first)
    quoted = "\n".join("> " + line for line in text.split("\n"))
    assert not marker_in_own_text("BV8a.2: 1300\n\nOn Tue, Ashdown wrote:\n" + quoted, first)
    assert marker_quoted(quoted) and not marker_quoted("BV8a.2: 1300, ref MC-AUTO please")


def _reflect(raw: bytes, variant: int) -> bytes:
    """Our email as a forwarder in Kevin's mailbox sends it back to the reply address.

    Every variant strips our loop header, Auto-Submitted and X-Auto-Response-Suppress and
    rewrites From to Kevin:
    0. a redirect with a new Message-ID and no threading;
    1. a redirect that keeps our Message-ID;
    2. an inline forward, "> "-quoted, In-Reply-To our email;
    3. an inline forward under a "Forwarded message" header block, no threading.
    """
    ours = email.message_from_bytes(raw, policy=policy.SMTP)
    assert isinstance(ours, EmailMessage)
    reply_to = str(ours["Reply-To"])
    our_id = str(ours["Message-ID"])
    subject = " ".join(str(ours["Subject"]).split())
    if variant in (0, 1):
        for name in (LOOP_HEADER, "Auto-Submitted", "X-Auto-Response-Suppress", "From", "To"):
            del ours[name]
        ours["From"] = KEVIN
        ours["To"] = reply_to
        if variant == 0:
            for name in ("Message-ID", "In-Reply-To", "References"):
                del ours[name]
            ours["Message-ID"] = make_msgid(domain="forward.example")
        return ours.as_bytes()
    text = clients.plain_text(ours)
    out = EmailMessage(policy=policy.SMTP)
    out["From"] = KEVIN
    out["To"] = reply_to
    out["Subject"] = "Fwd: " + subject
    out["Message-ID"] = make_msgid(domain="forward.example")
    if variant == 2:
        out["In-Reply-To"] = our_id
        quoted = "\n".join("> " + line if line else ">" for line in text.split("\n"))
        out.set_content(f"On 5 May 2026, performance@ashdown.example wrote:\n{quoted}\n")
    else:
        out.set_content(
            "---------- Forwarded message ---------\n"
            "From: Ashdown Performance Team <performance@ashdown.example>\n"
            "Date: Tue, 5 May 2026 at 10:00\n"
            f"Subject: {subject}\n"
            "To: Kevin Walsh <kevin.walsh@ashdown.example>\n\n" + text
        )
    return out.as_bytes()


def test_a_loop_through_a_header_stripping_forwarder_stops_after_at_most_two_emails(
    world: World,
) -> None:
    """Kevin's mailbox forwards everything back to us with our headers stripped. Our
    outbox messages to him are reflected back through the pipeline 40 times, in four ways
    a forwarder does it, always the latest automatic email we sent him. The loop stops:
    at most 2 automatic emails in all (the confirmation of his real reply included), where
    the unfixed service sent one per reflection up to its hourly cap."""
    automatic_before = _automatic(world, KEVIN_ADDRESS)
    assert len(automatic_before) == 1  # the confirmation of his real reply
    outcomes = []
    for n in range(40):
        latest = _automatic(world, KEVIN_ADDRESS)[-1]
        result = world.ingest(_reflect(latest.raw, n % 4), at=DAY + timedelta(minutes=n + 1))
        outcomes.append(result.outcome)
    automatic = _automatic(world, KEVIN_ADDRESS)
    assert len(automatic) <= 2, [(r.kind, r.subject) for r in automatic]
    assert world.outbox("rejection_notice") == []
    assert set(outcomes) <= {"own-mail", "no-answers", "duplicate"}, outcomes
    assert _value(world, "BV8a.1") == Decimal(1234)  # his real answer stands


def test_answering_our_automatic_mail_more_than_twice_an_hour_stops_it_for_the_day(
    world: World,
) -> None:
    """A person (or a robot we did not recognise) answering our confirmations: the third
    answer within an hour is applied but not confirmed, nor is anything else that day
    (recorded in the outcome detail); the next day they are confirmed again."""
    conf = _automatic(world, KEVIN_ADDRESS)[-1]
    results = []
    for n in range(3):  # each a correction typed above the quoted confirmation
        result = world.ingest(
            clients.gmail_top_posted(conf.raw, KEVIN, f"BV8a.1: {1240 + n}"),
            at=DAY + timedelta(minutes=10 * (n + 1)),
        )
        results.append(result)
        conf = _automatic(world, KEVIN_ADDRESS)[-1]
    assert [r.outcome for r in results] == ["applied"] * 3
    assert len(_automatic(world, KEVIN_ADDRESS)) == 3  # the first reply's and two more
    assert _value(world, "BV8a.1") == Decimal(1242)  # the third correction was applied
    stopped = world.message(results[2].id)
    assert any(
        s.get("stage") == "confirm" and s.get("result") == "withheld" for s in stopped.stages or []
    )
    # Later that day, even a reply to the request itself gets no automatic mail.
    later = world.ingest(
        clients.phone(world.request_raw(KEVIN_ADDRESS), KEVIN, "BV8a.2: 1310"),
        at=DAY + timedelta(hours=4),
    )
    assert later.outcome == "applied" and _value(world, "BV8a.2") == Decimal(1310)
    assert len(_automatic(world, KEVIN_ADDRESS)) == 3
    # The next day he is confirmed again.
    tomorrow = world.ingest(
        clients.phone(world.request_raw(KEVIN_ADDRESS), KEVIN, "BV8a.2: 1320"),
        at=DAY + timedelta(days=1),
    )
    assert tomorrow.outcome == "applied"
    assert len(_automatic(world, KEVIN_ADDRESS)) == 4


# --------------------------------------------------------------------------------------------
# The daily digest
# --------------------------------------------------------------------------------------------


@pytest.fixture
def failing_once(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make the next message fail with a fault of ours (a bug in a stage)."""
    original = pipeline_module.run_stages
    calls = {"n": 0}

    def broken(run: Run) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a bug of ours")
        original(run)

    monkeypatch.setattr(pipeline_module, "run_stages", broken)
    yield
    monkeypatch.setattr(pipeline_module, "run_stages", original)


def test_the_digest_goes_once_a_day_with_the_right_content(
    world: World, request: pytest.FixtureRequest
) -> None:
    """One day's hostile and faulty mail: a DMARC fail, an unreadable result, a message too
    large to read, a forged stranger, a reflected confirmation, a failed message and a
    sender we could not write to, beside an ordinary reply. The next morning at 07:00 the
    performance team gets one digest listing each of them once, under its group, and the
    ordinary reply not at all; ticking again sends nothing more, and a quiet day sends
    none."""
    kevin = answering(world.request_raw(KEVIN_ADDRESS))
    held_dmarc = world.ingest(
        hostile(DMARC_FAIL_SPELLINGS[0], **kevin, **{"from": KEVIN, "answers": "BV8a.1: 1"})
    )
    held_auth = world.ingest(
        hostile("auth_unreadable.eml", **kevin, **{"from": KEVIN, "answers": "BV8a.1: 2"})
    )
    too_deep = world.ingest(
        hostile("dsn_600_parts.eml").replace(b"Return-Path: <>", b"Return-Path: <x@y.example>")
    )
    stranger = world.ingest(
        hostile("forged_stranger_spam.eml", n="7", **{"from": "victim7@v.example"}).replace(
            b"Subject: CHEAP", b"Subject: <script>x</script> CHEAP"
        )
    )
    reflected = world.ingest(hostile("forwarder_stripped_confirmation.eml", **kevin))
    unwritable = world.ingest(
        clients.phone(world.request_raw(KEVIN_ADDRESS), KEVIN, "BV8a.2: 1301")
    )
    # Another stage (issue 12's "a From address we cannot write to") gives this outcome;
    # here it is set on a processed message, as that stage leaves it.
    with world.sessions() as s, s.begin():
        s.execute(
            update(m.InboundMessage)
            .where(m.InboundMessage.id == unwritable.id)
            .values(outcome="unwritable-sender", outcome_detail="no email can be built for it")
        )
    request.getfixturevalue("failing_once")
    failed = world.ingest(
        clients.phone(world.request_raw(KEVIN_ADDRESS), KEVIN, "BV8a.2: <script>1302")
    )
    assert failed.state == "failed", failed
    ordinary = world.ingest(clients.phone(world.request_raw(KEVIN_ADDRESS), KEVIN, "BV8a.2: 1303"))
    assert ordinary.outcome == "applied"

    tick(world.sessions, DIGEST_TIME - timedelta(minutes=1))
    assert _digests(world) == []  # not before 07:00
    tick(world.sessions, DIGEST_TIME)
    tick(world.sessions, DIGEST_TIME + timedelta(minutes=5))
    tick(world.sessions, DIGEST_TIME + timedelta(hours=6))
    [digest] = _digests(world)
    assert digest.recipient == "performance@ashdown.example"
    assert digest.dedupe_key == "digest:2026-05-05"
    assert "Tuesday 5 May 2026" in digest.subject and "7 messages" in digest.subject
    text = _text(digest)
    sections = {
        "Held for a person (3)": [held_dmarc, held_auth, too_deep],
        "Failed (1)": [failed],
        "Senders we could not write to (1)": [unwritable],
        "Not answered (1)": [stranger],
        "Our own emails came back (1)": [reflected],
    }
    starts = {title: text.index(title) for title in sections}
    order = sorted(starts, key=starts.__getitem__)
    for title, listed in sections.items():
        following = [starts[t] for t in order if starts[t] > starts[title]]
        block = text[starts[title] : min(following, default=len(text))]
        for result in listed:
            assert f"#{result.id}," in block, (title, result)
    assert f"#{ordinary.id}," not in text
    assert "dmarc-fail" in text and "auth-unreadable" in text and "too-large" in text
    assert "victim7@v.example" in text and "http://spam.example" not in text
    html = _html(digest)
    assert "<script>x</script>" in text  # the text part shows it as written, cut short
    assert "<script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert all(f"#{r.id}" in html for results in sections.values() for r in results)
    assert max(len(line) for line in text.split("\n")) <= 78

    # A quiet day: nothing to list, no digest.
    tick(world.sessions, DIGEST_TIME + timedelta(days=1))
    assert len(_digests(world)) == 1
