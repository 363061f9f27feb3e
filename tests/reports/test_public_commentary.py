"""No staff prompts in what members and the public read (issue 15, part 8, third bullet).

"Commentary needed: red (33 against 40)" is a prompt for the indicator's owner. It was
printed in the members' end-of-year PDF, on the public site and in the members' report
email. Those now say "No commentary provided." where there is none, and show what was said
where there is some. The owner's and the department's reports (staff, by email) keep the
prompt; they are not built from this content.

The sample register's 2025/26 history, on both databases: BV64 (33 against a target of 40)
and LDM01 are red for the year with no commentary; LDM01 is then given some by its owner.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.db import models as m
from mailcapture.db.engine import make_engine, session_factory
from mailcapture.db.periods import PeriodStore
from mailcapture.demo import clients
from mailcapture.domain.enums import CommentSubject, SubmissionSource
from mailcapture.domain.periods import parse_period
from mailcapture.reports.commentary import commentary_needed
from mailcapture.reports.content import performance_report, report_part
from mailcapture.reports.values import Rag
from mailcapture.schedule.reports import queue_reports, report_times
from mailcapture.schedule.timetable import load_timetable
from tests.conftest import SampleRegister
from tests.snapshots import run_cli

YEAR = "2025/26"
AS_AT = datetime(2026, 4, 21, 8, 0, tzinfo=UTC)
LDM01_COMMENT = "Two large appeals decided late in March; recovery plan agreed with members."
PROMPT = re.compile(r"commentary needed|needs? commentary|please add a comment", re.IGNORECASE)


@pytest.fixture
def history(
    cli_env: dict[str, str], sample_register: SampleRegister
) -> Iterator[tuple[dict[str, str], sessionmaker[Session]]]:
    """The register and its history, with the owner's comment on LDM01 for the year."""
    engine = make_engine(cli_env["MAILCAPTURE_DATABASE_URL"])
    sessions = session_factory(engine)
    sample_register.load(sessions, datetime(2026, 3, 20, 12, 0, tzinfo=UTC))
    with sessions.begin() as s:
        year = PeriodStore(s).get(parse_period(YEAR))
        ldm01 = s.scalars(select(m.Indicator).where(m.Indicator.code == "LDM01")).one()
        s.add(
            m.Commentary(
                period_id=year.id,
                subject=CommentSubject.INDICATOR,
                indicator_id=ldm01.id,
                author_role="owner",
                body=LDM01_COMMENT,
                submitted_by_id=ldm01.owner_id,
                source=SubmissionSource.EMAIL,
                received_at=datetime(2026, 4, 15, 9, 0, tzinfo=UTC),
                is_current=True,
            )
        )
    yield cli_env, sessions
    engine.dispose()


def _red_without_comment(sessions: sessionmaker[Session]) -> tuple[set[str], int]:
    """Red indicators the staff would be prompted about, and how many of the PDF's
    indicators have no commentary (each must say so)."""
    with sessions() as s:
        report = performance_report(s, parse_period(YEAR), AS_AT, annual=True, everything=True)
    prompted = {
        e.code
        for e in report.indicators
        if e.row.rag is Rag.RED and (commentary_needed(e.row, e.comments) or "").startswith("red")
    }
    in_pdf = report_part(report).indicators
    return prompted, sum(1 for e in in_pdf if not e.comments)


def require_pango() -> None:
    """WeasyPrint loads Pango when imported (as tests/reports/test_publish.py does)."""
    try:
        import weasyprint  # noqa: F401
    except OSError as exc:
        pytest.skip(f"WeasyPrint cannot load Pango ({exc})")


@pytest.mark.db
@pytest.mark.slow
def test_published_pdf_and_site_carry_no_staff_prompts(history, tmp_path: Path) -> None:
    from pypdf import PdfReader

    require_pango()
    env, sessions = history
    prompted, without = _red_without_comment(sessions)
    # What the old pages printed as "Commentary needed: red (33 against 40)".
    assert {"BV64", "NI154", "LHR02"} <= prompted and "LDM01" not in prompted
    site = tmp_path / "site"
    done = run_cli(
        *("publish", "--period", YEAR, "--out", str(site), "--now", "2026-04-21T09:00"), env=env
    )
    assert done.code == 0, done.stderr

    pages = {p.name: p.read_text("utf-8") for p in sorted(site.glob("*.html"))}
    for name, html in pages.items():
        assert not PROMPT.search(html), name
        assert 'class="needed"' not in html, name
    bv64 = pages["indicator-bv64.html"]
    commentary = bv64[bv64.index("<h2>Commentary</h2>") :]
    assert re.match(r"<h2>Commentary</h2>\s*<p[^>]*>No commentary provided\.</p>", commentary)
    ldm01 = pages["indicator-ldm01.html"]
    assert LDM01_COMMENT in ldm01 and "No commentary provided" not in ldm01
    assert "No commentary provided" not in pages["index.html"]  # a summary, not the place

    reader = PdfReader(site / "annual-report-2025-26.pdf")
    text = " ".join(" ".join(p.extract_text() or "" for p in reader.pages).split())
    assert not PROMPT.search(text)
    assert text.count("No commentary provided.") == without > 0
    assert LDM01_COMMENT in text
    # BV64's block: its heading, then (the chart has no text) the words members read.
    heading = "BV64 Private sector empty homes returned to occupation through council action"
    assert f"{heading} No commentary provided." in text


@pytest.mark.db
@pytest.mark.slow
def test_members_report_email_carries_no_staff_prompts(history) -> None:
    _, sessions = history
    with sessions() as s:
        times = report_times(load_timetable(s), parse_period("2026-03")).times
    queue_reports(sessions, times["annual"])
    with sessions() as s:
        members = list(
            s.scalars(
                select(m.OutboxMessage)
                .where(m.OutboxMessage.kind.in_(["report_annual", "report_quarterly"]))
                .order_by(m.OutboxMessage.id)
            )
        )
    assert {r.kind for r in members} == {"report_annual", "report_quarterly"}
    for row in members:
        message = clients.parsed(row.raw)
        text, html = clients.plain_text(message), clients.html_text(message)
        assert not PROMPT.search(text) and not PROMPT.search(html), row.kind
        assert "No commentary provided." in text and "No commentary provided." in html
    annual = next(r for r in members if r.kind == "report_annual")
    text = clients.plain_text(clients.parsed(annual.raw))
    bv64 = text[text.index("[BV64] ") :]
    assert bv64.index("No commentary provided.") < bv64.index("\n[", 1)
    assert LDM01_COMMENT.split()[0] in text[text.index("[LDM01] ") :]

    # The staff's own reports (the department reports, to heads of service) keep the prompt.
    queue_reports(sessions, times["department"])
    with sessions() as s:
        staff = [
            clients.plain_text(clients.parsed(raw))
            for raw in s.scalars(
                select(m.OutboxMessage.raw).where(m.OutboxMessage.kind == "report_department")
            )
        ]
    assert staff and any("Commentary needed: red (" in t for t in staff)
    assert not any("No commentary provided" in t for t in staff)
