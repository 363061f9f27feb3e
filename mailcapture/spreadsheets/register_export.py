"""``mailcapture export register --format xlsx``: a register back to a workbook.

Why: the performance team keeps working in the workbook after the import, so the register
goes back out in the default layout (:mod:`layout`), and importing that workbook gives the
same register again. The empty template (``import register --template``) is the same
writer with no rows, plus a ``README`` sheet that explains every column.

Pure apart from writing the file: it takes a validated
:class:`~mailcapture.register.model.Register`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from mailcapture.domain.enums import ApproverKind, ChangeKind, Role, ToleranceKind
from mailcapture.domain.periods import Period, PeriodKind
from mailcapture.register.model import IndicatorSpec, PrioritySpec, Register, TargetSpec
from mailcapture.spreadsheets.layout import (
    AUTHORITY,
    BANK_HOLIDAYS,
    COMPONENTS,
    DEFAULT_LAYOUT,
    DEPARTMENTS,
    HISTORY,
    INDICATORS,
    MILESTONES,
    PEOPLE,
    PRIORITIES,
    PROJECTS,
    REPORTS,
    SETTINGS,
    TARGETS,
    TIMETABLE,
    Kind,
    SheetLayout,
)

DATE_FORMAT = "dd/mm/yyyy"


@dataclass
class _Table:
    layout: SheetLayout
    extra_headers: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)


def _tolerance_text(value: Decimal | None, kind: ToleranceKind) -> str | None:
    if value is None:
        return None
    text = format(value, "f")
    return f"{text}%" if kind is ToleranceKind.PERCENT else text


def _inherits(target: TargetSpec, indicator: IndicatorSpec) -> bool:
    return target.tolerance == indicator.tolerance and (
        target.tolerance is None or target.tolerance_kind is indicator.tolerance_kind
    )


def _join(values: Iterable[str]) -> str | None:
    text = ", ".join(values)
    return text or None


def _periods_in_order(periods: Iterable[Period]) -> list[Period]:
    kinds = [PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.YEAR]
    return sorted(set(periods), key=lambda p: (kinds.index(p.kind), p.fy, p.index))


def _tables(
    register: Register, target_years: Sequence[Period] = (), history: Sequence[Period] = ()
) -> list[_Table]:
    # ---- indicators, components, targets
    column_years = set(target_years)
    for ind in register.indicators:
        for target in ind.targets:
            if target.period.kind is PeriodKind.YEAR and _inherits(target, ind):
                column_years.add(target.period)
    years = sorted(column_years, key=lambda p: p.fy)
    indicators = _Table(INDICATORS, [f"Target {p.code}" for p in years])
    targets = _Table(TARGETS)
    for ind in register.indicators:
        in_columns = {
            t.period: t.value for t in ind.targets if t.period in column_years and _inherits(t, ind)
        }
        indicators.rows.append(
            [
                ind.code,
                ind.title,
                ind.description,
                ind.type.value,
                ind.frequency.value,
                ind.polarity.value,
                "yes" if ind.cumulative else None,
                ind.unit,
                ind.decimals,
                ind.formula_text,
                ind.service_area,
                ind.priority,
                ind.owner,
                _join(ind.updaters),
                ind.escalation_owner,
                _join(ind.reports),
                _tolerance_text(ind.tolerance, ind.tolerance_kind),
                getattr(ind, "lg_inform_id", None),
                getattr(ind, "sdl_reference", None),
                *[in_columns.get(p) for p in years],
            ]
        )
        for target in ind.targets:
            if target.period in in_columns:
                continue
            own = None if _inherits(target, ind) else target
            targets.rows.append(
                [
                    ind.code,
                    target.period.code,
                    target.value,
                    _tolerance_text(own.tolerance, own.tolerance_kind) if own else None,
                ]
            )
    components = _Table(COMPONENTS)
    for comp in register.components:
        components.rows.append(
            [
                comp.declared_by,
                comp.code,
                comp.title,
                comp.unit,
                comp.min_value,
                comp.max_value,
                comp.aggregation.value,
            ]
        )
    # ---- history: one row per component, one column per period
    periods = _periods_in_order([*history, *(h.period for h in register.history)])
    by_component: dict[str, dict[Period, Decimal]] = {}
    for value in register.history:
        by_component.setdefault(value.component, {})[value.period] = value.value
    declared_by = {c.code: c.declared_by for c in register.components}
    history_table = _Table(HISTORY, [p.code for p in periods])
    for code, values in by_component.items():
        history_table.rows.append([code, declared_by.get(code), *[values.get(p) for p in periods]])
    # ---- people and organisation
    role_order = list(Role)
    people = _Table(PEOPLE)
    for person in register.people:
        people.rows.append(
            [
                person.email,
                person.name,
                person.job_title,
                person.service_area,
                _join(r.value for r in sorted(person.roles, key=role_order.index)),
                _join(person.delegates),
            ]
        )
    departments = _Table(DEPARTMENTS)
    names = {d.code: d for d in register.departments}
    for area in register.service_areas:
        dept = names[area.department]
        departments.rows.append([dept.code, dept.name, dept.head, area.code, area.name])
    priorities = _Table(PRIORITIES)
    for objective in register.objectives:
        in_objective = [p for p in register.priorities if p.objective == objective.code]
        rows: list[PrioritySpec | None] = [*in_objective] or [None]
        for priority in rows:
            priorities.rows.append(
                [
                    objective.code,
                    objective.title,
                    priority.code if priority else None,
                    priority.title if priority else None,
                ]
            )
    reports = _Table(REPORTS)
    for report in register.reports:
        reports.rows.append(
            [report.code, report.title, report.kind.value, _join(report.recipients)]
        )
    # ---- projects
    projects = _Table(PROJECTS)
    milestones = _Table(MILESTONES)
    for project in register.projects:
        projects.rows.append(
            [
                project.code,
                project.title,
                project.description,
                project.priority,
                project.service_area,
                project.owner,
                project.updater,
                project.escalation_owner,
                "yes" if project.key else None,
                project.start,
                project.due,
                project.completed,
            ]
        )
        for ms in project.milestones:
            if not ms.is_overall:
                milestones.rows.append(
                    [project.code, ms.code, ms.title, ms.start, ms.due, ms.completed]
                )
    # ---- timetable, authority, settings
    timetable = _Table(TIMETABLE)
    for entry in register.timetable:
        timetable.rows.append(
            [
                entry.frequency.value,
                entry.request_working_day,
                entry.request_time.strftime("%H:%M"),
                entry.due_working_day,
                entry.due_time.strftime("%H:%M"),
                _join(str(r) for r in entry.reminders),
                _join(f"{s.to} {s.after}" for s in entry.escalations),
                entry.summary_after,
            ]
        )
    holidays = _Table(BANK_HOLIDAYS, rows=[[day, title] for day, title in register.bank_holidays])
    authority = _Table(AUTHORITY)
    approvers: dict[ChangeKind, list[ApproverKind]] = {}
    for change, approver in register.authority:
        approvers.setdefault(change, []).append(approver)
    for change, kinds in approvers.items():
        authority.rows.append([change.value, _join(k.value for k in kinds)])
    settings = _Table(SETTINGS)
    mail = register.mail
    if mail is not None:
        for key, setting in (
            ("council", mail.council),
            ("from", mail.from_address),
            ("reply_domain", mail.reply_domain),
            ("reply_local", mail.reply_local),
            ("separator", mail.separator),
            ("performance_team", mail.performance_team),
            ("authserv_id", mail.authserv_id),
        ):
            if setting is not None:
                settings.rows.append([key, setting])
    council = getattr(register, "council", None)
    ons = getattr(council, "ons_area_code", None)
    if ons is not None:
        settings.rows.append(["ons_area_code", ons])
    if register.capture.plausibility_factor != Decimal(10):
        settings.rows.append(["plausibility_factor", register.capture.plausibility_factor])
    tables = [
        indicators,
        components,
        targets,
        history_table,
        people,
        departments,
        priorities,
        reports,
        projects,
        milestones,
        timetable,
        holidays,
        authority,
        settings,
    ]
    assert [t.layout.section for t in tables] == [layout.section for layout in DEFAULT_LAYOUT]
    return tables


def _cell_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    return value


def _write(tables: list[_Table], path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    readme = workbook.active
    assert readme is not None
    readme.title = "README"
    _readme(readme)
    bold = Font(bold=True)
    for table in tables:
        ws = workbook.create_sheet(table.layout.sheet)
        headers = [c.header for c in table.layout.columns] + table.extra_headers
        ws.append(headers)
        for cell in ws[1]:
            cell.font = bold
        text_columns = {
            i + 1
            for i, c in enumerate(table.layout.columns)
            if c.kind not in (Kind.INT, Kind.WHOLE, Kind.NUMBER, Kind.DATE)
        }
        for row in table.rows:
            ws.append([_cell_value(v) for v in row])
            for cell in ws[ws.max_row]:
                if isinstance(cell.value, date):
                    cell.number_format = DATE_FORMAT
                elif isinstance(cell.value, str) and cell.column in text_columns:
                    cell.data_type = "s"  # text, even when it starts with "="
                    cell.number_format = "@"
        ws.freeze_panes = "A2"
        for index, header in enumerate(headers, start=1):
            width = max([len(str(header))] + [len(str(r[index - 1] or "")) for r in table.rows])
            ws.column_dimensions[get_column_letter(index)].width = min(max(width + 2, 8), 60)
        for cell in ws[1]:
            cell.alignment = Alignment(vertical="top")
    workbook.save(path)


def _readme(ws: Any) -> None:
    from openpyxl.styles import Alignment, Font

    ws.append(["mailcapture register workbook"])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(
        [
            "Import with `mailcapture import register WORKBOOK.xlsx --out FOLDER`, then "
            "`mailcapture load FOLDER`. Sheets are found by name and columns by their "
            "header (in any order; other columns are passed over). A person may be named "
            "by email address or by their name on the People sheet."
        ]
    )
    ws.append([])
    ws.append(["Sheet", "Column", "Required", "What it holds"])
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    for layout in DEFAULT_LAYOUT:
        ws.append([layout.sheet, "", "yes" if layout.required else "", layout.help])
        ws[ws.max_row][0].font = Font(bold=True)
        for column in layout.columns:
            text = column.help or f"One of: {', '.join(column.choices)}."
            ws.append([layout.sheet, column.header, "yes" if column.required else "", text])
    ws.column_dimensions["A"].width = 16
    ws.column_dimensions["B"].width = 24
    ws.column_dimensions["C"].width = 10
    ws.column_dimensions["D"].width = 100
    for row in ws.iter_rows():
        for cell in row:
            cell.alignment = Alignment(wrap_text=cell.column == 4, vertical="top")


def export_register(register: Register, path: Path) -> None:
    """Write ``register`` to ``path`` in the default layout."""
    _write(_tables(register), path)


def write_template(path: Path, today: date) -> None:
    """An empty workbook in the default layout: target columns for this financial year
    and the next, history columns for the months of the last one, and the README."""
    from mailcapture.domain.periods import financial_year_of

    fy = financial_year_of(today)
    years = [Period(fy, PeriodKind.YEAR, 1), Period(fy + 1, PeriodKind.YEAR, 1)]
    months = [Period(fy - 1, PeriodKind.MONTH, index) for index in range(1, 13)]
    _write(_tables(Register(), years, months), path)
