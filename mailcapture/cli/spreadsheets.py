"""``mailcapture import register`` and ``mailcapture export register``: the register workbook.

Registered from :mod:`mailcapture.cli.main`, which is imported on every invocation, so this
module imports only typer and the standard library; openpyxl, ruamel.yaml and the register
code load when one of these commands runs.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from mailcapture.errors import UserError

import_app = typer.Typer(help="Import from spreadsheets.", no_args_is_help=True)


@import_app.command("register")
def import_register(
    workbook: Annotated[
        Path | None,
        typer.Argument(metavar="WORKBOOK", help="The council's register workbook (.xlsx)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="FOLDER",
            help="Register folder to write (its .yaml files are replaced).",
        ),
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(
            "--map", metavar="FILE", help="Mapping file: the sheet and column of each field."
        ),
    ] = None,
    template: Annotated[
        Path | None,
        typer.Option(
            "--template",
            metavar="FILE",
            help="Write an empty workbook in the default layout, with a README sheet.",
        ),
    ] = None,
) -> None:
    """Write a register folder from the council's workbook, ready for `mailcapture load`."""
    if template is not None:
        if workbook is not None or out is not None or mapping is not None:
            raise UserError("--template writes an empty workbook: give it alone")
        _template(template)
        return
    if workbook is None or out is None:
        raise UserError("give the workbook and --out FOLDER (or --template FILE)")
    from mailcapture.spreadsheets.layout import DEFAULT_LAYOUT, load_mapping
    from mailcapture.spreadsheets.register_import import WorkbookInvalid, read_register
    from mailcapture.spreadsheets.register_import import write_register as write

    layouts = load_mapping(mapping) if mapping is not None else DEFAULT_LAYOUT
    try:
        files = read_register(workbook, layouts)
    except WorkbookInvalid as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        raise UserError(
            f"workbook not imported: {len(exc.problems)} problem(s); nothing was written"
        ) from None
    try:
        write(files, out)
    except OSError as exc:
        raise UserError(f"{out}: cannot write the register: {exc.strerror}") from None
    print(f"register written to {out}: {', '.join(files)}")


def _template(path: Path) -> None:
    from mailcapture.clock import LOCAL_TZ, get_clock
    from mailcapture.spreadsheets.register_export import write_template

    _check_xlsx(path)
    try:
        write_template(path, get_clock().now().astimezone(LOCAL_TZ).date())
    except OSError as exc:
        raise UserError(f"{path}: cannot write: {exc.strerror}") from None
    print(f"template written to {path}")


def _check_xlsx(path: Path) -> None:
    if path.suffix.lower() != ".xlsx":
        raise UserError(f"{path}: the workbook's name must end in .xlsx")


class RegisterFormat(StrEnum):
    xlsx = "xlsx"


def export_register(
    folder: Annotated[
        Path | None,
        typer.Argument(metavar="[FOLDER]", help="Register folder (default $MAILCAPTURE_CONFIG)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", metavar="FILE", help="The workbook to write.")
    ] = None,
    fmt: Annotated[
        RegisterFormat, typer.Option("--format", metavar="[xlsx]", help="The file format.")
    ] = RegisterFormat.xlsx,
    sample: Annotated[
        bool, typer.Option("--sample", help="The sample council's register.")
    ] = False,
) -> None:
    """The register, as `load` reads it from FOLDER, as a workbook in the default layout."""
    from mailcapture.register.validate import load_register
    from mailcapture.resources import sample_register
    from mailcapture.settings import Settings
    from mailcapture.spreadsheets.register_export import export_register as write

    if out is None:
        raise UserError("give the workbook to write with --out FILE")
    _check_xlsx(out)
    if sample and folder is not None:
        raise UserError("give a register folder or --sample, not both")
    source = sample_register() if sample else folder or Settings.from_environment().config_dir
    register = load_register(source)
    try:
        write(register, out)
    except OSError as exc:
        raise UserError(f"{out}: cannot write: {exc.strerror}") from None
    print(f"register {source} written to {out}")
