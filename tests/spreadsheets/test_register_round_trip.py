"""Same workbook, same bytes; export then import gives the register back; the template."""

from __future__ import annotations

from dataclasses import fields
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from mailcapture.errors import UserError
from mailcapture.register.model import Register
from mailcapture.register.validate import load_register
from mailcapture.resources import sample_register
from mailcapture.spreadsheets.layout import DEFAULT_LAYOUT, load_mapping
from mailcapture.spreadsheets.register_export import export_register
from mailcapture.spreadsheets.register_import import (
    WorkbookInvalid,
    import_register,
    read_register,
)
from tests.snapshots import run_cli
from tests.spreadsheets import council
from tests.spreadsheets.council import ind_cell


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _assert_same_register(a: Register, b: Register) -> None:
    for f in fields(Register):
        assert getattr(a, f.name) == getattr(b, f.name), f.name


@pytest.fixture(scope="module")
def workbook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return council.build(tmp_path_factory.mktemp("council") / "council.xlsx")


def test_the_same_workbook_gives_the_same_bytes(workbook: Path, tmp_path: Path) -> None:
    import_register(workbook, tmp_path / "one")
    import_register(workbook, tmp_path / "two")
    assert _files(tmp_path / "one") == _files(tmp_path / "two")


def test_reimporting_after_an_edit_changes_only_what_changed(
    workbook: Path, tmp_path: Path
) -> None:
    out = tmp_path / "register"
    import_register(workbook, out)
    before = _files(out)
    edited = load_workbook(workbook)
    edited["Indicators"][ind_cell(1, "Targets")].value = 60
    edited.save(tmp_path / "edited.xlsx")
    import_register(tmp_path / "edited.xlsx", out)
    after = _files(out)
    assert [name for name in before if before[name] != after[name]] == ["indicators.yaml"]
    old = before["indicators.yaml"].decode().splitlines()
    new = after["indicators.yaml"].decode().splitlines()
    assert [(a, b) for a, b in zip(old, new, strict=True) if a != b] == [
        ("      2025/26: 51", "      2025/26: 60")
    ]


def test_the_sample_register_goes_out_and_comes_back_the_same(tmp_path: Path) -> None:
    original = load_register(sample_register())
    export_register(original, tmp_path / "sample.xlsx")
    import_register(tmp_path / "sample.xlsx", tmp_path / "first")
    _assert_same_register(load_register(tmp_path / "first"), original)
    # Importing the exported workbook again, or exporting what was imported and importing
    # that, gives the very same bytes.
    import_register(tmp_path / "sample.xlsx", tmp_path / "second")
    assert _files(tmp_path / "first") == _files(tmp_path / "second")
    export_register(load_register(tmp_path / "first"), tmp_path / "again.xlsx")
    import_register(tmp_path / "again.xlsx", tmp_path / "third")
    assert _files(tmp_path / "first") == _files(tmp_path / "third")


def test_the_council_workbook_exports_to_the_same_register(workbook: Path, tmp_path: Path) -> None:
    import_register(workbook, tmp_path / "first")
    first = load_register(tmp_path / "first")
    export_register(first, tmp_path / "exported.xlsx")
    import_register(tmp_path / "exported.xlsx", tmp_path / "second")
    _assert_same_register(load_register(tmp_path / "second"), first)
    exported = load_workbook(tmp_path / "exported.xlsx")
    headers = [c.value for c in exported["Indicators"][1]]
    assert headers[-2:] == ["Target 2025/26", "Target 2026/27"]


def test_export_import_load_through_the_command_line(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    xlsx, folder = tmp_path / "register.xlsx", tmp_path / "register"
    exported = run_cli("export", "register", "--sample", "--out", str(xlsx), env=cli_env)
    assert exported.code == 0, exported.stderr
    imported = run_cli("import", "register", str(xlsx), "--out", str(folder), env=cli_env)
    assert imported.code == 0, imported.stderr
    loaded = run_cli("load", str(folder), env=cli_env)
    assert loaded.code == 0, loaded.stderr
    assert "indicators" in loaded.stdout
    again = run_cli("load", str(folder), env=cli_env)
    assert again.stdout.strip().endswith("no changes")


def test_the_template(tmp_path: Path) -> None:
    template = tmp_path / "template.xlsx"
    result = run_cli("import", "register", "--template", str(template), env={})
    assert result.code == 0, result.stderr
    wb = load_workbook(template)
    assert wb.sheetnames == ["README", *(layout.sheet for layout in DEFAULT_LAYOUT)]
    readme = [tuple(row) for row in wb["README"].iter_rows(values_only=True)]
    for layout in DEFAULT_LAYOUT:
        headers = [c.value for c in wb[layout.sheet][1]]
        assert headers[: len(layout.columns)] == [c.header for c in layout.columns]
        assert wb[layout.sheet].max_row == 1  # empty
        for column in layout.columns:
            explained = [r for r in readme if r[:2] == (layout.sheet, column.header)]
            assert len(explained) == 1 and explained[0][3], (layout.sheet, column.header)
    indicators = [c.value for c in wb["Indicators"][1]]
    assert indicators[-2].startswith("Target ") and indicators[-1].startswith("Target ")
    history = [c.value for c in wb["History"][1]]
    assert len(history) == 2 + 12
    # Filled in, it imports; left empty, it says what is missing and writes nothing.
    empty = run_cli("import", "register", str(template), "--out", str(tmp_path / "r"), env={})
    assert empty.code == 1
    assert "Indicators: no indicators on the sheet" in empty.stderr.splitlines()
    assert not (tmp_path / "r").exists()


def test_template_refuses_other_arguments(tmp_path: Path) -> None:
    result = run_cli("import", "register", "x.xlsx", "--template", str(tmp_path / "t.xlsx"), env={})
    assert result.code == 1
    assert (
        result.stderr == "mailcapture: error: --template writes an empty workbook: give it alone\n"
    )


def test_a_mapping_file_names_the_councils_sheets_and_columns(
    workbook: Path, tmp_path: Path
) -> None:
    import_register(workbook, tmp_path / "default")
    renamed = load_workbook(workbook)
    renamed["Indicators"].title = "PI register"
    renamed["PI register"]["L2"].value = "Responsible officer"
    renamed["History"].title = "Actuals"
    renamed["Actuals"]["A1"].value = "Measure"
    renamed.save(tmp_path / "renamed.xlsx")
    with pytest.raises(WorkbookInvalid) as caught:
        read_register(tmp_path / "renamed.xlsx")
    assert "workbook: no sheet named 'Indicators'" in [str(p) for p in caught.value.problems]
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        "indicators:\n"
        "  sheet: PI register\n"
        "  header_row: 2\n"
        "  columns: {owner: Responsible officer}\n"
        "history:\n"
        "  sheet: actuals\n"
        "  columns: {component: Measure}\n"
    )
    result = run_cli(
        "import", "register", str(tmp_path / "renamed.xlsx"), "--out", str(tmp_path / "mapped"),
        "--map", str(mapping), env={},
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert _files(tmp_path / "mapped") == _files(tmp_path / "default")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("indicatorz: {sheet: X}\n", "unknown section 'indicatorz'"),
        ("indicators: {columns: {ownr: Officer}}\n", "indicators.columns.ownr: unknown column"),
        ("indicators: {header_row: 0}\n", "indicators.header_row"),
    ],
)
def test_a_wrong_mapping_file_is_one_line(tmp_path: Path, text: str, reason: str) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(text)
    with pytest.raises(UserError) as caught:
        load_mapping(mapping)
    assert reason in str(caught.value)


def test_components_in_columns(tmp_path: Path) -> None:
    """One row per indicator with its components beside it, and no Components sheet."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Indicators"
    ws.append(
        ["Code", "Title", "Type", "Frequency", "Polarity", "Unit", "Formula", "Service area",
         "Owner", "Updaters", "Target 2026/27", "Component 1 code", "Component 1 title",
         "Component 1 unit", "Component 1 aggregation", "Component 2 code", "Component 2 title",
         "Component 2 unit", "Component 2 aggregation"]
    )  # fmt: skip
    ws.append(
        ["PI1", "Invoices paid on time", "local", "monthly", "higher", "%", "100 * PI1.1 / PI1.2",
         "FIN", "Ann Lee", "Ann Lee", 97.5, 1, "Paid on time", "number", "sum", "PI1.2",
         "All invoices", "number", "sum"]
    )  # fmt: skip
    ws.append(
        ["PI2", "Staff", "statistic", "annual", "neutral", "number", None, "FIN", "Ann Lee",
         "Ann Lee", None, "PI2.1", "Staff in post", "number", "last"]
    )  # fmt: skip
    people = wb.create_sheet("People")
    people.append(["Email", "Name"])
    people.append(["ann.lee@council.example", "Ann Lee"])
    departments = wb.create_sheet("Departments")
    departments.append(
        ["Department", "Department name", "Head", "Service area", "Service area name"]
    )
    departments.append(["RES", "Resources", "Ann Lee", "FIN", "Finance"])
    wb.save(tmp_path / "columns.xlsx")
    import_register(tmp_path / "columns.xlsx", tmp_path / "register")
    register = load_register(tmp_path / "register")
    assert [(c.code, c.title, c.aggregation.value, c.declared_by) for c in register.components] == [
        ("PI1.1", "Paid on time", "sum", "PI1"),
        ("PI1.2", "All invoices", "sum", "PI1"),
        ("PI2.1", "Staff in post", "last", "PI2"),
    ]
    assert [(t.period.code, t.value) for t in register.indicators[0].targets] == [
        ("2026/27", Decimal("97.5"))
    ]
    assert register.indicators[1].formula_text is None
