"""A realistic council PI workbook, built with openpyxl, and the register it stands for.

Brackenford Borough Council (fictional) keeps its register the way councils do: a title
row merged over the Indicators sheet, a "Targets" header merged over two year columns, owners
named by name, trailing spaces, component numbers typed as numbers (1, 2.0), a percentage
cell for a tolerance, a formula typed with "=", blank rows in the middle, history headers
as dates, ``Apr-25``, ``2025-05`` and ``June 2025``, and quarterly figures under their
quarter's last month. :data:`INDICATORS` and friends are what the workbook means; the tests
check the imported register against them, never against the importer's own reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook

DOMAIN = "brackenford.example"


def email(name: str) -> str:
    return name.lower().replace(" ", ".") + "@" + DOMAIN


@dataclass(frozen=True)
class PersonRow:
    name: str
    job_title: str | None
    service_area: str | None
    roles: tuple[str, ...] = ()
    delegates: tuple[str, ...] = ()  # names

    @property
    def email(self) -> str:
        return email(self.name)


PEOPLE = [
    PersonRow("Joan Carter", "Chief Executive", None, ("chief_executive",)),
    PersonRow("Ravi Patel", "Director of Resources", "FIN"),
    PersonRow("Grace Hill", "Director of Communities", "HOU"),
    PersonRow("Tom Baxter", "Director of Place", "PLN"),
    PersonRow("Nadia Khan", "Finance Manager", "FIN"),
    PersonRow("Owen Price", "Revenues Officer", "REV", delegates=("Lucy Ward",)),
    PersonRow("Lucy Ward", "Housing Officer", "HOU"),
    PersonRow("Sam Doyle", "Planning Officer", "PLN"),
    PersonRow("Ella Moss", "Waste Officer", "WST"),
    PersonRow("Ian Frost", "Performance Officer", "FIN", ("performance_team",)),
]
#: department code, name, head (name), [(service area code, name)]
DEPARTMENTS = [
    ("RES", "Resources", "Ravi Patel", [("FIN", "Finance"), ("REV", "Revenues")]),
    ("COM", "Communities", "Grace Hill", [("HOU", "Housing"), ("WST", "Waste")]),
    ("PLC", "Place", "Tom Baxter", [("PLN", "Planning"), ("ECO", "Economy")]),
]
AREAS = [area for _, _, _, areas in DEPARTMENTS for area, _ in areas]
HEAD_OF = {area: head for _, _, head, areas in DEPARTMENTS for area, _ in areas}
OBJECTIVES = [
    ("OB1", "A prosperous borough", [("PR1", "Jobs and skills"), ("PR2", "Homes")]),
    ("OB2", "A well-run council", [("PR3", "Value for money"), ("PR4", "Digital services")]),
]
PRIORITIES = [code for _, _, ps in OBJECTIVES for code, _ in ps]
REPORTS = [
    ("OWN", "Owner report", "owner", ["Ian Frost"]),
    ("QPR", "Quarterly report to Cabinet", "quarterly", ["Joan Carter", "Ravi Patel"]),
]
UPDATERS = ["Nadia Khan", "Owen Price", "Lucy Ward", "Sam Doyle", "Ella Moss"]
OWNERS = ["Nadia Khan", "Owen Price", "Lucy Ward", "Sam Doyle"]

MONTHS = [(2025, m) for m in range(4, 13)] + [(2026, m) for m in range(1, 4)]


@dataclass(frozen=True)
class ComponentRow:
    code: str
    title: str
    unit: str
    min: Decimal | None
    max: Decimal | None
    aggregation: str


@dataclass(frozen=True)
class IndicatorRow:
    number: int
    code: str
    title: str
    description: str | None
    type: str
    frequency: str
    polarity: str
    unit: str
    decimals: int
    formula: str | None
    service_area: str
    priority: str | None
    owner: str  # name
    updaters: tuple[str, ...]  # names
    escalation_owner: str | None  # name
    reports: tuple[str, ...]
    tolerance: str | None
    targets: dict[str, Decimal]
    components: tuple[ComponentRow, ...]

    @property
    def ratio(self) -> bool:
        return len(self.components) == 2


def _indicator(i: int) -> IndicatorRow:
    code = f"BB{i:02d}"
    frequency = ["annual", "monthly", "quarterly"][i % 3]
    statistic = i % 10 == 0
    ratio = i % 2 == 0
    kind = "statistic" if statistic else ("single_data_list" if i % 4 == 1 else "local")
    aggregation = "last" if frequency == "annual" else "sum"
    if ratio:
        components: tuple[ComponentRow, ...] = (
            ComponentRow(
                f"{code}.1",
                f"Cases done on time for {code}",
                "number",
                Decimal(0),
                Decimal(100000),
                aggregation,
            ),
            ComponentRow(
                f"{code}.2",
                f"All cases for {code}",
                "number",
                Decimal(0),
                Decimal(100000),
                aggregation,
            ),
        )
    else:
        components = (
            ComponentRow(f"{code}.1", f"Count for {code}", "number", Decimal(0), None, aggregation),
        )
    tolerance = None if statistic else ("5%" if i % 3 == 0 else ("2" if i % 2 else "1.5"))
    return IndicatorRow(
        number=i,
        code=code,
        title=f"Brackenford measure {i}",
        description="212" if i == 12 else (f"How measure {i} is counted" if i % 7 == 0 else None),
        type=kind,
        frequency=frequency,
        polarity="neutral" if statistic else ("higher" if i % 2 else "lower"),
        unit="%" if ratio else "number",
        decimals=1 if ratio else 0,
        formula=f"100 * {code}.1 / {code}.2" if ratio else None,
        service_area=AREAS[i % len(AREAS)],
        priority=None if i % 5 == 0 else PRIORITIES[i % len(PRIORITIES)],
        owner=OWNERS[i % len(OWNERS)],
        updaters=(UPDATERS[i % 5], UPDATERS[(i + 1) % 5]) if i % 4 == 0 else (UPDATERS[i % 5],),
        escalation_owner=None if i % 2 else "Joan Carter",
        reports=("OWN", "QPR") if i % 2 == 0 else ("OWN",),
        tolerance=tolerance,
        targets={}
        if statistic
        else {"2025/26": Decimal(50 + i), "2026/27": Decimal(50 + i) + Decimal("0.5")},
        components=components,
    )


INDICATORS = [_indicator(i) for i in range(1, 41)]


def history_value(component: str, year: int, month: int) -> Decimal:
    i = int(component[2:4])
    part = component.rsplit(".", 1)[1]
    step = (year - 2025) * 12 + month
    if part == "2":
        return Decimal(1000 + 10 * i + step)
    if i % 2 == 0:
        return Decimal(900 + 7 * i + step)
    return Decimal(100 * i + step) + (Decimal("0.5") if i == 3 else 0)


def history() -> dict[str, dict[str, Decimal]]:
    """What the History sheet means: component -> period code -> value."""
    found: dict[str, dict[str, Decimal]] = {}
    for ind in INDICATORS:
        for comp in ind.components:
            values = found.setdefault(comp.code, {})
            for index, (year, month) in enumerate(MONTHS, start=1):
                value = history_value(comp.code, year, month)
                if ind.frequency == "monthly":
                    values[f"{year}-{month:02d}"] = value
                elif ind.frequency == "quarterly" and index % 3 == 0:
                    values[f"2025/26 Q{index // 3}"] = value
                elif ind.frequency == "annual" and index == 12:
                    values["2025/26"] = value
    return found


#: code, title, priority, area, owner, updater, key, start, due, completed, milestones
PROJECTS = [
    (
        "PJ1",
        "Town hall refurbishment",
        "PR3",
        "FIN",
        "Nadia Khan",
        "Owen Price",
        True,
        date(2025, 4, 1),
        date(2027, 3, 31),
        None,
        [
            ("PJ1.M1", "Design agreed", date(2025, 4, 1), date(2025, 9, 30), date(2025, 9, 12)),
            ("PJ1.M2", "Works start", date(2025, 10, 1), date(2026, 3, 31), None),
            ("PJ1.M3", "Building reopened", date(2026, 4, 1), date(2027, 3, 31), None),
        ],
    ),
    (
        "PJ2",
        "New homes at Mill Road",
        "PR2",
        "HOU",
        "Lucy Ward",
        "Lucy Ward",
        False,
        date(2025, 6, 1),
        date(2028, 3, 31),
        None,
        [
            ("PJ2.M1", "Site bought", date(2025, 6, 1), date(2025, 12, 31), date(2025, 11, 3)),
            ("PJ2.M2", "Planning granted", date(2026, 1, 1), date(2026, 9, 30), None),
        ],
    ),
    (
        "PJ3",
        "Online services",
        "PR4",
        "PLN",
        "Sam Doyle",
        "Sam Doyle",
        True,
        date(2025, 4, 1),
        date(2026, 3, 31),
        date(2026, 3, 20),
        [("PJ3.M1", "Portal live", date(2025, 4, 1), date(2026, 3, 31), date(2026, 3, 20))],
    ),
]
SETTINGS = [
    ("Council", "Brackenford Borough Council"),
    ("From ", "Brackenford Performance <performance@brackenford.example>"),
    ("Reply domain", "returns.brackenford.example"),
    ("Performance team", "performance@brackenford.example"),
]

# ------------------------------------------------------------------ where things are

#: Indicators sheet columns (row 2 headers; row 3 holds the two target years).
IND_COLUMNS = [
    "Code",
    "Title",
    "Description",
    "Type",
    "Frequency",
    "Polarity",
    "Unit",
    "Decimals",
    "Formula",
    "Service area",
    "Key priority",
    "Owner ",  # a trailing space in the header
    "Updaters",
    "Escalation owner",
    "Reports",
    "Tolerance",
    "Targets",
    None,
    "Notes",
]
IND_FIRST_ROW = 4
BLANK_AFTER = 20  # a blank row after the 20th indicator


def indicator_row(number: int) -> int:
    """The sheet row of indicator ``number`` (1-based)."""
    return IND_FIRST_ROW + number - 1 + (1 if number > BLANK_AFTER else 0)


def ind_cell(number: int, header: str) -> str:
    from openpyxl.utils import get_column_letter

    headers = [h.strip() if h else h for h in IND_COLUMNS]
    return f"{get_column_letter(headers.index(header) + 1)}{indicator_row(number)}"


def component_rows() -> list[tuple[int, IndicatorRow, ComponentRow]]:
    """(sheet row, indicator, component) on the Components sheet: one blank row after 30."""
    rows = []
    row = 2
    for ind in INDICATORS:
        for comp in ind.components:
            rows.append((row, ind, comp))
            row += 1
            if len(rows) == 30:
                row += 1
    return rows


def history_rows() -> dict[str, int]:
    return {comp.code: row for row, _, comp in component_rows()}


def month_column(year: int, month: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(MONTHS.index((year, month)) + 2)


# ------------------------------------------------------------------ the workbook


def _month_header(index: int, year: int, month: int) -> object:
    kind = index % 4
    if kind == 0:
        return datetime(year, month, 1)  # a real date cell, shown as Apr-25 in Excel
    if kind == 1:
        return datetime(year, month, 1).strftime("%b-%y")  # Apr-25
    if kind == 2:
        return f"{year}-{month:02d}"
    return datetime(year, month, 1).strftime("%B %Y")  # June 2025


def build(path: Path) -> Path:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Indicators"
    ws["A1"] = "Brackenford Borough Council: performance indicators 2025/26 "
    ws.merge_cells("A1:H1")
    for col, header in enumerate(IND_COLUMNS, start=1):
        if header is not None:
            ws.cell(2, col, header)
    ws.merge_cells("A2:A3")  # "Code" spans both header rows
    ws.merge_cells("Q2:R2")  # "Targets" over the two years below it
    ws["Q3"], ws["R3"] = "2025/26", "2026/27 "
    for ind in INDICATORS:
        r = indicator_row(ind.number)
        owner = ind.owner if ind.number % 3 == 0 else email(ind.owner)
        if ind.number == 4:
            owner = email(ind.owner).title() + "  "  # capitals and trailing spaces
        frequency = ind.frequency
        if ind.number == 5:
            frequency = ind.frequency.capitalize() + " "  # "Quarterly "
        elif ind.number == 7:
            frequency = ind.frequency.upper()
        polarity = {"higher": "Higher is better", "lower": "lower"}.get(ind.polarity, "neutral")
        values: list[object] = [
            ind.code + (" " if ind.number == 9 else ""),
            ind.title + ("  " if ind.number % 6 == 0 else ""),
            212 if ind.description == "212" else ind.description,
            ind.type.replace("_", " ").capitalize() if ind.number % 8 == 1 else ind.type,
            frequency,
            polarity,
            ind.unit,
            ind.decimals,
            ("=" + ind.formula.replace(" ", ""))
            if ind.number == 2 and ind.formula
            else ind.formula,
            ind.service_area,
            ind.priority,
            owner,
            "; ".join(email(u) if k == 0 else u for k, u in enumerate(ind.updaters)),
            ind.escalation_owner,
            ", ".join(ind.reports),
            None,
            *(ind.targets.get(y) for y in ("2025/26", "2026/27")),
            "see the service plan" if ind.number % 5 == 0 else None,
        ]
        for col, value in enumerate(values, start=1):
            if value is not None:
                ws.cell(r, col, float(value) if isinstance(value, Decimal) else value)
        tolerance = ws.cell(r, IND_COLUMNS.index("Tolerance") + 1)
        if ind.tolerance == "5%":
            tolerance.value = 0.05
            tolerance.number_format = "0%"
        elif ind.tolerance is not None:
            tolerance.value = float(ind.tolerance) if ind.number % 4 == 1 else ind.tolerance
    # ---- components, on their own sheet; numbers typed alone for some
    cs = wb.create_sheet("Components")
    cs.append(["Indicator", "Code", "Title", "Unit", "Min", "Max", "Aggregation"])
    for row, ind, comp in component_rows():
        code: object = comp.code
        if ind.number % 5 == 1:
            code = int(comp.code.rsplit(".", 1)[1])  # 1
        elif ind.number % 5 == 2:
            code = float(comp.code.rsplit(".", 1)[1])  # 2.0
        values = [
            ind.code,
            code,
            comp.title + " ",
            comp.unit,
            int(comp.min) if comp.min is not None else None,
            int(comp.max) if comp.max is not None else None,
            comp.aggregation.capitalize() if ind.number % 3 == 0 else comp.aggregation,
        ]
        for col, value in enumerate(values, start=1):
            if value is not None:
                cs.cell(row, col, value)
    # ---- history: one row per component, month columns
    hs = wb.create_sheet("History")
    hs.cell(1, 1, "Component")
    for index, (year, month) in enumerate(MONTHS):
        hs.cell(1, index + 2, _month_header(index, year, month))
    expected = history()
    for code, row in history_rows().items():
        hs.cell(row, 1, code)
        for index, (year, month) in enumerate(MONTHS, start=1):
            if not _has_value(code, expected[code], index, year, month):
                continue
            value = history_value(code, year, month)
            cell = hs.cell(row, index + 1)
            if code == "BB02.2" and month == 7:
                cell.value = f"{int(value):,}"  # typed as text with a thousands separator
            else:
                cell.value = int(value) if value == value.to_integral_value() else float(value)
    # ---- people and organisation
    ps = wb.create_sheet("People")
    ps.append(["Email", "Name", "Job title", "Service area", "Roles", "Delegates"])
    for person in PEOPLE:
        ps.append(
            [
                person.email + (" " if person.name == "Sam Doyle" else ""),
                person.name,
                person.job_title,
                person.service_area,
                ", ".join(person.roles) or None,
                ", ".join(person.delegates) or None,
            ]
        )
    ds = wb.create_sheet("Departments")
    ds.append(["Department", "Department name", "Head", "Service area", "Service area name"])
    for code, name, head, areas in DEPARTMENTS:
        for area, area_name in areas:
            ds.append([code, name, head, area, area_name])
    prs = wb.create_sheet("Priorities")
    prs.append(["Objective", "Objective title", "Priority", "Priority title"])
    for code, title, priorities in OBJECTIVES:
        for priority, priority_title in priorities:
            prs.append([code, title, priority, priority_title])
    rs = wb.create_sheet("Reports")
    rs.append(["Code", "Title", "Kind", "Recipients"])
    for code, title, kind, recipients in REPORTS:
        rs.append([code, title, kind, "; ".join(recipients)])
    # ---- projects and milestones
    pj = wb.create_sheet("Projects")
    pj.append(
        ["Code", "Title", "Key priority", "Service area", "Owner", "Updater", "Key project",
         "Start", "Due", "Completed"]
    )  # fmt: skip
    ms = wb.create_sheet("Milestones")
    ms.append(["Project", "Code", "Title", "Start", "Due", "Completed"])
    for code, title, priority, area, owner, updater, key, start, due, done, milestones in PROJECTS:
        pj.append([code, title, priority, area, owner, email(updater), "Yes" if key else "No",
                   start, due.strftime("%d/%m/%Y"), done])  # fmt: skip
        for m_code, m_title, m_start, m_due, m_done in milestones:
            ms.append([code, m_code, m_title, m_start, m_due, m_done])
    ss = wb.create_sheet("Settings")
    ss.append(["Setting", "Value"])
    for key, value in SETTINGS:
        ss.append([key, value])
    wb.save(path)
    return path


def _has_value(code: str, values: dict[str, Decimal], index: int, year: int, month: int) -> bool:
    ind = INDICATORS[int(code[2:4]) - 1]
    if ind.frequency == "monthly":
        return True
    if ind.frequency == "quarterly":
        return index % 3 == 0
    return index == 12
