"""``mailcapture health``: is the service able to do its job right now?

Run by the container's HEALTHCHECK (every 30 seconds) and by monitoring, so it is cheap: one
query for the database and one SMTP greeting from the listener, each with a short timeout.
It checks from outside, the way a mail server would see the service, rather than asking the
process how it feels: a listener that accepts connections but never greets is unhealthy.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass

from mailcapture.errors import UserError
from mailcapture.runtime import Runtime
from mailcapture.service.config import listen_address
from mailcapture.settings import Settings

#: Seconds to wait for the database or the listener before calling it unhealthy.
TIMEOUT = 5.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_health(env: Mapping[str, str] | None = None) -> list[Check]:
    """The database, then the listener when one is configured."""
    checks = [check_database(env)]
    host, port = listen_address(env)
    if host is not None and port is not None:
        checks.append(check_listener(host, port))
    return checks


def check_database(env: Mapping[str, str] | None = None) -> Check:
    """Reachable, and at this release's schema (the same check every command makes)."""
    from sqlalchemy.exc import SQLAlchemyError

    from mailcapture.db.schema import HEAD_REVISION

    try:
        runtime = Runtime(Settings.from_environment(env))
    except UserError as exc:
        return Check("database", False, str(exc))
    try:
        runtime.require_schema()
    except UserError as exc:
        return Check("database", False, str(exc))
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return Check("database", False, f"unreachable: {reason[0] if reason else exc}")
    finally:
        runtime.close()
    backend = runtime.engine.url.get_backend_name()
    return Check("database", True, f"{backend}, schema {HEAD_REVISION}")


def check_listener(host: str, port: int) -> Check:
    """Connect, expect the ``220`` greeting, say QUIT: what a sending server would do."""
    target = _reachable_host(host)
    name = f"listener {host}:{port}"
    try:
        with socket.create_connection((target, port), timeout=TIMEOUT) as connection:
            greeting = connection.makefile("rb").readline(512)
            if greeting.startswith(b"220"):
                connection.sendall(b"QUIT\r\n")
                shown = greeting[:60].decode("ascii", "replace").strip()
                return Check(name, True, f"answers: {shown}")
            shown = greeting[:60].decode("ascii", "replace").strip() or "nothing"
            return Check(name, False, f"no SMTP greeting (got {shown!r})")
    except OSError as exc:
        return Check(name, False, f"not answering: {exc.strerror or exc}")


def _reachable_host(host: str) -> str:
    """A wildcard listen address is reached on loopback."""
    if host in {"0.0.0.0", ""}:
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host
