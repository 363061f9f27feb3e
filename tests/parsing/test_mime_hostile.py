"""Charsets and headers from hostile senders: decoded through real text encodings only,
every fallback noted, nothing raised (issue 12)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailcapture.parsing.mime import (
    MessageTooLarge,
    MimeTooDeep,
    clean_text,
    decode_message,
    decode_rfc2047,
)

NON_TEXT_CODECS = ["zlib", "base64", "hex", "rot13", "bz2", "uu", "quopri", "unicode_escape"]


@pytest.mark.parametrize(
    "word", ["=?zlib?B?eJw=?=", "=?base64?B?YWJj?=", "=?hex?Q?41?=", "=?ROT13?Q?uryyb?="]
)
def test_an_encoded_word_in_a_non_text_codec_is_left_as_written(word: str) -> None:
    defects: list[str] = []
    assert decode_rfc2047(f"Re: {word} figures", defects) == f"Re: {word} figures"
    assert any("is not a text charset" in d and "left as written" in d for d in defects)


def test_an_unknown_charset_name_in_an_encoded_word_still_falls_back() -> None:
    """Only codecs of another kind are refused outright; a name Python does not know is
    read by the fallback, as ``=?NONE?...`` always was."""
    defects: list[str] = []
    assert decode_rfc2047("=?x-nonsense?B?w6k=?=", defects) == "\u00e9"
    assert defects == ["header: unknown charset 'x-nonsense'", "header: charset guessed as utf-8"]


def _message(charset: str, body: bytes) -> bytes:
    return (
        b"From: someone@example.org\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=" + charset.encode() + b"\r\n\r\n" + body
    )


@pytest.mark.parametrize("charset", [*NON_TEXT_CODECS, "punycode", "idna", "undefined"])
def test_a_part_in_a_codec_that_is_no_charset_is_read_by_the_fallback(charset: str) -> None:
    decoded = decode_message(_message(charset, "BV8a.1: 12 \u2013 caf\u00e9\r\n".encode()))
    assert decoded.text == "BV8a.1: 12 \u2013 caf\u00e9\n"
    assert f"message: charset {charset!r} is not a text charset" in decoded.defects
    assert "message: charset guessed as utf-8" in decoded.defects


def test_an_ascii_part_in_such_a_codec_is_read_as_ascii_and_noted() -> None:
    decoded = decode_message(_message("rot13", b"BV8a.1: 12\r\n"))
    assert decoded.text == "BV8a.1: 12\n"
    assert decoded.defects == ["message: charset 'rot13' is not a text charset"]


def test_utf7_that_decodes_to_a_lone_surrogate_leaves_none_behind() -> None:
    """UTF-7 can encode half a surrogate pair; neither database can store one."""
    decoded = decode_message(_message("utf-7", b"BV8a.1: 12 +2D0-\r\n"))
    assert decoded.text == "BV8a.1: 12 \n"
    assert clean_text("a\ud800b\udcffc") == "abc"


def test_an_rfc2231_parameter_in_an_undecodable_charset_does_not_raise() -> None:
    """``filename*=undefined''x``: the stdlib's collapse_rfc2231_value raised UnicodeError."""
    raw = (
        b"From: someone@example.org\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain\r\n\r\nBV8a.1: 12\r\n--b\r\n"
        b"Content-Type: application/octet-stream\r\n"
        b"Content-Disposition: attachment; filename*=undefined''r%E9sum%E9.pdf\r\n"
        b"\r\nxx\r\n--b--\r\n"
    )
    decoded = decode_message(raw)
    assert decoded.text == "BV8a.1: 12"
    assert [a.filename for a in decoded.attachments] == ["r\u00e9sum\u00e9.pdf"]
    assert "filename parameter: charset 'undefined' is not a text charset" in decoded.defects


def test_a_control_character_in_the_from_address_is_never_deleted() -> None:
    """Deleted, ``kevin.wal\\0sh@...`` would be Kevin's real address; shown as U+FFFD it
    matches nobody, stores anywhere and cannot be written to."""
    decoded = decode_message(b"From: Kevin <kevin.wal\x00sh@ashdown.example>\r\n\r\nhi\r\n")
    assert decoded.from_address == "kevin.wal\ufffdsh@ashdown.example"
    assert "header: control character in an address; shown as U+FFFD" in decoded.defects


def test_a_message_id_with_a_nul_is_no_message_id() -> None:
    decoded = decode_message(b"From: a@example.org\r\nMessage-ID: <a\x00b@example.org>\r\n\r\nx")
    assert decoded.message_id is None
    assert decoded.raw_message_id == "<ab@example.org>"  # shown cleaned, never used as a key


_HOSTILE_CHARSETS = st.sampled_from(
    [*NON_TEXT_CODECS, "punycode", "idna", "undefined", "utf-7", "utf-16", "utf-32", "x-foo"]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_HOSTILE_CHARSETS, _HOSTILE_CHARSETS, st.binary(max_size=200), st.binary(max_size=60))
def test_decoding_any_charset_never_raises_and_leaves_clean_text(
    body_charset: str, header_charset: str, body: bytes, word: bytes
) -> None:
    import base64

    encoded = base64.b64encode(word).decode()
    raw = (
        f"From: =?{header_charset}?B?{encoded}?= <a@example.org>\r\n"
        f"Subject: =?{header_charset}?B?{encoded}?= =?{header_charset}?Q?=FF=00?=\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset={body_charset}\r\n"
        f"Content-Disposition: inline; filename*={header_charset}''%FF%00\r\n\r\n"
    ).encode() + body
    try:
        decoded = decode_message(raw)
    except (MessageTooLarge, MimeTooDeep):  # the only two refusals there are
        return
    for text in (decoded.text, decoded.subject, decoded.from_name or ""):
        assert clean_text(text) == text.replace("\r", "")
        text.encode("utf-8")  # no lone surrogate
