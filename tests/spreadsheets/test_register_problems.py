"""A spoilt cell is named as ``Sheet!Cell: reason``; every problem at once; nothing written."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from openpyxl import load_workbook

from mailcapture.spreadsheets.register_import import WorkbookInvalid, read_register
from tests.snapshots import run_cli
from tests.spreadsheets import council
from tests.spreadsheets.council import ind_cell, month_column

ROWS = council.history_rows()
COMPONENT_ROW = {comp.code: row for row, _, comp in council.component_rows()}


@pytest.fixture(scope="module")
def workbook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return council.build(tmp_path_factory.mktemp("council") / "council.xlsx")


def _spoil(workbook: Path, target: Path, changes: list[tuple[str, str, object]]) -> Path:
    wb = load_workbook(workbook)
    for sheet, cell, value in changes:
        wb[sheet][cell].value = value
    wb.save(target)
    return target


def _problems(path: Path) -> list[str]:
    with pytest.raises(WorkbookInvalid) as caught:
        read_register(path)
    return [str(p) for p in caught.value.problems]


#: (sheet, cell, new value, the problem, whether it is the only one)
CASES = [
    pytest.param(
        "Indicators",
        ind_cell(1, "Frequency"),
        "fortnightly",
        "Indicators!E4: unknown frequency 'fortnightly' (monthly, quarterly, annual)",
        True,
        id="unknown-frequency",
    ),
    pytest.param(
        "Indicators",
        ind_cell(4, "Formula"),
        "100 * BB04.1 / BB04.3",
        "Indicators!I7: formula uses unknown component 'BB04.3'",
        True,
        id="formula-unknown-component",
    ),
    pytest.param(
        "People",
        "A11",
        None,
        "People!A11: Ian Frost has no email address",
        False,  # and the report that names him says so
        id="person-without-email",
    ),
    pytest.param(
        "Milestones",
        "B3",
        "PJ1.M1",
        "Milestones!B3: duplicate code 'PJ1.M1' (milestone); first used at Milestones!B2",
        True,
        id="duplicate-milestone-code",
    ),
    pytest.param(
        "Indicators",
        ind_cell(3, "Code"),
        "BB01",
        "Indicators!A6: duplicate code 'BB01' (indicator); first used at Indicators!A4",
        False,  # and its components and history have no indicator
        id="duplicate-indicator-code",
    ),
    pytest.param(
        "Indicators",
        ind_cell(1, "Owner"),
        "Nobody Known",
        "Indicators!L4: owner 'Nobody Known' is neither an email address nor the name of "
        "anyone on the People sheet",
        True,
        id="unknown-owner-name",
    ),
    pytest.param(
        "Indicators",
        ind_cell(1, "Service area"),
        "ZZZ",
        "Indicators!J4: unknown service area 'ZZZ'",
        True,
        id="unknown-service-area",
    ),
    pytest.param(
        "Indicators",
        ind_cell(1, "Targets"),
        "n/a",
        "Indicators!Q4: 'n/a' is not a number",
        True,
        id="target-not-a-number",
    ),
    pytest.param(
        "Components",
        f"G{COMPONENT_ROW['BB01.1']}",
        "median",
        f"Components!G{COMPONENT_ROW['BB01.1']}: unknown aggregation 'median' (sum, average, last)",
        True,
        id="unknown-aggregation",
    ),
    pytest.param(
        "Components",
        f"F{COMPONENT_ROW['BB02.1']}",
        "#REF!",
        f"Components!F{COMPONENT_ROW['BB02.1']}: the cell shows an error (#REF!)",
        True,
        id="error-value",
    ),
    pytest.param(
        "History",
        f"{month_column(2025, 8)}{ROWS['BB01.1']}",
        "lots",
        f"History!{month_column(2025, 8)}{ROWS['BB01.1']}: 'lots' is not a number",
        True,
        id="history-not-a-number",
    ),
    pytest.param(
        "History",
        f"{month_column(2025, 9)}{ROWS['BB01.1']}",
        "=B2*2",
        f"History!{month_column(2025, 9)}{ROWS['BB01.1']}: a formula with no saved value "
        "(open the workbook in Excel and save it)",
        True,
        id="formula-without-cached-value",
    ),
    pytest.param(
        "History",
        f"{month_column(2025, 5)}{ROWS['BB02.1']}",
        17,
        f"History!{month_column(2025, 5)}{ROWS['BB02.1']}: BB02.1 is collected quarterly; "
        "2025-05 is a month",
        True,
        id="quarterly-figure-in-a-month",
    ),
    pytest.param(
        "History",
        f"{month_column(2025, 6)}{ROWS['BB04.2']}",
        250000,
        f"History!{month_column(2025, 6)}{ROWS['BB04.2']}: 250000 is outside BB04.2's allowed "
        "range",
        True,
        id="history-out-of-range",
    ),
    pytest.param(
        "Milestones",
        "E3",
        "next spring",
        "Milestones!E3: 'next spring' is not a date (dd/mm/yyyy)",
        True,
        id="not-a-date",
    ),
    pytest.param(
        "Components",
        f"A{COMPONENT_ROW['BB05.1']}",
        "BB99",
        f"Components!A{COMPONENT_ROW['BB05.1']}: no indicator 'BB99' on the Indicators sheet",
        False,  # and BB05 is left with no component
        id="component-of-unknown-indicator",
    ),
    pytest.param(
        "Indicators",
        "G2",
        "Units of measure",
        "Indicators!A2: no column headed 'Unit'",
        True,
        id="missing-column",
    ),
    pytest.param(
        "Indicators",
        ind_cell(6, "Decimals"),
        "one",
        "Indicators!H9: expected a whole number, not 'one'",
        True,
        id="not-a-whole-number",
    ),
]


@pytest.mark.parametrize(("sheet", "cell", "value", "problem", "only"), CASES)
def test_a_spoilt_cell_is_named(
    workbook: Path, tmp_path: Path, sheet: str, cell: str, value: object, problem: str, only: bool
) -> None:
    problems = _problems(_spoil(workbook, tmp_path / "spoilt.xlsx", [(sheet, cell, value)]))
    matching = [p for p in problems if p.startswith(problem)]
    assert matching, problems
    if only:
        assert problems == matching


def test_every_problem_in_one_run_and_nothing_written(workbook: Path, tmp_path: Path) -> None:
    spoilt = _spoil(
        workbook,
        tmp_path / "spoilt.xlsx",
        [
            ("Indicators", ind_cell(1, "Frequency"), "fortnightly"),
            ("Milestones", "E3", "next spring"),
            ("History", f"{month_column(2025, 8)}{ROWS['BB01.1']}", "lots"),
        ],
    )
    out = tmp_path / "register"
    result = run_cli("import", "register", str(spoilt), "--out", str(out), env={})
    assert result.code == 1
    lines = result.stderr.splitlines()
    assert lines == [
        "Indicators!E4: unknown frequency 'fortnightly' (monthly, quarterly, annual)",
        f"History!{month_column(2025, 8)}{ROWS['BB01.1']}: 'lots' is not a number",
        "Milestones!E3: 'next spring' is not a date (dd/mm/yyyy)",
        "mailcapture: error: workbook not imported: 3 problem(s); nothing was written",
    ]
    assert not out.exists()


def test_a_broken_import_leaves_the_previous_folder_alone(workbook: Path, tmp_path: Path) -> None:
    out = tmp_path / "register"
    assert run_cli("import", "register", str(workbook), "--out", str(out), env={}).code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    spoilt = _spoil(workbook, tmp_path / "spoilt.xlsx", [("Milestones", "E3", "soon")])
    assert run_cli("import", "register", str(spoilt), "--out", str(out), env={}).code == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_not_a_workbook(tmp_path: Path) -> None:
    fake = tmp_path / "register.xlsx"
    fake.write_text("code,title\nBV8a,Invoices\n")
    result = run_cli("import", "register", str(fake), "--out", str(tmp_path / "out"), env={})
    assert result.code == 1
    assert result.stderr.startswith(f"mailcapture: error: {fake}: not an Excel workbook (.xlsx)")
    assert len(result.stderr.splitlines()) == 1


def _with_cached_values(path: Path, target: Path, cached: dict[str, str]) -> Path:
    """``path`` as Excel would save it: each formula (by its text) with its computed value."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w") as out:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                for formula, value in cached.items():
                    data = data.replace(
                        f"<f>{formula}</f><v></v>".encode(),
                        f"<f>{formula}</f><v>{value}</v>".encode(),
                    )
            out.writestr(item, data)
    return target


def test_a_formula_is_read_as_excel_saved_it(workbook: Path, tmp_path: Path) -> None:
    cell = f"{month_column(2025, 8)}{ROWS['BB01.1']}"
    spoilt = _spoil(workbook, tmp_path / "formula.xlsx", [("History", cell, "=B2+1000")])
    saved = _with_cached_values(spoilt, tmp_path / "saved.xlsx", {"B2+1000": "1104"})
    files = read_register(saved)
    history = files["history-2025-26.yaml"].decode()
    block = history[history.index("  BB01.1:") :]
    assert "    2025-08: 1104\n" in block.split("  BB02.1:")[0]
