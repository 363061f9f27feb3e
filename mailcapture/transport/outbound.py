"""Deliver one already-rendered message: to an SMTP relay, or into a folder.

The outbox owns everything stateful (rows, attempts, back-off, the clock). This module is
the last, thin step: it takes an envelope and the exact bytes, hands them over, and says
either "done: <note>" or raises :class:`DeliveryError` with a one-line reason and a
single decision the outbox needs, ``temporary`` (try this row again later) or not.

Temporary or permanent
----------------------
The rule is "could this same message succeed later without anyone changing it?".

==========================================================  =========  ==================
What happened                                               temporary  code
==========================================================  =========  ==================
server reply 4xx (greylisting, 451, 452, 421 ...)           yes        the reply code
server reply 5xx (550 user unknown, 554, 535 bad login ...) no         the reply code
any recipient refused (all-or-nothing, see below)           as above   the deciding code
connection refused / reset / dropped, DNS failure           yes        None
timeout (connect or any read/write)                         yes        None
TLS handshake failed, certificate not trusted               yes        None
relay does not offer STARTTLS although the URL requires it  yes        None
connection lost after the message data was sent             yes        None
bad envelope address, no recipients                         no         None
address needs SMTPUTF8 but the relay does not offer it      no         None
credentials configured but the relay offers no AUTH         no         None
folder not writable (FolderSender)                          yes        None
==========================================================  =========  ==================

TLS failures are temporary on purpose: they are a property of the relay (a lapsed
certificate, a half-finished renewal, something in the path stripping STARTTLS), never of
the message, and no byte of the message has left the machine. Marking them permanent would
fail the whole day's outbox because of one certificate. A failed login follows the reply
code (535 is permanent, 454 temporary), because the server said so and a wrong password
will not fix itself.

A lost connection after the message data was sent is ambiguous: the relay may have
queued it. It is reported as temporary (so a retry may deliver a duplicate, as with every
SMTP client; RFC 1047) and is *not* retried inside this module.

Partial recipient refusal: the outbox sends one recipient per row, so if any recipient is
refused the message is not sent to anyone (no DATA) and the row fails with the server's
code: permanent if any refusal was 5xx, else temporary.

Reused connections: every message after the first on a connection starts with RSET. If the
connection proves dead before the message is handed over (closed, reset, 421, RSET
refused), :class:`SmtpSender` reconnects once and tries again; a failure on the fresh
connection is reported by the table above. A timeout is not retried at once: a slow relay
would only make the worker wait twice.

Bytes: :class:`FolderSender` stores the message exactly. :class:`SmtpSender` sends it
exactly too, except that bare CR or LF become CRLF (SMTP allows nothing else, and relays
now refuse bare LF) and a missing final CRLF is added.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import secrets
import smtplib
import ssl
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

from mailcapture.errors import UserError
from mailcapture.transport.urls import is_loopback, parse_flag, parse_options, parse_seconds

__all__ = [
    "DEFAULT_MAIL_DIR",
    "ConfigError",
    "DeliveryError",
    "FolderSender",
    "Sender",
    "SmtpSender",
    "SmtpSettings",
    "sender_from_environment",
]

DEFAULT_MAIL_DIR = "./mail/outbox"
_REASON_LIMIT = 300

Security = Literal["none", "starttls", "tls"]


# --------------------------------------------------------------------------- errors


class DeliveryError(Exception):
    """The message was not delivered.

    ``reason`` is one line, without secrets or tracebacks, meant to be shown as-is to the
    performance team ("recipient x@y refused: 550 5.1.1 User unknown"). ``code`` is the
    SMTP reply code when a server gave one; ``temporary`` is the only thing the outbox
    must act on (see the module docstring for the table).
    """

    def __init__(self, reason: str, *, temporary: bool, code: int | None = None) -> None:
        self.reason = _one_line(reason)
        self.temporary = temporary
        self.code = code
        super().__init__(self.reason)

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments would otherwise be lost when a worker process pickles it.
        return (_rebuild_delivery_error, (self.reason, self.temporary, self.code))

    def __repr__(self) -> str:
        return f"DeliveryError({self.reason!r}, temporary={self.temporary!r}, code={self.code!r})"


def _rebuild_delivery_error(reason: str, temporary: bool, code: int | None) -> DeliveryError:
    return DeliveryError(reason, temporary=temporary, code=code)


class ConfigError(UserError, ValueError):
    """The SMTP settings cannot work; the message is one line and never contains the password."""


# ------------------------------------------------------------------------- settings

_SCHEMES: dict[str, tuple[Security, int]] = {
    "smtp": ("none", 25),
    "smtp+starttls": ("starttls", 587),
    "smtps": ("tls", 465),
}
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_QUERY_KEYS = ("starttls", "verify", "cafile", "timeout", "helo")
# Host names, IPv4, IPv6 (with %zone), and for EHLO an [address literal].
_HOST_CHARS = re.compile(r"[a-z0-9._:%\[\]-]+", re.IGNORECASE)


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to reach the SMTP relay; usually built from ``MAILCAPTURE_SMTP_URL``.

    ``verify=False`` accepts any certificate, so anyone able to intercept the connection
    can read the mail and the password. It exists for a self-signed relay on a network you
    control; prefer ``cafile`` (trust exactly that relay's CA) wherever possible.
    """

    host: str
    port: int
    security: Security
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    local_hostname: str | None = None
    verify: bool = True
    cafile: str | None = None

    def __post_init__(self) -> None:
        if not self.host:
            raise ConfigError("SMTP URL has no host")
        if not _HOST_CHARS.fullmatch(self.host):
            raise ConfigError("SMTP host has characters no host name or address can have")
        if self.local_hostname is not None and not _HOST_CHARS.fullmatch(self.local_hostname):
            raise ConfigError("SMTP helo name must be a host name or address literal")
        if not 1 <= self.port <= 65535:
            raise ConfigError(f"SMTP port {self.port} is out of range 1-65535")
        if self.security not in ("none", "starttls", "tls"):
            raise ConfigError(f"unknown SMTP security {self.security!r}")
        if not (math.isfinite(self.timeout) and self.timeout > 0):
            raise ConfigError("SMTP timeout must be a positive number of seconds")
        if (self.username is None) != (self.password is None) or self.username == "":
            raise ConfigError("SMTP URL needs both a user name and a password, or neither")
        if self.username is not None and not (
            self.username.isascii() and (self.password or "").isascii()
        ):
            # smtplib encodes AUTH responses as ASCII; better to say so now than at 3am.
            raise ConfigError("SMTP user name and password must be ASCII")
        if self.username is not None and self.security == "none" and not _is_loopback(self.host):
            raise ConfigError(
                "refusing to send the SMTP password unencrypted to a non-local host: "
                "use smtps:// or starttls=1"
            )
        if self.security == "none" and (not self.verify or self.cafile is not None):
            raise ConfigError("verify and cafile only apply with smtps:// or starttls=1")

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        """Parse ``MAILCAPTURE_SMTP_URL``.

        Accepted forms::

            smtp://host[:port]                 plain SMTP, port 25, no TLS (a local relay)
            smtp://host:587?starttls=1         STARTTLS required (also true/yes/on)
            smtp+starttls://host[:port]        the same; default port 587
            smtps://host[:port]                implicit TLS; default port 465
            smtps://user:password@host         AUTH with percent-decoded credentials
            ...?verify=0                       accept any certificate (see class doc)
            ...?cafile=/path/ca.pem            trust this CA bundle instead of the system's
            ...?timeout=10                     seconds per network operation (default 30)
            ...?helo=mail.council.gov.uk       name to announce in EHLO

        ``starttls=opportunistic`` is refused: silently falling back to plain text is
        exactly what an attacker stripping STARTTLS wants, and a relay that needs no TLS
        can be reached with plain ``smtp://``.
        """
        if not isinstance(url, str) or not url.strip():
            raise ConfigError("SMTP URL is empty")
        try:
            parts = urlsplit(url.strip())
            port_from_url = parts.port
        except ValueError:
            raise ConfigError("SMTP URL is malformed or has a bad port") from None
        scheme = parts.scheme.lower()
        if scheme not in _SCHEMES:
            shown = scheme or "(none)"
            raise ConfigError(
                f"unknown SMTP URL scheme {shown!r}: use smtp, smtp+starttls or smtps"
            )
        security, default_port = _SCHEMES[scheme]
        if parts.path not in ("", "/"):
            raise ConfigError("SMTP URL must not have a path")
        if parts.fragment:
            raise ConfigError("SMTP URL must not have a #fragment")
        host = parts.hostname or ""
        if not host:
            raise ConfigError("SMTP URL has no host")

        options = _parse_query(parts.query)
        if "starttls" in options:
            wanted = _parse_bool("starttls", options["starttls"])
            if security == "tls":
                raise ConfigError("starttls does not apply to smtps:// (already TLS)")
            if security == "starttls" and not wanted:
                raise ConfigError("smtp+starttls:// contradicts starttls=0")
            security = "starttls" if wanted else "none"
        verify = _parse_bool("verify", options["verify"]) if "verify" in options else True
        timeout = _parse_timeout(options["timeout"]) if "timeout" in options else 30.0

        username = unquote(parts.username) if parts.username is not None else None
        password = unquote(parts.password) if parts.password is not None else None
        if username is not None and password is None:
            raise ConfigError("SMTP URL has a user name but no password")
        return cls(
            host=host,
            port=port_from_url if port_from_url is not None else default_port,
            security=security,
            username=username,
            password=password,
            timeout=timeout,
            local_hostname=options.get("helo"),
            verify=verify,
            cafile=options.get("cafile"),
        )

    def describe(self) -> str:
        """A URL-like one-liner for logs, with the password masked."""
        scheme = {"none": "smtp", "starttls": "smtp+starttls", "tls": "smtps"}[self.security]
        user = f"{self.username}:***@" if self.username is not None else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        extra = "" if self.verify else "?verify=0"
        return f"{scheme}://{user}{host}:{self.port}{extra}"


# ------------------------------------------------------------------------- senders


@runtime_checkable
class Sender(Protocol):
    """What the outbox worker needs from a transport."""

    def send(
        self, envelope_from: str, recipients: Sequence[str], message: bytes, name_hint: str
    ) -> str:
        """Deliver ``message`` as-is; return a short note, or raise :class:`DeliveryError`."""
        ...

    def close(self) -> None:
        """Release connections or handles; the sender may be used again afterwards."""
        ...


_STAGE_COMMAND = {"talk to": "EHLO", "start TLS with": "STARTTLS", "log in to": "login"}
_STALE_REPLY = 421  # "service not available, closing transmission channel"


class _StaleConnection(Exception):
    """A reused connection died before the message was handed over; safe to reconnect."""


@dataclass(frozen=True)
class _Plan:
    """One validated transaction, ready to be spoken on any connection."""

    sender: str
    recipients: tuple[str, ...]
    payload: bytes  # CRLF line endings, dot-stuffed, ending in CRLF.CRLF
    size: int
    eight_bit: bool
    needs_smtputf8: bool


class SmtpSender:
    """Send through one SMTP relay, keeping one connection open across many messages.

    A connection costs a TCP (and TLS, and AUTH) handshake, which dominates the time to
    send a short message, so the connection is kept and each new message starts with
    RSET. Relays drop idle connections: if the reused connection turns out to be dead (or
    answers 421) before the message was handed over, it reconnects once and tries again;
    a second failure is a temporary :class:`DeliveryError`.

    Not meant to be shared between threads; a lock makes concurrent use safe but serial.
    """

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        self._lock = threading.Lock()
        self._connections_opened = 0

    @property
    def connections_opened(self) -> int:
        """How many connections this sender has opened; for metrics and benchmarks."""
        return self._connections_opened

    def __repr__(self) -> str:
        return f"SmtpSender({self.settings.describe()})"

    def __enter__(self) -> SmtpSender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def send(
        self, envelope_from: str, recipients: Sequence[str], message: bytes, name_hint: str
    ) -> str:
        """Deliver ``message``; returns the relay's final reply, e.g. ``250 2.0.0 Ok``.

        ``name_hint`` is unused here (it names files in :class:`FolderSender`). Bare CR or
        LF line endings are turned into CRLF, as SMTP requires (relays increasingly refuse
        bare LF); a message that already uses CRLF arrives byte for byte.
        """
        plan = _plan(envelope_from, recipients, message)
        with self._lock:
            if self._smtp is not None:
                try:
                    return self._transaction(self._smtp, plan, reused=True)
                except _StaleConnection:
                    self._discard()
            # A fresh connection never raises _StaleConnection: its failures are final.
            return self._transaction(self._connect(), plan, reused=False)

    def close(self) -> None:
        """Say QUIT and close; the next send opens a new connection."""
        with self._lock:
            smtp, self._smtp = self._smtp, None
            if smtp is None:
                return
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            finally:
                smtp.close()

    # -- connection ------------------------------------------------------------

    def _where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def _discard(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.settings.cafile)
        if not self.settings.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _open(self) -> smtplib.SMTP:
        """TCP (and, for smtps, TLS) connection with the 220 greeting read."""
        s = self.settings
        if s.security == "tls":
            return smtplib.SMTP_SSL(
                s.host,
                s.port,
                local_hostname=s.local_hostname,
                timeout=s.timeout,
                context=self._tls_context(),
            )
        return smtplib.SMTP(s.host, s.port, local_hostname=s.local_hostname, timeout=s.timeout)

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            smtp = self._open()
        except smtplib.SMTPResponseException as exc:  # a greeting other than 220
            what = f"{self._where()} refused the connection"
            raise _reply_error(what, exc.smtp_code, exc.smtp_error) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise _network_error(f"could not connect to {self._where()}", exc) from None
        self._connections_opened += 1
        try:
            stage = "talk to"
            smtp.ehlo_or_helo_if_needed()
            if s.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise DeliveryError(
                        f"{self._where()} does not offer STARTTLS, which the URL requires",
                        temporary=True,
                    )
                stage = "start TLS with"
                smtp.starttls(context=self._tls_context())
                stage = "talk to"
                smtp.ehlo_or_helo_if_needed()  # capabilities may differ once encrypted
            if s.username is not None and s.password is not None:
                if not smtp.has_extn("auth"):
                    raise DeliveryError(
                        f"{self._where()} offers no AUTH on this connection "
                        "(does it need TLS first?)",
                        temporary=False,
                    )
                stage = "log in to"
                smtp.login(s.username, s.password)
        except DeliveryError:
            smtp.close()
            raise
        except smtplib.SMTPResponseException as exc:
            smtp.close()
            what = f"{self._where()} refused {_STAGE_COMMAND[stage]}"
            raise _reply_error(what, exc.smtp_code, exc.smtp_error) from None
        except (smtplib.SMTPException, OSError) as exc:
            smtp.close()
            if stage == "log in to" and not isinstance(exc, smtplib.SMTPServerDisconnected):
                # smtplib's "No suitable authentication method found": nothing we can offer.
                raise DeliveryError(
                    f"could not log in to {self._where()}: {exc}", temporary=False
                ) from None
            raise _network_error(f"could not {stage} {self._where()}", exc) from None
        self._smtp = smtp
        return smtp

    # -- one message -----------------------------------------------------------

    def _transaction(self, smtp: smtplib.SMTP, plan: _Plan, *, reused: bool) -> str:
        handed_over = False
        try:
            if reused:
                # RSET both clears the last transaction and proves the connection alive;
                # any refusal says "this connection", never "this message".
                code, _ = smtp.rset()
                if not 200 <= code < 300:
                    self._discard()
                    raise _StaleConnection()
            if plan.needs_smtputf8 and not smtp.has_extn("smtputf8"):
                raise DeliveryError(
                    f"{self._where()} does not accept internationalised addresses (SMTPUTF8)",
                    temporary=False,
                )
            smtp.command_encoding = "utf-8" if plan.needs_smtputf8 else "ascii"
            code, text = smtp.docmd("MAIL", f"FROM:<{plan.sender}>{_mail_options(smtp, plan)}")
            self._check((code, text), f"sender <{plan.sender}> refused", reused=reused)
            self._recipients(smtp, plan, reused=reused)
            self._check(smtp.docmd("DATA"), "DATA refused", reused=reused, expect=354)
            handed_over = True
            smtp.send(plan.payload)
            code, text = smtp.getreply()
            if code == _STALE_REPLY:
                self._discard()
            if not 200 <= code < 300:
                raise _reply_error("message refused", code, text)
            return _one_line(f"{code} {_text(text)}")
        except (_StaleConnection, DeliveryError):
            raise
        except smtplib.SMTPResponseException as exc:  # e.g. an over-long reply line
            self._discard()
            raise _reply_error("bad reply", exc.smtp_code, exc.smtp_error) from None
        except (smtplib.SMTPException, OSError) as exc:
            self._discard()
            if handed_over:
                raise DeliveryError(
                    f"connection to {self._where()} lost after the message was sent; "
                    f"it may or may not have been accepted ({_describe(exc)})",
                    temporary=True,
                ) from None
            if reused and not isinstance(_cause(exc), TimeoutError):
                # Dead or reset, not slow: a slow relay would only waste a second timeout.
                raise _StaleConnection() from None
            raise _network_error(f"connection to {self._where()} failed", exc) from None

    def _recipients(self, smtp: smtplib.SMTP, plan: _Plan, *, reused: bool) -> None:
        refused: list[tuple[str, int, bytes]] = []
        for recipient in plan.recipients:
            code, text = smtp.docmd("RCPT", f"TO:<{recipient}>")
            if code == _STALE_REPLY:
                self._check((code, text), f"recipient <{recipient}> refused", reused=reused)
            if code not in (250, 251):
                refused.append((recipient, code, text))
        if not refused:
            return
        # All or nothing: a 5xx means retrying can never reach everybody.
        permanent = [r for r in refused if 500 <= r[1] < 600]
        recipient, code, text = (permanent or refused)[0]
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.rset()
        others = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise _reply_error(f"recipient <{recipient}>{others} refused", code, text)

    def _check(
        self, reply: tuple[int, bytes | str], what: str, *, reused: bool, expect: int = 250
    ) -> None:
        code, text = reply
        if code == expect or (expect == 250 and 200 <= code < 300):
            return
        if code == _STALE_REPLY:
            self._discard()
            if reused:
                raise _StaleConnection()
        raise _reply_error(what, code, text)


def _plan(envelope_from: str, recipients: Sequence[str], message: bytes) -> _Plan:
    """Validate the envelope and prepare the DATA payload, before touching the network."""
    _check_envelope(envelope_from, recipients)
    if not isinstance(message, bytes | bytearray | memoryview):
        raise TypeError("message must be bytes, already rendered")
    data = _CRLF_FIX.sub(b"\r\n", bytes(message))
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    payload = _DOT_STUFF.sub(b"..", data) + b".\r\n"
    return _Plan(
        sender=envelope_from,
        recipients=tuple(recipients),
        payload=payload,
        size=len(data),
        eight_bit=not data.isascii(),
        needs_smtputf8=not (envelope_from.isascii() and all(r.isascii() for r in recipients)),
    )


_CRLF_FIX = re.compile(rb"\r\n|\r|\n")
_DOT_STUFF = re.compile(rb"(?m)^\.")


def _mail_options(smtp: smtplib.SMTP, plan: _Plan) -> str:
    options = []
    if smtp.has_extn("size"):
        options.append(f"SIZE={plan.size}")
    if plan.eight_bit and smtp.has_extn("8bitmime"):
        options.append("BODY=8BITMIME")
    if plan.needs_smtputf8:
        options.append("SMTPUTF8")
    return "".join(f" {o}" for o in options)


_FORBIDDEN_IN_ADDRESS = re.compile(r"[\x00-\x20\x7f<>]")


def _check_envelope(envelope_from: str, recipients: Sequence[str]) -> None:
    """Refuse what no relay should see: it would fail or, with CR/LF, inject commands."""
    if isinstance(recipients, str):
        raise TypeError("recipients must be a sequence of addresses, not one string")
    if envelope_from != "":  # "" is the null reverse-path, <>, used for auto-replies
        _check_address(envelope_from, "sender")
    if not recipients:
        raise DeliveryError("no recipients", temporary=False)
    for recipient in recipients:
        _check_address(recipient, "recipient")


def _check_address(address: str, role: str) -> None:
    shown = _one_line(repr(address), 80)
    if not isinstance(address, str) or _FORBIDDEN_IN_ADDRESS.search(address):
        raise DeliveryError(f"bad {role} address {shown}", temporary=False)
    local, _, domain = address.rpartition("@")
    if not local or not domain or ".." in domain or domain[0] == "." or domain[-1] == ".":
        raise DeliveryError(f"bad {role} address {shown}", temporary=False)
    if len(address) > 254:
        raise DeliveryError(f"{role} address is longer than 254 characters", temporary=False)


def _reply_error(what: str, code: int, text: bytes | str) -> DeliveryError:
    """A server said no: 4xx is temporary, 5xx permanent, anything unexpected temporary."""
    permanent = 500 <= code < 600
    shown = f"{code} {_text(text)}" if code > 0 else _text(text) or "unreadable reply"
    return DeliveryError(
        f"{what}: {shown}", temporary=not permanent, code=code if code > 0 else None
    )


def _network_error(what: str, exc: BaseException) -> DeliveryError:
    return DeliveryError(f"{what}: {_describe(exc)}", temporary=True)


def _cause(exc: BaseException) -> BaseException:
    """smtplib turns read errors (timeouts included) into SMTPServerDisconnected; unwrap."""
    if isinstance(exc, smtplib.SMTPServerDisconnected) and isinstance(exc.__context__, OSError):
        return exc.__context__
    return exc


def _describe(exc: BaseException) -> str:
    """Short words for a network failure, without the exception class soup."""
    exc = _cause(exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed ({exc.reason or exc})"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "server closed the connection"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[:1].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__


def _text(text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return text


def _one_line(text: str, limit: int = _REASON_LIMIT) -> str:
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# ------------------------------------------------------------------------- folder


class FolderSender:
    """Write each message as a ``.eml`` file; for development and for councils without a relay.

    Files appear atomically (written to a hidden temporary file in the same folder, fsynced,
    then linked into place), so a reader polling the folder never sees half a message, and
    never replace an existing file: a second message with the same name hint gets ``-2``,
    ``-3``... Files are created mode 0600: they hold personal data. The envelope is checked
    like :class:`SmtpSender` does, so a bad address fails in development too, but it is not
    written anywhere; the bytes are stored exactly as given.
    """

    def __init__(self, folder: str | os.PathLike[str] = DEFAULT_MAIL_DIR) -> None:
        self.folder = Path(folder)

    def __repr__(self) -> str:
        return f"FolderSender({str(self.folder)!r})"

    def send(
        self, envelope_from: str, recipients: Sequence[str], message: bytes, name_hint: str
    ) -> str:
        """Store ``message``; returns the new file's absolute path."""
        _check_envelope(envelope_from, recipients)
        if not isinstance(message, bytes | bytearray | memoryview):
            raise TypeError("message must be bytes, already rendered")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = _write_new_file(self.folder, _safe_stem(name_hint), bytes(message))
        except OSError as exc:
            raise DeliveryError(
                f"could not write message to {self.folder}: {_describe(exc)}", temporary=True
            ) from None
        return str(path.absolute())

    def close(self) -> None:
        """Nothing to release: every send opens and closes its own files."""


_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_STEM_LIMIT = 100


def _safe_stem(name_hint: str) -> str:
    """A portable file name stem: no path separators, no hidden files, bounded length."""
    stem = re.sub(r"(?i)\.eml$", "", str(name_hint))
    stem = _UNSAFE_IN_NAME.sub("_", stem).strip("._-")
    stem = stem[:_STEM_LIMIT].rstrip("._-")
    return stem or "message"


def _candidate_names(stem: str) -> Iterator[str]:
    yield f"{stem}.eml"
    for n in range(2, 1000):
        yield f"{stem}-{n}.eml"
    while True:
        yield f"{stem}-{secrets.token_hex(6)}.eml"


def _write_new_file(folder: Path, stem: str, data: bytes) -> Path:
    fd, temp_name = tempfile.mkstemp(prefix=f".{stem}.", suffix=".tmp", dir=folder)
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        final = _publish(temp, folder, stem)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    # The message is in place; a leftover hidden temp file must not turn this into a
    # failure (the outbox would send it again).
    with contextlib.suppress(OSError):
        temp.unlink(missing_ok=True)
    _fsync_directory(folder)
    return final


def _publish(temp: Path, folder: Path, stem: str) -> Path:
    """Give ``temp`` its final name without ever replacing an existing file.

    ``os.link`` fails if the target exists, which makes "check, then rename" race-free. On
    a file system without hard links, reserve the name with O_EXCL and rename over the
    (empty) reservation instead.
    """
    can_link = True
    for name in _candidate_names(stem):
        final = folder / name
        if can_link:
            try:
                os.link(temp, final)
                return final
            except FileExistsError:
                continue
            except OSError:
                can_link = False
        try:
            os.close(os.open(final, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            continue
        os.replace(temp, final)
        return final
    raise AssertionError("unreachable: the name generator is endless")  # pragma: no cover


def _fsync_directory(folder: Path) -> None:
    """Make the new directory entry durable too (POSIX only; elsewhere a no-op)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ------------------------------------------------------------------------- factory


def sender_from_environment(env: Mapping[str, str]) -> Sender:
    """``MAILCAPTURE_SMTP_URL`` set (and not blank) → :class:`SmtpSender`; otherwise a
    :class:`FolderSender` writing to ``MAILCAPTURE_MAIL_DIR`` or ``./mail/outbox``.

    Raises :class:`ConfigError` for a bad URL at start-up rather than at the first send.
    """
    url = env.get("MAILCAPTURE_SMTP_URL", "").strip()
    if url:
        return SmtpSender(SmtpSettings.from_url(url))
    return FolderSender(env.get("MAILCAPTURE_MAIL_DIR") or DEFAULT_MAIL_DIR)


def _parse_query(query: str) -> dict[str, str]:
    return parse_options(query, _QUERY_KEYS, "SMTP", ConfigError)


def _parse_timeout(value: str) -> float:
    return parse_seconds(value, "SMTP", ConfigError)


_is_loopback = is_loopback


def _parse_bool(key: str, value: str) -> bool:
    if key == "starttls" and value.lower() == "opportunistic":
        raise ConfigError(
            "starttls=opportunistic is not supported: use starttls=1, or plain smtp:// "
            "for a trusted local relay"
        )
    return parse_flag(key, value, "SMTP", ConfigError)
