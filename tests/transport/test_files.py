"""Reading messages from files: an mbox is closed once read, however the reading ends."""

from __future__ import annotations

import gc
import mailbox
import warnings
from collections.abc import Callable
from pathlib import Path

from mailcapture.transport.files import iter_path

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "replies"
SAMPLES = ("android5_gmail_app_reply.eml", "apple_mail_iso8859-1_on_date_wrote.eml")


def _mbox_of_samples(path: Path) -> Path:
    box = mailbox.mbox(path)
    for name in SAMPLES:
        box.add((CORPUS / name).read_bytes())
    box.close()
    return path


def _unclosed_while(read: Callable[[], object], path: Path) -> list[str]:
    """ResourceWarnings about ``path`` (left open, for the garbage collector to close)
    raised while ``read()`` runs; other tests' garbage is collected first, and ignored."""
    gc.collect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        read()
        gc.collect()
    return [
        str(w.message)
        for w in caught
        if issubclass(w.category, ResourceWarning) and path.name in str(w.message)
    ]


def test_reading_an_mbox_closes_it(tmp_path: Path) -> None:
    path = _mbox_of_samples(tmp_path / "replies.mbox")
    found: list[bytes] = []
    leaks = _unclosed_while(lambda: found.extend(m.raw for m in iter_path(path)), path)
    assert len(found) == len(SAMPLES)
    assert leaks == []


def test_an_mbox_read_only_in_part_is_closed_too(tmp_path: Path) -> None:
    """A reader that stops part-way (an error, or only the first wanted) closes it too."""
    path = _mbox_of_samples(tmp_path / "replies.mbox")

    def first_only() -> None:
        messages = iter_path(path)
        assert b"Subject:" in next(messages).raw
        messages.close()

    assert _unclosed_while(first_only, path) == []
