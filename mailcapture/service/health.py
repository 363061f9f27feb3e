"""``mailcapture health``: is the service able to do its job right now?

Run by the container's HEALTHCHECK (every 30 seconds) and by monitoring, so it is cheap: one
query for the database, one SMTP greeting from the listener, each with a short timeout, and
one small file read. It checks from outside, the way a mail server would see the service: a
listener that accepts connections but never greets is unhealthy.

A listener that greets is not enough, though: during an outage the listener answers while
the worker that processes what it stored is waiting for the database. So ``health`` also
reads the state the service publishes for its workers (:mod:`mailcapture.service.status`):
a worker backing off, a worker that stopped, or a status file that a live service has not
updated for a minute is a failed check, one line each. No status file means no service runs
on this host (``health`` in a container that only runs commands), which is not a failure by
itself: the listener check says whether one should be there.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mailcapture.errors import UserError
from mailcapture.runtime import Runtime
from mailcapture.service.config import listen_address, state_dir
from mailcapture.service.status import STALE_AFTER_SECONDS, Unreadable, read_services
from mailcapture.service.supervisor import BACKING_OFF, RUNNING, WorkerStatus
from mailcapture.settings import Settings

#: Seconds to wait for the database or the listener before calling it unhealthy.
TIMEOUT = 5.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def check_health(env: Mapping[str, str] | None = None) -> list[Check]:
    """The database, the listener when one is configured, then the service's workers."""
    checks = [check_database(env)]
    host, port = listen_address(env)
    if host is not None and port is not None:
        checks.append(check_listener(host, port))
    try:
        folder = state_dir(env)
    except UserError:
        return checks  # the settings are wrong: the database check has said so
    checks.extend(check_workers(folder))
    return checks


def check_workers(folder: Path, now: datetime | None = None) -> list[Check]:
    """One line per service on this host, and one per worker of it that is not running."""
    now = now or datetime.now(UTC)
    services = read_services(folder)
    if not services:
        return [Check("workers", True, f"no service running here: no status file in {folder}")]
    checks = []
    for service in services:
        if isinstance(service, Unreadable):
            checks.append(Check("workers", False, f"{service.path}: unreadable: {service.reason}"))
            continue
        age = (now - service.updated_at).total_seconds()
        if age > STALE_AFTER_SECONDS:
            checks.append(
                Check(
                    f"service pid {service.pid}",
                    False,
                    f"status not updated for {age:.0f} s (since {_clock(service.updated_at)}): "
                    "the process is alive but its workers are not reporting",
                )
            )
            continue
        troubled = [w for w in service.workers if w.state != RUNNING]
        for worker in troubled:
            checks.append(Check(f"worker {worker.name}", False, _trouble(worker, now)))
        if not troubled:
            names = ", ".join(w.name for w in service.workers)
            checks.append(
                Check(
                    "workers", True, f"pid {service.pid}: {len(service.workers)} running ({names})"
                )
            )
    return checks


def _trouble(worker: WorkerStatus, now: datetime) -> str:
    if worker.state == BACKING_OFF:
        text = f"backing off since {_clock(worker.since)} ({worker.failures} failure(s)"
        if worker.next_attempt is not None:
            wait = max(0.0, (worker.next_attempt - now).total_seconds())
            text += f", next attempt in {wait:.0f} s"
        text += ")"
    else:
        text = f"{worker.state} since {_clock(worker.since)}"
    return f"{text}: {worker.last_error}" if worker.last_error else text


def _clock(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
