"""Real SMTP servers on loopback for tests: aiosmtpd controllers with scripted answers."""

from __future__ import annotations

import asyncio
import email
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiosmtpd.controller import Controller

from tests.ports import free_port

__all__ = ["RecordingSink", "free_port", "smtp_sink"]


class RecordingSink:
    """Accepts everything and keeps what arrived; ``answers`` scripts DATA replies in order.

    ``answers=["451 4.3.0 Try later"]`` makes the first message fail temporarily and every
    later one succeed; ``delay`` slows each message down (to make concurrency visible).
    """

    def __init__(self, answers: list[str] | None = None, delay: float = 0.0) -> None:
        self.answers = list(answers or [])
        self.delay = delay
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            if self.answers:
                return self.answers.pop(0)
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 OK"

    def message_ids(self) -> list[str]:
        return [str(email.message_from_bytes(raw)["Message-ID"]) for _, _, raw in self.messages]


@contextmanager
def smtp_sink(handler: RecordingSink) -> Iterator[str]:
    """Run ``handler`` on a free loopback port; yields its ``smtp://`` URL."""
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{controller.port}"
    finally:
        controller.stop()
