"""Typed answers and the attached spreadsheet form's answers, as one reading (issue 16)."""

from __future__ import annotations

from mailcapture.parsing.form import Answer, FormReading, read_reply
from mailcapture.parsing.sheet_answers import merge_sheet_answers
from mailcapture.parsing.workbook import CellRef, SheetAnswer, WorkbookReading

FILE = "return-2026-04-kevin-walsh.xlsx"
CODES = ["BV8a.1", "BV8a.2", "P09.M0"]


def cell(ref: str) -> CellRef:
    return CellRef(FILE, "Return", ref)


def ours(*rows: SheetAnswer) -> WorkbookReading:
    return WorkbookReading(FILE, "ours", matched_by="reference", sheet="Return", answers=rows)


def typed(text: str) -> FormReading:
    return read_reply(text, None, CODES)


def by_code(reading: FormReading) -> dict[str, Answer]:
    return {a.code.casefold(): a for a in reading.answers if a.kind != "comment"}


def test_sheet_answers_join_the_typed_ones_with_their_cells() -> None:
    reading = merge_sheet_answers(
        typed("BV8a.1: 1,870"),
        [
            ours(
                SheetAnswer("BV8a.2", "1902", None, cell("H6")),
                SheetAnswer("P09.M0", "on track", "Contractor on site", cell("H7"), cell("I7")),
            )
        ],
    )
    answers = by_code(reading)
    assert answers["bv8a.1"].text == "1,870" and answers["bv8a.1"].origin == ""
    assert answers["bv8a.2"].text == "1902"
    assert answers["bv8a.2"].origin == f"{FILE}, Return!H6"
    assert answers["p09.m0"].kind == "value" and answers["p09.m0"].origin.endswith("!H7")
    comments = [a for a in reading.answers if a.kind == "comment"]
    assert [(c.code, c.text, c.origin) for c in comments] == [
        ("P09.M0", "Contractor on site", f"{FILE}, Return!I7")
    ]


def test_the_same_figure_typed_and_in_the_sheet_is_taken_once() -> None:
    reading = merge_sheet_answers(
        typed("BV8a.1: 1,870"), [ours(SheetAnswer("BV8a.1", "1870", None, cell("H5")))]
    )
    values = [a for a in reading.answers if a.code == "BV8a.1"]
    assert len(values) == 1
    assert values[0].kind == "value" and values[0].text == "1,870"


def test_different_figures_typed_and_in_the_sheet_refuse_the_item_naming_both() -> None:
    reading = merge_sheet_answers(
        typed("BV8a.1: 1,870"), [ours(SheetAnswer("BV8a.1", "1907", None, cell("H5")))]
    )
    (answer,) = [a for a in reading.answers if a.code == "BV8a.1"]
    assert answer.kind == "unread"
    assert "'1,870' in the email" in answer.reason
    assert f"'1907' in {FILE}, Return!H5" in answer.reason
    assert "Neither was recorded" in answer.reason


def test_an_unreadable_cell_refuses_its_item_with_the_reason() -> None:
    why = "the formula =SUM(B2:B4) has no saved value (never calculated); type the figure"
    reading = merge_sheet_answers(
        typed("thanks"), [ours(SheetAnswer("BV8a.2", None, None, cell("H6"), refused=why))]
    )
    (answer,) = reading.answers
    assert answer.kind == "unread" and answer.code == "BV8a.2"
    assert answer.reason == f"{FILE}, Return!H6: {why}"


def test_a_figure_beside_an_unreadable_cell_for_the_same_item_is_not_taken() -> None:
    reading = merge_sheet_answers(
        typed("BV8a.2: 1902"),
        [ours(SheetAnswer("BV8a.2", None, None, cell("H6"), refused="an error value #REF!"))],
    )
    (answer,) = [a for a in reading.answers if a.code == "BV8a.2"]
    assert answer.kind == "unread"
    assert "'1902' in the email" in answer.reason and "#REF!" in answer.reason


def test_a_foreign_attachment_is_named_and_the_typed_answers_stand() -> None:
    foreign = WorkbookReading("figures.xls", "foreign", "an .xls file is not our form")
    reading = merge_sheet_answers(typed("BV8a.1: 1,870"), [foreign])
    assert [a.text for a in reading.answers if a.kind == "value"] == ["1,870"]
    assert reading.ignored[-1] == (
        "The attachment figures.xls was not read: an .xls file is not our form"
    )


def test_two_rows_of_the_sheet_that_disagree_refuse_the_item() -> None:
    reading = merge_sheet_answers(
        typed(""),
        [
            ours(
                SheetAnswer("BV8a.1", "1870", None, cell("H5")),
                SheetAnswer("BV8a.1", "1880", None, cell("H9")),
            )
        ],
    )
    (answer,) = reading.answers
    assert answer.kind == "unread"
    assert "Return!H5" in answer.reason and "Return!H9" in answer.reason


def test_a_typed_line_read_as_nothing_is_a_note_when_the_sheet_answers_the_item() -> None:
    unread = Answer("BV8a.1", "unread", "BV8a.1 see sheet", "top", 1, "BV8a.1: no figure read")
    reading = merge_sheet_answers(
        FormReading([unread], ""), [ours(SheetAnswer("BV8a.1", "1870", None, cell("H5")))]
    )
    (answer,) = reading.answers
    assert answer.kind == "value" and answer.text == "1870"
    assert "BV8a.1: no figure read" in reading.ignored
