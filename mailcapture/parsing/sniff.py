"""Is a file an email message at all? Said before anything is stored from it.

``mailcapture ingest`` takes files a person points it at, and people point it at the wrong
thing: an Outlook ``.msg`` (a binary compound file, not RFC 5322), a PDF, a spreadsheet, the
body text of a reply without its headers. The pipeline stores and classifies whatever a mail
server hands it, but a file of the wrong kind is a user's mistake, to be named in one line
instead of being captured as a message "with no From address".

The test is deliberately lenient about the message itself (malformed mail is the pipeline's
business, and must reach it): the bytes must not be a known binary format, and must start with
a header block, the first line a header field and at least one of the fields every message
has. Only the start of the file is read, so the cost is bounded whatever its size.
"""

from __future__ import annotations

import re

__all__ = ["not_a_message"]

#: How much of the start of a file is looked at.
_SNIFF_BYTES = 64 * 1024

#: Formats people save mail or attachments in, by their leading bytes.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "an Outlook .msg file (a binary format): forward the message as an attachment "
        "instead, or save it as .eml",
    ),
    (b"%PDF-", "a PDF file"),
    (b"PK\x03\x04", "a zip archive (or an Excel or Word file)"),
    (b"\x1f\x8b", "a gzip archive: unpack it first"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"{\\rtf", "an RTF document"),
)

_LINE = re.compile(rb"\r\n|\r|\n")
_FIELD = re.compile(rb"([!-9;-~]+)[ \t]*:")
_MBOX_FROM = b"From "
#: Fields at least one of which any real message has (RFC 5322 requires From and Date).
_ESSENTIAL = frozenset(
    {
        b"from",
        b"sender",
        b"date",
        b"subject",
        b"to",
        b"message-id",
        b"received",
        b"return-path",
        b"delivered-to",
        b"mime-version",
        b"content-type",
    }
)


def not_a_message(raw: bytes) -> str | None:
    """Why ``raw`` is not an RFC 5322 message, in a few words; ``None`` when it may be one."""
    head = raw[:_SNIFF_BYTES].removeprefix(b"\xef\xbb\xbf")
    if not head.strip():
        return "empty"
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return f"not an email message: {what}"
    lines = _header_lines(head)
    if any(b"\x00" in line for line in lines):
        return "not an email message: a binary file"
    if lines and lines[0].startswith(_MBOX_FROM):
        lines = lines[1:]
    if not lines or not _FIELD.match(lines[0]):
        return "not an email message: it does not start with headers such as From: and Subject:"
    names = {match.group(1).lower() for line in lines if (match := _FIELD.match(line)) is not None}
    if not names & _ESSENTIAL:
        return "not an email message: no From, Date, Subject or other message header"
    return None


def _header_lines(head: bytes) -> list[bytes]:
    """The lines before the first empty one (any line ending: CR-only files exist)."""
    lines: list[bytes] = []
    for line in _LINE.split(head.lstrip()):
        if not line:
            break
        lines.append(line)
    return lines
