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

from mailcapture.errors import UserError
from mailcapture.parsing.sniff import not_a_message


class UnreadableInput(UserError):
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
            yield from _iter_maildir(path)
            return
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            if child.suffix.lower() in {".eml", ".msg", ".txt", ""} or child.parent.name in {
                "cur",
                "new",
            }:
                yield FileMessage(child.read_bytes(), str(child))
        return
    if _is_mbox(path):
        yield from _iter_mbox(path)
        return
    yield FileMessage(path.read_bytes(), str(path))


def _iter_maildir(path: Path) -> Iterator[FileMessage]:
    box = mailbox.Maildir(path, factory=None, create=False)
    for key in sorted(box.iterkeys()):
        with box.get_file(key) as handle:
            yield FileMessage(handle.read(), f"{path}:{key}")


def _iter_mbox(path: Path) -> Iterator[FileMessage]:
    """Each message of an mbox file, closing the file however the reading ends.

    ``mailbox.mbox`` keeps its file open (read-write where it may) until ``close()``;
    without it every mbox ingested left a handle to the garbage collector.
    """
    box = mailbox.mbox(path, create=False)
    try:
        for key in box.iterkeys():
            yield FileMessage(box.get_bytes(key), f"{path}:{key}")
    finally:
        box.close()


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


@dataclass(frozen=True)
class CheckedInputs:
    """How many messages the inputs hold; the messages themselves only when read from stdin.

    Files are read again when captured rather than held in memory: a folder may be large.
    """

    count: int
    messages: list[FileMessage] | None


def check_inputs(paths: list[Path]) -> CheckedInputs:
    """Refuse the whole run, before anything is stored, if any input is not an email.

    A person pointed ``ingest`` at the wrong file (an Outlook ``.msg``, a PDF, a reply's
    text without its headers): say which and why in one line, and store nothing, so that
    nothing half-done needs undoing.
    """
    count = 0
    refused: list[str] = []
    kept: list[FileMessage] = []
    for message in iter_inputs(paths):
        count += 1
        reason = not_a_message(message.raw)
        if reason is not None:
            refused.append(f"{message.ref}: {reason}")
        if not paths:
            kept.append(message)
    if refused:
        more = f" (and {len(refused) - 1} more of {count} inputs)" if len(refused) > 1 else ""
        raise UnreadableInput(f"{refused[0]}{more}; nothing was stored")
    return CheckedInputs(count, kept if not paths else None)
