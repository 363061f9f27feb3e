"""Stage 5: validate each answer against the request and store it, with history.

All in the caller's transaction: either every accepted value of a reply is stored, or
(on an error) none is. A value is stored only when the sender clearly gave it; anything
else becomes a rejected row with the reason, which the confirmation explains.

A figure that was clearly given but is implausible (more than the register's
``plausibility_factor`` times larger or smaller than both the component's last value and
its value a year before, see :mod:`mailcapture.domain.plausibility`) or outside the
component's allowed range is *held*: stored as an ``unconfirmed`` row that is never current,
so no figure, report, export total or chase counts it, and the item stays outstanding. The
confirmation asks the sender about it; ``CODE: confirm``, or the same figure again, makes it
count (a new accepted row, the held one marked superseded), and any other answer for the item
replaces it.

Several updaters for one indicator (issue 15, part 9): a figure that differs from the current
one *another person* sent (not the sender, nor the person a delegate sends for) wins
nothing. Both are kept as ``conflicting`` rows, neither current, so no figure, report or
export counts either (fail closed: the component has no current value for the period) and
the item is outstanding on every request that has it; the indicator's owner is asked to
choose (:mod:`mailcapture.mailflow.value_choices`). The same person's new figure is a
correction, as ever: it replaces. While a choice is waiting, a sender's new figure replaces
their own candidate (or joins the candidates), the same figure again changes nothing, a
figure on which everyone now agrees settles it without the owner, and "not available" is
refused. The same figure twice from two people is simply confirmed (unchanged).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import partial

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from mailcapture.clock import LOCAL_TZ
from mailcapture.compose.textfmt import short_day
from mailcapture.compose.views import CandidateLine
from mailcapture.db import models as m
from mailcapture.db.locks import lock_for, lock_reason
from mailcapture.domain.enums import (
    CommentSubject,
    MilestoneStatus,
    RequestState,
    SubmissionSource,
    SubmissionState,
)
from mailcapture.domain.figures import figure_problem, format_figure, format_range
from mailcapture.domain.periods import parse_period
from mailcapture.domain.plausibility import Reference, implausible
from mailcapture.forms.due import counts_as_returned, item_key, returned_keys
from mailcapture.mailflow.history import History, read_history, rows_after_reply
from mailcapture.parsing.form import Answer, FormReading
from mailcapture.parsing.values import ParsedValue, parse_status, parse_value
from mailcapture.register.mail import capture_settings
from mailcapture.register.model import CaptureSpec
from mailcapture.reports.queries import Compared, IndicatorRow, compared_with

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


@dataclass(frozen=True)
class Held:
    """A figure stored unconfirmed: ``wrote`` is it as we read it ("£40", with "(estimate)"
    when marked so), ``why`` says what it was compared with, in words for the sender
    ("last month was £420,960", "the allowed range is 0% to 100%")."""

    code: str
    title: str
    wrote: str
    why: str


@dataclass(frozen=True)
class Conflict:
    """A figure kept beside differing ones other people sent: nothing counts until the
    indicator's owner chooses. ``stored`` is the sender's figure as display text,
    ``others`` the figures it differs from (as they were when it came)."""

    code: str
    title: str
    stored: str
    component_id: int
    indicator_id: int | None
    others: tuple[CandidateLine, ...]
    owner: str


@dataclass
class ApplyResult:
    accepted: list[Accepted] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    comments: int = 0
    general_comment: bool = False
    unchanged: list[str] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)

    @property
    def anything(self) -> bool:
        return bool(
            self.accepted
            or self.rejected
            or self.held
            or self.conflicts
            or self.comments
            or self.general_comment
        )


@dataclass(frozen=True)
class Submitter:
    """Who sent the reply, and for whom (a delegate answering for the updater)."""

    person_id: int
    on_behalf_of_id: int | None
    inbound_id: int
    request_id: int
    received_at: datetime
    late: bool


@dataclass(frozen=True)
class Preloaded:
    """What the statement that found the request read beside it (``data_replies``): the
    lock in force on its period, and each item's component or milestone with its rows for
    the period (the current value, the figure held for confirmation and the differing
    figures waiting for a choice, in id order; the current status)."""

    lock_id: int | None
    components: dict[int, m.Component] = field(default_factory=dict)
    values: tuple[m.ComponentValue, ...] = ()
    milestones: dict[int, m.Milestone] = field(default_factory=dict)
    statuses: dict[int, m.MilestoneUpdate] = field(default_factory=dict)


class Applier:
    def __init__(
        self,
        session: Session,
        request: m.DataRequest,
        who: Submitter,
        today: date,
        capture: Callable[[], CaptureSpec] | None = None,
        preloaded: Preloaded | None = None,
    ) -> None:
        """``capture``: the capture settings already read with the message (by the
        pipeline's claim), so a figure's plausibility check asks the database nothing.
        ``preloaded``: the rows read with the request, so :meth:`preload` reads only the
        history."""
        self.session = session
        self._capture = capture or partial(capture_settings, session)
        self.request = request
        self.who = who
        self.today = today
        self.result = ApplyResult()
        self.items = {i.item_code.casefold(): i for i in request.items}
        self._preloaded = preloaded
        if preloaded is None:
            lock = lock_for(session, request.period)
        else:
            lock = session.get(m.PeriodLock, preloaded.lock_id) if preloaded.lock_id else None
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
        #: The register's plausibility factor, read when the first figure needs it.
        self._factor: Decimal | None = None
        #: Filled by :meth:`preload` too: each answered component's figure held for
        #: confirmation (None when there is none) and its references (see :meth:`references`).
        self.held_values: dict[int, m.ComponentValue | None] = {}
        self.reference_values: dict[int, list[Reference]] = {}
        #: Also filled by :meth:`preload`: each component's differing figures waiting for
        #: the owner's choice (empty when none), read in the same statement.
        self.conflicting: dict[int, list[m.ComponentValue]] = {}
        #: Whether :meth:`preload` read every item's current value and status.
        self.preloaded = False
        #: Read by :meth:`preload` with the references: the stored points the request's
        #: indicators are computed from, for the periods ``compared`` names.
        self.history: History | None = None
        self.compared: Compared | None = None

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
        # Every item's, not only the answered ones': what is still outstanding after the
        # reply is then known without asking again (:meth:`outstanding`).
        items = self.request.items
        component_ids = sorted({i.component_id for i in items if i.component_id is not None})
        milestone_ids = sorted(
            {i.milestone_id for i in items if i.component_id is None and i.milestone_id is not None}
        )
        answered = {
            item.component_id
            for answer in reading.answers
            if answer.kind != "comment" and (item := self.items.get(answer.code.casefold()))
        }
        given = self._preloaded
        if component_ids:
            if given is None:
                self._preload_values(component_ids)
            else:
                self._values_read(component_ids, given.components, given.values)
            self._preload_references([c for c in component_ids if c in answered], with_series=True)
        if milestone_ids and given is None:
            self._preload_statuses(milestone_ids)
        elif milestone_ids and given is not None:
            self.milestones.update(given.milestones)
            for milestone_id in milestone_ids:
                self.current_statuses[milestone_id] = given.statuses.get(milestone_id)
        self.preloaded = True

    def _preload_values(self, component_ids: list[int]) -> None:
        """Each component, its current value for the period (None when there is none), its
        figure held for confirmation (None when there is none) and its differing figures
        waiting for the owner's choice, in one statement."""
        rows = self.session.execute(
            select(m.Component, m.ComponentValue)
            .outerjoin(
                m.ComponentValue,
                and_(
                    m.ComponentValue.component_id == m.Component.id,
                    m.ComponentValue.period_id == self.request.period_id,
                    or_(
                        m.ComponentValue.is_current,
                        m.ComponentValue.state.in_(
                            (SubmissionState.UNCONFIRMED, SubmissionState.CONFLICTING)
                        ),
                    ),
                ),
            )
            .where(m.Component.id.in_(component_ids))
            .order_by(m.Component.id, m.ComponentValue.id)
        ).all()
        self._values_read(
            component_ids,
            {component.id: component for component, _ in rows},
            tuple(value for _, value in rows if value is not None),
        )

    def _values_read(
        self,
        component_ids: list[int],
        components: dict[int, m.Component],
        values: tuple[m.ComponentValue, ...],
    ) -> None:
        """File the components and their rows for the period (in id order)."""
        self.held_values.update(dict.fromkeys(component_ids))
        for component_id in component_ids:
            self.conflicting[component_id] = []
            self.current_values.setdefault(component_id, None)
        self.components.update(components)
        for value in values:
            component_id = value.component_id
            if value.is_current and self.current_values[component_id] is None:
                self.current_values[component_id] = value
            if value.state is SubmissionState.UNCONFIRMED:
                self.held_values[component_id] = value  # ordered by id: the latest wins
            elif value.state is SubmissionState.CONFLICTING:
                self.conflicting[component_id].append(value)

    def _preload_held(self, component_ids: list[int]) -> None:
        """Each component's figure held for confirmation for the period, if any (for a
        component :meth:`preload` did not read)."""
        self.held_values.update(dict.fromkeys(component_ids))
        for row in self.session.scalars(
            select(m.ComponentValue)
            .where(
                m.ComponentValue.component_id.in_(component_ids),
                m.ComponentValue.period_id == self.request.period_id,
                m.ComponentValue.state == SubmissionState.UNCONFIRMED,
            )
            .order_by(m.ComponentValue.id)
        ):
            self.held_values[row.component_id] = row  # the latest wins

    def _preload_references(self, component_ids: list[int], *, with_series: bool = False) -> None:
        """The figures each component's answer is compared with (:func:`read_history`);
        ``with_series``: in the same statement, the points the confirmation's commentary
        check computes the request's indicators from (:meth:`indicator_rows`)."""
        period = self.request.period
        compared = compared_with(parse_period(period.code)) if with_series else None
        history = read_history(
            self.session,
            period,
            component_ids,
            self.indicator_ids() if with_series else (),
            compared,
        )
        self.reference_values.update(history.references)
        if compared is not None:
            self.history, self.compared = history, compared

    def indicator_ids(self) -> list[int]:
        return sorted({i.indicator_id for i in self.request.items if i.indicator_id})

    def indicator_rows(self) -> list[IndicatorRow] | None:
        """The request's indicators with this reply counted, from what :meth:`preload`
        read and the reply wrote (one statement, for the indicators and their targets);
        None when the preload did not read their history (a locked period's reply)."""
        if self.history is None or self.compared is None:
            return None
        return rows_after_reply(
            self.session, self.compared, self.indicator_ids(), self.history, self.current_values
        )

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
        # Not flushed here: the rows are written with the run's one flush at the end
        # (issue 14), and the confirmation computes from them in memory (indicator_rows).
        return self.result

    # ---- values and statuses ---------------------------------------------------------
    def value_or_status(self, answer: Answer) -> None:
        item = self.items.get(answer.code.casefold())
        if item is None:
            self.result.rejected.append(
                Rejected(answer.code, answer.text, f"{answer.code} is not on your form")
            )
            return
        if answer.kind == "unread":  # the line named the item; no answer could be read
            self.reject_item(item, answer, answer.reason or "no answer could be read")
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
                    origin=answer.origin or None,
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
                    origin=answer.origin or None,
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
        held = self.held_value(component.id)
        if parsed.kind == "confirm":
            self.confirm(item, component, answer, held)
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
            if held is not None and held.value == value:
                # The same figure again is the sender's "yes, I meant it".
                self.store_value(item, component, answer, parsed, held=held, confirmed=True)
                return
            current = self.current_value(component.id)
            already = current is not None and current.value == value  # counted already
            why = None if already else self.doubt(component, value)
            if why is not None:
                self.hold(item, component, answer, parsed, why, held)
                return
        self.store_value(item, component, answer, parsed, held=held)

    def store_value(
        self,
        item: m.DataRequestItem,
        component: m.Component,
        answer: Answer,
        parsed: ParsedValue,
        *,
        held: m.ComponentValue | None,
        confirmed: bool = False,
    ) -> None:
        """Store a figure or "not available" as the current value; it replaces any held one.

        ``confirmed``: ``parsed`` is the held figure, kept because the sender confirmed it.
        """
        if held is not None:
            # Any answer for the item settles the question: the held figure never counts.
            held.state = SubmissionState.SUPERSEDED
            self.held_values[component.id] = None
        if parsed.kind == "number":
            value = parsed.value
            assert value is not None
            state, reason = SubmissionState.ACCEPTED, None
            stored = format_figure(value, component.unit)
        else:
            value, state = None, SubmissionState.NOT_AVAILABLE
            reason = parsed.reason or "not available"
            stored = f"not available: {reason}"
            if parsed.available_from is not None:
                item.snoozed_until = parsed.available_from
        notes = ["confirmed"] if confirmed else []
        candidates = self.conflicting_values(component.id)
        if candidates and self.join_conflict(item, component, answer, parsed, candidates, notes):
            return
        current = self.current_value(component.id)
        if (
            current is not None
            and current.state == state
            and current.value == value
            and (current.reason == reason)
        ):
            # The same figure again, from the sender or from anyone else: confirmed.
            self.result.unchanged.append(item.item_code)
            item.returned_at = item.returned_at or self.who.received_at
            return
        if (
            value is not None
            and current is not None
            and current.state is SubmissionState.ACCEPTED
            and current.value is not None
            and self.someone_else(current)
        ):
            # Another person's figure differs: neither wins; the owner chooses.
            self.start_conflict(item, component, answer, parsed, current)
            return
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
            origin=answer.origin or None,
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

    # ---- differing figures from different people ------------------------------------
    def principal(self) -> int:
        """Whose figure the sender's is: theirs, or the person they answer for."""
        return self.who.on_behalf_of_id or self.who.person_id

    def someone_else(self, row: m.ComponentValue) -> bool:
        """Whether ``row`` was sent by (or for) a person other than the sender's principal.

        A figure nobody sent by email (history, the command line) has no person: a new one
        replaces it as before."""
        sent_for = row.on_behalf_of_id or row.submitted_by_id
        return sent_for is not None and sent_for != self.principal()

    def conflicting_values(self, component_id: int) -> list[m.ComponentValue]:
        """The figures waiting for the owner's choice for this component and period."""
        if component_id not in self.conflicting:
            self.conflicting[component_id] = list(
                self.session.scalars(
                    select(m.ComponentValue)
                    .where(
                        m.ComponentValue.component_id == component_id,
                        m.ComponentValue.period_id == self.request.period_id,
                        m.ComponentValue.state == SubmissionState.CONFLICTING,
                    )
                    .order_by(m.ComponentValue.id)
                )
            )
        return self.conflicting[component_id]

    def candidate_line(self, row: m.ComponentValue, component: m.Component) -> CandidateLine:
        return candidate_line(self.session, row, component.unit)

    def owner_name(self, item: m.DataRequestItem, component: m.Component) -> str:
        indicator = self.session.get(m.Indicator, item.indicator_id or component.declared_by_id)
        if indicator is None:
            return "the indicator's owner"
        owner = self.session.get(m.Person, indicator.owner_id)
        return owner.name if owner is not None else "the indicator's owner"

    def new_candidate(
        self,
        item: m.DataRequestItem,
        component: m.Component,
        answer: Answer,
        parsed: ParsedValue,
        others: list[m.ComponentValue],
    ) -> None:
        """Store the sender's figure as one of the candidates, and say what it differs from."""
        assert parsed.value is not None
        new = m.ComponentValue(
            component_id=component.id,
            period_id=self.request.period_id,
            state=SubmissionState.CONFLICTING,
            value=parsed.value,
            raw_answer=answer.text,
            origin=answer.origin or None,
            estimated=parsed.estimated,
            late=self.who.late,
            is_current=False,
            **self.provenance(),
        )
        self.session.add(new)
        self.conflicting[component.id] = [*others, new]
        self.current_values[component.id] = None
        item.returned_at = None  # outstanding until the owner chooses
        self.result.conflicts.append(
            Conflict(
                code=item.item_code,
                title=component.title,
                stored=format_figure(parsed.value, component.unit)
                + (" (estimate)" if parsed.estimated else ""),
                component_id=component.id,
                indicator_id=item.indicator_id or component.declared_by_id,
                others=tuple(self.candidate_line(o, component) for o in others),
                owner=self.owner_name(item, component),
            )
        )

    def start_conflict(
        self,
        item: m.DataRequestItem,
        component: m.Component,
        answer: Answer,
        parsed: ParsedValue,
        current: m.ComponentValue,
    ) -> None:
        """``current`` (another person's) and the sender's differing figure: both kept, as
        candidates, neither current; the item is outstanding for whoever was asked."""
        current.is_current = False
        current.state = SubmissionState.CONFLICTING
        self.session.flush()
        reopen_items(self.session, self.request, component.id, [current], returned=False)
        self.new_candidate(item, component, answer, parsed, [current])

    def join_conflict(
        self,
        item: m.DataRequestItem,
        component: m.Component,
        answer: Answer,
        parsed: ParsedValue,
        candidates: list[m.ComponentValue],
        notes: list[str],
    ) -> bool:
        """An answer for an item whose figures wait for the owner's choice; True when it is
        dealt with here, False when it settled the question and is to be stored as the
        current value (everyone now agrees)."""
        principal = self.principal()
        mine = [c for c in candidates if (c.on_behalf_of_id or c.submitted_by_id) == principal]
        others = [c for c in candidates if c not in mine]
        if parsed.kind != "number" or parsed.value is None:
            figures = " and ".join(
                format_figure(c.value, component.unit) for c in candidates if c.value is not None
            )
            self.reject_item(
                item,
                answer,
                f"different figures were sent for {item.item_code} ({figures}) and "
                f"{self.owner_name(item, component)}, its owner, has been asked to choose "
                "between them; nothing else can be recorded for it until then",
            )
            return True
        if any(c.value == parsed.value for c in mine):
            self.result.unchanged.append(item.item_code)  # the same figure again
            return True
        for row in mine:  # the sender's own earlier candidate: corrected
            row.state = SubmissionState.SUPERSEDED
        if not others:  # (never: a question is between people) a plain correction
            self.conflicting[component.id] = []
            return False
        if all(c.value == parsed.value for c in others):
            # Everyone now agrees: no question left for the owner.
            for row in others:
                row.state = SubmissionState.SUPERSEDED
            self.conflicting[component.id] = []
            self.session.flush()
            reopen_items(self.session, self.request, component.id, others, returned=True)
            agreed = ", ".join(
                f"{line.sent_by}'s" for line in (self.candidate_line(o, component) for o in others)
            )
            notes.append(f"agrees with {agreed}: no choice needed")
            return False
        self.new_candidate(item, component, answer, parsed, others)
        return True

    # ---- figures held for confirmation -----------------------------------------------
    def held_value(self, component_id: int) -> m.ComponentValue | None:
        """The figure held for the sender to confirm, for this component and period."""
        if component_id not in self.held_values:
            self._preload_held([component_id])
        return self.held_values[component_id]

    def confirm(
        self,
        item: m.DataRequestItem,
        component: m.Component,
        answer: Answer,
        held: m.ComponentValue | None,
    ) -> None:
        """``CODE: confirm``: the held figure counts from now, exactly as first sent."""
        if held is not None and held.value is not None:
            parsed = ParsedValue(kind="number", value=held.value, estimated=held.estimated)
            self.store_value(item, component, answer, parsed, held=held, confirmed=True)
            return
        current = self.current_value(component.id)
        if current is not None:
            # Already counted (confirmed before, or never in doubt): nothing to do.
            self.result.unchanged.append(item.item_code)
            return
        self.reject_item(
            item,
            answer,
            f"there is no figure for {item.item_code} waiting to be confirmed; "
            "please send the figure itself",
        )

    def doubt(self, component: m.Component, value: Decimal) -> str | None:
        """Why ``value`` needs the sender's confirmation, in words for them; None if not."""
        low, high = component.min_value, component.max_value
        if (low is not None and value < low) or (high is not None and value > high):
            return f"the allowed range is {format_range(low, high, component.unit)}"
        disagrees = implausible(value, self.references(component), self.plausibility_factor())
        if not disagrees:
            return None
        return " and ".join(
            f"{r.label} was {format_figure(r.value, component.unit)}" for r in disagrees
        )

    def plausibility_factor(self) -> Decimal:
        if self._factor is None:
            self._factor = self._capture().plausibility_factor
        return self._factor

    def references(self, component: m.Component) -> list[Reference]:
        """The component's last value before this period, and its value a year before."""
        if component.id not in self.reference_values:
            self._preload_references([component.id])
        return self.reference_values[component.id]

    def hold(
        self,
        item: m.DataRequestItem,
        component: m.Component,
        answer: Answer,
        parsed: ParsedValue,
        why: str,
        held: m.ComponentValue | None,
    ) -> None:
        """Store the figure unconfirmed (never current) and ask the sender about it."""
        assert parsed.value is not None
        if held is not None:
            held.state = SubmissionState.SUPERSEDED  # the newer doubtful figure is the question
        new = m.ComponentValue(
            component_id=component.id,
            period_id=self.request.period_id,
            state=SubmissionState.UNCONFIRMED,
            value=parsed.value,
            raw_answer=answer.text,
            origin=answer.origin or None,
            reason=why,
            estimated=parsed.estimated,
            late=self.who.late,
            is_current=False,
            **self.provenance(),
        )
        self.session.add(new)
        self.held_values[component.id] = new
        wrote = format_figure(parsed.value, component.unit) + (
            " (estimate)" if parsed.estimated else ""
        )
        self.result.held.append(Held(item.item_code, component.title, wrote, why))

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
            origin=answer.origin or None,
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

    def outstanding(self) -> list[m.DataRequestItem]:
        """The request's items with no current value or status after this reply.

        From the rows :meth:`preload` read and this reply wrote, without asking again; a
        locked period's reply read nothing, so it asks (:func:`outstanding_items`).
        """
        if not self.preloaded:
            return outstanding_items(self.session, self.request)
        pending = []
        for item in self.request.items:
            if item.component_id is not None:
                value = self.current_values.get(item.component_id)
                returned = value is not None and value.is_current and counts_as_returned(value)
            else:
                assert item.milestone_id is not None
                status = self.current_statuses.get(item.milestone_id)
                returned = status is not None and status.is_current
            if not returned:
                pending.append(item)
        return pending


def outstanding_items(session: Session, request: m.DataRequest) -> list[m.DataRequestItem]:
    """Items of ``request`` with no current value or status yet."""
    done = returned_keys(
        session,
        request.period_id,
        [i.component_id for i in request.items if i.component_id],
        [i.milestone_id for i in request.items if i.milestone_id],
    )
    return [i for i in request.items if item_key(i) not in done]


def candidate_line(session: Session, row: m.ComponentValue, unit: str) -> CandidateLine:
    """One candidate figure as the owner and the updaters read it: who sent it, and when."""
    sender = session.get(m.Person, row.submitted_by_id) if row.submitted_by_id else None
    principal = session.get(m.Person, row.on_behalf_of_id) if row.on_behalf_of_id else None
    figure = "not available" if row.value is None else format_figure(row.value, unit)
    return CandidateLine(
        figure=figure + (" (estimate)" if row.estimated else ""),
        sent_by=sender.name if sender is not None else "the performance team",
        sent_on=short_day(row.received_at.astimezone(LOCAL_TZ).date()),
        for_whom=principal.name if principal is not None else None,
    )


def reopen_items(
    session: Session,
    asking: m.DataRequest | None,
    component_id: int,
    rows: list[m.ComponentValue],
    *,
    returned: bool,
) -> None:
    """The request lines the figures in ``rows`` answered (other than ``asking``'s, which
    its applier keeps): outstanding again while a choice is waiting (``returned`` False:
    the request reopened if it was complete), returned again once it is settled (the
    request completed if nothing else is owed on it)."""
    by_request = {
        row.request_id: row.received_at
        for row in rows
        if row.request_id is not None and (asking is None or row.request_id != asking.id)
    }
    if not by_request:
        return
    items = session.scalars(
        select(m.DataRequestItem).where(
            m.DataRequestItem.request_id.in_(sorted(by_request)),
            m.DataRequestItem.component_id == component_id,
        )
    ).all()
    for item in items:
        item.returned_at = by_request[item.request_id] if returned else None
        request = item.request
        if not returned and request.state is RequestState.COMPLETE:
            request.state = RequestState.OPEN
            request.completed_at = None
    if returned:
        session.flush()
        for item in items:
            request = item.request
            if request.state is RequestState.OPEN and not outstanding_items(session, request):
                request.state = RequestState.COMPLETE
                request.completed_at = by_request[request.id]
