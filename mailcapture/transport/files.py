"""Messages from files: single .eml files, folders of them, mbox files, Maildirs, stdin.

A thin transport like the others: it yields raw bytes and where they came from, and
leaves everything else to ``mailflow``.
"""

from __future__ import annotations

import mailbox
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


class UnreadableInput(OSError):
    """A path that is not a message, folder, mbox or Maildir (a one-line reason)."""


@dataclass(frozen=True)
class FileMessage:
    raw: bytes
    ref: str


def _is_maildir(path: Path) -> bool:
    return all((path / sub).is_dir() for sub in ("cur", "new", "tmp"))


def _is_mbox(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(5) == b"From "


def iter_path(path: Path) -> Iterator[FileMessage]:
    if not path.exists():
        raise UnreadableInput(f"{path}: no such file or folder")
    if path.is_dir():
        if _is_maildir(path):
            box = mailbox.Maildir(path, factory=None, create=False)
            for key in sorted(box.iterkeys()):
                with box.get_file(key) as handle:
                    yield FileMessage(handle.read(), f"{path}:{key}")
            return
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            if child.suffix.lower() in {".eml", ".msg", ".txt", ""} or child.parent.name in {
                "cur",
                "new",
            }:
                yield FileMessage(child.read_bytes(), str(child))
        return
    if _is_mbox(path):
        box = mailbox.mbox(path, create=False)
        for key in box.iterkeys():
            yield FileMessage(box.get_bytes(key), f"{path}:{key}")
        return
    yield FileMessage(path.read_bytes(), str(path))


def iter_inputs(paths: list[Path]) -> Iterator[FileMessage]:
    """Every message in ``paths``; standard input (one message) when no path is given."""
    if not paths:
        data = sys.stdin.buffer.read()
        if not data.strip():
            raise UnreadableInput("standard input is empty: give a message or a path")
        yield FileMessage(data, "<stdin>")
        return
    for path in paths:
        try:
            yield from iter_path(path)
        except (PermissionError, IsADirectoryError, mailbox.Error) as exc:
            raise UnreadableInput(f"{path}: {exc}") from exc
