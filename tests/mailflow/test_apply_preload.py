"""One reply that corrects a figure and a milestone status: each replaces its own kind.

``Applier.preload`` reads the current values and the current statuses in one statement
each; they are different row types (ComponentValue, MilestoneUpdate) and must never stand
in for one another, or a correction would supersede the wrong row or none.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.domain.enums import MilestoneStatus, SubmissionState
from tests.conftest import SampleRegister
from tests.mailflow.world import PipelineWorld, april_requests_sent

KEVIN = "Kevin Walsh <kevin.walsh@ashdown.example>"


@pytest.fixture
def world(sessions: sessionmaker[Session], sample_register: SampleRegister) -> PipelineWorld:
    return april_requests_sent(sessions, sample_register)


def test_a_correction_of_a_figure_and_a_status_replaces_each_with_its_own_kind(
    world: PipelineWorld,
) -> None:
    request = world.request_raw("kevin.walsh@ashdown.example")
    world.ingest(clients.phone(request, KEVIN, "BV8a.1: 1234\nP09.M0: on track"))
    correction = world.ingest(
        clients.phone(request, KEVIN, "BV8a.1: 1240\nP09.M0: at risk"),
        at=datetime(2026, 5, 6, 9, 0, tzinfo=UTC),
    )
    assert correction.outcome == "applied", correction
    with world.sessions() as s:
        values = s.scalars(
            select(m.ComponentValue)
            .join(m.Component)
            .where(m.Component.code == "BV8a.1", m.ComponentValue.source == "email")
            .order_by(m.ComponentValue.id)
        ).all()
        statuses = s.scalars(
            select(m.MilestoneUpdate)
            .join(m.Milestone)
            .where(m.Milestone.code == "P09.M0")
            .order_by(m.MilestoneUpdate.id)
        ).all()
        assert [(v.value, v.state, v.is_current) for v in values] == [
            (Decimal(1234), SubmissionState.SUPERSEDED, False),
            (Decimal(1240), SubmissionState.ACCEPTED, True),
        ]
        assert [(u.status, u.state, u.is_current) for u in statuses] == [
            (MilestoneStatus.ON_TRACK, SubmissionState.SUPERSEDED, False),
            (MilestoneStatus.AT_RISK, SubmissionState.ACCEPTED, True),
        ]
        assert values[1].replaces_id == values[0].id
        assert statuses[1].replaces_id == statuses[0].id
    confirmation = clients.plain_text(clients.parsed(world.outbox("confirmation")[-1].raw))
    assert "replaces 1,234" in confirmation
    assert "replaces on track" in confirmation
