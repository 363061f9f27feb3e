"""Small text helpers shared by the form and the templates.

Plain-text email is read in clients that re-wrap long lines and quote replies with ``> ``,
so prose is wrapped here, at a width that leaves room for quoting, rather than left to the
client; and anything that must stay on one line (a title in a form line, a subject) is
flattened first, because a stray newline in a register title would otherwise split a form
line in two.
"""

from __future__ import annotations

import textwrap
from datetime import date

__all__ = ["PROSE_WIDTH", "count_of", "hang", "one_line", "reflow", "truncate"]

#: Prose width: 72 leaves room for two levels of "> " quoting within 78 characters.
PROSE_WIDTH = 72

_ELLIPSIS = "..."


def one_line(text: str) -> str:
    """``text`` as a single line: any whitespace or unprintable run becomes one space."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def truncate(text: str, width: int) -> str:
    """Shorten ``text`` to at most ``width`` characters, marking the cut with "...".

    ASCII dots rather than "…" so that an ASCII-only email can stay 7bit.
    """
    if width < 0:
        raise ValueError(f"width must not be negative, not {width}")
    if len(text) <= width:
        return text
    if width <= len(_ELLIPSIS):
        return _ELLIPSIS[:width]
    return text[: width - len(_ELLIPSIS)].rstrip() + _ELLIPSIS


def reflow(text: str, width: int = PROSE_WIDTH) -> str:
    """Re-wrap template prose so that template source lines do not dictate email lines.

    Paragraphs are separated by blank lines and re-filled to ``width``. A paragraph whose
    lines start with "- " is a list: each item is filled with a two-space hanging indent.
    Words longer than ``width`` (an email address) are kept whole rather than broken.
    The result ends with a newline so that it can be used as a ``{% filter %}`` block.
    """
    paragraphs: list[str] = []
    for block in _blocks(text):
        if block[0].startswith("- "):
            paragraphs.append("\n".join(_fill(item, width, "- ", "  ") for item in _items(block)))
        else:
            paragraphs.append(_fill(" ".join(block), width, "", ""))
    return "\n\n".join(p for p in paragraphs if p) + "\n"


def hang(text: str, label: str, width: int = 78) -> str:
    """``label`` then ``text`` wrapped under itself: ``  Last error:  550 5.1.1 User ...``.

    For labelled fields whose values can be long (an SMTP error, a subject).
    """
    return _fill(text, width, label, " " * len(label))


def count_of(count: int, singular: str, plural: str | None = None) -> str:
    """``3 working days``, ``1 working day``: a count with its noun in the right number."""
    word = singular if count in (1, -1) else (plural or singular + "s")
    return f"{count} {word}"


def _blocks(text: str) -> list[list[str]]:
    blocks: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.strip():
            blocks[-1].append(line.strip())
        elif blocks[-1]:
            blocks.append([])
    return [b for b in blocks if b]


def _items(block: list[str]) -> list[str]:
    items: list[str] = []
    for line in block:
        if line.startswith("- ") or not items:
            items.append(line.removeprefix("- "))
        else:
            items[-1] += " " + line
    return items


def _fill(text: str, width: int, first: str, rest: str) -> str:
    return textwrap.fill(
        one_line(text),
        width,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )


def day_text(day: date) -> str:
    """'Wednesday 8 July 2026': a day on its own, as an email names it."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def short_day(day: date) -> str:
    """'8 July 2026': a day printed beside an item (a promised date, a reminder sent)."""
    return f"{day.day} {day:%B %Y}"
