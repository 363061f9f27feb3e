"""Hostile headers and charsets are stored and handled, never failed (issue 12).

Each test feeds a built message from ``tests/corpus/hostile/`` (see its SOURCES.md, "Storage
and decoding") through ``Pipeline.ingest`` on SQLite and on PostgreSQL, after the sample
council's April requests went out. ``@TOKEN@`` in a message stands for the token of Kevin
Walsh's real request, put in before it is sent, so the reply reaches the parse and apply
stages as a real one would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.domain.enums import SubmissionState
from mailcapture.mailflow.store import (
    MESSAGE_ID_CHARS,
    SENDER_CHARS,
    SUBJECT_CHARS,
    Envelope,
    header_facts,
    store_raw,
)
from tests.conftest import CORPUS, SampleRegister
from tests.mailflow.world import PipelineWorld, april_requests_sent

HOSTILE = CORPUS / "hostile"
KEVIN = "kevin.walsh@ashdown.example"


@pytest.fixture
def world(sessions: sessionmaker[Session], sample_register: SampleRegister) -> PipelineWorld:
    return april_requests_sent(sessions, sample_register)


def _token(world: PipelineWorld) -> str:
    with world.sessions() as s:
        return s.scalars(
            select(m.DataRequest.token)
            .join(m.Person, m.Person.id == m.DataRequest.person_id)
            .where(m.Person.email == KEVIN)
        ).one()


def _raw(world: PipelineWorld, name: str) -> bytes:
    return (HOSTILE / name).read_bytes().replace(b"@TOKEN@", _token(world).encode())


def _stage(row: m.InboundMessage, name: str) -> dict[str, object]:
    return next(entry for entry in row.stages or [] if entry.get("stage") == name)


def _values(world: PipelineWorld, code: str) -> list[m.ComponentValue]:
    with world.sessions() as s:
        return list(
            s.scalars(
                select(m.ComponentValue)
                .join(m.Component)
                .where(m.Component.code == code, m.ComponentValue.source == "email")
                .order_by(m.ComponentValue.id)
            )
        )


def _mail_to(world: PipelineWorld, fragment: str) -> list[m.OutboxMessage]:
    with world.sessions() as s:
        return list(
            s.scalars(
                select(m.OutboxMessage).where(
                    m.OutboxMessage.kind != "request", m.OutboxMessage.recipient.contains(fragment)
                )
            )
        )


@pytest.fixture
def no_new_mail(world: PipelineWorld) -> Iterator[None]:
    """Asserts that the test queued no outgoing mail at all."""
    with world.sessions() as s:
        before = len(s.scalars(select(m.OutboxMessage.id)).all())
    yield
    with world.sessions() as s:
        assert len(s.scalars(select(m.OutboxMessage.id)).all()) == before


# ------------------------------------------------------------------ everything storable


def test_a_nul_in_the_from_address_is_stored_and_the_sender_gets_nothing(
    world: PipelineWorld, no_new_mail: None
) -> None:
    """``from_nul_in_address.eml``: PostgreSQL refused the From address with its NUL, so the
    message could never be stored (451 for ever). Now the raw bytes are stored as they came,
    the sender column holds the address with U+FFFD where the NUL was (never deleted, which
    would make it Kevin's real address), and the reply is not applied as Kevin's: nobody in
    the register sent it, and its address cannot be written to, so no notice goes out."""
    raw = _raw(world, "from_nul_in_address.eml")
    result = world.ingest(raw)
    row = world.inbound(result.id)
    assert row.raw == raw
    assert row.sender == "kevin.wal\ufffdsh@ashdown.example"
    assert (result.state, result.outcome) == ("processed", "unwritable-sender")
    assert "control characters" in (result.detail or "")
    assert _values(world, "BV8a.1") == []


@pytest.mark.parametrize(
    ("name", "word"),
    [
        ("subject_zlib_encoded_word.eml", "=?zlib?B?eJw=?="),
        ("subject_base64_charset_encoded_word.eml", "=?base64?B?YWJj?="),
        ("subject_hex_charset_encoded_word.eml", "=?hex?Q?41?="),
    ],
)
def test_an_encoded_word_in_a_non_text_charset_is_kept_as_written(
    world: PipelineWorld, name: str, word: str
) -> None:
    """``subject_*_encoded_word.eml``: ``decode_rfc2047`` decoded ``=?zlib?B?eJw=?=`` (and
    base64 and hex "charsets") through Python's bytes-to-bytes codec, which raises
    LookupError, so storing failed every time. The word is now left as written, in the
    stored subject and in the decoded one, with the reason among the decode defects, and the
    reply (with Kevin's token) is applied as any other."""
    result = world.ingest(_raw(world, name))
    row = world.inbound(result.id)
    assert row.subject is not None and row.subject.startswith(word)
    assert (result.state, result.outcome) == ("processed", "applied")
    assert "is not a text charset" in str(_stage(row, "decode")["detail"])
    assert [v.value for v in _values(world, "BV8a.1")] == [1234]


def test_store_raw_takes_any_header_on_every_database(sessions: sessionmaker[Session]) -> None:
    """Every header fact is made storable: NULs and other controls, lone surrogates from a
    UTF-7 encoded word, raw 8-bit bytes, an over-long sender, a NUL in the envelope."""
    from datetime import UTC, datetime

    raw = (
        b"From: =?utf-7?Q?+2D0-?= <" + b"x" * 400 + b"\x00@example.org>\r\n"
        b"Subject: caf\xe9 \x00\x01\x7f =?utf-7?Q?+2D0-?= =?zlib?B?eJw=?=\r\n"
        b"Message-ID: <a\x00b@example.org>\r\n\r\nbody\r\n"
    )
    envelope = Envelope(
        source="smtp", source_ref="peer\x00", mail_from="a\x00@b", rcpt_to=("r\x00@x",)
    )
    with sessions.begin() as session:
        stored = store_raw(session, raw, envelope, datetime(2026, 5, 5, tzinfo=UTC))
    with sessions() as session:
        row = session.get_one(m.InboundMessage, stored.id)
        assert row.raw == raw
        assert row.message_id is None  # a NUL in it: no key, the content hash stands in
        assert row.subject == "caf\ufffd  =?zlib?B?eJw=?="  # the controls go, not the spaces
        assert row.sender is not None and len(row.sender) == 320 and row.sender.endswith("…")
        assert (row.envelope_from, row.envelope_to, row.source_ref) == ("a@b", ["r@x"], "peer")


_HEADER_BYTES = st.binary(max_size=300) | st.lists(
    st.sampled_from(
        [
            *(b"\x00", b"\xff", b"\xc3\xa9", b"=?zlib?B?eJw=?=", b"=?utf-7?Q?+2D0-?=", b"<"),
            *(b">", b"@", b"a", b"\r\n ", b"\n", b'"', b"=?utf-8?B?7aCA?=", b"x" * 500),
        ]
    ),
    max_size=20,
).map(b"".join)


@given(_HEADER_BYTES, _HEADER_BYTES, _HEADER_BYTES)
def test_header_facts_are_storable_whatever_the_headers_hold(
    sender: bytes, subject: bytes, message_id: bytes
) -> None:
    """No NUL or other control, no lone surrogate, no more than the column holds."""
    raw = b"From: " + sender + b"\r\nSubject: " + subject + b"\r\nMessage-ID: " + message_id
    facts = header_facts(raw + b"\r\n\r\nbody\r\n")
    for text, limit in zip(facts, (MESSAGE_ID_CHARS, SENDER_CHARS, SUBJECT_CHARS), strict=True):
        if text is not None:
            assert len(text) <= limit
            assert not re.search("[\x00-\x1f\x7f\ud800-\udfff]", text)
    assert facts[0] is None or facts[0].isascii()


# ------------------------------------------------------------------ every stage total


@pytest.mark.parametrize(
    ("charset", "signed"),
    [
        ("zlib", "Thanks \u2013 Kevin"),
        ("rot13", "Thanks \u2013 Kevin"),
        ("punycode", "Thanks - Kevin"),
    ],
)
def test_a_part_in_a_non_text_charset_is_read_by_the_fallback(
    world: PipelineWorld, charset: str, signed: str
) -> None:
    """``part_charset_{zlib,rot13,punycode}.eml``: mime.py caught only UnicodeDecodeError, so
    ``charset=zlib`` or ``rot13`` (LookupError: not a text encoding) and ``punycode`` over
    ASCII text (UnicodeError: invalid code point) failed the message. Such a charset is now
    refused as a charset: the part is read by the fallback (UTF-8, then charset detection),
    the refusal is among the decode stage's defects, and the answers are applied."""
    result = world.ingest(_raw(world, f"part_charset_{charset}.eml"))
    row = world.inbound(result.id)
    assert (result.state, result.outcome) == ("processed", "applied")
    detail = str(_stage(row, "decode")["detail"])
    assert f"charset {charset!r} is not a text charset" in detail
    assert signed in (row.decoded_text or "")  # the bytes as they are: UTF-8 or ASCII
    assert [v.value for v in _values(world, "BV8a.2")] == [1300]


def test_a_number_too_large_to_store_is_rejected_and_the_rest_applies(
    world: PipelineWorld,
) -> None:
    """``answer_number_too_large.eml``: ``BV8a.1: 99999999999999999999999999999`` raised
    decimal.InvalidOperation, and the whole reply was lost with its valid value and no
    confirmation. Now that line is a rejected value, "too large" with the limit, and BV8a.2
    is stored and confirmed in the same confirmation."""
    result = world.ingest(_raw(world, "answer_number_too_large.eml"))
    assert (result.state, result.outcome) == ("processed", "applied")
    (rejected,) = _values(world, "BV8a.1")
    assert rejected.state is SubmissionState.REJECTED and rejected.value is None
    assert rejected.raw_answer == "99999999999999999999999999999"
    assert rejected.reason is not None and rejected.reason.startswith("too large")
    assert "999,999,999,999.999999" in rejected.reason
    (accepted,) = _values(world, "BV8a.2")
    assert accepted.state is SubmissionState.ACCEPTED and accepted.value == 1890
    (confirmation,) = [row for row in _mail_to(world, KEVIN) if row.kind == "confirmation"]
    text = clients.plain_text(clients.parsed(confirmation.raw))
    assert "too large" in text and "1,890" in text


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("from_non_ascii_local_part.eml", "not ASCII"),
        ("from_malformed_address.eml", "not a host name"),
        ("from_no_readable_address.eml", "no address we can read"),
    ],
)
def test_a_from_address_we_cannot_write_to_gets_no_notice(
    world: PipelineWorld, no_new_mail: None, name: str, why: str
) -> None:
    """``from_non_ascii_local_part.eml`` (raw UTF-8 ``kévin.walsh@...``, no SMTPUTF8) and
    ``from_malformed_address.eml`` (``kevin.walsh@ashdown..example``): building the rejection
    notice to the stranger raised (compose/message.py refuses a non-ASCII recipient, the
    stdlib's address parser a malformed one), so the message failed. Now no notice is queued,
    the message ends ``unwritable-sender`` with the reason, and the reply stage says it was
    withheld, for the performance team's digest. ``from_no_readable_address.eml``
    (``kevin.walsh@@...``, where the parser finds no address at all) ended ``no-sender`` as
    if it had no From header; it is the same case, and ends the same way."""
    result = world.ingest(_raw(world, name))
    row = world.inbound(result.id)
    assert (result.state, result.outcome) == ("processed", "unwritable-sender")
    assert why in (result.detail or "")
    assert _stage(row, "reply")["result"] == "withheld"
    assert _values(world, "BV8a.1") == []


def test_a_valid_address_of_241_characters_gets_its_notice(world: PipelineWorld) -> None:
    """A stranger at a valid address as long as RFC 5321 allows, whom our receiving host
    vouches for, is written to like any other: the outbox key for "once per sender, reason
    and day" (200 characters) holds a digest of an address that long, where PostgreSQL
    refused the key with the address in it and the message failed."""
    domain = "b" * 63 + "." + "c" * 63 + "." + "d" * 40 + ".example"
    address = "k" * 64 + "@" + domain
    raw = (
        f"From: {address}\r\nTo: returns@returns.ashdown.example\r\nSubject: figures\r\n"
        f"Message-ID: <long-address@client.example>\r\n"
        f"Authentication-Results: mx.ashdown.example; dmarc=pass header.from={domain}\r\n"
        "\r\nBV8a.1: 12\r\n"
    ).encode()
    result = world.ingest(raw)
    assert (result.state, result.outcome) == ("processed", "unknown-sender")
    (notice,) = _mail_to(world, address)
    assert notice.kind == "rejection_notice" and notice.recipient == address
    assert notice.dedupe_key is not None and len(notice.dedupe_key) <= 200


def test_a_bounce_whose_diagnostic_holds_an_undecodable_byte_is_recorded(
    world: PipelineWorld,
) -> None:
    """``bounce_8bit_diagnostic.eml``: a delivery report for Natalie Price whose
    ``Diagnostic-Code`` holds a raw 0x9c byte inside the address. The status part is read with
    surrogate escapes, so the server's words kept a lone surrogate; storing them as her
    ``mail_failure_reason`` raised UnicodeEncodeError on both databases and the bounce ended
    ``failed`` (fuzz case 5096 of ``benchmarks/fuzz.py``). Now the byte reads as U+FFFD: the
    bounce is recorded against her, her failure reason is the server's words with the
    unreadable byte marked, and the performance team's bounce notice quotes them."""
    natalie = "natalie.price@ashdown.example"
    raw = (HOSTILE / "bounce_8bit_diagnostic.eml").read_bytes()
    assert b"\x9c" in raw
    result = world.ingest(raw)
    assert (result.state, result.outcome) == ("processed", "bounce")
    said = "550 5.1.1 <natali\ufffd.price@ashdown.example>: Recipient address rejected"
    assert said in (result.detail or "")
    with world.sessions() as s:
        person = s.scalars(select(m.Person).where(m.Person.email == natalie)).one()
        assert person.mail_failing_since is not None
        assert person.mail_failure_reason == said
    [notice] = world.outbox("bounce_notice")
    text = " ".join(clients.plain_text(clients.parsed(notice.raw)).split())
    assert f"Server said: {said}" in text


def test_a_feedback_report_whose_type_holds_an_undecodable_byte_is_recorded(
    world: PipelineWorld, no_new_mail: None
) -> None:
    """``arf_8bit_feedback_type.eml``: the corpus's NetEase DMARC failure report with a raw
    0xa9 byte in ``Feedback-Type``. The report's fields kept it as a lone surrogate, which
    went into the stored classification rule (``arf:aut\\udca9-failure``): UnicodeEncodeError
    on both databases, ``failed`` (fuzz case 7010). Now every field of a report is read with
    the byte as U+FFFD, so the report is recorded as a complaint about mail that is not ours,
    with no reply."""
    raw = (HOSTILE / "arf_8bit_feedback_type.eml").read_bytes()
    assert b"\xa9" in raw
    result = world.ingest(raw)
    assert (result.state, result.outcome) == ("processed", "complaint")
    row = world.inbound(result.id)
    assert row.classification_rule == "arf:aut\ufffd-failure"
    assert "does not match any email of ours" in (result.detail or "")
