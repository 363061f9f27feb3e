"""Loopback ports for test servers that parallel test workers can never share.

Binding to port 0 and handing the number on (the usual trick) is racy when several pytest-xdist
workers start servers at once: between our probe closing and the server binding, another
worker's probe, or any outgoing connection's ephemeral port, may take the same number, and a
server that is stopped and started again on its port (Dovecot's restart) can lose it the same
way. So each worker draws from its own block of ports below the kernel's ephemeral range, which
outgoing connections and port-0 binds never use, and walks through its block before reusing a
port, so a port just closed is not handed out again while it may linger in TIME_WAIT.
"""

from __future__ import annotations

import itertools
import os
import re
import socket
from pathlib import Path

__all__ = ["free_port"]

#: Ports per worker: far more than one worker has open at once.
BLOCK = 400
#: The lowest port handed out; well above the well-known and registered service ports in use.
FLOOR = 20000


def _ephemeral_floor() -> int:
    """The first port of the kernel's ephemeral range (32768 on Linux unless tuned)."""
    try:
        low = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0]
        return int(low)
    except (OSError, ValueError, IndexError):
        return 32768


def _worker_index() -> int:
    """0 for ``gw0`` (or a run without xdist), 1 for ``gw1``, ..."""
    digits = re.sub(r"\D", "", os.environ.get("PYTEST_XDIST_WORKER", ""))
    return int(digits) if digits else 0


def _block_start() -> int | None:
    """The first port of this worker's block, or None if the blocks do not fit below the
    ephemeral range (then the kernel picks, as before)."""
    blocks = (_ephemeral_floor() - FLOOR) // BLOCK
    if blocks < 1:
        return None
    return FLOOR + (_worker_index() % blocks) * BLOCK


_START = _block_start()
_turn = itertools.count()


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A loopback port that nothing is bound to now and no other test worker hands out."""
    if _START is not None:
        for _ in range(BLOCK):
            port = _START + next(_turn) % BLOCK
            if _bindable(port):
                return port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
