"""Several updaters for one indicator (issue 15, part 9), end to end through ``Pipeline.ingest``.

The sample council, with Amy Lawson made a second updater of BV8a (owner Mark Ellison,
updater Kevin Walsh; Amy is also Kevin's registered delegate) before April 2026's requests
go out. Amy sends 1,900 for BV8a.1 on her own request; Kevin sends 1,905 on his. Neither
wins: both are kept, nothing counts (no current value, no BV8a figure), the item is
outstanding on both requests and ``conflict`` in the returns view, and Mark gets one
``value_choice`` email, whose answer settles it. Replies are built with the client styles
of :mod:`mailcapture.demo.clients` from the exact bytes we queued.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcapture.clock import as_utc
from mailcapture.db import models as m
from mailcapture.demo import clients
from mailcapture.domain.enums import RequestState
from mailcapture.domain.periods import parse_period
from mailcapture.mailflow.apply import outstanding_items
from mailcapture.reports.queries import indicator_values
from mailcapture.reports.returns_view import ReturnStatus, returns_by_person
from mailcapture.schedule.tick import tick
from tests.conftest import SampleRegister
from tests.mailflow.world import PipelineWorld

KEVIN = "Kevin Walsh <kevin.walsh@ashdown.example>"
AMY = "Amy Lawson <amy.lawson@ashdown.example>"
MARK = "Mark Ellison <mark.ellison@ashdown.example>"
ALISON = "Alison Reeve <alison.reeve@ashdown.example>"  # the performance team
CLAIRE = "Claire Donnelly <claire.donnelly@ashdown.example>"
KEVIN_ADDRESS = "kevin.walsh@ashdown.example"
AMY_ADDRESS = "amy.lawson@ashdown.example"
MAY_4 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
MAY_5 = datetime(2026, 5, 5, 10, 0, tzinfo=UTC)
MAY_6 = datetime(2026, 5, 6, 10, 0, tzinfo=UTC)
MAY_7 = datetime(2026, 5, 7, 10, 0, tzinfo=UTC)


def _text(row: m.OutboxMessage) -> str:
    return " ".join(clients.plain_text(clients.parsed(row.raw)).split())


class World(PipelineWorld):
    def send(
        self, address: str, sender: str, answers: dict[str, str], at: datetime, on: str = ""
    ) -> str:
        """``sender`` answers ``address``'s April request in place; the outcome."""
        raw = clients.outlook_in_place(self.request_raw(on or address), sender, answers)
        return self.ingest(raw, at).outcome

    def rows(self, code: str = "BV8a.1") -> list[tuple[Decimal | None, str, bool, str, str | None]]:
        """Every figure stored for ``code`` in April: value, state, current, sender, chooser."""
        with self.sessions() as s:
            found = []
            for row in s.scalars(
                select(m.ComponentValue)
                .join(m.Component)
                .join(m.Period)
                .where(m.Component.code == code, m.Period.code == "2026-04")
                .order_by(m.ComponentValue.id)
            ):
                sender = s.get_one(m.Person, row.submitted_by_id).email
                chooser = s.get_one(m.Person, row.chosen_by_id).email if row.chosen_by_id else None
                found.append((row.value, row.state.value, row.is_current, sender, chooser))
            return found

    def bv8a(self) -> Decimal | None:
        with self.sessions() as s:
            [row] = indicator_values(s, parse_period("2026-04"), ["BV8a"])
            return row.value

    def bv8a_flags(self) -> set[str]:
        with self.sessions() as s:
            [row] = indicator_values(s, parse_period("2026-04"), ["BV8a"])
            return set(row.flags)

    def outstanding(self, address: str) -> tuple[list[str], RequestState]:
        with self.sessions() as s:
            request = s.scalars(
                select(m.DataRequest)
                .join(m.Person, m.Person.id == m.DataRequest.person_id)
                .join(m.Period)
                .where(m.Person.email == address, m.Period.code == "2026-04")
            ).one()
            return [i.item_code for i in outstanding_items(s, request)], request.state

    def returns(self, address: str, code: str = "BV8a.1") -> ReturnStatus:
        with self.sessions() as s:
            view = returns_by_person(s, [parse_period("2026-04")], self.clock.now())
            [line] = [ln for ln in view.lines if ln.email == address and ln.item == code]
            return line.status

    def confirmation_to(self, address: str, kind: str = "confirmation") -> str:
        return _text([r for r in self.outbox(kind) if r.recipient == address][-1])

    def choice_email(self) -> m.OutboxMessage:
        [row] = self.outbox("value_choice")
        return row


@pytest.fixture
def world(sessions: sessionmaker[Session], sample_register: SampleRegister) -> World:
    sample_register.load(sessions, datetime(2026, 4, 20, 12, 0, tzinfo=UTC))
    with sessions() as s, s.begin():
        bv8a = s.scalars(select(m.Indicator).where(m.Indicator.code == "BV8a")).one()
        amy = s.scalars(select(m.Person).where(m.Person.email == AMY_ADDRESS)).one()
        s.add(m.IndicatorUpdater(indicator_id=bv8a.id, person_id=amy.id))
    tick(sessions, as_utc(datetime(2026, 5, 1, 9, 0)))
    return World(sessions)


def _conflict(world: World) -> None:
    """Amy sends 1,900 on 4 May, Kevin 1,905 on 5 May (both the same BV8a.2)."""
    assert world.send(AMY_ADDRESS, AMY, {"BV8a.1": "1,900", "BV8a.2": "1950"}, MAY_4) == "applied"
    assert world.current("BV8a.1") == (Decimal(1900), "accepted")
    outcome = world.send(KEVIN_ADDRESS, KEVIN, {"BV8a.1": "1,905", "BV8a.2": "1950"}, MAY_5)
    assert outcome == "conflict"


def test_a_differing_figure_waits_for_the_owners_choice(world: World) -> None:
    _conflict(world)
    # Both kept, neither current; no BV8a figure is computed from either.
    assert world.rows() == [
        (Decimal(1900), "conflicting", False, AMY_ADDRESS, None),
        (Decimal(1905), "conflicting", False, KEVIN_ADDRESS, None),
    ]
    assert world.current("BV8a.1") is None
    assert world.current("BV8a.2") == (Decimal(1950), "accepted")  # the same figure twice
    assert world.bv8a() is None
    # Outstanding for both updaters (Amy's request reopened), "conflict" in the returns.
    for address in (AMY_ADDRESS, KEVIN_ADDRESS):
        items, state = world.outstanding(address)
        assert "BV8a.1" in items and "BV8a.2" not in items
        assert state is RequestState.OPEN
        assert world.returns(address) is ReturnStatus.CONFLICT
        assert world.returns(address, "BV8a.2") in (ReturnStatus.RECEIVED, ReturnStatus.LATE)
    # Kevin is told what his figure differs from, and that the owner has been asked.
    told = world.confirmation_to(KEVIN_ADDRESS)
    assert (
        "You sent 1,905 for BV8a.1; it differs from the 1,900 sent by Amy Lawson on "
        "4 May 2026; the owner, Mark Ellison, has been asked to choose." in told
    )
    # The owner gets one email listing both, who sent each and when.
    choice = world.choice_email()
    assert choice.recipient == "mark.ellison@ashdown.example"
    text = _text(choice)
    assert "- 1,900, sent by Amy Lawson on 4 May 2026" in text
    assert "- 1,905, sent by Kevin Walsh on 5 May 2026" in text
    assert "[BV8a.1 choose]:" in text
    html = clients.html_text(clients.parsed(choice.raw))
    assert "<caption" in html and '<th scope="col"' in html

    # Mark chooses 1,905: it counts, Amy's is superseded, the choice is recorded as his.
    reply = clients.gmail_top_posted(choice.raw, MARK, "[BV8a.1 choose]: 1,905\n\nThanks, Mark")
    result = world.ingest(reply, MAY_6)
    assert result.outcome == "choice-made", world.inbound(result.id).outcome_detail
    assert world.rows() == [
        (Decimal(1900), "superseded", False, AMY_ADDRESS, None),
        (Decimal(1905), "accepted", True, KEVIN_ADDRESS, "mark.ellison@ashdown.example"),
    ]
    assert world.bv8a() == Decimal("97.7")  # 100 * 1,905 / 1,950, to one place
    # Provisional until signed off; not "revised": the question to the owner was no report.
    assert "provisional" in world.bv8a_flags() and "revised" not in world.bv8a_flags()
    for address in (AMY_ADDRESS, KEVIN_ADDRESS):
        items, _ = world.outstanding(address)
        assert "BV8a.1" not in items
        assert world.returns(address) in (ReturnStatus.RECEIVED, ReturnStatus.LATE)
    confirmed = world.confirmation_to("mark.ellison@ashdown.example", "value_choice_confirmation")
    assert "BV8a.1 " in confirmed and "for April 2026 is now 1,905, as sent by Kevin Walsh" in (
        confirmed
    )
    assert "Superseded (kept in the history, not counted): - 1,900, sent by Amy Lawson" in (
        confirmed
    )
    assert len(world.outbox("value_choice")) == 1


def test_the_same_figure_twice_is_simply_confirmed(world: World) -> None:
    assert world.send(AMY_ADDRESS, AMY, {"BV8a.1": "1,900"}, MAY_4) == "applied"
    assert world.send(KEVIN_ADDRESS, KEVIN, {"BV8a.1": "1,900"}, MAY_5) == "no-answers"
    assert world.rows() == [(Decimal(1900), "accepted", True, AMY_ADDRESS, None)]
    assert world.outbox("value_choice") == []
    assert "unchanged: BV8a.1" in world.confirmation_to(KEVIN_ADDRESS)
    assert "BV8a.1" not in world.outstanding(KEVIN_ADDRESS)[0]


def test_a_correction_by_the_same_person_or_their_delegate_replaces(world: World) -> None:
    assert world.send(KEVIN_ADDRESS, KEVIN, {"BV8a.1": "1,905"}, MAY_4) == "applied"
    assert world.send(KEVIN_ADDRESS, KEVIN, {"BV8a.1": "1,910"}, MAY_5) == "applied"
    # Amy answering Kevin's request, as his registered delegate: a correction for him.
    assert world.send(KEVIN_ADDRESS, AMY, {"BV8a.1": "1,915"}, MAY_6) == "applied"
    assert world.current("BV8a.1") == (Decimal(1915), "accepted")
    assert world.outbox("value_choice") == []
    # Amy on her own request is another updater: her different figure waits for a choice.
    assert world.send(AMY_ADDRESS, AMY, {"BV8a.1": "1,920"}, MAY_7) == "conflict"
    assert world.current("BV8a.1") is None
    assert len(world.outbox("value_choice")) == 1


def test_only_the_owner_or_the_performance_team_may_choose(world: World) -> None:
    _conflict(world)
    choice = world.choice_email().raw
    # Someone else (an updater of it, too) cannot answer the owner's question.
    for sender in (CLAIRE, AMY):
        refused = world.ingest(clients.phone(choice, sender, "[BV8a.1 choose]: 1,900"), MAY_6)
        assert refused.outcome == "wrong-person"
    assert world.current("BV8a.1") is None
    # Ownership moved to Claire: Mark's choice is refused, with the reason.
    with world.sessions() as s, s.begin():
        bv8a = s.scalars(select(m.Indicator).where(m.Indicator.code == "BV8a")).one()
        claire = s.scalars(
            select(m.Person).where(m.Person.email == "claire.donnelly@ashdown.example")
        ).one()
        mark_id, bv8a.owner_id = bv8a.owner_id, claire.id
    mark = world.ingest(clients.phone(choice, MARK, "[BV8a.1 choose]: 1,900"), MAY_6)
    assert mark.outcome == "choice-refused"
    said = world.confirmation_to("mark.ellison@ashdown.example", "value_choice_confirmation")
    assert "only BV8a's owner, Claire Donnelly, or the performance team can choose" in said
    assert world.current("BV8a.1") is None
    # The performance team may choose.
    with world.sessions() as s, s.begin():
        s.get_one(m.Indicator, bv8a.id).owner_id = mark_id
    team = world.ingest(clients.phone(choice, ALISON, "[BV8a.1 choose]: 1,900"), MAY_7)
    assert team.outcome == "choice-made"
    assert world.rows()[0] == (
        Decimal(1900),
        "accepted",
        True,
        AMY_ADDRESS,
        "alison.reeve@ashdown.example",
    )


def test_a_figure_that_was_not_sent_is_refused_and_the_figure_alone_is_taken(
    world: World,
) -> None:
    _conflict(world)
    choice = world.choice_email().raw
    wrong = world.ingest(clients.phone(choice, MARK, "[BV8a.1 choose]: 1,950"), MAY_6)
    assert wrong.outcome == "choice-refused"
    said = world.confirmation_to("mark.ellison@ashdown.example", "value_choice_confirmation")
    assert "1,950 is not one of the figures sent for BV8a.1: choose 1,900 or 1,905" in said
    assert world.current("BV8a.1") is None and world.bv8a() is None
    # An untouched copy of the question is no answer.
    empty = world.ingest(clients.gmail_top_posted(choice, MARK, "Will look tomorrow."), MAY_6)
    assert empty.outcome == "choice-no-answers"
    # The figure alone, typed above the quote, is a choice.
    alone = world.ingest(clients.gmail_top_posted(choice, MARK, "1,900\n\nMark"), MAY_7)
    assert alone.outcome == "choice-made"
    assert world.current("BV8a.1") == (Decimal(1900), "accepted")
    # Nothing left to choose: a second answer is refused, saying so.
    again = world.ingest(clients.phone(choice, MARK, "[BV8a.1 choose]: 1,905"), MAY_7)
    assert again.outcome == "choice-refused"
    assert world.current("BV8a.1") == (Decimal(1900), "accepted")


def test_agreeing_later_settles_it_without_the_owner(world: World) -> None:
    _conflict(world)
    # Kevin checks and sends Amy's figure: everyone agrees, so it counts.
    assert world.send(KEVIN_ADDRESS, KEVIN, {"BV8a.1": "1,900"}, MAY_6) == "applied"
    assert world.current("BV8a.1") == (Decimal(1900), "accepted")
    assert world.bv8a() is not None
    assert "agrees with Amy Lawson's" in world.confirmation_to(KEVIN_ADDRESS)
    for address in (AMY_ADDRESS, KEVIN_ADDRESS):
        assert "BV8a.1" not in world.outstanding(address)[0]
    assert len(world.outbox("value_choice")) == 1  # asked once, before; not again


def test_not_available_while_a_choice_is_waiting_is_refused(world: World) -> None:
    _conflict(world)
    outcome = world.send(AMY_ADDRESS, AMY, {"BV8a.1": "not available"}, MAY_6)
    assert outcome == "rejected"
    assert "has been asked to choose between them" in world.confirmation_to(AMY_ADDRESS)
    assert world.current("BV8a.1") is None


# ---- the chase: the owner, not the updaters (issue 15, part 9) ------------------------


def test_the_owner_is_chased_for_the_choice_and_the_updaters_are_not(world: World) -> None:
    _conflict(world)  # Mark asked on Tuesday 5 May
    [question] = world.outbox("value_choice")
    tick(world.sessions, as_utc(datetime(2026, 5, 7, 10, 0)))  # 2 working days on: not yet
    assert world.outbox("value_choice_reminder") == []
    tick(world.sessions, as_utc(datetime(2026, 5, 8, 10, 0)))  # 3 working days on
    tick(world.sessions, as_utc(datetime(2026, 5, 8, 15, 0)))  # again: still one
    [first] = world.outbox("value_choice_reminder")
    assert first.recipient == "mark.ellison@ashdown.example"
    assert first.subject.startswith("Reminder: please choose BV8a.1's figure for April 2026")
    assert question.subject.split("[MC-")[1] == first.subject.split("[MC-")[1]  # same token
    text = _text(first)
    assert "We asked on 5 May 2026, and no choice has come yet." in text
    assert "1,900, sent by Amy Lawson" in text and "1,905, sent by Kevin Walsh" in text

    # The updaters answered: their reminders never ask for BV8a.1 again.
    tick(world.sessions, as_utc(datetime(2026, 5, 12, 10, 0)))
    tick(world.sessions, as_utc(datetime(2026, 5, 14, 10, 0)))
    assert len(world.outbox("value_choice_reminder")) == 2  # the second step, 5 working days
    for row in world.outbox("reminder") + world.outbox("escalation_owner"):
        assert "BV8a.1" not in _text(row), row.recipient
    # Still owed, and said so to the performance team.
    items, state = world.outstanding(KEVIN_ADDRESS)
    assert "BV8a.1" in items and state is RequestState.OPEN
    tick(world.sessions, as_utc(datetime(2026, 5, 19, 10, 0)))
    [summary] = world.outbox("returns_summary")
    summary_text = _text(summary)
    waiting = summary_text.split("Waiting for the owner's choice")[1]
    assert "BV8a.1" in waiting and "Kevin Walsh" in waiting and "Amy Lawson" in waiting

    # Chosen: no more chasing.
    reply = clients.phone(question.raw, MARK, "[BV8a.1 choose]: 1,905")
    assert world.ingest(reply, datetime(2026, 5, 20, 9, 0, tzinfo=UTC)).outcome == "choice-made"
    tick(world.sessions, as_utc(datetime(2026, 6, 2, 10, 0)))
    assert len(world.outbox("value_choice_reminder")) == 2


def test_a_bouncing_owner_is_replaced_by_the_performance_team(world: World) -> None:
    with world.sessions() as s, s.begin():
        mark = s.scalars(
            select(m.Person).where(m.Person.email == "mark.ellison@ashdown.example")
        ).one()
        mark.mail_failing_since = datetime(2026, 5, 2, 8, 0, tzinfo=UTC)
        mark.mail_failure_reason = "550 5.1.1 mailbox unavailable"
    _conflict(world)
    [question] = world.outbox("value_choice")
    assert question.recipient == "performance@ashdown.example"
    text = _text(question)
    assert "Dear Performance team" in text
    assert (
        "This question is for Mark Ellison (mark.ellison@ashdown.example), who owns BV8a. "
        "Their address is bouncing" in text
    )
    assert "which Mark Ellison owns" in text
    tick(world.sessions, as_utc(datetime(2026, 5, 8, 10, 0)))
    [chase] = world.outbox("value_choice_reminder")
    assert chase.recipient == "performance@ashdown.example"
    # A member of the team answers it, on its token.
    reply = clients.phone(chase.raw, ALISON, "[BV8a.1 choose]: 1,900")
    assert world.ingest(reply, datetime(2026, 5, 8, 11, 0, tzinfo=UTC)).outcome == "choice-made"
    assert world.current("BV8a.1") == (Decimal(1900), "accepted")
