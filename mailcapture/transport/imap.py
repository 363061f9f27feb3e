"""Fetch inbound mail from an IMAP folder and hand each message's exact bytes to ``store``.

The poller is a thin transport: it knows nothing of the database or the pipeline. The
service gives it a ``store(raw, source_ref)`` callable (typically ``Pipeline.ingest`` with
an ``Envelope(source="imap", source_ref=...)``) that returns only once the raw bytes are
committed and raises otherwise.

One message at a time, in UID order::

    SELECT folder                          (every poll; gives UIDVALIDITY)
    UID SEARCH UNDELETED UNKEYWORD $MailcaptureDone
    UID FETCH uid (BODY.PEEK[])            (PEEK: the \\Seen flag is left alone)
    store(raw, "imap:<uidvalidity>:<uid>")
    ...only after store returned: move it out of the way (see "Marking")

Delivery guarantee
------------------
At least once. A message leaves the folder only after ``store`` returned, so nothing is
lost when the process dies, the connection drops or the database is down: if ``store``
raises, the message stays (not moved, not flagged), the failure is logged and the next
poll tries again. The price is that a message can be stored twice: if the process dies,
or the connection is lost, between ``store`` returning and the move. The pipeline's
de-duplication (Message-ID and sender, or a hash of the message) records the second copy
as a *duplicate* of the first, and it is never applied again. Within one poller the
window is smaller still: a message stored but not yet moved is remembered by UID and only
moved, not stored again, on the next poll (unless the UIDVALIDITY changed, see below).

UIDVALIDITY
-----------
If the server renumbers the folder (index rebuilt, mailbox restored or recreated), the
UIDVALIDITY changes and the UIDs mean nothing any more. The poller logs it, forgets what
it remembered about UIDs and carries on: everything still in the folder is fetched and
stored. A message that had been stored but not moved is stored again and recorded by the
pipeline as a duplicate, not applied a second time. ``source_ref`` carries the
UIDVALIDITY, so the audit trail tells the two copies apart.

Marking a message as handled
----------------------------
1. MOVE to ``processed_folder`` when the server announces MOVE (RFC 6851); otherwise
   COPY, STORE ``\\Deleted`` and UID EXPUNGE of that one UID (UIDPLUS, RFC 4315). Without
   UIDPLUS the only way is a plain EXPUNGE, which also removes any other message that
   somebody flagged ``\\Deleted`` in that folder and not yet expunged: a documented
   side-effect of such old servers. The processed folder is created when missing.
2. When moving is not possible (the folder cannot be created, the server refuses the
   move or the expunge, e.g. for want of ACL rights), the poller sets the keyword
   ``$MailcaptureDone`` on the message instead and skips flagged messages from then on.
   Once a move has failed, the rest of that connection uses keywords; a reconnect tries
   moving again.
3. If the keyword cannot be set either (a read-only mailbox), the message is logged as
   ``imap.unmarked`` and remembered in memory, so this poller does not store it again;
   a new poller process stores it again, recorded as a duplicate.

Messages flagged ``\\Deleted`` are skipped: they are on their way out (someone deleted
them, or an earlier COPY + ``\\Deleted`` was interrupted before the EXPUNGE, in which case
a copy is already in the processed folder).

Running
-------
:meth:`ImapPoller.run` loops until its ``stop`` event is set: poll, then wait for new mail
with IDLE (RFC 2177; up to ``idle_timeout`` seconds, woken early by an ``EXISTS``), or
sleep ``poll_interval`` seconds when the server has no IDLE. Any error on the connection
(refused, reset, timeout, TLS, login refused, a command answered NO or BAD) closes it and
retries after 1, 2, 4 ... up to ``max_backoff`` seconds; a successful poll resets the
delay. ``stop`` is checked between messages and at least every second while waiting; a
network call already in flight is bounded by ``timeout``. On ``stop`` the message in hand
is finished (stored and moved) before ``run`` returns.

Logging
-------
Structured: ``on_log(event, fields)`` with events such as ``imap.connected``,
``imap.stored`` (uid, bytes, ref), ``imap.moved``, ``imap.flagged``, ``imap.store_failed``,
``imap.move_failed``, ``imap.unmarked``, ``imap.uidvalidity_changed``,
``imap.connection_failed`` (error, attempt, retry_in), and ``imap.waiting`` (how,
seconds) once per IDLE or sleep cycle. Without ``on_log`` they go to the
``mailcapture.transport.imap`` logger (warnings for failures, ``imap.waiting`` at
DEBUG). The password never appears in a log line, an error or a ``repr``.

Security
--------
``imap://`` sends the password in clear text and is accepted only for loopback hosts.
Use ``imaps://`` (implicit TLS, port 993) or ``imap://...?starttls=1`` (STARTTLS is then
required: a server that does not offer it is an error, never a silent downgrade).
``verify=0`` accepts any certificate: anyone able to intercept the connection can read
the mail and the password. It exists for a self-signed server on a network you control;
prefer ``cafile=/path/ca.pem`` (trust exactly that server's CA) wherever possible.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import math
import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from imapclient import IMAPClient

from mailcapture.errors import UserError
from mailcapture.logs import event
from mailcapture.transport.urls import is_loopback, parse_flag, parse_options, parse_seconds

__all__ = [
    "DONE_KEYWORD",
    "ImapConfigError",
    "ImapError",
    "ImapPoller",
    "ImapSettings",
    "Store",
]

DONE_KEYWORD = "$MailcaptureDone"
Security = Literal["none", "starttls", "tls"]
#: (raw bytes, source_ref) -> anything; must raise if the message could NOT be committed.
Store = Callable[[bytes, str], object]
LogHook = Callable[[str, dict[str, Any]], None]

_logger = logging.getLogger(__name__)
_SCHEMES: dict[str, tuple[Security, int]] = {"imap": ("none", 143), "imaps": ("tls", 993)}
_QUERY_KEYS = ("starttls", "verify", "cafile", "timeout")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_HOST_CHARS = re.compile(r"[a-z0-9._:%\[\]-]+", re.IGNORECASE)
_REASON_LIMIT = 300
_TICK = 1.0  # the longest the poller waits without looking at ``stop``
_WARN_EVENTS = frozenset(
    {
        "imap.store_failed",
        "imap.move_failed",
        "imap.flag_failed",
        "imap.unmarked",
        "imap.connection_failed",
        "imap.uidvalidity_changed",
        "imap.processed_folder_unavailable",
        "imap.read_only",
        "imap.vanished",
    }
)


class ImapConfigError(UserError, ValueError):
    """The IMAP settings cannot work; the message is one line and never has the password."""


class ImapError(Exception):
    """The server cannot be used as configured (e.g. STARTTLS required but not offered)."""


# ------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class ImapSettings:
    """Where to fetch mail from; usually built by :meth:`from_url`.

    ``verify=False`` accepts any certificate (see the module docstring: anyone on the path
    can then read the mail and the password); ``cafile`` trusts one CA bundle instead of
    the system's.
    """

    host: str
    port: int
    security: Security
    username: str
    password: str = field(repr=False)
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    verify: bool = True
    timeout: float = 60.0
    cafile: str | None = None

    def __post_init__(self) -> None:
        if not self.host:
            raise ImapConfigError("IMAP URL has no host")
        if not _HOST_CHARS.fullmatch(self.host):
            raise ImapConfigError("IMAP host has characters no host name or address can have")
        if not isinstance(self.port, int) or not 1 <= self.port <= 65535:
            raise ImapConfigError("IMAP port is out of range 1-65535")
        if self.security not in ("none", "starttls", "tls"):
            raise ImapConfigError("IMAP security must be none, starttls or tls")
        if not self.username or not self.password:
            raise ImapConfigError("IMAP URL needs a user name and a password")
        if any(c in self.username + self.password for c in "\r\n\0"):
            raise ImapConfigError("IMAP user name and password must not contain line breaks")
        if self.security == "none" and not _is_loopback(self.host):
            raise ImapConfigError(
                "refusing to send the IMAP password unencrypted to a non-local host: "
                "use imaps:// or starttls=1"
            )
        if self.security == "none" and (not self.verify or self.cafile is not None):
            raise ImapConfigError("verify and cafile only apply with imaps:// or starttls=1")
        for name, value in (("folder", self.folder), ("processed folder", self.processed_folder)):
            if not value or any(c in value for c in "\r\n\0"):
                raise ImapConfigError(f"IMAP {name} name is empty or has a line break")
        if self.folder == self.processed_folder:
            raise ImapConfigError("IMAP processed folder must differ from the polled folder")
        if not (math.isfinite(self.timeout) and self.timeout > 0):
            raise ImapConfigError("IMAP timeout must be a positive number of seconds")

    @classmethod
    def from_url(cls, url: str, processed_folder: str | None = None) -> ImapSettings:
        """Parse an IMAP URL (e.g. ``MAILCAPTURE_IMAP_URL``).

        Accepted forms::

            imap://user:password@host[:port]/INBOX   plain IMAP, port 143; loopback hosts only
            imap://user:password@host/INBOX?starttls=1   STARTTLS required (also true/yes/on)
            imaps://user:password@host[:port]/INBOX  implicit TLS, port 993
            .../Council%20Returns                    the folder (percent-decoded; default INBOX)
            ...?verify=0                             accept any certificate (see the class doc)
            ...?cafile=/path/ca.pem                  trust this CA bundle instead of the system's
            ...?timeout=30                           seconds per network operation (default 60)

        The user name and password are percent-decoded (``capture%40council.gov.uk``). A
        nested folder is written with the server's hierarchy separator (``Returns/2026``
        on Dovecot's default ``/``, ``INBOX.Returns`` on Courier-style servers).
        ``processed_folder`` is where handled messages go (default ``Processed``).
        """
        if not isinstance(url, str) or not url.strip():
            raise ImapConfigError("IMAP URL is empty")
        try:
            parts = urlsplit(url.strip())
            port_from_url = parts.port
        except ValueError:
            # The message from urllib may quote part of the URL, password included.
            raise ImapConfigError("IMAP URL is malformed or has a bad port") from None
        scheme = parts.scheme.lower()
        if scheme not in _SCHEMES:
            raise ImapConfigError("IMAP URL scheme must be imap:// or imaps://")
        security, default_port = _SCHEMES[scheme]
        if parts.fragment:
            raise ImapConfigError("IMAP URL must not have a #fragment")
        host = parts.hostname or ""
        if not host:
            raise ImapConfigError("IMAP URL has no host")
        options = _parse_query(parts.query)
        if "starttls" in options:
            if security == "tls":
                raise ImapConfigError("starttls does not apply to imaps:// (already TLS)")
            security = "starttls" if _parse_bool("starttls", options["starttls"]) else "none"
        verify = _parse_bool("verify", options["verify"]) if "verify" in options else True
        timeout = _parse_timeout(options["timeout"]) if "timeout" in options else 60.0
        if parts.username is None or parts.password is None:
            raise ImapConfigError("IMAP URL needs a user name and a password (user:password@)")
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        folder = path.rstrip("/") or "INBOX"
        extra = {} if processed_folder is None else {"processed_folder": processed_folder}
        return cls(
            host=host,
            port=port_from_url if port_from_url is not None else default_port,
            security=security,
            username=unquote(parts.username),
            password=unquote(parts.password),
            folder=folder,
            verify=verify,
            timeout=timeout,
            cafile=options.get("cafile"),
            **extra,
        )

    def describe(self) -> str:
        """A URL-like one-liner for logs, with the password masked."""
        scheme = "imaps" if self.security == "tls" else "imap"
        host = f"[{self.host}]" if ":" in self.host else self.host
        query = []
        if self.security == "starttls":
            query.append("starttls=1")
        if not self.verify:
            query.append("verify=0")
        tail = ("?" + "&".join(query)) if query else ""
        return f"{scheme}://{self.username}:***@{host}:{self.port}/{self.folder}{tail}"

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.cafile)
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = f"{type(exc).__name__}: {text}"
    return text if len(text) <= _REASON_LIMIT else text[: _REASON_LIMIT - 1] + "…"


def _default_log(name: str, fields: dict[str, Any]) -> None:
    level = logging.INFO
    if name in _WARN_EVENTS:
        level = logging.WARNING
    elif name == "imap.waiting":
        level = logging.DEBUG
    event(_logger, name, level, **fields)


# --------------------------------------------------------------------------- poller


class ImapPoller:
    """Polls one folder; see the module docstring for the guarantees.

    Not thread-safe: one thread calls :meth:`poll_once` or :meth:`run` (which closes the
    connection when it returns). Other threads only set the ``stop`` event.
    """

    def __init__(
        self,
        settings: ImapSettings,
        store: Store,
        *,
        on_log: LogHook | None = None,
        idle_timeout: float = 60.0,
        poll_interval: float = 30.0,
        sleep: Callable[[float], object] = time.sleep,
        max_backoff: float = 300.0,
    ) -> None:
        for name, value in (
            ("idle_timeout", idle_timeout),
            ("poll_interval", poll_interval),
            ("max_backoff", max_backoff),
        ):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number of seconds")
        self.settings = settings
        self._store = store
        self._log_hook = on_log or _default_log
        self.idle_timeout = idle_timeout
        self.poll_interval = poll_interval
        self._sleep = sleep
        self.max_backoff = max_backoff
        self._client: IMAPClient | None = None
        self._stop: threading.Event | None = None
        self._uidvalidity: int | None = None
        # Per UIDVALIDITY: stored but not yet moved/flagged (retry the marking only), and
        # stored but impossible to mark (never stored again by this poller).
        self._stored: set[int] = set()
        self._unmarkable: set[int] = set()
        # Per connection: how handled messages are marked ("move", "flag" or "none"),
        # and per SELECT: whether the folder keeps new keywords.
        self._mode = "move"
        self._can_flag = True

    # ------------------------------------------------------------------- public API
    def poll_once(self) -> int:
        """Connect if needed and handle every message waiting; returns how many were stored.

        Connection and protocol errors propagate (the connection is then closed, and the
        next call reconnects); a failing ``store`` does not (the message stays for later).
        """
        try:
            return self._poll()
        except BaseException:
            self._disconnect()
            raise

    def run(self, stop: threading.Event) -> None:
        """Poll and wait for mail until ``stop`` is set; reconnect with back-off on errors."""
        self._stop = stop
        failures = 0
        try:
            while not stop.is_set():
                try:
                    self._poll()
                    failures = 0
                    if not stop.is_set():
                        self._wait_for_mail(stop)
                except Exception as exc:
                    self._disconnect()
                    delay = min(self.max_backoff, 2.0**failures)
                    failures += 1
                    self._log(
                        "imap.connection_failed",
                        error=_reason(exc),
                        attempt=failures,
                        retry_in=delay,
                    )
                    self._pause(delay, stop)
        finally:
            self._stop = None
            self.close()
            self._log("imap.stopped")

    def close(self) -> None:
        """Log out and close the connection (if any); the poller can be used again."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:
            with contextlib.suppress(Exception):
                client.shutdown()

    # --------------------------------------------------------------------- polling
    def _poll(self) -> int:
        client = self._connect()
        try:
            info = client.select_folder(self.settings.folder)
        except imaplib.IMAP4.readonly:
            # The server granted SELECT only read-only (ACL): EXAMINE, and mark nothing.
            info = client.select_folder(self.settings.folder, readonly=True)
            info[b"READ-ONLY"] = True
        uidvalidity = int(info[b"UIDVALIDITY"])
        if self._uidvalidity is not None and uidvalidity != self._uidvalidity:
            self._log(
                "imap.uidvalidity_changed",
                folder=self.settings.folder,
                old=self._uidvalidity,
                new=uidvalidity,
            )
            self._stored.clear()
            self._unmarkable.clear()
        self._uidvalidity = uidvalidity
        if b"READ-ONLY" in info and self._mode != "none":
            self._mode = "none"
            self._log("imap.read_only", folder=self.settings.folder)
        permanent = {bytes(f).lower() for f in info.get(b"PERMANENTFLAGS", (b"\\*",))}
        # A server silently drops flags it cannot keep; then the keyword would be lost.
        self._can_flag = bool({b"\\*", DONE_KEYWORD.lower().encode()} & permanent)
        uids = sorted(client.search(["UNDELETED", "UNKEYWORD", DONE_KEYWORD]))
        handled = 0
        for uid in uids:
            if self._stop is not None and self._stop.is_set():
                break
            if uid in self._unmarkable:
                continue
            if uid in self._stored:  # stored earlier; only the marking failed
                self._mark(client, uid)
                continue
            raw = client.fetch([uid], ["BODY.PEEK[]"]).get(uid, {}).get(b"BODY[]")
            if raw is None:  # expunged by somebody else since the search
                self._log("imap.vanished", uid=uid)
                continue
            ref = f"imap:{uidvalidity}:{uid}"
            try:
                self._store(bytes(raw), ref)
            except Exception as exc:
                self._log("imap.store_failed", uid=uid, ref=ref, error=_reason(exc))
                continue
            handled += 1
            self._stored.add(uid)
            self._log("imap.stored", uid=uid, ref=ref, bytes=len(raw))
            self._mark(client, uid)
        return handled

    def _mark(self, client: IMAPClient, uid: int) -> None:
        """Move ``uid`` to the processed folder, or flag it; see the module docstring."""
        if self._mode == "move":
            try:
                self._move(client, uid)
            except imaplib.IMAP4.abort:
                raise
            except imaplib.IMAP4.error as exc:
                self._mode = "flag"
                self._log("imap.move_failed", uid=uid, error=_reason(exc), fallback="keyword")
            else:
                self._stored.discard(uid)
                self._log("imap.moved", uid=uid, to=self.settings.processed_folder)
                return
        if self._mode == "flag":
            try:
                error = self._flag(client, uid)
            except imaplib.IMAP4.abort:
                raise
            except imaplib.IMAP4.error as exc:
                error = _reason(exc)
            if error is None:
                self._stored.discard(uid)
                self._log("imap.flagged", uid=uid, keyword=DONE_KEYWORD)
                return
            self._mode = "none"
            self._log("imap.flag_failed", uid=uid, error=error)
        self._stored.discard(uid)
        self._unmarkable.add(uid)
        self._log(
            "imap.unmarked",
            uid=uid,
            note="neither moved nor flagged; a new poller will store it again (a duplicate)",
        )

    def _flag(self, client: IMAPClient, uid: int) -> str | None:
        """Set the keyword; the reason it did not stick, or None."""
        if not self._can_flag:
            return "the folder's PERMANENTFLAGS allow no new keywords"
        answer = client.add_flags([uid], [DONE_KEYWORD])
        flags = answer.get(uid)
        if flags is not None and DONE_KEYWORD.lower() not in {
            bytes(f).decode("ascii", "replace").lower() for f in flags
        }:
            return "the server did not keep the keyword"
        return None

    def _move(self, client: IMAPClient, uid: int) -> None:
        folder = self.settings.processed_folder
        try:
            self._transfer(client, uid, folder)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as exc:
            if "TRYCREATE" not in str(exc).upper():
                raise
            client.create_folder(folder)  # deleted since we connected
            self._log("imap.processed_folder_created", folder=folder)
            self._transfer(client, uid, folder)

    @staticmethod
    def _transfer(client: IMAPClient, uid: int, folder: str) -> None:
        if client.has_capability("MOVE"):
            client.move([uid], folder)
            return
        client.copy([uid], folder)
        client.add_flags([uid], [b"\\Deleted"], silent=True)
        if client.has_capability("UIDPLUS"):
            client.uid_expunge([uid])
        else:
            client.expunge()

    # ------------------------------------------------------------------ connection
    def _connect(self) -> IMAPClient:
        if self._client is not None:
            return self._client
        s = self.settings
        context = s.ssl_context() if s.security != "none" else None
        client = IMAPClient(
            s.host, port=s.port, ssl=s.security == "tls", ssl_context=context, timeout=s.timeout
        )
        try:
            if s.security == "starttls":
                if not client.has_capability("STARTTLS"):
                    raise ImapError("server does not offer STARTTLS although the URL requires it")
                client.starttls(context)
            if s.username.isascii() and s.password.isascii():
                client.login(s.username, s.password)
            else:  # LOGIN takes 7-bit strings only; AUTHENTICATE PLAIN carries UTF-8
                client.plain_login(s.username, s.password)
            self._mode = "move"
            self._prepare_processed_folder(client)
        except BaseException:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        self._client = client
        self._log(
            "imap.connected",
            server=s.describe(),
            idle=client.has_capability("IDLE"),
            move=client.has_capability("MOVE"),
            uidplus=client.has_capability("UIDPLUS"),
            marking=self._mode,
        )
        return client

    def _prepare_processed_folder(self, client: IMAPClient) -> None:
        folder = self.settings.processed_folder
        try:
            if not client.folder_exists(folder):
                client.create_folder(folder)
                self._log("imap.processed_folder_created", folder=folder)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as exc:
            self._mode = "flag"
            self._log(
                "imap.processed_folder_unavailable",
                folder=folder,
                error=_reason(exc),
                fallback="keyword",
            )

    def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.shutdown()

    # --------------------------------------------------------------------- waiting
    def _wait_for_mail(self, stop: threading.Event) -> None:
        client = self._client
        if client is None or not client.has_capability("IDLE"):
            self._log("imap.waiting", how="sleep", seconds=self.poll_interval)
            self._pause(self.poll_interval, stop)
            return
        deadline = time.monotonic() + self.idle_timeout
        client.idle()
        self._log("imap.waiting", how="idle", seconds=self.idle_timeout)
        try:
            while not stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                step = min(_TICK, remaining)
                started = time.monotonic()
                responses = client.idle_check(timeout=step)
                if any(_is_exists(r) for r in responses):
                    self._log("imap.idle_woken")
                    break
                if any(r and r[0] == b"BYE" for r in responses):
                    break  # idle_done below fails and the connection is retried
                if not responses and time.monotonic() - started < step / 2:
                    # The socket was readable yet gave nothing: imapclient swallows EOF in
                    # idle_check. End IDLE; on a dead connection idle_done raises.
                    break
        finally:
            client.idle_done()

    def _pause(self, seconds: float, stop: threading.Event) -> None:
        remaining = seconds
        while remaining > 0 and not stop.is_set():
            step = min(_TICK, remaining)
            self._sleep(step)
            remaining -= step

    def _log(self, event: str, **fields: object) -> None:
        try:
            self._log_hook(event, fields)
        except Exception:
            _logger.exception("on_log hook failed for %s", event)


def _is_exists(response: object) -> bool:
    return isinstance(response, tuple) and len(response) >= 2 and response[1] == b"EXISTS"


def _parse_query(query: str) -> dict[str, str]:
    return parse_options(query, _QUERY_KEYS, "IMAP", ImapConfigError)


def _parse_timeout(value: str) -> float:
    return parse_seconds(value, "IMAP", ImapConfigError)


_is_loopback = is_loopback


def _parse_bool(key: str, value: str) -> bool:
    return parse_flag(key, value, "IMAP", ImapConfigError)
