"""``tick`` sends each data request with its spreadsheet form (issue 16, part 2), on both
databases: the sample council's April 2026 requests go out on 1 May, are delivered to
``.eml`` files, and each sent message's ``.xlsx`` is opened and checked against the request
it belongs to; so is the request sent again on the day a promised item is due. With the
register's ``mail: request_workbook: false`` none carries one.
"""

from __future__ import annotations

import email
import io
import shutil
from datetime import UTC, datetime
from decimal import Decimal
from email.message import Message
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import FixedClock, as_utc
from mailcapture.compose.workbook import XLSX_SUBTYPE
from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.domain.figures import format_figure
from mailcapture.outbox.worker import deliver_due
from mailcapture.parsing.workbook import read_workbook
from mailcapture.register.loader import load_folder
from mailcapture.schedule.tick import tick
from mailcapture.transport.outbound import FolderSender
from tests.conftest import CONFIG_DIR, SampleRegister
from tests.mailflow.world import april_requests_sent

LOADED = datetime(2026, 4, 20, 12, 0, tzinfo=UTC)
APRIL_REQUESTS = as_utc(datetime(2026, 5, 1, 9, 0))


def _sent(sessions: sessionmaker[Session], folder: Path) -> list[Message]:
    stats = deliver_due(
        sessions,
        FolderSender(folder),
        FixedClock(APRIL_REQUESTS),
        envelope_from="performance@ashdown.example",
    )
    assert stats.failed == 0 and stats.sent > 0
    return [email.message_from_bytes(p.read_bytes()) for p in sorted(folder.glob("*.eml"))]


def _workbooks(message: Message) -> list[tuple[str, bytes]]:
    found = []
    for part in message.walk():
        if part.get_content_type() == f"application/{XLSX_SUBTYPE}":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            assert part.get_content_disposition() == "attachment"
            found.append((str(part.get_filename()), payload))
    return found


def test_each_sent_request_carries_its_form(
    sessions: sessionmaker[Session], sample_register: SampleRegister, tmp_path: Path
) -> None:
    sample_register.load(sessions, LOADED)
    report = tick(sessions, APRIL_REQUESTS)
    assert report.requests > 0
    messages = _sent(sessions, tmp_path / "out")
    with sessions() as s:
        requests = {
            r.message_id: r
            for r in s.scalars(
                select(m.DataRequest).join(m.Period).where(m.Period.code == "2026-04")
            )
        }
        checked = with_history = 0
        for message in messages:
            request = requests.get(str(message["Message-ID"]))
            if request is None:
                assert _workbooks(message) == []  # only requests carry it
                continue
            person = s.get_one(m.Person, request.person_id)
            ((filename, data),) = _workbooks(message)
            slug = person.name.lower().replace(" ", "-")
            assert filename == f"return-2026-04-{slug}.xlsx"
            book = load_workbook(io.BytesIO(data))
            sheet = book["Return"]
            ((title, cell),) = list(book.defined_names["mailcapture_reference"].destinations)
            assert book[title][cell.replace("$", "")].value == f"MC-{request.token}"
            codes = [item.item_code for item in sorted(request.items, key=lambda i: i.position)]
            rows = [str(sheet.cell(row, 1).value) for row in range(9, 9 + len(codes))]
            assert sorted(rows) == sorted(codes)  # the request's items, each once
            for row, code in enumerate(rows, start=9):
                component = s.scalar(select(m.Component).where(m.Component.code == code))
                if component is None:  # a milestone: the statuses to choose from
                    assert sheet.cell(row, 3).value == "status"
                    continue
                assert sheet.cell(row, 3).value == component.unit
                last_year = s.scalar(
                    select(m.ComponentValue.value)
                    .join(m.Period)
                    .where(
                        m.ComponentValue.component_id == component.id,
                        m.ComponentValue.is_current,
                        m.Period.code == "2025-04",
                    )
                )
                shown = sheet.cell(row, 5).value  # same period last year, a number cell
                if last_year is None:
                    assert shown is None
                else:
                    assert isinstance(shown, int | float)
                    assert Decimal(str(shown)) == last_year
                    with_history += 1
                allowed = sheet.cell(row, 7).value
                if component.min_value is not None and component.max_value is not None:
                    low = format_figure(component.min_value, component.unit)
                    high = format_figure(component.max_value, component.unit)
                    assert allowed == f"{low} to {high}"
            # The reader knows its own form, blank as sent: ours, nothing answered.
            reading = read_workbook(data, filename, reference=request.token, codes=codes)
            assert reading.verdict == "ours" and reading.answers == ()
            checked += 1
        assert checked == len(requests) == report.requests
        assert with_history > 0  # the sample's history reached the forms


def test_the_register_setting_off_sends_no_form(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    folder = tmp_path / "register"
    shutil.copytree(CONFIG_DIR, folder)
    mail_yaml = folder / "mail.yaml"
    mail_yaml.write_text(mail_yaml.read_text() + "  request_workbook: false\n")
    load_folder(folder, sessions, LOADED)
    report = tick(sessions, APRIL_REQUESTS)
    assert report.requests > 0
    messages = _sent(sessions, tmp_path / "out")
    assert messages
    assert all(_workbooks(message) == [] for message in messages)
    assert {message.get_content_type() for message in messages} == {"multipart/alternative"}


def test_the_request_sent_again_for_a_promised_item_carries_a_form_of_that_item(
    sessions: sessionmaker[Session], sample_register: SampleRegister
) -> None:
    """Kevin answers BV8a.1 "n/a until 8 May" on 5 May; on 8 May he is asked for it again,
    with a form holding just that item, answered on the same reference."""
    world = april_requests_sent(sessions, sample_register)
    kevin = "kevin.walsh@ashdown.example"
    request_raw = world.request_raw(kevin)
    when = as_utc(datetime(2026, 5, 5, 11, 30))
    reply = clients.outlook_in_place(
        request_raw,
        f"Kevin Walsh <{kevin}>",
        {"BV8a.1": "n/a until 8 May", "BV8a.2": "1,234"},
        when=when,
    )
    assert world.ingest(reply, at=when).outcome == "applied"
    tick(sessions, as_utc(datetime(2026, 5, 8, 9, 0)))
    with sessions() as s:
        row = s.scalars(
            select(m.OutboxMessage).where(
                m.OutboxMessage.kind == "deferred_request", m.OutboxMessage.recipient == kevin
            )
        ).one()
        request = s.get_one(m.DataRequest, row.request_id)
        raw, token = row.raw, request.token
    ((filename, data),) = _workbooks(email.message_from_bytes(raw))
    assert filename == "return-2026-04-kevin-walsh.xlsx"
    sheet = load_workbook(io.BytesIO(data))["Return"]
    assert sheet["A9"].value == "BV8a.1"
    assert sheet["A10"].value is None  # only the promised item
    assert sheet["B5"].value == f"MC-{token}"
    reading = read_workbook(data, filename, reference=token, codes=["BV8a.1"])
    assert reading.verdict == "ours"
