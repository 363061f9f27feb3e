"""The text of what we sent, as the parser compares a reply against it."""

from __future__ import annotations

from mailcapture.parsing.mime import decode_message


def sent_text(raw: bytes) -> str:
    """The text/plain part of one of our own outgoing messages."""
    return decode_message(raw).text
