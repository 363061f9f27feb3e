"""The default register workbook layout, and the mapping file that adapts it to a council's.

One sheet per register section, one row per item, a header row naming the columns. The
import finds each sheet by name and each column by its header (case, spaces and a trailing
``*`` or ``:`` do not matter), so the columns may be in any order and a council's extra
columns are passed over. A mapping file (``--map mapping.yaml``) renames sheets and
columns where a council's workbook says it differently::

    indicators:
      sheet: PI register
      header_row: 3          # optional: otherwise the first row naming the code column
      columns: {code: PI ref, title: Indicator, owner: Responsible officer}
    history:
      sheet: Actuals

Pure data: the import and the export both read their columns from here, so the template,
the export and the import cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mailcapture.domain.enums import (
    Aggregation,
    ApproverKind,
    ChangeKind,
    Frequency,
    IndicatorType,
    Polarity,
    ReportKind,
    Role,
)
from mailcapture.errors import UserError


class Kind(StrEnum):
    """How a cell is read."""

    TEXT = "text"
    CODE = "code"
    PERSON = "person"  # an email address, or the name of someone on the People sheet
    PEOPLE = "people"  # several of those, separated by commas, semicolons or lines
    CODES = "codes"
    INT = "int"
    INTS = "ints"
    WHOLE = "whole"  # an id: a whole number, kept as a number
    NUMBER = "number"
    BOOL = "bool"
    DATE = "date"
    TIME = "time"
    TOLERANCE = "tolerance"
    FORMULA = "formula"
    CHOICE = "choice"
    CHOICES = "choices"
    ESCALATIONS = "escalations"


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    kind: Kind = Kind.TEXT
    required: bool = False
    choices: tuple[str, ...] = ()
    help: str = ""


@dataclass(frozen=True)
class SheetLayout:
    section: str
    sheet: str
    columns: tuple[Column, ...]
    help: str
    #: The sheet must be in the workbook (the others are optional).
    required: bool = False
    #: Extra columns headed by a period: ``targets`` (``Target 2026/27``) or ``history``.
    periods: str | None = None
    #: The header row (1-based); ``None``: the first row that names the first column.
    header_row: int | None = None

    def column(self, key: str) -> Column:
        for column in self.columns:
            if column.key == key:
                return column
        raise KeyError(key)


def _values(enum: Any) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


FREQUENCIES = _values(Frequency)

INDICATORS = SheetLayout(
    "indicators",
    "Indicators",
    (
        Column("code", "Code", Kind.CODE, True, help="Indicator code, e.g. BV8a (unique)."),
        Column("title", "Title", Kind.TEXT, True, help="What the indicator measures."),
        Column("description", "Description", help="Definition or notes (optional)."),
        Column(
            "type",
            "Type",
            Kind.CHOICE,
            True,
            _values(IndicatorType),
            "single_data_list, ex_best_value, local or statistic.",
        ),
        Column(
            "frequency",
            "Frequency",
            Kind.CHOICE,
            True,
            FREQUENCIES,
            "monthly, quarterly or annual.",
        ),
        Column(
            "polarity",
            "Polarity",
            Kind.CHOICE,
            True,
            _values(Polarity),
            "higher or lower (is better), or neutral for a statistic.",
        ),
        Column(
            "cumulative",
            "Cumulative",
            Kind.BOOL,
            help="yes for a year-to-date figure (compared with the same period last year).",
        ),
        Column("unit", "Unit", Kind.TEXT, True, help="%, £, days, number, ..."),
        Column("decimals", "Decimals", Kind.INT, help="Decimal places shown (default 0)."),
        Column(
            "formula",
            "Formula",
            Kind.FORMULA,
            help="Over component codes, e.g. 100 * BV8a.1 / BV8a.2; blank for one component.",
        ),
        Column("service_area", "Service area", Kind.CODE, True, help="Service area code."),
        Column("priority", "Key priority", Kind.CODE, help="Key priority code (optional)."),
        Column("owner", "Owner", Kind.PERSON, True, help="Email address or name on People."),
        Column(
            "updaters",
            "Updaters",
            Kind.PEOPLE,
            True,
            help="Who sends the figures: addresses or names, separated by commas.",
        ),
        Column(
            "escalation_owner",
            "Escalation owner",
            Kind.PERSON,
            help="Default: the head of the department.",
        ),
        Column("reports", "Reports", Kind.CODES, help="Report codes, separated by commas."),
        Column(
            "tolerance",
            "Tolerance",
            Kind.TOLERANCE,
            help="Amber band: a number, or a percentage such as 10%.",
        ),
        Column(
            "lg_inform_id",
            "LG Inform id",
            Kind.WHOLE,
            help="LG Inform metric id (optional).",
        ),
        Column("sdl_reference", "SDL reference", help="Single Data List reference (optional)."),
    ),
    "One row per indicator. Year-end targets in columns headed 'Target 2026/27' (or under a "
    "merged 'Target' header, one year per column below it). Components may also be given "
    "in columns headed 'Component 1 code', 'Component 1 title', 'Component 1 unit', ...",
    required=True,
    periods="targets",
)

COMPONENTS = SheetLayout(
    "components",
    "Components",
    (
        Column("indicator", "Indicator", Kind.CODE, True, help="The indicator's code."),
        Column(
            "code",
            "Code",
            Kind.CODE,
            True,
            help="Component code, e.g. BV8a.1 (a number alone, 1, means BV8a.1).",
        ),
        Column("title", "Title", Kind.TEXT, True, help="What is counted."),
        Column("unit", "Unit", Kind.TEXT, True, help="number, £, days, ..."),
        Column("min", "Min", Kind.NUMBER, help="Smallest allowed value (optional)."),
        Column("max", "Max", Kind.NUMBER, help="Largest allowed value (optional)."),
        Column(
            "aggregation",
            "Aggregation",
            Kind.CHOICE,
            True,
            _values(Aggregation),
            "How months add up to quarters and years: sum, average or last.",
        ),
    ),
    "One row per component (the raw figures an indicator is computed from).",
)

TARGETS = SheetLayout(
    "targets",
    "Targets",
    (
        Column("indicator", "Indicator", Kind.CODE, True, help="The indicator's code."),
        Column("period", "Period", Kind.TEXT, True, help="2026/27, 2026/27 Q1 or 2026-04."),
        Column("value", "Target", Kind.NUMBER, True, help="The target."),
        Column("tolerance", "Tolerance", Kind.TOLERANCE, help="Default: the indicator's."),
    ),
    "Optional: in-year targets, and targets with a tolerance of their own, one per row.",
)

HISTORY = SheetLayout(
    "history",
    "History",
    (
        Column("component", "Component", Kind.CODE, True, help="The component's code."),
        Column(
            "indicator",
            "Indicator",
            Kind.CODE,
            help="Its indicator (optional; needed when the component is given as a number).",
        ),
    ),
    "Values from before mailcapture: one row per component, one column per period, headed "
    "Apr-25, 2025-04, April 2025 or a date (months), 2025/26 Q1 (quarters) or 2025/26 "
    "(years). A quarterly figure under its quarter's last month, or an annual one under "
    "March, counts for the quarter or the year.",
    periods="history",
)

PEOPLE = SheetLayout(
    "people",
    "People",
    (
        Column("email", "Email", Kind.TEXT, True, help="Email address (unique)."),
        Column("name", "Name", Kind.TEXT, True, help="Full name."),
        Column("job_title", "Job title", help="Their job title (optional)."),
        Column("service_area", "Service area", Kind.CODE, help="Service area code (optional)."),
        Column(
            "roles",
            "Roles",
            Kind.CHOICES,
            choices=_values(Role),
            help="Declared roles, e.g. performance_team, chief_executive, project_board.",
        ),
        Column("delegates", "Delegates", Kind.PEOPLE, help="Who may reply for them (optional)."),
    ),
    "One row per person. Elsewhere a person may be named by email address or by name.",
    required=True,
)

DEPARTMENTS = SheetLayout(
    "departments",
    "Departments",
    (
        Column("department", "Department", Kind.CODE, True, help="Department code."),
        Column(
            "department_name", "Department name", Kind.TEXT, True, help="The department's name."
        ),
        Column("head", "Head", Kind.PERSON, help="Head of service (default escalation owner)."),
        Column("service_area", "Service area", Kind.CODE, True, help="Service area code."),
        Column(
            "service_area_name",
            "Service area name",
            Kind.TEXT,
            True,
            help="The service area's name.",
        ),
    ),
    "One row per service area, with its department (repeated on each of its rows).",
    required=True,
)

PRIORITIES = SheetLayout(
    "priorities",
    "Priorities",
    (
        Column("objective", "Objective", Kind.CODE, True, help="Corporate objective code."),
        Column("objective_title", "Objective title", Kind.TEXT, True, help="The objective."),
        Column("priority", "Priority", Kind.CODE, help="Key priority code."),
        Column("priority_title", "Priority title", Kind.TEXT, help="The key priority."),
    ),
    "Corporate objectives and their key priorities, one row per priority.",
)

REPORTS = SheetLayout(
    "reports",
    "Reports",
    (
        Column("code", "Code", Kind.CODE, True, help="Report code, e.g. QPR (unique)."),
        Column("title", "Title", Kind.TEXT, True, help="The report's title."),
        Column(
            "kind",
            "Kind",
            Kind.CHOICE,
            True,
            _values(ReportKind),
            "owner, department, exception, quarterly, annual or custom.",
        ),
        Column("recipients", "Recipients", Kind.PEOPLE, help="Addresses or names."),
    ),
    "The reports the register feeds.",
)

PROJECTS = SheetLayout(
    "projects",
    "Projects",
    (
        Column("code", "Code", Kind.CODE, True, help="Project code, e.g. P01 (unique)."),
        Column("title", "Title", Kind.TEXT, True, help="The project's title."),
        Column("description", "Description", help="What it delivers (optional)."),
        Column("priority", "Key priority", Kind.CODE, True, help="Key priority code."),
        Column("service_area", "Service area", Kind.CODE, True, help="Service area code."),
        Column("owner", "Owner", Kind.PERSON, True, help="Email address or name on People."),
        Column("updater", "Updater", Kind.PERSON, True, help="Who reports its progress."),
        Column(
            "escalation_owner",
            "Escalation owner",
            Kind.PERSON,
            help="Default: the head of the department.",
        ),
        Column("key", "Key project", Kind.BOOL, help="yes for the members' report."),
        Column("start", "Start", Kind.DATE, help="dd/mm/yyyy or a date cell."),
        Column("due", "Due", Kind.DATE, help="Planned end date."),
        Column("completed", "Completed", Kind.DATE, help="Completion date, once done."),
    ),
    "One row per project (its overall-progress milestone is added by the loader).",
)

MILESTONES = SheetLayout(
    "milestones",
    "Milestones",
    (
        Column("project", "Project", Kind.CODE, True, help="The project's code."),
        Column("code", "Code", Kind.CODE, True, help="Milestone code, e.g. P01.M1 (unique)."),
        Column("title", "Title", Kind.TEXT, True, help="What is achieved."),
        Column("start", "Start", Kind.DATE, help="dd/mm/yyyy or a date cell."),
        Column("due", "Due", Kind.DATE, help="Planned date."),
        Column("completed", "Completed", Kind.DATE, help="Completion date, once done."),
    ),
    "One row per project milestone.",
)

TIMETABLE = SheetLayout(
    "timetable",
    "Timetable",
    (
        Column("frequency", "Frequency", Kind.CHOICE, True, FREQUENCIES),
        Column(
            "request_day",
            "Request working day",
            Kind.INT,
            True,
            help="Working day after the period ends when requests go out.",
        ),
        Column("request_time", "Request time", Kind.TIME, True, help="e.g. 09:00"),
        Column("due_day", "Due working day", Kind.INT, True, help="Working day they are due."),
        Column("due_time", "Due time", Kind.TIME, True, help="e.g. 17:00"),
        Column("reminders", "Reminders", Kind.INTS, help="Working days from due, e.g. -3, -1."),
        Column(
            "escalations",
            "Escalations",
            Kind.ESCALATIONS,
            help="e.g. owner 2, escalation_owner 5 (working days after due).",
        ),
        Column(
            "summary_after",
            "Returns summary after",
            Kind.INT,
            True,
            help="Working days after due when the returns summary goes out.",
        ),
    ),
    "Optional: when requests go out and are due (working days after the period ends). "
    "Without this sheet the import writes a default timetable.",
)

BANK_HOLIDAYS = SheetLayout(
    "bank_holidays",
    "Bank holidays",
    (
        Column("date", "Date", Kind.DATE, True, help="dd/mm/yyyy or a date cell."),
        Column("name", "Name", Kind.TEXT, True, help="e.g. Good Friday."),
    ),
    "Optional: days the council is closed.",
)

AUTHORITY = SheetLayout(
    "authority",
    "Authority",
    (
        Column("change", "Change", Kind.CHOICE, True, _values(ChangeKind)),
        Column("approvers", "Approvers", Kind.CHOICES, True, _values(ApproverKind)),
    ),
    "Optional: who may approve which change. Without this sheet the import writes the "
    "usual table (as in the sample register).",
)

SETTINGS = SheetLayout(
    "settings",
    "Settings",
    (
        Column("setting", "Setting", Kind.TEXT, True, help="One of the settings listed above."),
        Column("value", "Value", Kind.TEXT, help="Its value."),
    ),
    "Optional: mail settings (council, from, reply_domain, reply_local, separator, "
    "performance_team, authserv_id), plausibility_factor and ons_area_code.",
)

DEFAULT_LAYOUT: tuple[SheetLayout, ...] = (
    INDICATORS,
    COMPONENTS,
    TARGETS,
    HISTORY,
    PEOPLE,
    DEPARTMENTS,
    PRIORITIES,
    REPORTS,
    PROJECTS,
    MILESTONES,
    TIMETABLE,
    BANK_HOLIDAYS,
    AUTHORITY,
    SETTINGS,
)

MAIL_SETTINGS = (
    "council",
    "from",
    "reply_domain",
    "reply_local",
    "separator",
    "performance_team",
    "authserv_id",
)

#: Written when the workbook has no Timetable sheet (the sample council's timetable).
DEFAULT_TIMETABLE: dict[str, dict[str, Any]] = {
    "monthly": {
        "request": {"working_day": 1, "time": "09:00"},
        "due": {"working_day": 10, "time": "17:00"},
        "reminders": [-3, -1],
        "escalations": [{"to": "owner", "after": 2}, {"to": "escalation_owner", "after": 5}],
        "returns_summary": {"after": 1},
    },
    "quarterly": {
        "request": {"working_day": 1, "time": "09:00"},
        "due": {"working_day": 15, "time": "17:00"},
        "reminders": [-5, -1],
        "escalations": [{"to": "owner", "after": 3}, {"to": "escalation_owner", "after": 7}],
        "returns_summary": {"after": 1},
    },
    "annual": {
        "request": {"working_day": 5, "time": "09:00"},
        "due": {"working_day": 30, "time": "17:00"},
        "reminders": [-10, -3, -1],
        "escalations": [{"to": "owner", "after": 5}, {"to": "escalation_owner", "after": 10}],
        "returns_summary": {"after": 2},
    },
}

#: Written when the workbook has no Authority sheet.
DEFAULT_AUTHORITY: list[dict[str, Any]] = [
    {"change": "project_completion_date", "approvers": ["chief_executive", "project_board"]},
    {"change": "project_milestone_date", "approvers": ["project_board", "head_of_service"]},
    {"change": "pi_target_year_end", "approvers": ["chief_executive", "head_of_service"]},
    {"change": "pi_target_in_year", "approvers": ["head_of_service", "head_of_service_delegate"]},
    {"change": "pi_definition", "approvers": ["performance_team", "head_of_service"]},
    {"change": "new_indicator", "approvers": ["head_of_service", "chief_executive"]},
    {"change": "retire_indicator", "approvers": ["head_of_service", "chief_executive"]},
]


# --------------------------------------------------------------------------- mapping


class SheetMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sheet: str | None = Field(default=None, min_length=1)
    header_row: int | None = Field(default=None, ge=1, le=1000)
    columns: dict[str, str] = {}


def apply_mapping(mapping: dict[str, SheetMapping]) -> tuple[SheetLayout, ...]:
    """The default layout with the mapping's sheet names, header rows and column headers."""
    layouts = []
    for layout in DEFAULT_LAYOUT:
        given = mapping.get(layout.section)
        if given is None:
            layouts.append(layout)
            continue
        columns = tuple(
            replace(c, header=given.columns.get(c.key, c.header)) for c in layout.columns
        )
        layouts.append(
            replace(
                layout,
                sheet=given.sheet or layout.sheet,
                header_row=given.header_row,
                columns=columns,
            )
        )
    return tuple(layouts)


def load_mapping(path: Path) -> tuple[SheetLayout, ...]:
    """Read a mapping file; any mistake in it is a one-line :class:`UserError`."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        raw = YAML(typ="safe").load(path.read_bytes())
    except OSError as exc:
        raise UserError(f"{path}: cannot read the mapping file: {exc.strerror}") from None
    except YAMLError as exc:
        reason = " ".join(str(exc).split())
        raise UserError(f"{path}: not a YAML mapping file: {reason}") from None
    if raw is None:
        return DEFAULT_LAYOUT
    if not isinstance(raw, dict):
        raise UserError(f"{path}: the mapping file must map sections to their sheets")
    known = {layout.section: layout for layout in DEFAULT_LAYOUT}
    mapping: dict[str, SheetMapping] = {}
    for section, value in raw.items():
        layout = known.get(str(section))
        if layout is None:
            raise UserError(
                f"{path}: unknown section {section!r} (expected one of: {', '.join(known)})"
            )
        try:
            parsed = SheetMapping.model_validate(value if value is not None else {})
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in (section, *error["loc"]))
            raise UserError(f"{path}: {where}: {error['msg']}") from None
        keys = [c.key for c in layout.columns]
        for key in parsed.columns:
            if key not in keys:
                raise UserError(
                    f"{path}: {section}.columns.{key}: unknown column "
                    f"(expected one of: {', '.join(keys)})"
                )
        mapping[str(section)] = parsed
    return apply_mapping(mapping)
