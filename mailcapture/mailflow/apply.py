"""Stage 5: validate each answer against the request and store it, with history.

All in the caller's transaction: either every accepted value of a reply is stored, or
(on an error) none is. A value is stored only when the sender clearly gave it; anything
else becomes a rejected row with the reason, which the confirmation explains.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from mailcapture.db import models as m
from mailcapture.db.locks import lock_for, lock_reason
from mailcapture.domain.enums import (
    CommentSubject,
    MilestoneStatus,
    SubmissionSource,
    SubmissionState,
)
from mailcapture.domain.figures import figure_problem, format_figure, format_range
from mailcapture.forms.due import item_key, returned_keys
from mailcapture.parsing.form import Answer, FormReading
from mailcapture.parsing.values import parse_status, parse_value

#: The parser's status words to the stored vocabulary.
STATUS_FROM_PARSER = {
    "on track": MilestoneStatus.ON_TRACK,
    "at risk": MilestoneStatus.AT_RISK,
    "delayed": MilestoneStatus.DELAYED,
    "complete": MilestoneStatus.COMPLETE,
    "not started": MilestoneStatus.NOT_STARTED,
}


@dataclass(frozen=True)
class Accepted:
    code: str
    title: str
    stored: str
    note: str | None = None


@dataclass(frozen=True)
class Rejected:
    code: str
    answer: str
    reason: str


@dataclass
class ApplyResult:
    accepted: list[Accepted] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    comments: int = 0
    general_comment: bool = False
    unchanged: list[str] = field(default_factory=list)

    @property
    def anything(self) -> bool:
        return bool(self.accepted or self.rejected or self.comments or self.general_comment)


@dataclass(frozen=True)
class Submitter:
    """Who sent the reply, and for whom (a delegate answering for the updater)."""

    person_id: int
    on_behalf_of_id: int | None
    inbound_id: int
    request_id: int
    received_at: datetime
    late: bool


class Applier:
    def __init__(
        self, session: Session, request: m.DataRequest, who: Submitter, today: date
    ) -> None:
        self.session = session
        self.request = request
        self.who = who
        self.today = today
        self.result = ApplyResult()
        self.items = {i.item_code.casefold(): i for i in request.items}
        lock = lock_for(session, request.period)
        #: Why nothing can be recorded (the period or its quarter or year is locked).
        self.locked: str | None = (
            f"{lock_reason(session, lock)}; nothing was recorded: ask the performance team "
            "to reopen it if this needs changing"
            if lock is not None
            else None
        )
        #: Filled by :meth:`preload`: the answered items' components and milestones, and
        #: their current value or status for the period (None when there is none yet).
        self.components: dict[int, m.Component] = {}
        self.current_values: dict[int, m.ComponentValue | None] = {}
        self.milestones: dict[int, m.Milestone] = {}
        self.current_statuses: dict[int, m.MilestoneUpdate | None] = {}

    def provenance(self) -> dict[str, object]:
        return {
            "submitted_by_id": self.who.person_id,
            "on_behalf_of_id": self.who.on_behalf_of_id,
            "inbound_message_id": self.who.inbound_id,
            "request_id": self.who.request_id,
            "source": SubmissionSource.EMAIL,
            "received_at": self.who.received_at,
        }

    def preload(self, reading: FormReading) -> None:
        """Read what the answers need in one statement per kind, not two per answer."""
        if self.locked:
            return  # every answer is refused without reading anything
        answered = [
            item
            for answer in reading.answers
            if answer.kind != "comment" and (item := self.items.get(answer.code.casefold()))
        ]
        component_ids = sorted({i.component_id for i in answered if i.component_id is not None})
        milestone_ids = sorted(
            {
                i.milestone_id
                for i in answered
                if i.component_id is None and i.milestone_id is not None
            }
        )
        if component_ids:
            self._preload_values(component_ids)
        if milestone_ids:
            self._preload_statuses(milestone_ids)

    def _preload_values(self, component_ids: list[int]) -> None:
        """Each component and its current value for the period (None when there is none)."""
        for component, current_value in self.session.execute(
            select(m.Component, m.ComponentValue)
            .outerjoin(
                m.ComponentValue,
                and_(
                    m.ComponentValue.component_id == m.Component.id,
                    m.ComponentValue.period_id == self.request.period_id,
                    m.ComponentValue.is_current,
                ),
            )
            .where(m.Component.id.in_(component_ids))
        ):
            self.components[component.id] = component
            if self.current_values.get(component.id) is None:
                self.current_values[component.id] = current_value

    def _preload_statuses(self, milestone_ids: list[int]) -> None:
        """Each milestone and its current status for the period (None when there is none)."""
        for milestone, current_status in self.session.execute(
            select(m.Milestone, m.MilestoneUpdate)
            .outerjoin(
                m.MilestoneUpdate,
                and_(
                    m.MilestoneUpdate.milestone_id == m.Milestone.id,
                    m.MilestoneUpdate.period_id == self.request.period_id,
                    m.MilestoneUpdate.is_current,
                ),
            )
            .where(m.Milestone.id.in_(milestone_ids))
        ):
            self.milestones[milestone.id] = milestone
            if self.current_statuses.get(milestone.id) is None:
                self.current_statuses[milestone.id] = current_status

    def current_value(self, component_id: int) -> m.ComponentValue | None:
        if component_id in self.current_values:
            return self.current_values[component_id]
        return self.session.scalar(
            select(m.ComponentValue).where(
                m.ComponentValue.component_id == component_id,
                m.ComponentValue.period_id == self.request.period_id,
                m.ComponentValue.is_current,
            )
        )

    def current_status(self, milestone_id: int) -> m.MilestoneUpdate | None:
        if milestone_id in self.current_statuses:
            return self.current_statuses[milestone_id]
        return self.session.scalar(
            select(m.MilestoneUpdate).where(
                m.MilestoneUpdate.milestone_id == milestone_id,
                m.MilestoneUpdate.period_id == self.request.period_id,
                m.MilestoneUpdate.is_current,
            )
        )

    def apply(self, reading: FormReading) -> ApplyResult:
        self.preload(reading)
        for answer in reading.answers:
            if answer.kind == "comment":
                self.comment(answer)
            else:
                self.value_or_status(answer)
        general = reading.general_comment.strip()
        if general and self.locked:
            self.result.rejected.append(Rejected("general comment", general, self.locked))
        elif general:
            self.session.add(
                m.Commentary(
                    period_id=self.request.period_id,
                    subject=CommentSubject.GENERAL,
                    author_role="updater",
                    body=general,
                    is_current=True,
                    **self.provenance(),
                )
            )
            self.result.general_comment = True
        self.session.flush()
        return self.result

    # ---- values and statuses ---------------------------------------------------------
    def value_or_status(self, answer: Answer) -> None:
        item = self.items.get(answer.code.casefold())
        if item is None:
            self.result.rejected.append(
                Rejected(answer.code, answer.text, f"{answer.code} is not on your form")
            )
            return
        if self.locked:
            self.reject_item(item, answer, self.locked)
            return
        if item.component_id is not None:
            self.component_value(item, answer)
        else:
            self.milestone_status(item, answer)

    def reject_item(self, item: m.DataRequestItem, answer: Answer, reason: str) -> None:
        if item.component_id is not None:
            self.session.add(
                m.ComponentValue(
                    component_id=item.component_id,
                    period_id=self.request.period_id,
                    state=SubmissionState.REJECTED,
                    raw_answer=answer.text,
                    reason=reason,
                    late=self.who.late,
                    is_current=False,
                    **self.provenance(),
                )
            )
        else:
            self.session.add(
                m.MilestoneUpdate(
                    milestone_id=item.milestone_id,
                    period_id=self.request.period_id,
                    state=SubmissionState.REJECTED,
                    raw_answer=answer.text,
                    reason=reason,
                    late=self.who.late,
                    is_current=False,
                    **self.provenance(),
                )
            )
        self.result.rejected.append(Rejected(item.item_code, answer.text, reason))

    def component_value(self, item: m.DataRequestItem, answer: Answer) -> None:
        component = self.components.get(item.component_id or 0)
        if component is None:
            component = self.session.get_one(m.Component, item.component_id)
        parsed = parse_value(answer.text, component.unit, self.today)
        if parsed.kind == "empty":
            return
        if parsed.kind == "rejected":
            self.reject_item(item, answer, parsed.reason or "not a value we can read")
            return
        if parsed.kind == "number":
            value = parsed.value
            assert value is not None
            # Before the range check, which would print the figure: one the column cannot
            # hold is refused with the limit, and the reply's other answers still apply.
            problem = figure_problem(value)
            if problem is not None:
                self.reject_item(item, answer, problem)
                return
            low, high = component.min_value, component.max_value
            if (low is not None and value < low) or (high is not None and value > high):
                allowed = format_range(low, high, component.unit)
                self.reject_item(
                    item,
                    answer,
                    f"{format_figure(value, component.unit)} is "
                    f"outside the allowed range {allowed}",
                )
                return
            state, reason = SubmissionState.ACCEPTED, None
            stored = format_figure(value, component.unit)
        else:
            value, state = None, SubmissionState.NOT_AVAILABLE
            reason = parsed.reason or "not available"
            stored = f"not available: {reason}"
            if parsed.available_from is not None:
                item.snoozed_until = parsed.available_from
        current = self.current_value(component.id)
        if (
            current is not None
            and current.state == state
            and current.value == value
            and (current.reason == reason)
        ):
            self.result.unchanged.append(item.item_code)
            item.returned_at = item.returned_at or self.who.received_at
            return
        notes = []
        if current is not None:
            current.is_current = False
            current.state = SubmissionState.SUPERSEDED
            previous = (
                "not available"
                if current.value is None
                else format_figure(current.value, component.unit)
            )
            notes.append(f"replaces {previous}")
            self.session.flush()
        if parsed.estimated:
            notes.append("estimate")
        if self.who.late:
            notes.append("late")
        new = m.ComponentValue(
            component_id=component.id,
            period_id=self.request.period_id,
            state=state,
            value=value,
            raw_answer=answer.text,
            reason=reason,
            estimated=parsed.estimated,
            late=self.who.late,
            available_from=parsed.available_from,
            is_current=True,
            replaces_id=current.id if current is not None else None,
            **self.provenance(),
        )
        self.session.add(new)
        self.current_values[component.id] = new
        item.returned_at = self.who.received_at
        self.result.accepted.append(
            Accepted(item.item_code, component.title, stored, ", ".join(notes) or None)
        )

    def milestone_status(self, item: m.DataRequestItem, answer: Answer) -> None:
        milestone = self.milestones.get(item.milestone_id or 0)
        if milestone is None:
            milestone = self.session.get_one(m.Milestone, item.milestone_id)
        parsed = parse_status(answer.text, self.today)
        if parsed.status is None and parsed.reason is None:
            return
        if parsed.status is None:
            self.reject_item(item, answer, parsed.reason or "not a status we can read")
            return
        status = STATUS_FROM_PARSER[parsed.status.value]
        current = self.current_status(milestone.id)
        stored = parsed.status.value + (
            f" ({parsed.completed_on:%-d %b %Y})" if parsed.completed_on else ""
        )
        if (
            current is not None
            and current.status == status
            and (current.completed_on == parsed.completed_on)
        ):
            self.result.unchanged.append(item.item_code)
            return
        notes = []
        if current is not None:
            current.is_current = False
            current.state = SubmissionState.SUPERSEDED
            notes.append(
                f"replaces {current.status.value.replace('_', ' ') if current.status else '-'}"
            )
            self.session.flush()
        if self.who.late:
            notes.append("late")
        new = m.MilestoneUpdate(
            milestone_id=milestone.id,
            period_id=self.request.period_id,
            state=SubmissionState.ACCEPTED,
            status=status,
            completed_on=parsed.completed_on,
            raw_answer=answer.text,
            late=self.who.late,
            is_current=True,
            replaces_id=current.id if current is not None else None,
            **self.provenance(),
        )
        self.session.add(new)
        self.current_statuses[milestone.id] = new
        item.returned_at = self.who.received_at
        self.result.accepted.append(
            Accepted(item.item_code, milestone.title, stored, ", ".join(notes) or None)
        )

    # ---- commentary ------------------------------------------------------------------
    def comment(self, answer: Answer) -> None:
        body = answer.text.strip()
        if not body:
            return
        if self.locked:
            self.result.rejected.append(Rejected(f"{answer.code} comment", body, self.locked))
            return
        code = answer.code.casefold()
        target: dict[str, object] | None = None
        item = self.items.get(code)
        if item is not None and item.milestone_id is not None:
            target = {"subject": CommentSubject.MILESTONE, "milestone_id": item.milestone_id}
        elif item is not None and item.component_id is not None:
            target = {
                "subject": CommentSubject.COMPONENT,
                "component_id": item.component_id,
                "indicator_id": item.indicator_id,
            }
        else:
            indicator_ids = {i.indicator_id for i in self.request.items if i.indicator_id}
            indicator = self.session.scalar(
                select(m.Indicator).where(
                    m.Indicator.id.in_(indicator_ids), m.Indicator.code.ilike(answer.code)
                )
            )
            if indicator is not None:
                target = {"subject": CommentSubject.INDICATOR, "indicator_id": indicator.id}
        if target is None:
            self.result.rejected.append(
                Rejected(f"{answer.code} comment", body, f"{answer.code} is not on your form")
            )
            return
        self.session.add(
            m.Commentary(
                period_id=self.request.period_id,
                author_role="updater",
                body=body,
                is_current=True,
                **target,
                **self.provenance(),
            )
        )
        self.result.comments += 1


def outstanding_items(session: Session, request: m.DataRequest) -> list[m.DataRequestItem]:
    """Items of ``request`` with no current value or status yet."""
    done = returned_keys(
        session,
        request.period_id,
        [i.component_id for i in request.items if i.component_id],
        [i.milestone_id for i in request.items if i.milestone_id],
    )
    return [i for i in request.items if item_key(i) not in done]
