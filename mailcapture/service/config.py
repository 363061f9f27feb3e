"""The service's settings, from the environment, all checked before anything starts.

A wrong value is a :class:`SettingsError` naming the variable (a one-line error at
start-up), never a traceback an hour later when the first message arrives.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mailcapture.settings import SettingsError
from mailcapture.settings import state_dir as settings_state_dir

if TYPE_CHECKING:
    from mailcapture.transport.imap import ImapSettings

DEFAULT_LISTEN = "127.0.0.1:2525"
STATE_DIR = "MAILCAPTURE_STATE_DIR"


@dataclass(frozen=True)
class ServiceConfig:
    listen_host: str | None
    listen_port: int | None
    lmtp: bool
    max_bytes: int
    tls_cert: str | None
    tls_key: str | None
    extra_domains: frozenset[str]
    imap: ImapSettings | None
    tick_seconds: int
    send_seconds: int
    sweep_seconds: int
    #: ``MAILCAPTURE_BATCH``: the most stored messages a processing worker takes into one
    #: transaction (one commit for the lot; a savepoint for each).
    batch: int = 20
    #: ``MAILCAPTURE_WORKERS``: processing threads in this process. More than one helps on
    #: PostgreSQL only (SQLite has one writer), and less than another ``serve`` process does,
    #: since much of the work is Python.
    workers: int = 1
    #: ``MAILCAPTURE_STATE_DIR``; None: the folder that holds the outgoing mail folder
    #: (see :func:`state_dir`).
    state_dir: Path | None = None

    @property
    def listening(self) -> bool:
        return self.listen_host is not None

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> ServiceConfig:
        # The transports (aiosmtpd, imapclient) load only for the service itself.
        from mailcapture.transport.imap import ImapConfigError, ImapSettings
        from mailcapture.transport.listener import DEFAULT_MAX_BYTES
        from mailcapture.transport.outbound import ConfigError, SmtpSettings

        env = os.environ if env is None else env
        host, port = listen_address(env)
        mode = env.get("MAILCAPTURE_LISTEN_MODE", "smtp").strip().lower() or "smtp"
        if mode not in {"smtp", "lmtp"}:
            raise SettingsError(f"MAILCAPTURE_LISTEN_MODE={mode!r}: expected smtp or lmtp")
        cert = env.get("MAILCAPTURE_TLS_CERT", "").strip() or None
        key = env.get("MAILCAPTURE_TLS_KEY", "").strip() or None
        if bool(cert) != bool(key):
            raise SettingsError("MAILCAPTURE_TLS_CERT and MAILCAPTURE_TLS_KEY go together")
        for name, path in (("MAILCAPTURE_TLS_CERT", cert), ("MAILCAPTURE_TLS_KEY", key)):
            if path and not Path(path).is_file():
                raise SettingsError(f"{name}={path}: no such file")
        imap = None
        imap_url = env.get("MAILCAPTURE_IMAP_URL", "").strip()
        if imap_url:
            try:
                imap = ImapSettings.from_url(
                    imap_url, env.get("MAILCAPTURE_IMAP_PROCESSED", "").strip() or None
                )
            except ImapConfigError as exc:
                raise SettingsError(f"MAILCAPTURE_IMAP_URL: {exc}") from None
        smtp_url = env.get("MAILCAPTURE_SMTP_URL", "").strip()
        if smtp_url:
            try:
                SmtpSettings.from_url(smtp_url)
            except ConfigError as exc:
                raise SettingsError(f"MAILCAPTURE_SMTP_URL: {exc}") from None
        if host is None and imap is None:
            raise SettingsError(
                "nothing to receive mail with: set MAILCAPTURE_LISTEN "
                "(host:port) or MAILCAPTURE_IMAP_URL"
            )
        return cls(
            listen_host=host,
            listen_port=port,
            lmtp=mode == "lmtp",
            max_bytes=_positive(env, "MAILCAPTURE_MAX_MESSAGE_BYTES", DEFAULT_MAX_BYTES),
            tls_cert=cert,
            tls_key=key,
            extra_domains=frozenset(
                d.strip().lower()
                for d in env.get("MAILCAPTURE_ACCEPT_DOMAINS", "").split(",")
                if d.strip()
            ),
            imap=imap,
            tick_seconds=_positive(env, "MAILCAPTURE_TICK_SECONDS", 300),
            send_seconds=_positive(env, "MAILCAPTURE_SEND_SECONDS", 30),
            sweep_seconds=_positive(env, "MAILCAPTURE_SWEEP_SECONDS", 60),
            batch=_positive(env, "MAILCAPTURE_BATCH", 20),
            workers=_positive(env, "MAILCAPTURE_WORKERS", 1),
            state_dir=Path(raw_state) if (raw_state := env.get(STATE_DIR, "").strip()) else None,
        )


def listen_address(env: Mapping[str, str] | None = None) -> tuple[str | None, int | None]:
    """``MAILCAPTURE_LISTEN`` as (host, port); (None, None) when the listener is off."""
    env = os.environ if env is None else env
    value = env.get("MAILCAPTURE_LISTEN", DEFAULT_LISTEN).strip()
    if not value:
        return None, None
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(
            f"MAILCAPTURE_LISTEN={value!r}: expected host:port, "
            "e.g. 127.0.0.1:2525 (empty turns the listener off)"
        )
    return host, int(port)


def state_dir(env: Mapping[str, str] | None = None, mail_dir: Path | None = None) -> Path:
    """Where ``serve`` publishes its workers' state and ``health`` reads it: the state folder
    of :func:`mailcapture.settings.state_dir` (``publish`` keeps its chart cache there too,
    so the rule lives below both)."""
    return settings_state_dir(env, mail_dir)


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) <= 0:
        raise SettingsError(f"{name}={raw!r}: expected a positive whole number")
    return int(raw)
