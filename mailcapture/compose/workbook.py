"""The spreadsheet form attached to a data request: ``return-<period>-<person>.xlsx``.

A pure function of the request's view (:class:`~mailcapture.compose.views.RequestView`): no
database, no clock. The same view always gives the same bytes -- the workbook's created and
modified times and every zip entry's time come from the view's period, not the wall clock --
so an outbox row can be reproduced from its view like the text and HTML parts.

The sheet, ``Return``::

    A1  <council>: performance return for <period>
    A2  For        <name> (for <principal>, when sent to a delegate)
    A3  Due        <due, as the email says it>
    A4  Period     <first day>   to   <last day>          dates, dd/mm/yyyy
    A5  Reference  MC-<token>                            the cell named mailcapture_reference
    A6  what to do (one merged line)
    row 8          Code | Item | Unit | Last period | Same period last year | Target |
                   Allowed range | Answer | Completed on | Comment
    row 9 on       one row per component and milestone, in the text form's order

Why so:

* **The same items, the same order, the same bounds** as the text form
  (:func:`mailcapture.compose.form.form_groups`): a reader of either finds the same codes.
  The Answer cell of a figure is checked by Excel's data validation against the bounds the
  text form prints as "Allowed" (``FormItem.figures.low`` / ``high``); a milestone's Answer
  is a list of the statuses the reply parser reads (:class:`MilestoneStatus`), and its
  Completed on cell takes a date not after today, since "complete" needs its date.
  Validation only helps the person typing: the reply is read and checked again like a typed
  answer, so a value pasted past the validation is still refused with the reason.
* **Protected** (no password: it guards against slips, not against a determined user)
  except the Answer, Completed on (milestones only) and Comment cells. Columns and rows may
  still be resized.
* **For UK Excel**: dates ``dd/mm/yyyy``; figures with thousands separators, ``£`` where the
  unit is money. A percentage is written as the figure with a literal ``%`` (97.5 shows
  ``97.5%``), never as Excel's percent format, whose stored value would be 0.975.
* **Text is text**: every text cell is an inline string (``t="inlineStr"``), which a
  spreadsheet shows as written and never evaluates, so a title that starts with ``=``,
  ``+``, ``-`` or ``@`` stays text, never a formula; characters a workbook cannot hold
  (control characters, lone surrogates, U+FFFE and U+FFFF) are dropped.

How it is written: the ``.xlsx`` parts are assembled here as XML text, and zipped here, not
through openpyxl. A form is built for every request a tick queues, and an openpyxl workbook
cost 10-25 ms each (its style objects, and a stylesheet and every part serialised per save),
which took a tick of 20,005 requests from 110 s to over 7 minutes; this costs about a
millisecond (``python -m benchmarks.requests --workbook-only``). The parts are the ones
openpyxl 3.1 wrote for the same form, byte for byte -- the same elements, in the same order,
styles numbered in order of first use -- so a request queued before the change is still
reproduced from its view; ``tests/compose/workbook_reference.py`` (the openpyxl builder this
replaced) checks it. The reader (:mod:`mailcapture.parsing.workbook`) still opens forms with
openpyxl.
"""

from __future__ import annotations

import re
import struct
import unicodedata
import zlib
from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from functools import cache, lru_cache
from typing import NamedTuple

from mailcapture.compose.form import form_groups
from mailcapture.compose.message import Attachment
from mailcapture.compose.views import FormItem, RequestView
from mailcapture.domain.figures import CURRENCY_UNITS, PERCENT_UNITS
from mailcapture.domain.periods import PeriodError, parse_period
from mailcapture.parsing.values import MilestoneStatus

__all__ = [
    "ANSWER_HEADER",
    "CODE_HEADER",
    "COMMENT_HEADER",
    "COMPLETED_HEADER",
    "HEADER_ROW",
    "REFERENCE_NAME",
    "SHEET_TITLE",
    "STATUS_CHOICES",
    "WORKBOOK_KINDS",
    "XLSX_SUBTYPE",
    "form_attachments",
    "reference_text",
    "request_workbook",
    "workbook_attachment",
    "workbook_filename",
]

#: The kinds of email that carry the workbook: the request and the request sent again on the
#: day a promised item is due (reminders and other mail do not).
WORKBOOK_KINDS = frozenset({"request", "deferred_request"})
XLSX_SUBTYPE = "vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET_TITLE = "Return"
#: The workbook-scoped defined name of the cell holding the request's reference.
REFERENCE_NAME = "mailcapture_reference"
HEADER_ROW = 8
CODE_HEADER = "Code"
ANSWER_HEADER = "Answer"
COMPLETED_HEADER = "Completed on"
COMMENT_HEADER = "Comment"
#: The milestone statuses offered in the Answer list, as the reply parser reads them.
STATUS_CHOICES = tuple(status.value for status in MilestoneStatus)

_HEADERS = (
    (CODE_HEADER, 12),
    ("Item", 48),
    ("Unit", 10),
    ("Last period", 15),
    ("Same period last year", 15),
    ("Target", 14),
    ("Allowed range", 22),
    (ANSWER_HEADER, 16),
    (COMPLETED_HEADER, 14),
    (COMMENT_HEADER, 48),
)
_DATE_FORMAT = "dd/mm/yyyy"
#: Excel's own limit on the characters in a cell.
_MAX_CELL_TEXT = 32767
_MAX_PLACES = 6
_SLUG_JUNK = re.compile(r"[^a-z0-9]+")
#: What a workbook cannot hold: XML 1.0 refuses these characters.
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_INSTRUCTIONS = (
    "Type each figure or status in the Answer column (for a milestone that is complete, its "
    "date in Completed on), add a comment if you wish, save, and attach this file to your "
    "reply. Leave blank what you cannot give yet."
)


def reference_text(token: str) -> str:
    """The request's reference as the text form prints it: ``MC-<token>``."""
    return f"MC-{token}"


def workbook_filename(view: RequestView) -> str:
    """``return-<period>-<person>.xlsx``; the person is whose return it is (the principal,
    when the form goes to a delegate), as ASCII letters, digits and hyphens."""
    person = view.on_behalf_of or view.recipient
    slug = _slug(person.name) or _slug(person.email.split("@", 1)[0]) or "form"
    period = _slug(view.period_code) or "period"
    return f"return-{period}-{slug}.xlsx"


def workbook_attachment(view: RequestView) -> Attachment:
    return Attachment(
        filename=workbook_filename(view),
        data=request_workbook(view),
        maintype="application",
        subtype=XLSX_SUBTYPE,
    )


def form_attachments(kind: str, view: object) -> tuple[Attachment, ...]:
    """What an email of ``kind`` carries besides its text: the workbook, for a request."""
    if kind in WORKBOOK_KINDS and isinstance(view, RequestView) and view.items:
        return (workbook_attachment(view),)
    return ()


def request_workbook(view: RequestView) -> bytes:
    """The ``.xlsx`` bytes of the form for ``view`` (see the module docstring)."""
    stamp = _stamp(view)
    sheet = _Sheet()
    _write_head(sheet, view)
    _write_items(sheet, [item for group in form_groups(view.items) for item in group.items])
    parts = (  # openpyxl's order, which the bytes depend on; True: recurs in other forms
        ("docProps/app.xml", _APP_XML, True),
        ("docProps/core.xml", _core_xml(view, stamp), False),
        ("xl/theme/theme1.xml", _theme_xml(), True),
        ("xl/worksheets/sheet1.xml", sheet.xml(), False),
        ("xl/styles.xml", sheet.styles.xml(), True),
        ("_rels/.rels", _ROOT_RELS_XML, True),
        ("xl/workbook.xml", _WORKBOOK_XML, True),
        ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS_XML, True),
        ("[Content_Types].xml", _CONTENT_TYPES_XML, True),
    )
    return _zip(parts, stamp.date())


# ---------------------------------------------------------------------------- the sheet


def _write_head(sheet: _Sheet, view: RequestView) -> None:
    title = f"{view.council.name}: performance return for {view.period_label}"
    sheet.row(1, sheet.text("A1", title, _TITLE))
    who = view.recipient.name or view.recipient.email
    if view.on_behalf_of is not None:
        who = f"{who}, for {view.on_behalf_of.name or view.on_behalf_of.email}"
    sheet.row(2, sheet.text("A2", "For", _BOLD), sheet.text("B2", who))
    sheet.row(3, sheet.text("A3", "Due", _BOLD), sheet.text("B3", view.due))
    try:
        period = parse_period(view.period_code)
    except PeriodError:
        sheet.row(4, sheet.text("A4", "Period", _BOLD), sheet.text("B4", view.period_label))
    else:
        # openpyxl gave a date cell its own format, yyyy-mm-dd, before the form set
        # dd/mm/yyyy; the unused format stays first so the stylesheet is the one it wrote.
        sheet.styles.number_format("yyyy-mm-dd")
        sheet.row(
            4,
            sheet.text("A4", "Period", _BOLD),
            sheet.day("B4", period.start, _DATE),
            sheet.text("C4", "to"),
            sheet.day("D4", period.end, _DATE),
        )
    reference = reference_text(view.token)
    sheet.row(5, sheet.text("A5", "Reference", _BOLD), sheet.text("B5", reference, _BOLD))
    sheet.row(6, sheet.text("A6", _INSTRUCTIONS, _NOTE), height=32)


def _write_items(sheet: _Sheet, items: list[FormItem]) -> None:
    header = [
        sheet.text(f"{letter}{HEADER_ROW}", label, _HEADER)
        for letter, (label, _) in zip(_COLUMNS, _HEADERS, strict=True)
    ]
    sheet.row(HEADER_ROW, *header)
    for row, item in enumerate(items, start=HEADER_ROW + 1):
        sheet.row(row, *_item_cells(sheet, row, item))


def _item_cells(sheet: _Sheet, row: int, item: FormItem) -> list[str]:
    """Row ``row``'s ten cells for ``item``, left to right (the order styles are numbered)."""
    figures = item.figures
    cells = [
        sheet.text(f"A{row}", item.code, _PLAIN),
        sheet.text(f"B{row}", item.title, _WRAP),
        sheet.text(f"C{row}", item.unit if item.kind == "value" else "status", _PLAIN),
    ]
    if figures is not None:
        cells += [
            _figure(sheet, f"D{row}", figures.last_period, item.unit, item.last_period),
            _figure(
                sheet,
                f"E{row}",
                figures.same_period_last_year,
                item.unit,
                item.same_period_last_year,
            ),
            _figure(
                sheet,
                f"F{row}",
                figures.target,
                figures.target_unit,
                item.target,
                figures.target_decimals,
            ),
        ]
    else:
        for letter, shown in (
            ("D", item.last_period),
            ("E", item.same_period_last_year),
            ("F", item.target),
        ):
            cells.append(sheet.optional_text(f"{letter}{row}", shown, _PLAIN))
    shown_range = item.allowed if item.kind == "value" else "; ".join(STATUS_CHOICES)
    cells.append(sheet.optional_text(f"G{row}", shown_range, _WRAP))
    answer, completed = f"H{row}", f"I{row}"
    if item.kind == "status":
        sheet.validations.status(answer)
        cells.append(sheet.blank(answer, _INPUT))
        cells.append(sheet.blank(completed, _formatted(_INPUT, _DATE_FORMAT)))
        sheet.validations.completion_date(completed)
    else:
        answer_format = _number_format(item.unit, _answer_places(item))
        cells.append(sheet.blank(answer, _formatted(_INPUT, answer_format)))
        cells.append(sheet.blank(completed, _PLAIN))
        if figures is not None:
            sheet.validations.figure(answer, figures.low, figures.high, item.allowed)
    cells.append(sheet.blank(f"J{row}", _COMMENT))
    return cells


def _figure(
    sheet: _Sheet,
    coordinate: str,
    value: Decimal | None,
    unit: str,
    shown: str | None,
    decimals: int | None = None,
) -> str:
    """A context figure as a number cell with its format, or its display text if not a
    finite number."""
    if value is None or not value.is_finite():
        return sheet.optional_text(coordinate, shown, _PLAIN)
    places = _places(value) if decimals is None else max(0, min(decimals, _MAX_PLACES))
    if unit.strip().lower() in CURRENCY_UNITS and decimals is None:
        places = 2 if places else 0
    # A number cell: figures are stored to 12 digits and 6 places, within a double's 15.
    number = int(value) if value == value.to_integral_value() else float(value)
    return sheet.number(coordinate, number, _formatted(_PLAIN, _number_format(unit, places)))


class _Sheet:
    """The worksheet ``Return`` as XML, given a row at a time, top to bottom.

    Cells are written in reading order (rows down, cells left to right in each row), and
    that order matters: a cell's style is numbered in the stylesheet by its first use, as
    openpyxl numbered them when it wrote the sheet, so the same form gives the same parts.
    """

    def __init__(self) -> None:
        self.styles = _StyleSheet()
        self.validations = _Validations()
        self._rows: list[str] = []
        self._last_row = 0

    def row(self, number: int, *cells: str, height: int | None = None) -> None:
        """Row ``number`` with ``cells`` (each from :meth:`text` and the like), below the
        last row given."""
        if number <= self._last_row:
            raise ValueError(f"row {number} given after row {self._last_row}")
        self._last_row = number
        tall = "" if height is None else f' ht="{height}" customHeight="1"'
        self._rows.append(f'<row r="{number}"{tall}>{"".join(cells)}</row>')

    def text(self, coordinate: str, value: str, style: _Style | None = None) -> str:
        """A text cell: an inline string, never a formula, without characters a workbook
        cannot hold. An empty text is a string cell with no text (as openpyxl wrote it)."""
        value = _clean(value)
        body = ""
        if value:
            space = ' xml:space="preserve"' if value != value.strip() else ""
            body = f"<is><t{space}>{_escape_text(value)}</t></is>"
        return f'<c r="{coordinate}"{self._style(style)} t="inlineStr">{body}</c>'

    def optional_text(self, coordinate: str, value: str | None, style: _Style) -> str:
        """``value`` as text if there is any, else an empty cell with the style."""
        return self.text(coordinate, value, style) if value else self.blank(coordinate, style)

    def number(self, coordinate: str, value: int | float, style: _Style) -> str:
        # "%.16g": openpyxl's spelling of a number, up to a double's precision.
        return f'<c r="{coordinate}"{self._style(style)} t="n"><v>{value:.16g}</v></c>'

    def day(self, coordinate: str, value: date, style: _Style) -> str:
        """A date as Excel's serial day number (days since 30 December 1899)."""
        days = (value - _EXCEL_EPOCH).days
        if 0 < days <= 60:  # Excel's phantom 29 February 1900 comes after these days
            days -= 1
        return f'<c r="{coordinate}"{self._style(style)} t="n"><v>{days}</v></c>'

    def blank(self, coordinate: str, style: _Style) -> str:
        """An empty cell that still has a style (an input cell, a bordered gap)."""
        return f'<c r="{coordinate}"{self._style(style)} t="n"></c>'

    def _style(self, style: _Style | None) -> str:
        return "" if style is None else self.styles.attribute(style)

    def xml(self) -> bytes:
        """The worksheet part: non-ASCII characters as character references, as openpyxl
        wrote it."""
        last = self._last_row
        text = "".join(
            (
                _SHEET_START,
                f'<dimension ref="A1:{_COLUMNS[-1]}{last}"/>',
                _SHEET_VIEW_AND_COLUMNS,
                "<sheetData>",
                *self._rows,
                "</sheetData>",
                _SHEET_PROTECTION_AND_MERGE,
                self.validations.xml(),
                _SHEET_PAGE_SETUP,
            )
        )
        return text.encode("ascii", "xmlcharrefreplace")


class _Style(NamedTuple):
    """A cell's look: the font, fill, border and alignment name entries in the tables of XML
    below; the number format is its format code."""

    font: str = ""
    fill: str = ""
    border: str = ""
    number_format: str = "General"
    alignment: str = ""
    unlocked: bool = False


@cache
def _formatted(style: _Style, number_format: str) -> _Style:
    """``style`` with ``number_format`` (remembered: the same few are asked for each row)."""
    return style._replace(number_format=number_format)


_TITLE = _Style(font="title")
_BOLD = _Style(font="bold")
_DATE = _Style(number_format=_DATE_FORMAT, alignment="left")
_NOTE = _Style(alignment="wrap")
_HEADER = _Style(font="bold", fill="header", border="box", alignment="wrap")
_PLAIN = _Style(border="box")
_WRAP = _Style(border="box", alignment="wrap")
#: Cells for the answers: shaded, and unlocked in the protected sheet.
_INPUT = _Style(fill="input", border="box", unlocked=True)
_COMMENT = _Style(fill="input", border="box", alignment="wrap", unlocked=True)

_FONTS = {
    "": '<font><name val="Calibri"/><family val="2"/><color theme="1"/><sz val="11"/>'
    '<scheme val="minor"/></font>',
    "title": '<font><b val="1"/><sz val="14"/></font>',
    "bold": '<font><b val="1"/></font>',
}


def _solid_fill(rgb: str) -> str:
    return f'<fill><patternFill patternType="solid"><fgColor rgb="00{rgb}"/></patternFill></fill>'


_FILLS = {
    "": "<fill><patternFill/></fill>",
    "gray125": '<fill><patternFill patternType="gray125"/></fill>',  # Excel requires it second
    "header": _solid_fill("D9D9D9"),  # light grey
    "input": _solid_fill("FFF2CC"),  # pale yellow: type here
}
_THIN_GREY = 'style="thin"><color rgb="00BFBFBF"/>'
_BORDERS = {
    "": "<border><left/><right/><top/><bottom/><diagonal/></border>",
    "box": f"<border><left {_THIN_GREY}</left><right {_THIN_GREY}</right>"
    f"<top {_THIN_GREY}</top><bottom {_THIN_GREY}</bottom></border>",
}
_ALIGNMENTS = {
    "": "",
    "left": '<alignment horizontal="left"/>',
    "wrap": '<alignment vertical="top" wrapText="1"/>',
}
#: The number formats every spreadsheet knows by number, among those the form uses.
_BUILTIN_FORMATS = {"General": 0, "#,##0": 3, "#,##0.00": 4}
_FIRST_CUSTOM_FORMAT = 164


class _StyleSheet:
    """The styles the sheet's cells use, each numbered by its first use.

    Fonts, fills, borders and custom number formats are numbered the same way; the
    default font and fill (and the gray125 fill Excel expects) come first, as in any
    workbook.
    """

    def __init__(self) -> None:
        self._cells: dict[_Style, int] = {_Style(): 0}
        self._attributes: dict[_Style, str] = {}
        self._formats: dict[str, int] = {}
        self._fonts: dict[str, int] = {"": 0}
        self._fills: dict[str, int] = {"": 0, "gray125": 1}
        self._borders: dict[str, int] = {"": 0}

    def index(self, style: _Style) -> int:
        """The number of ``style`` in the stylesheet (the ``s`` of a cell)."""
        found = self._cells.get(style)
        if found is None:
            found = self._cells[style] = len(self._cells)
            self.number_format(style.number_format)
            for table, name in (
                (self._fonts, style.font),
                (self._fills, style.fill),
                (self._borders, style.border),
            ):
                table.setdefault(name, len(table))
        return found

    def attribute(self, style: _Style) -> str:
        """A cell's `` s="<number>"`` for ``style`` (made once per style: a form has ~150
        cells and a dozen styles)."""
        found = self._attributes.get(style)
        if found is None:
            found = self._attributes[style] = f' s="{self.index(style)}"'
        return found

    def number_format(self, code: str) -> int:
        builtin = _BUILTIN_FORMATS.get(code)
        if builtin is not None:
            return builtin
        return self._formats.setdefault(code, _FIRST_CUSTOM_FORMAT + len(self._formats))

    def xml(self) -> bytes:
        """The stylesheet part (UTF-8, as openpyxl wrote it: the ``£`` of a format as is)."""
        formats = [
            f'<numFmt numFmtId="{number}" formatCode="{_escape_attribute(code)}"/>'
            for code, number in self._formats.items()
        ]
        parts = [
            _STYLES_START,
            _table("numFmts", formats),
            _table("fonts", [_FONTS[name] for name in self._fonts]),
            _table("fills", [_FILLS[name] for name in self._fills]),
            _table("borders", [_BORDERS[name] for name in self._borders]),
            _CELL_STYLE_XFS,
            _table("cellXfs", [self._xf(style) for style in self._cells]),
            _STYLES_END,
        ]
        return "".join(parts).encode()

    def _xf(self, style: _Style) -> str:
        attributes = (
            f'numFmtId="{self.number_format(style.number_format)}" '
            f'fontId="{self._fonts[style.font]}" fillId="{self._fills[style.fill]}" '
            f'borderId="{self._borders[style.border]}"'
        )
        inside = _ALIGNMENTS[style.alignment]
        if inside:
            attributes += ' applyAlignment="1"'
        if style.unlocked:
            attributes += ' applyProtection="1"'
            inside += '<protection locked="0" hidden="0"/>'
        attributes += ' pivotButton="0" quotePrefix="0" xfId="0"'
        return f"<xf {attributes}>{inside}</xf>" if inside else f"<xf {attributes}/>"


def _table(tag: str, entries: list[str]) -> str:
    if not entries:
        return f'<{tag} count="0"/>'
    return f'<{tag} count="{len(entries)}">{"".join(entries)}</{tag}>'


class _Validations:
    """Data validations, one per distinct rule, each listing the cells it checks."""

    def __init__(self) -> None:
        #: rule -> (its attributes and formulas as XML, the cells it checks)
        self._rules: dict[tuple[str, ...], tuple[str, list[str]]] = {}

    def _add(self, key: tuple[str, ...], coordinate: str, make: Callable[[], str]) -> None:
        rule = self._rules.get(key)
        if rule is None:
            rule = self._rules[key] = (make(), [])
        rule[1].append(coordinate)

    def xml(self) -> str:
        if not self._rules:
            return ""
        # openpyxl wrote a rule's cells sorted by column, then row; each rule's cells here
        # are in one column and added top down, so already in that order.
        rules = "".join(
            f'<dataValidation sqref="{" ".join(cells)}" {body}</dataValidation>'
            for body, cells in self._rules.values()
        )
        return f'<dataValidations count="{len(self._rules)}">{rules}</dataValidations>'

    def figure(
        self, coordinate: str, low: Decimal | None, high: Decimal | None, shown: str | None
    ) -> None:
        if low is None and high is None:
            return
        words = shown or "the allowed range"

        def make() -> str:
            if low is not None and high is not None:
                operator = "between"
                formulas = _formulas(_plain(low), _plain(high))
            elif low is not None:
                operator, formulas = "greaterThanOrEqual", _formulas(_plain(low))
            else:
                assert high is not None
                operator, formulas = "lessThanOrEqual", _formulas(_plain(high))
            return _rule(
                title="Outside the allowed range",
                error=_clean(f"Please enter a figure: {words}.")[:225],
                prompt=("Allowed", _clean(words)[:255]),
                kind="decimal",
                operator=operator,
                formulas=formulas,
            )

        self._add(("figure", str(low), str(high), words), coordinate, make)

    def status(self, coordinate: str) -> None:
        self._add(("status",), coordinate, _status_rule)

    def completion_date(self, coordinate: str) -> None:
        self._add(("completed",), coordinate, _completion_rule)


def _rule(
    *,
    title: str,
    error: str,
    kind: str,
    formulas: str,
    prompt: tuple[str, str] | None = None,
    operator: str | None = None,
) -> str:
    """A ``dataValidation``'s attributes and formulas (after its ``sqref``): blanks allowed,
    a wrong entry refused with ``error``; a prompt shown on entering the cell, if given."""
    shows_prompt = "1" if prompt else "0"
    attributes = [
        'showDropDown="0"',
        f'showInputMessage="{shows_prompt}"',
        'showErrorMessage="1"',
        'allowBlank="1"',
        f'errorTitle="{_escape_attribute(title)}"',
        f'error="{_escape_attribute(error)}"',
    ]
    if prompt is not None:
        attributes.append(f'promptTitle="{_escape_attribute(prompt[0])}"')
        attributes.append(f'prompt="{_escape_attribute(prompt[1])}"')
    attributes.append(f'type="{kind}"')
    if operator is not None:
        attributes.append(f'operator="{operator}"')
    return f"{' '.join(attributes)}>{formulas}"


def _formulas(*formulas: str) -> str:
    return "".join(
        f"<formula{n}>{_escape_text(formula)}</formula{n}>"
        for n, formula in enumerate(formulas, start=1)
    )


@cache
def _status_rule() -> str:
    return _rule(
        title="Not a status",
        error="Please choose one of: " + ", ".join(STATUS_CHOICES) + ".",
        kind="list",
        formulas=_formulas('"' + ",".join(STATUS_CHOICES) + '"'),
    )


@cache
def _completion_rule() -> str:
    return _rule(
        title="Not a completion date",
        error="Please enter the date the milestone was completed (dd/mm/yyyy), not a "
        "date still to come.",
        kind="date",
        operator="lessThanOrEqual",
        formulas=_formulas("TODAY()"),
    )


# ---------------------------------------------------------------------------- text and XML


def _clean(value: str) -> str:
    """``value`` without the characters a workbook cannot hold, cut to Excel's cell limit."""
    return _UNWRITABLE.sub("", value)[:_MAX_CELL_TEXT]


#: What XML text and attribute values must escape, as libxml2 (so openpyxl) escaped them: a
#: carriage return in text, and tabs and line ends in attributes, by character reference so
#: that a reader's line-end normalisation keeps them. The ampersand goes first. (Replacing
#: each in turn is several times faster than ``str.translate`` for the short, mostly plain
#: texts of a form.)
_TEXT_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\r", "&#13;"))
_ATTRIBUTE_ESCAPES = (
    *_TEXT_ESCAPES,
    ('"', "&quot;"),
    ("\n", "&#10;"),
    ("\t", "&#9;"),
)


def _escape_text(value: str) -> str:
    for raw, escaped in _TEXT_ESCAPES:
        value = value.replace(raw, escaped)
    return value


def _escape_attribute(value: str) -> str:
    for raw, escaped in _ATTRIBUTE_ESCAPES:
        value = value.replace(raw, escaped)
    return value


def _core_xml(view: RequestView, stamp: datetime) -> bytes:
    """The document properties: title, author, and the view's times (never the clock's)."""
    title = _clean(f"Performance return for {view.period_label}")
    space = ' xml:space="preserve"' if title != title.strip() else ""
    when = f"{stamp:%Y-%m-%dT%H:%M:%S}Z"
    dc = 'xmlns:dc="http://purl.org/dc/elements/1.1/"'
    terms = (
        'xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="dcterms:W3CDTF"'
    )
    return (
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
        'core-properties">'
        f"<dc:creator {dc}>mailcapture</dc:creator>"
        f"<dc:title {dc}{space}>{_escape_text(title)}</dc:title>"
        f"<dcterms:created {terms}>{when}</dcterms:created>"
        f"<dcterms:modified {terms}>{when}</dcterms:modified>"
        "<cp:lastModifiedBy>mailcapture</cp:lastModifiedBy></cp:coreProperties>"
    ).encode()


@cache
def _theme_xml() -> bytes:
    """Office's default theme, which the default font's colour refers to (openpyxl's copy)."""
    from openpyxl.writer.theme import theme_xml

    return theme_xml.encode()


def _zip(parts: Sequence[tuple[str, bytes, bool]], day: date) -> bytes:
    """The parts (name, bytes, whether they recur from form to form) as a zip, each
    deflated, all stamped midnight on ``day``.

    Written here rather than with :class:`zipfile.ZipFile`, which took half of a form's time:
    it sets up a compressor per entry and writes each header twice. The bytes are those
    ``ZipFile.writestr`` wrote (the tests compare them): no data descriptors, no extra
    fields, made on Unix, read-write for the owner. The fixed time (never the clock's) is
    what makes the same workbook the same bytes.
    """
    dos_date = (day.year - 1980) << 9 | day.month << 5 | day.day
    dos_time = 0  # midnight
    body = bytearray()
    directory = bytearray()
    for name, data, recurs in parts:
        crc, deflated = (_deflate_remembered if recurs else _deflate)(data)
        encoded = name.encode("ascii")
        offset = len(body)
        sizes = (crc, len(deflated), len(data), len(encoded))
        body += _LOCAL_HEADER.pack(
            b"PK\x03\x04", _ZIP_VERSION, 0, 0, _DEFLATED, dos_time, dos_date, *sizes, 0
        )
        body += encoded
        body += deflated
        directory += _CENTRAL_HEADER.pack(
            b"PK\x01\x02",
            _ZIP_VERSION,
            _MADE_ON_UNIX,
            _ZIP_VERSION,
            0,
            0,
            _DEFLATED,
            dos_time,
            dos_date,
            *sizes,
            0,  # extra field
            0,  # comment
            0,  # disk
            0,  # internal attributes
            _OWNER_READ_WRITE,
            offset,
        )
        directory += encoded
    count = len(parts)
    end = _END_RECORD.pack(b"PK\x05\x06", 0, 0, count, count, len(directory), len(body), 0)
    return bytes(body + directory + end)


_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_CENTRAL_HEADER = struct.Struct("<4s4B4HL2L5H2L")
_END_RECORD = struct.Struct("<4s4H2LH")
_ZIP_VERSION = 20  # 2.0: deflate
_DEFLATED = 8
_MADE_ON_UNIX = 3
_OWNER_READ_WRITE = 0o600 << 16  # rw-------, in the upper half of the external attributes


def _deflate(data: bytes) -> tuple[int, bytes]:
    """``data``'s CRC-32 and its raw deflate stream, at zlib's default level as zipfile's."""
    return zlib.crc32(data), zlib.compress(data, zlib.Z_DEFAULT_COMPRESSION, wbits=-15)


#: :func:`_deflate` for the parts that recur: the fixed ones, and the stylesheet, of which
#: there are a handful (it varies only with the number formats a form uses).
_deflate_remembered = lru_cache(maxsize=64)(_deflate)


# ---------------------------------------------------------------------------- fixed parts

_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_COLUMNS = "ABCDEFGHIJ"[: len(_HEADERS)]
_EXCEL_EPOCH = date(1899, 12, 30)

_SHEET_START = (
    f'<worksheet xmlns="{_MAIN_NS}"><sheetPr><outlinePr summaryBelow="1" summaryRight="1"/>'
    '<pageSetUpPr fitToPage="1"/></sheetPr>'
)
#: Frozen above the first item and right of the Item column; the columns' widths.
_SHEET_VIEW_AND_COLUMNS = (
    '<sheetViews><sheetView workbookViewId="0">'
    f'<pane xSplit="2" ySplit="{HEADER_ROW}" topLeftCell="C{HEADER_ROW + 1}" '
    'activePane="bottomRight" state="frozen"/><selection pane="topRight"/>'
    '<selection pane="bottomLeft"/>'
    '<selection pane="bottomRight" activeCell="A1" sqref="A1"/></sheetView></sheetViews>'
    '<sheetFormatPr baseColWidth="8" defaultRowHeight="15"/><cols>'
    + "".join(
        f'<col width="{width}" customWidth="1" min="{n}" max="{n}"/>'
        for n, (_, width) in enumerate(_HEADERS, start=1)
    )
    + "</cols>"
)
#: Protected without a password; "0" allows: selecting cells and resizing columns and rows.
_SHEET_PROTECTION_AND_MERGE = (
    '<sheetProtection selectLockedCells="0" selectUnlockedCells="0" sheet="1" objects="0" '
    'insertRows="1" insertHyperlinks="1" autoFilter="1" scenarios="0" formatColumns="0" '
    'deleteColumns="1" insertColumns="1" pivotTables="1" deleteRows="1" formatCells="1" '
    'formatRows="0" sort="1"/>'
    f'<mergeCells count="1"><mergeCell ref="A6:{_COLUMNS[-1]}6"/></mergeCells>'
)
#: Landscape, as wide as one page and as long as it needs.
_SHEET_PAGE_SETUP = (
    '<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/>'
    '<pageSetup orientation="landscape" fitToHeight="0" fitToWidth="1"/></worksheet>'
)

_STYLES_START = f'<styleSheet xmlns="{_MAIN_NS}">'
_CELL_STYLE_XFS = (
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
)
#: Excel's legacy palette, which openpyxl always wrote.
# fmt: off
_INDEXED_COLOURS = (
    "00000000", "00FFFFFF", "00FF0000", "0000FF00", "000000FF", "00FFFF00", "00FF00FF", "0000FFFF",
    "00000000", "00FFFFFF", "00FF0000", "0000FF00", "000000FF", "00FFFF00", "00FF00FF", "0000FFFF",
    "00800000", "00008000", "00000080", "00808000", "00800080", "00008080", "00C0C0C0", "00808080",
    "009999FF", "00993366", "00FFFFCC", "00CCFFFF", "00660066", "00FF8080", "000066CC", "00CCCCFF",
    "00000080", "00FF00FF", "00FFFF00", "0000FFFF", "00800080", "00800000", "00008080", "000000FF",
    "0000CCFF", "00CCFFFF", "00CCFFCC", "00FFFF99", "0099CCFF", "00FF99CC", "00CC99FF", "00FFCC99",
    "003366FF", "0033CCCC", "0099CC00", "00FFCC00", "00FF9900", "00FF6600", "00666699", "00969696",
    "00003366", "00339966", "00003300", "00333300", "00993300", "00993366", "00333399", "00333333",
)
# fmt: on
_STYLES_END = (
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0" hidden="0"/>'
    "</cellStyles>"
    '<tableStyles count="0" defaultTableStyle="TableStyleMedium9" '
    'defaultPivotStyle="PivotStyleLight16"/>'
    "<colors><indexedColors>"
    + "".join(f'<rgbColor rgb="{colour}"/>' for colour in _INDEXED_COLOURS)
    + "</indexedColors></colors></styleSheet>"
)

#: The application properties as openpyxl wrote them, unchanged so that the bytes are.
_APP_XML = (
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'extended-properties"><Application>Microsoft Excel Compatible / Openpyxl 3.1.5'
    b"</Application><AppVersion>3.1</AppVersion></Properties>"
)
_ROOT_RELS_XML = (
    f'<Relationships xmlns="{_PACKAGE_RELS_NS}">'
    f'<Relationship Type="{_REL_NS}/officeDocument" Target="xl/workbook.xml" Id="rId1"/>'
    '<Relationship Type="http://schemas.openxmlformats.org/package/2006/relationships/'
    'metadata/core-properties" Target="docProps/core.xml" Id="rId2"/>'
    f'<Relationship Type="{_REL_NS}/extended-properties" Target="docProps/app.xml" '
    'Id="rId3"/></Relationships>'
).encode()
#: One sheet; the reference cell's name; the header row printed on every page.
_WORKBOOK_XML = (
    f'<workbook xmlns="{_MAIN_NS}"><workbookPr/><workbookProtection/><bookViews>'
    '<workbookView visibility="visible" minimized="0" showHorizontalScroll="1" '
    'showVerticalScroll="1" showSheetTabs="1" tabRatio="600" firstSheet="0" activeTab="0" '
    'autoFilterDateGrouping="1"/></bookViews>'
    f'<sheets><sheet xmlns:r="{_REL_NS}" name="{SHEET_TITLE}" sheetId="1" state="visible" '
    'r:id="rId1"/></sheets><definedNames>'
    f'<definedName name="{REFERENCE_NAME}">{SHEET_TITLE}!$B$5</definedName>'
    f'<definedName name="_xlnm.Print_Titles" localSheetId="0">\'{SHEET_TITLE}\'!'
    f"${HEADER_ROW}:${HEADER_ROW}</definedName>"
    '</definedNames><calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>'
).encode()
_WORKBOOK_RELS_XML = (
    f'<Relationships xmlns="{_PACKAGE_RELS_NS}">'
    f'<Relationship Type="{_REL_NS}/worksheet" Target="/xl/worksheets/sheet1.xml" Id="rId1"/>'
    f'<Relationship Type="{_REL_NS}/styles" Target="styles.xml" Id="rId2"/>'
    f'<Relationship Type="{_REL_NS}/theme" Target="theme/theme1.xml" Id="rId3"/>'
    "</Relationships>"
).encode()
_CONTENT_TYPES_XML = (
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" '
    b'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/xl/styles.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    b'<Override PartName="/xl/theme/theme1.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.theme+xml"/>'
    b'<Override PartName="/docProps/core.xml" '
    b'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    b'<Override PartName="/docProps/app.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
    b'<Override PartName="/xl/worksheets/sheet1.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    b'<Override PartName="/xl/workbook.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    b"</Types>"
)


# ---------------------------------------------------------------------------- figures


@cache
def _number_format(unit: str, places: int) -> str:
    body = "#,##0" + ("." + "0" * places if places else "")
    key = unit.strip().lower()
    if key in CURRENCY_UNITS:
        return f'"£"{body}'
    if key in PERCENT_UNITS:
        return f'{body}"%"'
    return body


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    if not isinstance(exponent, int) or exponent >= 0:
        return 0
    return min(-exponent, _MAX_PLACES)


def _answer_places(item: FormItem) -> int:
    """Places shown in an Answer cell: money 2, else as many as the item's figures had."""
    if item.unit.strip().lower() in CURRENCY_UNITS:
        return 2
    figures = item.figures
    known = [] if figures is None else [figures.last_period, figures.same_period_last_year]
    return max((_places(v) for v in known if v is not None and v.is_finite()), default=0)


def _plain(value: Decimal) -> str:
    """A bound as an Excel formula constant: plain digits, no exponent, no separators."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _SLUG_JUNK.sub("-", ascii_text.lower()).strip("-")[:40].strip("-")


def _stamp(view: RequestView) -> datetime:
    """The workbook's created and modified time: the first day of the request's period,
    at midnight (a zip entry's time cannot be earlier than 1980)."""
    try:
        day = parse_period(view.period_code).start
    except PeriodError:
        day = date(2000, 1, 1)
    return datetime.combine(max(day, date(1980, 1, 1)), time())
