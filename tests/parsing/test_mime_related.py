"""multipart/related: the body is the part its ``start`` parameter names, not the first."""

from __future__ import annotations

from mailcapture.parsing.mime import decode_message

RELATED = (
    b"From: kevin.walsh@ashdown.example\r\nSubject: April figures\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/related; boundary="b1"; start="<body@x>"; type="text/plain"\r\n'
    b"\r\n"
    b"--b1\r\nContent-Type: text/plain\r\nContent-ID: <note@x>\r\n\r\nnot the body\r\n"
    b"--b1\r\nContent-Type: text/plain\r\nContent-ID: <body@x>\r\n\r\nBV8a.1: 1234\r\n"
    b"--b1--\r\n"
)


def test_related_reads_the_start_part_and_keeps_the_others_as_attachments() -> None:
    decoded = decode_message(RELATED)
    assert decoded.text == "BV8a.1: 1234"
    assert [a.content_type for a in decoded.attachments] == ["text/plain"]


def test_related_without_start_reads_its_first_part() -> None:
    decoded = decode_message(RELATED.replace(b' start="<body@x>";', b""))
    assert decoded.text == "not the body"
