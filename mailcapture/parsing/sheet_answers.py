"""A reply's typed answers and the answers in its attached spreadsheet form, as one reading.

Pure: a :class:`~mailcapture.parsing.form.FormReading` of the reply's text and the
:class:`~mailcapture.parsing.workbook.WorkbookReading` of each attachment go in, one
``FormReading`` comes out, for the same validation, plausibility checks, confirmation and
audit trail as typed answers (issue 16, part 3).

The rules, so that no figure is taken that the sender did not clearly give:

* **Our own form**: each filled Answer cell is an answer like a typed one, carrying where
  it came from (``Answer.origin``: file, sheet and cell); a Comment cell is a comment. A
  cell that could not be read (a formula Excel never calculated, an error value) is an
  answer that could not be read: the item is refused with the reason, and stays
  outstanding.
* **The same item typed in the email and given in the sheet**: with the same value it is
  taken once (the typed answer); with different values neither is taken, and the item is
  refused naming both, since only the sender knows which is right. The same holds for two
  rows of the sheet, or two sheets, that answer one item differently.
* **Any other attachment** (another workbook, an ``.xls``, a ``.csv``, a macro-enabled
  file, a damaged or oversized one) is never guessed at: the confirmation says what it was
  and why it was not read, and the typed answers stand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from mailcapture.parsing.form import Answer, FormReading, value_key
from mailcapture.parsing.workbook import SheetAnswer, WorkbookReading

__all__ = ["merge_sheet_answers"]


def merge_sheet_answers(reading: FormReading, sheets: Sequence[WorkbookReading]) -> FormReading:
    """``reading`` with the answers of every attachment that is our own form added.

    Notes for the sender (an attachment not read and why, a comment cell not read) are
    added to ``ignored``; a clash between answers is an ``unread`` answer for its item, so
    the confirmation lists it as refused with both values named.
    """
    notes: list[str] = []
    from_sheets: list[Answer] = []
    for sheet in sheets:
        if not sheet.ours:
            notes.append(f"The attachment {sheet.filename} was not read: {sheet.reason}")
            continue
        for row in sheet.answers:
            from_sheets.extend(_answers(row, notes))
    if not from_sheets:
        return replace(reading, ignored=[*reading.ignored, *notes]) if notes else reading
    typed = [a for a in reading.answers if a.kind != "comment"]
    values: dict[str, list[Answer]] = {}
    for answer in [*typed, *(a for a in from_sheets if a.kind != "comment")]:
        values.setdefault(answer.code.casefold(), []).append(answer)
    merged = [a for a in reading.answers if a.kind == "comment"]
    merged += [a for a in from_sheets if a.kind == "comment"]
    for group in values.values():
        merged.append(_settle(group, notes))
    return replace(reading, answers=merged, ignored=[*reading.ignored, *notes])


def _answers(row: SheetAnswer, notes: list[str]) -> list[Answer]:
    where = str(row.answer_cell)
    found: list[Answer] = []
    if row.refused is not None:
        found.append(Answer(row.code, "unread", "", "sheet", 0, f"{where}: {row.refused}", where))
    elif row.answer is not None:
        found.append(Answer(row.code, "value", row.answer, "sheet", 0, origin=where))
    if row.comment is not None and row.comment.strip():
        origin = str(row.comment_cell) if row.comment_cell is not None else where
        found.append(Answer(row.code, "comment", row.comment, "sheet", 0, origin=origin))
    elif row.comment_refused is not None:
        cell = str(row.comment_cell) if row.comment_cell is not None else where
        notes.append(f"The comment for {row.code} ({cell}) was not read: {row.comment_refused}")
    return found


def _settle(group: list[Answer], notes: list[str]) -> Answer:
    """One answer for an item given once or more: the first, if they all agree.

    A typed line that named the item but gave nothing readable gives way to a readable
    answer (as it does to another typed line); a sheet cell that could not be read does
    not: answers that disagree, or a figure beside an unreadable cell, refuse the item
    naming each, with no winner.
    """
    readable = [a for a in group if a.kind == "value"]
    if not readable:
        return group[0]
    candidates = [a for a in group if a.kind == "value" or a.source == "sheet"]
    # A typed line read as nothing is kept as a note, as when another typed line answers.
    notes.extend(a.reason for a in group if a not in candidates and a.reason)
    if len({value_key(a.text) for a in readable}) == 1 and len(readable) == len(candidates):
        return readable[0]
    given = "; ".join(_described(a) for a in candidates)
    first = candidates[0]
    return Answer(
        first.code,
        "unread",
        " / ".join(a.text for a in readable),
        first.source,
        first.line_no,
        f"{first.code} was given different answers: {given}. Neither was recorded: "
        "please send the right one",
    )


def _described(answer: Answer) -> str:
    if answer.kind == "unread":
        return f"an unreadable cell ({answer.reason})"
    if answer.source == "sheet":
        return f"'{answer.text}' in {answer.origin}"
    return f"'{answer.text}' in the email"
