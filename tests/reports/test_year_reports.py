"""The 2026/27 reporting year with the clock: every report email the timetable implies.

Ticks run on the days that matter (each period's request day and each report day from
:func:`report_times`), not daily, to keep the year quick. Kevin Walsh answers his
monthly requests from April to September (Outlook style, through ``Pipeline.ingest``),
and Mark Ellison, who owns BV8a, answers his April owner report with commentary, which
then shows in the next reports: April's department report and the Q1 report to members.

Who should receive what is worked out here from the register files
(mailcapture/register/sample/): every owner with an indicator collected in the month's
periods or a live project, the OWN, DEPT, EXC, QPR and ANN recipients and the department
heads.
"""

from __future__ import annotations

import functools
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import FixedClock, as_utc
from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.domain.enums import Frequency, ReportKind
from mailcapture.domain.frequency import COLLECTED_KIND
from mailcapture.domain.periods import Period, PeriodKind, parse_period, periods_between
from mailcapture.mailflow.pipeline import Pipeline
from mailcapture.mailflow.store import Envelope
from mailcapture.register.model import Register
from mailcapture.register.validate import load_register
from mailcapture.reports.email.build import covered_periods
from mailcapture.schedule.reports import report_times
from mailcapture.schedule.tick import tick
from mailcapture.schedule.timetable import Timetable, load_timetable
from tests.conftest import CONFIG_DIR, SampleRegister

START = as_utc(datetime(2026, 4, 1, 0, 0))
END = as_utc(datetime(2027, 6, 30, 23, 0))
KEVIN = "Kevin Walsh <kevin.walsh@ashdown.example>"
MARK = "Mark Ellison <mark.ellison@ashdown.example>"
#: Kevin's BV8a returns: paid within 30 days, received (April is red: 87.5 %).
KEVIN_RETURNS = {
    "2026-04": ("1400", "1600"),
    "2026-05": ("1500", "1580"),
    "2026-06": ("1650", "1690"),
    "2026-07": ("1600", "1650"),
    "2026-08": ("1480", "1520"),
    "2026-09": ("1610", "1640"),
}
OWNER_NOTE = "Backlog from the new invoice system, cleared by June."


@functools.cache
def _register() -> Register:
    return load_register(CONFIG_DIR)


def _listed(kind: ReportKind) -> set[str]:
    return {p for r in _register().reports if r.kind is kind for p in r.recipients}


def _owners_for(month: Period) -> set[str]:
    """Owners with something in ``month``'s owner report, from the register files."""
    kinds = {p.kind for p in covered_periods(month)}
    reg = _register()
    owners = {i.owner for i in reg.indicators if COLLECTED_KIND[i.frequency] in kinds}
    for project in reg.projects:
        live = (project.start is None or project.start <= month.end) and not (
            project.completed is not None and project.completed < month.start
        )
        if live:
            owners.add(project.owner)
    return owners


def _expected(timetable: Timetable) -> tuple[Counter[str], dict[str, set[str]]]:
    """Emails per kind, and each members' report's recipients by period code."""
    counts: Counter[str] = Counter()
    members: dict[str, set[str]] = {}
    copies = _listed(ReportKind.OWNER)
    heads = {d.head for d in _register().departments if d.head}
    for month in periods_between(parse_period("2026-01"), parse_period("2027-06")):
        times = report_times(timetable, month).times
        for kind, at in times.items():
            if not START <= at <= END:
                continue
            if kind == "owner":
                # One report per owner, and one email with the whole round for each person
                # copied (issue 15), not a copy of every owner's report.
                owners = _owners_for(month)
                counts[kind] += len(owners)
                counts["owner_round"] += len(copies) if owners else 0
            elif kind == "department":
                counts[kind] += len(heads)
            elif kind == "exception":
                counts[kind] += len(_listed(ReportKind.EXCEPTION))
            else:
                year = Period(month.fy, PeriodKind.YEAR, 1)
                period = month.parent() if kind == "quarterly" else year
                assert period is not None
                recipients = _listed(ReportKind(kind))
                counts[kind] += len(recipients)
                members[f"{kind}:{period.code}"] = recipients
    return counts, members


def _tick_times(timetable: Timetable) -> list[datetime]:
    """Each period's request day and each report day in the simulated span."""
    times: set[datetime] = set()
    for frequency in timetable.rules:
        kind = COLLECTED_KIND[frequency]
        first = {"month": "2026-03", "quarter": "2025/26 Q4", "year": "2025/26"}[kind.value]
        period = parse_period(first)
        while period.start < END.date():
            times.add(timetable.dates(frequency, period).request_at)
            period = period.next()
    for month in periods_between(parse_period("2026-01"), parse_period("2027-06")):
        times.update(report_times(timetable, month).times.values())
    return sorted(t for t in times if START <= t <= END)


def _raw(sessions: sessionmaker[Session], kind: str, email: str, period: str) -> bytes:
    with sessions() as s:
        return s.scalars(
            select(m.OutboxMessage.raw)
            .join(m.Period, m.Period.id == m.OutboxMessage.period_id)
            .where(
                m.OutboxMessage.kind == kind,
                m.OutboxMessage.recipient == email,
                m.Period.code == period,
            )
            .order_by(m.OutboxMessage.id)
        ).first()


@pytest.mark.slow
def test_a_year_of_report_emails(
    sessions: sessionmaker[Session], sample_register: SampleRegister
) -> None:
    sample_register.load(sessions, datetime(2026, 3, 20, 12, 0, tzinfo=UTC))
    with sessions() as s:
        timetable = load_timetable(s)
    expected, members = _expected(timetable)
    clock = FixedClock(START)
    pipeline = Pipeline(sessions, clock)
    kevin_pending = dict(KEVIN_RETURNS)
    mark_answered = False
    april_owner = report_times(timetable, parse_period("2026-04")).times["owner"]

    for now in _tick_times(timetable):
        # Kevin answers each request two working days or so after it arrives.
        for period, (paid, received) in list(kevin_pending.items()):
            request_at = timetable.dates(Frequency.MONTHLY, parse_period(period)).request_at
            if request_at + timedelta(days=4) <= now:
                raw = _raw(sessions, "request", "kevin.walsh@ashdown.example", period)
                clock.set(request_at + timedelta(days=4))
                answers = {"BV8a.1": paid, "BV8a.2": received, "P09.M0": "on track"}
                result = pipeline.ingest(
                    clients.outlook_in_place(raw, KEVIN, answers), Envelope(source="test")
                )
                assert result.outcome == "applied", (period, result)
                del kevin_pending[period]
        if not mark_answered and now > april_owner:
            report = _raw(sessions, "report_owner", "mark.ellison@ashdown.example", "2026-04")
            clock.set(april_owner + timedelta(hours=3))
            reply = clients.outlook_in_place(report, MARK, {"BV8a comment": OWNER_NOTE})
            result = pipeline.ingest(reply, Envelope(source="test"))
            assert result.outcome == "report-answer", result
            mark_answered = True
        tick(sessions, now)
    assert not kevin_pending and mark_answered

    with sessions() as s:
        rows = list(
            s.execute(
                select(m.OutboxMessage, m.ReportRun, m.Period.code)
                .join(m.ReportRun, m.ReportRun.outbox_id == m.OutboxMessage.id)
                .join(m.Period, m.Period.id == m.ReportRun.period_id)
            ).all()
        )
        reports = s.scalars(
            select(m.OutboxMessage).where(m.OutboxMessage.kind.like("report\\_%", escape="\\"))
        ).all()
    actual = Counter(run.report_kind for _, run, _ in rows)
    assert actual == expected
    # One run per report email, and nothing else of the report kinds.
    assert len(rows) == len([r for r in reports if r.kind != "report_answer_confirmation"])
    assert expected["owner"] > 100 and expected["department"] == 15 * 4
    # Fifteen owner rounds fall in the window (2026/27 and 2025/26's March), one email each
    # to the two people copied, against 279 copies before.
    assert expected["owner_round"] == 15 * len(_listed(ReportKind.OWNER)) == 30

    # Exactly the four quarters of 2026/27, plus 2025/26's Q4 and year, which fall due
    # in May 2026; each to the QPR (or ANN) recipients.
    got: dict[str, set[str]] = {}
    for row, run, period in rows:
        if run.report_kind in ("quarterly", "annual"):
            got.setdefault(f"{run.report_kind}:{period}", set()).add(row.recipient)
    assert got == members
    quarters = sorted(k for k in got if k.startswith("quarterly:2026/27"))
    assert quarters == [f"quarterly:2026/27 Q{q}" for q in range(1, 5)]
    assert sorted(k for k in got if k.startswith("annual")) == [
        "annual:2025/26",
        "annual:2026/27",
    ]

    # Every email rendered whole: a subject, text lines within 78 characters.
    for row, run, _ in rows:
        text = clients.plain_text(clients.parsed(row.raw))
        assert row.subject and text.rstrip().endswith("performance@ashdown.example"), run.key
        assert max(len(line) for line in text.splitlines()) <= 78, run.key

    # Mark's commentary on April shows in the next reports: April's department report
    # for Resources (to its head) and the Q1 report to members.
    flat = " ".join
    department = _raw(sessions, "report_department", "richard.okafor@ashdown.example", "2026-04")
    text = flat(clients.plain_text(clients.parsed(department)).split())
    assert f"Mark Ellison (owner, 20 May 2026): {OWNER_NOTE}" in text
    quarterly = _raw(sessions, "report_quarterly", "helen.marsden@ashdown.example", "2026/27 Q1")
    text = flat(clients.plain_text(clients.parsed(quarterly)).split())
    assert OWNER_NOTE in text
    # Q1 BV8a: (1400 + 1500 + 1650) of (1600 + 1580 + 1690) = 4550 / 4870 -> 93.4 %.
    assert "[BV8a] " in text and "93.4 % (target 97.5 %), red" in text
