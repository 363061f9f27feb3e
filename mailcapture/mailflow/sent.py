"""The text of what we sent, as the parser compares a reply against it."""

from __future__ import annotations

import threading
from collections import OrderedDict

from mailcapture.parsing.mime import decode_message


def sent_text(raw: bytes) -> str:
    """The text/plain part of one of our own outgoing messages."""
    return decode_message(raw).text


class SentTexts:
    """``sent_text`` of outbox rows, remembered by row: an outbox row never changes.

    Every reply is read against everything we sent for its request (the request, any
    reminders, earlier confirmations), so without this each reply decoded the same
    messages again. Keyed by the row's id and Message-ID (unique, random), so a row of
    another database with the same id is never mistaken for it. Bounded, least recently
    used first out; safe to share between threads.
    """

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._texts: OrderedDict[tuple[int, str], str] = OrderedDict()
        self._lock = threading.Lock()

    def text(self, row_id: int, message_id: str, raw: bytes) -> str:
        key = (row_id, message_id)
        with self._lock:
            found = self._texts.get(key)
            if found is not None:
                self._texts.move_to_end(key)
                return found
        text = sent_text(raw)
        with self._lock:
            self._texts[key] = text
            while len(self._texts) > self.size:
                self._texts.popitem(last=False)
        return text
