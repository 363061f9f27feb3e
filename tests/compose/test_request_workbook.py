"""The spreadsheet form attached to a data request (issue 16, part 2).

Each request carries ``return-<period>-<person>.xlsx``: the text form's items, one row each,
with the figures for context as formatted number cells, an Answer column checked by data
validation (the text form's bounds; the statuses the parser reads), a Completed on column for
milestones and a Comment column; the sheet protected but for those cells, and the request's
reference in the cell named ``mailcapture_reference``. Built from the view alone.
"""

from __future__ import annotations

import email
import io
import zipfile
from datetime import UTC, datetime
from decimal import Decimal
from email.message import Message

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from openpyxl.cell.cell import Cell
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from mailcapture.compose.form import ordered_codes
from mailcapture.compose.message import Envelope, build_message
from mailcapture.compose.render import render
from mailcapture.compose.views import (
    Council,
    DeferredRequestView,
    FormItem,
    ItemFigures,
    Person,
    ReminderView,
    RequestView,
)
from mailcapture.compose.workbook import (
    REFERENCE_NAME,
    STATUS_CHOICES,
    XLSX_SUBTYPE,
    form_attachments,
    request_workbook,
    workbook_filename,
)
from mailcapture.parsing.values import MilestoneStatus
from tests.compose.samples import STATUSES, item
from tests.compose.workbook_reference import reference_workbook

NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
COUNCIL = Council("Ashdown District Council", "performance@ashdown.example")
KEVIN = Person("Kevin Walsh", "kevin.walsh@ashdown.example")
TOKEN = "abcdefghijklmnop"

INVOICES = item(
    "BV8a.1",
    "Undisputed invoices paid within 30 days",
    "Finance",
    indicator_title="Percentage of undisputed invoices paid within 30 days",
    last_period="1,480",
    same_period_last_year="1,402",
    target="97%",
    allowed="0 to 20,000",
    figures=ItemFigures(
        last_period=Decimal(1480),
        same_period_last_year=Decimal(1402),
        target=Decimal("97.0"),
        target_unit="%",
        target_decimals=1,
        low=Decimal(0),
        high=Decimal(20000),
    ),
)
ALL_INVOICES = item(
    "BV8a.2",
    "All undisputed invoices",
    "Finance",
    indicator_title="Percentage of undisputed invoices paid within 30 days",
    last_period="1,530",
    allowed="0 to 20,000",
    figures=ItemFigures(last_period=Decimal(1530), low=Decimal(0), high=Decimal(20000)),
)
TAX = item(
    "BV9.1",
    "Council tax collected",
    "Revenues and Benefits",
    unit="£",
    last_period="£4,209,600.50",
    allowed="£0 or more",
    figures=ItemFigures(last_period=Decimal("4209600.50"), low=Decimal(0)),
)
SATISFACTION = item(
    "LCS1.1",
    "=Residents satisfied, % (survey)",  # a title that looks like a formula stays text
    "Leisure",
    unit="%",
    last_period="81.5%",
    allowed="0% to 100%",
    figures=ItemFigures(last_period=Decimal("81.5"), low=Decimal(0), high=Decimal(100)),
)
MILESTONE = item(
    "P07.M0",
    "Leisure centre refurbishment - overall progress",
    "Leisure centre refurbishment",
    kind="status",
    unit=STATUSES,
    indicator_code=None,
    indicator_title=None,
    last_period="on track",
)
ITEMS = (INVOICES, ALL_INVOICES, TAX, SATISFACTION, MILESTONE)


def _view(items: tuple[FormItem, ...] = ITEMS, **kw: object) -> RequestView:
    fields: dict[str, object] = {
        "council": COUNCIL,
        "recipient": KEVIN,
        "period_code": "2026-04",
        "period_label": "April 2026",
        "token": TOKEN,
        "due": "Friday 15 May 2026, 5pm",
        "items": items,
    }
    fields.update(kw)
    return RequestView(**fields)  # type: ignore[arg-type]


def _book(data: bytes) -> tuple[Workbook, Worksheet]:
    book = load_workbook(io.BytesIO(data))
    return book, book["Return"]


def _cell(sheet: Worksheet, coordinate: str) -> Cell:
    cell = sheet[coordinate]
    assert isinstance(cell, Cell)
    return cell


def _rows(sheet: Worksheet) -> dict[str, int]:
    """Item code -> its row, read from column A under the header row (8)."""
    found = {}
    for row in range(9, 9 + len(ITEMS) + 3):
        code = sheet.cell(row, 1).value
        if code:
            found[str(code)] = row
    return found


def test_one_row_per_item_in_the_text_forms_order_with_its_context() -> None:
    _, sheet = _book(request_workbook(_view()))
    assert [sheet.cell(8, c).value for c in range(1, 11)] == [
        "Code",
        "Item",
        "Unit",
        "Last period",
        "Same period last year",
        "Target",
        "Allowed range",
        "Answer",
        "Completed on",
        "Comment",
    ]
    rows = _rows(sheet)
    assert list(rows) == ordered_codes(ITEMS)
    for form_item in ITEMS:
        row = rows[form_item.code]
        assert sheet.cell(row, 2).value == form_item.title
        assert sheet.cell(row, 3).value == (
            form_item.unit if form_item.kind == "value" else "status"
        )
        figures = form_item.figures
        if figures is None:  # a milestone: its last status as the text form shows it
            assert sheet.cell(row, 4).value == form_item.last_period
            assert sheet.cell(row, 7).value == "; ".join(STATUS_CHOICES)
            continue
        for column, number in (
            (4, figures.last_period),
            (5, figures.same_period_last_year),
            (6, figures.target),
        ):
            value = sheet.cell(row, column).value
            if number is None:
                assert value is None
            else:
                assert isinstance(value, int | float) and Decimal(str(value)) == number
        assert sheet.cell(row, 7).value == form_item.allowed
        for column in (8, 9, 10):  # nothing answered yet
            assert sheet.cell(row, column).value is None


def test_a_title_that_looks_like_a_formula_is_text() -> None:
    _, sheet = _book(request_workbook(_view()))
    cell = sheet.cell(_rows(sheet)["LCS1.1"], 2)
    assert cell.value == SATISFACTION.title
    assert cell.data_type == "s"


def test_number_formats_for_uk_excel() -> None:
    _, sheet = _book(request_workbook(_view()))
    rows = _rows(sheet)

    def fmt(code: str, column: int) -> str:
        return str(sheet.cell(rows[code], column).number_format)

    assert fmt("BV8a.1", 4) == "#,##0"  # thousands separators
    assert fmt("BV8a.1", 6) == '#,##0.0"%"'  # the indicator's target: 97.0%, not 0.97
    assert fmt("BV9.1", 4) == '"£"#,##0.00'  # money
    assert fmt("BV9.1", 8) == '"£"#,##0.00'  # the answer cell too
    assert fmt("LCS1.1", 4) == '#,##0.0"%"'
    assert fmt("LCS1.1", 8) == '#,##0.0"%"'  # typed 81.5 is stored 81.5, shown 81.5%
    assert fmt("P07.M0", 9) == "dd/mm/yyyy"
    for column in (2, 4):  # the period's first and last days
        assert sheet.cell(4, column).number_format == "dd/mm/yyyy"
    assert sheet.cell(4, 2).value == datetime(2026, 4, 1)
    assert sheet.cell(4, 4).value == datetime(2026, 4, 30)


def test_the_answer_cells_are_validated_with_the_text_forms_bounds_and_statuses() -> None:
    _, sheet = _book(request_workbook(_view()))
    rows = _rows(sheet)
    rules = {}
    for rule in sheet.data_validations.dataValidation:
        for cells in rule.sqref.ranges:
            for row, column in cells.cells:
                rules[(row, column)] = rule

    def rule_for(code: str, column: int = 8) -> tuple[object, ...]:
        found = rules[(rows[code], column)]
        return (found.type, found.operator, found.formula1, found.formula2)

    assert rule_for("BV8a.1") == ("decimal", "between", "0", "20000")
    assert rule_for("BV8a.2") == ("decimal", "between", "0", "20000")
    assert rule_for("BV9.1") == ("decimal", "greaterThanOrEqual", "0", None)
    assert rule_for("LCS1.1") == ("decimal", "between", "0", "100")
    statuses = rule_for("P07.M0")
    assert statuses[:2] == ("list", None)
    # The same vocabulary the reply parser reads.
    assert statuses[2] == '"' + ",".join(s.value for s in MilestoneStatus) + '"'
    assert rule_for("P07.M0", 9) == ("date", "lessThanOrEqual", "TODAY()", None)
    assert all(rules[key].showErrorMessage for key in rules)
    assert (rows["BV8a.1"], 9) not in rules  # no completion date for a figure


def test_only_the_answer_and_comment_cells_are_unlocked() -> None:
    _, sheet = _book(request_workbook(_view()))
    assert sheet.protection.sheet
    rows = _rows(sheet)
    unlocked = {
        (cell.row, cell.column)
        for line in sheet.iter_rows(min_row=1, max_row=20, max_col=12)
        for cell in line
        if isinstance(cell, Cell) and not cell.protection.locked
    }
    expected = {(row, 8) for row in rows.values()} | {(row, 10) for row in rows.values()}
    expected.add((rows["P07.M0"], 9))  # a milestone's Completed on
    assert unlocked == expected


def test_the_reference_is_in_a_named_cell() -> None:
    book, sheet = _book(request_workbook(_view()))
    name = book.defined_names[REFERENCE_NAME]
    ((title, coordinate),) = list(name.destinations)
    assert title == "Return"
    assert _cell(book[title], coordinate.replace("$", "")).value == f"MC-{TOKEN}"
    assert _cell(sheet, "B5").value == f"MC-{TOKEN}"  # as the text form prints it


def test_same_view_same_bytes_with_times_from_the_view() -> None:
    data = request_workbook(_view())
    assert request_workbook(_view()) == data
    book, _ = _book(data)
    assert book.properties.created == datetime(2026, 4, 1)
    assert book.properties.modified == datetime(2026, 4, 1)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert {info.date_time for info in archive.infolist()} == {(2026, 4, 1, 0, 0, 0)}
    assert request_workbook(_view(period_code="2026-05", period_label="May 2026")) != data


def test_filename_names_the_period_and_whose_return_it_is() -> None:
    assert workbook_filename(_view()) == "return-2026-04-kevin-walsh.xlsx"
    renee = Person("Renée O'Brien-Smith", "renee@ashdown.example")
    assert workbook_filename(_view(recipient=renee)) == "return-2026-04-renee-o-brien-smith.xlsx"
    # Sent to a delegate: still the principal's return.
    delegate = _view(recipient=Person("Dee Puty", "dee@ashdown.example"), on_behalf_of=KEVIN)
    assert workbook_filename(delegate) == "return-2026-04-kevin-walsh.xlsx"
    assert workbook_filename(_view(recipient=Person("", "x.y@ashdown.example"))) == (
        "return-2026-04-x-y.xlsx"
    )


def test_views_without_figures_show_the_display_text() -> None:
    bare = item("BV8a.1", "Invoices", "Finance", last_period="1,480", target="97%")
    _, sheet = _book(request_workbook(_view(items=(bare,))))
    assert sheet.cell(9, 4).value == "1,480"
    assert sheet.cell(9, 6).value == "97%"
    assert not sheet.data_validations.dataValidation  # no bounds known: none checked


def test_which_emails_carry_it() -> None:
    view = _view()
    deferred = DeferredRequestView(**{**view.__dict__, "promised": "8 July", "answered": "1 July"})
    reminder = ReminderView(**view.__dict__)
    assert [a.filename for a in form_attachments("request", view)] == [workbook_filename(view)]
    assert len(form_attachments("deferred_request", deferred)) == 1
    assert form_attachments("reminder", reminder) == ()
    assert form_attachments("request", _view(items=())) == ()


def _raw(view: RequestView, attach: bool = True) -> bytes:
    rendered = render("request", view)
    envelope = Envelope(
        from_header="Ashdown Performance Team <performance@ashdown.example>",
        to=KEVIN.email,
        to_name=KEVIN.name,
        reply_to=f"returns+{TOKEN}@returns.ashdown.example",
        message_id="<abc@returns.ashdown.example>",
    )
    attachments = form_attachments("request", view) if attach else ()
    return build_message(envelope, rendered, NOW, attachments=attachments)


def _body(part: Message) -> bytes:
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload


def test_the_request_message_carries_the_workbook_beside_its_text() -> None:
    view = _view()
    parts = list(email.message_from_bytes(_raw(view)).walk())
    assert [p.get_content_type() for p in parts] == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        f"application/{XLSX_SUBTYPE}",
    ]
    attachment = parts[-1]
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == "return-2026-04-kevin-walsh.xlsx"
    assert _body(attachment) == request_workbook(view)
    assert f"[MC-{TOKEN}]" in _body(parts[2]).decode()  # the text form is unchanged


def test_without_attachments_the_message_is_as_before() -> None:
    view = _view()
    parts = list(email.message_from_bytes(_raw(view, attach=False)).walk())
    assert [p.get_content_type() for p in parts] == [
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]


@pytest.mark.parametrize("count", [1, 60])
def test_size_and_speed_stay_small(count: int) -> None:
    items = tuple(
        item(f"X{n}.1", f"Item {n}", f"Group {n % 5}", figures=ItemFigures(low=Decimal(0)))
        for n in range(count)
    )
    data = request_workbook(_view(items=items))
    assert len(data) < 20_000
    _, sheet = _book(data)
    assert len(_rows_all(sheet)) == count


def _rows_all(sheet: Worksheet) -> list[str]:
    return [str(c.value) for c in sheet["A"][8:] if c.value]


# ------------------------------------------------------------ the same form as openpyxl's
#
# The parts are written as XML text (for speed: see the module docstring). Each view below
# is built both ways -- by ``request_workbook`` and by the openpyxl builder it replaced
# (``tests/compose/workbook_reference.py``) -- and what openpyxl reads back from the two must
# be the same, cell by cell; with openpyxl 3.1.5, whose output the module reproduces, the
# bytes must be the same too.

HOSTILE = (
    "=SUM(A1:A9)",
    "+44 1234",
    "-1 (a fall)",
    "@risk",
    "<b>\"Fish\" & chips</b> 'n' ]]>",
    "tab\tand\r\nline ends\n",
    "  spaced  ",
    "emoji \U0001f600, £, € and ü",
    "control \x01\x0b\x1f and \ufffe\uffff and \ud800 dropped",
    "\x7f\x85\xa0",
)


def _odd_items() -> tuple[FormItem, ...]:
    """Items with every kind of awkward text and figure."""
    items = [
        item(
            f"ODD{n}.1",
            text,
            f"Group {n % 3}",
            last_period=text,
            allowed=text,  # an attribute (the validation's prompt) as well as a cell
            target="" if n % 2 else text,
            figures=ItemFigures(
                last_period=Decimal("NaN") if n == 1 else None,
                same_period_last_year=Decimal("Infinity") if n == 2 else None,
                low=Decimal(n) if n % 3 else None,
                high=Decimal(n * 1000) if n % 3 != 1 else None,
            ),
        )
        for n, text in enumerate(HOSTILE)
    ]
    items += [
        item(
            "BIG.1",
            "Large, small and negative",
            "Figures",
            unit="£",
            figures=ItemFigures(
                last_period=Decimal("123456789012.345678"),
                same_period_last_year=Decimal("-0.000001"),
                target=Decimal("12.3456789"),
                target_unit="£",
                target_decimals=9,
                low=Decimal("-1E+3"),
                high=Decimal("1E+12"),
            ),
        ),
        item(
            "PCT.1",
            "Per cent, two places",
            "Figures",
            unit="%",
            figures=ItemFigures(
                last_period=Decimal("97.25"),
                same_period_last_year=Decimal("100"),
                target=Decimal("95"),
                target_unit="%",
                target_decimals=0,
                high=Decimal("100.0"),
            ),
        ),
        item("DAYS.1", "", "Figures", unit="days", figures=ItemFigures(low=Decimal(0))),
        item("", "No code", "Figures", unit=" £ ", last_period="£5"),
    ]
    return (*items, MILESTONE)


def _equivalence_views() -> dict[str, RequestView]:
    odd = "\r\n".join(HOSTILE)
    return {
        "usual": _view(),
        "delegate": _view(
            recipient=Person("Dee Puty", "dee@ashdown.example"), on_behalf_of=Person("", "k@x")
        ),
        "no figures": _view(items=(item("BV8a.1", "Invoices", "Finance", target="97%"),)),
        "milestones only": _view(items=(MILESTONE,)),
        "no items": _view(items=()),
        "a period we cannot read": _view(period_code="the usual", period_label="Avril £ 2026"),
        "no number formats of its own": _view(
            period_code="the usual", items=(item("A.1", "Plain", "Group", last_period="5"),)
        ),
        "nothing at all": _view(period_code="", period_label="", items=()),
        "a quarter": _view(period_code="2026/27 Q1", period_label="Q1 2026/27"),
        "before 1980": _view(period_code="1975-01", period_label="January 1975"),
        "odd text everywhere": _view(
            council=Council(f"Ashdown & {odd}", "p@x"),
            recipient=Person(odd, "x@y"),
            period_label=odd,
            token="<&>",
            due="",
            items=_odd_items(),
        ),
        "a cell over Excel's limit": _view(
            items=(item("LONG.1", "x" * 40_000 + "<", "Long", allowed="&" * 300),)
        ),
        "sixty items": _view(
            items=tuple(
                item(
                    f"X{n}.1",
                    f"Item {n}",
                    f"Group {n % 5}",
                    unit=("number", "%", "£", "days")[n % 4],
                    figures=ItemFigures(
                        last_period=Decimal(n) / 4, low=Decimal(0), high=Decimal(n + 1)
                    ),
                )
                for n in range(60)
            )
        ),
    }


EQUIVALENCE_VIEWS = _equivalence_views()


def _contents(data: bytes) -> dict[str, object]:
    """All that openpyxl reads from a form that a person or the reply reader could see."""
    book, sheet = _book(data)
    cells = {}
    for line in sheet.iter_rows(min_row=1, max_row=sheet.max_row, max_col=12):
        for cell in line:
            if not isinstance(cell, Cell):
                continue
            font, fill, border, align = cell.font, cell.fill, cell.border, cell.alignment
            cells[cell.coordinate] = (
                cell.value,
                cell.data_type,
                cell.number_format,
                cell.protection.locked,
                cell.protection.hidden,
                (font.b, font.sz, font.name),
                (fill.fill_type, fill.fgColor.rgb),
                tuple(
                    (side.style, side.color.rgb if side.color is not None else None)
                    for side in (border.left, border.right, border.top, border.bottom)
                ),
                (align.horizontal, align.vertical, align.wrap_text),
            )
    protection = sheet.protection
    validations = [
        (
            str(rule.sqref),
            rule.type,
            rule.operator,
            rule.formula1,
            rule.formula2,
            rule.allow_blank,
            rule.showErrorMessage,
            rule.showInputMessage,
            rule.errorTitle,
            rule.error,
            rule.promptTitle,
            rule.prompt,
        )
        for rule in sheet.data_validations.dataValidation
    ]
    props = book.properties
    return {
        "sheets": book.sheetnames,
        "names": {name: dn.attr_text for name, dn in book.defined_names.items()},
        "print titles": sheet.print_title_rows,
        "properties": (
            props.creator,
            props.lastModifiedBy,
            props.title,
            props.created,
            props.modified,
        ),
        "dimensions": sheet.dimensions,
        "cells": cells,
        "merged": sorted(str(r) for r in sheet.merged_cells.ranges),
        "widths": {k: d.width for k, d in sheet.column_dimensions.items()},
        "heights": {k: d.height for k, d in sheet.row_dimensions.items() if d.height},
        "freeze": sheet.freeze_panes,
        "page": (
            sheet.page_setup.orientation,
            sheet.page_setup.fitToWidth,
            sheet.page_setup.fitToHeight,
            getattr(sheet.sheet_properties.pageSetUpPr, "fitToPage", None),
        ),
        "protection": {
            key: getattr(protection, key)
            for key in (
                "sheet",
                "objects",
                "scenarios",
                "formatCells",
                "formatColumns",
                "formatRows",
                "insertColumns",
                "insertRows",
                "insertHyperlinks",
                "deleteColumns",
                "deleteRows",
                "selectLockedCells",
                "selectUnlockedCells",
                "sort",
                "autoFilter",
                "pivotTables",
                "password",
            )
        },
        "validations": validations,
    }


@pytest.mark.parametrize("name", list(EQUIVALENCE_VIEWS))
def test_openpyxl_reads_the_same_form_as_the_openpyxl_builder_wrote(name: str) -> None:
    view = EQUIVALENCE_VIEWS[name]
    data = request_workbook(view)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None  # every entry inflates to its CRC
    assert _contents(data) == _contents(reference_workbook(view))


@pytest.mark.skipif(
    openpyxl.__version__ != "3.1.5", reason="the parts are those openpyxl 3.1.5 wrote"
)
@pytest.mark.parametrize("name", list(EQUIVALENCE_VIEWS))
def test_the_bytes_are_the_openpyxl_builders(name: str) -> None:
    """Byte for byte, so a request queued before the change is reproduced from its view."""
    view = EQUIVALENCE_VIEWS[name]
    ours, theirs = request_workbook(view), reference_workbook(view)
    assert _parts(ours) == _parts(theirs)  # a readable difference first
    assert ours == theirs


def _parts(data: bytes) -> list[tuple[str, str]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [(info.filename, archive.read(info).decode()) for info in archive.infolist()]


def test_text_that_looks_like_a_formula_stays_text() -> None:
    items = tuple(item(f"F{n}.1", text, "Formulas") for n, text in enumerate(HOSTILE[:4]))
    _, sheet = _book(request_workbook(_view(items=items)))
    for row, text in enumerate(HOSTILE[:4], start=9):
        cell = sheet.cell(row, 2)
        assert (cell.value, cell.data_type) == (text, "s")
    with zipfile.ZipFile(io.BytesIO(request_workbook(_view(items=items)))) as archive:
        assert b"<f>" not in archive.read("xl/worksheets/sheet1.xml")


def test_characters_a_workbook_cannot_hold_are_dropped() -> None:
    _, sheet = _book(request_workbook(EQUIVALENCE_VIEWS["odd text everywhere"]))
    rows = {str(cell.value): cell.row for cell in sheet["A"][8:] if cell.value}
    assert sheet.cell(rows["ODD8.1"], 2).value == "control  and  and  dropped"
    assert sheet.cell(rows["ODD5.1"], 2).value == "tab\tand\r\nline ends\n"
    assert sheet.cell(rows["ODD6.1"], 2).value == "  spaced  "


_ANY_TEXT = st.text(
    st.characters(codec=None, exclude_categories=()) | st.sampled_from("=+-@&<>\"'\r\n\t "),
    max_size=12,
)
_FIGURE = st.none() | st.decimals(allow_nan=True, allow_infinity=True, places=None).filter(
    lambda d: not d.is_finite() or abs(d.adjusted()) < 12
)


@st.composite
def _any_item(draw: st.DrawFn, code: str) -> FormItem:
    if draw(st.booleans()):
        return item(code, draw(_ANY_TEXT), "G", kind="status", unit="s", last_period="on track")
    return item(
        code,
        draw(_ANY_TEXT),
        draw(_ANY_TEXT),
        unit=draw(st.sampled_from(["number", "%", "£", "days", " £ "]) | _ANY_TEXT),
        last_period=draw(_ANY_TEXT),
        target=draw(_ANY_TEXT),
        allowed=draw(_ANY_TEXT),
        figures=draw(
            st.none()
            | st.builds(
                ItemFigures,
                last_period=_FIGURE,
                same_period_last_year=_FIGURE,
                target=_FIGURE,
                target_unit=st.sampled_from(["%", "£", ""]),
                target_decimals=st.none() | st.integers(-2, 9),
                low=_FIGURE.filter(lambda d: d is None or d.is_finite()),
                high=_FIGURE.filter(lambda d: d is None or d.is_finite()),
            )
        ),
    )


@pytest.mark.skipif(
    openpyxl.__version__ != "3.1.5", reason="the parts are those openpyxl 3.1.5 wrote"
)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_view_gives_the_openpyxl_builders_bytes(data: st.DataObject) -> None:
    count = data.draw(st.integers(0, 6))
    items = tuple(data.draw(_any_item(f"C{n}.1")) for n in range(count))
    view = _view(
        items=items,
        council=Council(data.draw(_ANY_TEXT), "p@x"),
        recipient=Person(data.draw(_ANY_TEXT), "r@x"),
        due=data.draw(_ANY_TEXT),
        period_code=data.draw(st.sampled_from(["2026-04", "2026/27 Q1"]) | _ANY_TEXT),
        period_label=data.draw(_ANY_TEXT),
    )
    assert request_workbook(view) == reference_workbook(view)
