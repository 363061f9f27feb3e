"""Exports of stored values for spreadsheets and other systems: CSV, JSON, XLSX.

Spreadsheet applications run a cell that begins with ``= + - @`` (and tab or CR) as a
formula, and text in these exports comes from email (answers, reasons, names), so such
cells are neutralised with a leading apostrophe. Plain numbers are left as numbers.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from mailcapture.db import models as m
from mailcapture.domain.enums import SubmissionState

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")

VALUE_COLUMNS = (
    "period",
    "code",
    "value",
    "status",
    "submitted_by",
    "on_behalf_of",
    "received_at",
    "message_id",
    "reason",
    "raw_answer",
    "late",
    "estimated",
    "source",
    #: Where an answer that was not typed came from: the spreadsheet's file, sheet and cell.
    "origin",
)

STATUS_WORDS = {
    SubmissionState.ACCEPTED: "accepted",
    SubmissionState.REJECTED: "rejected",
    SubmissionState.SUPERSEDED: "superseded",
    SubmissionState.NOT_AVAILABLE: "not available",
    #: Held until the sender confirms it: listed, but never counted (see mailflow/apply.py).
    SubmissionState.UNCONFIRMED: "unconfirmed",
    #: Differing figures from different people, the owner asked to choose: never counted.
    SubmissionState.CONFLICTING: "conflicting",
}


def neutralise(value: Any) -> Any:
    """Make a text cell safe to open in a spreadsheet; numbers pass through."""
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


@dataclass(frozen=True)
class Table:
    columns: Sequence[str]
    rows: list[tuple[Any, ...]]


def values_table(session: Session, period_codes: Iterable[str] | None = None) -> Table:
    """Every component value and milestone status ever received, current or not."""
    submitter, principal = aliased(m.Person), aliased(m.Person)
    rows: list[tuple[Any, ...]] = []
    value_query = (
        select(
            m.Period.code,
            m.Component.code,
            m.ComponentValue,
            submitter.email,
            principal.email,
            m.InboundMessage.message_id,
        )
        .join(m.Component, m.Component.id == m.ComponentValue.component_id)
        .join(m.Period, m.Period.id == m.ComponentValue.period_id)
        .outerjoin(submitter, submitter.id == m.ComponentValue.submitted_by_id)
        .outerjoin(principal, principal.id == m.ComponentValue.on_behalf_of_id)
        .outerjoin(m.InboundMessage, m.InboundMessage.id == m.ComponentValue.inbound_message_id)
    )
    status_query = (
        select(
            m.Period.code,
            m.Milestone.code,
            m.MilestoneUpdate,
            submitter.email,
            principal.email,
            m.InboundMessage.message_id,
        )
        .join(m.Milestone, m.Milestone.id == m.MilestoneUpdate.milestone_id)
        .join(m.Period, m.Period.id == m.MilestoneUpdate.period_id)
        .outerjoin(submitter, submitter.id == m.MilestoneUpdate.submitted_by_id)
        .outerjoin(principal, principal.id == m.MilestoneUpdate.on_behalf_of_id)
        .outerjoin(m.InboundMessage, m.InboundMessage.id == m.MilestoneUpdate.inbound_message_id)
    )
    if period_codes is not None:
        codes = list(period_codes)
        value_query = value_query.where(m.Period.code.in_(codes))
        status_query = status_query.where(m.Period.code.in_(codes))
    for period, code, v, by, for_, message_id in session.execute(value_query):
        rows.append(
            (
                period,
                code,
                v.value,
                STATUS_WORDS[v.state],
                by,
                for_,
                v.received_at,
                message_id,
                v.reason,
                v.raw_answer,
                v.late,
                v.estimated,
                v.source.value,
                v.origin,
            )
        )
    for period, code, u, by, for_, message_id in session.execute(status_query):
        status_text = u.status.value.replace("_", " ") if u.status else None
        if status_text and u.completed_on:
            status_text += f" {u.completed_on.isoformat()}"
        rows.append(
            (
                period,
                code,
                status_text,
                STATUS_WORDS[u.state],
                by,
                for_,
                u.received_at,
                message_id,
                u.reason,
                u.raw_answer,
                u.late,
                False,
                u.source.value,
                u.origin,
            )
        )
    rows.sort(key=lambda r: (r[0], r[1], r[6]))
    return Table(VALUE_COLUMNS, rows)


def _cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def to_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow([neutralise(_cell(v)) if v is not None else "" for v in row])
    return out.getvalue()


def to_json(table: Table) -> str:
    records = [{c: _cell(v) for c, v in zip(table.columns, row, strict=True)} for row in table.rows]
    return json.dumps(records, indent=2, ensure_ascii=False)


def to_xlsx(table: Table) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    if sheet is None:  # a new workbook has one sheet, active; never write a file without it
        raise RuntimeError("openpyxl made a workbook without a worksheet")
    sheet.title = "values"
    sheet.append(list(table.columns))
    for row in table.rows:
        cells: list[object] = []
        for value in row:
            if isinstance(value, Decimal):
                cells.append(float(value))  # a number cell; figures have <= 15 digits
            elif isinstance(value, datetime):
                cells.append(value.replace(tzinfo=None))
            else:
                cells.append(neutralise(value))
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
