"""Indicator values from the database: the sample register's 2025/26 history, on both databases.

Expected figures are worked out by hand from the history-2025-26.yaml and the 2025/26
targets in indicators.yaml of mailcapture/register/sample/.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.db import models as m
from mailcapture.db.engine import transaction
from mailcapture.db.periods import PeriodStore
from mailcapture.domain.enums import (
    Frequency,
    SignoffDecision,
    SubmissionSource,
    SubmissionState,
    ToleranceKind,
)
from mailcapture.domain.periods import parse_period
from mailcapture.reports.queries import indicator_values
from mailcapture.reports.values import Rag, Trend
from tests.conftest import SampleRegister

D = Decimal
NOW = datetime(2026, 4, 20, tzinfo=UTC)
QUARTERS = [f"2025/26 Q{q}" for q in range(1, 5)]
INDICATORS_IN_REGISTER = 54


@pytest.fixture
def loaded(
    sessions: sessionmaker[Session], sample_register: SampleRegister
) -> sessionmaker[Session]:
    sample_register.load(sessions, NOW)
    return sessions


def compute(sessions, period: str, codes=None):
    with sessions() as session:
        return {row.code: row for row in indicator_values(session, parse_period(period), codes)}


def test_every_indicator_for_each_quarter_and_the_year(loaded):
    year = compute(loaded, "2025/26")
    assert len(year) == INDICATORS_IN_REGISTER
    # The history has every component for 2025/26, so every indicator has a year value.
    assert {code: row.reason for code, row in year.items() if row.value is None} == {}
    for quarter in QUARTERS:
        rows = compute(loaded, quarter)
        assert len(rows) == INDICATORS_IN_REGISTER
        for row in rows.values():
            assert row.current.period == quarter
            if row.frequency is Frequency.ANNUAL:
                first = row.code + ".1"
                assert row.value is None
                assert (
                    row.reason == f"cannot be computed for a quarter: {first} is collected annually"
                )
                assert row.rag is Rag.NONE
            else:
                assert (row.code, row.reason) == (row.code, None)


def test_bv8a_quarter_and_year_from_history(loaded):
    # Q1: paid 1578 + 1529 + 1674 = 4781 of 1620 + 1580 + 1710 = 4910 -> 478100 / 4910 = 97.37
    q1 = compute(loaded, "2025/26 Q1")["BV8a"]
    assert q1.value == D("97.4")
    assert q1.target is not None
    assert (q1.target.value, q1.target.tolerance, q1.target.period) == (D(97), D(2), "2025/26")
    assert q1.rag is Rag.GREEN
    assert q1.trend is Trend.UNKNOWN  # no 2024/25 Q4 in the history
    assert q1.trend_year is Trend.UNKNOWN
    assert q1.flags == set()  # the register's history: published before, so final

    # Q2: 1641 + 1472 + 1592 = 4705 of 1690 + 1540 + 1650 = 4880 -> 96.41: amber (>= 97 - 2)
    q2 = compute(loaded, "2025/26 Q2")["BV8a"]
    assert q2.value == D("96.4")
    assert q2.rag is Rag.AMBER
    assert q2.trend is Trend.WORSENING
    assert q2.previous is not None and q2.previous.value == D("97.4")

    # Year: 19366 of 19970 -> 1936600 / 19970 = 96.975... published as 97.0, which is on
    # the 2025/26 target of 97: green. (Against the 2026/27 target of 97.5 it would be amber.)
    year = compute(loaded, "2025/26")["BV8a"]
    assert year.value == D("97.0")
    assert year.target is not None and year.target.value == D(97)
    assert year.rag is Rag.GREEN


def test_last_component_indicator_takes_the_period_end(loaded):
    # LHM01 = 100 * arrears at month end / annual rent debit (20,835,600 all year), both
    # "last": a quarter is its last month, the year is March. Lower is better, target 2.2,
    # tolerance 0.2.
    expected = {
        "2025/26 Q1": (D("2.43"), Rag.RED, Trend.UNKNOWN),  # June 506480: 2.4308
        "2025/26 Q2": (D("2.49"), Rag.RED, Trend.WORSENING),  # September 519460: 2.4931
        "2025/26 Q3": (D("2.20"), Rag.GREEN, Trend.IMPROVING),  # December 458310: 2.19965
        "2025/26 Q4": (D("2.02"), Rag.GREEN, Trend.IMPROVING),  # March 420960: 2.0204
        "2025/26": (D("2.02"), Rag.GREEN, Trend.UNKNOWN),
    }
    for period, (value, status, trend) in expected.items():
        row = compute(loaded, period)["LHM01"]
        assert (period, row.value, row.rag, row.trend) == (period, value, status, trend)

    # LFIN01, quarterly "last", target £450,000 with 10% tolerance (amber up to 495,000).
    lfin = {p: compute(loaded, p)["LFIN01"] for p in [*QUARTERS, "2025/26"]}
    assert lfin["2025/26 Q1"].value == D(512430)
    assert lfin["2025/26 Q1"].rag is Rag.RED
    assert lfin["2025/26 Q2"].value == D(478910)
    assert lfin["2025/26 Q2"].rag is Rag.AMBER
    assert lfin["2025/26 Q2"].trend is Trend.IMPROVING  # lower is better, debt fell
    assert lfin["2025/26"].value == D(431875)  # Q4's figure
    assert lfin["2025/26"].rag is Rag.GREEN
    assert lfin["2025/26"].target.tolerance_kind is ToleranceKind.PERCENT


def test_average_component_over_the_year(loaded):
    # BV12: days lost (sum) per average FTE. Year: 1015 + 1040 + 1370 + 1120 = 4545 days;
    # FTE (512.4 + 515.8 + 518.3 + 516.9) / 4 = 2063.4 / 4 = 515.85; 4545 / 515.85 = 8.8107
    year = compute(loaded, "2025/26")["BV12"]
    assert year.value == D("8.81")
    assert year.rag is Rag.AMBER  # target 8.5, tolerance 0.5, lower is better
    # Q1 alone: 1015 / 512.4 = 1.9809, against the Q1 target of 2.0.
    q1 = compute(loaded, "2025/26 Q1")["BV12"]
    assert q1.value == D("1.98")
    assert q1.target.period == "2025/26 Q1"
    assert q1.rag is Rag.GREEN


def test_annual_indicator(loaded):
    # LHR01 staff turnover: 100 * 71 / 589 = 12.054 -> 12.1; target 12, tolerance 1.5, lower.
    row = compute(loaded, "2025/26")["LHR01"]
    assert row.value == D("12.1")
    assert row.rag is Rag.AMBER
    quarter = compute(loaded, "2025/26 Q3")["LHR01"]
    assert quarter.reason == "cannot be computed for a quarter: LHR01.1 is collected annually"


def test_quarter_targets_win_over_the_year_target(loaded):
    # BV9 Q1: 100 * 28940754 / 98104250 = 29.50000025 -> 29.5. The Q1 target is 29.6
    # (tolerance 0.5): amber. Against the year-end 97.8 it would be red.
    row = compute(loaded, "2025/26 Q1")["BV9"]
    assert row.value == D("29.5")
    assert (row.target.value, row.target.period) == (D("29.6"), "2025/26 Q1")
    assert row.rag is Rag.AMBER


def test_statistics_have_no_rag_and_move_up_or_down(loaded):
    # ST01 households in temporary accommodation (quarterly, last): Q1 84, Q2 91.
    row = compute(loaded, "2025/26 Q2")["ST01"]
    assert row.value == D(91)
    assert row.target is None
    assert row.rag is Rag.NONE
    assert row.trend is Trend.UP


def test_statements_do_not_grow_with_the_number_of_indicators(loaded, engine):
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        few = ["BV8a", "LFIN01", "BV12", "LHR01", "ST01"]
        assert len(compute(loaded, "2025/26 Q1", few)) == 5
        for_five = len(statements)
        statements.clear()
        assert len(compute(loaded, "2025/26 Q1")) == INDICATORS_IN_REGISTER
        for_all = len(statements)
        statements.clear()
        compute(loaded, "2025/26")
        for_the_year = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert for_five == for_all == for_the_year
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) <= 6


def test_codes_are_case_insensitive_and_unknown_codes_are_an_error(loaded):
    assert list(compute(loaded, "2025/26 Q1", ["bv8a", "LFIN01"])) == ["BV8a", "LFIN01"]
    with pytest.raises(LookupError, match="NOPE"):
        compute(loaded, "2025/26 Q1", ["BV8a", "NOPE"])


def test_retired_indicators_only_when_asked_for(loaded):
    with transaction(loaded) as session:
        indicator = session.scalar(select(m.Indicator).where(m.Indicator.code == "LHR01"))
        indicator.retired_at = NOW
    everything = compute(loaded, "2025/26")
    assert len(everything) == INDICATORS_IN_REGISTER - 1
    assert "LHR01" not in everything
    assert compute(loaded, "2025/26", ["LHR01"])["LHR01"].value == D("12.1")


def _add_value(session, periods, component, period, person, **fields):
    fields.setdefault("received_at", NOW)
    session.add(
        m.ComponentValue(
            component_id=component,
            period_id=periods.get(parse_period(period)).id,
            source=SubmissionSource.EMAIL,
            submitted_by_id=person,
            **fields,
        )
    )


def _signoff(session, periods, indicator, period, person, decision, current=True):
    session.add(
        m.Signoff(
            indicator_id=indicator,
            period_id=periods.get(parse_period(period)).id,
            decision=decision,
            person_id=person,
            decided_at=NOW,
            is_current=current,
        )
    )


def test_flags_sign_offs_and_trends_from_submitted_values(loaded):
    with transaction(loaded) as session:
        periods = PeriodStore(session)
        person = session.scalar(select(m.Person.id).order_by(m.Person.id).limit(1))
        ids = {c: i for c, i in session.execute(select(m.Component.code, m.Component.id))}
        ind = {c: i for c, i in session.execute(select(m.Indicator.code, m.Indicator.id))}
        ok, na = SubmissionState.ACCEPTED, SubmissionState.NOT_AVAILABLE
        old = SubmissionState.SUPERSEDED
        # April 2026 BV8a: 1500 of 1530, late, estimated. Rows that are not current (an
        # older accepted 1450, stored after the current one, and a superseded 1400) must be
        # ignored.
        _add_value(session, periods, ids["BV8a.1"], "2026-04", person, state=old, value=D(1400))
        _add_value(
            session, periods, ids["BV8a.1"], "2026-04", person,
            state=ok, value=D(1500), late=True, is_current=True,
        )  # fmt: skip
        _add_value(
            session, periods, ids["BV8a.2"], "2026-04", person,
            state=ok, value=D(1530), estimated=True, is_current=True,
        )  # fmt: skip
        _add_value(session, periods, ids["BV8a.1"], "2026-04", person, state=ok, value=D(1450))
        # LCS01 calls answered: not available this month.
        _add_value(
            session, periods, ids["LCS01.1"], "2026-04", person,
            state=na, reason="telephony outage", is_current=True,
        )  # fmt: skip
        _add_value(
            session, periods, ids["LCS01.2"], "2026-04", person,
            state=ok, value=D(17000), is_current=True,
        )  # fmt: skip
        _signoff(session, periods, ind["BV8a"], "2026-04", person, SignoffDecision.APPROVED)
        # LCS02's approval was superseded by a query: still provisional (March 2026).
        _signoff(
            session,
            periods,
            ind["LCS02"],
            "2026-03",
            person,
            SignoffDecision.APPROVED,
            current=False,
        )
        _signoff(session, periods, ind["LCS02"], "2026-03", person, SignoffDecision.QUERIED)
        # LCS01 March approved: final.
        _signoff(session, periods, ind["LCS01"], "2026-03", person, SignoffDecision.APPROVED)
        # BV8a: all three months of 2025/26 Q1 approved, only two of Q2. Those months'
        # figures are made email returns here: history alone would be final anyway.
        months = ["2025-04", "2025-05", "2025-06", "2025-07", "2025-08", "2025-09"]
        session.execute(
            update(m.ComponentValue)
            .where(
                m.ComponentValue.component_id.in_([ids["BV8a.1"], ids["BV8a.2"]]),
                m.ComponentValue.period_id.in_(
                    select(m.Period.id).where(m.Period.code.in_(months))
                ),
            )
            .values(source=SubmissionSource.EMAIL)
        )
        for month in months[:5]:
            _signoff(session, periods, ind["BV8a"], month, person, SignoffDecision.APPROVED)

    april = compute(loaded, "2026-04")
    bv8a = april["BV8a"]
    # 150000 / 1530 = 98.039 -> 98.0; March 2026: 185400 / 1890 = 98.095 -> 98.1;
    # April 2025: 157800 / 1620 = 97.407 -> 97.4.
    assert bv8a.value == D("98.0")
    assert bv8a.flags == {"late", "estimated"}  # signed off, so not provisional
    assert bv8a.previous.value == D("98.1")
    assert bv8a.last_year.value == D("97.4")
    assert bv8a.trend is Trend.WORSENING
    assert bv8a.trend_year is Trend.IMPROVING
    assert (bv8a.target.value, bv8a.target.period) == (D("97.5"), "2026/27")
    assert bv8a.rag is Rag.GREEN

    lcs01 = april["LCS01"]
    assert lcs01.value is None
    assert lcs01.reason == "LCS01.1 not available: telephony outage"
    assert lcs01.flags == {"not available"}
    assert lcs01.rag is Rag.NONE
    assert lcs01.trend is Trend.UNKNOWN
    assert "provisional" not in lcs01.previous.flags  # March approved

    bv78a = april["BV78a"]
    assert bv78a.reason == "missing component BV78a.1 for 2026-04"
    assert bv78a.flags == {"missing"}

    assert "provisional" in april["LCS02"].previous.flags  # current sign-off is a query

    assert "provisional" not in compute(loaded, "2025/26 Q1")["BV8a"].flags
    assert "provisional" in compute(loaded, "2025/26 Q2")["BV8a"].flags
    # Q3 is still the register's history: final without a sign-off.
    assert "provisional" not in compute(loaded, "2025/26 Q3")["BV8a"].flags
    # A quarter mixing history with one emailed month waits for a sign-off: the year.
    assert "provisional" in compute(loaded, "2025/26")["BV8a"].flags


def test_a_cumulative_indicator_is_compared_with_the_same_period_last_year(loaded):
    # BV9 (council tax collected, year to date) rises through the year by its nature;
    # BV12 (sickness days per FTE in the quarter) is not cumulative.
    q2 = compute(loaded, "2025/26 Q2", ["BV9", "BV12"])
    assert q2["BV9"].value is not None
    assert q2["BV9"].previous is not None and q2["BV9"].previous.period == "2024/25 Q2"
    assert q2["BV9"].previous.value is None  # no 2024/25 history
    assert q2["BV9"].trend is Trend.UNKNOWN  # not "improving" just for being later in the year
    assert q2["BV12"].previous is not None and q2["BV12"].previous.period == "2025/26 Q1"
    q1 = compute(loaded, "2025/26 Q1", ["BV9"])["BV9"]
    q4 = compute(loaded, "2025/26 Q4", ["BV9"])["BV9"]
    assert q1.value < q4.value  # the year-to-date figure climbs through the year...
    with loaded() as session:
        flag = session.scalar(select(m.Indicator.cumulative).where(m.Indicator.code == "BV9"))
    assert flag is True  # ...which the register says


def test_a_correction_after_a_report_flags_the_figure_revised(loaded):
    reported_at = datetime(2026, 5, 20, 9, 0, tzinfo=UTC)
    with transaction(loaded) as session:
        periods = PeriodStore(session)
        person = session.scalar(select(m.Person.id).order_by(m.Person.id).limit(1))
        ids = {c: i for c, i in session.execute(select(m.Component.code, m.Component.id))}
        session.add(
            m.ReportRun(
                key="report:owner:2025-05:test",
                report_kind="owner",
                period_id=periods.get(parse_period("2025-05")).id,
                created_at=reported_at,
            )
        )
        for code, month, when in [
            ("BV8a.1", "2025-05", reported_at + timedelta(days=2)),  # after the report
            ("BV8a.1", "2025-04", reported_at - timedelta(days=2)),  # before any report
        ]:
            old = session.scalars(
                select(m.ComponentValue).where(
                    m.ComponentValue.component_id == ids[code],
                    m.ComponentValue.period_id == periods.get(parse_period(month)).id,
                    m.ComponentValue.is_current,
                )
            ).one()
            old.is_current = False
            old.state = SubmissionState.SUPERSEDED
            session.flush()
            _add_value(
                session, periods, ids[code], month, person, state=SubmissionState.ACCEPTED,
                value=old.value - 1, is_current=True, replaces_id=old.id, received_at=when,
            )  # fmt: skip
    assert "revised after reporting" in compute(loaded, "2025-05", ["BV8a"])["BV8a"].flags
    # The quarter holding May was covered by May's report too: revised.
    assert "revised after reporting" in compute(loaded, "2025/26 Q1", ["BV8a"])["BV8a"].flags
    # April was never reported, so its correction is just a correction.
    assert "revised after reporting" not in compute(loaded, "2025-04", ["BV8a"])["BV8a"].flags
    assert "revised after reporting" not in compute(loaded, "2025-06", ["BV8a"])["BV8a"].flags
