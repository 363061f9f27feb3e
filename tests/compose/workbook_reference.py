"""The request workbook as it was built with openpyxl, kept as the reference for the new one.

:func:`mailcapture.compose.workbook.request_workbook` writes the ``.xlsx`` parts itself (an
openpyxl workbook took 10-19 ms a form, most of a tick's time). This is the openpyxl builder
it replaced, unchanged but for its imports: the tests require the new bytes to open in
openpyxl to the same cells, formats, validations and protection as these, and the parts to
be the same XML. It shares only the pure decisions (number formats, places, bounds, the
stamp) with the module, so a slip in the new sheet layout or its XML shows up as a
difference here.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mailcapture.compose.form import form_groups
from mailcapture.compose.views import FormItem, RequestView
from mailcapture.compose.workbook import (
    _DATE_FORMAT,
    _HEADERS,
    _INSTRUCTIONS,
    _MAX_PLACES,
    HEADER_ROW,
    REFERENCE_NAME,
    SHEET_TITLE,
    STATUS_CHOICES,
    _answer_places,
    _clean,
    _number_format,
    _places,
    _plain,
    _stamp,
    reference_text,
)
from mailcapture.domain.figures import CURRENCY_UNITS
from mailcapture.domain.periods import PeriodError, parse_period

if TYPE_CHECKING:
    from openpyxl.cell.cell import Cell
    from openpyxl.worksheet.worksheet import Worksheet

__all__ = ["reference_workbook"]


def reference_workbook(view: RequestView) -> bytes:
    """The ``.xlsx`` bytes of the form for ``view`` (see the module docstring)."""
    from openpyxl import Workbook
    from openpyxl.workbook.defined_name import DefinedName
    from openpyxl.writer.excel import ExcelWriter

    book = Workbook()
    sheet = book.active
    if sheet is None:  # a new workbook has one sheet, active
        raise RuntimeError("openpyxl made a workbook without a worksheet")
    sheet.title = SHEET_TITLE
    stamp = _stamp(view)
    book.properties.creator = "mailcapture"
    book.properties.lastModifiedBy = "mailcapture"
    book.properties.title = _clean(f"Performance return for {view.period_label}")
    book.properties.created = stamp
    book.properties.modified = stamp

    _write_head(sheet, view)
    items = [item for group in form_groups(view.items) for item in group.items]
    _write_items(sheet, items)
    book.defined_names[REFERENCE_NAME] = DefinedName(
        REFERENCE_NAME, attr_text=f"{SHEET_TITLE}!$B$5"
    )

    out = io.BytesIO()
    archive = _FixedTimeZip(out, (stamp.year, stamp.month, stamp.day, 0, 0, 0))
    # ExcelWriter, not save_workbook: that one sets the modified time from the clock.
    ExcelWriter(book, archive).save()
    return out.getvalue()


# ---------------------------------------------------------------------------- the sheet


def _write_head(sheet: Worksheet, view: RequestView) -> None:
    from openpyxl.styles import Alignment, Font

    bold = Font(bold=True)
    title = _cell(sheet, 1, 1)
    _text(title, f"{view.council.name}: performance return for {view.period_label}")
    title.font = Font(bold=True, size=14)
    who = view.recipient.name or view.recipient.email
    if view.on_behalf_of is not None:
        who = f"{who}, for {view.on_behalf_of.name or view.on_behalf_of.email}"
    rows: list[tuple[str, str]] = [("For", who), ("Due", view.due)]
    for row, (label, value) in enumerate(rows, start=2):
        _text(_cell(sheet, row, 1), label).font = bold
        _text(_cell(sheet, row, 2), value)
    _text(_cell(sheet, 4, 1), "Period").font = bold
    try:
        period = parse_period(view.period_code)
    except PeriodError:
        _text(_cell(sheet, 4, 2), view.period_label)
    else:
        for column, day in ((2, period.start), (4, period.end)):
            cell = _cell(sheet, 4, column)
            cell.value = day
            cell.number_format = _DATE_FORMAT
            cell.alignment = Alignment(horizontal="left")
        _text(_cell(sheet, 4, 3), "to")
    _text(_cell(sheet, 5, 1), "Reference").font = bold
    _text(_cell(sheet, 5, 2), reference_text(view.token)).font = bold
    note = _text(_cell(sheet, 6, 1), _INSTRUCTIONS)
    note.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.merge_cells(start_row=6, start_column=1, end_row=6, end_column=len(_HEADERS))
    sheet.row_dimensions[6].height = 32


def _write_items(sheet: Worksheet, items: list[FormItem]) -> None:
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Protection, Side
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.properties import PageSetupProperties

    header_fill = PatternFill("solid", fgColor="D9D9D9")
    input_fill = PatternFill("solid", fgColor="FFF2CC")
    thin = Side(style="thin", color="BFBFBF")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    unlocked = Protection(locked=False)
    for column, (label, width) in enumerate(_HEADERS, start=1):
        cell = _text(_cell(sheet, HEADER_ROW, column), label)
        cell.font = Font(bold=True)
        cell.fill = header_fill
        cell.border = box
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.column_dimensions[get_column_letter(column)].width = width

    styles = _Styles(
        plain={"border": box},
        wrap={"border": box, "alignment": Alignment(wrap_text=True, vertical="top")},
        input={"border": box, "fill": input_fill, "protection": unlocked},
        comment={
            "border": box,
            "fill": input_fill,
            "protection": unlocked,
            "alignment": Alignment(wrap_text=True, vertical="top"),
        },
    )
    validations = _Validations()
    for row, item in enumerate(items, start=HEADER_ROW + 1):
        figures = item.figures
        cells = [_cell(sheet, row, column) for column in range(1, len(_HEADERS) + 1)]
        code, title, unit, last, last_year, target, allowed, answer, completed, comment = cells
        styles.apply(_text(code, item.code), "plain")
        styles.apply(_text(title, item.title), "wrap")
        styles.apply(_text(unit, item.unit if item.kind == "value" else "status"), "plain")
        if figures is not None:
            _figure(styles, last, figures.last_period, item.unit, item.last_period)
            _figure(
                styles,
                last_year,
                figures.same_period_last_year,
                item.unit,
                item.same_period_last_year,
            )
            _figure(
                styles,
                target,
                figures.target,
                figures.target_unit,
                item.target,
                figures.target_decimals,
            )
        else:
            for cell, shown in (
                (last, item.last_period),
                (last_year, item.same_period_last_year),
                (target, item.target),
            ):
                if shown:
                    _text(cell, shown)
                styles.apply(cell, "plain")
        shown_range = item.allowed if item.kind == "value" else "; ".join(STATUS_CHOICES)
        if shown_range:
            _text(allowed, shown_range)
        styles.apply(allowed, "wrap")
        if item.kind == "status":
            validations.status(answer.coordinate)
            styles.apply(answer, "input")
            styles.apply(completed, "input", _DATE_FORMAT)
            validations.completion_date(completed.coordinate)
        else:
            styles.apply(answer, "input", _number_format(item.unit, _answer_places(item)))
            styles.apply(completed, "plain")
            if figures is not None:
                validations.figure(answer.coordinate, figures.low, figures.high, item.allowed)
        styles.apply(comment, "comment")

    for validation in validations.all():
        sheet.add_data_validation(validation)
    sheet.freeze_panes = f"C{HEADER_ROW + 1}"
    sheet.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    protection = sheet.protection
    protection.sheet = True
    protection.formatColumns = False  # False: allowed (the names say what is protected)
    protection.formatRows = False
    protection.selectLockedCells = False
    protection.selectUnlockedCells = False


class _Validations:
    """Data validations, one per distinct rule, each listing the cells it checks."""

    def __init__(self) -> None:
        self._rules: dict[tuple[str, ...], Any] = {}

    def _add(self, key: tuple[str, ...], coordinate: str, **options: Any) -> None:
        from openpyxl.worksheet.datavalidation import DataValidation

        rule = self._rules.get(key)
        if rule is None:
            rule = DataValidation(allow_blank=True, showErrorMessage=True, **options)
            self._rules[key] = rule
        rule.add(coordinate)

    def all(self) -> Iterable[Any]:
        return self._rules.values()

    def figure(
        self, coordinate: str, low: Decimal | None, high: Decimal | None, shown: str | None
    ) -> None:
        if low is None and high is None:
            return
        words = shown or "the allowed range"
        options: dict[str, Any] = {
            "type": "decimal",
            "errorTitle": "Outside the allowed range",
            "error": _clean(f"Please enter a figure: {words}.")[:225],
            "promptTitle": "Allowed",
            "prompt": _clean(words)[:255],
            "showInputMessage": True,
        }
        if low is not None and high is not None:
            options.update(operator="between", formula1=_plain(low), formula2=_plain(high))
        elif low is not None:
            options.update(operator="greaterThanOrEqual", formula1=_plain(low))
        elif high is not None:
            options.update(operator="lessThanOrEqual", formula1=_plain(high))
        key = ("figure", str(low), str(high), words)
        self._add(key, coordinate, **options)

    def status(self, coordinate: str) -> None:
        self._add(
            ("status",),
            coordinate,
            type="list",
            formula1='"' + ",".join(STATUS_CHOICES) + '"',
            errorTitle="Not a status",
            error="Please choose one of: " + ", ".join(STATUS_CHOICES) + ".",
        )

    def completion_date(self, coordinate: str) -> None:
        self._add(
            ("completed",),
            coordinate,
            type="date",
            operator="lessThanOrEqual",
            formula1="TODAY()",
            errorTitle="Not a completion date",
            error="Please enter the date the milestone was completed (dd/mm/yyyy), not a "
            "date still to come.",
        )


# ---------------------------------------------------------------------------- cells


def _cell(sheet: Worksheet, row: int, column: int) -> Cell:
    """The cell at ``row``, ``column``; the form writes none inside a merged range but row 6's
    first."""
    from openpyxl.cell.cell import Cell

    cell = sheet.cell(row, column)
    if not isinstance(cell, Cell):
        raise RuntimeError(f"cell {cell.coordinate} is inside a merged range")
    return cell


def _text(cell: Cell, value: str) -> Cell:
    """``value`` as a string cell, never a formula, without characters a workbook refuses."""
    cell.value = _clean(value)
    cell.data_type = "s"
    return cell


def _figure(
    styles: _Styles,
    cell: Cell,
    value: Decimal | None,
    unit: str,
    shown: str | None,
    decimals: int | None = None,
) -> None:
    if value is None or not value.is_finite():
        if shown:
            _text(cell, shown)
        styles.apply(cell, "plain")
        return
    places = _places(value) if decimals is None else max(0, min(decimals, _MAX_PLACES))
    if unit.strip().lower() in CURRENCY_UNITS and decimals is None:
        places = 2 if places else 0
    # A number cell: figures are stored to 12 digits and 6 places, within a double's 15.
    cell.value = int(value) if value == value.to_integral_value() else float(value)
    styles.apply(cell, "plain", _number_format(unit, places))


class _Styles:
    """Cell styles by name and number format, each made once and copied after.

    Setting a style attribute on an openpyxl cell looks the style up by hashing it; doing
    that for every attribute of every cell was most of the time a form took to build. So
    the first cell of each kind is styled attribute by attribute, and the others get a
    copy of its style array (openpyxl's documented way to copy a style).
    """

    def __init__(self, **kinds: dict[str, Any]) -> None:
        self._kinds = kinds
        self._made: dict[tuple[str, str], Any] = {}

    def apply(self, cell: Cell, kind: str, number_format: str = "General") -> Cell:
        from copy import copy

        key = (kind, number_format)
        made = self._made.get(key)
        if made is not None:
            cell._style = copy(made)  # type: ignore[attr-defined]
            return cell
        for name, value in self._kinds[kind].items():
            setattr(cell, name, value)
        cell.number_format = number_format
        self._made[key] = copy(cell._style)  # type: ignore[attr-defined]
        return cell


class _FixedTimeZip(zipfile.ZipFile):
    """A zip whose entries all carry one fixed time, so the same workbook is the same bytes
    (``ZipFile.writestr`` with a name stamps an entry with the current time, and ``write``,
    which openpyxl uses for each sheet's temporary file, with the file's)."""

    def write(
        self,
        filename: Any,
        arcname: Any = None,
        compress_type: int | None = None,
        compresslevel: int | None = None,
    ) -> None:
        with open(filename, "rb") as source:
            data = source.read()
        self.writestr(str(arcname if arcname is not None else filename), data)

    def __init__(self, file: io.BytesIO, when: tuple[int, int, int, int, int, int]) -> None:
        super().__init__(file, "w", zipfile.ZIP_DEFLATED)
        self._when = when

    def writestr(
        self,
        zinfo_or_arcname: str | zipfile.ZipInfo,
        data: Any,
        compress_type: int | None = None,
        compresslevel: int | None = None,
    ) -> None:
        if isinstance(zinfo_or_arcname, str):
            info = zipfile.ZipInfo(zinfo_or_arcname, date_time=self._when)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            zinfo_or_arcname = info
        super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)
