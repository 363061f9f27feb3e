"""What every benchmark script needs: a time limit, progress lines, rates, ports, paths.

Kept apart from the scripts so that each one reads as its workload and its report only.
"""

from __future__ import annotations

import _thread
import os
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

#: Frames from these packages count as database time in a profile.
DATABASE_PATHS = tuple(
    f"{os.sep}{name}{os.sep}" for name in ("sqlalchemy", "psycopg", "psycopg_binary", "sqlite3")
)


class TimeLimit(Exception):
    pass


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the main thread after ``seconds``; clean-up (dropping databases) still runs."""
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        _thread.interrupt_main()

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    except KeyboardInterrupt:
        if expired.is_set():
            raise TimeLimit(f"benchmark stopped after its time limit of {seconds:.0f} s") from None
        raise
    finally:
        timer.cancel()


def log(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def short_path(path: str) -> str:
    """A source path as a profile prints it: from the package down."""
    for marker in (f"site-packages{os.sep}", f"{os.sep}mailcapture{os.sep}", f"lib{os.sep}python"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path
