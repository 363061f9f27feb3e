"""What the reports say about milestones: the latest status and the current commentary.

The owner and department report emails, the quarterly and annual report content and the
exception report all read these two, so they never disagree about a milestone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailcapture.db import models as m
from mailcapture.domain.enums import MilestoneStatus, SubmissionState
from mailcapture.domain.periods import Period
from mailcapture.reports.commentary import CommentItem


class LatestStatus(NamedTuple):
    """A milestone's latest accepted status, the period it was sent for, and the
    completion date sent with it."""

    status: MilestoneStatus | None
    period_code: str
    completed_on: date | None


def latest_statuses(
    session: Session, milestone_ids: Sequence[int], end: date
) -> dict[int, LatestStatus]:
    """Each milestone's latest accepted status in a period ending by ``end``."""
    if not milestone_ids:
        return {}
    result = session.execute(
        select(
            m.MilestoneUpdate.milestone_id,
            m.MilestoneUpdate.status,
            m.Period.code,
            m.MilestoneUpdate.completed_on,
        )
        .join(m.Period, m.Period.id == m.MilestoneUpdate.period_id)
        .where(
            m.MilestoneUpdate.milestone_id.in_(milestone_ids),
            m.MilestoneUpdate.is_current,
            m.MilestoneUpdate.state == SubmissionState.ACCEPTED,
            m.Period.end_date <= end,
        )
        .order_by(m.Period.end_date, m.MilestoneUpdate.id)
    )
    # Later rows win.
    return {ms_id: LatestStatus(status, code, done) for ms_id, status, code, done in result}


def milestone_comments(
    session: Session, milestone_ids: Sequence[int], period: Period
) -> dict[int, list[CommentItem]]:
    """Current commentary on each milestone sent for any period inside ``period``, in the
    order of the periods, then as received."""
    if not milestone_ids:
        return {}
    result = session.execute(
        select(
            m.Commentary.milestone_id,
            m.Person.name,
            m.Commentary.author_role,
            m.Commentary.body,
            m.Commentary.received_at,
        )
        .join(m.Period, m.Period.id == m.Commentary.period_id)
        .outerjoin(m.Person, m.Person.id == m.Commentary.submitted_by_id)
        .where(
            m.Commentary.milestone_id.in_(milestone_ids),
            m.Commentary.is_current,
            m.Period.start_date >= period.start,
            m.Period.end_date <= period.end,
        )
        .order_by(m.Period.start_date, m.Commentary.received_at, m.Commentary.id)
    )
    found: dict[int, list[CommentItem]] = defaultdict(list)
    for ms_id, name, role, body, at in result:
        if ms_id is None:  # excluded by the IN above; never file a comment under no milestone
            continue
        found[ms_id].append(CommentItem(name or "", role, body, at))
    return dict(found)
