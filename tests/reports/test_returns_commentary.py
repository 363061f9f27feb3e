"""Returns status and the commentary rule, from real replies to April 2026's requests.

Kevin Walsh answers BV8a (Finance) before the 15 May deadline, and P09.M0 (an HR project
milestone) with a comment on BV8a after it. The counts of expected items come from the
sample register: Resources is asked for 17 items in April, the council for 52.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import FixedClock, as_utc
from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.domain.periods import parse_period
from mailcapture.mailflow.pipeline import Pipeline
from mailcapture.mailflow.store import Envelope
from mailcapture.reports.commentary import commentary_for, commentary_needed
from mailcapture.reports.queries import indicator_values
from mailcapture.reports.returns import percent_text, returns_status
from mailcapture.schedule.tick import tick
from tests.conftest import SampleRegister

KEVIN = "Kevin Walsh <kevin.walsh@ashdown.example>"
APRIL = parse_period("2026-04")


def request_raw(sessions: sessionmaker[Session], email: str) -> bytes:
    with sessions() as s:
        return s.scalars(
            select(m.OutboxMessage.raw).where(
                m.OutboxMessage.kind == "request", m.OutboxMessage.recipient == email
            )
        ).one()


@pytest.fixture
def april(
    sessions: sessionmaker[Session], sample_register: SampleRegister
) -> sessionmaker[Session]:
    sample_register.load(sessions, datetime(2026, 4, 20, 12, 0, tzinfo=UTC))
    tick(sessions, as_utc(datetime(2026, 5, 1, 9, 0)))
    return sessions


def by_area(status):  # type: ignore[no-untyped-def]
    return {
        r.service_area_code: (r.expected, r.received, r.on_time, r.completeness, r.timeliness)
        for r in status.rows
    }


def test_returns_and_commentary_after_an_on_time_and_a_late_reply(april) -> None:
    sessions = april
    clock = FixedClock(datetime(2026, 5, 5, 9, 0, tzinfo=UTC))
    pipeline = Pipeline(sessions, clock)
    raw = request_raw(sessions, "kevin.walsh@ashdown.example")
    first = pipeline.ingest(
        clients.gmail_top_posted(raw, KEVIN, "BV8a.1: 1,400\nBV8a.2: 1,520\n\nKevin"),
        Envelope(source="test"),
    )
    assert first.outcome == "applied", first

    with sessions() as s:
        # 1400 / 1520 = 92.1%: red against 97.5 (tolerance 2), and below March 2026.
        [bv8a] = indicator_values(s, APRIL, ["BV8a"])
        comments = commentary_for(s, APRIL)
        assert "BV8a" not in comments
        assert (
            commentary_needed(bv8a, []) == "red (92.1% against 97.5%) and worsening since 2026-03"
        )
        status = returns_status(s, APRIL, datetime(2026, 5, 10, tzinfo=UTC))
    areas = by_area(status)
    assert areas["FIN"] == (2, 2, 2, Decimal(1), Decimal(1))
    assert areas["HRO"] == (1, 0, 0, Decimal(0), Decimal(0))
    resources = {r.department_code: r for r in status.departments}["RES"]
    assert (resources.expected, resources.received, resources.on_time) == (17, 2, 2)
    assert resources.completeness == Decimal("0.117647")  # 2 / 17
    assert status.total is not None and status.total.expected == 52

    clock.set(datetime(2026, 5, 20, 9, 0, tzinfo=UTC))  # after the 15 May deadline
    late = pipeline.ingest(
        clients.gmail_top_posted(
            raw, KEVIN, "P09.M0: on track\n[BV8a comment]: two of the team were off sick"
        ),
        Envelope(source="test"),
    )
    assert late.outcome == "applied", late

    with sessions() as s:
        [bv8a] = indicator_values(s, APRIL, ["BV8a"])
        comments = commentary_for(s, APRIL)
        [comment] = comments["BV8a"]
        assert (comment.author, comment.role) == ("Kevin Walsh", "updater")
        assert comment.body == "two of the team were off sick"
        assert commentary_needed(bv8a, comments["BV8a"]) is None
        # A quarter counts the commentary sent with its months.
        assert [c.body for c in commentary_for(s, APRIL.parent(), ["bv8a"])["BV8a"]] == [
            comment.body
        ]
        before = returns_status(s, APRIL, datetime(2026, 5, 19, tzinfo=UTC))
        after = returns_status(s, APRIL, datetime(2026, 5, 21, tzinfo=UTC))
        quarter = returns_status(s, APRIL.parent(), datetime(2026, 5, 21, tzinfo=UTC))
    assert by_area(before)["HRO"][:3] == (1, 0, 0)  # not yet arrived at that time
    assert by_area(after)["HRO"] == (1, 1, 0, Decimal(1), Decimal(0))  # in, but late
    resources = {r.department_code: r for r in after.departments}["RES"]
    assert (resources.expected, resources.received, resources.on_time) == (17, 3, 2)
    assert percent_text(resources.completeness) == "17.6%"
    assert percent_text(resources.timeliness) == "11.8%"
    # Q1 so far holds only April's requests.
    assert quarter.total == after.total
