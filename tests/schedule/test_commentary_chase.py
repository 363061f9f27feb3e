"""Red or worsening indicators without commentary are chased by the owner's reminder.

Issue 15, part 8. The sample council's April 2026 round, through the timetable's ``tick``
and the one inbound pipeline: Kevin Walsh returns BV8a as 1,400 of 1,600 invoices paid
within 30 days (87.5 %: red against the 97.5 % target, and worse than March's 98.1 %);
Amy Lawson returns BV78a as 15.9 days (green against 17, better than March). April's
owner reports go out on Wednesday 20 May (3 working days after the 15 May deadline); the
reminders come 3 and 5 working days later, on 26 May (25 May is a bank holiday) and
28 May. Mark Ellison, who owns BV8a, is chased until he comments; Claire Donnelly, who owns
BV78a, is not; and nothing is sent once the report's token has expired (the round closed).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import as_utc
from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.domain.periods import parse_period
from mailcapture.schedule.report_reminders import reminder_times
from mailcapture.schedule.reports import report_times
from mailcapture.schedule.tick import tick
from mailcapture.schedule.timetable import load_timetable
from tests.conftest import SampleRegister
from tests.mailflow.world import PipelineWorld, april_requests_sent

KEVIN = "Kevin Walsh <kevin.walsh@ashdown.example>"
AMY = "Amy Lawson <amy.lawson@ashdown.example>"
MARK = "Mark Ellison <mark.ellison@ashdown.example>"
MARK_EMAIL = "mark.ellison@ashdown.example"
CLAIRE_EMAIL = "claire.donnelly@ashdown.example"
KIND = "owner_commentary_reminder"
#: April's owner reports, and the two reminder steps after them (09:00 in London).
OWNER_REPORTS = as_utc(datetime(2026, 5, 20, 9, 0))
STEP_1 = as_utc(datetime(2026, 5, 26, 9, 0))
STEP_2 = as_utc(datetime(2026, 5, 28, 9, 0))
BV8A_REASON = "red (87.5% against 97.5%) and worsening since 2026-03"


def mail_to(world: PipelineWorld, kind: str, email: str) -> list[m.OutboxMessage]:
    with world.sessions() as s:
        return list(
            s.scalars(
                select(m.OutboxMessage)
                .where(m.OutboxMessage.kind == kind, m.OutboxMessage.recipient == email)
                .order_by(m.OutboxMessage.id)
            )
        )


def text(row: m.OutboxMessage) -> str:
    return clients.plain_text(clients.parsed(row.raw))


def flat(row: m.OutboxMessage) -> str:
    return " ".join(text(row).split())


def april_run(world: PipelineWorld) -> m.ReportRun:
    """Mark's own April owner report (he is also sent copies of others', and March's)."""
    with world.sessions() as s:
        run = s.scalars(
            select(m.ReportRun)
            .join(m.Person, m.Person.id == m.ReportRun.person_id)
            .join(m.Period, m.Period.id == m.ReportRun.period_id)
            .where(
                m.ReportRun.report_kind == "owner",
                m.ReportRun.token.is_not(None),
                m.Person.email == MARK_EMAIL,
                m.Period.code == "2026-04",
            )
        ).one()
        s.expunge(run)
        return run


def outbox_row(world: PipelineWorld, row_id: int | None) -> m.OutboxMessage:
    with world.sessions() as s:
        row = s.get_one(m.OutboxMessage, row_id)
        s.expunge(row)
        return row


@pytest.fixture
def world(sessions: sessionmaker[Session], sample_register: SampleRegister) -> PipelineWorld:
    """April's returns in: BV8a red and worsening, BV78a green and improving."""
    w = april_requests_sent(sessions, sample_register)
    kevin = w.ingest(
        clients.outlook_in_place(
            w.request_raw("kevin.walsh@ashdown.example"),
            KEVIN,
            {"BV8a.1": "1400", "BV8a.2": "1600", "P09.M0": "on track"},
        ),
        at=as_utc(datetime(2026, 5, 6, 10, 0)),
    )
    assert kevin.outcome == "applied", kevin
    amy = w.ingest(
        clients.outlook_in_place(
            w.request_raw("amy.lawson@ashdown.example"),
            AMY,
            {"BV78a.1": "2700", "BV78a.2": "170"},
        ),
        at=as_utc(datetime(2026, 5, 7, 10, 0)),
    )
    assert amy.outcome in ("applied", "partial"), amy
    return w


def test_the_reminder_days_follow_the_owner_report(world: PipelineWorld) -> None:
    with world.sessions() as s:
        timetable = load_timetable(s)
    owner = report_times(timetable, parse_period("2026-04")).times["owner"]
    assert owner == OWNER_REPORTS
    assert reminder_times(timetable, owner) == (STEP_1, STEP_2)


def test_red_indicator_is_chased_until_the_owner_comments(world: PipelineWorld) -> None:
    sessions = world.sessions
    tick(sessions, OWNER_REPORTS)
    run = april_run(world)
    report = outbox_row(world, run.outbox_id)
    assert "[BV8a] " in text(report) and "[BV8a comment]:" in text(report)
    claire = [r for r in mail_to(world, "report_owner", CLAIRE_EMAIL) if "[MC-" in r.subject]
    assert any("(target 17 days), green, improving" in flat(r) for r in claire)

    # Nothing before the first step.
    tick(sessions, STEP_1 - timedelta(days=1))
    assert mail_to(world, KIND, MARK_EMAIL) == []

    # The first step: one reminder, on the report's token, naming BV8a and why.
    tick(sessions, STEP_1)
    assert tick(sessions, STEP_1 + timedelta(minutes=5)).reminders == 0  # once
    [chase] = mail_to(world, KIND, MARK_EMAIL)
    assert chase.subject.startswith("Commentary still needed: BV8a in your owner report for")
    assert chase.subject.endswith(f"[MC-{run.token}]")
    body = flat(chase)
    assert f"BV8a (April 2026) is {BV8A_REASON}: please reply with a line such as" in body
    assert '"[BV8a comment]: ..."' in body
    assert "LFIN01" not in body and "last reminder" not in body
    assert max(len(line) for line in text(chase).splitlines()) <= 78
    html = clients.html_text(clients.parsed(chase.raw))
    assert "[BV8a comment]: ..." in html and "red (87.5% against 97.5%)" in html
    headers = clients.parsed(chase.raw)
    assert run.token is not None and run.token in str(headers["Reply-To"])
    assert str(headers["In-Reply-To"]).strip("<>") == (run.message_id or "").strip("<>")
    # Claire's indicators need nothing: she is not written to.
    assert mail_to(world, KIND, CLAIRE_EMAIL) == []

    # Mark answers the reminder (a quoted copy of it below his line).
    answer = world.ingest(
        clients.gmail_top_posted(
            chase.raw, MARK, "[BV8a comment]: a new invoice system; the backlog clears in June"
        ),
        at=STEP_1 + timedelta(hours=2),
    )
    assert answer.outcome == "report-answer", answer
    with sessions() as s:
        [comment] = s.scalars(
            select(m.Commentary).where(m.Commentary.indicator_id.is_not(None))
        ).all()
        assert comment.author_role == "owner"
        assert comment.body == "a new invoice system; the backlog clears in June"

    # The second step finds the comment: no further reminder, to anyone.
    tick(sessions, STEP_2)
    tick(sessions, STEP_2 + timedelta(days=3))
    assert len(mail_to(world, KIND, MARK_EMAIL)) == 1
    assert mail_to(world, KIND, CLAIRE_EMAIL) == []


def test_each_step_once_then_nothing_after_the_round_closes(world: PipelineWorld) -> None:
    sessions = world.sessions
    tick(sessions, OWNER_REPORTS)
    for day in range(21, 32):  # every day to the end of May, twice on the step days
        now = as_utc(datetime(2026, 5, day, 9, 0))
        tick(sessions, now)
        tick(sessions, now + timedelta(minutes=1))
    first, second = mail_to(world, KIND, MARK_EMAIL)
    assert (first.created_at, second.created_at) == (STEP_1, STEP_2)
    assert BV8A_REASON in flat(first) and BV8A_REASON in flat(second)
    assert "This is the last reminder for this report." in flat(second)
    assert mail_to(world, KIND, CLAIRE_EMAIL) == []

    # The round closes when the report's token expires (June's owner report): later
    # ticks send nothing more, though BV8a still has no commentary.
    expires = april_run(world).expires_at
    assert expires is not None
    for now in (expires - timedelta(hours=1), expires, expires + timedelta(days=5)):
        tick(sessions, now)
    assert len(mail_to(world, KIND, MARK_EMAIL)) == 2


def test_no_reminder_once_the_round_has_closed(world: PipelineWorld) -> None:
    """The service was down from the owner reports until after their expiry: the chase is
    not caught up, as the answer could no longer be recorded."""
    sessions = world.sessions
    tick(sessions, OWNER_REPORTS)
    expires = april_run(world).expires_at
    assert expires is not None
    tick(sessions, expires + timedelta(minutes=1))
    assert mail_to(world, KIND, MARK_EMAIL) == []


def test_a_missed_step_is_caught_up_once_with_the_latest(world: PipelineWorld) -> None:
    """Down over both steps: one reminder (the latest step's), not two at once."""
    sessions = world.sessions
    tick(sessions, OWNER_REPORTS)
    tick(sessions, STEP_2 + timedelta(days=1))
    [chase] = mail_to(world, KIND, MARK_EMAIL)
    assert "This is the last reminder for this report." in flat(chase)
