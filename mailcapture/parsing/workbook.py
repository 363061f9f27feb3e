"""Read the answers out of a spreadsheet attached to a reply: our own ``.xlsx`` form only.

Pure: bytes, a file name and what the request expects go in, a :class:`WorkbookReading` comes
out; no database, no clock. Total: whatever the bytes are, it returns (a damaged or hostile
file is a ``refused`` reading with the reason), never raises.

What it decides (issue 16, part 3):

* **Our own form** (``verdict == "ours"``): the cell named ``mailcapture_reference`` holds
  the request's reference (``MC-<token>``, matched ignoring case, brackets and the ``MC-``),
  or, where the sheet has no such cell, the codes listed under its ``Code`` header are all
  items of this request (at least one). A reference naming *another* request (last month's
  form, a colleague's) is not ours, whatever its codes: its figures were asked for something
  else. Each row with an Answer or Comment becomes a :class:`SheetAnswer`.
* **Anything else** is ``foreign``, with a one-line ``reason``, and nothing is guessed from
  it: another workbook, an ``.xls`` (or any OLE file: an encrypted workbook is one too), a
  ``.csv``, an ``.ods``, an ``.xlsb``, a template, a file that is not a spreadsheet.
* **Refused** (``verdict == "refused"``, with the reason): a macro-enabled file -- ``.xlsm`` by
  its name, the MIME type it came with, its ``[Content_Types].xml`` or a ``vbaProject.bin``
  inside, whichever says so -- is never opened; a zip bomb (more entries, more declared
  uncompressed bytes, or a higher compression ratio than :class:`WorkbookLimits` allows,
  checked from the zip's directory before anything is inflated); a file over the size limit;
  a sheet with more cells than the cell limit; a damaged file. The zip module stops at an
  entry's declared size, so a directory that lies about sizes cannot inflate more than it
  declared (the entry then fails its check and the file is refused as damaged).

The answer text is what the reply grammar would read if the person had typed it
(:func:`mailcapture.parsing.values.parse_value` / ``parse_status`` take it as it is):

* text as typed, white space collapsed to single spaces (a number typed as text stays
  exactly as typed: ``"1,234"``);
* a number cell as its digits: an integer plainly (``1234``), a fraction to the 15
  significant digits Excel shows (a formula's ``0.1+0.2`` is ``0.3``, not
  ``0.30000000000000004``); in a cell with Excel's percent format, whose stored value is the
  fraction (``0.975`` shown as ``97.5%``), the figure shown: ``97.5%``;
* a date cell as ``dd/mm/yyyy`` (day first, as :func:`parse_uk_date` reads it); a milestone's
  Completed on date is put after its status (``complete 03/05/2026``);
* a formula: its cached value, read as above; a formula with no cached value (the file was
  written by a program that does not calculate) is *refused* with the reason, never
  evaluated; so is an error value (``#DIV/0!``) and a TRUE/FALSE cell.

Each answer carries where it came from: file name, sheet and cell (``Return!H9``).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

__all__ = [
    "DEFAULT_LIMITS",
    "REFERENCE_NAME",
    "CellRef",
    "SheetAnswer",
    "WorkbookLimits",
    "WorkbookReading",
    "read_workbook",
    "reference_key",
]

#: The defined name of our form's reference cell (:mod:`mailcapture.compose.workbook`).
REFERENCE_NAME = "mailcapture_reference"

Verdict = Literal["ours", "foreign", "refused"]

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC = b"PK\x03\x04"
_XLSX_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
_TEMPLATE_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml"
_ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
_HEADER_SCAN_ROWS = 50
_CODE_HEADERS = {"code", "item code"}
_ANSWER_HEADERS = {"answer", "your answer", "value", "figure"}
_COMMENT_HEADERS = {"comment", "comments", "commentary"}
_COMPLETED_HEADERS = {"completed on", "completion date", "date completed"}
_SPACES = re.compile(r"\s+")
#: An Excel number format's quoted text and escaped characters, which print as themselves.
_FORMAT_LITERALS = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]')
_FOREIGN_HELP = "send the figures by replying to the request email, or attach the form it came with"


@dataclass(frozen=True)
class WorkbookLimits:
    """How much of an attachment is read at all; past any of these it is refused."""

    #: The attachment's own size.
    max_bytes: int = 5 * 1024 * 1024
    #: Entries in the zip, and their declared uncompressed size together.
    max_entries: int = 500
    max_uncompressed: int = 25 * 1024 * 1024
    #: Uncompressed over compressed size, for an entry of more than ``ratio_floor`` bytes.
    max_ratio: int = 200
    ratio_floor: int = 1024 * 1024
    #: Non-empty cells read, over all sheets looked at.
    max_cells: int = 20_000
    #: The part of a sheet looked at: our form is far inside it.
    max_rows: int = 2_000
    max_columns: int = 30
    max_sheets: int = 10


DEFAULT_LIMITS = WorkbookLimits()


@dataclass(frozen=True)
class CellRef:
    """Where a value came from: ``str()`` is ``return-2026-04-kevin-walsh.xlsx, Return!H9``."""

    filename: str
    sheet: str
    cell: str

    @property
    def where(self) -> str:
        """``Return!H9``; a sheet name with spaces or quotes is quoted as Excel does."""
        sheet = self.sheet
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", sheet):
            sheet = "'" + sheet.replace("'", "''") + "'"
        return f"{sheet}!{self.cell}"

    def __str__(self) -> str:
        return f"{self.filename}, {self.where}"


@dataclass(frozen=True)
class SheetAnswer:
    """One row of our form with something in it.

    ``code`` is spelt as the request spells it (matched ignoring case). ``answer`` is the
    text for the answer grammar, or None when the Answer cell was empty or ``refused`` (then
    ``refused`` says why, for the confirmation). ``comment`` is the Comment cell's text, or
    None; ``comment_refused`` says why a Comment cell could not be read. ``date_cell`` is the
    Completed on cell when its date was added to the answer.
    """

    code: str
    answer: str | None
    comment: str | None
    answer_cell: CellRef
    comment_cell: CellRef | None = None
    date_cell: CellRef | None = None
    refused: str | None = None
    comment_refused: str | None = None


@dataclass(frozen=True)
class WorkbookReading:
    """What an attachment turned out to be, and for our own form, what it says.

    ``reason`` is one line for the confirmation when ``verdict`` is ``foreign`` or
    ``refused`` (and None for ``ours``). ``matched_by`` says how the form was recognised.
    ``unknown_codes`` are codes in our form that are not this request's items (ignored).
    A code may appear in two rows; both are returned, in sheet order, for the caller to
    treat as any answer given twice.
    """

    filename: str
    verdict: Verdict
    reason: str | None = None
    matched_by: Literal["reference", "codes"] | None = None
    sheet: str | None = None
    answers: tuple[SheetAnswer, ...] = ()
    unknown_codes: tuple[str, ...] = ()

    @property
    def ours(self) -> bool:
        return self.verdict == "ours"


def reference_key(reference: str) -> str:
    """A reference as compared: ``[MC-abc]``, ``MC-ABC`` and ``abc`` are the same."""
    text = _SPACES.sub("", reference).strip("[]").casefold()
    return text[3:] if text.startswith("mc-") else text


def read_workbook(
    data: bytes,
    filename: str,
    *,
    reference: str | None,
    codes: Collection[str],
    content_type: str | None = None,
    limits: WorkbookLimits = DEFAULT_LIMITS,
) -> WorkbookReading:
    """Read ``data`` (an attachment named ``filename``) against one request.

    ``reference`` is the request's token or its printed reference (``MC-<token>``);
    ``codes`` its item codes; ``content_type`` the MIME type the attachment came with, if
    known. See the module docstring for what is ours, foreign or refused. Never raises.
    """
    name = filename or "the attachment"
    try:
        return _Reader(data, name, reference, codes, content_type, limits).read()
    except _Stop as stop:
        return WorkbookReading(name, stop.verdict, stop.reason)
    except Exception as exc:  # total over hostile bytes: any failure refuses
        return WorkbookReading(
            name,
            "refused",
            f"{name} could not be read as a workbook: it is damaged or not what its name "
            f"says ({type(exc).__name__})",
        )


class _Stop(Exception):
    def __init__(self, verdict: Verdict, reason: str) -> None:
        super().__init__(reason)
        self.verdict = verdict
        self.reason = reason


def _foreign(reason: str) -> _Stop:
    return _Stop("foreign", f"{reason}; {_FOREIGN_HELP}")


@dataclass
class _Cell:
    value: Any
    data_type: str
    number_format: str


@dataclass
class _Sheet:
    title: str
    cells: dict[tuple[int, int], _Cell] = field(default_factory=dict)

    def get(self, row: int, column: int) -> _Cell | None:
        return self.cells.get((row, column))


@dataclass
class _Layout:
    header_row: int
    code: int
    answer: int
    comment: int | None
    completed: int | None


class _Reader:
    def __init__(
        self,
        data: bytes,
        name: str,
        reference: str | None,
        codes: Collection[str],
        content_type: str | None,
        limits: WorkbookLimits,
    ) -> None:
        self.data = data
        self.name = name
        self.reference = reference_key(reference) if reference else None
        self.codes = {code.strip().casefold(): code for code in codes if code.strip()}
        self.content_type = (content_type or "").strip().casefold()
        self.limits = limits
        self.cells_read = 0

    # ---- before anything is opened --------------------------------------------------
    def read(self) -> WorkbookReading:
        self.check_outside()
        archive = self.check_zip()
        self.check_content_types(archive)
        return self.read_book()

    def check_outside(self) -> None:
        lower = self.name.casefold().strip()
        ext = lower.rsplit(".", 1)[-1] if "." in lower else ""
        if ext in {"xlsm", "xltm", "xlam"} or "macroenabled" in self.content_type:
            raise _Stop(
                "refused",
                f"{self.name} is a macro-enabled workbook: we never open a file that can run "
                "code; save it as an Excel Workbook (.xlsx) and send it again",
            )
        if len(self.data) > self.limits.max_bytes:
            raise _Stop(
                "refused",
                f"{self.name} is larger than the {_size(self.limits.max_bytes)} we read "
                "from a spreadsheet attachment",
            )
        if self.data.startswith(_OLE_MAGIC):
            what = (
                "an Excel 97-2003 workbook (.xls)"
                if ext == "xls"
                else "an old-format Office file or a password-protected workbook"
            )
            raise _foreign(f"{self.name} is {what}, not our .xlsx form")
        if ext == "csv":
            raise _foreign(f"{self.name} is a CSV file, not our .xlsx form")
        if ext in {"ods", "ots"}:
            raise _foreign(f"{self.name} is an OpenDocument spreadsheet, not our .xlsx form")
        if ext == "xls":
            raise _foreign(f"{self.name} is an Excel 97-2003 workbook (.xls), not our .xlsx form")
        if ext == "xlsb":
            raise _foreign(f"{self.name} is an Excel binary workbook (.xlsb), not our .xlsx form")
        if not self.data.startswith(_ZIP_MAGIC):
            raise _foreign(f"{self.name} is not an Excel workbook (.xlsx)")

    def check_zip(self) -> zipfile.ZipFile:
        try:
            archive = zipfile.ZipFile(io.BytesIO(self.data))
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError) as exc:
            raise _Stop(
                "refused", f"{self.name} is damaged: it is not a readable .xlsx file"
            ) from exc
        entries = archive.infolist()
        limits = self.limits
        if len(entries) > limits.max_entries:
            raise _Stop(
                "refused",
                f"{self.name} holds {len(entries):,} files inside, more than the "
                f"{limits.max_entries:,} a workbook needs (a zip bomb?)",
            )
        total = sum(max(0, e.file_size) for e in entries)
        if total > limits.max_uncompressed:
            raise _Stop(
                "refused",
                f"{self.name} would unpack to {_size(total)}, more than the "
                f"{_size(limits.max_uncompressed)} we read (a zip bomb?)",
            )
        for entry in entries:
            ratio = entry.file_size / max(entry.compress_size, 1)
            if entry.file_size > limits.ratio_floor and ratio > limits.max_ratio:
                raise _Stop(
                    "refused",
                    f"{self.name} is compressed {ratio:,.0f} to 1 inside, far more than any "
                    "workbook (a zip bomb?)",
                )
            if entry.filename.casefold().rsplit("/", 1)[-1] == "vbaproject.bin":
                raise _Stop(
                    "refused",
                    f"{self.name} carries macros: we never open a file that can run code; "
                    "save it as an Excel Workbook (.xlsx) and send it again",
                )
        return archive

    def check_content_types(self, archive: zipfile.ZipFile) -> None:
        names = set(archive.namelist())
        if "mimetype" in names and archive.read("mimetype").strip() == _ODS_MIMETYPE:
            raise _foreign(f"{self.name} is an OpenDocument spreadsheet, not our .xlsx form")
        if "[Content_Types].xml" not in names:
            raise _foreign(f"{self.name} is a zip file, not an Excel workbook (.xlsx)")
        types = archive.read("[Content_Types].xml").decode("utf-8", "replace")
        if "macroenabled" in types.casefold():
            raise _Stop(
                "refused",
                f"{self.name} is a macro-enabled workbook: we never open a file that can run "
                "code; save it as an Excel Workbook (.xlsx) and send it again",
            )
        if _XLSX_MAIN not in types:
            what = (
                "an Excel template"
                if _TEMPLATE_MAIN in types
                else "not an Excel workbook (another Office document?)"
            )
            raise _foreign(f"{self.name} is {what}, not our .xlsx form")

    # ---- the workbook ---------------------------------------------------------------
    def read_book(self) -> WorkbookReading:
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(self.data), read_only=True, keep_links=False)
        try:
            target = self.reference_target(book)
            sheets: list[_Sheet] = []
            if target is not None and target[0] in book.sheetnames:
                sheets.append(self.scan(book[target[0]]))
            else:
                for title in book.sheetnames[: self.limits.max_sheets]:
                    sheets.append(self.scan(book[title]))
        finally:
            book.close()
        found_reference: str | None = None
        if target is not None:
            title, at = target
            for sheet in sheets:
                cell = sheet.get(*at) if sheet.title == title else None
                if cell is not None:
                    value = self.cached(sheet, at, cell)
                    found_reference = None if value is None else str(value).strip()
        for sheet in sheets:
            layout = _layout(sheet)
            if layout is not None:
                return self.read_form(sheet, layout, found_reference)
        if (
            found_reference is not None
            and self.reference is not None
            and reference_key(found_reference) == self.reference
        ):
            raise _Stop(
                "refused",
                f"{self.name} is our form for this request, but its Code and Answer "
                "columns could not be found; please use the form as it was sent",
            )
        raise _foreign(f"{self.name} is not our form for this request")

    def reference_target(self, book: Any) -> tuple[str, tuple[int, int]] | None:
        from openpyxl.utils.cell import coordinate_to_tuple

        defined = book.defined_names.get(REFERENCE_NAME)
        if defined is None:
            return None
        for title, coordinate in defined.destinations:
            text = str(coordinate).replace("$", "")
            if ":" in text:
                text = text.split(":", 1)[0]
            row, column = coordinate_to_tuple(text)
            return str(title), (row, column)
        return None

    def scan(self, worksheet: Any) -> _Sheet:
        """The non-empty cells of the part of ``worksheet`` we look at, counted."""
        sheet = _Sheet(str(worksheet.title))
        limits = self.limits
        rows: Iterator[Any] = worksheet.iter_rows(
            min_row=1, max_row=limits.max_rows, min_col=1, max_col=limits.max_columns
        )
        for row in rows:
            for cell in row:
                value = getattr(cell, "value", None)
                if value is None or (isinstance(value, str) and not value.strip()):
                    continue
                self.cells_read += 1
                if self.cells_read > limits.max_cells:
                    raise _Stop(
                        "refused",
                        f"{self.name} has more than {limits.max_cells:,} filled cells; our "
                        "form has far fewer",
                    )
                sheet.cells[(cell.row, cell.column)] = _Cell(
                    value, str(cell.data_type), str(cell.number_format or "General")
                )
        return sheet

    # ---- formulas: the cached values, loaded once when first needed -------------------
    _cached_book: dict[str, dict[tuple[int, int], Any]] | None = None

    def cached(self, sheet: _Sheet, at: tuple[int, int], cell: _Cell) -> Any:
        """The cell's value; for a formula, the value the file saved for it (or None)."""
        if cell.data_type != "f":
            return cell.value
        if self._cached_book is None:
            self._cached_book = self.load_cached()
        return self._cached_book.get(sheet.title, {}).get(at)

    def load_cached(self) -> dict[str, dict[tuple[int, int], Any]]:
        from openpyxl import load_workbook

        book = load_workbook(
            io.BytesIO(self.data), read_only=True, data_only=True, keep_links=False
        )
        found: dict[str, dict[tuple[int, int], Any]] = {}
        limits = self.limits
        count = 0
        try:
            for title in book.sheetnames[: limits.max_sheets]:
                values = found.setdefault(title, {})
                for row in book[title].iter_rows(
                    min_row=1, max_row=limits.max_rows, min_col=1, max_col=limits.max_columns
                ):
                    for cell in row:
                        value = getattr(cell, "value", None)
                        if value is None:
                            continue
                        count += 1
                        if count > limits.max_cells:
                            raise _Stop(
                                "refused",
                                f"{self.name} has more than {limits.max_cells:,} filled cells",
                            )
                        values[(cell.row or 0, cell.column or 0)] = value
        finally:
            book.close()
        return found

    # ---- our form ---------------------------------------------------------------------
    def read_form(
        self, sheet: _Sheet, layout: _Layout, found_reference: str | None
    ) -> WorkbookReading:
        rows: list[tuple[int, str]] = []
        for (row, column), cell in sorted(sheet.cells.items()):
            if column != layout.code or row <= layout.header_row:
                continue
            code = self.cached(sheet, (row, column), cell)
            text = _code_text(code)
            if text:
                rows.append((row, text))
        known = [(row, code) for row, code in rows if code.casefold() in self.codes]
        unknown = tuple(
            dict.fromkeys(code for _, code in rows if code.casefold() not in self.codes)
        )
        matched_by: Literal["reference", "codes"]
        if found_reference is not None and self.reference is not None:
            if reference_key(found_reference) != self.reference:
                raise _foreign(
                    f"{self.name} is the form for another request (reference "
                    f"{found_reference[:40]}), not this one"
                )
            matched_by = "reference"
        elif known and not unknown:
            matched_by = "codes"
        else:
            raise _foreign(
                f"{self.name} is not our form for this request: its codes are not this "
                "request's items"
            )
        answers = [
            self.row_answer(sheet, layout, row, self.codes[code.casefold()]) for row, code in known
        ]
        return WorkbookReading(
            self.name,
            "ours",
            matched_by=matched_by,
            sheet=sheet.title,
            answers=tuple(a for a in answers if a is not None),
            unknown_codes=unknown,
        )

    def row_answer(self, sheet: _Sheet, layout: _Layout, row: int, code: str) -> SheetAnswer | None:
        def ref(column: int) -> CellRef:
            from openpyxl.utils import get_column_letter

            return CellRef(self.name, sheet.title, f"{get_column_letter(column)}{row}")

        answer, refused = self.cell_text(sheet, row, layout.answer, "answer")
        date_cell: CellRef | None = None
        if layout.completed is not None and refused is None:
            when, when_refused = self.cell_text(sheet, row, layout.completed, "date")
            if when_refused is not None:
                refused = f"Completed on: {when_refused}"
                answer = None
            elif when:
                answer = f"{answer} {when}" if answer else when
                date_cell = ref(layout.completed)
        comment: str | None = None
        comment_refused: str | None = None
        if layout.comment is not None:
            comment, comment_refused = self.cell_text(sheet, row, layout.comment, "comment")
        if answer is None and refused is None and comment is None and comment_refused is None:
            return None
        return SheetAnswer(
            code=code,
            answer=answer,
            comment=comment,
            answer_cell=ref(layout.answer),
            comment_cell=ref(layout.comment)
            if layout.comment is not None and (comment is not None or comment_refused is not None)
            else None,
            date_cell=date_cell,
            refused=refused,
            comment_refused=comment_refused,
        )

    def cell_text(
        self, sheet: _Sheet, row: int, column: int, role: str
    ) -> tuple[str | None, str | None]:
        """(text, None), (None, None) for an empty cell, or (None, why it was refused)."""
        cell = sheet.get(row, column)
        if cell is None:
            return None, None
        value = self.cached(sheet, (row, column), cell)
        error = cell.data_type == "e"
        if cell.data_type == "f":
            formula = str(cell.value)[:60]
            if value is None:
                return None, (
                    f"the cell holds a formula ({formula}) with no saved result: the file was "
                    "saved by a program that does not calculate; type the figure instead"
                )
            error = isinstance(value, str) and value.strip().upper() in _ERRORS
        if error:
            return None, f"the cell shows the error {str(value).strip()[:20]}"
        return _as_text(value, cell.number_format, comment=role == "comment")


# ---------------------------------------------------------------------------- helpers


def _layout(sheet: _Sheet) -> _Layout | None:
    """The header row (``Code`` and ``Answer`` columns) within the sheet's first rows."""
    by_row: dict[int, dict[str, int]] = {}
    for (row, column), cell in sorted(sheet.cells.items()):
        if row > _HEADER_SCAN_ROWS or not isinstance(cell.value, str) or cell.data_type == "f":
            continue
        name = _SPACES.sub(" ", cell.value).strip().casefold()
        by_row.setdefault(row, {}).setdefault(name, column)
    for row, names in sorted(by_row.items()):
        code, answer = _first(names, _CODE_HEADERS), _first(names, _ANSWER_HEADERS)
        if code is not None and answer is not None:
            return _Layout(
                row,
                code,
                answer,
                _first(names, _COMMENT_HEADERS),
                _first(names, _COMPLETED_HEADERS),
            )
    return None


def _first(names: dict[str, int], headers: set[str]) -> int | None:
    return min((column for name, column in names.items() if name in headers), default=None)


def _code_text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = _number_text(value)
        return text or ""
    if isinstance(value, str):
        return _SPACES.sub(" ", value).strip()
    return ""


def _as_text(value: Any, number_format: str, *, comment: bool) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    if isinstance(value, bool):
        return None, "a TRUE/FALSE cell is neither a figure nor a status"
    if isinstance(value, str):
        text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
        if not text:
            return None, None
        return (text if comment else _SPACES.sub(" ", text)), None
    if isinstance(value, (int, float)):
        percent = not comment and _is_percent_format(number_format)
        figure = _number_text(value * 100 if percent else value)
        if figure is None:
            return None, "the cell's number cannot be read"
        return (f"{figure}%" if percent else figure), None
    if isinstance(value, datetime):
        if value.time() == time():
            return f"{value:%d/%m/%Y}", None
        return f"{value:%d/%m/%Y %H:%M}", None
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}", None
    if isinstance(value, (time, timedelta)):
        return None, "the cell holds a time, not a figure"
    return None, "the cell's contents cannot be read"


#: Excel's error values, as a formula's saved result (a plain cell says so by its type).
_ERRORS = frozenset(
    {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA"}
    | {"#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!"}
)


def _number_text(value: int | float) -> str | None:
    """An integer plainly; a float to the 15 significant digits Excel shows; no exponent."""
    if isinstance(value, int):
        return str(value)
    try:
        number = Decimal(f"{value:.15g}")
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    text = f"{number.normalize():f}"
    return "0" if text in {"-0", "0"} else text


def _is_percent_format(number_format: str) -> bool:
    """Excel's percent format (``0.0%``): its stored value is the fraction; a quoted ``"%"``
    (our form's) is text printed after the figure."""
    return "%" in _FORMAT_LITERALS.sub("", number_format)


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):,.0f} MB" if n >= 1024 * 1024 else f"{n:,} bytes"
