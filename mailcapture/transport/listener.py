"""The SMTP / LMTP listener, on aiosmtpd: bytes in, "250" only once they are committed.

Thin by design: the handler checks recipients and size, hands the raw bytes to a
``store`` callable and answers the client according to what happened:

* 250 after ``store`` returned (the raw message is committed; processing comes later),
* 451 when ``store`` raised (the database is down, or our bug): the sending server
  keeps the message and retries, so nothing is lost,
* 550 at RCPT TO for a domain we do not serve, 552 (by aiosmtpd) over the size limit.

LMTP answers per recipient after DATA; the same rule applies to each.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP

from mailcapture.logs import event

#: (raw bytes, envelope sender, envelope recipients, peer) -> anything; raises if not stored.
Store = Callable[[bytes, str | None, Sequence[str], str], object]
Log = Callable[[str, dict[str, Any]], None]

_logger = logging.getLogger(__name__)
DEFAULT_MAX_BYTES = 25 * 1024 * 1024
LONG_LINE_LIMIT = 64 * 1024


@dataclass(frozen=True)
class ListenerConfig:
    host: str = "127.0.0.1"
    port: int = 2525
    lmtp: bool = False
    max_bytes: int = DEFAULT_MAX_BYTES
    accept_domains: frozenset[str] = frozenset()
    tls_cert: str | None = None
    tls_key: str | None = None
    hostname: str = "mailcapture"


class CaptureHandler:
    """aiosmtpd handler hooks: recipient policy and store-before-250."""

    def __init__(self, config: ListenerConfig, store: Store, log: Log | None = None) -> None:
        self.config = config
        self.store = store
        self.log = log or default_log

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        domain = address.rpartition("@")[2].lower().rstrip(">")
        if self.config.accept_domains and domain not in self.config.accept_domains:
            self.log("smtp.refused", {"rcpt": address, "peer": _peer(session)})
            return f"550 5.1.2 <{address}>: we do not accept mail for {domain}"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            # The store does blocking database work: keep the event loop free for others.
            await server.loop.run_in_executor(
                None, self.store, raw, envelope.mail_from, list(envelope.rcpt_tos), _peer(session)
            )
        except Exception as exc:  # any failure to commit is temporary for them
            self.log(
                "smtp.deferred",
                {
                    "error": f"{type(exc).__name__}: {exc}"[:300],
                    "bytes": len(raw),
                    "peer": _peer(session),
                },
            )
            reply = "451 4.3.0 Temporary failure storing the message; please try again later"
            return "\r\n".join([reply] * len(envelope.rcpt_tos)) if self.config.lmtp else reply
        self.log(
            "smtp.received",
            {
                "bytes": len(raw),
                "from": envelope.mail_from,
                "rcpt": list(envelope.rcpt_tos),
                "peer": _peer(session),
            },
        )
        if self.config.lmtp:
            return "\r\n".join(["250 2.0.0 Message accepted"] * len(envelope.rcpt_tos))
        return "250 2.0.0 Message accepted for delivery"


#: Events that mean mail is not getting in: an operator should see them.
WARNING_EVENTS = frozenset({"smtp.deferred"})


def default_log(name: str, fields: dict[str, Any]) -> None:
    """The listener's events as structured logs, at the level each deserves."""
    event(_logger, name, logging.WARNING if name in WARNING_EVENTS else logging.INFO, **fields)


def _peer(session: Any) -> str:
    peer = getattr(session, "peer", None)
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return str(peer or "")


class _Controller(Controller):
    """aiosmtpd's Controller with LMTP as an option."""

    def __init__(
        self, handler: CaptureHandler, config: ListenerConfig, tls: ssl.SSLContext | None
    ) -> None:
        self._lmtp = config.lmtp
        super().__init__(
            handler,
            hostname=config.host,
            port=config.port,
            ready_timeout=10,
            server_hostname=config.hostname,
            data_size_limit=config.max_bytes,
            tls_context=tls,
            require_starttls=False,
            decode_data=False,
            enable_SMTPUTF8=True,
            ident="mailcapture",
        )

    def factory(self) -> SMTP:
        cls = _LongLinesLMTP if self._lmtp else _LongLinesSMTP
        return cls(self.handler, **self.SMTP_kwargs)


class _LongLinesSMTP(SMTP):
    """RFC 5321 caps lines at 1000 octets, but real clients exceed it (long HTML lines
    sent as 8bit) and relays pass them on: refusing would lose a reply. The message size
    limit still bounds the memory used."""

    line_length_limit = LONG_LINE_LIMIT


class _LongLinesLMTP(LMTP):
    line_length_limit = LONG_LINE_LIMIT


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def start_listener(config: ListenerConfig, store: Store, log: Log | None = None) -> Controller:
    """Start listening in a background thread; ``.stop()`` finishes the transaction in hand."""
    tls = (
        tls_context(config.tls_cert, config.tls_key) if config.tls_cert and config.tls_key else None
    )
    controller = _Controller(CaptureHandler(config, store, log), config, tls)
    controller.start()
    return controller
