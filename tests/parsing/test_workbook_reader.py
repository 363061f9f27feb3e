"""Reading a spreadsheet attached to a reply (issue 16, part 3, the pure half).

The workbooks are real ones, made with openpyxl: our own form filled in the way a person
does (some cells blank, a number typed as text, a comment, a status from the list with its
date), one with a formula saved without its result (openpyxl writes formulas without cached
values: exactly what a program that does not calculate leaves), one with a formula's result
saved, and the files that are not ours or not safe: a foreign workbook, another request's
form, an ``.xlsm``, zip bombs, an ``.xls``, a ``.csv``, an ``.ods`` and damaged bytes.
"""

from __future__ import annotations

import io
import random
import re
import struct
import zipfile
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import Workbook, load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from mailcapture.compose.views import Council, ItemFigures, Person, RequestView
from mailcapture.compose.workbook import request_workbook
from mailcapture.parsing.values import MilestoneStatus, parse_status, parse_value
from mailcapture.parsing.workbook import (
    CellRef,
    SheetAnswer,
    WorkbookLimits,
    WorkbookReading,
    read_workbook,
    reference_key,
)
from tests.compose.samples import STATUSES, item

TOKEN = "abcdefghijklmnop"
NAME = "return-2026-04-kevin-walsh.xlsx"
TODAY = date(2026, 5, 6)
ITEMS = (
    item("BV8a.1", "Undisputed invoices paid within 30 days", "Finance", allowed="0 to 20,000"),
    item("BV8a.2", "All undisputed invoices", "Finance", allowed="0 to 20,000"),
    item("BV9.1", "Council tax collected", "Revenues", unit="£"),
    item("LCS1.1", "Residents satisfied", "Leisure", unit="%", figures=ItemFigures()),
    item(
        "P07.M0",
        "Leisure centre refurbishment - overall progress",
        "Leisure",
        kind="status",
        unit=STATUSES,
        indicator_code=None,
        indicator_title=None,
    ),
    item("WM1.1", "Household waste collected", "Waste", unit="tonnes"),
)
CODES = [i.code for i in ITEMS]
UNITS = {i.code: i.unit for i in ITEMS}
VIEW = RequestView(
    council=Council("Ashdown District Council", "performance@ashdown.example"),
    recipient=Person("Kevin Walsh", "kevin.walsh@ashdown.example"),
    period_code="2026-04",
    period_label="April 2026",
    token=TOKEN,
    due="Friday 15 May 2026, 5pm",
    items=ITEMS,
)
#: Where each code's row is in the form we send (header on row 8).
ROW = {code: 9 + n for n, code in enumerate(CODES)}


def _save(book: Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _filled(fill: Callable[[Worksheet], None], view: RequestView = VIEW) -> bytes:
    """Our form as sent, opened and filled in by ``fill``, saved again."""
    book = load_workbook(io.BytesIO(request_workbook(view)))
    fill(book["Return"])
    return _save(book)


def _read(data: bytes, name: str = NAME, **kw: object) -> WorkbookReading:
    options: dict[str, object] = {"reference": TOKEN, "codes": CODES}
    options.update(kw)
    return read_workbook(data, name, **options)  # type: ignore[arg-type]


def _by_code(reading: WorkbookReading) -> dict[str, SheetAnswer]:
    return {a.code: a for a in reading.answers}


def _as_a_person_does(sheet: Worksheet) -> None:
    sheet[f"H{ROW['BV8a.1']}"] = 1452  # a number
    sheet[f"J{ROW['BV8a.1']}"] = "Two invoices disputed late.\nChecked with AP."
    sheet[f"H{ROW['BV8a.2']}"] = "1,530"  # a number typed as text
    # BV9.1 left blank
    sheet[f"J{ROW['LCS1.1']}"] = "Survey results due next month"  # a comment, no answer
    sheet[f"H{ROW['P07.M0']}"] = "complete"
    sheet[f"I{ROW['P07.M0']}"] = date(2026, 4, 28)
    sheet[f"H{ROW['WM1.1']}"] = 2301.75


def test_our_form_filled_as_a_person_does() -> None:
    reading = _read(_filled(_as_a_person_does))
    assert reading.verdict == "ours" and reading.ours
    assert reading.reason is None
    assert reading.matched_by == "reference"
    assert reading.sheet == "Return"
    assert reading.unknown_codes == ()
    assert [a.code for a in reading.answers] == ["BV8a.1", "BV8a.2", "LCS1.1", "P07.M0", "WM1.1"]
    found = _by_code(reading)
    assert found["BV8a.1"] == SheetAnswer(
        code="BV8a.1",
        answer="1452",
        comment="Two invoices disputed late.\nChecked with AP.",
        answer_cell=CellRef(NAME, "Return", f"H{ROW['BV8a.1']}"),
        comment_cell=CellRef(NAME, "Return", f"J{ROW['BV8a.1']}"),
    )
    assert found["BV8a.2"].answer == "1,530"
    assert found["BV8a.2"].comment is None and found["BV8a.2"].comment_cell is None
    assert found["LCS1.1"].answer is None
    assert found["LCS1.1"].comment == "Survey results due next month"
    assert found["P07.M0"].answer == "complete 28/04/2026"
    assert found["P07.M0"].date_cell == CellRef(NAME, "Return", f"I{ROW['P07.M0']}")
    assert found["WM1.1"].answer == "2301.75"
    assert "BV9.1" not in found  # blank: nothing to say about it
    assert str(found["BV8a.1"].answer_cell) == f"{NAME}, Return!H{ROW['BV8a.1']}"
    assert found["BV8a.1"].answer_cell.where == f"Return!H{ROW['BV8a.1']}"


def test_the_answers_read_through_the_answer_grammar() -> None:
    found = _by_code(_read(_filled(_as_a_person_does)))
    for code in ("BV8a.1", "BV8a.2", "WM1.1"):
        answer = found[code].answer
        assert answer is not None
        parsed = parse_value(answer, UNITS[code], TODAY)
        assert parsed.reason is None, parsed
    assert parse_value("1,530", "number", TODAY).value == Decimal(1530)
    status_answer = found["P07.M0"].answer
    assert status_answer is not None
    status = parse_status(status_answer, TODAY)
    assert (status.status, status.completed_on) == (MilestoneStatus.COMPLETE, date(2026, 4, 28))


def test_excels_percent_format_is_read_as_the_figure_shown() -> None:
    def fill(sheet: Worksheet) -> None:
        cell = sheet[f"H{ROW['LCS1.1']}"]
        cell.value = 0.815  # typed "81.5%" in a cell Excel then formats as a percentage
        cell.number_format = "0.0%"
        sheet[f"H{ROW['BV8a.1']}"] = 81.5  # our own format's "%" is only text: 81.5 is 81.5

    found = _by_code(_read(_filled(fill)))
    assert found["LCS1.1"].answer == "81.5%"
    assert parse_value("81.5%", "%", TODAY).value == Decimal("81.5")
    assert found["BV8a.1"].answer == "81.5"


def test_a_formula_without_a_saved_result_is_refused_not_evaluated() -> None:
    def fill(sheet: Worksheet) -> None:
        _as_a_person_does(sheet)
        sheet[f"H{ROW['BV9.1']}"] = "=1000+234"  # openpyxl saves no result: none to read

    reading = _read(_filled(fill))
    assert reading.verdict == "ours"
    tax = _by_code(reading)["BV9.1"]
    assert tax.answer is None
    assert tax.refused is not None
    assert "formula (=1000+234) with no saved result" in tax.refused
    assert tax.answer_cell.where == f"Return!H{ROW['BV9.1']}"
    assert _by_code(reading)["BV8a.1"].answer == "1452"  # nothing else is lost


def _with_cached_value(data: bytes, cell: str, value: str, kind: str = "n") -> bytes:
    """Put a saved result after ``cell``'s formula, as Excel writes it (``kind`` "e": an
    error value)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                text = body.decode()
                pattern = rf'(<c r="{cell}"[^>]*)>(<f>[^<]*</f>)(<v\s*/>|<v></v>)?'
                text, count = re.subn(pattern, rf'\1 t="{kind}">\2<v>{value}</v>', text)
                assert count == 1, text[:2000]
                body = text.encode()
            target.writestr(info, body)
    return out.getvalue()


def test_a_formulas_saved_result_is_read() -> None:
    def fill(sheet: Worksheet) -> None:
        sheet[f"H{ROW['BV9.1']}"] = "=1000+234"
        sheet[f"H{ROW['WM1.1']}"] = "=0.1+0.2"
        sheet[f"H{ROW['BV8a.1']}"] = "=1/0"

    data = _filled(fill)
    data = _with_cached_value(data, f"H{ROW['BV9.1']}", "1234")
    data = _with_cached_value(data, f"H{ROW['WM1.1']}", "0.30000000000000004")
    data = _with_cached_value(data, f"H{ROW['BV8a.1']}", "#DIV/0!", kind="e")
    found = _by_code(_read(data))
    assert found["BV9.1"].answer == "1234"
    assert found["BV9.1"].refused is None
    assert found["WM1.1"].answer == "0.3"  # the 15 digits Excel shows
    assert found["BV8a.1"].answer is None
    assert found["BV8a.1"].refused == "the cell shows the error #DIV/0!"


def test_error_and_true_false_cells_are_refused_with_the_reason() -> None:
    def fill(sheet: Worksheet) -> None:
        sheet[f"H{ROW['BV8a.1']}"] = "#N/A"  # openpyxl stores this as an error value
        sheet[f"H{ROW['BV8a.2']}"] = True

    found = _by_code(_read(_filled(fill)))
    assert found["BV8a.1"].refused == "the cell shows the error #N/A"
    assert found["BV8a.2"].refused == "a TRUE/FALSE cell is neither a figure nor a status"


def test_the_reference_matches_in_any_spelling() -> None:
    data = _filled(_as_a_person_does)
    for spelling in (TOKEN, f"MC-{TOKEN}", f"[MC-{TOKEN.upper()}]"):
        assert _read(data, reference=spelling).matched_by == "reference"
    assert reference_key(f" [mc-{TOKEN}] ") == TOKEN


def test_another_requests_form_is_not_read() -> None:
    data = _filled(_as_a_person_does)
    reading = _read(data, reference="zzzzzzzzzzzzzzzz")
    assert reading.verdict == "foreign"
    assert reading.answers == ()
    assert reading.reason is not None
    assert f"another request (reference MC-{TOKEN})" in reading.reason
    assert "\n" not in reading.reason


def test_codes_alone_recognise_our_form_without_its_reference_cell() -> None:
    """Another program dropped the named cell; every code is this request's: ours."""
    book = load_workbook(io.BytesIO(_filled(_as_a_person_does)))
    del book.defined_names["mailcapture_reference"]
    reading = _read(_save(book))
    assert reading.verdict == "ours"
    assert reading.matched_by == "codes"
    assert _by_code(reading)["BV8a.2"].answer == "1,530"


def test_a_sheet_of_someone_elses_codes_is_foreign() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Code", "Answer", "Comment"])
    sheet.append(["BV8a.1", 1452, None])
    sheet.append(["HR07.1", 12, "not on this request"])
    reading = _read(_save(book), name="figures.xlsx")
    assert reading.verdict == "foreign"
    assert reading.reason is not None and "not our form for this request" in reading.reason

    # Our own form (by reference) with a stray code: the code is named and ignored.
    def stray(sheet: Worksheet) -> None:
        sheet.cell(30, 1, "HR07.1")
        sheet.cell(30, 8, 12)

    data = _filled(stray)
    ours = _read(data)
    assert ours.verdict == "ours" and ours.unknown_codes == ("HR07.1",)


def test_a_foreign_workbook_is_not_guessed_at() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Budget"
    sheet.append(["Service", "2025/26", "2026/27"])
    sheet.append(["Finance", 1_200_000, 1_250_000])
    sheet.append(["BV8a.1", 1452, 1500])
    reading = _read(_save(book), name="budget.xlsx")
    assert reading == WorkbookReading(
        "budget.xlsx",
        "foreign",
        "budget.xlsx is not our form for this request; send the figures by replying to the "
        "request email, or attach the form it came with",
    )


def _replace_in_zip(data: bytes, name: str, old: bytes, new: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = source.read(info.filename)
            if info.filename == name:
                assert old in body
                body = body.replace(old, new)
            target.writestr(info, body)
    return out.getvalue()


def test_a_macro_enabled_workbook_is_refused_by_its_content_not_only_its_name() -> None:
    data = _filled(_as_a_person_does)
    by_name = _read(data, name="return.xlsm")
    assert by_name.verdict == "refused"
    assert by_name.reason is not None and "macro-enabled" in by_name.reason
    disguised = _replace_in_zip(
        data,
        "[Content_Types].xml",
        b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    )
    reading = _read(disguised, name="return.xlsx")
    assert reading.verdict == "refused"
    assert reading.answers == ()
    assert reading.reason is not None and "macro-enabled" in reading.reason
    by_type = _read(data, content_type="application/vnd.ms-excel.sheet.macroEnabled.12")
    assert by_type.verdict == "refused"
    with_vba = io.BytesIO(data)
    with zipfile.ZipFile(with_vba, "a") as archive:
        archive.writestr("xl/vbaProject.bin", b"\x00" * 64)
    assert _read(with_vba.getvalue()).verdict == "refused"


def _bomb(size: int, entries: int = 1) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        for n in range(entries):
            archive.writestr(f"xl/worksheets/sheet{n + 1}.xml", b"\0" * size)
    return out.getvalue()


def test_zip_bombs_are_refused_before_anything_is_inflated() -> None:
    big = _bomb(30 * 1024 * 1024)  # 30 MB of zeros: about 30 KB on the wire
    assert len(big) < 100_000
    reading = _read(big)
    assert reading.verdict == "refused"
    assert reading.reason is not None and "zip bomb" in reading.reason
    # Under the total, but compressed far beyond any workbook.
    dense = _read(_bomb(4 * 1024 * 1024))
    assert dense.verdict == "refused"
    assert dense.reason is not None and "compressed" in dense.reason
    many = _read(_bomb(10, entries=600))
    assert many.verdict == "refused"
    assert many.reason is not None and "601 files" in many.reason


def test_a_zip_that_lies_about_its_sizes_is_refused_as_damaged() -> None:
    data = bytearray(_bomb(2 * 1024 * 1024))
    # Declare 100 bytes for the big entry in its local header and the central directory.
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (found := data.find(signature, start)) != -1:
            (size,) = struct.unpack_from("<I", data, found + offset)
            if size == 2 * 1024 * 1024:
                struct.pack_into("<I", data, found + offset, 100)
            start = found + 4
    reading = _read(bytes(data))
    assert reading.verdict in {"refused", "foreign"}


def test_too_many_cells_are_refused() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in range(1, 41):
        sheet.append([f"r{row}c{c}" for c in range(1, 11)])
    reading = _read(_save(book), name="big.xlsx", limits=WorkbookLimits(max_cells=300))
    assert reading.verdict == "refused"
    assert reading.reason is not None and "300 filled cells" in reading.reason
    too_big = _read(_filled(_as_a_person_does), limits=WorkbookLimits(max_bytes=1000))
    assert too_big.verdict == "refused"


def _ods() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", b"application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", b"<office:document-content/>")
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("return.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "Excel 97-2003"),
        ("return.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "password-protected"),
        ("figures.csv", b"Code,Answer\nBV8a.1,1452\n", "CSV"),
        ("figures.ods", _ods(), "OpenDocument"),
        ("figures.xlsx", _ods(), "OpenDocument"),
        ("notes.xlsx", b"BV8a.1: 1452\n", "not an Excel workbook"),
    ],
)
def test_other_kinds_of_file_are_foreign_with_one_line_saying_what(
    name: str, data: bytes, says: str
) -> None:
    reading = _read(data, name=name)
    assert reading.verdict == "foreign"
    assert reading.answers == ()
    assert reading.reason is not None
    assert says in reading.reason and name in reading.reason
    assert "\n" not in reading.reason


def test_total_over_damaged_bytes() -> None:
    """Truncated and corrupted copies of a real form: a reading every time, never an error."""
    data = _filled(_as_a_person_does)
    rng = random.Random(16)
    samples = [data[:cut] for cut in range(0, len(data), max(1, len(data) // 40))]
    for _ in range(40):
        spoilt = bytearray(data)
        for _ in range(rng.randint(1, 20)):
            spoilt[rng.randrange(len(spoilt))] = rng.randrange(256)
        samples.append(bytes(spoilt))
    for sample in samples:
        reading = read_workbook(sample, NAME, reference=TOKEN, codes=CODES)
        assert reading.verdict in {"ours", "foreign", "refused"}
        if reading.verdict != "ours":
            assert reading.reason and "\n" not in reading.reason


def test_a_date_in_an_answer_cell_is_written_day_first() -> None:
    def fill(sheet: Worksheet) -> None:
        sheet[f"H{ROW['P07.M0']}"] = datetime(2026, 4, 3)

    found = _by_code(_read(_filled(fill)))
    assert found["P07.M0"].answer == "03/04/2026"


def test_the_reader_and_the_form_agree_on_the_names() -> None:
    from mailcapture.compose import workbook as form
    from mailcapture.parsing import workbook as reader

    assert reader.REFERENCE_NAME == form.REFERENCE_NAME
    assert form.CODE_HEADER.casefold() in reader._CODE_HEADERS
    assert form.ANSWER_HEADER.casefold() in reader._ANSWER_HEADERS
    assert form.COMMENT_HEADER.casefold() in reader._COMMENT_HEADERS
    assert form.COMPLETED_HEADER.casefold() in reader._COMPLETED_HEADERS
