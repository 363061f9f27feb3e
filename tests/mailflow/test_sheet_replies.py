"""Replies with the spreadsheet form attached, end to end (issue 16, part 3).

The tick sends Kevin Walsh's April request with its ``.xlsx`` form; the test fills the form
with openpyxl as a person would (some cells blank, a number typed as text, a comment),
replies from Outlook with it attached, and reads back what was stored and what the
confirmation said. Both databases.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.reports.export import values_table
from tests.conftest import SampleRegister
from tests.mailflow.world import PipelineWorld, april_requests_sent

KEVIN = "kevin.walsh@ashdown.example"
SENDER = f"Kevin Walsh <{KEVIN}>"


@pytest.fixture
def world(sessions: sessionmaker[Session], sample_register: SampleRegister) -> PipelineWorld:
    return april_requests_sent(sessions, sample_register)


def fill(
    data: bytes, answers: dict[str, Any], comments: dict[str, str] | None = None
) -> tuple[bytes, dict[str, str]]:
    """Type ``answers`` (and ``comments``) into the form's Answer (Comment) cells by code,
    as a person would; returns the file and where each answer went (``Return!H9``)."""
    book = load_workbook(io.BytesIO(data))
    sheet = book.worksheets[0]
    header = next(
        row
        for row in sheet.iter_rows(max_row=60)
        if any(str(c.value or "").strip().lower() == "code" for c in row)
    )
    column = {str(c.value or "").strip().lower(): c.column for c in header}
    where: dict[str, str] = {}
    for row in sheet.iter_rows(min_row=header[0].row + 1):
        code = str(row[column["code"] - 1].value or "").strip()
        if code in answers:
            target = sheet.cell(row=row[0].row, column=column["answer"])
            target.value = answers[code]
            where[code] = f"{sheet.title}!{target.coordinate}"
        if comments and code in comments:
            sheet.cell(row=row[0].row, column=column["comment"]).value = comments[code]
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), where


def stored(world: PipelineWorld) -> dict[str, tuple[Any, ...]]:
    """``export values`` for April, by code: value, status, raw answer, origin."""
    with world.sessions() as s:
        table = values_table(s, ["2026-04"])
    columns = list(table.columns)
    pick = [columns.index(c) for c in ("value", "status", "raw_answer", "origin")]
    rows: dict[str, tuple[Any, ...]] = {}
    for row in table.rows:
        if row[columns.index("submitted_by")] == KEVIN:
            rows[row[columns.index("code")]] = tuple(row[i] for i in pick)
    return rows


def confirmation(world: PipelineWorld) -> str:
    with world.sessions() as s:
        raw = s.scalars(
            select(m.OutboxMessage.raw)
            .where(m.OutboxMessage.kind == "confirmation", m.OutboxMessage.recipient == KEVIN)
            .order_by(m.OutboxMessage.id.desc())
        ).first()
    assert raw is not None, "no confirmation queued"
    return " ".join(clients.plain_text(clients.parsed(raw)).split())


def test_a_filled_in_form_attached_from_outlook_is_read_like_typed_answers(
    world: PipelineWorld,
) -> None:
    request = world.request_raw(KEVIN)
    name, form = clients.attached_sheet(request)
    assert name.endswith(".xlsx")
    # A number, a number typed as text, the milestone left blank, a comment.
    data, where = fill(form, {"BV8a.1": 1870, "BV8a.2": "1,902"}, {"BV8a.1": "Backlog cleared"})
    reply = clients.outlook_with_attachment(request, SENDER, "Figures attached.", name, data)

    result = world.ingest(reply)

    assert result.outcome == "applied", result
    rows = stored(world)
    assert set(rows) == {"BV8a.1", "BV8a.2"}, rows  # nothing for the blank milestone
    assert rows["BV8a.1"] == (Decimal("1870"), "accepted", "1870", f"{name}, {where['BV8a.1']}")
    assert rows["BV8a.2"] == (Decimal("1902"), "accepted", "1,902", f"{name}, {where['BV8a.2']}")
    assert world.current("P09.M0") is None
    text = confirmation(world)
    assert "1,870" in text and "1,902" in text
    with world.sessions() as s:
        comment = s.scalars(select(m.Commentary.body).where(m.Commentary.is_current)).all()
    assert "Backlog cleared" in comment


def test_a_figure_typed_and_a_different_one_in_the_sheet_are_both_refused(
    world: PipelineWorld,
) -> None:
    request = world.request_raw(KEVIN)
    name, form = clients.attached_sheet(request)
    data, where = fill(form, {"BV8a.1": 1880, "BV8a.2": 1902})
    reply = clients.outlook_with_attachment(request, SENDER, "BV8a.1: 1,870", name, data)

    world.ingest(reply)

    assert world.current("BV8a.1") is None  # no winner chosen
    assert world.current("BV8a.2") == (Decimal("1902"), "accepted")
    text = confirmation(world)
    assert "'1,870' in the email" in text
    assert f"'1880' in {name}, {where['BV8a.1']}" in text


def test_the_same_figure_typed_and_in_the_sheet_is_stored_once(world: PipelineWorld) -> None:
    request = world.request_raw(KEVIN)
    name, form = clients.attached_sheet(request)
    data, _ = fill(form, {"BV8a.1": 1870})
    reply = clients.outlook_with_attachment(request, SENDER, "BV8a.1: 1,870", name, data)

    world.ingest(reply)

    assert stored(world)["BV8a.1"][:3] == (Decimal("1870"), "accepted", "1,870")


def test_a_formula_with_no_saved_value_is_refused_never_worked_out(world: PipelineWorld) -> None:
    request = world.request_raw(KEVIN)
    name, form = clients.attached_sheet(request)
    # openpyxl writes a formula without its value, as a program that does not calculate.
    data, _ = fill(form, {"BV8a.1": "=1800+70", "BV8a.2": 1902})
    reply = clients.outlook_with_attachment(request, SENDER, "See attached", name, data)

    world.ingest(reply)

    assert world.current("BV8a.1") is None
    assert world.current("BV8a.2") == (Decimal("1902"), "accepted")
    assert "BV8a.1" in confirmation(world)
    assert stored(world)["BV8a.1"][1] == "rejected"


def _someone_elses_workbook() -> bytes:
    """A workbook of the updater's own making, with the codes and figures in it."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["PI", "April"])
    sheet.append(["BV8a.1", 1870])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("filename", "content_type", "data"),
    [
        ("April figures.xlsx", clients.XLSX, _someone_elses_workbook()),
        ("figures.csv", "text/csv", b"code,answer\nBV8a.1,1870\n"),
        ("Book1.xls", "application/vnd.ms-excel", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500)),
    ],
    ids=["own-workbook", "csv", "xls"],
)
def test_another_kind_of_file_is_named_in_the_confirmation_and_not_guessed_at(
    world: PipelineWorld, filename: str, content_type: str, data: bytes
) -> None:
    request = world.request_raw(KEVIN)
    reply = clients.outlook_with_attachment(
        request, SENDER, "BV8a.2: 1902", filename, data, content_type
    )

    result = world.ingest(reply)

    assert result.outcome == "applied"
    assert world.current("BV8a.1") is None
    assert world.current("BV8a.2") == (Decimal("1902"), "accepted")
    assert f"The attachment {filename} was not read" in confirmation(world)


def test_a_macro_enabled_workbook_is_refused_and_the_typed_answers_stand(
    world: PipelineWorld,
) -> None:
    request = world.request_raw(KEVIN)
    name, form = clients.attached_sheet(request)
    data, _ = fill(form, {"BV8a.1": 1870})
    macro = "application/vnd.ms-excel.sheet.macroEnabled.12"
    reply = clients.outlook_with_attachment(
        request, SENDER, "BV8a.2: 1902", name.replace(".xlsx", ".xlsm"), data, macro
    )

    world.ingest(reply)

    assert world.current("BV8a.1") is None
    assert world.current("BV8a.2") == (Decimal("1902"), "accepted")
    assert "was not read" in confirmation(world)
