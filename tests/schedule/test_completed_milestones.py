"""A milestone reported complete is no longer asked for, chased or counted as a missing return.

Observed with the sample register (issue 15): P04.M2 and P05.M3, answered complete on the
April form, were requested again in May and listed as missing returns. Here Jason answers
his real April request through the pipeline, the timetable runs on, and what he is sent
for May and June is read back from the outbox, the request rows, the returns counts and
the exception report. A later answer that is not "complete", or the register edited after
the answer, brings the milestone back.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import as_utc
from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.domain.completion import StatusAnswer, finished_before
from mailcapture.domain.periods import parse_period
from mailcapture.register.loader import load_folder
from mailcapture.reports.exceptions import exceptions
from mailcapture.reports.returns import returns_status
from mailcapture.schedule.tick import tick
from tests.conftest import CONFIG_DIR, SampleRegister
from tests.mailflow.world import PipelineWorld, april_requests_sent

JASON_EMAIL = "jason.reid@ashdown.example"
JASON = f"Jason Reid <{JASON_EMAIL}>"
#: When the May requests go out (the first working day of June) and their chase steps.
MAY_REQUESTS = as_utc(datetime(2026, 6, 1, 9, 0))
MAY_CHASE = [as_utc(datetime(2026, 6, d, 9, 0)) for d in (9, 11, 15, 18, 22)]
JUNE_REQUESTS = as_utc(datetime(2026, 7, 1, 9, 0))


def _requested(world: PipelineWorld, period: str) -> list[str]:
    """The item codes on Jason's request for ``period``."""
    with world.sessions() as s:
        return list(
            s.scalars(
                select(m.DataRequestItem.item_code)
                .join(m.DataRequest)
                .join(m.Period, m.Period.id == m.DataRequest.period_id)
                .join(m.Person, m.Person.id == m.DataRequest.person_id)
                .where(m.Person.email == JASON_EMAIL, m.Period.code == period)
                .order_by(m.DataRequestItem.position)
            )
        )


def _mail_to_jason(world: PipelineWorld, period: str) -> list[tuple[str, str]]:
    """(kind, text) of every email queued for ``period``."""
    with world.sessions() as s:
        rows = s.scalars(
            select(m.OutboxMessage)
            .join(m.Period, m.Period.id == m.OutboxMessage.period_id)
            .where(m.Period.code == period)
            .order_by(m.OutboxMessage.id)
        ).all()
        return [(r.kind, clients.plain_text(clients.parsed(r.raw))) for r in rows]


def _answer_april(world: PipelineWorld, answers: dict[str, str], when: datetime) -> None:
    raw = clients.outlook_in_place(world.request_raw(JASON_EMAIL), JASON, answers, when=when)
    result = world.ingest(raw, at=when)
    assert result.outcome == "applied", result


def test_milestones_answered_complete_are_not_requested_chased_or_missing(
    sessions: sessionmaker[Session], sample_register: SampleRegister
) -> None:
    world = april_requests_sent(sessions, sample_register)
    april = _requested(world, "2026-04")
    assert {"P04.M2", "P05.M3"} <= set(april)
    _answer_april(
        world,
        {"P04.M2": "complete 20 April 2026", "P05.M3": "completed"},
        as_utc(datetime(2026, 5, 6, 10, 0)),
    )

    tick(sessions, MAY_REQUESTS)
    may = _requested(world, "2026-05")
    assert may, "Jason still has other milestones to report in May"
    assert "P04.M2" not in may and "P05.M3" not in may
    # Everything else he was asked in April is asked again (nothing else was finished).
    assert set(may) == set(april) - {"P04.M2", "P05.M3"}

    for now in MAY_CHASE:
        tick(sessions, now)
    may_mail = _mail_to_jason(world, "2026-05")
    kinds = {kind for kind, _ in may_mail}
    assert {"request", "reminder", "escalation_owner", "returns_summary"} <= kinds
    for kind, text in may_mail:
        if not kind.startswith("report_"):  # reports show the status: "complete (April 2026)"
            assert "P04.M2" not in text and "P05.M3" not in text, kind

    with sessions() as s:
        missing = exceptions(s, parse_period("2026-05"), MAY_CHASE[-1]).missing_returns
        listed = {code for r in missing for code in r.items}
        assert listed and not listed & {"P04.M2", "P05.M3"}
        # The returns counts are of the lines asked: no May line anywhere names them.
        may_lines = s.scalars(
            select(m.DataRequestItem.item_code)
            .join(m.DataRequest)
            .join(m.Period, m.Period.id == m.DataRequest.period_id)
            .where(m.Period.code == "2026-05")
        ).all()
        total = returns_status(s, parse_period("2026-05"), MAY_CHASE[-1], only=True).total
        assert total is not None and total.expected == len(may_lines)
        assert not {"P04.M2", "P05.M3"} & set(may_lines)


def test_a_later_answer_that_is_not_complete_reopens_the_milestone(
    sessions: sessionmaker[Session], sample_register: SampleRegister
) -> None:
    world = april_requests_sent(sessions, sample_register)
    _answer_april(
        world,
        {"P04.M2": "complete 20 April 2026", "P05.M3": "complete"},
        as_utc(datetime(2026, 5, 6, 10, 0)),
    )
    tick(sessions, MAY_REQUESTS)
    assert not {"P04.M2", "P05.M3"} & set(_requested(world, "2026-05"))

    # Jason corrects his April answer: P04.M2 was not finished after all.
    _answer_april(world, {"P04.M2": "delayed"}, as_utc(datetime(2026, 6, 10, 11, 0)))
    with sessions() as s:
        status = s.scalars(
            select(m.MilestoneUpdate.status)
            .join(m.Milestone)
            .where(m.Milestone.code == "P04.M2", m.MilestoneUpdate.is_current)
        ).one()
        assert status.value == "delayed"
    tick(sessions, JUNE_REQUESTS)
    june = _requested(world, "2026-06")
    assert "P04.M2" in june and "P05.M3" not in june


def test_a_register_edit_after_the_answer_brings_the_milestone_back(
    sessions: sessionmaker[Session], sample_register: SampleRegister, tmp_path: Path
) -> None:
    world = april_requests_sent(sessions, sample_register)
    _answer_april(
        world,
        {"P04.M2": "complete 20 April 2026", "P05.M3": "complete"},
        as_utc(datetime(2026, 5, 6, 10, 0)),
    )
    tick(sessions, MAY_REQUESTS)
    assert not {"P04.M2", "P05.M3"} & set(_requested(world, "2026-05"))

    # The performance team moves P05.M3's due date: it is not finished, whatever was said.
    folder = tmp_path / "register"
    shutil.copytree(CONFIG_DIR, folder)
    projects = folder / "projects.yaml"
    text = projects.read_text()
    old = "A further 10 homes bought and let, start: 2026-04-01, due: 2026-12-31}"
    assert old in text
    projects.write_text(text.replace(old, old.replace("2026-12-31", "2027-03-31")))
    result = load_folder(folder, sessions, datetime(2026, 6, 12, 12, 0, tzinfo=UTC))
    assert "P05.M3" in result.changes.as_dict()["milestones"]["updated"]

    tick(sessions, JUNE_REQUESTS)
    june = _requested(world, "2026-06")
    assert "P05.M3" in june and "P04.M2" not in june


def test_finished_before_reads_the_latest_answer_then_the_register() -> None:
    may = date(2026, 5, 1)
    answered = datetime(2026, 5, 6, 10, 0, tzinfo=UTC)
    done = StatusAnswer(complete=True, received_at=answered)
    reopened = StatusAnswer(complete=False, received_at=answered)
    loaded = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
    edited = datetime(2026, 6, 12, 12, 0, tzinfo=UTC)
    # Answered complete, register loaded before that: finished, whatever the register says.
    assert finished_before(may, planned=None, answer=done, register_edited_at=loaded)
    assert finished_before(may, planned=date(2026, 12, 31), answer=done, register_edited_at=None)
    # The latest answer is not "complete": only the register can finish it.
    assert not finished_before(may, planned=None, answer=reopened, register_edited_at=loaded)
    # The register edited after the answer decides: its date, once passed before the period.
    assert not finished_before(
        date(2026, 7, 1), planned=None, answer=done, register_edited_at=edited
    )
    assert finished_before(
        date(2026, 7, 1), planned=date(2026, 6, 30), answer=done, register_edited_at=edited
    )
    # No answer: the register's date before the period starts (as before issue 15).
    assert finished_before(may, planned=date(2026, 4, 30), answer=None, register_edited_at=None)
    assert not finished_before(may, planned=date(2026, 5, 1), answer=None, register_edited_at=None)
