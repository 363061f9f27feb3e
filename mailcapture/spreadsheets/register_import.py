"""``mailcapture import register``: the council's PI workbook to a register folder.

Why a converter to YAML rather than a second way to load: the register folder stays the one
thing ``load`` reads, with its checks, history and audit trail; the workbook is only a way
to write it. So the import builds the register's YAML in memory, runs the register's own
validation over it (the same :func:`~mailcapture.register.validate.load_register` that
``load`` uses) and writes the folder only when nothing is wrong: what it writes always
loads. Every problem, whether found reading a cell or by the register's checks, is given
as ``Sheet!Cell: reason`` (the YAML is written one key per line, and each line is traced
back to the cell it came from), all of them in one run.

Cells are read as people type them: trailing spaces and non-breaking spaces are trimmed,
codes typed as numbers are text (``212``, never ``212.0``), blank rows are passed over,
a formula's value is the one Excel saved (``data_only``; never evaluated) and a header
cell merged across several columns heads the sub-headers in the row below. The same
workbook gives the same bytes: items keep the workbook's order, targets and history are
sorted by period, and the YAML is written with fixed settings.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from io import StringIO
from pathlib import Path
from typing import Any

from mailcapture.domain.periods import Period, PeriodError, PeriodKind, month_of, parse_period
from mailcapture.errors import UserError
from mailcapture.spreadsheets.layout import (
    DEFAULT_AUTHORITY,
    DEFAULT_LAYOUT,
    DEFAULT_TIMETABLE,
    MAIL_SETTINGS,
    Column,
    Kind,
    SheetLayout,
)

HEADER_SEARCH_ROWS = 20
HEADER_NOTE = (
    "# Written by `mailcapture import register` from the register workbook.\n"
    "# Edit the workbook and import it again rather than editing this file.\n"
)
_ERROR_VALUES = {"#N/A", "#REF!", "#DIV/0!", "#VALUE!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!"}
_COMPONENT_COLUMN = re.compile(r"^component (\d+) (code|title|unit|min|max|aggregation)$")
_SPLIT = re.compile(r"[,;\n]+")
_SYNONYMS = {
    "annually": "annual",
    "yearly": "annual",
    "year": "annual",
    "month": "monthly",
    "quarter": "quarterly",
    "higher_is_better": "higher",
    "lower_is_better": "lower",
    "bigger_is_better": "higher",
    "smaller_is_better": "lower",
    "high": "higher",
    "low": "lower",
    "average": "average",
    "mean": "average",
    "total": "sum",
    "latest": "last",
    "last_value": "last",
}


# --------------------------------------------------------------------------- problems


@dataclass(frozen=True, order=True)
class CellRef:
    """A cell (or, with ``column`` 0, a row; with ``row`` 0, a sheet) of the workbook."""

    order: int
    sheet: str
    row: int = 0
    column: int = 0

    def __str__(self) -> str:
        from openpyxl.utils import get_column_letter

        name = self.sheet
        if not re.fullmatch(r"[A-Za-z0-9_]+", name):
            name = "'" + name.replace("'", "''") + "'"
        if self.row == 0:
            return name
        if self.column == 0:
            return f"{name}!{self.row}:{self.row}"
        return f"{name}!{get_column_letter(self.column)}{self.row}"


@dataclass(frozen=True, order=True)
class SheetProblem:
    cell: CellRef | None
    reason: str

    def __str__(self) -> str:
        return f"{self.cell if self.cell is not None else 'workbook'}: {self.reason}"


class WorkbookInvalid(UserError):
    """The workbook has problems; nothing was written."""

    def __init__(self, problems: Iterable[SheetProblem]) -> None:
        self.problems = sorted(set(problems), key=_problem_order)
        first = self.problems[0] if self.problems else "no problems"
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        super().__init__(f"{first}{more}")


def _problem_order(problem: SheetProblem) -> tuple[Any, ...]:
    cell = problem.cell
    return (cell is not None, cell or CellRef(0, ""), problem.reason)


class _Bad(Exception):
    """A cell that cannot be read as its column says; the reason is for the person."""


# --------------------------------------------------------------------------- cells


def _norm(text: Any) -> str:
    """A header as compared: case, spacing, underscores and a trailing ``*``/``:`` ignored."""
    if text is None:
        return ""
    if isinstance(text, datetime | date):
        return text.isoformat()
    value = str(text).replace("\xa0", " ").replace("_", " ").strip().rstrip("*:").strip()
    return " ".join(value.casefold().split())


def _clean(value: Any) -> Any:
    """A cell's value with strings trimmed; blank is ``None``."""
    if isinstance(value, str):
        value = value.replace("\xa0", " ").strip()
        return value or None
    return value


def _number_text(value: int | float) -> str:
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return format(_float_decimal(value), "f")
    return str(value)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return _number_text(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return " ".join(str(value).split()) if "\n" not in str(value) else str(value).strip()


def _float_decimal(value: float) -> Decimal:
    """A float from a cell as the number typed: at most 15 significant digits (Excel's)."""
    number = Decimal(repr(value))
    if len(number.as_tuple().digits) > 15:
        number = Decimal(format(value, ".15g"))
    return _tidy(number)


def _tidy(number: Decimal) -> Decimal:
    if number == number.to_integral_value():
        return Decimal(int(number))
    return number


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise _Bad(f"expected a number, not {_text(value)!r}")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return _float_decimal(value)
    text = _text(value)
    cleaned = text.replace(",", "").replace("£", "").strip()
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        raise _Bad(f"{text!r} is not a number") from None
    if not number.is_finite():
        raise _Bad(f"{text!r} is not a number")
    return _tidy(number)


def _whole(value: Any) -> int:
    if isinstance(value, bool):
        raise _Bad(f"expected a whole number, not {_text(value)!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = _text(value)
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    raise _Bad(f"expected a whole number, not {text!r}")


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = _text(value).casefold()
    if text in {"yes", "y", "true", "x", "1"}:
        return True
    if text in {"no", "n", "false", "0"}:
        return False
    raise _Bad(f"expected yes or no, not {_text(value)!r}")


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    for pattern in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y", "%d %B %Y", "%d %b %Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise _Bad(f"{text!r} is not a date (dd/mm/yyyy)")


def _clock(value: Any) -> str:
    if isinstance(value, datetime):
        value = value.time()
    if isinstance(value, time):
        return f"{value.hour:02d}:{value.minute:02d}"
    if isinstance(value, float) and 0 <= value < 1:  # a time typed into a General cell
        minutes = round(value * 24 * 60)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"
    text = _text(value)
    match = re.fullmatch(r"(\d{1,2})[:.](\d{2})", text)
    if match and int(match.group(1)) < 24 and int(match.group(2)) < 60:
        return f"{int(match.group(1)):02d}:{match.group(2)}"
    raise _Bad(f"{text!r} is not a time of day (e.g. 09:00)")


def _choice(value: Any, column: Column) -> str:
    text = _text(value)
    word = re.sub(r"[\s\-]+", "_", text.casefold()).strip("_")
    word = _SYNONYMS.get(word, word)
    if word in column.choices:
        return word
    what = (
        column.key.replace("_", " ").rstrip("s")
        if column.kind is Kind.CHOICES
        else (column.key.replace("_", " "))
    )
    raise _Bad(f"unknown {what} {text!r} ({', '.join(column.choices)})")


def _split(value: Any) -> list[str]:
    return [part.strip() for part in _SPLIT.split(_text(value)) if part.strip()]


def _tolerance(value: Any, number_format: str) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "%" in number_format:  # 10% typed into a percentage cell is stored as 0.1
            return f"{format(_tidy(_decimal(value) * 100), 'f')}%"
        return format(_decimal(value), "f")
    return _text(value).replace(" ", "")


def _escalations(value: Any) -> list[dict[str, Any]]:
    steps = []
    for part in _split(value):
        match = re.fullmatch(r"(owner|escalation[ _]owner)\s*(?:after\s*)?\+?\s*(\d+)", part, re.I)
        if match is None:
            raise _Bad(f"escalation {part!r}: expected e.g. 'owner 2, escalation_owner 5'")
        to = match.group(1).casefold().replace(" ", "_")
        steps.append({"to": to, "after": int(match.group(2))})
    return steps


def _convert(column: Column, value: Any, number_format: str) -> Any:
    kind = column.kind
    if kind in (Kind.TEXT, Kind.CODE, Kind.PERSON, Kind.FORMULA):
        return _text(value)
    if kind in (Kind.PEOPLE, Kind.CODES):
        return _split(value)
    if kind is Kind.INT or kind is Kind.WHOLE:
        return _whole(value)
    if kind is Kind.INTS:
        return [_whole(part) for part in _split(value)]
    if kind is Kind.NUMBER:
        return _decimal(value)
    if kind is Kind.BOOL:
        return _bool(value)
    if kind is Kind.DATE:
        return _date(value)
    if kind is Kind.TIME:
        return _clock(value)
    if kind is Kind.TOLERANCE:
        return _tolerance(value, number_format)
    if kind is Kind.CHOICE:
        return _choice(value, column)
    if kind is Kind.CHOICES:
        return [_choice(part, column) for part in _split(value)]
    if kind is Kind.ESCALATIONS:
        return _escalations(value)
    raise AssertionError(kind)


# --------------------------------------------------------------------------- sheets


@dataclass
class Row:
    number: int
    values: dict[str, Any]
    cells: dict[str, CellRef]
    first: CellRef
    #: Values by period column (history and targets).
    periods: list[tuple[Period, Any, CellRef, str]] = field(default_factory=list)
    #: Components given in columns on the indicator's row: number -> field -> value.
    components: dict[int, dict[str, tuple[Any, CellRef]]] = field(default_factory=dict)


@dataclass
class Sheet:
    layout: SheetLayout
    name: str
    order: int
    rows: list[Row]


class _Reader:
    """Reads the workbook's sheets into rows of converted values, collecting problems."""

    def __init__(self, path: Path, layouts: tuple[SheetLayout, ...]) -> None:
        self.path = path
        self.layouts = layouts
        self.problems: list[SheetProblem] = []
        #: Required columns not found: the register's "required" for them is said already.
        self.missing: set[str] = set()
        self.values, self.formulas = _open(path)
        self.names = {_norm(name): name for name in self.values.sheetnames}

    def problem(self, cell: CellRef | None, reason: str) -> None:
        self.problems.append(SheetProblem(cell, reason))

    def sheets(self) -> dict[str, Sheet]:
        found: dict[str, Sheet] = {}
        for layout in self.layouts:
            name = self.names.get(_norm(layout.sheet))
            if name is None:
                if layout.required:
                    self.problem(None, f"no sheet named {layout.sheet!r}")
                continue
            sheet = self.read(layout, name)
            if sheet is not None:
                found[layout.section] = sheet
        return found

    def read(self, layout: SheetLayout, name: str) -> Sheet | None:
        ws, raw = self.values[name], self.formulas[name]
        order = self.values.sheetnames.index(name)
        sheet_ref = CellRef(order, name)
        merged = _merged_origins(ws)

        def shown(row: int, col: int) -> Any:
            origin = merged.get((row, col), (row, col))
            return _clean(ws.cell(*origin).value)

        header_row = layout.header_row or _find_header(ws, layout, shown)
        if header_row is None:
            self.problem(
                sheet_ref,
                f"no header row naming a {layout.columns[0].header!r} column in the first "
                f"{HEADER_SEARCH_ROWS} rows",
            )
            return None
        headers, data_start = _headers(ws, header_row, merged, shown, layout)
        columns: dict[str, int] = {}
        for column in layout.columns:
            wanted = {_norm(column.header), _norm(column.key)}
            col = next((c for c, text in headers.items() if _norm(text) in wanted), None)
            if col is not None:
                columns[column.key] = col
            elif column.required:
                self.problem(
                    CellRef(order, name, header_row, 1), f"no column headed {column.header!r}"
                )
                self.missing.add(column.key)
        if layout.columns[0].key not in columns:
            return None
        period_columns = self.period_columns(layout, headers, set(columns.values()))
        component_columns = {
            c: (int(m.group(1)), m.group(2))
            for c, text in headers.items()
            if layout.section == "indicators" and (m := _COMPONENT_COLUMN.match(_norm(text)))
        }
        wanted_columns = sorted(
            set(columns.values()) | {c for c, _, _ in period_columns} | set(component_columns)
        )
        formulas = {
            columns[c.key] for c in layout.columns if c.kind is Kind.FORMULA and c.key in columns
        }
        rows: list[Row] = []
        for number in range(data_start, ws.max_row + 1):
            raw_values = {
                col: self.cell_value(ws, raw, CellRef(order, name, number, col), col in formulas)
                for col in wanted_columns
            }
            present = [col for col, value in raw_values.items() if value is not None]
            if not present:
                continue  # a blank row, wherever it is
            row = Row(number, {}, {}, CellRef(order, name, number, present[0]))
            for column in layout.columns:
                col = columns.get(column.key)
                if col is None:
                    continue
                ref = CellRef(order, name, number, col)
                row.cells[column.key] = ref
                value = raw_values[col]
                if value is _UNREADABLE:
                    continue
                if value is None:
                    if column.required:
                        self.problem(ref, f"{column.key.replace('_', ' ')} is blank")
                    continue
                try:
                    row.values[column.key] = _convert(
                        column, value, ws.cell(number, col).number_format
                    )
                except _Bad as exc:
                    self.problem(ref, str(exc))
                    row.values[column.key] = _text(value)  # reported once, at this cell
            if layout.columns[0].key in columns and columns[layout.columns[0].key] in present:
                row.first = row.cells[layout.columns[0].key]
            for col, period, header in period_columns:
                value = raw_values[col]
                if value is not None and value is not _UNREADABLE:
                    row.periods.append((period, value, CellRef(order, name, number, col), header))
            for col, (index, part) in component_columns.items():
                value = raw_values[col]
                if value is not None and value is not _UNREADABLE:
                    entry = row.components.setdefault(index, {})
                    entry[part] = (value, CellRef(order, name, number, col))
            rows.append(row)
        return Sheet(layout, name, order, rows)

    def period_columns(
        self, layout: SheetLayout, headers: dict[int, Any], taken: set[int]
    ) -> list[tuple[int, Period, str]]:
        found = []
        for col, header in headers.items():
            if col in taken or header is None:
                continue
            period = _period_header(header, layout.periods)
            if period is not None:
                found.append((col, period, _text(header)))
        return found

    def cell_value(self, ws: Any, raw: Any, ref: CellRef, is_formula_column: bool) -> Any:
        value = _clean(ws.cell(ref.row, ref.column).value)
        source = raw.cell(ref.row, ref.column)
        formula = source.value
        is_formula = source.data_type == "f" and isinstance(formula, str)
        if is_formula and is_formula_column:
            # The Formula column holds formulas over component codes; typed with a leading
            # "=", Excel takes it for one of its own. Read the text, never a result.
            return _clean(formula[1:])
        if is_formula and value is None:
            self.problem(
                ref, "a formula with no saved value (open the workbook in Excel and save it)"
            )
            return _UNREADABLE
        if isinstance(value, str) and value in _ERROR_VALUES:
            self.problem(ref, f"the cell shows an error ({value})")
            return _UNREADABLE
        return value


_UNREADABLE = object()


def _open(path: Path) -> tuple[Any, Any]:
    import zipfile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    if not path.is_file():
        raise UserError(f"{path}: no such file")
    try:
        values = load_workbook(path, data_only=True)
        formulas = load_workbook(path, data_only=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise UserError(f"{path}: not an Excel workbook (.xlsx): {reason}") from None
    return values, formulas


def _merged_origins(ws: Any) -> dict[tuple[int, int], tuple[int, int]]:
    origins = {}
    for rng in ws.merged_cells.ranges:
        for row in range(rng.min_row, rng.max_row + 1):
            for col in range(rng.min_col, rng.max_col + 1):
                origins[(row, col)] = (rng.min_row, rng.min_col)
    return origins


def _find_header(ws: Any, layout: SheetLayout, shown: Any) -> int | None:
    first = layout.columns[0]
    wanted = {_norm(first.header), _norm(first.key)}
    for row in range(1, min(HEADER_SEARCH_ROWS, ws.max_row) + 1):
        for col in range(1, ws.max_column + 1):
            if _norm(shown(row, col)) in wanted:
                return row
    return None


def _headers(
    ws: Any,
    row: int,
    merged: dict[tuple[int, int], tuple[int, int]],
    shown: Any,
    layout: SheetLayout,
) -> tuple[dict[int, Any], int]:
    """Column headers, and the first data row.

    A header cell merged across several columns ("Targets" over two years) heads the
    sub-headers in the row below, which then make up each column's header ("Targets
    2025/26"), provided the first column has nothing of its own in that row.
    """
    width = ws.max_column
    spans = {
        origin
        for (r, c), origin in merged.items()
        if r == row and origin[0] == row and merged.get((row, c + 1)) == origin
    }
    first_col = next(
        (
            c
            for c in range(1, width + 1)
            if _norm(shown(row, c))
            in {_norm(layout.columns[0].header), _norm(layout.columns[0].key)}
        ),
        1,
    )
    below_first = merged.get((row + 1, first_col))
    two_rows = bool(spans) and (
        (below_first is not None and below_first[0] == row)
        or _clean(ws.cell(row + 1, first_col).value) is None
    )
    headers: dict[int, Any] = {}
    for col in range(1, width + 1):
        top = shown(row, col)
        if not two_rows:
            headers[col] = top
            continue
        below_origin = merged.get((row + 1, col))
        child = (
            None
            if below_origin is not None and below_origin[0] <= row
            else _clean(ws.cell(row + 1, col).value)
        )
        if isinstance(child, datetime | date) and top is None:
            headers[col] = child
        elif top is not None and child is not None:
            headers[col] = f"{_text(top)} {_text(child)}"
        else:
            headers[col] = top if top is not None else child
    return headers, row + (2 if two_rows else 1)


def _period_header(header: Any, kind: str | None) -> Period | None:
    if kind is None:
        return None
    if isinstance(header, datetime | date):
        return (
            month_of(header if isinstance(header, date) else header.date())
            if kind == ("history")
            else None
        )
    if not isinstance(header, str):
        return None
    text = " ".join(header.split())
    if kind == "targets":
        match = re.fullmatch(r"(?i)targets?\s*:?\s*(.+)|(.+?)\s+targets?", text)
        if match is None:
            return None
        text = match.group(1) or match.group(2)
    try:
        return parse_period(text)
    except PeriodError:
        return None


# --------------------------------------------------------------------------- documents


YamlPath = tuple[Any, ...]


@dataclass
class _Docs:
    """The register's YAML files as plain data, and the cell every key and item came from."""

    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: dict[YamlPath, CellRef] = field(default_factory=dict)

    def section(self, file: str, section: str, value: Any) -> None:
        if value:
            self.files.setdefault(file, {})[section] = value

    def note(self, path: YamlPath, cell: CellRef | None) -> None:
        if cell is not None:
            self.sources[path] = cell


class _Builder:
    def __init__(self, reader: _Reader, sheets: dict[str, Sheet]) -> None:
        self.reader = reader
        self.sheets = sheets
        self.docs = _Docs()
        self.names: dict[str, str | None] = {}
        #: Items by file and section, each with the row cells it came from.
        self.items: dict[tuple[str, str], list[tuple[dict[str, Any], dict[str, Any]]]] = {}
        self.components: dict[str, str] = {}  # component code -> indicator frequency

    def problem(self, cell: CellRef | None, reason: str) -> None:
        self.reader.problem(cell, reason)

    def rows(self, section: str) -> list[Row]:
        sheet = self.sheets.get(section)
        return sheet.rows if sheet is not None else []

    def add(
        self, file: str, section: str, doc: dict[str, Any], cells: dict[str, Any], first: CellRef
    ) -> None:
        items = self.items.setdefault((file, section), [])
        items.append((doc, {"": first, **cells}))

    def build(self) -> _Docs:
        self.people()
        self.departments()
        self.priorities()
        self.reports()
        self.indicators()
        self.projects()
        self.timetable()
        self.authority()
        self.settings()
        for (file, section), items in self.items.items():
            self.docs.section(file, section, [doc for doc, _ in items])
            for index, (_, cells) in enumerate(items):
                self.note_tree((file, section, index), cells)
        self.history()
        for file, sections in self.docs.files.items():
            self.docs.files[file] = {
                key: sections[key] for key in sorted(sections, key=SECTION_ORDER.index)
            }
        return self.docs

    def note_tree(self, path: YamlPath, cells: dict[str, Any]) -> None:
        for key, value in cells.items():
            if key == "":
                self.docs.note(path, value)
            elif isinstance(value, CellRef):
                self.docs.note((*path, key), value)
            elif isinstance(value, list):
                for index, child in enumerate(value):
                    if isinstance(child, dict):
                        self.note_tree((*path, key, index), child)
                    else:
                        self.docs.note((*path, key, index), child)
            elif isinstance(value, dict):
                self.note_tree((*path, key), value)

    # ---- people and organisation ------------------------------------------------------
    def people(self) -> None:
        for row in self.rows("people"):
            email, name = row.values.get("email"), row.values.get("name")
            if name is not None:
                key = name.casefold()
                self.names[key] = email if key not in self.names else "?" + name
        for row in self.rows("people"):
            email, name = row.values.get("email"), row.values.get("name")
            if email is None:
                cell = row.cells.get("email")
                if cell is not None:
                    self.reader.problems = [
                        p for p in self.reader.problems if p != SheetProblem(cell, "email is blank")
                    ]
                    self.problem(cell, f"{name or 'this person'} has no email address")
                continue
            doc = self.fields(row, ["email", "name", "job_title", "service_area", "roles"])
            self.person_list(row, doc, "delegates")
            self.add("organisation.yaml", "people", doc, self.cells_of(row, doc), row.first)

    def fields(self, row: Row, keys: list[str]) -> dict[str, Any]:
        return {key: row.values[key] for key in keys if row.values.get(key) not in (None, [])}

    def cells_of(self, row: Row, doc: dict[str, Any]) -> dict[str, Any]:
        cells: dict[str, Any] = {}
        for key, value in doc.items():
            cell = row.cells.get(key)
            if cell is None:
                continue
            cells[key] = [cell] * len(value) if isinstance(value, list) else cell
        return cells

    def person(self, text: str, cell: CellRef | None, what: str) -> str:
        if "@" in text:
            return text
        found = self.names.get(text.casefold(), "")
        if found is None:
            self.problem(cell, f"{what} {text} has no email address on the People sheet")
        elif found.startswith("?"):
            self.problem(cell, f"two people are called {text}: give the {what}'s email address")
        elif found:
            return found
        else:
            self.problem(
                cell,
                f"{what} {text!r} is neither an email address nor the name of anyone on "
                "the People sheet",
            )
        return text

    def person_field(self, row: Row, doc: dict[str, Any], key: str) -> None:
        text = row.values.get(key)
        if text is not None:
            doc[key] = self.person(text, row.cells.get(key), key.replace("_", " "))

    def person_list(self, row: Row, doc: dict[str, Any], key: str) -> None:
        names = row.values.get(key) or []
        what = key.rstrip("s").replace("_", " ")
        if names:
            doc[key] = [self.person(n, row.cells.get(key), what) for n in names]

    def departments(self) -> None:
        departments: dict[str, tuple[dict[str, Any], dict[str, Any], CellRef]] = {}
        for row in self.rows("departments"):
            code = row.values.get("department")
            if code is None:
                continue
            if code not in departments:
                doc: dict[str, Any] = {"code": code}
                cells: dict[str, Any] = {"code": row.cells["department"]}
                if "department_name" in row.values:
                    doc["name"] = row.values["department_name"]
                    cells["name"] = row.cells["department_name"]
                if row.values.get("head") is not None:
                    doc["head"] = self.person(row.values["head"], row.cells.get("head"), "head")
                    cells["head"] = row.cells["head"]
                doc["service_areas"] = []
                cells["service_areas"] = []
                departments[code] = (doc, cells, row.cells["department"])
            doc, cells, _ = departments[code]
            area = self.fields(row, ["service_area", "service_area_name"])
            area_doc = {"code": area.get("service_area"), "name": area.get("service_area_name")}
            doc["service_areas"].append({k: v for k, v in area_doc.items() if v is not None})
            cells["service_areas"].append(
                {
                    "": row.cells.get("service_area", row.first),
                    "code": row.cells.get("service_area"),
                    "name": row.cells.get("service_area_name"),
                }
            )
        for doc, cells, first in departments.values():
            self.add("organisation.yaml", "departments", doc, cells, first)

    def priorities(self) -> None:
        objectives: dict[str, tuple[dict[str, Any], dict[str, Any], CellRef]] = {}
        for row in self.rows("priorities"):
            code = row.values.get("objective")
            if code is None:
                continue
            if code not in objectives:
                doc: dict[str, Any] = {"code": code}
                cells: dict[str, Any] = {"code": row.cells["objective"]}
                if "objective_title" in row.values:
                    doc["title"] = row.values["objective_title"]
                    cells["title"] = row.cells["objective_title"]
                doc["priorities"], cells["priorities"] = [], []
                objectives[code] = (doc, cells, row.cells["objective"])
            doc, cells, _ = objectives[code]
            if row.values.get("priority") is None:
                if row.values.get("priority_title") is not None:
                    self.problem(row.cells.get("priority"), "priority is blank")
                continue
            priority = {"code": row.values["priority"]}
            if row.values.get("priority_title") is not None:
                priority["title"] = row.values["priority_title"]
            doc["priorities"].append(priority)
            cells["priorities"].append(
                {
                    "": row.cells["priority"],
                    "code": row.cells["priority"],
                    "title": row.cells.get("priority_title"),
                }
            )
        for doc, cells, first in objectives.values():
            if not doc["priorities"]:
                del doc["priorities"]
            self.add("framework.yaml", "objectives", doc, cells, first)

    def reports(self) -> None:
        for row in self.rows("reports"):
            doc = self.fields(row, ["code", "title", "kind"])
            self.person_list(row, doc, "recipients")
            self.add("framework.yaml", "reports", doc, self.cells_of(row, doc), row.first)

    # ---- indicators -------------------------------------------------------------------
    def indicators(self) -> None:
        by_code: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        keys = [
            "code",
            "title",
            "description",
            "type",
            "frequency",
            "polarity",
            "cumulative",
            "unit",
            "decimals",
            "formula",
            "service_area",
            "priority",
        ]
        optional = _optional_indicator_fields()
        indicator_rows = self.rows("indicators")
        for row in indicator_rows:
            doc = self.fields(row, keys)
            if doc.get("cumulative") is False:
                del doc["cumulative"]
            self.person_field(row, doc, "owner")
            self.person_list(row, doc, "updaters")
            self.person_field(row, doc, "escalation_owner")
            doc.update(self.fields(row, ["reports", "tolerance"]))
            cells = self.cells_of(row, doc)
            components, component_cells = self.components_in_columns(row, doc.get("code"))
            doc["components"], cells["components"] = components, component_cells
            targets: dict[str, Any] = {}
            target_cells: dict[str, Any] = {}
            for period, value, cell, _ in row.periods:
                self.target(targets, target_cells, period, value, None, cell, cell)
            doc["targets"], cells["targets"] = targets, target_cells
            doc.update(
                self.fields(row, [k for k in ("lg_inform_id", "sdl_reference") if k in optional])
            )
            cells.update(self.cells_of(row, {k: doc[k] for k in optional if k in doc}))
            self.add("indicators.yaml", "indicators", doc, cells, row.first)
            if "code" in doc:
                by_code.setdefault(doc["code"], (doc, cells))
        folded = {code.casefold(): entry for code, entry in by_code.items()}

        def find(code: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
            return by_code.get(code) or folded.get(code.casefold())

        for row in self.rows("components"):
            indicator = row.values.get("indicator")
            if indicator is None:
                continue
            entry = find(indicator)
            if entry is None:
                self.problem(
                    row.cells["indicator"], f"no indicator {indicator!r} on the Indicators sheet"
                )
                continue
            doc, cells = entry
            comp = self.fields(row, ["code", "title", "unit", "min", "max", "aggregation"])
            if "code" in comp and comp["code"].isdigit():
                comp["code"] = f"{doc['code']}.{comp['code']}"
            doc["components"].append(comp)
            cells["components"].append({"": row.first, **self.cells_of(row, comp)})
        for row in self.rows("targets"):
            indicator = row.values.get("indicator")
            text = row.values.get("period")
            if indicator is None or text is None or "value" not in row.values:
                continue
            entry = find(indicator)
            if entry is None:
                self.problem(
                    row.cells["indicator"], f"no indicator {indicator!r} on the Indicators sheet"
                )
                continue
            raw_period = (
                self.reader.values[row.cells["period"].sheet]
                .cell(row.number, row.cells["period"].column)
                .value
            )
            try:
                if isinstance(raw_period, datetime | date):
                    period = month_of(
                        raw_period.date() if isinstance(raw_period, datetime) else raw_period
                    )
                else:
                    period = parse_period(text)
            except PeriodError as exc:
                self.problem(row.cells["period"], f"period: {exc}")
                continue
            doc, cells = entry
            self.target(
                doc["targets"],
                cells["targets"],
                period,
                row.values["value"],
                row.values.get("tolerance"),
                row.cells["value"],
                row.cells.get("tolerance"),
            )
        for doc, cells in self.items.get(("indicators.yaml", "indicators"), []):
            for key in ("components", "targets"):
                if not doc[key]:
                    del doc[key]
                    cells.pop(key, None)
            if "targets" in doc:
                ordered = sorted(doc["targets"], key=parse_period)
                doc["targets"] = {k: doc["targets"][k] for k in ordered}
            for comp in doc.get("components", []):
                if "code" in comp:
                    self.components[comp["code"]] = doc.get("frequency", "")

    def components_in_columns(
        self, row: Row, indicator: str | None
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        components: list[dict[str, Any]] = []
        cells: list[dict[str, Any]] = []
        from mailcapture.spreadsheets.layout import COMPONENTS

        for index in sorted(row.components):
            given = row.components[index]
            comp: dict[str, Any] = {}
            comp_cells: dict[str, Any] = {}
            for key in ("code", "title", "unit", "min", "max", "aggregation"):
                if key not in given:
                    continue
                value, cell = given[key]
                try:
                    comp[key] = _convert(COMPONENTS.column(key), value, "General")
                except _Bad as exc:
                    self.problem(cell, str(exc))
                    comp[key] = _text(value)
                comp_cells[key] = cell
            if "code" in comp and comp["code"].isdigit() and indicator:
                comp["code"] = f"{indicator}.{comp['code']}"
            first = comp_cells.get("code") or next(iter(comp_cells.values()))
            components.append(comp)
            cells.append({"": first, **comp_cells})
        return components, cells

    def target(
        self,
        targets: dict[str, Any],
        cells: dict[str, Any],
        period: Period,
        value: Any,
        tolerance: str | None,
        cell: CellRef,
        tolerance_cell: CellRef | None,
    ) -> None:
        if period.code in targets:
            first = cells[period.code]
            first_cell = first if isinstance(first, CellRef) else first[""]
            self.problem(cell, f"a second target for {period.code} (the first is at {first_cell})")
            return
        try:
            number = value if isinstance(value, Decimal) else _decimal(value)
        except _Bad as exc:
            self.problem(cell, str(exc))
            return
        if tolerance is None:
            targets[period.code] = number
            cells[period.code] = cell
        else:
            targets[period.code] = {"value": number, "tolerance": tolerance}
            cells[period.code] = {"": cell, "value": cell, "tolerance": tolerance_cell}

    # ---- projects ---------------------------------------------------------------------
    def projects(self) -> None:
        by_code: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        for row in self.rows("projects"):
            doc = self.fields(row, ["code", "title", "description", "priority", "service_area"])
            self.person_field(row, doc, "owner")
            self.person_field(row, doc, "updater")
            self.person_field(row, doc, "escalation_owner")
            if row.values.get("key") is True:
                doc["key"] = True
            doc.update(self.fields(row, ["start", "due", "completed"]))
            cells = self.cells_of(row, doc)
            doc["milestones"], cells["milestones"] = [], []
            self.add("projects.yaml", "projects", doc, cells, row.first)
            if "code" in doc:
                by_code.setdefault(doc["code"], (doc, cells))
        for row in self.rows("milestones"):
            project = row.values.get("project")
            if project is None:
                continue
            entry = by_code.get(project)
            if entry is None:
                self.problem(row.cells["project"], f"no project {project!r} on the Projects sheet")
                continue
            doc, cells = entry
            milestone = self.fields(row, ["code", "title", "start", "due", "completed"])
            doc["milestones"].append(milestone)
            cells["milestones"].append({"": row.first, **self.cells_of(row, milestone)})
        for doc, _ in self.items.get(("projects.yaml", "projects"), []):
            if not doc["milestones"]:
                del doc["milestones"]

    # ---- timetable, authority, settings ------------------------------------------------
    def timetable(self) -> None:
        if "timetable" not in self.sheets:
            self.docs.section("timetable.yaml", "timetable", DEFAULT_TIMETABLE)
        else:
            entries: dict[str, Any] = {}
            cells: dict[str, Any] = {}
            for row in self.rows("timetable"):
                frequency = row.values.get("frequency")
                if frequency is None:
                    continue
                if frequency in entries:
                    self.problem(row.cells["frequency"], f"a second timetable for {frequency}")
                    continue
                v, c = row.values, row.cells
                entries[frequency] = {
                    "request": {"working_day": v.get("request_day"), "time": v.get("request_time")},
                    "due": {"working_day": v.get("due_day"), "time": v.get("due_time")},
                    "reminders": v.get("reminders", []),
                    "escalations": v.get("escalations", []),
                    "returns_summary": {"after": v.get("summary_after")},
                }
                cells[frequency] = {
                    "": c["frequency"],
                    "request": {
                        "": c.get("request_day"),
                        "working_day": c.get("request_day"),
                        "time": c.get("request_time"),
                    },
                    "due": {
                        "": c.get("due_day"),
                        "working_day": c.get("due_day"),
                        "time": c.get("due_time"),
                    },
                    "reminders": [c.get("reminders")] * len(v.get("reminders", [])),
                    "escalations": [
                        {
                            "": c.get("escalations"),
                            "to": c.get("escalations"),
                            "after": c.get("escalations"),
                        }
                    ]
                    * len(v.get("escalations", [])),
                    "returns_summary": {
                        "": c.get("summary_after"),
                        "after": c.get("summary_after"),
                    },
                }
            self.docs.section("timetable.yaml", "timetable", entries)
            self.note_tree(("timetable.yaml", "timetable"), cells)
        holidays = self.rows("bank_holidays")
        for row in holidays:
            doc = self.fields(row, ["date", "name"])
            self.add("timetable.yaml", "bank_holidays", doc, self.cells_of(row, doc), row.first)

    def authority(self) -> None:
        if "authority" not in self.sheets:
            self.docs.section("framework.yaml", "authority", DEFAULT_AUTHORITY)
            return
        for row in self.rows("authority"):
            doc = self.fields(row, ["change", "approvers"])
            self.add("framework.yaml", "authority", doc, self.cells_of(row, doc), row.first)

    def settings(self) -> None:
        mail: dict[str, Any] = {}
        mail_cells: dict[str, Any] = {}
        capture: dict[str, Any] = {}
        capture_cells: dict[str, Any] = {}
        council: dict[str, Any] = {}
        council_cells: dict[str, Any] = {}
        has_council = _council_section()
        seen: dict[str, CellRef] = {}
        for row in self.rows("settings"):
            name = row.values.get("setting")
            if name is None:
                continue
            key = re.sub(r"[\s\-]+", "_", name.casefold())
            cell = row.cells.get("value", row.cells["setting"])
            if key in seen:
                self.problem(row.cells["setting"], f"{name} is set twice (first at {seen[key]})")
                continue
            seen[key] = row.cells["setting"]
            value = row.values.get("value")
            if value is None:
                continue
            if key in MAIL_SETTINGS:
                mail[key], mail_cells[key] = value, cell
            elif key == "plausibility_factor":
                capture[key], capture_cells[key] = value, cell
            elif key == "ons_area_code" and has_council:
                council[key], council_cells[key] = value, cell
            else:
                known = [*MAIL_SETTINGS, "plausibility_factor"] + (
                    ["ons_area_code"] if has_council else []
                )
                self.problem(row.cells["setting"], f"unknown setting {name!r} ({', '.join(known)})")
        for section, doc, cells in (
            ("mail", mail, mail_cells),
            ("council", council, council_cells),
            ("capture", capture, capture_cells),
        ):
            if doc:
                ordered = {k: doc[k] for k in sorted(doc, key=_setting_order)}
                self.docs.section("mail.yaml", section, ordered)
                first = min(cells.values())
                self.note_tree(("mail.yaml", section), {"": first, **cells})

    # ---- history ----------------------------------------------------------------------
    def history(self) -> None:
        by_year: dict[int, dict[str, dict[str, Decimal]]] = {}
        for row in self.rows("history"):
            code = row.values.get("component")
            if code is None:
                continue
            if code.isdigit() and row.values.get("indicator"):
                code = f"{row.values['indicator']}.{code}"
            frequency = self.components.get(code, "")
            seen: dict[str, CellRef] = {}
            for period, value, cell, _ in row.periods:
                period = _collected(period, frequency)
                if period.code in seen:
                    self.problem(
                        cell,
                        f"a second value for {code} {period.code} "
                        f"(the first is at {seen[period.code]})",
                    )
                    continue
                seen[period.code] = cell
                try:
                    number = _decimal(value)
                except _Bad as exc:
                    self.problem(cell, str(exc))
                    continue
                values = by_year.setdefault(period.fy, {}).setdefault(code, {})
                values[period.code] = number
                file = _history_file(period.fy)
                self.docs.note((file, "history", code), row.cells["component"])
                self.docs.note((file, "history", code, period.code), cell)
        for fy in sorted(by_year):
            mapping = {
                code: {k: values[k] for k in sorted(values, key=parse_period)}
                for code, values in by_year[fy].items()
            }
            self.docs.section(_history_file(fy), "history", mapping)


def _collected(period: Period, frequency: str) -> Period:
    """A quarterly figure under its quarter's last month is the quarter's; an annual one
    under March, the year's."""
    if period.kind is PeriodKind.MONTH:
        if frequency == "quarterly" and period.index % 3 == 0:
            return Period(period.fy, PeriodKind.QUARTER, period.index // 3)
        if frequency == "annual" and period.index == 12:
            return Period(period.fy, PeriodKind.YEAR, 1)
    return period


def _history_file(fy: int) -> str:
    return f"history-{fy}-{(fy + 1) % 100:02d}.yaml"


def _setting_order(key: str) -> int:
    order = [*MAIL_SETTINGS, "ons_area_code", "plausibility_factor"]
    return order.index(key) if key in order else len(order)


def _optional_indicator_fields() -> set[str]:
    """Indicator fields that this release's register may or may not have."""
    from mailcapture.register import schema

    return {
        key for key in ("lg_inform_id", "sdl_reference") if key in schema.IndicatorDoc.model_fields
    }


def _council_section() -> bool:
    from mailcapture.register import validate

    return "council" in validate.SINGLE_SECTIONS


# --------------------------------------------------------------------------- YAML


SECTION_ORDER = [
    "departments",
    "people",
    "objectives",
    "reports",
    "authority",
    "indicators",
    "projects",
    "timetable",
    "bank_holidays",
    "mail",
    "council",
    "capture",
    "history",
]
FILE_ORDER = (
    "organisation.yaml",
    "framework.yaml",
    "indicators.yaml",
    "projects.yaml",
    "timetable.yaml",
    "mail.yaml",
)


def _yaml() -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.representer import RoundTripRepresenter

    yaml = YAML(typ="rt")
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.default_flow_style = False

    def decimal(representer: RoundTripRepresenter, value: Decimal) -> Any:
        if value == value.to_integral_value():
            return representer.represent_int(int(value))
        return representer.represent_scalar("tag:yaml.org,2002:float", format(value, "f"))

    yaml.representer.add_representer(Decimal, decimal)
    return yaml


def dump(document: dict[str, Any]) -> str:
    stream = StringIO()
    _yaml().dump(document, stream)
    return HEADER_NOTE + stream.getvalue()


def _line_cells(text: str, file: str, sources: dict[YamlPath, CellRef]) -> dict[int, CellRef]:
    """Which cell each line of a written file came from."""
    from ruamel.yaml import YAML

    root = YAML(typ="rt").load(text)
    lines: dict[int, CellRef] = {}

    def walk(node: Any, path: YamlPath, inherited: CellRef | None) -> None:
        lc: Any = getattr(node, "lc", None)
        if isinstance(node, dict):
            for key in node:
                child_path = (*path, key)
                cell = sources.get(child_path, inherited)
                if cell is not None:
                    lines[lc.key(key)[0] + 1] = cell
                walk(node[key], child_path, cell)
        elif isinstance(node, list):
            for index, item in enumerate(node):
                child_path = (*path, index)
                cell = sources.get(child_path, inherited)
                if cell is not None:
                    lines.setdefault(lc.item(index)[0] + 1, cell)
                walk(item, child_path, cell)

    walk(root, (file,), None)
    return lines


# --------------------------------------------------------------------------- the import


def read_register(
    path: Path, layouts: tuple[SheetLayout, ...] = DEFAULT_LAYOUT
) -> dict[str, bytes]:
    """The register folder's files (name -> bytes) for the workbook at ``path``.

    Raises :class:`WorkbookInvalid` naming every problem by ``Sheet!Cell``; the files
    returned pass the register's own validation.
    """
    reader = _Reader(path, layouts)
    sheets = reader.sheets()
    if "indicators" in sheets and not sheets["indicators"].rows:
        sheet = sheets["indicators"]
        reader.problem(CellRef(sheet.order, sheet.name), "no indicators on the sheet")
    docs = _Builder(reader, sheets).build()
    names = sorted(docs.files, key=lambda n: (FILE_ORDER.index(n) if n in FILE_ORDER else 99, n))
    texts = {name: dump(docs.files[name]) for name in names}
    problems = list(reader.problems)
    problems += _validate(texts, docs.sources, problems, reader.missing)
    if problems:
        raise WorkbookInvalid(problems)
    return {name: text.encode("utf-8") for name, text in texts.items()}


def _validate(
    texts: dict[str, str],
    sources: dict[YamlPath, CellRef],
    found: list[SheetProblem],
    missing: set[str],
) -> list[SheetProblem]:
    """The register's own checks over the YAML, their problems traced back to cells."""
    from mailcapture.register.source import RegisterInvalid
    from mailcapture.register.validate import load_register

    with tempfile.TemporaryDirectory(prefix="mailcapture-import-") as tmp:
        folder = Path(tmp)
        for name, text in texts.items():
            (folder / name).write_text(text, encoding="utf-8")
        try:
            load_register(folder)
        except RegisterInvalid as exc:
            raw = exc.problems
        else:
            return []
        lines = {name: _line_cells(text, name, sources) for name, text in texts.items()}

        def cell_at(file: str, line: int) -> CellRef | None:
            mapped = lines.get(Path(file).name, {})
            candidates = [n for n in mapped if n <= line]
            return mapped[max(candidates)] if candidates else None

        def rewrite(reason: str) -> str:
            def place(match: re.Match[str]) -> str:
                cell = cell_at(match.group(1), int(match.group(2)))
                return str(cell) if cell is not None else match.group(0)

            return re.sub(rf"({re.escape(str(folder))}/[\w.\-]+):(\d+)", place, reason)

    cells_with_problems = {p.cell for p in found}
    rows_with_problems = {(p.cell.sheet, p.cell.row) for p in found if p.cell is not None}
    problems = []
    for problem in raw:
        cell = cell_at(problem.file, problem.line) if problem.line else None
        reason = rewrite(problem.reason)
        if cell is not None and cell in cells_with_problems:
            continue  # already reported, as read from the cell
        if (
            cell is not None
            and (cell.sheet, cell.row) in rows_with_problems
            and reason.endswith(": required")
        ):
            continue  # the blank or unreadable cell is reported already
        if any(reason.endswith(f"{key}: required") for key in missing):
            continue  # the missing column is reported already
        if cell is None and problem.line == 0:
            reason = f"register: {reason}"
        problems.append(SheetProblem(cell, reason))
    return problems


def write_register(files: dict[str, bytes], out: Path) -> list[Path]:
    """Write the folder: each file replaced whole; register files no longer made, removed."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in files.items():
        target = out / name
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=out)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
        written.append(target)
    for stale in sorted(out.iterdir()):
        if stale.suffix in {".yaml", ".yml"} and stale.name not in files and stale.is_file():
            stale.unlink()
    return written


def import_register(
    workbook: Path, out: Path, layouts: tuple[SheetLayout, ...] = DEFAULT_LAYOUT
) -> list[Path]:
    """Read, validate, then write: nothing is written while any problem remains."""
    return write_register(read_register(workbook, layouts), out)
