"""The plain-text form: the canonical, machine-readable part of a request or reminder.

Each item asked for is one line that starts with its code in square brackets and ends with
a colon, where the answer is typed::

    -- Finance --

    Indicator BV8a - Percentage of undisputed invoices paid within 30 days
    [BV8a.1] Undisputed invoices paid within 30 days (number):
        Last period: 1,480 | Same period last year: 1,402 | Target: 97%
        Allowed: 0 to 20,000
    [BV8a.2] All undisputed invoices (number):
    [BV8a comment]:

    -- Leisure --

    [P07.M0] Leisure centre refurbishment - overall progress:
        Answer one of: on track / at risk / delayed / complete (with the date)
    [P07.M0 comment]:

Why these rules:

* **No line is longer than 78 characters** (:data:`MAX_LINE`). Clients re-wrap longer lines
  when quoting or sending, and a wrapped form line separates the code from the answer typed
  after it. Titles are shortened with "..." to fit; the code and unit never are, because
  the code identifies the answer and the unit says what it means.
* Only answer lines start with ``[CODE]`` followed by a space or colon; comment lines have a
  space inside the brackets (``[BV8a comment]:``) and everything else (context, headings)
  starts with something other than ``[``. So a reader can find every answer line, and
  :func:`parse_back` proves it over what we send.
* Context lines are indented and packed at `` | `` boundaries, wrapping onto further
  indented lines rather than running past 78 characters.
* The colon that ends a form line is its first colon: a colon in a title or unit becomes
  " - " ("Waste: tonnes" reads "Waste - tonnes"), so a reader that splits label from answer
  at the first colon never cuts a title in two. A colon between digits (10:30) is kept,
  as readers treat that as part of a time, not as a label's end.

Items are grouped by ``group`` (in order of first appearance), and within a group the
components of one indicator are kept together, in the order given, with one comment line
for the indicator after its last component. :func:`form_groups` is that order; the HTML
table uses it too, so both parts list items identically.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mailcapture.compose.textfmt import one_line, truncate
from mailcapture.compose.views import FormItem

__all__ = [
    "MAX_LINE",
    "FormBlock",
    "FormGroup",
    "comment_codes",
    "comment_line",
    "context_line",
    "context_lines",
    "form_groups",
    "form_line",
    "form_lines",
    "ordered_codes",
    "parse_back",
]

#: RFC 5322's recommended line limit; longer lines get re-wrapped by mail clients.
MAX_LINE = 78
_INDENT = "    "
_SEPARATOR = " | "
_CODE = re.compile(r"[^\s\[\]]+")
_ANSWER_LINE = re.compile(r"^\[([^\s\[\]]+)\][ :]", re.MULTILINE)
_LABEL_COLON = re.compile(r"\s*(?:(?<!\d)[:：]|[:：](?!\d))\s*")


@dataclass(frozen=True)
class FormBlock:
    """Items answered together: an indicator's components, or one milestone status.

    ``comment_code`` is the code on the block's comment line (the indicator's, or the
    milestone's own). ``heading`` is the indicator line shown above the block, or None when
    it would only repeat the component's title.
    """

    comment_code: str
    heading: str | None
    items: tuple[FormItem, ...]


@dataclass(frozen=True)
class FormGroup:
    name: str
    blocks: tuple[FormBlock, ...]

    @property
    def items(self) -> tuple[FormItem, ...]:
        return tuple(item for block in self.blocks for item in block.items)


def form_line(item: FormItem) -> str:
    """``[CODE] Title (unit):`` shortened to fit; status items carry no unit in brackets.

    Raises ValueError when the code and unit alone leave no room within 78 characters
    (a register problem: real codes and units are a few characters long).
    """
    code = _checked_code(item.code)
    unit = _no_label_colon(one_line(item.unit)) if item.kind == "value" else ""
    suffix = f" ({unit}):" if unit else ":"
    prefix = f"[{code}]"
    room = MAX_LINE - len(prefix) - len(suffix) - 1  # the space before the title
    if room < 1:
        raise ValueError(
            f"form line for {code!r}: code and unit leave no room within {MAX_LINE} characters"
        )
    title = truncate(_no_label_colon(one_line(item.title)), room)
    return f"{prefix} {title}{suffix}" if title else f"{prefix}{suffix}"


def context_lines(item: FormItem) -> list[str]:
    """The indented context under an item: only the parts known, packed within 78 chars."""
    parts: list[str] = []
    if item.kind == "status" and one_line(item.unit):
        parts.append(f"Answer one of: {one_line(item.unit)}")
    for label, value in (
        ("Last period", item.last_period),
        ("Same period last year", item.same_period_last_year),
        ("Target", item.target),
        ("Allowed", item.allowed),
    ):
        if value is not None and one_line(value):
            parts.append(f"{label}: {one_line(value)}")
    chunks: list[str] = []
    for part in parts:
        if chunks and len(_INDENT + chunks[-1] + _SEPARATOR + part) <= MAX_LINE:
            chunks[-1] += _SEPARATOR + part
        else:
            chunks.append(part)
    lines: list[str] = []
    for chunk in chunks:
        # A single part too long for a line (a long range text) wraps, hanging further in.
        lines.extend(
            textwrap.wrap(
                chunk,
                MAX_LINE,
                initial_indent=_INDENT,
                subsequent_indent=_INDENT + "  ",
                break_on_hyphens=False,
            )
        )
    return lines


def context_line(item: FormItem) -> str | None:
    """The context under an item, or None when nothing is known.

    Usually one line; when the parts do not fit in 78 characters it continues on further
    indented lines (joined here with newlines), never past the limit.
    """
    lines = context_lines(item)
    return "\n".join(lines) if lines else None


def comment_line(code: str) -> str:
    """``[CODE comment]:`` where free-text commentary on an indicator or milestone goes."""
    line = f"[{_checked_code(code)} comment]:"
    if len(line) > MAX_LINE:
        raise ValueError(f"comment line for {code!r} is longer than {MAX_LINE} characters")
    return line


def form_groups(items: Iterable[FormItem]) -> tuple[FormGroup, ...]:
    """Items in form order: groups by first appearance, an indicator's components together.

    An indicator's block stays in the group of its first component, so it is never split
    (one comment line per indicator). Raises ValueError for a code asked for twice, which
    would make the answers ambiguous.
    """
    seen: set[str] = set()
    group_blocks: dict[str, list[str]] = {}
    block_items: dict[str, list[FormItem]] = {}
    for item in items:
        key = item.code.casefold()
        if key in seen:
            raise ValueError(f"item {item.code!r} appears twice in one form")
        seen.add(key)
        if item.kind == "value" and item.indicator_code:
            block_key = "i:" + item.indicator_code.casefold()
        else:
            block_key = "c:" + key
        if block_key not in block_items:
            block_items[block_key] = []
            group_blocks.setdefault(item.group, []).append(block_key)
        block_items[block_key].append(item)
    return tuple(
        FormGroup(name, tuple(_block(block_items[key]) for key in keys))
        for name, keys in group_blocks.items()
    )


def form_lines(items: Sequence[FormItem]) -> list[str]:
    """Every line of the form, without line ends; see the module docstring for the layout."""
    lines: list[str] = []
    for group in form_groups(items):
        if lines:
            lines.append("")
        lines.append(_group_heading(group.name))
        for block in group.blocks:
            lines.append("")
            if block.heading:
                lines.append(block.heading)
            for item in block.items:
                lines.append(form_line(item))
                lines.extend(context_lines(item))
            lines.append(comment_line(block.comment_code))
    return lines


def ordered_codes(items: Sequence[FormItem]) -> list[str]:
    """The item codes in the order the form lists them (what :func:`parse_back` returns)."""
    return [item.code for group in form_groups(items) for item in group.items]


def comment_codes(items: Sequence[FormItem]) -> list[str]:
    """The codes on the form's comment lines: indicator codes, and milestones' own codes.

    A reply reader needs these as well as the item codes, to accept ``[BV8a comment]:``.
    """
    return [block.comment_code for group in form_groups(items) for block in group.blocks]


def parse_back(text: str) -> list[str]:
    """The codes of every answer line (``[CODE] ...``) in ``text``, in order.

    Comment lines are not answer lines. Used by tests to prove that what we send can be read
    back to exactly the codes requested, with nothing lost to wrapping or stray brackets.
    """
    return _ANSWER_LINE.findall(text)


def _block(items: list[FormItem]) -> FormBlock:
    first = items[0]
    if first.kind == "value" and first.indicator_code:
        return FormBlock(first.indicator_code, _indicator_heading(items), tuple(items))
    return FormBlock(first.code, None, (first,))


def _indicator_heading(items: list[FormItem]) -> str | None:
    """``Indicator CODE - Title``, only when it says more than the component titles do.

    Deliberately not ``CODE: ...`` (which would look like an answer) and not starting with
    ``[`` (which would look like a form line).
    """
    first = items[0]
    title = one_line(first.indicator_title or "")
    if not title or all(one_line(i.title).casefold() == title.casefold() for i in items):
        return None
    return truncate(f"Indicator {first.indicator_code} - {title}", MAX_LINE)


def _group_heading(name: str) -> str:
    return f"-- {truncate(one_line(name), MAX_LINE - 6)} --"


def _no_label_colon(text: str) -> str:
    """Colons that could end a label become " - "; a time's colon (10:30) stays."""
    return one_line(_LABEL_COLON.sub(" - ", text))


def _checked_code(code: str) -> str:
    if not _CODE.fullmatch(code):
        raise ValueError(f"item code {code!r} is empty or has spaces or square brackets")
    return code
