"""Outbound transport against real SMTP servers on loopback (aiosmtpd), no mocks.

Each server is an aiosmtpd ``Controller`` in its own thread on 127.0.0.1 and a free
port; handlers record what arrived (envelope, exact bytes, which connection carried it)
so the tests can assert on the wire result rather than on calls.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import socket
import ssl
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from mailcapture.transport.outbound import (
    ConfigError,
    DeliveryError,
    FolderSender,
    Sender,
    SmtpSender,
    SmtpSettings,
    sender_from_environment,
)
from tests.ports import free_port

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

FROM = "returns@mailcapture.example.org"
TO = "officer@council.example.gov.uk"
PASSWORD = "p@ss:w/rd%+ SECRET"  # every character that needs percent-encoding in a URL

# CRLF throughout, UTF-8 in a header and the body, and lines starting with dots, so the
# round trip also proves dot-stuffing is undone exactly.
MESSAGE = (
    b"From: Returns <returns@mailcapture.example.org>\r\n"
    b"To: officer@council.example.gov.uk\r\n"
    b"Subject: =?utf-8?q?Caf=C3=A9?= returns\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Caf\xc3\xa9 \xe2\x82\xac42 \xe2\x80\x94 Ynys M\xc3\xb4n\r\n"
    b".a line starting with a dot\r\n"
    b"..two dots\r\n"
    b".\r\n"
    b"\r\n"
    b"end\r\n"
)


# --------------------------------------------------------------------------- servers


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    mail_options: list[str]
    content: bytes
    connection: int  # index of the connection (SMTP protocol object) that carried it
    tls: bool


class Sink:
    """Records every message; subclasses override the hooks to misbehave."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.servers: list[Any] = []  # one aiosmtpd SMTP object per TCP connection

    def connection_index(self, server: Any) -> int:
        for index, known in enumerate(self.servers):
            if known is server:
                return index
        self.servers.append(server)
        return len(self.servers) - 1

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(
            Received(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                mail_options=list(envelope.mail_options),
                content=envelope.original_content,
                connection=self.connection_index(server),
                tls=session.ssl is not None,
            )
        )
        return f"250 2.0.0 Ok: queued as Q{len(self.received)}"

    @property
    def connections(self) -> int:
        return len({r.connection for r in self.received})


class TryAgainOnce(Sink):
    """Greylisting: the first DATA gets 451, everything after is accepted."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refused == 0:
            self.refused += 1
            self.connection_index(server)
            return "451 4.3.0 Try again later"
        return await super().handle_DATA(server, session, envelope)


class RefuseRecipients(Sink):
    """Answers RCPT for the listed addresses with the given reply."""

    def __init__(self, replies: dict[str, str]) -> None:
        super().__init__()
        self.replies = replies

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.replies:
            return self.replies[address]
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"


class ClosingOnFirstReset(Sink):
    """Answers the first RSET with 421, as a relay does when it times out an idle client."""

    def __init__(self) -> None:
        super().__init__()
        self.resets = 0

    async def handle_RSET(self, server: Any, session: Any, envelope: Any) -> str:
        self.resets += 1
        if self.resets == 1:
            return "421 4.4.2 mx.example Error: timeout exceeded"
        return "250 2.0.0 Ok"


class SlowReset(Sink):
    """Takes longer to answer RSET than the client is willing to wait."""

    async def handle_RSET(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(2)
        return "250 2.0.0 Ok"


class DropDuringData(Sink):
    """Hangs up instead of answering the end of DATA, once: did it queue the message?"""

    def __init__(self) -> None:
        super().__init__()
        self.data_calls = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_calls += 1
        if self.data_calls == 1:
            server.transport.close()
            return "250 never heard"
        return await super().handle_DATA(server, session, envelope)


@contextmanager
def smtp_server(handler: Sink, **smtp_options: Any) -> Iterator[Controller]:
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **smtp_options)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


def drop_connections(controller: Controller, handler: Sink) -> None:
    """Close every connection the server knows of, from the server's side."""

    async def close_all() -> None:
        for server in handler.servers:
            if server.transport is not None:
                server.transport.close()
        await asyncio.sleep(0)

    asyncio.run_coroutine_threadsafe(close_all(), controller.loop).result(timeout=5)


def url(controller: Controller, scheme: str = "smtp", query: str = "", userinfo: str = "") -> str:
    return f"{scheme}://{userinfo}{controller.hostname}:{controller.port}{query}"


@pytest.fixture
def sink() -> Iterator[tuple[Controller, Sink]]:
    handler = Sink()
    with smtp_server(handler) as controller:
        yield controller, handler


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    """A server context with a certificate for 127.0.0.1 from a CA nobody trusts."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def cafile(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


# ------------------------------------------------------------------------- delivery


def test_bytes_arrive_byte_for_byte(sink: tuple[Controller, Sink]) -> None:
    controller, handler = sink
    with SmtpSender(SmtpSettings.from_url(url(controller))) as sender:
        note = sender.send(FROM, [TO], MESSAGE, "request-1")

    assert note == "250 2.0.0 Ok: queued as Q1"
    [got] = handler.received
    assert got.content == MESSAGE
    assert (got.mail_from, got.rcpt_tos) == (FROM, [TO])
    assert "BODY=8BITMIME" in got.mail_options
    assert f"SIZE={len(MESSAGE)}" in got.mail_options
    assert "SMTPUTF8" not in got.mail_options  # ASCII addresses never ask for it


@pytest.mark.parametrize(
    ("given", "arrives"),
    [
        (b"Subject: x\n\nbody\n", b"Subject: x\r\n\r\nbody\r\n"),
        (b"Subject: x\r\rbody\r", b"Subject: x\r\n\r\nbody\r\n"),
        (b"Subject: x\r\n\r\nno final newline", b"Subject: x\r\n\r\nno final newline\r\n"),
    ],
)
def test_line_endings_become_crlf(
    sink: tuple[Controller, Sink], given: bytes, arrives: bytes
) -> None:
    controller, handler = sink
    with SmtpSender(SmtpSettings.from_url(url(controller))) as sender:
        sender.send(FROM, [TO], given, "x")
    assert handler.received[0].content == arrives


def test_international_address_uses_smtputf8_when_offered(
    sink: tuple[Controller, Sink],
) -> None:
    controller, handler = sink
    recipient = "siân.jones@cyngor.example.cymru"
    with SmtpSender(SmtpSettings.from_url(url(controller))) as sender:
        sender.send(FROM, [recipient], MESSAGE, "x")
    [got] = handler.received
    assert got.rcpt_tos == [recipient]
    assert "SMTPUTF8" in got.mail_options
    assert got.content == MESSAGE


def test_international_address_without_smtputf8_is_permanent() -> None:
    handler = Sink()
    with (
        smtp_server(handler, enable_SMTPUTF8=False) as controller,
        SmtpSender(SmtpSettings.from_url(url(controller))) as sender,
    ):
        with pytest.raises(DeliveryError) as caught:
            sender.send(FROM, ["siân@example.org"], MESSAGE, "x")
        assert caught.value.temporary is False
        assert "SMTPUTF8" in caught.value.reason
        # The connection stays usable for the next (ASCII) message.
        sender.send(FROM, [TO], MESSAGE, "y")
        assert sender.connections_opened == 1
    assert len(handler.received) == 1


def test_451_is_temporary_and_the_same_sender_succeeds_next_time() -> None:
    handler = TryAgainOnce()
    with (
        smtp_server(handler) as controller,
        SmtpSender(SmtpSettings.from_url(url(controller))) as sender,
    ):
        with pytest.raises(DeliveryError) as caught:
            sender.send(FROM, [TO], MESSAGE, "x")
        error = caught.value
        assert (error.temporary, error.code) == (True, 451)
        assert error.reason == "message refused: 451 4.3.0 Try again later"

        assert sender.send(FROM, [TO], MESSAGE, "x").startswith("250 ")
        assert sender.connections_opened == 1  # RSET, not a new connection
    assert [r.content for r in handler.received] == [MESSAGE]
    assert len(handler.servers) == 1


def test_550_user_unknown_is_permanent() -> None:
    handler = RefuseRecipients({TO: "550 5.1.1 User unknown"})
    with (
        smtp_server(handler) as controller,
        SmtpSender(SmtpSettings.from_url(url(controller))) as sender,
        pytest.raises(DeliveryError) as caught,
    ):
        sender.send(FROM, [TO], MESSAGE, "x")
    error = caught.value
    assert (error.temporary, error.code) == (False, 550)
    assert error.reason == f"recipient <{TO}> refused: 550 5.1.1 User unknown"
    assert handler.received == []


@pytest.mark.parametrize(
    ("replies", "temporary", "code"),
    [
        ({"b@example.org": "450 4.2.1 Mailbox busy"}, True, 450),
        ({"b@example.org": "550 5.1.1 User unknown"}, False, 550),
        # Mixed: the permanent refusal decides, since a retry can never reach everyone.
        (
            {"a@example.org": "452 4.2.2 Over quota", "b@example.org": "550 5.1.1 Gone"},
            False,
            550,
        ),
    ],
)
def test_any_refused_recipient_fails_the_whole_message(
    replies: dict[str, str], temporary: bool, code: int
) -> None:
    handler = RefuseRecipients(replies)
    with (
        smtp_server(handler) as controller,
        SmtpSender(SmtpSettings.from_url(url(controller))) as sender,
    ):
        with pytest.raises(DeliveryError) as caught:
            sender.send(FROM, ["a@example.org", "b@example.org"], MESSAGE, "x")
        assert (caught.value.temporary, caught.value.code) == (temporary, code)
        assert handler.received == []  # nobody got it: no DATA after a refusal
        # The connection was reset, not poisoned.
        sender.send(FROM, ["c@example.org"], MESSAGE, "y")
    assert [r.rcpt_tos for r in handler.received] == [["c@example.org"]]


def test_many_messages_share_one_connection(sink: tuple[Controller, Sink]) -> None:
    controller, handler = sink
    with SmtpSender(SmtpSettings.from_url(url(controller))) as sender:
        notes = [sender.send(FROM, [TO], MESSAGE + b"%d\r\n" % n, f"m{n}") for n in range(50)]
        assert sender.connections_opened == 1
    assert notes[-1] == "250 2.0.0 Ok: queued as Q50"
    assert len(handler.received) == 50
    assert handler.connections == 1
    assert [r.content for r in handler.received] == [MESSAGE + b"%d\r\n" % n for n in range(50)]


def test_close_then_send_opens_a_new_connection(sink: tuple[Controller, Sink]) -> None:
    controller, handler = sink
    sender = SmtpSender(SmtpSettings.from_url(url(controller)))
    sender.send(FROM, [TO], MESSAGE, "a")
    sender.close()
    sender.close()  # idempotent
    sender.send(FROM, [TO], MESSAGE, "b")
    sender.close()
    assert handler.connections == 2


# ----------------------------------------------------------------- reconnecting


def test_server_dropping_the_connection_between_sends_reconnects(
    sink: tuple[Controller, Sink],
) -> None:
    controller, handler = sink
    with SmtpSender(SmtpSettings.from_url(url(controller))) as sender:
        sender.send(FROM, [TO], MESSAGE, "a")
        drop_connections(controller, handler)
        assert sender.send(FROM, [TO], MESSAGE, "b").startswith("250 ")
        assert sender.connections_opened == 2
    assert [r.connection for r in handler.received] == [0, 1]


def test_421_on_a_reused_connection_reconnects() -> None:
    handler = ClosingOnFirstReset()
    with (
        smtp_server(handler) as controller,
        SmtpSender(SmtpSettings.from_url(url(controller))) as sender,
    ):
        sender.send(FROM, [TO], MESSAGE, "a")
        sender.send(FROM, [TO], MESSAGE, "b")
        sender.send(FROM, [TO], MESSAGE, "c")
        assert sender.connections_opened == 2
    assert [r.connection for r in handler.received] == [0, 1, 1]


def test_reconnect_is_tried_once_then_the_failure_is_temporary() -> None:
    handler = Sink()
    with smtp_server(handler) as controller:
        settings = SmtpSettings.from_url(url(controller))
        sender = SmtpSender(settings)
        sender.send(FROM, [TO], MESSAGE, "a")
        drop_connections(controller, handler)
    # The server is gone: the reused connection is dead and the reconnect is refused.
    with pytest.raises(DeliveryError) as caught:
        sender.send(FROM, [TO], MESSAGE, "b")
    assert caught.value.temporary is True
    assert caught.value.code is None
    assert "connection refused" in caught.value.reason
    assert sender.connections_opened == 1
    sender.close()


def test_slow_reused_connection_is_temporary_without_reconnecting() -> None:
    handler = SlowReset()
    with smtp_server(handler) as controller:
        sender = SmtpSender(SmtpSettings.from_url(url(controller, query="?timeout=0.5")))
        sender.send(FROM, [TO], MESSAGE, "a")
        with pytest.raises(DeliveryError) as caught:
            sender.send(FROM, [TO], MESSAGE, "b")
        assert caught.value.temporary is True
        assert "timed out" in caught.value.reason
        assert sender.connections_opened == 1  # a slow relay is not retried at once
        sender.close()


def test_connection_lost_after_data_is_temporary_and_not_retried() -> None:
    handler = DropDuringData()
    with smtp_server(handler) as controller:
        sender = SmtpSender(SmtpSettings.from_url(url(controller)))
        with pytest.raises(DeliveryError) as caught:
            sender.send(FROM, [TO], MESSAGE, "a")
        assert caught.value.temporary is True
        assert "may or may not have been accepted" in caught.value.reason
        assert handler.data_calls == 1  # not sent twice behind the outbox's back
        sender.send(FROM, [TO], MESSAGE, "b")
        assert sender.connections_opened == 2
        sender.close()


def test_connection_refused_is_temporary() -> None:
    # A bound socket that never listens: connecting to it is refused, and no other
    # process can take the port while the test runs.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        sender = SmtpSender(SmtpSettings.from_url(f"smtp://127.0.0.1:{port}"))
        with pytest.raises(DeliveryError) as caught:
            sender.send(FROM, [TO], MESSAGE, "x")
    assert caught.value.temporary is True
    assert caught.value.reason == f"could not connect to 127.0.0.1:{port}: connection refused"


def test_silent_server_times_out_as_temporary() -> None:
    # Listening but never answering: the kernel completes the handshake, no greeting comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        sender = SmtpSender(SmtpSettings.from_url(f"smtp://127.0.0.1:{port}?timeout=0.3"))
        with pytest.raises(DeliveryError) as caught:
            sender.send(FROM, [TO], MESSAGE, "x")
    assert caught.value.temporary is True
    assert "timed out" in caught.value.reason


# ------------------------------------------------------------------------- AUTH


def authenticator_for(user: str, password: str, seen: list[str]) -> Callable[..., AuthResult]:
    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        seen.append(mechanism)
        ok = isinstance(auth_data, LoginPassword) and auth_data == (
            user.encode(),
            password.encode(),
        )
        return AuthResult(success=ok, handled=False)  # let aiosmtpd answer 535

    return authenticate


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
def test_auth_with_the_password_from_the_url(mechanism: str) -> None:
    seen: list[str] = []
    handler = Sink()
    other = {"LOGIN": "PLAIN", "PLAIN": "LOGIN"}[mechanism]
    with smtp_server(
        handler,
        authenticator=authenticator_for("returns", PASSWORD, seen),
        auth_required=True,
        auth_require_tls=False,
        auth_exclude_mechanism=[other],
    ) as controller:
        userinfo = f"returns:{quote(PASSWORD, safe='')}@"
        with SmtpSender(SmtpSettings.from_url(url(controller, userinfo=userinfo))) as sender:
            sender.send(FROM, [TO], MESSAGE, "x")
            sender.send(FROM, [TO], MESSAGE, "y")  # still logged in on the reused connection
    assert seen == [mechanism]
    assert len(handler.received) == 2


def test_wrong_password_is_permanent_and_not_echoed() -> None:
    handler = Sink()
    with smtp_server(
        handler,
        authenticator=authenticator_for("returns", PASSWORD, []),
        auth_required=True,
        auth_require_tls=False,
    ) as controller:
        wrong = "not-the-SECRET"
        sender = SmtpSender(SmtpSettings.from_url(url(controller, userinfo=f"returns:{wrong}@")))
        with pytest.raises(DeliveryError) as caught:
            sender.send(FROM, [TO], MESSAGE, "x")
    error = caught.value
    assert (error.temporary, error.code) == (False, 535)
    assert error.reason.startswith(f"127.0.0.1:{controller.port} refused login: 535 ")
    assert "SECRET" not in str(error) and "SECRET" not in repr(error)
    assert "SECRET" not in repr(sender)
    assert handler.received == []


def test_credentials_but_no_auth_offered_is_permanent(sink: tuple[Controller, Sink]) -> None:
    controller, _ = sink
    sender = SmtpSender(SmtpSettings.from_url(url(controller, userinfo="u:p@")))
    with pytest.raises(DeliveryError) as caught:
        sender.send(FROM, [TO], MESSAGE, "x")
    assert caught.value.temporary is False
    assert "offers no AUTH" in caught.value.reason


# -------------------------------------------------------------------------- TLS


@pytest.mark.parametrize(
    ("scheme", "query"),
    [("smtp+starttls", "?verify=0"), ("smtp", "?starttls=1&verify=0")],
)
def test_starttls_with_a_self_signed_relay(
    server_tls: ssl.SSLContext, scheme: str, query: str
) -> None:
    handler = Sink()
    with (
        smtp_server(handler, tls_context=server_tls, require_starttls=True) as controller,
        SmtpSender(SmtpSettings.from_url(url(controller, scheme, query))) as sender,
    ):
        sender.send(FROM, [TO], MESSAGE, "a")
        sender.send(FROM, [TO], MESSAGE, "b")
    assert [(r.tls, r.content, r.connection) for r in handler.received] == [
        (True, MESSAGE, 0),
        (True, MESSAGE, 0),
    ]


def test_starttls_then_auth_as_a_real_submission_port(server_tls: ssl.SSLContext) -> None:
    seen: list[str] = []
    handler = Sink()
    with smtp_server(
        handler,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=authenticator_for("returns", PASSWORD, seen),
        auth_required=True,  # and AUTH only after TLS, aiosmtpd's default
    ) as controller:
        userinfo = f"returns:{quote(PASSWORD, safe='')}@"
        settings = SmtpSettings.from_url(url(controller, "smtp+starttls", "?verify=0", userinfo))
        with SmtpSender(settings) as sender:
            sender.send(FROM, [TO], MESSAGE, "x")
    assert len(seen) == 1
    assert handler.received[0].tls


def test_starttls_with_the_relay_ca_in_cafile(server_tls: ssl.SSLContext, cafile: str) -> None:
    handler = Sink()
    with smtp_server(handler, tls_context=server_tls, require_starttls=True) as controller:
        query = f"?starttls=1&cafile={quote(cafile)}"
        with SmtpSender(SmtpSettings.from_url(url(controller, query=query))) as sender:
            sender.send(FROM, [TO], MESSAGE, "x")
    assert handler.received[0].tls


def test_untrusted_certificate_is_temporary(server_tls: ssl.SSLContext) -> None:
    handler = Sink()
    with smtp_server(handler, tls_context=server_tls, require_starttls=True) as controller:
        sender = SmtpSender(SmtpSettings.from_url(url(controller, "smtp+starttls")))
        with pytest.raises(DeliveryError) as caught:
            sender.send(FROM, [TO], MESSAGE, "x")
    assert caught.value.temporary is True
    assert "TLS certificate not trusted" in caught.value.reason
    assert handler.received == []


def test_starttls_required_but_not_offered_is_temporary(sink: tuple[Controller, Sink]) -> None:
    controller, handler = sink
    sender = SmtpSender(SmtpSettings.from_url(url(controller, "smtp+starttls", "?verify=0")))
    with pytest.raises(DeliveryError) as caught:
        sender.send(FROM, [TO], MESSAGE, "x")
    assert caught.value.temporary is True
    assert "does not offer STARTTLS" in caught.value.reason
    assert handler.received == []


def test_implicit_tls(server_tls: ssl.SSLContext) -> None:
    handler = Sink()
    with (
        smtp_server(handler, ssl_context=server_tls) as controller,
        SmtpSender(SmtpSettings.from_url(url(controller, "smtps", "?verify=0"))) as sender,
    ):
        sender.send(FROM, [TO], MESSAGE, "a")
        sender.send(FROM, [TO], MESSAGE, "b")
        assert sender.connections_opened == 1
    assert [(r.content, r.connection) for r in handler.received] == [(MESSAGE, 0), (MESSAGE, 0)]


def test_implicit_tls_verified_with_cafile(server_tls: ssl.SSLContext, cafile: str) -> None:
    handler = Sink()
    with smtp_server(handler, ssl_context=server_tls) as controller:
        settings = SmtpSettings.from_url(url(controller, "smtps", f"?cafile={quote(cafile)}"))
        with SmtpSender(settings) as sender:
            sender.send(FROM, [TO], MESSAGE, "x")
    assert handler.received[0].content == MESSAGE


def test_implicit_tls_against_untrusted_certificate_is_temporary(
    server_tls: ssl.SSLContext,
) -> None:
    handler = Sink()
    with smtp_server(handler, ssl_context=server_tls) as controller:
        sender = SmtpSender(SmtpSettings.from_url(url(controller, "smtps")))
        with pytest.raises(DeliveryError) as caught:
            sender.send(FROM, [TO], MESSAGE, "x")
    assert caught.value.temporary is True
    assert caught.value.reason.startswith(f"could not connect to 127.0.0.1:{controller.port}")
    assert "certificate" in caught.value.reason


# ----------------------------------------------------------------- bad envelopes


@pytest.mark.parametrize(
    ("envelope_from", "recipients"),
    [
        (FROM, []),
        (FROM, ["no-at-sign"]),
        (FROM, ["@example.org"]),
        (FROM, ["bob@"]),
        (FROM, ["bob@.example.org"]),
        (FROM, ["bob@example..org"]),
        (FROM, ["<bob@example.org>"]),
        (FROM, ["bob smith@example.org"]),
        (FROM, ["bob@example.org\r\nRCPT TO:<evil@example.net>"]),
        (FROM, ["x" * 250 + "@example.org"]),
        ("bad sender", [TO]),
        (FROM, [TO, "fine@example.org", "not fine"]),
    ],
)
def test_bad_envelope_is_permanent_and_nothing_is_sent(
    sink: tuple[Controller, Sink], tmp_path: Path, envelope_from: str, recipients: list[str]
) -> None:
    controller, handler = sink
    folder = tmp_path / "outbox"
    for sender in (SmtpSender(SmtpSettings.from_url(url(controller))), FolderSender(folder)):
        with pytest.raises(DeliveryError) as caught:
            sender.send(envelope_from, recipients, MESSAGE, "x")
        assert caught.value.temporary is False
        assert "\n" not in caught.value.reason and "\r" not in caught.value.reason
        sender.close()
    assert handler.received == []
    assert not folder.exists()


def test_delivery_error_survives_pickling() -> None:
    error = DeliveryError("recipient <a@b> refused: 550 5.1.1 no", temporary=False, code=550)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.reason, copy.temporary, copy.code) == (error.reason, False, 550)


def test_reason_is_one_line_and_bounded() -> None:
    error = DeliveryError("first\r\nsecond\tthird " + "x" * 1000, temporary=True)
    assert error.reason.startswith("first second third x")
    assert len(error.reason) <= 300


# ---------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("smtp://relay.example.org", dict(host="relay.example.org", port=25, security="none")),
        ("smtp://relay.example.org:2525", dict(port=2525, security="none")),
        ("SMTP://Relay.Example.ORG", dict(host="relay.example.org", port=25)),
        ("  smtp://relay.example.org/\n", dict(host="relay.example.org", port=25)),
        ("smtp://relay.example.org:587?starttls=1", dict(port=587, security="starttls")),
        ("smtp://relay.example.org?starttls=true", dict(port=25, security="starttls")),
        ("smtp://relay.example.org?starttls=0", dict(security="none")),
        ("smtp+starttls://relay.example.org", dict(port=587, security="starttls")),
        ("smtp+starttls://relay.example.org:25", dict(port=25, security="starttls")),
        ("smtp+starttls://relay.example.org?starttls=yes", dict(security="starttls")),
        ("smtps://relay.example.org", dict(port=465, security="tls", verify=True)),
        ("smtps://relay.example.org:4650", dict(port=4650, security="tls")),
        ("smtps://relay.example.org?verify=0", dict(verify=False)),
        ("smtps://relay.example.org?verify=off", dict(verify=False)),
        ("smtp+starttls://relay.example.org?verify=1", dict(verify=True)),
        ("smtps://relay.example.org?cafile=/etc/ssl/relay.pem", dict(cafile="/etc/ssl/relay.pem")),
        ("smtp://relay.example.org?timeout=2.5", dict(timeout=2.5)),
        ("smtp://relay.example.org", dict(timeout=30.0, local_hostname=None)),
        (
            "smtp://relay.example.org?helo=mail.council.gov.uk",
            dict(local_hostname="mail.council.gov.uk"),
        ),
        ("smtp://[::1]:2525", dict(host="::1", port=2525)),
        ("smtp://127.0.0.1:8025", dict(host="127.0.0.1", port=8025)),
        ("smtps://bob:secret@relay.example.org", dict(username="bob", password="secret")),
        (
            "smtps://bob%40council.gov.uk:p%40ss%3Aw%2Frd%25@relay.example.org",
            dict(username="bob@council.gov.uk", password="p@ss:w/rd%"),
        ),
        # Plain-text AUTH is allowed only to this machine.
        ("smtp://bob:secret@localhost:2525", dict(username="bob", security="none")),
        ("smtp://bob:secret@127.0.0.1:2525", dict(username="bob", security="none")),
        ("smtp://relay.example.org", dict(username=None, password=None)),
    ],
)
def test_accepted_urls(given: str, expected: dict[str, object]) -> None:
    settings = SmtpSettings.from_url(given)
    assert {key: getattr(settings, key) for key in expected} == expected


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("relay.example.org:25", "unknown SMTP URL scheme"),
        ("http://relay.example.org", "unknown SMTP URL scheme 'http'"),
        ("lmtp://relay.example.org", "unknown SMTP URL scheme"),
        ("smtp://", "no host"),
        ("smtp://:25", "no host"),
        ("smtp://relay.example.org:abc", "bad port"),
        ("smtp://relay.example.org:70000", "bad port"),
        ("smtp://relay.example.org:0", "out of range"),
        ("smtp://relay example.org", "host"),
        ("smtp://relay.example.org/outbox", "path"),
        ("smtp://relay.example.org#frag", "fragment"),
        ("smtp://relay.example.org?tls=1", "unknown SMTP URL option: expected one of starttls"),
        ("smtp://relay.example.org?starttls", "query is malformed"),
        ("smtp://relay.example.org?starttls=", "has no value"),
        ("smtp://relay.example.org?starttls=maybe", "must be 1 or 0"),
        ("smtp://relay.example.org?starttls=opportunistic", "opportunistic is not supported"),
        ("smtp://relay.example.org?starttls=1&starttls=1", "given twice"),
        ("smtps://relay.example.org?starttls=1", "does not apply to smtps"),
        ("smtps://relay.example.org?starttls=0", "does not apply to smtps"),
        ("smtp+starttls://relay.example.org?starttls=0", "contradicts"),
        ("smtp://relay.example.org?verify=0", "only apply with"),
        ("smtp://relay.example.org?cafile=/x.pem", "only apply with"),
        ("smtp://relay.example.org?timeout=0", "timeout"),
        ("smtp://relay.example.org?timeout=-1", "timeout"),
        ("smtp://relay.example.org?timeout=nan", "timeout"),
        ("smtp://relay.example.org?timeout=soon", "timeout"),
        ("smtp://relay.example.org?helo=my%20host", "helo"),
        ("smtps://bob@relay.example.org", "no password"),
        ("smtps://:SECRETpw@relay.example.org", "both a user name and a password"),
        ("smtp://bob:SECRETpw@relay.example.org", "unencrypted"),
        ("smtps://bob:SECRET%C2%A3pw@relay.example.org", "must be ASCII"),
    ],
)
def test_rejected_urls(given: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        SmtpSettings.from_url(given)
    message = str(caught.value)
    assert reason in message
    assert "\n" not in message


SECRET = "Hunter2-SECRET"
URLS_WITH_PASSWORD = [
    f"smtps://bob:{SECRET}@relay.example.org",
    f"smtp+starttls://bob:{SECRET}@relay.example.org:587?verify=0",
    # and broken ones, where an error message might be tempted to quote the URL
    f"smtps://bob:{SECRET}@relay.example.org:99999",
    f"smtps://bob:{SECRET}@relay.example.org:port",
    f"smtps://bob:{SECRET}@relay.example.org?nope=1",
    f"smtps://bob:{SECRET}@relay.example.org/path",
    f"smtp://bob:{SECRET}@relay.example.org",
    f"ftp://bob:{SECRET}@relay.example.org",
    f"smtps://bob:{SECRET}@[::1",
    f"smtps://bob:{SECRET}@relay.example.org?starttls=opportunistic",
]


@pytest.mark.parametrize("given", URLS_WITH_PASSWORD)
def test_password_never_shown(given: str) -> None:
    try:
        settings = SmtpSettings.from_url(given)
    except ConfigError as error:
        shown = [str(error), repr(error), str(error.__cause__), str(error.__context__)]
    else:
        assert settings.password == SECRET
        shown = [repr(settings), str(settings), settings.describe(), repr(SmtpSender(settings))]
    for text in shown:
        assert SECRET not in text


def test_describe_masks_the_password() -> None:
    settings = SmtpSettings.from_url(f"smtps://bob:{SECRET}@relay.example.org?verify=0")
    assert settings.describe() == "smtps://bob:***@relay.example.org:465?verify=0"


def test_settings_built_directly_are_checked_too() -> None:
    with pytest.raises(ConfigError, match="out of range"):
        SmtpSettings(host="relay.example.org", port=0, security="none")
    with pytest.raises(ConfigError, match="unencrypted"):
        SmtpSettings("relay.example.org", 25, "none", "bob", SECRET)


# ------------------------------------------------------------------------ folder


def entries(folder: Path) -> list[str]:
    """Everything in the folder, hidden files included."""
    return sorted(os.listdir(folder))


def test_folder_sender_writes_exact_bytes_into_a_new_folder(tmp_path: Path) -> None:
    folder = tmp_path / "mail" / "outbox"
    sender = FolderSender(folder)
    path = Path(sender.send(FROM, [TO], MESSAGE, "request-2024-25-q1"))
    assert path == folder.absolute() / "request-2024-25-q1.eml"
    assert path.read_bytes() == MESSAGE
    assert entries(folder) == ["request-2024-25-q1.eml"]  # no temp file left behind
    assert path.stat().st_mode & 0o777 == 0o600


def test_folder_sender_never_overwrites(tmp_path: Path) -> None:
    sender = FolderSender(tmp_path)
    paths = [Path(sender.send(FROM, [TO], b"n=%d\r\n" % n, "reminder")) for n in range(4)]
    assert [p.name for p in paths] == [
        "reminder.eml",
        "reminder-2.eml",
        "reminder-3.eml",
        "reminder-4.eml",
    ]
    assert [p.read_bytes() for p in paths] == [b"n=%d\r\n" % n for n in range(4)]
    assert entries(tmp_path) == sorted(p.name for p in paths)


def test_folder_sender_skips_a_name_taken_by_someone_else(tmp_path: Path) -> None:
    (tmp_path / "x.eml").write_bytes(b"not ours")
    path = Path(FolderSender(tmp_path).send(FROM, [TO], MESSAGE, "x"))
    assert path.name == "x-2.eml"
    assert (tmp_path / "x.eml").read_bytes() == b"not ours"


@pytest.mark.parametrize(
    ("hint", "name"),
    [
        ("../../etc/passwd", "etc_passwd.eml"),
        ("/absolute/path", "absolute_path.eml"),
        (".hidden", "hidden.eml"),
        ("reminder 2024/25 Q1 — Ynys Môn", "reminder_2024_25_Q1_Ynys_M_n.eml"),
        ("already.eml", "already.eml"),
        ("a\r\nb\x00c", "a_b_c.eml"),
        ("", "message.eml"),
        ("...", "message.eml"),
        ("-rf", "rf.eml"),
        ("x" * 300, "x" * 100 + ".eml"),
    ],
)
def test_folder_sender_file_names_are_safe(tmp_path: Path, hint: str, name: str) -> None:
    path = Path(FolderSender(tmp_path).send(FROM, [TO], MESSAGE, hint))
    assert path.parent == tmp_path.absolute()
    assert path.name == name


def test_folder_sender_failure_leaves_no_partial_file(tmp_path: Path) -> None:
    """A real write failure: the file-size limit (as a full disk would) stops the write.

    Runs in a child process so the limit cannot touch the test runner.
    """
    folder = tmp_path / "outbox"
    script = textwrap.dedent(
        f"""
        import resource, signal
        from mailcapture.transport.outbound import DeliveryError, FolderSender
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
        try:
            FolderSender({str(folder)!r}).send("a@b.example", ["c@d.example"],
                                              b"x" * (1024 * 1024), "big")
        except DeliveryError as error:
            print(error.temporary, error.reason)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.startswith("True could not write message to"), done.stderr
    assert entries(folder) == []


def test_folder_sender_unusable_folder_is_temporary(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "outbox"
    not_a_folder.write_bytes(b"")
    with pytest.raises(DeliveryError) as caught:
        FolderSender(not_a_folder).send(FROM, [TO], MESSAGE, "x")
    assert caught.value.temporary is True
    assert caught.value.reason.startswith("could not write message to")


# ----------------------------------------------------------------------- factory


def test_sender_from_environment_default_is_the_folder() -> None:
    sender = sender_from_environment({})
    assert isinstance(sender, FolderSender)
    assert isinstance(sender, Sender)
    assert sender.folder == Path("./mail/outbox")


def test_sender_from_environment_folder_and_blank_url(tmp_path: Path) -> None:
    env = {"MAILCAPTURE_SMTP_URL": "  ", "MAILCAPTURE_MAIL_DIR": str(tmp_path)}
    sender = sender_from_environment(env)
    assert isinstance(sender, FolderSender)
    assert sender.folder == tmp_path


def test_sender_from_environment_smtp(sink: tuple[Controller, Sink], tmp_path: Path) -> None:
    controller, handler = sink
    env = {"MAILCAPTURE_SMTP_URL": url(controller), "MAILCAPTURE_MAIL_DIR": str(tmp_path)}
    sender = sender_from_environment(env)
    assert isinstance(sender, SmtpSender)
    assert isinstance(sender, Sender)
    sender.send(FROM, [TO], MESSAGE, "x")
    sender.close()
    assert handler.received[0].content == MESSAGE
    assert entries(tmp_path) == []


def test_sender_from_environment_bad_url_fails_at_start() -> None:
    with pytest.raises(ConfigError):
        sender_from_environment({"MAILCAPTURE_SMTP_URL": "smtp://relay.example.org?bogus=1"})
