"""Issue 13, part 4: the completion date sent with "complete" is the actual date, everywhere.

The sample register has P07.M2 (pool hall reopened) with ``completed: 2026-10-12``, a date
still to come in 2026: a plan, typed where the actual date goes. Natalie Price, P07's
updater, answers her April 2026 request with ``P07.M2: complete 20 April 2026``. The owner
report, the site, the PDF's HTML and the export must all say 20 April 2026, and none may
say 12 October 2026. A completion date after the pipeline's clock is refused, with why.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.domain.periods import parse_period
from mailcapture.publish.pdf import report_html
from mailcapture.publish.site import site_files
from mailcapture.reports.content import performance_report, report_part
from mailcapture.reports.email.build import project_blocks, run_data
from mailcapture.reports.export import to_csv, values_table
from tests.conftest import SampleRegister
from tests.mailflow.world import PipelineWorld, april_requests_sent

NATALIE_EMAIL = "natalie.price@ashdown.example"
NATALIE = f"Natalie Price <{NATALIE_EMAIL}>"
LUCY_EMAIL = "lucy.bainbridge@ashdown.example"  # P07's owner
AS_AT = datetime(2026, 7, 27, 9, 0, tzinfo=UTC)


@pytest.fixture
def world(sessions: sessionmaker[Session], sample_register: SampleRegister) -> PipelineWorld:
    return april_requests_sent(sessions, sample_register)


def _reply(world: PipelineWorld, top: str) -> str:
    raw = clients.gmail_top_posted(world.request_raw(NATALIE_EMAIL), NATALIE, top)
    return str(world.ingest(raw).outcome)


def _owner_report_lines(world: PipelineWorld) -> dict[str, str | None]:
    """P07's milestones in Lucy Bainbridge's April owner report: code -> completed."""
    with world.sessions() as s:
        lucy = s.scalars(select(m.Person).where(m.Person.email == LUCY_EMAIL)).one()
        data = run_data(s, parse_period("2026-04"), AS_AT)
        [p07] = [b for b in project_blocks(s, data, owner_id=lucy.id) if b.code == "P07"]
        return {line.code: line.completed for line in p07.milestones}


def _site_and_pdf(world: PipelineWorld) -> tuple[str, str]:
    """The P07 page of the 2026/27 Q1 site, and the PDF's HTML, as text."""
    with world.sessions() as s:
        report = performance_report(s, parse_period("2026/27 Q1"), AS_AT, everything=True)
    files = site_files(report, "report.pdf")
    [page] = [name for name in files if name.startswith("project-p07")]
    return files[page].decode("utf-8"), report_html(report_part(report))


def test_the_registers_future_date_is_no_completion(world: PipelineWorld) -> None:
    """Before any answer: the planned 12 October 2026 is shown nowhere as completed."""
    lines = _owner_report_lines(world)
    assert lines["P07.M2"] is None
    assert lines.get("P07.M1") is None  # completed 20 Oct 2025: not live in April
    site, pdf = _site_and_pdf(world)
    assert "12 October 2026" not in site and "12 October 2026" not in pdf


def test_the_reported_date_wins_in_report_site_pdf_and_export(world: PipelineWorld) -> None:
    assert _reply(world, "P07.M2: complete 20 April 2026\n\nNatalie") == "applied"
    assert _owner_report_lines(world)["P07.M2"] == "20 April 2026"
    site, pdf = _site_and_pdf(world)
    assert "20 April 2026" in site and "12 October 2026" not in site
    assert "20 April 2026" in pdf and "12 October 2026" not in pdf
    with world.sessions() as s:
        csv_text = to_csv(values_table(s, ["2026-04"]))
    [row] = [line for line in csv_text.splitlines() if line.startswith("2026-04,P07.M2,")]
    assert row.startswith("2026-04,P07.M2,complete 2026-04-20,accepted,")
    assert "2026-10-12" not in csv_text


def test_a_completion_date_in_the_future_is_refused_with_the_reason(
    world: PipelineWorld,
) -> None:
    # The pipeline's clock says 5 May 2026 (tests/mailflow/world.py): 6 May is tomorrow.
    assert _reply(world, "P07.M2: complete 6 May 2026") == "rejected"
    with world.sessions() as s:
        rows = list(
            s.scalars(
                select(m.MilestoneUpdate).join(m.Milestone).where(m.Milestone.code == "P07.M2")
            )
        )
    assert [(r.state.value, r.is_current, r.completed_on) for r in rows] == [
        ("rejected", False, None)
    ]
    text = " ".join(
        clients.plain_text(clients.parsed(world.outbox("confirmation")[-1].raw)).split()
    )
    assert (
        "the completion date 06 May 2026 is in the future; if it is not finished yet, "
        "answer on track, at risk or delayed"
    ) in text
    # The same words a day later are the actual date: the clock, not the wall, decides.
    assert _reply(world, "P07.M2: complete 6 May 2026") == "rejected"
    world.clock.set(datetime(2026, 5, 6, 9, 0, tzinfo=UTC))
    assert _reply(world, "P07.M2: complete 6 May 2026") == "applied"
    assert _owner_report_lines(world)["P07.M2"] == "6 May 2026"
