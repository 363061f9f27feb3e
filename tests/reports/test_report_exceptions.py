"""Exceptions from the sample register: its 2025/26 history, its projects, a real tick.

Worked out by hand from history-2025-26.yaml, indicators.yaml and projects.yaml in
mailcapture/register/sample/; every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import as_utc
from mailcapture.db import models as m
from mailcapture.db.periods import PeriodStore
from mailcapture.domain.enums import SubmissionSource, SubmissionState
from mailcapture.domain.periods import parse_period
from mailcapture.reports.exceptions import exceptions
from mailcapture.reports.queries import indicator_values
from mailcapture.reports.values import Rag, Trend
from mailcapture.schedule.tick import tick
from tests.conftest import SampleRegister

LOADED = datetime(2026, 4, 20, tzinfo=UTC)
KEVIN = "kevin.walsh@ashdown.example"


@pytest.fixture
def loaded(
    sessions: sessionmaker[Session], sample_register: SampleRegister
) -> sessionmaker[Session]:
    sample_register.load(sessions, LOADED)
    return sessions


def test_red_and_twice_worsening_indicators_from_the_history(loaded):
    q3 = parse_period("2025/26 Q3")
    with loaded() as session:
        found = exceptions(session, q3, LOADED)
        rows = {r.code: r for r in indicator_values(session, q3)}
        before = {r.code: r for r in indicator_values(session, parse_period("2025/26 Q2"))}
    assert [r.code for r in found.red] == sorted(c for c, r in rows.items() if r.rag is Rag.RED)
    assert found.red, "the history has red indicators in Q3"
    # BV183a (weeks in B&B, lower is better): Q1 30/9 = 3.3, Q2 33/7 = 4.7, Q3 66/11 = 6.0.
    worsening = {r.code: r for r in found.worsening}
    assert "BV183a" in worsening
    assert worsening["BV183a"].value == Decimal("6.0")
    assert worsening["BV183a"].previous.value == Decimal("4.7")
    # Exactly those worsening now and in the quarter before.
    assert set(worsening) == {
        c
        for c, r in rows.items()
        if r.trend is Trend.WORSENING and before[c].trend is Trend.WORSENING
    }
    # LHM01 (rent arrears) improved in Q3 (2.49 -> 2.20): neither red nor worsening.
    assert "LHM01" not in worsening and "LHM01" not in {r.code for r in found.red}


def test_a_department_sees_only_its_own(loaded):
    q3 = parse_period("2025/26 Q3")
    with loaded() as session:
        everything = exceptions(session, q3, LOADED)
        housing = exceptions(session, q3, LOADED, department="CHS")
        housing_codes = set(
            session.scalars(
                select(m.Indicator.code)
                .join(m.ServiceArea, m.ServiceArea.id == m.Indicator.service_area_id)
                .join(m.Department, m.Department.id == m.ServiceArea.department_id)
                .where(m.Department.code == "CHS")
            )
        )
    assert "BV183a" in {r.code for r in housing.worsening}
    assert {r.code for r in housing.red} == {r.code for r in everything.red} & housing_codes
    assert {r.code for r in housing.worsening} == (
        {r.code for r in everything.worsening} & housing_codes
    )
    assert all(o.department == "CHS" for o in housing.overdue_milestones)


def test_overdue_milestones_are_judged_at_the_period_end(loaded):
    with loaded() as session:
        may = exceptions(session, parse_period("2026-05"), LOADED)
        q1 = exceptions(session, parse_period("2026/27 Q1"), LOADED)
    may_codes = {o.code for o in may.overdue_milestones}
    q1_codes = {o.code for o in q1.overdue_milestones}
    # P03.M2 (start on site at Mill Lane): due 29 May 2026, completed 8 June 2026.
    assert "P03.M2" in may_codes
    assert "P03.M2" not in q1_codes
    # P01.M2 (planning permission): due 30 June 2026, completed 14 July 2026.
    assert "P01.M2" not in may_codes
    assert "P01.M2" in q1_codes
    # P09.M1 was completed on its due date: never overdue.
    assert "P09.M1" not in may_codes | q1_codes
    p03 = next(o for o in may.overdue_milestones if o.code == "P03.M2")
    assert (p03.project_code, p03.department, p03.due.isoformat()) == ("P03", "CHS", "2026-05-29")
    assert all(o.due <= parse_period("2026/27 Q1").end for o in q1.overdue_milestones)


def test_missing_returns_after_the_due_date(loaded):
    april = parse_period("2026-04")
    # April's requests go out on the first working day after the month: Friday 1 May.
    tick(loaded, as_utc(datetime(2026, 5, 1, 9, 0)))
    with loaded.begin() as session:
        kevin = session.scalars(select(m.Person).where(m.Person.email == KEVIN)).one()
        period = PeriodStore(session).get(april)
        for code in ("BV8a.1", "BV8a.2"):
            component = session.scalars(select(m.Component).where(m.Component.code == code)).one()
            session.add(
                m.ComponentValue(
                    component_id=component.id,
                    period_id=period.id,
                    state=SubmissionState.ACCEPTED,
                    value=Decimal(1500),
                    submitted_by_id=kevin.id,
                    source=SubmissionSource.EMAIL,
                    received_at=as_utc(datetime(2026, 5, 6, 10, 0)),
                    is_current=True,
                )
            )
    with loaded() as session:
        requests = list(session.scalars(select(m.DataRequest)))
        due_at = requests[0].due_at
        before_due = exceptions(session, april, as_utc(datetime(2026, 5, 14, 12, 0)))
        after = exceptions(session, april, as_utc(datetime(2026, 5, 22, 12, 0)))
        asked = sum(len(r.items) for r in requests)
    # Due on the tenth working day after April (4 May is a bank holiday): 15 May, 5pm.
    assert as_utc(datetime(2026, 5, 15, 17, 0)) == due_at
    assert before_due.missing_returns == []
    owed = {(r.email, r.service_area): r.items for r in after.missing_returns}
    kevin_items = {code for (email, _), items in owed.items() if email == KEVIN for code in items}
    assert "BV8a.1" not in kevin_items and "BV8a.2" not in kevin_items
    assert kevin_items, "Kevin still owes his other items"
    assert sum(len(r.items) for r in after.missing_returns) == asked - 2
    assert {r.period for r in after.missing_returns} == {"2026-04"}
    # A quarter's exceptions include its months' missing returns.
    with loaded() as session:
        q1 = exceptions(session, parse_period("2026/27 Q1"), as_utc(datetime(2026, 5, 22, 12)))
    assert q1.missing_returns == after.missing_returns
