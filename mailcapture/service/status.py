"""The service's workers' state in a small JSON file, for ``mailcapture health``.

``health`` runs in another process (the container's HEALTHCHECK), so it cannot ask the
service's threads how they are. The service writes what its supervisors know to
``serve-<host>-<pid>.json`` in the state folder (``MAILCAPTURE_STATE_DIR``, by default the
folder that holds the outgoing mail folder) on every change of a worker's state and every
:data:`HEARTBEAT_SECONDS` besides, and removes it when it stops cleanly::

    {"pid": 4711, "host": "c0ffee", "started_at": "...", "updated_at": "...",
     "workers": {"pipeline": {"name": "pipeline", "state": "backing-off",
                              "since": "...", "failures": 3,
                              "last_error": "OperationalError: connection refused",
                              "next_attempt": "..."}, ...}}

Each write goes to a temporary file in the same folder, renamed over the old one, so a
reader sees the old file or the new one, never half of one.

:func:`read_services` is ``health``'s side. It reads the files of this host whose process
is alive: a file whose process has gone is left over from a service that did not stop
cleanly (``kill -9``) and says nothing about now. A live process whose file has not been
written for :data:`STALE_AFTER_SECONDS` is hung (even its heartbeat has stopped), which is
as unhealthy as a worker backing off.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from mailcapture.service.supervisor import WorkerStatus, utc_now

#: How often the service rewrites its file when nothing changes.
HEARTBEAT_SECONDS = 10.0
#: A file older than this, from a live process, means the process has stopped updating it.
STALE_AFTER_SECONDS = 60.0
PREFIX = "serve-"

#: Status files of the services in this process (tests may run several): one file each.
_claimed: set[Path] = set()
_claimed_lock = threading.Lock()


def host_name() -> str:
    """This host's name as it can appear in a file name."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname()) or "host"


class StatusFile:
    """Publishes one service's workers: :meth:`update` on a change, :meth:`write` as the
    heartbeat, :meth:`remove` on a clean stop."""

    def __init__(self, directory: Path, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.directory = directory
        self.clock = clock
        self.pid = os.getpid()
        self.host = host_name()
        self.started_at = clock()
        self.workers: dict[str, WorkerStatus] = {}
        self._lock = threading.Lock()
        self.path = self._claim_path()

    def _claim_path(self) -> Path:
        base = f"{PREFIX}{self.host}-{self.pid}"
        with _claimed_lock:
            for n in range(1, 1000):
                path = self.directory / (f"{base}.json" if n == 1 else f"{base}-{n}.json")
                if path not in _claimed:
                    _claimed.add(path)
                    return path
        raise RuntimeError("too many services in one process")

    def update(self, status: WorkerStatus) -> None:
        with self._lock:
            self.workers[status.name] = status
            self._write()

    def write(self) -> None:
        """Rewrite the file as it is (the heartbeat: ``updated_at`` moves on)."""
        with self._lock:
            self._write()

    def _write(self) -> None:
        data = {
            "pid": self.pid,
            "host": self.host,
            "started_at": self.started_at.isoformat(),
            "updated_at": self.clock().isoformat(),
            "workers": {name: w.as_dict() for name, w in sorted(self.workers.items())},
        }
        self.directory.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        temporary.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        os.replace(temporary, self.path)

    def remove(self) -> None:
        """A clean stop: no file, so ``health`` does not read an old state as the present.

        Best effort: a file that cannot be removed belongs to a process about to end, and
        ``health`` passes over the file of a process that has ended."""
        with self._lock, contextlib.suppress(OSError):
            self.path.unlink()
        with _claimed_lock:
            _claimed.discard(self.path)

    def remove_leftovers(self) -> list[Path]:
        """Files of this host's services whose process is gone (a ``kill -9``, a crash)."""
        removed = []
        for path in sorted(self.directory.glob(f"{PREFIX}{self.host}-*.json")):
            if path == self.path:
                continue
            with contextlib.suppress(OSError, ValueError):
                data = json.loads(path.read_text(encoding="utf-8"))
                if data.get("host") == self.host and not pid_alive(int(data["pid"])):
                    path.unlink()
                    removed.append(path)
        return removed


@dataclass(frozen=True)
class ServiceStatus:
    """One live service's file, as ``health`` reads it."""

    path: Path
    pid: int
    updated_at: datetime
    workers: tuple[WorkerStatus, ...]


@dataclass(frozen=True)
class Unreadable:
    path: Path
    reason: str


def read_services(directory: Path) -> list[ServiceStatus | Unreadable]:
    """The status files of this host's live services in ``directory`` (none: no service)."""
    if not directory.is_dir():
        return []
    host = host_name()
    found: list[ServiceStatus | Unreadable] = []
    for path in sorted(directory.glob(f"{PREFIX}{host}-*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("host") != host:
                continue
            pid = int(data["pid"])
            if not pid_alive(pid):
                continue  # left over by a service that did not stop cleanly
            workers = tuple(_worker(w) for w in data["workers"].values())
            found.append(ServiceStatus(path, pid, _time(data["updated_at"]), workers))
        except FileNotFoundError:
            continue  # removed by a service stopping while we looked
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            found.append(Unreadable(path, f"{type(exc).__name__}: {exc}"))
    return found


def _worker(data: dict[str, Any]) -> WorkerStatus:
    return WorkerStatus(
        name=str(data["name"]),
        state=str(data["state"]),
        since=_time(data["since"]),
        failures=int(data.get("failures") or 0),
        last_error=data.get("last_error"),
        next_attempt=_time(data["next_attempt"]) if data.get("next_attempt") else None,
    )


def _time(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"not a time: {value!r}")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"a time without its zone: {value!r}")
    return parsed


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (signal 0 tests without sending anything)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    except OSError:
        return False
    return True
